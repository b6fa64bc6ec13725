//! Rules: turn tracked objects and region detections into incidents.
//!
//! Each camera has a [`RuleEngine`] holding one state machine per configured rule. Per frame it
//! takes a [`RuleInput`] and returns [`IncidentEvent`]s: an incident *opens* once, may be *updated*
//! when it changes meaningfully, and *clears* once. Pure: no IO, time is the frame's stream time.

mod camera_fault;
mod common;
mod congestion;
mod crowd;
mod fire;
mod flicker;
mod left_object;
mod line_crossing;
mod motion;
mod parking;
mod registry;
pub mod scene;
mod vending;
mod water;
mod zone;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use image::RgbImage;

use crate::config::{CameraConfig, Problem};
use crate::detect::{BBox, Detection};
use crate::track::TrackedObject;
pub use crate::vocab::{DailyWindows, Detail, IncidentKind, Severity};
pub use camera_fault::{
    CameraFaultRule, Reading, Reference, BLACK, BLURRED, CAMERA_FAULT, FROZEN, FROZEN_MAX_DIFF,
    SCENE_SHIFT,
};
pub use common::{Filter, Lifecycle, Masks, Schedule, Stationary, Transition};
pub use crowd::CROWD;
pub use fire::{FIRE, SMOKE};
pub use motion::MotionHistory;
pub use parking::PARKING;
pub use registry::{
    check, rule_type, rule_type_names, Build, Built, Gauge, Rule, RuleType, RULE_TYPES,
};
pub use vending::VENDING;
pub use water::{AT_SHORE, IN_WATER, VANISHED, WATER};
pub use zone::Zone;

/// An object that is part of an incident, in frame pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedObject {
    pub label: Arc<str>,
    pub score: f32,
    pub bbox: BBox,
    pub track_id: Option<u64>,
}

impl ObservedObject {
    pub fn from_track(t: &TrackedObject) -> Self {
        ObservedObject {
            label: t.label.clone(),
            score: t.score,
            bbox: t.bbox,
            track_id: Some(t.track_id),
        }
    }
    pub fn from_detection(d: &Detection) -> Self {
        ObservedObject {
            label: d.label.clone(),
            score: d.score,
            bbox: d.bbox,
            track_id: None,
        }
    }
}

/// One frame's worth of facts for the rules: the message from track to rules.
#[derive(Clone)]
pub struct RuleInput<'a> {
    pub pts: Duration,
    pub captured_at: DateTime<Utc>,
    pub frame_width: u32,
    pub frame_height: u32,
    /// The frame itself, for rules that look at pixels (smoke must change over time).
    pub image: Option<&'a RgbImage>,
    /// Confirmed tracks (tracked now or recently lost), as of the last frame an object model
    /// ran on.
    pub tracks: &'a [TrackedObject],
    /// This frame's detections of the object models (persons, vehicles) when one ran on it;
    /// `None` when none did. A camera samples its models below `detect_fps`: on a frame without
    /// a model run the object rules do not look (nobody seen is not nobody there).
    pub detections: Option<&'a [Detection]>,
    /// Detections of region models (fire, smoke) when one ran on this frame; `None` otherwise.
    pub regions: Option<&'a [Detection]>,
}

/// What a rule says about its incident.
#[derive(Debug, Clone)]
pub struct Incident {
    pub kind: IncidentKind,
    pub detail: Option<Detail>,
    pub zone: Option<Zone>,
    pub severity: Severity,
    pub event_code: String,
    pub count: usize,
    pub objects: Vec<ObservedObject>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Opened,
    Updated,
    Cleared,
}

/// What a rule says happened to one of its episodes; `key` tells a rule's concurrent episodes
/// apart (one per parked car, one per water danger kind).
#[derive(Debug, Clone)]
pub struct RuleOutput {
    pub key: u64,
    pub phase: Phase,
    pub incident: Incident,
}

impl RuleOutput {
    pub fn new(key: u64, phase: Phase, incident: Incident) -> Self {
        RuleOutput {
            key,
            phase,
            incident,
        }
    }
}

/// An incident changed: the message from rules to orders.
#[derive(Debug, Clone)]
pub struct IncidentEvent {
    /// Unique per camera and process run; the orders stage maps it to a work order.
    pub incident_id: u64,
    pub phase: Phase,
    pub incident: Incident,
    pub pts: Duration,
    pub at: DateTime<Utc>,
}

struct Armed {
    rule: Box<dyn Rule>,
    masks: Masks,
    schedule: Option<Schedule>,
    /// Open episodes: rule key → incident id.
    open: Vec<(u64, u64)>,
    /// One of its kinds is urgent (someone may be in danger).
    urgent: bool,
}

/// Which models an urgent rule of a camera reads: what the compute plan lowers last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrgentInputs {
    /// An urgent rule reads the object models (a person in the water).
    pub objects: bool,
    /// An urgent rule reads the region models (fire, smoke).
    pub regions: bool,
}

/// All rules of one camera.
pub struct RuleEngine {
    rules: Vec<Armed>,
    /// The camera's zones, for the questions others ask about them (what is in a zone).
    zones: Vec<Zone>,
    /// The camera-fault checks, with their open episodes (rule key → incident id).
    faults: Option<(CameraFaultRule, Vec<(u64, u64)>)>,
    next_incident: u64,
}

impl RuleEngine {
    /// Builds the rules of a camera config; schedules are read at `utc_offset`. A config that
    /// went through `build::load` builds; anything else gets every problem at its key.
    pub fn new(camera: &CameraConfig, utc_offset: FixedOffset) -> Result<Self, Vec<Problem>> {
        Self::with_locator(camera, utc_offset, &crate::geo::Locator::for_camera(camera))
    }

    /// As [`RuleEngine::new`], with the camera's locator already built (zone areas need it).
    pub fn with_locator(
        camera: &CameraConfig,
        utc_offset: FixedOffset,
        locator: &crate::geo::Locator,
    ) -> Result<Self, Vec<Problem>> {
        let zone = |id: &str| camera.zone(id).map(Zone::from_config);
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        for (i, r) in camera.rules.iter().enumerate() {
            let at = crate::config::KeyPath::default().key("rules").index(i);
            match registry::build_rule(camera, i, locator, at) {
                Ok(rule) => rules.push(Armed {
                    rule,
                    masks: Masks(r.masks.iter().filter_map(|m| zone(m)).collect()),
                    schedule: r.schedule.as_ref().map(|s| Schedule::new(s, utc_offset)),
                    open: Vec::new(),
                    urgent: registry::rule_type(&r.kind)
                        .is_some_and(|t| t.kinds.iter().any(|k| k.info().urgent)),
                }),
                Err(found) => problems.extend(found),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let faults = camera.faults.enabled.then(|| {
            (
                CameraFaultRule::new(camera.faults.clone(), None),
                Vec::new(),
            )
        });
        Ok(RuleEngine {
            rules,
            zones: camera.zones.iter().map(Zone::from_config).collect(),
            faults,
            next_incident: 1,
        })
    }

    /// Which inputs the camera's urgent rules read.
    pub fn urgent_inputs(&self) -> UrgentInputs {
        let mut inputs = UrgentInputs::default();
        for armed in self.rules.iter().filter(|a| a.urgent) {
            if armed.rule.reads_objects() {
                inputs.objects = true;
            } else {
                inputs.regions = true;
            }
        }
        inputs
    }

    /// The longest any rule takes to open an incident (see [`Rule::opening_time`]).
    pub fn opening_time(&self) -> Duration {
        self.rules
            .iter()
            .map(|a| a.rule.opening_time())
            .max()
            .unwrap_or_default()
    }

    /// Gives the camera-fault checks the view the camera was calibrated on (blur and scene
    /// shift are judged against it; without one they are off).
    pub fn set_reference(&mut self, reference: Reference) {
        if let Some((rule, _)) = self.faults.as_mut() {
            rule.set_reference(reference);
        }
    }

    /// Whether the fault checks run but have no reference view yet.
    pub fn wants_reference(&self) -> bool {
        self.faults
            .as_ref()
            .is_some_and(|(r, _)| !r.has_reference())
    }

    /// Whether the picture is usable as a reference view now: the fault checks run, nothing
    /// is open, and the last check saw neither a black or blank nor a frozen picture.
    pub fn picture_usable(&self) -> bool {
        self.faults
            .as_ref()
            .is_some_and(|(rule, open)| open.is_empty() && rule.last_picture_usable())
    }

    /// The tracked objects whose ground point is in the camera's zone `zone` (every tracked
    /// object without one): what a re-check's after-photo shows.
    pub fn objects_in_zone(
        &self,
        zone: Option<&str>,
        tracks: &[TrackedObject],
        frame_width: u32,
        frame_height: u32,
    ) -> Vec<ObservedObject> {
        let zone = zone.and_then(|id| self.zones.iter().find(|z| z.id == id));
        let (w, h) = (frame_width as f64, frame_height as f64);
        tracks
            .iter()
            .filter(|t| t.state == crate::track::TrackState::Tracked)
            .filter(|t| {
                let (x, y) = t.bbox.ground_point();
                zone.is_none_or(|z| z.contains(x as f64 / w, y as f64 / h))
            })
            .map(ObservedObject::from_track)
            .collect()
    }

    /// Camera faults with an open order, and what the last picture check measured.
    pub fn camera_faults(&self) -> (Vec<Detail>, Option<Reading>) {
        match &self.faults {
            Some((rule, _)) => (rule.open_faults(), Some(rule.reading())),
            None => (Vec::new(), None),
        }
    }

    /// Whether the rule that raises `kind` in `zone` saw its problem on the last frame it
    /// evaluated; `None` when this camera has no such rule. What a camera re-check samples.
    pub fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        if kind == CAMERA_FAULT {
            return self.faults.as_ref().map(|(rule, _)| rule.present(None));
        }
        let mut found = None;
        for armed in &self.rules {
            if let Some(seen) = armed.rule.present(kind, zone) {
                found = Some(found.unwrap_or(false) || seen);
            }
        }
        found
    }

    /// Every rule's live measurements (a crowd zone's head count, a line's crossings).
    pub fn gauges(&self) -> Vec<Gauge> {
        self.rules.iter().flat_map(|a| a.rule.gauges()).collect()
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<IncidentEvent> {
        let mut events = Vec::new();
        if let Some((rule, open)) = self.faults.as_mut() {
            let outputs = rule.evaluate(input);
            track_episodes(&mut self.next_incident, open, outputs, input, &mut events);
            // A frozen or black picture says nothing about the scene: the other rules neither
            // open nor clear anything on it (a frozen parked car is not illegal parking).
            if rule.picture_unusable() {
                return events;
            }
        }
        let (w, h) = (input.frame_width as f64, input.frame_height as f64);
        for armed in &mut self.rules {
            // Outside its schedule a rule sees an empty scene: nothing opens, open orders clear.
            let active = armed
                .schedule
                .as_ref()
                .is_none_or(|s| s.is_active(input.captured_at));
            // Object rules judge only frames an object model ran on: between samples the
            // tracks are the last sample's and a person is not "gone" for being unseen.
            if armed.rule.reads_objects() && input.detections.is_none() {
                continue;
            }
            let tracks: Vec<TrackedObject>;
            let regions: Option<Vec<Detection>>;
            let detections: Option<Vec<Detection>>;
            let view = if !active {
                RuleInput {
                    tracks: &[],
                    regions: input.regions.map(|_| &[][..]),
                    detections: input.detections.map(|_| &[][..]),
                    ..input.clone()
                }
            } else if armed.masks.0.is_empty() {
                input.clone()
            } else {
                tracks = input
                    .tracks
                    .iter()
                    .filter(|t| {
                        let (x, y) = t.bbox.ground_point();
                        !armed.masks.hides(x as f64 / w, y as f64 / h)
                    })
                    .cloned()
                    .collect();
                regions = input.regions.map(|r| {
                    r.iter()
                        .filter(|d| {
                            let (x, y) = d.bbox.center();
                            !armed.masks.hides(x as f64 / w, y as f64 / h)
                        })
                        .cloned()
                        .collect()
                });
                detections = input.detections.map(|r| {
                    r.iter()
                        .filter(|d| {
                            let (x, y) = d.bbox.ground_point();
                            !armed.masks.hides(x as f64 / w, y as f64 / h)
                        })
                        .cloned()
                        .collect()
                });
                RuleInput {
                    tracks: &tracks,
                    regions: regions.as_deref(),
                    detections: detections.as_deref(),
                    ..input.clone()
                }
            };
            let outputs = armed.rule.evaluate(&view);
            track_episodes(
                &mut self.next_incident,
                &mut armed.open,
                outputs,
                input,
                &mut events,
            );
        }
        events
    }
}

/// Gives each opened episode of a rule a fresh incident id and turns its outputs into events.
fn track_episodes(
    next_incident: &mut u64,
    open: &mut Vec<(u64, u64)>,
    outputs: Vec<RuleOutput>,
    input: &RuleInput,
    events: &mut Vec<IncidentEvent>,
) {
    for out in outputs {
        let open_at = open.iter().position(|(k, _)| *k == out.key);
        let incident_id = match (out.phase, open_at) {
            (Phase::Opened, _) => {
                let id = *next_incident;
                *next_incident += 1;
                open.push((out.key, id));
                id
            }
            (Phase::Updated, Some(i)) => open[i].1,
            (Phase::Cleared, Some(i)) => open.remove(i).1,
            (_, None) => continue,
        };
        events.push(IncidentEvent {
            incident_id,
            phase: out.phase,
            incident: out.incident,
            pts: input.pts,
            at: input.captured_at,
        });
    }
}

/// Median of a non-empty slice of counts.
pub(crate) fn median(values: &mut [usize]) -> usize {
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or(0)
}

#[cfg(test)]
mod docs;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
