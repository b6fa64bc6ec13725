//! Track: a ByteTrack-style multi-object tracker per camera.
//!
//! Detections in, [`TrackedObject`]s with stable ids out. Each track carries a Kalman filter; each
//! frame is associated in two stages (confident detections first against all tracks, then the
//! low-score leftovers against the still-tracked ones, which keeps partly occluded objects alive).
//! New tracks need a second sighting before they are reported. Labels never mix across kinds: a
//! person track never takes over a car detection. Vehicles are one kind, though: seen from above,
//! one car is often called car, truck and bus on successive frames, so a vehicle track matches any
//! vehicle label and reports the label it was given most often. Pure state machine: no IO, time
//! is passed in.

mod assign;
mod kalman;

use std::sync::Arc;
use std::time::Duration;

use crate::detect::{BBox, Detection};
use assign::assign;
use kalman::{KalmanBox, Measurement};

/// Tracker tuning (ByteTrack's published defaults, with the lost-track buffer in seconds because
/// cameras sample at different rates).
#[derive(Debug, Clone)]
pub struct TrackerConfig {
    /// Detections at or above this score take part in the first association.
    pub high_score: f32,
    /// Detections below this are ignored altogether.
    pub low_score: f32,
    /// A new track starts only from a detection at least this confident.
    pub new_track_score: f32,
    /// Maximum 1 − IoU for the first association.
    pub match_gate: f32,
    /// Maximum 1 − IoU for the low-score association.
    pub low_match_gate: f32,
    /// Maximum 1 − IoU for confirming a new track.
    pub confirm_gate: f32,
    /// How long a lost track may come back before it is forgotten.
    pub max_lost: Duration,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.6,
            match_gate: 0.8,
            low_match_gate: 0.5,
            confirm_gate: 0.7,
            max_lost: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackState {
    /// Seen in this frame.
    Tracked,
    /// Not seen in this frame; position is the filter's prediction.
    Lost,
}

/// A tracked object as reported for one frame: the message from track to rules.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackedObject {
    pub track_id: u64,
    pub label: Arc<str>,
    /// Score of the latest matched detection.
    pub score: f32,
    /// Latest detection box, or the prediction while lost.
    pub bbox: BBox,
    pub state: TrackState,
    /// Stream time the track was first seen.
    pub first_seen: Duration,
    /// Stream time of the latest matched detection.
    pub last_seen: Duration,
}

/// Labels that may describe the same physical object from frame to frame.
fn kind_of(label: &str) -> &str {
    match label {
        "car" | "truck" | "bus" => "vehicle",
        other => other,
    }
}

struct Track {
    id: u64,
    label: Arc<str>,
    /// How often each label was given to this track; `label` is the most frequent.
    votes: Vec<(Arc<str>, u32)>,
    score: f32,
    kf: KalmanBox,
    bbox: BBox,
    confirmed: bool,
    lost: bool,
    first_seen: Duration,
    last_seen: Duration,
}

impl Track {
    fn predicted_box(&self) -> BBox {
        to_bbox(&self.kf.mean.fixed_rows::<4>(0).into_owned())
    }

    fn absorb(&mut self, det: &Detection, now: Duration) {
        match self.votes.iter_mut().find(|(l, _)| *l == det.label) {
            Some((_, n)) => *n += 1,
            None => self.votes.push((det.label.clone(), 1)),
        }
        if let Some((label, _)) = self.votes.iter().max_by_key(|(_, n)| *n) {
            self.label = label.clone();
        }
        self.kf.update(to_measurement(&det.bbox));
        self.bbox = det.bbox;
        self.score = det.score;
        self.last_seen = now;
        self.lost = false;
    }
}

fn to_measurement(b: &BBox) -> Measurement {
    let (cx, cy) = b.center();
    let h = b.height().max(1e-3);
    Measurement::new(cx, cy, b.width() / h, h)
}

fn to_bbox(m: &Measurement) -> BBox {
    let h = m[3].max(0.0);
    BBox::from_center(m[0], m[1], m[2] * h, h)
}

/// Per-camera multi-object tracker.
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    next_id: u64,
    frames: u64,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Tracker {
            config,
            tracks: Vec::new(),
            next_id: 1,
            frames: 0,
        }
    }

    /// Advances the tracker by one frame of detections seen at stream time `now`. Returns the
    /// confirmed tracks: those seen now, and the recently lost ones with their predicted boxes.
    pub fn update(&mut self, detections: &[Detection], now: Duration) -> Vec<TrackedObject> {
        let cfg = self.config.clone();
        for t in &mut self.tracks {
            t.kf.predict();
        }
        let (high, low): (Vec<&Detection>, Vec<&Detection>) = detections
            .iter()
            .filter(|d| d.score >= cfg.low_score)
            .partition(|d| d.score >= cfg.high_score);

        // Stage 1: confident detections against confirmed tracks, tracked or lost.
        let pool: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| self.tracks[i].confirmed)
            .collect();
        let mut matched_tracks = vec![false; self.tracks.len()];
        let mut used_high = vec![false; high.len()];
        for (ti, di) in assign(&self.cost(&pool, &high), cfg.match_gate) {
            let t = pool[ti];
            self.tracks[t].absorb(high[di], now);
            matched_tracks[t] = true;
            used_high[di] = true;
        }

        // Stage 2: low-score detections against tracks that were tracked until now.
        let pool2: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|&t| !matched_tracks[t] && !self.tracks[t].lost)
            .collect();
        for (ti, di) in assign(&self.cost(&pool2, &low), cfg.low_match_gate) {
            let t = pool2[ti];
            self.tracks[t].absorb(low[di], now);
            matched_tracks[t] = true;
        }
        for &t in &pool {
            if !matched_tracks[t] {
                self.tracks[t].lost = true;
            }
        }

        // Stage 3: tentative tracks need a second sighting to be confirmed.
        let tentative: Vec<usize> = (0..self.tracks.len())
            .filter(|&i| !self.tracks[i].confirmed)
            .collect();
        let rest: Vec<usize> = (0..high.len()).filter(|&i| !used_high[i]).collect();
        let rest_dets: Vec<&Detection> = rest.iter().map(|&i| high[i]).collect();
        for (ti, di) in assign(&self.cost(&tentative, &rest_dets), cfg.confirm_gate) {
            let t = tentative[ti];
            self.tracks[t].absorb(rest_dets[di], now);
            self.tracks[t].confirmed = true;
            matched_tracks[t] = true;
            used_high[rest[di]] = true;
        }

        // Forget unconfirmed tracks that were not seen again and tracks lost for too long.
        let mut keep = Vec::with_capacity(self.tracks.len());
        for (i, t) in self.tracks.drain(..).enumerate() {
            let stale = now.saturating_sub(t.last_seen) > cfg.max_lost;
            if (t.confirmed || matched_tracks[i]) && !stale {
                keep.push(t);
            }
        }
        self.tracks = keep;

        // New tracks from the confident leftovers; on the very first frame they count at once.
        let first_frame = self.frames == 0;
        for (i, d) in high.iter().enumerate() {
            if used_high[i] || d.score < cfg.new_track_score {
                continue;
            }
            self.tracks.push(Track {
                id: self.next_id,
                label: d.label.clone(),
                votes: vec![(d.label.clone(), 1)],
                score: d.score,
                kf: KalmanBox::new(to_measurement(&d.bbox)),
                bbox: d.bbox,
                confirmed: first_frame,
                lost: false,
                first_seen: now,
                last_seen: now,
            });
            self.next_id += 1;
        }
        self.frames += 1;

        self.tracks
            .iter()
            .filter(|t| t.confirmed)
            .map(|t| TrackedObject {
                track_id: t.id,
                label: t.label.clone(),
                score: t.score,
                bbox: if t.lost { t.predicted_box() } else { t.bbox },
                state: if t.lost {
                    TrackState::Lost
                } else {
                    TrackState::Tracked
                },
                first_seen: t.first_seen,
                last_seen: t.last_seen,
            })
            .collect()
    }

    /// 1 − IoU between predicted track boxes and detections; different kinds never match.
    fn cost(&self, tracks: &[usize], dets: &[&Detection]) -> Vec<Vec<f32>> {
        tracks
            .iter()
            .map(|&t| {
                let track = &self.tracks[t];
                let predicted = track.predicted_box();
                dets.iter()
                    .map(|d| {
                        if kind_of(&d.label) != kind_of(&track.label) {
                            f32::INFINITY
                        } else {
                            1.0 - predicted.iou(&d.bbox)
                        }
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(label: &str, x: f32, y: f32, score: f32) -> Detection {
        Detection {
            label: Arc::from(label),
            score,
            bbox: BBox {
                x1: x,
                y1: y,
                x2: x + 40.0,
                y2: y + 100.0,
            },
            model: Arc::from("test"),
        }
    }

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn keeps_ids_for_moving_objects() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut ids = Vec::new();
        for step in 0..10u64 {
            let x = step as f32 * 8.0;
            let out = tracker.update(
                &[
                    det("person", 100.0 + x, 100.0, 0.9),
                    det("person", 400.0 - x, 120.0, 0.9),
                ],
                at(step * 200),
            );
            let mut frame_ids: Vec<u64> = out.iter().map(|o| o.track_id).collect();
            frame_ids.sort();
            ids.push(frame_ids);
        }
        assert_eq!(ids[0], vec![1, 2]);
        assert!(ids.iter().all(|f| f == &ids[0]), "{ids:?}");
    }

    #[test]
    fn rides_over_a_missed_frame_and_low_scores() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(&[det("car", 100.0, 100.0, 0.9)], at(0));
        // Partly occluded: a weak detection still continues the track (second association).
        let weak = tracker.update(&[det("car", 102.0, 100.0, 0.3)], at(200));
        assert_eq!(weak.len(), 1);
        assert_eq!(weak[0].state, TrackState::Tracked);
        let gap = tracker.update(&[], at(400));
        assert_eq!(gap.len(), 1);
        assert_eq!(gap[0].state, TrackState::Lost);
        // Back after the missed frame: same id.
        let back = tracker.update(&[det("car", 104.0, 100.0, 0.8)], at(600));
        assert_eq!(back[0].track_id, gap[0].track_id);
        assert_eq!(back[0].state, TrackState::Tracked);
    }

    #[test]
    fn a_single_false_positive_never_becomes_a_track() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(&[], at(0));
        assert!(tracker
            .update(&[det("person", 10.0, 10.0, 0.9)], at(200))
            .is_empty());
        assert!(tracker.update(&[], at(400)).is_empty());
    }

    #[test]
    fn a_vehicle_keeps_its_id_when_its_label_flickers() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let mut ids = Vec::new();
        for (step, label) in ["car", "bus", "car", "truck", "car"].iter().enumerate() {
            let out = tracker.update(
                &[det(label, 100.0 + step as f32, 100.0, 0.8)],
                at(step as u64 * 500),
            );
            ids.extend(out.iter().map(|o| (o.track_id, o.label.to_string())));
        }
        assert!(ids.iter().all(|(id, _)| *id == 1), "{ids:?}");
        assert_eq!(ids.last().unwrap().1, "car", "majority label");
    }

    #[test]
    fn labels_never_mix_and_stale_tracks_are_forgotten() {
        let mut tracker = Tracker::new(TrackerConfig::default());
        tracker.update(&[det("person", 100.0, 100.0, 0.9)], at(0));
        let out = tracker.update(&[det("car", 100.0, 100.0, 0.9)], at(200));
        assert_eq!(out.len(), 1, "the car is tentative, the person lost");
        assert_eq!(&*out[0].label, "person");
        assert_eq!(out[0].state, TrackState::Lost);
        assert!(tracker.update(&[], at(5_000)).is_empty());
    }
}
