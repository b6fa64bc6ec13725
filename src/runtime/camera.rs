//! One camera's worker: the straight line ingest → detect → track → rules → orders, then a hand-off
//! to the uplink.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::clips::{ClipOutputs, ClipRecorder};
use super::perception::{Perception, Seen};
use super::tour::Tour;
use super::{SharedDetector, SharedPlan};
use crate::config::{BoxIdentity, CameraConfig};
use crate::control::{AfterPhoto, Control, Sampler};
use crate::detect::gate::{Gate, GateSettings, Thumbnail};
use crate::detect::{DetectOptions, Detection, Manifest, Outcome, Ticket, Tiling};
use crate::evidence::{Shortlist, View};
use crate::health::Health;
use crate::ingest::{CameraStream, Frame, PlayMode, SourceKind, StreamEvent};
use crate::ledger;
use crate::orders::ClipOf;
use crate::orders::{HeadPose, OrderDesk, PtzRef, WorkOrder};
use crate::rules::{Detail, IncidentEvent, ObservedObject, Phase, Reference, RuleEngine};
use crate::track::{TrackState, TrackedObject, Tracker, TrackerConfig};
use crate::uplink::{CameraState, CameraStatus, SharedLedger, Topics, UplinkMessage, UplinkSender};

/// What one camera did during a run.
#[derive(Debug, Clone, Default)]
pub struct CameraReport {
    pub camera: String,
    /// Frames delivered by ingest (after sampling).
    pub frames: u64,
    /// Model runs, all models together.
    pub inferences: u64,
    /// Model runs that failed (logged, frame skipped for that model).
    pub inference_errors: u64,
    pub orders: u64,
    /// Wall time from pipeline start to end of stream.
    pub elapsed: Duration,
    /// Wall-clock time of stream time 0 of the last pipeline (orders' capture times are this plus
    /// the frame's stream time).
    pub stream_started: Option<chrono::DateTime<chrono::Utc>>,
}

impl CameraReport {
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A model on this camera with its own sampling clock and motion gate.
struct ModelSlot {
    name: String,
    scheduler: SharedDetector,
    options: Arc<DetectOptions>,
    priority: crate::config::Priority,
    /// Frames a second the config asks for, and what the compute plan gives.
    wanted: f64,
    planned: f64,
    interval: Duration,
    next_due: Option<Duration>,
    tracked: bool,
    gate: Gate,
    /// Runs that came back since the last status (the effective rate).
    done_in_window: u64,
}

impl ModelSlot {
    /// Follows the compute plan's rate.
    fn set_planned(&mut self, planned: f64) {
        let planned = planned.clamp(1e-3, self.wanted.max(1e-3));
        if (planned - self.planned).abs() > 1e-9 {
            self.planned = planned;
            self.interval = Duration::from_secs_f64(1.0 / planned);
        }
    }
}

/// A frame on its way through the models, waiting for its turn to go through the rules:
/// frames are judged in the order they came, whatever order their models finish in.
struct InFlight {
    frame: Frame,
    /// When it came out of the decoder.
    arrived: Instant,
    /// The models it was sent to (slot index) and their outcomes to come.
    jobs: Vec<(usize, Ticket)>,
    /// The view it is analysed under (index into `Lasting::views`), the tour's visit of it,
    /// and the head's pose on that visit.
    view: usize,
    visit: u64,
    pose: Option<HeadPose>,
}

impl InFlight {
    fn is_ready(&self) -> bool {
        self.jobs.iter().all(|(_, t)| t.is_ready())
    }
}

/// Where a camera's results go: the ledger first (durable), then a wake-up for the uplink.
pub struct Outputs {
    pub uplink: UplinkSender,
    pub ledger: SharedLedger,
    /// Camera re-checks to run, and where their verdicts go.
    pub control: Arc<Control>,
    pub close_when_cleared: bool,
    /// Liveness and rates, for the watchdog and the metrics endpoint.
    pub health: Arc<Health>,
    /// The box's state folder: reference views are kept (and, when missing, captured) under
    /// it. `None` (replay, demo): only a configured `faults.reference` is used.
    pub state_dir: Option<PathBuf>,
    /// On-site voice warnings (`lookout run` with speakers).
    pub warner: Option<Arc<super::warner::Warner>>,
    /// Where the console's camera pages find the latest analysed frame.
    pub snapshots: Option<Arc<crate::console::Snapshots>>,
    /// The deployment's case codes and deadlines, for new orders.
    pub cases: crate::orders::CaseBook,
    /// Draws and encodes the evidence photos (`[evidence]`).
    pub photographer: Arc<crate::evidence::Photographer>,
    /// Clips of openings (`[evidence] clip_pre_s`, `clip_post_s`), and the clip bytes per
    /// MQTT chunk.
    pub evidence: crate::config::EvidenceConfig,
    pub clip_chunk_bytes: usize,
    /// A frame that waited this long for a model's worker is dropped (`[models] deadline_s`).
    pub deadline: Duration,
    /// Threads for the camera's software decoder ([`crate::ingest::decoder_threads`]).
    pub decoder_threads: i32,
    /// Where on each model's sampling grid a live camera starts, as a share of the interval
    /// in [0, 1): the fleet spreads its cameras evenly.
    pub phase: f64,
}

/// What the status reports about a camera beyond its state, kept across stream rebuilds.
#[derive(Debug, Default)]
struct Vitals {
    reconnects: u64,
    last_frame: Option<Instant>,
    faults: Vec<Detail>,
    /// The rules' live measurements, refreshed with each periodic status.
    gauges: Vec<crate::vocab::Gauge>,
    rates: Vec<crate::vocab::DetectRate>,
    fps: f64,
    decode_fps: f64,
}

/// Where the camera's reference view comes from.
struct ReferenceSource {
    path: PathBuf,
    /// The box may write it (the default path in its state folder) when it does not exist.
    capture: bool,
}

pub struct CameraWorker {
    identity: BoxIdentity,
    camera: CameraConfig,
    detectors: Vec<SharedDetector>,
    uplink: UplinkSender,
    ledger: SharedLedger,
    control: Arc<Control>,
    close_when_cleared: bool,
    health: Arc<Health>,
    topics: Topics,
    mode: PlayMode,
    stop: Arc<AtomicBool>,
    locator: Arc<crate::geo::Locator>,
    warner: Option<Arc<super::warner::Warner>>,
    snapshots: Option<Arc<crate::console::Snapshots>>,
    cases: crate::orders::CaseBook,
    photographer: Arc<crate::evidence::Photographer>,
    evidence: crate::config::EvidenceConfig,
    clip_chunk_bytes: usize,
    /// The box's state folder, where reference views are kept (`None`: replay, demo).
    state_dir: Option<PathBuf>,
    /// A patrolling camera's tour (started by `run`).
    tour: Option<Tour>,
    vitals: RefCell<Vitals>,
    /// The compute plan this camera's rates come from (`None`: what the config asks).
    plan: Option<SharedPlan>,
    /// The camera's id as the schedulers' lanes know it.
    lane: Arc<str>,
    deadline: Duration,
    decoder_threads: i32,
    phase: f64,
}

/// What outlives a stream rebuild: an RTSP drop must not end the incidents in view, so the
/// tracker, the rules (their timers and open incidents), the order desk (which order each
/// incident has) and the running re-checks carry on with the next stream. Stream time carries on
/// too: the new stream's frames are stamped after the last one, plus the time the camera was
/// gone, so every rule's clock keeps running forward.
struct Lasting {
    /// What is analysed under each view: the camera's one, or one per preset of a patrolling
    /// camera.
    views: Vec<ViewState>,
    /// The view analysed last (its gauges are the status').
    current: usize,
    /// Re-checks running, each with the preset its order belongs to.
    samplers: Vec<(Option<String>, Sampler)>,
    /// The last frame's (continued) stream time, and when it arrived.
    last: Option<(Duration, Instant)>,
    /// The clip recorder, when openings get clips; it outlives stream rebuilds.
    clips: Option<ClipRecorder>,
    /// What the current stream's times are shifted by to continue the last one's (see
    /// `last`): a frame's time in the pipeline (the clip ring's) is its `pts` minus this.
    pts_offset: Duration,
}

/// What a camera analyses under one view — the whole camera for a fixed camera, one preset of
/// a patrolling one: its tracker and rules (the view's zones, its reference view), its order
/// desk (the orders of incidents seen there), its opening-photo shortlist and its own clock.
/// A patrolling camera's views take turns; each carries on where it left off, so an incident
/// open at one preset waits through the visits of the others.
struct ViewState {
    /// Index into `[[cameras.presets]]`; `None` for a fixed camera.
    preset: Option<usize>,
    /// The camera as seen under this view (its zones and rules with the preset's).
    config: CameraConfig,
    perception: Perception,
    desk: OrderDesk,
    /// The clearest recent frame per label, for opening photos.
    shortlist: Shortlist,
    /// View time by which the orders an earlier run left open must have been seen again.
    adopt_until: Option<Duration>,
    clock: ViewClock,
    reference: Option<ReferenceSource>,
    /// A stored reference view read when the stream started, for the rules on the next frame.
    pending_reference: Option<image::RgbImage>,
    /// The view's locator with the head where its preset config says.
    locator: Arc<crate::geo::Locator>,
}

/// A view's own time: the stream's, less the time spent away at other presets, so a rule's
/// timers at one preset count only the seconds it was watched (an incident needs its seconds of
/// evidence there, and is not cleared by the minutes the head was elsewhere).
#[derive(Debug, Default)]
struct ViewClock {
    visit: u64,
    offset: Duration,
    last: Option<Duration>,
}

impl ViewClock {
    /// The view time of a frame at stream time `pts` on visit `visit`; a new visit continues one
    /// frame `step` after the last frame of the previous one.
    fn map(&mut self, visit: u64, pts: Duration, step: Duration) -> Duration {
        if visit != self.visit {
            self.visit = visit;
            if let Some(last) = self.last {
                self.offset = pts.saturating_sub(last + step);
            }
        }
        let t = pts.saturating_sub(self.offset);
        let t = self.last.map_or(t, |last| t.max(last));
        self.last = Some(t);
        t
    }
}

/// How far back an opening photo may come from: the longest time any of the camera's rules
/// needs to open an incident, at most ten minutes.
fn photo_window(rules: &RuleEngine) -> Duration {
    rules.opening_time().min(Duration::from_secs(600))
}

/// A judged frame for the console: the tracks matched on it and the regions a model found.
fn snapshot(
    frame: &Frame,
    seen: &Seen,
    tracks: &[TrackedObject],
    preset: Option<String>,
) -> crate::console::Latest {
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let norm = |b: &crate::detect::BBox| [b.x1 / w, b.y1 / h, b.x2 / w, b.y2 / h];
    let mut spotted: Vec<crate::console::Seen> = tracks
        .iter()
        .filter(|t| t.state == TrackState::Tracked)
        .map(|t| crate::console::Seen {
            label: t.label.to_string(),
            score: t.score,
            bbox: norm(&t.bbox),
        })
        .collect();
    for d in seen.regions.iter().flatten() {
        spotted.push(crate::console::Seen {
            label: d.label.to_string(),
            score: d.score,
            bbox: norm(&d.bbox),
        });
    }
    crate::console::Latest {
        image: frame.image.clone(),
        seen: spotted,
        captured_at: frame.captured_at,
        preset,
    }
}

/// Offers a judged frame to the shortlist of opening photos: the objects a model saw on it
/// (tracks matched on this frame, regions), none when no model ran.
fn offer_view(shortlist: &mut Shortlist, frame: &Frame, seen: &Seen, tracks: &[TrackedObject]) {
    let mut objects: Vec<ObservedObject> = Vec::new();
    if seen.objects_ran {
        objects.extend(
            tracks
                .iter()
                .filter(|t| t.state == TrackState::Tracked)
                .map(ObservedObject::from_track),
        );
    }
    if let Some(regions) = &seen.regions {
        objects.extend(regions.iter().map(ObservedObject::from_detection));
    }
    if !objects.is_empty() {
        shortlist.offer(View {
            image: frame.image.clone(),
            objects,
            pts: frame.pts,
            captured_at: frame.captured_at,
        });
    }
}

/// How long after it starts a camera waits for the orders an earlier run left open to be seen
/// again: the longest time any of its rules needs to open an incident, plus a minute.
fn adoption_grace(rules: &RuleEngine) -> Duration {
    rules.opening_time().min(Duration::from_secs(86_400)) + Duration::from_secs(60)
}

const STATUS_EVERY: Duration = Duration::from_secs(5);
/// A live stream that delivers nothing for this long is rebuilt.
const NO_FRAME_TIMEOUT: Duration = Duration::from_secs(20);
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);
/// While waiting to retry, how often the camera's address is knocked on (a TCP connect): a
/// camera that comes back is retried at once instead of at the end of a long back-off.
const KNOCK_EVERY: Duration = Duration::from_millis(500);
/// A camera without frames for this long is `offline` rather than `reconnecting`.
const OFFLINE_AFTER: Duration = Duration::from_secs(60);
/// A camera without a reference view takes one once it has streamed this long.
const REFERENCE_AFTER: Duration = Duration::from_secs(10);

impl CameraWorker {
    pub fn new(
        identity: BoxIdentity,
        camera: CameraConfig,
        detectors: Vec<SharedDetector>,
        outputs: Outputs,
        mode: PlayMode,
        stop: Arc<AtomicBool>,
    ) -> Self {
        CameraWorker {
            topics: Topics::new(&identity.site, &identity.id),
            locator: Arc::new(crate::geo::Locator::for_camera(&camera)),
            warner: outputs.warner,
            snapshots: outputs.snapshots,
            cases: outputs.cases,
            photographer: outputs.photographer,
            evidence: outputs.evidence,
            clip_chunk_bytes: outputs.clip_chunk_bytes,
            state_dir: outputs.state_dir,
            tour: None,
            vitals: RefCell::new(Vitals::default()),
            plan: None,
            lane: Arc::from(camera.id.as_str()),
            deadline: outputs.deadline,
            decoder_threads: outputs.decoder_threads,
            phase: outputs.phase.clamp(0.0, 1.0),
            identity,
            camera,
            detectors,
            uplink: outputs.uplink,
            ledger: outputs.ledger,
            control: outputs.control,
            close_when_cleared: outputs.close_when_cleared,
            health: outputs.health,
            mode,
            stop,
        }
    }

    /// Takes this camera's detection rates from a compute plan.
    pub fn planned_by(mut self, plan: SharedPlan) -> Self {
        self.plan = Some(plan);
        self
    }

    /// Where a view's reference view comes from: the configured file (the camera's
    /// `faults.reference`, a preset's `reference`), else the box's state folder, where the box
    /// may take one itself.
    fn reference_for(&self, preset: Option<usize>) -> Option<ReferenceSource> {
        if !self.camera.faults.enabled {
            return None;
        }
        let configured = match preset {
            Some(k) => self.camera.presets[k].reference.clone(),
            None => self.camera.faults.reference.clone(),
        };
        match configured {
            Some(path) => Some(ReferenceSource {
                path,
                capture: false,
            }),
            None => self.state_dir.as_ref().map(|dir| ReferenceSource {
                path: match preset {
                    Some(k) => self.camera.preset_reference_path(dir, k),
                    None => self.camera.reference_path(dir),
                },
                capture: true,
            }),
        }
    }

    /// The views this camera is analysed under: one per preset of a patrolling camera (with
    /// `[cameras.ptz]`), else the camera's own.
    fn views(&self) -> anyhow::Result<Vec<ViewState>> {
        let presets: Vec<Option<usize>> =
            if self.camera.ptz.is_some() && !self.camera.presets.is_empty() {
                (0..self.camera.presets.len()).map(Some).collect()
            } else {
                vec![None]
            };
        presets.into_iter().map(|k| self.view(k)).collect()
    }

    fn view(&self, preset: Option<usize>) -> anyhow::Result<ViewState> {
        let (config, locator) = match preset {
            None => (self.camera.clone(), self.locator.clone()),
            Some(k) => {
                let mut config = self.camera.at_preset(k);
                if let (Some(pose), Some(hfov)) =
                    (config.pose.as_mut(), self.camera.presets[k].hfov_deg)
                {
                    pose.hfov_deg = hfov;
                }
                let locator = Arc::new(crate::geo::Locator::for_camera(&config));
                (config, locator)
            }
        };
        let rules = RuleEngine::with_locator(&config, self.identity.offset(), &locator).map_err(
            |problems| {
                let all: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.key, p.message))
                    .collect();
                anyhow::anyhow!(
                    "camera {}: its rules do not build: {}",
                    self.camera.id,
                    all.join("; ")
                )
            },
        )?;
        let mut desk = OrderDesk::with_locator(
            &self.identity,
            &config,
            self.close_when_cleared,
            locator.clone(),
        )
        .filing_by(self.cases.clone())
        .photographing_with(self.photographer.clone());
        if let Some(k) = preset {
            let p = &self.camera.presets[k];
            desk = desk.at_preset(PtzRef {
                preset: p.token.clone(),
                name: p.name.clone(),
                pose: None,
            });
        }
        let shortlist = Shortlist::new(photo_window(&rules));
        Ok(ViewState {
            preset,
            perception: Perception::new(Tracker::new(tracker_config(&config)), rules),
            desk,
            shortlist,
            adopt_until: None,
            clock: ViewClock::default(),
            reference: self.reference_for(preset),
            pending_reference: None,
            locator,
            config,
        })
    }

    /// A preset's locator with the head where it reported it points on this visit: pan and
    /// tilt by the head's ranges, the field of view from the preset's `hfov_deg`, else the
    /// lens's zoom range, else the pose's.
    fn pointed(&self, view: &ViewState, pose: HeadPose) -> Arc<crate::geo::Locator> {
        let (Some(ptz), Some(k), Some(base)) = (&self.camera.ptz, view.preset, &view.config.pose)
        else {
            return view.locator.clone();
        };
        let head = crate::geo::ptz::HeadModel {
            pan_range_deg: (ptz.pan_range_deg[0], ptz.pan_range_deg[1]),
            tilt_range_deg: (ptz.tilt_range_deg[0], ptz.tilt_range_deg[1]),
            hfov_wide_deg: ptz.hfov_wide_deg.unwrap_or(base.hfov_deg),
            hfov_tele_deg: ptz.hfov_tele_deg.unwrap_or(base.hfov_deg),
        };
        let (pan, down, zoom_hfov) = head.angles(pose.pan, pose.tilt, pose.zoom);
        let hfov = self.camera.presets[k].hfov_deg.unwrap_or(zoom_hfov);
        Arc::new(view.locator.pointed(pan, down, hfov))
    }

    /// The view the next frame is analysed under, the tour's visit and the head's pose; `None`
    /// while a patrolling camera's head moves or settles (its frames are not analysed).
    fn target(&self, views: usize) -> Option<(usize, u64, Option<HeadPose>)> {
        match &self.tour {
            None => Some((0, 0, None)),
            Some(tour) => tour
                .watching()
                .filter(|w| w.index < views)
                .map(|w| (w.index, w.visit, w.pose)),
        }
    }

    /// Turns an incident event into the next revision of its order, on top of the stored one,
    /// stores it with its messages, then wakes the uplink. The read and the write happen under
    /// one lock of the ledger, so a command from the centre cannot slip in between. A revision
    /// that cannot be stored (disk full, broken file) is retried before it is given up, loudly.
    fn commit(
        &self,
        desk: &mut OrderDesk,
        event: &IncidentEvent,
        frame: &Frame,
        best: Option<&View>,
    ) -> anyhow::Result<Option<WorkOrder>> {
        // The photo is encoded first, outside the lock, captioned with the revision it will
        // join. Then read again, build and store under one lock; if a command from the centre
        // moved the order meanwhile, the photo is taken again. A failed store is retried from
        // the read, with the lock released while waiting (the centre's commands and the uplink
        // go on).
        let mut attempt = 0u64;
        let (change, mut ledger, evicted) = loop {
            let current = self.stored_order(desk, event);
            let photo = desk.photograph_best(event, &frame.image, best, current.as_ref());
            let mut ledger = ledger::lock(&self.ledger);
            let now_stored = desk
                .order_of(event.incident_id)
                .and_then(|id| ledger.order(id).ok().flatten());
            let revision = |o: &Option<crate::orders::WorkOrder>| o.as_ref().map(|o| o.revision);
            if revision(&now_stored) != revision(&current) {
                continue;
            }
            let Some(change) = desk.apply_photographed(event, photo, now_stored) else {
                return Ok(None);
            };
            let messages = crate::uplink::encode(&self.topics, &change);
            match ledger.record(&change.order, &messages) {
                Ok(r) => {
                    if r.disk_short {
                        tracing::warn!(camera = %self.camera.id, photos_dropped = r.dropped_evidence, "Disk short of storage.min_free_mb: the oldest photos went (or this one was not kept); the order is stored.");
                    } else if r.evicted_evidence > 0 {
                        tracing::info!(camera = %self.camera.id, evicted_photos = r.evicted_evidence, "Evidence store at storage.evidence_max_bytes: the oldest photos went (final orders' first).");
                    }
                    if !r.disk_short && (r.dropped_evidence > 0 || r.over_quota) {
                        tracing::warn!(camera = %self.camera.id, dropped_photos = r.dropped_evidence, over_quota = r.over_quota, "The outbox is over its quota (broker unreachable for long?): oldest photos dropped; orders are kept.");
                    }
                    break (change, ledger, r.evicted_evidence > 0);
                }
                Err(e) if attempt < 5 => {
                    attempt += 1;
                    tracing::error!(camera = %self.camera.id, order = %change.order.id, error = %e, "Cannot store a work order; retrying.");
                    drop(ledger);
                    std::thread::sleep(Duration::from_millis(200 * attempt));
                }
                Err(e) => {
                    tracing::error!(camera = %self.camera.id, order = %change.order.id, revision = change.order.revision, error = %e, "Work order NOT STORED (so never published): the ledger refuses writes; the next change of the incident tries again.");
                    return Ok(None);
                }
            }
        };
        // Only a write that evicted can leave evictions to note (the re-checks' writes note
        // their own): no query on the ledger for every revision.
        let noted = if evicted {
            crate::control::note_evictions(
                &mut ledger,
                &self.topics,
                self.identity.language,
                event.at,
            )
        } else {
            Vec::new()
        };
        drop(ledger);
        if let Some(warner) = &self.warner {
            warner.offer(&self.camera, &change.order);
        }
        self.notify(change.order.clone())?;
        for order in noted {
            self.notify(order)?;
        }
        Ok(Some(change.order))
    }

    /// The stored revision of the order `event` belongs to: the incident's, or for an opening
    /// the left-over order it continues (see [`OrderDesk::claim`]).
    fn stored_order(
        &self,
        desk: &mut OrderDesk,
        event: &IncidentEvent,
    ) -> Option<crate::orders::WorkOrder> {
        let ledger = ledger::lock(&self.ledger);
        match desk.order_of(event.incident_id) {
            Some(id) => ledger.order(id).ok().flatten(),
            None => desk
                .claim(event)
                .and_then(|id| ledger.order(&id).ok().flatten()),
        }
    }

    /// Clears the orders an earlier run left open whose problem was not seen again.
    fn release_unclaimed(&self, desk: &mut OrderDesk, frame: &Frame) -> anyhow::Result<()> {
        for id in desk.unclaimed() {
            let mut ledger = ledger::lock(&self.ledger);
            let Some(change) = ledger
                .order(&id)
                .ok()
                .flatten()
                .and_then(|o| desk.release(o, frame.captured_at))
            else {
                continue;
            };
            let messages = crate::uplink::encode(&self.topics, &change);
            if let Err(e) = ledger.record(&change.order, &messages) {
                tracing::error!(camera = %self.camera.id, order = %id, error = %e, "Cannot clear an order left by an earlier run; it stays open.");
                continue;
            }
            drop(ledger);
            tracing::info!(camera = %self.camera.id, order = %id, "Order left by an earlier run not seen again: cleared.");
            self.notify(change.order)?;
        }
        Ok(())
    }

    fn notify(&self, order: WorkOrder) -> anyhow::Result<()> {
        if !self.uplink.send(UplinkMessage::Committed(Box::new(order))) {
            return Err(anyhow!("the uplink stopped"));
        }
        Ok(())
    }

    /// Runs this camera's re-checks on one frame of a view: takes new ones from the board,
    /// samples the rule's view for those whose order belongs to this view's preset, and reports
    /// the verdicts of those whose window is full. `clips` carries the frame's time in the
    /// pipeline, for a verdict's clip.
    fn verify(
        &self,
        samplers: &mut Vec<(Option<String>, Sampler)>,
        view: &ViewState,
        frame: &Frame,
        clips: Option<(&ClipRecorder, Duration)>,
    ) -> anyhow::Result<()> {
        let board = self.control.board();
        let now = Instant::now();
        for job in board.take(&self.camera.id, now) {
            // A patrolling camera re-checks an order at the preset its incident was seen at.
            let preset = ledger::lock(&self.ledger)
                .order(&job.order_id)
                .ok()
                .flatten()
                .and_then(|o| o.ptz)
                .map(|p| p.preset);
            samplers.push((preset, Sampler::new(job)));
        }
        if samplers.is_empty() {
            return Ok(());
        }
        board.beat(samplers.iter().map(|(_, s)| s.job.order_id.as_str()), now);
        let here = view.preset.map(|k| self.camera.presets[k].token.as_str());
        let (rules, tracks) = (view.perception.rules(), view.perception.tracks());
        let ratio = self.control.present_ratio();
        let mut finished = Vec::new();
        samplers.retain_mut(|(preset, s)| {
            if preset.as_deref() != here {
                return true;
            }
            let present = rules.present(s.job.kind, s.job.zone.as_deref());
            match s.observe(frame.pts, present, ratio) {
                Some(v) => {
                    finished.push((s.job.clone(), v));
                    false
                }
                None => true,
            }
        });
        for (job, verdict) in finished {
            let zone = job
                .zone
                .as_deref()
                .and_then(|z| view.config.zone(z))
                .map(crate::rules::Zone::from_config);
            let objects =
                rules.objects_in_zone(job.zone.as_deref(), tracks, frame.width(), frame.height());
            let photo = AfterPhoto {
                frame: &frame.image,
                objects: &objects,
                zone: zone.as_ref(),
            };
            if let Some(order) = self
                .control
                .verdict(&job, verdict, Some(photo), frame.captured_at)
            {
                if let Some((clips, pts)) = clips.filter(|_| self.evidence.clip_verify) {
                    clips.record(&order, ClipOf::Verdict, pts, frame.captured_at);
                }
                self.notify(order)?;
            }
        }
        Ok(())
    }

    fn status(&self, state: CameraState, error: Option<String>) {
        let name = match state {
            CameraState::Starting => "starting",
            CameraState::Online => "online",
            CameraState::Reconnecting => "reconnecting",
            CameraState::Offline => "offline",
            CameraState::Ended => "ended",
        };
        let v = self.vitals.borrow();
        let now = Instant::now();
        self.health.state(&self.camera.id, name, v.fps, now);
        self.health.vitals(
            &self.camera.id,
            v.decode_fps,
            v.faults.iter().map(Detail::as_str).collect(),
            now,
        );
        self.health.gauges(&self.camera.id, v.gauges.clone());
        self.health.rates(&self.camera.id, v.rates.clone());
        let round = |x: f64| (x * 10.0).round() / 10.0;
        self.uplink
            .send(UplinkMessage::Camera(Box::new(CameraStatus {
                id: self.camera.id.clone(),
                name: self.camera.display_name().to_owned(),
                state,
                fps: round(v.fps),
                decode_fps: round(v.decode_fps),
                last_frame_age_s: v
                    .last_frame
                    .map(|t| round(now.duration_since(t).as_secs_f64())),
                reconnects: v.reconnects,
                faults: v.faults.clone(),
                gauges: v.gauges.clone(),
                rates: v.rates.clone(),
                error,
                tour: self.tour.as_ref().map(Tour::status),
            })));
    }

    /// The state of a camera whose stream just failed: still `reconnecting` shortly after its
    /// last frame, `offline` after that (or when it never gave one).
    fn failed_state(&self) -> CameraState {
        match self.vitals.borrow().last_frame {
            Some(t) if t.elapsed() < OFFLINE_AFTER => CameraState::Reconnecting,
            _ => CameraState::Offline,
        }
    }

    /// Waits out a back-off, turning the loop for the watchdog. For an RTSP camera the address
    /// is knocked on meanwhile: when it starts answering after refusing, the wait ends early.
    fn wait_to_retry(&self, backoff: Duration) {
        let until = Instant::now() + backoff;
        let mut answered = knock(&self.camera.source);
        let mut next_knock = Instant::now() + KNOCK_EVERY;
        while Instant::now() < until && !self.stop.load(Ordering::SeqCst) {
            // Waiting on purpose: the watchdog must see the loop turn.
            self.health.beat(&self.camera.id, Instant::now());
            std::thread::sleep(Duration::from_millis(100));
            if answered.is_some() && Instant::now() >= next_knock {
                let now_answers = knock(&self.camera.source);
                if now_answers == Some(true) && answered == Some(false) {
                    tracing::info!(camera = %self.camera.id, "Camera answers again; reconnecting now.");
                    return;
                }
                answered = now_answers;
                next_knock = Instant::now() + KNOCK_EVERY;
            }
        }
    }

    fn slots(&self) -> Vec<ModelSlot> {
        self.detectors
            .iter()
            .map(|d| {
                let m = d.model().manifest();
                let wanted = self
                    .camera
                    .model_fps
                    .get(&m.name)
                    .copied()
                    .unwrap_or(m.defaults.fps)
                    .min(self.camera.detect_fps);
                // Checked when the camera was started (`detect_options` in the fleet).
                let options =
                    detect_options(&self.camera, m).unwrap_or_else(|_| d.model().options());
                let mut slot = ModelSlot {
                    name: m.name.clone(),
                    scheduler: d.clone(),
                    options: Arc::new(options),
                    priority: self.priority_of(m),
                    wanted,
                    planned: wanted,
                    interval: Duration::from_secs_f64(1.0 / wanted),
                    next_due: None,
                    tracked: m.defaults.track,
                    gate: Gate::default(),
                    done_in_window: 0,
                };
                slot.set_planned(self.planned_rate(&m.name).unwrap_or(wanted));
                if self.mode == PlayMode::Live {
                    // Cameras that start together would send their frames to a model at the
                    // same instants: sixteen fire-model frames at once wait 16 × 150 ms for
                    // one worker and most expire. Each camera's sampling grid is shifted by
                    // its own share of the interval, so the load arrives spread out. A replay
                    // keeps phase 0: its frames, and so its orders, stay the same.
                    slot.next_due = Some(slot.interval.mul_f64(self.phase));
                }
                slot
            })
            .collect()
    }

    fn priority_of(&self, manifest: &Manifest) -> crate::config::Priority {
        let plan = self
            .plan
            .as_ref()
            .map(|p| p.read().unwrap_or_else(|e| e.into_inner()));
        plan.and_then(|p| {
            p.rows
                .iter()
                .find(|r| r.camera == self.camera.id && r.model == manifest.name)
                .map(|r| r.priority)
        })
        .unwrap_or(crate::config::Priority::Normal)
    }

    /// The plan's rate for one of this camera's models.
    fn planned_rate(&self, model: &str) -> Option<f64> {
        let plan = self.plan.as_ref()?;
        let plan = plan.read().unwrap_or_else(|e| e.into_inner());
        plan.rate(&self.camera.id, model)
    }

    /// How this camera gates its models: the keep-alive never lets a still object's track
    /// lapse (half the tracker's memory at most).
    fn gate_settings(&self) -> GateSettings {
        let motion = &self.camera.motion;
        GateSettings {
            enabled: motion.enabled,
            min_change: motion.min_change,
            keepalive: motion
                .keepalive_s
                .duration()
                .min(self.camera.tracker.max_lost_s.duration() / 2),
            region_keepalive: motion.region_keepalive_s.duration(),
        }
    }

    /// Runs until end of stream, stop, or (replay) the first stream error.
    pub fn run(mut self) -> anyhow::Result<CameraReport> {
        let is_file = matches!(SourceKind::classify(&self.camera.source), SourceKind::File);
        let mut backoff = RETRY_MIN;
        let mut report = CameraReport {
            camera: self.camera.id.clone(),
            ..Default::default()
        };
        self.tour = Tour::start(&self.camera, self.stop.clone());
        self.status(CameraState::Starting, None);
        let mut lasting = Lasting {
            views: self.views()?,
            current: 0,
            samplers: Vec::new(),
            last: None,
            clips: ClipRecorder::start(
                &self.camera.id,
                &self.evidence,
                ClipOutputs {
                    ledger: self.ledger.clone(),
                    topics: self.topics.clone(),
                    uplink: self.uplink.clone(),
                    language: self.identity.language,
                    chunk_bytes: self.clip_chunk_bytes,
                },
            ),
            pts_offset: Duration::ZERO,
        };
        // Orders an earlier run of this camera left open (a restart, a crash, a power cut): the
        // same incidents continue them instead of opening duplicates (each preset's its own).
        match ledger::lock(&self.ledger)
            .camera_orders(&self.camera.id, crate::orders::OrderState::Open)
        {
            Ok(open) if !open.is_empty() => {
                tracing::info!(camera = %self.camera.id, orders = open.len(), "Open orders from an earlier run: the incidents still in view continue them.");
                for view in &mut lasting.views {
                    view.desk.adopt(open.clone());
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(camera = %self.camera.id, error = %e, "Cannot read the camera's open orders; new incidents open new orders.")
            }
        }
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Ok(report);
            }
            let frames_before = report.frames;
            let result = CameraStream::open_recording(
                &self.camera,
                self.camera.detect_fps,
                self.mode,
                self.decoder_threads,
                lasting.clips.as_ref().map(ClipRecorder::ring),
            )
            .map_err(anyhow::Error::from)
            .and_then(|stream| self.pump(stream, &mut lasting, &mut report));
            // Clips waiting for this stream are cut with what it gave.
            if let Some(clips) = &lasting.clips {
                clips.stream_ended();
            }
            {
                let mut v = self.vitals.borrow_mut();
                v.fps = 0.0;
                v.decode_fps = 0.0;
            }
            match result {
                Ok(()) => {
                    self.status(CameraState::Ended, None);
                    return Ok(report);
                }
                Err(e) if self.mode == PlayMode::Replay || is_file => {
                    self.status(CameraState::Offline, Some(e.to_string()));
                    return Err(e);
                }
                Err(e) => {
                    // A stream that delivered frames was healthy: its failure starts a new
                    // back-off, so a camera that reboots is back within seconds, every time.
                    if report.frames > frames_before {
                        backoff = RETRY_MIN;
                    }
                    tracing::warn!(camera = %self.camera.id, error = %e, retry_in = ?backoff, "Camera stream failed; retrying.");
                    self.vitals.borrow_mut().reconnects += 1;
                    self.status(self.failed_state(), Some(e.to_string()));
                    self.health.reconnect(&self.camera.id, Instant::now());
                    self.wait_to_retry(backoff);
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Pulls frames until end of stream (Ok) or a stream error (Err). Each frame is sent to
    /// the models that are due and see a change, and goes through the rules once they have
    /// answered, in order; meanwhile the next frames are decoded, prepared and sent.
    fn pump(
        &self,
        mut stream: CameraStream,
        lasting: &mut Lasting,
        report: &mut CameraReport,
    ) -> anyhow::Result<()> {
        report.stream_started = Some(stream.started());
        let mut slots = self.slots();
        let gate = self.gate_settings();
        // Stream time of this stream's first frame in the continued clock (set on that frame).
        let mut pts_offset: Option<Duration> = None;
        for view in &mut lasting.views {
            view.pending_reference = self.load_reference(view.reference.as_ref());
        }
        let started = Instant::now();
        let mut window_start = Instant::now();
        let mut window_frames = 0u64;
        let mut window_decoded = stream.decoded();
        let mut announced = false;
        let live = !matches!(SourceKind::classify(&self.camera.source), SourceKind::File);
        let mut last_frame = Instant::now();
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        // Frames on their way: enough that every worker has one and the lanes hold the next
        // ones, so no worker waits for this thread to decode and prepare a frame. A replay
        // judges every sampled frame: its submissions wait for room in the lane rather than
        // push a frame out, and nothing expires. A live camera keeps going, newest frame wins.
        let depth = slots
            .iter()
            .map(|s| s.scheduler.config().queue_per_camera)
            .min()
            .unwrap_or(1);
        let workers = slots
            .iter()
            .map(|s| s.scheduler.config().workers)
            .max()
            .unwrap_or(1);
        let max_in_flight = depth + workers;
        let deadline = match self.mode {
            PlayMode::Replay => None,
            _ => Some(self.deadline),
        };
        let result = loop {
            if self.stop.load(Ordering::SeqCst) {
                break Ok(());
            }
            self.health.beat(&self.camera.id, Instant::now());
            // Judge the frames whose models have answered, in order; wait for the oldest when
            // too many are on their way.
            while let Some(front) = in_flight.front() {
                if !front.is_ready() && in_flight.len() < max_in_flight {
                    break;
                }
                let next = in_flight.pop_front().expect("front exists");
                self.conclude(next, &mut slots, lasting, report)?;
            }
            let wait = if in_flight.is_empty() {
                Duration::from_millis(250)
            } else {
                // Frames on their way: look again soon for the models' answers.
                Duration::from_millis(5)
            };
            let mut frame = match stream.next(wait)? {
                StreamEvent::Frame(f) => f,
                // A live stream can go silent without an error (a camera that stopped sending,
                // an RTCP timeout that never fires): rebuild it.
                StreamEvent::Idle if live && last_frame.elapsed() > NO_FRAME_TIMEOUT => {
                    break Err(anyhow!("no frame for {} s", NO_FRAME_TIMEOUT.as_secs()));
                }
                StreamEvent::Idle => continue,
                // A camera does not end: its server closed the stream (restarting?).
                StreamEvent::Eos if live => break Err(anyhow!("the camera ended the stream")),
                StreamEvent::Eos => break Ok(()),
            };
            let arrived = Instant::now();
            crash_point(&self.camera.id);
            let offset = *pts_offset.get_or_insert_with(|| match lasting.last {
                // After the last frame of the previous stream, by the time the camera was gone.
                Some((pts, at)) => (pts + at.elapsed()).saturating_sub(frame.pts),
                None => Duration::ZERO,
            });
            frame.pts += offset;
            lasting.pts_offset = offset;
            lasting.last = Some((frame.pts, Instant::now()));
            last_frame = Instant::now();
            self.health.frame(&self.camera.id, last_frame);
            self.vitals.borrow_mut().last_frame = Some(last_frame);
            if !announced {
                self.status(CameraState::Online, None);
                announced = true;
            }
            report.frames += 1;
            window_frames += 1;
            if window_start.elapsed() >= STATUS_EVERY {
                let secs = window_start.elapsed().as_secs_f64();
                let decoded = stream.decoded();
                let rates = slots
                    .iter_mut()
                    .map(|slot| {
                        if let Some(planned) = self.planned_rate(&slot.name) {
                            slot.set_planned(planned);
                        }
                        let effective = slot.done_in_window as f64 / secs;
                        slot.done_in_window = 0;
                        let round = |x: f64| (x * 100.0).round() / 100.0;
                        crate::vocab::DetectRate {
                            model: slot.name.clone(),
                            priority: slot.priority.as_str().to_owned(),
                            wanted: round(slot.wanted),
                            planned: round(slot.planned),
                            effective: round(effective),
                        }
                    })
                    .collect();
                {
                    let mut v = self.vitals.borrow_mut();
                    v.fps = window_frames as f64 / secs;
                    v.decode_fps = decoded.saturating_sub(window_decoded) as f64 / secs;
                    v.gauges = lasting.views[lasting.current].perception.rules().gauges();
                    v.rates = rates;
                }
                self.status(CameraState::Online, None);
                window_start = Instant::now();
                window_frames = 0;
                window_decoded = decoded;
            }
            // A patrolling camera's frames count only while the head is still at a preset.
            let Some((view, visit, pose)) = self.target(lasting.views.len()) else {
                continue;
            };
            let jobs = self.send(&frame, &mut slots, &gate, deadline);
            in_flight.push_back(InFlight {
                frame,
                arrived,
                jobs,
                view,
                visit,
                pose,
            });
        };
        // The frames on their way are judged before the stream goes (at its end, a stop, or a
        // failure): what the models saw is not thrown away.
        while let Some(next) = in_flight.pop_front() {
            self.conclude(next, &mut slots, lasting, report)?;
        }
        report.elapsed = started.elapsed();
        result
    }

    /// Sends a frame to each model that is due on it and sees a change since its last run (or
    /// whose keep-alive is due): cut and letterboxed here, run by the model's workers.
    fn send(
        &self,
        frame: &Frame,
        slots: &mut [ModelSlot],
        gate: &GateSettings,
        deadline: Option<Duration>,
    ) -> Vec<(usize, Ticket)> {
        let mut thumb: Option<Thumbnail> = None;
        let mut jobs = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            // Frame times jitter around the sampling grid (12.5 fps sampled at 2/s gives gaps of
            // 0.48 and 0.56 s): a frame within a quarter interval of its due time counts as due.
            let slack = slot.interval / 4;
            if slot.next_due.is_some_and(|due| frame.pts + slack < due) {
                continue;
            }
            let next = slot.next_due.map_or(frame.pts, |due| due) + slot.interval;
            slot.next_due = Some(if next <= frame.pts {
                frame.pts + slot.interval
            } else {
                next
            });
            if gate.enabled {
                let t = thumb.get_or_insert_with(|| Thumbnail::of(&frame.image));
                let decision = slot.gate.decide(gate, slot.tracked, t, frame.pts);
                tracing::debug!(camera = %self.camera.id, model = %slot.name, pts = frame.pts.as_secs_f64(), ?decision, share = slot.gate.share(t), "Gate.");
                if !decision.runs() {
                    self.health.gated(&self.camera.id, &slot.name);
                    continue;
                }
                slot.gate.ran(t, frame.pts);
            }
            let prepared = slot.scheduler.model().prepare(&frame.image, &slot.options);
            let options = slot.options.clone();
            let ticket = match deadline {
                None => slot.scheduler.submit_waiting(&self.lane, prepared, options),
                Some(_) => slot
                    .scheduler
                    .submit(&self.lane, prepared, options, deadline),
            };
            jobs.push((i, ticket));
        }
        jobs
    }

    /// A frame whose models have answered (or will, soon: this waits) goes through the tracker,
    /// the rules, the order desk and the camera re-checks.
    fn conclude(
        &self,
        in_flight: InFlight,
        slots: &mut [ModelSlot],
        lasting: &mut Lasting,
        report: &mut CameraReport,
    ) -> anyhow::Result<()> {
        let InFlight {
            frame,
            arrived,
            jobs,
            view: index,
            visit,
            pose,
        } = in_flight;
        let seen = self.collect(jobs, slots, report);
        let Lasting {
            views,
            current,
            samplers,
            clips,
            pts_offset,
            ..
        } = lasting;
        *current = index;
        let view = &mut views[index];
        // The frame on the view's own clock (a fixed camera's is the stream's); its time in
        // the pipeline stays what clips are cut by.
        let step = Duration::from_secs_f64(1.0 / self.camera.detect_fps.max(0.1));
        let new_visit = visit != view.clock.visit;
        let pipeline_pts = frame.pts.saturating_sub(*pts_offset);
        let frame = Frame {
            pts: view.clock.map(visit, frame.pts, step),
            ..frame
        };
        if new_visit && view.preset.is_some() {
            let locator = pose.map_or_else(|| view.locator.clone(), |p| self.pointed(view, p));
            view.desk.point(pose, locator);
        }
        let preset = self
            .snapshots
            .as_ref()
            .and(view.preset)
            .map(|k| self.camera.presets[k].token.clone());
        let ViewState {
            perception,
            desk,
            shortlist,
            adopt_until,
            pending_reference,
            ..
        } = view;
        if let Some(image) = pending_reference.take() {
            perception
                .rules_mut()
                .set_reference(Reference::new(&fit_to(&image, &frame)));
        }
        let events = perception.step(&frame, &seen);
        if tracing::enabled!(tracing::Level::TRACE) {
            trace_frame(
                &self.camera.id,
                &frame,
                &seen.objects,
                perception.tracks(),
                seen.regions.as_deref(),
            );
        }
        offer_view(shortlist, &frame, &seen, perception.tracks());
        if let Some(snapshots) = &self.snapshots {
            snapshots.put(
                &self.camera.id,
                snapshot(&frame, &seen, perception.tracks(), preset),
            );
        }
        let mut faults_changed = false;
        for event in events {
            faults_changed |= event.incident.kind == crate::rules::CAMERA_FAULT;
            let best = (event.phase == Phase::Opened)
                .then(|| {
                    let opening = View {
                        image: frame.image.clone(),
                        objects: event.incident.objects.clone(),
                        pts: frame.pts,
                        captured_at: frame.captured_at,
                    };
                    shortlist.best(opening, event.incident.zone.as_ref())
                })
                .filter(|view| view.pts != frame.pts);
            if let Some(view) = &best {
                tracing::debug!(camera = %self.camera.id, kind = %event.incident.kind, earlier_s = frame.pts.saturating_sub(view.pts).as_secs_f64(), "The opening photo is an earlier, clearer frame.");
            }
            if let Some(order) = self.commit(desk, &event, &frame, best.as_ref())? {
                report.orders += 1;
                if let (Some(clips), Phase::Opened) = (clips.as_ref(), event.phase) {
                    clips.record(&order, ClipOf::Opening, pipeline_pts, frame.captured_at);
                }
            }
        }
        self.health.lag(&self.camera.id, arrived.elapsed());
        if desk.adoptable() > 0
            && frame.pts
                >= *adopt_until
                    .get_or_insert_with(|| frame.pts + adoption_grace(perception.rules()))
        {
            self.release_unclaimed(desk, &frame)?;
        }
        let view = &mut views[index];
        self.capture_reference(view, &frame);
        // The open faults change only when a fault opens or clears: the status follows then.
        if faults_changed {
            self.vitals.borrow_mut().faults = views
                .iter()
                .flat_map(|v| v.perception.rules().camera_faults().0)
                .collect();
            self.status(CameraState::Online, None);
        }
        let clips = clips.as_ref().map(|c| (c, pipeline_pts));
        self.verify(samplers, &views[index], &frame, clips)
    }

    /// The models' answers for one frame: the object detections for the tracker, the region
    /// detections (when a region model ran), and whether an object model ran.
    fn collect(
        &self,
        jobs: Vec<(usize, Ticket)>,
        slots: &mut [ModelSlot],
        report: &mut CameraReport,
    ) -> Seen {
        let mut objects = Vec::new();
        let mut regions: Option<Vec<Detection>> = None;
        let mut tracked_ran = false;
        for (i, ticket) in jobs {
            let slot = &mut slots[i];
            match ticket.wait() {
                Outcome::Done {
                    detections, took, ..
                } => {
                    self.health.inference(&slot.name, took, true);
                    report.inferences += 1;
                    slot.done_in_window += 1;
                    if slot.tracked {
                        tracked_ran = true;
                        objects.extend(detections);
                    } else {
                        regions.get_or_insert_with(Vec::new).extend(detections);
                    }
                }
                Outcome::Failed(e) => {
                    self.health.inference(&slot.name, Duration::ZERO, false);
                    report.inferences += 1;
                    report.inference_errors += 1;
                    tracing::warn!(camera = %self.camera.id, error = %e, "Inference failed on a frame.");
                }
                Outcome::Dropped(why) => {
                    self.health.dropped(&slot.name, why.as_str());
                    // The model did not see this frame: its next due frame runs whatever
                    // changed.
                    slot.gate.forget();
                }
            }
        }
        Seen {
            objects,
            regions,
            objects_ran: tracked_ran,
        }
    }

    /// The stored reference view, when there is one.
    fn load_reference(&self, source: Option<&ReferenceSource>) -> Option<image::RgbImage> {
        let source = source?;
        if !source.path.exists() {
            if source.capture {
                tracing::info!(camera = %self.camera.id, path = %source.path.display(), "No reference view yet: the box will take one after {} s of picture.", REFERENCE_AFTER.as_secs());
            } else {
                tracing::warn!(camera = %self.camera.id, path = %source.path.display(), "faults.reference does not exist: blur and scene-shift checks are off for this camera.");
            }
            return None;
        }
        match image::open(&source.path) {
            Ok(img) => Some(img.to_rgb8()),
            Err(e) => {
                tracing::warn!(camera = %self.camera.id, path = %source.path.display(), error = %e, "Cannot read the reference view: blur and scene-shift checks are off for this camera.");
                None
            }
        }
    }

    /// A camera without a reference view takes its picture as one once it has streamed a while
    /// and the picture is neither black nor frozen (the technician's `lookout camera
    /// reference` replaces it).
    fn capture_reference(&self, view: &mut ViewState, frame: &Frame) {
        let Some(source) = view.reference.as_ref().filter(|s| s.capture) else {
            return;
        };
        let rules = view.perception.rules_mut();
        if frame.pts < REFERENCE_AFTER || !rules.wants_reference() {
            return;
        }
        if !rules.picture_usable() {
            return;
        }
        rules.set_reference(Reference::new(&frame.image));
        match crate::evidence::save_reference(&source.path, &frame.image) {
            Ok(()) => {
                tracing::info!(camera = %self.camera.id, path = %source.path.display(), "Took this camera's reference view (lookout camera reference replaces it).")
            }
            Err(e) => {
                tracing::warn!(camera = %self.camera.id, error = %e, "Cannot store the reference view; using it for this run only.")
            }
        }
    }
}

/// How `camera` runs the model of `manifest`: the manifest's defaults with the camera's
/// `model_options` on top, or why they do not fit the model.
pub fn detect_options(camera: &CameraConfig, manifest: &Manifest) -> Result<DetectOptions, String> {
    let d = &manifest.defaults;
    let own = camera
        .model_options
        .get(&manifest.name)
        .cloned()
        .unwrap_or_default();
    if own.input_size.is_some() && !manifest.contract.dynamic {
        return Err(format!(
            "model_options.{}.input_size: the model takes only {}x{} (its manifest has no `dynamic = true`)",
            manifest.name, manifest.contract.width, manifest.contract.height
        ));
    }
    Ok(DetectOptions {
        input_size: own.input_size.or(d.input_size),
        min_score: own.min_score.unwrap_or(d.min_score),
        max_box_fraction: own.max_box_fraction.or(d.max_box_fraction),
        tiles: own.tiles.map(|t| Tiling {
            cols: t.cols,
            rows: t.rows,
            overlap: t.overlap,
            full_frame: t.full_frame,
        }),
        relabel: own
            .labels
            .into_iter()
            .map(|(from, to)| (from, (!to.is_empty()).then_some(to)))
            .collect(),
    })
}

/// The reference view at the stream's resolution (a camera whose stream profile changed is
/// compared at the same scale).
fn fit_to(reference: &image::RgbImage, frame: &Frame) -> image::RgbImage {
    if reference.dimensions() == (frame.width(), frame.height()) {
        return reference.clone();
    }
    image::imageops::resize(
        reference,
        frame.width(),
        frame.height(),
        image::imageops::FilterType::Triangle,
    )
}

/// Whether an RTSP camera's address accepts a TCP connection now; `None` for other sources or
/// an address that does not parse or resolve.
fn knock(source: &str) -> Option<bool> {
    use std::net::{TcpStream, ToSocketAddrs};
    if !matches!(SourceKind::classify(source), SourceKind::Rtsp) {
        return None;
    }
    let url = url::Url::parse(source).ok()?;
    let default_port = if url.scheme().eq_ignore_ascii_case("rtsps") {
        322
    } else {
        554
    };
    let host = url.host_str()?;
    let addr = (host, url.port().unwrap_or(default_port))
        .to_socket_addrs()
        .ok()?
        .next()?;
    Some(TcpStream::connect_timeout(&addr, Duration::from_millis(400)).is_ok())
}

/// One line per frame for tuning rules on footage: `RUST_LOG=lookout::runtime=trace`.
fn trace_frame(
    camera: &str,
    frame: &Frame,
    detections: &[Detection],
    tracks: &[TrackedObject],
    regions: Option<&[Detection]>,
) {
    let (w, h) = (frame.width() as f32, frame.height() as f32);
    let fmt = |label: &str, score: f32, b: &crate::detect::BBox, id: Option<u64>| {
        format!(
            "{label}{}:{score:.2}@{:.2},{:.2},{:.2},{:.2}",
            id.map(|i| format!("#{i}")).unwrap_or_default(),
            b.x1 / w,
            b.y1 / h,
            b.x2 / w,
            b.y2 / h
        )
    };
    let mut parts: Vec<String> = tracks
        .iter()
        .filter(|t| t.state == crate::track::TrackState::Tracked)
        .map(|t| fmt(&t.label, t.score, &t.bbox, Some(t.track_id)))
        .collect();
    for d in regions.unwrap_or_default() {
        parts.push(fmt(&d.label, d.score, &d.bbox, None));
    }
    tracing::trace!(camera, pts = frame.pts.as_secs_f64(), detections = detections.len(), objects = %parts.join(" "), "Frame.");
}

/// The camera's tracker thresholds over ByteTrack's defaults.
fn tracker_config(camera: &CameraConfig) -> TrackerConfig {
    let t = &camera.tracker;
    TrackerConfig {
        high_score: t.high_score,
        low_score: t.low_score,
        new_track_score: t.new_track_score,
        max_lost: t.max_lost_s.duration(),
        ..TrackerConfig::default()
    }
}

/// Failpoint `camera-frame` (test builds): `FAILPOINTS=camera-frame=return(ID)` makes camera
/// ID's worker panic on its next frame, as a bug would.
fn crash_point(camera: &str) {
    let _ = camera; // unused when failpoints are compiled out
    fail::fail_point!("camera-frame", |arg: Option<String>| {
        if arg.as_deref() == Some(camera) {
            panic!("failpoint camera-frame on camera {camera}");
        }
    });
}

#[cfg(test)]
mod view_clock_tests {
    use super::*;

    #[test]
    fn a_view_counts_only_the_seconds_it_was_watched() {
        let s = Duration::from_secs_f64;
        let step = s(0.5);
        let mut clock = ViewClock::default();
        // A fixed camera (visit 0 throughout) runs on stream time.
        assert_eq!(clock.map(0, s(3.0), step), s(3.0));
        // Visit 1 of a preset from 10 s to 16 s, then visit 2 from 40 s: its clock continues
        // one frame after 16 s, not after the 24 s the head was elsewhere.
        let mut preset = ViewClock::default();
        assert_eq!(preset.map(1, s(10.0), step), s(10.0));
        assert_eq!(preset.map(1, s(16.0), step), s(16.0));
        assert_eq!(preset.map(2, s(40.0), step), s(16.5));
        assert_eq!(preset.map(2, s(41.0), step), s(17.5));
        // Never backwards, whatever the stream's times do.
        assert_eq!(preset.map(2, s(40.5), step), s(17.5));
    }
}
