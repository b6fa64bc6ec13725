//! RTSP cameras that drop: real RTSP servers (`lookout camera simulate`, the GStreamer RTSP
//! server, each its own process so that a kill -9 is a camera losing power), a real Mosquitto,
//! and `lookout run` as on the box.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A simulated RTSP camera on `port`, serving `source` at `rtsp://127.0.0.1:{port}/cam`.
struct Camera {
    child: Child,
}

impl Camera {
    fn start(source: &str, port: u16, codec: &str) -> Camera {
        let child = Command::new(lookout_bin())
            .args([
                "camera", "simulate", source, "--path", "cam", "--codec", codec,
            ])
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("lookout camera simulate");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "RTSP server on {port} never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Camera { child }
    }

    /// Power cut: no goodbye to the client.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn url(port: u16) -> String {
    format!("rtsp://127.0.0.1:{port}/cam")
}

fn camera_block(id: &str, source: &str, codec: &str) -> String {
    format!(
        "[[cameras]]\nid = \"{id}\"\nsource = \"{source}\"\ncodec = \"{codec}\"\ndetect_fps = 5.0\nmodels = [\"yolox_nano_coco\"]\nlocation = {{ lat = 30.0, lon = 120.0 }}\n\n"
    )
}

fn daemon_config(dir: &Path, broker: &str, metrics_port: u16, cameras: &str) -> std::path::PathBuf {
    write_config(
        dir,
        "lookout.toml",
        &format!(
            "version = 1\n[box]\nsite = \"test\"\nid = \"rtsp\"\n[uplink]\nbroker = \"{{BROKER}}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n[storage]\ndir = \"{}\"\n[models]\nmanifests = \"{{REPO}}/models\"\ndir = \"{{REPO}}/.runtime/models\"\nonnxruntime = \"{{REPO}}/.runtime/onnxruntime/libonnxruntime.so\"\nthreads = 1\n\n{cameras}",
            dir.join("state").display()
        ),
        broker,
    )
}

fn start_daemon(config: &Path) -> Child {
    Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lookout run")
}

fn stop_daemon(mut daemon: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = daemon.try_wait().unwrap() {
            assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
            return;
        }
        assert!(Instant::now() < deadline, "the daemon ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Status documents in arrival order, each stamped with when the test saw it (polled every
/// 20 ms, so stamps are late by at most that).
struct StatusLog {
    sub: Subscriber,
    seen: usize,
    docs: Vec<(Instant, Value)>,
}

impl StatusLog {
    fn new(broker: u16) -> StatusLog {
        StatusLog {
            sub: Subscriber::start(broker, "lookout/v1/test/rtsp/status"),
            seen: 0,
            docs: Vec::new(),
        }
    }

    fn poll(&mut self) {
        let msgs = self.sub.snapshot();
        for m in &msgs[self.seen..] {
            if let Ok(v) = serde_json::from_slice(&m.payload) {
                self.docs.push((Instant::now(), v));
            }
        }
        self.seen = msgs.len();
    }

    /// Waits for a status document after `since` in which camera `id` has `state`; returns
    /// when it was seen.
    fn wait(&mut self, id: &str, state: &str, since: Instant, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        loop {
            self.poll();
            if let Some((at, _)) = self
                .docs
                .iter()
                .find(|(at, doc)| *at >= since && camera(doc, id)["state"] == state)
            {
                return *at;
            }
            assert!(
                Instant::now() < deadline,
                "camera {id} never {state}; last status: {:?}",
                self.docs.last().map(|(_, d)| d)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn camera<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["cameras"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .unwrap_or(&Value::Null)
}

#[test]
fn twenty_camera_restarts_each_come_back_within_5_s_and_the_other_camera_keeps_its_rate() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let clip = video("indoor_walkers.mp4").display().to_string();
    let (p1, p2) = (free_port(), free_port());
    let mut flaky = Some(Camera::start(&clip, p1, "copy"));
    let _steady = Camera::start(&clip, p2, "copy");
    let cameras =
        camera_block("flaky", &url(p1), "h264") + &camera_block("steady", &url(p2), "auto");
    let config = daemon_config(dir.path(), &broker.url(), free_port(), &cameras);
    let mut status = StatusLog::new(broker.port);
    let daemon = start_daemon(&config);
    let t0 = Instant::now();
    status.wait("flaky", "online", t0, Duration::from_secs(60));
    status.wait("steady", "online", t0, Duration::from_secs(60));
    // Let the steady camera's 5 s rate window fill before its rate counts.
    std::thread::sleep(Duration::from_secs(6));
    let measured_from = Instant::now();

    let mut noticed = Vec::new();
    let mut back = Vec::new();
    for cycle in 0..20 {
        let killed = Instant::now();
        flaky.take().unwrap().kill();
        let seen_down = status.wait("flaky", "reconnecting", killed, Duration::from_secs(30));
        noticed.push(seen_down - killed);
        // Down for at least 1.5 s: long enough for the box to be in its back-off.
        std::thread::sleep(
            (killed + Duration::from_millis(1500)).saturating_duration_since(Instant::now()),
        );
        flaky = Some(Camera::start(&clip, p1, "copy"));
        let restarted = Instant::now();
        let online = status.wait("flaky", "online", restarted, Duration::from_secs(30));
        let took = online - restarted;
        eprintln!(
            "cycle {cycle:2}: failure seen after {:.2} s, back {:.2} s after the restart",
            noticed[cycle].as_secs_f64(),
            took.as_secs_f64()
        );
        back.push(took);
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(2));
    status.poll();

    let mut secs: Vec<f64> = back.iter().map(Duration::as_secs_f64).collect();
    secs.sort_by(f64::total_cmp);
    let steady: Vec<(f64, String)> = status
        .docs
        .iter()
        .filter(|(at, _)| *at >= measured_from)
        .map(|(_, d)| camera(d, "steady"))
        .map(|c| {
            (
                c["fps"].as_f64().unwrap_or(0.0),
                c["state"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let fps: Vec<f64> = steady.iter().map(|(f, _)| *f).collect();
    let last = status
        .docs
        .last()
        .map(|(_, d)| camera(d, "flaky").clone())
        .unwrap();
    eprintln!(
        "back after restart: median {:.2} s, max {:.2} s; steady camera over {} status documents: {:.1}..{:.1} frames/s; flaky camera reconnects {}",
        secs[secs.len() / 2],
        secs[secs.len() - 1],
        fps.len(),
        fps.iter().cloned().fold(f64::INFINITY, f64::min),
        fps.iter().cloned().fold(0.0, f64::max),
        last["reconnects"]
    );
    assert!(
        secs[secs.len() - 1] < 5.0,
        "every restart back within 5 s: {secs:?}"
    );
    assert!(
        steady.iter().all(|(_, s)| s == "online"),
        "the steady camera never left online: {steady:?}"
    );
    assert!(
        fps.iter().all(|f| *f >= 4.0),
        "the steady camera kept its 5 frames/s: {fps:?}"
    );
    assert!(last["reconnects"].as_u64().unwrap_or(0) >= 20, "{last}");
    ApiSchemas::load().check_all(&status.sub.snapshot());
    stop_daemon(daemon);
}

#[test]
fn a_camera_that_points_nowhere_waits_without_cpu_and_doctor_names_it() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let metrics = free_port();
    let nowhere = url(free_port());
    let config = daemon_config(
        dir.path(),
        &broker.url(),
        metrics,
        &camera_block("nowhere", &nowhere, "h264"),
    );
    let daemon = start_daemon(&config);
    // Past start-up (model load) and into the longer back-off steps.
    std::thread::sleep(Duration::from_secs(8));
    let ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let after = stat.rsplit_once(')').unwrap().1;
        let f: Vec<&str> = after.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let hz = 100.0; // USER_HZ on Linux
    let (c0, t0) = (ticks(daemon.id()), Instant::now());
    std::thread::sleep(Duration::from_secs(20));
    let (c1, t1) = (ticks(daemon.id()), Instant::now());
    let share = (c1 - c0) as f64 / hz / (t1 - t0).as_secs_f64();
    eprintln!(
        "a camera in back-off: {:.2} % of one core over {:.0} s",
        share * 100.0,
        (t1 - t0).as_secs_f64()
    );
    assert!(
        share < 0.02,
        "waiting must not burn CPU: {:.2} %",
        share * 100.0
    );

    let out = Command::new(lookout_bin())
        .args(["doctor", "--camera-timeout", "3", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert!(!out.status.success(), "doctor fails while a camera is down");
    assert!(
        text.lines().any(
            |l| l.starts_with("FAIL  camera nowhere (running daemon): offline")
                && l.contains("reconnect attempt")
        ),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL  camera nowhere:") && l.contains("unreachable")),
        "{text}"
    );
    stop_daemon(daemon);
}

#[test]
fn h265_cameras_stream_with_their_codec_named_or_found() {
    let dir = scratch_dir();
    let port = free_port();
    let _camera = Camera::start(
        &video("parking_lot_overhead.mp4").display().to_string(),
        port,
        "h265",
    );
    for codec in ["h265", "auto"] {
        let config = daemon_config(
            dir.path(),
            "embedded",
            free_port(),
            &camera_block("cam", &url(port), codec),
        );
        let out = Command::new(lookout_bin())
            .args(["camera", "test", "cam", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        eprintln!("codec = {codec}: {text}");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("video/x-h265") && text.contains("768x432"),
            "{text}"
        );
    }
}

#[test]
fn a_camera_worker_that_panics_is_reported_and_restarted_and_the_other_camera_runs_on() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let (pa, pb) = (free_port(), free_port());
    let _a = Camera::start("test:ball", pa, "h264");
    let _b = Camera::start("test:ball", pb, "h264");
    let metrics = free_port();
    let cameras =
        camera_block("crashy", &url(pa), "h264") + &camera_block("steady", &url(pb), "h264");
    let cfg = daemon_config(dir.path(), &broker.url(), metrics, &cameras);
    let mut status = StatusLog::new(broker.port);
    // Camera `crashy` panics on each of its frames (a bug on that camera only).
    let daemon = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .env("FAILPOINTS", "camera-frame=return(crashy)")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("daemon.log")).unwrap())
        .spawn()
        .expect("lookout run");
    let t0 = Instant::now();
    status.wait("steady", "online", t0, Duration::from_secs(30));
    // The status tells the centre the crashed camera is down, and why.
    status.wait("crashy", "offline", t0, Duration::from_secs(30));
    let crash_doc = status
        .docs
        .iter()
        .rev()
        .find(|(_, d)| camera(d, "crashy")["state"] == "offline")
        .map(|(_, d)| camera(d, "crashy").clone())
        .unwrap();
    assert!(
        crash_doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("crashed"),
        "{crash_doc}"
    );
    // It is restarted (5 s back-off, then 10 s): a second crash within 25 s.
    let deadline = Instant::now() + Duration::from_secs(25);
    let crashes = loop {
        let text = http_get(metrics, "/metrics");
        let n = text
            .lines()
            .find(|l| l.starts_with("lookout_camera_crashes_total{camera=\"crashy\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if n >= 2.0 {
            break n;
        }
        assert!(
            Instant::now() < deadline,
            "no restart and second crash:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Meanwhile the other camera streams and the box reports healthy (a camera in its crash
    // back-off is not a wedged loop).
    let text = http_get(metrics, "/metrics");
    assert!(
        text.contains("lookout_camera_up{camera=\"steady\"} 1"),
        "{text}"
    );
    assert!(http_get(metrics, "/healthz").starts_with("ok"));
    let mut daemon = daemon;
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status();
    let stopped = wait_with_deadline(&mut daemon, Duration::from_secs(15));
    assert!(stopped.success(), "a signalled stop is clean: {stopped:?}");
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("CRASHED") && log.contains("failpoint camera-frame on camera crashy"),
        "the crash is in the log with its cause:\n{log}"
    );
    eprintln!("crashy crashed {crashes} times; steady stayed up");
}

fn wait_with_deadline(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[test]
fn an_rtsp_drop_while_a_crowd_lasts_continues_the_same_order() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let orders = Subscriber::start(broker.port, "lookout/v1/test/rtsp/orders/+");
    let clip = video("plaza_pedestrians.mp4").display().to_string();
    let port = free_port();
    let mut camera = Some(Camera::start(&clip, port, "copy"));
    // 15-20 people on the plaza the whole clip; the order must outlast a 4 s outage
    // (clear_s 20: a drop is not "the crowd left").
    let block = camera_block("plaza", &url(port), "h264")
        + "[[cameras.zones]]\nid = \"plaza\"\npolygon = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.98], [0.02, 0.98]]\n\
           [[cameras.rules]]\nkind = \"crowd\"\nzone = \"plaza\"\nmin_count = 8\nhold_s = 2.0\nclear_s = 20.0\n";
    let config = daemon_config(dir.path(), &broker.url(), free_port(), &block);
    let mut status = StatusLog::new(broker.port);
    let daemon = start_daemon(&config);
    let docs = |m: &[Received]| -> Vec<Value> {
        m.iter()
            .filter_map(|r| serde_json::from_slice::<Value>(&r.payload).ok())
            .collect()
    };
    let opened = orders.wait_for(Duration::from_secs(60), "a crowd order", |m| {
        docs(m).iter().any(|o| o["kind"] == "crowd")
    });
    let id = docs(&opened)[0]["id"].as_str().unwrap().to_owned();
    // The camera drops for 4 s (power cut), then streams again from the clip's start.
    let killed = Instant::now();
    camera.take().unwrap().kill();
    status.wait("plaza", "reconnecting", killed, Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(4));
    let _camera = Camera::start(&clip, port, "copy");
    let back = Instant::now();
    status.wait("plaza", "online", back, Duration::from_secs(30));
    // Long enough after the return for a new incident to have opened (hold_s 2) if the rule had
    // started over.
    std::thread::sleep(Duration::from_secs(8));
    let all = docs(&orders.snapshot());
    let ids: std::collections::BTreeSet<&str> =
        all.iter().filter_map(|o| o["id"].as_str()).collect();
    assert_eq!(
        ids.len(),
        1,
        "one order for the one crowd, not one per stream: {ids:?}"
    );
    assert!(
        all.iter().all(|o| o["state"] == "open"),
        "the order never cleared: {:?}",
        all.iter().map(|o| o["state"].clone()).collect::<Vec<_>>()
    );
    let last = all.iter().max_by_key(|o| o["revision"].as_u64()).unwrap();
    assert_eq!(last["id"], id.as_str());
    let events: Vec<&str> = last["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(
        events.iter().filter(|e| **e == "opened").count(),
        1,
        "{events:?}"
    );
    stop_daemon(daemon);
}
