//! Rule state machines driven by synthetic track sequences: `Scene` builds a camera from TOML,
//! `run` feeds frames at 5 per second, tests assert the events (phase, time, kind) that come out.

use super::*;
use crate::track::TrackState;

const W: u32 = 1000;
const H: u32 = 1000;

/// A camera whose left half is zone `left`, right half `right`, top strip `top`.
fn engine(rules: &str) -> RuleEngine {
    let text = format!(
        r#"
[box]
site = "s"
id = "b"
[[cameras]]
id = "cam"
source = "test:ball"
models = ["m"]
location = {{ lat = 30.0, lon = 120.0 }}
[[cameras.zones]]
id = "left"
polygon = [[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]]
[[cameras.zones]]
id = "right"
polygon = [[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]
[[cameras.zones]]
id = "top"
polygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 0.2], [0.0, 0.2]]
{rules}
"#
    );
    let config = crate::config::parse(&text, std::path::Path::new("test.toml"))
        .unwrap_or_else(|e| panic!("{e}"));
    RuleEngine::new(&config.cameras[0], FixedOffset::east_opt(8 * 3600).unwrap())
        .unwrap_or_else(|p| panic!("{p:?}"))
}

fn obj(label: &str, id: u64, x: f32, y: f32, w: f32, h: f32, seen: Duration) -> TrackedObject {
    TrackedObject {
        track_id: id,
        label: Arc::from(label),
        score: 0.9,
        bbox: BBox {
            x1: x - w / 2.0,
            y1: y - h,
            x2: x + w / 2.0,
            y2: y,
        },
        state: TrackState::Tracked,
        first_seen: Duration::ZERO,
        last_seen: seen,
    }
}

/// The detections behind the tracks seen on this frame (the object model ran on every frame).
fn seen_now(tracks: &[TrackedObject], pts: Duration) -> Vec<Detection> {
    tracks
        .iter()
        .filter(|t| t.last_seen == pts)
        .map(|t| Detection {
            label: t.label.clone(),
            score: t.score,
            bbox: t.bbox,
            model: Arc::from("m"),
        })
        .collect()
}

fn person(id: u64, x: f32, y: f32, seen: Duration) -> TrackedObject {
    obj("person", id, x, y, 20.0, 50.0, seen)
}

fn region(label: &str, score: f32) -> Detection {
    Detection {
        label: Arc::from(label),
        score,
        bbox: BBox {
            x1: 100.0,
            y1: 100.0,
            x2: 300.0,
            y2: 300.0,
        },
        model: Arc::from("fire"),
    }
}

/// 2026-11-23 10:00 (+08:00): a Monday morning.
fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

#[derive(Debug, Clone, PartialEq)]
struct Ev {
    phase: Phase,
    at: f64,
    kind: IncidentKind,
    detail: Option<Detail>,
    count: usize,
    severity: Severity,
    id: u64,
}

impl Ev {
    fn of(e: &IncidentEvent) -> Ev {
        Ev {
            phase: e.phase,
            at: e.pts.as_secs_f64(),
            kind: e.incident.kind,
            detail: e.incident.detail,
            count: e.incident.count,
            severity: e.incident.severity,
            id: e.incident_id,
        }
    }
}

/// Frame `i` at 5 fps starting at `start`; `tracks(i, pts)` and `regions(i)` describe it.
fn run_from(
    engine: &mut RuleEngine,
    start: DateTime<Utc>,
    frames: usize,
    tracks: impl Fn(usize, Duration) -> Vec<TrackedObject>,
    regions: impl Fn(usize) -> Option<Vec<Detection>>,
) -> Vec<Ev> {
    let mut out = Vec::new();
    for i in 0..frames {
        let pts = Duration::from_millis(200 * i as u64);
        let t = tracks(i, pts);
        let r = regions(i);
        let d = seen_now(&t, pts);
        let input = RuleInput {
            pts,
            captured_at: start + chrono::Duration::from_std(pts).unwrap(),
            frame_width: W,
            frame_height: H,
            image: None,
            tracks: &t,
            regions: r.as_deref(),
            detections: Some(&d),
        };
        out.extend(engine.evaluate(&input).iter().map(Ev::of));
    }
    out
}

fn run(
    engine: &mut RuleEngine,
    frames: usize,
    tracks: impl Fn(usize, Duration) -> Vec<TrackedObject>,
    regions: impl Fn(usize) -> Option<Vec<Detection>>,
) -> Vec<Ev> {
    run_from(engine, base_time(), frames, tracks, regions)
}

fn phases(events: &[Ev]) -> Vec<Phase> {
    events.iter().map(|e| e.phase).collect()
}

fn near(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.01
}

fn group(n: usize, pts: Duration, x: f32) -> Vec<TrackedObject> {
    (0..n)
        .map(|k| person(k as u64, x, 100.0 + 10.0 * k as f32, pts))
        .collect()
}

fn no_regions(_: usize) -> Option<Vec<Detection>> {
    None
}

const CROWD: &str = r#"
[[cameras.rules]]
kind = "crowd"
zone = "left"
min_count = 5
hold_s = 2
clear_s = 3
smooth_s = 1
cooldown_s = 5
tiers = [{ min_count = 10, severity = "orange" }]
"#;

#[test]
fn crowd_opens_after_hold_once_and_clears_after_clear_time() {
    let mut e = engine(CROWD);
    let events = run(
        &mut e,
        60,
        |i, pts| if i < 30 { group(6, pts, 200.0) } else { vec![] },
        no_regions,
    );
    assert_eq!(
        phases(&events),
        vec![Phase::Opened, Phase::Cleared],
        "{events:?}"
    );
    assert!(near(events[0].at, 2.0), "opened at {}", events[0].at);
    assert_eq!(
        (events[0].count, events[0].severity, events[0].kind),
        (6, Severity::Yellow, crate::rules::CROWD)
    );
    // Median over 1 s delays the drop by ~0.6 s, then 3 s clear time.
    assert!(
        events[1].at > 9.0 && events[1].at < 10.0,
        "cleared at {}",
        events[1].at
    );
}

#[test]
fn crowd_outside_the_zone_or_below_threshold_never_opens() {
    let mut e = engine(CROWD);
    assert!(run(&mut e, 50, |_, pts| group(6, pts, 800.0), no_regions).is_empty());
    assert!(run(&mut e, 50, |_, pts| group(4, pts, 200.0), no_regions).is_empty());
}

#[test]
fn crowd_flicker_neither_opens_nor_closes() {
    let mut e = engine(CROWD);
    // One frame in five the detector misses everybody; one frame in seven it sees a crowd that
    // is not there. Neither changes anything.
    let events = run(
        &mut e,
        80,
        |i, pts| {
            if i % 5 == 4 {
                vec![]
            } else {
                group(6, pts, 200.0)
            }
        },
        no_regions,
    );
    assert_eq!(phases(&events), vec![Phase::Opened]);
    let mut e = engine(CROWD);
    let events = run(
        &mut e,
        80,
        |i, pts| {
            if i % 7 == 3 {
                group(8, pts, 200.0)
            } else {
                group(2, pts, 200.0)
            }
        },
        no_regions,
    );
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn crowd_escalates_by_tier_and_never_reopens_during_cooldown() {
    let mut e = engine(CROWD);
    let events = run(
        &mut e,
        150,
        |i, pts| match i {
            0..50 => group(6, pts, 200.0),
            50..70 => group(12, pts, 200.0),
            70..90 => vec![],
            // Back 1 s after the clear: inside the 5 s cooldown, then long enough after it.
            _ => group(6, pts, 200.0),
        },
        no_regions,
    );
    assert_eq!(
        phases(&events),
        vec![Phase::Opened, Phase::Updated, Phase::Cleared, Phase::Opened],
        "{events:?}"
    );
    assert_eq!(
        (events[1].count, events[1].severity),
        (12, Severity::Orange)
    );
    let cleared = events[2].at;
    assert!(
        events[3].at >= cleared + 5.0,
        "reopened at {} during the cooldown after {cleared}",
        events[3].at
    );
    assert_ne!(
        events[3].id, events[0].id,
        "a new episode is a new incident"
    );
}

#[test]
fn crowd_schedule_boundary() {
    let rules = format!("{CROWD}schedule = {{ hours = [\"10:00-10:00\"] }}\n")
        .replace("10:00-10:00", "07:00-10:00");
    let mut e = engine(&rules);
    // Starts at 09:59:50 local: armed for 10 s, then the window ends.
    let start = base_time() - chrono::Duration::seconds(10);
    let events = run_from(
        &mut e,
        start,
        150,
        |_, pts| group(6, pts, 200.0),
        no_regions,
    );
    assert_eq!(
        phases(&events),
        vec![Phase::Opened, Phase::Cleared],
        "{events:?}"
    );
    assert!(near(events[0].at, 2.0));
    // Disarmed at 10:00:00 (10 s), cleared 3 s later.
    assert!(
        events[1].at >= 13.0 && events[1].at < 14.0,
        "cleared at {}",
        events[1].at
    );
    let mut e = engine(&rules);
    assert!(
        run(&mut e, 100, |_, pts| group(6, pts, 200.0), no_regions).is_empty(),
        "10:00 is outside 07:00-10:00"
    );
}

const FIRE: &str = r#"
[[cameras.rules]]
kind = "fire"
min_score = 0.3
window = 5
min_hits = 3
confirm_s = 1.0
clear_s = 2.0
cooldown_s = 0
smoke_min_change = 0.0
"#;

#[test]
fn fire_needs_sustained_hits_and_ignores_frames_without_the_model() {
    let mut e = engine(FIRE);
    // The fire model runs on every other frame (0.4 s apart); hits from the first sample on.
    let events = run(
        &mut e,
        20,
        |_, _| vec![],
        |i| (i % 2 == 0).then(|| vec![region("fire", 0.5)]),
    );
    assert_eq!(phases(&events), vec![Phase::Opened], "{events:?}");
    assert_eq!(
        (events[0].kind, events[0].severity),
        (crate::rules::FIRE, Severity::Red)
    );
    // 3 hits at 0.8 s, held 1.0 s → 1.8 s; the next sample is at 2.0 s.
    assert!(near(events[0].at, 2.0), "opened at {}", events[0].at);
}

#[test]
fn isolated_or_weak_fire_never_opens_and_fire_clears() {
    let mut e = engine(FIRE);
    let flicker = run(
        &mut e,
        40,
        |_, _| vec![],
        |i| {
            Some(if i % 3 == 0 {
                vec![region("fire", 0.5)]
            } else {
                vec![]
            })
        },
    );
    assert!(flicker.is_empty(), "{flicker:?}");
    let weak = run(
        &mut e,
        40,
        |_, _| vec![],
        |_| Some(vec![region("fire", 0.2)]),
    );
    assert!(weak.is_empty());
    let mut e = engine(FIRE);
    let events = run(
        &mut e,
        60,
        |_, _| vec![],
        |i| {
            Some(if i < 15 {
                vec![region("fire", 0.6)]
            } else {
                vec![]
            })
        },
    );
    assert_eq!(phases(&events), vec![Phase::Opened, Phase::Cleared]);
}

#[test]
fn smoke_alone_is_orange_and_a_mask_hides_it() {
    let mut e = engine(FIRE);
    let events = run(
        &mut e,
        20,
        |_, _| vec![],
        |_| Some(vec![region("smoke", 0.6)]),
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].severity),
        (crate::rules::SMOKE, Severity::Orange)
    );
    // The region's centre (0.2, 0.2) is in zone "left": masked, nothing.
    let mut e = engine(&format!("{FIRE}masks = [\"left\"]\n"));
    assert!(run(
        &mut e,
        20,
        |_, _| vec![],
        |_| Some(vec![region("smoke", 0.6), region("fire", 0.6)])
    )
    .is_empty());
}

#[test]
fn static_smoke_is_suppressed_and_changing_smoke_counts() {
    let rules = FIRE.replace("smoke_min_change = 0.0", "smoke_min_change = 0.2");
    let still = RgbImage::from_pixel(64, 64, image::Rgb([120, 120, 120]));
    let drive = |e: &mut RuleEngine, frame: &dyn Fn(usize) -> RgbImage| -> Vec<Ev> {
        let mut out = Vec::new();
        for i in 0..30 {
            let pts = Duration::from_millis(500 * i as u64);
            let img = frame(i);
            let regions = vec![Detection {
                label: Arc::from("smoke"),
                score: 0.8,
                bbox: BBox {
                    x1: 0.0,
                    y1: 0.0,
                    x2: 64.0,
                    y2: 64.0,
                },
                model: Arc::from("fire"),
            }];
            let input = RuleInput {
                pts,
                captured_at: base_time(),
                frame_width: 64,
                frame_height: 64,
                image: Some(&img),
                tracks: &[],
                regions: Some(&regions),
                detections: None,
            };
            out.extend(e.evaluate(&input).into_iter().map(|e| e.incident.kind));
        }
        out.into_iter()
            .map(|k| Ev {
                phase: Phase::Opened,
                at: 0.0,
                kind: k,
                detail: None,
                count: 0,
                severity: Severity::Blue,
                id: 0,
            })
            .collect()
    };
    let mut e = engine(&rules);
    assert!(
        drive(&mut e, &|_| still.clone()).is_empty(),
        "grey pavement that never changes"
    );
    let mut e = engine(&rules);
    // Smoke changes in place (it does not slide the whole picture along: that is a pan).
    let billowing = |i: usize| {
        RgbImage::from_fn(64, 64, |x, y| {
            let cell = (x / 4) * 31 + (y / 4) * 17 + i as u32 * 101;
            let v = (cell.wrapping_mul(2_654_435_761) >> 24) as u8;
            image::Rgb([v, v, v])
        })
    };
    let events = drive(&mut e, &billowing);
    assert_eq!(
        events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![crate::rules::SMOKE]
    );
}

const PARKING: &str = r#"
[[cameras.rules]]
kind = "parking"
zone = "left"
tolerance_s = 20
clear_s = 4
escalate_after_s = 10
cooldown_s = 0
stationary = { window_s = 4, max_move = 0.25 }
"#;

fn car(id: u64, x: f32, y: f32, seen: Duration) -> TrackedObject {
    obj("car", id, x, y, 120.0, 80.0, seen)
}

#[test]
fn a_parked_car_opens_one_order_escalates_and_clears_when_it_leaves() {
    let mut e = engine(PARKING);
    // Parked from 0 s to 60 s, with ±3 px box jitter; then gone.
    let events = run(
        &mut e,
        400,
        |i, pts| {
            if i < 300 {
                vec![car(1, 200.0 + (i % 3) as f32 * 3.0, 500.0, pts)]
            } else {
                vec![]
            }
        },
        no_regions,
    );
    assert_eq!(
        phases(&events),
        vec![Phase::Opened, Phase::Updated, Phase::Cleared],
        "{events:?}"
    );
    assert!(
        events[0].at >= 19.0 && events[0].at <= 21.0,
        "opened at {}",
        events[0].at
    );
    assert_eq!(
        (events[0].kind, events[0].severity),
        (crate::rules::PARKING, Severity::Blue)
    );
    assert_eq!(events[1].severity, Severity::Orange, "escalated after 10 s");
    assert!(
        events[2].at >= 64.0 && events[2].at < 65.0,
        "cleared at {}",
        events[2].at
    );
}

#[test]
fn a_slowly_queueing_car_is_not_parked_and_a_car_outside_the_zone_neither() {
    let mut e = engine(PARKING);
    // 2 px per frame = 10 px/s: a queue crawling forward, half a box height per 4 s window; in
    // the zone for 40 s, twice the tolerance.
    assert!(run(
        &mut e,
        300,
        |i, pts| vec![car(1, 100.0 + 2.0 * i as f32, 500.0, pts)],
        no_regions
    )
    .is_empty());
    let mut e = engine(PARKING);
    assert!(run(
        &mut e,
        300,
        |_, pts| vec![car(1, 800.0, 500.0, pts)],
        no_regions
    )
    .is_empty());
}

#[test]
fn a_parked_car_survives_occlusion_and_an_id_switch() {
    let mut e = engine(PARKING);
    let events = run(
        &mut e,
        250,
        |i, pts| match i {
            // A bus passes in front (covers the car's ground point) for 2 s.
            50..60 => vec![obj("bus", 9, 200.0, 560.0, 300.0, 200.0, pts)],
            // Nothing seen for 1.4 s (shorter than clear_s).
            100..107 => vec![],
            // The tracker comes back with a new id for the same car.
            107.. => vec![car(2, 201.0, 501.0, pts)],
            _ => vec![car(1, 200.0, 500.0, pts)],
        },
        no_regions,
    );
    assert_eq!(
        phases(&events),
        vec![Phase::Opened, Phase::Updated],
        "one order for one car: {events:?}"
    );
}

const VENDING: &str = r#"
[[cameras.rules]]
kind = "vending"
zone = "left"
dwell_s = 10
clear_s = 3
cooldown_s = 0
stationary = { window_s = 3, max_move = 0.3 }
"#;

#[test]
fn vending_needs_a_stall_unless_configured_otherwise() {
    let vendor = |pts| {
        vec![
            person(1, 200.0, 500.0, pts),
            obj("umbrella", 2, 230.0, 480.0, 60.0, 60.0, pts),
        ]
    };
    let mut e = engine(VENDING);
    let events = run(&mut e, 100, |_, pts| vendor(pts), no_regions);
    assert_eq!(phases(&events), vec![Phase::Opened]);
    assert_eq!(
        (events[0].kind, events[0].severity, events[0].count),
        (crate::rules::VENDING, Severity::Blue, 1)
    );
    assert!(
        events[0].at >= 9.5 && events[0].at <= 10.5,
        "opened at {}",
        events[0].at
    );
    // Standing persons without stall objects: nothing…
    let mut e = engine(VENDING);
    assert!(run(
        &mut e,
        100,
        |_, pts| vec![person(1, 200.0, 500.0, pts)],
        no_regions
    )
    .is_empty());
    // …unless persons alone are accepted.
    let mut e = engine(&format!("{VENDING}require_stall = false\n"));
    assert_eq!(
        phases(&run(
            &mut e,
            100,
            |_, pts| vec![person(1, 200.0, 500.0, pts)],
            no_regions
        )),
        vec![Phase::Opened]
    );
    // Passers-by with a bicycle never stand still.
    let mut e = engine(VENDING);
    let walking = |i: usize, pts| {
        vec![
            person(1, 10.0 + 8.0 * i as f32, 500.0, pts),
            obj("bicycle", 2, 10.0 + 8.0 * i as f32, 520.0, 60.0, 40.0, pts),
        ]
    };
    assert!(run(&mut e, 60, walking, no_regions).is_empty());
}

#[test]
fn vending_schedule_only_at_night() {
    let rules =
        format!("{VENDING}require_stall = false\nschedule = {{ hours = [\"22:00-06:00\"] }}\n");
    let vendor = |_: usize, pts| vec![person(1, 200.0, 500.0, pts)];
    let mut e = engine(&rules);
    assert!(
        run(&mut e, 100, vendor, no_regions).is_empty(),
        "10:00 is outside the window"
    );
    let mut e = engine(&rules);
    let two_am = DateTime::parse_from_rfc3339("2026-11-24T02:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        phases(&run_from(&mut e, two_am, 100, vendor, no_regions)),
        vec![Phase::Opened]
    );
}

const WATER: &str = r#"
[[cameras.rules]]
kind = "water"
water_zone = "left"
shore_zone = "right"
confirm_s = 1
shore_linger_s = 5
vanish_s = 3
clear_s = 2
cooldown_s = 0
"#;

fn details(events: &[Ev]) -> Vec<(Phase, Option<Detail>, Severity)> {
    events
        .iter()
        .map(|e| (e.phase, e.detail, e.severity))
        .collect()
}

#[test]
fn a_person_vanishing_inside_the_water_is_a_possible_drowning() {
    let mut e = engine(WATER);
    // Swims for 4 s, then is never seen again.
    let events = run(
        &mut e,
        60,
        |i, pts| {
            if i < 20 {
                vec![person(1, 200.0, 500.0, pts)]
            } else {
                vec![]
            }
        },
        no_regions,
    );
    let d = details(&events);
    assert!(
        d.contains(&(Phase::Opened, Some(crate::rules::IN_WATER), Severity::Red)),
        "{d:?}"
    );
    let vanished: Vec<&Ev> = events
        .iter()
        .filter(|e| e.detail == Some(crate::rules::VANISHED))
        .collect();
    assert_eq!(vanished.len(), 1, "{d:?}");
    assert_eq!(
        (vanished[0].phase, vanished[0].severity),
        (Phase::Opened, Severity::Red)
    );
    // Last seen at 3.8 s, missing for 3 s.
    assert!(
        vanished[0].at >= 6.8 && vanished[0].at < 7.2,
        "at {}",
        vanished[0].at
    );
}

#[test]
fn a_person_walking_out_of_the_water_is_not_missing() {
    let mut e = engine(WATER);
    // In the water for 2 s, walks out onto the shore (right half), leaves after 2 s there.
    let events = run(
        &mut e,
        60,
        |i, pts| match i {
            0..10 => vec![person(1, 200.0, 500.0, pts)],
            10..20 => vec![person(1, 700.0, 500.0, pts)],
            _ => vec![],
        },
        no_regions,
    );
    assert!(
        events
            .iter()
            .all(|e| e.detail != Some(crate::rules::VANISHED)),
        "{:?}",
        details(&events)
    );
    assert!(
        events
            .iter()
            .all(|e| e.detail != Some(crate::rules::AT_SHORE)),
        "2 s at the shore is not lingering"
    );
}

#[test]
fn lingering_at_the_shore_is_orange() {
    let mut e = engine(WATER);
    let events = run(
        &mut e,
        50,
        |_, pts| vec![person(1, 700.0, 500.0, pts)],
        no_regions,
    );
    assert_eq!(
        details(&events),
        vec![(
            Phase::Opened,
            Some(crate::rules::AT_SHORE),
            Severity::Orange
        )]
    );
    assert!(near(events[0].at, 5.0), "at {}", events[0].at);
}

#[test]
fn a_glimpse_or_an_id_switch_in_the_water_is_not_a_drowning() {
    let mut e = engine(WATER);
    // A 0.4 s false detection in the water.
    let events = run(
        &mut e,
        40,
        |i, pts| {
            if i < 2 {
                vec![person(1, 200.0, 500.0, pts)]
            } else {
                vec![]
            }
        },
        no_regions,
    );
    assert!(
        events
            .iter()
            .all(|e| e.detail != Some(crate::rules::VANISHED)),
        "{:?}",
        details(&events)
    );
    // The tracker re-identifies a swimmer under a new id at the same place.
    let mut e = engine(WATER);
    let events = run(
        &mut e,
        60,
        |i, pts| {
            vec![person(
                if i < 20 { 1 } else { 2 },
                200.0 + (i % 2) as f32,
                500.0,
                pts,
            )]
        },
        no_regions,
    );
    assert!(
        events
            .iter()
            .all(|e| e.detail != Some(crate::rules::VANISHED)),
        "{:?}",
        details(&events)
    );
}

#[test]
fn per_label_filters_drop_weak_stall_objects() {
    let vendor = |_: usize, pts| {
        vec![
            person(1, 200.0, 500.0, pts),
            obj("umbrella", 2, 230.0, 480.0, 60.0, 60.0, pts),
        ]
    };
    // The umbrellas this camera sees at 0.9 are all false: demand more of that label only.
    let mut e = engine(&format!(
        "{VENDING}filter = {{ labels = {{ umbrella = {{ min_score = 0.95 }} }} }}\n"
    ));
    assert!(run(&mut e, 100, vendor, no_regions).is_empty());
    let mut e = engine(&format!(
        "{VENDING}filter = {{ labels = {{ umbrella = {{ min_area = 0.001 }} }} }}\n"
    ));
    assert_eq!(
        phases(&run(&mut e, 100, vendor, no_regions)),
        vec![Phase::Opened],
        "60x60 of 1000x1000 is 0.0036"
    );
}

/// A pole camera 10 m up looking 45° down: the zones get a ground area.
const POSE: &str = r#"
[cameras.pose]
height_m = 10.0
heading_deg = 0.0
tilt_deg = 45.0
hfov_deg = 60.0
"#;

#[test]
fn crowd_density_needs_enough_persons_per_square_metre_of_ground() {
    let sparse = format!(
        "{POSE}{}",
        CROWD.replace("min_count = 5", "min_count = 5\nmin_density = 19.0")
    );
    let mut e = engine(&sparse);
    assert!(
        run(&mut e, 50, |_, pts| group(6, pts, 200.0), no_regions).is_empty(),
        "6 persons on the left half of a street view are far below 19 per m²"
    );
    let dense = format!(
        "{POSE}{}",
        CROWD.replace("min_count = 5", "min_count = 5\nmin_density = 0.0001")
    );
    let mut e = engine(&dense);
    let events = run(&mut e, 50, |_, pts| group(6, pts, 200.0), no_regions);
    assert_eq!(phases(&events), vec![Phase::Opened]);
}

/// A camera at `detect_fps` 10 whose object model runs every 5th frame (2/s), as the camera
/// worker feeds it: on the frames between, the tracks are the last sample's and there are no
/// detections.
fn run_sampled(
    engine: &mut RuleEngine,
    frames: usize,
    scene: impl Fn(Duration) -> Vec<TrackedObject>,
) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut tracks = Vec::new();
    for i in 0..frames {
        let pts = Duration::from_millis(100 * i as u64);
        let ran = i % 5 == 0;
        if ran {
            tracks = scene(pts);
        }
        let dets = seen_now(&tracks, pts);
        let input = RuleInput {
            pts,
            captured_at: base_time() + chrono::Duration::from_std(pts).unwrap(),
            frame_width: W,
            frame_height: H,
            image: None,
            tracks: &tracks,
            regions: None,
            detections: ran.then_some(&dets[..]),
        };
        out.extend(engine.evaluate(&input).iter().map(Ev::of));
    }
    out
}

#[test]
fn a_person_model_sampled_below_detect_fps_still_raises_parking_and_water() {
    // Between samples nobody is detected; that must not count as "the car left" or "nobody in
    // the water", or the confirm timers restart on every frame and nothing ever opens.
    let mut parking = engine(PARKING);
    let events = run_sampled(&mut parking, 300, |pts| vec![car(1, 200.0, 500.0, pts)]);
    let opened: Vec<&Ev> = events.iter().filter(|e| e.phase == Phase::Opened).collect();
    assert_eq!(opened.len(), 1, "{events:?}");
    assert_eq!(opened[0].kind, crate::rules::PARKING);
    assert!((19.5..=21.0).contains(&opened[0].at), "{events:?}");

    let mut water = engine(WATER);
    let events = run_sampled(&mut water, 60, |pts| vec![person(1, 200.0, 500.0, pts)]);
    let opened: Vec<(Phase, Option<Detail>)> = events
        .iter()
        .filter(|e| e.phase == Phase::Opened)
        .map(|e| (e.phase, e.detail))
        .collect();
    assert_eq!(
        opened,
        vec![(Phase::Opened, Some(crate::rules::IN_WATER))],
        "{events:?}"
    );
    assert!(
        events.iter().all(|e| e.phase != Phase::Cleared),
        "a swimmer seen at every sample is never cleared: {events:?}"
    );
}

#[test]
fn crowds_are_counted_from_detections_even_without_tracks() {
    // Six people in a huddle score 0.3-0.5: too low to start tracks, enough to be counted.
    let mut e = engine(CROWD);
    let mut out = Vec::new();
    for i in 0..30 {
        let pts = Duration::from_millis(200 * i as u64);
        let dets: Vec<Detection> = (0..6)
            .map(|k| Detection {
                label: Arc::from("person"),
                score: 0.35 + 0.02 * k as f32,
                bbox: BBox {
                    x1: 100.0 + 30.0 * k as f32,
                    y1: 400.0,
                    x2: 125.0 + 30.0 * k as f32,
                    y2: 470.0,
                },
                model: Arc::from("m"),
            })
            .collect();
        let input = RuleInput {
            pts,
            captured_at: base_time(),
            frame_width: W,
            frame_height: H,
            image: None,
            tracks: &[],
            regions: None,
            detections: Some(&dets),
        };
        out.extend(e.evaluate(&input));
    }
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].phase, Phase::Opened);
    assert_eq!(out[0].incident.count, 6);
}

/// Fire samples twice a second on 64×64 frames made by `frame(i)`, a fire box over the centre
/// scoring `score`; the kinds opened.
fn drive_fire(rules: &str, score: f32, frame: impl Fn(usize) -> RgbImage) -> Vec<IncidentKind> {
    // A still scene is a frozen picture to the camera-fault checks: they are not under test.
    let mut e = engine(&format!("{rules}\n[cameras.faults]\nenabled = false\n"));
    let mut out = Vec::new();
    for i in 0..30 {
        let pts = Duration::from_millis(500 * i as u64);
        let img = frame(i);
        let regions = vec![Detection {
            label: Arc::from("fire"),
            score,
            bbox: BBox {
                x1: 16.0,
                y1: 16.0,
                x2: 48.0,
                y2: 48.0,
            },
            model: Arc::from("fire"),
        }];
        let input = RuleInput {
            pts,
            captured_at: base_time(),
            frame_width: 64,
            frame_height: 64,
            image: Some(&img),
            tracks: &[],
            regions: Some(&regions),
            detections: None,
        };
        out.extend(
            e.evaluate(&input)
                .into_iter()
                .filter(|e| e.phase == Phase::Opened)
                .map(|e| e.incident.kind),
        );
    }
    out
}

/// A still grey scene with a bright patch in the centre that is `patch(i)` on frame `i`.
fn scene_with_patch(patch: impl Fn(usize) -> u8) -> impl Fn(usize) -> RgbImage {
    move |i| {
        RgbImage::from_fn(64, 64, |x, y| {
            if (16..48).contains(&x) && (16..48).contains(&y) {
                image::Rgb([patch(i), 160, 40])
            } else {
                // Random grey blocks: a textured, well-lit scene (not a covered lens).
                let cell = (x / 4) * 31 + (y / 4) * 17;
                let v = (cell.wrapping_mul(2_654_435_761) >> 24) as u8;
                image::Rgb([v, v, v])
            }
        })
    }
}

#[test]
fn a_fire_box_that_does_not_flicker_is_a_swim_ring_not_a_fire() {
    let still = drive_fire(FIRE, 0.8, scene_with_patch(|_| 250));
    assert!(still.is_empty(), "a static orange object: {still:?}");
    let flames = drive_fire(
        FIRE,
        0.8,
        scene_with_patch(|i| if i.is_multiple_of(2) { 250 } else { 170 }),
    );
    assert_eq!(flames, vec![crate::rules::FIRE]);
}

#[test]
fn weak_fire_hits_alone_never_open_an_order() {
    let flicker = |i: usize| if i.is_multiple_of(2) { 250 } else { 170 };
    // Hits in every sample, but none reaches the confirm score (0.5 by default).
    assert!(drive_fire(FIRE, 0.45, scene_with_patch(flicker)).is_empty());
    let lowered = format!("{FIRE}fire_confirm_score = 0.4\n");
    assert_eq!(
        drive_fire(&lowered, 0.45, scene_with_patch(flicker)),
        vec![crate::rules::FIRE]
    );
}
