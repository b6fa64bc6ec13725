//! Geo-tagging on real footage with a synthetic ground truth: a camera pose is invented for the
//! clip, ground control points are made by projecting surveyed ground points through it, and the
//! orders the replay raises must land where that pose says their objects stand.

mod common;

use std::process::Command;

use common::*;
use lookout::geo::enu::LocalFrame;
use lookout::geo::Pose;
use lookout::orders::WorkOrder;

fn replay(cfg: &std::path::Path, camera: &str, clip: &str) -> Vec<WorkOrder> {
    let out = Command::new(lookout_bin())
        .args(["replay", "--json", "--camera", camera, "--config"])
        .arg(cfg)
        .arg("--video")
        .arg(video(clip))
        .output()
        .expect("replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("order JSON"))
        .collect()
}

/// Where `pose` says the order's objects stand: the centroid of their ground-contact points.
fn truth(pose: &Pose, order: &WorkOrder) -> (f64, f64) {
    let frame = LocalFrame::new(pose.lat, pose.lon);
    let pts: Vec<(f64, f64)> = order
        .objects
        .iter()
        .filter_map(|o| {
            let hit = pose
                .locate((o.bbox[0] + o.bbox[2]) as f64 / 2.0, o.bbox[3] as f64)
                .ok()?;
            Some(frame.to_local(hit.lat, hit.lon))
        })
        .collect();
    assert!(!pts.is_empty());
    let k = pts.len() as f64;
    let (e, n) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / k, b + p.1 / k));
    frame.to_wgs84(e, n)
}

fn distance(pose: &Pose, a: (f64, f64), b: (f64, f64)) -> f64 {
    let f = LocalFrame::new(pose.lat, pose.lon);
    let (ae, an) = f.to_local(a.0, a.1);
    let (be, bn) = f.to_local(b.0, b.1);
    (ae - be).hypot(an - bn)
}

#[test]
fn a_crowd_on_a_calibrated_camera_is_placed_where_its_people_stand() {
    // The plaza clip seen by an invented pole camera: 20 m up, looking 40° down.
    let pose = Pose {
        lat: 30.2712,
        lon: 120.1603,
        height_m: 20.0,
        heading_deg: 200.0,
        tilt_deg: 40.0,
        roll_deg: 0.0,
        pan_deg: 0.0,
        ptz_tilt_deg: 0.0,
        hfov_deg: 60.0,
        aspect: 640.0 / 360.0,
        ground_offset_m: 0.0,
        max_range_m: 1000.0,
        pointing_accuracy_deg: 0.1,
    };
    // Six surveyed spots across the plaza, projected into the image as a technician would read
    // them off a snapshot.
    let frame = LocalFrame::new(pose.lat, pose.lon);
    let h = pose.heading_deg.to_radians();
    let mut rows = Vec::new();
    for (along, across) in [
        (14.0, -6.0),
        (15.0, 7.0),
        (22.0, 0.0),
        (30.0, -12.0),
        (32.0, 13.0),
        (45.0, 2.0),
    ] {
        let (e, n) = (
            along * h.sin() + across * h.cos(),
            along * h.cos() - across * h.sin(),
        );
        let (x, y) = pose.project(e, n, 0.0).unwrap();
        let (lat, lon) = frame.to_wgs84(e, n);
        rows.push(format!("[{x:.6}, {y:.6}, {lat:.9}, {lon:.9}]"));
    }
    let dir = scratch_dir();
    let cfg = example_with_broker(dir.path(), "plaza_pedestrians.toml", "embedded");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace(
        "broker = \"embedded\"",
        "broker = \"embedded\"\nembedded_listen = \"127.0.0.1:0\"",
    );
    text.push_str(&format!(
        "\n[cameras.calibration]\ngcp = [{}]\n",
        rows.join(", ")
    ));
    std::fs::write(&cfg, text).unwrap();

    let orders = replay(&cfg, "plaza_pedestrians", "plaza_pedestrians.mp4");
    let crowd = orders
        .iter()
        .find(|o| o.count >= 10)
        .expect("a crowd order");
    assert_eq!(crowd.location.method, "homography");
    let want = truth(&pose, crowd);
    let got = (crowd.location.lat, crowd.location.lon);
    let off = distance(&pose, want, got);
    assert!(off < 0.5, "placed {off:.2} m from where its people stand");
    assert!(
        crowd.location.accuracy_m < 5.0,
        "{}",
        crowd.location.accuracy_m
    );
    assert_eq!(
        crowd.location.geojson.coordinates,
        [crowd.location.lon, crowd.location.lat]
    );
    // And far from the pole itself: the old camera-position answer would be tens of metres off.
    assert!(distance(&pose, (pose.lat, pose.lon), got) > 10.0);
}

#[test]
fn a_fire_seen_from_a_lookout_is_placed_by_ray_casting_with_a_wide_accuracy() {
    // The forest clip as seen from an invented lookout tower: 150 m up, 4° down, 30° lens.
    let pose = Pose {
        lat: 30.2741,
        lon: 120.1551,
        height_m: 150.0,
        heading_deg: 75.0,
        tilt_deg: 4.0,
        roll_deg: 0.0,
        pan_deg: 0.0,
        ptz_tilt_deg: 0.0,
        hfov_deg: 30.0,
        aspect: 480.0 / 854.0,
        ground_offset_m: 0.0,
        max_range_m: 10_000.0,
        pointing_accuracy_deg: 0.1,
    };
    let dir = scratch_dir();
    let cfg = example_with_broker(dir.path(), "forest_fire_smoke.toml", "embedded");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace(
        "broker = \"embedded\"",
        "broker = \"embedded\"\nembedded_listen = \"127.0.0.1:0\"",
    );
    // Insert the pose into the camera table (before its rules).
    text = text.replacen(
        "[[cameras.rules]]",
        "pose = { height_m = 150.0, heading_deg = 75.0, tilt_deg = 4.0, hfov_deg = 30.0, aspect = 0.5620609 }\n\n[[cameras.rules]]",
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let orders = replay(&cfg, "forest_fire_smoke", "forest_fire_smoke.mp4");
    let fire = orders
        .iter()
        .find(|o| o.kind == lookout::rules::FIRE)
        .expect("a fire order");
    assert_eq!(fire.location.method, "ray_cast");
    let want = truth(&pose, fire);
    let off = distance(&pose, want, (fire.location.lat, fire.location.lon));
    assert!(off < 1.0, "ray-cast {off:.2} m from the pose's answer");
    let range = distance(&pose, (pose.lat, pose.lon), want);
    assert!(range > 500.0, "a lookout fire is far away: {range:.0} m");
    assert!(
        fire.location.accuracy_m > 10.0 && fire.location.accuracy_m < range,
        "accuracy {} m at {range:.0} m",
        fire.location.accuracy_m
    );
}
