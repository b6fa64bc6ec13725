//! Evidence over time for fire and smoke: flames flicker and smoke drifts, while a yellow swim
//! ring, an orange jacket or grey tarmac stays as it is from frame to frame. And a view that
//! moves as a whole (a pan, a shaking pole) changes everywhere at once, which is not a fire
//! either.
//!
//! [`Activity`] keeps, per cell of a grey thumbnail, a running mean of the frame-to-frame change;
//! a fire box counts when its cells flicker enough and clearly more than the ring around it.
//! [`ViewMotion`] estimates how the whole view moved between two fire samples (edge-map
//! correlation over shifts): while it moves, the fire and smoke checks pause.

use super::scene::Thumb;
use crate::detect::BBox;

/// Weight of the newest frame-to-frame change in the running mean (≈ 3 frames).
const ACTIVITY_RATE: f32 = 0.35;

/// Per-cell temporal activity of a camera's picture.
#[derive(Default)]
pub struct Activity {
    prev: Option<Thumb>,
    level: Vec<f32>,
    w: usize,
    h: usize,
    /// Frames observed since the activity map was (re)started.
    frames: u32,
}

/// How much a box flickers compared with its surroundings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flicker {
    /// Mean frame-to-frame grey change inside the box (grey levels).
    pub inside: f32,
    /// The same in a ring around the box as wide as half the box.
    pub around: f32,
}

impl Activity {
    /// Takes the next frame's thumbnail.
    pub fn observe(&mut self, thumb: &Thumb) {
        let (w, h) = (thumb.width(), thumb.height());
        match &self.prev {
            Some(prev) if prev.width() == w && prev.height() == h => {
                // A moving view is compensated: the previous frame and the activity so far are
                // moved along with the picture before they are compared.
                let (dx, dy) =
                    view_shift(thumb, prev).map_or((0, 0), |(sx, sy)| cells(sx, sy, w, h));
                let prev_px = shift(prev.pixels(), w, h, dx, dy, thumb.pixels());
                self.level = shift(&self.level, w, h, dx, dy, &vec![0.0; w * h]);
                for ((l, a), b) in self.level.iter_mut().zip(thumb.pixels()).zip(&prev_px) {
                    *l += ((a - b).abs() - *l) * ACTIVITY_RATE;
                }
                self.frames += 1;
            }
            _ => {
                self.level = vec![0.0; w * h];
                (self.w, self.h, self.frames) = (w, h, 0);
            }
        }
        self.prev = Some(thumb.clone());
    }

    /// Whether enough frames were seen to judge flicker.
    pub fn ready(&self) -> bool {
        self.frames >= 2
    }

    /// Flicker of `bbox` (frame pixels of a `frame_w` × `frame_h` frame).
    pub fn flicker(&self, bbox: &BBox, frame_w: f32, frame_h: f32) -> Flicker {
        if self.w == 0 || self.h == 0 {
            return Flicker {
                inside: 0.0,
                around: 0.0,
            };
        }
        let sx = self.w as f32 / frame_w;
        let sy = self.h as f32 / frame_h;
        let cell = |x: f32, limit: usize| (x.max(0.0) as usize).min(limit - 1);
        let (x0, x1) = (cell(bbox.x1 * sx, self.w), cell(bbox.x2 * sx, self.w));
        let (y0, y1) = (cell(bbox.y1 * sy, self.h), cell(bbox.y2 * sy, self.h));
        let mx = (x1 - x0 + 1).div_ceil(2).max(2);
        let my = (y1 - y0 + 1).div_ceil(2).max(2);
        let (ox0, ox1) = (x0.saturating_sub(mx), (x1 + mx).min(self.w - 1));
        let (oy0, oy1) = (y0.saturating_sub(my), (y1 + my).min(self.h - 1));
        let (mut si, mut ni, mut sa, mut na) = (0f32, 0u32, 0f32, 0u32);
        for y in oy0..=oy1 {
            for x in ox0..=ox1 {
                let v = self.level[y * self.w + x];
                if (x0..=x1).contains(&x) && (y0..=y1).contains(&y) {
                    si += v;
                    ni += 1;
                } else {
                    sa += v;
                    na += 1;
                }
            }
        }
        Flicker {
            inside: si / ni.max(1) as f32,
            around: if na == 0 { 0.0 } else { sa / na as f32 },
        }
    }
}

/// A shifted edge map must match this much better than the unshifted one to call it a move.
const MOVE_MARGIN: f32 = 0.05;
/// Below this correlation even the best shift does not explain the change (a fast pan, a zoom,
/// a scene cut): nothing can be compensated and the checks pause.
const MIN_ALIGNED: f32 = 0.4;

/// How the view moved from `prev` to `now`, as a share of width and height; `None` when it
/// did not.
fn view_shift(now: &Thumb, prev: &Thumb) -> Option<(f32, f32)> {
    let m = now.compare(prev);
    (m.best_offset != (0.0, 0.0) && m.best_score > m.score + MOVE_MARGIN).then_some(m.best_offset)
}

/// A shift as a share of the picture, in cells of a `w` × `h` grid.
pub fn cells(sx: f32, sy: f32, w: usize, h: usize) -> (i32, i32) {
    (
        (sx * w as f32).round() as i32,
        (sy * h as f32).round() as i32,
    )
}

/// `values` (a `w` × `h` grid) moved by (dx, dy) cells: out(x, y) = values(x − dx, y − dy);
/// cells with no source take `fill`'s value.
pub fn shift(values: &[f32], w: usize, h: usize, dx: i32, dy: i32, fill: &[f32]) -> Vec<f32> {
    if (dx, dy) == (0, 0) {
        return values.to_vec();
    }
    let mut out = fill.to_vec();
    for y in 0..h as i32 {
        let sy = y - dy;
        if !(0..h as i32).contains(&sy) {
            continue;
        }
        for x in 0..w as i32 {
            let sx = x - dx;
            if (0..w as i32).contains(&sx) {
                out[(y as usize) * w + x as usize] = values[(sy as usize) * w + sx as usize];
            }
        }
    }
    out
}

/// What the view did between two fire samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Motion {
    Still,
    /// Moved by this share of width and height: compensated.
    Shifted(f32, f32),
    /// Changed in a way a shift does not explain: the checks pause.
    Lost,
}

/// How the whole view moved between two fire samples.
#[derive(Default)]
pub struct ViewMotion {
    prev: Option<Thumb>,
}

impl ViewMotion {
    /// Takes the sample's thumbnail and says how the view moved since the previous sample.
    pub fn observe(&mut self, thumb: &Thumb) -> Motion {
        let motion = match &self.prev {
            None => Motion::Still,
            Some(prev) => {
                let m = thumb.compare(prev);
                tracing::trace!(offset = ?m.best_offset, best = m.best_score, still = m.score, "View motion.");
                if m.best_offset == (0.0, 0.0) || m.best_score <= m.score + MOVE_MARGIN {
                    Motion::Still
                } else if m.best_score < MIN_ALIGNED {
                    Motion::Lost
                } else {
                    Motion::Shifted(m.best_offset.0, m.best_offset.1)
                }
            }
        };
        self.prev = Some(thumb.clone());
        motion
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    /// A textured grey scene, shifted right by `dx` pixels, with an optional flickering patch.
    fn scene(dx: u32, patch: Option<u8>) -> RgbImage {
        RgbImage::from_fn(320, 180, |x, y| {
            if let Some(v) = patch.filter(|_| (100..140).contains(&x) && (60..100).contains(&y)) {
                return Rgb([v, v, v]);
            }
            // Blocks of random grey: a texture with no period a shift could be mistaken for.
            let (bx, by) = ((x + 400 - dx) / 8, y / 8);
            let hash = bx.wrapping_mul(2_654_435_761) ^ by.wrapping_mul(40_503).rotate_left(7);
            let v = (hash % 180 + 40) as u8;
            Rgb([v, v, v])
        })
    }

    #[test]
    fn a_flickering_patch_stands_out_from_its_still_surroundings() {
        let mut a = Activity::default();
        for i in 0..6 {
            a.observe(&Thumb::of(&scene(
                0,
                Some(if i % 2 == 0 { 250 } else { 150 }),
            )));
        }
        assert!(a.ready());
        let f = a.flicker(
            &BBox {
                x1: 100.0,
                y1: 60.0,
                x2: 140.0,
                y2: 100.0,
            },
            320.0,
            180.0,
        );
        assert!(f.inside > 40.0 && f.around < 5.0, "{f:?}");
        // A still patch does not flicker.
        let mut still = Activity::default();
        for _ in 0..6 {
            still.observe(&Thumb::of(&scene(0, Some(250))));
        }
        let f = still.flicker(
            &BBox {
                x1: 100.0,
                y1: 60.0,
                x2: 140.0,
                y2: 100.0,
            },
            320.0,
            180.0,
        );
        assert!(f.inside < 1.0, "{f:?}");
    }

    #[test]
    fn a_pan_is_a_move_and_a_still_view_is_not() {
        let mut m = ViewMotion::default();
        assert_eq!(m.observe(&Thumb::of(&scene(0, None))), Motion::Still);
        assert_eq!(
            m.observe(&Thumb::of(&scene(0, Some(200)))),
            Motion::Still,
            "a local change is no move"
        );
        match m.observe(&Thumb::of(&scene(12, None))) {
            Motion::Shifted(dx, dy) => assert!((dx - 12.0 / 320.0).abs() < 0.01 && dy == 0.0),
            other => panic!("12 px right: {other:?}"),
        }
        assert_eq!(m.observe(&Thumb::of(&scene(12, None))), Motion::Still);
    }

    #[test]
    fn a_panning_view_does_not_flicker_once_compensated() {
        let mut a = Activity::default();
        for i in 0..8 {
            a.observe(&Thumb::of(&scene(4 * i, None)));
        }
        let f = a.flicker(
            &BBox {
                x1: 100.0,
                y1: 60.0,
                x2: 140.0,
                y2: 100.0,
            },
            320.0,
            180.0,
        );
        assert!(f.inside < 2.0, "{f:?}");
    }
}
