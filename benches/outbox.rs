//! Outbox figures: how fast the ledger stores order revisions with their photos (one SQLite
//! transaction each, WAL, on disk), how long the uplink takes to drain a backlog of 1,000 orders
//! through a real Mosquitto after an outage, and how many bytes an order costs on disk.
//!
//! Run: cargo bench --bench outbox   (needs `mosquitto` installed: scripts/setup.sh)

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lookout::ledger::{Ledger, MessageClass, OutMessage};
use lookout::orders::WorkOrder;
use lookout::uplink::{self, BrokerAddress, Topics, Uplink};

/// A typical revision: the document (~1.5 kB) and one 60 kB photo.
const PHOTO_BYTES: usize = 60_000;

fn order(i: usize) -> WorkOrder {
    serde_json::from_value(serde_json::json!({
        "schema": 1, "id": format!("019ab3c2-5f4e-7a10-9c1d-{i:012}"), "revision": 1, "site": "demo-district",
        "box": "box-001", "camera": {"id": "cam", "name": "市民广场 Civic plaza"},
        "zone": {"id": "plaza", "name": "广场中心 plaza centre"}, "kind": "crowd", "event_code": "2101",
        "severity": "yellow", "state": "open", "title": "人员聚集 15 人：市民广场 Civic plaza 广场中心 plaza centre",
        "opened_at": "2026-11-23T04:06:35.650Z", "updated_at": "2026-11-23T04:06:35.650Z", "count": 15,
        "objects": (0..15).map(|k| serde_json::json!({"label": "person", "score": 0.8, "box": [0.1, 0.1, 0.2, 0.3], "track_id": k})).collect::<Vec<_>>(),
        "location": {"lat": 30.2712, "lon": 120.1603, "accuracy_m": 40.0, "method": "camera_position"},
        "evidence": [{"name": "opened-1.jpg", "content_type": "image/jpeg", "sha256": "d45e797bdc9f19828844b73fad3e8bef94cdd86506a5255ed471cff981e08ac7", "bytes": PHOTO_BYTES, "captured_at": "2026-11-23T04:06:35.650Z"}],
        "timeline": [{"at": "2026-11-23T04:06:35.650Z", "event": "opened", "actor": "lookout", "note": "发现人员聚集，涉及 15 个目标"}]
    }))
    .expect("order fixture")
}

fn messages(topics: &Topics, o: &WorkOrder) -> Vec<OutMessage> {
    vec![
        OutMessage {
            topic: topics.evidence(&o.id, "opened-1.jpg"),
            payload: vec![0xa5; PHOTO_BYTES],
            retain: false,
            class: MessageClass::Evidence,
        },
        OutMessage {
            topic: topics.order(&o.id),
            payload: serde_json::to_vec(o).unwrap(),
            retain: false,
            class: MessageClass::Order,
        },
    ]
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn mosquitto(port: u16, dir: &Path) -> Option<Child> {
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nmessage_size_limit 0\n"),
    )
    .ok()?;
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(child)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects speed.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 50 } else { 1000 };
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    let topics = Topics::new("demo-district", "box-001");
    let mut ledger = Ledger::open(&state.join("ledger.sqlite3")).expect("ledger");
    let empty = dir_bytes(&state);
    let t0 = Instant::now();
    for i in 0..n {
        let o = order(i);
        ledger.record(&o, &messages(&topics, &o)).expect("record");
    }
    let store = t0.elapsed();
    let full = dir_bytes(&state);
    println!(
        "outbox/store: {n} revisions (document + {} kB photo, one transaction each) in {:.2} s: {:.0} revisions/s, {:.0} messages/s",
        PHOTO_BYTES / 1000,
        store.as_secs_f64(),
        n as f64 / store.as_secs_f64(),
        2.0 * n as f64 / store.as_secs_f64()
    );
    println!(
        "outbox/disk: {:.1} kB per waiting order (document + photo in the outbox, order row)",
        (full - empty) as f64 / n as f64 / 1000.0
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let Some(mut broker) = mosquitto(port, dir.path()) else {
        println!("outbox/drain: skipped (mosquitto not installed)");
        return;
    };
    let config = lookout::config::parse(
        &format!("[box]\nsite = \"demo-district\"\nid = \"box-001\"\n[uplink]\nbroker = \"mqtt://127.0.0.1:{port}\"\n"),
        Path::new("bench.toml"),
    )
    .expect("config");
    let address = BrokerAddress::parse(&config.uplink.broker).unwrap();
    let options = uplink::connect_options(&config, &address, "-bench").unwrap();
    let shared = Arc::new(Mutex::new(ledger));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let up = {
        let _g = rt.enter();
        Uplink::start(&config, options, shared.clone(), None, None)
    };
    loop {
        let left = lookout::ledger::lock(&shared).outbox_len().unwrap();
        if left == 0 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "drain stalled with {left} left"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let drain = t0.elapsed();
    println!(
        "outbox/drain: backlog of {n} orders ({} messages, {:.1} MB) delivered and acknowledged by Mosquitto in {:.2} s ({:.0} messages/s), from connect",
        2 * n,
        (n * (PHOTO_BYTES + 1500)) as f64 / 1e6,
        drain.as_secs_f64(),
        2.0 * n as f64 / drain.as_secs_f64()
    );
    rt.block_on(up.finish());
    let _ = broker.kill();
    let _ = broker.wait();
}
