//! The field technician's commands: `init`, `camera …`, `zone …`, `calibrate`, `mqtt …`.
//! Every edit goes through `config::edit`: comments kept, validated as a whole, atomic.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::Subcommand;
use lookout::config::edit::{ConfigEdit, EditError};
use lookout::config::{CameraConfig, Config};
use lookout::ingest::{self, CameraStream, Frame, PlayMode, SourceInfo, SourceKind, StreamEvent};
use toml_edit::{value, Array, InlineTable, Item, Table, Value};

use super::{load_config, BadInput};

/// Config edits refused for what the technician typed are bad input (exit 2).
pub(super) fn edit_error(e: EditError) -> anyhow::Error {
    match e {
        EditError::Io(..) => anyhow!(e),
        other => BadInput(other.to_string()).into(),
    }
}

#[derive(Subcommand)]
pub enum CameraCommand {
    /// Add a camera.
    ///
    /// Example: lookout camera add gate_east --source rtsp://user:pass@10.0.0.21/stream1
    /// --lat 30.2712 --lon 120.1603 --name "东门" --config /etc/lookout/lookout.toml
    ///
    /// Or ask an ONVIF camera for its stream: lookout camera add tower_1 --onvif
    /// http://10.0.0.31/onvif/device_service --onvif-user admin --lat … --lon … --config …
    /// (the password from LOOKOUT_ONVIF_PASSWORD, never the command line).
    Add {
        id: String,
        /// rtsp://… (percent-encode spaces and `!`), a video file, or test:PATTERN.
        #[arg(long, required_unless_present = "onvif", conflicts_with = "onvif")]
        source: Option<String>,
        /// The camera's ONVIF device service: its first media profile's RTSP URI becomes the
        /// source (with the ONVIF user in it, the account most cameras share for both).
        #[arg(long, value_name = "URL")]
        onvif: Option<String>,
        /// ONVIF user; the password is read from the environment variable
        /// LOOKOUT_ONVIF_PASSWORD.
        #[arg(long, requires = "onvif")]
        onvif_user: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Models to run (repeat); default yolox_nano_coco.
        #[arg(long = "model")]
        models: Vec<String>,
        /// Where the camera stands (WGS-84).
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// How far incidents can be from that point, metres (until it is calibrated).
        #[arg(long, default_value_t = 50.0)]
        accuracy: f64,
        #[arg(long)]
        detect_fps: Option<f64>,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Find ONVIF cameras: a WS-Discovery probe on the local segment (multicast), or to one
    /// address (--at) for a camera behind a router that drops multicast.
    ///
    /// Example: lookout camera discover --timeout 3
    Discover {
        /// Seconds to wait for answers.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
        /// Probe this address only (unicast to its port 3702).
        #[arg(long, value_name = "IP")]
        at: Option<std::net::IpAddr>,
    },
    /// An ONVIF PTZ camera's presets and where it points now; with --goto, move to a preset
    /// and wait until it is still (checking a patrol's presets on site).
    ///
    /// Example: lookout camera ptz --onvif http://10.0.0.31/onvif/device_service --onvif-user
    /// admin --goto 2   (password from LOOKOUT_ONVIF_PASSWORD)
    Ptz {
        #[arg(long, value_name = "URL")]
        onvif: String,
        #[arg(long)]
        onvif_user: Option<String>,
        /// Preset token to move to.
        #[arg(long, value_name = "TOKEN")]
        goto: Option<String>,
    },
    /// List the cameras.
    ///
    /// Example: lookout camera list --config /etc/lookout/lookout.toml
    List {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Remove a camera.
    ///
    /// Example: lookout camera remove gate_east --config /etc/lookout/lookout.toml
    Remove {
        id: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Connect and report codec, resolution, frame rate and time to the first frame, or why not.
    ///
    /// Example: lookout camera test gate_east --config /etc/lookout/lookout.toml
    Test {
        id: String,
        /// Seconds to wait for the first frame.
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Store the camera's reference view: what it should see. The camera-fault checks compare
    /// every picture with it (blur, and a view that moved: zones and calibration no longer fit).
    /// Take it after aiming and calibrating the camera, and again after re-aiming it.
    ///
    /// Example: lookout camera reference gate_east --config /etc/lookout/lookout.toml
    Reference {
        id: String,
        /// Use this image instead of a frame from the camera.
        #[arg(long)]
        from: Option<PathBuf>,
        /// A PTZ camera's preset (`[[cameras.presets]] token`): the head is moved there first,
        /// and the view is stored as that preset's reference.
        #[arg(long)]
        preset: Option<String>,
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Serve a video file or a test pattern as an RTSP camera (bench tests without cameras).
    ///
    /// Example: lookout camera simulate ../shared/media/video/indoor_walkers.mp4 --port 8554
    /// --path cam1   (then: --source rtsp://127.0.0.1:8554/cam1)
    Simulate(super::simulate::SimulateArgs),
    /// Save a frame as JPEG or PNG (by the file's extension).
    ///
    /// Example: lookout camera snapshot gate_east --out gate_east.jpg --config lookout.toml
    Snapshot {
        id: String,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum ZoneCommand {
    /// Add a zone: a polygon in normalised image coordinates (0..1 from the top-left), read off
    /// `zone preview`'s grid.
    ///
    /// Example: lookout zone add gate_east sidewalk --polygon "0.1,0.6 0.5,0.55 0.6,0.95 0.05,0.95"
    /// --name "人行道" --config lookout.toml
    Add {
        camera: String,
        id: String,
        /// At least 3 points `x,y`, separated by spaces or `;`.
        #[arg(long, allow_hyphen_values = true)]
        polygon: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List zones (of one camera, or all).
    ///
    /// Example: lookout zone list --config lookout.toml
    List {
        camera: Option<String>,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Remove a zone (refused while a rule uses it).
    ///
    /// Example: lookout zone remove gate_east sidewalk --config lookout.toml
    Remove {
        camera: String,
        id: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Write a PNG of a real frame with a coordinate grid and every zone outlined and labelled.
    ///
    /// Example: lookout zone preview gate_east --out gate_east-zones.png --config lookout.toml
    Preview {
        camera: String,
        #[arg(long)]
        out: PathBuf,
        /// A PTZ camera's preset: the head is moved there first, and the preset's zones are
        /// drawn with the camera's own.
        #[arg(long)]
        preset: Option<String>,
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum MqttCommand {
    /// Set the broker and its credentials.
    ///
    /// Example: lookout mqtt set --broker mqtts://centre.example:8883 --ca /etc/lookout/ca.pem
    /// --username box-001 --password-file /etc/lookout/mqtt.pass --config lookout.toml
    Set {
        /// mqtt://host:port or mqtts://host:port, or `embedded`.
        #[arg(long)]
        broker: Option<String>,
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Client certificate and key (PEM) for mutual TLS.
        #[arg(long)]
        cert: Option<PathBuf>,
        #[arg(long)]
        key: Option<PathBuf>,
        #[arg(long)]
        username: Option<String>,
        /// A file holding the password (kept out of the config).
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Connect with the configured credentials, publish and receive a message, report the
    /// round-trip time or exactly what failed.
    ///
    /// Example: lookout mqtt test --config lookout.toml
    Test {
        #[arg(long, default_value_t = 10.0)]
        timeout: f64,
        #[arg(long, short)]
        config: PathBuf,
    },
}

const TEMPLATE: &str = r#"# lookout box configuration. Every key: docs/config.md. Edit with `lookout camera|zone|calibrate|mqtt`
# (comments are kept) or by hand; `lookout doctor` checks the result.
version = 1

[box]
site = "{SITE}"
id = "{BOX}"
# utc_offset = "+08:00"
# language = "zh"

[uplink]
# mqtt://host:1883, mqtts://host:8883 (with ca_file), or "embedded" for a broker inside the box.
broker = "{BROKER}"

[models]
manifests = "{MANIFESTS}"
dir = "{MODELS}"
onnxruntime = "{ONNXRUNTIME}"

[storage]
dir = "{STATE}"

[metrics]
# /metrics, /healthz and the web console (docs/console.md). Loopback only until TLS is set.
listen = "127.0.0.1:9464"

[console]
# user = "admin"
# password_hash: set by `lookout console passwd` (or `lookout init --console-password`).
# tls_cert = "/etc/lookout/console.pem"
# tls_key = "/etc/lookout/console.key"
"#;

pub struct InitArgs {
    pub config: PathBuf,
    pub site: String,
    pub box_id: String,
    pub broker: String,
    pub state: PathBuf,
    pub manifests: PathBuf,
    pub models: PathBuf,
    pub onnxruntime: PathBuf,
    pub force: bool,
    /// Ask for the web console's password (as `lookout console passwd` does) and store its hash.
    pub console_password: bool,
}

pub fn init(a: InitArgs) -> anyhow::Result<()> {
    if a.config.exists() && !a.force {
        return Err(BadInput(format!(
            "{} already exists (use --force to replace it)",
            a.config.display()
        ))
        .into());
    }
    for (what, v) in [("--site", &a.site), ("--box", &a.box_id)] {
        if !lookout::config::is_identifier(v) {
            return Err(BadInput(format!(
                "{what} {v:?}: use 1-64 letters, digits, '_' or '-' (it becomes part of MQTT topics)"
            ))
            .into());
        }
    }
    if let Some(dir) = a.config.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = TEMPLATE
        .replace("{SITE}", &a.site)
        .replace("{BOX}", &a.box_id)
        .replace("{BROKER}", &a.broker)
        .replace("{MANIFESTS}", &a.manifests.display().to_string())
        .replace("{MODELS}", &a.models.display().to_string())
        .replace("{ONNXRUNTIME}", &a.onnxruntime.display().to_string())
        .replace("{STATE}", &a.state.display().to_string());
    // Asked before anything is written, so a refused password leaves no half-made box.
    let password_hash = if a.console_password {
        Some(super::console::new_password_hash()?)
    } else {
        None
    };
    let mut edit = ConfigEdit::create(&a.config, &text).map_err(edit_error)?;
    if let Some(hash) = password_hash {
        super::console::set_password_hash(&mut edit, None, hash);
    }
    let config = edit.save(lookout::build::check).map_err(edit_error)?;
    std::fs::create_dir_all(&config.storage.dir)
        .with_context(|| format!("cannot create {}", config.storage.dir.display()))?;
    println!(
        "created {} for box {}/{}; state in {}",
        a.config.display(),
        a.site,
        a.box_id,
        config.storage.dir.display()
    );
    if config.console.password_hash.is_none() {
        println!("the web console has no password yet: set one with lookout console passwd");
    }
    Ok(())
}

fn inline(pairs: &[(&str, Value)]) -> InlineTable {
    let mut t = InlineTable::new();
    for (k, v) in pairs {
        t.insert(*k, v.clone());
    }
    t
}

pub fn camera(cmd: CameraCommand) -> anyhow::Result<()> {
    match cmd {
        CameraCommand::Add {
            id,
            source,
            onvif,
            onvif_user,
            name,
            models,
            lat,
            lon,
            accuracy,
            detect_fps,
            config,
        } => {
            let mut edit = ConfigEdit::open(&config).map_err(edit_error)?;
            if edit.camera(&id).is_ok() {
                return Err(BadInput(format!("camera {id:?} already exists")).into());
            }
            let mut t = Table::new();
            t["id"] = value(id.as_str());
            if let Some(n) = name {
                t["name"] = value(n);
            }
            let source = match (source, onvif) {
                (Some(source), _) => source,
                (None, Some(url)) => onvif_source(&url, onvif_user)?,
                (None, None) => return Err(BadInput("give --source or --onvif".into()).into()),
            };
            t["source"] = value(source);
            if let Some(f) = detect_fps {
                t["detect_fps"] = value(f);
            }
            let models = if models.is_empty() {
                vec!["yolox_nano_coco".to_owned()]
            } else {
                models
            };
            t["models"] = value(models.iter().map(String::as_str).collect::<Array>());
            t["location"] = value(inline(&[
                ("lat", lat.into()),
                ("lon", lon.into()),
                ("accuracy_m", accuracy.into()),
            ]));
            edit.cameras().map_err(edit_error)?.push(t);
            edit.save(lookout::build::check).map_err(edit_error)?;
            println!(
                "added camera {id}; check it with: lookout camera test {id} --config {}",
                config.display()
            );
            Ok(())
        }
        CameraCommand::Ptz {
            onvif,
            onvif_user,
            goto,
        } => {
            let credentials = onvif_credentials(onvif_user)?;
            let camera = lookout::onvif::OnvifCamera::connect(&onvif, credentials.as_ref())?;
            for p in camera.presets()? {
                let pose = match (p.pan_tilt, p.zoom) {
                    (Some((pan, tilt)), zoom) => format!(
                        "pan {pan:+.3} tilt {tilt:+.3} zoom {}",
                        zoom.map_or("-".into(), |z| format!("{z:.3}"))
                    ),
                    _ => "(no stored position)".into(),
                };
                println!("preset {:>4}  {}  {pose}", p.token, p.name);
            }
            if let Some(token) = goto {
                camera.goto_and_wait(&token, std::time::Duration::from_secs(30))?;
            }
            let pose = camera.pose()?;
            let f = |v: Option<f32>| v.map_or("-".into(), |v| format!("{v:+.3}"));
            println!(
                "now: pan {} tilt {} zoom {}{}",
                f(pose.pan),
                f(pose.tilt),
                f(pose.zoom),
                if pose.moving { " (moving)" } else { "" }
            );
            Ok(())
        }
        CameraCommand::Discover { timeout, at } => {
            let wait = std::time::Duration::from_secs_f64(timeout.clamp(0.1, 60.0));
            let found = match at {
                Some(ip) => lookout::onvif::discover_at(ip, wait),
                None => lookout::onvif::discover(wait),
            }
            .map_err(|e| anyhow::anyhow!(e))?;
            if found.is_empty() {
                println!("no ONVIF camera answered within {timeout} s");
            }
            for d in found {
                println!(
                    "{}  {}  {}",
                    d.addresses.join(" "),
                    d.name.as_deref().unwrap_or("-"),
                    d.hardware.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        CameraCommand::List { config } => {
            let config = load_config(&config)?;
            for c in &config.cameras {
                let geo = match (&c.calibration, &c.pose) {
                    (Some(cal), _) => format!("calibrated ({} points)", cal.gcp.len()),
                    (_, Some(_)) => "pose".into(),
                    _ => "position only".into(),
                };
                println!(
                    "{:<20} {:<28} {} models={} zones={} rules={} geo={}",
                    c.id,
                    c.display_name(),
                    redact(&c.source),
                    c.models.join(","),
                    c.zones.len(),
                    c.rules.len(),
                    geo
                );
            }
            Ok(())
        }
        CameraCommand::Remove { id, config } => {
            let mut edit = ConfigEdit::open(&config).map_err(edit_error)?;
            edit.camera(&id).map_err(edit_error)?;
            edit.cameras()
                .map_err(edit_error)?
                .retain(|t| t.get("id").and_then(|v| v.as_str()) != Some(id.as_str()));
            edit.save(lookout::build::check).map_err(edit_error)?;
            println!("removed camera {id}");
            Ok(())
        }
        CameraCommand::Test {
            id,
            timeout,
            config,
        } => {
            let config = load_config(&config)?;
            let camera = find_camera(&config, &id)?;
            let probe = grab(camera, Duration::from_secs_f64(timeout))?;
            println!(
                "camera {id}: ok — {}, {}x{}, {}, first frame after {:.2} s",
                probe.info.codec.as_deref().unwrap_or("codec unknown"),
                probe.frame.width(),
                probe.frame.height(),
                probe
                    .info
                    .fps
                    .map(|f| format!("{f:.1} frames/s"))
                    .unwrap_or_else(|| "frame rate unknown".into()),
                probe.first_frame.as_secs_f64()
            );
            Ok(())
        }
        CameraCommand::Simulate(args) => super::simulate::run(args),
        CameraCommand::Reference {
            id,
            from,
            preset,
            timeout,
            config,
        } => {
            let config = load_config(&config)?;
            let camera = find_camera(&config, &id)?;
            let index = preset
                .as_deref()
                .map(|token| preset_index(camera, token))
                .transpose()?;
            let image = match from {
                Some(path) => image::open(&path)
                    .map_err(|e| BadInput(format!("cannot read {}: {e}", path.display())))?
                    .to_rgb8(),
                None => {
                    if let Some(k) = index {
                        move_to_preset(camera, k)?;
                    }
                    let probe = grab(camera, Duration::from_secs_f64(timeout))?;
                    probe.frame.image.as_ref().clone()
                }
            };
            let path = match index {
                Some(k) => camera.preset_reference_path(&config.storage.dir, k),
                None => camera.reference_path(&config.storage.dir),
            };
            lookout::evidence::save_reference(&path, &image)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "stored the reference view of {id} ({}x{}) at {}; a running daemon uses it from its next start",
                image.width(),
                image.height(),
                path.display()
            );
            Ok(())
        }
        CameraCommand::Snapshot {
            id,
            out,
            timeout,
            config,
        } => {
            let config = load_config(&config)?;
            let camera = find_camera(&config, &id)?;
            let probe = grab(camera, Duration::from_secs_f64(timeout))?;
            save_image(&probe.frame.image, &out)?;
            println!(
                "saved {} ({}x{})",
                out.display(),
                probe.frame.width(),
                probe.frame.height()
            );
            Ok(())
        }
    }
}

/// The index of a camera's preset by its token, or why there is none.
fn preset_index(camera: &CameraConfig, token: &str) -> anyhow::Result<usize> {
    if camera.ptz.is_none() {
        return Err(BadInput(format!(
            "camera {} has no [cameras.ptz]: --preset is for PTZ cameras",
            camera.id
        ))
        .into());
    }
    camera
        .presets
        .iter()
        .position(|p| p.token == token)
        .ok_or_else(|| {
            let known: Vec<&str> = camera.presets.iter().map(|p| p.token.as_str()).collect();
            BadInput(format!(
                "camera {} has no preset {token:?} in its tour (its presets: {})",
                camera.id,
                known.join(", ")
            ))
            .into()
        })
}

/// Moves a PTZ camera's head to its preset `k` and waits until it is still and settled.
fn move_to_preset(camera: &CameraConfig, k: usize) -> anyhow::Result<()> {
    let ptz = camera.ptz.as_ref().expect("checked by preset_index");
    let credentials = lookout::onvif::credentials_for(ptz).map_err(BadInput)?;
    let head = lookout::onvif::OnvifCamera::connect(&ptz.onvif, credentials.as_ref())?;
    let token = &camera.presets[k].token;
    let pose = head.goto_and_wait(token, Duration::from_secs(30))?;
    if pose.moving {
        anyhow::bail!(
            "camera {}: the head is still moving 30 s after GotoPreset {token}",
            camera.id
        );
    }
    std::thread::sleep(ptz.settle_s.duration());
    Ok(())
}

/// A source for display: the password of an RTSP URL replaced.
fn redact(source: &str) -> String {
    lookout::redact::url(source)
}

fn find_camera<'a>(config: &'a Config, id: &str) -> anyhow::Result<&'a CameraConfig> {
    config.camera(id).ok_or_else(|| {
        BadInput(format!(
            "no camera {id:?} (cameras: {})",
            config
                .cameras
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into()
    })
}

pub struct Probe {
    pub frame: Frame,
    pub info: SourceInfo,
    pub first_frame: Duration,
}

/// Opens the camera and takes a representative frame: the first one of a live camera, the one
/// a second into a file (first frames are often black).
pub fn grab(camera: &CameraConfig, timeout: Duration) -> anyhow::Result<Probe> {
    let is_file = matches!(SourceKind::classify(&camera.source), SourceKind::File);
    let mode = if is_file {
        PlayMode::Replay
    } else {
        PlayMode::Live
    };
    let started = Instant::now();
    let fail = |e: String| {
        let prefix = format!("camera {}: ", camera.id);
        let detail = e.strip_prefix(&prefix).unwrap_or(&e);
        anyhow!("{prefix}{} ({detail})", ingest::diagnose(&e))
    };
    let mut stream =
        CameraStream::open(camera, camera.detect_fps, mode).map_err(|e| fail(e.to_string()))?;
    let mut first: Option<(Frame, Duration)> = None;
    loop {
        if started.elapsed() > timeout {
            break;
        }
        match stream.next(Duration::from_millis(200)) {
            Ok(StreamEvent::Frame(f)) => {
                let at = started.elapsed();
                let enough = !is_file || f.pts >= Duration::from_secs(1);
                let ttff = first.as_ref().map_or(at, |(_, t)| *t);
                first = Some((f, ttff));
                if enough {
                    break;
                }
            }
            Ok(StreamEvent::Idle) => {}
            Ok(StreamEvent::Eos) => break,
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    let info = stream.source_info();
    match first {
        Some((frame, first_frame)) => Ok(Probe {
            frame,
            info,
            first_frame,
        }),
        None => Err(anyhow!(
            "camera {}: no frame within {:.0} s — {}",
            camera.id,
            timeout.as_secs_f64(),
            "the stream opened but delivered no video (wrong path, no video track, or too slow a link)"
        )),
    }
}

fn save_image(img: &image::RgbImage, out: &Path) -> anyhow::Result<()> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png")) {
        return Err(BadInput(format!("{}: use a .jpg or .png file name", out.display())).into());
    }
    img.save(out)
        .with_context(|| format!("cannot write {}", out.display()))
}

/// Parses `"x,y x,y x,y"` (or `;`-separated) into normalised points.
fn parse_points(s: &str) -> Result<Vec<[f64; 2]>, BadInput> {
    lookout::config::edit::parse_points(s).map_err(BadInput)
}

pub fn zone(cmd: ZoneCommand) -> anyhow::Result<()> {
    match cmd {
        ZoneCommand::Add {
            camera,
            id,
            polygon,
            name,
            config,
        } => {
            let points = parse_points(&polygon)?;
            let mut edit = ConfigEdit::open(&config).map_err(edit_error)?;
            edit.add_zone(&camera, &id, name.as_deref(), &points)
                .map_err(edit_error)?;
            edit.save(lookout::build::check).map_err(edit_error)?;
            println!("added zone {id} to camera {camera}");
            Ok(())
        }
        ZoneCommand::List { camera, config } => {
            let config = load_config(&config)?;
            for c in config
                .cameras
                .iter()
                .filter(|c| camera.as_ref().is_none_or(|id| &c.id == id))
            {
                let locator = lookout::geo::Locator::for_camera(c);
                for z in &c.zones {
                    let area = locator
                        .zone_area(&z.polygon)
                        .map(|a| format!(" {a:.0} m²"))
                        .unwrap_or_default();
                    let pts: Vec<String> = z
                        .polygon
                        .iter()
                        .map(|p| format!("{},{}", p[0], p[1]))
                        .collect();
                    println!(
                        "{:<20} {:<16} {}{area}  {}",
                        c.id,
                        z.id,
                        z.name.as_deref().unwrap_or(&z.id),
                        pts.join(" ")
                    );
                }
            }
            Ok(())
        }
        ZoneCommand::Remove { camera, id, config } => {
            let mut edit = ConfigEdit::open(&config).map_err(edit_error)?;
            let cam = edit.camera(&camera).map_err(edit_error)?;
            let used = cam
                .get("rules")
                .and_then(|r| r.as_array_of_tables())
                .is_some_and(|rules| {
                    rules.iter().any(|r| {
                        ["zone", "water_zone", "shore_zone"]
                            .iter()
                            .any(|k| r.get(k).and_then(|v| v.as_str()) == Some(id.as_str()))
                    })
                });
            if used {
                return Err(BadInput(format!("zone {id} is used by a rule of camera {camera}: remove or change the rule first")).into());
            }
            let zones = cam
                .get_mut("zones")
                .and_then(|z| z.as_array_of_tables_mut());
            let Some(zones) = zones.filter(|z| {
                z.iter()
                    .any(|t| t.get("id").and_then(|v| v.as_str()) == Some(id.as_str()))
            }) else {
                return Err(BadInput(format!("camera {camera} has no zone {id:?}")).into());
            };
            zones.retain(|t| t.get("id").and_then(|v| v.as_str()) != Some(id.as_str()));
            edit.save(lookout::build::check).map_err(edit_error)?;
            println!("removed zone {id} from camera {camera}");
            Ok(())
        }
        ZoneCommand::Preview {
            camera,
            out,
            preset,
            timeout,
            config,
        } => {
            if out.extension().and_then(|e| e.to_str()) != Some("png") {
                return Err(BadInput(format!("{}: the preview is a .png", out.display())).into());
            }
            let config = load_config(&config)?;
            let cam = find_camera(&config, &camera)?;
            let view;
            let cam = match preset.as_deref() {
                Some(token) => {
                    let k = preset_index(cam, token)?;
                    move_to_preset(cam, k)?;
                    view = cam.at_preset(k);
                    &view
                }
                None => cam,
            };
            let probe = grab(cam, Duration::from_secs_f64(timeout))?;
            let zones: Vec<lookout::rules::Zone> = cam
                .zones
                .iter()
                .map(lookout::rules::Zone::from_config)
                .collect();
            let img =
                lookout::evidence::zone_preview(&probe.frame.image, &zones, &cam.mask_zone_ids());
            save_image(&img, &out)?;
            println!(
                "saved {} with {} zone(s) and a 0.1 grid",
                out.display(),
                zones.len()
            );
            Ok(())
        }
    }
}

/// `lookout calibrate CAMERA --gcp x,y,lat,lon …` or `--pose key=value,…`.
pub fn calibrate(
    config: &Path,
    camera: &str,
    gcp: &[String],
    pose: Option<&str>,
    preset: Option<&str>,
) -> anyhow::Result<()> {
    if preset.is_some() && pose.is_some() {
        return Err(BadInput("--pose is the camera's mounting; a preset's pose comes from the head (--preset takes --gcp)".into()).into());
    }
    match (gcp.is_empty(), pose) {
        (true, None) => {
            return Err(BadInput("give ground control points (--gcp x,y,lat,lon, at least 4) or a pose (--pose height=…,heading=…,tilt=…,hfov=…)".into()).into())
        }
        (false, Some(_)) => {
            return Err(BadInput("--gcp (fixed camera) and --pose (lookout/PTZ camera) exclude each other".into()).into())
        }
        _ => {}
    }
    let mut edit = ConfigEdit::open(config).map_err(edit_error)?;
    let cam = edit.camera(camera).map_err(edit_error)?;
    if let Some(p) = pose {
        let mut t = InlineTable::new();
        let known = [
            ("height", "height_m"),
            ("heading", "heading_deg"),
            ("tilt", "tilt_deg"),
            ("roll", "roll_deg"),
            ("pan", "pan_deg"),
            ("ptz_tilt", "ptz_tilt_deg"),
            ("hfov", "hfov_deg"),
            ("aspect", "aspect"),
            ("ground_offset", "ground_offset_m"),
            ("max_range", "max_range_m"),
            ("accuracy", "pointing_accuracy_deg"),
        ];
        for part in p.split(',').filter(|s| !s.trim().is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| BadInput(format!("--pose: {part:?} is not key=value")))?;
            if k.trim() == "terrain" {
                t.insert(
                    "terrain",
                    absolute(Path::new(v.trim())).display().to_string().into(),
                );
                continue;
            }
            let key = known
                .iter()
                .find(|(short, long)| *short == k.trim() || *long == k.trim())
                .map(|(_, long)| *long)
                .ok_or_else(|| {
                    BadInput(format!(
                        "--pose: unknown key {k:?}; use {}, terrain",
                        known.map(|(s, _)| s).join(", ")
                    ))
                })?;
            let v: f64 = v
                .trim()
                .parse()
                .map_err(|_| BadInput(format!("--pose: {k} = {v:?} is not a number")))?;
            t.insert(key, v.into());
        }
        for required in ["height_m", "heading_deg", "tilt_deg", "hfov_deg"] {
            if !t.contains_key(required) {
                return Err(BadInput(format!("--pose needs {required}")).into());
            }
        }
        cam.remove("calibration");
        cam["pose"] = value(t);
        let saved = edit.save(lookout::build::check).map_err(edit_error)?;
        let c = find_camera(&saved, camera)?;
        if let Some(pc) = &c.pose {
            let pose = lookout::geo::pose(&c.location, pc);
            match pose.locate(0.5, 0.5) {
                Ok(hit) => println!(
                    "camera {camera}: pose stored; the image centre looks at {:.6}, {:.6}, {:.0} m away (±{:.0} m)",
                    hit.lat, hit.lon, hit.range_m, hit.accuracy_m
                ),
                Err(e) => println!("camera {camera}: pose stored; the image centre has no ground location: {e}"),
            }
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for g in gcp {
        let v: Vec<f64> = g
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| BadInput(format!("--gcp {g:?}: use x,y,lat,lon (numbers)")))?;
        let [x, y, lat, lon] = v[..] else {
            return Err(BadInput(format!("--gcp {g:?}: use x,y,lat,lon (four numbers)")).into());
        };
        rows.push([x, y, lat, lon]);
    }
    let solved = lookout::geo::calibrate(&lookout::geo::gcps(&rows))
        .map_err(|e| BadInput(format!("camera {camera}: {e}")))?;
    println!("point  x       y       error");
    for (i, (r, e)) in rows.iter().zip(&solved.errors_m).enumerate() {
        let flag = if solved.outliers.contains(&i) {
            "  ← left out: wrong pixel or lat/lon?"
        } else {
            ""
        };
        println!("{:>5}  {:.4}  {:.4}  {e:.2} m{flag}", i + 1, r[0], r[1]);
    }
    println!(
        "overall {:.2} m rms over {} points",
        solved.rms_m,
        rows.len() - solved.outliers.len()
    );
    if rows.len() == 4 {
        println!("note: with exactly 4 points nothing checks them; a fifth point would");
    }
    let mut arr = Array::new();
    for r in &rows {
        arr.push(Value::Array(r.iter().copied().collect()));
    }
    let mut t = Table::new();
    t["gcp"] = value(arr);
    match preset {
        Some(token) => {
            let entry = cam
                .get_mut("presets")
                .and_then(Item::as_array_of_tables_mut)
                .and_then(|presets| {
                    presets
                        .iter_mut()
                        .find(|p| p.get("token").and_then(|v| v.as_str()) == Some(token))
                })
                .ok_or_else(|| {
                    BadInput(format!(
                        "camera {camera} has no [[cameras.presets]] with token {token:?}"
                    ))
                })?;
            entry["calibration"] = Item::Table(t);
        }
        None => {
            cam.remove("pose");
            cam["calibration"] = Item::Table(t);
        }
    }
    edit.save(lookout::build::check).map_err(edit_error)?;
    match preset {
        Some(token) => println!("camera {camera}, preset {token}: calibration stored"),
        None => println!("camera {camera}: calibration stored"),
    }
    Ok(())
}

pub fn mqtt(cmd: MqttCommand) -> anyhow::Result<()> {
    match cmd {
        MqttCommand::Set {
            broker,
            ca,
            cert,
            key,
            username,
            password_file,
            client_id,
            config,
        } => {
            let mut edit = ConfigEdit::open(&config).map_err(edit_error)?;
            if !edit.doc.contains_key("uplink") {
                edit.doc["uplink"] = Item::Table(Table::new());
            }
            let up = &mut edit.doc["uplink"];
            if let Some(b) = broker {
                up["broker"] = value(b);
            }
            if let Some(c) = ca {
                up["ca_file"] = value(absolute(&c).display().to_string());
            }
            if let Some(c) = cert {
                up["cert_file"] = value(absolute(&c).display().to_string());
            }
            if let Some(k) = key {
                up["key_file"] = value(absolute(&k).display().to_string());
            }
            if let Some(u) = username {
                up["username"] = value(u);
            }
            if let Some(p) = password_file {
                up["password_file"] = value(absolute(&p).display().to_string());
            }
            if let Some(c) = client_id {
                up["client_id"] = value(c);
            }
            let saved = edit.save(lookout::build::check).map_err(edit_error)?;
            println!(
                "uplink: broker {}; check it with: lookout mqtt test --config {}",
                saved.uplink.broker,
                config.display()
            );
            Ok(())
        }
        MqttCommand::Test { timeout, config } => {
            let config = load_config(&config)?;
            let latency = mqtt_round_trip(&config, Duration::from_secs_f64(timeout))?;
            println!(
                "mqtt {}: ok — connected, published and received in {:.1} ms",
                config.uplink.broker,
                latency.as_secs_f64() * 1000.0
            );
            Ok(())
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

/// Connects with the configured credentials, publishes to a private test topic and waits for it
/// to come back. The error says which step failed.
pub fn mqtt_round_trip(config: &Config, timeout: Duration) -> anyhow::Result<Duration> {
    use rumqttc::{ConnectionError, Event, Packet, QoS};
    let (client, mut conn) = tool_client(config, "lookout-test")?;
    let topic = format!(
        "{}/mqtt-test/{}",
        lookout::uplink::Topics::new(&config.identity.site, &config.identity.id).root(),
        uuid::Uuid::now_v7().simple()
    );
    let started = Instant::now();
    let mut sent = None;
    let broker = &config.uplink.broker;
    while started.elapsed() < timeout {
        let left = timeout.saturating_sub(started.elapsed());
        let ev = match conn.recv_timeout(left) {
            Ok(ev) => ev,
            Err(_) => break,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                client.subscribe(topic.clone(), QoS::AtLeastOnce)?;
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                sent = Some(Instant::now());
                client.publish(topic.clone(), QoS::AtLeastOnce, false, b"ping".to_vec())?;
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                let rtt = sent.map(|s| s.elapsed()).unwrap_or_default();
                let _ = client.disconnect();
                return Ok(rtt);
            }
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code)) => {
                return Err(anyhow!("mqtt {broker}: the broker refused the connection ({code:?}): check username and password_file"));
            }
            Err(e) => {
                let text = e.to_string();
                let why = if text.contains("refused") {
                    "nothing listens there (wrong host or port, broker down, firewall)"
                } else if text.contains("CertificateRequired") || text.contains("BadCertificate") {
                    "the broker wants a client certificate it trusts: set uplink.cert_file and key_file (lookout mqtt set --cert --key)"
                } else if text.to_ascii_lowercase().contains("tls") || text.contains("certificate")
                {
                    "TLS failed: check ca_file and that the URL's host matches the certificate"
                } else {
                    "connection failed"
                };
                return Err(anyhow!("mqtt {broker}: {why}: {text}"));
            }
        }
    }
    Err(anyhow!(
        "mqtt {broker}: {} within {:.0} s",
        if sent.is_some() {
            "the test message did not come back (ACLs?)"
        } else {
            "no connection"
        },
        timeout.as_secs_f64()
    ))
}

/// A short-lived MQTT client on the configured broker, with the box's credentials and TLS, for
/// the CLI's own round trips; refused for the embedded broker, which lives inside `lookout run`.
fn tool_client(
    config: &Config,
    prefix: &str,
) -> anyhow::Result<(rumqttc::Client, rumqttc::Connection)> {
    if config.uplink.broker == "embedded" {
        return Err(anyhow!(
            "the broker is embedded: it runs inside `lookout run`; nothing to reach from outside"
        ));
    }
    let address = lookout::uplink::BrokerAddress::parse(&config.uplink.broker)
        .map_err(|e| BadInput(e.to_string()))?;
    let opts = lookout::uplink::tool_options(
        config,
        &address,
        &format!("{prefix}-{}", uuid::Uuid::now_v7().simple()),
    )?;
    Ok(rumqttc::Client::new(opts, 8))
}

/// Publishes one message (QoS 1) on the configured broker and waits for its acknowledgement.
pub fn publish_once(config: &Config, topic: &str, payload: Vec<u8>) -> anyhow::Result<()> {
    use rumqttc::{Event, Packet, QoS};
    let (client, mut conn) = tool_client(config, "lookout-tool")?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut payload = Some(payload);
    while Instant::now() < deadline {
        match conn.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                if let Some(p) = payload.take() {
                    client.publish(topic, QoS::AtLeastOnce, false, p)?;
                }
            }
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => {
                let _ = client.disconnect();
                return Ok(());
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(anyhow!("broker {}: {e}", config.uplink.broker)),
            Err(_) => break,
        }
    }
    Err(anyhow!(
        "broker {}: no acknowledgement within 5 s",
        config.uplink.broker
    ))
}

/// The ONVIF user of `--onvif-user`, its password from the environment (never the command
/// line, which `ps` shows to every user of the box).
fn onvif_credentials(user: Option<String>) -> anyhow::Result<Option<lookout::onvif::Credentials>> {
    Ok(match user {
        Some(user) => Some(lookout::onvif::Credentials {
            user,
            password: std::env::var("LOOKOUT_ONVIF_PASSWORD").map_err(|_| {
                BadInput("--onvif-user needs the password in LOOKOUT_ONVIF_PASSWORD".into())
            })?,
        }),
        None => None,
    })
}

/// The RTSP source an ONVIF camera gives for its first profile, with the ONVIF user in it.
fn onvif_source(url: &str, user: Option<String>) -> anyhow::Result<String> {
    let credentials = onvif_credentials(user)?;
    let camera = lookout::onvif::OnvifCamera::connect(url, credentials.as_ref())?;
    let uri = camera.stream_uri()?;
    let device = camera.device().ok();
    let mut source = url::Url::parse(&uri)
        .map_err(|e| anyhow::anyhow!("the camera's stream URI is not a URL ({e})"))?;
    if !matches!(source.scheme(), "rtsp" | "rtsps") {
        return Err(anyhow::anyhow!(
            "the camera's stream URI is {}, not rtsp://",
            lookout::redact::url(&uri)
        ));
    }
    if let (Some(c), "") = (&credentials, source.username()) {
        let _ = source.set_username(&c.user);
        let _ = source.set_password(Some(&c.password));
    }
    if let Some(d) = device {
        println!(
            "ONVIF camera: {} {} (firmware {}), profile {}, stream {}",
            d.manufacturer,
            d.model,
            d.firmware,
            camera.profile(),
            lookout::redact::url(source.as_str())
        );
    }
    Ok(source.to_string())
}
