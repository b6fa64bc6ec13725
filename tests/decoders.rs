//! The output layouts operators bring, decoded through ONNX Runtime from tiny hand-written
//! graphs whose outputs are constants of the right shape: YOLOv5 (objectness), end-to-end YOLO
//! (YOLOv10 / YOLO26, `[1, N, 6]`), DETR (RT-DETR / D-FINE / RF-DETR: boxes + logits, or one
//! tensor), and YOLOX with a free input size. Expected detections are worked out by hand.

mod common;

use common::onnx::write_constant_model;
use common::*;
use lookout::detect::{Detection, Detector, Manifest};

/// Writes the model and its manifest (`contract` and `defaults` TOML bodies) and loads it.
fn load(
    dir: &std::path::Path,
    outputs: &[(&str, Vec<usize>, Vec<f32>)],
    contract: &str,
    defaults: &str,
) -> Detector {
    let file = dir.join("m.onnx");
    write_constant_model(&file, outputs);
    let sha = lookout::detect::sha256_file(&file).unwrap();
    let text = format!(
        r#"name = "m"
file = "m.onnx"
sha256 = "{sha}"
url = "test"
[contract]
input = "images"
channel_order = "rgb"
scale = 0.00392156862745098
pad_value = 114
{contract}
[defaults]
fps = 1.0
nms_iou = 0.45
{defaults}
[labels]
0 = "person"
1 = "car"
"#
    );
    let manifest: Manifest = toml::from_str(&text).expect("manifest");
    Detector::load(&manifest, dir, &runtime_library(), 1).expect("the test model loads")
}

fn image(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_pixel(w, h, image::Rgb([90, 90, 90]))
}

fn assert_box(d: &Detection, label: &str, score: f32, want: [f32; 4]) {
    let b = d.bbox;
    let got = [b.x1, b.y1, b.x2, b.y2];
    assert_eq!(&*d.label, label, "{d:?}");
    assert!((d.score - score).abs() < 1e-3, "{d:?}: score {score}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 0.5, "{d:?}: box {want:?}");
    }
}

#[test]
fn yolov5_scores_are_objectness_times_class_and_oversized_boxes_are_dropped() {
    let dir = scratch_dir();
    #[rustfmt::skip]
    let rows = vec![
        320.0, 240.0, 100.0, 200.0, 0.9, 0.1, 0.8, // car 0.72
        100.0, 100.0, 50.0, 50.0, 0.2, 0.9, 0.1,   // objectness too low
        322.0, 242.0, 100.0, 200.0, 0.8, 0.1, 0.7, // the same car, weaker: NMS
        320.0, 240.0, 600.0, 460.0, 0.9, 0.9, 0.1, // 90 % of the frame: a known false box
    ];
    let mut det = load(
        dir.path(),
        &[("output", vec![1, 4, 7], rows)],
        "layout = \"yolov5\"\noutput = \"output\"\nwidth = 640\nheight = 640\nletterbox = \"top_left\"",
        "min_score = 0.25\nmax_box_fraction = 0.3",
    );
    let dets = det.detect(&image(640, 480)).expect("decode");
    assert_eq!(dets.len(), 1, "{dets:#?}");
    assert_box(&dets[0], "car", 0.72, [270.0, 140.0, 370.0, 340.0]);
}

#[test]
fn end_to_end_yolo_rows_are_corners_score_and_class_through_a_centred_letterbox() {
    let dir = scratch_dir();
    #[rustfmt::skip]
    let rows = vec![
        10.0, 100.0, 110.0, 300.0, 0.9, 0.0,  // person
        300.0, 300.0, 400.0, 400.0, 0.1, 1.0, // below the floor
        50.0, 140.0, 150.0, 240.0, 0.6, 1.0,  // car
        50.0, 140.0, 150.0, 240.0, 0.9, 7.0,  // a class the manifest does not map
    ];
    let mut det = load(
        dir.path(),
        &[("output0", vec![1, 4, 6], rows)],
        "layout = \"end_to_end\"\noutput = \"output0\"\nwidth = 640\nheight = 640\nletterbox = \"center\"",
        "min_score = 0.25",
    );
    // 640×480 centred in 640×640: 80 px of padding above.
    let dets = det.detect(&image(640, 480)).expect("decode");
    assert_eq!(dets.len(), 2, "{dets:#?}");
    assert_box(&dets[0], "person", 0.9, [10.0, 20.0, 110.0, 220.0]);
    assert_box(&dets[1], "car", 0.6, [50.0, 60.0, 150.0, 160.0]);
}

#[test]
fn detr_boxes_are_normalised_centres_and_logits_go_through_a_sigmoid() {
    let dir = scratch_dir();
    let boxes = vec![0.5, 0.5, 0.25, 0.5, 0.1, 0.1, 0.1, 0.1];
    let logits = vec![-2.0, 2.0, -5.0, -5.0];
    let mut det = load(
        dir.path(),
        &[
            ("dets", vec![1, 2, 4], boxes),
            ("labels", vec![1, 2, 2], logits),
        ],
        "layout = \"detr\"\noutput = \"dets\"\nscores_output = \"labels\"\nwidth = 640\nheight = 640\nletterbox = \"top_left\"",
        "min_score = 0.3",
    );
    let dets = det.detect(&image(640, 640)).expect("decode");
    assert_eq!(dets.len(), 1, "{dets:#?}");
    let sigmoid_2 = 1.0 / (1.0 + (-2.0f32).exp());
    assert_box(&dets[0], "car", sigmoid_2, [240.0, 160.0, 400.0, 480.0]);

    // Ultralytics' RT-DETR export: one [1, N, 4 + C] tensor of probabilities.
    let dir = scratch_dir();
    let rows = vec![0.5, 0.5, 0.25, 0.5, 0.7, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1];
    let mut det = load(
        dir.path(),
        &[("output0", vec![1, 2, 6], rows)],
        "layout = \"detr\"\noutput = \"output0\"\nscores = \"none\"\nwidth = 640\nheight = 640\nletterbox = \"top_left\"",
        "min_score = 0.3",
    );
    let dets = det.detect(&image(640, 640)).expect("decode");
    assert_eq!(dets.len(), 1, "{dets:#?}");
    assert_box(&dets[0], "person", 0.7, [240.0, 160.0, 400.0, 480.0]);
}

#[test]
fn a_free_size_yolox_builds_its_grid_from_the_size_fed() {
    // 1280×720 at a long side of 640 is fed as 640×384: 80×48 + 40×24 + 20×12 = 5040 anchors.
    let dir = scratch_dir();
    let mut rows = vec![0.0f32; 5040 * 6];
    let r = 5 * 80 + 10; // stride 8, cell (10, 5)
    rows[r * 6..r * 6 + 6].copy_from_slice(&[0.5, 0.5, 4f32.ln(), 8f32.ln(), 0.9, 0.9]);
    let mut det = load(
        dir.path(),
        &[("output", vec![1, 5040, 6], rows)],
        "layout = \"yolox\"\noutput = \"output\"\nwidth = 416\nheight = 416\ndynamic = true\nletterbox = \"top_left\"",
        "min_score = 0.3\ninput_size = 640",
    );
    let dets = det.detect(&image(1280, 720)).expect("decode");
    assert_eq!(dets.len(), 1, "{dets:#?}");
    // Input box (68, 12)-(100, 76) at scale 0.5.
    assert_box(&dets[0], "person", 0.81, [136.0, 24.0, 200.0, 152.0]);
    // The same output does not fit a 416 input: the decoder says so instead of guessing.
    let mut options = det.options();
    options.input_size = Some(416);
    let err = det.detect_with(&image(1280, 720), &options).unwrap_err();
    assert!(err.to_string().contains("5040"), "{err}");
}
