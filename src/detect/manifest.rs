//! Model manifests (`models/*.toml`): which file, its sha256, where it comes from, and the tensor
//! contract the decoder follows.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::DetectError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Name cameras refer to in `models = [...]`.
    pub name: String,
    /// File name inside the model folder.
    pub file: String,
    /// Lower-case hex sha256 of the file; checked before the model is loaded.
    pub sha256: String,
    /// Size in bytes (informational).
    #[serde(default)]
    pub bytes: Option<u64>,
    /// Where the file can be downloaded.
    pub url: String,
    #[serde(default)]
    pub license: Option<String>,
    pub contract: Contract,
    pub defaults: ModelDefaults,
    /// Model class index (as a string key) → canonical lookout label. Unlisted classes are dropped.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// YOLOX: 1×N×(5+C) before the grid decode, score = obj × cls.
    Yolox,
    /// Ultralytics YOLOv8: 1×(4+C)×N, decoded boxes, no objectness.
    Yolov8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterboxAnchor {
    /// Image in the top-left corner, padding right and bottom (YOLOX).
    TopLeft,
    /// Image centred, padding split on both sides (Ultralytics).
    Center,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contract {
    pub layout: Layout,
    /// Input tensor name.
    pub input: String,
    /// Output tensor name.
    pub output: String,
    pub width: u32,
    pub height: u32,
    pub channel_order: ChannelOrder,
    /// Multiplier applied to 0..255 pixel values (1.0 for raw, 1/255 for normalised).
    pub scale: f32,
    pub letterbox: LetterboxAnchor,
    pub pad_value: u8,
    /// Grid strides for the YOLOX decode.
    #[serde(default = "default_strides")]
    pub strides: Vec<u32>,
}

fn default_strides() -> Vec<u32> {
    vec![8, 16, 32]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDefaults {
    /// Sampling rate when the camera sets none, frames/s.
    pub fps: f64,
    /// Detections below this score are dropped.
    pub min_score: f32,
    /// IoU above which NMS suppresses the weaker of two boxes of one label.
    pub nms_iou: f32,
    /// Whether this model's detections go through the tracker (objects) or straight to the rules
    /// (fire and smoke are regions, not objects with an identity).
    #[serde(default = "default_track")]
    pub track: bool,
}

fn default_track() -> bool {
    true
}

impl Manifest {
    /// Class index → label, parsed from the string keys.
    pub fn label_table(&self) -> Result<HashMap<usize, String>, DetectError> {
        self.labels
            .iter()
            .map(|(k, v)| {
                k.parse::<usize>().map(|i| (i, v.clone())).map_err(|_| {
                    DetectError::Manifest(format!(
                        "model {}: label key {k:?} is not a class index",
                        self.name
                    ))
                })
            })
            .collect()
    }
}

/// All manifests of a folder, by name.
#[derive(Debug, Clone, Default)]
pub struct ManifestSet {
    pub by_name: BTreeMap<String, (Manifest, PathBuf)>,
}

impl ManifestSet {
    pub fn load_dir(dir: &Path) -> Result<Self, DetectError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            DetectError::Manifest(format!(
                "cannot read the model manifest folder {}: {e}",
                dir.display()
            ))
        })?;
        let mut set = ManifestSet::default();
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                DetectError::Manifest(format!("cannot read {}: {e}", path.display()))
            })?;
            let manifest: Manifest = toml::from_str(&text).map_err(|e| {
                DetectError::Manifest(format!(
                    "{}: {}",
                    path.display(),
                    e.message().trim().replace('\n', " ")
                ))
            })?;
            manifest.label_table()?;
            set.by_name.insert(manifest.name.clone(), (manifest, path));
        }
        Ok(set)
    }

    pub fn get(&self, name: &str) -> Option<&Manifest> {
        self.by_name.get(name).map(|(m, _)| m)
    }
}
