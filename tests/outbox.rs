//! Durability: orders raised while the broker is down survive in the ledger's outbox, across a
//! daemon restart, and reach the broker once it is back.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::*;
use lookout::ledger::Ledger;
use serde_json::Value;

const ROOT: &str = "lookout/v1/demo-district/box-001";

#[test]
fn orders_raised_while_the_broker_is_down_arrive_after_a_restart() {
    let dir = scratch_dir();
    let state = dir.path().join("state");
    // No broker listens on this port yet.
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let cfg = example_with_broker(dir.path(), "group_gathering.toml", &url);

    // The daemon plays the clip at its own speed (20 s), raises a crowd order, cannot deliver it,
    // and stops at the end of the file.
    let out = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state")
        .arg(&state)
        .output()
        .expect("run the daemon");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (stored, waiting) = {
        let ledger = Ledger::open(&state.join("ledger.sqlite3")).unwrap();
        (ledger.orders().unwrap(), ledger.outbox_len().unwrap())
    };
    assert!(!stored.is_empty(), "an order was accepted");
    assert!(
        waiting >= 2,
        "order and photo wait in the outbox: {waiting}"
    );

    // The broker comes back; the daemon restarts (here without cameras: it only has its outbox).
    let broker = Mosquitto::start_on(port);
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/orders/#"));
    let empty = write_config(
        dir.path(),
        "restart.toml",
        "[box]\nsite = \"demo-district\"\nid = \"box-001\"\n[uplink]\nbroker = \"{BROKER}\"\n",
        &url,
    );
    let out = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&empty)
        .arg("--state")
        .arg(&state)
        .output()
        .expect("restart the daemon");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let want: BTreeSet<(String, u64)> = stored
        .iter()
        .map(|(id, r)| (id.clone(), *r as u64))
        .collect();
    let msgs = sub.wait_for(Duration::from_secs(10), "every stored revision", |m| {
        let got: BTreeSet<(String, u64)> = m
            .iter()
            .filter(|x| !x.topic.contains("/evidence/"))
            .filter_map(|x| serde_json::from_slice::<Value>(&x.payload).ok())
            .map(|v| {
                (
                    v["id"].as_str().unwrap_or_default().to_owned(),
                    v["revision"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        want.is_subset(&got)
    });
    assert!(
        msgs.iter().any(|m| m.topic.contains("/evidence/")),
        "the photo came too"
    );
    let ledger = Ledger::open(&state.join("ledger.sqlite3")).unwrap();
    assert_eq!(
        ledger.outbox_len().unwrap(),
        0,
        "acknowledged messages leave the outbox"
    );
}

/// (order id, revision) of every order document among `messages`, in arrival order.
fn revisions_seen(messages: &[Received]) -> Vec<(String, u64, String)> {
    messages
        .iter()
        .filter(|m| m.topic.contains("/orders/") && !m.topic.contains("/evidence/"))
        .filter_map(|m| serde_json::from_slice::<Value>(&m.payload).ok())
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_owned(),
                v["revision"].as_u64().unwrap_or(0),
                v["camera"]["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every revision 1..=latest of every order in the ledger, and every photo its latest revision
/// lists, arrived at the subscriber; duplicates are identical; each camera's revisions arrived in
/// the order they were made.
fn assert_nothing_missing(ledger_path: &std::path::Path, messages: &[Received]) -> usize {
    let ledger = Ledger::open(ledger_path).unwrap();
    let stored = ledger.list(None, 100_000).unwrap();
    let mut by_key: std::collections::HashMap<(String, u64), &[u8]> = Default::default();
    for m in messages
        .iter()
        .filter(|m| m.topic.contains("/orders/") && !m.topic.contains("/evidence/"))
    {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        let key = (
            v["id"].as_str().unwrap().to_owned(),
            v["revision"].as_u64().unwrap(),
        );
        if let Some(first) = by_key.insert(key.clone(), &m.payload) {
            assert_eq!(first, &m.payload[..], "a duplicate of {key:?} differs");
        }
    }
    for order in &stored {
        for rev in 1..=order.revision as u64 {
            assert!(
                by_key.contains_key(&(order.id.clone(), rev)),
                "order {} revision {rev} (of {}) never arrived",
                order.id,
                order.revision
            );
        }
        for e in &order.evidence {
            let topic = format!("{ROOT}/orders/{}/evidence/{}", order.id, e.name);
            assert!(
                messages
                    .iter()
                    .any(|m| m.topic == topic && m.payload.len() == e.bytes),
                "photo {topic} never arrived"
            );
        }
    }
    // Per camera, the first arrival of each revision follows the order they were made in
    // (revisions of one order count up; orders of one camera in their ledger order).
    let mut seen = BTreeSet::new();
    let mut last_rev: std::collections::HashMap<String, u64> = Default::default();
    for (id, rev, _camera) in revisions_seen(messages) {
        if seen.insert((id.clone(), rev)) {
            let prev = last_rev.insert(id.clone(), rev).unwrap_or(0);
            assert!(
                rev > prev,
                "order {id}: revision {rev} arrived after {prev}"
            );
        }
    }
    stored.len()
}

fn wait_outbox_empty(ledger_path: &std::path::Path, timeout: Duration) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let n = Ledger::open(ledger_path)
            .and_then(|l| l.outbox_len())
            .unwrap_or(u64::MAX);
        if n == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox still holds {n} messages"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

struct Daemon(std::process::Child);

impl Daemon {
    fn start(config: &std::path::Path, state: &std::path::Path) -> Daemon {
        Daemon(
            Command::new(lookout_bin())
                .args(["run", "--config"])
                .arg(config)
                .arg("--state")
                .arg(state)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start the daemon"),
        )
    }
    fn kill9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        std::mem::forget(self);
    }
    fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let status = self.0.wait().expect("daemon exit");
        std::mem::forget(self);
        status
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_35_second_broker_outage_loses_nothing_and_keeps_each_cameras_order() {
    let dir = scratch_dir();
    let state = dir.path().join("state");
    let store = dir.path().join("broker-store");
    std::fs::create_dir_all(&store).unwrap();
    let port = free_port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let cfg = write_config(dir.path(), "busy.toml", BUSY_BOX, &url);
    let broker = Mosquitto::start_persistent(port, &store);
    let sub = Subscriber::start_session(port, &format!("{ROOT}/orders/#"), "centre-archive");
    let daemon = Daemon::start(&cfg, &state);
    // The broker goes down 1.5 s in, before the clips' first orders, and stays down for 35 s
    // while both cameras raise and update orders.
    std::thread::sleep(Duration::from_millis(1500));
    broker.stop();
    std::thread::sleep(Duration::from_secs(35));
    let ledger_path = state.join("ledger.sqlite3");
    let waiting = Ledger::open(&ledger_path).unwrap().outbox_len().unwrap();
    assert!(waiting >= 4, "orders piled up in the outbox: {waiting}");
    let _broker = Mosquitto::start_persistent(port, &store);
    wait_outbox_empty(&ledger_path, Duration::from_secs(40));
    let stored = Ledger::open(&ledger_path)
        .unwrap()
        .list(None, 1000)
        .unwrap();
    let want: usize = stored.iter().map(|o| o.revision as usize).sum();
    let msgs = sub.wait_for(Duration::from_secs(20), "every revision", |m| {
        revisions_seen(m)
            .into_iter()
            .map(|(id, rev, _)| (id, rev))
            .collect::<BTreeSet<_>>()
            .len()
            >= want
    });
    let orders = assert_nothing_missing(&ledger_path, &msgs);
    assert!(orders >= 3, "both clips raised orders: {orders}");
    let cameras: BTreeSet<String> = stored.iter().map(|o| o.camera.id.clone()).collect();
    assert!(cameras.len() == 2, "{cameras:?}");
    assert!(
        daemon.terminate().success(),
        "SIGTERM ends the daemon cleanly"
    );
}

#[test]
fn twenty_kill_9s_during_a_run_lose_nothing_and_never_open_a_second_order_for_one_incident() {
    let dir = scratch_dir();
    let state = dir.path().join("state");
    let broker = Mosquitto::start();
    let cfg = write_config(dir.path(), "busy.toml", BUSY_BOX, &broker.url());
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/orders/#"));
    // A fixed-seed generator: the moments vary between kills but the run is reproducible.
    let mut seed: u64 = 0x5eed_1234_abcd;
    let mut kills = Vec::new();
    for _ in 0..20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Between 2.0 and 9.0 s in: before, between and after the clips' first orders.
        let at = Duration::from_millis(2000 + (seed >> 33) % 7000);
        let daemon = Daemon::start(&cfg, &state);
        std::thread::sleep(at);
        daemon.kill9();
        kills.push(at.as_secs_f64());
    }
    // One more start, without cameras, to drain what the last kill left; it exits when done.
    let drain = write_config(
        dir.path(),
        "drain.toml",
        "[box]\nsite = \"demo-district\"\nid = \"box-001\"\n[uplink]\nbroker = \"{BROKER}\"\n",
        &broker.url(),
    );
    let out = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&drain)
        .arg("--state")
        .arg(&state)
        .output()
        .expect("drain run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ledger_path = state.join("ledger.sqlite3");
    wait_outbox_empty(&ledger_path, Duration::from_secs(5));
    let stored = Ledger::open(&ledger_path)
        .unwrap()
        .list(None, 1000)
        .unwrap();
    let want: usize = stored.iter().map(|o| o.revision as usize).sum();
    let msgs = sub.wait_for(Duration::from_secs(20), "every revision", |m| {
        revisions_seen(m)
            .into_iter()
            .map(|(id, rev, _)| (id, rev))
            .collect::<BTreeSet<_>>()
            .len()
            >= want
    });
    let orders = assert_nothing_missing(&ledger_path, &msgs);
    eprintln!("killed at {kills:?} s; {orders} orders, {want} revisions, all delivered");
    // Every restart replays the same clips: the same incidents (two crowd rules on the plaza,
    // fire and smoke in the forest) continue the orders the killed run left open, they never
    // open new ones. Without that, every kill after the first orders would add three or four.
    let ids: BTreeSet<String> = revisions_seen(&msgs)
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    assert!(
        (3..=4).contains(&ids.len()),
        "one order per incident across 20 restarts, the archive saw {} order ids",
        ids.len()
    );
    let resumed = stored
        .iter()
        .filter(|o| o.timeline.iter().any(|e| e.event == "resumed"))
        .count();
    assert!(
        resumed >= 3,
        "the incidents were continued after the kills: {resumed}"
    );
}
