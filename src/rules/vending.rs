//! 占道经营 street vending: in a no-vending zone, at least `min_persons` stationary persons
//! together with a stall-like object (umbrella, table, chair, cart…) for `dwell_s`. With
//! `require_stall = false` stationary persons alone count. Clears after `clear_s` without them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::{default_cooldown, default_true, Stationary};
use super::registry::gather;
use super::{
    Build, Built, Filter, Incident, Lifecycle, MotionHistory, Phase, Rule, RuleInput, RuleOutput,
    RuleType, Transition, Zone,
};
use crate::config::FilterConfig;
use crate::rules::{IncidentKind, ObservedObject};
use crate::track::TrackedObject;
use crate::vocab::{KindInfo, Seconds, Severity, KINDS};

pub const VENDING: IncidentKind = IncidentKind::registered("vending");

#[linkme::distributed_slice(KINDS)]
static VENDING_ROW: KindInfo = KindInfo {
    name: "vending",
    grace_s: Some(300.0),
    rank: 10,
    deadline_h: 2.0,
    label_zh: "占道经营",
    label_en: "street vending",
    event_code: "0501",
    prompt_zh: Some("此处禁止摆摊，请立即离开。"),
    prompt_en: Some("Street vending is not allowed here. Please leave now."),
    title_zh: "占道经营（流动摊贩）",
    title_en: "Street vending",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static VENDING_RULE: RuleType = RuleType {
    name: "vending",
    kinds: &[VENDING],
    schema: || schemars::schema_for!(VendingConfig),
    build: VendingRule::build,
};

/// `kind = "vending"`: stationary persons with stall-like objects in a no-vending zone.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VendingConfig {
    /// The no-vending zone.
    pub zone: String,
    /// Labels that look like a stall (COCO: umbrella, dining_table, chair, bicycle, motorcycle…).
    #[serde(default = "default_stall_labels")]
    pub stall_labels: Vec<String>,
    /// Whether a stall object is required; `false` lets stationary persons alone count.
    #[serde(default = "default_true")]
    pub require_stall: bool,
    /// Stationary persons needed.
    #[serde(default = "default_vending_persons")]
    pub min_persons: usize,
    /// Seconds the stall must persist before an order opens.
    #[serde(default = "default_vending_dwell")]
    pub dwell_s: Seconds,
    /// Seconds gone before the order clears.
    #[serde(default = "default_vending_clear")]
    pub clear_s: Seconds,
    #[serde(default = "default_vending_severity")]
    pub severity: Severity,
    #[serde(default)]
    pub stationary: Stationary,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
    #[serde(default)]
    pub filter: FilterConfig,
}

fn default_stall_labels() -> Vec<String> {
    [
        "umbrella",
        "dining_table",
        "chair",
        "bicycle",
        "motorcycle",
        "suitcase",
    ]
    .map(String::from)
    .to_vec()
}
fn default_vending_persons() -> usize {
    1
}
fn default_vending_dwell() -> Seconds {
    Seconds::of(180.0)
}
fn default_vending_clear() -> Seconds {
    Seconds::of(60.0)
}
fn default_vending_severity() -> Severity {
    Severity::Blue
}

pub struct VendingRule {
    config: VendingConfig,
    zone: Zone,
    event_code: String,
    filter: Filter,
    motion: MotionHistory,
    life: Lifecycle,
}

impl VendingRule {
    fn build(b: &Build) -> Built {
        let config: VendingConfig = b.params()?;
        let mut problems = Vec::new();
        if config.require_stall && config.stall_labels.is_empty() {
            problems.push(b.problem(
                "stall_labels",
                "name at least one stall label, or set require_stall = false",
            ));
        }
        let zone = gather(&mut problems, b.zone("zone", &config.zone));
        let filter = gather(&mut problems, b.filter("filter", &config.filter));
        match (zone, filter) {
            (Some(zone), Some(filter)) if problems.is_empty() => {
                let code = b.event_code(VENDING);
                Ok(Box::new(VendingRule::new(config, zone, filter, code)))
            }
            _ => Err(problems),
        }
    }

    fn new(config: VendingConfig, zone: Zone, filter: Filter, event_code: String) -> Self {
        // Persons are judged stationary only after a whole window: count the dwell from its start.
        let confirm = (config.dwell_s.secs() - config.stationary.window_s.secs()).max(0.0);
        VendingRule {
            filter,
            motion: MotionHistory::new(&config.stationary),
            life: Lifecycle::new(confirm, config.clear_s.secs(), config.cooldown_s.secs()),
            config,
            zone,
            event_code,
        }
    }
}

impl Rule for VendingRule {
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == VENDING && zone == Some(self.zone.id.as_str())).then_some(self.life.holds)
    }

    fn opening_time(&self) -> Duration {
        self.config.dwell_s.duration() + self.config.stationary.window_s.duration()
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
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
                kind: VENDING,
                detail: None,
                zone: Some(self.zone.clone()),
                severity: self.config.severity,
                event_code: self.event_code.clone(),
                count: still.len(),
                objects,
            },
        )]
    }
}
