//! Rules: turn tracked objects and region detections into incidents.
//!
//! Each camera has a [`RuleEngine`] holding one state machine per configured rule. Per frame it
//! takes a [`RuleInput`] and returns [`IncidentEvent`]s: an incident *opens* once, may be *updated*
//! when it changes meaningfully, and *clears* once. Pure: no IO, time is the frame's stream time.

mod crowd;
mod fire;
mod zone;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{CameraConfig, RuleConfig};
use crate::detect::{BBox, Detection};
use crate::track::TrackedObject;
pub use crowd::CrowdRule;
pub use fire::FireRule;
pub use zone::Zone;

/// Warning grade, lowest to highest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Blue,
    Yellow,
    Orange,
    Red,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Blue => "blue",
            Severity::Yellow => "yellow",
            Severity::Orange => "orange",
            Severity::Red => "red",
        }
    }
}

/// What kind of problem an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// 人员聚集
    Crowd,
    /// 烟火 (open flame)
    Fire,
}

impl IncidentKind {
    /// City-management event code used when the rule sets none. Crowd and fire have no national
    /// code in the 数字化城市管理 classification: these are local extension codes (21xx).
    pub fn default_event_code(&self) -> &'static str {
        match self {
            IncidentKind::Crowd => "2101",
            IncidentKind::Fire => "2103",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            IncidentKind::Crowd => "人员聚集",
            IncidentKind::Fire => "烟火",
        }
    }
}

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
pub struct RuleInput<'a> {
    pub pts: Duration,
    pub captured_at: DateTime<Utc>,
    pub frame_width: u32,
    pub frame_height: u32,
    /// Confirmed tracks (tracked now or recently lost).
    pub tracks: &'a [TrackedObject],
    /// Detections of region models (fire, smoke) when one ran on this frame; `None` otherwise.
    pub regions: Option<&'a [Detection]>,
}

/// What a rule says about its incident.
#[derive(Debug, Clone)]
pub struct Incident {
    pub kind: IncidentKind,
    pub zone: Option<Zone>,
    pub severity: Severity,
    pub event_code: String,
    pub count: usize,
    pub objects: Vec<ObservedObject>,
}

#[derive(Debug, Clone)]
pub enum RuleOutput {
    Opened(Incident),
    Updated(Incident),
    Cleared(Incident),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Opened,
    Updated,
    Cleared,
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

enum Rule {
    Crowd(CrowdRule),
    Fire(FireRule),
}

/// All rules of one camera.
pub struct RuleEngine {
    rules: Vec<(Rule, Option<u64>)>,
    next_incident: u64,
}

impl RuleEngine {
    /// Builds the rules of a validated camera config.
    pub fn new(camera: &CameraConfig) -> Self {
        let zone = |id: &str| camera.zone(id).map(Zone::from_config);
        let rules = camera
            .rules
            .iter()
            .filter_map(|r| match r {
                RuleConfig::Crowd(c) => {
                    Some(Rule::Crowd(CrowdRule::new(c.clone(), zone(&c.zone)?)))
                }
                RuleConfig::Fire(f) => Some(Rule::Fire(FireRule::new(
                    f.clone(),
                    f.zone.as_deref().and_then(zone),
                ))),
            })
            .map(|r| (r, None))
            .collect();
        RuleEngine {
            rules,
            next_incident: 1,
        }
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<IncidentEvent> {
        let mut events = Vec::new();
        for (rule, open_id) in &mut self.rules {
            let out = match rule {
                Rule::Crowd(r) => r.evaluate(input),
                Rule::Fire(r) => r.evaluate(input),
            };
            let Some(out) = out else { continue };
            let (phase, incident) = match out {
                RuleOutput::Opened(i) => (Phase::Opened, i),
                RuleOutput::Updated(i) => (Phase::Updated, i),
                RuleOutput::Cleared(i) => (Phase::Cleared, i),
            };
            let incident_id = match phase {
                Phase::Opened => {
                    let id = self.next_incident;
                    self.next_incident += 1;
                    *open_id = Some(id);
                    id
                }
                Phase::Updated => match open_id {
                    Some(id) => *id,
                    None => continue,
                },
                Phase::Cleared => match open_id.take() {
                    Some(id) => id,
                    None => continue,
                },
            };
            events.push(IncidentEvent {
                incident_id,
                phase,
                incident,
                pts: input.pts,
                at: input.captured_at,
            });
        }
        events
    }
}

#[cfg(test)]
mod tests;
