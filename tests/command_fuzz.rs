//! Hostile commands: 100,000 publishes to a running box's command topics through a real
//! Mosquitto at 2,000 per second — random bytes, deep nesting, huge strings, unicode tricks in
//! ids, unknown fields, replayed ids, 16 MiB payloads, and 5,000 re-dispatches of one order. The
//! box must stay up, answer every command that carries a usable request id exactly once per
//! publish, keep its memory and its ledger bounded, and refuse the re-dispatch loop past its
//! limit.

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lookout::ledger::Ledger;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

const ROOT: &str = "lookout/v1/fuzz/box-001";
const ORDERS: usize = 50;

fn order_id(i: usize) -> String {
    format!("019ad000-0000-7000-8000-{i:012}")
}

fn seed_ledger(state: &std::path::Path) {
    let mut ledger = Ledger::open(&state.join("ledger.sqlite3")).unwrap();
    for i in 0..ORDERS {
        let o: lookout::orders::WorkOrder = serde_json::from_value(serde_json::json!({
            "schema": 1, "id": order_id(i), "revision": 1, "site": "fuzz", "box": "box-001",
            "camera": {"id": "cam1", "name": "cam1"}, "zone": null, "kind": "parking",
            "event_code": "0301", "severity": "yellow", "state": "open", "title": "parking",
            "opened_at": "2026-12-02T00:00:00.000Z", "updated_at": "2026-12-02T00:00:00.000Z",
            "count": 1, "objects": [],
            "location": {"lat": 30.0, "lon": 120.0, "accuracy_m": 10.0, "method": "camera_position"},
            "evidence": [], "timeline": [{"at": "2026-12-02T00:00:00.000Z", "event": "opened", "actor": "lookout", "note": "parked"}]
        }))
        .unwrap();
        ledger.record(&o, &[]).unwrap();
    }
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// One publish: verb (topic's last segment), payload, and the request id the box can answer
/// to (None when the body has no usable one).
struct Shot {
    verb: String,
    payload: Vec<u8>,
    answerable: Option<String>,
}

fn shot(rng: &mut Rng, n: usize, sent: &[String]) -> Shot {
    let verbs = ["dispatch", "handled", "verify", "cancel", "close"];
    let verb = verbs[rng.below(5) as usize].to_owned();
    let order = order_id(rng.below(ORDERS as u64) as usize);
    let rid = format!("f-{n}");
    let body = |extra: &str| -> Vec<u8> {
        format!(r#"{{"request_id":"{rid}","order_id":"{order}","actor":"fuzz"{extra}}}"#)
            .into_bytes()
    };
    let answerable = |p: Vec<u8>, verb: String| Shot {
        verb,
        payload: p,
        answerable: Some(format!("f-{n}")),
    };
    let garbage = |p: Vec<u8>, verb: String| Shot {
        verb,
        payload: p,
        answerable: None,
    };
    match rng.below(20) {
        // Well-formed commands on real orders (legal or not in the order's state).
        0..=5 => answerable(body(r#","team":"t1""#), verb),
        // Replays of a command already sent: each delivery is answered (the same answer).
        6 if !sent.is_empty() => {
            let old = &sent[rng.below(sent.len() as u64) as usize];
            Shot {
                verb: "verify".into(),
                payload: format!(r#"{{"request_id":"{old}","order_id":"{order}","actor":"fuzz"}}"#)
                    .into_bytes(),
                answerable: Some(old.clone()),
            }
        }
        // Unknown fields, wrong types, out-of-range values, an unknown order, an unknown verb.
        7 => answerable(body(r#","sudo":true"#), verb),
        8 => answerable(body(r#","window_s":-5"#), verb),
        9 => answerable(
            format!(r#"{{"request_id":"{rid}","order_id":42,"actor":[]}}"#).into_bytes(),
            verb,
        ),
        10 => answerable(
            format!(r#"{{"request_id":"{rid}","order_id":"nope","actor":"fuzz"}}"#).into_bytes(),
            verb,
        ),
        11 => answerable(body(""), "reboot".into()),
        12 => answerable(body(&format!(r#","note":"{}""#, "长".repeat(20_000))), verb),
        // No usable request id: random bytes, deep nesting, unicode tricks, a huge id.
        13 => {
            let len = 1 + rng.below(2000) as usize;
            garbage(rng.bytes(len), verb)
        }
        14 => garbage(
            format!("{}{}", "[".repeat(50_000), "]".repeat(50_000)).into_bytes(),
            verb,
        ),
        15 => garbage(
            format!("{{\"request_id\":\"f\u{202e}{n}\",\"order_id\":\"{order}\",\"actor\":\"x\"}}")
                .into_bytes(),
            verb,
        ),
        16 => garbage(
            format!(
                "{{\"request_id\":\"{}\",\"order_id\":\"{order}\",\"actor\":\"x\"}}",
                "r".repeat(60_000)
            )
            .into_bytes(),
            verb,
        ),
        17 => garbage(
            format!("{{\"request_id\":\"f\u{200b}{n}\u{0}\",\"order_id\":\"{order}\"}}")
                .into_bytes(),
            verb,
        ),
        18 => garbage(b"{\"request_id\":".to_vec(), verb),
        _ => answerable(body(r#","team":"t2","due":"tomorrow""#), verb),
    }
}

fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[test]
fn a_hundred_thousand_hostile_commands_get_one_answer_each_and_change_nothing_else() {
    let dir = scratch_dir();
    let state = dir.path().join("state");
    seed_ledger(&state);
    // The box must not be what drops commands: the broker queues whatever it cannot take yet.
    let broker = Mosquitto::start_with("max_queued_messages 1000000\nmax_inflight_messages 100\n");
    let answers = Subscriber::start(broker.port, &format!("{ROOT}/cmd-result/#"));
    let config = write_config(
        dir.path(),
        "lookout.toml",
        &format!(
            r#"version = 1
[box]
site = "fuzz"
id = "box-001"
[uplink]
broker = "{{BROKER}}"
command_rate = 500.0
[storage]
dir = "{state}"
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
threads = 1
[[cameras]]
id = "cam1"
source = "rtsp://127.0.0.1:9/none"
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
"#,
            state = state.display()
        ),
        &broker.url(),
    );
    let log = dir.path().join("daemon.log");
    let mut daemon = Command::new(lookout_bin())
        .args(["run", "--config"])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    let status = Subscriber::start(broker.port, &format!("{ROOT}/status"));
    status.wait_for(
        Duration::from_secs(30),
        "the box online and subscribed",
        |m| {
            m.iter().any(|r| {
                serde_json::from_slice::<Value>(&r.payload)
                    .is_ok_and(|v| v["state"] == "online" && v["commands"] == "subscribed")
            })
        },
    );
    let ledger_before = std::fs::metadata(state.join("ledger.sqlite3"))
        .unwrap()
        .len();

    let mut opts = MqttOptions::new("fuzzer", "127.0.0.1", broker.port);
    opts.set_max_packet_size(32 << 20, 32 << 20);
    opts.set_inflight(100);
    let (client, mut connection) = Client::new(opts, 1000);
    let pump = std::thread::spawn(move || {
        for ev in connection.iter() {
            if matches!(ev, Err(_) | Ok(Event::Incoming(Packet::Disconnect))) {
                break;
            }
        }
    });
    let mut expected: HashMap<String, usize> = HashMap::new();
    let mut sent_ids: Vec<String> = Vec::new();
    let mut rng = Rng(0x00c0_ffee_d00d);
    let mut max_rss = 0.0f64;
    let started = Instant::now();
    let total = 100_000usize;
    let mut next_rss = Instant::now();
    for n in 0..total {
        let s = if n < 5_000 {
            // The abuse case first: one order re-dispatched 5,000 times.
            let rid = format!("loop-{n}");
            Shot {
                verb: "dispatch".into(),
                payload: format!(
                    r#"{{"request_id":"{rid}","order_id":"{}","actor":"fuzz","team":"t{n}"}}"#,
                    order_id(0)
                )
                .into_bytes(),
                answerable: Some(rid),
            }
        } else if n % 5_000 == 2_500 {
            // Now and then a 16 MiB body.
            Shot {
                verb: "close".into(),
                payload: vec![b'{'; 16 << 20],
                answerable: None,
            }
        } else {
            shot(&mut rng, n, &sent_ids)
        };
        if let Some(id) = &s.answerable {
            *expected.entry(id.clone()).or_default() += 1;
            if id.starts_with("f-") && sent_ids.len() < 10_000 {
                sent_ids.push(id.clone());
            }
        }
        client
            .publish(
                format!("{ROOT}/cmd/{}", s.verb),
                QoS::AtLeastOnce,
                false,
                s.payload,
            )
            .unwrap();
        // 2,000 per second.
        let due = started + Duration::from_micros(500 * n as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if Instant::now() >= next_rss {
            max_rss = max_rss.max(rss_mb(pid));
            next_rss = Instant::now() + Duration::from_millis(500);
        }
    }
    let sent_in = started.elapsed();
    let want: usize = expected.values().sum();
    // Every answerable publish is answered, once.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        max_rss = max_rss.max(rss_mb(pid));
        let got = answers
            .snapshot()
            .iter()
            .filter(|m| !m.topic.ends_with("/_invalid"))
            .count();
        if got >= want {
            break;
        }
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "the daemon died: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        assert!(Instant::now() < deadline, "{got} of {want} answers");
        std::thread::sleep(Duration::from_millis(200));
    }
    let answered_in = started.elapsed();
    std::thread::sleep(Duration::from_secs(2));
    let msgs = answers.snapshot();
    let mut got: HashMap<String, usize> = HashMap::new();
    let mut codes: HashMap<String, usize> = HashMap::new();
    for m in &msgs {
        let id = m.topic.rsplit('/').next().unwrap().to_owned();
        let v: Value = serde_json::from_slice(&m.payload).expect("answers are JSON");
        let code = v["error"]["code"].as_str().unwrap_or("ok").to_owned();
        *codes.entry(code).or_default() += 1;
        *got.entry(id).or_default() += 1;
    }
    for (id, n) in &expected {
        assert_eq!(got.get(id), Some(n), "request {id}: answers");
    }
    let extra: Vec<&String> = got
        .keys()
        .filter(|k| *k != "_invalid" && !expected.contains_key(*k))
        .collect();
    assert!(extra.is_empty(), "answers nobody asked for: {extra:?}");
    // The re-dispatch loop: refused past its limit, and the order stayed small.
    let looped: Vec<Value> = msgs
        .iter()
        .filter(|m| m.topic.contains("/cmd-result/loop-"))
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    let refused = looped
        .iter()
        .filter(|v| v["error"]["code"] == "limit_reached")
        .count();
    assert!(
        refused > 4_000,
        "re-dispatches refused past the limit: {refused}"
    );
    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon is still up"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = daemon.wait();
    let _ = client.disconnect();
    let _ = pump.join();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(!log_text.contains("panicked"), "{log_text}");
    let ledger = Ledger::open(&state.join("ledger.sqlite3")).unwrap();
    let looped_order = ledger.order(&order_id(0)).unwrap().unwrap();
    // 5,000 dispatches without the limit; 11 with it, plus what the random commands did to it.
    assert!(looped_order.revision < 100, "{}", looped_order.revision);
    drop(ledger);
    let ledger_after: u64 = ["ledger.sqlite3", "ledger.sqlite3-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(state.join(f)).ok())
        .map(|m| m.len())
        .sum();
    eprintln!(
        "{total} commands sent in {:.1} s, {want} answers expected and received after {:.1} s; max RSS {max_rss:.0} MB; ledger {:.1} -> {:.1} MB; answers by code: {codes:?}",
        sent_in.as_secs_f64(),
        answered_in.as_secs_f64(),
        ledger_before as f64 / 1e6,
        ledger_after as f64 / 1e6
    );
    assert!(max_rss < 300.0, "RSS {max_rss:.0} MB");
    assert!(ledger_after < 64 << 20, "ledger {ledger_after} bytes");
}
