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

/// stdout of a lookout command that must succeed (stderr in the failure).
fn succeeded(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
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
    let stdout = succeeded(out);
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
    let stdout = succeeded(out);
    assert!(stdout.contains("水库 reservoir"), "{stdout}");
    assert!(
        stdout.contains("now: pan +0.100 tilt -0.200 zoom +0.300\n"),
        "still at preset 2 once the command returns: {stdout}"
    );
    assert_eq!(sim.preset().as_deref(), Some("2"));
    assert!(!sim.moving());
}

/// A tower camera 60 m up at a known spot, heading north at pan 0, its head's ranges from a
/// typical data sheet.
fn tower() -> (lookout::geo::Pose, lookout::geo::ptz::HeadModel) {
    let pose = lookout::geo::Pose {
        lat: 30.2741,
        lon: 120.1551,
        height_m: 60.0,
        heading_deg: 0.0,
        tilt_deg: 0.0,
        roll_deg: 0.0,
        pan_deg: 0.0,
        ptz_tilt_deg: 0.0,
        hfov_deg: 60.0,
        aspect: 16.0 / 9.0,
        ground_offset_m: 0.0,
        max_range_m: 10_000.0,
        pointing_accuracy_deg: 0.1,
    };
    let head = lookout::geo::ptz::HeadModel {
        pan_range_deg: (-180.0, 180.0),
        tilt_range_deg: (-90.0, 20.0),
        hfov_wide_deg: 60.0,
        hfov_tele_deg: 2.0,
    };
    (pose, head)
}

/// A 6 km grid around the tower rising 5 % to the east from 50 m (ESRI ASCII).
fn slope() -> lookout::geo::terrain::Terrain {
    let (n, cell) = (121usize, 0.0005);
    let (west, south) = (120.1551 - 0.03, 30.2741 - 0.027);
    let frame = lookout::geo::enu::LocalFrame::new(30.2741, 120.1551);
    let mut text =
        format!("ncols {n}\nnrows {n}\nxllcorner {west}\nyllcorner {south}\ncellsize {cell}\n");
    for r in 0..n {
        let lat = south + (n - r) as f64 * cell - cell / 2.0;
        let row: Vec<String> = (0..n)
            .map(|c| {
                let lon = west + c as f64 * cell + cell / 2.0;
                let (e, _) = frame.to_local(lat, lon);
                format!("{:.3}", 50.0 + 0.05 * e.max(0.0))
            })
            .collect();
        text.push_str(&row.join(" "));
        text.push('\n');
    }
    lookout::geo::terrain::Terrain::parse(&text).unwrap()
}

/// Geo from the live pose: the simulator's head goes to a preset; the pose it reports (generic
/// pan/tilt/zoom), through the head model, points the camera; a known ground point's pixel is
/// located back within the stated accuracy, on flat ground and on a terrain grid.
#[test]
fn a_ground_point_is_located_from_the_pose_the_camera_reports() {
    let (base, head) = tower();
    // Ground truth: 2 km out at bearing 30°; the preset points the head at it (generic
    // numbers as the camera stores them, f32).
    let (east, north) = (
        2000.0 * 30f64.to_radians().sin(),
        2000.0 * 30f64.to_radians().cos(),
    );
    let pan = (30.0 / 180.0) as f32;
    let elevation = (-60.0f64 / 2000.0).atan().to_degrees();
    let tilt = ((elevation + 90.0) / 110.0 * 2.0 - 1.0) as f32;
    let sim = OnvifSim::start(
        vec![SimPreset {
            token: "7".into(),
            name: "林区 forest".into(),
            pan,
            tilt,
            zoom: 0.2,
        }],
        "rtsp://127.0.0.1:8554/live",
    );
    let cam = OnvifCamera::connect(&sim.device_url(), Some(&credentials())).unwrap();
    cam.goto_preset("7").unwrap();
    let pose = loop {
        let p = cam.pose().unwrap();
        if !p.moving {
            break p;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let live = head.apply(
        &base,
        pose.pan.unwrap() as f64,
        pose.tilt.unwrap() as f64,
        pose.zoom.unwrap() as f64,
    );
    assert!(live.hfov_deg < 10.0, "zoomed in: {}", live.hfov_deg);
    let frame = lookout::geo::enu::LocalFrame::new(base.lat, base.lon);
    let (lat, lon) = frame.to_wgs84(east, north);

    // Flat ground.
    let (x, y) = live
        .project(east, north, 0.0)
        .expect("in front of the camera");
    assert!(
        (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y),
        "({x}, {y})"
    );
    let hit = live.locate(x, y).unwrap();
    let (he, hn) = frame.to_local(hit.lat, hit.lon);
    let error = (he - east).hypot(hn - north);
    assert!(
        error <= hit.accuracy_m,
        "flat: {error:.1} m off, accuracy {:.1} m",
        hit.accuracy_m
    );

    // A slope rising to the east: the same pixel of a point on it.
    let terrain = slope();
    let foot = terrain.elevation(base.lat, base.lon).unwrap();
    let up = terrain.elevation(lat, lon).unwrap() - foot;
    let (x, y) = live
        .project(east, north, up)
        .expect("in front of the camera");
    let hit = live.locate_on(x, y, &terrain).unwrap();
    let (he, hn) = frame.to_local(hit.lat, hit.lon);
    let error = (he - east).hypot(hn - north);
    eprintln!(
        "terrain: {error:.1} m off at {:.0} m, accuracy {:.1} m, grazing {:.2}°",
        hit.range_m, hit.accuracy_m, hit.grazing_deg
    );
    assert!(
        error <= hit.accuracy_m,
        "terrain: {error:.1} m off, accuracy {:.1} m",
        hit.accuracy_m
    );
}

/// A patrol drives the simulated camera through two full tours of its three presets: each is
/// watched for its dwell, in order, and never while the head is moving.
#[test]
fn a_patrol_tours_the_presets_and_watches_only_when_the_head_is_still() {
    use lookout::runtime::patrol::{Patrol, Stop};
    let sim = OnvifSim::start(presets(), "rtsp://127.0.0.1:8554/live");
    let mut cam = OnvifCamera::connect(&sim.device_url(), Some(&credentials())).unwrap();
    let stops: Vec<Stop> = ["1", "2", "3"]
        .iter()
        .map(|t| Stop {
            token: (*t).into(),
            dwell: Duration::from_millis(400),
        })
        .collect();
    let mut patrol = Patrol::new(stops, Duration::from_millis(200));
    let mut watched: Vec<String> = Vec::new();
    let start = Instant::now();
    while patrol.visits < 6 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            patrol.phase()
        );
        patrol.step(Instant::now(), &mut cam);
        if let Some(token) = patrol.watching() {
            assert!(!sim.moving(), "watched preset {token} while the head moved");
            assert_eq!(sim.preset().as_deref(), Some(token));
            if watched.last().map(String::as_str) != Some(token) {
                watched.push(token.to_owned());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(watched, ["1", "2", "3", "1", "2", "3"]);
}
