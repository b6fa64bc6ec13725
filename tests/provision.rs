//! A box provisioned from an empty folder with nothing but the CLI — init, camera add (a file
//! source), zone add, zone preview, calibrate, mqtt set against a test Mosquitto, mqtt test,
//! doctor — then `lookout replay` with the produced config raises a geo-tagged order. And each
//! bad input gets its message and exit code.

mod common;

use std::process::{Command, Output};

use common::*;
use lookout::geo::enu::LocalFrame;
use lookout::geo::Pose;
use lookout::orders::WorkOrder;

fn ok(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn refused(out: Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} missing from: {stderr}");
    }
}

/// The plaza seen by an invented pole camera (as in tests/geo.rs): the "survey".
fn pole() -> Pose {
    Pose {
        lat: 30.2712,
        lon: 120.1603,
        height_m: 20.0,
        heading_deg: 200.0,
        tilt_deg: 40.0,
        roll_deg: 0.0,
        pan_deg: 0.0,
        ptz_tilt_deg: 0.0,
        hfov_deg: 60.0,
        aspect: 640.0 / 360.0,
        ground_offset_m: 0.0,
        max_range_m: 1000.0,
        pointing_accuracy_deg: 0.1,
    }
}

fn surveyed(along: f64, across: f64) -> String {
    let p = pole();
    let h = p.heading_deg.to_radians();
    let (e, n) = (
        along * h.sin() + across * h.cos(),
        along * h.cos() - across * h.sin(),
    );
    let (x, y) = p.project(e, n, 0.0).unwrap();
    let (lat, lon) = LocalFrame::new(p.lat, p.lon).to_wgs84(e, n);
    format!("{x:.6},{y:.6},{lat:.9},{lon:.9}")
}

#[test]
fn a_box_provisioned_with_the_cli_alone_raises_a_geo_tagged_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("etc/lookout.toml");
    let state = dir.path().join("state");
    let broker = Mosquitto::start();
    let repo = repo();
    let out = Command::new(lookout_bin())
        .args([
            "init",
            "--site",
            "west-lake",
            "--box",
            "box-017",
            "--config",
        ])
        .arg(&cfg)
        .arg("--state")
        .arg(&state)
        .arg("--manifests")
        .arg(repo.join("models"))
        .arg("--models-dir")
        .arg(model_dir())
        .arg("--onnxruntime")
        .arg(runtime_library())
        .output()
        .unwrap();
    ok(out, "init");
    assert!(state.is_dir(), "init creates the state folder");
    let clip = video("plaza_pedestrians.mp4").display().to_string();
    ok(
        lookout_with(
            &[
                "camera",
                "add",
                "plaza",
                "--source",
                &clip,
                "--name",
                "市民广场",
                "--lat",
                "30.2712",
                "--lon",
                "120.1603",
            ],
            &cfg,
        ),
        "camera add",
    );
    let test = ok(
        lookout_with(&["camera", "test", "plaza"], &cfg),
        "camera test",
    );
    assert!(
        test.contains("video/x-h264") && test.contains("640x360"),
        "{test}"
    );
    ok(
        lookout_with(
            &[
                "zone",
                "add",
                "plaza",
                "square",
                "--polygon",
                "0.02,0.05 0.98,0.05 0.98,0.98 0.02,0.98",
                "--name",
                "广场",
            ],
            &cfg,
        ),
        "zone add",
    );
    // The preview really draws: pixels under the zone's top edge differ from the raw frame.
    let raw = dir.path().join("raw.png");
    let preview = dir.path().join("preview.png");
    ok(
        lookout_with(
            &[
                "camera",
                "snapshot",
                "plaza",
                "--out",
                raw.to_str().unwrap(),
            ],
            &cfg,
        ),
        "snapshot",
    );
    ok(
        lookout_with(
            &[
                "zone",
                "preview",
                "plaza",
                "--out",
                preview.to_str().unwrap(),
            ],
            &cfg,
        ),
        "zone preview",
    );
    let (a, b) = (
        image::open(&raw).unwrap().to_rgb8(),
        image::open(&preview).unwrap().to_rgb8(),
    );
    assert_eq!(a.dimensions(), b.dimensions());
    let y = (0.05 * 360.0) as u32;
    let changed = (100..540)
        .filter(|&x| a.get_pixel(x, y) != b.get_pixel(x, y))
        .count();
    assert!(
        changed > 400,
        "the zone's top edge is drawn: {changed} of 440 pixels differ"
    );
    assert_eq!(b.get_pixel(320, y).0, [0, 255, 0], "in the zone colour");
    // Five surveyed points through the CLI; one typo'd point is found and named.
    let mut gcps: Vec<String> = [
        (14.0, -6.0),
        (15.0, 7.0),
        (22.0, 0.0),
        (30.0, -12.0),
        (32.0, 13.0),
        (45.0, 2.0),
    ]
    .iter()
    .map(|&(a, c)| surveyed(a, c))
    .collect();
    let good = gcps.clone();
    gcps[2] = gcps[2].replacen(",30.27", ",30.28", 1); // a kilometre off
    let mut args = vec!["calibrate", "plaza"];
    for g in &gcps {
        args.extend(["--gcp", g.as_str()]);
    }
    let cal = ok(lookout_with(&args, &cfg), "calibrate");
    assert!(cal.contains("left out"), "{cal}");
    let mut args = vec!["calibrate", "plaza"];
    for g in &good {
        args.extend(["--gcp", g.as_str()]);
    }
    let cal = ok(lookout_with(&args, &cfg), "calibrate");
    assert!(cal.contains("overall 0.0"), "{cal}");
    // A crowd rule, by hand as a technician would, and the comments survive the CLI's edits.
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("# lookout box configuration"));
    text.push_str("\n# the plaza fills up on weekend evenings\n[[cameras.rules]]\nkind = \"crowd\"\nzone = \"square\"\nmin_count = 10\nhold_s = 3.0\n");
    std::fs::write(&cfg, text).unwrap();
    ok(
        lookout_with(&["mqtt", "set", "--broker", &broker.url()], &cfg),
        "mqtt set",
    );
    let rt = ok(lookout_with(&["mqtt", "test"], &cfg), "mqtt test");
    assert!(rt.contains("round") || rt.contains("received in"), "{rt}");
    let doctor = ok(lookout_with(&["doctor"], &cfg), "doctor");
    for line in [
        "ok    config",
        "ok    gstreamer",
        "ok    onnx runtime",
        "ok    model yolox_nano_coco",
        "ok    broker",
        "ok    camera plaza",
        "ok    disk",
        "ok    clock",
    ] {
        assert!(doctor.contains(line), "{line:?} in:\n{doctor}");
    }
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains("# the plaza fills up on weekend evenings"),
        "{text}"
    );

    let out = Command::new(lookout_bin())
        .args([
            "replay", "--json", "--camera", "plaza", "--video", &clip, "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = ok(out, "replay");
    let order: WorkOrder = serde_json::from_str(stdout.lines().next().expect("an order")).unwrap();
    assert_eq!(order.location.method, "homography");
    assert_eq!(
        (order.site.as_str(), order.box_id.as_str()),
        ("west-lake", "box-017")
    );
    assert!(
        order.zone.as_ref().unwrap().area_m2.unwrap() > 100.0,
        "{:?}",
        order.zone
    );
    let f = LocalFrame::new(30.2712, 120.1603);
    let (e, n) = f.to_local(order.location.lat, order.location.lon);
    assert!(e.hypot(n) > 10.0, "placed on the plaza, not at the pole");
}

#[test]
fn bad_provisioning_input_is_refused_with_the_reason_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lookout.toml");
    let init = |extra: &[&str]| {
        Command::new(lookout_bin())
            .args(["init", "--config"])
            .arg(&cfg)
            .args(extra)
            .arg("--state")
            .arg(dir.path().join("state"))
            .output()
            .unwrap()
    };
    refused(init(&["--site", "a/b", "--box", "x"]), &["--site", "a/b"]);
    ok(init(&["--site", "s", "--box", "b"]), "init");
    refused(
        init(&["--site", "s", "--box", "b"]),
        &["already exists", "--force"],
    );
    let clip = video("plaza_pedestrians.mp4").display().to_string();
    ok(
        lookout_with(
            &[
                "camera", "add", "c", "--source", &clip, "--lat", "30", "--lon", "120",
            ],
            &cfg,
        ),
        "add",
    );
    let before = std::fs::read_to_string(&cfg).unwrap();
    refused(
        lookout_with(
            &[
                "camera", "add", "c", "--source", &clip, "--lat", "30", "--lon", "120",
            ],
            &cfg,
        ),
        &["already exists"],
    );
    refused(
        lookout_with(
            &[
                "camera",
                "add",
                "d",
                "--source",
                "rtsp://cam/x ! fakesink",
                "--lat",
                "30",
                "--lon",
                "120",
            ],
            &cfg,
        ),
        &["cameras[1].source", "not saved"],
    );
    refused(
        lookout_with(
            &["zone", "add", "c", "z", "--polygon", "0.1,0.1 0.9,0.1"],
            &cfg,
        ),
        &["at least 3 points"],
    );
    refused(
        lookout_with(
            &[
                "zone",
                "add",
                "c",
                "z",
                "--polygon",
                "0.1,0.1 1.5,0.1 0.5,0.9",
            ],
            &cfg,
        ),
        &["outside the image"],
    );
    refused(
        lookout_with(
            &[
                "zone",
                "add",
                "c",
                "z",
                "--polygon",
                "0.1,0.1 0.9,0.9 0.9,0.1 0.1,0.9",
            ],
            &cfg,
        ),
        &["crosses itself"],
    );
    refused(
        lookout_with(&["zone", "add", "c", "z", "--polygon", "0.1;0.1 x"], &cfg),
        &["is not a point"],
    );
    refused(
        lookout_with(
            &[
                "zone",
                "add",
                "nope",
                "z",
                "--polygon",
                "0.1,0.1 0.9,0.1 0.5,0.9",
            ],
            &cfg,
        ),
        &["no camera \"nope\"", "cameras: c"],
    );
    refused(
        lookout_with(
            &[
                "calibrate",
                "c",
                "--gcp",
                "0.1,0.5,30,120",
                "--gcp",
                "0.2,0.5,30.0001,120",
                "--gcp",
                "0.3,0.6,30.0002,120.0001",
            ],
            &cfg,
        ),
        &["3 ground control points given"],
    );
    refused(
        lookout_with(
            &[
                "calibrate",
                "c",
                "--gcp",
                "0.1,0.6,30,120",
                "--gcp",
                "0.3,0.6,30.0001,120",
                "--gcp",
                "0.5,0.6,30.0002,120",
                "--gcp",
                "0.7,0.6,30.0003,120",
            ],
            &cfg,
        ),
        &["lie on one line"],
    );
    refused(
        lookout_with(&["calibrate", "c", "--pose", "height=10,tilt=5"], &cfg),
        &["--pose needs heading_deg"],
    );
    refused(
        lookout_with(
            &[
                "calibrate",
                "c",
                "--pose",
                "height=10,heading=0,tilt=5,hfov=40,zoom=3",
            ],
            &cfg,
        ),
        &["unknown key \"zoom\""],
    );
    assert_eq!(
        std::fs::read_to_string(&cfg).unwrap(),
        before,
        "nothing refused was written"
    );
    // A camera that cannot be reached is named with the likely cause.
    ok(
        lookout_with(
            &[
                "camera",
                "add",
                "gone",
                "--source",
                "rtsp://127.0.0.1:9/none",
                "--lat",
                "30",
                "--lon",
                "120",
            ],
            &cfg,
        ),
        "add",
    );
    let out = lookout_with(&["camera", "test", "gone", "--timeout", "5"], &cfg);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("camera gone") && err.contains("unreachable"),
        "{err}"
    );
    // A file with sound but no picture is named as such.
    let audio = dir.path().join("audio-only.ogg");
    let made = Command::new("gst-launch-1.0")
        .args([
            "-q",
            "audiotestsrc",
            "num-buffers=50",
            "!",
            "vorbisenc",
            "!",
            "oggmux",
            "!",
            "filesink",
        ])
        .arg(format!("location={}", audio.display()))
        .status()
        .expect("gst-launch-1.0 (scripts/setup.sh installs gstreamer1.0-tools)");
    assert!(made.success());
    let audio = audio.display().to_string();
    ok(
        lookout_with(
            &[
                "camera", "add", "mute", "--source", &audio, "--lat", "30", "--lon", "120",
            ],
            &cfg,
        ),
        "add",
    );
    let out = lookout_with(&["camera", "test", "mute", "--timeout", "5"], &cfg);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("camera mute") && err.contains("video"),
        "{err}"
    );
    // mqtt test names a broker that is not there.
    ok(
        lookout_with(&["mqtt", "set", "--broker", "mqtt://127.0.0.1:9"], &cfg),
        "mqtt set",
    );
    let out = lookout_with(&["mqtt", "test", "--timeout", "3"], &cfg);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nothing listens there") || err.contains("no connection"),
        "{err}"
    );
    // doctor fails, says what, exits non-zero.
    let out = lookout_with(&["doctor", "--camera-timeout", "3"], &cfg);
    assert_ne!(out.status.code(), Some(0));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("FAIL  camera gone") && report.contains("FAIL  broker"),
        "{report}"
    );
}

#[test]
fn models_are_fetched_from_a_folder_verified_and_a_corrupt_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("lookout.toml");
    let models = dir.path().join("models");
    let out = Command::new(lookout_bin())
        .args(["init", "--site", "s", "--box", "b", "--config"])
        .arg(&cfg)
        .arg("--state")
        .arg(dir.path().join("state"))
        .arg("--manifests")
        .arg(repo().join("models"))
        .arg("--models-dir")
        .arg(&models)
        .output()
        .unwrap();
    ok(out, "init");
    let list = ok(lookout_with(&["models", "list"], &cfg), "models list");
    assert!(
        list.contains("yolox_nano_coco") && list.contains("missing"),
        "{list}"
    );
    let out = lookout_with(&["models", "verify"], &cfg);
    assert_eq!(out.status.code(), Some(1));
    let from = shared().join("models").display().to_string();
    let fetched = ok(
        lookout_with(&["models", "fetch", "--from", &from], &cfg),
        "models fetch",
    );
    assert!(
        fetched.contains("copied from") && fetched.contains("sha256 verified"),
        "{fetched}"
    );
    let again = ok(
        lookout_with(&["models", "fetch", "--from", &from], &cfg),
        "models fetch again",
    );
    assert!(again.contains("already installed"), "{again}");
    ok(lookout_with(&["models", "verify"], &cfg), "verify");
    // A flipped byte is found and named.
    let file = models.join("yolox_nano_coco.onnx");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let out = lookout_with(&["models", "verify"], &cfg);
    assert_eq!(out.status.code(), Some(1));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("FAIL  yolox_nano_coco")
            && report.contains("lookout models fetch yolox_nano_coco"),
        "{report}"
    );
    refused(
        lookout_with(&["models", "fetch", "nope", "--from", &from], &cfg),
        &["no model \"nope\""],
    );
}
