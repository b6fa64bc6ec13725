//! 摄像机故障: faults of the camera itself, found from its frames — a frozen picture, a black or
//! blank one (lens covered, night without IR), heavy blur, and a view that no longer matches the
//! reference captured at calibration (the camera was knocked or turned, so its zones and geo
//! calibration no longer fit). Each fault is its own episode and becomes a `camera_fault` order
//! the centre can send a technician to.
//!
//! Checked once per `check_every_s` of stream time on a grey thumbnail ([`super::scene`]).

use std::time::Duration;

use image::RgbImage;

use super::scene::{Thumb, ViewMatch};
use super::{Detail, Incident, IncidentKind, Lifecycle, Phase, RuleInput, RuleOutput, Transition};
use crate::config::FaultsConfig;
use crate::rules::Severity;
use crate::vocab::{DetailInfo, KindInfo, KINDS};

/// 摄像机故障: the camera's picture is frozen, black, blurred or no longer its calibrated view.
pub const CAMERA_FAULT: IncidentKind = IncidentKind::registered("camera_fault");
/// The same picture, unchanged.
pub const FROZEN: Detail = Detail::registered("frozen");
/// Black or blank (lens covered, night without IR).
pub const BLACK: Detail = Detail::registered("black");
/// Heavily blurred compared with the reference view.
pub const BLURRED: Detail = Detail::registered("blurred");
/// The view no longer matches the reference (the camera was moved).
pub const SCENE_SHIFT: Detail = Detail::registered("scene_shift");

#[linkme::distributed_slice(KINDS)]
static CAMERA_FAULT_ROW: KindInfo = KindInfo {
    name: "camera_fault",
    rank: 90,
    deadline_h: 24.0,
    label_zh: "摄像机故障",
    label_en: "camera fault",
    event_code: "2199",
    title_zh: "摄像机故障",
    title_en: "Camera fault",
    opened_zh: "发现摄像机故障",
    opened_en: "camera fault detected",
    cleared_zh: "画面已恢复正常",
    cleared_en: "the picture is back to normal",
    details: &[
        DetailInfo {
            name: "frozen",
            title_zh: "摄像机画面冻结",
            title_en: "Camera picture frozen",
        },
        DetailInfo {
            name: "black",
            title_zh: "摄像机画面黑屏或被遮挡",
            title_en: "Camera picture black or covered",
        },
        DetailInfo {
            name: "blurred",
            title_zh: "摄像机画面模糊",
            title_en: "Camera picture blurred",
        },
        DetailInfo {
            name: "scene_shift",
            title_zh: "摄像机视角偏移：区域与标定已失效",
            title_en: "Camera view moved: zones and calibration no longer fit",
        },
    ],
    ..KindInfo::BASE
};

/// Below this mean absolute grey-level difference between checks, two frames are the same
/// picture. A stalled encoder repeats its picture bit for bit (0.0); live sensors, even on a
/// static scene, differ by tenths of a grey level or more — and so does a heavily blurred one.
pub const FROZEN_MAX_DIFF: f32 = 0.02;
/// Weight of each check in the background average (about the last 5 checks count).
const BACKGROUND_RATE: f32 = 0.2;

/// The view the camera was calibrated on.
#[derive(Debug, Clone)]
pub struct Reference {
    thumb: Thumb,
    sharpness: f32,
}

impl Reference {
    pub fn new(image: &RgbImage) -> Reference {
        let thumb = Thumb::of(image);
        Reference {
            sharpness: thumb.sharpness(),
            thumb,
        }
    }
}

struct Episode {
    detail: Detail,
    severity: Severity,
    life: Lifecycle,
}

/// What the last check measured (for the order text and the camera's health).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    pub mean: f32,
    pub std_dev: f32,
    /// Difference to the previous check; `None` on the first one.
    pub change: Option<f32>,
    /// Sharpness as a share of the reference's.
    pub sharpness_ratio: Option<f32>,
    pub view: Option<ViewMatch>,
}

/// How much better the view must match its reference once shifted back than where it is, for
/// the shift to count as the camera having moved: a scene of large soft shapes (sky, tree
/// lines) still correlates well enough in place after a 10 % slip, but matches far better
/// shifted back; a view that did not move matches best in place, or shifted by a hair.
const SHIFT_MIN_GAIN: f32 = 0.2;

pub struct CameraFaultRule {
    config: FaultsConfig,
    reference: Option<Reference>,
    previous: Option<Thumb>,
    /// A slow average of the picture: what stays put. People and cars passing by blur out of
    /// it, so the view comparison sees the scene's fixed structure rather than the crowd.
    background: Option<Thumb>,
    next_check: Option<Duration>,
    episodes: Vec<Episode>,
    last: Reading,
}

impl CameraFaultRule {
    pub fn new(config: FaultsConfig, reference: Option<Reference>) -> Self {
        let episode = |detail, severity, confirm_s: f64| Episode {
            detail,
            severity,
            life: Lifecycle::new(confirm_s, config.clear_s.secs(), 0.0),
        };
        let episodes = vec![
            episode(FROZEN, Severity::Orange, config.frozen_s.secs()),
            episode(BLACK, Severity::Orange, config.black_s.secs()),
            episode(BLURRED, Severity::Yellow, config.blur_s.secs()),
            episode(SCENE_SHIFT, Severity::Orange, config.shift_s.secs()),
        ];
        CameraFaultRule {
            config,
            reference,
            previous: None,
            background: None,
            next_check: None,
            episodes,
            last: Reading::default(),
        }
    }

    /// Replaces the reference view (captured by the box on its first healthy minute).
    pub fn set_reference(&mut self, reference: Reference) {
        self.reference = Some(reference);
    }

    pub fn has_reference(&self) -> bool {
        self.reference.is_some()
    }

    /// Faults that hold at the last check, debouncing aside.
    pub fn present(&self, detail: Option<Detail>) -> bool {
        self.episodes
            .iter()
            .any(|e| e.life.holds && detail.is_none_or(|d| d == e.detail))
    }

    /// Faults with an open order.
    pub fn open_faults(&self) -> Vec<Detail> {
        self.episodes
            .iter()
            .filter(|e| e.life.is_open())
            .map(|e| e.detail)
            .collect()
    }

    /// Whether the picture says nothing about the scene now (frozen, black): the other rules
    /// must neither open nor clear anything on it.
    pub fn picture_unusable(&self) -> bool {
        self.episodes
            .iter()
            .any(|e| matches!(e.detail, FROZEN | BLACK) && e.life.holds)
    }

    pub fn reading(&self) -> Reading {
        self.last
    }

    /// Whether the last picture check saw a usable picture: neither black or blank nor the
    /// same as the check before (what a reference view may be taken from).
    pub fn last_picture_usable(&self) -> bool {
        let r = &self.last;
        r.mean > self.config.black_max_mean
            && r.std_dev > self.config.uniform_max_std
            && r.change.is_some_and(|c| c > FROZEN_MAX_DIFF)
    }

    pub fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let Some(image) = input.image else {
            return Vec::new();
        };
        if self.next_check.is_some_and(|due| input.pts < due) {
            return Vec::new();
        }
        self.next_check = Some(input.pts + self.config.check_every_s.duration());
        let thumb = Thumb::of(image);
        let blended = self
            .background
            .as_mut()
            .is_some_and(|bg| bg.blend(&thumb, BACKGROUND_RATE));
        if !blended {
            self.background = Some(thumb.clone());
        }
        let reading = self.measure(&thumb);
        self.previous = Some(thumb);
        self.last = reading;
        // For tuning a camera's thresholds: RUST_LOG=lookout::rules=debug.
        tracing::debug!(
            pts = input.pts.as_secs_f64(),
            mean = reading.mean,
            std_dev = reading.std_dev,
            change = ?reading.change,
            sharpness_ratio = ?reading.sharpness_ratio,
            view_score = ?reading.view.map(|v| v.score),
            best_offset = ?reading.view.map(|v| v.best_offset),
            best_score = ?reading.view.map(|v| v.best_score),
            "Picture check."
        );
        let black = reading.mean <= self.config.black_max_mean
            || reading.std_dev <= self.config.uniform_max_std;
        let frozen = !black && reading.change.is_some_and(|d| d < FROZEN_MAX_DIFF);
        // A black or frozen picture says nothing about blur or the view: only one fault at a time
        // for the same cause.
        let blurred = !black
            && !frozen
            && reading
                .sharpness_ratio
                .is_some_and(|r| r < self.config.blur_max_ratio);
        // A blurred picture has lost the edges the view comparison needs.
        let shifted = !black
            && !frozen
            && !blurred
            && reading.view.is_some_and(|v| {
                v.score < self.config.shift_min_score
                    || (v.best_offset.0.abs().max(v.best_offset.1.abs())
                        >= self.config.shift_min_offset
                        && v.best_score - v.score >= SHIFT_MIN_GAIN)
            });
        let mut out = Vec::new();
        for (key, episode) in self.episodes.iter_mut().enumerate() {
            let holds = match episode.detail {
                FROZEN => frozen,
                BLACK => black,
                BLURRED => blurred,
                SCENE_SHIFT => shifted,
                _ => false,
            };
            let phase = match episode.life.step(holds, input.pts) {
                Transition::None => continue,
                Transition::Open => Phase::Opened,
                Transition::Clear => Phase::Cleared,
            };
            out.push(RuleOutput::new(
                key as u64,
                phase,
                Incident {
                    kind: CAMERA_FAULT,
                    detail: Some(episode.detail),
                    zone: None,
                    severity: episode.severity,
                    event_code: self
                        .config
                        .event_code
                        .clone()
                        .unwrap_or_else(|| CAMERA_FAULT.default_event_code().into()),
                    count: 0,
                    objects: Vec::new(),
                },
            ));
        }
        out
    }

    fn measure(&self, thumb: &Thumb) -> Reading {
        Reading {
            mean: thumb.mean(),
            std_dev: thumb.std_dev(),
            change: self.previous.as_ref().map(|p| thumb.mean_abs_diff(p)),
            sharpness_ratio: self
                .reference
                .as_ref()
                .filter(|r| r.sharpness > 0.0)
                .map(|r| thumb.sharpness() / r.sharpness),
            view: self
                .reference
                .as_ref()
                .zip(self.background.as_ref())
                .map(|(r, bg)| bg.compare(&r.thumb)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    /// A textured scene with a little per-frame sensor noise (`seed`), shifted by `dx` pixels.
    fn scene(seed: u32, dx: i64) -> RgbImage {
        RgbImage::from_fn(640, 360, |x, y| {
            let sx = x as i64 - dx;
            let mut v: u8 = if (sx / 40 + y as i64 / 30) % 2 == 0 {
                60
            } else {
                180
            };
            if (200..320).contains(&sx) && (100..220).contains(&y) {
                v = 240;
            }
            let noise =
                (x.wrapping_mul(7919) ^ y.wrapping_mul(104_729) ^ seed.wrapping_mul(2_654_435_761))
                    % 7;
            let v = v.saturating_add(noise as u8);
            image::Rgb([v, v, v])
        })
    }

    fn config() -> FaultsConfig {
        FaultsConfig {
            frozen_s: crate::vocab::Seconds::of(5.0),
            black_s: crate::vocab::Seconds::of(5.0),
            blur_s: crate::vocab::Seconds::of(5.0),
            shift_s: crate::vocab::Seconds::of(5.0),
            clear_s: crate::vocab::Seconds::of(3.0),
            ..FaultsConfig::default()
        }
    }

    /// Feeds one frame per second for `secs` seconds from `start`; returns (second, phase,
    /// detail) of every output.
    fn feed(
        rule: &mut CameraFaultRule,
        start: u64,
        secs: u64,
        frame: impl Fn(u64) -> RgbImage,
    ) -> Vec<(u64, Phase, Detail)> {
        let mut out = Vec::new();
        for t in start..start + secs {
            let image = frame(t);
            let input = RuleInput {
                pts: Duration::from_secs(t),
                captured_at: Utc::now(),
                frame_width: 640,
                frame_height: 360,
                image: Some(&image),
                tracks: &[],
                regions: None,
                detections: None,
            };
            for o in rule.evaluate(&input) {
                out.push((t, o.phase, o.incident.detail.unwrap()));
            }
        }
        out
    }

    #[test]
    fn a_live_picture_raises_nothing() {
        let mut rule = CameraFaultRule::new(config(), Some(Reference::new(&scene(0, 0))));
        assert_eq!(feed(&mut rule, 0, 30, |t| scene(t as u32 + 1, 0)), vec![]);
        assert!(!rule.picture_unusable());
    }

    #[test]
    fn a_frozen_picture_opens_after_its_time_and_clears_when_it_moves_again() {
        let mut rule = CameraFaultRule::new(config(), Some(Reference::new(&scene(0, 0))));
        let frozen = scene(3, 0);
        let out = feed(&mut rule, 0, 10, |_| frozen.clone());
        assert_eq!(out, vec![(6, Phase::Opened, FROZEN)]);
        assert!(rule.picture_unusable());
        assert_eq!(rule.open_faults(), vec![FROZEN]);
        let out = feed(&mut rule, 10, 10, |t| scene(t as u32, 0));
        assert_eq!(out, vec![(13, Phase::Cleared, FROZEN)]);
    }

    #[test]
    fn a_covered_lens_is_black_not_frozen() {
        let mut rule = CameraFaultRule::new(config(), None);
        let out = feed(&mut rule, 0, 10, |_| {
            RgbImage::from_pixel(640, 360, image::Rgb([30, 30, 32]))
        });
        assert_eq!(out, vec![(5, Phase::Opened, BLACK)]);
    }

    #[test]
    fn a_moved_camera_is_a_scene_shift_and_a_blurred_one_is_blurred() {
        let mut rule = CameraFaultRule::new(config(), Some(Reference::new(&scene(0, 0))));
        let out = feed(&mut rule, 0, 8, |t| scene(t as u32 + 1, 100));
        assert_eq!(out, vec![(5, Phase::Opened, SCENE_SHIFT)]);
        let mut rule = CameraFaultRule::new(config(), Some(Reference::new(&scene(0, 0))));
        let out = feed(&mut rule, 0, 8, |t| {
            image::imageops::blur(&scene(t as u32 + 1, 0), 5.0)
        });
        assert_eq!(out, vec![(5, Phase::Opened, BLURRED)]);
    }

    /// Large soft shapes (sky, tree lines) with a little noise, shifted by `dx` pixels.
    fn soft(seed: u32, dx: i64) -> RgbImage {
        let blob = |x: f64, y: f64, cx: f64, cy: f64, r: f64| {
            (-((x - cx).powi(2) + (y - cy).powi(2)) / (r * r)).exp()
        };
        RgbImage::from_fn(768, 432, |x, y| {
            let (x, y) = ((x as i64 - dx) as f64, y as f64);
            let v = 90.0
                + 90.0 * blob(x, y, 200.0, 300.0, 150.0)
                + 70.0 * blob(x, y, 520.0, 260.0, 190.0)
                + 50.0 * blob(x, y, 650.0, 120.0, 125.0);
            let noise = ((x as u32).wrapping_mul(31) ^ (y as u32).wrapping_mul(17) ^ seed) % 5;
            let v = (v + noise as f64).clamp(0.0, 255.0) as u8;
            image::Rgb([v, v, v])
        })
    }

    #[test]
    fn a_preset_slipped_by_a_tenth_of_a_soft_scene_is_a_scene_shift_and_a_hair_is_not() {
        let reference = Reference::new(&soft(0, 0));
        let mut rule = CameraFaultRule::new(config(), Some(reference.clone()));
        let out = feed(&mut rule, 0, 8, |t| soft(t as u32 + 1, -77));
        assert_eq!(out, vec![(5, Phase::Opened, SCENE_SHIFT)]);
        let mut rule = CameraFaultRule::new(config(), Some(reference));
        assert_eq!(feed(&mut rule, 0, 10, |t| soft(t as u32 + 1, -8)), vec![]);
    }

    #[test]
    fn without_a_reference_only_frozen_and_black_are_checked() {
        let mut rule = CameraFaultRule::new(config(), None);
        assert_eq!(feed(&mut rule, 0, 10, |t| scene(t as u32, 100)), vec![]);
    }
}
