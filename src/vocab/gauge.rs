//! A rule's live measurement — a zone's head count, a lane's occupancy, a line's crossings one
//! way — as the status and the metrics carry it. Here, below every stage, so the rules make
//! them and health and the uplink show them without knowing any rule.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    /// The zone or line it is about.
    pub place: String,
    /// What is measured: `persons`, `occupancy`, `crossed_forward`, …
    pub what: String,
    pub value: f64,
    /// A count since the camera started (Prometheus counter), not a level.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub total: bool,
}

impl Gauge {
    /// A level: what it is now.
    pub fn level(place: &str, what: &str, value: f64) -> Gauge {
        Gauge {
            place: place.to_owned(),
            what: what.to_owned(),
            value,
            total: false,
        }
    }

    /// A count since the camera started.
    pub fn total(place: &str, what: &str, value: u64) -> Gauge {
        Gauge {
            total: true,
            ..Gauge::level(place, what, value as f64)
        }
    }
}

/// A camera's detection rate of one model: what it asked for, what the compute plan gave it,
/// and what it got (frames the model ran on, a second, over the last few seconds). `effective`
/// below `planned` is motion gating at work (a still picture) or a box behind its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectRate {
    pub model: String,
    pub priority: String,
    pub wanted: f64,
    pub planned: f64,
    pub effective: f64,
}
