//! `lookout doctor`: one line per check, pass or fail with the fix; non-zero exit when anything
//! fails.

use std::path::Path;
use std::time::Duration;

use lookout::config::Config;

use super::provision;

struct Report {
    failed: usize,
}

impl Report {
    fn line(&mut self, ok: bool, what: &str, detail: impl std::fmt::Display) {
        if ok {
            println!("ok    {what}: {detail}");
        } else {
            self.failed += 1;
            println!("FAIL  {what}: {detail}");
        }
    }
}

/// GStreamer elements the pipeline templates use (`pipelines/`).
const ELEMENTS: &[(&str, &str)] = &[
    ("rtspsrc", "gstreamer1.0-plugins-good"),
    ("rtph264depay", "gstreamer1.0-plugins-good"),
    ("rtph265depay", "gstreamer1.0-plugins-good"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("h265parse", "gstreamer1.0-plugins-bad"),
    ("avdec_h264", "gstreamer1.0-libav"),
    ("avdec_h265", "gstreamer1.0-libav"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
    ("videorate", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("filesrc", "gstreamer1.0 core"),
];

pub fn run(config_path: &Path, camera_timeout: f64) -> anyhow::Result<()> {
    let mut r = Report { failed: 0 };
    let config: Config = match super::load_config(config_path) {
        Ok(c) => {
            r.line(
                true,
                "config",
                format!("{} is valid", config_path.display()),
            );
            c
        }
        Err(e) => {
            r.line(
                false,
                "config",
                format!("{e:#} — fix the lines named, then run doctor again"),
            );
            return Err(super::BadInput(format!("{} check(s) failed", r.failed)).into());
        }
    };
    match lookout::ingest::init_gstreamer() {
        Ok(()) => {
            let missing: Vec<String> = ELEMENTS
                .iter()
                .filter(|(e, _)| gstreamer::ElementFactory::find(e).is_none())
                .map(|(e, pkg)| format!("{e} (apt install {pkg})"))
                .collect();
            r.line(
                missing.is_empty(),
                "gstreamer",
                if missing.is_empty() {
                    format!("{} elements present", ELEMENTS.len())
                } else {
                    format!("missing {}", missing.join(", "))
                },
            );
        }
        Err(e) => r.line(
            false,
            "gstreamer",
            format!("{e} — install GStreamer 1.20+ (scripts/setup.sh)"),
        ),
    }
    match lookout::detect::environment(&config.models.onnxruntime).map(|_| ()) {
        Ok(()) => r.line(
            true,
            "onnx runtime",
            format!(
                "{} loads (CPU execution provider)",
                config.models.onnxruntime.display()
            ),
        ),
        Err(e) => r.line(false, "onnx runtime", format!("{e}")),
    }
    let used: std::collections::BTreeSet<&String> = config
        .cameras
        .iter()
        .flat_map(|c| c.models.iter())
        .collect();
    match lookout::detect::ManifestSet::load_dir(&config.models.manifests) {
        Ok(set) => {
            for name in used {
                match set.get(name) {
                    None => r.line(
                        false,
                        &format!("model {name}"),
                        set.missing(name, &config.models.manifests),
                    ),
                    Some(m) => match lookout::detect::Detector::load(
                        m,
                        &config.models.dir,
                        &config.models.onnxruntime,
                        1,
                    ) {
                        Ok(_) => r.line(
                            true,
                            &format!("model {name}"),
                            "present, sha256 matches, loads",
                        ),
                        Err(e) => r.line(
                            false,
                            &format!("model {name}"),
                            format!("{e} — lookout models fetch, or scripts/fetch-models.sh"),
                        ),
                    },
                }
            }
        }
        Err(e) => r.line(false, "models", e.to_string()),
    }
    // What the cameras ask of the models against what this machine can give (a warning, not
    // a failure: over budget the box lowers rates by priority and says so).
    match lookout::runtime::plan(&config) {
        Ok(plan) => {
            let verdict = if plan.degraded() {
                "OVER BUDGET: rates lowered by priority (see the plan below, or lookout plan)"
            } else {
                "fits"
            };
            r.line(
                true,
                "compute plan",
                format!(
                    "{verdict}; {:.2} of {:.2} cores of inference",
                    plan.planned_load, plan.capacity
                ),
            );
            for line in plan.table().lines() {
                println!("      {line}");
            }
        }
        Err(e) => r.line(false, "compute plan", e.to_string()),
    }
    if config.uplink.broker == "embedded" {
        r.line(true, "broker", "embedded (runs inside lookout run)");
    } else {
        match provision::mqtt_round_trip(&config, Duration::from_secs(5)) {
            Ok(rtt) => r.line(
                true,
                "broker",
                format!(
                    "{} reachable with the configured credentials, round trip {:.1} ms",
                    config.uplink.broker,
                    rtt.as_secs_f64() * 1e3
                ),
            ),
            Err(e) => r.line(false, "broker", format!("{e:#}")),
        }
    }
    running_daemon(&config, &mut r);
    for camera in &config.cameras {
        match provision::grab(camera, Duration::from_secs_f64(camera_timeout)) {
            Ok(p) => r.line(
                true,
                &format!("camera {}", camera.id),
                format!(
                    "{}x{} frames, first after {:.2} s",
                    p.frame.width(),
                    p.frame.height(),
                    p.first_frame.as_secs_f64()
                ),
            ),
            Err(e) => {
                let what = format!("camera {}", camera.id);
                let text = format!("{e:#}");
                let text = text.strip_prefix(&format!("{what}: ")).unwrap_or(&text);
                r.line(false, &what, text)
            }
        }
    }
    for camera in config.cameras.iter().filter(|c| c.ptz.is_some()) {
        let (ok, detail) = ptz_head(camera);
        r.line(ok, &format!("ptz {}", camera.id), detail);
    }
    let state = &config.storage.dir;
    match free_bytes(state) {
        Some(free) => r.line(
            free >= 1 << 30,
            "disk",
            format!(
                "{:.1} GiB free at {}{}",
                free as f64 / (1u64 << 30) as f64,
                state.display(),
                if free < 1 << 30 {
                    " — under 1 GiB: free space, or lower storage.outbox_quota_mb"
                } else {
                    ""
                }
            ),
        ),
        None => r.line(
            false,
            "disk",
            format!(
                "{} does not exist or cannot be read — lookout init creates it",
                state.display()
            ),
        ),
    }
    let now = chrono::Utc::now();
    r.line(
        now.timestamp() > 1_735_689_600,
        "clock",
        format!(
            "{} — orders are time-stamped with it; keep NTP on",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
    );
    if r.failed > 0 {
        return Err(anyhow::anyhow!("{} check(s) failed", r.failed));
    }
    Ok(())
}

/// Whether a PTZ camera's head answers over ONVIF with the configured user, and holds every
/// preset of its tour (a preset deleted in the camera's web page would leave the tour stuck).
fn ptz_head(camera: &lookout::config::CameraConfig) -> (bool, String) {
    let ptz = camera.ptz.as_ref().expect("filtered");
    let credentials = match lookout::onvif::credentials_for(ptz) {
        Ok(c) => c,
        Err(e) => return (false, e),
    };
    let head = match lookout::onvif::OnvifCamera::connect(&ptz.onvif, credentials.as_ref()) {
        Ok(h) => h,
        Err(e) => return (false, e.to_string()),
    };
    let stored = match head.presets() {
        Ok(p) => p,
        Err(e) => return (false, e.to_string()),
    };
    let missing: Vec<&str> = camera
        .presets
        .iter()
        .map(|p| p.token.as_str())
        .filter(|t| !stored.iter().any(|s| s.token == *t))
        .collect();
    if !missing.is_empty() {
        return (
            false,
            format!(
                "the camera has no preset {} (it has: {}): set them up in its web page or fix [[cameras.presets]]",
                missing.join(", "),
                stored.iter().map(|s| s.token.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let pose = head.pose().map(|p| {
        let f = |v: Option<f32>| v.map_or("-".into(), |v| format!("{v:+.3}"));
        format!("pan {} tilt {} zoom {}", f(p.pan), f(p.tilt), f(p.zoom))
    });
    (
        true,
        format!(
            "ONVIF answers; {} preset(s) of the tour stored; now at {}",
            camera.presets.len(),
            pose.unwrap_or_else(|e| format!("(GetStatus: {e})"))
        ),
    )
}

/// What a running daemon (found on its metrics endpoint) says about each camera: the one a
/// technician most needs named is the camera the daemon has been retrying for an hour.
fn running_daemon(config: &Config, r: &mut Report) {
    if !config.metrics.enabled {
        return;
    }
    let url = format!("http://{}/metrics", config.metrics.listen);
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .new_agent();
    let text = match agent
        .get(&url)
        .call()
        .and_then(|mut res| res.body_mut().read_to_string())
    {
        Ok(t) => t,
        Err(_) => {
            println!("note  daemon: not answering on {url} (not running, or metrics elsewhere)");
            return;
        }
    };
    let metrics = parse_metrics(&text);
    let value = |name: &str, camera: &str| {
        metrics
            .iter()
            .find(|(n, labels, _)| n == name && labels.contains(&format!("camera=\"{camera}\"")))
            .map(|(_, _, v)| *v)
    };
    for camera in &config.cameras {
        let state = metrics
            .iter()
            .find(|(n, labels, v)| {
                n == "lookout_camera_state"
                    && *v == 1.0
                    && labels.contains(&format!("camera=\"{}\"", camera.id))
            })
            .and_then(|(_, labels, _)| labels.split("state=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("unknown")
            .to_owned();
        let what = format!("camera {} (running daemon)", camera.id);
        let reconnects = value("lookout_camera_reconnects_total", &camera.id).unwrap_or(0.0);
        let age = value("lookout_camera_frame_age_seconds", &camera.id).unwrap_or(-1.0);
        let fps = value("lookout_camera_fps", &camera.id).unwrap_or(0.0);
        match state.as_str() {
            "online" => r.line(true, &what, format!("online, {fps:.1} frames/s to the detectors")),
            "ended" => r.line(true, &what, "its file has ended"),
            state => r.line(
                false,
                &what,
                format!(
                    "{state}, {} and {reconnects:.0} reconnect attempt(s) — the daemon keeps retrying with back-off; see the camera check below",
                    if age < 0.0 {
                        "no frame since the daemon started".to_owned()
                    } else {
                        format!("last frame {age:.0} s ago")
                    }
                ),
            ),
        }
    }
}

/// `(name, labels, value)` of each sample line of a Prometheus text exposition.
fn parse_metrics(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let value: f64 = value.parse().ok()?;
            let (name, labels) = match key.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (key, ""),
            };
            Some((name.to_owned(), labels.to_owned(), value))
        })
        .collect()
}

/// Free bytes on the file system holding `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["-P", "-B1"])
        .arg(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}
