//! Runtime: builds the topology a config describes and runs it.
//!
//! Threads: one worker thread per camera runs ingest → detect → track → rules → orders in a
//! straight line on its own frames; models are shared between cameras behind a mutex; a tokio
//! runtime (one worker) hosts the uplink task and the signal handler; GStreamer has its own
//! streaming threads inside each pipeline; the embedded broker, when used, has its own thread.

mod camera;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::config::{CameraConfig, Config};
use crate::control::Control;
use crate::detect::{Detector, ManifestSet};
use crate::health::{self, Health};
use crate::ingest::PlayMode;
use crate::ledger::Ledger;
use crate::uplink::{self, BrokerAddress, Uplink};
pub use camera::CameraReport;
pub use uplink::broker::EmbeddedBroker;

/// How to run.
pub struct RunOptions {
    pub mode: PlayMode,
    /// Run only these cameras (all when empty).
    pub only_cameras: Vec<String>,
    /// Replace a camera's source (replay of a video file on that camera's pipeline).
    pub source_override: Option<(String, PathBuf)>,
    /// Called for every order revision handed to the broker.
    pub tap: Option<uplink::OrderTap>,
    /// Appended to the MQTT client id.
    pub client_suffix: String,
    /// Set to stop the run (signal handler, tests).
    pub stop: Arc<AtomicBool>,
    /// Stop the whole run when a camera cannot start (replay); otherwise keep the others going.
    pub strict: bool,
    /// Folder of the ledger; `None` keeps it in memory (replay, demo: nothing to resume).
    pub state_dir: Option<PathBuf>,
    /// Answer the centre's commands (`lookout run`); a replay only publishes.
    pub accept_commands: bool,
    /// Serve `[metrics]` and talk to systemd (`lookout run`).
    pub daemon: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: PlayMode::Live,
            only_cameras: Vec::new(),
            source_override: None,
            tap: None,
            client_suffix: String::new(),
            stop: Arc::new(AtomicBool::new(false)),
            strict: false,
            state_dir: None,
            accept_commands: false,
            daemon: false,
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    pub cameras: Vec<CameraReport>,
    pub uplink: uplink::UplinkReport,
    pub elapsed: Duration,
    pub broker: Option<std::net::SocketAddr>,
    /// Where `/metrics` and `/healthz` were served.
    pub metrics: Option<std::net::SocketAddr>,
}

pub type SharedDetector = Arc<Mutex<Detector>>;

/// Loads every model the selected cameras use, once each. A camera whose models fail to load is
/// reported with the reason instead.
fn load_models(
    config: &Config,
    cameras: &[CameraConfig],
) -> anyhow::Result<BTreeMap<String, Result<SharedDetector, String>>> {
    let mut loaded = BTreeMap::new();
    if cameras.is_empty() {
        return Ok(loaded);
    }
    let manifests = ManifestSet::load_dir(&config.models.manifests)?;
    for name in cameras.iter().flat_map(|c| c.models.iter()) {
        if loaded.contains_key(name) {
            continue;
        }
        let result = match manifests.get(name) {
            None => Err(format!(
                "model {name:?} has no manifest in {} (known: {})",
                config.models.manifests.display(),
                manifests
                    .by_name
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Some(m) => Detector::load(
                m,
                &config.models.dir,
                &config.models.onnxruntime,
                config.models.threads,
            )
            .map(|d| Arc::new(Mutex::new(d)))
            .map_err(|e| e.to_string()),
        };
        loaded.insert(name.clone(), result);
    }
    Ok(loaded)
}

/// Runs the config until every camera ends (files) or `options.stop` is set.
pub fn run(config: &Config, options: RunOptions) -> anyhow::Result<RunReport> {
    let started = Instant::now();
    let mut cameras: Vec<CameraConfig> = config
        .cameras
        .iter()
        .filter(|c| options.only_cameras.is_empty() || options.only_cameras.contains(&c.id))
        .cloned()
        .collect();
    for wanted in &options.only_cameras {
        if config.camera(wanted).is_none() {
            return Err(anyhow!(
                "camera {wanted:?} is not in the config (cameras: {})",
                config
                    .cameras
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some((id, path)) = &options.source_override {
        if !path.is_file() {
            return Err(anyhow!("video file {} does not exist", path.display()));
        }
        for c in cameras.iter_mut().filter(|c| &c.id == id) {
            c.source = path.to_string_lossy().into_owned();
        }
    }
    crate::ingest::init_gstreamer().context("GStreamer")?;
    let models = load_models(config, &cameras)?;
    let mut plans = Vec::new();
    for camera in &cameras {
        let mut detectors = Vec::new();
        let mut failure = None;
        for name in &camera.models {
            match models.get(name) {
                Some(Ok(d)) => detectors.push(d.clone()),
                Some(Err(e)) => failure = Some(e.clone()),
                None => failure = Some(format!("model {name:?} was not loaded")),
            }
        }
        match failure {
            Some(e) if options.strict => return Err(anyhow!("camera {}: {e}", camera.id)),
            Some(e) => {
                tracing::error!(camera = %camera.id, error = %e, "Camera cannot run; the others continue.");
            }
            None => plans.push((camera.clone(), detectors)),
        }
    }
    if plans.is_empty() && !cameras.is_empty() {
        return Err(anyhow!("no camera can run (see the errors above)"));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("lookout-uplink")
        .build()
        .context("cannot start the async runtime")?;
    let (address, broker) = if config.uplink.broker == "embedded" {
        let b = uplink::broker::start(&config.uplink.embedded_listen)?;
        (
            BrokerAddress {
                host: b.address.ip().to_string(),
                port: b.address.port(),
                tls: false,
            },
            Some(b.address),
        )
    } else {
        (BrokerAddress::parse(&config.uplink.broker)?, None)
    };
    let mut ledger = match &options.state_dir {
        Some(dir) => Ledger::open(&dir.join("ledger.sqlite3"))?,
        None => Ledger::in_memory()?,
    };
    ledger.set_quota(config.storage.outbox_quota_mb.saturating_mul(1024 * 1024));
    let horizon =
        chrono::Utc::now() - chrono::Duration::days(i64::from(config.storage.keep_final_days));
    match ledger.prune_final(&crate::orders::rfc3339(horizon)) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            orders = n,
            "Forgot closed and cancelled orders past storage.keep_final_days."
        ),
        Err(e) => tracing::warn!(error = %e, "Cannot prune old orders; continuing."),
    }
    let ledger: uplink::SharedLedger = Arc::new(Mutex::new(ledger));
    let control = Arc::new(Control::new(config, ledger.clone()));
    let resumed = control.resume();
    if resumed > 0 {
        tracing::info!(
            orders = resumed,
            "Resuming camera re-checks left running by the last run."
        );
    }
    let mqtt = uplink::connect_options(config, &address, &options.client_suffix)?;
    let uplink = {
        let _guard = runtime.enter();
        let commands: Option<Arc<dyn uplink::CommandSink>> = if options.accept_commands {
            Some(control.clone())
        } else {
            None
        };
        Uplink::start(config, mqtt, ledger.clone(), options.tap.clone(), commands)
    };
    // Re-checks whose camera gives no frames are declared inconclusive and retried.
    let sweeper = {
        let control = control.clone();
        let sender = uplink.sender();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                for order in control.sweep(chrono::Utc::now()) {
                    sender.nudge(uplink::UplinkMessage::Committed(Box::new(order)));
                }
            }
        })
    };
    let health = Arc::new(Health::default());
    let metrics = if options.daemon && config.metrics.enabled {
        let gauges: health::GaugeSource = {
            let ledger = ledger.clone();
            Arc::new(move || {
                let l = crate::ledger::lock(&ledger);
                health::LedgerGauges {
                    outbox_messages: l.outbox_len().unwrap_or(0),
                    outbox_bytes: l.outbox_bytes().unwrap_or(0),
                    orders_by_state: l
                        .count_by_state()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, n)| (s.as_str(), n))
                        .collect(),
                }
            })
        };
        match runtime.block_on(health::serve(
            &config.metrics.listen,
            health.clone(),
            gauges,
        )) {
            Ok(addr) => {
                tracing::info!(%addr, "Serving /metrics and /healthz.");
                Some(addr)
            }
            Err(e) => {
                tracing::error!(listen = %config.metrics.listen, error = %e, "Cannot serve metrics; running without them.");
                None
            }
        }
    } else {
        None
    };
    let stop = options.stop.clone();
    let daemon = options.daemon;
    runtime.spawn(async move {
        wait_for_signal().await;
        tracing::info!("Stop requested; finishing in-flight frames.");
        if daemon {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        }
        stop.store(true, Ordering::SeqCst);
    });

    let mut workers = Vec::new();
    for (camera, detectors) in plans {
        let worker = camera::CameraWorker::new(
            config.identity.clone(),
            camera.clone(),
            detectors,
            camera::Outputs {
                uplink: uplink.sender(),
                ledger: ledger.clone(),
                control: control.clone(),
                close_when_cleared: config.orders.close_when_cleared,
                health: health.clone(),
            },
            options.mode,
            options.stop.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("cam-{}", camera.id))
            .spawn(move || worker.run())
            .context("cannot start a camera thread")?;
        workers.push((camera.id.clone(), handle));
    }
    let systemd = options
        .daemon
        .then(|| runtime.spawn(systemd_notifier(health.clone(), workers.len())));
    let mut report = RunReport {
        broker,
        metrics,
        ..Default::default()
    };
    let mut first_error = None;
    for (id, handle) in workers {
        match handle.join() {
            Ok(Ok(r)) => report.cameras.push(r),
            Ok(Err(e)) => {
                tracing::error!(camera = %id, error = %e, "Camera stopped with an error.");
                first_error.get_or_insert(e);
            }
            Err(_) => {
                first_error.get_or_insert(anyhow!("camera {id}: worker thread panicked"));
            }
        }
    }
    sweeper.abort();
    let _ = runtime.block_on(sweeper);
    if let Some(task) = systemd {
        task.abort();
    }
    report.uplink = runtime.block_on(uplink.finish());
    report.elapsed = started.elapsed();
    match first_error {
        Some(e) if options.strict => Err(e),
        _ => Ok(report),
    }
}

/// Tells systemd (when it started us with `Type=notify`) that the box is ready once every camera
/// has opened its pipeline or failed to (at most a minute), then pings the watchdog at half its
/// interval — only while the core loop is healthy, so a wedged camera worker gets the daemon
/// restarted.
async fn systemd_notifier(health: Arc<Health>, cameras: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !health.all_started(cameras) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
    let Some(timeout) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut tick = tokio::time::interval(timeout / 2);
    let mut was_healthy = true;
    loop {
        tick.tick().await;
        let verdict = health.verdict(Instant::now(), health::STALL);
        if verdict.healthy {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        } else if was_healthy {
            tracing::error!(problems = ?verdict.problems, "The core loop is stuck: no more watchdog pings; systemd will restart the daemon.");
        }
        was_healthy = verdict.healthy;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
