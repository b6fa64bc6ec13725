//! Secrets stay in: a box whose every credential holds a marker string — the camera's RTSP
//! password, a speaker URL's password and token, the broker password — runs with trace logging,
//! raises an order, fails to reach its speaker and its camera, and none of the markers appears in
//! its log, in anything it publishes, in its metrics or in its ledger file.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MARKERS: [&str; 4] = [
    "CamPw7731Marker",
    "SpkPw4420Marker",
    "SpkTok9913Marker",
    "MqttPw5508Marker",
];

fn assert_clean(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for m in MARKERS {
        assert!(!text.contains(m), "{m} leaked into {what}");
    }
}

#[test]
fn no_credential_reaches_the_log_the_broker_the_metrics_or_the_ledger() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let archive = Subscriber::start(broker.port, "#");
    let state = dir.path().join("state");
    let password = dir.path().join("mqtt-password");
    std::fs::write(&password, format!("{}\n", MARKERS[3])).unwrap();
    let metrics = free_port();
    let config = write_config(
        dir.path(),
        "lookout.toml",
        &format!(
            r#"version = 1
[box]
site = "test"
id = "secrets"
[uplink]
broker = "{{BROKER}}"
username = "box"
password_file = "{password}"
status_interval_s = 2
[metrics]
listen = "127.0.0.1:{metrics}"
[storage]
dir = "{state}"
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
threads = 2
[warnings]
repeat = 1
[warnings.grace_s]
crowd = 1.0

[[speakers]]
id = "ip"
type = "http"
url = "http://admin:{spk_pw}@127.0.0.1:9/play?order={{order}}&token={spk_tok}"

[[cameras]]
id = "plaza"
source = "{{SHARED}}/media/video/plaza_pedestrians.mp4"
detect_fps = 2.0
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
speaker = "ip"
[[cameras.zones]]
id = "plaza"
polygon = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.98], [0.02, 0.98]]
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 10
hold_s = 3.0
clear_s = 5.0

[[cameras]]
id = "gate"
source = "rtsp://admin:{cam_pw}@127.0.0.1:9/Streaming/Channels/101"
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
"#,
            password = password.display(),
            state = state.display(),
            spk_pw = MARKERS[1],
            spk_tok = MARKERS[2],
            cam_pw = MARKERS[0],
        ),
        &broker.url(),
    );
    let log = dir.path().join("daemon.log");
    let mut daemon = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("lookout run");
    // The order is raised and its warning fails at the speaker (nothing listens on port 9).
    let msgs = archive.wait_for(
        Duration::from_secs(90),
        "a failed warning and a failing speaker",
        |m| {
            let warned = m.iter().any(|r| {
                r.topic.contains("/orders/")
                    && serde_json::from_slice::<serde_json::Value>(&r.payload)
                        .is_ok_and(|o| o["warning"]["status"] == "failed")
            });
            let speaker = m.iter().any(|r| {
                r.topic.ends_with("/status")
                    && serde_json::from_slice::<serde_json::Value>(&r.payload)
                        .is_ok_and(|s| s["speakers"][0]["state"] == "failing")
            });
            let camera = m.iter().any(|r| {
                r.topic.ends_with("/status")
                    && serde_json::from_slice::<serde_json::Value>(&r.payload).is_ok_and(|s| {
                        s["cameras"].as_array().is_some_and(|c| {
                            c.iter()
                                .any(|c| c["id"] == "gate" && c["error"].is_string())
                        })
                    })
            });
            warned && speaker && camera
        },
    );
    let metrics_text = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", metrics)).unwrap();
        write!(s, "GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut t = String::new();
        s.read_to_string(&mut t).unwrap();
        t
    };
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while daemon.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Something was said about each credential's owner: the checks below are not vacuous.
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("TRACE"), "trace logging was on");
    assert!(
        log_text.contains("gate"),
        "the gate camera's failures are logged"
    );
    let failed = msgs
        .iter()
        .filter(|r| r.topic.contains("/orders/") && !r.topic.contains("/evidence/"))
        .filter_map(|r| serde_json::from_slice::<serde_json::Value>(&r.payload).ok())
        .find(|o| o["warning"]["status"] == "failed")
        .unwrap();
    assert!(
        failed["warning"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("token=***"),
        "the reason quotes the URL, masked: {}",
        failed["warning"]
    );
    assert_clean("the log", log_text.as_bytes());
    for m in &archive.snapshot() {
        assert_clean(&format!("MQTT {}", m.topic), &m.payload);
        assert_clean("an MQTT topic", m.topic.as_bytes());
    }
    assert!(metrics_text.contains("lookout_camera_up"), "{metrics_text}");
    assert_clean("the metrics", metrics_text.as_bytes());
    for name in ["ledger.sqlite3", "ledger.sqlite3-wal"] {
        if let Ok(bytes) = std::fs::read(state.join(name)) {
            assert_clean(name, &bytes);
        }
    }
}

#[test]
fn a_config_error_about_a_camera_url_does_not_repeat_its_password() {
    let dir = scratch_dir();
    let config = write_config(
        dir.path(),
        "lookout.toml",
        &format!(
            "version = 1\n[box]\nsite = \"s\"\nid = \"b\"\n[[cameras]]\nid = \"gate\"\nsource = \"rtsp://admin:{}@\"\nmodels = [\"yolox_nano_coco\"]\nlocation = {{ lat = 30.0, lon = 120.0 }}\n",
            MARKERS[0]
        ),
        "embedded",
    );
    let out = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cameras[0].source"), "{stderr}");
    assert_clean("the config error", stderr.as_bytes());
}
