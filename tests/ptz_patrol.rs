//! A patrolling lookout, end to end: the daemon (`lookout run`) drives a simulated PTZ camera
//! (`common::onvif`, ONVIF over HTTP) through three presets while it watches the camera's RTSP
//! stream (`common::ptz_camera`), whose picture is the preset's crop of a real clip — a field
//! fire at the first preset, trees and sky at the others — smeared while the head moves. The
//! fire raises one order at its preset that stays open across the tours; moving between presets
//! raises no camera fault; a preset whose view drifted by 10 % raises one scene-shift order.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::onvif::*;
use common::ptz_camera::PtzCamera;
use common::*;
use serde_json::Value;

const ROOT: &str = "lookout/v1/test/tower";

fn presets() -> Vec<SimPreset> {
    [
        ("1", "西侧田野 west field", -0.5, -0.2),
        ("2", "中部林带 middle trees", 0.0, 0.2),
        ("3", "东侧林带 east trees", 0.4, 0.2),
    ]
    .into_iter()
    .map(|(token, name, pan, tilt)| SimPreset {
        token: token.into(),
        name: name.into(),
        pan,
        tilt,
        zoom: 0.0,
    })
    .collect()
}

fn config(
    dir: &Path,
    sim: &OnvifSim,
    camera: &PtzCamera,
    broker: &str,
    tour: &str,
) -> std::path::PathBuf {
    let password = dir.join("onvif.password");
    std::fs::write(&password, format!("{SIM_PASSWORD}\n")).unwrap();
    write_config(
        dir,
        "tower.toml",
        &format!(
            r#"version = 1
[box]
site = "test"
id = "tower"
[uplink]
broker = "{{BROKER}}"
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
threads = 2
[storage]
dir = "{state}"

[[cameras]]
id = "tower_1"
name = "瞭望塔 1 tower"
source = "{source}"
detect_fps = 2.0
models = ["fire_smoke_yolov8"]
location = {{ lat = 30.31, lon = 120.09 }}
pose = {{ height_m = 60.0, heading_deg = 90.0, tilt_deg = 0.0, hfov_deg = 40.0 }}

# Fire anywhere the tower looks (the camera's rules hold at every preset).
[[cameras.rules]]
kind = "fire"
min_score = 0.3
window = 5
min_hits = 3
confirm_s = 2.0
clear_s = 30.0

[cameras.faults]
shift_s = 3.0
clear_s = 3.0

[cameras.ptz]
onvif = "{onvif}"
user = "{SIM_USER}"
password_file = "{password}"
settle_s = 0.5
tour = "{tour}"

[[cameras.presets]]
token = "1"
name = "西侧田野 west field"
dwell_s = 6.0
[[cameras.presets.zones]]
id = "field"
name = "田野 field"
polygon = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]

[[cameras.presets]]
token = "2"
name = "中部林带 middle trees"
dwell_s = 6.0

[[cameras.presets]]
token = "3"
name = "东侧林带 east trees"
dwell_s = 6.0
"#,
            source = camera.url(),
            onvif = sim.device_url(),
            password = password.display(),
            state = dir.join("state").display(),
        ),
        broker,
    )
}

fn orders(messages: &[Received]) -> Vec<Value> {
    let prefix = format!("{ROOT}/orders/");
    messages
        .iter()
        .filter(|m| m.topic.starts_with(&prefix) && m.topic.split('/').count() == 6)
        .map(|m| serde_json::from_slice(&m.payload).expect("order JSON"))
        .collect()
}

/// The camera's tour in the latest status.
fn tour(messages: &[Received]) -> Option<Value> {
    let topic = format!("{ROOT}/status");
    let status: Value = messages
        .iter()
        .rev()
        .find(|m| m.topic == topic)
        .map(|m| serde_json::from_slice(&m.payload).unwrap())?;
    status["cameras"]
        .as_array()?
        .iter()
        .find(|c| c["id"] == "tower_1")
        .map(|c| c["tour"].clone())
        .filter(|t| !t.is_null())
}

fn visits(messages: &[Received]) -> u64 {
    tour(messages).map_or(0, |t| t["visits"].as_u64().unwrap_or(0))
}

fn ids_of<'a>(orders: &'a [Value], kind: &str, detail: Option<&str>) -> BTreeSet<&'a str> {
    orders
        .iter()
        .filter(|o| o["kind"] == kind && detail.is_none_or(|d| o["detail"] == d))
        .map(|o| o["id"].as_str().unwrap())
        .collect()
}

#[test]
fn a_patrol_keeps_one_fire_order_open_at_its_preset_and_catches_a_drifted_preset() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let sim = OnvifSim::start(presets(), "rtsp://unused");
    let camera = PtzCamera::start(&video("distant_field_fire_smoke_istock.mp4"), &sim);
    let cfg = config(dir.path(), &sim, &camera, &broker.url(), "box");
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    // The log is kept for a failure's post-mortem.
    let log = repo().join("target/ptz_patrol-daemon.log");
    let _daemon = Daemon::start(&cfg, &dir.path().join("state"), Some(&log));

    // Two full tours (six stops watched to the end), read from the box's status.
    let msgs = sub.wait_for(Duration::from_secs(150), "two full tours", |m| {
        visits(m) >= 6
    });
    let tour_now = tour(&msgs).unwrap();
    assert_eq!(tour_now["mode"], "box", "{tour_now:#}");
    let tokens: Vec<&str> = tour_now["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["token"].as_str().unwrap())
        .collect();
    assert_eq!(tokens, ["1", "2", "3"], "the status lists the tour");
    let calls = sim.calls();
    let gotos = calls.iter().filter(|c| *c == "GotoPreset").count();
    assert!(gotos >= 6, "the box drove the head: {gotos} GotoPreset");

    let all = orders(&msgs);
    let fires = ids_of(&all, "fire", None);
    assert_eq!(fires.len(), 1, "one fire order over two tours: {all:#?}");
    let fire: Vec<&Value> = all
        .iter()
        .filter(|o| fires.contains(o["id"].as_str().unwrap()))
        .collect();
    for revision in &fire {
        assert_eq!(
            revision["ptz"]["preset"], "1",
            "carries its preset: {revision:#}"
        );
        assert_eq!(
            revision["state"], "open",
            "stays open across the tours: {revision:#}"
        );
    }
    let opened = fire[0];
    let pose = &opened["ptz"]["pose"];
    assert!(
        (pose["pan"].as_f64().unwrap() + 0.5).abs() < 0.01,
        "the pose the head reported at preset 1: {opened:#}"
    );
    assert_eq!(opened["location"]["method"], "ray_cast", "{opened:#}");
    assert!(
        ids_of(&all, "camera_fault", None).is_empty(),
        "moving between presets is no camera fault: {all:#?}"
    );

    // Preset 3 slips by 10 % of the frame: one scene-shift order, at preset 3.
    camera.drift("3", 0.10);
    eprintln!("drifted; state in {}", dir.path().display());
    let _ = std::fs::copy(
        dir.path().join("state/reference/tower_1@3.png"),
        "/tmp/ref3.png",
    );
    let msgs = sub.wait_for(Duration::from_secs(120), "a scene-shift order", |m| {
        !ids_of(&orders(m), "camera_fault", Some("scene_shift")).is_empty()
    });
    // Another full tour after it, for anything else to show.
    let seen = visits(&msgs);
    let msgs = sub.wait_for(Duration::from_secs(90), "one more tour", |m| {
        visits(m) >= seen + 3
    });
    let all = orders(&msgs);
    let shifts = ids_of(&all, "camera_fault", Some("scene_shift"));
    assert_eq!(shifts.len(), 1, "one scene-shift order: {all:#?}");
    let shift = all
        .iter()
        .find(|o| shifts.contains(o["id"].as_str().unwrap()))
        .unwrap();
    assert_eq!(shift["ptz"]["preset"], "3", "{shift:#}");
    assert_eq!(
        ids_of(&all, "camera_fault", None).len(),
        1,
        "no other camera fault: {all:#?}"
    );
    assert_eq!(ids_of(&all, "fire", None).len(), 1, "still one fire order");
    let fire_latest = all
        .iter()
        .filter(|o| o["kind"] == "fire")
        .max_by_key(|o| o["revision"].as_u64().unwrap())
        .unwrap();
    assert_eq!(fire_latest["state"], "open", "{fire_latest:#}");

    // Everything published fits the published contract.
    let schemas = ApiSchemas::load();
    assert!(schemas.check_all(&msgs) > 0);
}

#[test]
fn a_tour_the_camera_runs_itself_is_followed_and_its_fire_order_carries_the_preset() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let sim = OnvifSim::start(presets(), "rtsp://unused");
    let camera = PtzCamera::start(&video("distant_field_fire_smoke_istock.mp4"), &sim);
    sim.run_own_tour(Duration::from_secs(7));
    let cfg = config(dir.path(), &sim, &camera, &broker.url(), "camera");
    // The console too: its camera page lists the tour.
    let port = free_port();
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[models]",
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[models]"),
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    console_passwd(&cfg, "Tower-7-Lantern");
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let _daemon = Daemon::start(&cfg, &dir.path().join("state"), None);
    // One tour followed to the end (three stops seen and left), and a fire order.
    let msgs = sub.wait_for(
        Duration::from_secs(120),
        "a followed tour and a fire order",
        |m| visits(m) >= 3 && !ids_of(&orders(m), "fire", None).is_empty(),
    );
    let t = tour(&msgs).unwrap();
    assert_eq!(t["mode"], "camera", "{t:#}");
    assert!(
        !sim.calls().iter().any(|c| c == "GotoPreset"),
        "the box never moves a head that tours by itself"
    );
    let all = orders(&msgs);
    assert_eq!(ids_of(&all, "fire", None).len(), 1, "{all:#?}");
    for o in all.iter().filter(|o| o["kind"] == "fire") {
        assert_eq!(o["ptz"]["preset"], "1", "{o:#}");
        assert_eq!(o["ptz"]["name"], "西侧田野 west field", "{o:#}");
    }
    ApiSchemas::load().check_all(&msgs);

    // The console's camera page: the three presets of the tour, the one the picture is of
    // marked, and preset 1's own zone listed with what uses it.
    let cookie = console_login(port, "Tower-7-Lantern");
    let page = http(port, "GET", "/cameras/tower_1", &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 200);
    for token in ["1", "2", "3"] {
        assert!(
            page.body.contains(&format!("data-preset=\"{token}\"")),
            "{}",
            page.body
        );
    }
    assert_eq!(
        page.body.matches("class=\"current\"").count(),
        1,
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"zones-1\""), "{}", page.body);
}

#[test]
fn preset_set_up_tools_move_the_head_first_and_write_the_presets_own_entry() {
    let dir = scratch_dir();
    let sim = OnvifSim::start(presets(), "rtsp://unused");
    let camera = PtzCamera::start(&video("distant_field_fire_smoke_istock.mp4"), &sim);
    let cfg = config(dir.path(), &sim, &camera, "embedded", "box");
    let out = dir.path().join("west.png");
    let o = lookout_with(
        &[
            "zone",
            "preview",
            "tower_1",
            "--preset",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        &cfg,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 zone(s)"),
        "the preset's zone is drawn: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(sim.preset().as_deref(), Some("1"));
    assert!(!sim.moving(), "the frame was taken once the head was still");
    let img = image::open(&out).unwrap();
    assert_eq!((img.width(), img.height()), (640, 360));

    let o = lookout_with(&["camera", "reference", "tower_1", "--preset", "3"], &cfg);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(sim.preset().as_deref(), Some("3"));
    let stored = dir.path().join("state/reference/tower_1@3.png");
    assert!(stored.is_file(), "{}", String::from_utf8_lossy(&o.stdout));

    // Ground control points of preset 2's picture go into its entry; the camera keeps its pose.
    let mut args = vec!["calibrate", "tower_1", "--preset", "2"];
    let gcps: Vec<String> = [(0.1, 0.6), (0.9, 0.6), (0.9, 0.95), (0.1, 0.95), (0.5, 0.8)]
        .iter()
        .map(|(x, y)| {
            format!(
                "{x},{y},{},{}",
                30.30 + (1.0 - y) * 0.001,
                120.09 + x * 0.001
            )
        })
        .collect();
    for g in &gcps {
        args.extend(["--gcp", g]);
    }
    let o = lookout_with(&args, &cfg);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let saved = lookout::build::load(&cfg).unwrap();
    let tower = saved.camera("tower_1").unwrap();
    assert_eq!(tower.presets[1].calibration.as_ref().unwrap().gcp.len(), 5);
    assert!(tower.pose.is_some() && tower.calibration.is_none());
    assert!(tower.at_preset(1).calibration.is_some() && tower.at_preset(1).pose.is_none());
    assert!(
        tower.at_preset(0).pose.is_some(),
        "the other presets cast rays"
    );

    // A preset outside the tour is refused, saying which there are.
    let o = lookout_with(&["camera", "reference", "tower_1", "--preset", "9"], &cfg);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no preset \"9\"") && err.contains("1, 2, 3"),
        "{err}"
    );

    // doctor: the head answers and holds the tour's presets; a preset the camera lost is named.
    let o = lookout_with(&["doctor"], &cfg);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        report.contains("ok    ptz tower_1: ONVIF answers; 3 preset(s)"),
        "{report}"
    );
    let lost = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("token = \"3\"", "token = \"7\"");
    std::fs::write(&cfg, lost).unwrap();
    let o = lookout_with(&["doctor"], &cfg);
    let report = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        report.contains("FAIL  ptz tower_1: the camera has no preset 7"),
        "{report}"
    );
}

/// A patrolling camera's config mistakes: each said at its key (and so its line), the preset's
/// own keys named under `presets[k]`.
#[test]
fn ptz_config_mistakes_are_each_named_at_their_preset_key() {
    let base = r#"version = 1
[box]
site = "s"
id = "b"
[uplink]
broker = "mqtt://127.0.0.1:1"
[models]
manifests = "{REPO}/models"
dir = "{REPO}/.runtime/models"
onnxruntime = "{REPO}/.runtime/onnxruntime/libonnxruntime.so"
[[cameras]]
id = "tower"
source = "rtsp://127.0.0.1:9/ptz"
models = ["yolox_nano_coco"]
location = { lat = 30.0, lon = 120.0 }
[[cameras.zones]]
id = "road"
polygon = [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0]]
[cameras.ptz]
onvif = "http://10.0.0.31/onvif/device_service"
[[cameras.presets]]
token = "1"
[[cameras.presets.zones]]
id = "square"
polygon = [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
[[cameras.presets.rules]]
kind = "crowd"
zone = "square"
min_count = 10
[[cameras.presets]]
token = "2"
"#;
    let dir = scratch_dir();
    let load = |text: &str| {
        let path = write_config(dir.path(), "lookout.toml", text, "");
        lookout::build::load(&path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    load(base).expect("a valid patrolling camera");
    for (what, from, to, needle) in [
        (
            "a preset's rule on a zone of another preset",
            "zone = \"square\"\nmin_count",
            "zone = \"pier\"\nmin_count",
            "cameras[0].presets[0].rules[0]",
        ),
        (
            "a preset zone named like the camera's",
            "id = \"square\"",
            "id = \"road\"",
            "cameras[0].presets[0].zones[0].id",
        ),
        (
            "a preset twice in the tour",
            "token = \"2\"",
            "token = \"1\"",
            "cameras[0].presets[1].token",
        ),
        (
            "presets without [cameras.ptz]",
            "[cameras.ptz]\nonvif = \"http://10.0.0.31/onvif/device_service\"\n",
            "",
            "cameras[0].presets",
        ),
        (
            "an ONVIF address that is no URL",
            "http://10.0.0.31/onvif/device_service",
            "10.0.0.31",
            "cameras[0].ptz.onvif",
        ),
        (
            "half a lens",
            "[cameras.ptz]\n",
            "[cameras.ptz]\nhfov_wide_deg = 60.0\n",
            "cameras[0].ptz.hfov_wide_deg",
        ),
        (
            "a preset calibration of three points",
            "token = \"2\"\n",
            "token = \"2\"\ncalibration = { gcp = [[0.1, 0.1, 30.0, 120.0], [0.9, 0.1, 30.0, 120.001], [0.5, 0.9, 30.001, 120.0]] }\n",
            "cameras[0].presets[1].calibration.gcp",
        ),
        (
            "a dwell of nothing",
            "token = \"2\"\n",
            "token = \"2\"\ndwell_s = 0.0\n",
            "cameras[0].presets[1].dwell_s",
        ),
    ] {
        let text = base.replacen(from, to, 1);
        assert_ne!(text, base, "{what}: the edit applies");
        let err = load(&text).expect_err(what);
        assert!(err.contains(needle), "{what}: names {needle}:\n{err}");
        assert!(
            err.contains("lookout.toml:"),
            "{what}: says the line:\n{err}"
        );
    }
}
