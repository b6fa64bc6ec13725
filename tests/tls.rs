//! The uplink over TLS against a real Mosquitto with a TLS listener that requires client
//! certificates (certificates made by the test with openssl): the right CA and client
//! certificate connect; a wrong CA, a wrong host name, no client certificate and a garbage key
//! file each give one clear error line — never a panic (rustls used to panic on every TLS
//! connection: two crypto providers and none chosen).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 only, a client certificate, and a second CA that
/// signed none of them.
fn make_pki(dir: &Path) {
    let days = ["-days", "2"];
    for ca in ["ca", "other-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-subj",
                &format!("/CN=lookout test {ca}"),
                days[0],
                days[1],
            ],
        );
    }
    // Extensions make these X.509 v3 certificates (webpki refuses v1).
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage = clientAuth\n").unwrap();
    for (name, ext) in [
        ("server", "server.ext"),
        ("client", "client.ext"),
        ("box-001", "client.ext"),
        ("box-002", "client.ext"),
        ("centre", "client.ext"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        let mut sign = vec![
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            days[0],
            days[1],
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        sign.extend(["-extfile".into(), ext.into()]);
        let sign: Vec<&str> = sign.iter().map(|s| s.as_str()).collect();
        openssl(dir, &sign);
    }
    std::fs::write(
        dir.join("garbage.key"),
        "-----BEGIN PRIVATE KEY-----\nnot a key\n",
    )
    .unwrap();
    // Mosquitto drops to its own user after reading its config.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        std::fs::set_permissions(e.unwrap().path(), std::fs::Permissions::from_mode(0o644))
            .unwrap();
    }
}

struct TlsBroker {
    child: Child,
    port: u16,
    plain: u16,
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Mosquitto with a mutual-TLS listener (`port`) for lookout and a plain one on loopback
/// (`plain`) for the test's own subscriber.
fn tls_broker(dir: &Path) -> TlsBroker {
    tls_broker_with(dir, "", "")
}

/// As [`tls_broker`], with global (`acl_file …`) and TLS-listener settings added.
fn tls_broker_with(dir: &Path, global: &str, tls_listener: &str) -> TlsBroker {
    let (port, plain) = (free_port(), free_port());
    let conf = dir.join(format!("mosquitto-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "allow_anonymous true\npersistence false\n{global}listener {plain} 127.0.0.1\n\
             listener {port} 127.0.0.1\n\
             cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
             require_certificate true\n{tls_listener}",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let child = Command::new(mosquitto_bin())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    wait_listening(&[port, plain]);
    TlsBroker { child, port, plain }
}

/// Waits (10 s at most) until a broker listens on every one of `ports`.
fn wait_listening(ports: &[u16]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    for p in ports {
        while std::net::TcpStream::connect(("127.0.0.1", *p)).is_err() {
            assert!(Instant::now() < deadline, "no broker listens on port {p}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A config for the TLS broker at `host` with the given CA and client files (names in `pki`).
fn config(
    dir: &Path,
    pki: &Path,
    host: &str,
    port: u16,
    ca: &str,
    client: Option<(&str, &str)>,
) -> PathBuf {
    let client = client
        .map(|(c, k)| {
            format!(
                "cert_file = \"{}\"\nkey_file = \"{}\"\n",
                pki.join(c).display(),
                pki.join(k).display()
            )
        })
        .unwrap_or_default();
    let text = format!(
        r#"version = 1
[box]
site = "tls-site"
id = "box-1"
[uplink]
broker = "mqtts://{host}:{port}"
ca_file = "{ca}"
{client}
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
[[cameras]]
id = "cam1"
source = "test:ball"
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
"#,
        ca = pki.join(ca).display(),
    );
    write_config(
        dir,
        &format!("{host}-{ca}-{}.toml", client.len()),
        &text,
        "",
    )
}

fn mqtt_test(config: &Path) -> (i32, String, String) {
    let out = Command::new(lookout_bin())
        .args(["mqtt", "test", "--timeout", "5", "--config"])
        .arg(config)
        .output()
        .expect("run lookout");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_clear_error(what: &str, (code, _, stderr): (i32, String, String), needle: &str) {
    eprintln!("{what}: {}", stderr.trim());
    assert_ne!(code, 0, "{what}: must fail; {stderr}");
    assert_ne!(code, 101, "{what}: panicked: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("lookout: error:"))
        .collect();
    assert!(!errors.is_empty(), "{what}: no error line: {stderr}");
    assert!(
        errors.iter().any(|l| l.contains(needle)),
        "{what}: {needle:?} missing from {errors:?}"
    );
}

#[test]
fn mutual_tls_connects_with_the_right_files_and_every_wrong_one_is_a_clear_error() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let broker = tls_broker(pki.path());
    let dir = tempfile::tempdir().unwrap();
    let (p, port) = (pki.path(), broker.port);

    let (code, stdout, stderr) = mqtt_test(&config(
        dir.path(),
        p,
        "127.0.0.1",
        port,
        "ca.pem",
        Some(("client.pem", "client.key")),
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ok — connected"), "{stdout}");

    assert_clear_error(
        "a CA that did not sign the broker",
        mqtt_test(&config(
            dir.path(),
            p,
            "127.0.0.1",
            port,
            "other-ca.pem",
            Some(("client.pem", "client.key")),
        )),
        "mqtts://127.0.0.1",
    );
    assert_clear_error(
        "a host name the certificate does not carry",
        mqtt_test(&config(
            dir.path(),
            p,
            "localhost",
            port,
            "ca.pem",
            Some(("client.pem", "client.key")),
        )),
        "mqtts://localhost",
    );
    assert_clear_error(
        "no client certificate where the broker requires one",
        mqtt_test(&config(dir.path(), p, "127.0.0.1", port, "ca.pem", None)),
        "mqtts://127.0.0.1",
    );
    assert_clear_error(
        "a garbage key file",
        mqtt_test(&config(
            dir.path(),
            p,
            "127.0.0.1",
            port,
            "ca.pem",
            Some(("client.pem", "garbage.key")),
        )),
        "garbage.key",
    );
    assert_clear_error(
        "a CA file that is no certificate",
        mqtt_test(&config(
            dir.path(),
            p,
            "127.0.0.1",
            port,
            "garbage.key",
            None,
        )),
        "garbage.key",
    );
}

#[test]
fn a_replay_over_mutual_tls_delivers_its_orders_and_the_status() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let broker = tls_broker(pki.path());
    let sub = Subscriber::start(broker.plain, "lookout/v1/demo-district/box-001/#");
    let dir = scratch_dir();
    let text = std::fs::read_to_string(repo().join("examples/forest_fire_smoke.toml")).unwrap();
    let p = pki.path();
    let uplink = format!(
        "broker = \"mqtts://127.0.0.1:{}\"\nca_file = \"{}\"\ncert_file = \"{}\"\nkey_file = \"{}\"",
        broker.port,
        p.join("ca.pem").display(),
        p.join("client.pem").display(),
        p.join("client.key").display()
    );
    let cfg = dir.path().join("forest_fire_smoke.toml");
    std::fs::write(&cfg, text.replace("broker = \"embedded\"", &uplink)).unwrap();
    let out = Command::new(lookout_bin())
        .args(["replay", "--config"])
        .arg(&cfg)
        .args(["--camera", "forest_fire_smoke", "--video"])
        .arg(video("forest_fire_smoke.mp4"))
        .output()
        .expect("run lookout replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "replay over TLS failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let msgs = sub.wait_for(
        Duration::from_secs(10),
        "a fire order and the status",
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
}

/// The Mosquitto ACL of docs/security.md, verbatim (the block marked `mosquitto-acl`).
fn documented_acl() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/security.md")).unwrap();
    let start = doc.find("```mosquitto-acl\n").expect("the ACL block") + 17;
    let len = doc[start..].find("```").unwrap();
    doc[start..start + len].to_owned()
}

/// A broker enforcing `acl` on certificate identities; the test's own anonymous clients (plain
/// listener) may read everything and write nothing.
fn acl_broker(pki: &Path, name: &str, acl: &str) -> TlsBroker {
    let file = pki.join(format!("{name}.acl"));
    std::fs::write(&file, format!("topic read lookout/v1/#\n\n{acl}")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    tls_broker_with(
        pki,
        &format!("acl_file {}\n", file.display()),
        "use_identity_as_username true\n",
    )
}

/// Publishes with mosquitto_pub over mutual TLS as `who` (a certificate name in `pki`).
fn publish_as(broker: &TlsBroker, pki: &Path, who: &str, topic: &str, body: &str, retain: bool) {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "-q", "1"])
        .arg("--cafile")
        .arg(pki.join("ca.pem"))
        .arg("--cert")
        .arg(pki.join(format!("{who}.pem")))
        .arg("--key")
        .arg(pki.join(format!("{who}.key")))
        .args(["-t", topic, "-m", body]);
    if retain {
        cmd.arg("-r");
    }
    let out = cmd.output().expect("mosquitto_pub");
    assert!(
        out.status.success(),
        "mosquitto_pub as {who}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn seeded_box(dir: &Path, uplink: &str) -> (PathBuf, String) {
    let state = dir.join("state");
    let order_id = "019ad000-0000-7000-8000-000000000001".to_owned();
    let order: lookout::orders::WorkOrder = serde_json::from_value(serde_json::json!({
        "schema": 1, "id": order_id, "revision": 1, "site": "acl-site", "box": "box-001",
        "camera": {"id": "cam1", "name": "cam1"}, "zone": null, "kind": "fire",
        "event_code": "0801", "severity": "red", "state": "open", "title": "fire",
        "opened_at": "2026-12-02T00:00:00.000Z", "updated_at": "2026-12-02T00:00:00.000Z",
        "count": 1, "objects": [],
        "location": {"lat": 30.0, "lon": 120.0, "accuracy_m": 10.0, "method": "camera_position"},
        "evidence": [], "timeline": [{"at": "2026-12-02T00:00:00.000Z", "event": "opened", "actor": "lookout", "note": "fire"}]
    }))
    .unwrap();
    lookout::ledger::Ledger::open(&state.join("ledger.sqlite3"))
        .unwrap()
        .record(&order, &[])
        .unwrap();
    let text = format!(
        r#"version = 1
[box]
site = "acl-site"
id = "box-001"
[uplink]
{uplink}
keep_alive_s = 5
status_interval_s = 2
[storage]
dir = "{state}"
[models]
manifests = "{{REPO}}/models"
dir = "{{REPO}}/.runtime/models"
onnxruntime = "{{REPO}}/.runtime/onnxruntime/libonnxruntime.so"
threads = 1
[[cameras]]
id = "cam1"
source = "rtsp://127.0.0.1:1/nothing"
models = ["yolox_nano_coco"]
location = {{ lat = 30.0, lon = 120.0 }}
"#,
        state = state.display(),
    );
    (write_config(dir, "box.toml", &text, ""), order_id)
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_daemon(config: &Path, log: &Path) -> Daemon {
    Daemon(
        Command::new(lookout_bin())
            .args(["run", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("lookout run"),
    )
}

fn status_with(sub: &Subscriber, commands: &str) -> serde_json::Value {
    let msgs = sub.wait_for(
        Duration::from_secs(30),
        &format!("a status with commands = {commands}"),
        |m| {
            m.iter().any(|r| {
                r.topic.ends_with("/status")
                    && serde_json::from_slice::<serde_json::Value>(&r.payload)
                        .is_ok_and(|v| v["state"] == "online" && v["commands"] == commands)
            })
        },
    );
    msgs.iter()
        .rev()
        .filter(|r| r.topic.ends_with("/status"))
        .find_map(|r| serde_json::from_slice(&r.payload).ok())
        .unwrap()
}

#[test]
fn with_the_documented_acl_only_the_centre_commands_the_box() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let p = pki.path();
    let broker = acl_broker(p, "documented", &documented_acl());
    let root = "lookout/v1/acl-site/box-001";
    let archive = Subscriber::start(broker.plain, "lookout/v1/#");
    let dir = tempfile::tempdir().unwrap();
    let (cfg, order) = seeded_box(
        dir.path(),
        &format!(
            "broker = \"mqtts://127.0.0.1:{port}\"\nca_file = \"{d}/ca.pem\"\ncert_file = \"{d}/box-001.pem\"\nkey_file = \"{d}/box-001.key\"",
            port = broker.port,
            d = p.display()
        ),
    );
    let cmd =
        |rid: &str| format!(r#"{{"request_id":"{rid}","order_id":"{order}","actor":"someone"}}"#);
    // A retained command waits on the broker before the box connects.
    publish_as(
        &broker,
        p,
        "centre",
        &format!("{root}/cmd/cancel"),
        &cmd("r-retained"),
        true,
    );
    let log = dir.path().join("daemon.log");
    let _daemon = start_daemon(&cfg, &log);
    let status = status_with(&archive, "subscribed");
    assert_eq!(status["box"], "box-001");
    // Another box, and an anonymous client, try to cancel the fire order.
    publish_as(
        &broker,
        p,
        "box-002",
        &format!("{root}/cmd/cancel"),
        &cmd("r-other-box"),
        false,
    );
    publish(
        broker.plain,
        &format!("{root}/cmd/cancel"),
        cmd("r-intruder").as_bytes(),
    );
    // The box itself cannot command itself either (write on its own cmd topics is not granted).
    publish_as(
        &broker,
        p,
        "box-001",
        &format!("{root}/cmd/cancel"),
        &cmd("r-self"),
        false,
    );
    // The centre dispatches it: that one is applied.
    let dispatch = format!(
        r#"{{"request_id":"r-centre","order_id":"{order}","actor":"centre","team":"fire team 3"}}"#
    );
    publish_as(
        &broker,
        p,
        "centre",
        &format!("{root}/cmd/dispatch"),
        &dispatch,
        false,
    );
    let msgs = archive.wait_for(Duration::from_secs(20), "the centre's answer", |m| {
        m.iter().any(|r| r.topic.ends_with("/cmd-result/r-centre"))
    });
    std::thread::sleep(Duration::from_secs(2));
    let msgs = [msgs, archive.snapshot()].concat();
    let answer: serde_json::Value = msgs
        .iter()
        .find(|r| r.topic.ends_with("/cmd-result/r-centre"))
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        answer["state"], "dispatched",
        "not cancelled before: {answer}"
    );
    for rid in ["r-retained", "r-other-box", "r-intruder", "r-self"] {
        assert!(
            !msgs
                .iter()
                .any(|r| r.topic.ends_with(&format!("/cmd-result/{rid}"))),
            "{rid} was answered: it reached the box"
        );
    }
    let docs: Vec<serde_json::Value> = msgs
        .iter()
        .filter(|r| r.topic == format!("{root}/orders/{order}"))
        .map(|r| serde_json::from_slice(&r.payload).unwrap())
        .collect();
    assert!(
        docs.iter().all(|d| d["state"] != "cancelled"),
        "nobody but the centre changed the order"
    );
    // The box also never wrote outside its own subtree: an archive of everything shows only it.
    assert!(
        msgs.iter().all(|r| r.topic.starts_with(root)),
        "only the box's own topics"
    );
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("RETAINED command"),
        "the retained one is logged: {log_text}"
    );
    // Clear the retained command.
    publish_as(
        &broker,
        p,
        "centre",
        &format!("{root}/cmd/cancel"),
        "",
        true,
    );
}

/// Mosquitto with the dynamic-security plugin on `port` (password accounts, ACLs checked when a
/// client subscribes, unlike `acl_file`, which filters at delivery) and an anonymous listener on
/// `plain` for the test's subscriber; `box-001` may publish under its root and nothing else.
struct DynsecBroker {
    child: Child,
    port: u16,
    plain: u16,
    _dir: tempfile::TempDir,
}

impl Drop for DynsecBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ctrl(port: u16, args: &[&str]) {
    let out = Command::new("mosquitto_ctrl")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            "admin",
            "-P",
            "adminpw",
        ])
        .args(["dynsec"])
        .args(args)
        .output()
        .expect("mosquitto_ctrl");
    assert!(
        out.status.success(),
        "mosquitto_ctrl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dynsec_broker() -> DynsecBroker {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let json = dir.path().join("dynsec.json");
    let out = Command::new("mosquitto_ctrl")
        .args(["dynsec", "init"])
        .arg(&json)
        .args(["admin", "adminpw"])
        .output()
        .expect("mosquitto_ctrl dynsec init");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&json, std::fs::Permissions::from_mode(0o666)).unwrap();
    let plugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";
    let (port, plain) = (free_port(), free_port());
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "per_listener_settings true\npersistence false\n\
             listener {port} 127.0.0.1\nallow_anonymous false\nplugin {plugin}\nplugin_opt_config_file {}\n\
             listener {plain} 127.0.0.1\nallow_anonymous true\n",
            json.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let child = Command::new(mosquitto_bin())
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    wait_listening(&[port, plain]);
    ctrl(port, &["createClient", "box-001", "-p", "boxpw"]);
    ctrl(port, &["createRole", "box"]);
    // The misconfiguration: publishing is granted, reading the commands was forgotten.
    ctrl(
        port,
        &[
            "addRoleACL",
            "box",
            "publishClientSend",
            "lookout/v1/+/box-001/#",
            "allow",
            "5",
        ],
    );
    ctrl(port, &["addClientRole", "box-001", "box", "5"]);
    DynsecBroker {
        child,
        port,
        plain,
        _dir: dir,
    }
}

#[test]
fn a_broker_that_refuses_the_box_its_commands_is_reported_in_the_status() {
    let broker = dynsec_broker();
    let archive = Subscriber::start(broker.plain, "lookout/v1/#");
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "boxpw\n").unwrap();
    let (cfg, _) = seeded_box(
        dir.path(),
        &format!(
            "broker = \"mqtt://127.0.0.1:{}\"\nusername = \"box-001\"\npassword_file = \"{}\"",
            broker.port,
            password.display()
        ),
    );
    let log = dir.path().join("daemon.log");
    let _daemon = start_daemon(&cfg, &log);
    let status = status_with(&archive, "denied");
    ApiSchemas::load().check(&Received {
        topic: "lookout/v1/acl-site/box-001/status".into(),
        payload: serde_json::to_vec(&status).unwrap(),
        retain: true,
    });
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("REFUSED the subscription"), "{log_text}");
}

#[test]
fn a_daemon_with_the_wrong_ca_stays_up_and_says_why_once() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let p = pki.path();
    let broker = tls_broker(p);
    let dir = tempfile::tempdir().unwrap();
    let (cfg, _) = seeded_box(
        dir.path(),
        &format!(
            "broker = \"mqtts://127.0.0.1:{port}\"\nca_file = \"{d}/other-ca.pem\"\ncert_file = \"{d}/box-001.pem\"\nkey_file = \"{d}/box-001.key\"",
            port = broker.port,
            d = p.display()
        ),
    );
    let log = dir.path().join("daemon.log");
    let mut daemon = start_daemon(&cfg, &log);
    std::thread::sleep(Duration::from_secs(8));
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the daemon is still running"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("panicked"), "{text}");
    let failures: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("MQTT connection failed"))
        .collect();
    assert_eq!(failures.len(), 1, "said once, not on every retry: {text}");
    assert!(
        failures[0].to_lowercase().contains("certificate"),
        "the reason: {}",
        failures[0]
    );
}
