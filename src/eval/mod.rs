//! Eval: the accuracy harness. Replays every clip of a ground-truth file through its config (the
//! same code path as a live camera, at replay speed, clips in parallel), matches the orders each
//! raised against what it should raise, and scores them per kind: expected, found, missed, false
//! alarms, time to order. `lookout eval` prints the scorecard; CI fails on any miss or false
//! alarm of `eval/shared.toml`.

pub mod score;
pub mod truth;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use score::{ClipScore, Raised, Scorecard};
pub use truth::{Clip, Expected, GroundTruth};

use crate::ingest::PlayMode;
use crate::orders::WorkOrder;
use crate::runtime::{self, RunOptions};

/// Replays every clip of the ground truth at `path` on `jobs` threads and scores the orders.
/// Clips whose replay fails are scored with the error (every expectation missed); only an
/// unreadable ground-truth file is an error.
pub fn run(path: &Path, jobs: usize) -> Result<Scorecard, String> {
    let truth = truth::load(path)?;
    let next = AtomicUsize::new(0);
    let scores: Mutex<Vec<(usize, ClipScore)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, truth.clips.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(clip) = truth.clips.get(i) else {
                    break;
                };
                let began = Instant::now();
                let (raised, error) = match replay(clip, i) {
                    Ok(r) => (r, None),
                    Err(e) => (Vec::new(), Some(e)),
                };
                let score = score::score_clip(clip, raised, error, began.elapsed().as_secs_f64());
                tracing::info!(clip = %score.clip, seconds = score.elapsed_s, "Clip scored.");
                scores
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((i, score));
            });
        }
    });
    let mut scores = scores.into_inner().unwrap_or_else(|p| p.into_inner());
    scores.sort_by_key(|(i, _)| *i);
    Ok(Scorecard::new(scores.into_iter().map(|(_, s)| s).collect()))
}

/// Replays one clip and returns the first revision of every order it raised.
fn replay(clip: &Clip, index: usize) -> Result<Vec<Raised>, String> {
    let mut config =
        crate::build::load(&clip.config).map_err(|e| format!("{}: {e}", clip.config.display()))?;
    if !clip.video.is_file() {
        return Err(format!("video {} does not exist", clip.video.display()));
    }
    let camera = match &clip.camera {
        Some(id) => id.clone(),
        None => config
            .cameras
            .first()
            .map(|c| c.id.clone())
            .ok_or_else(|| format!("{} has no camera", clip.config.display()))?,
    };
    // An evaluation publishes nowhere: its own broker on a free port, whatever the config says.
    config.uplink.broker = "embedded".into();
    config.uplink.embedded_listen = "127.0.0.1:0".into();
    let opened: Arc<Mutex<Vec<WorkOrder>>> = Arc::default();
    let sink = opened.clone();
    let options = RunOptions {
        mode: PlayMode::Replay,
        only_cameras: vec![camera.clone()],
        source_override: Some((camera.clone(), clip.video.clone())),
        tap: Some(Arc::new(move |order: &WorkOrder| {
            if order.revision == 1 {
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(order.clone());
            }
        })),
        client_suffix: format!("-eval-{}-{index}", std::process::id()),
        strict: true,
        ..Default::default()
    };
    let report = runtime::run(&config, options).map_err(|e| format!("{e:#}"))?;
    let started = report
        .cameras
        .iter()
        .find(|c| c.camera == camera)
        .and_then(|c| c.stream_started)
        .ok_or_else(|| format!("camera {camera} delivered no stream"))?;
    let orders = opened.lock().unwrap_or_else(|p| p.into_inner());
    orders
        .iter()
        .map(|o| {
            let at = chrono::DateTime::parse_from_rfc3339(&o.opened_at)
                .map_err(|e| format!("order {}: opened_at {:?}: {e}", o.id, o.opened_at))?;
            let opened_s =
                (at.with_timezone(&chrono::Utc) - started).num_milliseconds() as f64 / 1000.0;
            Ok(Raised {
                order: o.id.clone(),
                kind: o.kind,
                severity: o.severity,
                detail: o.detail,
                opened_s,
                count: o.count,
            })
        })
        .collect()
}
