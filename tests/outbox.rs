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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
