//! The best view, not the first: while a problem is being confirmed (a rule's confirm time), the
//! frame it opens on is often not the clearest — the flame has died down, the vendor has turned
//! away. The camera offers every judged frame; a [`Shortlist`] keeps, per label, the frame where
//! that label's objects scored highest within the last window, and the opening photo is taken
//! from whichever kept frame shows the incident's objects best.
//!
//! Memory is bounded: one frame per label the camera's models report (shared `Arc`s: a frame
//! that is best for two labels is held once), released when a newer frame replaces it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use image::RgbImage;

use crate::rules::{ObservedObject, Zone};

/// A frame and what was seen on it.
#[derive(Debug, Clone)]
pub struct View {
    pub image: Arc<RgbImage>,
    pub objects: Vec<ObservedObject>,
    /// Stream time of the frame.
    pub pts: Duration,
    pub captured_at: DateTime<Utc>,
}

#[derive(Debug)]
struct Kept {
    score: f32,
    view: Arc<View>,
}

/// Per camera: the best recent frame for each label.
#[derive(Debug)]
pub struct Shortlist {
    window: Duration,
    by_label: HashMap<Arc<str>, Kept>,
}

impl Shortlist {
    /// Keeps frames for `window` (the camera's longest confirm time, capped by the caller).
    pub fn new(window: Duration) -> Shortlist {
        Shortlist {
            window,
            by_label: HashMap::new(),
        }
    }

    /// Offers a judged frame with the objects seen on it (tracked objects, regions).
    pub fn offer(&mut self, view: View) {
        let mut totals: HashMap<&Arc<str>, f32> = HashMap::new();
        for o in &view.objects {
            *totals.entry(&o.label).or_default() += o.score;
        }
        let mut shared: Option<Arc<View>> = None;
        let mut replace: Vec<(Arc<str>, f32)> = Vec::new();
        for (label, score) in totals {
            let better = match self.by_label.get(label) {
                None => true,
                Some(kept) => {
                    score > kept.score || view.pts.saturating_sub(kept.view.pts) > self.window
                }
            };
            if better {
                replace.push((label.clone(), score));
            }
        }
        for (label, score) in replace {
            let view = shared.get_or_insert_with(|| Arc::new(view.clone())).clone();
            self.by_label.insert(label, Kept { score, view });
        }
    }

    /// The view to photograph an incident that opens now (`current`: the frame it opened on,
    /// with the incident's own objects): the kept frame within the window where the objects of
    /// the incident's labels (inside its zone, when it has one) score highest, with those objects
    /// to draw; `current` when none beats it. Ties go to `current`, the latest.
    pub fn best(&self, current: View, zone: Option<&Zone>) -> View {
        let labels: Vec<&Arc<str>> = current.objects.iter().map(|o| &o.label).collect();
        if labels.is_empty() {
            return current;
        }
        let (w, h) = (current.image.width() as f64, current.image.height() as f64);
        let relevant = |o: &ObservedObject| {
            labels.contains(&&o.label)
                && zone.is_none_or(|z| {
                    let (x, y) = o.bbox.ground_point();
                    z.contains(x as f64 / w, y as f64 / h)
                })
        };
        let score = |objects: &[ObservedObject]| -> f32 {
            objects
                .iter()
                .filter(|o| relevant(o))
                .map(|o| o.score)
                .sum()
        };
        let mut best_score = score(&current.objects);
        let mut best: Option<&Arc<View>> = None;
        for label in &labels {
            let Some(kept) = self.by_label.get(*label) else {
                continue;
            };
            let view = &kept.view;
            let fresh = current.pts.saturating_sub(view.pts) <= self.window;
            let same_size = view.image.dimensions() == current.image.dimensions();
            if !fresh || !same_size {
                continue;
            }
            let s = score(&view.objects);
            if s > best_score {
                best_score = s;
                best = Some(view);
            }
        }
        match best {
            Some(view) => View {
                image: view.image.clone(),
                objects: view
                    .objects
                    .iter()
                    .filter(|o| relevant(o))
                    .cloned()
                    .collect(),
                pts: view.pts,
                captured_at: view.captured_at,
            },
            None => current,
        }
    }

    /// Frames held now (for tests and the memory bound).
    pub fn frames_held(&self) -> usize {
        let mut held: Vec<*const View> = self
            .by_label
            .values()
            .map(|k| Arc::as_ptr(&k.view))
            .collect();
        held.sort();
        held.dedup();
        held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::BBox;

    fn object(label: &str, score: f32, x: f32) -> ObservedObject {
        ObservedObject {
            label: Arc::from(label),
            score,
            bbox: BBox {
                x1: x,
                y1: 10.0,
                x2: x + 10.0,
                y2: 40.0,
            },
            track_id: None,
        }
    }

    fn view(s: u64, objects: Vec<ObservedObject>) -> View {
        View {
            image: Arc::new(RgbImage::new(100, 50)),
            objects,
            pts: Duration::from_secs(s),
            captured_at: DateTime::<Utc>::from_timestamp(s as i64, 0).unwrap(),
        }
    }

    #[test]
    fn the_clearest_frame_of_the_window_is_chosen_over_the_opening_one() {
        let mut list = Shortlist::new(Duration::from_secs(10));
        list.offer(view(0, vec![object("fire", 0.5, 10.0)]));
        list.offer(view(
            2,
            vec![object("fire", 0.9, 10.0), object("person", 0.8, 60.0)],
        ));
        list.offer(view(
            4,
            vec![object("fire", 0.4, 10.0), object("person", 0.9, 60.0)],
        ));
        let opening = view(5, vec![object("fire", 0.45, 12.0)]);
        list.offer(opening.clone());
        let chosen = list.best(opening, None);
        assert_eq!(chosen.pts, Duration::from_secs(2), "the 0.9 flame");
        assert_eq!(
            chosen.objects.len(),
            1,
            "only the incident's label is drawn"
        );
        assert_eq!(chosen.objects[0].label.as_ref(), "fire");
        assert!(list.frames_held() <= 2, "one frame per label at most");
    }

    #[test]
    fn frames_older_than_the_window_or_outside_the_zone_do_not_count() {
        let mut list = Shortlist::new(Duration::from_secs(3));
        list.offer(view(0, vec![object("person", 0.99, 10.0)]));
        let opening = view(5, vec![object("person", 0.6, 10.0)]);
        list.offer(opening.clone());
        assert_eq!(list.best(opening, None).pts, Duration::from_secs(5));

        let zone = Zone::from_config(&crate::config::ZoneConfig {
            id: "left".into(),
            name: None,
            polygon: vec![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]],
        });
        let mut list = Shortlist::new(Duration::from_secs(10));
        // Many people to the right, outside the zone, score high but are not the incident.
        list.offer(view(
            1,
            vec![object("person", 0.9, 70.0), object("person", 0.9, 80.0)],
        ));
        let opening = view(2, vec![object("person", 0.7, 10.0)]);
        list.offer(opening.clone());
        assert_eq!(list.best(opening, Some(&zone)).pts, Duration::from_secs(2));
    }
}
