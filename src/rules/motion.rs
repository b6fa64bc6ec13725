//! Whether a tracked object stands still: its ground point, over a time window, relative to its
//! own size (so a near, large car and a far, small one are judged alike and box jitter is not
//! motion).

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::common::Stationary;
use crate::track::TrackedObject;

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    x: f32,
    y: f32,
    height: f32,
}

/// Ground-point history per track.
#[derive(Debug, Default)]
pub struct MotionHistory {
    window: Duration,
    max_move: f32,
    tracks: HashMap<u64, VecDeque<Sample>>,
}

impl MotionHistory {
    pub fn new(config: &Stationary) -> Self {
        MotionHistory {
            window: config.window_s.duration(),
            max_move: config.max_move,
            tracks: HashMap::new(),
        }
    }

    /// Records the tracks seen now and forgets those not seen for two windows.
    pub fn observe(&mut self, tracks: &[&TrackedObject], now: Duration) {
        for t in tracks {
            if t.last_seen != now {
                continue; // lost: the box is a prediction, not an observation
            }
            let (x, y) = t.bbox.ground_point();
            let h = self.tracks.entry(t.track_id).or_default();
            h.push_back(Sample {
                at: now,
                x,
                y,
                height: t.bbox.height().max(1.0),
            });
            while h
                .front()
                .is_some_and(|s| now.saturating_sub(s.at) > self.window * 2)
            {
                h.pop_front();
            }
        }
        let horizon = self.window * 2;
        self.tracks.retain(|_, h| {
            h.back()
                .is_some_and(|s| now.saturating_sub(s.at) <= horizon)
        });
    }

    /// Whether the track has been observed for a whole window and moved less than `max_move`
    /// box heights within it.
    pub fn is_stationary(&self, track_id: u64, now: Duration) -> bool {
        let Some(h) = self.tracks.get(&track_id) else {
            return false;
        };
        let Some(first) = h.front() else { return false };
        // 90 %: sampling never lands exactly on the window edge.
        if now.saturating_sub(first.at) < self.window.mul_f64(0.9) {
            return false;
        }
        let recent: Vec<&Sample> = h
            .iter()
            .filter(|s| now.saturating_sub(s.at) <= self.window)
            .collect();
        let Some(last) = recent.last() else {
            return false;
        };
        let scale = recent.iter().map(|s| s.height).sum::<f32>() / recent.len() as f32;
        recent.iter().all(|s| {
            let d = ((s.x - last.x).powi(2) + (s.y - last.y).powi(2)).sqrt();
            d <= self.max_move * scale
        })
    }
}
