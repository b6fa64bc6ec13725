//! 烟火 fire and smoke. Each label is its own episode: hits in `min_hits` of the last `window`
//! fire-model samples, held for `confirm_s`, open an order (fire red, smoke orange); `clear_s`
//! without that clears it.
//!
//! Smoke must also *change*: the shared model calls plain grey pavement "smoke" with high
//! confidence, but pavement looks the same from sample to sample while real smoke drifts and
//! billows. A slowly updated grey-level background of the scene is kept, and a smoke box counts
//! only when enough of it differs from that background.

use std::collections::VecDeque;
use std::time::Duration;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::common::{default_cooldown, default_true};
use super::flicker::{Activity, Motion, ViewMotion};
use super::scene::Thumb;
use super::{
    Build, Built, Incident, Lifecycle, Phase, Rule, RuleInput, RuleOutput, RuleType, Transition,
    Zone,
};
use crate::detect::{BBox, Detection};
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::vocab::{KindInfo, Seconds, KINDS};

/// 烟火: open flame.
pub const FIRE: IncidentKind = IncidentKind::registered("fire");
/// 烟火: smoke without visible flame.
pub const SMOKE: IncidentKind = IncidentKind::registered("smoke");

#[linkme::distributed_slice(KINDS)]
static FIRE_ROW: KindInfo = KindInfo {
    name: "fire",
    rank: 50,
    grace_s: Some(0.0),
    deadline_h: 0.5,
    label_zh: "明火",
    label_en: "fire",
    event_code: "2103",
    urgent: true,
    prompt_zh: Some("发现火情，请立即撤离，并拨打一一九。"),
    prompt_en: Some("Fire. Leave the area now and call one one nine."),
    title_zh: "发现明火",
    title_en: "Open fire",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(KINDS)]
static SMOKE_ROW: KindInfo = KindInfo {
    name: "smoke",
    rank: 51,
    grace_s: Some(0.0),
    deadline_h: 0.5,
    label_zh: "烟雾",
    label_en: "smoke",
    event_code: "2103",
    urgent: true,
    prompt_zh: Some("发现火情，请立即撤离，并拨打一一九。"),
    prompt_en: Some("Fire. Leave the area now and call one one nine."),
    title_zh: "发现烟雾",
    title_en: "Smoke",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static FIRE_RULE: RuleType = RuleType {
    name: "fire",
    kinds: &[FIRE, SMOKE],
    schema: || schemars::schema_for!(FireConfig),
    build: FireRule::build,
};

/// `kind = "fire"`: fire (and smoke that changes over time) sustained over a confirm window.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FireConfig {
    /// Optional zone; without one the whole frame counts.
    #[serde(default)]
    pub zone: Option<String>,
    /// Minimum fire score for a sample to count as a hit.
    #[serde(default = "default_fire_min_score")]
    pub min_score: f32,
    /// Samples of the fire model looked back over.
    #[serde(default = "default_fire_window")]
    pub window: usize,
    /// Hits needed within `window` samples.
    #[serde(default = "default_fire_min_hits")]
    pub min_hits: usize,
    /// Seconds from the first hit before the order opens.
    #[serde(default = "default_fire_confirm")]
    pub confirm_s: Seconds,
    /// Seconds without a hit before the order is cleared.
    #[serde(default = "default_fire_clear")]
    pub clear_s: Seconds,
    /// Also raise smoke orders (orange) for smoke that changes over time.
    #[serde(default = "default_true")]
    pub smoke: bool,
    /// Minimum smoke score for a hit.
    #[serde(default = "default_smoke_min_score")]
    pub smoke_min_score: f32,
    /// Fraction of a smoke box that must differ from the slowly updated background for the
    /// detection to count: grey pavement the model calls smoke never changes, real smoke does.
    #[serde(default = "default_smoke_min_change")]
    pub smoke_min_change: f32,
    /// At least one fire hit in the window must score this much before an order opens; weaker
    /// hits (down to `min_score`) keep an open one alive.
    #[serde(default = "default_fire_confirm_score")]
    pub fire_confirm_score: f32,
    /// Mean frame-to-frame grey change (0..255) a fire box must show: flames flicker, a yellow
    /// swim ring or an orange sign does not. 0 turns the check off.
    #[serde(default = "default_fire_min_flicker")]
    pub fire_min_flicker: f32,
    /// How many times more a fire box must flicker than the ring around it: water, leaves and
    /// traffic around a bright object move as much as the object itself.
    #[serde(default = "default_fire_flicker_ratio")]
    pub fire_flicker_ratio: f32,
    /// Pause the fire and smoke checks while the whole view moves (a pan, a shaking pole) and
    /// for two samples after: a moving picture changes everywhere.
    #[serde(default = "default_true")]
    pub pause_on_camera_motion: bool,
    /// Seconds after a clear before a new order of the same kind.
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
    /// Boxes smaller than this fraction of the frame are ignored.
    #[serde(default)]
    pub min_area: f32,
}

fn default_fire_min_score() -> f32 {
    0.3
}
fn default_fire_window() -> usize {
    5
}
fn default_fire_min_hits() -> usize {
    3
}
fn default_fire_confirm() -> Seconds {
    Seconds::of(2.0)
}
fn default_fire_clear() -> Seconds {
    Seconds::of(30.0)
}
fn default_fire_confirm_score() -> f32 {
    0.5
}
fn default_fire_min_flicker() -> f32 {
    FIRE_MIN_FLICKER
}
fn default_fire_flicker_ratio() -> f32 {
    FIRE_FLICKER_RATIO
}
/// Measured on the shared clips: see docs/rules.md (fire and smoke).
pub const FIRE_MIN_FLICKER: f32 = 2.0;
pub const FIRE_FLICKER_RATIO: f32 = 0.0;
fn default_smoke_min_score() -> f32 {
    0.3
}
fn default_smoke_min_change() -> f32 {
    // Measured on the shared clips: real smoke 0.52-1.0 (forest, indoor fire); pavement the
    // model calls smoke, with people walking over it, 0.22-0.37 (plaza).
    0.45
}

/// Background grid width; rows follow the aspect ratio.
const GRID_W: u32 = 64;
/// Per-sample weight of the new frame in the background (≈ 20 samples to adapt).
const BACKGROUND_RATE: f32 = 0.05;
/// Grey-level difference that counts a cell as changed.
const CELL_CHANGE: f32 = 12.0;

struct Episode {
    kind: IncidentKind,
    label: &'static str,
    min_score: f32,
    /// The last `window` samples: the best score of a hit, `None` for a miss.
    window: VecDeque<Option<f32>>,
    /// A hit in the window must reach this before the episode may open.
    confirm_score: f32,
    life: Lifecycle,
    /// Boxes of the latest hit: what the photo shows when the order opens on a sample between
    /// hits.
    last_found: Vec<ObservedObject>,
}

pub struct FireRule {
    config: FireConfig,
    zone: Option<Zone>,
    /// The rule's own event code for both kinds; each kind's default without one.
    event_code: Option<String>,
    episodes: Vec<Episode>,
    background: Option<Background>,
    /// Frame-to-frame change per cell, updated on every frame (flames flicker).
    activity: Activity,
    /// Whether the whole view moved between fire samples.
    view: ViewMotion,
    /// Fire samples still to skip after the view moved.
    paused: u32,
}

/// Fire samples skipped after the view stops moving (the smoke background is rebuilt).
const SETTLE_SAMPLES: u32 = 2;

impl FireRule {
    fn build(b: &Build) -> Built {
        let f: FireConfig = b.params()?;
        let mut problems = Vec::new();
        if f.window == 0 || f.min_hits == 0 || f.min_hits > f.window {
            problems.push(b.problem("min_hits", "need 1 <= min_hits <= window"));
        }
        if f.window > 1000 {
            problems.push(b.problem("window", "must be at most 1000 samples"));
        }
        for (k, v) in [
            ("min_score", f.min_score),
            ("smoke_min_score", f.smoke_min_score),
            ("smoke_min_change", f.smoke_min_change),
            ("fire_confirm_score", f.fire_confirm_score),
            ("min_area", f.min_area),
        ] {
            if !(0.0..=1.0).contains(&v) {
                problems.push(b.problem(k, "must be within 0..1"));
            }
        }
        if !(0.0..=255.0).contains(&f.fire_min_flicker) {
            problems.push(b.problem("fire_min_flicker", "must be within 0..255 (grey levels)"));
        }
        if !(0.0..=20.0).contains(&f.fire_flicker_ratio) {
            problems.push(b.problem("fire_flicker_ratio", "must be within 0..20"));
        }
        let zone =
            super::registry::gather(&mut problems, b.optional_zone("zone", f.zone.as_deref()));
        match zone {
            Some(zone) if problems.is_empty() => {
                Ok(Box::new(FireRule::new(f, zone, b.rule.event_code.clone())))
            }
            _ => Err(problems),
        }
    }

    fn new(config: FireConfig, zone: Option<Zone>, event_code: Option<String>) -> Self {
        let episode = |kind, label, min_score, confirm_score| Episode {
            kind,
            label,
            min_score,
            confirm_score,
            window: VecDeque::with_capacity(config.window),
            life: Lifecycle::new(
                config.confirm_s.secs(),
                config.clear_s.secs(),
                config.cooldown_s.secs(),
            ),
            last_found: Vec::new(),
        };
        let mut episodes = vec![episode(
            FIRE,
            "fire",
            config.min_score,
            config.fire_confirm_score,
        )];
        if config.smoke {
            episodes.push(episode(
                SMOKE,
                "smoke",
                config.smoke_min_score,
                config.smoke_min_score,
            ));
        }
        FireRule {
            config,
            zone,
            event_code,
            episodes,
            background: None,
            activity: Activity::default(),
            view: ViewMotion::default(),
            paused: 0,
        }
    }
}

impl Rule for FireRule {
    /// Whether `kind` (fire or smoke) held at the last model run; a fire rule without a zone
    /// answers for any zone.
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        let mine = self.zone.as_ref().map(|z| z.id.as_str());
        ((kind == FIRE || kind == SMOKE) && (zone.is_none() || mine == zone))
            .then(|| self.episodes.iter().any(|e| e.kind == kind && e.life.holds))
    }

    fn reads_objects(&self) -> bool {
        false
    }

    fn opening_time(&self) -> Duration {
        self.config.confirm_s.duration()
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        // Flicker is judged over every frame, not only the fire model's samples.
        let thumb = input.image.map(Thumb::of);
        if let Some(t) = &thumb {
            self.activity.observe(t);
        }
        // Only samples where the fire model ran say anything about fire.
        let Some(regions) = input.regions else {
            return Vec::new();
        };
        // The background is only for the smoke check: no pixel work when smoke is off.
        let grid = input.image.filter(|_| self.config.smoke).map(Grid::of);
        let mut shifted = None;
        if let Some(t) = thumb
            .as_ref()
            .filter(|_| self.config.pause_on_camera_motion)
        {
            match self.view.observe(t) {
                Motion::Still => {}
                Motion::Shifted(dx, dy) => shifted = Some((dx, dy)),
                Motion::Lost => {
                    tracing::trace!(pts = ?input.pts, "The view changed as a whole: fire and smoke checks pause.");
                    self.paused = SETTLE_SAMPLES + 1;
                }
            }
        }
        // A view that moved is compensated: the smoke background moves with the picture.
        if let (Some((dx, dy)), Some(bg), Some(g)) =
            (shifted, self.background.as_mut(), grid.as_ref())
        {
            bg.follow(g, dx, dy);
        }
        if self.paused > 0 {
            // Nothing is learnt from a moving picture: no hit, no miss, and the smoke
            // background starts again from the view as it is now.
            self.paused -= 1;
            self.background = None;
            return Vec::new();
        }
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        let judge_flicker = thumb.is_some() && self.activity.ready();
        let mut outputs = Vec::new();
        for (key, ep) in self.episodes.iter_mut().enumerate() {
            let found: Vec<&Detection> = regions
                .iter()
                .filter(|d| &*d.label == ep.label && d.score >= ep.min_score)
                .filter(|d| d.bbox.area() / (w * h) >= self.config.min_area)
                .filter(|d| {
                    self.zone.as_ref().is_none_or(|z| {
                        let (x, y) = d.bbox.center();
                        z.contains((x / w) as f64, (y / h) as f64)
                    })
                })
                .filter(|d| {
                    if ep.kind != FIRE || !judge_flicker {
                        return true;
                    }
                    let f = self.activity.flicker(&d.bbox, w, h);
                    tracing::trace!(
                        score = d.score,
                        inside = f.inside,
                        around = f.around,
                        "Fire candidate."
                    );
                    f.inside >= self.config.fire_min_flicker
                        && f.inside >= self.config.fire_flicker_ratio * f.around
                })
                .filter(|d| {
                    if ep.kind != SMOKE {
                        return true;
                    }
                    let change = match (&self.background, &grid) {
                        (Some(bg), Some(g)) => bg.changed_fraction(g, &d.bbox, w, h),
                        _ => 0.0,
                    };
                    let f = self.activity.flicker(&d.bbox, w, h);
                    tracing::trace!(
                        score = d.score,
                        change,
                        inside = f.inside,
                        around = f.around,
                        "Smoke candidate."
                    );
                    change >= self.config.smoke_min_change
                })
                .collect();
            let best = found.iter().map(|d| d.score).reduce(f32::max);
            if !found.is_empty() {
                ep.last_found = found
                    .into_iter()
                    .map(ObservedObject::from_detection)
                    .collect();
            }
            if ep.window.len() == self.config.window {
                ep.window.pop_front();
            }
            ep.window.push_back(best);
            let hits = ep.window.iter().flatten().count();
            let peak = ep.window.iter().flatten().copied().fold(0.0, f32::max);
            // Weak hits keep an open episode alive, but one confident hit is needed to open it
            // (the tracker's high/low hysteresis, for regions).
            let holds =
                hits >= self.config.min_hits && (ep.life.is_open() || peak >= ep.confirm_score);
            let phase = match ep.life.step(holds, input.pts) {
                Transition::Open => Phase::Opened,
                Transition::Clear => Phase::Cleared,
                Transition::None => continue,
            };
            let objects = ep.last_found.clone();
            outputs.push(RuleOutput::new(
                key as u64,
                phase,
                Incident {
                    kind: ep.kind,
                    detail: None,
                    zone: self.zone.clone(),
                    severity: if ep.kind == FIRE {
                        Severity::Red
                    } else {
                        Severity::Orange
                    },
                    event_code: self
                        .event_code
                        .clone()
                        .unwrap_or_else(|| ep.kind.default_event_code().into()),
                    count: objects.len(),
                    objects,
                },
            ));
        }
        if let Some(g) = grid {
            match &mut self.background {
                Some(bg) if bg.matches(&g) => bg.update(&g),
                _ => self.background = Some(Background(g)),
            }
        }
        outputs
    }
}

/// A coarse grey-level picture of the frame.
struct Grid {
    w: u32,
    h: u32,
    cells: Vec<f32>,
}

impl Grid {
    fn of(image: &RgbImage) -> Grid {
        let w = GRID_W.min(image.width()).max(1);
        let h = ((image.height() as u64 * w as u64 / image.width().max(1) as u64) as u32).max(1);
        let small = image::imageops::resize(image, w, h, image::imageops::FilterType::Triangle);
        let cells = small
            .pixels()
            .map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32)
            .collect();
        Grid { w, h, cells }
    }
}

struct Background(Grid);

impl Background {
    fn matches(&self, g: &Grid) -> bool {
        self.0.w == g.w && self.0.h == g.h
    }

    /// Moves the background along with a view that shifted by (dx, dy) (shares of the picture);
    /// cells that came into view start from the current frame.
    fn follow(&mut self, g: &Grid, dx: f32, dy: f32) {
        if !self.matches(g) {
            return;
        }
        let (w, h) = (g.w as usize, g.h as usize);
        let (cx, cy) = super::flicker::cells(dx, dy, w, h);
        self.0.cells = super::flicker::shift(&self.0.cells, w, h, cx, cy, &g.cells);
    }

    fn update(&mut self, g: &Grid) {
        for (b, c) in self.0.cells.iter_mut().zip(&g.cells) {
            *b += (c - *b) * BACKGROUND_RATE;
        }
    }

    /// Fraction of the grid cells under `bbox` (frame pixels) that differ from the background.
    fn changed_fraction(&self, g: &Grid, bbox: &BBox, frame_w: f32, frame_h: f32) -> f32 {
        if !self.matches(g) {
            return 0.0;
        }
        let gx = |x: f32| ((x / frame_w * g.w as f32) as u32).min(g.w - 1);
        let gy = |y: f32| ((y / frame_h * g.h as f32) as u32).min(g.h - 1);
        let (x0, x1, y0, y1) = (gx(bbox.x1), gx(bbox.x2), gy(bbox.y1), gy(bbox.y2));
        let (mut changed, mut total) = (0u32, 0u32);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let i = (y * g.w + x) as usize;
                total += 1;
                if (g.cells[i] - self.0.cells[i]).abs() > CELL_CHANGE {
                    changed += 1;
                }
            }
        }
        changed as f32 / total.max(1) as f32
    }
}
