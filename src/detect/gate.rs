//! Motion-gated detection (Frigate's trick, per model): a frame goes to a model only when the
//! picture changed since that model last looked, or when its keep-alive is due.
//!
//! Change is measured on a small grey thumbnail (area-averaged, so sensor and compression noise
//! average out), against the thumbnail of the frame the model last ran on — not the previous
//! frame. So a slow change (a person walking in at 25 frames a second, smoke creeping) adds up
//! until it counts, while a still scene costs one run per keep-alive. The keep-alive keeps
//! stationary objects (a parked car, a stall, a person still in the water) seen often enough
//! that their tracks never lapse; it is capped at half the tracker's memory for that reason.

use std::time::Duration;

use image::RgbImage;

/// The long side of the thumbnail, in pixels.
const THUMB_SIDE: u32 = 128;
/// A thumbnail pixel counts as changed when its grey value moved by more than this (0–255):
/// well above what the averaged noise of a still picture moves, well below a person's contrast.
const PIXEL_DELTA: u8 = 10;

/// A small grey picture of a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Thumbnail {
    /// The frame area-averaged to at most [`THUMB_SIDE`] pixels on its long side.
    pub fn of(image: &RgbImage) -> Thumbnail {
        let (w, h) = image.dimensions();
        let scale = (w.max(h) as f64 / THUMB_SIDE as f64).max(1.0);
        let tw = ((w as f64 / scale).round() as u32).max(1);
        let th = ((h as f64 / scale).round() as u32).max(1);
        let mut sums = vec![0u32; (tw * th) as usize];
        let mut counts = vec![0u32; (tw * th) as usize];
        let col: Vec<usize> = (0..w).map(|x| ((x * tw) / w) as usize).collect();
        let raw = image.as_raw();
        for y in 0..h {
            let row = ((y * th) / h) as usize * tw as usize;
            let line = &raw[(y * w * 3) as usize..((y + 1) * w * 3) as usize];
            for (x, px) in line.chunks_exact(3).enumerate() {
                // Rec. 601 luma in integers.
                let grey = (px[0] as u32 * 77 + px[1] as u32 * 150 + px[2] as u32 * 29) >> 8;
                let i = row + col[x];
                sums[i] += grey;
                counts[i] += 1;
            }
        }
        let pixels = sums
            .iter()
            .zip(&counts)
            .map(|(&s, &n)| (s / n.max(1)) as u8)
            .collect();
        Thumbnail {
            width: tw,
            height: th,
            pixels,
        }
    }

    /// Share of pixels that changed from `other` (1 when the sizes differ: a new stream profile
    /// is a change). A changed pixel counts only beside another changed one: an object is a
    /// blob, while compression noise and a twinkling light are single pixels.
    pub fn changed_share(&self, other: &Thumbnail) -> f64 {
        if (self.width, self.height) != (other.width, other.height) {
            return 1.0;
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let changed: Vec<bool> = self
            .pixels
            .iter()
            .zip(&other.pixels)
            .map(|(a, b)| a.abs_diff(*b) > PIXEL_DELTA)
            .collect();
        let at = |x: usize, y: usize| changed[y * w + x];
        let mut count = 0usize;
        for y in 0..h {
            for x in 0..w {
                if !at(x, y) {
                    continue;
                }
                let beside = (x > 0 && at(x - 1, y))
                    || (x + 1 < w && at(x + 1, y))
                    || (y > 0 && at(x, y - 1))
                    || (y + 1 < h && at(x, y + 1));
                if beside {
                    count += 1;
                }
            }
        }
        count as f64 / (w * h).max(1) as f64
    }
}

/// How a camera gates its models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateSettings {
    pub enabled: bool,
    /// Share of the thumbnail that must have changed since a model's last run.
    pub min_change: f64,
    /// Longest time between two runs of an object model, however still the picture.
    pub keepalive: Duration,
    /// The same for a region model (fire, smoke).
    pub region_keepalive: Duration,
}

impl GateSettings {
    fn keepalive_of(&self, tracked: bool) -> Duration {
        if tracked {
            self.keepalive
        } else {
            self.region_keepalive
        }
    }
}

/// Why a model runs on a frame, or does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Gating is off, or the model has not run yet.
    Ungated,
    /// The picture changed since the model's last run.
    Changed,
    /// The keep-alive was due.
    KeepAlive,
    /// Nothing changed: the model skips this frame.
    Skip,
}

impl Decision {
    pub fn runs(self) -> bool {
        self != Decision::Skip
    }
}

/// One model's gate on one camera: what it looked at last, and when.
#[derive(Debug, Default)]
pub struct Gate {
    last: Option<(Thumbnail, Duration)>,
}

impl Gate {
    /// Whether the model (an object model when `tracked`, else a region model) should run on
    /// the frame of `now` (stream time) with thumbnail `thumb`.
    pub fn decide(
        &self,
        settings: &GateSettings,
        tracked: bool,
        thumb: &Thumbnail,
        now: Duration,
    ) -> Decision {
        let Some((seen, at)) = self.last.as_ref().filter(|_| settings.enabled) else {
            return Decision::Ungated;
        };
        if now.saturating_sub(*at) >= settings.keepalive_of(tracked) {
            return Decision::KeepAlive;
        }
        if thumb.changed_share(seen) >= settings.min_change {
            Decision::Changed
        } else {
            Decision::Skip
        }
    }

    /// Share of `thumb` changed since the model's last run (debug traces).
    pub fn share(&self, thumb: &Thumbnail) -> f64 {
        self.last
            .as_ref()
            .map_or(1.0, |(t, _)| thumb.changed_share(t))
    }

    /// The model ran (or was sent to run) on this frame.
    pub fn ran(&mut self, thumb: &Thumbnail, now: Duration) {
        self.last = Some((thumb.clone(), now));
    }

    /// The model's run was dropped: the next due frame runs whatever changed.
    pub fn forget(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = f(x, y);
            image::Rgb([v, v, v])
        })
    }

    const SETTINGS: GateSettings = GateSettings {
        enabled: true,
        min_change: 0.002,
        keepalive: Duration::from_millis(1500),
        region_keepalive: Duration::from_secs(5),
    };

    #[test]
    fn a_still_picture_runs_at_the_keepalive_and_a_moving_object_at_once() {
        let still = frame(640, 360, |x, y| ((x / 40 + y / 40) % 2 * 120 + 60) as u8);
        let mut gate = Gate::default();
        let t = Thumbnail::of(&still);
        assert_eq!(
            gate.decide(&SETTINGS, true, &t, Duration::ZERO),
            Decision::Ungated
        );
        gate.ran(&t, Duration::ZERO);
        // Noise of ±3 grey levels on every pixel is no change.
        let noisy = frame(640, 360, |x, y| {
            (((x / 40 + y / 40) % 2 * 120 + 60) as i32 + ((x * 7 + y * 13) % 7) as i32 - 3) as u8
        });
        let n = Thumbnail::of(&noisy);
        assert_eq!(
            gate.decide(&SETTINGS, true, &n, Duration::from_millis(200)),
            Decision::Skip
        );
        assert_eq!(
            gate.decide(&SETTINGS, true, &n, Duration::from_millis(1500)),
            Decision::KeepAlive
        );
        // A person-sized dark box (20×50 px in 640×360) appears.
        let person = frame(640, 360, |x, y| {
            if (300..320).contains(&x) && (100..150).contains(&y) {
                0
            } else {
                ((x / 40 + y / 40) % 2 * 120 + 60) as u8
            }
        });
        let p = Thumbnail::of(&person);
        assert_eq!(
            gate.decide(&SETTINGS, true, &p, Duration::from_millis(200)),
            Decision::Changed
        );
        let off = GateSettings {
            enabled: false,
            ..SETTINGS
        };
        assert_eq!(
            gate.decide(&off, true, &n, Duration::from_millis(200)),
            Decision::Ungated
        );
        gate.forget();
        assert_eq!(
            gate.decide(&SETTINGS, true, &n, Duration::from_millis(200)),
            Decision::Ungated
        );
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_a_new_size_is_a_change() {
        let a = Thumbnail::of(&frame(1920, 1080, |_, _| 10));
        assert_eq!((a.width, a.height), (128, 72));
        let b = Thumbnail::of(&frame(360, 640, |_, _| 10));
        assert_eq!((b.width, b.height), (72, 128));
        assert_eq!(a.changed_share(&b), 1.0);
        assert_eq!(a.changed_share(&a), 0.0);
        let tiny = Thumbnail::of(&frame(3, 2, |_, _| 10));
        assert_eq!((tiny.width, tiny.height), (3, 2));
    }
}
