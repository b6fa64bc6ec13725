//! Runtime: builds the topology a config describes and runs it.
//!
//! Threads: one worker thread per camera runs ingest → detect → track → rules → orders in a
//! straight line on its own frames; models are shared between cameras behind a mutex; a tokio
//! runtime (one worker) hosts the uplink task and the signal handler; GStreamer has its own
//! streaming threads inside each pipeline; the embedded broker, when used, has its own thread.

pub mod budget;
mod camera;
mod clips;
mod fleet;
pub mod patrol;
mod perception;
mod tour;
mod warner;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use crate::config::{CameraConfig, Config};
use crate::control::Control;
use crate::detect::{ManifestSet, Model, Scheduler, SchedulerConfig, SessionOptions};
use crate::health::{self, Health};
use crate::ingest::PlayMode;
use crate::ledger::Ledger;
use crate::uplink::{self, BrokerAddress, Uplink};
pub use camera::{detect_options, CameraReport};
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
    /// The config file to re-read on SIGHUP or when it changes (`lookout run`): cameras,
    /// zones and rules are reloaded without touching the cameras that did not change.
    pub config_path: Option<PathBuf>,
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
            config_path: None,
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

/// A model's inference scheduler, shared by the cameras that run it.
pub type SharedDetector = Arc<Scheduler>;

/// The compute plan, replaced on a reload; each camera worker reads its rates from it.
pub type SharedPlan = Arc<std::sync::RwLock<budget::Plan>>;

/// Loads every model the selected cameras use, once each, each behind its scheduler with its
/// workers started and its cost measured. A camera whose models fail to load is reported with
/// the reason instead.
fn load_models(
    config: &Config,
    cameras: &[CameraConfig],
    mode: PlayMode,
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
            None => Err(manifests.missing(name, &config.models.manifests)),
            Some(m) => load_scheduler(config, cameras, m, mode).map_err(|e| e.to_string()),
        };
        loaded.insert(name.clone(), result);
    }
    Ok(loaded)
}

/// One model: its file checked, a first session warmed up and the cost of a view measured on
/// it, then as many sessions as it gets workers, and the workers started.
///
/// Workers (`[models] workers = 0`): a replay gets one per core (it goes as fast as it can); a
/// live run as many as the cameras' wanted load of this model needs, up to one per core — each
/// session holds its own activations (~150 MB for the fire model), so a model that needs less
/// than a core does not get two.
fn load_scheduler(
    config: &Config,
    cameras: &[CameraConfig],
    manifest: &crate::detect::Manifest,
    mode: PlayMode,
) -> Result<SharedDetector, crate::detect::DetectError> {
    let m = &config.models;
    let model = Arc::new(Model::load(manifest, &m.dir)?);
    let options = SessionOptions {
        threads: m.threads,
        execution: m.execution,
        arena: m.memory_arena,
    };
    let mut first = model.engine(&m.onnxruntime, options)?;
    let (w, h) = budget::calibration_size(manifest);
    let input = ndarray::Array4::<f32>::zeros((1, 3, h as usize, w as usize));
    // The first run of a session allocates and plans: it is not what a frame costs.
    first.infer(&input)?;
    let mut cost = Duration::MAX;
    for _ in 0..3 {
        let began = Instant::now();
        first.infer(&input)?;
        cost = cost.min(began.elapsed());
    }
    let cores = budget::physical_cores();
    let workers = match (m.workers, mode) {
        (0, PlayMode::Replay) => cores,
        (0, PlayMode::Live) => {
            let load: f64 = cameras
                .iter()
                .filter(|c| c.models.contains(&manifest.name))
                .filter_map(|c| budget::demand(config, c, manifest))
                .map(|d| d.wanted * d.views * cost.as_secs_f64())
                .sum();
            ((load / 0.9).ceil() as usize).clamp(1, cores)
        }
        (n, _) => n,
    };
    let mut engines = vec![first];
    while engines.len() < workers {
        let mut engine = model.engine(&m.onnxruntime, options)?;
        engine.infer(&input)?;
        engines.push(engine);
    }
    let scheduler = Scheduler::start(
        model,
        engines,
        SchedulerConfig {
            workers,
            batch: m.batch,
            queue_per_camera: m.queue_per_camera,
        },
    )?;
    scheduler.set_view_cost(cost);
    tracing::info!(
        model = %manifest.name,
        workers,
        threads = m.threads,
        execution = m.execution.as_str(),
        batch = scheduler.config().batch,
        view_ms = format!("{:.1}", cost.as_secs_f64() * 1000.0),
        "Model loaded."
    );
    Ok(Arc::new(scheduler))
}

/// The compute plan of a config's cameras, with the models loaded and measured as a run would
/// (`lookout plan`, `doctor`).
pub fn plan(config: &Config) -> anyhow::Result<budget::Plan> {
    let models = load_models(config, &config.cameras, PlayMode::Live)?;
    for (name, m) in &models {
        if let Err(e) = m {
            return Err(anyhow!("model {name}: {e}"));
        }
    }
    Ok(budget::plan_config(config, &config.cameras, &models))
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
    let models = load_models(config, &cameras, options.mode)?;
    if options.strict {
        for camera in &cameras {
            for name in &camera.models {
                if let Some(Err(e)) = models.get(name) {
                    return Err(anyhow!("camera {}: {e}", camera.id));
                }
            }
        }
    }
    let runnable = cameras
        .iter()
        .filter(|c| {
            c.models
                .iter()
                .all(|m| matches!(models.get(m), Some(Ok(_))))
        })
        .count();
    if runnable == 0 && !cameras.is_empty() {
        for camera in &cameras {
            for name in &camera.models {
                if let Some(Err(e)) = models.get(name) {
                    tracing::error!(camera = %camera.id, error = %e, "Camera cannot run.");
                }
            }
        }
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
    ledger.set_reserve(config.storage.min_free_mb.saturating_mul(1024 * 1024));
    ledger.set_evidence_max(config.storage.evidence_max_bytes);
    let ledger: uplink::SharedLedger = Arc::new(Mutex::new(ledger));
    prune(&ledger, config.storage.keep_final_days);
    let control = Arc::new(Control::new(config, ledger.clone()));
    let resumed = control.resume();
    if resumed > 0 {
        tracing::info!(
            orders = resumed,
            "Resuming camera re-checks left running by the last run."
        );
    }
    let mqtt = uplink::connect_options(config, &address, &options.client_suffix)?;
    let health = Arc::new(Health::default());
    let uplink = {
        let _guard = runtime.enter();
        let commands: Option<Arc<dyn uplink::CommandSink>> = if options.accept_commands {
            Some(control.clone())
        } else {
            None
        };
        Uplink::start_watched(
            config,
            mqtt,
            ledger.clone(),
            options.tap.clone(),
            commands,
            Some(health.clone()),
        )
    };
    // Re-checks whose camera gives no frames are declared inconclusive and retried.
    let sweeper = {
        let control = control.clone();
        let sender = uplink.sender();
        let health = health.clone();
        let ledger = ledger.clone();
        let keep_days = config.storage.keep_final_days;
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut next_prune = Instant::now() + PRUNE_EVERY;
            loop {
                tick.tick().await;
                health.service_beat("sweeper", Instant::now());
                // A box runs for years without a restart: old final orders go while it runs.
                if Instant::now() >= next_prune {
                    next_prune = Instant::now() + PRUNE_EVERY;
                    prune(&ledger, keep_days);
                }
                for order in control.sweep(chrono::Utc::now()) {
                    sender.nudge(uplink::UplinkMessage::Committed(Box::new(order)));
                }
            }
        })
    };
    let snapshots = (options.daemon && config.metrics.enabled)
        .then(|| Arc::new(crate::console::Snapshots::default()));
    let metrics = if options.daemon && config.metrics.enabled {
        let gauges: health::GaugeSource = {
            let ledger = ledger.clone();
            let queue = uplink.sender().downgrade();
            Arc::new(move || {
                let l = crate::ledger::lock(&ledger);
                health::LedgerGauges {
                    outbox_messages: l.outbox_len().unwrap_or(0),
                    outbox_bytes: l.outbox_bytes().unwrap_or(0),
                    evidence_bytes: l.evidence_bytes().unwrap_or(0),
                    evidence_evictions: l.evidence_evictions().unwrap_or(0),
                    orders_by_state: l
                        .count_by_state()
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, n)| (s.as_str(), n))
                        .collect(),
                    uplink_queue: queue.depth() as u64,
                    on_site: l
                        .warning_stats()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|s| s.warned > 0)
                        .map(|s| (s.kind, s.resolved_on_site, s.escalated))
                        .collect(),
                }
            })
        };
        let console = Arc::new(
            crate::console::Console::new(
                &config.console,
                health.clone(),
                gauges,
                Some(ledger.clone()),
                &config.identity,
            )
            .with_cameras(
                snapshots.clone().unwrap_or_default(),
                options.config_path.clone(),
            ),
        );
        match runtime.block_on(crate::console::serve(&config.metrics.listen, console)) {
            Ok(addr) => {
                tracing::info!(%addr, "Serving /metrics, /healthz and the console.");
                if config.console.password_hash.is_none() {
                    tracing::warn!("The console has no password: nobody can log in until `lookout console passwd` sets one.");
                }
                Some(addr)
            }
            Err(e) => {
                tracing::error!(listen = %config.metrics.listen, error = %e, "Cannot serve metrics and the console; running without them.");
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
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<fleet::Wake>();
    if options.config_path.is_some() {
        runtime.spawn(forward_hangups(wake_tx.clone()));
    }

    // Only the box itself warns on site: a replay or the demo stays quiet.
    let warner = if options.accept_commands {
        warner::Warner::start(
            config,
            control.clone(),
            uplink.sender().downgrade(),
            options.state_dir.as_deref(),
        )
    } else {
        None
    };
    let mut run_config = config.clone();
    run_config.cameras = cameras.clone();
    let mut fleet = fleet::Fleet::new(
        run_config,
        fleet::Shared {
            uplink: uplink.sender(),
            ledger: ledger.clone(),
            control: control.clone(),
            health: health.clone(),
            mode: options.mode,
            state_dir: options.state_dir.clone(),
            strict: options.strict,
            warner,
            wake: wake_tx,
            snapshots,
        },
        models,
    );
    for camera in cameras {
        fleet.start(camera)?;
    }
    let systemd = options
        .daemon
        .then(|| runtime.spawn(systemd_notifier(health.clone(), fleet.len())));
    let mut watcher = options.config_path.as_deref().map(ConfigWatcher::new);
    let mut died = false;
    loop {
        if options.stop.load(Ordering::SeqCst) {
            fleet.stop_all();
            break;
        }
        fleet.reap();
        if fleet.len() == 0 {
            break;
        }
        let signalled = match wake_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(fleet::Wake::Reload(why)) => Some(why),
            Ok(fleet::Wake::CameraEnded) | Err(_) => None,
        };
        let changed = watcher.as_mut().is_some_and(|w| w.changed());
        if let (Some(w), Some(why)) = (
            watcher.as_mut(),
            signalled.or(changed.then_some("the file changed")),
        ) {
            reload(&mut fleet, w, why);
        }
        if options.strict && fleet.first_error.is_some() {
            fleet.stop_all();
            break;
        }
        // The uplink and the sweeper live as long as the run: one that ended has died (a
        // panic). Stop with an error, so systemd restarts the daemon, rather than run on deaf.
        for (name, finished) in [
            ("uplink", uplink.is_finished()),
            ("sweeper", sweeper.is_finished()),
        ] {
            if finished {
                tracing::error!(task = name, "A core task of the box died; stopping so the service manager restarts the daemon.");
                health.service_ended(name, "the task ended".into());
                fleet
                    .first_error
                    .get_or_insert(anyhow!("the {name} task died"));
                fleet.stop_all();
                died = true;
            }
        }
        if died {
            break;
        }
    }
    sweeper.abort();
    let _ = runtime.block_on(sweeper);
    if let Some(task) = systemd {
        task.abort();
    }
    let mut report = RunReport {
        broker,
        metrics,
        cameras: std::mem::take(&mut fleet.reports),
        ..Default::default()
    };
    let first_error = fleet.first_error.take();
    let crashed = fleet.crashes;
    // The fleet holds a sender: the uplink finishes once the last one is gone.
    drop(fleet);
    report.uplink = runtime.block_on(uplink.finish());
    report.elapsed = started.elapsed();
    match first_error {
        Some(e) if options.strict || died => Err(e),
        // A run that ended by itself after a worker panicked exits non-zero, so the service
        // manager sees it (a stop asked for by a signal is still a clean stop).
        Some(e) if crashed > 0 && !options.stop.load(Ordering::SeqCst) => {
            Err(e.context(format!("{crashed} camera worker crash(es)")))
        }
        _ => Ok(report),
    }
}

/// How often closed and cancelled orders past `storage.keep_final_days` are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Forgets closed and cancelled orders past `keep_days`.
fn prune(ledger: &uplink::SharedLedger, keep_days: u32) {
    let horizon = chrono::Utc::now() - chrono::Duration::days(i64::from(keep_days));
    match crate::ledger::lock(ledger).prune_final(&crate::orders::rfc3339(horizon)) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            orders = n,
            "Forgot closed and cancelled orders past storage.keep_final_days."
        ),
        Err(e) => tracing::warn!(error = %e, "Cannot prune old orders; continuing."),
    }
}

/// Notices edits of the config file (by its modification time and size), so a technician's
/// change applies without a signal.
struct ConfigWatcher {
    path: PathBuf,
    seen: Option<(std::time::SystemTime, u64)>,
    next_look: Instant,
}

impl ConfigWatcher {
    fn new(path: &std::path::Path) -> Self {
        ConfigWatcher {
            path: path.to_owned(),
            seen: Self::stamp(path),
            next_look: Instant::now() + Duration::from_secs(2),
        }
    }

    fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
        let m = std::fs::metadata(path).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Whether the file changed since the last look (looks every 2 s).
    fn changed(&mut self) -> bool {
        if Instant::now() < self.next_look {
            return false;
        }
        self.next_look = Instant::now() + Duration::from_secs(2);
        let now = Self::stamp(&self.path);
        if now.is_some() && now != self.seen {
            self.seen = now;
            return true;
        }
        false
    }
}

/// Re-reads the config and applies its cameras. An invalid file is rejected with its errors and
/// the running config stays.
fn reload(fleet: &mut fleet::Fleet, watcher: &mut ConfigWatcher, why: &str) {
    watcher.seen = ConfigWatcher::stamp(&watcher.path);
    tracing::info!(path = %watcher.path.display(), why, "Reloading the config.");
    let new = match crate::build::load(&watcher.path) {
        Ok(c) => c,
        Err(errors) => {
            tracing::error!(path = %watcher.path.display(), "Config reload REJECTED; still running the previous config:\n{errors}");
            return;
        }
    };
    match fleet.reload(new) {
        Ok(s) => {
            tracing::info!(added = ?s.added, removed = ?s.removed, restarted = ?s.restarted, unchanged = ?s.unchanged, "Config reloaded.");
            if !s.needs_restart.is_empty() {
                tracing::warn!(sections = ?s.needs_restart, "These sections changed but apply only after a restart (systemctl restart lookout); the running values stay.");
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "Config reload failed part-way; the cameras that started keep running.")
        }
    }
}

/// Turns SIGHUP into reload requests for the main thread.
async fn forward_hangups(tx: std::sync::mpsc::Sender<fleet::Wake>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            if tx.send(fleet::Wake::Reload("SIGHUP")).is_err() {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    drop(tx);
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
