//! 占道经营 street vending: in a no-vending zone, at least `min_persons` stationary persons
//! together with a stall-like object (umbrella, table, chair, cart…) for `dwell_s`. With
//! `require_stall = false` stationary persons alone count. Clears after `clear_s` without them.

use super::{
    Filter, Incident, Lifecycle, MotionHistory, Phase, RuleInput, RuleOutput, Transition, Zone,
};
use crate::config::VendingRuleConfig;
use crate::rules::{IncidentKind, ObservedObject};
use crate::track::TrackedObject;

pub struct VendingRule {
    config: VendingRuleConfig,
    zone: Zone,
    filter: Filter,
    motion: MotionHistory,
    life: Lifecycle,
}

impl VendingRule {
    /// Whether the rule's condition held on the last frame.
    pub fn present(&self) -> bool {
        self.life.holds
    }
    pub fn zone_id(&self) -> &str {
        &self.zone.id
    }

    pub fn new(config: VendingRuleConfig, zone: Zone) -> Self {
        // Persons are judged stationary only after a whole window: count the dwell from its start.
        let confirm = (config.dwell_s - config.stationary.window_s).max(0.0);
        VendingRule {
            filter: Filter::new(&config.filter),
            motion: MotionHistory::new(&config.stationary),
            life: Lifecycle::new(confirm, config.clear_s, config.cooldown_s),
            config,
            zone,
        }
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let now = input.pts;
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        let in_zone = |t: &&TrackedObject| {
            let (x, y) = t.bbox.ground_point();
            self.filter.accepts(&t.label, t.score, &t.bbox, w, h)
                && self.zone.contains((x / w) as f64, (y / h) as f64)
        };
        let persons: Vec<&TrackedObject> = input
            .tracks
            .iter()
            .filter(|t| &*t.label == "person")
            .filter(in_zone)
            .collect();
        self.motion.observe(&persons, now);
        let still: Vec<&TrackedObject> = persons
            .into_iter()
            .filter(|p| self.motion.is_stationary(p.track_id, now))
            .collect();
        let stalls: Vec<&TrackedObject> = input
            .tracks
            .iter()
            .filter(|t| self.config.stall_labels.iter().any(|l| **l == *t.label))
            .filter(in_zone)
            .collect();
        let holds = still.len() >= self.config.min_persons
            && (!self.config.require_stall || !stalls.is_empty());
        let phase = match self.life.step(holds, now) {
            Transition::Open => Phase::Opened,
            Transition::Clear => Phase::Cleared,
            Transition::None => return Vec::new(),
        };
        let objects: Vec<ObservedObject> = still
            .iter()
            .chain(&stalls)
            .map(|t| ObservedObject::from_track(t))
            .collect();
        vec![RuleOutput::new(
            0,
            phase,
            Incident {
                kind: IncidentKind::Vending,
                detail: None,
                zone: Some(self.zone.clone()),
                severity: self.config.severity,
                event_code: self
                    .config
                    .event_code
                    .clone()
                    .unwrap_or_else(|| IncidentKind::Vending.default_event_code().into()),
                count: still.len(),
                objects,
            },
        )]
    }
}
