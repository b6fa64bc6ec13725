//! Detect: ONNX Runtime sessions built from model manifests, turning a [`Frame`](crate::ingest::Frame)
//! image into [`Detection`]s in frame pixel coordinates.
//!
//! Two output layouts are decoded: YOLOX (grid decode, objectness × class) and Ultralytics YOLOv8
//! (transposed, class scores only). Model classes are mapped to canonical labels by the manifest;
//! classes it does not list never leave this module.

mod decode;
pub mod gate;
mod letterbox;
pub mod manifest;
mod nms;
mod runtime;
pub mod scheduler;
mod tiles;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use letterbox::{letterbox, letterbox_rgb, letterbox_rgb_into, Letterbox, Letterboxed};
pub use manifest::{Manifest, ManifestSet};
pub use nms::nms;
pub use runtime::environment;
pub use scheduler::{Dropped, Outcome, Scheduler, SchedulerConfig, SchedulerStats, Ticket};
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

pub use crate::config::{Execution, MemoryArena};

/// How one session of a model is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionOptions {
    /// Intra-op threads of the session.
    pub threads: usize,
    pub execution: Execution,
    /// What the session does with ONNX Runtime's CPU memory arena.
    pub arena: MemoryArena,
}

/// What a model is, whatever runs it: its manifest, class labels, and the checked file. Shared
/// by the sessions that run it and by the cameras that prepare frames for it.
pub struct Model {
    manifest: Manifest,
    name: Arc<str>,
    labels: HashMap<usize, Arc<str>>,
    path: PathBuf,
    /// Letterbox buffers of frames the workers are done with, for the next frames to fill.
    spare: Mutex<Vec<Vec<u8>>>,
    /// The weights as ONNX Runtime repacks them for its kernels, shared by every session of
    /// the model instead of each keeping its own copy (made with the first session).
    prepacked: std::sync::OnceLock<ort::session::builder::PrepackedWeights>,
}

/// Spare letterbox buffers a model keeps (each one input's worth: 0.5 MB at 416×416).
const SPARE_BUFFERS: usize = 8;

/// A frame made ready for a model on the submitting camera's thread: each view cut out and
/// letterboxed into an input tensor.
pub struct Prepared {
    pub views: Vec<PreparedView>,
    /// The frame's size in pixels.
    pub frame: (u32, u32),
    tiled: bool,
}

/// One view of a prepared frame.
pub struct PreparedView {
    /// The view letterboxed to the model's input, 8-bit.
    pub pixels: Letterboxed,
    letterbox: Letterbox,
    /// The tensor's width and height.
    size: (u32, u32),
    view: View,
}

impl Model {
    /// Verifies the model file against the manifest's sha256 and reads its labels.
    pub fn load(manifest: &Manifest, model_dir: &Path) -> Result<Self, DetectError> {
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
        let labels = manifest
            .label_table()?
            .into_iter()
            .map(|(k, v)| (k, Arc::from(v.as_str())))
            .collect();
        Ok(Model {
            name: Arc::from(manifest.name.as_str()),
            manifest: manifest.clone(),
            labels,
            path,
            spare: Mutex::new(Vec::new()),
            prepacked: std::sync::OnceLock::new(),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn name(&self) -> &str {
        &self.name
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

    /// The views `options` run on a `w` × `h` frame: the whole frame, or the tiles (and the
    /// whole frame when asked for).
    pub fn views(&self, w: u32, h: u32, options: &DetectOptions) -> Vec<View> {
        match options.tiles {
            None => vec![View::whole(w, h)],
            Some(tiling) => tiling.views(w, h),
        }
    }

    /// Cuts and letterboxes the frame's views: the work done before inference, on the caller's
    /// thread.
    pub fn prepare(&self, image: &RgbImage, options: &DetectOptions) -> Prepared {
        let (w, h) = image.dimensions();
        let contract = &self.manifest.contract;
        let views = self
            .views(w, h, options)
            .into_iter()
            .map(|view| {
                let size = contract.input_size(view.w, view.h, options.input_size);
                let whole = view.w == w && view.h == h;
                let buffer = self.spare_buffer();
                let (pixels, letterbox) = if whole {
                    letterbox_rgb_into(image, contract, size, buffer)
                } else {
                    let cropped =
                        image::imageops::crop_imm(image, view.x, view.y, view.w, view.h).to_image();
                    letterbox_rgb_into(&cropped, contract, size, buffer)
                };
                PreparedView {
                    pixels,
                    letterbox,
                    size,
                    view,
                }
            })
            .collect();
        Prepared {
            views,
            frame: (w, h),
            tiled: options.tiles.is_some(),
        }
    }

    /// Takes back a prepared frame's buffers once its views have been run, so the next frame's
    /// letterbox reuses them instead of allocating.
    pub fn recycle(&self, prepared: Prepared) {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        for view in prepared.views {
            if spare.len() >= SPARE_BUFFERS {
                break;
            }
            spare.push(view.pixels.rgb);
        }
    }

    fn spare_buffer(&self) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        spare.pop().unwrap_or_default()
    }

    /// Turns the raw outputs of a prepared frame's views (in view order) into detections in
    /// frame pixels, after NMS (and the merge across tiles).
    pub fn finish(
        &self,
        prepared: &Prepared,
        outputs: &[Vec<RawOutput>],
        options: &DetectOptions,
    ) -> Result<Vec<Detection>, DetectError> {
        let iou = self.manifest.defaults.nms_iou;
        if !prepared.tiled {
            let mut dets = Vec::new();
            for (view, raw) in prepared.views.iter().zip(outputs) {
                dets.extend(self.view_detections(view, raw, options)?);
            }
            return Ok(nms(dets, iou));
        }
        let mut found = Vec::new();
        for (i, (view, raw)) in prepared.views.iter().zip(outputs).enumerate() {
            for det in self.view_detections(view, raw, options)? {
                found.push(tiles::Found::new(det, i, &view.view));
            }
        }
        Ok(tiles::merge(found, iou))
    }

    /// One view's detections in frame pixels, before NMS across views.
    fn view_detections(
        &self,
        view: &PreparedView,
        raw: &[RawOutput],
        options: &DetectOptions,
    ) -> Result<Vec<Detection>, DetectError> {
        let candidates = decode::decode(
            &decode::DecodeInput {
                contract: &self.manifest.contract,
                input: view.size,
                min_score: options.min_score,
                labels: &self.labels,
            },
            raw,
        )
        .map_err(|message| DetectError::Model {
            model: self.manifest.name.clone(),
            message,
        })?;
        let v = &view.view;
        let (vw, vh) = (v.w as f32, v.h as f32);
        let max_area = options.max_box_fraction.map(|f| f * vw * vh);
        let (ox, oy) = (v.x as f32, v.y as f32);
        let lb = &view.letterbox;
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

    /// Builds one ONNX Runtime session of this model and checks it against the contract.
    pub fn engine(
        self: &Arc<Self>,
        runtime_library: &Path,
        options: SessionOptions,
    ) -> Result<Engine, DetectError> {
        let err = |message: String| DetectError::Model {
            model: self.manifest.name.clone(),
            message,
        };
        let env = environment(runtime_library)?;
        let path = &self.path;
        let providers = execution_providers(
            options.execution,
            options.arena,
            path.parent().unwrap_or(Path::new(".")),
        );
        let prepacked = self
            .prepacked
            .get_or_init(ort::session::builder::PrepackedWeights::new);
        let session = Session::builder(&env)
            .and_then(|b| Ok(b.with_intra_threads(options.threads.max(1))?))
            .and_then(|b| Ok(b.with_prepacked_weights(prepacked)?))
            .and_then(|b| Ok(b.with_execution_providers(&providers)?))
            .and_then(|mut b| b.commit_from_file(path))
            .map_err(|e| {
                err(format!(
                    "ONNX Runtime cannot load {} ({} execution): {e}",
                    path.display(),
                    options.execution.as_str()
                ))
            })?;
        let c = &self.manifest.contract;
        let Some(input) = session.inputs().iter().find(|i| i.name() == c.input) else {
            return Err(err(format!(
                "the model has no input named {:?} (manifest contract)",
                c.input
            )));
        };
        let batchable = input
            .dtype()
            .tensor_shape()
            .is_some_and(|shape| shape.first().is_some_and(|&d| d < 0));
        for name in std::iter::once(&c.output).chain(c.scores_output.as_ref()) {
            if !session.outputs().iter().any(|o| o.name() == name) {
                return Err(err(format!(
                    "the model has no output named {name:?} (manifest contract)"
                )));
            }
        }
        // Shrinking hands the arena's free chunks back after every run; an idle session then
        // holds its weights, not its peak activations (docs/performance.md).
        let shrink = match options.arena {
            MemoryArena::Shrink => true,
            MemoryArena::Auto => {
                let (w, h) = self.manifest.contract.input_size(1920, 1080, None);
                u64::from(w) * u64::from(h) >= SHRINK_FROM_PIXELS
            }
            MemoryArena::Keep | MemoryArena::Off => false,
        };
        let run_options = match shrink && options.execution == Execution::Cpu {
            true => {
                let mut o = ort::session::RunOptions::new().map_err(|e| err(e.to_string()))?;
                o.set("memory.enable_memory_arena_shrinkage", "cpu:0")
                    .map_err(|e| err(e.to_string()))?;
                Some(o)
            }
            false => None,
        };
        Ok(Engine {
            model: self.clone(),
            session,
            batchable,
            tensor: ndarray::Array4::zeros((0, 0, 0, 0)),
            spare_outputs: Vec::new(),
            run_options,
        })
    }
}

/// The execution providers for `execution`, each told to fail rather than fall back to the CPU
/// silently (a box configured for its GPU that runs on its CPU is over budget without a word).
fn execution_providers(
    execution: Execution,
    arena: MemoryArena,
    cache: &Path,
) -> Vec<ort::ep::ExecutionProviderDispatch> {
    use ort::ep::{TensorRT, CPU, CUDA};
    match execution {
        // The arena keeps each session's peak activations (~150 MB for the fire model's 640×640
        // YOLOv8); without it sessions run 8–17 % slower (docs/performance.md).
        Execution::Cpu => vec![CPU::default()
            .with_arena_allocator(arena != MemoryArena::Off)
            .build()],
        Execution::Cuda => vec![CUDA::default().build().error_on_failure()],
        Execution::Tensorrt => vec![
            TensorRT::default()
                .with_fp16(true)
                .with_engine_cache(true)
                // Building an engine takes minutes on a Jetson: kept beside the model.
                .with_engine_cache_path(cache.display())
                .build()
                .error_on_failure(),
            CUDA::default().build().error_on_failure(),
        ],
    }
}

/// One ONNX Runtime session of a model: what an inference worker owns.
pub struct Engine {
    model: Arc<Model>,
    session: Session,
    /// The input's first (batch) dimension is free, so frames can be stacked.
    batchable: bool,
    /// The input tensor, reused from frame to frame (reallocated only when the shape changes).
    tensor: ndarray::Array4<f32>,
    /// Buffers of decoded outputs, for the next runs' outputs to be copied into.
    spare_outputs: Vec<Vec<f32>>,
    /// After each run when the arena shrinks (`MemoryArena::Shrink`).
    run_options: Option<ort::session::RunOptions>,
}

/// `MemoryArena::Auto` shrinks the arena of models whose input has at least this many pixels:
/// the fire model's 640×640 arena holds ~140 MB between runs and shrinking it costs 8 % a run;
/// YOLOX-Nano's 416×416 one ~16 MB, for 21 % (docs/performance.md).
const SHRINK_FROM_PIXELS: u64 = 512 * 512;

/// Returns malloc's free pages to the system (glibc), so what the arenas shrank leaves RSS.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: malloc_trim only releases free heap pages; it takes the allocator's locks.
        unsafe {
            malloc_trim(0);
        }
    }
}

impl Engine {
    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Whether several frames of the same input size can run as one batch.
    pub fn batchable(&self) -> bool {
        self.batchable
    }

    /// Runs the session on a prepared input tensor (benchmarks time this alone). Returns the
    /// contract's `output`, then its `scores_output` when it has one.
    pub fn infer(&mut self, input: &ndarray::Array4<f32>) -> Result<Vec<RawOutput>, DetectError> {
        let model = &self.model.manifest.name;
        let fail = |message: String| DetectError::Inference {
            model: model.clone(),
            message,
        };
        let contract = &self.model.manifest.contract;
        let tensor = TensorRef::from_array_view(input).map_err(|e| fail(e.to_string()))?;
        let inputs = ort::inputs![contract.input.as_str() => tensor];
        let outputs = match &self.run_options {
            Some(o) => self.session.run_with_options(inputs, o),
            None => self.session.run(inputs),
        }
        .map_err(|e| fail(e.to_string()))?;
        if self.run_options.is_some() {
            // The arena's chunks go back to malloc, which keeps them (fragmented over its
            // arenas: measured, RSS then grows past `keep`'s) unless told to return the free
            // pages to the system.
            release_free_memory();
        }
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
                // Into a buffer of an earlier run: YOLOX's output is 1.2 MB a frame.
                let mut copy = self.spare_outputs.pop().unwrap_or_default();
                copy.clear();
                copy.extend_from_slice(data);
                Ok(RawOutput {
                    shape: shape.iter().map(|&d| d.max(0) as usize).collect(),
                    data: copy,
                })
            })
            .collect()
    }

    /// Fills the reused input tensor with `pixels` (one per batch item, all of one size).
    fn fill(&mut self, pixels: &[&Letterboxed]) {
        let [_, c, h, w] = pixels[0].shape();
        let shape = (pixels.len(), c, h, w);
        if self.tensor.dim() != shape {
            self.tensor = ndarray::Array4::zeros(shape);
        }
        let contract = &self.model.manifest.contract;
        for (i, p) in pixels.iter().enumerate() {
            p.fill(
                contract,
                &mut self.tensor.index_axis_mut(ndarray::Axis(0), i),
            );
        }
    }

    /// Runs one letterboxed view.
    pub fn infer_pixels(&mut self, pixels: &Letterboxed) -> Result<Vec<RawOutput>, DetectError> {
        self.fill(&[pixels]);
        let tensor = std::mem::replace(&mut self.tensor, ndarray::Array4::zeros((0, 0, 0, 0)));
        let result = self.infer(&tensor);
        self.tensor = tensor;
        result
    }

    /// Runs several views of one size as one batch (a free batch dimension); each view's
    /// outputs, in order.
    pub fn infer_batch(
        &mut self,
        pixels: &[&Letterboxed],
    ) -> Result<Vec<Vec<RawOutput>>, DetectError> {
        if pixels.len() == 1 || !self.batchable {
            return pixels.iter().map(|p| self.infer_pixels(p)).collect();
        }
        if pixels.iter().any(|p| p.shape() != pixels[0].shape()) {
            return Err(DetectError::Inference {
                model: self.model.manifest.name.clone(),
                message: "inputs of different sizes in one batch".into(),
            });
        }
        self.fill(pixels);
        let tensor = std::mem::replace(&mut self.tensor, ndarray::Array4::zeros((0, 0, 0, 0)));
        let outputs = self.infer(&tensor);
        self.tensor = tensor;
        let outputs = outputs?;
        let n = pixels.len();
        let mut split: Vec<Vec<RawOutput>> = (0..n).map(|_| Vec::new()).collect();
        for out in outputs {
            let per = out.data.len() / n;
            let mut shape = out.shape.clone();
            if let Some(first) = shape.first_mut() {
                *first = 1;
            }
            for (i, chunk) in out.data.chunks_exact(per.max(1)).take(n).enumerate() {
                split[i].push(RawOutput {
                    shape: shape.clone(),
                    data: chunk.to_vec(),
                });
            }
        }
        Ok(split)
    }

    /// Runs the model on a prepared frame: each view, then the decode and NMS.
    pub fn run(
        &mut self,
        prepared: &Prepared,
        options: &DetectOptions,
    ) -> Result<Vec<Detection>, DetectError> {
        let outputs = prepared
            .views
            .iter()
            .map(|v| self.infer_pixels(&v.pixels))
            .collect::<Result<Vec<_>, _>>()?;
        let detections = self.model.finish(prepared, &outputs, options);
        self.recycle(outputs.into_iter().flatten());
        detections
    }

    /// Keeps the buffers of outputs that have been decoded for the next runs' outputs.
    pub fn recycle(&mut self, outputs: impl IntoIterator<Item = RawOutput>) {
        for out in outputs {
            if self.spare_outputs.len() >= SPARE_BUFFERS {
                break;
            }
            self.spare_outputs.push(out.data);
        }
    }
}

/// A model with one session of its own: the simple way to run a model on images (the CLI's
/// tools, the benchmarks, the tests). The daemon's cameras share a [`Scheduler`] instead.
pub struct Detector {
    engine: Engine,
}

impl Detector {
    /// Verifies the model file against the manifest's sha256 and builds an ONNX Runtime session.
    pub fn load(
        manifest: &Manifest,
        model_dir: &Path,
        runtime_library: &Path,
        threads: usize,
    ) -> Result<Self, DetectError> {
        let model = Arc::new(Model::load(manifest, model_dir)?);
        let engine = model.engine(
            runtime_library,
            SessionOptions {
                threads,
                execution: Execution::Cpu,
                arena: MemoryArena::default(),
            },
        )?;
        Ok(Detector { engine })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.engine.model.manifest
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.engine.model
    }

    /// The manifest's defaults as options (what a camera without `model_options` runs).
    pub fn options(&self) -> DetectOptions {
        self.engine.model.options()
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
        let prepared = self.engine.model.prepare(image, options);
        let detections = self.engine.run(&prepared, options);
        self.engine.model.recycle(prepared);
        detections
    }

    /// Runs the session on a prepared input tensor (benchmarks time this alone).
    pub fn infer(&mut self, input: &ndarray::Array4<f32>) -> Result<Vec<RawOutput>, DetectError> {
        self.engine.infer(input)
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
