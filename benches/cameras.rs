//! Many cameras on one box: the inference scheduler, motion gating and the compute plan,
//! measured side by side with the Python reference (`../shared/tools/pyref.py`: OpenCV decode +
//! onnxruntime + NMS, one process per clip) and with the physical limit (one single-threaded
//! ONNX Runtime session per core running side by side with nothing else), all in one run.
//!
//! What runs (`cargo bench --bench cameras`; figures go to docs/performance.md):
//! 1. The physical limit: YOLOX-Nano 416 sessions, one per core, each on its own thread.
//! 2. The reference: `pyref.py --every 1 --threads 1` on the eight clips at once, total inferred
//!    frames over wall time (needs a Python with cv2 and onnxruntime: `LOOKOUT_PYREF_PYTHON`, or
//!    `python3` when it has them; skipped otherwise).
//! 3. `lookout run` with the eight clips as file cameras played in real time, detection wanted
//!    on every frame (`detect_fps = 25`, `model_fps = 25`), motion gating off, then on:
//!    `lookout_inference_runs_total` and the frames judged, read from `/metrics` 4 s and 12 s
//!    after the cameras came online (the shortest clip is 13.6 s).
//! 4. One camera, every frame, whole process: the plaza clip replayed as fast as it goes, lookout
//!    against `pyref.py` (2 threads, its default).
//! 5. Sixteen cameras (the eight clips twice) at 2 person detections a second with the fire model
//!    wanted at 1/s on all: the plan, the effective rates, lag p99 and RSS.
//!
//! `cargo test --benches` runs a two-second version of each part that needs no Python.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::rss_mb;
use lookout::detect::{Manifest, ManifestSet, Model, SessionOptions};

const CLIPS: [&str; 8] = [
    "plaza_pedestrians",
    "group_gathering",
    "indoor_walkers",
    "parking_lot_overhead",
    "traffic_dense_slow_lanes_overpass",
    "parking_lot_cctv_car_departs",
    "abandoned_bag_station_platform",
    "crowded_street_vertical",
];

struct Paths {
    repo: PathBuf,
    media: PathBuf,
    models: PathBuf,
    onnxruntime: PathBuf,
    lookout: PathBuf,
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let paths = Paths {
        media: repo.join("../shared/media/video"),
        models: repo.join(".runtime/models"),
        onnxruntime: repo.join(".runtime/onnxruntime/libonnxruntime.so"),
        lookout: PathBuf::from(env!("CARGO_BIN_EXE_lookout")),
        repo,
    };
    let manifests = ManifestSet::load_dir(&paths.repo.join("models")).expect("manifests");
    let yolox = manifests
        .get("yolox_nano_coco")
        .expect("yolox manifest")
        .clone();
    let cores = lookout::runtime::budget::physical_cores();
    println!("physical cores: {cores}");

    let window = if quick { (1.0, 3.0) } else { (4.0, 12.0) };
    let limit = physical_limit(&paths, &yolox, cores, if quick { 1.0 } else { 8.0 });
    println!("[limit] {cores} single-threaded sessions side by side: {limit:.1} inferences/s");

    let python = pyref_python();
    if let (false, Some(py)) = (quick, &python) {
        let (inferred, wall) = pyref_many(&paths, py);
        println!(
            "[reference] pyref.py x8 --every 1 --threads 1: {inferred} frames in {wall:.2} s = {:.1} inferences/s",
            inferred as f64 / wall
        );
    } else if !quick {
        println!(
            "[reference] skipped: no Python with cv2 and onnxruntime (set LOOKOUT_PYREF_PYTHON)"
        );
    }

    let n = if quick { 2 } else { 8 };
    for gating in [false, true] {
        let config = cameras_config(
            &paths,
            &CLIPS[..n],
            25.0,
            &[("yolox_nano_coco", 25.0)],
            gating,
        );
        let m = measure_run(&paths, &config, window, n);
        println!(
            "[{n} cameras saturated, gating {}] {:.1} inferences/s, {:.1} frames judged/s, {:.2} frames judged per inference, dropped {:.0}, lag p99 <= {} s, RSS {:.0} MB",
            if gating { "on" } else { "off" },
            m.inferences_per_s,
            m.frames_per_s,
            m.frames_per_s / m.inferences_per_s.max(1e-9),
            m.dropped,
            m.lag_p99,
            m.rss_mb
        );
        for (model, (_, planned, effective)) in &m.per_model {
            println!("    {model}: per camera planned {planned:.2}/s, effective {effective:.2}/s");
        }
    }

    if !quick {
        let (frames, lookout_wall) = one_camera_lookout(&paths);
        print!("[one camera, every frame] lookout replay: {frames} frames in {lookout_wall:.2} s");
        match &python {
            Some(py) => {
                let (inferred, wall) = pyref_one(&paths, py);
                println!(
                    "; pyref.py (2 threads): {inferred} frames in {wall:.2} s; lookout {:.2}x",
                    wall / lookout_wall
                );
            }
            None => println!(),
        }
    }

    let n = if quick { 2 } else { 16 };
    let clips: Vec<&str> = CLIPS.iter().cycle().take(n).copied().collect();
    // The fire model at a rate the plan can give on every camera, then wanted at 1/s on all:
    // over budget, the plan lowers rates by priority (the fire rule makes the fire model
    // `high`, the crowd count's person model `normal`).
    for fire in [0.2, 1.0] {
        let config = cameras_config(
            &paths,
            &clips,
            2.0,
            &[("yolox_nano_coco", 2.0), ("fire_smoke_yolov8", fire)],
            true,
        );
        let m = measure_run(&paths, &config, window, n);
        println!(
            "[{n} cameras at 2/s + fire wanted at {fire}/s] {:.1} inferences/s, lag p99 <= {} s, RSS {:.0} MB, dropped {:.0}",
            m.inferences_per_s, m.lag_p99, m.rss_mb, m.dropped
        );
        for (model, (wanted, planned, effective)) in &m.per_model {
            println!(
                "    {model}: per camera wanted {wanted:.2}/s, planned {planned:.2}/s, effective {effective:.2}/s (means over the cameras)"
            );
        }
    }
}

/// Inferences a second of one single-threaded session per core, side by side, on a real frame.
fn physical_limit(paths: &Paths, manifest: &Manifest, cores: usize, secs: f64) -> f64 {
    let model = Arc::new(Model::load(manifest, &paths.models).expect("model"));
    let image = image::open(paths.repo.join("../shared/media/images/dog.jpg"))
        .expect("image")
        .to_rgb8();
    let prepared = model.prepare(&image, &model.options());
    let input = prepared.views[0].pixels.to_tensor(&manifest.contract);
    let options = SessionOptions {
        threads: 1,
        execution: lookout::detect::Execution::Cpu,
        arena: lookout::detect::MemoryArena::Keep,
    };
    let mut engines: Vec<_> = (0..cores)
        .map(|_| model.engine(&paths.onnxruntime, options).expect("session"))
        .collect();
    for e in &mut engines {
        e.infer(&input).expect("warm-up");
    }
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let began = Instant::now();
    let runs: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter_mut()
            .map(|e| {
                let input = &input;
                s.spawn(move || {
                    let mut n = 0u64;
                    while Instant::now() < until {
                        e.infer(input).expect("inference");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    runs as f64 / began.elapsed().as_secs_f64()
}

/// A Python that can run pyref.py.
fn pyref_python() -> Option<String> {
    let candidates = std::env::var("LOOKOUT_PYREF_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_owned()]);
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import cv2, onnxruntime, numpy"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(py);
        }
    }
    None
}

fn pyref(paths: &Paths, py: &str, clip: &str, threads: u32) -> Child {
    Command::new(py)
        .arg(paths.repo.join("../shared/tools/pyref.py"))
        .arg(paths.media.join(format!("{clip}.mp4")))
        .args(["--every", "1", "--threads", &threads.to_string()])
        .arg("--model")
        .arg(paths.models.join("yolox_nano_coco.onnx"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("pyref.py starts")
}

fn inferred_of(child: Child) -> u64 {
    let out = child.wait_with_output().expect("pyref.py runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("inferred="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("pyref.py printed {text:?}"))
}

/// The eight clips at once, one process each: total inferred frames and the wall time.
fn pyref_many(paths: &Paths, py: &str) -> (u64, f64) {
    let began = Instant::now();
    let children: Vec<Child> = CLIPS.iter().map(|c| pyref(paths, py, c, 1)).collect();
    let inferred = children.into_iter().map(inferred_of).sum();
    (inferred, began.elapsed().as_secs_f64())
}

fn pyref_one(paths: &Paths, py: &str) -> (u64, f64) {
    let began = Instant::now();
    let inferred = inferred_of(pyref(paths, py, "plaza_pedestrians", 2));
    (inferred, began.elapsed().as_secs_f64())
}

/// A config of file cameras, one per clip, with the given rates and no rules but a zone-free
/// crowd count (so tracks and rules run as on a real camera).
fn cameras_config(
    paths: &Paths,
    clips: &[&str],
    detect_fps: f64,
    models: &[(&str, f64)],
    gating: bool,
) -> String {
    let mut toml = format!(
        r#"version = 1
[box]
site = "bench"
id = "bench"
[uplink]
broker = "embedded"
embedded_listen = "127.0.0.1:0"
[metrics]
listen = "127.0.0.1:{port}"
[models]
manifests = "{manifests}"
dir = "{models}"
onnxruntime = "{ort}"
"#,
        port = free_port(),
        manifests = paths.repo.join("models").display(),
        models = paths.models.display(),
        ort = paths.onnxruntime.display(),
    );
    let names: Vec<String> = models.iter().map(|(m, _)| format!("{m:?}")).collect();
    let fps: Vec<String> = models
        .iter()
        .map(|(m, f)| format!("{m} = {f:.1}"))
        .collect();
    for (i, clip) in clips.iter().enumerate() {
        toml.push_str(&format!(
            r#"
[[cameras]]
id = "c{i:02}_{clip}"
source = "{source}"
detect_fps = {detect_fps:.1}
models = [{names}]
model_fps = {{ {fps} }}
location = {{ lat = 30.0, lon = 120.0 }}
faults = {{ enabled = false }}
motion = {{ enabled = {gating} }}
[[cameras.zones]]
id = "all"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
[[cameras.rules]]
kind = "crowd"
zone = "all"
min_count = 1000
"#,
            source = paths.media.join(format!("{clip}.mp4")).display(),
            names = names.join(", "),
            fps = fps.join(", "),
        ));
        if models.iter().any(|(m, _)| m.starts_with("fire")) {
            toml.push_str("[[cameras.rules]]\nkind = \"fire\"\n");
        }
    }
    toml
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[derive(Default)]
struct Measured {
    inferences_per_s: f64,
    frames_per_s: f64,
    dropped: f64,
    lag_p99: String,
    rss_mb: f64,
    /// Per model: mean wanted, planned and effective rate over the cameras.
    per_model: BTreeMap<String, (f64, f64, f64)>,
}

/// Runs `lookout run` on a config and reads its metrics `window` seconds after all cameras are
/// online.
fn measure_run(paths: &Paths, config: &str, window: (f64, f64), cameras: usize) -> Measured {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(config.as_bytes()))
        .expect("config written");
    let port: u16 = config
        .lines()
        .find_map(|l| l.strip_prefix("listen = \"127.0.0.1:"))
        .and_then(|p| p.trim_end_matches('"').parse().ok())
        .expect("metrics port");
    let mut child = Command::new(&paths.lookout)
        .arg("run")
        .arg("--config")
        .arg(&path)
        .arg("--state")
        .arg(dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lookout starts");
    let url = format!("http://127.0.0.1:{port}/metrics");
    let started = Instant::now();
    let online = loop {
        if started.elapsed() > Duration::from_secs(60) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
        if let Some(text) = scrape(&url) {
            let up = sum(&text, "lookout_camera_up", None);
            if up as usize >= cameras {
                break Some(Instant::now());
            }
        }
    };
    let Some(online) = online else {
        let _ = child.kill();
        panic!("the cameras did not come online");
    };
    let at = |t: f64| {
        let when = online + Duration::from_secs_f64(t);
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
        scrape(&url).expect("metrics")
    };
    let first = at(window.0);
    let second = at(window.1);
    let rss_mb = rss_mb(child.id());
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let secs = window.1 - window.0;
    let delta = |name: &str, filter: Option<&str>| {
        (sum(&second, name, filter) - sum(&first, name, filter)) / secs
    };
    let mut sums: BTreeMap<String, ([f64; 3], f64)> = BTreeMap::new();
    for line in second.lines() {
        let Some(rest) = line.strip_prefix("lookout_detect_fps{") else {
            continue;
        };
        let Some((labels, v)) = rest.split_once("} ") else {
            continue;
        };
        let label = |key: &str| {
            labels
                .split(&format!("{key}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        let i = match label("rate").as_str() {
            "wanted" => 0,
            "planned" => 1,
            _ => 2,
        };
        let entry = sums.entry(label("model")).or_default();
        entry.0[i] += v.parse::<f64>().unwrap_or(0.0);
        if i == 0 {
            entry.1 += 1.0;
        }
    }
    let per_model = sums
        .into_iter()
        .map(|(m, (s, n))| {
            let n = n.max(1.0);
            (m, (s[0] / n, s[1] / n, s[2] / n))
        })
        .collect();
    Measured {
        inferences_per_s: delta("lookout_inference_runs_total", None),
        frames_per_s: delta("lookout_camera_frames_total", None),
        dropped: sum(&second, "lookout_inference_dropped_total", None),
        lag_p99: lag_p99(&second),
        rss_mb,
        per_model,
    }
}

fn scrape(url: &str) -> Option<String> {
    ureq::get(url).call().ok()?.body_mut().read_to_string().ok()
}

/// The sum of a metric's series (those whose labels contain `filter`).
fn sum(text: &str, name: &str, filter: Option<&str>) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| filter.is_none_or(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The smallest lag bucket holding 99 % of all cameras' frames.
fn lag_p99(text: &str) -> String {
    let mut by_bound: BTreeMap<String, f64> = BTreeMap::new();
    let mut total = 0.0;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("lookout_frame_lag_seconds_bucket{") else {
            continue;
        };
        let Some((labels, v)) = rest.split_once("} ") else {
            continue;
        };
        let bound = labels
            .split("le=\"")
            .nth(1)
            .and_then(|b| b.split('"').next())
            .unwrap_or("+Inf")
            .to_owned();
        let v: f64 = v.parse().unwrap_or(0.0);
        if bound == "+Inf" {
            total += v;
        }
        *by_bound.entry(bound).or_default() += v;
    }
    let mut bounds: Vec<(f64, String)> = by_bound
        .keys()
        .filter(|b| *b != "+Inf")
        .map(|b| (b.parse().unwrap_or(f64::MAX), b.clone()))
        .collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, b) in bounds {
        if by_bound[&b] >= 0.99 * total {
            return b;
        }
    }
    "+Inf".into()
}

/// The plaza clip replayed as fast as it goes, YOLOX-Nano 416 on every frame, no gating: frames
/// and the whole process's wall time.
fn one_camera_lookout(paths: &Paths) -> (u64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("one.toml");
    let config = cameras_config(
        paths,
        &["plaza_pedestrians"],
        25.0,
        &[("yolox_nano_coco", 25.0)],
        false,
    );
    std::fs::write(&path, config).expect("config written");
    let began = Instant::now();
    let out = Command::new(&paths.lookout)
        .args(["replay", "--config"])
        .arg(&path)
        .args(["--camera", "c00_plaza_pedestrians", "--video"])
        .arg(paths.media.join("plaza_pedestrians.mp4"))
        .output()
        .expect("lookout replay");
    let wall = began.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stderr);
    let frames = text
        .split("c00_plaza_pedestrians: ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("replay printed {text:?}"));
    (frames, wall)
}
