//! The uplink under real link faults, against a real Mosquitto: a broker down for ten minutes, a
//! flapping 4G-like link (resets, each direction black-holed, half-closes) while orders are
//! raised, and a message bigger than the broker takes. An archiving subscriber connected to the
//! broker directly (not through the faulty link) is the judge: every `(id, revision)` the ledger
//! holds must reach it, each camera's revisions in the order they were made.
//!
//! The box side runs in-process (ledger + uplink, as `lookout run` wires them) so the test can
//! raise orders at a known rate and compare with exactly what was committed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::proxy::{Fault, Proxy};
use common::*;
use lookout::ledger::{Ledger, MessageClass, OutMessage, SharedLedger};
use lookout::orders::WorkOrder;
use lookout::uplink::{self, BrokerAddress, Topics, Uplink, UplinkMessage, UplinkSender};
use serde_json::Value;

const ROOT: &str = "lookout/v1/demo-district/box-001";
const CAMERAS: [&str; 4] = ["gate", "plaza", "river", "market"];

/// How long the outage and the flapping last: ten minutes (the figure); shorter with
/// `LOOKOUT_FAULT_SPAN_S` while working on this file.
fn span() -> Duration {
    let s = std::env::var("LOOKOUT_FAULT_SPAN_S")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    Duration::from_secs(s)
}

fn order(id: &str, revision: u32, camera: &str) -> WorkOrder {
    serde_json::from_value(serde_json::json!({
        "schema": 1, "id": id, "revision": revision, "site": "demo-district",
        "box": "box-001", "camera": {"id": camera, "name": camera},
        "zone": null, "kind": "crowd", "event_code": "2101",
        "severity": "yellow", "state": "open", "title": format!("crowd {id} r{revision}"),
        "opened_at": "2026-12-02T04:06:35.650Z", "updated_at": "2026-12-02T04:06:35.650Z", "count": 12,
        "objects": [], "location": {"lat": 30.2712, "lon": 120.1603, "accuracy_m": 40.0, "method": "camera_position"},
        "evidence": [], "timeline": [{"at": "2026-12-02T04:06:35.650Z", "event": "opened", "actor": "lookout", "note": "opened"}]
    }))
    .expect("order fixture")
}

/// The box side: a ledger on disk and the uplink task, wired as the daemon wires them.
struct BoxSide {
    ledger: SharedLedger,
    sender: Option<UplinkSender>,
    uplink: Option<Uplink>,
    runtime: tokio::runtime::Runtime,
    topics: Topics,
    /// Every revision committed, in commit order.
    committed: Vec<(String, u32, String)>,
}

impl BoxSide {
    fn start(dir: &Path, broker_port: u16, extra_uplink: &str) -> BoxSide {
        let config = lookout::config::parse(
            &format!(
                "[box]\nsite = \"demo-district\"\nid = \"box-001\"\n[uplink]\nbroker = \"mqtt://127.0.0.1:{broker_port}\"\nkeep_alive_s = 5\nstatus_interval_s = 2\n{extra_uplink}"
            ),
            Path::new("faults.toml"),
        )
        .expect("config");
        let ledger = Ledger::open(&dir.join("ledger.sqlite3")).expect("ledger");
        let ledger: SharedLedger = Arc::new(Mutex::new(ledger));
        let address = BrokerAddress::parse(&config.uplink.broker).unwrap();
        let options = uplink::connect_options(&config, &address, "").unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let up = {
            let _g = runtime.enter();
            Uplink::start(&config, options, ledger.clone(), None, None)
        };
        BoxSide {
            ledger,
            sender: Some(up.sender()),
            uplink: Some(up),
            runtime,
            topics: Topics::new("demo-district", "box-001"),
            committed: Vec::new(),
        }
    }

    /// Commits one revision (with a small photo on new orders) and tells the uplink.
    fn raise(&mut self, id: &str, revision: u32, camera: &str, photo_bytes: usize) {
        let o = order(id, revision, camera);
        let mut messages = Vec::new();
        if photo_bytes > 0 {
            messages.push(OutMessage {
                topic: self.topics.evidence(id, &format!("r{revision}.jpg")),
                payload: vec![0xa5; photo_bytes],
                retain: false,
                class: MessageClass::Evidence,
            });
        }
        messages.push(OutMessage {
            topic: self.topics.order(id),
            payload: serde_json::to_vec(&o).unwrap(),
            retain: false,
            class: MessageClass::Order,
        });
        lookout::ledger::lock(&self.ledger)
            .record(&o, &messages)
            .expect("record");
        self.committed
            .push((id.to_owned(), revision, camera.to_owned()));
        self.sender
            .as_ref()
            .unwrap()
            .send(UplinkMessage::Committed(Box::new(o)));
    }

    /// Raises `n` revisions over `span`, spread over the cameras: each camera's orders get a
    /// few revisions before a new order starts. `during` runs between raises (faults).
    fn raise_over(&mut self, n: usize, span: Duration, mut during: impl FnMut(Duration)) {
        let start = Instant::now();
        let mut next_rev: BTreeMap<&str, (usize, u32)> = BTreeMap::new();
        for i in 0..n {
            let camera = CAMERAS[i % CAMERAS.len()];
            let (order_no, rev) = next_rev.entry(camera).or_insert((0, 0));
            *rev += 1;
            if *rev > 3 {
                *order_no += 1;
                *rev = 1;
            }
            let id = format!("{camera}-{order_no:04}");
            let photo = if *rev == 1 { 2_000 } else { 0 };
            let rev = *rev;
            self.raise(&id, rev, camera, photo);
            let due = span.mul_f64((i + 1) as f64 / n as f64);
            while start.elapsed() < due {
                during(start.elapsed());
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    fn outbox_len(&self) -> u64 {
        lookout::ledger::lock(&self.ledger).outbox_len().unwrap()
    }

    fn stop(mut self) {
        self.sender.take();
        if let Some(up) = self.uplink.take() {
            self.runtime.block_on(up.finish());
        }
    }
}

/// `(id, revision)` of every order document the subscriber got, in first-receipt order, per camera.
fn received_per_camera(messages: &[Received]) -> BTreeMap<String, Vec<(String, u32)>> {
    let mut seen = BTreeSet::new();
    let mut per_camera: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for m in messages
        .iter()
        .filter(|m| m.topic.contains("/orders/") && !m.topic.contains("/evidence/"))
    {
        let Ok(v) = serde_json::from_slice::<Value>(&m.payload) else {
            continue;
        };
        let key = (
            v["id"].as_str().unwrap_or_default().to_owned(),
            v["revision"].as_u64().unwrap_or(0) as u32,
        );
        if seen.insert(key.clone()) {
            per_camera
                .entry(v["camera"]["id"].as_str().unwrap_or_default().to_owned())
                .or_default()
                .push(key);
        }
    }
    per_camera
}

/// Waits until the subscriber has every committed revision, then checks each camera's order.
fn assert_everything_arrived(sub: &Subscriber, b: &BoxSide, within: Duration) -> Duration {
    let t0 = Instant::now();
    let mut want: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for (id, rev, cam) in &b.committed {
        want.entry(cam.clone())
            .or_default()
            .push((id.clone(), *rev));
    }
    // The ledger is the other side of the claim: what it holds is what was committed.
    {
        let ledger = lookout::ledger::lock(&b.ledger);
        let stored: usize = ledger
            .orders()
            .unwrap()
            .iter()
            .map(|(id, _)| ledger.revisions(id).unwrap().len())
            .sum();
        assert_eq!(stored, b.committed.len(), "the ledger holds every revision");
    }
    let total = b.committed.len();
    let msgs = sub.wait_for(within, "every committed revision", |m| {
        received_per_camera(m).values().map(Vec::len).sum::<usize>() >= total
    });
    let got = received_per_camera(&msgs);
    assert_eq!(got, want, "each camera's revisions arrive, in commit order");
    t0.elapsed()
}

#[test]
fn a_ten_minute_broker_outage_loses_nothing_and_keeps_each_cameras_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // No broker yet: the box starts into the outage.
    let mut b = BoxSide::start(dir.path(), port, "");
    b.raise_over(200, span(), |_| {});
    let photos = b.committed.iter().filter(|(_, rev, _)| *rev == 1).count() as u64;
    assert_eq!(
        b.outbox_len(),
        200 + photos,
        "every revision and photo waits"
    );
    let broker = Mosquitto::start_on(port);
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/orders/#"));
    let delivered = assert_everything_arrived(&sub, &b, Duration::from_secs(60));
    eprintln!(
        "broker back after {:.0} s: 200 revisions + {photos} photos delivered {:.1} s after it started",
        span().as_secs_f64(),
        delivered.as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while b.outbox_len() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(b.outbox_len(), 0, "acknowledged messages leave the outbox");
    b.stop();
}

#[test]
fn a_flapping_link_loses_no_revision_in_ten_minutes_of_faults() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/orders/#"));
    let proxy = Proxy::start(broker.port);
    let mut b = BoxSide::start(dir.path(), proxy.port, "");
    // A fixed cycle of faults, each held a few seconds, with a few seconds of good link between:
    // long enough for the box to reconnect and move some messages, short enough for many faults.
    let faults = [
        Fault::Reset,
        Fault::BlackholeUp,
        Fault::HalfCloseDown,
        Fault::BlackholeDown,
        Fault::Reset,
        Fault::HalfCloseUp,
    ];
    let mut applied = 0usize;
    let mut next_at = Duration::from_secs(3);
    let mut fault_on = false;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |lo: u64, hi: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        Duration::from_millis(lo + rng % (hi - lo))
    };
    b.raise_over(200, span(), |t| {
        if t < next_at {
            return;
        }
        if fault_on {
            proxy.set(Fault::Pass);
            fault_on = false;
            next_at = t + next(1_000, 6_000);
        } else {
            proxy.set(faults[applied % faults.len()]);
            applied += 1;
            fault_on = true;
            // A black-holed connection stays dead after the phase, until the keep-alive (5 s)
            // notices it.
            next_at = t + next(1_000, 9_000);
        }
    });
    proxy.set(Fault::Pass);
    let delivered = assert_everything_arrived(&sub, &b, Duration::from_secs(120));
    eprintln!(
        "flapping link: {applied} faults, {} connections, 200 revisions; the last delivered {:.1} s after the link settled",
        proxy.connections(),
        delivered.as_secs_f64()
    );
    assert!(
        applied as f64 >= span().as_secs_f64() / 10.0,
        "{applied} faults"
    );
    b.stop();
}

#[test]
fn a_message_bigger_than_the_broker_takes_is_set_aside_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let mut b = BoxSide::start(dir.path(), broker.port, "max_message_kb = 64\n");
    // The photo of this revision is 100 kB: over the limit.
    b.raise("big-0001", 1, "gate", 100_000);
    for i in 0..5 {
        b.raise(&format!("small-{i:04}"), 1, "plaza", 1_000);
    }
    let msgs = sub.wait_for(
        Duration::from_secs(20),
        "the orders behind the big photo, and a status that reports it",
        |m| {
            let docs = received_per_camera(m).values().map(Vec::len).sum::<usize>();
            let reported = m.iter().any(|x| {
                x.topic.ends_with("/status")
                    && serde_json::from_slice::<Value>(&x.payload)
                        .is_ok_and(|v| v["set_aside"] == 1)
            });
            docs == 6 && reported
        },
    );
    let last_status = msgs
        .iter()
        .rev()
        .find(|m| m.topic.ends_with("/status"))
        .unwrap();
    ApiSchemas::load().check(last_status);
    assert!(
        !msgs
            .iter()
            .any(|m| m.topic.ends_with("/evidence/r1.jpg") && m.topic.contains("big-0001")),
        "the big photo is not sent"
    );
    assert_eq!(
        msgs.iter()
            .filter(|m| m.topic.contains("/evidence/") && m.topic.contains("small-"))
            .count(),
        5,
        "the small photos behind it are"
    );
    let aside = lookout::ledger::lock(&b.ledger)
        .set_aside_messages()
        .unwrap();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].0.contains("big-0001"), "{aside:?}");
    assert!(aside[0].2.contains("max_message_kb"), "{aside:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.outbox_len() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(b.outbox_len(), 0, "nothing else is left waiting");
    b.stop();
}
