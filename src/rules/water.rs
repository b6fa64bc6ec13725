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

use serde::{Deserialize, Serialize};

use super::common::default_cooldown;
use super::registry::gather;
use super::{
    Build, Built, Detail, Filter, Incident, Lifecycle, Phase, Rule, RuleInput, RuleOutput,
    RuleType, Transition, Zone,
};
use crate::config::FilterConfig;
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::vocab::{DetailInfo, KindInfo, Seconds, KINDS};

pub const WATER: IncidentKind = IncidentKind::registered("water");
/// A person is in the water zone.
pub const IN_WATER: Detail = Detail::registered("in_water");
/// A person has lingered at the shore.
pub const AT_SHORE: Detail = Detail::registered("at_shore");
/// A person was last seen in the water and has not come out: possible drowning.
pub const VANISHED: Detail = Detail::registered("vanished");

#[linkme::distributed_slice(KINDS)]
static WATER_ROW: KindInfo = KindInfo {
    name: "water",
    grace_s: Some(0.0),
    rank: 40,
    deadline_h: 0.25,
    label_zh: "溺水风险",
    label_en: "water danger",
    event_code: "2102",
    urgent: true,
    prompt_zh: Some("危险水域，请立即远离水边。"),
    prompt_en: Some("Danger, deep water. Step away from the edge now."),
    title_zh: "有人进入危险水域",
    title_en: "Person in a water danger zone",
    details: &[
        DetailInfo {
            name: "in_water",
            title_zh: "有人进入危险水域",
            title_en: "Person in a water danger zone",
        },
        DetailInfo {
            name: "at_shore",
            title_zh: "岸边逗留",
            title_en: "Person lingering at the water's edge",
        },
        DetailInfo {
            name: "vanished",
            title_zh: "疑似溺水：有人在水中消失",
            title_en: "Possible drowning: a person vanished in the water",
        },
    ],
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static WATER_RULE: RuleType = RuleType {
    name: "water",
    kinds: &[WATER],
    schema: || schemars::schema_for!(WaterConfig),
    build: WaterRule::build,
};

/// `kind = "water"`: persons in a water zone, lingering at the shore, or vanishing in the water.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaterConfig {
    /// The water surface (a person's box centre inside it is in the water).
    pub water_zone: String,
    /// The bank or pool edge; lingering there is a warning.
    #[serde(default)]
    pub shore_zone: Option<String>,
    /// Seconds in the water before the red order opens.
    #[serde(default = "default_water_confirm")]
    pub confirm_s: Seconds,
    /// Seconds at the shore before the orange order opens.
    #[serde(default = "default_shore_linger")]
    pub shore_linger_s: Seconds,
    /// A person last seen in the water and not seen again for this long: possible drowning.
    #[serde(default = "default_vanish")]
    pub vanish_s: Seconds,
    /// Seconds without anybody in the zone before an order clears.
    #[serde(default = "default_water_clear")]
    pub clear_s: Seconds,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
    #[serde(default)]
    pub filter: FilterConfig,
}

fn default_water_confirm() -> Seconds {
    Seconds::of(1.0)
}
fn default_shore_linger() -> Seconds {
    Seconds::of(30.0)
}
fn default_vanish() -> Seconds {
    Seconds::of(5.0)
}
fn default_water_clear() -> Seconds {
    Seconds::of(10.0)
}

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
    config: WaterConfig,
    event_code: String,
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
    fn build(b: &Build) -> Built {
        let c: WaterConfig = b.params()?;
        let mut problems = Vec::new();
        let water = gather(&mut problems, b.zone("water_zone", &c.water_zone));
        let shore = gather(
            &mut problems,
            b.optional_zone("shore_zone", c.shore_zone.as_deref()),
        );
        let filter = gather(&mut problems, b.filter("filter", &c.filter));
        let (Some(water), Some(shore), Some(filter)) = (water, shore, filter) else {
            return Err(problems);
        };
        let (clear, cooldown) = (c.clear_s.secs(), c.cooldown_s.secs());
        Ok(Box::new(WaterRule {
            filter,
            in_water: Lifecycle::new(c.confirm_s.secs(), clear, cooldown),
            at_shore: Lifecycle::new(c.shore_linger_s.secs(), clear, cooldown),
            vanished: Lifecycle::new(0.0, 0.0, cooldown),
            event_code: b.event_code(WATER),
            config: c,
            water,
            shore,
            persons: HashMap::new(),
            missing: Vec::new(),
        }))
    }

    fn covers_zone(&self, id: &str) -> bool {
        self.water.id == id || self.shore.as_ref().is_some_and(|s| s.id == id)
    }
}

impl Rule for WaterRule {
    /// Whether anyone is in the water, lingering at the shore or missing, on the last frame.
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == WATER && zone.is_some_and(|z| self.covers_zone(z)))
            .then_some(self.in_water.holds || self.at_shore.holds || self.vanished.holds)
    }

    fn opening_time(&self) -> Duration {
        let c = &self.config;
        (c.confirm_s.duration())
            .max(c.shore_linger_s.duration())
            .max(c.vanish_s.duration())
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
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
        let vanish = self.config.vanish_s.duration();
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
        let hold = VANISHED_HOLD.max(self.config.clear_s.duration());
        self.missing.retain(|(t, _)| now.saturating_sub(*t) < hold);

        let mut outputs = Vec::new();
        let code = self.event_code.clone();
        let episodes: [(u64, Detail, Severity, &mut Lifecycle, Vec<ObservedObject>); 3] = [
            (0, IN_WATER, Severity::Red, &mut self.in_water, swimmers),
            (1, AT_SHORE, Severity::Orange, &mut self.at_shore, on_shore),
            (
                2,
                VANISHED,
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
                    kind: WATER,
                    detail: Some(detail),
                    zone: Some(if detail == AT_SHORE {
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
