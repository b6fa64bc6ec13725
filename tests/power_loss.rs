//! Power cuts: the daemon runs under an LD_PRELOAD shim (`power_loss/fsync_snapshot.c`) that
//! copies the ledger's files at every fsync, so the copy is what a disk holds after a power cut
//! at any moment — what was synced, nothing since. Five times, the daemon is killed (-9) at a
//! random moment and restarted from that copy, as a box would boot; every order revision the
//! archiving subscriber had received by then must be in the copy. (Why a shim and not a copy of
//! the live files: a copy taken mid-write holds the page cache, which a power cut loses; why not
//! dm-flakey: it needs a block device and root on the test machine.)

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use lookout::ledger::Ledger;
use serde_json::Value;

const ROOT: &str = "lookout/v1/demo-district/box-001";

const FILES: [&str; 2] = ["ledger.sqlite3", "ledger.sqlite3-wal"];

fn build_shim(dir: &Path) -> std::path::PathBuf {
    let so = dir.join("fsync_snapshot.so");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&so)
        .arg(repo().join("tests/power_loss/fsync_snapshot.c"))
        .arg("-ldl")
        .arg("-lpthread")
        .output()
        .expect("a C compiler (cc)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    so
}

/// (id, revision) of the order documents among `messages`.
fn told(messages: &[Received]) -> BTreeSet<(String, u32)> {
    messages
        .iter()
        .filter(|m| m.topic.contains("/orders/") && !m.topic.contains("/evidence/"))
        .filter_map(|m| serde_json::from_slice::<Value>(&m.payload).ok())
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_owned(),
                v["revision"].as_u64().unwrap_or(0) as u32,
            )
        })
        .collect()
}

/// Every revision the ledger in `state` holds, read from a copy (opening the files themselves
/// would checkpoint them, and the next boot must start from exactly what the disk kept).
fn stored(state: &Path) -> BTreeSet<(String, u32)> {
    let copy = tempfile::tempdir().unwrap();
    for f in FILES {
        if state.join(f).exists() {
            std::fs::copy(state.join(f), copy.path().join(f)).unwrap();
        }
    }
    let ledger =
        Ledger::open(&copy.path().join("ledger.sqlite3")).expect("the ledger opens after the cut");
    let mut all = BTreeSet::new();
    for (id, _) in ledger.orders().unwrap() {
        for r in ledger.revisions(&id).unwrap() {
            all.insert((r.id.clone(), r.revision));
        }
    }
    all
}

#[test]
fn power_cuts_lose_nothing_the_centre_was_told() {
    let dir = scratch_dir();
    let shim = build_shim(dir.path());
    let state = dir.path().join("state");
    let disk = dir.path().join("disk");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&disk).unwrap();
    let broker = Mosquitto::start();
    let cfg = write_config(dir.path(), "box.toml", BUSY_BOX, &broker.url());
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/orders/#"));
    let mut seed: u64 = 0x0b0b_cafe;
    let mut checked = 0;
    for cut in 0..5 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = Duration::from_millis(3000 + (seed >> 33) % 6000);
        let mut daemon = Command::new(lookout_bin())
            .args(["run", "--config"])
            .arg(&cfg)
            .arg("--state")
            .arg(&state)
            .env("LD_PRELOAD", &shim)
            .env("LOOKOUT_SNAPSHOT_DIR", &disk)
            .env("LOOKOUT_SNAPSHOT_SUFFIXES", FILES.join(","))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(at);
        let _ = daemon.kill();
        let _ = daemon.wait();
        // What reached the centre: anything still on its way was sent before the cut.
        std::thread::sleep(Duration::from_millis(500));
        let told = told(&sub.snapshot());
        // The box boots from what the disk kept.
        for f in FILES.iter().chain(&["ledger.sqlite3-shm"]) {
            let _ = std::fs::remove_file(state.join(f));
        }
        for f in FILES {
            if disk.join(f).exists() {
                std::fs::copy(disk.join(f), state.join(f)).unwrap();
            }
        }
        let kept = stored(&state);
        let lost: Vec<_> = told.difference(&kept).collect();
        eprintln!(
            "cut {cut} at {:.1} s: the centre had {} revisions, the disk kept {}",
            at.as_secs_f64(),
            told.len(),
            kept.len()
        );
        assert!(
            lost.is_empty(),
            "told the centre but lost in the power cut: {lost:?}"
        );
        checked = told.len();
    }
    assert!(
        checked >= 3,
        "orders were raised and told between the cuts: {checked}"
    );
}
