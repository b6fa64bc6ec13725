//! The daemon as systemd and a metrics scraper see it: READY and watchdog pings on
//! NOTIFY_SOCKET, `/metrics` with sane, changing values, `/healthz`, SIGTERM ending a run cleanly
//! with the ledger intact, and the unit file accepted by `systemd-analyze verify`.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("metrics port");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from\n{metrics}"))
}

#[test]
fn a_daemon_tells_systemd_it_is_ready_pings_the_watchdog_serves_metrics_and_stops_cleanly() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let cfg = example_with_broker(dir.path(), "plaza_pedestrians.toml", &broker.url());
    let port = free_port();
    // A camera that never answers keeps the daemon alive after the clip, like a real box.
    serve_on_and_keep_alive(&cfg, port);
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let state = dir.path().join("state");
    let mut daemon = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state")
        .arg(&state)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "1000000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // READY=1, then WATCHDOG=1 about every half second.
    let mut notes: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while notes.iter().filter(|n| n.contains("WATCHDOG=1")).count() < 3 {
        assert!(
            Instant::now() < deadline,
            "systemd notifications so far: {notes:?}"
        );
        let mut buf = [0u8; 256];
        if let Ok(n) = socket.recv(&mut buf) {
            notes.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let ready = notes
        .iter()
        .position(|n| n.contains("READY=1"))
        .expect("READY=1");
    let first_ping = notes.iter().position(|n| n.contains("WATCHDOG=1")).unwrap();
    assert!(ready < first_ping, "ready before the first ping: {notes:?}");

    let (status, health) = get(port, "/healthz");
    assert_eq!((status, health.trim()), (200, "ok"));
    let (status, first) = get(port, "/metrics");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_secs(2));
    let (_, second) = get(port, "/metrics");
    let frames = "lookout_camera_frames_total{camera=\"plaza_pedestrians\"}";
    assert!(
        value(&second, frames) > value(&first, frames),
        "frames keep coming"
    );
    assert!(value(&second, "lookout_uptime_seconds") > value(&first, "lookout_uptime_seconds"));
    let fps = value(&second, "lookout_camera_fps{camera=\"plaza_pedestrians\"}");
    assert!(
        fps == 0.0 || (1.0..=6.0).contains(&fps),
        "sampled at 5/s: {fps}"
    );
    assert_eq!(value(&second, "lookout_camera_up{camera=\"spare\"}"), 0.0);
    assert!(value(&second, "lookout_camera_reconnects_total{camera=\"spare\"}") >= 1.0);
    let ms = value(
        &second,
        "lookout_inference_last_seconds{model=\"yolox_nano_coco_dyn\"}",
    );
    // The plaza example runs the free-size YOLOX-Nano on 2×2 tiles and the whole frame, twice
    // a second: one run is five passes.
    assert!(ms > 0.001 && ms < 2.0, "one YOLOX-Nano run: {ms} s");
    assert!(
        value(
            &second,
            "lookout_inference_runs_total{model=\"yolox_nano_coco_dyn\"}"
        ) > 2.0
    );
    assert!(value(&second, "lookout_outbox_messages") >= 0.0);
    let (status, _) = get(port, "/nope");
    assert_eq!(status, 404);

    // Wait for the clip's crowd order to be in the ledger, then SIGTERM.
    let ledger = state.join("ledger.sqlite3");
    let deadline = Instant::now() + Duration::from_secs(30);
    while lookout::ledger::Ledger::open(&ledger)
        .and_then(|l| l.list(None, 10))
        .map_or(0, |o| o.len())
        == 0
    {
        assert!(Instant::now() < deadline, "no order in the ledger");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, metrics) = get(port, "/metrics");
    assert!(
        value(&metrics, "lookout_orders{state=\"open\"}") >= 1.0,
        "{metrics}"
    );
    let asked = Instant::now();
    Command::new("kill")
        .arg("-TERM")
        .arg(daemon.id().to_string())
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(15),
            "SIGTERM must end the daemon within 15 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit 0 on SIGTERM: {status:?}");
    eprintln!("SIGTERM to exit: {:.2} s", asked.elapsed().as_secs_f64());
    let mut buf = [0u8; 256];
    let mut stopping = false;
    while let Ok(n) = socket.recv(&mut buf) {
        stopping |= String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1");
    }
    assert!(stopping, "STOPPING=1 sent");
    let l = lookout::ledger::Ledger::open(&ledger).unwrap();
    assert!(
        !l.list(None, 10).unwrap().is_empty(),
        "the ledger is intact"
    );
}

#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        eprintln!("SKIPPED: systemd-analyze is not installed here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // verify checks that ExecStart exists: point it at the binary under test.
    let unit = std::fs::read_to_string(repo().join("systemd/lookout.service"))
        .unwrap()
        .replace("/usr/bin/lookout", &lookout_bin().display().to_string());
    let path = dir.path().join("lookout.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("lookout.service"),
        "{stderr}"
    );
}

fn reload_config(metrics: u16, state: &std::path::Path, cameras: &[(&str, &str, f64)]) -> String {
    let mut text = format!(
        "version = 1\n[box]\nsite = \"test\"\nid = \"reload\"\n[uplink]\nbroker = \"embedded\"\nembedded_listen = \"127.0.0.1:{}\"\n[metrics]\nlisten = \"127.0.0.1:{metrics}\"\n[storage]\ndir = \"{}\"\n[models]\nmanifests = \"{}/models\"\ndir = \"{}/.runtime/models\"\nonnxruntime = \"{}/.runtime/onnxruntime/libonnxruntime.so\"\nthreads = 1\n",
        free_port(),
        state.display(),
        repo().display(),
        repo().display(),
        repo().display()
    );
    for (id, pattern, fps) in cameras {
        text.push_str(&format!(
            "\n[[cameras]]\nid = \"{id}\"\nsource = \"test:{pattern}\"\ndetect_fps = {fps:.1}\nmodels = [\"yolox_nano_coco\"]\nlocation = {{ lat = 30.0, lon = 120.0 }}\n"
        ));
    }
    text
}

fn frames(metrics: &str, camera: &str) -> Option<f64> {
    let series = format!("lookout_camera_frames_total{{camera=\"{camera}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .and_then(|v| v.parse().ok())
}

/// Waits until `pred` holds for the scraped metrics.
fn until(port: u16, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Not listening yet while the daemon starts.
        let m = if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            get(port, "/metrics").1
        } else {
            String::new()
        };
        if !m.is_empty() && pred(&m) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{m}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_reload_changes_only_the_changed_cameras_and_an_invalid_config_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = free_port();
    let state = dir.path().join("state");
    let path = dir.path().join("lookout.toml");
    // The embedded broker's port stays as first written: it needs a restart to change anyway.
    let first = reload_config(metrics, &state, &[("a", "ball", 2.0), ("b", "smpte", 2.0)]);
    std::fs::write(&path, &first).unwrap();
    let log = dir.path().join("daemon.log");
    let mut daemon = Command::new(lookout_bin())
        .args(["-v", "run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let hup = |pid: u32| {
        Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap()
    };
    let m = until(metrics, "both cameras", |m| {
        frames(m, "a").unwrap_or(0.0) > 0.0 && frames(m, "b").unwrap_or(0.0) > 0.0
    });
    let a0 = frames(&m, "a").unwrap();

    // An invalid config: rejected with its error, both cameras keep running.
    let broker_line = first
        .lines()
        .find(|l| l.starts_with("embedded_listen"))
        .unwrap();
    let invalid = first.replace("detect_fps = 2.0", "detect_fps = 0.0");
    std::fs::write(&path, &invalid).unwrap();
    hup(daemon.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log).unwrap().contains("REJECTED") {
        assert!(
            Instant::now() < deadline,
            "{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("detect_fps"),
        "the rejection names the problem: {text}"
    );
    let m = until(metrics, "both cameras still running", |m| {
        frames(m, "a").unwrap() > a0 + 2.0 && frames(m, "b").is_some()
    });
    let a1 = frames(&m, "a").unwrap();
    let b1 = frames(&m, "b").unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let (_, m) = get(metrics, "/metrics");
    assert!(
        frames(&m, "b").unwrap() > b1,
        "b still runs on the old config"
    );

    // A valid change: b goes, c comes, a is untouched.
    let second = reload_config(metrics, &state, &[("a", "ball", 2.0), ("c", "snow", 2.0)])
        .lines()
        .map(|l| {
            if l.starts_with("embedded_listen") {
                broker_line
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, &second).unwrap();
    hup(daemon.id());
    let m = until(metrics, "c running, b gone", |m| {
        frames(m, "c").unwrap_or(0.0) > 0.0 && frames(m, "b").is_none()
    });
    assert!(frames(&m, "a").unwrap() >= a1, "a kept counting");
    let text = std::fs::read_to_string(&log).unwrap();
    let reloaded = text
        .lines()
        .find(|l| l.contains("Config reloaded"))
        .expect("a reload line");
    assert!(
        reloaded.contains(r#"added=["c"]"#)
            && reloaded.contains(r#"removed=["b"]"#)
            && reloaded.contains(r#"restarted=[]"#)
            && reloaded.contains(r#"unchanged=["a"]"#),
        "{reloaded}"
    );

    // An edit without a signal is noticed too: c's rate changes, only c restarts.
    let third = second.replace(
        "source = \"test:snow\"\ndetect_fps = 2.0",
        "source = \"test:snow\"\ndetect_fps = 1.0",
    );
    assert_ne!(third, second);
    std::fs::write(&path, &third).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if let Some(l) = text
            .lines()
            .filter(|l| l.contains("Config reloaded"))
            .nth(1)
        {
            assert!(
                l.contains(r#"restarted=["c"]"#) && l.contains(r#"unchanged=["a"]"#),
                "{l}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the edit was not noticed: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "SIGTERM ignored");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}
