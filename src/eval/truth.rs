//! The ground-truth file: which clips, through which config, should raise which orders.
//!
//! ```toml
//! [[clips]]
//! video = "../../shared/media/video/group_gathering.mp4"   # relative to this file
//! config = "../examples/group_gathering.toml"
//! camera = "group_gathering"                               # default: the config's first camera
//! note = "six people stand together from the first second"
//! expect = [{ kind = "crowd", opens = [3.0, 10.0], count = [5, 9] }]
//! ```
//!
//! Every order a clip raises must match one expectation (kind, and severity/detail when given,
//! opened within `opens` stream seconds, its first count within `count`); any other order is a
//! false alarm, except kinds listed in `ignore`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::rules::{Detail, IncidentKind, Severity};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundTruth {
    pub clips: Vec<Clip>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clip {
    /// The video file (relative to the ground-truth file).
    pub video: PathBuf,
    /// The config whose camera replays it (relative to the ground-truth file).
    pub config: PathBuf,
    /// Camera id in that config; default its first camera.
    #[serde(default)]
    pub camera: Option<String>,
    /// What the clip shows, for the reader of the scorecard.
    #[serde(default)]
    pub note: Option<String>,
    /// Orders the clip must raise; none for a clip that must stay quiet.
    #[serde(default)]
    pub expect: Vec<Expected>,
    /// Kinds whose orders are neither expected nor false alarms here.
    #[serde(default)]
    pub ignore: Vec<IncidentKind>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    pub kind: IncidentKind,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub detail: Option<Detail>,
    /// Stream seconds `[from, until]` within which the order must open; `from` is when the
    /// incident becomes visible (time to order is measured from it).
    pub opens: [f64; 2],
    /// Range of the order's `count` at opening (persons in a crowd).
    #[serde(default)]
    pub count: Option<[usize; 2]>,
}

impl Clip {
    /// A name for the scorecard: the config's file stem (examples are named after their clip).
    pub fn name(&self) -> String {
        self.config
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.config.display().to_string())
    }
}

/// Reads a ground-truth file; paths in it become relative to the working directory.
pub fn load(path: &Path) -> Result<GroundTruth, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the ground truth {}: {e}", path.display()))?;
    let mut truth: GroundTruth = toml::from_str(&text).map_err(|e| {
        format!(
            "{}: {}",
            path.display(),
            e.message().trim().replace('\n', " ")
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    for (i, clip) in truth.clips.iter_mut().enumerate() {
        clip.video = base.join(&clip.video);
        clip.config = base.join(&clip.config);
        for (j, e) in clip.expect.iter().enumerate() {
            let ordered = e.opens[0] <= e.opens[1];
            if !ordered {
                return Err(format!(
                    "{}: clips[{i}].expect[{j}].opens: [from, until] with from <= until",
                    path.display()
                ));
            }
        }
    }
    Ok(truth)
}
