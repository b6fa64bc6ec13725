//! The camera workers of a run, by camera id: started, stopped, and replaced when a reloaded
//! config changes them — one camera's change never touches the others.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{anyhow, Context};

use super::camera::{CameraReport, CameraWorker, Outputs};
use super::{load_models, SharedDetector};
use crate::config::{CameraConfig, Config};
use crate::control::Control;
use crate::health::Health;
use crate::ingest::PlayMode;
use crate::uplink::{SharedLedger, UplinkMessage, UplinkSender};

struct Running {
    config: CameraConfig,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<anyhow::Result<CameraReport>>,
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
}

pub(super) struct Fleet {
    config: Config,
    shared: Shared,
    models: BTreeMap<String, Result<SharedDetector, String>>,
    running: BTreeMap<String, Running>,
    /// Cameras whose worker ended by itself (a file at its end), with the config it ran.
    finished: BTreeMap<String, CameraConfig>,
    pub reports: Vec<CameraReport>,
    pub first_error: Option<anyhow::Error>,
}

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

impl Fleet {
    pub fn new(
        config: Config,
        shared: Shared,
        models: BTreeMap<String, Result<SharedDetector, String>>,
    ) -> Self {
        Fleet {
            config,
            shared,
            models,
            running: BTreeMap::new(),
            finished: BTreeMap::new(),
            reports: Vec::new(),
            first_error: None,
        }
    }

    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// The models a camera runs, or why it cannot run.
    fn detectors(&self, camera: &CameraConfig) -> Result<Vec<SharedDetector>, String> {
        camera
            .models
            .iter()
            .map(|name| match self.models.get(name) {
                Some(Ok(d)) => {
                    let guard = d.lock().unwrap_or_else(|p| p.into_inner());
                    super::camera::detect_options(camera, guard.manifest())?;
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
            },
            self.shared.mode,
            stop.clone(),
        );
        let handle = std::thread::Builder::new()
            .name(format!("cam-{}", camera.id))
            .spawn(move || worker.run())
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

    fn collect(&mut self, id: &str, handle: JoinHandle<anyhow::Result<CameraReport>>) {
        match handle.join() {
            Ok(Ok(r)) => self.reports.push(r),
            Ok(Err(e)) => {
                tracing::error!(camera = %id, error = %e, "Camera stopped with an error.");
                self.first_error.get_or_insert(e);
            }
            Err(_) => {
                self.first_error
                    .get_or_insert(anyhow!("camera {id}: worker thread panicked"));
            }
        }
    }

    /// Collects the workers that ended by themselves (files at their end, failed replays).
    pub fn reap(&mut self) {
        let done: Vec<String> = self
            .running
            .iter()
            .filter(|(_, r)| r.handle.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for id in done {
            if let Some(r) = self.running.remove(&id) {
                self.finished.insert(id.clone(), r.config);
                self.collect(&id, r.handle);
            }
        }
    }

    /// Tells every worker to stop, then waits for all of them.
    pub fn stop_all(&mut self) {
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
    /// only a restart applies (identity, uplink, storage, models, metrics, orders, warnings,
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
            for (name, model) in load_models(&applied, &missing)? {
                self.models.entry(name).or_insert(model);
            }
        }
        self.config = applied;
        self.finished
            .retain(|id, _| wanted.contains_key(id.as_str()));
        for camera in new.cameras {
            if self.running.contains_key(&camera.id)
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
