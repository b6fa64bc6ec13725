use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;
use crate::ledger::Ledger;
use crate::orders::{next, OrderState};

fn config() -> Config {
    crate::config::parse(
        r#"
[box]
site = "s"
id = "b"
language = "en"
[[cameras]]
id = "cam"
source = "test:ball"
models = ["m"]
location = { lat = 30.0, lon = 120.0 }
[[cameras.zones]]
id = "z"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
"#,
        std::path::Path::new("test.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn order(id: &str) -> WorkOrder {
    serde_json::from_value(serde_json::json!({
        "schema": 1, "id": id, "revision": 1, "site": "s", "box": "b",
        "camera": {"id": "cam", "name": "cam"}, "zone": {"id": "z", "name": "z"}, "kind": "vending",
        "event_code": "0501", "severity": "yellow", "state": "open", "title": "t",
        "opened_at": "2026-11-23T00:00:00.000Z", "updated_at": "2026-11-23T00:00:00.000Z",
        "count": 1, "objects": [],
        "location": {"lat": 30.0, "lon": 120.0, "accuracy_m": 10.0, "method": "camera_position"},
        "evidence": [], "timeline": []
    }))
    .expect("order fixture")
}

fn control_with(orders: &[&str]) -> (Control, SharedLedger) {
    let ledger = Arc::new(Mutex::new(Ledger::in_memory().unwrap()));
    for id in orders {
        ledger::lock(&ledger).record(&order(id), &[]).unwrap();
    }
    (Control::new(&config(), ledger.clone()), ledger)
}

fn t(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + s, 0).unwrap()
}

fn body(request: &str, order: &str, extra: &str) -> Vec<u8> {
    format!(r#"{{"request_id":"{request}","order_id":"{order}","actor":"centre"{extra}}}"#)
        .into_bytes()
}

#[test]
fn dispatch_handled_then_a_gone_verdict_closes_with_a_photo() {
    let (control, ledger) = control_with(&["o1"]);
    let a = control.command("dispatch", &body("r1", "o1", r#","team":"team 1""#), t(1));
    assert!(a.result.ok, "{:?}", a.result);
    assert_eq!(a.result.state, Some(OrderState::Dispatched));
    assert_eq!(a.result.revision, Some(2));
    assert_eq!(
        a.order.unwrap().dispatch.unwrap().team,
        "team 1",
        "the team is on the order"
    );
    let a = control.command(
        "handled",
        &body("r2", "o1", r#","photo":"https://centre/p/1.jpg""#),
        t(2),
    );
    assert_eq!(a.result.state, Some(OrderState::Verifying));
    assert_eq!(a.result.revision, Some(3), "one revision per command");
    let taken = control.board().take("cam", Instant::now());
    assert_eq!(taken.len(), 1);
    let frame = RgbImage::new(64, 48);
    let closed = control
        .verdict(
            &taken[0],
            Verdict::Gone { present_ratio: 0.0 },
            Some(AfterPhoto {
                frame: &frame,
                objects: &[],
                zone: None,
            }),
            t(40),
        )
        .expect("verdict stored");
    assert_eq!(closed.state, OrderState::Closed);
    assert_eq!(closed.evidence.last().unwrap().name, "verified-4.jpg");
    let events: Vec<&str> = closed.timeline.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["dispatch", "handled", "verify", "verified_gone"]);
    assert_eq!(
        closed.timeline[1].photo.as_deref(),
        Some("https://centre/p/1.jpg")
    );
    let stored = ledger::lock(&ledger).order("o1").unwrap().unwrap();
    assert_eq!(stored, closed);
}

#[test]
fn a_present_verdict_reopens_and_escalates() {
    let (control, _) = control_with(&["o1"]);
    control.command("dispatch", &body("r1", "o1", r#","team":"t""#), t(1));
    control.command("handled", &body("r2", "o1", ""), t(2));
    let job = control.board().take("cam", Instant::now()).remove(0);
    let o = control
        .verdict(&job, Verdict::Present { present_ratio: 0.9 }, None, t(40))
        .unwrap();
    assert_eq!(o.state, OrderState::Reopened);
    assert_eq!(o.severity, crate::vocab::Severity::Orange, "yellow + 1");
    let a = control.command("dispatch", &body("r3", "o1", r#","team":"t2""#), t(50));
    assert_eq!(
        a.result.state,
        Some(OrderState::Dispatched),
        "the loop goes on"
    );
}

#[test]
fn a_repeated_request_gets_the_same_answer_and_changes_nothing() {
    let (control, ledger) = control_with(&["o1"]);
    let first = control.command("dispatch", &body("r1", "o1", r#","team":"t""#), t(1));
    let second = control.command("dispatch", &body("r1", "o1", r#","team":"t""#), t(9));
    assert_eq!(first.result, second.result);
    assert!(second.order.is_none());
    assert_eq!(
        ledger::lock(&ledger).order("o1").unwrap().unwrap().revision,
        2
    );
    // Even a refused one stays refused.
    let refused = control.command("close", &body("r2", "o1", ""), t(10));
    assert_eq!(
        refused.result.error.as_ref().unwrap().code,
        ErrorCode::IllegalTransition
    );
    control.command("handled", &body("r3", "o1", ""), t(11));
    let again = control.command("close", &body("r2", "o1", ""), t(12));
    assert_eq!(again.result, refused.result);
}

#[test]
fn unknown_orders_and_garbage_are_answered_not_crashed_on() {
    let (control, ledger) = control_with(&["o1"]);
    let a = control.command("cancel", &body("r1", "nope", ""), t(1));
    assert_eq!(a.result.error.unwrap().code, ErrorCode::UnknownOrder);
    let a = control.command("cancel", b"\xff\xfe{", t(2));
    assert_eq!(a.result.request_id, None);
    assert_eq!(a.result.error.unwrap().code, ErrorCode::MalformedJson);
    let pending = ledger::lock(&ledger).pending(0, 10).unwrap();
    let topics: Vec<&str> = pending.iter().map(|p| p.message.topic.as_str()).collect();
    assert_eq!(
        topics,
        [
            "lookout/v1/s/b/cmd-result/r1",
            "lookout/v1/s/b/cmd-result/_invalid"
        ]
    );
}

#[test]
fn a_stalled_recheck_is_inconclusive_and_retried_with_back_off() {
    let (control, _) = control_with(&["o1"]);
    control.command("verify", &body("r1", "o1", r#","window_s":5"#), t(1));
    // Nobody takes it (the camera is down): the sweeper gives up on this attempt after STALL.
    let board = control.board();
    assert!(board.stalled(Instant::now()).is_empty());
    let job = board.take("cam", Instant::now()).remove(0);
    let o = control
        .verdict(&job, Verdict::Inconclusive, None, t(20))
        .unwrap();
    assert_eq!(o.state, OrderState::Verifying);
    let v = o.verification.unwrap();
    assert_eq!(v.status, VerificationStatus::Inconclusive);
    assert_eq!(v.attempt, 2);
    assert_eq!(v.next_attempt_at.as_deref(), Some(&*orders::rfc3339(t(50))));
    assert!(board.contains("o1"), "the retry is queued");
    assert!(
        board.take("cam", Instant::now()).is_empty(),
        "not before its back-off"
    );
    // The centre can still end it.
    let a = control.command("close", &body("r2", "o1", ""), t(30));
    assert!(a.result.ok);
    assert!(!board.contains("o1"));
}

#[test]
fn verifying_orders_resume_after_a_restart() {
    let (control, ledger) = control_with(&["o1"]);
    control.command("verify", &body("r1", "o1", ""), t(1));
    let restarted = Control::new(&config(), ledger);
    assert_eq!(restarted.resume(), 1);
    assert_eq!(restarted.board().take("cam", Instant::now()).len(), 1);
}

/// A command as the property test sends it: a verb (sometimes a bogus one), an order (sometimes
/// an unknown one), a request id (often a repeat), and sometimes a broken body.
#[derive(Debug, Clone)]
struct Sent {
    verb: String,
    order: usize,
    request: u32,
    body: u8,
}

fn sent() -> impl Strategy<Value = Sent> {
    (
        prop_oneof![
            8 => prop::sample::select(vec!["dispatch", "handled", "verify", "cancel", "close"]).prop_map(String::from),
            1 => "[a-z/#+]{0,12}",
        ],
        0usize..4,
        0u32..400,
        0u8..20,
    )
        .prop_map(|(verb, order, request, body)| Sent {
            verb,
            order,
            request,
            body,
        })
}

fn payload(s: &Sent) -> Vec<u8> {
    let order = ["o1", "o2", "o3", "ghost"][s.order];
    let request = format!("req-{}", s.request);
    match s.body {
        0 => b"{".to_vec(),
        1 => br#"{"request_id":7}"#.to_vec(),
        2 => body(&request, order, r#","box":"other""#),
        3 => body(&request, order, r#","unknown":true"#),
        _ => {
            let extra = match s.verb.as_str() {
                "dispatch" => r#","team":"t""#,
                "verify" => r#","window_s":3"#,
                _ => "",
            };
            body(&request, order, extra)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    /// 10 cases × 1,000 commands: whatever arrives, every command gets exactly one answer, a
    /// repeated request id gets the answer it got the first time, every accepted change is a
    /// legal transition and exactly one revision, and nothing else changes an order.
    #[test]
    fn any_command_sequence_keeps_the_ledger_consistent(commands in prop::collection::vec(sent(), 1000)) {
        let (control, ledger) = control_with(&["o1", "o2", "o3"]);
        let mut answers: std::collections::HashMap<String, CommandResult> = Default::default();
        let mut states = std::collections::HashMap::from([
            ("o1".to_string(), (OrderState::Open, 1u32)),
            ("o2".to_string(), (OrderState::Open, 1)),
            ("o3".to_string(), (OrderState::Open, 1)),
        ]);
        for (i, s) in commands.iter().enumerate() {
            let before = ledger::lock(&ledger).outbox_len().unwrap();
            let answer = control.command(&s.verb, &payload(s), t(i as i64));
            let after = ledger::lock(&ledger).outbox_len().unwrap();
            let added = after - before;
            let result = &answer.result;
            // Exactly one answer (plus the order document when it changed one).
            prop_assert_eq!(added, 1 + answer.order.is_some() as u64);
            // Commands refused before they are understood are answered afresh every time
            // (nothing was stored for them); any other answer is the one a repeat gets.
            let refused_unread = result.error.as_ref().is_some_and(|e| matches!(e.code, ErrorCode::MalformedJson | ErrorCode::InvalidField | ErrorCode::WrongBox | ErrorCode::UnknownVerb | ErrorCode::TooLarge));
            if let (Some(id), false) = (&result.request_id, refused_unread) {
                if let Some(first) = answers.get(id) {
                    prop_assert_eq!(first, result, "a repeat gets the first answer");
                    prop_assert!(answer.order.is_none(), "a repeat changes nothing");
                    continue;
                }
                answers.insert(id.clone(), result.clone());
            }
            if let Some(order) = &answer.order {
                let (state, revision) = states[&order.id];
                let verb = result.verb.expect("an accepted command has a verb");
                let step = match verb {
                    Verb::Dispatch => Step::Dispatch,
                    Verb::Handled => Step::Handled,
                    Verb::Verify => Step::Verify,
                    Verb::Cancel => Step::Cancel,
                    Verb::Close => Step::Close,
                };
                let mut expected = next(state, step).expect("accepted means legal");
                if verb == Verb::Handled {
                    expected = next(expected, Step::Verify).unwrap();
                }
                prop_assert_eq!(order.state, expected);
                prop_assert_eq!(order.revision, revision + 1);
                states.insert(order.id.clone(), (order.state, order.revision));
            } else if result.ok {
                prop_assert!(false, "ok without an order: {:?}", result);
            }
        }
        for (id, (state, revision)) in &states {
            let stored = ledger::lock(&ledger).order(id).unwrap().unwrap();
            prop_assert_eq!(stored.state, *state);
            prop_assert_eq!(stored.revision, *revision);
            let by_commands = stored.timeline.iter().filter(|e| e.request_id.is_some()).count() as u32;
            prop_assert_eq!(by_commands + 1, *revision, "one timeline entry per accepted command");
        }
    }
}

fn played(times: u32) -> crate::orders::Warning {
    crate::orders::Warning {
        status: orders::WarningStatus::Played,
        speaker: "pole".into(),
        prompt: "vending.zh.wav".into(),
        at: crate::orders::rfc3339(t(1)),
        times,
        recheck_at: None,
        reason: None,
    }
}

#[test]
fn a_warning_then_a_clear_scene_closes_on_site_without_dispatch() {
    let (control, _) = control_with(&["o1"]);
    let o = control.warned("o1", played(2), Some(t(60)), t(1)).unwrap();
    assert_eq!(o.state, OrderState::Warned);
    assert_eq!(o.revision, 2);
    assert_eq!(
        o.warning.as_ref().unwrap().recheck_at.as_deref(),
        Some(crate::orders::rfc3339(t(60)).as_str())
    );
    assert!(control.sweep(t(59)).is_empty(), "the grace period runs");
    let started = control.sweep(t(60));
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].state, OrderState::Verifying);
    assert_eq!(
        started[0].verification.as_ref().unwrap().purpose,
        Purpose::OnSite
    );
    let job = control.board().take("cam", Instant::now()).remove(0);
    assert_eq!(job.purpose, Purpose::OnSite);
    let frame = RgbImage::new(64, 48);
    let closed = control
        .verdict(
            &job,
            Verdict::Gone { present_ratio: 0.1 },
            Some(AfterPhoto {
                frame: &frame,
                objects: &[],
                zone: None,
            }),
            t(95),
        )
        .unwrap();
    assert_eq!(closed.state, OrderState::Closed);
    assert_eq!(closed.resolution, Some(Resolution::OnSite));
    assert!(closed.dispatch.is_none());
    assert!(closed
        .evidence
        .iter()
        .any(|e| e.name.starts_with("verified-")));
    let events: Vec<&str> = closed.timeline.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(events, ["warned", "verify", "verified_gone"]);
}

#[test]
fn a_warning_that_does_not_help_escalates_and_the_centre_takes_over() {
    let (control, _) = control_with(&["o1"]);
    control.warned("o1", played(1), Some(t(10)), t(1)).unwrap();
    control.sweep(t(10));
    let job = control.board().take("cam", Instant::now()).remove(0);
    let o = control
        .verdict(&job, Verdict::Present { present_ratio: 0.9 }, None, t(45))
        .unwrap();
    assert_eq!(o.state, OrderState::Escalated);
    assert_eq!(
        o.severity,
        crate::vocab::Severity::Orange,
        "one grade up from yellow"
    );
    assert_eq!(o.resolution, None);
    let a = control.command("dispatch", &body("r1", "o1", r#","team":"t""#), t(50));
    assert!(a.result.ok, "{:?}", a.result);
}

#[test]
fn a_failed_or_skipped_warning_is_noted_and_changes_nothing_else() {
    let (control, _) = control_with(&["o1", "o2"]);
    let failed = crate::orders::Warning {
        status: orders::WarningStatus::Failed,
        reason: Some("speaker pole: HTTP POST http://x: the speaker answered 500".into()),
        times: 0,
        ..played(0)
    };
    let o = control.warned("o1", failed, None, t(1)).unwrap();
    assert_eq!(
        o.state,
        OrderState::Open,
        "the order goes on as if there were no speaker"
    );
    let last = o.timeline.last().unwrap();
    assert_eq!(last.event, "warning_failed");
    assert!(last.note.contains("500"), "{}", last.note);
    let skipped = crate::orders::Warning {
        status: orders::WarningStatus::Skipped,
        reason: Some("quiet_hours".into()),
        ..played(0)
    };
    let o = control.warned("o2", skipped, Some(t(30)), t(1)).unwrap();
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(o.timeline.last().unwrap().event, "warning_skipped");
    assert!(
        control.sweep(t(100)).is_empty(),
        "no on-site re-check without a warning"
    );
    // Water: played, but the centre has it — a note, no `warned` state, no re-check.
    let (control, _) = control_with(&["w"]);
    let o = control.warned("w", played(3), None, t(1)).unwrap();
    assert_eq!(o.state, OrderState::Open);
    assert_eq!(o.timeline.last().unwrap().event, "warned");
}

#[test]
fn re_dispatching_in_a_loop_is_refused_past_the_limit_and_the_document_stays_bounded() {
    let (control, ledger) = control_with(&["o1"]);
    let mut refused_at = None;
    for i in 0..5_000 {
        let a = control.command(
            "dispatch",
            &body(&format!("r{i}"), "o1", r#","team":"t""#),
            t(i),
        );
        if !a.result.ok {
            let e = a.result.error.unwrap();
            assert_eq!(e.code, ErrorCode::LimitReached, "{e:?}");
            refused_at.get_or_insert(i);
        }
    }
    assert_eq!(
        refused_at,
        Some(MAX_REDISPATCH as i64 + 1),
        "the first dispatch and ten re-dispatches"
    );
    let stored = ledger::lock(&ledger).order("o1").unwrap().unwrap();
    assert_eq!(stored.revision, 1 + MAX_REDISPATCH as u32 + 1);
    // A different step breaks the run of re-dispatches; a cancel still works.
    let a = control.command("cancel", &body("c1", "o1", ""), t(6000));
    assert!(a.result.ok, "{:?}", a.result);
}

#[test]
fn an_order_takes_commands_up_to_its_revision_limit_and_its_timeline_stays_bounded() {
    let (control, ledger) = control_with(&["o1"]);
    // The longest real loop: dispatched, reported handled, found still there, reopened, again.
    let mut last = None;
    for i in 0..400 {
        let a = control.command(
            "dispatch",
            &body(&format!("d{i}"), "o1", r#","team":"t""#),
            t(i),
        );
        let b = control.command("handled", &body(&format!("h{i}"), "o1", ""), t(i));
        if !(a.result.ok && b.result.ok) {
            last = Some(if a.result.ok { b.result } else { a.result });
            break;
        }
        let job = control.board().take("cam", Instant::now()).remove(0);
        control
            .verdict(&job, Verdict::Present { present_ratio: 0.9 }, None, t(i))
            .unwrap();
    }
    let last = last.expect("refused before 400 loops");
    assert_eq!(last.error.map(|e| e.code), Some(ErrorCode::LimitReached));
    let stored = ledger::lock(&ledger).order("o1").unwrap().unwrap();
    assert!(
        stored.revision <= MAX_COMMAND_REVISIONS + 1,
        "{}",
        stored.revision
    );
    assert_eq!(stored.timeline.len(), orders::MAX_TIMELINE);
    assert!(stored.timeline_omitted > 400, "{}", stored.timeline_omitted);
    assert!(
        serde_json::to_vec(&stored).unwrap().len() < 64 * 1024,
        "the document stays small"
    );
}

/// An order with a disposal deadline `deadline_s` after `t(0)`.
fn order_due(id: &str, deadline_s: i64) -> WorkOrder {
    let mut o = order(id);
    o.case = Some(orders::Case {
        category: "05".into(),
        category_name: Some("街面秩序".into()),
        subcategory: "0501".into(),
        subcategory_name: None,
        filing: None,
        closing: None,
        deadline_at: Some(orders::rfc3339(t(deadline_s))),
        overdue: false,
    });
    o
}

#[test]
fn an_order_open_past_its_disposal_deadline_escalates_once() {
    let ledger = Arc::new(Mutex::new(Ledger::in_memory().unwrap()));
    for (id, due) in [("late", 30), ("later", 300), ("closed", 30)] {
        ledger::lock(&ledger)
            .record(&order_due(id, due), &[])
            .unwrap();
    }
    let control = Control::new(&config(), ledger.clone());
    // "closed" is cancelled before its deadline: nothing to escalate.
    assert!(
        control
            .command("cancel", &body("c1", "closed", ""), t(1))
            .result
            .ok
    );
    assert!(control.sweep(t(29)).is_empty(), "not due yet");
    let changed = control.sweep(t(31));
    assert_eq!(
        changed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        ["late"]
    );
    let late = ledger::lock(&ledger).order("late").unwrap().unwrap();
    assert_eq!(late.severity, crate::vocab::Severity::Orange, "yellow + 1");
    assert!(late.case.as_ref().unwrap().overdue);
    let entry = late.timeline.last().unwrap();
    assert_eq!(entry.event, "deadline_passed");
    assert!(entry.note.contains("yellow to orange"), "{}", entry.note);
    assert_eq!(late.state, OrderState::Open, "the state stays");
    assert!(control.sweep(t(60)).is_empty(), "once, not every sweep");
    // The centre moving the order later keeps it overdue and escalated.
    assert!(
        control
            .command("dispatch", &body("d1", "late", r#","team":"t""#), t(61))
            .result
            .ok
    );
    assert!(control.sweep(t(90)).is_empty());
    let changed = control.sweep(t(301));
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].id, "later");
}

#[test]
fn the_case_book_files_by_detail_then_kind_then_default() {
    let config = crate::config::parse(
        r#"
[box]
site = "s"
id = "b"
[[codes]]
kind = "water"
detail = "vanished"
category = "21"
subcategory = "2102"
subcategory_name = "疑似溺水"
deadline_h = 0.1
[[codes]]
kind = "water"
category = "21"
subcategory = "2110"
filing = "有人进入危险水域"
closing = "人员离开水域"
[[codes]]
kind = "parking"
category = "05"
subcategory = "0505"
deadline_h = 0
"#,
        std::path::Path::new("test.toml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let book = orders::CaseBook::new(&config);
    let vanished = book.file(
        crate::rules::WATER,
        Some(crate::rules::VANISHED),
        "2102",
        t(0),
    );
    assert_eq!(vanished.subcategory_name.as_deref(), Some("疑似溺水"));
    assert_eq!(vanished.deadline_at, Some(orders::rfc3339(t(360))));
    let in_water = book.file(
        crate::rules::WATER,
        Some(crate::rules::IN_WATER),
        "2102",
        t(0),
    );
    assert_eq!(in_water.subcategory, "2110");
    assert_eq!(in_water.closing.as_deref(), Some("人员离开水域"));
    assert_eq!(
        in_water.deadline_at,
        Some(orders::rfc3339(t(900))),
        "the kind's default: 15 min for water"
    );
    assert_eq!(
        book.file(crate::rules::PARKING, None, "0505", t(0))
            .deadline_at,
        None,
        "0: no deadline"
    );
    let vending = book.file(crate::rules::VENDING, None, "0504", t(0));
    assert_eq!(
        (vending.category.as_str(), vending.subcategory.as_str()),
        ("05", "0504"),
        "no row: the rule's own event code"
    );
    assert_eq!(vending.category_name.as_deref(), Some("街面秩序"));
    assert_eq!(vending.deadline_at, Some(orders::rfc3339(t(7200))));
}

#[test]
fn photos_evicted_from_open_orders_are_noted_in_their_timelines_once() {
    let topics = Topics::new("s", "b");
    let mut l = Ledger::in_memory().unwrap();
    l.set_evidence_max(50_000);
    for id in ["a", "b"] {
        let topic = topics.evidence(id, "opened-1.jpg");
        let photo = OutMessage {
            topic,
            payload: vec![0xd8; 40_000],
            retain: false,
            class: MessageClass::Evidence,
        };
        l.record(&order(id), &[photo]).unwrap();
    }
    let noted = note_evictions(&mut l, &topics, crate::config::Language::En, t(0));
    assert_eq!(noted.len(), 1);
    let a = &noted[0];
    assert_eq!((a.id.as_str(), a.revision), ("a", 2));
    let entry = a.timeline.last().unwrap();
    assert_eq!(entry.event, "evidence_dropped");
    assert!(entry.note.contains("opened-1.jpg"), "{}", entry.note);
    assert_eq!(l.order("a").unwrap().unwrap().revision, 2, "stored");
    assert!(
        l.pending(0, 100)
            .unwrap()
            .iter()
            .any(|p| p.message.topic == topics.order("a") && p.message.class == MessageClass::Order),
        "the noted revision is on its way to the centre"
    );
    assert!(note_evictions(&mut l, &topics, crate::config::Language::En, t(1)).is_empty());
}
