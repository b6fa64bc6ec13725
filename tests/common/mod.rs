//! Shared helpers for integration tests: paths to the shared data, a real Mosquitto on a free
//! port, and an MQTT subscriber that records what the broker delivers.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the repository (the test data: models and footage).
pub fn shared() -> PathBuf {
    repo().join("../shared")
}

pub fn media(name: &str) -> PathBuf {
    shared().join("media").join(name)
}

pub fn video(name: &str) -> PathBuf {
    shared().join("media/video").join(name)
}

pub fn runtime_library() -> PathBuf {
    repo().join(".runtime/onnxruntime/libonnxruntime.so")
}

pub fn model_dir() -> PathBuf {
    repo().join(".runtime/models")
}

pub fn lookout_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lookout"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// A Mosquitto broker process on a free localhost port, killed on drop.
pub struct Mosquitto {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Mosquitto::start_on(free_port())
    }

    /// A broker on a given port (a restart of the same broker).
    pub fn start_on(port: u16) -> Mosquitto {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmessage_size_limit 0\n"),
        )
        .expect("write mosquitto.conf");
        let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("mosquitto is installed (scripts/setup.sh)");
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Mosquitto {
            port,
            child,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message as the broker delivered it.
#[derive(Debug, Clone)]
pub struct Received {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// Subscribes to `filter` and records every message, until dropped.
pub struct Subscriber {
    pub messages: Arc<Mutex<Vec<Received>>>,
    _client: Client,
}

impl Subscriber {
    pub fn start(port: u16, filter: &str) -> Subscriber {
        let mut opts = MqttOptions::new(format!("test-sub-{}", rand_suffix()), "127.0.0.1", port);
        opts.set_max_packet_size(32 << 20, 32 << 20);
        let (client, mut connection) = Client::new(opts, 64);
        client
            .subscribe(filter, QoS::AtLeastOnce)
            .expect("subscribe");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        sink.lock().unwrap().push(Received {
                            topic: p.topic.clone(),
                            payload: p.payload.to_vec(),
                            retain: p.retain,
                        })
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("subscription acknowledged");
        Subscriber {
            messages,
            _client: client,
        }
    }

    pub fn snapshot(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for the messages so far, or panics after `timeout`.
    pub fn wait_for(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let msgs = self.snapshot();
            if pred(&msgs) {
                return msgs;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got topics {:?}",
                msgs.iter().map(|m| m.topic.as_str()).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn rand_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}-{n}", std::process::id())
}

/// Writes `text` to a config file inside `dir` after substituting `{REPO}`, `{SHARED}` and
/// `{BROKER}`.
pub fn write_config(dir: &Path, name: &str, text: &str, broker: &str) -> PathBuf {
    let path = dir.join(name);
    let text = text
        .replace("{REPO}", &repo().display().to_string())
        .replace("{SHARED}", &shared().display().to_string())
        .replace("{BROKER}", broker);
    std::fs::write(&path, text).expect("write config");
    path
}

/// A folder one level below the repository root, so an example config copied into it keeps its
/// relative paths (`../models`, `../../shared/...`) valid. Removed on drop.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(".test-")
        .tempdir_in(repo())
        .expect("scratch dir in the repository")
}

/// A copy of an example config in `dir` (from [`scratch_dir`]) with its broker replaced.
pub fn example_with_broker(dir: &Path, example: &str, broker: &str) -> PathBuf {
    let src = repo().join("examples").join(example);
    let text = std::fs::read_to_string(&src).expect("example config");
    assert!(
        text.contains("broker = \"embedded\""),
        "{example} uses the embedded broker"
    );
    let text = text.replace("broker = \"embedded\"", &format!("broker = \"{broker}\""));
    let path = dir.join(example);
    std::fs::write(&path, text).expect("write config");
    path
}
