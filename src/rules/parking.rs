//! 违停 illegal parking: a vehicle whose ground point stays inside a no-parking zone, stationary
//! (relative to its own size, over `stationary.window_s`), for longer than `tolerance_s`.
//!
//! Parked vehicles are remembered by *place* ("spots"), not only by track id: a car hidden for a
//! moment by passing traffic, or re-identified under a new track id, is still the same spot, so
//! one car is one order. While a spot's point is covered by another object it is not counted as
//! gone. The order escalates after `escalate_after_s` and clears (published) once the vehicle has
//! been gone for `clear_s`.

use std::time::Duration;

use super::{
    Filter, Incident, Lifecycle, MotionHistory, Phase, RuleInput, RuleOutput, Transition, Zone,
};
use crate::config::ParkingRuleConfig;
use crate::rules::common::Stage;
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::track::TrackedObject;

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
    config: ParkingRuleConfig,
    zone: Zone,
    filter: Filter,
    motion: MotionHistory,
    spots: Vec<Spot>,
    next_key: u64,
}

impl ParkingRule {
    /// Whether any vehicle meets the rule's condition on the last frame.
    pub fn present(&self) -> bool {
        self.spots.iter().any(|s| s.life.holds)
    }
    pub fn zone_id(&self) -> &str {
        &self.zone.id
    }

    pub fn new(config: ParkingRuleConfig, zone: Zone) -> Self {
        ParkingRule {
            filter: Filter::new(&config.filter),
            motion: MotionHistory::new(&config.stationary),
            config,
            zone,
            spots: Vec::new(),
            next_key: 0,
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

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
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
                    let confirm =
                        (self.config.tolerance_s - self.config.stationary.window_s).max(0.0);
                    self.spots.push(Spot {
                        key: self.next_key,
                        x,
                        y,
                        size: v.bbox.height(),
                        object: ObservedObject::from_track(v),
                        life: Lifecycle::new(confirm, self.config.clear_s, self.config.cooldown_s),
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
                        now.saturating_sub(t)
                            >= Duration::from_secs_f64(self.config.escalate_after_s)
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
                        kind: IncidentKind::Parking,
                        detail: None,
                        zone: Some(self.zone.clone()),
                        severity: spot.severity,
                        event_code: self
                            .config
                            .event_code
                            .clone()
                            .unwrap_or_else(|| IncidentKind::Parking.default_event_code().into()),
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
