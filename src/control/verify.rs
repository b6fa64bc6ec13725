//! Camera re-checks: the board of pending ones (shared between the control, the camera workers
//! and the sweeper) and the sampler a camera worker runs for one of them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::orders::Purpose;
use crate::vocab::IncidentKind;

/// A re-check to run on a camera.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub order_id: String,
    pub camera: String,
    pub kind: IncidentKind,
    pub zone: Option<String>,
    pub window: Duration,
    pub attempt: u32,
    /// Not before this instant (a retry waits out its back-off).
    pub not_before: Instant,
    /// After `handled`, or after an on-site warning.
    pub purpose: Purpose,
}

#[derive(Debug)]
struct Entry {
    job: Job,
    /// Set when a camera worker took it: the last frame it sampled.
    heartbeat: Option<Instant>,
}

/// Pending and running re-checks, by order id.
#[derive(Debug, Default)]
pub struct Board {
    entries: Mutex<HashMap<String, Entry>>,
}

/// How long a camera may go without delivering a frame to a due or running re-check before the
/// re-check is called inconclusive.
pub const STALL: Duration = Duration::from_secs(10);

impl Board {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a re-check (replacing one for the same order).
    pub fn post(&self, job: Job) {
        self.entries().insert(
            job.order_id.clone(),
            Entry {
                job,
                heartbeat: None,
            },
        );
    }

    /// Forgets an order's re-check (cancelled or closed meanwhile).
    pub fn remove(&self, order_id: &str) {
        self.entries().remove(order_id);
    }

    /// Whether a re-check for the order is pending or running.
    pub fn contains(&self, order_id: &str) -> bool {
        self.entries().contains_key(order_id)
    }

    /// The due re-checks of `camera` that no worker has taken yet; they are now taken.
    pub fn take(&self, camera: &str, now: Instant) -> Vec<Job> {
        let mut taken = Vec::new();
        for e in self.entries().values_mut() {
            if e.heartbeat.is_none() && e.job.camera == camera && e.job.not_before <= now {
                e.heartbeat = Some(now);
                taken.push(e.job.clone());
            }
        }
        taken
    }

    /// A worker sampled a frame for these orders.
    pub fn beat<'a>(&self, orders: impl Iterator<Item = &'a str>, now: Instant) {
        let mut entries = self.entries();
        for id in orders {
            if let Some(e) = entries.get_mut(id) {
                e.heartbeat = Some(now);
            }
        }
    }

    /// A worker finished the order's re-check: it leaves the board. False when the job was
    /// replaced or removed meanwhile (the verdict is then stale and must be dropped).
    pub fn finish(&self, job: &Job) -> bool {
        let mut entries = self.entries();
        match entries.get(&job.order_id) {
            Some(e) if e.job == *job => {
                entries.remove(&job.order_id);
                true
            }
            _ => false,
        }
    }

    /// Re-checks whose camera gave no frame in time: due but untaken for [`STALL`], or taken
    /// with no frame for [`STALL`]. They leave the board; the caller reports and reschedules.
    pub fn stalled(&self, now: Instant) -> Vec<Job> {
        let mut entries = self.entries();
        let ids: Vec<String> = entries
            .iter()
            .filter(|(_, e)| {
                let since = e.heartbeat.unwrap_or(e.job.not_before);
                now.saturating_duration_since(since) >= STALL
            })
            .map(|(id, _)| id.clone())
            .collect();
        ids.iter()
            .filter_map(|id| entries.remove(id).map(|e| e.job))
            .collect()
    }
}

/// What a finished re-check saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// The problem was seen on fewer than the required share of samples.
    Gone {
        present_ratio: f32,
    },
    Present {
        present_ratio: f32,
    },
    /// Nothing could be judged (no rule for the kind on this camera any more).
    Inconclusive,
}

/// One re-check running on a camera worker, sampling in stream time.
#[derive(Debug)]
pub struct Sampler {
    pub job: Job,
    started: Option<Duration>,
    samples: u32,
    present: u32,
}

impl Sampler {
    pub fn new(job: Job) -> Self {
        Sampler {
            job,
            started: None,
            samples: 0,
            present: 0,
        }
    }

    /// One frame at stream time `pts`: was the problem there (`None`: no rule to ask)? Returns
    /// the verdict once the window is full.
    pub fn observe(
        &mut self,
        pts: Duration,
        present: Option<bool>,
        required_ratio: f64,
    ) -> Option<Verdict> {
        let started = *self.started.get_or_insert(pts);
        let Some(present) = present else {
            return Some(Verdict::Inconclusive);
        };
        self.samples += 1;
        self.present += present as u32;
        if pts.saturating_sub(started) < self.job.window {
            return None;
        }
        let ratio = self.present as f32 / self.samples as f32;
        let ratio_rounded = (ratio * 1000.0).round() / 1000.0;
        Some(if f64::from(ratio) >= required_ratio {
            Verdict::Present {
                present_ratio: ratio_rounded,
            }
        } else {
            Verdict::Gone {
                present_ratio: ratio_rounded,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(now: Instant) -> Job {
        Job {
            order_id: "o".into(),
            camera: "cam".into(),
            kind: crate::rules::CROWD,
            zone: Some("z".into()),
            window: Duration::from_secs(10),
            attempt: 1,
            not_before: now,
            purpose: Purpose::Handled,
        }
    }

    #[test]
    fn a_window_mostly_empty_is_gone_mostly_full_is_present() {
        let mut s = Sampler::new(job(Instant::now()));
        let mut verdict = None;
        for i in 0..=20 {
            let pts = Duration::from_millis(5000 + i * 500);
            verdict = s.observe(pts, Some(i < 5), 0.5);
            if verdict.is_some() {
                assert_eq!(i, 20, "the window is 10 s of stream time");
            }
        }
        assert!(matches!(verdict, Some(Verdict::Gone { present_ratio }) if present_ratio < 0.3));
        let mut s = Sampler::new(job(Instant::now()));
        let v = (0..=20)
            .filter_map(|i| s.observe(Duration::from_millis(i * 500), Some(i % 4 != 0), 0.5))
            .next();
        assert!(matches!(v, Some(Verdict::Present { .. })), "{v:?}");
    }

    #[test]
    fn a_camera_without_frames_stalls_its_recheck() {
        let t0 = Instant::now();
        let board = Board::default();
        board.post(job(t0));
        assert!(board.take("other", t0).is_empty());
        assert!(board.stalled(t0 + Duration::from_secs(5)).is_empty());
        let taken = board.take("cam", t0 + Duration::from_secs(6));
        assert_eq!(taken.len(), 1);
        board.beat(["o"].into_iter(), t0 + Duration::from_secs(12));
        assert!(board.stalled(t0 + Duration::from_secs(20)).is_empty());
        let stalled = board.stalled(t0 + Duration::from_secs(23));
        assert_eq!(stalled.len(), 1, "10 s without a frame");
        assert!(!board.contains("o"));
    }

    #[test]
    fn a_replaced_job_makes_the_old_verdict_stale() {
        let t0 = Instant::now();
        let board = Board::default();
        let first = job(t0);
        board.post(first.clone());
        board.post(Job {
            attempt: 2,
            ..first.clone()
        });
        assert!(!board.finish(&first));
        assert!(board.contains("o"));
    }
}
