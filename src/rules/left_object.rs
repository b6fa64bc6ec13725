//! 乱堆物料·偷倒 left objects and illegal dumping: something new that stays on the ground where it
//! was not before, that is not a person or a vehicle, with nobody at it — a bag, a sack of
//! rubbish, a pile of rubble — for longer than `dwell_s`. The object model need not know what it
//! is: the rule works on the picture (the classic dual-background method).
//!
//! On a grey thumbnail it keeps two backgrounds: a **long** one, the empty scene, and a **short**
//! one that follows the picture within about a second. A cell that differs from the long
//! background by `min_change` grey levels but matches the short one is *static foreground*:
//! something changed there and then stopped. Cells under or next to a person or vehicle box are
//! not judged (a standing person is not a left object; a bag at its owner's feet is not
//! unattended). Regions of static foreground between `min_area` and `max_area` of the frame in
//! the zone are candidates; one that stays for `dwell_s` opens an order, one whose cells match the
//! empty scene again for `clear_s` (removed) clears it.
//!
//! The long background learns only where nothing is going on (slowly, so the light of a day is
//! followed); static foreground bigger than `max_area` (a train at the platform, the lights
//! switched on) is taken into it at once, and a static change nobody raised is taken after
//! `absorb_s`. What lies under a person from the camera's first frame on is learnt when it first
//! shows — an object dropped by someone who stood there since the start is not seen.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::default_cooldown;
use super::registry::gather;
use super::scene::Thumb;
use super::{
    Build, Built, Incident, Lifecycle, Phase, Rule, RuleInput, RuleOutput, RuleType, Transition,
    Zone,
};
use crate::detect::BBox;
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::vocab::{KindInfo, Seconds, KINDS};

pub const LEFT_OBJECT: IncidentKind = IncidentKind::registered("left_object");

#[linkme::distributed_slice(KINDS)]
static LEFT_OBJECT_ROW: KindInfo = KindInfo {
    name: "left_object",
    grace_s: Some(300.0),
    rank: 35,
    deadline_h: 2.0,
    label_zh: "乱堆物料·遗留物",
    label_en: "left object / dumping",
    // A local extension: the classification's 乱堆物料 codes differ from city to city.
    event_code: "2105",
    prompt_zh: Some("请勿随意丢弃或堆放物品，请立即带走。"),
    prompt_en: Some("Do not leave or dump things here. Please take them with you."),
    title_zh: "乱堆物料或遗留物品",
    title_en: "Object left or dumped",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static LEFT_OBJECT_RULE: RuleType = RuleType {
    name: "left_object",
    kinds: &[LEFT_OBJECT],
    schema: || schemars::schema_for!(LeftObjectConfig),
    build: LeftObjectRule::build,
};

/// `kind = "left_object"`: something new, static and unattended on the ground for `dwell_s`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LeftObjectConfig {
    /// Where nothing may be left (the floor, the pavement; not the road, not a shop front).
    pub zone: String,
    /// Seconds an object must stay, unattended, before the order opens.
    #[serde(default = "default_dwell")]
    pub dwell_s: Seconds,
    /// Seconds its place must look empty again before the order clears.
    #[serde(default = "default_clear")]
    pub clear_s: Seconds,
    /// Grey levels (0..255) a cell must differ from the empty scene.
    #[serde(default = "default_min_change")]
    pub min_change: f32,
    /// Smallest object, as a fraction of the frame.
    #[serde(default = "default_min_area")]
    pub min_area: f32,
    /// Largest: anything bigger is a change of the scene (a train, the lights), not an object.
    #[serde(default = "default_max_area")]
    pub max_area: f32,
    /// Labels whose boxes (grown by half their size) are not judged: people and vehicles.
    #[serde(default = "default_ignore_labels")]
    pub ignore_labels: Vec<String>,
    /// Seconds after which a static change nobody raised becomes part of the scene.
    #[serde(default = "default_absorb")]
    pub absorb_s: Seconds,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
}

fn default_dwell() -> Seconds {
    Seconds::of(60.0)
}
fn default_clear() -> Seconds {
    Seconds::of(10.0)
}
fn default_min_change() -> f32 {
    25.0
}
fn default_min_area() -> f32 {
    0.001
}
fn default_max_area() -> f32 {
    0.05
}
fn default_ignore_labels() -> Vec<String> {
    ["person", "car", "truck", "bus", "motorcycle", "bicycle"]
        .map(String::from)
        .to_vec()
}
fn default_absorb() -> Seconds {
    Seconds::of(600.0)
}
fn default_severity() -> Severity {
    Severity::Blue
}

/// Weight of a new sample in the short background (≈ 1 s at 5 samples a second).
const SHORT_RATE: f32 = 0.3;
/// Weight of a new sample in the long background where nothing is going on (≈ a minute).
const LONG_RATE: f32 = 0.004;
/// A cell matches the short background within this many grey levels: it is not moving.
const STILL_WITHIN: f32 = 12.0;
/// Person and vehicle boxes are grown by this fraction of their size on each side.
const BOX_MARGIN: f32 = 0.5;

/// One candidate region and its life.
struct Episode {
    key: u64,
    /// Bounding box in thumbnail cells (x0, y0, x1, y1), inclusive.
    cells: (usize, usize, usize, usize),
    life: Lifecycle,
    /// Whether a region matched it on this sample.
    seen: bool,
    /// Whether that region touches a person's or vehicle's box: someone is at it.
    attended: bool,
}

pub struct LeftObjectRule {
    config: LeftObjectConfig,
    zone: Zone,
    event_code: String,
    /// The empty scene, grey levels per thumbnail cell (empty before the first sample).
    long: Vec<f32>,
    /// The picture of the last second or so.
    short: Option<Thumb>,
    /// Per cell: since when it has been static foreground (`None`: it is not).
    since: Vec<Option<Duration>>,
    /// Per cell: whether its long background has been seen (uncovered) at all.
    known: Vec<bool>,
    episodes: Vec<Episode>,
    next_key: u64,
}

impl LeftObjectRule {
    fn build(b: &Build) -> Built {
        let c: LeftObjectConfig = b.params()?;
        let mut problems = Vec::new();
        if !(1.0..=255.0).contains(&c.min_change) {
            problems.push(b.problem("min_change", "must be within 1..255 grey levels"));
        }
        if !(c.min_area > 0.0 && c.min_area < c.max_area && c.max_area <= 1.0) {
            problems.push(b.problem("max_area", "need 0 < min_area < max_area <= 1"));
        }
        let zone = gather(&mut problems, b.zone("zone", &c.zone));
        match zone {
            Some(zone) if problems.is_empty() => Ok(Box::new(LeftObjectRule {
                event_code: b.event_code(LEFT_OBJECT),
                config: c,
                zone,
                long: Vec::new(),
                short: None,
                since: Vec::new(),
                known: Vec::new(),
                episodes: Vec::new(),
                next_key: 0,
            })),
            _ => Err(problems),
        }
    }

    /// Per thumbnail cell: whether a person or vehicle box (grown) covers it.
    fn covered(&self, input: &RuleInput, w: usize, h: usize) -> Vec<bool> {
        let mut mask = vec![false; w * h];
        let (fw, fh) = (input.frame_width as f32, input.frame_height as f32);
        let boxes = input
            .detections
            .unwrap_or_default()
            .iter()
            .map(|d| (&d.label, d.bbox))
            .chain(input.tracks.iter().map(|t| (&t.label, t.bbox)));
        for (label, b) in boxes {
            if !self.config.ignore_labels.iter().any(|l| **l == **label) {
                continue;
            }
            let (mx, my) = (b.width() * BOX_MARGIN, b.height() * BOX_MARGIN);
            let cell = |v: f32, full: f32, n: usize| {
                ((v / full) * n as f32).clamp(0.0, n as f32 - 1.0) as usize
            };
            let (x0, x1) = (cell(b.x1 - mx, fw, w), cell(b.x2 + mx, fw, w));
            let (y0, y1) = (cell(b.y1 - my, fh, h), cell(b.y2 + my, fh, h));
            for y in y0..=y1 {
                mask[y * w + x0..=y * w + x1].fill(true);
            }
        }
        mask
    }

    /// The 4-connected regions of `mask`: each as its cells.
    fn regions(mask: &[bool], w: usize, h: usize) -> Vec<Vec<usize>> {
        let mut seen = vec![false; mask.len()];
        let mut regions = Vec::new();
        for start in 0..mask.len() {
            if !mask[start] || seen[start] {
                continue;
            }
            let mut region = Vec::new();
            let mut stack = vec![start];
            seen[start] = true;
            while let Some(i) = stack.pop() {
                region.push(i);
                let (x, y) = (i % w, i / w);
                let mut push = |j: usize| {
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                };
                if x > 0 {
                    push(i - 1);
                }
                if x + 1 < w {
                    push(i + 1);
                }
                if y > 0 {
                    push(i - w);
                }
                if y + 1 < h {
                    push(i + w);
                }
            }
            regions.push(region);
        }
        regions
    }
}

impl Rule for LeftObjectRule {
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == LEFT_OBJECT && zone == Some(self.zone.id.as_str()))
            .then(|| self.episodes.iter().any(|e| e.life.holds))
    }

    fn opening_time(&self) -> Duration {
        self.config.dwell_s.duration()
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let Some(image) = input.image else {
            return Vec::new();
        };
        let now = input.pts;
        let thumb = Thumb::of(image);
        let (w, h) = (thumb.width(), thumb.height());
        let covered = self.covered(input, w, h);
        // The first sample, or the stream changed size: this picture is the scene to start from.
        let Some(short) = self
            .short
            .as_mut()
            .filter(|s| s.width() == w && s.height() == h)
        else {
            self.known = covered.iter().map(|c| !c).collect();
            self.since = vec![None; w * h];
            self.long = thumb.pixels().to_vec();
            self.short = Some(thumb);
            self.episodes.clear();
            return Vec::new();
        };
        short.blend(&thumb, SHORT_RATE);
        let (pixels, short_px) = (thumb.pixels(), short.pixels().to_vec());
        let change = self.config.min_change;
        let absorb = self.config.absorb_s.duration();
        let mut mask = vec![false; w * h];
        let mut long_px = std::mem::take(&mut self.long);
        for i in 0..w * h {
            if covered[i] {
                // Under a person or vehicle: neither judged nor learnt; what it hides stays
                // as it was.
                continue;
            }
            let still = (pixels[i] - short_px[i]).abs() < STILL_WITHIN;
            if !self.known[i] {
                // First seen uncovered: whatever is there is the scene.
                if still {
                    long_px[i] = pixels[i];
                    self.known[i] = true;
                }
                continue;
            }
            let differs = (pixels[i] - long_px[i]).abs() >= change;
            let (x, y) = ((i % w) as f64 / w as f64, (i / w) as f64 / h as f64);
            if differs && still && self.zone.contains(x, y) {
                let since = *self.since[i].get_or_insert(now);
                if now.saturating_sub(since) >= absorb && !in_open_episode(&self.episodes, i, w) {
                    long_px[i] = pixels[i];
                    self.since[i] = None;
                } else {
                    mask[i] = true;
                }
            } else {
                self.since[i] = None;
                if still && !differs {
                    long_px[i] += LONG_RATE * (pixels[i] - long_px[i]);
                }
            }
        }
        let frame_cells = (w * h) as f32;
        let min_cells = (self.config.min_area * frame_cells).max(1.0) as usize;
        let max_cells = (self.config.max_area * frame_cells) as usize;
        // Regions: bounding cells, size, and whether someone is at it.
        let mut found: Vec<(usize, usize, usize, usize, usize, bool)> = Vec::new();
        for region in Self::regions(&mask, w, h) {
            if region.len() > max_cells {
                // A change of the whole scene, not an object: it is the scene now.
                for &i in &region {
                    long_px[i] = pixels[i];
                    self.since[i] = None;
                }
                continue;
            }
            if region.len() < min_cells {
                continue;
            }
            // Touching a person's (grown) box: someone is at it, it is not unattended yet.
            let attended = region.iter().any(|&i| {
                let (x, y) = (i % w, i / w);
                (x > 0 && covered[i - 1])
                    || (x + 1 < w && covered[i + 1])
                    || (y > 0 && covered[i - w])
                    || (y + 1 < h && covered[i + w])
            });
            let xs = region.iter().map(|i| i % w);
            let ys = region.iter().map(|i| i / w);
            let (x0, x1) = (xs.clone().min().unwrap_or(0), xs.max().unwrap_or(0));
            let (y0, y1) = (ys.clone().min().unwrap_or(0), ys.max().unwrap_or(0));
            found.push((x0, y0, x1, y1, region.len(), attended));
        }
        self.long = long_px;
        if !found.is_empty() {
            tracing::debug!(
                zone = %self.zone.id,
                pts = now.as_secs_f64(),
                regions = ?found
                    .iter()
                    .map(|(x0, y0, x1, y1, n, attended)| format!("{n}{}@{:.2},{:.2}-{:.2},{:.2}", if *attended { " attended" } else { "" }, *x0 as f32 / w as f32, *y0 as f32 / h as f32, *x1 as f32 / w as f32, *y1 as f32 / h as f32))
                    .collect::<Vec<_>>(),
                "Static regions."
            );
        }
        for e in &mut self.episodes {
            e.seen = false;
            e.attended = false;
        }
        for (x0, y0, x1, y1, _, attended) in &found {
            let overlapping = self.episodes.iter_mut().find(|e| {
                let (a0, b0, a1, b1) = e.cells;
                x0 <= &a1 && &a0 <= x1 && y0 <= &b1 && &b0 <= y1
            });
            match overlapping {
                Some(e) => {
                    e.seen = true;
                    e.attended |= *attended;
                    e.cells = (*x0, *y0, *x1, *y1);
                }
                // Nobody raises what its owner stands next to.
                None if *attended => {}
                None => {
                    self.episodes.push(Episode {
                        key: self.next_key,
                        cells: (*x0, *y0, *x1, *y1),
                        life: Lifecycle::new(
                            self.config.dwell_s.secs(),
                            self.config.clear_s.secs(),
                            self.config.cooldown_s.secs(),
                        ),
                        seen: true,
                        attended: false,
                    });
                    self.next_key += 1;
                }
            }
        }
        let (fw, fh) = (input.frame_width as f32, input.frame_height as f32);
        let mut outputs = Vec::new();
        for e in &mut self.episodes {
            // Hidden behind someone now: neither there nor gone.
            let (x0, y0, x1, y1) = e.cells;
            let hidden = !e.seen && (y0..=y1).any(|y| (x0..=x1).any(|x| covered[y * w + x]));
            if hidden || e.attended {
                continue;
            }
            let phase = match e.life.step(e.seen, now) {
                Transition::Open => Phase::Opened,
                Transition::Clear => Phase::Cleared,
                Transition::None => continue,
            };
            let bbox = BBox {
                x1: x0 as f32 / w as f32 * fw,
                y1: y0 as f32 / h as f32 * fh,
                x2: (x1 + 1) as f32 / w as f32 * fw,
                y2: (y1 + 1) as f32 / h as f32 * fh,
            };
            outputs.push(RuleOutput::new(
                e.key,
                phase,
                Incident {
                    kind: LEFT_OBJECT,
                    detail: None,
                    zone: Some(self.zone.clone()),
                    severity: self.config.severity,
                    event_code: self.event_code.clone(),
                    count: 1,
                    objects: vec![ObservedObject {
                        label: "object".into(),
                        score: 1.0,
                        bbox,
                        track_id: None,
                    }],
                },
            ));
        }
        // Candidates that never became an order and are gone, and cleared ones past cooldown.
        self.episodes
            .retain(|e| e.seen || !matches!(e.life.stage, super::common::Stage::Idle));
        outputs
    }
}

/// Whether cell `i` lies in an open episode's region (never absorbed while its order is open).
fn in_open_episode(episodes: &[Episode], i: usize, w: usize) -> bool {
    let (x, y) = (i % w, i / w);
    episodes.iter().any(|e| {
        let (x0, y0, x1, y1) = e.cells;
        e.life.is_open() && (x0..=x1).contains(&x) && (y0..=y1).contains(&y)
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use image::{Rgb, RgbImage};

    use crate::detect::BBox;
    use crate::rules::testing;
    use crate::rules::{Phase, RuleEngine};
    use crate::track::{TrackState, TrackedObject};

    const W: u32 = 640;
    const H: u32 = 480;

    fn engine() -> RuleEngine {
        testing::engine(
            r#"
[[cameras.zones]]
id = "floor"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
[[cameras.rules]]
kind = "left_object"
zone = "floor"
dwell_s = 5.0
clear_s = 3.0
"#,
        )
    }

    /// What is in the picture at one moment: dark squares (x, y, size) and person boxes.
    struct Scene {
        squares: Vec<(u32, u32, u32)>,
        persons: Vec<(u64, BBox)>,
    }

    fn frame(scene: &Scene, t: f64) -> RgbImage {
        // A light floor with a faint texture and a little sensor noise.
        let mut img = RgbImage::from_fn(W, H, |x, y| {
            let v = 180
                + ((x / 16 + y / 16) % 2) as u8 * 6
                + ((x * 7 + y * 13 + (t * 50.0) as u32) % 3) as u8;
            Rgb([v, v, v])
        });
        for &(sx, sy, s) in &scene.squares {
            for y in sy..(sy + s).min(H) {
                for x in sx..(sx + s).min(W) {
                    img.put_pixel(x, y, Rgb([30, 30, 35]));
                }
            }
        }
        // Persons are drawn as dark boxes too: what hides them from the rule is their box.
        for (_, b) in &scene.persons {
            for y in b.y1 as u32..(b.y2 as u32).min(H) {
                for x in b.x1 as u32..(b.x2 as u32).min(W) {
                    img.put_pixel(x, y, Rgb([60, 40, 40]));
                }
            }
        }
        img
    }

    fn person_box(x: f32, y: f32) -> BBox {
        BBox {
            x1: x - 20.0,
            y1: y - 100.0,
            x2: x + 20.0,
            y2: y,
        }
    }

    fn run(secs: f64, at: impl Fn(f64) -> Scene) -> Vec<(Phase, f64)> {
        let mut rules = engine();
        let mut events = Vec::new();
        let mut t = 0.0;
        while t <= secs {
            let now = Duration::from_secs_f64(t);
            let scene = at(t);
            let image = frame(&scene, t);
            let tracks: Vec<TrackedObject> = scene
                .persons
                .iter()
                .map(|(id, b)| TrackedObject {
                    track_id: *id,
                    label: Arc::from("person"),
                    score: 0.9,
                    bbox: *b,
                    state: TrackState::Tracked,
                    first_seen: Duration::ZERO,
                    last_seen: now,
                })
                .collect();
            let detections = testing::detections(&tracks);
            let input = testing::input(t, (W, H), Some(&image), &tracks, &detections);
            for e in rules.evaluate(&input) {
                events.push((e.phase, t));
            }
            t += 0.2;
        }
        events
    }

    #[test]
    fn a_bag_left_by_someone_who_walks_away_opens_one_order_and_clears_when_taken() {
        // A person walks in, stands at (300, 300) with a bag at his feet from 4 s, walks off
        // right from 8 s (gone by 10 s); the bag is taken away at 25 s.
        let events = run(32.0, |t| {
            let mut persons = Vec::new();
            if t < 8.0 {
                let x = if t < 2.0 {
                    100.0 + 100.0 * t as f32
                } else {
                    300.0
                };
                persons.push((1, person_box(x, 300.0)));
            } else if t < 10.0 {
                persons.push((1, person_box(300.0 + 150.0 * (t - 8.0) as f32, 300.0)));
            }
            let squares = if (4.0..25.0).contains(&t) {
                vec![(330, 270, 30)]
            } else {
                Vec::new()
            };
            Scene { squares, persons }
        });
        let phases: Vec<Phase> = events.iter().map(|e| e.0).collect();
        assert_eq!(phases, vec![Phase::Opened, Phase::Cleared], "{events:?}");
        // Unattended once the owner's (grown) box left it at ~8.5 s, then 5 s of dwell.
        assert!((13.0..16.0).contains(&events[0].1), "{events:?}");
        assert!((25.0..29.0).contains(&events[1].1), "{events:?}");
    }

    #[test]
    fn a_person_standing_still_for_a_long_time_is_not_a_left_object() {
        let events = run(30.0, |t| Scene {
            squares: Vec::new(),
            persons: if t >= 1.0 {
                vec![(1, person_box(320.0, 350.0))]
            } else {
                Vec::new()
            },
        });
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn a_change_of_the_whole_scene_is_learnt_not_raised() {
        // The lights go down at 3 s: the whole floor dark.
        let events = run(20.0, |t| Scene {
            squares: if t >= 3.0 {
                vec![(0, 0, 640)]
            } else {
                Vec::new()
            },
            persons: Vec::new(),
        });
        assert!(events.is_empty(), "{events:?}");
    }
}
