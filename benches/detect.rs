//! Per-stage costs on real data: letterbox, ONNX Runtime alone, the full detector (letterbox +
//! inference + decode + NMS), and the tracker. Compare `yolox/ort_only` with the replay frames/s
//! of `benches/pipeline.rs` to see the pipeline's own overhead.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lookout::detect::{letterbox, BBox, Detection, Detector, ManifestSet, Tiling};
use lookout::track::{Tracker, TrackerConfig};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn detector(name: &str) -> Detector {
    let manifests =
        ManifestSet::load_dir(&repo().join("models")).expect("manifests (run scripts/setup.sh)");
    Detector::load(
        manifests.get(name).expect("manifest"),
        &repo().join(".runtime/models"),
        &repo().join(".runtime/onnxruntime/libonnxruntime.so"),
        2,
    )
    .expect("model (run scripts/setup.sh)")
}

fn bench_models(c: &mut Criterion) {
    let image = image::open(repo().join("../shared/media/images/dog.jpg"))
        .expect("../shared/media/images/dog.jpg")
        .to_rgb8();
    for name in ["yolox_nano_coco", "fire_smoke_yolov8"] {
        let mut det = detector(name);
        let contract = det.manifest().contract.clone();
        let mut group = c.benchmark_group(name);
        if name == "fire_smoke_yolov8" {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(5));
        }
        let size = (contract.width, contract.height);
        group.bench_function("letterbox", |b| {
            b.iter(|| letterbox(&image, &contract, size))
        });
        let (input, _) = letterbox(&image, &contract, size);
        group.bench_function("ort_only", |b| {
            b.iter(|| det.infer(&input).expect("inference"))
        });
        group.bench_function("detect_768x576", |b| {
            b.iter(|| det.detect(&image).expect("inference"))
        });
        group.finish();
    }
}

fn bench_tracker(c: &mut Criterion) {
    // 40 persons walking: a busy plaza.
    let frame = |step: u64| -> Vec<Detection> {
        (0..40)
            .map(|k| {
                let x = (k % 8) as f32 * 80.0 + step as f32 * 2.0;
                let y = (k / 8) as f32 * 70.0;
                Detection {
                    label: Arc::from("person"),
                    score: 0.8,
                    bbox: BBox {
                        x1: x,
                        y1: y,
                        x2: x + 30.0,
                        y2: y + 60.0,
                    },
                    model: Arc::from("bench"),
                }
            })
            .collect()
    };
    let frames: Vec<Vec<Detection>> = (0..100).map(frame).collect();
    c.bench_function("tracker/40_objects_100_frames", |b| {
        b.iter(|| {
            let mut t = Tracker::new(TrackerConfig::default());
            for (i, f) in frames.iter().enumerate() {
                t.update(f, Duration::from_millis(200 * i as u64));
            }
        })
    });
}

/// What a larger input and tiles cost on a 1280×720 frame: YOLOX-Nano at 416 (fixed model), the
/// free-size model at long sides 416 and 640, and 2×2 tiles plus the whole frame at 640.
fn bench_input_sizes(c: &mut Criterion) {
    let image = image::imageops::resize(
        &image::open(repo().join("../shared/media/images/dog.jpg"))
            .expect("../shared/media/images/dog.jpg")
            .to_rgb8(),
        1280,
        720,
        image::imageops::FilterType::Triangle,
    );
    let mut group = c.benchmark_group("input_1280x720");
    group.sample_size(20);
    let mut fixed = detector("yolox_nano_coco");
    group.bench_function("yolox_416", |b| {
        b.iter(|| fixed.detect(&image).expect("inference"))
    });
    let mut free = detector("yolox_nano_coco_dyn");
    for size in [416, 640] {
        let mut options = free.options();
        options.input_size = Some(size);
        group.bench_function(format!("yolox_dyn_{size}"), |b| {
            b.iter(|| free.detect_with(&image, &options).expect("inference"))
        });
    }
    let mut options = free.options();
    options.input_size = Some(640);
    options.tiles = Some(Tiling {
        cols: 2,
        rows: 2,
        overlap: 0.2,
        full_frame: true,
    });
    group.bench_function("yolox_dyn_640_tiles_2x2_full", |b| {
        b.iter(|| free.detect_with(&image, &options).expect("inference"))
    });
    group.finish();
}

criterion_group!(benches, bench_models, bench_tracker, bench_input_sizes);
criterion_main!(benches);
