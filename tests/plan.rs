//! `lookout plan` with the real models measured on this machine: a config that fits gets what it
//! asks for; sixteen cameras asking for the fire model at 5/s (12 cores' worth) do not fit a box, and the
//! plan lowers the person models (normal) before the fire models (high: a fire rule), and says so.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn config(cameras: usize) -> String {
    let repo = repo();
    let mut text = format!(
        r#"version = 1
[box]
site = "s"
id = "b"
[uplink]
broker = "embedded"
[models]
manifests = "{repo}/models"
dir = "{models}"
onnxruntime = "{repo}/.runtime/onnxruntime/libonnxruntime.so"
"#,
        repo = repo.display(),
        models = model_dir().display(),
    );
    for i in 0..cameras {
        text.push_str(&format!(
            r#"
[[cameras]]
id = "cam{i}"
source = "test:smpte"
detect_fps = 5.0
models = ["yolox_nano_coco", "fire_smoke_yolov8"]
model_fps = {{ fire_smoke_yolov8 = 5.0 }}
location = {{ lat = 30.0, lon = 120.0 }}
[[cameras.rules]]
kind = "fire"
"#
        ));
    }
    text
}

fn plan(cameras: usize, json: bool) -> String {
    let dir = scratch_dir();
    let path = dir.path().join("lookout.toml");
    std::fs::write(&path, config(cameras)).unwrap();
    let mut cmd = Command::new(lookout_bin());
    cmd.args(["plan", "--config"]).arg(&path);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("lookout plan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn one_camera_fits_and_gets_what_it_asks_for() {
    let text = plan(1, false);
    assert!(text.contains("fits"), "{text}");
    let json: Value = serde_json::from_str(&plan(1, true)).unwrap();
    for row in json["rows"].as_array().unwrap() {
        assert_eq!(row["planned"], row["wanted"], "{row}");
    }
}

#[test]
fn sixteen_fire_cameras_are_over_budget_and_the_person_models_give_way_first() {
    let text = plan(16, false);
    assert!(text.contains("OVER BUDGET"), "{text}");
    let json: Value = serde_json::from_str(&plan(16, true)).unwrap();
    let capacity = json["capacity"].as_f64().unwrap();
    assert!(json["wanted_load"].as_f64().unwrap() > capacity, "{json}");
    assert!(
        json["planned_load"].as_f64().unwrap() <= capacity + 1e-6,
        "{json}"
    );
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 32);
    for row in rows {
        let planned = row["planned"].as_f64().unwrap();
        match row["model"].as_str().unwrap() {
            "yolox_nano_coco" => {
                assert_eq!(row["priority"], "normal");
                // Lowered to the floor (`min_fps`) before any fire model gives anything up.
                assert!((planned - 0.2).abs() < 1e-6, "{row}");
            }
            _ => {
                assert_eq!(row["priority"], "high");
                assert!(planned > 0.2 && planned < 5.0, "{row}");
            }
        }
    }
}
