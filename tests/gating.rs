//! Motion-gated detection on real footage: a still scene costs a fraction of a busy one, and
//! what stands still in it (a parked car) is still seen and still raises its order.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use common::*;
use lookout::ingest::PlayMode;
use lookout::orders::WorkOrder;
use lookout::runtime::{self, RunOptions};

/// The parking clip's first 12 s (remuxed, 360 of its 30 fps frames): every car parked and still, the dark sedan in the
/// no-parking bay with its lights on (it only starts to reverse at 13 s).
fn still_clip(dir: &Path) -> std::path::PathBuf {
    let out = dir.join("parking_still.mp4");
    let status = Command::new("gst-launch-1.0")
        .arg("-q")
        .arg("filesrc")
        .arg(format!(
            "location={}",
            video("parking_lot_cctv_car_departs.mp4").display()
        ))
        .args([
            "!",
            "qtdemux",
            "!",
            "h264parse",
            "!",
            "identity",
            "eos-after=360",
        ])
        .args(["!", "mp4mux", "!", "filesink"])
        .arg(format!("location={}", out.display()))
        .status()
        .expect("gst-launch-1.0 runs");
    assert!(status.success(), "cannot cut the still clip");
    out
}

/// Replays `clip` on the parking example's camera with gating on or off: the orders, and the
/// model runs per model.
fn replay(clip: &Path, gating: bool) -> (Vec<WorkOrder>, u64) {
    let mut config =
        lookout::build::load(&repo().join("examples/parking_lot_cctv_car_departs.toml"))
            .expect("example config");
    config.uplink.embedded_listen = "127.0.0.1:0".into();
    let id = config.cameras[0].id.clone();
    config.cameras[0].motion.enabled = gating;
    let orders = Arc::new(Mutex::new(Vec::new()));
    let tap: lookout::uplink::OrderTap = {
        let orders = orders.clone();
        Arc::new(move |o: &WorkOrder| orders.lock().unwrap().push(o.clone()))
    };
    let report = runtime::run(
        &config,
        RunOptions {
            mode: PlayMode::Replay,
            source_override: Some((id, clip.to_path_buf())),
            tap: Some(tap),
            strict: true,
            ..Default::default()
        },
    )
    .expect("replay");
    let inferences = report.cameras.iter().map(|c| c.inferences).sum();
    let orders = orders.lock().unwrap().clone();
    (orders, inferences)
}

#[test]
fn a_still_camera_costs_a_fifth_of_a_busy_one_and_still_raises_its_parking_order() {
    let dir = scratch_dir();
    let clip = still_clip(dir.path());
    let (busy_orders, busy) = replay(&clip, false);
    let (still_orders, still) = replay(&clip, true);
    let parking = |orders: &[WorkOrder]| {
        orders
            .iter()
            .filter(|o| o.kind.as_str() == "parking")
            .count()
    };
    assert!(
        parking(&busy_orders) >= 1,
        "no parking order without gating"
    );
    assert!(
        parking(&still_orders) >= 1,
        "gating lost the parked car: {still_orders:#?}"
    );
    // Without gating every sampled frame runs (5/s person model + 1/s fire model over 12 s).
    assert!(busy >= 65, "{busy} model runs without gating");
    assert!(
        still as f64 <= 0.2 * busy as f64,
        "a still picture cost {still} model runs, a busy one {busy}"
    );
}
