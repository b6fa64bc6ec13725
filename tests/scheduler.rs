//! The inference scheduler with the real YOLOX-Nano and ONNX Runtime: fairness between cameras,
//! newest frame wins, deadlines, and the same detections as a detector of its own.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use lookout::detect::{
    Detector, Dropped, Engine, Execution, ManifestSet, Model, Outcome, Scheduler, SchedulerConfig,
    SessionOptions,
};

fn model(name: &str) -> Arc<Model> {
    let manifests = ManifestSet::load_dir(&repo().join("models")).expect("manifests");
    Arc::new(Model::load(manifests.get(name).expect("manifest"), &model_dir()).expect("model"))
}

fn engines(model: &Arc<Model>, n: usize) -> Vec<Engine> {
    let options = SessionOptions {
        threads: 1,
        execution: Execution::Cpu,
        arena: lookout::detect::MemoryArena::Keep,
    };
    (0..n)
        .map(|_| model.engine(&runtime_library(), options).expect("session"))
        .collect()
}

/// A scheduler of `model` with `workers` sessions of their own.
fn start(model: &Arc<Model>, workers: usize, batch: usize, queue_per_camera: usize) -> Scheduler {
    Scheduler::start(
        model.clone(),
        engines(model, workers),
        SchedulerConfig {
            workers,
            batch,
            queue_per_camera,
        },
    )
    .expect("scheduler")
}

fn picture() -> image::RgbImage {
    image::open(media("images/dog.jpg"))
        .expect("image")
        .to_rgb8()
}

/// A 60 fps camera beside a 5 fps one on one worker of the fire model (~150 ms a frame, so the
/// flood alone saturates it): the slow camera's frames all run, each right after the frame in
/// the worker (it never waits behind the flood's queue), while the flood's frames push out each
/// other.
#[test]
fn a_flooding_camera_never_starves_a_slow_one() {
    let model = model("fire_smoke_yolov8");
    let scheduler = Arc::new(start(&model, 1, 1, 2));
    let image = picture();
    let options = Arc::new(model.options());
    let flood: Arc<str> = Arc::from("flood");
    let slow: Arc<str> = Arc::from("slow");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let (scheduler, options, image, stop) = (
            scheduler.clone(),
            options.clone(),
            image.clone(),
            stop.clone(),
        );
        std::thread::spawn(move || {
            let (mut done, mut superseded) = (0u32, 0u32);
            let mut tickets = std::collections::VecDeque::new();
            // A 60 fps camera that never waits for its results.
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let prepared = scheduler.model().prepare(&image, &options);
                tickets.push_back(scheduler.submit(&flood, prepared, options.clone(), None));
                std::thread::sleep(Duration::from_millis(16));
                while tickets.front().is_some_and(|t| t.is_ready()) {
                    match tickets.pop_front().unwrap().wait() {
                        Outcome::Done { .. } => done += 1,
                        Outcome::Dropped(Dropped::Superseded) => superseded += 1,
                        other => panic!("{other:?}"),
                    }
                }
            }
            (done, superseded)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let mut waits = Vec::new();
    for _ in 0..12 {
        let prepared = model.prepare(&image, &options);
        let sent = Instant::now();
        match scheduler
            .submit(&slow, prepared, options.clone(), None)
            .wait()
        {
            Outcome::Done { waited, .. } => waits.push((waited, sent.elapsed())),
            other => panic!("the slow camera's frame did not run: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (done, superseded) = flooder.join().expect("flooder");
    // The slow camera waits for the frame in the worker and at most one of the flood's (its
    // turn comes next), never for the flood's queue: judged on the median, with the worst
    // case given room for a loaded machine (the other tests run beside this one).
    let cost = scheduler.view_cost().expect("measured");
    let mut waited: Vec<Duration> = waits.iter().map(|w| w.0).collect();
    waited.sort();
    let median = waited[waited.len() / 2];
    assert!(
        median <= cost * 2 + Duration::from_millis(50),
        "median wait {median:?} for a worker (a run costs {cost:?}); all: {waits:?}"
    );
    assert!(
        *waited.last().unwrap() <= cost * 4 + Duration::from_millis(100),
        "{waits:?}"
    );
    assert!(done >= 3, "the flood ran {done} frames");
    assert!(
        superseded > 0,
        "the flood outran one worker, yet none of its frames was pushed out"
    );
    let stats = scheduler.stats();
    assert!(stats.superseded >= superseded as u64);
    assert_eq!(stats.expired, 0);
}

/// A frame that waited past its deadline is dropped, not run late; the rest run in order.
#[test]
fn frames_past_their_deadline_are_dropped_and_counted() {
    let model = model("fire_smoke_yolov8");
    let scheduler = start(&model, 1, 1, 8);
    let image = picture();
    let options = Arc::new(model.options());
    // The fire model takes ~150 ms a frame: of four frames sent at once with a 50 ms deadline,
    // the first runs and the others expire behind it.
    let tickets: Vec<_> = (0..4)
        .map(|i| {
            let camera: Arc<str> = Arc::from(if i == 0 { "a" } else { "b" });
            scheduler.submit(
                &camera,
                model.prepare(&image, &options),
                options.clone(),
                Some(Duration::from_millis(50)),
            )
        })
        .collect();
    let outcomes: Vec<Outcome> = tickets.into_iter().map(|t| t.wait()).collect();
    let done = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Done { .. }))
        .count();
    let expired = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Dropped(Dropped::Expired)))
        .count();
    assert!(done >= 1, "{outcomes:?}");
    assert!(expired >= 2, "{outcomes:?}");
    assert_eq!(scheduler.stats().expired, expired as u64);
}

/// Several workers give the same boxes as a detector of its own, on every camera's frames.
#[test]
fn workers_find_what_a_detector_of_its_own_finds() {
    let model = model("yolox_nano_coco_dyn");
    let scheduler = start(&model, 2, 4, 2);
    // No shared model has a free batch size: batching is off, whatever was asked.
    assert!(!scheduler.batchable());
    assert_eq!(scheduler.config().batch, 1);
    let image = picture();
    let options = Arc::new(model.options());
    let manifests = ManifestSet::load_dir(&repo().join("models")).expect("manifests");
    let mut own = Detector::load(
        manifests.get("yolox_nano_coco_dyn").unwrap(),
        &model_dir(),
        &runtime_library(),
        1,
    )
    .expect("detector");
    let want = own.detect(&image).expect("inference");
    let tickets: Vec<_> = (0..6)
        .map(|i| {
            let camera: Arc<str> = Arc::from(format!("cam{}", i % 3).as_str());
            scheduler.submit(
                &camera,
                model.prepare(&image, &options),
                options.clone(),
                None,
            )
        })
        .collect();
    for t in tickets {
        match t.wait() {
            Outcome::Done { detections, .. } => assert_eq!(detections, want),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(scheduler.stats().runs, 6);
}

/// A replay's submissions wait for room in their lane instead of pushing a frame out: more
/// frames on their way than the lane holds all run.
#[test]
fn a_replays_frames_wait_for_room_and_none_is_pushed_out() {
    let model = model("yolox_nano_coco");
    let scheduler = start(&model, 1, 1, 1);
    let image = picture();
    let options = Arc::new(model.options());
    let camera: Arc<str> = Arc::from("replay");
    // Sent as fast as the lane takes them: six frames through a lane one deep.
    let tickets: Vec<_> = (0..6)
        .map(|_| {
            scheduler.submit_waiting(&camera, model.prepare(&image, &options), options.clone())
        })
        .collect();
    for ticket in tickets {
        match ticket.wait() {
            Outcome::Done { detections, .. } => {
                assert!(!detections.is_empty(), "the dog picture has objects")
            }
            other => panic!("a replay's frame did not run: {other:?}"),
        }
    }
    let stats = scheduler.stats();
    assert_eq!((stats.runs, stats.superseded, stats.expired), (6, 0, 0));
}
