//! Helpers for the rule kinds' own tests: a camera built from TOML and one frame's input from
//! synthetic tracks, so each kind's tests say only what is in the scene.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use image::RgbImage;

use super::{RuleEngine, RuleInput};
use crate::detect::Detection;
use crate::track::TrackedObject;

/// The engine of one camera `cam` whose zones and rules are `body` (TOML, `[[cameras.zones]]`
/// and `[[cameras.rules]]`); camera faults off, +08:00.
pub fn engine(body: &str) -> RuleEngine {
    let text = format!(
        "[box]\nsite = \"s\"\nid = \"b\"\n[[cameras]]\nid = \"cam\"\nsource = \"test:ball\"\nmodels = [\"m\"]\nlocation = {{ lat = 30.0, lon = 120.0 }}\nfaults = {{ enabled = false }}\n{body}"
    );
    let config = crate::config::parse(&text, std::path::Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    RuleEngine::new(&config.cameras[0], FixedOffset::east_opt(8 * 3600).unwrap())
        .unwrap_or_else(|p| panic!("{p:?}"))
}

/// 2026-11-23 10:00 (+08:00), plus `t` seconds.
pub fn at(t: f64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
        + chrono::Duration::milliseconds((t * 1000.0) as i64)
}

/// The object model's detections behind `tracks`.
pub fn detections(tracks: &[TrackedObject]) -> Vec<Detection> {
    tracks
        .iter()
        .map(|t| Detection {
            label: t.label.clone(),
            score: t.score,
            bbox: t.bbox,
            model: Arc::from("m"),
        })
        .collect()
}

/// Frame `t` (seconds) of a `width`×`height` camera on which the object model ran.
pub fn input<'a>(
    t: f64,
    (width, height): (u32, u32),
    image: Option<&'a RgbImage>,
    tracks: &'a [TrackedObject],
    detections: &'a [Detection],
) -> RuleInput<'a> {
    RuleInput {
        pts: Duration::from_secs_f64(t),
        captured_at: at(t),
        frame_width: width,
        frame_height: height,
        image,
        tracks,
        detections: Some(detections),
        regions: None,
    }
}
