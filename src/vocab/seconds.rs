//! A duration as a config writes it: seconds, `30` or `2.5`. Typed when the file is read, so a
//! NaN, an infinity (TOML has both), a negative or an absurd value is an error at its key —
//! never a panic in a camera thread when it meets `Duration::from_secs_f64`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

/// The longest duration a config may give: a year. Anything longer is a typo.
pub const MAX_SECONDS: f64 = 365.0 * 86_400.0;

/// A finite duration of 0 to [`MAX_SECONDS`] seconds.
#[derive(Clone, Copy, PartialEq, PartialOrd, Default, Serialize)]
#[serde(transparent)]
pub struct Seconds(f64);

impl Seconds {
    /// A duration known to be in range (a default written in the code).
    pub const fn of(seconds: f64) -> Seconds {
        assert!(seconds >= 0.0 && seconds <= MAX_SECONDS);
        Seconds(seconds)
    }

    /// Checks a value read from outside.
    pub fn new(seconds: f64) -> Result<Seconds, String> {
        if seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds) {
            Ok(Seconds(seconds))
        } else {
            Err(format!(
                "{seconds} is not a duration: give 0 to {MAX_SECONDS} seconds"
            ))
        }
    }

    pub fn secs(self) -> f64 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs_f64(self.0)
    }
}

impl fmt::Debug for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Seconds::new(f64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Seconds {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Seconds".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "number",
            "minimum": 0.0,
            "maximum": MAX_SECONDS,
            "description": "seconds",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_negative_and_absurd_durations_are_refused_when_read() {
        for bad in ["nan", "inf", "-inf", "-1.0", "1e12"] {
            let err = toml::from_str::<toml::Table>(&format!("x = {bad}"))
                .unwrap()
                .remove("x")
                .unwrap()
                .try_into::<Seconds>()
                .unwrap_err();
            assert!(err.to_string().contains("not a duration"), "{bad}: {err}");
        }
        let ok: Seconds = toml::Value::Integer(30).try_into().unwrap();
        assert_eq!(ok.duration(), Duration::from_secs(30));
    }
}
