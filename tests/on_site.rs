//! The first rung of the loop on real footage: `lookout run` raises an order, warns through the
//! camera's speaker, waits the grace period, looks again, and closes the order as resolved on
//! site (the person left) or escalates it to the centre (the crowd is still there) — with no
//! command from the centre. The speakers are real outputs: a GStreamer audio sink writing a WAV
//! file, and an HTTP endpoint started here. A broken speaker is reported and changes nothing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use lookout::orders::{OrderState, Resolution, WorkOrder};

const ROOT: &str = "lookout/v1/test/onsite";

/// An IP speaker's HTTP API: records each request line and body, answers `status`.
struct HttpSpeaker {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HttpSpeaker {
    fn start(status: u16) -> HttpSpeaker {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut length = 0usize;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                seen.lock().unwrap().push(format!(
                    "{}{}",
                    line.trim(),
                    String::from_utf8_lossy(&body)
                ));
                let mut s = stream;
                let _ = write!(
                    s,
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        HttpSpeaker { port, requests }
    }
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Seconds of audio in a WAV file and its RMS level (0..1), from its header and samples.
fn wav_stats(path: &Path) -> (f64, f64) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF", "a WAV file");
    let channels = u16::from_le_bytes([bytes[22], bytes[23]]) as f64;
    let rate = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]) as f64;
    let bits = u16::from_le_bytes([bytes[34], bytes[35]]);
    assert_eq!(bits, 16, "16-bit PCM");
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk")
        + 8;
    let samples: Vec<i16> = bytes[data..]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    let rms = (samples
        .iter()
        .map(|&s| (s as f64 / 32768.0).powi(2))
        .sum::<f64>()
        / samples.len().max(1) as f64)
        .sqrt();
    (samples.len() as f64 / channels / rate, rms)
}

fn orders(messages: &[Received]) -> Vec<WorkOrder> {
    messages
        .iter()
        .filter(|m| {
            m.topic.starts_with(&format!("{ROOT}/orders/")) && m.topic.split('/').count() == 6
        })
        .map(|m| serde_json::from_slice(&m.payload).expect("order JSON"))
        .collect()
}

fn latest(messages: &[Received], camera: &str) -> Option<WorkOrder> {
    orders(messages)
        .into_iter()
        .filter(|o| o.camera.id == camera)
        .max_by_key(|o| o.revision)
}

#[test]
fn a_warning_resolves_one_incident_on_site_and_escalates_the_one_that_stays() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let http = HttpSpeaker::start(200);
    let broken = HttpSpeaker::start(500);
    let state = dir.path().join("state");
    let played = dir.path().join("played.wav");
    let config = write_config(
        dir.path(),
        "lookout.toml",
        &format!(
            r#"version = 1
[box]
site = "test"
id = "onsite"
[uplink]
broker = "{{BROKER}}"
[storage]
dir = "{state}"
[orders]
verify_window_s = 3.0
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
threads = 2
[warnings]
repeat = 1
[warnings.grace_s]
vending = 2.0
crowd = 1.0

[[speakers]]
id = "pole"
type = "audio"
file = "{played}"

[[speakers]]
id = "ip"
type = "http"
url = "http://127.0.0.1:{http}/play?order={{order}}&prompt={{prompt}}"
body = '{{"text": "{{text}}", "kind": "{{kind}}"}}'

[[speakers]]
id = "broken"
type = "http"
url = "http://127.0.0.1:{broken}/play"

# A person stands in the corridor from about 24 s and leaves at about 44 s; the order opens at
# 43.7 s. Warned, then the corridor is empty when the camera looks again.
[[cameras]]
id = "corridor"
source = "{{SHARED}}/media/video/indoor_walkers.mp4"
detect_fps = 5.0
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
speaker = "pole"
[[cameras.zones]]
id = "corridor"
polygon = [[0.02, 0.02], [0.98, 0.02], [0.98, 0.98], [0.02, 0.98]]
[[cameras.rules]]
kind = "vending"
zone = "corridor"
require_stall = false
dwell_s = 20.0
clear_s = 10.0
stationary = {{ window_s = 5.0, max_move = 0.3 }}

# About 15-20 people on the plaza floor the whole clip: the crowd stays after the warning.
[[cameras]]
id = "plaza"
source = "{{SHARED}}/media/video/plaza_pedestrians.mp4"
detect_fps = 5.0
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

# The same plaza behind a broken speaker: reported, and the order flows as without one.
[[cameras]]
id = "plaza_broken"
source = "{{SHARED}}/media/video/plaza_pedestrians.mp4"
detect_fps = 2.0
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
speaker = "broken"
[[cameras.zones]]
id = "plaza"
polygon = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.98], [0.02, 0.98]]
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 10
hold_s = 3.0
clear_s = 5.0

# Keeps the daemon running after the clips end, like a real box.
[[cameras]]
id = "spare"
source = "rtsp://127.0.0.1:9/none"
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
"#,
            state = state.display(),
            played = played.display(),
            http = http.port,
            broken = broken.port,
        ),
        &broker.url(),
    );
    let out = lookout_with(&["prompt", "generate"], &config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prompt = state.join("prompts/vending.zh.wav");
    let (prompt_s, _) = wav_stats(&prompt);

    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let _daemon = Daemon(
        Command::new(lookout_bin())
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let msgs = sub.wait_for(Duration::from_secs(120), "both verdicts", |m| {
        latest(m, "plaza").is_some_and(|o| o.state == OrderState::Escalated)
            && latest(m, "corridor").is_some_and(|o| o.state == OrderState::Closed)
    });

    let corridor = latest(&msgs, "corridor").unwrap();
    let events: Vec<&str> = corridor.timeline.iter().map(|e| e.event.as_str()).collect();
    eprintln!("corridor: {events:?}");
    assert_eq!(corridor.resolution, Some(Resolution::OnSite), "{events:?}");
    assert!(corridor.dispatch.is_none(), "nobody was sent");
    assert!(
        events.contains(&"warned") && events.contains(&"verified_gone"),
        "{events:?}"
    );
    assert!(corridor
        .evidence
        .iter()
        .any(|e| e.name.starts_with("verified-")));
    let warning = corridor.warning.as_ref().unwrap();
    assert_eq!(
        (warning.status.as_str(), warning.speaker.as_str()),
        ("played", "pole")
    );
    let (played_s, rms) = wav_stats(&played);
    eprintln!("prompt {prompt_s:.2} s; played {played_s:.2} s at RMS {rms:.3}");
    assert!(
        (played_s - prompt_s).abs() < 0.3,
        "the whole prompt: {played_s} vs {prompt_s}"
    );
    assert!(rms > 0.01, "not silence: RMS {rms}");

    let plaza = latest(&msgs, "plaza").unwrap();
    let events: Vec<&str> = plaza.timeline.iter().map(|e| e.event.as_str()).collect();
    eprintln!("plaza: {events:?}");
    assert!(
        events.contains(&"warned") && events.contains(&"escalated"),
        "{events:?}"
    );
    assert!(
        plaza.severity > lookout::rules::Severity::Yellow,
        "escalated one grade"
    );
    let requests = http.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with(&format!(
            "POST /play?order={}&prompt=crowd.zh.wav",
            plaza.id
        )) && requests[0].contains(r#""kind": "crowd""#),
        "{requests:?}"
    );

    let msgs = sub.wait_for(
        Duration::from_secs(30),
        "the broken speaker's report",
        |m| latest(m, "plaza_broken").is_some_and(|o| o.warning.is_some()),
    );
    let failed = latest(&msgs, "plaza_broken").unwrap();
    let w = failed.warning.as_ref().unwrap();
    assert_eq!(w.status.as_str(), "failed");
    assert!(w.reason.as_deref().unwrap_or("").contains("500"), "{w:?}");
    assert!(
        matches!(failed.state, OrderState::Open | OrderState::Cleared),
        "the order flows on: {:?}",
        failed.state
    );
    assert!(failed.timeline.iter().any(|e| e.event == "warning_failed"));
    let msgs = sub.wait_for(
        Duration::from_secs(30),
        "the broken speaker in the status",
        |m| {
            m.iter()
                .rev()
                .find(|m| m.topic == format!("{ROOT}/status"))
                .and_then(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).ok())
                .is_some_and(|s| {
                    let speaker = |id: &str| {
                        s["speakers"]
                            .as_array()
                            .and_then(|a| a.iter().find(|x| x["id"] == id).cloned())
                            .unwrap_or_default()
                    };
                    speaker("broken")["state"] == "failing"
                        && speaker("broken")["error"]
                            .as_str()
                            .unwrap_or("")
                            .contains("500")
                        && speaker("pole")["state"] == "ok"
                })
        },
    );
    ApiSchemas::load().check_all(&msgs);
}

/// The on-site / escalated split on the shared clips: every example config with a warnable
/// incident, one daemon, one speaker (a WAV file), short grace periods because the clips are
/// short (20 s and less, but for the corridor). Prints `lookout orders stats` and every order.
/// Real-time playback of seven clips on two cores: run it by hand, alone —
/// `cargo test --release --test on_site -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement (2.5 min of real-time footage), not a check"]
fn split_on_the_shared_clips() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let state = dir.path().join("state");
    let header = format!(
        r#"version = 1
[box]
site = "test"
id = "onsite"
[uplink]
broker = "{}"
[storage]
dir = "{}"
[orders]
verify_window_s = 3.0
[models]
manifests = "../models"
dir = "../.runtime/models"
onnxruntime = "../.runtime/onnxruntime/libonnxruntime.so"
threads = 2
[warnings]
repeat = 1
min_gap_s = 0.0
max_per_hour = 1000
[warnings.grace_s]
vending = 5.0
parking = 5.0
crowd = 2.0
water = 0.0
fire = 0.0
smoke = 0.0
[[speakers]]
id = "pole"
type = "audio"
file = "{}"
"#,
        broker.url(),
        state.display(),
        dir.path().join("played.wav").display()
    );
    // Few cameras at a time: real-time playback must not drop frames for want of CPU.
    let batches: [&[(&str, &str)]; 3] = [
        &[
            ("indoor_walkers_persons", "indoor_walkers"),
            ("parking_lot_overhead", "parking_lot_overhead"),
        ],
        &[
            ("plaza_pedestrians", "plaza_pedestrians"),
            ("group_gathering", "group_gathering"),
            ("pool_overhead", "pool_overhead"),
        ],
        &[
            ("forest_fire_smoke", "forest_fire_smoke"),
            ("indoor_fire", "indoor_fire"),
        ],
    ];
    let config = dir.path().join("all.toml");
    for batch in batches {
        let mut text = header.clone();
        for (name, _) in batch {
            let example =
                std::fs::read_to_string(repo().join("examples").join(format!("{name}.toml")))
                    .unwrap();
            let cameras = &example[example.find("[[cameras]]").unwrap()..];
            text.push('\n');
            text.push_str(&cameras.replacen(
                "[[cameras]]\n",
                "[[cameras]]\nspeaker = \"pole\"\n",
                1,
            ));
        }
        // Keeps the daemon running after the clips, so re-checks due after a clip's end finish.
        text.push_str("\n[[cameras]]\nid = \"spare\"\nsource = \"rtsp://127.0.0.1:9/none\"\nmodels = [\"yolox_nano_coco\"]\nlocation = { lat = 30.0, lon = 120.0 }\n");
        std::fs::write(&config, text).unwrap();
        let out = lookout_with(&["prompt", "generate"], &config);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sub = Subscriber::start(broker.port, &format!("{ROOT}/status"));
        let mut daemon = Command::new(lookout_bin())
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        sub.wait_for(Duration::from_secs(400), "every clip's end", |m| {
            m.iter()
                .rev()
                .find_map(|m| serde_json::from_slice::<serde_json::Value>(&m.payload).ok())
                .is_some_and(|s| {
                    batch.iter().all(|(_, id)| {
                        s["cameras"].as_array().is_some_and(|c| {
                            c.iter().any(|c| c["id"] == *id && c["state"] == "ended")
                        })
                    })
                })
        });
        // Re-checks of orders raised at a clip's very end are inconclusive (no more frames):
        // the orders show it.
        std::thread::sleep(Duration::from_secs(10));
        let _ = Command::new("kill")
            .args(["-TERM", &daemon.id().to_string()])
            .status();
        let _ = daemon.wait();
    }
    let stats = Command::new(lookout_bin())
        .args(["orders", "stats", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&stats.stdout));
    let list = Command::new(lookout_bin())
        .args(["orders", "list", "--json", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    for line in String::from_utf8_lossy(&list.stdout).lines() {
        let o: WorkOrder = serde_json::from_str(line).unwrap();
        eprintln!(
            "{:<24} {:<8} {:<10} resolution={:?} warning={:?} events={:?}",
            o.camera.id,
            serde_json::to_value(o.kind).unwrap().as_str().unwrap_or(""),
            o.state.as_str(),
            o.resolution,
            o.warning.as_ref().map(|w| w.status.as_str()),
            o.timeline
                .iter()
                .map(|e| e.event.as_str())
                .collect::<Vec<_>>()
        );
    }
}
