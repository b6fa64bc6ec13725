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
    /// Ultralytics YOLOv8 / YOLO11: 1×(4+C)×N, decoded boxes, no objectness.
    Yolov8,
    /// YOLOv5 / YOLOv7: 1×N×(5+C) with decoded boxes (cx, cy, w, h in input pixels), score =
    /// obj × cls.
    Yolov5,
    /// End-to-end YOLO (YOLOv10, YOLO26, Ultralytics `nms=True` exports): 1×N×6 =
    /// [x1, y1, x2, y2, score, class] in input pixels, already suppressed.
    EndToEnd,
    /// DETR family (RT-DETR, D-FINE, RF-DETR): boxes 1×N×4 (cx, cy, w, h normalised to the input)
    /// in `output`, class scores 1×N×C in `scores_output`, or both in one 1×N×(4+C) `output`.
    Detr,
}

/// How a DETR model's class scores are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreActivation {
    /// Raw logits: the score is their sigmoid (RT-DETR, D-FINE, RF-DETR exports).
    #[default]
    Sigmoid,
    /// Already probabilities (Ultralytics RT-DETR export).
    None,
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
    /// The model takes any input height and width that are multiples of `size_multiple`
    /// (`width` × `height` is then only the size it was trained at); a camera picks its long
    /// side (`model_options.<name>.input_size`), the aspect ratio follows the frame.
    #[serde(default)]
    pub dynamic: bool,
    /// What a free input size must be a multiple of (the largest stride).
    #[serde(default = "default_size_multiple")]
    pub size_multiple: u32,
    /// DETR layout: the output tensor with the class scores, when not part of `output`.
    #[serde(default)]
    pub scores_output: Option<String>,
    /// DETR layout: whether class scores are logits (sigmoid) or probabilities.
    #[serde(default)]
    pub scores: ScoreActivation,
}

fn default_strides() -> Vec<u32> {
    vec![8, 16, 32]
}

fn default_size_multiple() -> u32 {
    32
}

impl Contract {
    /// The input size (width, height) fed for a view of `view_w` × `view_h` pixels: the trained
    /// size for a fixed model; for a free-size model the long side is `long_side` (the manifest's
    /// default when `None`) and the short side follows the view's aspect ratio, both rounded up
    /// to multiples of `size_multiple`.
    pub fn input_size(&self, view_w: u32, view_h: u32, long_side: Option<u32>) -> (u32, u32) {
        if !self.dynamic {
            return (self.width, self.height);
        }
        let m = self.size_multiple.max(1);
        let round_up = |x: f64| (((x / m as f64).ceil() as u32).max(1)) * m;
        let long = round_up(long_side.unwrap_or(self.width.max(self.height)) as f64);
        let (w, h) = (view_w.max(1) as f64, view_h.max(1) as f64);
        if w >= h {
            (long, round_up(long as f64 * h / w))
        } else {
            (round_up(long as f64 * w / h), long)
        }
    }
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
    /// Free-size models: the long side of the input when a camera sets none.
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Boxes covering more than this fraction of the view are dropped (a model's known defect,
    /// e.g. frame-sized false persons).
    #[serde(default)]
    pub max_box_fraction: Option<f32>,
}

fn default_track() -> bool {
    true
}

impl Manifest {
    /// The numbers a decoder divides by, allocates with or loops over, checked before any of
    /// them is used: a manifest with a zero width or stride is refused here, with its key.
    pub fn check(&self) -> Result<(), String> {
        let c = &self.contract;
        let d = &self.defaults;
        let mut bad = Vec::new();
        for (key, v) in [("contract.width", c.width), ("contract.height", c.height)] {
            if !(1..=8192).contains(&v) {
                bad.push(format!("{key} = {v} (must be 1..8192)"));
            }
        }
        if c.strides.is_empty() || c.strides.iter().any(|s| !(1..=1024).contains(s)) {
            bad.push(format!(
                "contract.strides = {:?} (one or more of 1..1024)",
                c.strides
            ));
        }
        if !(1..=1024).contains(&c.size_multiple) {
            bad.push(format!(
                "contract.size_multiple = {} (must be 1..1024)",
                c.size_multiple
            ));
        }
        if !(c.scale.is_finite() && c.scale > 0.0) {
            bad.push(format!(
                "contract.scale = {} (must be more than 0)",
                c.scale
            ));
        }
        if !(d.fps.is_finite() && d.fps > 0.0 && d.fps <= 1000.0) {
            bad.push(format!("defaults.fps = {} (must be 0..1000, not 0)", d.fps));
        }
        for (key, v) in [
            ("defaults.min_score", d.min_score),
            ("defaults.nms_iou", d.nms_iou),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bad.push(format!("{key} = {v} (must be 0..1)"));
            }
        }
        if let Some(v) = d.input_size.filter(|v| !(1..=8192).contains(v)) {
            bad.push(format!("defaults.input_size = {v} (must be 1..8192)"));
        }
        if let Some(v) = d.max_box_fraction.filter(|v| !(*v > 0.0 && *v <= 1.0)) {
            bad.push(format!(
                "defaults.max_box_fraction = {v} (must be more than 0, at most 1)"
            ));
        }
        if self.labels.is_empty() {
            bad.push("labels is empty (the model would find nothing)".into());
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(bad.join("; "))
        }
    }

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
    /// Manifests that cannot be used, with why: the others still load, so one broken file
    /// stops only the cameras that name its model.
    pub broken: Vec<(PathBuf, String)>,
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
            match Self::load_one(&path) {
                Ok(m) => {
                    set.by_name.insert(m.name.clone(), (m, path));
                }
                Err(why) => {
                    tracing::error!(manifest = %path.display(), error = %why, "Model manifest REFUSED; the cameras that use this model cannot run.");
                    set.broken.push((path, why));
                }
            }
        }
        Ok(set)
    }

    fn load_one(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read it: {e}"))?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| e.message().trim().replace('\n', " "))?;
        manifest.label_table().map_err(|e| e.to_string())?;
        manifest.check()?;
        Ok(manifest)
    }

    /// Why `name` has no usable manifest: the broken files, when there are any.
    pub fn missing(&self, name: &str, dir: &Path) -> String {
        let mut text = format!(
            "model {name:?} has no usable manifest in {} (usable: {})",
            dir.display(),
            self.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        for (path, why) in &self.broken {
            text.push_str(&format!("; {} is broken: {why}", path.display()));
        }
        text
    }

    pub fn get(&self, name: &str) -> Option<&Manifest> {
        self.by_name.get(name).map(|(m, _)| m)
    }
}
