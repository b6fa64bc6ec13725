//! Rule state machines driven by synthetic sequences: one helper feeds frames, tests assert the
//! events (phase, time) that come out.

use super::*;
use crate::config::{CrowdRuleConfig, FireRuleConfig, LocationConfig, ZoneConfig};
use crate::track::TrackState;

const W: u32 = 1000;
const H: u32 = 1000;

fn person(id: u64, x: f32, y: f32, last_seen: Duration) -> TrackedObject {
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
        last_seen,
    }
}

fn fire(score: f32) -> Detection {
    Detection {
        label: Arc::from("fire"),
        score,
        bbox: BBox {
            x1: 100.0,
            y1: 100.0,
            x2: 200.0,
            y2: 200.0,
        },
        model: Arc::from("fire"),
    }
}

fn camera(rules: Vec<RuleConfig>) -> CameraConfig {
    CameraConfig {
        id: "cam".into(),
        name: None,
        source: "test:ball".into(),
        codec: Default::default(),
        detect_fps: 5.0,
        models: vec!["m".into()],
        model_fps: Default::default(),
        location: LocationConfig {
            lat: 30.0,
            lon: 120.0,
            accuracy_m: 10.0,
        },
        zones: vec![ZoneConfig {
            id: "square".into(),
            name: None,
            // Left half of the image.
            polygon: vec![[0.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 1.0]],
        }],
        rules,
    }
}

fn crowd(min_count: usize, hold_s: f64, clear_s: f64) -> RuleConfig {
    RuleConfig::Crowd(CrowdRuleConfig {
        zone: "square".into(),
        min_count,
        hold_s,
        clear_s,
        memory_s: 1.0,
        severity: Severity::Yellow,
        event_code: None,
    })
}

/// Frame `i` at 5 fps: `tracks(i)` are the tracks, `regions(i)` the region detections.
fn run(
    engine: &mut RuleEngine,
    frames: usize,
    tracks: impl Fn(usize, Duration) -> Vec<TrackedObject>,
    regions: impl Fn(usize) -> Option<Vec<Detection>>,
) -> Vec<(Phase, f64, usize)> {
    let mut out = Vec::new();
    for i in 0..frames {
        let pts = Duration::from_millis(200 * i as u64);
        let t = tracks(i, pts);
        let r = regions(i);
        let input = RuleInput {
            pts,
            captured_at: Utc::now(),
            frame_width: W,
            frame_height: H,
            tracks: &t,
            regions: r.as_deref(),
        };
        for e in engine.evaluate(&input) {
            out.push((e.phase, e.pts.as_secs_f64(), e.incident.count));
        }
    }
    out
}

fn group(n: usize, pts: Duration, x: f32) -> Vec<TrackedObject> {
    (0..n)
        .map(|k| person(k as u64, x, 100.0 + 10.0 * k as f32, pts))
        .collect()
}

#[test]
fn crowd_opens_after_hold_once_and_clears_after_clear_time() {
    let mut engine = RuleEngine::new(&camera(vec![crowd(5, 2.0, 3.0)]));
    // 6 persons in the zone for 6 s, then gone.
    let events = run(
        &mut engine,
        60,
        |i, pts| if i < 30 { group(6, pts, 200.0) } else { vec![] },
        |_| None,
    );
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, Phase::Opened);
    assert!(
        (events[0].1 - 2.0).abs() < 0.01,
        "opened at {}",
        events[0].1
    );
    assert_eq!(events[0].2, 6);
    assert_eq!(events[1].0, Phase::Cleared);
    assert!(
        (events[1].1 - 9.0).abs() < 0.01,
        "cleared at {}",
        events[1].1
    );
}

#[test]
fn crowd_outside_the_zone_or_below_threshold_never_opens() {
    let mut engine = RuleEngine::new(&camera(vec![crowd(5, 1.0, 1.0)]));
    assert!(run(&mut engine, 50, |_, pts| group(6, pts, 800.0), |_| None).is_empty());
    assert!(run(&mut engine, 50, |_, pts| group(4, pts, 200.0), |_| None).is_empty());
}

#[test]
fn crowd_rides_over_a_one_frame_dropout() {
    let mut engine = RuleEngine::new(&camera(vec![crowd(5, 1.0, 3.0)]));
    // Every 7th frame the detector misses everybody: no second order, no clearing.
    let events = run(
        &mut engine,
        50,
        |i, pts| {
            if i % 7 == 6 {
                vec![]
            } else {
                group(6, pts, 200.0)
            }
        },
        |_| None,
    );
    assert_eq!(
        events.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![Phase::Opened]
    );
}

#[test]
fn crowd_reports_a_grown_crowd_as_an_update() {
    let mut engine = RuleEngine::new(&camera(vec![crowd(5, 1.0, 3.0)]));
    let events = run(
        &mut engine,
        100,
        |i, pts| group(if i < 50 { 6 } else { 12 }, pts, 200.0),
        |_| None,
    );
    assert_eq!(
        events.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![Phase::Opened, Phase::Updated]
    );
    assert_eq!(events[1].2, 12);
}

fn fire_rule() -> RuleConfig {
    RuleConfig::Fire(FireRuleConfig {
        zone: None,
        min_score: 0.3,
        window: 5,
        min_hits: 3,
        confirm_s: 1.0,
        clear_s: 2.0,
        event_code: None,
    })
}

#[test]
fn fire_needs_sustained_hits_and_ignores_frames_without_the_model() {
    let mut engine = RuleEngine::new(&camera(vec![fire_rule()]));
    // The fire model runs on every other frame; hits from sample 0 on.
    let events = run(
        &mut engine,
        20,
        |_, _| vec![],
        |i| (i % 2 == 0).then(|| vec![fire(0.5)]),
    );
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, Phase::Opened);
    // Third sample (frame 4, 0.8 s) has 3 hits but confirm_s = 1.0 needs frame 6 (1.2 s).
    assert!(
        (events[0].1 - 1.2).abs() < 0.01,
        "opened at {}",
        events[0].1
    );
}

#[test]
fn isolated_or_weak_fire_never_opens_and_fire_clears() {
    let mut engine = RuleEngine::new(&camera(vec![fire_rule()]));
    let flicker = run(
        &mut engine,
        40,
        |_, _| vec![],
        |i| Some(if i % 3 == 0 { vec![fire(0.5)] } else { vec![] }),
    );
    assert!(flicker.is_empty(), "{flicker:?}");
    let weak = run(&mut engine, 40, |_, _| vec![], |_| Some(vec![fire(0.2)]));
    assert!(weak.is_empty());
    let mut engine = RuleEngine::new(&camera(vec![fire_rule()]));
    let events = run(
        &mut engine,
        40,
        |_, _| vec![],
        |i| Some(if i < 15 { vec![fire(0.6)] } else { vec![] }),
    );
    assert_eq!(
        events.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![Phase::Opened, Phase::Cleared]
    );
    // Last hit at frame 14 (2.8 s), clear_s 2 → cleared at 4.8 s.
    assert!(
        (events[1].1 - 4.8).abs() < 0.01,
        "cleared at {}",
        events[1].1
    );
}
