//! Pixel measures of a whole frame, for the camera-fault checks: is the picture frozen, dark or
//! uniform, blurred, or no longer the view the camera was calibrated on?
//!
//! Everything works on a small grey thumbnail (area-averaged, [`THUMB_W`] wide), so one check
//! costs about a millisecond whatever the camera's resolution, and sensor noise and compression
//! blocks average out before they are compared.

use image::RgbImage;

/// Thumbnail width; rows follow the aspect ratio.
pub const THUMB_W: usize = 320;
/// Width of the edge map the view comparison uses (a quarter of the thumbnail).
const EDGE_W: usize = 80;
/// Largest translation searched for when the view no longer matches, as a share of the width.
const MAX_SHIFT: f32 = 0.15;

/// A grey thumbnail of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumb {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

/// How the current view compares with the reference view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewMatch {
    /// Correlation of the two edge maps where they are, −1..1 (1: the same structure).
    pub score: f32,
    /// The translation (share of width, share of height) that matches best, and its score.
    pub best_offset: (f32, f32),
    pub best_score: f32,
}

impl Thumb {
    /// Area-averaged grey (BT.601 luma) thumbnail, [`THUMB_W`] wide.
    pub fn of(image: &RgbImage) -> Thumb {
        let (iw, ih) = (image.width() as usize, image.height() as usize);
        let w = THUMB_W.min(iw.max(1));
        let h = ((ih * w) as f32 / iw.max(1) as f32).round().max(1.0) as usize;
        let mut sum = vec![0f32; w * h];
        let mut count = vec![0u32; w * h];
        let raw = image.as_raw();
        // At least two samples per cell each way is plenty for an average: a 1080p frame is
        // read every third pixel (a ninth of the work).
        let step = (iw / (w * 2)).max(1);
        for y in (0..ih).step_by(step) {
            let ty = (y * h / ih.max(1)).min(h - 1);
            let row = &raw[y * iw * 3..(y + 1) * iw * 3];
            for x in (0..iw).step_by(step) {
                let tx = (x * w / iw).min(w - 1);
                let p = &row[x * 3..x * 3 + 3];
                let luma = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
                sum[ty * w + tx] += luma;
                count[ty * w + tx] += 1;
            }
        }
        let px = sum
            .iter()
            .zip(&count)
            .map(|(s, &n)| s / n.max(1) as f32)
            .collect();
        Thumb { w, h, px }
    }

    pub fn width(&self) -> usize {
        self.w
    }

    /// Grey levels, row by row.
    pub fn pixels(&self) -> &[f32] {
        &self.px
    }

    pub fn height(&self) -> usize {
        self.h
    }

    /// Mean grey level, 0..255.
    pub fn mean(&self) -> f32 {
        self.px.iter().sum::<f32>() / self.px.len() as f32
    }

    /// Standard deviation of the grey levels: near 0 for a covered lens or a blank picture.
    pub fn std_dev(&self) -> f32 {
        let m = self.mean();
        (self.px.iter().map(|p| (p - m) * (p - m)).sum::<f32>() / self.px.len() as f32).sqrt()
    }

    /// Moves this thumbnail towards `other` by `rate` (0..1): a running average. False (and
    /// unchanged) when the sizes differ.
    pub fn blend(&mut self, other: &Thumb, rate: f32) -> bool {
        if self.w != other.w || self.h != other.h {
            return false;
        }
        for (a, b) in self.px.iter_mut().zip(&other.px) {
            *a += (b - *a) * rate;
        }
        true
    }

    /// Mean absolute grey-level difference to `other`; infinite when the sizes differ (the
    /// stream changed resolution: certainly not frozen).
    pub fn mean_abs_diff(&self, other: &Thumb) -> f32 {
        if self.w != other.w || self.h != other.h {
            return f32::INFINITY;
        }
        self.px
            .iter()
            .zip(&other.px)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / self.px.len() as f32
    }

    /// Mean squared response of a 3×3 Laplacian: fine detail. A defocused or fogged lens loses
    /// most of it; what counts as "little" depends on the scene, so it is compared with the
    /// reference view's own figure.
    pub fn sharpness(&self) -> f32 {
        let (w, h) = (self.w, self.h);
        if w < 3 || h < 3 {
            return 0.0;
        }
        let mut sum = 0f32;
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                let c = self.px[y * w + x];
                let l = self.px[y * w + x - 1]
                    + self.px[y * w + x + 1]
                    + self.px[(y - 1) * w + x]
                    + self.px[(y + 1) * w + x]
                    - 4.0 * c;
                sum += l * l;
            }
        }
        sum / ((w - 2) * (h - 2)) as f32
    }

    /// Compares this view with `reference`: the correlation of their edge maps in place, and the
    /// translation that matches best (a camera knocked sideways matches its reference again
    /// once shifted back). Edges rather than grey levels, so that day, dusk and lamps on do not
    /// count as a different view; smoothed, so that a pole swaying a pixel does not either.
    pub fn compare(&self, reference: &Thumb) -> ViewMatch {
        let a = EdgeMap::of(self);
        let b = EdgeMap::of(reference);
        if a.w != b.w || a.h != b.h {
            return ViewMatch {
                score: -1.0,
                best_offset: (0.0, 0.0),
                best_score: -1.0,
            };
        }
        let score = a.correlate(&b, 0, 0);
        let (mut best, mut best_dx, mut best_dy) = (score, 0i32, 0i32);
        let rx = (a.w as f32 * MAX_SHIFT) as i32;
        let ry = (a.h as f32 * MAX_SHIFT) as i32;
        // Coarse grid, then the neighbours of the best cell: ~100 correlations of 80×45.
        for dy in (-ry..=ry).step_by(2) {
            for dx in (-rx..=rx).step_by(2) {
                let s = a.correlate(&b, dx, dy);
                if s > best {
                    (best, best_dx, best_dy) = (s, dx, dy);
                }
            }
        }
        let (cx, cy) = (best_dx, best_dy);
        for dy in cy - 1..=cy + 1 {
            for dx in cx - 1..=cx + 1 {
                let s = a.correlate(&b, dx, dy);
                if s > best {
                    (best, best_dx, best_dy) = (s, dx, dy);
                }
            }
        }
        ViewMatch {
            score,
            best_offset: (best_dx as f32 / a.w as f32, best_dy as f32 / a.h as f32),
            best_score: best,
        }
    }

    /// The thumbnail as an 8-bit grey image (for storing a reference view).
    pub fn to_gray(&self) -> image::GrayImage {
        image::GrayImage::from_fn(self.w as u32, self.h as u32, |x, y| {
            image::Luma([self.px[y as usize * self.w + x as usize].round() as u8])
        })
    }
}

/// Smoothed gradient magnitude at a quarter of the thumbnail's size.
struct EdgeMap {
    w: usize,
    h: usize,
    v: Vec<f32>,
}

impl EdgeMap {
    fn of(t: &Thumb) -> EdgeMap {
        let f = (t.w / EDGE_W).max(1);
        let (w, h) = (t.w / f, t.h / f);
        // Gradient on the thumbnail, pooled into f×f cells.
        let mut v = vec![0f32; w * h];
        for y in 1..t.h.saturating_sub(1) {
            for x in 1..t.w.saturating_sub(1) {
                let gx = t.px[y * t.w + x + 1] - t.px[y * t.w + x - 1];
                let gy = t.px[(y + 1) * t.w + x] - t.px[(y - 1) * t.w + x];
                let (cx, cy) = ((x / f).min(w - 1), (y / f).min(h - 1));
                v[cy * w + cx] += (gx * gx + gy * gy).sqrt();
            }
        }
        EdgeMap { w, h, v }
    }

    /// Normalised cross-correlation of the overlap when `other` is moved by (dx, dy).
    fn correlate(&self, other: &EdgeMap, dx: i32, dy: i32) -> f32 {
        let (w, h) = (self.w as i32, self.h as i32);
        let (x0, x1) = (0.max(dx), w.min(w + dx));
        let (y0, y1) = (0.max(dy), h.min(h + dy));
        let n = ((x1 - x0) * (y1 - y0)).max(0) as f32;
        // Less than half the picture overlapping says nothing.
        if n < (self.w * self.h) as f32 * 0.5 {
            return -1.0;
        }
        let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0f64, 0f64, 0f64, 0f64, 0f64);
        for y in y0..y1 {
            for x in x0..x1 {
                let a = self.v[(y * w + x) as usize] as f64;
                let b = other.v[((y - dy) * w + (x - dx)) as usize] as f64;
                sa += a;
                sb += b;
                saa += a * a;
                sbb += b * b;
                sab += a * b;
            }
        }
        let n = n as f64;
        let cov = sab - sa * sb / n;
        let va = saa - sa * sa / n;
        let vb = sbb - sb * sb / n;
        if va <= 1e-9 || vb <= 1e-9 {
            // A blank picture has no structure to match.
            return 0.0;
        }
        (cov / (va * vb).sqrt()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured synthetic scene: a few rectangles and a gradient.
    fn scene(w: u32, h: u32, shift_x: i64) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let x = x as i64 - shift_x;
            let mut v = ((x.max(0) as u32 * 255) / w) as u8 / 2;
            for (bx, by, bw, bh, c) in [
                (40, 30, 120, 60, 220u8),
                (300, 200, 80, 140, 20),
                (500, 60, 150, 40, 250),
                (200, 300, 60, 60, 5),
            ] {
                if (bx..bx + bw).contains(&x) && (by..by + bh).contains(&(y as i64)) {
                    v = c;
                }
            }
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn the_same_view_matches_and_a_moved_one_does_not() {
        let reference = Thumb::of(&scene(768, 432, 0));
        let same = Thumb::of(&scene(768, 432, 0)).compare(&reference);
        assert!(same.score > 0.99, "{same:?}");
        let moved = Thumb::of(&scene(768, 432, 60)).compare(&reference);
        assert!(moved.score < 0.5, "{moved:?}");
        assert!(
            moved.best_score > 0.8,
            "moving it back matches again: {moved:?}"
        );
        assert!(
            (moved.best_offset.0 - 60.0 / 768.0).abs() < 0.02,
            "{moved:?}"
        );
    }

    #[test]
    fn black_frames_are_dark_and_uniform_and_identical_frames_do_not_differ() {
        let black = Thumb::of(&RgbImage::new(640, 360));
        assert_eq!(black.mean(), 0.0);
        assert_eq!(black.std_dev(), 0.0);
        let a = Thumb::of(&scene(640, 360, 0));
        assert_eq!(a.mean_abs_diff(&a.clone()), 0.0);
        assert!(a.mean_abs_diff(&Thumb::of(&scene(640, 360, 5))) > 0.5);
        assert!(a.std_dev() > 20.0);
        assert_eq!(
            black.compare(&a).score,
            0.0,
            "a blank picture matches nothing"
        );
    }

    #[test]
    fn blur_removes_most_of_the_sharpness() {
        let sharp = scene(768, 432, 0);
        let blurred = image::imageops::blur(&sharp, 6.0);
        let (s, b) = (
            Thumb::of(&sharp).sharpness(),
            Thumb::of(&blurred).sharpness(),
        );
        assert!(b < s * 0.2, "sharp {s}, blurred {b}");
    }
}
