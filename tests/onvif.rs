//! ONVIF cameras through lookout's client (the `oxvif` crate) against a simulated camera
//! (`common::onvif`): who it is, its stream, its presets, a move to one seen through its
//! status, WS-UsernameToken digests checked, and `lookout camera add --onvif`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::onvif::*;
use common::*;
use lookout::onvif::{Credentials, OnvifCamera};

fn presets() -> Vec<SimPreset> {
    [
        ("1", "东坡 east slope", -0.5, -0.1, 0.0),
        ("2", "水库 reservoir", 0.1, -0.2, 0.3),
        ("3", "村口 village gate", 0.6, -0.3, 0.6),
    ]
    .into_iter()
    .map(|(token, name, pan, tilt, zoom)| SimPreset {
        token: token.into(),
        name: name.into(),
        pan,
        tilt,
        zoom,
    })
    .collect()
}

fn credentials() -> Credentials {
    Credentials {
        user: SIM_USER.into(),
        password: SIM_PASSWORD.into(),
    }
}

#[test]
fn a_ptz_camera_tells_who_it_is_its_stream_and_presets_and_reports_its_move() {
    let sim = OnvifSim::start(presets(), "rtsp://127.0.0.1:8554/Streaming/Channels/101");
    let cam = OnvifCamera::connect(&sim.device_url(), Some(&credentials())).unwrap();
    assert_eq!(cam.profile(), "Profile_1", "the main stream's profile");
    let device = cam.device().unwrap();
    assert_eq!(device.manufacturer, "SimVision");
    assert_eq!(device.model, "TowerPTZ-2000");
    assert_eq!(
        cam.stream_uri().unwrap(),
        "rtsp://127.0.0.1:8554/Streaming/Channels/101"
    );
    let stored = cam.presets().unwrap();
    let tokens: Vec<&str> = stored.iter().map(|p| p.token.as_str()).collect();
    assert_eq!(tokens, ["1", "2", "3"]);
    assert_eq!(stored[1].name, "水库 reservoir");
    assert_eq!(stored[2].pan_tilt, Some((0.6, -0.3)));
    assert_eq!(stored[2].zoom, Some(0.6));

    cam.goto_preset("3").unwrap();
    assert_eq!(sim.preset().as_deref(), Some("3"));
    let first = cam.pose().unwrap();
    assert!(
        first.moving,
        "just after GotoPreset the head moves: {first:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let still = loop {
        let pose = cam.pose().unwrap();
        if !pose.moving {
            break pose;
        }
        assert!(Instant::now() < deadline, "never stopped: {pose:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (still.pan, still.tilt, still.zoom),
        (Some(0.6), Some(-0.3), Some(0.6))
    );
    // A preset the camera does not have is the camera's error, named.
    let e = cam.goto_preset("99").unwrap_err().to_string();
    assert!(e.contains("GotoPreset"), "{e}");
}

#[test]
fn a_wrong_password_is_refused_by_the_camera_and_never_printed() {
    let sim = OnvifSim::start(presets(), "rtsp://127.0.0.1:8554/live");
    let wrong = Credentials {
        user: SIM_USER.into(),
        password: "not-the-password".into(),
    };
    let e = match OnvifCamera::connect(&sim.device_url(), Some(&wrong)) {
        Ok(_) => panic!("connected with a wrong password"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("127.0.0.1"), "{e}");
    assert!(!e.contains("not-the-password"), "{e}");
    assert!(format!("{wrong:?}").contains("***"));
    assert!(sim.calls().iter().any(|c| c == "GetCapabilities"));
}

#[test]
fn camera_add_onvif_fills_in_the_stream_with_the_onvif_user() {
    let sim = OnvifSim::start(presets(), "rtsp://127.0.0.1:8554/Streaming/Channels/101");
    let dir = scratch_dir();
    let cfg = write_config(
        dir.path(),
        "lookout.toml",
        "version = 1\n[box]\nsite = \"s\"\nid = \"b\"\n[uplink]\nbroker = \"embedded\"\n[models]\nmanifests = \"{REPO}/models\"\ndir = \"{REPO}/.runtime/models\"\nonnxruntime = \"{REPO}/.runtime/onnxruntime/libonnxruntime.so\"\n",
        "embedded",
    );
    let out = Command::new(lookout_bin())
        .args(["camera", "add", "tower_1", "--onvif", &sim.device_url()])
        .args(["--onvif-user", SIM_USER, "--lat", "30.1", "--lon", "120.2"])
        .arg("--config")
        .arg(&cfg)
        .env("LOOKOUT_ONVIF_PASSWORD", SIM_PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("SimVision TowerPTZ-2000"), "{stdout}");
    assert!(
        !stdout.contains(SIM_PASSWORD),
        "the password is never printed: {stdout}"
    );
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        text.contains(&format!(
            "source = \"rtsp://{SIM_USER}:{SIM_PASSWORD}@127.0.0.1:8554/Streaming/Channels/101\""
        )),
        "{text}"
    );
    // Without the password in the environment: a clear refusal, nothing written.
    let out = Command::new(lookout_bin())
        .args(["camera", "add", "tower_2", "--onvif", &sim.device_url()])
        .args(["--onvif-user", SIM_USER, "--lat", "30.1", "--lon", "120.2"])
        .arg("--config")
        .arg(&cfg)
        .env_remove("LOOKOUT_ONVIF_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOOKOUT_ONVIF_PASSWORD"));
    assert!(!std::fs::read_to_string(&cfg).unwrap().contains("tower_2"));
}

#[test]
fn camera_discover_finds_the_simulated_camera() {
    let sim = OnvifSim::start(presets(), "rtsp://127.0.0.1:8554/live");
    sim.answer_discovery();
    let out = Command::new(lookout_bin())
        .args([
            "camera",
            "discover",
            "--at",
            "127.0.0.1",
            "--timeout",
            "1.5",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.contains(&sim.device_url()))
        .unwrap_or_else(|| panic!("the camera's device service in {stdout}"));
    assert!(line.contains("SimVision Tower"), "{line}");
    assert!(line.contains("TowerPTZ-2000"), "{line}");
}

#[test]
fn camera_ptz_lists_presets_and_moves_to_one() {
    let sim = OnvifSim::start(presets(), "rtsp://127.0.0.1:8554/live");
    let out = Command::new(lookout_bin())
        .args(["camera", "ptz", "--onvif", &sim.device_url()])
        .args(["--onvif-user", SIM_USER, "--goto", "2"])
        .env("LOOKOUT_ONVIF_PASSWORD", SIM_PASSWORD)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("水库 reservoir"), "{stdout}");
    assert!(
        stdout.contains("now: pan +0.100 tilt -0.200 zoom +0.300\n"),
        "still at preset 2 once the command returns: {stdout}"
    );
    assert_eq!(sim.preset().as_deref(), Some("2"));
    assert!(!sim.moving());
}
