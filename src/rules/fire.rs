//! 烟火 fire: fire detections in `min_hits` of the last `window` fire-model samples, for at least
//! `confirm_s` since the first hit; cleared after `clear_s` without a hit.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Incident, RuleInput, RuleOutput, Zone};
use crate::config::FireRuleConfig;
use crate::rules::{IncidentKind, ObservedObject, Severity};

pub struct FireRule {
    config: FireRuleConfig,
    zone: Option<Zone>,
    window: VecDeque<bool>,
    first_hit: Option<Duration>,
    last_hit: Option<Duration>,
    open: bool,
}

impl FireRule {
    pub fn new(config: FireRuleConfig, zone: Option<Zone>) -> Self {
        FireRule {
            window: VecDeque::with_capacity(config.window),
            config,
            zone,
            first_hit: None,
            last_hit: None,
            open: false,
        }
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Option<RuleOutput> {
        // Only samples where the fire model ran say anything about fire.
        let regions = input.regions?;
        let (w, h) = (input.frame_width as f64, input.frame_height as f64);
        let fires: Vec<ObservedObject> = regions
            .iter()
            .filter(|d| &*d.label == "fire" && d.score >= self.config.min_score)
            .filter(|d| {
                self.zone.as_ref().is_none_or(|z| {
                    let (x, y) = d.bbox.center();
                    z.contains(x as f64 / w, y as f64 / h)
                })
            })
            .map(ObservedObject::from_detection)
            .collect();
        let now = input.pts;
        let hit = !fires.is_empty();
        if self.window.len() == self.config.window {
            self.window.pop_front();
        }
        self.window.push_back(hit);
        let hits = self.window.iter().filter(|h| **h).count();
        if hit {
            self.last_hit = Some(now);
            self.first_hit.get_or_insert(now);
        } else if hits == 0 {
            self.first_hit = None;
        }
        if !self.open {
            let confirmed = hits >= self.config.min_hits
                && self.first_hit.is_some_and(|t| {
                    now.saturating_sub(t) >= Duration::from_secs_f64(self.config.confirm_s)
                });
            if confirmed && hit {
                self.open = true;
                return Some(RuleOutput::Opened(self.incident(fires)));
            }
            return None;
        }
        let quiet = self
            .last_hit
            .is_none_or(|t| now.saturating_sub(t) >= Duration::from_secs_f64(self.config.clear_s));
        if quiet {
            self.open = false;
            self.first_hit = None;
            return Some(RuleOutput::Cleared(self.incident(fires)));
        }
        None
    }

    fn incident(&self, objects: Vec<ObservedObject>) -> Incident {
        Incident {
            kind: IncidentKind::Fire,
            zone: self.zone.clone(),
            severity: Severity::Red,
            event_code: self
                .config
                .event_code
                .clone()
                .unwrap_or_else(|| IncidentKind::Fire.default_event_code().into()),
            count: objects.len(),
            objects,
        }
    }
}
