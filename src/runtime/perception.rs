//! The camera worker's pure per-frame step: what the models saw on a frame, through the tracker
//! and the rules, to incident events. No IO and no clock (time comes in with the frame), so the
//! worker around it does the streaming, inference, storing and publishing, and this part can be
//! driven frame by frame in a test.

use crate::detect::Detection;
use crate::ingest::Frame;
use crate::rules::{IncidentEvent, RuleEngine, RuleInput};
use crate::track::{TrackedObject, Tracker};

/// What the models found on one frame.
pub struct Seen {
    /// The object models' detections (persons, vehicles): empty when none ran.
    pub objects: Vec<Detection>,
    /// The region models' detections (fire, smoke), when one ran on this frame.
    pub regions: Option<Vec<Detection>>,
    /// Whether an object model ran on this frame (its tracks are new).
    pub objects_ran: bool,
}

/// A camera's tracker and rules, with the tracks as of the last object-model run.
pub struct Perception {
    tracker: Tracker,
    rules: RuleEngine,
    tracks: Vec<TrackedObject>,
}

impl Perception {
    pub fn new(tracker: Tracker, rules: RuleEngine) -> Self {
        Perception {
            tracker,
            rules,
            tracks: Vec::new(),
        }
    }

    /// One frame: the tracker on the object detections (when an object model ran), then every
    /// rule; the incidents that opened, changed or cleared.
    pub fn step(&mut self, frame: &Frame, seen: &Seen) -> Vec<IncidentEvent> {
        if seen.objects_ran {
            self.tracks = self.tracker.update(&seen.objects, frame.pts);
        }
        let input = RuleInput {
            pts: frame.pts,
            captured_at: frame.captured_at,
            frame_width: frame.width(),
            frame_height: frame.height(),
            image: Some(&frame.image),
            tracks: &self.tracks,
            regions: seen.regions.as_deref(),
            detections: seen.objects_ran.then_some(&seen.objects[..]),
        };
        self.rules.evaluate(&input)
    }

    pub fn rules(&self) -> &RuleEngine {
        &self.rules
    }

    pub fn rules_mut(&mut self) -> &mut RuleEngine {
        &mut self.rules
    }

    /// The tracks as of the last object-model run.
    pub fn tracks(&self) -> &[TrackedObject] {
        &self.tracks
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::detect::BBox;
    use crate::rules::Phase;
    use crate::track::TrackerConfig;

    /// Five people standing in the zone, seen by the object model on every other frame: the
    /// step tracks them, keeps the tracks between model runs, and the crowd opens once.
    #[test]
    fn detections_in_tracks_and_incidents_out_frame_by_frame() {
        let text = r#"
[box]
site = "s"
id = "b"
[[cameras]]
id = "cam"
source = "test:ball"
models = ["m"]
location = { lat = 30.0, lon = 120.0 }
faults = { enabled = false }
[[cameras.zones]]
id = "all"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
[[cameras.rules]]
kind = "crowd"
zone = "all"
min_count = 5
hold_s = 2.0
"#;
        let config = crate::config::parse(text, std::path::Path::new("t.toml")).unwrap();
        let camera = &config.cameras[0];
        let rules =
            RuleEngine::new(camera, chrono::FixedOffset::east_opt(8 * 3600).unwrap()).unwrap();
        let mut perception = Perception::new(Tracker::new(TrackerConfig::default()), rules);
        let image = Arc::new(image::RgbImage::new(640, 480));
        let start = chrono::Utc::now();
        let mut opened = Vec::new();
        for seq in 0..40u64 {
            let pts = Duration::from_millis(200 * seq);
            let frame = Frame {
                camera_id: Arc::from("cam"),
                seq,
                pts,
                captured_at: start + chrono::Duration::milliseconds(200 * seq as i64),
                image: image.clone(),
            };
            let ran = seq % 2 == 0;
            let objects = if ran {
                (0..5)
                    .map(|i| Detection {
                        label: Arc::from("person"),
                        score: 0.9,
                        bbox: BBox {
                            x1: 50.0 + 100.0 * i as f32,
                            y1: 200.0,
                            x2: 90.0 + 100.0 * i as f32,
                            y2: 300.0,
                        },
                        model: Arc::from("m"),
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let seen = Seen {
                objects,
                regions: None,
                objects_ran: ran,
            };
            for e in perception.step(&frame, &seen) {
                opened.push((e.phase, pts));
            }
            if seq > 4 {
                assert_eq!(perception.tracks().len(), 5, "frame {seq}");
            }
        }
        assert_eq!(opened.len(), 1, "{opened:?}");
        assert_eq!(opened[0].0, Phase::Opened);
        assert!(opened[0].1 >= Duration::from_secs(2), "{opened:?}");
    }
}
