//! The daemon under the system-call filter of `systemd/lookout.service`, without systemd (test
//! machines have none running): the unit's `SystemCallFilter=` lines are expanded with
//! `systemd-analyze syscall-filter` into the exact list systemd would allow, its
//! `RestrictAddressFamilies=` into socket families, and `tests/unit_sandbox/seccomp_exec.py`
//! loads that filter through libseccomp (EPERM for everything else, as
//! `SystemCallErrorNumber=EPERM`) before it execs `lookout run`. The run must do what it does
//! unfiltered: decode a clip, run the model, raise the crowd order and publish it, exit 0.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// The members of a systemd system-call group, nested groups expanded.
fn expand(group: &str, seen: &mut BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if !seen.insert(group.to_owned()) {
        return out;
    }
    let text = Command::new("systemd-analyze")
        .args(["syscall-filter", group])
        .output()
        .expect("systemd-analyze (scripts/setup.sh installs systemd)");
    assert!(
        text.status.success(),
        "systemd-analyze syscall-filter {group}"
    );
    for line in String::from_utf8_lossy(&text.stdout).lines() {
        if !line.starts_with("    ") {
            continue;
        }
        let item = line.trim();
        if item.is_empty() || item.starts_with('#') {
            continue;
        }
        if item.starts_with('@') {
            out.extend(expand(item, seen));
        } else {
            out.insert(item.to_owned());
        }
    }
    out
}

fn entries(item: &str) -> BTreeSet<String> {
    if item.starts_with('@') {
        expand(item, &mut BTreeSet::new())
    } else {
        BTreeSet::from([item.to_owned()])
    }
}

/// (allowed system calls, allowed socket families) as the unit file says.
fn unit_filter() -> (BTreeSet<String>, Vec<u32>) {
    let unit = std::fs::read_to_string(repo().join("systemd/lookout.service")).unwrap();
    let mut allowed: Option<BTreeSet<String>> = None;
    let mut families = Vec::new();
    for line in unit.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("SystemCallFilter=") {
            match v.strip_prefix('~') {
                Some(denied) => {
                    let set = allowed.as_mut().expect("an allow list before a deny list");
                    for item in denied.split_whitespace() {
                        for name in entries(item) {
                            set.remove(&name);
                        }
                    }
                }
                None => {
                    let set = allowed.get_or_insert_with(BTreeSet::new);
                    for item in v.split_whitespace() {
                        set.extend(entries(item));
                    }
                }
            }
        }
        if let Some(v) = line.strip_prefix("RestrictAddressFamilies=") {
            for f in v.split_whitespace() {
                families.push(match f {
                    "AF_UNIX" => 1,
                    "AF_INET" => 2,
                    "AF_INET6" => 10,
                    "AF_NETLINK" => 16,
                    other => panic!("family {other} not mapped in this test"),
                });
            }
        }
    }
    (allowed.expect("the unit has a SystemCallFilter"), families)
}

#[test]
fn the_daemon_runs_under_the_units_system_call_filter() {
    let (allowed, families) = unit_filter();
    assert!(allowed.contains("read") && allowed.contains("openat"));
    assert!(
        !allowed.contains("mount") && !allowed.contains("reboot") && !allowed.contains("ptrace")
    );
    let dir = scratch_dir();
    let list = dir.path().join("allowed-syscalls");
    std::fs::write(
        &list,
        allowed.iter().cloned().collect::<Vec<_>>().join("\n"),
    )
    .unwrap();
    let broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, "lookout/v1/#");
    let cfg = example_with_broker(dir.path(), "forest_fire_smoke.toml", &broker.url());
    let log = dir.path().join("daemon.log");
    let families = families
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let status = Command::new("python3")
        .arg(repo().join("tests/unit_sandbox/seccomp_exec.py"))
        .arg(&list)
        .arg(&families)
        .arg("--")
        .arg(lookout_bin())
        .args(["run", "--config"])
        .arg(&cfg)
        .arg("--state")
        .arg(dir.path().join("state"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("seccomp_exec:"),
        "the filter was loaded: {log_text}"
    );
    assert!(
        status.success(),
        "the filtered run ends cleanly: {status:?}\n{log_text}"
    );
    let msgs = sub.wait_for(
        Duration::from_secs(10),
        "the fire order and the status",
        |m| {
            let order = m.iter().any(|r| {
                r.topic.contains("/orders/")
                    && !r.topic.contains("/evidence/")
                    && serde_json::from_slice::<serde_json::Value>(&r.payload)
                        .is_ok_and(|o| o["kind"] == "fire")
            });
            order && m.iter().any(|r| r.topic.ends_with("/status"))
        },
    );
    assert!(
        msgs.iter().any(|r| r.topic.contains("/evidence/")),
        "the photo came too"
    );
    let refused: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("not permitted") || l.contains("EPERM"))
        .collect();
    eprintln!(
        "filtered run: {} system calls allowed, socket families {families}; lines about refused calls: {refused:?}",
        allowed.len()
    );
}
