//! Shared helpers for integration tests: paths to the shared data, a real Mosquitto on a free
//! port, and an MQTT subscriber that records what the broker delivers.
#![allow(dead_code)]

pub mod http;
pub mod onnx;
pub mod onvif;
pub mod process;
pub mod proxy;
pub mod ptz_camera;

// Each test crate uses some of these: the others are not "unused" code of the suite.
#[allow(unused_imports)]
pub use http::{form, http, Answer};
#[allow(unused_imports)]
pub use process::{cpu_s, rss_mb, simulated_camera, wait_listening, Killed};

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

/// Runs `lookout ARGS --config CONFIG` to completion.
pub fn lookout_with(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(lookout_bin())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run lookout")
}

/// The Mosquitto broker binary (installed by scripts/setup.sh).
pub fn mosquitto_bin() -> &'static str {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mosquitto is installed (scripts/setup.sh)")
}

pub fn free_port() -> u16 {
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
        Mosquitto::launch(port, None)
    }

    /// A broker with extra `mosquitto.conf` lines (limits for flood tests).
    pub fn start_with(extra: &str) -> Mosquitto {
        Mosquitto::launch_with(free_port(), None, extra)
    }

    /// A broker that keeps sessions and queued messages in `store` across a [`Mosquitto::stop`]
    /// and a restart on the same port and store, like a production broker does.
    pub fn start_persistent(port: u16, store: &Path) -> Mosquitto {
        // Started as root, Mosquitto drops to its own user, which must be able to write there.
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(store).expect("broker store");
        std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o777))
            .expect("broker store permissions");
        Mosquitto::launch(port, Some(store))
    }

    fn launch(port: u16, store: Option<&Path>) -> Mosquitto {
        Mosquitto::launch_with(port, store, "")
    }

    fn launch_with(port: u16, store: Option<&Path>, extra: &str) -> Mosquitto {
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = dir.path().join("mosquitto.conf");
        let persistence = match store {
            Some(s) => format!(
                "persistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
                s.display()
            ),
            None => "persistence false\n".into(),
        };
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n{persistence}message_size_limit 0\n{extra}"),
        )
        .expect("write mosquitto.conf");
        let child = Command::new(mosquitto_bin())
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

    /// Stops the broker the orderly way (SIGTERM: a persistent one saves its store).
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
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
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Subscriber {
    pub fn start(port: u16, filter: &str) -> Subscriber {
        Subscriber::launch(port, filter, None)
    }

    /// A subscriber with a persistent session (`client_id`, clean session off) that rides
    /// through broker restarts: the broker queues what it missed.
    pub fn start_session(port: u16, filter: &str, client_id: &str) -> Subscriber {
        Subscriber::launch(port, filter, Some(client_id))
    }

    fn launch(port: u16, filter: &str, session: Option<&str>) -> Subscriber {
        let id = session.map_or_else(|| format!("test-sub-{}", rand_suffix()), str::to_owned);
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_max_packet_size(32 << 20, 32 << 20);
        opts.set_clean_session(session.is_none());
        let (client, mut connection) = Client::new(opts, 64);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let reconnect = session.is_some();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let sink = messages.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let subscriber = client.clone();
        let filter = filter.to_owned();
        std::thread::spawn(move || {
            // Subscribed once acknowledged; until then a failed connection (a broker still
            // starting on a loaded machine) is retried and the subscription sent again.
            let mut subscribed = false;
            for event in connection.iter() {
                if stopped.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) if !subscribed => {
                        let _ = subscriber.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        subscribed = true;
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
                    Err(_) if reconnect || !subscribed => {
                        std::thread::sleep(Duration::from_millis(200))
                    }
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
            stop,
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

/// The JSON Schemas of `docs/schemas/`, and which topic each one governs.
pub struct ApiSchemas {
    order: jsonschema::Validator,
    result: jsonschema::Validator,
    status: jsonschema::Validator,
    command: jsonschema::Validator,
    clip_chunk: jsonschema::Validator,
}

impl ApiSchemas {
    pub fn load() -> ApiSchemas {
        let load = |name: &str| {
            let path = repo().join("docs/schemas").join(name);
            let text = std::fs::read_to_string(&path).expect("schema file");
            let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
            jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
        };
        ApiSchemas {
            order: load("work-order.schema.json"),
            result: load("command-result.schema.json"),
            status: load("status.schema.json"),
            command: load("command.schema.json"),
            clip_chunk: load("clip-chunk.schema.json"),
        }
    }

    /// Checks a message the box published against the schema of its topic; evidence must be a
    /// JPEG. Panics with every violation.
    pub fn check(&self, m: &Received) {
        let parts: Vec<&str> = m.topic.split('/').collect();
        let validator = match parts.get(4..).unwrap_or_default() {
            ["status"] => &self.status,
            ["orders", _] => &self.order,
            ["cmd-result", _] => &self.result,
            ["cmd", _] => &self.command,
            ["orders", _, "clips", _, _] => &self.clip_chunk,
            ["orders", _, "evidence", _] => {
                assert!(
                    m.payload.starts_with(&[0xff, 0xd8]),
                    "{} is not a JPEG",
                    m.topic
                );
                return;
            }
            other => panic!("unexpected topic {} ({other:?})", m.topic),
        };
        let doc: serde_json::Value = serde_json::from_slice(&m.payload)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", m.topic));
        let errors: Vec<String> = validator
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{} does not match its schema:\n{}\n{doc:#}",
            m.topic,
            errors.join("\n")
        );
    }

    pub fn check_all(&self, messages: &[Received]) -> usize {
        for m in messages {
            self.check(m);
        }
        messages.len()
    }
}

/// Publishes one message with QoS 1 and waits for the broker's acknowledgement.
pub fn publish(port: u16, topic: &str, payload: &[u8]) {
    let mut opts = MqttOptions::new(format!("test-pub-{}", rand_suffix()), "127.0.0.1", port);
    opts.set_max_packet_size(32 << 20, 32 << 20);
    let (client, mut connection) = Client::new(opts, 8);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        .expect("queue publish");
    for event in connection.iter() {
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("publish to {topic}: {e}"),
        }
    }
    let _ = client.disconnect();
}

/// Two clips that raise orders at their own speed, and a camera that never answers, which keeps
/// the daemon running after the clips end (it stays in back-off).
pub const BUSY_BOX: &str = r#"
[box]
site = "demo-district"
id = "box-001"
[uplink]
broker = "{BROKER}"
keep_alive_s = 5
[models]
manifests = "{REPO}/models"
dir = "{REPO}/.runtime/models"
onnxruntime = "{REPO}/.runtime/onnxruntime/libonnxruntime.so"
threads = 1
[[cameras]]
id = "plaza"
source = "{SHARED}/media/video/plaza_pedestrians.mp4"
detect_fps = 5.0
models = ["yolox_nano_coco"]
location = { lat = 30.2712, lon = 120.1603 }
[[cameras.zones]]
id = "plaza"
polygon = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.98], [0.02, 0.98]]
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 10
hold_s = 1.0
clear_s = 5.0
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 5
hold_s = 2.0
clear_s = 5.0
[[cameras]]
id = "forest"
source = "{SHARED}/media/video/forest_fire_smoke.mp4"
detect_fps = 2.0
models = ["fire_smoke_yolov8"]
location = { lat = 30.2741, lon = 120.1551 }
[[cameras.rules]]
kind = "fire"
min_score = 0.3
window = 5
min_hits = 3
confirm_s = 2.0
clear_s = 30.0
smoke = true
[[cameras]]
id = "nowhere"
source = "rtsp://127.0.0.1:9/none"
models = ["yolox_nano_coco"]
location = { lat = 30.0, lon = 120.0 }
"#;

/// `lookout run` on `config` with its state in `state`, killed when dropped; its log (at
/// `RUST_LOG=lookout=info`) goes to `log` when given, else nowhere.
pub struct Daemon(pub std::process::Child);

impl Daemon {
    pub fn start(config: &Path, state: &Path, log: Option<&Path>) -> Daemon {
        let stderr = match log {
            Some(path) => {
                std::process::Stdio::from(std::fs::File::create(path).expect("daemon log"))
            }
            None => std::process::Stdio::null(),
        };
        let child = Command::new(lookout_bin())
            .args(["run", "--config"])
            .arg(config)
            .arg("--state")
            .arg(state)
            .env("RUST_LOG", "lookout=info")
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the daemon");
        Daemon(child)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Gives a config the box's HTTP server on `port` and a second camera that never answers: it
/// stays in back-off and keeps the daemon running after a clip ends, like a real box.
pub fn serve_on_and_keep_alive(config: &Path, port: u16) {
    let mut text = std::fs::read_to_string(config).unwrap();
    text = text.replacen(
        "[models]",
        &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n[models]"),
        1,
    );
    text.push_str("\n[[cameras]]\nid = \"spare\"\nsource = \"rtsp://127.0.0.1:9/none\"\nmodels = [\"yolox_nano_coco\"]\nlocation = { lat = 30.0, lon = 120.0 }\n");
    std::fs::write(config, text).unwrap();
}

/// Sets the console's password in `config` as a technician would (`lookout console passwd`, the
/// password on standard input); the command's output.
pub fn console_passwd(config: &Path, password: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut passwd = Command::new(lookout_bin())
        .args(["console", "passwd", "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lookout console passwd");
    writeln!(passwd.stdin.take().unwrap(), "{password}").unwrap();
    let out = passwd.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "console passwd: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Logs in to the console on `port` as `admin`: the session's `Cookie` header value.
pub fn console_login(port: u16, password: &str) -> String {
    let answer = http(
        port,
        "POST",
        "/login",
        &[],
        &form(&[("user", "admin"), ("password", password), ("next", "/")]),
    );
    assert_eq!(answer.status, 303, "login: {}", answer.body);
    answer.cookie().expect("a session cookie")
}
