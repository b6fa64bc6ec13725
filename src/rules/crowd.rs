//! 人员聚集 crowd gathering: persons whose feet are inside a zone, at least `min_count` of them for
//! at least `hold_s`; cleared after `clear_s` below the threshold.

use std::time::Duration;

use super::{Incident, RuleInput, RuleOutput, Zone};
use crate::config::CrowdRuleConfig;
use crate::rules::{IncidentKind, ObservedObject};

pub struct CrowdRule {
    config: CrowdRuleConfig,
    zone: Zone,
    above_since: Option<Duration>,
    below_since: Option<Duration>,
    open: Option<OpenCrowd>,
}

struct OpenCrowd {
    reported_count: usize,
    reported_at: Duration,
}

/// A revision for a changed head count at most this often.
const MIN_UPDATE_INTERVAL: Duration = Duration::from_secs(10);

impl CrowdRule {
    pub fn new(config: CrowdRuleConfig, zone: Zone) -> Self {
        CrowdRule {
            config,
            zone,
            above_since: None,
            below_since: None,
            open: None,
        }
    }

    fn persons_in_zone(&self, input: &RuleInput) -> Vec<ObservedObject> {
        let memory = Duration::from_secs_f64(self.config.memory_s);
        let (w, h) = (input.frame_width as f64, input.frame_height as f64);
        input
            .tracks
            .iter()
            .filter(|t| &*t.label == "person")
            .filter(|t| input.pts.saturating_sub(t.last_seen) <= memory)
            .filter(|t| {
                let (x, y) = t.bbox.ground_point();
                self.zone.contains(x as f64 / w, y as f64 / h)
            })
            .map(ObservedObject::from_track)
            .collect()
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Option<RuleOutput> {
        let persons = self.persons_in_zone(input);
        let count = persons.len();
        let now = input.pts;
        let hold = Duration::from_secs_f64(self.config.hold_s);
        let clear = Duration::from_secs_f64(self.config.clear_s);
        if count >= self.config.min_count {
            self.below_since = None;
            let since = *self.above_since.get_or_insert(now);
            match &mut self.open {
                None if now.saturating_sub(since) >= hold => {
                    self.open = Some(OpenCrowd {
                        reported_count: count,
                        reported_at: now,
                    });
                    Some(RuleOutput::Opened(self.incident(persons)))
                }
                Some(open)
                    if significant_change(open.reported_count, count)
                        && now.saturating_sub(open.reported_at) >= MIN_UPDATE_INTERVAL =>
                {
                    open.reported_count = count;
                    open.reported_at = now;
                    Some(RuleOutput::Updated(self.incident(persons)))
                }
                _ => None,
            }
        } else {
            self.above_since = None;
            self.open.as_ref()?;
            let since = *self.below_since.get_or_insert(now);
            if now.saturating_sub(since) >= clear {
                self.open = None;
                self.below_since = None;
                Some(RuleOutput::Cleared(self.incident(persons)))
            } else {
                None
            }
        }
    }

    fn incident(&self, objects: Vec<ObservedObject>) -> Incident {
        let count = objects.len();
        Incident {
            kind: IncidentKind::Crowd,
            zone: Some(self.zone.clone()),
            severity: self.config.severity,
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
