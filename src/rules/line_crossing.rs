//! 越线·逆行 line crossing and wrong way: a directed line across a path, lane or gate. Each
//! tracked object whose ground point goes from one side of the line to the other *through* it
//! is counted, per direction, into the status and the metrics. An order opens when an object
//! crosses in the forbidden direction (wrong way, into a closed area) or, with `max_count`, when
//! more than that many cross within `window_s` (a gate overrun); it clears once `window_s` has
//! passed without that.
//!
//! Directions are seen from the line's first point towards its second: `forward` is a crossing
//! from its left to its right. A side counts only once the ground point is `margin` box heights
//! away from the line, so a box that jitters on the line is not a stream of crossings.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::default_cooldown;
use super::{
    Build, Built, Gauge, Incident, Lifecycle, Phase, Rule, RuleInput, RuleOutput, RuleType,
    Transition,
};
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::track::TrackedObject;
use crate::vocab::{KindInfo, Seconds, KINDS};

pub const LINE_CROSSING: IncidentKind = IncidentKind::registered("line_crossing");

#[linkme::distributed_slice(KINDS)]
static LINE_CROSSING_ROW: KindInfo = KindInfo {
    name: "line_crossing",
    grace_s: Some(30.0),
    rank: 28,
    deadline_h: 1.0,
    label_zh: "越线·逆行",
    label_en: "line crossing / wrong way",
    event_code: "2106",
    prompt_zh: Some("您已进入禁行区域或逆向通行，请立即返回。"),
    prompt_en: Some("You are going the wrong way or into a closed area. Please turn back now."),
    title_zh: "越线或逆行（{n}）",
    title_en: "Line crossed the wrong way ({n})",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static LINE_CROSSING_RULE: RuleType = RuleType {
    name: "line_crossing",
    kinds: &[LINE_CROSSING],
    schema: || schemars::schema_for!(LineCrossingConfig),
    build: LineCrossingRule::build,
};

/// Which crossings are a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Forbidden {
    /// From the line's left to its right (seen from its first point to its second).
    Forward,
    /// From its right to its left.
    Backward,
    /// Either way: the line is not to be crossed at all.
    Both,
    /// Neither: count only (and `max_count`).
    None,
}

/// `kind = "line_crossing"`: counts crossings of a directed line each way; an order for the
/// forbidden way, or for more than `max_count` within `window_s`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineCrossingConfig {
    /// The line's name in the status, the metrics and the order (an identifier).
    pub id: String,
    /// Two points `[[x, y], [x, y]]`, normalised to 0..1 from the top-left corner.
    pub line: [[f64; 2]; 2],
    /// Which way may not be crossed.
    #[serde(default = "default_forbidden")]
    pub forbidden: Forbidden,
    /// An order also when more than this many cross (either way) within `window_s`.
    #[serde(default)]
    pub max_count: Option<usize>,
    /// Seconds crossings are remembered for `max_count`, and an order stays open after the last
    /// offending crossing.
    #[serde(default = "default_window")]
    pub window_s: Seconds,
    /// Labels counted.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// How far from the line, in box heights (at most 2 % of the frame height), a ground point
    /// must be to be on a side.
    #[serde(default = "default_margin")]
    pub margin: f32,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
}

fn default_forbidden() -> Forbidden {
    Forbidden::None
}
fn default_window() -> Seconds {
    Seconds::of(30.0)
}
fn default_labels() -> Vec<String> {
    ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
        .map(String::from)
        .to_vec()
}
fn default_margin() -> f32 {
    0.2
}
fn default_severity() -> Severity {
    Severity::Yellow
}

/// The side margin's cap, as a share of the frame height.
const MAX_MARGIN: f32 = 0.02;

/// Which way a crossing went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Forward,
    Backward,
}

/// Where a track was last seen clearly on one side.
struct Side {
    /// +1: left of the line, −1: right.
    sign: i8,
    /// Its ground point then, pixels.
    at: (f32, f32),
    last_seen: Duration,
}

pub struct LineCrossingRule {
    config: LineCrossingConfig,
    event_code: String,
    sides: HashMap<u64, Side>,
    forward: u64,
    backward: u64,
    /// Recent crossings: (time, way, the object).
    recent: VecDeque<(Duration, Way, ObservedObject)>,
    life: Lifecycle,
}

impl LineCrossingRule {
    fn build(b: &Build) -> Built {
        let c: LineCrossingConfig = b.params()?;
        let mut problems = Vec::new();
        if !crate::config::is_identifier(&c.id) {
            problems.push(b.problem("id", format!("{:?} is not a valid line id", c.id)));
        }
        let [p, q] = c.line;
        if [p, q].iter().flatten().any(|v| !(0.0..=1.0).contains(v)) {
            problems.push(b.problem("line", "points are normalised to 0..1"));
        } else if ((q[0] - p[0]).powi(2) + (q[1] - p[1]).powi(2)).sqrt() < 0.01 {
            problems.push(b.problem("line", "the two points are the same place: draw a line"));
        }
        if !(c.margin >= 0.0 && c.margin <= 5.0) {
            problems.push(b.problem("margin", "must be within 0..5 box heights"));
        }
        if c.labels.is_empty() {
            problems.push(b.problem("labels", "name at least one label"));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Box::new(LineCrossingRule {
            event_code: b.event_code(LINE_CROSSING),
            // Opens at the offending crossing and stays open while one is within the window.
            life: Lifecycle::new(0.0, 0.0, c.cooldown_s.secs()),
            config: c,
            sides: HashMap::new(),
            forward: 0,
            backward: 0,
            recent: VecDeque::new(),
        }))
    }

    /// Signed distance of a point from the (infinite) line, pixels: positive on its left.
    fn offset(&self, x: f32, y: f32, w: f32, h: f32) -> f32 {
        let [p, q] = self.config.line;
        let (px, py, qx, qy) = (
            p[0] as f32 * w,
            p[1] as f32 * h,
            q[0] as f32 * w,
            q[1] as f32 * h,
        );
        let (dx, dy) = (qx - px, qy - py);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        // Image y grows downwards: (dx, dy) × (x − p) < 0 is the left seen from p towards q.
        -(dx * (y - py) - dy * (x - px)) / len
    }

    /// Whether the path a→b passes through the line segment itself (not its extension).
    fn through_segment(&self, a: (f32, f32), b: (f32, f32), w: f32, h: f32) -> bool {
        let [p, q] = self.config.line;
        let (p, q) = (
            (p[0] as f32 * w, p[1] as f32 * h),
            (q[0] as f32 * w, q[1] as f32 * h),
        );
        let cross = |o: (f32, f32), u: (f32, f32), v: (f32, f32)| {
            (u.0 - o.0) * (v.1 - o.1) - (u.1 - o.1) * (v.0 - o.0)
        };
        let (d1, d2) = (cross(p, q, a), cross(p, q, b));
        let (d3, d4) = (cross(a, b, p), cross(a, b, q));
        d1 * d2 <= 0.0 && d3 * d4 <= 0.0
    }

    fn counted(&self, t: &TrackedObject) -> bool {
        self.config.labels.iter().any(|l| **l == *t.label)
    }

    fn offends(&self, way: Way) -> bool {
        matches!(
            (self.config.forbidden, way),
            (Forbidden::Both, _)
                | (Forbidden::Forward, Way::Forward)
                | (Forbidden::Backward, Way::Backward)
        )
    }
}

impl Rule for LineCrossingRule {
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == LINE_CROSSING && zone.is_none()).then_some(self.life.holds)
    }

    fn opening_time(&self) -> Duration {
        Duration::ZERO
    }

    fn gauges(&self) -> Vec<Gauge> {
        vec![
            Gauge::total(&self.config.id, "crossed_forward", self.forward),
            Gauge::total(&self.config.id, "crossed_backward", self.backward),
        ]
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let now = input.pts;
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        for t in input.tracks {
            if t.last_seen != now || !self.counted(t) {
                continue;
            }
            let (x, y) = t.bbox.ground_point();
            let d = self.offset(x, y, w, h);
            // A big box near the camera jitters more in pixels, but is lost sooner once past
            // the line: the margin is at most 2 % of the frame height.
            let margin = (self.config.margin * t.bbox.height()).min(MAX_MARGIN * h);
            if d.abs() < margin {
                continue; // on the line: no side yet
            }
            let sign: i8 = if d > 0.0 { 1 } else { -1 };
            let crossed = self.sides.get(&t.track_id).and_then(|s| {
                (s.sign != sign && self.through_segment(s.at, (x, y), w, h)).then_some(s.sign)
            });
            if let Some(from) = crossed {
                let way = if from > 0 {
                    Way::Forward
                } else {
                    Way::Backward
                };
                match way {
                    Way::Forward => self.forward += 1,
                    Way::Backward => self.backward += 1,
                }
                tracing::debug!(
                    line = %self.config.id,
                    pts = now.as_secs_f64(),
                    track = t.track_id,
                    label = %t.label,
                    way = ?way,
                    x = x / w,
                    y = y / h,
                    "Crossed."
                );
                self.recent
                    .push_back((now, way, ObservedObject::from_track(t)));
            }
            self.sides.insert(
                t.track_id,
                Side {
                    sign,
                    at: (x, y),
                    last_seen: now,
                },
            );
        }
        // Tracks gone for a minute are forgotten; the tracker will not bring them back.
        self.sides
            .retain(|_, s| now.saturating_sub(s.last_seen) < Duration::from_secs(60));
        let window = self.config.window_s.duration();
        while self
            .recent
            .front()
            .is_some_and(|(t, _, _)| now.saturating_sub(*t) > window)
        {
            self.recent.pop_front();
        }
        let offending: Vec<ObservedObject> = self
            .recent
            .iter()
            .filter(|(_, way, _)| self.offends(*way))
            .map(|(_, _, o)| o.clone())
            .collect();
        let too_many = self.config.max_count.is_some_and(|n| self.recent.len() > n);
        let holds = !offending.is_empty() || too_many;
        let phase = match self.life.step(holds, now) {
            Transition::Open => Phase::Opened,
            Transition::Clear => Phase::Cleared,
            Transition::None => return Vec::new(),
        };
        let objects = if offending.is_empty() {
            self.recent.iter().map(|(_, _, o)| o.clone()).collect()
        } else {
            offending
        };
        vec![RuleOutput::new(
            0,
            phase,
            Incident {
                kind: LINE_CROSSING,
                detail: None,
                zone: None,
                severity: self.config.severity,
                event_code: self.event_code.clone(),
                count: objects.len(),
                objects,
            },
        )]
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::detect::BBox;
    use crate::rules::testing;
    use crate::rules::{Gauge, Phase, RuleEngine};
    use crate::track::{TrackState, TrackedObject};

    /// A horizontal line across the middle, drawn left to right: forward is top → bottom
    /// (from its left, which looking along +x is up, to its right).
    fn engine(rule: &str) -> RuleEngine {
        testing::engine(&format!(
            "[[cameras.rules]]\nkind = \"line_crossing\"\nid = \"gate\"\nline = [[0.1, 0.5], [0.9, 0.5]]\nwindow_s = 5.0\n{rule}\n"
        ))
    }

    fn person(id: u64, x: f32, y: f32, now: Duration) -> TrackedObject {
        TrackedObject {
            track_id: id,
            label: Arc::from("person"),
            score: 0.9,
            bbox: BBox {
                x1: x - 10.0,
                y1: y - 50.0,
                x2: x + 10.0,
                y2: y,
            },
            state: TrackState::Tracked,
            first_seen: Duration::ZERO,
            last_seen: now,
        }
    }

    /// Feeds 5 frames a second of `paths` (track id → ground point at time t, or none) for
    /// `secs`; returns the events (phase, time) and the final gauges.
    #[allow(clippy::type_complexity)]
    fn run(
        rules: &mut RuleEngine,
        secs: f64,
        paths: &[(u64, &dyn Fn(f64) -> Option<(f32, f32)>)],
    ) -> (Vec<(Phase, f64, usize)>, Vec<Gauge>) {
        let mut events = Vec::new();
        let mut t = 0.0;
        while t <= secs {
            let now = Duration::from_secs_f64(t);
            let tracks: Vec<TrackedObject> = paths
                .iter()
                .filter_map(|(id, f)| f(t).map(|(x, y)| person(*id, x, y, now)))
                .collect();
            let detections = testing::detections(&tracks);
            let input = testing::input(t, (1000, 1000), None, &tracks, &detections);
            for e in rules.evaluate(&input) {
                events.push((e.phase, t, e.incident.count));
            }
            t += 0.2;
        }
        (events, rules.gauges())
    }

    fn count(gauges: &[Gauge], what: &str) -> f64 {
        gauges.iter().find(|g| g.what == what).unwrap().value
    }

    #[test]
    fn crossings_are_counted_each_way_once_and_jitter_on_the_line_is_not() {
        let mut rules = engine("");
        let down = |t: f64| Some((300.0, 200.0 + 100.0 * t as f32));
        let up = |t: f64| Some((600.0, 800.0 - 100.0 * t as f32));
        // Stands on the line, its box jittering across it by 3 px.
        let jitter = |t: f64| {
            Some((
                500.0,
                500.0 + if (t * 5.0) as i64 % 2 == 0 { 3.0 } else { -3.0 },
            ))
        };
        // Walks past the line's end: across its extension, not through it.
        let around = |t: f64| Some((950.0, 200.0 + 100.0 * t as f32));
        let (events, gauges) = run(
            &mut rules,
            8.0,
            &[(1, &down), (2, &up), (3, &jitter), (4, &around)],
        );
        assert_eq!(count(&gauges, "crossed_forward"), 1.0, "{gauges:?}");
        assert_eq!(count(&gauges, "crossed_backward"), 1.0, "{gauges:?}");
        assert!(gauges.iter().all(|g| g.total && g.place == "gate"));
        assert!(events.is_empty(), "counting only: {events:?}");
    }

    #[test]
    fn a_crossing_the_forbidden_way_opens_an_order_that_clears_after_the_window() {
        let mut rules = engine("forbidden = \"backward\"");
        let down = |t: f64| Some((300.0, 200.0 + 100.0 * t as f32));
        let up = |t: f64| (t >= 2.0).then_some((600.0, 800.0 - 100.0 * (t - 2.0) as f32));
        let (events, _) = run(&mut rules, 20.0, &[(1, &down), (2, &up)]);
        let phases: Vec<Phase> = events.iter().map(|e| e.0).collect();
        assert_eq!(phases, vec![Phase::Opened, Phase::Cleared], "{events:?}");
        // Up from y = 800 crosses y = 500 after ~3 s (+ the margin): at ~5 s.
        assert!((4.5..6.0).contains(&events[0].1), "{events:?}");
        assert_eq!(events[0].2, 1);
        assert!((9.5..11.5).contains(&events[1].1), "{events:?}");
    }

    #[test]
    fn more_than_max_count_within_the_window_opens_an_order() {
        let mut rules = engine("max_count = 2");
        let walker = |offset: f64| {
            move |t: f64| {
                let s = t - offset;
                (0.0..6.0)
                    .contains(&s)
                    .then_some((200.0 + offset as f32 * 100.0, 200.0 + 100.0 * s as f32))
            }
        };
        let (a, b, c) = (walker(0.0), walker(0.5), walker(1.0));
        let (events, gauges) = run(&mut rules, 10.0, &[(1, &a), (2, &b), (3, &c)]);
        assert_eq!(count(&gauges, "crossed_forward"), 3.0);
        assert_eq!(
            events.first().map(|e| (e.0, e.2)),
            Some((Phase::Opened, 3)),
            "{events:?}"
        );
    }
}
