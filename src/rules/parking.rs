//! 违停 illegal parking: a vehicle whose ground point stays inside a no-parking zone, stationary
//! (relative to its own size, over `stationary.window_s`), for longer than `tolerance_s`.
//!
//! Parked vehicles are remembered by *place* ("spots"), not only by track id: a car hidden for a
//! moment by passing traffic, or re-identified under a new track id, is still the same spot, so
//! one car is one order. While a spot's point is covered by another object it is not counted as
//! gone. The order escalates after `escalate_after_s` and clears (published) once the vehicle has
//! been gone for `clear_s`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::{default_cooldown, default_vehicle_labels, Stationary};
use super::registry::gather;
use super::{
    Build, Built, Filter, Incident, Lifecycle, MotionHistory, Phase, Rule, RuleInput, RuleOutput,
    RuleType, Transition, Zone,
};
use crate::config::FilterConfig;
use crate::rules::common::Stage;
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::track::TrackedObject;
use crate::vocab::{KindInfo, Seconds, KINDS};

pub const PARKING: IncidentKind = IncidentKind::registered("parking");

#[linkme::distributed_slice(KINDS)]
static PARKING_ROW: KindInfo = KindInfo {
    name: "parking",
    grace_s: Some(600.0),
    rank: 20,
    deadline_h: 1.0,
    label_zh: "机动车违停",
    label_en: "illegal parking",
    event_code: "0505",
    prompt_zh: Some("此处禁止停车，请立即驶离。"),
    prompt_en: Some("Parking is not allowed here. Please move your vehicle now."),
    title_zh: "机动车违停",
    title_en: "Illegally parked vehicle",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static PARKING_RULE: RuleType = RuleType {
    name: "parking",
    kinds: &[PARKING],
    schema: || schemars::schema_for!(ParkingConfig),
    build: ParkingRule::build,
};

/// `kind = "parking"`: a vehicle stationary in a no-parking zone longer than the tolerance.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParkingConfig {
    /// The no-parking zone (vehicle ground points).
    pub zone: String,
    /// Labels that count as vehicles.
    #[serde(default = "default_vehicle_labels")]
    pub labels: Vec<String>,
    /// Seconds a vehicle may stand before it is illegally parked.
    #[serde(default = "default_parking_tolerance")]
    pub tolerance_s: Seconds,
    /// Seconds the vehicle must be gone before the order clears.
    #[serde(default = "default_parking_clear")]
    pub clear_s: Seconds,
    /// Seconds after opening before the order escalates to `escalate_to`.
    #[serde(default = "default_parking_escalate")]
    pub escalate_after_s: Seconds,
    #[serde(default = "default_parking_escalate_to")]
    pub escalate_to: Severity,
    #[serde(default = "default_parking_severity")]
    pub severity: Severity,
    #[serde(default)]
    pub stationary: Stationary,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
    #[serde(default)]
    pub filter: FilterConfig,
}

fn default_parking_tolerance() -> Seconds {
    Seconds::of(300.0)
}
fn default_parking_clear() -> Seconds {
    Seconds::of(30.0)
}
fn default_parking_escalate() -> Seconds {
    Seconds::of(1800.0)
}
fn default_parking_escalate_to() -> Severity {
    Severity::Orange
}
fn default_parking_severity() -> Severity {
    Severity::Blue
}

struct Spot {
    key: u64,
    /// Ground point in pixels.
    x: f32,
    y: f32,
    /// Box height in pixels: the scale for "same place".
    size: f32,
    object: ObservedObject,
    life: Lifecycle,
    opened_at: Option<Duration>,
    severity: Severity,
}

pub struct ParkingRule {
    config: ParkingConfig,
    zone: Zone,
    event_code: String,
    filter: Filter,
    motion: MotionHistory,
    spots: Vec<Spot>,
    next_key: u64,
}

impl ParkingRule {
    fn build(b: &Build) -> Built {
        let config: ParkingConfig = b.params()?;
        let mut problems = Vec::new();
        if config.labels.is_empty() {
            problems.push(b.problem("labels", "name at least one vehicle label"));
        }
        let zone = gather(&mut problems, b.zone("zone", &config.zone));
        let filter = gather(&mut problems, b.filter("filter", &config.filter));
        match (zone, filter) {
            (Some(zone), Some(filter)) if problems.is_empty() => Ok(Box::new(ParkingRule {
                motion: MotionHistory::new(&config.stationary),
                event_code: b.event_code(PARKING),
                config,
                zone,
                filter,
                spots: Vec::new(),
                next_key: 0,
            })),
            _ => Err(problems),
        }
    }

    fn is_vehicle(&self, t: &TrackedObject, w: f32, h: f32) -> bool {
        self.config.labels.iter().any(|l| **l == *t.label)
            && self.filter.accepts(&t.label, t.score, &t.bbox, w, h)
            && {
                let (x, y) = t.bbox.ground_point();
                self.zone.contains((x / w) as f64, (y / h) as f64)
            }
    }
}

impl Rule for ParkingRule {
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == PARKING && zone == Some(self.zone.id.as_str()))
            .then(|| self.spots.iter().any(|s| s.life.holds))
    }

    fn opening_time(&self) -> Duration {
        self.config.tolerance_s.duration() + self.config.stationary.window_s.duration()
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let now = input.pts;
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        let vehicles: Vec<&TrackedObject> = input
            .tracks
            .iter()
            .filter(|t| self.is_vehicle(t, w, h))
            .collect();
        self.motion.observe(&vehicles, now);

        // Stationary vehicles seen now find (or found) their spot.
        let mut present = vec![false; self.spots.len()];
        for v in vehicles
            .iter()
            .filter(|v| v.last_seen == now && self.motion.is_stationary(v.track_id, now))
        {
            let (x, y) = v.bbox.ground_point();
            let near = self.spots.iter().position(|s| {
                ((s.x - x).powi(2) + (s.y - y).powi(2)).sqrt() <= 0.5 * s.size.max(v.bbox.height())
            });
            let i = match near {
                Some(i) => i,
                None => {
                    // Already still for a whole window when first judged stationary.
                    let confirm = (self.config.tolerance_s.secs()
                        - self.config.stationary.window_s.secs())
                    .max(0.0);
                    self.spots.push(Spot {
                        key: self.next_key,
                        x,
                        y,
                        size: v.bbox.height(),
                        object: ObservedObject::from_track(v),
                        life: Lifecycle::new(
                            confirm,
                            self.config.clear_s.secs(),
                            self.config.cooldown_s.secs(),
                        ),
                        opened_at: None,
                        severity: self.config.severity,
                    });
                    self.next_key += 1;
                    present.push(false);
                    self.spots.len() - 1
                }
            };
            let spot = &mut self.spots[i];
            spot.x = x;
            spot.y = y;
            spot.size = v.bbox.height();
            spot.object = ObservedObject::from_track(v);
            present[i] = true;
        }
        // A spot covered by anything (a passing bus, a pedestrian) is not known to be empty.
        for (i, spot) in self.spots.iter().enumerate() {
            if !present[i] {
                present[i] = input.tracks.iter().any(|t| {
                    let b = &t.bbox;
                    t.last_seen == now
                        && b.x1 <= spot.x
                        && spot.x <= b.x2
                        && b.y1 <= spot.y
                        && spot.y <= b.y2
                });
            }
        }

        let mut outputs = Vec::new();
        for (i, spot) in self.spots.iter_mut().enumerate() {
            let phase = match spot.life.step(present[i], now) {
                Transition::Open => {
                    spot.opened_at = Some(now);
                    Some(Phase::Opened)
                }
                Transition::Clear => Some(Phase::Cleared),
                Transition::None => {
                    let due = spot.opened_at.is_some_and(|t| {
                        now.saturating_sub(t) >= self.config.escalate_after_s.duration()
                    });
                    if spot.life.is_open() && due && spot.severity < self.config.escalate_to {
                        spot.severity = self.config.escalate_to;
                        Some(Phase::Updated)
                    } else {
                        None
                    }
                }
            };
            if let Some(phase) = phase {
                outputs.push(RuleOutput::new(
                    spot.key,
                    phase,
                    Incident {
                        kind: PARKING,
                        detail: None,
                        zone: Some(self.zone.clone()),
                        severity: spot.severity,
                        event_code: self.event_code.clone(),
                        count: 1,
                        objects: vec![spot.object.clone()],
                    },
                ));
            }
        }
        // Forget spots that never became an order, and cleared ones once their cooldown is over.
        self.spots.retain(|s| !matches!(s.life.stage, Stage::Idle));
        outputs
    }
}
