//! The rule kinds: each rule file registers one [`RuleType`] into [`RULE_TYPES`] — its name in
//! the config (`kind = "crowd"`), the incident kinds it raises, its config's schema and a `build`
//! that reads the rule's own keys and returns the ready rule or every problem at its key path.
//! The engine, `doctor`, a reload and the docs test all go through the same build, so a kind is
//! added by adding its file and nothing else knows it.

use std::time::Duration;

use serde::de::DeserializeOwned;

use super::{Filter, IncidentKind, RuleInput, RuleOutput, Zone};
use crate::config::{CameraConfig, Config, FilterConfig, KeyPath, Problem, RuleConfig};

/// Every rule kind, from wherever it is declared (`#[linkme::distributed_slice(RULE_TYPES)]`).
#[linkme::distributed_slice]
pub static RULE_TYPES: [RuleType];

/// A built rule, or every problem of its config.
pub type Built = Result<Box<dyn Rule>, Vec<Problem>>;

/// One kind of rule, as its file registers it.
pub struct RuleType {
    /// `kind = "…"` in `[[cameras.rules]]`.
    pub name: &'static str,
    /// The incident kinds its orders carry (fire: fire and smoke).
    pub kinds: &'static [IncidentKind],
    /// The schema of the rule's own keys (the docs test compares `docs/rules.md` with it).
    pub schema: fn() -> schemars::Schema,
    /// Builds the rule from its config on a camera.
    pub build: fn(&Build) -> Built,
}

/// What a rule does on each frame of its camera, and what others may ask it.
pub trait Rule: Send {
    /// One frame's facts in (already masked and scheduled), the rule's episode changes out.
    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput>;

    /// Whether this rule raises `kind` in `zone` (`None`: not this rule's) and, if so, whether
    /// it saw its problem on the last frame it judged. What a camera re-check samples.
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool>;

    /// Whether the rule reads the object models (persons, vehicles) rather than regions (fire,
    /// smoke) or pixels: it then judges only frames an object model ran on.
    fn reads_objects(&self) -> bool {
        true
    }

    /// The longest it takes from a problem appearing to its order opening: how long a restarted
    /// camera waits for the orders an earlier run left open to be seen again.
    fn opening_time(&self) -> Duration;

    /// Live measurements for the status and metrics: (zone or line, what, value).
    fn gauges(&self) -> Vec<Gauge> {
        Vec::new()
    }
}

pub use crate::vocab::Gauge;

/// What a rule's build gets: the rule's config, its camera, the camera's ground geometry and
/// where in the file the rule is.
pub struct Build<'a> {
    pub rule: &'a RuleConfig,
    pub camera: &'a CameraConfig,
    pub locator: &'a crate::geo::Locator,
    pub at: KeyPath,
}

impl Build<'_> {
    /// The rule's own keys as its typed config; every type error or unknown key at its key.
    pub fn params<T: DeserializeOwned>(&self) -> Result<T, Vec<Problem>> {
        let value = toml::Value::Table(self.rule.params.clone());
        serde_path_to_error::deserialize(value).map_err(|e| {
            let mut key = self.at.clone();
            for segment in e.path().iter() {
                use serde_path_to_error::Segment as S;
                key = match segment {
                    S::Map { key: k } => key.key(k),
                    S::Seq { index } => key.index(*index),
                    S::Enum { variant } => key.key(variant),
                    S::Unknown => key,
                };
            }
            vec![Problem::new(key, e.into_inner().to_string())]
        })
    }

    /// The camera's zone named by the rule's key `key`.
    pub fn zone(&self, key: &str, id: &str) -> Result<Zone, Vec<Problem>> {
        self.camera.zone(id).map(Zone::from_config).ok_or_else(|| {
            vec![Problem::new(
                self.at.clone().key(key),
                format!("zone {id:?} is not defined on camera {:?}", self.camera.id),
            )]
        })
    }

    /// The zone named by an optional key, if it is set.
    pub fn optional_zone(&self, key: &str, id: Option<&str>) -> Result<Option<Zone>, Vec<Problem>> {
        id.map(|id| self.zone(key, id)).transpose()
    }

    /// Ground area of a zone in m², when the camera is geo-calibrated.
    pub fn area(&self, id: &str) -> Option<f64> {
        self.camera
            .zone(id)
            .and_then(|z| self.locator.zone_area(&z.polygon))
    }

    /// Whether the camera knows its ground geometry (a calibration or a pose).
    pub fn has_ground(&self) -> bool {
        self.camera.calibration.is_some() || self.camera.pose.is_some()
    }

    /// A problem at the rule's key `key` (dotted for nested keys: `stationary.window_s`).
    pub fn problem(&self, key: &str, message: impl Into<String>) -> Problem {
        let mut at = self.at.clone();
        for part in key.split('.') {
            at = at.key(part);
        }
        Problem::new(at, message)
    }

    /// The rule's event code, or `kind`'s default.
    pub fn event_code(&self, kind: IncidentKind) -> String {
        self.rule
            .event_code
            .clone()
            .unwrap_or_else(|| kind.default_event_code().into())
    }

    /// A checked object filter (scores and areas are fractions).
    pub fn filter(&self, key: &str, config: &FilterConfig) -> Result<Filter, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut fraction = |k: String, v: f32| {
            if !(0.0..=1.0).contains(&v) {
                problems.push(self.problem(&k, "must be within 0..1"));
            }
        };
        fraction(format!("{key}.min_score"), config.min_score);
        fraction(format!("{key}.min_area"), config.min_area);
        for (label, own) in &config.labels {
            if let Some(v) = own.min_score {
                fraction(format!("{key}.labels.{label}.min_score"), v);
            }
            if let Some(v) = own.min_area {
                fraction(format!("{key}.labels.{label}.min_area"), v);
            }
        }
        if problems.is_empty() {
            Ok(Filter::new(config))
        } else {
            Err(problems)
        }
    }
}

/// Keeps a build step's problems in `problems` and its value, if it had one: a build reports
/// every problem of a rule, not the first.
pub fn gather<T>(problems: &mut Vec<Problem>, step: Result<T, Vec<Problem>>) -> Option<T> {
    step.map_err(|found| problems.extend(found)).ok()
}

/// The rule type named `name`.
pub fn rule_type(name: &str) -> Option<&'static RuleType> {
    RULE_TYPES.iter().find(|t| t.name == name)
}

/// Every rule type's name, sorted (for messages and docs).
pub fn rule_type_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = RULE_TYPES.iter().map(|t| t.name).collect();
    names.sort_unstable();
    names
}

/// Builds one rule of a camera.
pub fn build_rule(
    camera: &CameraConfig,
    index: usize,
    locator: &crate::geo::Locator,
    at: KeyPath,
) -> Built {
    let rule = &camera.rules[index];
    let Some(kind) = rule_type(&rule.kind) else {
        return Err(vec![Problem::new(
            at.key("kind"),
            format!(
                "unknown rule kind {:?}; the kinds are {}",
                rule.kind,
                rule_type_names().join(", ")
            ),
        )]);
    };
    (kind.build)(&Build {
        rule,
        camera,
        locator,
        at,
    })
}

/// The rules' checks of a parsed config: every rule of every camera built as a dry run.
pub fn check(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (c, camera) in config.cameras.iter().enumerate() {
        // A calibration that does not solve is geo's problem to report; areas are then unknown.
        let locator = crate::geo::Locator::for_camera(camera);
        for i in 0..camera.rules.len() {
            let at = KeyPath::default()
                .key("cameras")
                .index(c)
                .key("rules")
                .index(i);
            if let Err(found) = build_rule(camera, i, &locator, at) {
                problems.extend(found);
            }
        }
        // A preset's own rules, built among the camera's zones and the preset's.
        for k in 0..camera.presets.len() {
            let view = camera.at_preset(k);
            for i in camera.rules.len()..view.rules.len() {
                let at = KeyPath::default()
                    .key("cameras")
                    .index(c)
                    .key("rules")
                    .index(i);
                if let Err(found) = build_rule(&view, i, &locator, at) {
                    problems.extend(found.into_iter().map(|p| Problem {
                        key: camera.preset_key(c, k, p.key),
                        ..p
                    }));
                }
            }
        }
    }
    problems
}
