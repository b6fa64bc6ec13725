//! A PTZ camera's tour, run on a thread of its own beside the camera's worker: it talks to the
//! head over ONVIF (each call may take seconds; the frames must not wait for it) and publishes
//! which preset the picture shows now, if any. The worker reads that on every frame and analyses
//! the frame under that preset's view, or not at all while the head moves or settles.
//!
//! Two ways to tour (`[cameras.ptz] tour`): the box drives ([`super::patrol::Patrol`]: go to
//! each preset, wait until still, settle, dwell, move on), or the camera runs its own patrol and
//! the box follows it by reading the head's position and matching it to the presets'.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::patrol::{Patrol, Phase, Stop};
use crate::config::{CameraConfig, TourMode};
use crate::onvif::OnvifCamera;
use crate::orders::HeadPose;
use crate::uplink::TourStatus;

/// The preset frames show now: its index in `[[cameras.presets]]`, which visit of it this is
/// (a new visit starts a new stretch of the preset's clock), and where the head reported it
/// points.
#[derive(Debug, Clone, PartialEq)]
pub struct Watch {
    pub index: usize,
    pub visit: u64,
    pub pose: Option<HeadPose>,
}

#[derive(Debug, Default)]
struct Shared {
    watch: Option<Watch>,
    /// The preset the head is at or going to, and what it is doing there.
    index: Option<usize>,
    phase: &'static str,
    visits: u64,
    error: Option<String>,
}

/// A running tour; dropping it stops its thread.
pub struct Tour {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    mode: TourMode,
    tokens: Vec<(String, Option<String>, f64)>,
}

/// How often the head is asked where it is.
const POLL: Duration = Duration::from_millis(200);
/// How long after a failed connection the camera is tried again.
const RECONNECT: Duration = Duration::from_secs(10);
/// A followed head counts as at a preset when each generic coordinate is this close.
const MATCH_TOLERANCE: f32 = 0.02;

impl Tour {
    /// Starts the tour of a camera with `[cameras.ptz]` and presets; `None` for other cameras.
    /// `stop` ends it with the box.
    pub fn start(camera: &CameraConfig, stop: Arc<AtomicBool>) -> Option<Tour> {
        let ptz = camera.ptz.clone()?;
        if camera.presets.is_empty() {
            return None;
        }
        let shared = Arc::new(Mutex::new(Shared {
            phase: "connecting",
            ..Shared::default()
        }));
        let tour_stop = Arc::new(AtomicBool::new(false));
        let id = camera.id.clone();
        let stops: Vec<Stop> = camera
            .presets
            .iter()
            .map(|p| Stop {
                token: p.token.clone(),
                dwell: p.dwell_s.duration(),
            })
            .collect();
        let tokens = camera
            .presets
            .iter()
            .map(|p| (p.token.clone(), p.name.clone(), p.dwell_s.secs()))
            .collect();
        let mode = ptz.tour;
        let (s, quit, box_stop) = (shared.clone(), tour_stop.clone(), stop);
        let spawned = std::thread::Builder::new()
            .name(format!("tour-{id}"))
            .spawn(move || {
                let stopping = || quit.load(Ordering::SeqCst) || box_stop.load(Ordering::SeqCst);
                run(&id, &ptz, stops, &s, &stopping)
            });
        if let Err(e) = spawned {
            tracing::error!(camera = %camera.id, error = %e, "Cannot start the PTZ tour's thread; nothing is analysed on this camera.");
        }
        Some(Tour {
            shared,
            stop: tour_stop,
            mode,
            tokens,
        })
    }

    /// The preset frames show now, when they are to be analysed.
    pub fn watching(&self) -> Option<Watch> {
        self.lock().watch.clone()
    }

    /// Where the camera is in its tour, for the status.
    pub fn status(&self) -> TourStatus {
        let s = self.lock();
        TourStatus {
            mode: match self.mode {
                TourMode::Box => "box",
                TourMode::Camera => "camera",
            }
            .to_owned(),
            preset: s.index.map(|i| self.tokens[i].0.clone()),
            phase: s.phase.to_owned(),
            visits: s.visits,
            presets: self
                .tokens
                .iter()
                .map(|(token, name, dwell)| crate::uplink::TourStop {
                    token: token.clone(),
                    name: name.clone(),
                    dwell_s: *dwell,
                })
                .collect(),
            error: s.error.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Tour {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Sleeps `d` in short steps; false when told to stop meanwhile.
fn pause(d: Duration, stopping: &dyn Fn() -> bool) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stopping() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !stopping()
}

fn run(
    id: &str,
    ptz: &crate::config::PtzConfig,
    stops: Vec<Stop>,
    shared: &Mutex<Shared>,
    stopping: &dyn Fn() -> bool,
) {
    let set = |f: &dyn Fn(&mut Shared)| f(&mut shared.lock().unwrap_or_else(|e| e.into_inner()));
    let credentials = match crate::onvif::credentials_for(ptz) {
        Ok(c) => c,
        Err(why) => {
            tracing::error!(camera = %id, error = %why, "The PTZ tour cannot log in to the camera; nothing is analysed on it until the config is fixed.");
            set(&|s| {
                s.phase = "failed";
                s.error = Some(why.clone());
            });
            return;
        }
    };
    let camera = loop {
        match OnvifCamera::connect(&ptz.onvif, credentials.as_ref()) {
            Ok(c) => break c,
            Err(e) => {
                tracing::warn!(camera = %id, error = %e, "Cannot reach the camera's ONVIF service; trying again.");
                set(&|s| {
                    s.phase = "connecting";
                    s.error = Some(e.to_string());
                    s.watch = None;
                });
                if !pause(RECONNECT, stopping) {
                    return;
                }
            }
        }
    };
    set(&|s| s.error = None);
    match ptz.tour {
        TourMode::Box => drive(id, camera, stops, ptz.settle_s.duration(), shared, stopping),
        TourMode::Camera => follow(id, camera, stops, ptz.settle_s.duration(), shared, stopping),
    }
}

/// A reported pose as orders carry it (none without pan and tilt).
fn head_pose(p: &crate::onvif::Pose) -> Option<HeadPose> {
    Some(HeadPose {
        pan: p.pan? as f64,
        tilt: p.tilt? as f64,
        zoom: p.zoom.unwrap_or(0.0) as f64,
    })
}

/// The box drives the tour.
fn drive(
    id: &str,
    mut camera: OnvifCamera,
    stops: Vec<Stop>,
    settle: Duration,
    shared: &Mutex<Shared>,
    stopping: &dyn Fn() -> bool,
) {
    let mut patrol = Patrol::new(stops, settle);
    let mut visit = 0u64;
    while !stopping() {
        let before = patrol.phase().clone();
        let phase = patrol.step(Instant::now(), &mut camera).clone();
        let arrived =
            matches!(phase, Phase::Watching { .. }) && !matches!(before, Phase::Watching { .. });
        let pose = if arrived {
            visit += 1;
            camera.pose().ok().as_ref().and_then(head_pose)
        } else {
            None
        };
        if let Phase::Failed { why, .. } = &phase {
            if !matches!(before, Phase::Failed { .. }) {
                tracing::warn!(camera = %id, error = %why, "The PTZ head did not reach its preset; trying again.");
            }
        }
        {
            let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
            let (index, name) = match &phase {
                Phase::Idle => (None, "starting"),
                Phase::Moving { index, .. } => (Some(*index), "moving"),
                Phase::Settling { index, .. } => (Some(*index), "settling"),
                Phase::Watching { index, .. } => (Some(*index), "watching"),
                Phase::Failed { index, .. } => (Some(*index), "failed"),
            };
            s.index = index;
            s.phase = name;
            s.visits = patrol.visits;
            s.error = match &phase {
                Phase::Failed { why, .. } => Some(why.clone()),
                _ => None,
            };
            s.watch = match (&phase, arrived) {
                (Phase::Watching { index, .. }, true) => Some(Watch {
                    index: *index,
                    visit,
                    pose,
                }),
                (Phase::Watching { .. }, false) => s.watch.take(),
                _ => None,
            };
        }
        if !pause(POLL, stopping) {
            return;
        }
    }
}

/// The camera runs its own tour: a preset is watched once the head is still at its position
/// for the settle time.
fn follow(
    id: &str,
    camera: OnvifCamera,
    stops: Vec<Stop>,
    settle: Duration,
    shared: &Mutex<Shared>,
    stopping: &dyn Fn() -> bool,
) {
    let positions: Vec<Option<(f32, f32, f32)>> = match camera.presets() {
        Ok(stored) => stops
            .iter()
            .map(|stop| {
                let p = stored.iter().find(|p| p.token == stop.token)?;
                let (pan, tilt) = p.pan_tilt?;
                Some((pan, tilt, p.zoom.unwrap_or(0.0)))
            })
            .collect(),
        Err(e) => {
            tracing::error!(camera = %id, error = %e, "Cannot read the camera's presets to follow its tour.");
            vec![None; stops.len()]
        }
    };
    for (stop, pos) in stops.iter().zip(&positions) {
        if pos.is_none() {
            tracing::warn!(camera = %id, preset = %stop.token, "The camera does not report this preset's position: it can never be recognised while following the camera's tour.");
        }
    }
    let mut still_at: Option<(usize, Instant)> = None;
    let mut visit = 0u64;
    let mut visits = 0u64;
    while !stopping() {
        let reading = camera.pose();
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        match reading {
            Err(e) => {
                s.phase = "failed";
                s.error = Some(e.to_string());
                s.watch = None;
                still_at = None;
            }
            Ok(pose) => {
                s.error = None;
                let at = (!pose.moving)
                    .then(|| {
                        let (pan, tilt) = (pose.pan?, pose.tilt?);
                        let zoom = pose.zoom.unwrap_or(0.0);
                        positions.iter().position(|p| {
                            p.is_some_and(|(a, b, c)| {
                                (a - pan).abs() <= MATCH_TOLERANCE
                                    && (b - tilt).abs() <= MATCH_TOLERANCE
                                    && (c - zoom).abs() <= MATCH_TOLERANCE
                            })
                        })
                    })
                    .flatten();
                let now = Instant::now();
                match (at, still_at) {
                    (Some(i), Some((j, since))) if i == j => {
                        if now.duration_since(since) >= settle && s.watch.is_none() {
                            visit += 1;
                            s.watch = Some(Watch {
                                index: i,
                                visit,
                                pose: head_pose(&pose),
                            });
                            s.phase = "watching";
                        }
                    }
                    (Some(i), _) => {
                        still_at = Some((i, now));
                        s.index = Some(i);
                        s.phase = "settling";
                        s.watch = None;
                    }
                    (None, _) => {
                        s.index = None;
                        if s.watch.take().is_some() {
                            visits += 1;
                        }
                        still_at = None;
                        s.phase = if pose.moving { "moving" } else { "off_tour" };
                    }
                }
                s.visits = visits;
            }
        }
        drop(s);
        if !pause(POLL, stopping) {
            return;
        }
    }
}
