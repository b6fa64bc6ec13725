//! Camera faults on real footage: frozen, black and moved views made from a shared clip each
//! raise a `camera_fault` order with the right detail; every shared clip as it is raises none.
//! The faulty clips are made with GStreamer from `indoor_walkers.mp4` (a fixed camera with
//! structure in view, 139 s): the last frame repeated, the picture blacked out, the view rotated
//! and cropped as if the camera had been knocked. Default fault settings throughout (60 s
//! before an order opens), so what is tested is what ships.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// Makes a Matroska/MJPEG clip from `indoor_walkers.mp4` through `filter` (a launch fragment
/// between the decoder and the encoder), at 2 frames/s.
fn make_clip(dir: &Path, name: &str, filter: &str) -> PathBuf {
    let out = dir.join(format!("{name}.mkv"));
    let launch = format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! videorate ! video/x-raw,framerate=2/1 ! {filter} ! videoconvert ! jpegenc quality=70 ! matroskamux ! filesink location=\"{}\"",
        video("indoor_walkers.mp4").display(),
        out.display()
    );
    let status = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(launch.split_whitespace())
        .status()
        .expect("gst-launch-1.0 (gstreamer1.0-tools, installed by scripts/setup.sh)");
    assert!(status.success(), "making {name}: {launch}");
    out
}

fn config(dir: &Path, name: &str, source: &Path, reference: &Path) -> PathBuf {
    write_config(
        dir,
        &format!("{name}.toml"),
        &format!(
            r#"version = 1
[box]
site = "test"
id = "faults"
[uplink]
broker = "embedded"
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
threads = 2
[[cameras]]
id = "cam"
source = "{}"
detect_fps = 2.0
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
[cameras.faults]
reference = "{}"
"#,
            source.display(),
            reference.display()
        ),
        "",
    )
}

/// Stores the reference view of `cam` from its configured source.
fn take_reference(config: &Path) {
    let out = lookout_with(&["camera", "reference", "cam"], config);
    assert!(
        out.status.success(),
        "camera reference: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replays `clip` on `cam`; returns the camera_fault revisions (kind, detail, state) and
/// checks each against the work-order schema.
fn faults(config: &Path, clip: &Path) -> Vec<(String, String)> {
    let out = Command::new(lookout_bin())
        .args(["replay", "--camera", "cam", "--json", "--config"])
        .arg(config)
        .arg("--video")
        .arg(clip)
        .output()
        .expect("run lookout replay");
    assert!(
        out.status.success(),
        "replay of {}: {}",
        clip.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let schemas = ApiSchemas::load();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON order"))
        .filter(|o| o["kind"] == "camera_fault")
        .inspect(|o| {
            schemas.check(&Received {
                topic: "lookout/v1/test/faults/orders/x".into(),
                payload: serde_json::to_vec(o).unwrap(),
                retain: false,
            })
        })
        .map(|o| {
            (
                o["detail"].as_str().unwrap_or("").to_owned(),
                o["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

#[test]
fn frozen_black_and_moved_views_each_raise_a_camera_fault_order() {
    let dir = scratch_dir();
    let reference = dir.path().join("reference.png");
    let original = config(
        dir.path(),
        "original",
        &video("indoor_walkers.mp4"),
        &reference,
    );
    take_reference(&original);
    assert!(reference.is_file());

    let frozen = make_clip(
        dir.path(),
        "frozen",
        "imagefreeze num-buffers=200 ! video/x-raw,framerate=2/1",
    );
    let black = make_clip(dir.path(), "black", "videobalance brightness=-1");
    // Knocked: turned by 4.6° and moved by an eighth of the picture, same resolution.
    let moved = make_clip(
        dir.path(),
        "moved",
        "rotate angle=0.08 ! videocrop left=96 top=54 ! videoscale ! video/x-raw,width=768,height=432",
    );
    for (clip, detail) in [(frozen, "frozen"), (black, "black"), (moved, "scene_shift")] {
        let got = faults(&original, &clip);
        eprintln!("{}: {got:?}", clip.display());
        assert_eq!(
            got.first(),
            Some(&(detail.to_owned(), "open".to_owned())),
            "{} raises one {detail} order",
            clip.display()
        );
        assert!(
            got.iter().all(|(d, _)| d == detail),
            "nothing else: {got:?}"
        );
    }
}

#[test]
fn the_shared_clips_as_they_are_raise_no_camera_fault() {
    let dir = scratch_dir();
    let mut clips: Vec<PathBuf> = std::fs::read_dir(shared().join("media/video"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    clips.sort();
    assert!(clips.len() >= 9, "{clips:?}");
    for clip in clips {
        let name = clip.file_stem().unwrap().to_string_lossy().into_owned();
        let reference = dir.path().join(format!("{name}.png"));
        let cfg = config(dir.path(), &name, &clip, &reference);
        take_reference(&cfg);
        let got = faults(&cfg, &clip);
        assert!(got.is_empty(), "{name}: {got:?}");
    }
}
