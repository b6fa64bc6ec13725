//! Hostile configs, manifests and model files: each is refused with one clear error that names
//! the key or file, never a panic, never a hang. The config corpus runs through the loader
//! in-process (fast, every case) and a sample through the real binary (exit code 2, one line).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const BASE: &str = r#"
version = 1
[box]
site = "test-site"
id = "box-1"
[uplink]
broker = "mqtt://127.0.0.1:1"
[storage]
keep_final_days = 30
outbox_quota_mb = 512
[models]
manifests = "{REPO}/models"
dir = "{REPO}/.runtime/models"
onnxruntime = "{REPO}/.runtime/onnxruntime/libonnxruntime.so"
threads = 1
[[cameras]]
id = "cam1"
source = "{SHARED}/media/video/plaza_pedestrians.mp4"
models = ["yolox_nano_coco"]
detect_fps = 5.0
location = { lat = 30.0, lon = 120.0 }
[[cameras.zones]]
id = "plaza"
polygon = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 10
hold_s = 10.0
"#;

fn base() -> String {
    BASE.replace("{REPO}", &repo().display().to_string())
        .replace("{SHARED}", &shared().display().to_string())
}

/// A zone polygon of `n` points on a circle (valid, just huge).
fn circle(n: usize) -> String {
    let pts: Vec<String> = (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            format!("[{:.6}, {:.6}]", 0.5 + 0.4 * a.cos(), 0.5 + 0.4 * a.sin())
        })
        .collect();
    format!("[{}]", pts.join(", "))
}

/// (what, the config text, a word the error must contain)
fn corpus() -> Vec<(&'static str, String, &'static str)> {
    let b = base();
    let rule = "hold_s = 10.0";
    vec![
        ("infinite hold", b.replace(rule, "hold_s = inf"), "hold_s"),
        ("nan hold", b.replace(rule, "hold_s = nan"), "hold_s"),
        ("negative hold", b.replace(rule, "hold_s = -1.0"), "hold_s"),
        (
            "a century of hold",
            b.replace(rule, "hold_s = 3.2e9"),
            "hold_s",
        ),
        (
            "huge clear",
            b.replace(rule, "hold_s = 1.0\nclear_s = 1e300"),
            "clear_s",
        ),
        (
            "infinite cooldown",
            b.replace(rule, "hold_s = 1.0\ncooldown_s = inf"),
            "cooldown_s",
        ),
        (
            "infinite detect_fps",
            b.replace("detect_fps = 5.0", "detect_fps = inf"),
            "detect_fps",
        ),
        (
            "zero detect_fps",
            b.replace("detect_fps = 5.0", "detect_fps = 0.0"),
            "detect_fps",
        ),
        ("nan latitude", b.replace("lat = 30.0", "lat = nan"), "lat"),
        (
            "keep_final_days 2^32-1",
            b.replace("keep_final_days = 30", "keep_final_days = 4294967295"),
            "keep_final_days",
        ),
        (
            "keep_final_days 2^63-1",
            b.replace(
                "keep_final_days = 30",
                "keep_final_days = 9223372036854775807",
            ),
            "keep_final_days",
        ),
        (
            "quota 2^63-1 MB",
            b.replace(
                "outbox_quota_mb = 512",
                "outbox_quota_mb = 9223372036854775807",
            ),
            "outbox_quota_mb",
        ),
        (
            "negative quota",
            b.replace("outbox_quota_mb = 512", "outbox_quota_mb = -5"),
            "outbox_quota_mb",
        ),
        (
            "keep-alive a day",
            b.replace(
                "broker = \"mqtt://127.0.0.1:1\"",
                "broker = \"mqtt://127.0.0.1:1\"\nkeep_alive_s = 86400",
            ),
            "keep_alive_s",
        ),
        (
            "status every 0 s",
            b.replace(
                "broker = \"mqtt://127.0.0.1:1\"",
                "broker = \"mqtt://127.0.0.1:1\"\nstatus_interval_s = 0",
            ),
            "status_interval_s",
        ),
        (
            "verify window inf",
            b.replace("[storage]", "[orders]\nverify_window_s = inf\n[storage]"),
            "verify_window_s",
        ),
        (
            "10^5-point zone",
            b.replace(
                "polygon = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]",
                &format!("polygon = {}", circle(100_000)),
            ),
            "polygon",
        ),
        (
            "2,000-point zone",
            b.replace(
                "polygon = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]",
                &format!("polygon = {}", circle(2_000)),
            ),
            "polygon",
        ),
        (
            "empty zone",
            b.replace(
                "polygon = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]",
                "polygon = []",
            ),
            "polygon",
        ),
        (
            "zone point at infinity",
            b.replace("[0.9, 0.9]", "[inf, 0.9]"),
            "polygon",
        ),
        (
            "no models",
            b.replace("models = [\"yolox_nano_coco\"]", "models = []"),
            "models",
        ),
        (
            "min_count 0",
            b.replace("min_count = 10", "min_count = 0"),
            "min_count",
        ),
        (
            "min_count 2^64",
            b.replace("min_count = 10", "min_count = 18446744073709551616"),
            "min_count",
        ),
        (
            "threads 0",
            b.replace("threads = 1", "threads = 0"),
            "threads",
        ),
        (
            "unknown key",
            b.replace(rule, "hold_s = 1.0\nhodl_s = 3.0"),
            "hodl_s",
        ),
        ("not TOML", "[box\nsite = ".to_owned(), "unclosed table"),
        (
            "binary garbage",
            "\u{0}\u{1}\u{2}\u{fffd}\u{7f}".to_owned(),
            "lookout.toml:1:",
        ),
        (
            "a string for a number",
            b.replace(rule, "hold_s = \"ten\""),
            "\"ten\"",
        ),
        (
            "an unauthenticated embedded broker on every interface",
            b.replace(
                "broker = \"mqtt://127.0.0.1:1\"",
                "broker = \"embedded\"\nembedded_listen = \"0.0.0.0:1883\"",
            ),
            "embedded_listen",
        ),
        (
            "an offset that is not one",
            b.replace("id = \"box-1\"", "id = \"box-1\"\nutc_offset = \"8\""),
            "utc_offset",
        ),
        (
            "an offset past +14:00",
            b.replace("id = \"box-1\"", "id = \"box-1\"\nutc_offset = \"+15:00\""),
            "utc_offset",
        ),
        (
            "a schedule hour that is not a window",
            b.replace(rule, "hold_s = 1.0\nschedule = { hours = [\"25:00-07:00\"] }"),
            "hours",
        ),
        (
            "quiet hours that are not a window",
            b.replace("[storage]", "[warnings]\nquiet_hours = [\"22:00\"]\n[storage]"),
            "quiet_hours",
        ),
        (
            "a rule on a zone that does not exist",
            b.replace("zone = \"plaza\"", "zone = \"nowhere\""),
            "nowhere",
        ),
        (
            "a calibration that does not solve",
            b.replace(
                "location = { lat = 30.0, lon = 120.0 }",
                "location = { lat = 30.0, lon = 120.0 }\ncalibration = { gcp = [[0.1, 0.1, 30.0, 120.0], [0.2, 0.2, 30.0, 120.0], [0.3, 0.3, 30.0, 120.0], [0.4, 0.4, 30.0, 120.0]] }",
            ),
            "calibration",
        ),
        (
            "a terrain grid that is not there",
            b.replace(
                "location = { lat = 30.0, lon = 120.0 }",
                "location = { lat = 30.0, lon = 120.0 }\npose = { height_m = 30.0, heading_deg = 0.0, tilt_deg = -10.0, hfov_deg = 60.0, terrain = \"/nonexistent/terrain.asc\" }",
            ),
            "terrain",
        ),
        (
            "a rule's event code that is not one",
            b.replace(rule, "hold_s = 1.0\nevent_code = \"crowd!\""),
            "event_code",
        ),
        (
            "a case code for a detail that does not exist",
            format!("{b}\n[[codes]]\nkind = \"water\"\ndetail = \"sunk\"\ncategory = \"21\"\nsubcategory = \"2102\"\n"),
            "sunk",
        ),
        (
            "a case code that is not digits",
            format!("{b}\n[[codes]]\nkind = \"parking\"\ncategory = \"street\"\nsubcategory = \"0505\"\n"),
            "category",
        ),
        (
            "an infinite disposal deadline",
            format!("{b}\n[[codes]]\nkind = \"parking\"\ncategory = \"05\"\nsubcategory = \"0505\"\ndeadline_h = inf\n"),
            "deadline_h",
        ),
        (
            "a case code for a kind that does not exist",
            format!("{b}\n[[codes]]\nkind = \"littering\"\ncategory = \"05\"\nsubcategory = \"0599\"\n"),
            "littering",
        ),
        (
            "an unknown rule kind",
            b.replace("kind = \"crowd\"", "kind = \"sunburn\""),
            "rules[0].kind: unknown rule kind \"sunburn\"",
        ),
        (
            "a misspelt rule key",
            b.replace(rule, "hodl_s = 10.0"),
            "rules[0].hodl_s: unknown field `hodl_s`",
        ),
        (
            "a duration as words",
            b.replace(rule, "hold_s = \"ten\""),
            "rules[0].hold_s: invalid type",
        ),
        (
            "a nested duration at infinity",
            b.replace("kind = \"crowd\"", "kind = \"parking\"")
                .replace("min_count = 10\n", "")
                .replace(rule, "stationary = { window_s = inf }"),
            "rules[0].stationary.window_s",
        ),
        (
            "a nan score floor",
            b.replace(rule, "hold_s = 1.0\nfilter = { min_score = nan }"),
            "rules[0].filter.min_score",
        ),
        (
            "10^5-entry array",
            b.replace(
                "models = [\"yolox_nano_coco\"]",
                &format!("models = [{}]", vec!["\"m\""; 100_001].join(",")),
            ),
            "models",
        ),
    ]
}

#[test]
fn every_hostile_config_is_one_clear_error_in_bounded_time() {
    let dir = scratch_dir();
    let mut slowest = Duration::ZERO;
    for (what, text, needle) in corpus() {
        let path = dir.path().join("lookout.toml");
        std::fs::write(&path, &text).unwrap();
        let t0 = Instant::now();
        // On a thread, so a hang is a failure with a name rather than a stuck suite.
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || {
            let _ = tx.send(
                lookout::build::load(&p)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            );
        });
        let result = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{what}: the loader hung or panicked"));
        let took = t0.elapsed();
        slowest = slowest.max(took);
        let err = match result {
            Ok(()) => panic!("{what}: accepted"),
            Err(e) => e,
        };
        assert!(
            err.contains(needle),
            "{what}: the error does not name {needle:?}:\n{err}"
        );
        assert!(
            err.lines().count() <= 3,
            "{what}: one clear error, not a flood:\n{err}"
        );
    }
    eprintln!(
        "hostile configs: {} refused, slowest {:.0} ms",
        corpus().len(),
        slowest.as_secs_f64() * 1e3
    );
}

#[test]
fn the_binary_refuses_hostile_configs_with_exit_2_and_one_line() {
    let dir = scratch_dir();
    for (what, text, needle) in corpus().into_iter().step_by(3) {
        let path = dir.path().join("lookout.toml");
        std::fs::write(&path, &text).unwrap();
        let out = Command::new(lookout_bin())
            .args(["run", "--config"])
            .arg(&path)
            .arg("--state")
            .arg(dir.path().join("state"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: exit code; {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(stderr.contains(needle), "{what}: {stderr}");
    }
}

/// A file with several problems of different depths: the raw pass (an offset, a window), the
/// file's references (a zone), a component's check (a calibration). `run`, `doctor` and the
/// loader — which a reload uses — report each problem exactly once, at its line.
#[test]
fn every_problem_of_a_file_is_reported_once_by_the_loader_run_and_doctor() {
    let text = base()
        .replace("id = \"box-1\"", "id = \"box-1\"\nutc_offset = \"8\"")
        .replace(
            "hold_s = 10.0",
            "hold_s = 10.0\nschedule = { hours = [\"08:00-25:00\"] }",
        )
        .replace(
            "[storage]",
            "[warnings]\nquiet_hours = [\"22:00\"]\n[storage]",
        );
    let dir = scratch_dir();
    let path = dir.path().join("lookout.toml");
    std::fs::write(&path, &text).unwrap();
    let loader = lookout::build::load(&path).unwrap_err().to_string();
    for key in ["utc_offset", "schedule.hours[0]", "quiet_hours[0]"] {
        assert_eq!(
            loader.lines().filter(|l| l.contains(key)).count(),
            1,
            "{key} once:\n{loader}"
        );
    }
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    assert!(
        loader.contains(&format!("lookout.toml:{}:", line_of("utc_offset"))),
        "{loader}"
    );
    assert!(
        loader.contains(&format!("lookout.toml:{}:", line_of("quiet_hours"))),
        "{loader}"
    );
    // The file's references and the components' checks come once the file reads as typed.
    let fixed = text
        .replace("utc_offset = \"8\"", "utc_offset = \"+08:00\"")
        .replace("08:00-25:00", "08:00-20:00")
        .replace("[\"22:00\"]", "[\"22:00-07:00\"]")
        .replace("zone = \"plaza\"", "zone = \"nowhere\"")
        .replace(
            "location = { lat = 30.0, lon = 120.0 }",
            "location = { lat = 30.0, lon = 120.0 }\ncalibration = { gcp = [[0.1, 0.1, 30.0, 120.0], [0.2, 0.2, 30.0, 120.0], [0.3, 0.3, 30.0, 120.0], [0.4, 0.4, 30.0, 120.0]] }",
        );
    std::fs::write(&path, &fixed).unwrap();
    let loader = lookout::build::load(&path).unwrap_err().to_string();
    for key in ["cameras[0].rules[0].zone", "cameras[0].calibration.gcp"] {
        assert_eq!(
            loader.lines().filter(|l| l.contains(key)).count(),
            1,
            "{key} once:\n{loader}"
        );
    }
    for command in ["run", "doctor"] {
        let out = Command::new(lookout_bin())
            .arg(command)
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        // `doctor` writes its report to stdout, `run` its error to stderr.
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        for line in loader.lines() {
            assert_eq!(
                stderr.matches(line).count(),
                1,
                "{command} says {line:?} once:\n{stderr}"
            );
        }
    }
}

#[test]
fn camera_add_works_on_a_config_that_says_cameras_is_empty() {
    let dir = scratch_dir();
    let text = base();
    let head = &text[..text.find("[[cameras]]").unwrap()];
    let path = dir.path().join("lookout.toml");
    std::fs::write(&path, format!("cameras = []\n{head}")).unwrap();
    let out = Command::new(lookout_bin())
        .args(["camera", "add", "gate", "--source"])
        .arg(video("plaza_pedestrians.mp4"))
        .args(["--lat", "30.1", "--lon", "120.1", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let config = lookout::build::load(&path).expect("the edited config loads");
    assert_eq!(config.cameras.len(), 1);
    assert_eq!(config.cameras[0].id, "gate");
}

fn manifest(name: &str, file: &str, sha: &str) -> String {
    let good = std::fs::read_to_string(repo().join("models/yolox_nano_coco.toml")).unwrap();
    let mut doc: toml::Table = toml::from_str(&good).unwrap();
    doc.insert("name".into(), name.into());
    doc.insert("file".into(), file.into());
    doc.insert("sha256".into(), sha.into());
    toml::to_string(&doc).unwrap()
}

fn with(text: &str, section: &str, key: &str, value: toml::Value) -> String {
    let mut doc: toml::Table = toml::from_str(text).unwrap();
    doc.get_mut(section)
        .and_then(|s| s.as_table_mut())
        .unwrap()
        .insert(key.into(), value);
    toml::to_string(&doc).unwrap()
}

#[test]
fn broken_manifests_are_refused_one_by_one_and_the_good_ones_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(repo().join("models/yolox_nano_coco.toml")).unwrap();
    let doc: toml::Table = toml::from_str(&good).unwrap();
    let sha = doc["sha256"].as_str().unwrap().to_owned();
    let file = doc["file"].as_str().unwrap().to_owned();
    let base = manifest("m", &file, &sha);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "width 0",
            with(&base, "contract", "width", 0.into()),
            "contract.width",
        ),
        (
            "height 1e6",
            with(&base, "contract", "height", 1_000_000.into()),
            "contract.height",
        ),
        (
            "stride 0",
            with(
                &base,
                "contract",
                "strides",
                toml::Value::Array(vec![8.into(), 0.into()]),
            ),
            "contract.strides",
        ),
        (
            "no strides",
            with(&base, "contract", "strides", toml::Value::Array(vec![])),
            "contract.strides",
        ),
        (
            "size_multiple 0",
            with(&base, "contract", "size_multiple", 0.into()),
            "size_multiple",
        ),
        (
            "fps 0",
            with(&base, "defaults", "fps", 0.0.into()),
            "defaults.fps",
        ),
        (
            "fps inf",
            with(&base, "defaults", "fps", f64::INFINITY.into()),
            "defaults.fps",
        ),
        (
            "nms nan",
            with(&base, "defaults", "nms_iou", f64::NAN.into()),
            "nms_iou",
        ),
        (
            "scale 0",
            with(&base, "contract", "scale", 0.0.into()),
            "contract.scale",
        ),
        ("not TOML", "name = \"x\"\n[contract\n".into(), "expected"),
    ];
    std::fs::write(dir.path().join("good.toml"), manifest("good", &file, &sha)).unwrap();
    for (i, (_, text, _)) in cases.iter().enumerate() {
        std::fs::write(dir.path().join(format!("bad{i:02}.toml")), text).unwrap();
    }
    let set = lookout::detect::ManifestSet::load_dir(dir.path()).expect("the folder loads");
    assert!(set.get("good").is_some(), "the good manifest still loads");
    assert_eq!(set.broken.len(), cases.len(), "{:?}", set.broken);
    for (i, (what, _, needle)) in cases.iter().enumerate() {
        let (path, why) = &set.broken[i];
        assert!(
            path.ends_with(format!("bad{i:02}.toml")) && why.contains(needle),
            "{what}: {why}"
        );
    }
    let text = set.missing("m", dir.path());
    assert!(
        text.contains("bad00.toml") && text.contains("contract.width"),
        "{text}"
    );
}

#[test]
fn corrupt_onnx_files_are_a_clear_error_from_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(model_dir().join("yolox_nano_coco.onnx")).expect("the real model");
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("text", b"this is not a model\n".to_vec()),
        (
            "random bytes",
            (0..100_000u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("truncated to half", real[..real.len() / 2].to_vec()),
        ("truncated to 100 bytes", real[..100].to_vec()),
        ("bytes flipped in the middle", {
            let mut r = real.clone();
            let mid = r.len() / 2;
            for b in &mut r[mid..mid + 4096] {
                *b ^= 0xff;
            }
            r
        }),
    ];
    for (what, bytes) in files {
        let name = format!("{}.onnx", what.replace(' ', "_"));
        std::fs::write(dir.path().join(&name), &bytes).unwrap();
        let sha = sha256_hex(&bytes);
        let m: lookout::detect::Manifest =
            toml::from_str(&manifest("corrupt", &name, &sha)).unwrap();
        let result = std::panic::catch_unwind(|| {
            lookout::detect::Detector::load(&m, dir.path(), &runtime_library(), 1).map(|_| ())
        });
        match result {
            Err(_) => panic!("{what}: the loader panicked"),
            // A flip inside the weights may still load (ONNX has no checksum); the sha256 in
            // the manifest is what catches that one in the field (tests/detector.rs).
            Ok(Ok(())) if what.starts_with("bytes flipped") => {}
            Ok(Ok(())) => panic!("{what}: a corrupt model loaded"),
            Ok(Err(e)) => {
                let text = e.to_string();
                assert!(
                    text.contains(&name),
                    "{what}: the error names the file: {text}"
                );
            }
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}
