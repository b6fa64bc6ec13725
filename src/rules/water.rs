//! 溺水 water danger, three episodes per rule:
//! - a person in the water zone for `confirm_s` → red (`in_water`);
//! - a person at the shore zone for `shore_linger_s` → orange (`at_shore`);
//! - a person last seen *inside* the water zone who has not been seen again for `vanish_s`, without
//!   having left it → red "possible drowning" (`vanished`), the case that matters most. The person
//!   must have been in the water for at least a second (not a one-frame false detection), and
//!   nobody may be seen at the same place now (that is the tracker re-identifying them). It stays
//!   open at least a minute (or `clear_s`, if longer) after the last such disappearance. Keep the
//!   water zone off the frame edges: a swimmer leaving the picture through the water looks the
//!   same as one going under.
//!
//! In the water a person has no ground contact, so the box centre decides the zone.

use std::collections::HashMap;
use std::time::Duration;

use super::{Detail, Filter, Incident, Lifecycle, Phase, RuleInput, RuleOutput, Transition, Zone};
use crate::config::WaterRuleConfig;
use crate::rules::{IncidentKind, ObservedObject, Severity};

/// Where a person was last seen.
struct LastSeen {
    at: Duration,
    in_water: bool,
    /// Since when the person has been in the water without a break.
    in_water_since: Option<Duration>,
    object: ObservedObject,
}

/// A track must have been in the water this long before its disappearance means anything: a
/// one-frame false detection or a swimmer glimpsed for a moment is not a drowning.
const MIN_TIME_IN_WATER: Duration = Duration::from_secs(1);

pub struct WaterRule {
    config: WaterRuleConfig,
    water: Zone,
    shore: Option<Zone>,
    filter: Filter,
    in_water: Lifecycle,
    at_shore: Lifecycle,
    vanished: Lifecycle,
    persons: HashMap<u64, LastSeen>,
    /// Persons who vanished in the water, with when.
    missing: Vec<(Duration, ObservedObject)>,
}

/// A possible drowning stays open at least this long after the last disappearance.
const VANISHED_HOLD: Duration = Duration::from_secs(60);

impl WaterRule {
    /// Whether anyone is in the water, lingering at the shore or missing, on the last frame.
    pub fn present(&self) -> bool {
        self.in_water.holds || self.at_shore.holds || self.vanished.holds
    }
    pub fn covers_zone(&self, id: &str) -> bool {
        self.water.id == id || self.shore.as_ref().is_some_and(|s| s.id == id)
    }

    pub fn new(config: WaterRuleConfig, water: Zone, shore: Option<Zone>) -> Self {
        WaterRule {
            filter: Filter::new(&config.filter),
            in_water: Lifecycle::new(config.confirm_s, config.clear_s, config.cooldown_s),
            at_shore: Lifecycle::new(config.shore_linger_s, config.clear_s, config.cooldown_s),
            vanished: Lifecycle::new(0.0, 0.0, config.cooldown_s),
            config,
            water,
            shore,
            persons: HashMap::new(),
            missing: Vec::new(),
        }
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let now = input.pts;
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        let mut swimmers = Vec::new();
        let mut on_shore = Vec::new();
        for t in input
            .tracks
            .iter()
            .filter(|t| &*t.label == "person" && t.last_seen == now)
        {
            if !self.filter.accepts(&t.label, t.score, &t.bbox, w, h) {
                continue;
            }
            let (cx, cy) = t.bbox.center();
            let (x, y) = ((cx / w) as f64, (cy / h) as f64);
            let in_water = self.water.contains(x, y);
            let object = ObservedObject::from_track(t);
            if in_water {
                swimmers.push(object.clone());
            } else if self.shore.as_ref().is_some_and(|s| s.contains(x, y)) {
                on_shore.push(object.clone());
            }
            let since = self.persons.get(&t.track_id).and_then(|p| p.in_water_since);
            let in_water_since = in_water.then(|| since.unwrap_or(now));
            self.persons.insert(
                t.track_id,
                LastSeen {
                    at: now,
                    in_water,
                    in_water_since,
                    object,
                },
            );
        }
        // Tracks gone for `vanish_s`: drowned if their last sighting was in the water.
        let vanish = Duration::from_secs_f64(self.config.vanish_s);
        let gone: Vec<u64> = self
            .persons
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.at) >= vanish)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            let Some(p) = self.persons.remove(&id) else {
                continue;
            };
            let long_enough = p
                .in_water_since
                .is_some_and(|s| p.at.saturating_sub(s) >= MIN_TIME_IN_WATER);
            // Somebody seen right there now is the same person under a new track id.
            let b = p.object.bbox;
            let reach = b.height().max(b.width());
            let (px, py) = b.center();
            let replaced = self.persons.values().any(|q| {
                let (qx, qy) = q.object.bbox.center();
                q.at == now && ((qx - px).powi(2) + (qy - py).powi(2)).sqrt() <= reach
            });
            if p.in_water && long_enough && !replaced {
                self.missing.push((now, p.object));
            }
        }
        let hold = VANISHED_HOLD.max(Duration::from_secs_f64(self.config.clear_s));
        self.missing.retain(|(t, _)| now.saturating_sub(*t) < hold);

        let mut outputs = Vec::new();
        let code = self
            .config
            .event_code
            .clone()
            .unwrap_or_else(|| IncidentKind::Water.default_event_code().into());
        let episodes: [(u64, Detail, Severity, &mut Lifecycle, Vec<ObservedObject>); 3] = [
            (
                0,
                Detail::InWater,
                Severity::Red,
                &mut self.in_water,
                swimmers,
            ),
            (
                1,
                Detail::AtShore,
                Severity::Orange,
                &mut self.at_shore,
                on_shore,
            ),
            (
                2,
                Detail::Vanished,
                Severity::Red,
                &mut self.vanished,
                self.missing.iter().map(|(_, o)| o.clone()).collect(),
            ),
        ];
        for (key, detail, severity, life, objects) in episodes {
            let phase = match life.step(!objects.is_empty(), now) {
                Transition::Open => Phase::Opened,
                Transition::Clear => Phase::Cleared,
                Transition::None => continue,
            };
            outputs.push(RuleOutput::new(
                key,
                phase,
                Incident {
                    kind: IncidentKind::Water,
                    detail: Some(detail),
                    zone: Some(if detail == Detail::AtShore {
                        self.shore.clone().unwrap_or(self.water.clone())
                    } else {
                        self.water.clone()
                    }),
                    severity,
                    event_code: code.clone(),
                    count: objects.len(),
                    objects,
                },
            ));
        }
        outputs
    }
}
