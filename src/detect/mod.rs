//! Detect: ONNX Runtime sessions built from model manifests, turning a [`Frame`](crate::ingest::Frame)
//! image into [`Detection`]s in frame pixel coordinates.
//!
//! Two output layouts are decoded: YOLOX (grid decode, objectness × class) and Ultralytics YOLOv8
//! (transposed, class scores only). Model classes are mapped to canonical labels by the manifest;
//! classes it does not list never leave this module.

mod decode;
mod letterbox;
pub mod manifest;
mod nms;
mod runtime;
mod tiles;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use letterbox::{letterbox, Letterbox};
pub use manifest::{Manifest, ManifestSet};
pub use nms::nms;
pub use runtime::environment;
pub use tiles::{Tiling, View};

/// How one camera runs a model: what it feeds, what it keeps. Built from the manifest's
/// defaults ([`Detector::options`]) and the camera's `model_options`.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectOptions {
    /// Long side of the input for a free-size model; `None`: the manifest's default.
    pub input_size: Option<u32>,
    /// Detections below this score are dropped.
    pub min_score: f32,
    /// Boxes covering more than this fraction of their view are dropped.
    pub max_box_fraction: Option<f32>,
    /// Overlapping tiles (and the whole frame) instead of one whole-frame pass.
    pub tiles: Option<Tiling>,
    /// Canonical label → the label this camera gives it; `None` drops the label.
    pub relabel: HashMap<String, Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("{0}")]
    Runtime(String),
    #[error("{0}")]
    Manifest(String),
    #[error("model {model}: {message}")]
    Model { model: String, message: String },
    #[error("model {model}: inference failed: {message}")]
    Inference { model: String, message: String },
}

/// Axis-aligned box in pixels: top-left (x1, y1), bottom-right (x2, y2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn from_center(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        BBox {
            x1: cx - w / 2.0,
            y1: cy - h / 2.0,
            x2: cx + w / 2.0,
            y2: cy + h / 2.0,
        }
    }
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)
    }
    /// Bottom-centre: where a standing person or a vehicle touches the ground.
    pub fn ground_point(&self) -> (f32, f32) {
        ((self.x1 + self.x2) / 2.0, self.y2)
    }
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
    pub fn clamp(&self, w: f32, h: f32) -> BBox {
        BBox {
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
            x2: self.x2.clamp(0.0, w),
            y2: self.y2.clamp(0.0, h),
        }
    }
}

/// One object found in one frame: the message from detect to track.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Canonical label (`person`, `car`, `fire`, …).
    pub label: Arc<str>,
    pub score: f32,
    /// Frame pixels.
    pub bbox: BBox,
    /// Name of the model that found it.
    pub model: Arc<str>,
}

/// A loaded model, ready to run on frames.
pub struct Detector {
    manifest: Manifest,
    name: Arc<str>,
    labels: HashMap<usize, Arc<str>>,
    session: Session,
}

impl Detector {
    /// Verifies the model file against the manifest's sha256 and builds an ONNX Runtime session.
    pub fn load(
        manifest: &Manifest,
        model_dir: &Path,
        runtime_library: &Path,
        threads: usize,
    ) -> Result<Self, DetectError> {
        let err = |message: String| DetectError::Model {
            model: manifest.name.clone(),
            message,
        };
        let path: PathBuf = model_dir.join(&manifest.file);
        if !path.is_file() {
            return Err(err(format!(
                "model file {} is missing (run scripts/fetch-models.sh, or set models.dir)",
                path.display()
            )));
        }
        let actual =
            sha256_file(&path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        if !actual.eq_ignore_ascii_case(&manifest.sha256) {
            return Err(err(format!(
                "model file {} has sha256 {actual}, but the manifest expects {}; the file is corrupt or a different model (re-fetch it with scripts/fetch-models.sh)",
                path.display(),
                manifest.sha256
            )));
        }
        let env = environment(runtime_library)?;
        let session = Session::builder(&env)
            .and_then(|b| Ok(b.with_intra_threads(threads)?))
            .and_then(|mut b| b.commit_from_file(&path))
            .map_err(|e| err(format!("ONNX Runtime cannot load {}: {e}", path.display())))?;
        let c = &manifest.contract;
        if !session.inputs().iter().any(|i| i.name() == c.input) {
            return Err(err(format!(
                "the model has no input named {:?} (manifest contract)",
                c.input
            )));
        }
        for name in std::iter::once(&c.output).chain(c.scores_output.as_ref()) {
            if !session.outputs().iter().any(|o| o.name() == name) {
                return Err(err(format!(
                    "the model has no output named {name:?} (manifest contract)"
                )));
            }
        }

        let labels = manifest
            .label_table()?
            .into_iter()
            .map(|(k, v)| (k, Arc::from(v.as_str())))
            .collect();
        Ok(Detector {
            name: Arc::from(manifest.name.as_str()),
            manifest: manifest.clone(),
            labels,
            session,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest's defaults as options (what a camera without `model_options` runs).
    pub fn options(&self) -> DetectOptions {
        let d = &self.manifest.defaults;
        DetectOptions {
            input_size: d.input_size,
            min_score: d.min_score,
            max_box_fraction: d.max_box_fraction,
            tiles: None,
            relabel: HashMap::new(),
        }
    }

    /// Runs the model on one image with the manifest's defaults; boxes come back in the image's
    /// pixels, after NMS.
    pub fn detect(&mut self, image: &RgbImage) -> Result<Vec<Detection>, DetectError> {
        let options = self.options();
        self.detect_with(image, &options)
    }

    /// Runs the model on one image as `options` say: the whole frame at the chosen input size,
    /// or each tile (and the whole frame), merged. Boxes in the image's pixels, after NMS.
    pub fn detect_with(
        &mut self,
        image: &RgbImage,
        options: &DetectOptions,
    ) -> Result<Vec<Detection>, DetectError> {
        let (w, h) = image.dimensions();
        let Some(tiling) = options.tiles else {
            let dets = self.detect_view(image, &View::whole(w, h), options)?;
            return Ok(nms(dets, self.manifest.defaults.nms_iou));
        };
        let mut found = Vec::new();
        for (i, view) in tiling.views(w, h).iter().enumerate() {
            for det in self.detect_view(image, view, options)? {
                found.push(tiles::Found::new(det, i, view));
            }
        }
        Ok(tiles::merge(found, self.manifest.defaults.nms_iou))
    }

    /// One inference on one view of the image; boxes in image pixels, before NMS across views.
    fn detect_view(
        &mut self,
        image: &RgbImage,
        view: &View,
        options: &DetectOptions,
    ) -> Result<Vec<Detection>, DetectError> {
        let whole = view.w == image.width() && view.h == image.height();
        let cropped;
        let pixels = if whole {
            image
        } else {
            cropped = image::imageops::crop_imm(image, view.x, view.y, view.w, view.h).to_image();
            &cropped
        };
        let contract = &self.manifest.contract;
        let size = contract.input_size(view.w, view.h, options.input_size);
        let (input, lb) = letterbox(pixels, contract, size);
        let raw = self.infer(&input)?;
        let candidates = decode::decode(
            &decode::DecodeInput {
                contract: &self.manifest.contract,
                input: size,
                min_score: options.min_score,
                labels: &self.labels,
            },
            &raw,
        )
        .map_err(|message| DetectError::Model {
            model: self.manifest.name.clone(),
            message,
        })?;
        let (vw, vh) = (view.w as f32, view.h as f32);
        let max_area = options.max_box_fraction.map(|f| f * vw * vh);
        let (ox, oy) = (view.x as f32, view.y as f32);
        let mut dets = Vec::with_capacity(candidates.len());
        for c in candidates {
            let (x1, y1) = lb.to_frame(c.bbox.x1, c.bbox.y1);
            let (x2, y2) = lb.to_frame(c.bbox.x2, c.bbox.y2);
            let b = BBox { x1, y1, x2, y2 }.clamp(vw, vh);
            if b.area() <= 0.0 || max_area.is_some_and(|m| b.area() > m) {
                continue;
            }
            let label = match options.relabel.get(&*c.label) {
                None => c.label,
                Some(None) => continue,
                Some(Some(other)) => Arc::from(other.as_str()),
            };
            dets.push(Detection {
                label,
                score: c.score,
                bbox: BBox {
                    x1: b.x1 + ox,
                    y1: b.y1 + oy,
                    x2: b.x2 + ox,
                    y2: b.y2 + oy,
                },
                model: self.name.clone(),
            });
        }
        Ok(dets)
    }

    /// Runs the session on a prepared input tensor (benchmarks time this alone). Returns the
    /// contract's `output`, then its `scores_output` when it has one.
    pub fn infer(&mut self, input: &ndarray::Array4<f32>) -> Result<Vec<RawOutput>, DetectError> {
        let model = &self.manifest.name;
        let fail = |message: String| DetectError::Inference {
            model: model.clone(),
            message,
        };
        let contract = &self.manifest.contract;
        let tensor = TensorRef::from_array_view(input).map_err(|e| fail(e.to_string()))?;
        let outputs = self
            .session
            .run(ort::inputs![contract.input.as_str() => tensor])
            .map_err(|e| fail(e.to_string()))?;
        let names =
            std::iter::once(contract.output.as_str()).chain(contract.scores_output.as_deref());
        names
            .map(|name| {
                let value = outputs
                    .get(name)
                    .ok_or_else(|| fail(format!("no output {name:?}")))?;
                let (shape, data) = value
                    .try_extract_tensor::<f32>()
                    .map_err(|e| fail(format!("output {name:?}: {e}")))?;
                Ok(RawOutput {
                    shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                    data: data.to_vec(),
                })
            })
            .collect()
    }
}

/// A model's output tensor, copied out of the session.
pub struct RawOutput {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// Lower-case hex sha256 of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
