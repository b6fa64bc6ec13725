//! Control: the closed loop. Commands from the centre (`dispatch`, `handled`, `verify`,
//! `cancel`, `close`), the camera re-checks they start, and the verdicts those re-checks reach.
//!
//! Every change is one ledger transaction holding the new order revision, its messages and (for
//! commands) the answer, so a command is answered exactly once per `request_id`, however often
//! the broker delivers it. Re-checks wait on a [`Board`] that camera workers take them from; the
//! runtime's sweeper calls [`Control::sweep`] to declare stalled ones inconclusive and retry them
//! with back-off. Callers pass the changed orders on to the uplink.

pub mod command;
mod verify;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use image::RgbImage;

pub use command::{Command, CommandError, CommandResult, ErrorCode, Verb};
pub use verify::{Board, Job, Sampler, Verdict, STALL};

use crate::config::{BoxIdentity, Config, OrdersConfig};
use crate::ledger::{self, CommandRecord, MessageClass, OutMessage, SharedLedger};
use crate::orders::{
    self, advance, Actor, Dispatch, OrderState, Purpose, Resolution, Step, Verification,
    VerificationStatus, WorkOrder, WorkOrderChange,
};
use crate::rules::{ObservedObject, Zone};
use crate::uplink::Topics;

/// Topic segment used for the answer to a command whose request id could not be read.
pub const UNADDRESSED: &str = "_invalid";

/// Revisions after which an order takes no more commands: far above any real closed loop
/// (dispatch, handled, re-check, reopen, … is a few dozen), low enough that a loop of
/// commands cannot grow one order's history without bound.
pub const MAX_COMMAND_REVISIONS: u32 = 500;
/// Re-dispatches of an already dispatched order in a row (a correction of team or due time).
pub const MAX_REDISPATCH: usize = 10;

/// The answer to one command, and the order it changed.
#[derive(Debug, Clone)]
pub struct Answer {
    pub result: CommandResult,
    pub order: Option<WorkOrder>,
}

/// The after-photo of a re-check: the frame, what the rule saw in it, and the zone.
pub struct AfterPhoto<'a> {
    pub frame: &'a RgbImage,
    pub objects: &'a [ObservedObject],
    pub zone: Option<&'a Zone>,
}

pub struct Control {
    identity: BoxIdentity,
    topics: Topics,
    config: OrdersConfig,
    ledger: SharedLedger,
    board: Arc<Board>,
    /// Warned orders and when their on-site re-check is due.
    on_site: std::sync::Mutex<Vec<(String, DateTime<Utc>)>>,
    /// Draws and encodes the re-checks' after-photos (`[evidence]`).
    photographer: crate::evidence::Photographer,
}

impl Control {
    pub fn new(config: &Config, ledger: SharedLedger) -> Self {
        Control {
            identity: config.identity.clone(),
            topics: Topics::new(&config.identity.site, &config.identity.id),
            config: config.orders.clone(),
            ledger,
            board: Arc::new(Board::default()),
            on_site: std::sync::Mutex::new(Vec::new()),
            photographer: crate::evidence::Photographer::new(&config.evidence),
        }
    }

    /// Stores a new revision of an order the box itself changed, with its photos and messages,
    /// in one ledger transaction; returns the stored order.
    fn store(
        &self,
        ledger: &mut crate::ledger::Ledger,
        order: WorkOrder,
        evidence: Vec<orders::EvidenceBlob>,
    ) -> Result<WorkOrder, crate::ledger::LedgerError> {
        let change = WorkOrderChange { order, evidence };
        let messages = crate::uplink::encode(&self.topics, &change);
        let recorded = ledger.record(&change.order, &messages)?;
        if recorded.evicted_evidence > 0 {
            // The noted revisions are in the outbox; the uplink drains them with this one.
            note_evictions(ledger, &self.topics, self.identity.language, Utc::now());
        }
        Ok(change.order)
    }

    fn on_site(&self) -> std::sync::MutexGuard<'_, Vec<(String, DateTime<Utc>)>> {
        self.on_site.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records how the on-site voice warning of an order went. Played on an open order of a
    /// kind the voice may resolve (`recheck_at` set): the order is `warned`, and the camera
    /// looks again at `recheck_at`. Otherwise — water and fire (the centre has them), a warning
    /// skipped or failed, an order the centre already holds — one timeline entry and the state
    /// stays. `None` when the order is gone or final, or the change cannot be stored.
    pub fn warned(
        &self,
        order_id: &str,
        mut warning: orders::Warning,
        recheck_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<WorkOrder> {
        let lang = self.identity.language;
        let mut ledger = ledger::lock(&self.ledger);
        let mut order = ledger.order(order_id).ok().flatten()?;
        if order.state.is_final() {
            return None;
        }
        let played = warning.status == orders::WarningStatus::Played;
        let mut scheduled = None;
        if let (true, Some(at), OrderState::Open) = (played, recheck_at, order.state) {
            let at_text = orders::rfc3339(at);
            let actor = Actor {
                note: Some(orders::warned_note(&warning, &at_text, lang)),
                ..Actor::lookout()
            };
            warning.recheck_at = Some(at_text);
            advance(&mut order, Step::Warn, &actor, now, lang).ok()?;
            scheduled = Some(at);
        } else {
            let note = orders::warning_note(&warning, lang);
            orders::annotate(&mut order, warning.status.event(), note, now);
        }
        order.warning = Some(warning);
        let order = match self.store(&mut ledger, order, Vec::new()) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(order = %order_id, error = %e, "Cannot store the warning of an order.");
                return None;
            }
        };
        drop(ledger);
        if let Some(at) = scheduled {
            self.on_site().push((order_id.to_owned(), at));
        }
        Some(order)
    }

    /// Starts the on-site re-checks whose grace period is over.
    fn due_on_site(&self, now: DateTime<Utc>) -> Vec<WorkOrder> {
        let due: Vec<String> = {
            let mut list = self.on_site();
            let (due, waiting): (Vec<_>, Vec<_>) = list.drain(..).partition(|(_, at)| *at <= now);
            *list = waiting;
            due.into_iter().map(|(id, _)| id).collect()
        };
        let mut changed = Vec::new();
        for id in due {
            let mut ledger = ledger::lock(&self.ledger);
            let Some(mut order) = ledger.order(&id).ok().flatten() else {
                continue;
            };
            // The centre took it over meanwhile (dispatched, cancelled): nothing to look at.
            if order.state != OrderState::Warned {
                continue;
            }
            if advance(
                &mut order,
                Step::Verify,
                &Actor::lookout(),
                now,
                self.identity.language,
            )
            .is_err()
            {
                continue;
            }
            let job = self.start_verification(&mut order, None, Purpose::OnSite, now);
            match self.store(&mut ledger, order, Vec::new()) {
                Ok(order) => {
                    drop(ledger);
                    self.board.post(job);
                    tracing::info!(order = %id, "Grace period over: re-checking on site.");
                    changed.push(order);
                }
                Err(e) => {
                    tracing::error!(order = %id, error = %e, "Cannot start an on-site re-check; retrying.");
                    drop(ledger);
                    self.on_site()
                        .push((id, now + chrono::Duration::seconds(10)));
                }
            }
        }
        changed
    }

    /// The pending re-checks, for camera workers to take.
    pub fn board(&self) -> Arc<Board> {
        self.board.clone()
    }

    /// Share of samples that means "still there".
    pub fn present_ratio(&self) -> f64 {
        self.config.verify_present_ratio
    }

    fn result_message(&self, result: &CommandResult) -> OutMessage {
        let segment = result.request_id.as_deref().unwrap_or(UNADDRESSED);
        OutMessage {
            topic: self.topics.command_result(segment),
            payload: serde_json::to_vec(result).unwrap_or_default(),
            retain: false,
            class: MessageClass::Result,
        }
    }

    /// Answers one command from `{root}/cmd/{verb}`. Never fails: every problem becomes an error
    /// result, queued in the outbox like everything else.
    pub fn command(&self, verb: &str, payload: &[u8], now: DateTime<Utc>) -> Answer {
        let cmd = match command::parse(verb, payload, &self.identity.site, &self.identity.id) {
            Ok(c) => c,
            Err(e) => {
                let result = CommandResult::failed(
                    command::salvage_request_id(payload),
                    Verb::parse(verb),
                    None,
                    e,
                    now,
                );
                tracing::warn!(verb = %verb.chars().take(32).collect::<String>(), code = ?result.error.as_ref().map(|e| e.code), "Refused a malformed command.");
                self.send_unstored(&result);
                return Answer {
                    result,
                    order: None,
                };
            }
        };
        let request_id = cmd.body.request_id.clone();
        let mut ledger = ledger::lock(&self.ledger);
        // A re-delivered command: the same answer again, nothing else.
        match ledger.answered(&request_id) {
            Ok(Some(previous)) => {
                let result: CommandResult = match serde_json::from_slice(&previous.result) {
                    Ok(r) => r,
                    Err(_) => CommandResult::failed(
                        Some(request_id),
                        Some(cmd.verb),
                        None,
                        CommandError::new(ErrorCode::Internal, "stored answer unreadable"),
                        now,
                    ),
                };
                if let Err(e) = ledger.enqueue(&[self.result_message(&result)]) {
                    tracing::error!(error = %e, "Cannot queue the answer to a repeated command.");
                }
                return Answer {
                    result,
                    order: None,
                };
            }
            Ok(None) => {}
            Err(e) => {
                drop(ledger);
                return self.internal(&cmd, e.to_string(), now);
            }
        }
        let current = match ledger.order(&cmd.body.order_id) {
            Ok(o) => o,
            Err(e) => {
                drop(ledger);
                return self.internal(&cmd, e.to_string(), now);
            }
        };
        let outcome = match current {
            None => Err(CommandError::new(
                ErrorCode::UnknownOrder,
                format!(
                    "no order {} on {}/{}",
                    cmd.body.order_id, self.identity.site, self.identity.id
                ),
            )),
            Some(mut order) => self.apply(&cmd, &mut order, now).map(|job| (order, job)),
        };
        let (result, order, job) = match outcome {
            Ok((order, job)) => (
                CommandResult {
                    schema: 1,
                    request_id: Some(request_id.clone()),
                    verb: Some(cmd.verb),
                    order_id: Some(order.id.clone()),
                    ok: true,
                    state: Some(order.state),
                    revision: Some(order.revision),
                    error: None,
                    at: orders::rfc3339(now),
                },
                Some(order),
                job,
            ),
            Err(e) => (
                CommandResult::failed(
                    Some(request_id.clone()),
                    Some(cmd.verb),
                    Some(cmd.body.order_id.clone()),
                    e,
                    now,
                ),
                None,
                None,
            ),
        };
        let mut messages = match &order {
            Some(o) => crate::uplink::encode(
                &self.topics,
                &WorkOrderChange {
                    order: o.clone(),
                    evidence: Vec::new(),
                },
            ),
            None => Vec::new(),
        };
        messages.push(self.result_message(&result));
        let record = CommandRecord {
            request_id,
            verb: cmd.verb.as_str().into(),
            order_id: Some(cmd.body.order_id.clone()),
            received_at: orders::rfc3339(now),
            result: serde_json::to_vec(&result).unwrap_or_default(),
        };
        if let Err(e) = ledger.record_command(&record, order.as_ref(), &messages) {
            drop(ledger);
            return self.internal(&cmd, e.to_string(), now);
        }
        drop(ledger);
        match (&order, job) {
            (Some(_), Some(job)) => self.board.post(job),
            (Some(o), None) if o.state != OrderState::Verifying => self.board.remove(&o.id),
            _ => {}
        }
        if result.ok {
            tracing::info!(order = %cmd.body.order_id, verb = cmd.verb.as_str(), actor = %cmd.body.actor, "Command applied.");
        } else {
            tracing::warn!(order = %cmd.body.order_id, verb = cmd.verb.as_str(), error = ?result.error, "Command refused.");
        }
        Answer { result, order }
    }

    /// Moves the order as the command asks; returns the re-check to start, if any.
    fn apply(
        &self,
        cmd: &Command,
        order: &mut WorkOrder,
        now: DateTime<Utc>,
    ) -> Result<Option<Job>, CommandError> {
        let lang = self.identity.language;
        let b = &cmd.body;
        let actor = Actor {
            name: b.actor.clone(),
            note: b.note.clone().filter(|n| !n.trim().is_empty()),
            request_id: Some(b.request_id.clone()),
            photo: b.photo.clone(),
        };
        let refused =
            |r: orders::Refusal| CommandError::new(ErrorCode::IllegalTransition, r.to_string());
        if order.revision >= MAX_COMMAND_REVISIONS {
            return Err(CommandError::new(
                ErrorCode::LimitReached,
                format!(
                    "order {} has {} revisions, the most an order takes commands for; raise a new order",
                    order.id, order.revision
                ),
            ));
        }
        if cmd.verb == Verb::Dispatch && order.state == OrderState::Dispatched {
            let in_a_row = order
                .timeline
                .iter()
                .rev()
                .take_while(|e| e.event == Step::Dispatch.as_str())
                .count();
            if in_a_row > MAX_REDISPATCH {
                return Err(CommandError::new(
                    ErrorCode::LimitReached,
                    format!("order {} was re-dispatched {MAX_REDISPATCH} times in a row; report it handled, verify, cancel or close it first", order.id),
                ));
            }
        }
        let base = order.revision;
        let mut job = None;
        match cmd.verb {
            Verb::Dispatch => {
                advance(order, Step::Dispatch, &actor, now, lang).map_err(refused)?;
                order.dispatch = Some(Dispatch {
                    team: b.team.clone().unwrap_or_default(),
                    due: b.due.clone(),
                    at: orders::rfc3339(now),
                    actor: b.actor.clone(),
                });
            }
            Verb::Handled => {
                advance(order, Step::Handled, &actor, now, lang).map_err(refused)?;
                advance(order, Step::Verify, &Actor::lookout(), now, lang).map_err(refused)?;
                job = Some(self.start_verification(order, b.window_s, Purpose::Handled, now));
            }
            Verb::Verify => {
                advance(order, Step::Verify, &actor, now, lang).map_err(refused)?;
                job = Some(self.start_verification(order, b.window_s, Purpose::Handled, now));
            }
            Verb::Cancel => advance(order, Step::Cancel, &actor, now, lang).map_err(refused)?,
            Verb::Close => {
                advance(order, Step::Close, &actor, now, lang).map_err(refused)?;
                order.resolution = Some(Resolution::Centre);
            }
        }
        // One command, one revision, however many timeline steps it took.
        order.revision = base + 1;
        Ok(job)
    }

    fn start_verification(
        &self,
        order: &mut WorkOrder,
        window_s: Option<f64>,
        purpose: Purpose,
        now: DateTime<Utc>,
    ) -> Job {
        let window_s = window_s.unwrap_or(self.config.verify_window_s.secs());
        order.verification = Some(Verification {
            status: VerificationStatus::Running,
            purpose,
            attempt: 1,
            requested_at: orders::rfc3339(now),
            window_s,
            present_ratio: None,
            finished_at: None,
            next_attempt_at: None,
        });
        Job {
            order_id: order.id.clone(),
            camera: order.camera.id.clone(),
            kind: order.kind,
            zone: order.zone.as_ref().map(|z| z.id.clone()),
            window: Duration::from_secs_f64(window_s),
            attempt: 1,
            not_before: Instant::now(),
            purpose,
        }
    }

    fn internal(&self, cmd: &Command, why: String, now: DateTime<Utc>) -> Answer {
        tracing::error!(order = %cmd.body.order_id, error = %why, "Cannot store a command's change; the centre may retry it.");
        let result = CommandResult::failed(
            Some(cmd.body.request_id.clone()),
            Some(cmd.verb),
            Some(cmd.body.order_id.clone()),
            CommandError::new(
                ErrorCode::Internal,
                format!("the box could not store it: {why}"),
            ),
            now,
        );
        self.send_unstored(&result);
        Answer {
            result,
            order: None,
        }
    }

    /// Queues an answer that changes nothing and is not remembered.
    fn send_unstored(&self, result: &CommandResult) {
        let mut ledger = ledger::lock(&self.ledger);
        if let Err(e) = ledger.enqueue(&[self.result_message(result)]) {
            tracing::error!(error = %e, "Cannot queue a command's answer.");
        }
    }

    /// Puts the re-checks of orders left `verifying` by the previous run back on the board, and
    /// the on-site re-checks of `warned` orders back on their schedule.
    pub fn resume(&self) -> usize {
        let warned = {
            let ledger = ledger::lock(&self.ledger);
            ledger.list(Some(OrderState::Warned), 100_000)
        };
        if let Ok(warned) = warned {
            let mut list = self.on_site();
            for o in warned {
                let at = o
                    .warning
                    .as_ref()
                    .and_then(|w| w.recheck_at.as_deref())
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map_or_else(Utc::now, |t| t.with_timezone(&Utc));
                list.push((o.id.clone(), at));
            }
        }
        let verifying = {
            let ledger = ledger::lock(&self.ledger);
            ledger.list(Some(OrderState::Verifying), 100_000)
        };
        let orders = match verifying {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "Cannot read the orders being verified.");
                return 0;
            }
        };
        for o in &orders {
            let v = o.verification.as_ref();
            self.board.post(Job {
                order_id: o.id.clone(),
                camera: o.camera.id.clone(),
                kind: o.kind,
                zone: o.zone.as_ref().map(|z| z.id.clone()),
                window: Duration::from_secs_f64(
                    v.map_or(self.config.verify_window_s.secs(), |v| v.window_s),
                ),
                attempt: v.map_or(1, |v| v.attempt),
                not_before: Instant::now(),
                purpose: v.map_or(Purpose::Handled, |v| v.purpose),
            });
        }
        orders.len()
    }

    /// Records a finished re-check: closes (gone) or reopens and escalates (present) the order,
    /// with the after-photo. `None` when the verdict is stale (the order moved on meanwhile) or
    /// could not be stored.
    pub fn verdict(
        &self,
        job: &Job,
        verdict: Verdict,
        photo: Option<AfterPhoto>,
        now: DateTime<Utc>,
    ) -> Option<WorkOrder> {
        let (step, status, ratio) = match verdict {
            Verdict::Gone { present_ratio } => (
                Step::VerifiedGone,
                VerificationStatus::Cleared,
                present_ratio,
            ),
            Verdict::Present { present_ratio } => (
                match job.purpose {
                    Purpose::Handled => Step::VerifiedPresent,
                    Purpose::OnSite => Step::Escalate,
                },
                VerificationStatus::Present,
                present_ratio,
            ),
            Verdict::Inconclusive => {
                if !self.board.finish(job) {
                    return None;
                }
                return self.inconclusive(job, "the camera has no rule for it", now);
            }
        };
        if !self.board.finish(job) {
            return None;
        }
        let mut ledger = ledger::lock(&self.ledger);
        let mut order = ledger.order(&job.order_id).ok().flatten()?;
        advance(
            &mut order,
            step,
            &Actor::lookout(),
            now,
            self.identity.language,
        )
        .ok()?;
        if step == Step::VerifiedGone {
            order.resolution = Some(match job.purpose {
                Purpose::Handled => Resolution::Verified,
                Purpose::OnSite => Resolution::OnSite,
            });
        }
        if let Some(v) = order.verification.as_mut() {
            v.status = status;
            v.present_ratio = Some(ratio);
            v.finished_at = Some(orders::rfc3339(now));
            v.next_attempt_at = None;
        }
        let evidence = photo
            .and_then(|p| {
                orders::attach_photo(
                    &mut order,
                    "verified",
                    &self.photographer,
                    self.identity.offset(),
                    p.frame,
                    p.objects,
                    p.zone,
                    now,
                )
            })
            .into_iter()
            .collect();
        match self.store(&mut ledger, order, evidence) {
            Ok(order) => {
                tracing::info!(order = %job.order_id, verdict = ?verdict, "Camera re-check done.");
                Some(order)
            }
            Err(e) => {
                tracing::error!(order = %job.order_id, error = %e, "Cannot store a re-check verdict; it will be retried.");
                drop(ledger);
                self.retry_later(job, now);
                None
            }
        }
    }

    /// Declares stalled re-checks inconclusive and schedules their retries, and starts the
    /// on-site re-checks that are due.
    pub fn sweep(&self, now: DateTime<Utc>) -> Vec<WorkOrder> {
        let mut changed: Vec<WorkOrder> = self
            .board
            .stalled(Instant::now())
            .iter()
            .filter_map(|job| self.inconclusive(job, "no frames from the camera", now))
            .collect();
        changed.extend(self.due_on_site(now));
        changed.extend(self.overdue(now));
        changed
    }

    /// Orders still open at their disposal deadline (处置时限): each escalates one grade, once,
    /// with a timeline entry; the centre sees the new revision.
    fn overdue(&self, now: DateTime<Utc>) -> Vec<WorkOrder> {
        let lang = self.identity.language;
        let mut ledger = ledger::lock(&self.ledger);
        let due = match ledger.overdue_orders(&orders::rfc3339(now)) {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "Cannot read the orders past their deadline; trying again on the next sweep.");
                return Vec::new();
            }
        };
        let mut changed = Vec::new();
        for mut order in due {
            let Some(case) = order.case.as_mut() else {
                continue;
            };
            case.overdue = true;
            let deadline = case.deadline_at.clone().unwrap_or_default();
            let was = order.severity;
            order.severity = was.escalated();
            let note = orders::overdue_note(&deadline, was, order.severity, lang);
            orders::annotate(&mut order, "deadline_passed", note, now);
            match self.store(&mut ledger, order, Vec::new()) {
                Ok(o) => {
                    tracing::info!(order = %o.id, severity = o.severity.as_str(), "An order passed its disposal deadline still open: escalated.");
                    changed.push(o);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot store an overdue order's escalation; trying again on the next sweep.");
                    break;
                }
            }
        }
        changed
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let s =
            self.config.verify_retry_s.secs() * 2f64.powi(attempt.saturating_sub(1).min(20) as i32);
        Duration::from_secs_f64(s.min(self.config.verify_retry_max_s.secs()))
    }

    fn retry_later(&self, job: &Job, _now: DateTime<Utc>) -> Duration {
        let wait = self.backoff(job.attempt);
        self.board.post(Job {
            attempt: job.attempt + 1,
            not_before: Instant::now() + wait,
            ..job.clone()
        });
        wait
    }

    fn inconclusive(&self, job: &Job, why: &str, now: DateTime<Utc>) -> Option<WorkOrder> {
        let wait = self.retry_later(job, now);
        let mut ledger = ledger::lock(&self.ledger);
        let mut order = ledger.order(&job.order_id).ok().flatten()?;
        if order.state != OrderState::Verifying {
            drop(ledger);
            self.board.remove(&job.order_id);
            return None;
        }
        let next_at = now + chrono::Duration::from_std(wait).unwrap_or_default();
        let actor = Actor {
            note: Some(format!(
                "{} ({why}; attempt {}, next at {})",
                match self.identity.language {
                    crate::config::Language::Zh => "视频核查无法完成，稍后重试",
                    crate::config::Language::En => "re-check could not be done, retrying",
                },
                job.attempt,
                orders::rfc3339(next_at)
            )),
            ..Actor::lookout()
        };
        advance(
            &mut order,
            Step::Inconclusive,
            &actor,
            now,
            self.identity.language,
        )
        .ok()?;
        if let Some(v) = order.verification.as_mut() {
            v.status = VerificationStatus::Inconclusive;
            v.attempt = job.attempt + 1;
            v.finished_at = Some(orders::rfc3339(now));
            v.next_attempt_at = Some(orders::rfc3339(next_at));
        }
        match self.store(&mut ledger, order, Vec::new()) {
            Ok(order) => {
                tracing::warn!(order = %job.order_id, camera = %job.camera, why, retry_in = ?wait, "Camera re-check inconclusive; retrying later.");
                Some(order)
            }
            Err(e) => {
                tracing::error!(order = %job.order_id, error = %e, "Cannot store an inconclusive re-check.");
                None
            }
        }
    }
}

impl crate::uplink::CommandSink for Control {
    fn command(&self, verb: &str, payload: &[u8]) -> Option<WorkOrder> {
        Control::command(self, verb, payload, Utc::now()).order
    }

    fn busy(&self, verb: &str, payload: &[u8]) -> Option<(String, Vec<u8>)> {
        // Only a command whose request id can be read gets the answer: the sender can retry
        // it. Nothing is stored: a flood must not turn into disk writes.
        let request_id = command::salvage_request_id(payload)?;
        let result = CommandResult::failed(
            Some(request_id),
            Verb::parse(verb),
            None,
            CommandError::new(
                ErrorCode::RateLimited,
                "more commands than uplink.command_rate allows; not applied, send it again later",
            ),
            Utc::now(),
        );
        let m = self.result_message(&result);
        Some((m.topic, m.payload))
    }
}

#[cfg(test)]
mod tests;

/// Notes the photos the evidence store evicted from orders not yet final in their timelines:
/// one new revision per order (stored with its messages), so the centre learns what the box no
/// longer holds. Returns the orders changed, for the caller to announce. Called with the ledger
/// locked, after a write that may have evicted.
pub fn note_evictions(
    ledger: &mut crate::ledger::Ledger,
    topics: &Topics,
    lang: crate::config::Language,
    now: DateTime<Utc>,
) -> Vec<WorkOrder> {
    let evictions = match ledger.unnoted_evictions() {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "Cannot list the evicted photos to note.");
            return Vec::new();
        }
    };
    let mut by_order: Vec<(String, Vec<crate::ledger::Eviction>)> = Vec::new();
    for e in evictions {
        match by_order.iter_mut().find(|(id, _)| *id == e.order_id) {
            Some((_, list)) => list.push(e),
            None => by_order.push((e.order_id.clone(), vec![e])),
        }
    }
    let mut changed = Vec::new();
    for (id, list) in by_order {
        let Ok(Some(mut order)) = ledger.order(&id) else {
            continue;
        };
        let names: Vec<String> = list.iter().map(|e| e.name.clone()).collect();
        let bytes = list.iter().map(|e| e.bytes).sum();
        orders::annotate(
            &mut order,
            "evidence_dropped",
            orders::evidence_dropped_note(&names, bytes, lang),
            now,
        );
        let change = WorkOrderChange {
            order,
            evidence: Vec::new(),
        };
        let messages = crate::uplink::encode(topics, &change);
        match ledger.record(&change.order, &messages) {
            Ok(_) => {
                for e in &list {
                    let _ = ledger.mark_noted(e);
                }
                tracing::warn!(order = %id, photos = ?names, "Evidence store over storage.evidence_max_bytes: photos of an open order were deleted from the box (noted in its timeline).");
                changed.push(change.order);
            }
            Err(e) => {
                tracing::error!(order = %id, error = %e, "Cannot note evicted photos; tried again after the next write.");
            }
        }
    }
    changed
}
