//! 人员聚集 crowd gathering: persons whose feet are inside a zone, counted from each model run's
//! detections (tracks are for identity, not for counting). The count is the median over
//! `smooth_s`, so one missed or doubled detection neither opens nor closes an order; at least
//! `min_count` for `hold_s` opens it, below for `clear_s` clears it, and the zone then rests for
//! `cooldown_s`. Severity follows the count tiers and only rises.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::default_cooldown;
use super::registry::gather;
use super::{
    median, Build, Built, Filter, Gauge, Incident, Lifecycle, Phase, Rule, RuleInput, RuleOutput,
    RuleType, Transition, Zone,
};
use crate::config::{FilterConfig, Problem};
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::vocab::{KindInfo, Seconds, KINDS};

pub const CROWD: IncidentKind = IncidentKind::registered("crowd");

#[linkme::distributed_slice(KINDS)]
static CROWD_ROW: KindInfo = KindInfo {
    name: "crowd",
    grace_s: Some(180.0),
    rank: 30,
    deadline_h: 1.0,
    label_zh: "人员聚集",
    label_en: "crowd gathering",
    event_code: "2101",
    prompt_zh: Some("此处人员密集，请勿聚集，有序离开。"),
    prompt_en: Some("This area is crowded. Please do not gather, and move on."),
    title_zh: "人员聚集 {n} 人",
    title_en: "Crowd of {n}",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static CROWD_RULE: RuleType = RuleType {
    name: "crowd",
    kinds: &[CROWD],
    schema: || schemars::schema_for!(CrowdConfig),
    build: CrowdRule::build,
};

/// A severity reached at a head count.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrowdTier {
    pub min_count: usize,
    pub severity: Severity,
}

/// `kind = "crowd"`: persons inside a zone ≥ `min_count` for ≥ `hold_s`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CrowdConfig {
    /// Zone the persons are counted in (their feet, the bottom-centre of the box).
    pub zone: String,
    /// Persons needed to count as a crowd.
    pub min_count: usize,
    /// Also require this many persons per m² of the zone's ground area (the camera must be
    /// geo-calibrated: `calibration` or `pose`). A crowd is as much about density as numbers:
    /// 30 people on a square are a stroll, on a footbridge a crush.
    #[serde(default)]
    pub min_density: Option<f64>,
    /// Seconds the (smoothed) count must stay at or above `min_count` before an order opens.
    #[serde(default = "default_crowd_hold")]
    pub hold_s: Seconds,
    /// Seconds below `min_count` before the order is cleared.
    #[serde(default = "default_crowd_clear")]
    pub clear_s: Seconds,
    /// A person still counts this long after its last detection (rides over missed frames).
    #[serde(default = "default_crowd_memory")]
    pub memory_s: Seconds,
    /// The count is the median over this many seconds, so one bad frame neither opens nor closes.
    #[serde(default = "default_crowd_smooth")]
    pub smooth_s: Seconds,
    /// Severity below the first tier.
    #[serde(default = "default_crowd_severity")]
    pub severity: Severity,
    /// Higher severities at higher counts, e.g. `[{ min_count = 30, severity = "orange" }]`.
    #[serde(default)]
    pub tiers: Vec<CrowdTier>,
    /// Seconds after a clear before the same zone can raise a new order.
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
    /// Persons below this score or size do not count.
    #[serde(default)]
    pub filter: FilterConfig,
}

fn default_crowd_hold() -> Seconds {
    Seconds::of(10.0)
}
fn default_crowd_clear() -> Seconds {
    Seconds::of(15.0)
}
fn default_crowd_memory() -> Seconds {
    Seconds::of(1.0)
}
fn default_crowd_smooth() -> Seconds {
    Seconds::of(2.0)
}
fn default_crowd_severity() -> Severity {
    Severity::Yellow
}

pub struct CrowdRule {
    config: CrowdConfig,
    zone: Zone,
    event_code: String,
    /// Ground area of the zone, m², when the camera is geo-calibrated.
    area_m2: Option<f64>,
    filter: Filter,
    counts: VecDeque<(Duration, usize)>,
    life: Lifecycle,
    reported: Option<Reported>,
    /// The smoothed count of the last evaluated frame.
    count: usize,
}

struct Reported {
    count: usize,
    severity: Severity,
    at: Duration,
}

/// A revision for a changed head count at most this often.
const MIN_UPDATE_INTERVAL: Duration = Duration::from_secs(10);

impl CrowdRule {
    fn build(b: &Build) -> Built {
        let c: CrowdConfig = b.params()?;
        let mut problems = Vec::new();
        if c.min_count == 0 {
            problems.push(b.problem("min_count", "must be at least 1"));
        }
        if let Some(d) = c.min_density {
            if !(d > 0.0 && d < 20.0) {
                problems.push(b.problem("min_density", "must be within 0..20 persons per m²"));
            } else if !b.has_ground() {
                problems.push(b.problem(
                    "min_density",
                    "needs the camera's ground geometry: add a calibration (ground control points) or a pose",
                ));
            }
        }
        for (t, tier) in c.tiers.iter().enumerate() {
            if tier.min_count < c.min_count {
                problems.push(Problem::new(
                    b.at.clone().key("tiers").index(t),
                    "a tier's min_count must be at least the rule's min_count",
                ));
            }
        }
        let zone = gather(&mut problems, b.zone("zone", &c.zone));
        let filter = gather(&mut problems, b.filter("filter", &c.filter));
        match (zone, filter) {
            (Some(zone), Some(filter)) if problems.is_empty() => Ok(Box::new(CrowdRule {
                area_m2: b.area(&c.zone),
                filter,
                life: Lifecycle::new(c.hold_s.secs(), c.clear_s.secs(), c.cooldown_s.secs()),
                event_code: b.event_code(CROWD),
                config: c,
                zone,
                counts: VecDeque::new(),
                reported: None,
                count: 0,
            })),
            _ => Err(problems),
        }
    }

    /// The persons this frame's detections put in the zone (feet inside), at the rule's score
    /// floor. Counted from detections, not tracks: a partly hidden person in a group scores
    /// 0.3–0.6 and may never start a track, but is as much a part of the crowd.
    fn persons_in_zone(&self, input: &RuleInput) -> Vec<ObservedObject> {
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        input
            .detections
            .unwrap_or_default()
            .iter()
            .filter(|d| {
                &*d.label == "person" && self.filter.accepts(&d.label, d.score, &d.bbox, w, h)
            })
            .filter(|d| {
                let (x, y) = d.bbox.ground_point();
                self.zone.contains((x / w) as f64, (y / h) as f64)
            })
            .map(|d| self.identified(d, input))
            .collect()
    }

    /// The detection as an incident object, with the id of the track it belongs to when one
    /// does (the photo labels it).
    fn identified(&self, d: &crate::detect::Detection, input: &RuleInput) -> ObservedObject {
        let mut o = ObservedObject::from_detection(d);
        o.track_id = input
            .tracks
            .iter()
            .find(|t| t.last_seen == input.pts && t.bbox == d.bbox)
            .map(|t| t.track_id);
        o
    }

    fn severity(&self, count: usize) -> Severity {
        self.config
            .tiers
            .iter()
            .filter(|t| count >= t.min_count)
            .map(|t| t.severity)
            .fold(self.config.severity, Severity::max)
    }

    fn incident(&self, objects: Vec<ObservedObject>, count: usize, severity: Severity) -> Incident {
        Incident {
            kind: CROWD,
            detail: None,
            zone: Some(self.zone.clone()),
            severity,
            event_code: self.event_code.clone(),
            count,
            objects,
        }
    }
}

impl Rule for CrowdRule {
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == CROWD && zone == Some(self.zone.id.as_str())).then_some(self.life.holds)
    }

    fn opening_time(&self) -> Duration {
        self.config.hold_s.duration() + self.config.smooth_s.duration()
    }

    /// The smoothed head count in the zone as of the last model run.
    fn gauges(&self) -> Vec<Gauge> {
        vec![Gauge::level(&self.zone.id, "persons", self.count as f64)]
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let persons = self.persons_in_zone(input);
        let now = input.pts;
        self.counts.push_back((now, persons.len()));
        let window = self.config.smooth_s.duration();
        while self
            .counts
            .front()
            .is_some_and(|(t, _)| now.saturating_sub(*t) > window)
        {
            self.counts.pop_front();
        }
        let mut recent: Vec<usize> = self.counts.iter().map(|(_, c)| *c).collect();
        let count = median(&mut recent);
        self.count = count;
        let dense_enough = match (self.config.min_density, self.area_m2) {
            (Some(min), Some(area)) if area > 0.0 => count as f64 / area >= min,
            _ => true,
        };
        let crowded = count >= self.config.min_count && dense_enough;
        let out = match self.life.step(crowded, now) {
            Transition::Open => Some(Phase::Opened),
            Transition::Clear => Some(Phase::Cleared),
            Transition::None if self.life.is_open() => {
                let severity = self.severity(count);
                self.reported.as_ref().and_then(|r| {
                    let changed = severity > r.severity
                        || (significant_change(r.count, count)
                            && now.saturating_sub(r.at) >= MIN_UPDATE_INTERVAL);
                    (changed && crowded).then_some(Phase::Updated)
                })
            }
            Transition::None => None,
        };
        let Some(phase) = out else { return Vec::new() };
        let severity = self
            .reported
            .as_ref()
            .map_or(Severity::Blue, |r| r.severity)
            .max(self.severity(count));
        self.reported = match phase {
            Phase::Cleared => None,
            _ => Some(Reported {
                count,
                severity,
                at: now,
            }),
        };
        vec![RuleOutput::new(
            0,
            phase,
            self.incident(persons, count, severity),
        )]
    }
}

/// A head count change worth a new revision: at least 2 persons and at least 20 %.
fn significant_change(reported: usize, now: usize) -> bool {
    let diff = reported.abs_diff(now);
    diff >= 2 && diff * 5 >= reported
}
