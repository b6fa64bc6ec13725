//! 人员聚集 crowd gathering: persons whose feet are inside a zone, counted from each model run's
//! detections (tracks are for identity, not for counting). The count is the median over
//! `smooth_s`, so one missed or doubled detection neither opens nor closes an order; at least
//! `min_count` for `hold_s` opens it, below for `clear_s` clears it, and the zone then rests for
//! `cooldown_s`. Severity follows the count tiers and only rises.

use std::collections::VecDeque;
use std::time::Duration;

use super::{median, Filter, Incident, Lifecycle, Phase, RuleInput, RuleOutput, Transition, Zone};
use crate::config::CrowdRuleConfig;
use crate::rules::{IncidentKind, ObservedObject, Severity};

pub struct CrowdRule {
    config: CrowdRuleConfig,
    zone: Zone,
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
    /// Whether the rule's condition held on the last frame.
    pub fn present(&self) -> bool {
        self.life.holds
    }
    /// The smoothed head count in the zone as of the last model run.
    pub fn count(&self) -> usize {
        self.count
    }
    pub fn zone_id(&self) -> &str {
        &self.zone.id
    }

    pub fn new(config: CrowdRuleConfig, zone: Zone, area_m2: Option<f64>) -> Self {
        CrowdRule {
            area_m2,
            filter: Filter::new(&config.filter),
            life: Lifecycle::new(config.hold_s, config.clear_s, config.cooldown_s),
            config,
            zone,
            counts: VecDeque::new(),
            reported: None,
            count: 0,
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

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let persons = self.persons_in_zone(input);
        let now = input.pts;
        self.counts.push_back((now, persons.len()));
        let window = Duration::from_secs_f64(self.config.smooth_s);
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

    fn incident(&self, objects: Vec<ObservedObject>, count: usize, severity: Severity) -> Incident {
        Incident {
            kind: IncidentKind::Crowd,
            detail: None,
            zone: Some(self.zone.clone()),
            severity,
            event_code: self
                .config
                .event_code
                .clone()
                .unwrap_or_else(|| IncidentKind::Crowd.default_event_code().into()),
            count,
            objects,
        }
    }
}

/// A head count change worth a new revision: at least 2 persons and at least 20 %.
fn significant_change(reported: usize, now: usize) -> bool {
    let diff = reported.abs_diff(now);
    diff >= 2 && diff * 5 >= reported
}
