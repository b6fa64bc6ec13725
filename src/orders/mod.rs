//! Orders: turn incident events into work-order documents (工单).
//!
//! One incident is one order. Every change produces a new revision of the whole document (the
//! consumer upserts by id and revision) plus any new evidence photos. The document is the MQTT
//! contract (`docs/mqtt.md`); only `uplink` knows where it goes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::config::{BoxIdentity, CameraConfig, Language};
use crate::evidence;
use crate::geo::{self, Location};
use crate::rules::{Detail, IncidentEvent, IncidentKind, Phase, Severity};

/// Version of the work-order document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 2;

mod cases;
mod state;
mod text;

pub use cases::{check as check_codes, Case, CaseBook};
pub use state::{next, OrderState, Refusal, Step};
pub use text::{evidence_dropped_note, overdue_note, warned_note, warning_note};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
    /// Ground area of the zone in m², when the camera is geo-calibrated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub area_m2: Option<f64>,
}

/// Where a PTZ head points, as it reports it (ONVIF's generic spaces: pan and tilt in [-1, 1],
/// zoom in [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HeadPose {
    pub pan: f64,
    pub tilt: f64,
    pub zoom: f64,
}

/// The preset of a patrolling camera an order belongs to (its incident is watched there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PtzRef {
    /// The ONVIF preset token.
    pub preset: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    /// Where the head reported it pointed on the visit the revision was made (absent when it
    /// did not say).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pose: Option<HeadPose>,
}

/// An object in the order, with its box normalised to 0..1 of the frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderObject {
    pub label: String,
    pub score: f32,
    /// `[x1, y1, x2, y2]`, normalised.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub track_id: Option<u64>,
}

/// A photo attached to the order; the bytes travel on their own topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// Name within the order, e.g. `opened-1.jpg`; last segment of the evidence topic.
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub bytes: usize,
    pub captured_at: String,
    /// For a re-check's after-photo: the before-photo it is to be compared with (the order's
    /// opening photo).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub before: Option<String>,
    /// A clip's length in seconds (first to last frame).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_s: Option<f64>,
    /// A clip's MQTT chunks (`…/clips/{name}/{index}`, index 0 to chunks - 1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chunks: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    /// `opened`, `updated`, `cleared`, `dispatch`, `handled`, `verify`, `verified_gone`, …
    pub event: String,
    /// `lookout` for the box itself, otherwise the centre's actor.
    pub actor: String,
    pub note: String,
    /// The state after this entry.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<OrderState>,
    /// The command that caused it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    /// A photo reference the team supplied (a URL or an id in the centre's system).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub photo: Option<String>,
}

/// Who was sent, and by when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub team: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub due: Option<String>,
    pub at: String,
    pub actor: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    /// Waiting for the camera, or looking.
    Running,
    /// Nothing seen for the window: the order closed.
    Cleared,
    /// Still there: the order reopened.
    Present,
    /// The camera could not be watched; retried at `next_attempt_at`.
    Inconclusive,
}

/// Why the camera looks again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// After the centre's `handled` or `verify`: gone closes, present reopens.
    #[default]
    Handled,
    /// After the on-site voice warning's grace period: gone closes as resolved on site, present
    /// escalates to the centre.
    OnSite,
}

/// How an order ended up closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The voice warning did it: the re-check after the grace period found the scene clear;
    /// nobody was dispatched.
    OnSite,
    /// The re-check after the team's `handled` found the scene clear.
    Verified,
    /// The centre closed it.
    Centre,
}

/// How the on-site voice warning went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningStatus {
    Played,
    /// Quiet hours or the speaker's rate limit.
    Skipped,
    /// The speaker failed.
    Failed,
}

impl WarningStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            WarningStatus::Played => "played",
            WarningStatus::Skipped => "skipped",
            WarningStatus::Failed => "failed",
        }
    }

    /// The timeline event it becomes.
    pub fn event(&self) -> &'static str {
        match self {
            WarningStatus::Played => "warned",
            WarningStatus::Skipped => "warning_skipped",
            WarningStatus::Failed => "warning_failed",
        }
    }
}

/// The on-site voice warning of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub status: WarningStatus,
    pub speaker: String,
    /// The prompt's file name.
    pub prompt: String,
    pub at: String,
    /// Times played.
    #[serde(default)]
    pub times: u32,
    /// When the on-site re-check is due (non-urgent kinds that were played).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recheck_at: Option<String>,
    /// Why it was skipped or what failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// The latest camera re-check of the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub status: VerificationStatus,
    #[serde(default)]
    pub purpose: Purpose,
    /// 1 for the first try after a request; grows with inconclusive retries.
    pub attempt: u32,
    pub requested_at: String,
    pub window_s: f64,
    /// Share of the window's samples on which the rule saw the problem.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub present_ratio: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub finished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub next_attempt_at: Option<String>,
}

/// The work-order document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub schema: u32,
    pub id: String,
    pub revision: u32,
    pub site: String,
    #[serde(rename = "box")]
    pub box_id: String,
    pub camera: CameraRef,
    pub zone: Option<ZoneRef>,
    pub kind: IncidentKind,
    /// Refinement of the kind (water: `in_water`, `at_shore`, `vanished`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<Detail>,
    /// City-management event code (数字化城市管理 classification or a local extension).
    pub event_code: String,
    /// What the city files the order as, its criteria and disposal deadline (schema 2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub case: Option<Case>,
    pub severity: Severity,
    pub state: OrderState,
    /// Human-readable one-line summary (`box.language`: Chinese by default, or English).
    pub title: String,
    pub opened_at: String,
    pub updated_at: String,
    pub count: usize,
    pub objects: Vec<OrderObject>,
    pub location: Location,
    /// A PTZ camera's preset the incident is seen at, and where the head pointed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ptz: Option<PtzRef>,
    pub evidence: Vec<EvidenceRef>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dispatch: Option<Dispatch>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verification: Option<Verification>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub warning: Option<Warning>,
    /// How a closed order was resolved.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub resolution: Option<Resolution>,
    pub timeline: Vec<TimelineEntry>,
    /// Timeline entries left out of this document to keep it bounded (the first entry and the
    /// latest [`MAX_TIMELINE`] − 1 stay; every revision is in the box's ledger).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub timeline_omitted: u32,
    /// Evidence photos left out of the list the same way ([`MAX_EVIDENCE`]).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub evidence_omitted: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Most timeline entries one order document carries: an incident that lasts for weeks, or a
/// loop of commands, must not grow its document past what a broker takes.
pub const MAX_TIMELINE: usize = 64;
/// Most evidence photos one order document lists.
pub const MAX_EVIDENCE: usize = 32;

impl WorkOrder {
    /// Adds a timeline entry; past [`MAX_TIMELINE`] the oldest after the first go.
    pub fn push_timeline(&mut self, entry: TimelineEntry) {
        self.timeline.push(entry);
        self.timeline_omitted += trim_middle(&mut self.timeline, MAX_TIMELINE);
    }

    /// Adds an evidence photo; past [`MAX_EVIDENCE`] the oldest after the first go.
    pub fn push_evidence(&mut self, photo: EvidenceRef) {
        self.evidence.push(photo);
        self.evidence_omitted += trim_middle(&mut self.evidence, MAX_EVIDENCE);
    }
}

/// Keeps the first item and the latest `max - 1`; returns how many went.
fn trim_middle<T>(items: &mut Vec<T>, max: usize) -> u32 {
    if items.len() <= max {
        return 0;
    }
    let excess = items.len() - max;
    items.drain(1..1 + excess);
    excess as u32
}

/// A photo to publish with a revision.
#[derive(Debug, Clone)]
pub struct EvidenceBlob {
    pub name: String,
    pub jpeg: Arc<Vec<u8>>,
}

/// A new revision of an order: the message from orders to uplink.
#[derive(Debug, Clone)]
pub struct WorkOrderChange {
    pub order: WorkOrder,
    /// Photos added in this revision (already listed in `order.evidence`).
    pub evidence: Vec<EvidenceBlob>,
}

/// Time as it appears in documents: RFC 3339, UTC, milliseconds.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Who moves an order, and what they said.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// `lookout` for the box itself.
    pub name: String,
    pub note: Option<String>,
    pub request_id: Option<String>,
    pub photo: Option<String>,
}

impl Actor {
    pub fn lookout() -> Self {
        Actor {
            name: "lookout".into(),
            ..Default::default()
        }
    }
}

/// Moves `order` one step of the state machine: a new revision with the new state, a refreshed
/// title and a timeline entry. A step that verifies the problem still there also raises the
/// severity one grade. Refused steps leave the order untouched.
pub fn advance(
    order: &mut WorkOrder,
    step: Step,
    actor: &Actor,
    at: DateTime<Utc>,
    lang: Language,
) -> Result<(), Refusal> {
    let to = next(order.state, step)?;
    order.state = to;
    if matches!(step, Step::VerifiedPresent | Step::Escalate) {
        order.severity = order.severity.escalated();
    }
    order.revision += 1;
    order.updated_at = rfc3339(at);
    order.title = text::title(order, lang);
    order.push_timeline(TimelineEntry {
        at: rfc3339(at),
        event: step.as_str().into(),
        actor: actor.name.clone(),
        note: actor
            .note
            .clone()
            .unwrap_or_else(|| text::step_note(step, lang).to_owned()),
        state: Some(to),
        request_id: actor.request_id.clone(),
        photo: actor.photo.clone(),
    });
    Ok(())
}

/// A new revision that only adds a timeline entry by the box (a warning given or failed): the
/// state stays.
pub fn annotate(order: &mut WorkOrder, event: &str, note: String, at: DateTime<Utc>) {
    order.revision += 1;
    order.updated_at = rfc3339(at);
    order.push_timeline(TimelineEntry {
        at: rfc3339(at),
        event: event.into(),
        actor: "lookout".into(),
        note,
        state: Some(order.state),
        request_id: None,
        photo: None,
    });
}

/// What a clip shows the moments around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipOf {
    /// An order's opening: `clip_pre_s` before it to `clip_post_s` after.
    Opening,
    /// A re-check's verdict: the `clip_pre_s + clip_post_s` before it.
    Verdict,
}

/// A video clip recorded around an opening or a verdict, encoded and hashed, ready to join its
/// order.
#[derive(Debug, Clone)]
pub struct RecordedClip {
    /// The photo of the moment's name with the clip's extension: `opened-3.mp4`,
    /// `verified-7.mp4`.
    pub name: String,
    pub of: ClipOf,
    pub sha256: String,
    pub bytes: usize,
    /// Wall-clock time of the clip's first frame.
    pub starts_at: DateTime<Utc>,
    pub duration_s: f64,
    /// Seconds of it before and after the moment.
    pub before_s: f64,
    pub after_s: f64,
    pub chunks: u32,
}

/// Adds `clip` to `order` as a new revision: an evidence entry (`video/mp4`; a re-check's
/// names the opening's clip as its `before`) and a `clip_recorded` timeline note.
pub fn attach_clip(
    order: &mut WorkOrder,
    clip: &RecordedClip,
    lang: crate::config::Language,
    at: DateTime<Utc>,
) {
    order.push_evidence(EvidenceRef {
        name: clip.name.clone(),
        content_type: "video/mp4".into(),
        sha256: clip.sha256.clone(),
        bytes: clip.bytes,
        captured_at: rfc3339(clip.starts_at),
        // A re-check's clip is the after to the opening clip's before.
        before: (clip.of == ClipOf::Verdict)
            .then(|| {
                order
                    .evidence
                    .iter()
                    .find(|e| e.name.starts_with("opened-") && e.name.ends_with(".mp4"))
                    .map(|e| e.name.clone())
            })
            .flatten(),
        duration_s: Some((clip.duration_s * 100.0).round() / 100.0),
        chunks: Some(clip.chunks),
    });
    annotate(order, "clip_recorded", text::clip_note(clip, lang), at);
}

/// The caption of a photo taken for `order` at its current revision.
pub fn caption(
    order: &WorkOrder,
    offset: chrono::FixedOffset,
    moment: &str,
    at: DateTime<Utc>,
) -> evidence::Caption {
    evidence::Caption {
        at,
        offset,
        site: order.site.clone(),
        box_id: order.box_id.clone(),
        camera: order.camera.name.clone(),
        kind: order.kind,
        severity: order.severity,
        order_id: order.id.clone(),
        revision: order.revision,
        moment: moment.to_owned(),
    }
}

/// Adds a photo of `frame` (objects boxed and labelled, zone outlined, captioned with the order
/// at its current revision) to the order's evidence as `{prefix}-{revision}.jpg`; `None`
/// (logged) when it cannot be encoded.
#[allow(clippy::too_many_arguments)]
pub fn attach_photo(
    order: &mut WorkOrder,
    prefix: &str,
    photographer: &evidence::Photographer,
    offset: chrono::FixedOffset,
    frame: &RgbImage,
    objects: &[crate::rules::ObservedObject],
    zone: Option<&crate::rules::Zone>,
    at: DateTime<Utc>,
) -> Option<EvidenceBlob> {
    let caption = caption(order, offset, prefix, at);
    let snapshot = photographer.photo(frame, objects, zone, &caption);
    attach_snapshot(order, prefix, snapshot)
}

/// As [`attach_photo`], with the photo already encoded.
fn attach_snapshot(
    order: &mut WorkOrder,
    prefix: &str,
    snapshot: Result<evidence::Snapshot, image::ImageError>,
) -> Option<EvidenceBlob> {
    let name = format!("{prefix}-{}.jpg", order.revision);
    // A re-check's photo is the after to the opening's before.
    let before = (prefix == "verified")
        .then(|| order.evidence.first().map(|e| e.name.clone()))
        .flatten();
    match snapshot {
        Ok(snap) => {
            order.push_evidence(EvidenceRef {
                before,
                name: name.clone(),
                content_type: "image/jpeg".into(),
                sha256: snap.sha256.clone(),
                bytes: snap.jpeg.len(),
                captured_at: rfc3339(snap.captured_at),
                duration_s: None,
                chunks: None,
            });
            Some(EvidenceBlob {
                name,
                jpeg: Arc::new(snap.jpeg),
            })
        }
        Err(e) => {
            tracing::warn!(order = %order.id, error = %e, "Could not encode the evidence photo; the revision goes out without it.");
            None
        }
    }
}

/// An incident event's evidence photo, encoded (tens of milliseconds of JPEG) before the ledger is
/// locked, so the lock is held for one short transaction: see [`OrderDesk::apply_photographed`].
pub struct Photo {
    snapshot: Option<Result<evidence::Snapshot, image::ImageError>>,
    width: f32,
    height: f32,
}

impl Photo {
    /// No photo (a clearing: nothing to show).
    fn none(frame: &RgbImage) -> Photo {
        Photo {
            snapshot: None,
            width: frame.width() as f32,
            height: frame.height() as f32,
        }
    }
}

/// Turns one camera's incident events into order revisions. The ledger holds the orders; the
/// desk only remembers which order each open incident belongs to, so a revision always builds
/// on the latest stored one (the centre's commands change orders too).
pub struct OrderDesk {
    identity: BoxIdentity,
    camera: CameraRef,
    locator: std::sync::Arc<geo::Locator>,
    close_when_cleared: bool,
    incidents: HashMap<u64, String>,
    /// Orders of this camera an earlier run left open (a restart, a crash, a power cut): the
    /// rules' first incidents of the same kind, zone and detail continue them instead of
    /// opening new ones; those not seen again within the grace are cleared.
    adoptable: Vec<Adoptable>,
    /// What new orders are filed as (case codes, deadlines).
    cases: CaseBook,
    /// Draws and encodes the photos.
    photographer: Arc<evidence::Photographer>,
    /// The ids photos of openings were captioned with, for the orders those openings create.
    reserved: HashMap<u64, String>,
    /// A patrolling camera's desk works for one preset: its orders carry it.
    ptz: Option<PtzRef>,
}

/// An open order an earlier run of the camera left, waiting for its incident.
#[derive(Debug, Clone)]
struct Adoptable {
    id: String,
    kind: IncidentKind,
    zone: Option<String>,
    detail: Option<Detail>,
}

impl OrderDesk {
    pub fn new(identity: &BoxIdentity, camera: &CameraConfig, close_when_cleared: bool) -> Self {
        let locator = std::sync::Arc::new(geo::Locator::for_camera(camera));
        Self::with_locator(identity, camera, close_when_cleared, locator)
    }

    /// As [`OrderDesk::new`], sharing a locator the camera worker built once.
    pub fn with_locator(
        identity: &BoxIdentity,
        camera: &CameraConfig,
        close_when_cleared: bool,
        locator: std::sync::Arc<geo::Locator>,
    ) -> Self {
        OrderDesk {
            identity: identity.clone(),
            camera: CameraRef {
                id: camera.id.clone(),
                name: camera.display_name().to_owned(),
            },
            locator,
            close_when_cleared,
            incidents: HashMap::new(),
            adoptable: Vec::new(),
            cases: CaseBook::default(),
            photographer: evidence::Photographer::shared_default(),
            reserved: HashMap::new(),
            ptz: None,
        }
    }

    /// A desk for one preset of a patrolling camera: its orders carry the preset, and only the
    /// orders an earlier run left open at this preset are adopted.
    pub fn at_preset(mut self, preset: PtzRef) -> Self {
        self.ptz = Some(preset);
        self
    }

    /// A new visit of the desk's preset: where the head points now, and the locator for it.
    pub fn point(&mut self, pose: Option<HeadPose>, locator: std::sync::Arc<geo::Locator>) {
        if let Some(ptz) = &mut self.ptz {
            ptz.pose = pose;
        }
        self.locator = locator;
    }

    /// Takes photos as `[evidence]` says instead of with the defaults.
    pub fn photographing_with(mut self, photographer: Arc<evidence::Photographer>) -> Self {
        self.photographer = photographer;
        self
    }

    /// Files new orders by the deployment's case-code table (`[[codes]]`) instead of the
    /// defaults.
    pub fn filing_by(mut self, cases: CaseBook) -> Self {
        self.cases = cases;
        self
    }

    /// Takes the camera's orders an earlier run left open (oldest first), for its incidents to
    /// continue.
    pub fn adopt(&mut self, orders: Vec<WorkOrder>) {
        self.adoptable = orders
            .into_iter()
            .filter(|o| o.camera.id == self.camera.id && o.state == OrderState::Open)
            .filter(|o| o.ptz.as_ref().map(|p| &p.preset) == self.ptz.as_ref().map(|p| &p.preset))
            .map(|o| Adoptable {
                id: o.id,
                kind: o.kind,
                zone: o.zone.map(|z| z.id),
                detail: o.detail,
            })
            .collect();
    }

    /// Orders still waiting to be continued.
    pub fn adoptable(&self) -> usize {
        self.adoptable.len()
    }

    /// For an opening incident: the left-over order it continues, if one has its kind, zone and
    /// detail (the incident is then mapped to it).
    pub fn claim(&mut self, event: &IncidentEvent) -> Option<String> {
        if event.phase != Phase::Opened {
            return None;
        }
        let inc = &event.incident;
        let zone = inc.zone.as_ref().map(|z| z.id.as_str());
        let i = self.adoptable.iter().position(|a| {
            a.kind == inc.kind && a.zone.as_deref() == zone && a.detail == inc.detail
        })?;
        let id = self.adoptable.remove(i).id;
        self.incidents.insert(event.incident_id, id.clone());
        Some(id)
    }

    /// The left-over orders nobody continued: their problem was not seen again since the
    /// restart. Each is to be cleared with [`OrderDesk::release`].
    pub fn unclaimed(&mut self) -> Vec<String> {
        std::mem::take(&mut self.adoptable)
            .into_iter()
            .map(|a| a.id)
            .collect()
    }

    /// Clears a left-over order that was not seen again (as the rule would have, had it run
    /// through the restart). Only an `open` order: the centre's are the centre's.
    pub fn release(&self, mut order: WorkOrder, at: DateTime<Utc>) -> Option<WorkOrderChange> {
        if order.state != OrderState::Open {
            return None;
        }
        let lang = self.identity.language;
        let actor = Actor {
            note: Some(text::not_seen_after_restart(lang).to_owned()),
            ..Actor::lookout()
        };
        advance(&mut order, Step::RuleCleared, &actor, at, lang).ok()?;
        if self.close_when_cleared {
            advance(&mut order, Step::Close, &Actor::lookout(), at, lang).ok()?;
            order.revision -= 1; // one revision for both steps
        }
        Some(WorkOrderChange {
            order,
            evidence: Vec::new(),
        })
    }

    /// The order an open incident belongs to.
    pub fn order_of(&self, incident_id: u64) -> Option<&str> {
        self.incidents.get(&incident_id).map(String::as_str)
    }

    /// Applies an incident event to `current`, the stored revision of the incident's order
    /// (`None` for an opening). `frame` is the image it was decided on (for the photo).
    pub fn apply(
        &mut self,
        event: &IncidentEvent,
        frame: &RgbImage,
        current: Option<WorkOrder>,
    ) -> Option<WorkOrderChange> {
        let photo = self.photograph(event, frame, current.as_ref());
        self.apply_photographed(event, photo, current)
    }

    /// The photo `event` adds to its order, captioned with the order and revision it will
    /// have when applied to `current` (the stored revision, as [`OrderDesk::apply`] takes it).
    /// Encoding takes tens of milliseconds, so the caller takes it before it locks the ledger,
    /// and takes it again if the stored revision moved meanwhile.
    pub fn photograph(
        &mut self,
        event: &IncidentEvent,
        frame: &RgbImage,
        current: Option<&WorkOrder>,
    ) -> Photo {
        self.photograph_best(event, frame, None, current)
    }

    /// As [`OrderDesk::photograph`]; an opening is shown on `best` when given (the clearest
    /// recent view of the incident's objects, [`evidence::Shortlist::best`]) instead of the
    /// frame it opened on. The order's own objects and location stay the opening frame's.
    pub fn photograph_best(
        &mut self,
        event: &IncidentEvent,
        frame: &RgbImage,
        best: Option<&evidence::View>,
        current: Option<&WorkOrder>,
    ) -> Photo {
        if event.phase == Phase::Cleared {
            return Photo::none(frame);
        }
        let inc = &event.incident;
        let continued = current.filter(|o| !o.state.is_final() && o.state != OrderState::Cleared);
        let (id, revision, severity, moment) = match (event.phase, continued) {
            (Phase::Opened, Some(o)) => (o.id.clone(), o.revision + 1, o.severity, "resumed"),
            (Phase::Opened, None) => {
                let id = self
                    .reserved
                    .entry(event.incident_id)
                    .or_insert_with(new_order_id)
                    .clone();
                (id, 1, inc.severity, "opened")
            }
            (_, Some(o)) => (o.id.clone(), o.revision + 1, o.severity, "updated"),
            // Nothing to update: the event is dropped, so is the photo.
            (_, None) => return Photo::none(frame),
        };
        let caption = evidence::Caption {
            at: event.at,
            offset: self.identity.offset(),
            site: self.identity.site.clone(),
            box_id: self.identity.id.clone(),
            camera: self.camera.name.clone(),
            kind: inc.kind,
            severity: severity.max(inc.severity),
            order_id: id,
            revision,
            moment: moment.to_owned(),
        };
        let snapshot = match best.filter(|_| moment == "opened") {
            Some(view) => {
                let caption = evidence::Caption {
                    at: view.captured_at,
                    ..caption
                };
                self.photographer
                    .photo(&view.image, &view.objects, inc.zone.as_ref(), &caption)
            }
            None => self
                .photographer
                .photo(frame, &inc.objects, inc.zone.as_ref(), &caption),
        };
        Photo {
            snapshot: Some(snapshot),
            width: frame.width() as f32,
            height: frame.height() as f32,
        }
    }

    /// As [`OrderDesk::apply`], with the event's photo taken beforehand
    /// ([`OrderDesk::photograph`]).
    pub fn apply_photographed(
        &mut self,
        event: &IncidentEvent,
        photo: Photo,
        current: Option<WorkOrder>,
    ) -> Option<WorkOrderChange> {
        let inc = &event.incident;
        let lang = self.identity.language;
        let at = rfc3339(event.at);
        if event.phase == Phase::Cleared {
            self.incidents.remove(&event.incident_id);
            self.reserved.remove(&event.incident_id);
        }
        // An opening that continues an order left by an earlier run (see `claim`).
        let resumed = event.phase == Phase::Opened
            && current
                .as_ref()
                .is_some_and(|o| !o.state.is_final() && o.state != OrderState::Cleared);
        let mut order = match (event.phase, current) {
            (Phase::Opened, Some(o)) if resumed => o,
            (Phase::Opened, _) => self.new_order(event),
            (_, None) => return None,
            // A final, or cleared, order hears nothing more from its incident (a cancelled
            // false alarm stays quiet until the rule lets go of it).
            (_, Some(o)) if o.state.is_final() || o.state == OrderState::Cleared => return None,
            (_, Some(o)) => o,
        };
        if event.phase == Phase::Cleared {
            if order.state == OrderState::Open {
                advance(
                    &mut order,
                    Step::RuleCleared,
                    &Actor::lookout(),
                    event.at,
                    lang,
                )
                .ok()?;
                if self.close_when_cleared {
                    advance(&mut order, Step::Close, &Actor::lookout(), event.at, lang).ok()?;
                    order.revision -= 1; // one revision for both steps
                }
            } else {
                // Gone from view while the centre is on it: worth a line, not a state change.
                order.revision += 1;
                order.updated_at = at.clone();
                order.push_timeline(TimelineEntry {
                    at,
                    event: "cleared".into(),
                    actor: "lookout".into(),
                    note: text::note(Phase::Cleared, inc.kind, inc.count, order.severity, lang),
                    state: Some(order.state),
                    request_id: None,
                    photo: None,
                });
            }
            return Some(WorkOrderChange {
                order,
                evidence: Vec::new(),
            });
        }
        let (w, h) = (photo.width, photo.height);
        order.objects = inc
            .objects
            .iter()
            .map(|o| OrderObject {
                label: o.label.to_string(),
                score: (o.score * 1000.0).round() / 1000.0,
                bbox: [o.bbox.x1 / w, o.bbox.y1 / h, o.bbox.x2 / w, o.bbox.y2 / h]
                    .map(|v| (v.clamp(0.0, 1.0) * 10000.0).round() / 10000.0),
                track_id: o.track_id,
            })
            .collect();
        // Where: the ground-contact points (bottom-centre of each box) of what is seen now.
        let contacts: Vec<(f64, f64)> = inc
            .objects
            .iter()
            .map(|o| {
                let (x, y) = o.bbox.ground_point();
                ((x / w) as f64, (y / h) as f64)
            })
            .collect();
        order.location = self.locator.locate(&contacts);
        if self.ptz.is_some() {
            order.ptz = self.ptz.clone();
        }
        order.revision += 1;
        order.updated_at = at.clone();
        order.severity = order.severity.max(inc.severity);
        order.count = inc.count;
        order.title = text::title(&order, lang);
        let phase_name = if resumed {
            "resumed"
        } else if event.phase == Phase::Opened {
            self.incidents.insert(event.incident_id, order.id.clone());
            "opened"
        } else {
            "updated"
        };
        let evidence = photo
            .snapshot
            .and_then(|snapshot| attach_snapshot(&mut order, phase_name, snapshot))
            .into_iter()
            .collect();
        order.push_timeline(TimelineEntry {
            at,
            event: phase_name.into(),
            actor: "lookout".into(),
            note: if resumed {
                text::seen_again_after_restart(lang).to_owned()
            } else {
                text::note(event.phase, inc.kind, inc.count, order.severity, lang)
            },
            state: Some(order.state),
            request_id: None,
            photo: None,
        });
        Some(WorkOrderChange { order, evidence })
    }

    fn new_order(&mut self, event: &IncidentEvent) -> WorkOrder {
        let inc = &event.incident;
        let id = self
            .reserved
            .remove(&event.incident_id)
            .unwrap_or_else(new_order_id);
        let at = rfc3339(event.at);
        let case = self
            .cases
            .file(inc.kind, inc.detail, &inc.event_code, event.at);
        WorkOrder {
            schema: SCHEMA_VERSION,
            id,
            revision: 0,
            site: self.identity.site.clone(),
            box_id: self.identity.id.clone(),
            camera: self.camera.clone(),
            zone: inc.zone.as_ref().map(|z| ZoneRef {
                id: z.id.clone(),
                name: z.name.clone(),
                area_m2: self
                    .locator
                    .zone_area(&z.points)
                    .map(|a| (a * 10.0).round() / 10.0),
            }),
            kind: inc.kind,
            detail: inc.detail,
            event_code: case.subcategory.clone(),
            case: Some(case),
            severity: inc.severity,
            state: OrderState::Open,
            title: String::new(),
            opened_at: at.clone(),
            updated_at: at,
            count: inc.count,
            objects: Vec::new(),
            location: self.locator.locate(&[]),
            ptz: self.ptz.clone(),
            evidence: Vec::new(),
            dispatch: None,
            verification: None,
            warning: None,
            resolution: None,
            timeline: Vec::new(),
            timeline_omitted: 0,
            evidence_omitted: 0,
        }
    }
}

/// Globally unique, time-ordered order id (UUID v7 layout: 48-bit millisecond time + random).
fn new_order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod adoption_tests {
    use super::*;
    use crate::rules::{Incident, Zone};

    fn setup() -> (crate::config::Config, OrderDesk) {
        let config = crate::config::parse(
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
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let desk = OrderDesk::new(&config.identity, &config.cameras[0], false);
        (config, desk)
    }

    fn event(config: &crate::config::Config, id: u64, kind: IncidentKind) -> IncidentEvent {
        IncidentEvent {
            incident_id: id,
            phase: Phase::Opened,
            incident: Incident {
                kind,
                detail: None,
                zone: Some(Zone::from_config(&config.cameras[0].zones[0])),
                severity: Severity::Yellow,
                event_code: "2101".into(),
                count: 12,
                objects: Vec::new(),
            },
            pts: std::time::Duration::from_secs(5),
            at: Utc::now(),
        }
    }

    #[test]
    fn a_left_over_order_is_continued_by_its_incident_and_an_unseen_one_is_cleared() {
        let (config, mut desk) = setup();
        let frame = RgbImage::new(32, 24);
        // An earlier run opened a crowd order and a parking order in zone z.
        let crowd = desk
            .apply(&event(&config, 1, crate::rules::CROWD), &frame, None)
            .unwrap()
            .order;
        let parking = desk
            .apply(&event(&config, 2, crate::rules::PARKING), &frame, None)
            .unwrap()
            .order;
        let (_, mut desk) = setup();
        desk.adopt(vec![crowd.clone(), parking.clone()]);
        // The crowd is seen again: it continues the same order.
        let again = event(&config, 7, crate::rules::CROWD);
        assert_eq!(desk.claim(&again).as_deref(), Some(crowd.id.as_str()));
        let change = desk.apply(&again, &frame, Some(crowd.clone())).unwrap();
        assert_eq!(change.order.id, crowd.id);
        assert_eq!(change.order.revision, crowd.revision + 1);
        assert_eq!(change.order.timeline.last().unwrap().event, "resumed");
        assert_eq!(desk.order_of(7), Some(crowd.id.as_str()));
        // A second crowd finds nothing left to continue: a new order.
        assert_eq!(desk.claim(&event(&config, 8, crate::rules::CROWD)), None);
        // The parked car is not seen again: cleared, not left open forever.
        assert_eq!(desk.unclaimed(), vec![parking.id.clone()]);
        let released = desk.release(parking.clone(), Utc::now()).unwrap();
        assert_eq!(released.order.state, OrderState::Cleared);
        assert_eq!(
            released.order.timeline.last().unwrap().note,
            "not seen again after the box restarted"
        );
        assert_eq!(desk.adoptable(), 0);
    }
}
