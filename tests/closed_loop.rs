//! The closed loop on real footage against a real Mosquitto: the daemon (`lookout run`) plays a
//! clip at its own speed, raises an order; the test acts as the command centre with the CLI
//! (`lookout orders dispatch|handled`); the box re-checks through the camera and closes the order
//! with an after-photo, or reopens and escalates it. Every message is checked against the
//! published JSON Schemas.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;
use lookout::orders::WorkOrder;

const SITE: &str = "demo-district";
const BOX: &str = "box-001";
const ROOT: &str = "lookout/v1/demo-district/box-001";

/// A copy of an example with its broker replaced and a second camera that never answers: it stays
/// in back-off and keeps the daemon running after the clip ends, like a real box.
fn example_kept_alive(dir: &Path, example: &str, broker: &str) -> std::path::PathBuf {
    let cfg = example_with_broker(dir, example, broker);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(
        "\n[[cameras]]\nid = \"spare\"\nsource = \"rtsp://127.0.0.1:9/none\"\nmodels = [\"yolox_nano_coco\"]\nlocation = { lat = 30.0, lon = 120.0 }\n",
    );
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn orders_cli(args: &[&str], broker: &Mosquitto) -> Output {
    Command::new(lookout_bin())
        .arg("orders")
        .args(args)
        .args(["--broker", &broker.url(), "--site", SITE, "--box", BOX])
        .output()
        .expect("run lookout orders")
}

fn revisions(messages: &[Received], id: &str) -> Vec<WorkOrder> {
    let topic = format!("{ROOT}/orders/{id}");
    messages
        .iter()
        .filter(|m| m.topic == topic)
        .map(|m| serde_json::from_slice(&m.payload).expect("order JSON"))
        .collect()
}

fn latest(messages: &[Received], id: &str) -> Option<WorkOrder> {
    revisions(messages, id)
        .into_iter()
        .max_by_key(|o| o.revision)
}

fn first_order(messages: &[Received]) -> Option<WorkOrder> {
    messages
        .iter()
        .find(|m| m.topic.split('/').count() == 6 && m.topic.contains("/orders/"))
        .map(|m| serde_json::from_slice(&m.payload).expect("order JSON"))
}

fn succeed(out: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs one loop: waits for the clip's first order, dispatches it, reports it handled with a
/// re-check of `window` seconds, and returns the order's final revision and every message.
fn run_loop(
    example: &str,
    window: &str,
    wait_for_order: Duration,
    extra_config: &str,
) -> (WorkOrder, Running, tempfile::TempDir) {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let cfg = example_kept_alive(dir.path(), example, &broker.url());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(extra_config);
    std::fs::write(&cfg, text).unwrap();
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let _daemon = Daemon::start(&cfg, &dir.path().join("state"), None);
    let msgs = sub.wait_for(wait_for_order, "the first order", |m| {
        first_order(m).is_some()
    });
    let order = first_order(&msgs).unwrap();
    let out = succeed(
        orders_cli(
            &[
                "dispatch",
                &order.id,
                "--team",
                "城管一队",
                "--actor",
                "dispatcher",
            ],
            &broker,
        ),
        "dispatch",
    );
    assert!(out.contains("ok, now dispatched"), "{out}");
    let out = succeed(
        orders_cli(
            &[
                "handled",
                &order.id,
                "--window",
                window,
                "--photo",
                "https://centre.example/p/1.jpg",
                "--actor",
                "城管一队",
            ],
            &broker,
        ),
        "handled",
    );
    assert!(out.contains("ok, now verifying"), "{out}");
    let msgs = sub.wait_for(Duration::from_secs(60), "the re-check verdict", |m| {
        latest(m, &order.id).is_some_and(|o| {
            o.verification
                .as_ref()
                .is_some_and(|v| v.finished_at.is_some())
        })
    });
    let done = revisions(&msgs, &order.id)
        .into_iter()
        .filter(|o| {
            o.verification
                .as_ref()
                .is_some_and(|v| v.finished_at.is_some())
        })
        .min_by_key(|o| o.revision)
        .unwrap();
    let running = Running {
        sub,
        _daemon,
        _broker: broker,
    };
    (done, running, dir)
}

/// The loop's daemon and broker, kept while the test looks at what follows the verdict.
struct Running {
    sub: Subscriber,
    _daemon: Daemon,
    _broker: Mosquitto,
}

fn assert_after_photo(order: &WorkOrder, msgs: &[Received]) {
    let photo = order
        .evidence
        .iter()
        .find(|e| e.name.starts_with("verified-"))
        .expect("an after-photo in the evidence");
    assert_eq!(
        photo.before.as_deref(),
        Some(order.evidence[0].name.as_str()),
        "the after-photo pairs with the opening photo"
    );
    assert!(order.evidence[0].name.starts_with("opened-"));
    let topic = format!("{ROOT}/orders/{}/evidence/{}", order.id, photo.name);
    let bytes = &msgs
        .iter()
        .find(|m| m.topic == topic)
        .expect("the after-photo was published")
        .payload;
    assert_eq!(bytes.len(), photo.bytes);
    let img = image::load_from_memory(bytes).expect("a real JPEG");
    assert!(img.width() >= 320, "a full frame, not a thumbnail");
}

#[test]
fn handled_after_the_person_left_closes_the_order_with_an_after_photo() {
    // indoor_walkers: a person stands in the corridor from about 24 s and leaves at about 44 s;
    // the order opens at 43.7 s (20 s dwell). The centre dispatches and reports it handled at
    // once; the 5 s re-check sees an empty corridor.
    let (order, running, dir) = run_loop(
        "indoor_walkers_persons.toml",
        "5",
        Duration::from_secs(120),
        "",
    );
    let msgs = running.sub.snapshot();
    let v = order.verification.as_ref().unwrap();
    assert_eq!(
        order.state,
        lookout::orders::OrderState::Closed,
        "timeline: {:#?}",
        order.timeline
    );
    assert_eq!(v.status, lookout::orders::VerificationStatus::Cleared);
    assert!(v.present_ratio.unwrap() < 0.5);
    let events: Vec<&str> = order.timeline.iter().map(|e| e.event.as_str()).collect();
    for step in ["opened", "dispatch", "handled", "verify", "verified_gone"] {
        assert!(events.contains(&step), "{step} in {events:?}");
    }
    let handled = order
        .timeline
        .iter()
        .find(|e| e.event == "handled")
        .unwrap();
    assert_eq!(handled.actor, "城管一队");
    assert_eq!(
        handled.photo.as_deref(),
        Some("https://centre.example/p/1.jpg")
    );
    assert_eq!(order.dispatch.as_ref().unwrap().team, "城管一队");
    assert_after_photo(&order, &msgs);
    let checked = ApiSchemas::load().check_all(&msgs);
    assert!(checked > 8, "{checked} messages checked");
    // The ledger says the same, through the CLI.
    let state = dir.path().join("state");
    let list = |args: &[&str]| {
        let out = Command::new(lookout_bin())
            .args(["orders", "list", "--state-dir"])
            .arg(&state)
            .args(args)
            .output()
            .unwrap();
        succeed(out, "orders list")
    };
    assert!(list(&["--in", "closed"]).contains(&order.id));
    assert!(!list(&["--in", "open"]).contains(&order.id));
    let stored: WorkOrder =
        serde_json::from_str(list(&["--json", "--in", "closed"]).lines().next().unwrap()).unwrap();
    assert_eq!(stored, order, "the ledger holds what was published last");
    let show = succeed(
        Command::new(lookout_bin())
            .args(["orders", "show", &order.id, "--state-dir"])
            .arg(&state)
            .output()
            .unwrap(),
        "orders show",
    );
    for line in [
        "state     closed",
        "team      城管一队",
        "verified_gone",
        "verified-",
    ] {
        assert!(show.contains(line), "{line:?} in\n{show}");
    }
}

#[test]
fn handled_while_the_crowd_is_still_there_reopens_and_escalates() {
    // plaza_pedestrians: a crowd of 10+ from the start; the order opens at about 3 s and the
    // crowd is still there during the 4 s re-check.
    // With clips, of the opening and of the verdict.
    let (order, running, _dir) = run_loop(
        "plaza_pedestrians.toml",
        "4",
        Duration::from_secs(60),
        "\n[evidence]\nclip_pre_s = 2.0\nclip_post_s = 2.0\nclip_verify = true\n",
    );
    let msgs = running.sub.snapshot();
    assert_eq!(
        order.state,
        lookout::orders::OrderState::Reopened,
        "timeline: {:#?}",
        order.timeline
    );
    let opened = revisions(&msgs, &order.id)
        .into_iter()
        .min_by_key(|o| o.revision)
        .unwrap();
    assert!(
        order.severity > opened.severity,
        "escalated from {:?} to {:?}",
        opened.severity,
        order.severity
    );
    assert!(order.verification.as_ref().unwrap().present_ratio.unwrap() >= 0.5);
    assert_after_photo(&order, &msgs);
    // The verdict's clip follows: the seconds the camera saw before it decided, paired with the
    // opening's clip, every chunk published.
    let msgs = running
        .sub
        .wait_for(Duration::from_secs(30), "the verdict's clip", |m| {
            latest(m, &order.id).is_some_and(|o| {
                o.evidence.iter().any(|e| {
                    e.name.starts_with("verified-")
                        && e.name.ends_with(".mp4")
                        && (0..e.chunks.unwrap_or(1)).all(|i| {
                            let t = format!("{ROOT}/orders/{}/clips/{}/{i}", o.id, e.name);
                            m.iter().any(|x| x.topic == t)
                        })
                })
            })
        });
    let last = latest(&msgs, &order.id).unwrap();
    let opening = last
        .evidence
        .iter()
        .find(|e| e.name.starts_with("opened-") && e.name.ends_with(".mp4"))
        .expect("the opening's clip");
    let verdict = last
        .evidence
        .iter()
        .find(|e| e.name.starts_with("verified-") && e.name.ends_with(".mp4"))
        .unwrap();
    assert_eq!(verdict.before.as_deref(), Some(opening.name.as_str()));
    // pre + post = 4 s before the verdict, from the keyframe before: it ends at the verdict.
    let d = verdict.duration_s.unwrap();
    assert!(d >= 3.8, "the verdict's clip lasts {d} s");
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    let ends = time(&verdict.captured_at) + chrono::Duration::milliseconds((d * 1000.0) as i64);
    let decided = time(
        order
            .verification
            .as_ref()
            .unwrap()
            .finished_at
            .as_deref()
            .unwrap(),
    );
    assert!(
        (ends - decided).num_milliseconds().abs() <= 500,
        "the clip ends at {ends}, the verdict came at {decided}"
    );
    assert_eq!(last.state, lookout::orders::OrderState::Reopened);
    ApiSchemas::load().check_all(&msgs);
}

#[test]
fn hostile_commands_get_one_error_result_each_and_the_daemon_keeps_working() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let cfg = example_kept_alive(dir.path(), "group_gathering.toml", &broker.url());
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let photos = dir.path().join("photos");
    let watch = Command::new(lookout_bin())
        .args([
            "orders",
            "watch",
            "--broker",
            &broker.url(),
            "--count",
            "1",
            "--timeout",
            "120",
            "--photos",
        ])
        .arg(&photos)
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch");
    let mut daemon = Daemon::start(&cfg, &dir.path().join("state"), None);
    // The box subscribes to its commands before it announces itself online.
    sub.wait_for(Duration::from_secs(30), "online status", |m| {
        m.iter().any(|x| {
            x.topic.ends_with("/status")
                && String::from_utf8_lossy(&x.payload).contains("\"online\"")
        })
    });
    let cmd = |verb: &str, body: &[u8]| publish(broker.port, &format!("{ROOT}/cmd/{verb}"), body);
    cmd("dispatch", b"{not json");
    cmd(
        "dispatch",
        br#"{"request_id":"h1","order_id":"nope","actor":"x","team":"t"}"#,
    );
    cmd(
        "explode",
        br#"{"request_id":"h2","order_id":"o","actor":"x"}"#,
    );
    cmd(
        "close",
        br#"{"request_id":"h3","order_id":"o","actor":"x","box":"box-999"}"#,
    );
    let mut huge = br#"{"request_id":"h4","order_id":"o","actor":"x","note":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 70_000));
    huge.extend(br#""}"#);
    cmd("close", &huge);
    cmd("cancel", br#"{"request_id":"h5","order_id":5,"actor":"x"}"#);
    cmd(
        "cancel",
        br#"{"request_id":"h6","order_id":"o","actor":"x","extra":{"a":[1,2]}}"#,
    );
    cmd(
        "dispatch",
        br#"{"request_id":"h1","order_id":"nope","actor":"x","team":"t"}"#,
    );
    let code_of = |m: &[Received], id: &str| -> Vec<String> {
        m.iter()
            .filter(|x| x.topic == format!("{ROOT}/cmd-result/{id}"))
            .map(|x| {
                let v: serde_json::Value = serde_json::from_slice(&x.payload).unwrap();
                v["error"]["code"].as_str().unwrap_or("ok").to_owned()
            })
            .collect()
    };
    let msgs = sub.wait_for(Duration::from_secs(20), "every result", |m| {
        code_of(m, "h1").len() == 2
            && code_of(m, "_invalid").len() == 2
            && ["h2", "h3", "h5", "h6"]
                .iter()
                .all(|id| code_of(m, id).len() == 1)
    });
    assert_eq!(
        code_of(&msgs, "h1"),
        ["unknown_order", "unknown_order"],
        "a repeat gets the same answer"
    );
    assert_eq!(code_of(&msgs, "h2"), ["unknown_verb"]);
    assert_eq!(code_of(&msgs, "h3"), ["wrong_box"]);
    assert_eq!(code_of(&msgs, "h5"), ["invalid_field"]);
    assert_eq!(code_of(&msgs, "h6"), ["invalid_field"]);
    let mut invalid = code_of(&msgs, "_invalid");
    invalid.sort();
    assert_eq!(invalid, ["malformed_json", "too_large"]);
    // Still working: the clip's crowd order arrives, and the CLI's own commands work on it.
    let msgs = sub.wait_for(Duration::from_secs(60), "the crowd order", |m| {
        first_order(m).is_some()
    });
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the daemon is still running"
    );
    let order = first_order(&msgs).unwrap();
    // `watch` (all sites and boxes) printed it and saved its photo.
    let watched = watch.wait_with_output().unwrap();
    let printed = String::from_utf8_lossy(&watched.stdout);
    assert!(
        watched.status.success() && printed.contains(&order.id),
        "{printed}"
    );
    let saved = photos.join(&order.id).join("opened-1.jpg");
    image::open(&saved).unwrap_or_else(|e| panic!("{}: {e}", saved.display()));
    let out = orders_cli(&["close", &order.id, "--actor", "x"], &broker);
    assert_eq!(
        out.status.code(),
        Some(1),
        "closing an open order is refused"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("illegal_transition") && err.contains("cancel a false alarm"),
        "{err}"
    );
    let out = succeed(
        orders_cli(
            &[
                "cancel",
                &order.id,
                "--note",
                "a tour group, not a gathering",
            ],
            &broker,
        ),
        "cancel",
    );
    assert!(out.contains("now cancelled"), "{out}");
    // What the box sent (not the test's own hostile commands) matches the schemas.
    let sent: Vec<Received> = sub
        .snapshot()
        .into_iter()
        .filter(|m| !m.topic.contains("/cmd/"))
        .collect();
    ApiSchemas::load().check_all(&sent);
}
