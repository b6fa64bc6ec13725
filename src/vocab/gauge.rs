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
