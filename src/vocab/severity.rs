use serde::{Deserialize, Serialize};

/// Warning grade, lowest to highest.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Blue,
    Yellow,
    Orange,
    Red,
}

impl Severity {
    /// One grade up (red stays red): a problem that outlived its handling.
    pub fn escalated(&self) -> Severity {
        match self {
            Severity::Blue => Severity::Yellow,
            Severity::Yellow => Severity::Orange,
            Severity::Orange | Severity::Red => Severity::Red,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Blue => "blue",
            Severity::Yellow => "yellow",
            Severity::Orange => "orange",
            Severity::Red => "red",
        }
    }
}
