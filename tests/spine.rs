//! End to end on real parts: real footage through GStreamer, real models through ONNX Runtime,
//! work orders on a real Mosquitto started by the test, checked by a subscriber.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const ROOT: &str = "lookout/v1/demo-district/box-001";

fn orders(msgs: &[Received]) -> Vec<Value> {
    msgs.iter()
        .filter(|m| {
            m.topic.starts_with(&format!("{ROOT}/orders/")) && !m.topic.contains("/evidence/")
        })
        .map(|m| serde_json::from_slice(&m.payload).expect("order is JSON"))
        .collect()
}

/// Runs `lookout replay` on an example against `broker`; returns stdout lines.
fn replay_example(example: &str, camera: &str, clip: &str, broker: &Mosquitto) -> Vec<String> {
    let dir = scratch_dir();
    let cfg = example_with_broker(dir.path(), example, &broker.url());
    let out = Command::new(lookout_bin())
        .args(["replay", "--config"])
        .arg(&cfg)
        .args(["--camera", camera, "--video"])
        .arg(video(clip))
        .arg("--json")
        .output()
        .expect("run lookout replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay failed: {stderr}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn mean_difference(a: &image::RgbImage, b: &image::RgbImage) -> f64 {
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| x.abs_diff(*y) as u64)
        .sum();
    total as f64 / a.as_raw().len() as f64
}

/// The published photo is the full camera frame under a caption band, and the band shows the
/// order's own facts drawn with the CJK font: it matches the band rendered from the published
/// document (JPEG noise aside) far better than a blank band or one with another order id. The
/// photo is kept under `target/evidence-photos/` (PNG) for a person to look at.
fn check_caption(img: &image::RgbImage, order: &Value, evidence: &Value, frame: (u32, u32)) {
    let photographer = lookout::evidence::Photographer::shared_default();
    let caption = lookout::evidence::Caption {
        at: chrono::DateTime::parse_from_rfc3339(evidence["captured_at"].as_str().unwrap())
            .unwrap()
            .into(),
        offset: chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        site: order["site"].as_str().unwrap().into(),
        box_id: order["box"].as_str().unwrap().into(),
        camera: order["camera"]["name"].as_str().unwrap().into(),
        kind: lookout::vocab::IncidentKind::from_name(order["kind"].as_str().unwrap()).unwrap(),
        severity: serde_json::from_value(order["severity"].clone()).unwrap(),
        order_id: order["id"].as_str().unwrap().into(),
        revision: order["revision"].as_u64().unwrap() as u32,
        moment: "opened".into(),
    };
    assert!(
        caption.camera.contains("北山"),
        "the camera's Chinese name: {}",
        caption.camera
    );
    let reference = photographer
        .caption_band(&caption, frame.0, frame.1)
        .expect("the set-up installs a CJK font");
    assert_eq!(
        (img.width(), img.height()),
        (frame.0, frame.1 + reference.height()),
        "full camera frame under the caption band"
    );
    let band = image::imageops::crop_imm(img, 0, 0, frame.0, reference.height()).to_image();
    let blank = image::RgbImage::from_pixel(band.width(), band.height(), image::Rgb([16, 16, 16]));
    let other = lookout::evidence::Caption {
        order_id: "ffffffff-ffff-7fff-bfff-ffffffffffff".into(),
        ..caption.clone()
    };
    let wrong = photographer.caption_band(&other, frame.0, frame.1).unwrap();
    let (to_reference, to_blank, to_wrong) = (
        mean_difference(&band, &reference),
        mean_difference(&band, &blank),
        mean_difference(&band, &wrong),
    );
    assert!(
        to_reference < 4.0 && to_blank > 3.0 * to_reference && to_wrong > to_reference + 0.5,
        "caption band vs rendered reference {to_reference:.2}, vs blank {to_blank:.2}, vs another id {to_wrong:.2}"
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/evidence-photos");
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!(
        "{}-{}.png",
        order["camera"]["id"].as_str().unwrap(),
        order["kind"].as_str().unwrap()
    );
    img.save(dir.join(name)).unwrap();
}

#[test]
fn forest_fire_clip_raises_a_fire_order_with_matching_jpeg_evidence() {
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let stdout = replay_example(
        "forest_fire_smoke.toml",
        "forest_fire_smoke",
        "forest_fire_smoke.mp4",
        &broker,
    );
    // Orders printed by --json are the ones published.
    let printed: Vec<Value> = stdout
        .iter()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert!(printed.iter().any(|o| o["kind"] == "fire"), "{stdout:?}");

    let msgs = sub.wait_for(Duration::from_secs(10), "a fire order and its photo", |m| {
        orders(m).iter().any(|o| o["kind"] == "fire")
            && m.iter().any(|x| x.topic.contains("/evidence/"))
    });
    let fire = orders(&msgs)
        .into_iter()
        .find(|o| o["kind"] == "fire")
        .unwrap();
    assert_eq!(fire["severity"], "red");
    assert_eq!(fire["state"], "open");
    assert_eq!(fire["revision"], 1);
    assert_eq!(fire["site"], "demo-district");
    assert_eq!(fire["box"], "box-001");
    assert_eq!(fire["camera"]["id"], "forest_fire_smoke");
    assert_eq!(fire["event_code"], "2103");
    assert!(fire["location"]["lat"].as_f64().is_some());
    for key in ["opened_at", "updated_at"] {
        let t = fire[key].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(t).is_ok() && t.ends_with('Z'),
            "{key} {t}"
        );
    }
    let object = &fire["objects"][0];
    assert_eq!(object["label"], "fire");
    let b: Vec<f64> = object["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        b.iter().all(|v| (0.0..=1.0).contains(v)) && b[0] < b[2] && b[1] < b[3],
        "{b:?}"
    );

    let evidence = &fire["evidence"][0];
    let name = evidence["name"].as_str().unwrap();
    let topic = format!(
        "{ROOT}/orders/{}/evidence/{name}",
        fire["id"].as_str().unwrap()
    );
    let photo = msgs
        .iter()
        .find(|m| m.topic == topic)
        .expect("evidence on its topic");
    assert_eq!(&photo.payload[..2], &[0xFF, 0xD8], "JPEG start of image");
    assert_eq!(
        photo.payload.len() as u64,
        evidence["bytes"].as_u64().unwrap()
    );
    assert_eq!(
        hex::encode(Sha256::digest(&photo.payload)),
        evidence["sha256"].as_str().unwrap()
    );
    // The opening photo is the clearest view within the confirm window: never after the opening.
    let shot =
        chrono::DateTime::parse_from_rfc3339(evidence["captured_at"].as_str().unwrap()).unwrap();
    let opened = chrono::DateTime::parse_from_rfc3339(fire["opened_at"].as_str().unwrap()).unwrap();
    assert!(
        shot <= opened && opened - shot <= chrono::Duration::seconds(30),
        "photo at {shot}, opened at {opened}"
    );
    let img = image::load_from_memory_with_format(&photo.payload, image::ImageFormat::Jpeg)
        .expect("valid JPEG")
        .to_rgb8();
    check_caption(&img, &fire, evidence, (480, 854));
    // Everything the box published (status, orders, photos) matches docs/schemas.
    let checked = ApiSchemas::load().check_all(&sub.snapshot());
    assert!(checked >= 4, "{checked} messages checked");
}

#[test]
fn plaza_clip_raises_one_crowd_order() {
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/orders/+"));
    replay_example(
        "plaza_pedestrians.toml",
        "plaza_pedestrians",
        "plaza_pedestrians.mp4",
        &broker,
    );
    let msgs = sub.wait_for(Duration::from_secs(10), "a crowd order", |m| {
        orders(m).iter().any(|o| o["kind"] == "crowd")
    });
    let crowd: Vec<Value> = orders(&msgs)
        .into_iter()
        .filter(|o| o["kind"] == "crowd")
        .collect();
    let ids: std::collections::BTreeSet<&str> =
        crowd.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 1, "one crowd episode, one order: {crowd:#?}");
    let first = &crowd[0];
    assert_eq!(first["revision"], 1);
    assert_eq!(first["zone"]["id"], "plaza");
    assert!(first["count"].as_u64().unwrap() >= 10);
    // `count` is the smoothed head count, `objects` the persons in the photo's frame.
    let shown = first["objects"].as_array().unwrap().len() as u64;
    let count = first["count"].as_u64().unwrap();
    assert!(shown.abs_diff(count) <= 3, "{shown} shown vs count {count}");
    // Crowds are counted from detections: a person the tracker follows carries its track id,
    // a partly hidden one too weak to start a track is counted without one.
    let objects = first["objects"].as_array().unwrap();
    assert!(objects.iter().all(|o| o["label"] == "person"));
    let tracked = objects.iter().filter(|o| o["track_id"].is_u64()).count();
    assert!(
        tracked * 2 >= objects.len(),
        "{tracked} of {} persons tracked",
        objects.len()
    );
    // Revisions of the same order count up by one.
    for (i, o) in crowd.iter().enumerate() {
        assert_eq!(o["revision"].as_u64().unwrap(), i as u64 + 1);
    }
}

#[test]
fn status_is_retained_online_then_offline_and_the_last_will_fires_on_kill() {
    let broker = Mosquitto::start();
    let status_topic = format!("{ROOT}/status");
    let sub = Subscriber::start(broker.port, &status_topic);
    let dir = scratch_dir();
    let cfg = example_with_broker(dir.path(), "plaza_pedestrians.toml", &broker.url());
    // The daemon plays the clip at its recorded speed: long enough to kill it mid-run.
    let mut daemon = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state")
        .arg(dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start daemon");
    let msgs = sub.wait_for(
        Duration::from_secs(30),
        "an online status with the camera online",
        |m| {
            m.iter().any(|x| {
                let v: Value = serde_json::from_slice(&x.payload).unwrap_or_default();
                v["state"] == "online" && v["cameras"][0]["state"] == "online"
            })
        },
    );
    let online: Value = msgs
        .iter()
        .map(|x| serde_json::from_slice::<Value>(&x.payload).unwrap())
        .find(|v| v["state"] == "online" && v["cameras"][0]["state"] == "online")
        .unwrap();
    assert_eq!(online["cameras"][0]["id"], "plaza_pedestrians");
    assert!(online["version"].is_string() && online["started_at"].is_string());

    // A late subscriber gets the status from the broker's retained copy.
    let late = Subscriber::start(broker.port, &status_topic);
    let got = late.wait_for(Duration::from_secs(5), "the retained status", |m| {
        !m.is_empty()
    });
    assert!(got[0].retain, "status is retained");

    daemon.kill().expect("kill -9");
    daemon.wait().unwrap();
    sub.wait_for(Duration::from_secs(10), "the last will", |m| {
        m.last()
            .map(|x| {
                serde_json::from_slice::<Value>(&x.payload).unwrap_or_default()["state"]
                    == "offline"
            })
            .unwrap_or(false)
    });
    let after = Subscriber::start(broker.port, &status_topic);
    let got = after.wait_for(Duration::from_secs(5), "the retained will", |m| {
        !m.is_empty()
    });
    let v: Value = serde_json::from_slice(&got[0].payload).unwrap();
    assert_eq!(
        v["state"], "offline",
        "the will replaced the retained status"
    );
}

#[test]
fn a_clean_end_publishes_offline_status() {
    let broker = Mosquitto::start();
    replay_example(
        "forest_fire_smoke.toml",
        "forest_fire_smoke",
        "forest_fire_smoke.mp4",
        &broker,
    );
    let after = Subscriber::start(broker.port, &format!("{ROOT}/status"));
    let got = after.wait_for(Duration::from_secs(5), "the retained status", |m| {
        !m.is_empty()
    });
    ApiSchemas::load().check_all(&got);
    let v: Value = serde_json::from_slice(&got[0].payload).unwrap();
    assert_eq!(v["state"], "offline");
    assert_eq!(v["cameras"][0]["state"], "ended");
}

#[test]
fn the_demo_prints_work_orders_from_real_footage() {
    let out = Command::new(lookout_bin())
        .arg("demo")
        .arg("--examples")
        .arg(repo().join("examples"))
        .output()
        .expect("run lookout demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[OPEN] fire red"), "{stdout}");
    assert!(stdout.contains("[OPEN] crowd yellow"), "{stdout}");
    // The demo records clips of the openings: their chunks reach the broker too.
    assert!(stdout.contains("/clips/opened-"), "{stdout}");
    assert!(
        stdout.contains("work-order revisions received from the broker"),
        "{stdout}"
    );
}
