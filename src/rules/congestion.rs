//! 交通拥堵 congestion: a lane zone that stays dense and slow. On each object-model run the rule
//! measures the vehicles whose ground point is in the zone — how many, how much of the zone's
//! picture their boxes cover (occupancy), and how fast they move: the median, over the vehicles
//! tracked for long enough, of the ground point's travel per second **in box heights**, so a
//! large near car and a small far one are judged alike on a camera nobody calibrated (a flowing
//! car covers several of its own lengths a second; a queue creeps at a fraction of one). With a
//! geo-calibrated camera the speed is also reported in m/s. The lane is congested while it is
//! dense (`min_vehicles` and `min_occupancy`) *and* slow (`max_speed`); `hold_s` of that opens
//! one order for the zone, `clear_s` of free flow clears it. Severity follows the occupancy tiers
//! and only rises.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::common::{default_cooldown, default_vehicle_labels};
use super::registry::gather;
use super::{
    Build, Built, Filter, Gauge, Incident, Lifecycle, Phase, Rule, RuleInput, RuleOutput, RuleType,
    Transition, Zone,
};
use crate::config::FilterConfig;
use crate::rules::{IncidentKind, ObservedObject, Severity};
use crate::track::TrackedObject;
use crate::vocab::{KindInfo, Seconds, KINDS};

pub const CONGESTION: IncidentKind = IncidentKind::registered("congestion");

#[linkme::distributed_slice(KINDS)]
static CONGESTION_ROW: KindInfo = KindInfo {
    name: "congestion",
    rank: 25,
    deadline_h: 1.0,
    label_zh: "交通拥堵",
    label_en: "traffic congestion",
    // 数字化城市管理 has no congestion code: a local extension, next to crowd's.
    event_code: "2104",
    title_zh: "交通拥堵（{n} 辆车）",
    title_en: "Traffic congestion ({n} vehicles)",
    ..KindInfo::BASE
};

#[linkme::distributed_slice(super::RULE_TYPES)]
static CONGESTION_RULE: RuleType = RuleType {
    name: "congestion",
    kinds: &[CONGESTION],
    schema: || schemars::schema_for!(CongestionConfig),
    build: CongestionRule::build,
};

/// A severity reached at an occupancy.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OccupancyTier {
    pub min_occupancy: f32,
    pub severity: Severity,
}

/// `kind = "congestion"`: a lane zone dense with slow vehicles for `hold_s`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CongestionConfig {
    /// The lane (or carriageway) zone; draw one zone per direction of travel.
    pub zone: String,
    /// Labels that count as vehicles.
    #[serde(default = "default_vehicle_labels")]
    pub labels: Vec<String>,
    /// Vehicles needed in the zone.
    #[serde(default = "default_min_vehicles")]
    pub min_vehicles: usize,
    /// Fraction of the zone's picture the vehicles' boxes must cover.
    #[serde(default = "default_min_occupancy")]
    pub min_occupancy: f32,
    /// The median vehicle speed must be at most this, in box heights per second.
    #[serde(default = "default_max_speed")]
    pub max_speed: f32,
    /// On a geo-calibrated camera, judge the speed in m/s instead (motion along the line of
    /// sight is foreshortened in the picture; metres are not).
    #[serde(default)]
    pub max_speed_mps: Option<f32>,
    /// Seconds of track history a speed is measured over.
    #[serde(default = "default_speed_window")]
    pub speed_window_s: Seconds,
    /// The measures are medians over this many seconds of model runs.
    #[serde(default = "default_smooth")]
    pub smooth_s: Seconds,
    /// Seconds the lane must stay dense and slow before the order opens.
    #[serde(default = "default_hold")]
    pub hold_s: Seconds,
    /// Seconds of free flow before the order clears.
    #[serde(default = "default_clear")]
    pub clear_s: Seconds,
    /// Severity below the first tier.
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Higher severities at higher occupancy, e.g. `[{ min_occupancy = 0.5, severity = "orange" }]`.
    #[serde(default)]
    pub tiers: Vec<OccupancyTier>,
    #[serde(default = "default_cooldown")]
    pub cooldown_s: Seconds,
    #[serde(default)]
    pub filter: FilterConfig,
}

fn default_min_vehicles() -> usize {
    4
}
fn default_min_occupancy() -> f32 {
    0.2
}
fn default_max_speed() -> f32 {
    0.5
}
fn default_speed_window() -> Seconds {
    Seconds::of(2.0)
}
fn default_smooth() -> Seconds {
    Seconds::of(3.0)
}
fn default_hold() -> Seconds {
    Seconds::of(120.0)
}
fn default_clear() -> Seconds {
    Seconds::of(60.0)
}
fn default_severity() -> Severity {
    Severity::Yellow
}

/// One model run's measures of the lane.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Duration,
    vehicles: usize,
    occupancy: f32,
    /// Median speed in box heights per second; `None` when no vehicle has a long enough track.
    speed: Option<f32>,
    /// The same in m/s, when the camera is geo-calibrated.
    speed_mps: Option<f32>,
}

pub struct CongestionRule {
    config: CongestionConfig,
    zone: Zone,
    /// The zone's share of the frame, for occupancy.
    zone_area: f64,
    filter: Filter,
    event_code: String,
    /// The camera's ground geometry, when it has one (speeds in m/s).
    locator: Option<crate::geo::Locator>,
    /// Ground-point history per track: (time, x, y, box height), pixels.
    paths: HashMap<u64, VecDeque<(Duration, f32, f32, f32)>>,
    samples: VecDeque<Sample>,
    life: Lifecycle,
    reported: Option<Severity>,
    /// The smoothed measures as of the last model run.
    now: Option<Sample>,
}

impl CongestionRule {
    fn build(b: &Build) -> Built {
        let c: CongestionConfig = b.params()?;
        let mut problems = Vec::new();
        if c.labels.is_empty() {
            problems.push(b.problem("labels", "name at least one vehicle label"));
        }
        if !(0.0..=1.0).contains(&c.min_occupancy) {
            problems.push(b.problem("min_occupancy", "must be within 0..1"));
        }
        if !(c.max_speed >= 0.0 && c.max_speed <= 100.0) {
            problems.push(b.problem("max_speed", "must be within 0..100 box heights per second"));
        }
        if let Some(v) = c.max_speed_mps {
            if !(v > 0.0 && v <= 70.0) {
                problems.push(b.problem("max_speed_mps", "must be within 0..70 m/s"));
            } else if !b.has_ground() {
                problems.push(b.problem(
                    "max_speed_mps",
                    "needs the camera's ground geometry: add a calibration (ground control points) or a pose",
                ));
            }
        }
        for (t, tier) in c.tiers.iter().enumerate() {
            if !(c.min_occupancy..=1.0).contains(&tier.min_occupancy) {
                problems.push(crate::config::Problem::new(
                    b.at.clone().key("tiers").index(t),
                    "a tier's min_occupancy must be within the rule's min_occupancy and 1",
                ));
            }
        }
        let zone = gather(&mut problems, b.zone("zone", &c.zone));
        let filter = gather(&mut problems, b.filter("filter", &c.filter));
        let (Some(zone), Some(filter)) = (zone, filter) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Box::new(CongestionRule {
            zone_area: crate::geo::polygon_area(
                &zone.points.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>(),
            ),
            filter,
            event_code: b.event_code(CONGESTION),
            locator: b.has_ground().then(|| b.locator.clone()),
            life: Lifecycle::new(c.hold_s.secs(), c.clear_s.secs(), c.cooldown_s.secs()),
            config: c,
            zone,
            paths: HashMap::new(),
            samples: VecDeque::new(),
            reported: None,
            now: None,
        }))
    }

    fn severity(&self, occupancy: f32) -> Severity {
        self.config
            .tiers
            .iter()
            .filter(|t| occupancy >= t.min_occupancy)
            .map(|t| t.severity)
            .fold(self.config.severity, Severity::max)
    }

    /// The vehicles whose ground point is in the lane on this model run.
    fn vehicles<'a>(&self, input: &'a RuleInput) -> Vec<&'a TrackedObject> {
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        input
            .tracks
            .iter()
            .filter(|t| t.last_seen == input.pts)
            .filter(|t| self.config.labels.iter().any(|l| **l == *t.label))
            .filter(|t| self.filter.accepts(&t.label, t.score, &t.bbox, w, h))
            .filter(|t| {
                let (x, y) = t.bbox.ground_point();
                self.zone.contains((x / w) as f64, (y / h) as f64)
            })
            .collect()
    }

    /// Each vehicle's speed over the speed window, in box heights per second and (calibrated)
    /// m/s; vehicles seen for less than half the window are not judged yet.
    fn speeds(&self, input: &RuleInput) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (input.frame_width as f64, input.frame_height as f64);
        let min_span = self.config.speed_window_s.duration() / 2;
        let mut relative = Vec::new();
        let mut metric = Vec::new();
        for path in self.paths.values() {
            let (Some(first), Some(last)) = (path.front(), path.back()) else {
                continue;
            };
            let span = last.0.saturating_sub(first.0);
            if span < min_span || span.is_zero() {
                continue;
            }
            let secs = span.as_secs_f32();
            let travel = ((last.1 - first.1).powi(2) + (last.2 - first.2).powi(2)).sqrt();
            let height = path.iter().map(|p| p.3).sum::<f32>() / path.len() as f32;
            relative.push(travel / height.max(1.0) / secs);
            if let Some(locator) = &self.locator {
                let a = locator.locate(&[(first.1 as f64 / w, first.2 as f64 / h)]);
                let b = locator.locate(&[(last.1 as f64 / w, last.2 as f64 / h)]);
                if a.method != "camera_position" && b.method != "camera_position" {
                    let (east, north) =
                        crate::geo::enu::LocalFrame::new(a.lat, a.lon).to_local(b.lat, b.lon);
                    metric.push(east.hypot(north) as f32 / secs);
                }
            }
        }
        (relative, metric)
    }
}

impl Rule for CongestionRule {
    fn present(&self, kind: IncidentKind, zone: Option<&str>) -> Option<bool> {
        (kind == CONGESTION && zone == Some(self.zone.id.as_str())).then_some(self.life.holds)
    }

    fn opening_time(&self) -> Duration {
        self.config.hold_s.duration() + self.config.smooth_s.duration()
    }

    fn gauges(&self) -> Vec<Gauge> {
        let Some(s) = self.now else {
            return Vec::new();
        };
        let place = &self.zone.id;
        let mut gauges = vec![
            Gauge::level(place, "vehicles", s.vehicles as f64),
            Gauge::level(place, "occupancy", round(s.occupancy as f64, 3)),
        ];
        if let Some(v) = s.speed {
            gauges.push(Gauge::level(
                place,
                "speed_heights_per_s",
                round(v as f64, 2),
            ));
        }
        if let Some(v) = s.speed_mps {
            gauges.push(Gauge::level(place, "speed_mps", round(v as f64, 1)));
        }
        gauges
    }

    fn evaluate(&mut self, input: &RuleInput) -> Vec<RuleOutput> {
        let now = input.pts;
        let (w, h) = (input.frame_width as f32, input.frame_height as f32);
        let vehicles = self.vehicles(input);
        let window = self.config.speed_window_s.duration();
        for v in &vehicles {
            let (x, y) = v.bbox.ground_point();
            let path = self.paths.entry(v.track_id).or_default();
            path.push_back((now, x, y, v.bbox.height()));
            while path
                .front()
                .is_some_and(|p| now.saturating_sub(p.0) > window)
            {
                path.pop_front();
            }
        }
        // A track not in the lane on this run starts again when it comes back.
        self.paths
            .retain(|id, _| vehicles.iter().any(|v| v.track_id == *id));
        let covered: f64 = vehicles
            .iter()
            .map(|v| v.bbox.area() as f64 / (w as f64 * h as f64))
            .sum();
        let occupancy = (covered / self.zone_area.max(1e-6)).min(1.0) as f32;
        let (relative, metric) = self.speeds(input);
        self.samples.push_back(Sample {
            at: now,
            vehicles: vehicles.len(),
            occupancy,
            speed: median_f32(relative),
            speed_mps: median_f32(metric),
        });
        let smooth = self.config.smooth_s.duration();
        while self
            .samples
            .front()
            .is_some_and(|s| now.saturating_sub(s.at) > smooth)
        {
            self.samples.pop_front();
        }
        let smoothed = Sample {
            at: now,
            vehicles: super::median(
                &mut self.samples.iter().map(|s| s.vehicles).collect::<Vec<_>>(),
            ),
            occupancy: median_f32(self.samples.iter().map(|s| s.occupancy).collect())
                .unwrap_or(0.0),
            speed: median_f32(self.samples.iter().filter_map(|s| s.speed).collect()),
            speed_mps: median_f32(self.samples.iter().filter_map(|s| s.speed_mps).collect()),
        };
        self.now = Some(smoothed);
        tracing::debug!(
            zone = %self.zone.id,
            pts = now.as_secs_f64(),
            vehicles = smoothed.vehicles,
            occupancy = smoothed.occupancy,
            speed = ?smoothed.speed,
            "Lane."
        );
        let dense = smoothed.vehicles >= self.config.min_vehicles
            && smoothed.occupancy >= self.config.min_occupancy;
        // A lane nobody has been tracked across long enough is not judged slow.
        let slow = match self.config.max_speed_mps {
            Some(max) => smoothed.speed_mps.is_some_and(|v| v <= max),
            None => smoothed.speed.is_some_and(|v| v <= self.config.max_speed),
        };
        let severity = self.severity(smoothed.occupancy);
        let phase = match self.life.step(dense && slow, now) {
            Transition::Open => Phase::Opened,
            Transition::Clear => Phase::Cleared,
            Transition::None if self.life.is_open() && dense && slow => match self.reported {
                Some(r) if severity > r => Phase::Updated,
                _ => return Vec::new(),
            },
            Transition::None => return Vec::new(),
        };
        let severity = self.reported.map_or(severity, |r| r.max(severity));
        self.reported = (phase != Phase::Cleared).then_some(severity);
        vec![RuleOutput::new(
            0,
            phase,
            Incident {
                kind: CONGESTION,
                detail: None,
                zone: Some(self.zone.clone()),
                severity,
                event_code: self.event_code.clone(),
                count: vehicles.len(),
                objects: vehicles
                    .iter()
                    .map(|v| ObservedObject::from_track(v))
                    .collect(),
            },
        )]
    }
}

/// The median of some measures; `None` for none.
fn median_f32(mut values: Vec<f32>) -> Option<f32> {
    values.sort_by(f32::total_cmp);
    values.get(values.len() / 2).copied()
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::detect::BBox;
    use crate::rules::testing;
    use crate::rules::{Phase, RuleEngine};
    use crate::track::{TrackState, TrackedObject};

    const W: f32 = 1000.0;
    const H: f32 = 1000.0;

    fn engine() -> RuleEngine {
        testing::engine(
            r#"
[[cameras.zones]]
id = "far"
polygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
[[cameras.zones]]
id = "near"
polygon = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]
[[cameras.rules]]
kind = "congestion"
zone = "far"
hold_s = 5.0
clear_s = 5.0
[[cameras.rules]]
kind = "congestion"
zone = "near"
hold_s = 5.0
clear_s = 5.0
"#,
        )
    }

    /// A 200×120 car with its ground point at (x, y).
    fn car(id: u64, x: f32, y: f32, now: Duration) -> TrackedObject {
        TrackedObject {
            track_id: id,
            label: Arc::from("car"),
            score: 0.9,
            bbox: BBox {
                x1: x - 100.0,
                y1: y - 120.0,
                x2: x + 100.0,
                y2: y,
            },
            state: TrackState::Tracked,
            first_seen: Duration::ZERO,
            last_seen: now,
        }
    }

    use std::time::Duration;

    /// At 5 runs/s: six cars in the far lane creeping at 0.05 box heights/s (flowing at 2.5
    /// after `far_flows_after`), six in the near lane driving at 2.5 box heights/s (each wraps
    /// round when it leaves the frame).
    fn run(until_s: f64, far_flows_after: Option<f64>) -> Vec<(Phase, String, f64)> {
        let mut rules = engine();
        let mut events = Vec::new();
        let mut t = 0.0;
        while t <= until_s {
            let now = Duration::from_secs_f64(t);
            let far_travel = match far_flows_after {
                Some(after) if t >= after => 6.0 * after + 300.0 * (t - after),
                _ => 6.0 * t,
            } as f32;
            let mut tracks = Vec::new();
            for i in 0..6u64 {
                let y = 130.0 + (150.0 * i as f32 + far_travel) % 870.0;
                tracks.push(car(i, 750.0, y, now));
                let y = 130.0 + (150.0 * i as f32 + 300.0 * t as f32) % 870.0;
                tracks.push(car(100 + i, 250.0, y, now));
            }
            let detections = testing::detections(&tracks);
            let input = testing::input(t, (W as u32, H as u32), None, &tracks, &detections);
            for e in rules.evaluate(&input) {
                let zone = e
                    .incident
                    .zone
                    .as_ref()
                    .map(|z| z.id.clone())
                    .unwrap_or_default();
                events.push((e.phase, zone, t));
            }
            t += 0.2;
        }
        events
    }

    #[test]
    fn a_dense_creeping_lane_opens_one_order_and_a_flowing_one_none() {
        let events = run(30.0, None);
        let opened: Vec<&(Phase, String, f64)> =
            events.iter().filter(|e| e.0 == Phase::Opened).collect();
        assert_eq!(opened.len(), 1, "{events:?}");
        assert_eq!(opened[0].1, "far");
        // Hold 5 s, after the speed window and the smoothing filled.
        assert!((5.0..9.0).contains(&opened[0].2), "{events:?}");
        assert!(events.iter().all(|e| e.1 == "far"), "{events:?}");
    }

    #[test]
    fn the_order_clears_once_the_lane_flows_again() {
        let events = run(40.0, Some(15.0));
        let phases: Vec<Phase> = events.iter().map(|e| e.0).collect();
        assert_eq!(phases, vec![Phase::Opened, Phase::Cleared], "{events:?}");
        let cleared = events[1].2;
        assert!((20.0..25.0).contains(&cleared), "{events:?}");
    }
}
