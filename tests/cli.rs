//! Bad input through the real binary: each problem gives one clear error line and a non-zero
//! exit, never a panic.

mod common;

use std::process::Command;

use common::*;

const BASE: &str = r#"
version = 1
[box]
site = "test-site"
id = "box-1"
[uplink]
broker = "{BROKER}"
[models]
manifests = "{REPO}/models"
dir = "{MODELDIR}"
onnxruntime = "{REPO}/.runtime/onnxruntime/libonnxruntime.so"
threads = 1
[[cameras]]
id = "cam1"
source = "{SOURCE}"
models = ["yolox_nano_coco"]
location = { lat = 30.0, lon = 120.0 }
"#;

struct Outcome {
    code: i32,
    stderr: String,
}

fn lookout(args: &[&str]) -> Outcome {
    let out = Command::new(lookout_bin())
        .args(args)
        .output()
        .expect("run lookout");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn config(dir: &std::path::Path, source: &str, model_dir: &str, extra: &str) -> String {
    let text = BASE
        .replace("{SOURCE}", source)
        .replace("{MODELDIR}", model_dir)
        + extra;
    write_config(dir, "lookout.toml", &text, "mqtt://127.0.0.1:1")
        .display()
        .to_string()
}

/// Exactly one error line that contains every needle; non-zero exit; no panic.
fn assert_one_line_error(o: &Outcome, needles: &[&str]) {
    assert_ne!(o.code, 0, "exit code; stderr: {}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "panic: {}", o.stderr);
    let errors: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("lookout: error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line, got: {}", o.stderr);
    for n in needles {
        assert!(errors[0].contains(n), "{n:?} missing from {:?}", errors[0]);
    }
}

fn replay(config: &str, video: &str) -> Outcome {
    lookout(&[
        "replay", "--config", config, "--camera", "cam1", "--video", video,
    ])
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = model_dir().display().to_string();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    let cfg = config(dir.path(), &video, &model_dir, "detect_fsp = 5\n");
    let o = replay(&cfg, &video);
    assert_one_line_error(&o, &["lookout.toml:18:1:", "unknown field `detect_fsp`"]);
    assert_eq!(o.code, 2);
}

#[test]
fn missing_model_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("no-models");
    std::fs::create_dir(&empty).unwrap();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    let cfg = config(dir.path(), &video, &empty.display().to_string(), "");
    let o = replay(&cfg, &video);
    assert_one_line_error(&o, &["yolox_nano_coco.onnx is missing"]);
}

#[test]
fn model_with_wrong_sha256_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir(&models).unwrap();
    let mut bytes = std::fs::read(model_dir().join("yolox_nano_coco.onnx")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(models.join("yolox_nano_coco.onnx"), bytes).unwrap();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    let cfg = config(dir.path(), &video, &models.display().to_string(), "");
    let o = replay(&cfg, &video);
    assert_one_line_error(&o, &["has sha256", "manifest expects fd7193b8"]);
}

#[test]
fn camera_url_with_pipeline_syntax_or_spaces_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = model_dir().display().to_string();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    for (url, needle) in [
        ("rtsp://cam.local/stream ! fakesink", "contains spaces"),
        ("rtsp://cam.local/stream!fakesink", "contains '!'"),
        ("rtsp://cam.local/my stream", "contains spaces"),
    ] {
        let cfg = config(dir.path(), url, &model_dir, "");
        let o = replay(&cfg, &video);
        assert_one_line_error(&o, &["cameras[0].source", needle, "lookout.toml:15:1:"]);
        assert_eq!(o.code, 2);
    }
}

#[test]
fn missing_video_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = model_dir().display().to_string();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    let cfg = config(dir.path(), &video, &model_dir, "");
    let o = replay(&cfg, "/nonexistent/clip.mp4");
    assert_one_line_error(&o, &["video file /nonexistent/clip.mp4 does not exist"]);
    assert_eq!(o.code, 2);
}

#[test]
fn missing_onnxruntime_library_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = model_dir().display().to_string();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    let text = BASE
        .replace("{SOURCE}", &video)
        .replace("{MODELDIR}", &model_dir)
        .replace(
            "{REPO}/.runtime/onnxruntime/libonnxruntime.so",
            "/nonexistent/libonnxruntime.so",
        );
    let cfg = write_config(dir.path(), "lookout.toml", &text, "mqtt://127.0.0.1:1");
    let o = replay(&cfg.display().to_string(), &video);
    assert_one_line_error(
        &o,
        &["ONNX Runtime library /nonexistent/libonnxruntime.so not found"],
    );
}

#[test]
fn every_validation_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let text = r#"
[box]
site = "a/b"
id = "box"
[uplink]
broker = "http://x"
[[cameras]]
id = "c"
source = "/nonexistent.mp4"
models = ["m"]
location = { lat = 95.0, lon = 0.0 }
[[cameras.rules]]
kind = "crowd"
zone = "nowhere"
min_count = 3
"#;
    let cfg = write_config(dir.path(), "bad.toml", text, "");
    let o = lookout(&["run", "--config", &cfg.display().to_string()]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    for needle in [
        "bad.toml:3:1: box.site:",
        "bad.toml:6:1: uplink.broker:",
        "bad.toml:9:1: cameras[0].source: video file /nonexistent.mp4 does not exist",
        "cameras[0].location.lat: latitude",
        "bad.toml:14:1: cameras[0].rules[0].zone: zone \"nowhere\" is not defined",
    ] {
        assert!(
            o.stderr.contains(needle),
            "{needle:?} missing from:\n{}",
            o.stderr
        );
    }
}

#[test]
fn a_calibration_that_cannot_solve_and_a_bad_pose_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = model_dir().display().to_string();
    let video = video("plaza_pedestrians.mp4").display().to_string();
    for (extra, needles) in [
        (
            "calibration = { gcp = [[0.1, 0.5, 30.0, 120.0], [0.2, 0.5, 30.0001, 120.0], [0.3, 0.5, 30.0002, 120.0]] }\n",
            vec!["cameras[0].calibration.gcp", "3 ground control points given; at least 4"],
        ),
        (
            "calibration = { gcp = [[0.1, 0.6, 30.0, 120.0], [0.3, 0.6, 30.0001, 120.0], [0.5, 0.6, 30.0002, 120.0], [0.7, 0.6, 30.0003, 120.0]] }\n",
            vec!["cameras[0].calibration.gcp", "lie on one line"],
        ),
        (
            "calibration = { gcp = [[0.1, 0.6, 30.0, 120.0], [1.4, 0.6, 30.0001, 120.0], [0.5, 0.9, 30.0002, 120.0], [0.7, 0.6, 30.0003, 120.0]] }\n",
            vec!["cameras[0].calibration.gcp", "point 2 (1.400, 0.600) is outside the image"],
        ),
        (
            "pose = { height_m = -3.0, heading_deg = 0.0, tilt_deg = 5.0, hfov_deg = 40.0 }\n",
            vec!["cameras[0].pose.height_m", "above the ground"],
        ),
    ] {
        let cfg = config(dir.path(), &video, &model_dir, extra);
        let o = replay(&cfg, &video);
        assert_eq!(o.code, 2, "{}", o.stderr);
        assert_one_line_error(&o, &needles);
    }
}

#[test]
fn a_bad_ground_truth_file_is_named_and_a_missing_clip_scores_as_missed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let o = lookout(&["eval", missing.to_str().unwrap()]);
    assert_one_line_error(&o, &["nope.toml"]);
    assert_eq!(o.code, 2);

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[clips]]\nvideo = \"a.mp4\"\nconfig = \"c.toml\"\nexpect = [{ kind = \"crowd\", opens = [5.0, 1.0] }]\n",
    )
    .unwrap();
    let o = lookout(&["eval", bad.to_str().unwrap()]);
    assert_one_line_error(&o, &["bad.toml", "opens"]);
    assert_eq!(o.code, 2);

    // A clip that cannot be replayed is scored (every expectation missed), and --min-recall fails
    // the run with the figures.
    let truth = dir.path().join("truth.toml");
    std::fs::write(
        &truth,
        "[[clips]]\nvideo = \"missing.mp4\"\nconfig = \"missing.toml\"\nexpect = [{ kind = \"fire\", opens = [0.0, 5.0] }]\n",
    )
    .unwrap();
    let o = lookout(&["eval", truth.to_str().unwrap(), "--min-recall", "1"]);
    assert_one_line_error(&o, &["0 of 1 expected orders found"]);
    assert_eq!(o.code, 1);
}

/// The scheduler's, the plan's and the gate's settings out of range: each named at its key, all
/// at once, before anything runs.
#[test]
fn scheduler_budget_and_motion_settings_out_of_range_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "test:smpte",
        &model_dir().display().to_string(),
        "",
    );
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "threads = 1\n",
        "threads = 1\nbatch = 0\nbudget = 1.5\nmin_fps = 0.0\nworkers = 100\nexecution = \"gpu\"\n",
    ) + "motion = { min_change = 2.0 }\n";
    std::fs::write(&cfg, &text).unwrap();
    let o = lookout(&["plan", "--config", &cfg]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    assert!(
        o.stderr.contains("execution: unknown variant `gpu`"),
        "{}",
        o.stderr
    );
    let text = text.replace("execution = \"gpu\"\n", "");
    std::fs::write(&cfg, &text).unwrap();
    let o = lookout(&["plan", "--config", &cfg]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    for needle in [
        "models.batch",
        "models.budget",
        "models.min_fps",
        "models.workers",
        "cameras[0].motion.min_change",
    ] {
        assert!(
            o.stderr.contains(needle),
            "{needle:?} missing from:\n{}",
            o.stderr
        );
    }
}
