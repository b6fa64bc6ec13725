//! The camera workers of a run, by camera id: started, stopped, and replaced when a reloaded
//! config changes them — one camera's change never touches the others.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::camera::{CameraReport, CameraWorker, Outputs};
use super::{load_models, SharedDetector};
use crate::config::{CameraConfig, Config};
use crate::control::Control;
use crate::health::Health;
use crate::ingest::PlayMode;
use crate::uplink::{CameraState, CameraStatus, SharedLedger, UplinkMessage, UplinkSender};

struct Running {
    config: CameraConfig,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<anyhow::Result<CameraReport>>,
}

/// What wakes the run loop before its next look at the fleet.
pub(super) enum Wake {
    /// Reload the config (the reason: a signal's name).
    Reload(&'static str),
    /// A camera's worker ended: reap it now (a replay ends with its file, not up to a tick
    /// later).
    CameraEnded,
}

/// What the camera workers share, and how each is run.
pub(super) struct Shared {
    pub uplink: UplinkSender,
    pub ledger: SharedLedger,
    pub control: Arc<Control>,
    pub health: Arc<Health>,
    pub mode: PlayMode,
    pub state_dir: Option<PathBuf>,
    pub strict: bool,
    pub warner: Option<Arc<super::warner::Warner>>,
    pub wake: std::sync::mpsc::Sender<Wake>,
    /// The console's latest frames (`lookout run` with its HTTP server).
    pub snapshots: Option<Arc<crate::console::Snapshots>>,
}

pub(super) struct Fleet {
    config: Config,
    shared: Shared,
    models: BTreeMap<String, Result<SharedDetector, String>>,
    /// The compute plan of the cameras of `config`, read by the workers as it changes.
    plan: super::SharedPlan,
    running: BTreeMap<String, Running>,
    /// Cameras whose worker ended by itself (a file at its end), with the config it ran.
    finished: BTreeMap<String, CameraConfig>,
    /// Cameras whose worker panicked, waiting to be started again.
    restarts: BTreeMap<String, Restart>,
    /// The back-off of each camera's next restart after a panic.
    backoffs: BTreeMap<String, Duration>,
    pub reports: Vec<CameraReport>,
    pub first_error: Option<anyhow::Error>,
    /// Camera workers that panicked during the run.
    pub crashes: u64,
}

struct Restart {
    config: CameraConfig,
    at: Instant,
}

/// A panicked camera worker is started again after this, doubling per crash up to
/// `RESTART_MAX`: a bug that strikes on every frame neither spins the CPU nor stops the other
/// cameras, and one that strikes once a week costs seconds.
const RESTART_MIN: Duration = Duration::from_secs(5);
const RESTART_MAX: Duration = Duration::from_secs(300);

/// What a reload changed.
#[derive(Debug, Default, PartialEq)]
pub struct ReloadSummary {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: Vec<String>,
    /// Sections that changed but need a restart of the daemon to take effect.
    pub needs_restart: Vec<&'static str>,
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

impl Fleet {
    pub fn new(
        config: Config,
        shared: Shared,
        models: BTreeMap<String, Result<SharedDetector, String>>,
    ) -> Self {
        let plan = super::budget::plan_config(&config, &config.cameras, &models);
        if plan.degraded() {
            tracing::warn!(plan = %plan.table(), "Over the compute budget: detection rates lowered by priority.");
        } else {
            tracing::info!(plan = %plan.table(), "Compute plan.");
        }
        Fleet {
            plan: Arc::new(std::sync::RwLock::new(plan)),
            config,
            shared,
            models,
            running: BTreeMap::new(),
            finished: BTreeMap::new(),
            restarts: BTreeMap::new(),
            backoffs: BTreeMap::new(),
            reports: Vec::new(),
            first_error: None,
            crashes: 0,
        }
    }

    /// Cameras running or about to be restarted.
    pub fn len(&self) -> usize {
        self.running.len() + self.restarts.len()
    }

    /// The models a camera runs, or why it cannot run.
    fn detectors(&self, camera: &CameraConfig) -> Result<Vec<SharedDetector>, String> {
        camera
            .models
            .iter()
            .map(|name| match self.models.get(name) {
                Some(Ok(d)) => {
                    super::camera::detect_options(camera, d.model().manifest())?;
                    Ok(d.clone())
                }
                Some(Err(e)) => Err(e.clone()),
                None => Err(format!("model {name:?} was not loaded")),
            })
            .collect()
    }

    /// Starts a worker for `camera`; a camera whose models cannot run is reported, not started
    /// (and fails the run when strict).
    pub fn start(&mut self, camera: CameraConfig) -> anyhow::Result<()> {
        let detectors = match self.detectors(&camera) {
            Ok(d) => d,
            Err(e) if self.shared.strict => return Err(anyhow!("camera {}: {e}", camera.id)),
            Err(e) => {
                tracing::error!(camera = %camera.id, error = %e, "Camera cannot run; the others continue.");
                return Ok(());
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let worker = CameraWorker::new(
            self.config.identity.clone(),
            camera.clone(),
            detectors,
            Outputs {
                uplink: self.shared.uplink.clone(),
                ledger: self.shared.ledger.clone(),
                control: self.shared.control.clone(),
                close_when_cleared: self.config.orders.close_when_cleared,
                health: self.shared.health.clone(),
                state_dir: self.shared.state_dir.clone(),
                warner: self.shared.warner.clone(),
                snapshots: self.shared.snapshots.clone(),
                cases: crate::orders::CaseBook::new(&self.config),
                photographer: Arc::new(crate::evidence::Photographer::new(&self.config.evidence)),
                evidence: self.config.evidence.clone(),
                clip_chunk_bytes: crate::uplink::chunks::chunk_bytes(
                    (self.config.evidence.clip_chunk_kb as usize) << 10,
                    (self.config.uplink.max_message_kb as usize) << 10,
                ),
                deadline: self.config.models.deadline_s.duration(),
                decoder_threads: crate::ingest::decoder_threads(
                    self.config.cameras.len(),
                    super::budget::physical_cores(),
                ),
                phase: self
                    .config
                    .cameras
                    .iter()
                    .position(|c| c.id == camera.id)
                    .map_or(0.0, |i| i as f64 / self.config.cameras.len() as f64),
            },
            self.shared.mode,
            stop.clone(),
        )
        .planned_by(self.plan.clone());
        let wake = self.shared.wake.clone();
        let handle = std::thread::Builder::new()
            .name(format!("cam-{}", camera.id))
            .spawn(move || {
                // Wakes the run loop however the worker ends, a panic included.
                struct Ended(std::sync::mpsc::Sender<Wake>);
                impl Drop for Ended {
                    fn drop(&mut self) {
                        let _ = self.0.send(Wake::CameraEnded);
                    }
                }
                let _ended = Ended(wake);
                worker.run()
            })
            .context("cannot start a camera thread")?;
        self.running.insert(
            camera.id.clone(),
            Running {
                config: camera,
                stop,
                handle,
            },
        );
        Ok(())
    }

    /// Stops one camera's worker and waits for it (its in-flight frame finishes first).
    fn stop_one(&mut self, id: &str) {
        if let Some(r) = self.running.remove(id) {
            r.stop.store(true, Ordering::SeqCst);
            self.collect(id, r.handle);
        }
    }

    /// Joins a worker; true when it panicked.
    fn collect(&mut self, id: &str, handle: JoinHandle<anyhow::Result<CameraReport>>) -> bool {
        match handle.join() {
            Ok(Ok(r)) => self.reports.push(r),
            Ok(Err(e)) => {
                tracing::error!(camera = %id, error = %e, "Camera stopped with an error.");
                self.first_error.get_or_insert(e);
            }
            Err(payload) => {
                let why = panic_message(payload.as_ref());
                tracing::error!(camera = %id, panic = %why, "Camera worker CRASHED (a bug: please report it with this log).");
                self.crashes += 1;
                self.shared.health.crashed(id);
                self.report_crash(id, &why);
                self.first_error
                    .get_or_insert(anyhow!("camera {id}: worker thread panicked: {why}"));
                return true;
            }
        }
        false
    }

    /// The status must not go on saying `online` for a camera whose worker is gone.
    fn report_crash(&self, id: &str, why: &str) {
        let name = self
            .config
            .camera(id)
            .map_or(id, |c| c.display_name())
            .to_owned();
        self.shared
            .uplink
            .send(UplinkMessage::Camera(Box::new(CameraStatus {
                id: id.to_owned(),
                name,
                state: CameraState::Offline,
                fps: 0.0,
                decode_fps: 0.0,
                last_frame_age_s: None,
                reconnects: 0,
                faults: Vec::new(),
                gauges: Vec::new(),
                rates: Vec::new(),
                error: Some(format!(
                    "the camera's worker crashed ({why}); it is restarted"
                )),
                tour: None,
            })));
    }

    /// Collects the workers that ended by themselves (files at their end, failed replays), and
    /// restarts, after their back-off, live cameras whose worker panicked.
    pub fn reap(&mut self) {
        let done: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for id in done {
            if let Some(r) = self.running.remove(&id) {
                let panicked = self.collect(&id, r.handle);
                if panicked && self.shared.mode == PlayMode::Live && !self.shared.strict {
                    let backoff = *self.backoffs.get(&id).unwrap_or(&RESTART_MIN);
                    self.backoffs
                        .insert(id.clone(), (backoff * 2).min(RESTART_MAX));
                    tracing::warn!(camera = %id, restart_in = ?backoff, "Restarting the camera's worker after its crash; the other cameras run on.");
                    self.restarts.insert(
                        id,
                        Restart {
                            config: r.config,
                            at: Instant::now() + backoff,
                        },
                    );
                } else {
                    self.finished.insert(id, r.config);
                }
            }
        }
        let due: Vec<String> = self
            .restarts
            .iter()
            .filter(|(_, r)| r.at <= Instant::now())
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(r) = self.restarts.remove(&id) {
                if let Err(e) = self.start(r.config) {
                    tracing::error!(camera = %id, error = %e, "Cannot restart the camera.");
                }
            }
        }
    }

    /// Tells every worker to stop, then waits for all of them.
    pub fn stop_all(&mut self) {
        self.restarts.clear();
        for r in self.running.values() {
            r.stop.store(true, Ordering::SeqCst);
        }
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            self.stop_one(&id);
        }
    }

    /// Applies a new, already validated config: removed cameras stop, changed ones restart
    /// with their new settings, new ones start; the others run on untouched. Sections that
    /// only a restart applies (identity, uplink, storage, models, metrics, console, orders, warnings,
    /// speakers) are named.
    pub fn reload(&mut self, new: Config) -> anyhow::Result<ReloadSummary> {
        let mut summary = ReloadSummary::default();
        let old = &self.config;
        for (name, changed) in [
            ("box", old.identity != new.identity),
            ("uplink", old.uplink != new.uplink),
            ("storage", old.storage != new.storage),
            ("models", old.models != new.models),
            ("metrics", old.metrics != new.metrics),
            ("console", old.console != new.console),
            ("orders", old.orders != new.orders),
            ("warnings", old.warnings != new.warnings),
            ("speakers", old.speakers != new.speakers),
        ] {
            if changed {
                summary.needs_restart.push(name);
            }
        }
        // Keep the running values of what needs a restart: only cameras change here.
        let mut applied = self.config.clone();
        applied.cameras = new.cameras.clone();
        let wanted: BTreeMap<&str, &CameraConfig> =
            new.cameras.iter().map(|c| (c.id.as_str(), c)).collect();
        let ids: Vec<String> = self.running.keys().cloned().collect();
        for id in ids {
            match wanted.get(id.as_str()) {
                None => {
                    self.stop_one(&id);
                    self.shared.health.forget(&id);
                    self.shared
                        .uplink
                        .send(UplinkMessage::CameraRemoved(id.clone()));
                    summary.removed.push(id);
                }
                Some(c) if self.running.get(&id).is_some_and(|r| &r.config != *c) => {
                    self.stop_one(&id);
                    summary.restarted.push(id);
                }
                Some(_) => summary.unchanged.push(id),
            }
        }
        // Models the new or changed cameras need and nobody loaded yet.
        let missing: Vec<CameraConfig> = new
            .cameras
            .iter()
            .filter(|c| c.models.iter().any(|m| !self.models.contains_key(m)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            for (name, model) in load_models(&applied, &missing, self.shared.mode)? {
                self.models.entry(name).or_insert(model);
            }
        }
        self.config = applied;
        let plan = super::budget::plan_config(&self.config, &self.config.cameras, &self.models);
        if plan.degraded() {
            tracing::warn!(plan = %plan.table(), "Over the compute budget: detection rates lowered by priority.");
        }
        *self.plan.write().unwrap_or_else(|p| p.into_inner()) = plan;
        self.finished
            .retain(|id, _| wanted.contains_key(id.as_str()));
        // A camera waiting out its crash back-off restarts with its new settings, if any; one
        // the new config removed leaves like a running one.
        let gone: Vec<String> = self
            .restarts
            .keys()
            .filter(|id| !wanted.contains_key(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.restarts.remove(&id);
            self.shared.health.forget(&id);
            self.shared
                .uplink
                .send(UplinkMessage::CameraRemoved(id.clone()));
            summary.removed.push(id);
        }
        for (id, r) in self.restarts.iter_mut() {
            if let Some(c) = wanted.get(id.as_str()) {
                r.config = (*c).clone();
            }
        }
        for camera in new.cameras {
            if self.running.contains_key(&camera.id)
                || self.restarts.contains_key(&camera.id)
                || self.finished.get(&camera.id) == Some(&camera)
            {
                continue;
            }
            self.finished.remove(&camera.id);
            if !summary.restarted.contains(&camera.id) {
                summary.added.push(camera.id.clone());
            }
            self.start(camera)?;
        }
        Ok(summary)
    }
}
