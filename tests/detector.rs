//! The detectors on real images with the real models and ONNX Runtime.

mod common;

use common::*;
use lookout::detect::{BBox, Detection, Detector, ManifestSet};

fn manifests() -> ManifestSet {
    ManifestSet::load_dir(&repo().join("models")).expect("manifests")
}

fn detector(name: &str) -> Detector {
    let manifests = manifests();
    let manifest = manifests.get(name).expect("manifest");
    Detector::load(manifest, &model_dir(), &runtime_library(), 2).expect("model loads")
}

fn detect(name: &str, image: &str) -> Vec<Detection> {
    let img = image::open(media(image)).expect("image").to_rgb8();
    detector(name).detect(&img).expect("inference")
}

/// Asserts one detection of `label` with a box within `tol` pixels of `want` (x1, y1, x2, y2).
fn assert_found(dets: &[Detection], label: &str, min_score: f32, want: [f32; 4], tol: f32) {
    let want = BBox {
        x1: want[0],
        y1: want[1],
        x2: want[2],
        y2: want[3],
    };
    let found = dets.iter().filter(|d| &*d.label == label).find(|d| {
        let b = d.bbox;
        (b.x1 - want.x1).abs() <= tol
            && (b.y1 - want.y1).abs() <= tol
            && (b.x2 - want.x2).abs() <= tol
            && (b.y2 - want.y2).abs() <= tol
    });
    let Some(d) = found else {
        panic!("no {label} near {want:?}; got {dets:#?}");
    };
    assert!(
        d.score >= min_score,
        "{label} score {} < {min_score}",
        d.score
    );
}

// Expected boxes were measured once with this pipeline (bilinear letterbox, YOLOX-Nano, ORT 1.20)
// and agree with the classic Darknet sample annotations to within ~10 px.
#[test]
fn yolox_finds_dog_bicycle_and_car_in_dog_jpg() {
    let dets = detect("yolox_nano_coco", "images/dog.jpg");
    assert_found(&dets, "dog", 0.75, [132.8, 206.7, 325.9, 543.1], 6.0);
    assert_found(&dets, "bicycle", 0.75, [55.8, 137.3, 572.2, 423.3], 6.0);
    assert_found(&dets, "car", 0.75, [466.1, 78.3, 692.5, 171.2], 6.0);
}

#[test]
fn yolox_finds_person_horse_and_dog_in_person_jpg() {
    let dets = detect("yolox_nano_coco", "images/person.jpg");
    assert_found(&dets, "person", 0.85, [188.6, 97.4, 276.9, 373.7], 6.0);
    assert_found(&dets, "horse", 0.85, [403.0, 138.0, 602.6, 344.6], 6.0);
    assert_found(&dets, "dog", 0.85, [60.6, 264.0, 201.1, 350.4], 6.0);
    assert_eq!(
        dets.iter().filter(|d| &*d.label == "person").count(),
        1,
        "one person: NMS works"
    );
}

#[test]
fn fire_model_finds_nothing_burning_in_a_street_scene() {
    let dets = detect("fire_smoke_yolov8", "images/dog.jpg");
    assert!(
        dets.iter().all(|d| &*d.label != "fire" || d.score < 0.3),
        "{dets:#?}"
    );
}

/// Loads YOLOX-Nano from `dir` and returns the error text.
fn load_error(dir: &std::path::Path) -> String {
    let manifests = manifests();
    Detector::load(
        manifests.get("yolox_nano_coco").unwrap(),
        dir,
        &runtime_library(),
        1,
    )
    .err()
    .expect("the load is refused")
    .to_string()
}

#[test]
fn a_missing_model_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = load_error(dir.path());
    assert!(err.contains("yolox_nano_coco.onnx is missing"), "{err}");
}

#[test]
fn a_model_with_the_wrong_sha256_is_refused_before_loading() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(model_dir().join("yolox_nano_coco.onnx")).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(dir.path().join("yolox_nano_coco.onnx"), bytes).unwrap();
    let err = load_error(dir.path());
    assert!(
        err.contains("has sha256") && err.contains("corrupt"),
        "{err}"
    );
}
