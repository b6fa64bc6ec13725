//! A small disk (a 24 MiB tmpfs mounted for the test) filled by a long outage: 1,500 order
//! revisions with 60 kB photos (90 MB of photos) are raised while the broker is down. The box keeps
//! storing every order, drops the oldest photos first to keep `storage.min_free_mb`, and once the
//! broker is back delivers every revision and the newest photos. Then the real daemon runs its
//! camera on a 2 MiB disk and keeps running.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use lookout::ledger::{Ledger, MessageClass, OutMessage, SharedLedger};
use lookout::orders::WorkOrder;
use lookout::uplink::{self, BrokerAddress, Topics, Uplink, UplinkMessage};
use serde_json::Value;

/// A tmpfs of `mb` MiB, unmounted on drop.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(at: &Path, mb: u64) -> SmallDisk {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(at)
            .output()
            .expect("mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs (needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            path: at.to_owned(),
        }
    }

    fn free(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn order(i: usize) -> WorkOrder {
    serde_json::from_value(serde_json::json!({
        "schema": 1, "id": format!("019ad000-0000-7000-8000-{i:012}"), "revision": 1, "site": "demo-district",
        "box": "box-001", "camera": {"id": "cam", "name": "cam"}, "zone": null, "kind": "crowd",
        "event_code": "2101", "severity": "yellow", "state": "open", "title": "crowd",
        "opened_at": "2026-12-02T00:00:00.000Z", "updated_at": "2026-12-02T00:00:00.000Z", "count": 12,
        "objects": [], "location": {"lat": 30.0, "lon": 120.0, "accuracy_m": 40.0, "method": "camera_position"},
        "evidence": [{"name": "opened-1.jpg", "content_type": "image/jpeg", "sha256": "00", "bytes": 60000, "captured_at": "2026-12-02T00:00:00.000Z"}],
        "timeline": [{"at": "2026-12-02T00:00:00.000Z", "event": "opened", "actor": "lookout", "note": "opened"}]
    }))
    .unwrap()
}

#[test]
fn a_full_disk_costs_the_oldest_photos_never_an_order() {
    let dir = scratch_dir();
    let disk = SmallDisk::mount(&dir.path().join("state"), 24);
    let port = free_port();
    let config = lookout::config::parse(
        &format!(
            "[box]\nsite = \"demo-district\"\nid = \"box-001\"\n[uplink]\nbroker = \"mqtt://127.0.0.1:{port}\"\nkeep_alive_s = 5\n[storage]\nmin_free_mb = 4\n"
        ),
        Path::new("disk.toml"),
    )
    .unwrap();
    let mut ledger = Ledger::open(&disk.path.join("ledger.sqlite3")).unwrap();
    ledger.set_reserve(config.storage.min_free_mb << 20);
    let ledger: SharedLedger = Arc::new(Mutex::new(ledger));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let address = BrokerAddress::parse(&config.uplink.broker).unwrap();
    let up = {
        let _g = rt.enter();
        Uplink::start(
            &config,
            uplink::connect_options(&config, &address, "").unwrap(),
            ledger.clone(),
            None,
            None,
        )
    };
    let sender = up.sender();
    let topics = Topics::new("demo-district", "box-001");
    let n = 1_500;
    let mut short = 0;
    let mut min_free = u64::MAX;
    for i in 0..n {
        let o = order(i);
        let messages = vec![
            OutMessage {
                topic: topics.evidence(&o.id, "opened-1.jpg"),
                payload: vec![(i % 251) as u8; 60_000],
                retain: false,
                class: MessageClass::Evidence,
            },
            OutMessage {
                topic: topics.order(&o.id),
                payload: serde_json::to_vec(&o).unwrap(),
                retain: false,
                class: MessageClass::Order,
            },
        ];
        let r = lookout::ledger::lock(&ledger)
            .record(&o, &messages)
            .unwrap_or_else(|e| panic!("revision {i} not stored: {e}"));
        short += usize::from(r.disk_short);
        sender.send(UplinkMessage::Committed(Box::new(o)));
        min_free = min_free.min(disk.free());
    }
    let (orders, waiting) = {
        let l = lookout::ledger::lock(&ledger);
        (l.orders().unwrap().len(), l.outbox_len().unwrap())
    };
    eprintln!(
        "{n} revisions with 60 kB photos on a 24 MiB disk: {orders} orders stored, {waiting} messages waiting, the disk short {short} times, least free {:.1} MiB",
        min_free as f64 / 1048576.0
    );
    assert_eq!(orders, n, "every order is stored");
    assert!(short > 0, "the disk did run short");
    assert!(
        min_free >= 2 << 20,
        "the reserve held (free space never under half of min_free_mb): {min_free}"
    );
    // The broker comes back: every order, and the newest photos, arrive. The ledger stays
    // locked until the subscriber is subscribed: the uplink, retrying, may connect first, but
    // it reads the outbox under that lock, so nothing goes out before anyone listens.
    let (_broker, sub) = {
        let _no_publishing_yet = lookout::ledger::lock(&ledger);
        let broker = Mosquitto::start_on(port);
        let sub = Subscriber::start(broker.port, "lookout/v1/demo-district/box-001/orders/#");
        (broker, sub)
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while lookout::ledger::lock(&ledger).outbox_len().unwrap() > 0 {
        assert!(Instant::now() < deadline, "the outbox did not drain");
        std::thread::sleep(Duration::from_millis(100));
    }
    let msgs = sub.wait_for(Duration::from_secs(30), "every order document", |m| {
        m.iter()
            .filter(|r| !r.topic.contains("/evidence/"))
            .filter_map(|r| serde_json::from_slice::<Value>(&r.payload).ok())
            .map(|v| v["id"].as_str().unwrap_or_default().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == n
    });
    let photos: Vec<usize> = msgs
        .iter()
        .filter(|r| r.topic.contains("/evidence/"))
        .filter_map(|r| r.topic.split('/').nth(5))
        .filter_map(|id| id.rsplit('-').next()?.parse().ok())
        .collect();
    assert!(!photos.is_empty(), "photos came through");
    assert!(photos.len() < n, "some photos had to go");
    let oldest_kept = *photos.iter().min().unwrap();
    assert!(
        photos.iter().all(|p| *p >= oldest_kept) && photos.contains(&(n - 1)),
        "the newest photos are kept, the oldest went"
    );
    let kept_in_order = (oldest_kept..n).filter(|p| photos.contains(p)).count();
    eprintln!(
        "delivered: {n} orders, {} photos (from order {oldest_kept} on; {kept_in_order} of the last {} kept)",
        photos.len(),
        n - oldest_kept
    );
    drop(sender);
    rt.block_on(up.finish());
}

#[test]
fn the_daemon_keeps_running_its_cameras_on_a_full_disk() {
    let dir = scratch_dir();
    let disk = SmallDisk::mount(&dir.path().join("state"), 2);
    let port = free_port();
    // No broker: everything stays in the outbox, photos and all.
    let mut cfg = std::fs::read_to_string(repo().join("examples/plaza_pedestrians.toml")).unwrap();
    cfg = cfg.replace(
        "broker = \"embedded\"",
        &format!("broker = \"mqtt://127.0.0.1:{port}\""),
    );
    cfg.push_str(&format!(
        "\n[storage]\ndir = \"{}\"\nmin_free_mb = 1\n",
        disk.path.display()
    ));
    let path = dir.path().join("plaza_pedestrians.toml");
    std::fs::write(&path, cfg).unwrap();
    let log = dir.path().join("daemon.log");
    let status = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        status.success(),
        "the run ends cleanly at the clip's end: {log_text}"
    );
    assert!(
        !log_text.contains("panicked") && !log_text.contains("NOT STORED"),
        "{log_text}"
    );
    let ledger = Ledger::open(&disk.path.join("ledger.sqlite3")).unwrap();
    assert!(
        !ledger.orders().unwrap().is_empty(),
        "the crowd order is stored"
    );
}
