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
    for (name, ext) in [("server", "server.ext"), ("client", "client.ext")] {
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
    let (port, plain) = (free_port(), free_port());
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "allow_anonymous true\npersistence false\nlistener {plain} 127.0.0.1\n\
             listener {port} 127.0.0.1\n\
             cafile {d}/ca.pem\ncertfile {d}/server.pem\nkeyfile {d}/server.key\n\
             require_certificate true\n",
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
    let deadline = Instant::now() + Duration::from_secs(10);
    for p in [port, plain] {
        while std::net::TcpStream::connect(("127.0.0.1", p)).is_err() {
            assert!(Instant::now() < deadline, "the TLS broker did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    TlsBroker { child, port, plain }
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
