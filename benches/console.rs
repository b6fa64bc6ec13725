//! What the web console costs the box: `lookout run` on two RTSP cameras (the plaza and the
//! parking lane, `lookout camera simulate`), its CPU and memory read from `/proc` while nobody
//! looks, while one browser keeps a camera page open (the page reloads its picture every 2 s:
//! the requests are made here exactly as the page's script makes them), and idle again; then the
//! cost of one request of each kind, from bursts.
//!
//! `cargo bench --bench console` (60 s phases; figures go to docs/performance.md);
//! `cargo test --benches` runs a two-second version.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{
    console_login, console_passwd, cpu_s, free_port, http, rss_mb, simulated_camera,
    wait_listening, Daemon,
};

/// The daemon's mean CPU (% of one core) and peak RSS over `secs`, while `during` runs.
fn phase(pid: u32, secs: f64, mut during: impl FnMut(Instant) -> bool) -> (f64, f64) {
    let (t0, c0) = (Instant::now(), cpu_s(pid));
    let mut rss: f64 = 0.0;
    while t0.elapsed().as_secs_f64() < secs {
        if !during(t0) {
            std::thread::sleep(Duration::from_millis(100));
        }
        rss = rss.max(rss_mb(pid));
    }
    let used = cpu_s(pid) - c0;
    (100.0 * used / t0.elapsed().as_secs_f64(), rss)
}

fn config(repo: &Path, http: u16, plaza: u16, parking: u16, broker: u16) -> String {
    format!(
        r#"version = 1
[box]
site = "bench"
id = "box-001"
[uplink]
broker = "embedded"
embedded_listen = "127.0.0.1:{broker}"
[metrics]
listen = "127.0.0.1:{http}"
[models]
manifests = "{repo}/models"
dir = "{repo}/.runtime/models"
onnxruntime = "{repo}/.runtime/onnxruntime/libonnxruntime.so"

[[cameras]]
id = "plaza"
source = "rtsp://127.0.0.1:{plaza}/cam"
detect_fps = 2.0
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
[[cameras.zones]]
id = "plaza"
polygon = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.98], [0.02, 0.98]]
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 10

[[cameras]]
id = "parking"
source = "rtsp://127.0.0.1:{parking}/cam"
detect_fps = 2.0
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
[[cameras.zones]]
id = "lane"
polygon = [[0.05, 0.05], [0.95, 0.05], [0.95, 0.95], [0.05, 0.95]]
[[cameras.rules]]
kind = "parking"
zone = "lane"
"#,
        repo = repo.display()
    )
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0) * 1e3
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let secs: f64 = if quick { 2.0 } else { 60.0 };
    let burst = if quick { 3 } else { 50 };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lookout = PathBuf::from(env!("CARGO_BIN_EXE_lookout"));
    let media = repo.join("../shared/media/video");
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, plaza, parking, broker) = (free_port(), free_port(), free_port(), free_port());
    let _plaza = simulated_camera(&lookout, &media.join("plaza_pedestrians.mp4"), plaza);
    let _parking = simulated_camera(&lookout, &media.join("parking_lot_overhead.mp4"), parking);
    let cfg = dir.path().join("lookout.toml");
    std::fs::write(&cfg, config(&repo, port, plaza, parking, broker)).unwrap();
    console_passwd(&cfg, "bench-password-1");
    let daemon = Daemon::start(&cfg, &dir.path().join("state"), None);
    let pid = daemon.0.id();
    wait_listening(port, "the console");
    let cookie = console_login(port, "bench-password-1");
    let with = [("Cookie", cookie.as_str())];
    // Both cameras analysing before anything is measured.
    let deadline = Instant::now() + Duration::from_secs(60);
    while http(port, "GET", "/cameras/plaza/frame.jpg", &with, "").status != 200
        || http(port, "GET", "/cameras/parking/frame.jpg", &with, "").status != 200
    {
        assert!(Instant::now() < deadline, "no camera frames");
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs_f64(secs.min(10.0)));

    let (idle_cpu, idle_rss) = phase(pid, secs, |_| false);
    println!("[idle] console unused: daemon {idle_cpu:.1} % CPU, RSS {idle_rss:.0} MB");

    // One browser on the plaza's camera page: the page, then its picture every 2 s.
    assert_eq!(http(port, "GET", "/cameras/plaza", &with, "").status, 200);
    let mut next = Instant::now();
    let mut waits = Vec::new();
    let (poll_cpu, poll_rss) = phase(pid, secs, |_| {
        if Instant::now() < next {
            return false;
        }
        next += Duration::from_secs(2);
        let t = Instant::now();
        assert_eq!(
            http(port, "GET", "/cameras/plaza/frame.jpg", &with, "").status,
            200
        );
        waits.push(t.elapsed().as_secs_f64());
        true
    });
    println!(
        "[polled] one browser on a camera page (frame.jpg every 2 s, {} requests, median {:.1} ms): daemon {poll_cpu:.1} % CPU, RSS {poll_rss:.0} MB",
        waits.len(),
        median_ms(waits)
    );
    let (again_cpu, again_rss) = phase(pid, secs, |_| false);
    println!("[idle again] daemon {again_cpu:.1} % CPU, RSS {again_rss:.0} MB");

    for (what, path) in [
        ("camera picture", "/cameras/plaza/frame.jpg"),
        ("overview page", "/"),
        ("camera page", "/cameras/plaza"),
        ("status API", "/api/status"),
        ("orders page", "/orders"),
    ] {
        let c0 = cpu_s(pid);
        let mut times = Vec::new();
        for _ in 0..burst {
            let t = Instant::now();
            assert_eq!(http(port, "GET", path, &with, "").status, 200, "{path}");
            times.push(t.elapsed().as_secs_f64());
        }
        // The daemon's analysis runs on meanwhile: its share is taken off at the idle rate.
        let wall: f64 = times.iter().sum();
        let used = (cpu_s(pid) - c0 - wall * idle_cpu / 100.0).max(0.0);
        println!(
            "[request] {what} ({path}): median {:.1} ms, ~{:.1} ms of CPU each ({burst} in a row)",
            median_ms(times),
            1e3 * used / burst as f64
        );
    }
}
