//! CLI definition and glue: parse, load the config, hand over to `runtime`.

mod console;
mod demo;
mod doctor;
mod models;
mod orders;
mod prompt;
mod provision;
mod simulate;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{Parser, Subcommand};
use lookout::config::{Config, ConfigErrors};
use lookout::ingest::PlayMode;
use lookout::runtime::{self, RunOptions};

#[derive(Parser)]
#[command(
    name = "lookout",
    version,
    about = "Edge video perception: cameras in, geo-tagged work orders out over MQTT"
)]
pub struct Cli {
    /// More log output (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon on every camera of a config until stopped (SIGTERM/SIGINT).
    ///
    /// Example: lookout run --config /etc/lookout/lookout.toml
    Run {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Folder of the ledger (orders and the outbox); default: the config's storage.dir.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Run one camera's pipeline on a video file as fast as possible and exit at its end.
    ///
    /// Same code path as live; work orders are published to the configured broker as usual.
    ///
    /// Example: lookout replay --config examples/forest_fire_smoke.toml --camera forest_fire_smoke
    /// --video ../shared/media/video/forest_fire_smoke.mp4 --json
    Replay {
        /// The config file.
        #[arg(long, short)]
        config: PathBuf,
        /// Camera id whose pipeline, models and rules to use.
        #[arg(long)]
        camera: String,
        /// Video file to play instead of the camera's source.
        #[arg(long)]
        video: PathBuf,
        /// Print every published work-order revision as one JSON object per line on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Accuracy: replay every clip of a ground-truth file and score the orders per kind.
    ///
    /// Prints a scorecard (expected, found, missed, false alarms, time to order) and exits 1
    /// when recall is below --min-recall or false alarms exceed --max-false-alarms.
    ///
    /// Example: lookout eval eval/shared.toml --min-recall 1 --max-false-alarms 0
    Eval {
        /// The ground-truth file (TOML; see eval/shared.toml).
        truth: PathBuf,
        /// Print the scorecard as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Clips replayed at once (default: one per two cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Fail below this share of expected orders found (0..1).
        #[arg(long, default_value_t = 0.0)]
        min_recall: f64,
        /// Fail above this many false alarms.
        #[arg(long)]
        max_false_alarms: Option<usize>,
    },
    /// Demo on real footage: the example configs, an embedded broker, a live print of the orders.
    ///
    /// Example: lookout demo
    Demo {
        /// Folder with the example configs.
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
        /// Play the clips at their recorded speed instead of as fast as possible.
        #[arg(long)]
        realtime: bool,
    },
    /// Work orders: the ledger (list, show, stats), the live feed (watch), and the centre's
    /// commands (dispatch, handled, verify, cancel, close).
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
    /// The voice prompts of on-site warnings: generate the defaults (espeak-ng), play one.
    #[command(subcommand)]
    Prompt(prompt::PromptCommand),
    /// The web console (served with /metrics on [metrics] listen): set its password.
    #[command(subcommand)]
    Console(console::ConsoleCommand),
    /// Create a config file and the state folder for a new box.
    ///
    /// Example: lookout init --config /etc/lookout/lookout.toml --site xihu-district --box box-017
    /// --broker mqtt://centre.example:1883
    Init {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        site: String,
        #[arg(long = "box", value_name = "ID")]
        box_id: String,
        #[arg(long, default_value = "embedded")]
        broker: String,
        #[arg(long, default_value = "/var/lib/lookout/state")]
        state: PathBuf,
        #[arg(long, default_value = "/usr/share/lookout/models")]
        manifests: PathBuf,
        #[arg(long, default_value = "/var/lib/lookout/models")]
        models_dir: PathBuf,
        #[arg(long, default_value = "/usr/lib/lookout/libonnxruntime.so")]
        onnxruntime: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        /// Set the web console's password now: typed twice without echo, or one line on
        /// standard input (scripts).
        #[arg(long)]
        console_password: bool,
    },
    /// Cameras: add, list, remove, test (connect and report), snapshot.
    #[command(subcommand)]
    Camera(provision::CameraCommand),
    /// Zones: add, list, remove, preview (a PNG with the zones and a coordinate grid).
    #[command(subcommand)]
    Zone(provision::ZoneCommand),
    /// Geo-calibrate a camera: ground control points (fixed) or a pose (lookout/PTZ).
    ///
    /// Example: lookout calibrate gate_east --gcp 0.12,0.81,30.27101,120.16012
    /// --gcp 0.85,0.78,30.27095,120.16049 --gcp 0.40,0.45,30.27131,120.16030
    /// --gcp 0.70,0.40,30.27138,120.16052 --gcp 0.52,0.62,30.27115,120.16035 --config lookout.toml
    ///
    /// Example: lookout calibrate north_hill --pose height=120,heading=40,tilt=2,hfov=20
    /// --config lookout.toml
    Calibrate {
        camera: String,
        /// A ground control point x,y,lat,lon (x, y normalised 0..1, read off `zone preview`);
        /// repeat, at least 4.
        #[arg(long, allow_hyphen_values = true)]
        gcp: Vec<String>,
        /// Pose of a lookout/PTZ camera: height, heading, tilt, hfov (required), roll, pan,
        /// ptz_tilt, aspect, ground_offset, max_range, accuracy, as key=value,…
        #[arg(long, allow_hyphen_values = true)]
        pose: Option<String>,
        /// A PTZ camera's preset: the ground control points are of that preset's picture
        /// (`lookout zone preview CAMERA --preset TOKEN` shows it), stored in its
        /// `[[cameras.presets]]` entry.
        #[arg(long)]
        preset: Option<String>,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Model files: list, verify (sha256), fetch (from a folder or the manifest's URL).
    #[command(subcommand)]
    Models(models::ModelsCommand),
    /// The uplink: set the broker and credentials, test a round trip.
    #[command(subcommand)]
    Mqtt(provision::MqttCommand),
    /// Check everything the box needs, one line per check, with the fix.
    ///
    /// Example: lookout doctor --config /etc/lookout/lookout.toml
    Doctor {
        #[arg(long, short)]
        config: PathBuf,
        /// Seconds to wait for each camera's first frame.
        #[arg(long, default_value_t = 10.0)]
        camera_timeout: f64,
    },
    /// The compute plan of a config: each camera's detection rate per model, as asked and as
    /// the box can give it, from the models' cost measured here and the cores this machine has.
    ///
    /// Run it on the box (or one like it): over budget, rates are lowered by priority (low
    /// first; cameras with fire or water rules are high unless the config says otherwise).
    ///
    /// Example: lookout plan --config /etc/lookout/lookout.toml
    Plan {
        #[arg(long, short)]
        config: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn,rumqttd=off",
        1 => "info,rumqttd=off",
        _ => "debug,rumqttd=info",
    };
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let registry = tracing_subscriber::registry().with(filter);
    // Under systemd (JOURNAL_STREAM is set when stderr goes to the journal) events go to
    // journald natively: levels become priorities and fields (CAMERA=gate_east, ORDER=…) can be
    // queried with journalctl. Anywhere else, or when the journal socket is missing: stderr.
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        if let Ok(journal) = tracing_journald::layer() {
            let _ = registry
                .with(journal.with_syslog_identifier("lookout".into()))
                .try_init();
            return;
        }
    }
    // Colours only for a person at a terminal: log files and pipes get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    let _ = registry
        .with(
            tracing_subscriber::fmt::layer()
                // Every line through the redactor: a URL with a password in a dependency's
                // message does not reach the log.
                .with_writer(|| lookout::redact::Writer(std::io::stderr()))
                .with_ansi(ansi),
        )
        .try_init();
}

/// Bad input (exit 2) vs a failed run (exit 1).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<ConfigErrors>().is_some() || e.downcast_ref::<BadInput>().is_some() {
        2
    } else {
        1
    }
}

/// An error in what the user gave us (arguments, files), as opposed to a failure while running.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    Ok(lookout::build::load(path)?)
}

pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            config: path,
            state,
        } => {
            let config = load_config(&path)?;
            let options = RunOptions {
                state_dir: Some(state.unwrap_or_else(|| config.storage.dir.clone())),
                accept_commands: true,
                daemon: true,
                config_path: Some(path.clone()),
                ..Default::default()
            };
            let report = runtime::run(&config, options)?;
            tracing::info!(?report, "Stopped.");
            Ok(())
        }
        Command::Replay {
            config,
            camera,
            video,
            json,
        } => replay(&config, &camera, &video, json),
        Command::Eval {
            truth,
            json,
            jobs,
            min_recall,
            max_false_alarms,
        } => eval(&truth, json, jobs, min_recall, max_false_alarms),
        Command::Demo { examples, realtime } => demo::run(&examples, realtime),
        Command::Orders(cmd) => orders::run(cmd),
        Command::Prompt(cmd) => prompt::run(cmd),
        Command::Console(cmd) => console::run(cmd),
        Command::Init {
            config,
            site,
            box_id,
            broker,
            state,
            manifests,
            models_dir,
            onnxruntime,
            force,
            console_password,
        } => provision::init(provision::InitArgs {
            config,
            site,
            box_id,
            broker,
            state,
            manifests,
            models: models_dir,
            onnxruntime,
            force,
            console_password,
        }),
        Command::Camera(cmd) => provision::camera(cmd),
        Command::Zone(cmd) => provision::zone(cmd),
        Command::Calibrate {
            camera,
            gcp,
            pose,
            preset,
            config,
        } => provision::calibrate(&config, &camera, &gcp, pose.as_deref(), preset.as_deref()),
        Command::Mqtt(cmd) => provision::mqtt(cmd),
        Command::Models(cmd) => models::run(cmd),
        Command::Doctor {
            config,
            camera_timeout,
        } => doctor::run(&config, camera_timeout),
        Command::Plan { config, json } => {
            let config = load_config(&config)?;
            let plan = runtime::plan(&config)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print!("{}", plan.table());
            }
            Ok(())
        }
    }
}

fn eval(
    truth: &Path,
    json: bool,
    jobs: Option<usize>,
    min_recall: f64,
    max_false_alarms: Option<usize>,
) -> anyhow::Result<()> {
    if !(0.0..=1.0).contains(&min_recall) {
        return Err(BadInput("--min-recall must be within 0..1".into()).into());
    }
    // ONNX Runtime runs each model on `models.threads` cores: one clip per two cores keeps
    // them busy without oversubscribing.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = jobs.unwrap_or((cores / 2).max(1));
    let card = lookout::eval::run(truth, jobs).map_err(BadInput)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&card)?);
    } else {
        print!("{}", card.render());
    }
    if card.recall < min_recall {
        anyhow::bail!(
            "eval: {} of {} expected orders found (recall {:.2}, below {min_recall})",
            card.found,
            card.expected,
            card.recall
        );
    }
    if let Some(max) = max_false_alarms.filter(|m| card.false_alarms > *m) {
        anyhow::bail!(
            "eval: {} false alarms (at most {max} allowed)",
            card.false_alarms
        );
    }
    Ok(())
}

fn replay(config_path: &Path, camera: &str, video: &Path, json: bool) -> anyhow::Result<()> {
    let config = load_config(config_path)?;
    if !video.is_file() {
        return Err(BadInput(format!("video file {} does not exist", video.display())).into());
    }
    let stdout = Arc::new(Mutex::new(std::io::stdout()));
    let tap: Option<lookout::uplink::OrderTap> = json.then(|| {
        let out = stdout.clone();
        Arc::new(move |order: &lookout::orders::WorkOrder| {
            if let Ok(line) = serde_json::to_string(order) {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        }) as lookout::uplink::OrderTap
    });
    let options = RunOptions {
        mode: PlayMode::Replay,
        only_cameras: vec![camera.to_owned()],
        source_override: Some((camera.to_owned(), video.to_owned())),
        tap,
        client_suffix: format!("-replay-{}", std::process::id()),
        strict: true,
        ..Default::default()
    };
    let report =
        runtime::run(&config, options).with_context(|| format!("replay of {}", video.display()))?;
    for cam in &report.cameras {
        eprintln!(
            "replay: camera {}: {} frames in {:.2} s ({:.1} frames/s), {} inferences, {} order revisions; stream time 0 = {}",
            cam.camera,
            cam.frames,
            cam.elapsed.as_secs_f64(),
            cam.fps(),
            cam.inferences,
            cam.orders,
            cam.stream_started
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_else(|| "-".into())
        );
    }
    Ok(())
}
