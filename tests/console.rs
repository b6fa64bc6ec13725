//! The box's HTTP server and web console, through a running daemon (`lookout run` on the plaza
//! clip): `/metrics` and `/healthz` as scrapers and the watchdog had them, and the console
//! behind its login — a page without a session redirects to the login, the API answers 401, a
//! wrong password is refused and, repeated, rate-limited; a right one opens a session (HttpOnly,
//! SameSite=Strict cookie) that sees the cameras, the orders and an order's page; a change
//! without the session's CSRF token or from another origin is refused.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The metric names `/metrics` served before the console moved it onto axum: a scraper's
/// queries must keep finding every one.
const METRIC_NAMES: &[&str] = &[
    "lookout_camera_crashes_total",
    "lookout_camera_decode_fps",
    "lookout_camera_fault",
    "lookout_camera_fps",
    "lookout_camera_frame_age_seconds",
    "lookout_camera_frames_total",
    "lookout_camera_reconnects_total",
    "lookout_camera_state",
    "lookout_camera_up",
    "lookout_detect_fps",
    "lookout_detect_gated_total",
    "lookout_evidence_bytes",
    "lookout_evidence_evicted_total",
    "lookout_frame_lag_seconds",
    "lookout_inference_dropped_total",
    "lookout_inference_errors_total",
    "lookout_inference_last_seconds",
    "lookout_inference_runs_total",
    "lookout_inference_seconds_total",
    "lookout_orders",
    "lookout_orders_on_site_total",
    "lookout_outbox_bytes",
    "lookout_outbox_messages",
    "lookout_rule_events_total",
    "lookout_rule_value",
    "lookout_uplink_queue_depth",
    "lookout_uptime_seconds",
];

#[test]
fn the_console_lets_in_only_its_user_and_metrics_stay_as_scrapers_know_them() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let cfg = example_with_broker(dir.path(), "plaza_pedestrians.toml", &broker.url());
    let port = free_port();
    serve_on_and_keep_alive(&cfg, port);
    // The password, set as a technician would (here on standard input).
    let password = "Tower-7-Lantern";
    console_passwd(&cfg, password);
    let saved = std::fs::read_to_string(&cfg).unwrap();
    assert!(saved.contains("password_hash = \"$argon2id$"), "{saved}");
    assert!(!saved.contains(password), "only the hash is stored");

    let log = repo().join("target/console-daemon.log");
    let _daemon = Daemon::start(&cfg, &dir.path().join("state"), Some(&log));
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the console never listened");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Anonymous: health and metrics, with every metric name scrapers know.
    let health = http(port, "GET", "/healthz", &[], "");
    assert_eq!((health.status, health.body.trim()), (200, "ok"));
    let metrics = http(port, "GET", "/metrics", &[], "");
    assert_eq!(metrics.status, 200);
    assert_eq!(
        metrics.header("content-type").as_deref(),
        Some("text/plain; version=0.0.4")
    );
    let names: BTreeSet<&str> = metrics
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let expected: BTreeSet<&str> = METRIC_NAMES.iter().copied().collect();
    assert_eq!(names, expected, "the metric names are unchanged");

    // Without a session: pages go to the login, the API says 401.
    let page = http(port, "GET", "/orders?state=open", &[], "");
    assert_eq!(page.status, 303);
    assert_eq!(
        page.header("location").as_deref(),
        Some("/login?next=%2Forders%3Fstate%3Dopen")
    );
    assert_eq!(http(port, "GET", "/api/status", &[], "").status, 401);
    let login = http(port, "GET", "/login", &[], "");
    assert_eq!(login.status, 200);
    assert!(login.body.contains("name=\"password\""));
    assert_eq!(login.header("x-frame-options").as_deref(), Some("DENY"));

    // The right password opens a session.
    let ok = http(
        port,
        "POST",
        "/login",
        &[],
        &form(&[
            ("user", "admin"),
            ("password", password),
            ("next", "/orders"),
        ]),
    );
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.header("location").as_deref(), Some("/orders"));
    let cookie = ok.header("set-cookie").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with = [("Cookie", session.as_str())];
    let overview = http(port, "GET", "/", &with, "");
    assert_eq!(overview.status, 200);
    assert!(
        overview.body.contains("data-camera=\"plaza_pedestrians\""),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("data-camera=\"spare\""));
    let status: serde_json::Value =
        serde_json::from_str(&http(port, "GET", "/api/status", &with, "").body).unwrap();
    let ids: Vec<&str> = status["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["plaza_pedestrians", "spare"]);

    // The plaza's crowd order: in the API, on the list and on its page.
    let deadline = Instant::now() + Duration::from_secs(60);
    let order = loop {
        let list: serde_json::Value =
            serde_json::from_str(&http(port, "GET", "/api/orders?kind=crowd", &with, "").body)
                .unwrap();
        if let Some(first) = list.as_array().and_then(|a| a.first()) {
            break first.clone();
        }
        assert!(Instant::now() < deadline, "no crowd order");
        std::thread::sleep(Duration::from_millis(500));
    };
    let id = order["id"].as_str().unwrap();
    let list = http(port, "GET", "/orders?kind=crowd", &with, "");
    assert!(
        list.body.contains(&format!("/orders/{id}")),
        "{}",
        list.body
    );
    let none = http(port, "GET", "/api/orders?kind=fire", &with, "");
    assert_eq!(none.body.trim(), "[]");
    assert_eq!(
        http(port, "GET", "/api/orders?state=nonsense", &with, "").status,
        400
    );
    let page = http(port, "GET", &format!("/orders/{id}"), &with, "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"timeline\""));
    assert!(page.body.contains("<svg id=\"sketch\""), "{}", page.body);
    // Its opening photo, from the box's evidence store, to a session only.
    let photo = order["evidence"][0]["name"].as_str().unwrap();
    assert!(page
        .body
        .contains(&format!("/orders/{id}/evidence/{photo}")));
    let jpeg = http(
        port,
        "GET",
        &format!("/orders/{id}/evidence/{photo}"),
        &with,
        "",
    );
    assert_eq!(jpeg.status, 200);
    assert_eq!(jpeg.header("content-type").as_deref(), Some("image/jpeg"));
    assert_eq!(
        jpeg.header("content-length")
            .and_then(|n| n.parse::<u64>().ok()),
        order["evidence"][0]["bytes"].as_u64()
    );
    assert_eq!(
        http(
            port,
            "GET",
            &format!("/orders/{id}/evidence/{photo}"),
            &[],
            ""
        )
        .status,
        303,
        "not without a session"
    );

    // The camera's page: its latest frame with zones and detections drawn, its rules.
    let camera = http(port, "GET", "/cameras/plaza_pedestrians", &with, "");
    assert_eq!(camera.status, 200);
    assert!(camera.body.contains("id=\"frame\""), "{}", camera.body);
    assert!(camera.body.contains("<td>crowd</td>"), "{}", camera.body);
    let frame = http(
        port,
        "GET",
        "/cameras/plaza_pedestrians/frame.jpg",
        &with,
        "",
    );
    assert_eq!(frame.status, 200);
    assert_eq!(frame.header("content-type").as_deref(), Some("image/jpeg"));
    let picture = image::load_from_memory(&frame.bytes).expect("a JPEG");
    assert_eq!((picture.width(), picture.height()), (640, 360));
    picture
        .save(repo().join("target/console-camera-frame.png"))
        .unwrap();

    // Changes need the session's CSRF token and this origin.
    let csrf = overview
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    let forged = http(port, "POST", "/logout", &with, &form(&[("csrf", "0000")]));
    assert_eq!(forged.status, 403);
    let elsewhere = [
        ("Cookie", session.as_str()),
        ("Origin", "http://evil.example"),
    ];
    let cross = http(
        port,
        "POST",
        "/logout",
        &elsewhere,
        &form(&[("csrf", &csrf)]),
    );
    assert_eq!(cross.status, 403);
    // A zone drawn in the editor (four points) goes into the file, comments kept, the camera
    // reloads and the CLI lists it; two points, a taken id or a forged token are refused.
    let before = std::fs::read_to_string(&cfg).unwrap();
    let zone = |id: &str, polygon: &str, token: &str| {
        http(
            port,
            "POST",
            "/cameras/plaza_pedestrians/zones",
            &with,
            &form(&[
                ("csrf", token),
                ("id", id),
                ("name", "售货亭 kiosk"),
                ("polygon", polygon),
            ]),
        )
    };
    let square = "0.1000,0.5000;0.3000,0.5000;0.3000,0.8000;0.1000,0.8000";
    assert_eq!(zone("kiosk", square, "0000").status, 403);
    let saved = zone("kiosk", square, &csrf);
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.header("location").as_deref(),
        Some("/cameras/plaza_pedestrians?saved=kiosk")
    );
    let after = std::fs::read_to_string(&cfg).unwrap();
    assert!(after.contains("id = \"kiosk\""), "{after}");
    let comments = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    assert_eq!(comments(&after), comments(&before), "comments kept");
    let listed = lookout_with(&["zone", "list", "plaza_pedestrians"], &cfg);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("kiosk"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().any(|l| {
            l.contains("Config reloaded.") && l.contains("restarted=[\"plaza_pedestrians\"]")
        }) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the camera was not reloaded:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let page = http(port, "GET", "/cameras/plaza_pedestrians", &with, "");
    assert!(page.body.contains("data-zone=\"kiosk\""));
    let short = zone("stall", "0.1,0.1;0.2,0.2", &csrf);
    assert_eq!(short.status, 400);
    assert!(short.body.contains("id=\"problem\""), "{}", short.body);
    let taken = zone("kiosk", square, &csrf);
    assert_eq!(taken.status, 400);
    assert!(taken.body.contains("already has a zone"), "{}", taken.body);

    // The broker as the overview and the API see it: connected, then gone.
    let broker_of = || {
        let status: serde_json::Value =
            serde_json::from_str(&http(port, "GET", "/api/status", &with, "").body).unwrap();
        status["broker"].clone()
    };
    assert_eq!(broker_of()["connected"], true, "{}", broker_of());
    assert!(http(port, "GET", "/", &with, "")
        .body
        .contains("class=\"ok\" id=\"broker\""));
    broker.stop();
    let deadline = Instant::now() + Duration::from_secs(30);
    while broker_of()["connected"] != false {
        assert!(
            Instant::now() < deadline,
            "the broker never went: {}",
            broker_of()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(broker_of()["error"].is_string(), "{}", broker_of());
    assert!(http(port, "GET", "/", &with, "")
        .body
        .contains("class=\"bad\" id=\"broker\""));

    let out = http(port, "POST", "/logout", &with, &form(&[("csrf", &csrf)]));
    assert_eq!(out.status, 303);
    assert_eq!(
        http(port, "GET", "/api/status", &with, "").status,
        401,
        "logged out"
    );

    // Wrong passwords: refused, and after five the address waits, even with the right one.
    for _ in 0..5 {
        let wrong = http(
            port,
            "POST",
            "/login",
            &[],
            &form(&[("user", "admin"), ("password", "guess")]),
        );
        assert_eq!(wrong.status, 401);
        assert!(wrong.header("set-cookie").is_none());
    }
    let limited = http(
        port,
        "POST",
        "/login",
        &[],
        &form(&[("user", "admin"), ("password", password)]),
    );
    assert_eq!(limited.status, 429);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert!(limited.header("set-cookie").is_none());
}

/// `lookout init --console-password` stores the hash (a short password leaves no file behind),
/// and the console's certificate is checked with the rest of the config: half a pair, a file
/// that is not there and a certificate that is no PEM are each named at their key.
#[test]
fn init_sets_the_console_password_and_the_certificate_is_checked_with_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let init = |name: &str, password: &str| {
        let mut child = Command::new(lookout_bin())
            .args(["init", "--site", "s", "--box", "b", "--console-password"])
            .arg("--state")
            .arg(dir.path().join("state"))
            .arg("--config")
            .arg(dir.path().join(name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = init("short.toml", "tower");
    assert_eq!(short.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 10 characters"));
    assert!(!dir.path().join("short.toml").exists(), "no half-made box");
    let ok = init("lookout.toml", "Tower-7-Lantern");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let cfg = dir.path().join("lookout.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("password_hash = \"$argon2id$"), "{text}");
    assert!(
        text.contains("# tls_cert"),
        "the template's hints kept: {text}"
    );

    let check = |console: &str| {
        let body = text.replace("[console]\n", &format!("[console]\n{console}\n"));
        std::fs::write(&cfg, body).unwrap();
        let out = lookout_with(&["camera", "list"], &cfg);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    std::fs::write(dir.path().join("garbage.pem"), "not a certificate\n").unwrap();
    std::fs::write(dir.path().join("key.pem"), "not a key\n").unwrap();
    let (code, err) = check("tls_cert = \"garbage.pem\"");
    assert_ne!(code, Some(0));
    assert!(
        err.contains("console.tls_key") && err.contains("needs its tls_key"),
        "{err}"
    );
    let (code, err) = check("tls_cert = \"missing.pem\"\ntls_key = \"key.pem\"");
    assert_ne!(code, Some(0));
    assert!(
        err.contains("console.tls_cert") && err.contains("does not exist"),
        "{err}"
    );
    let (code, err) = check("tls_cert = \"garbage.pem\"\ntls_key = \"key.pem\"");
    assert_ne!(code, Some(0));
    assert!(
        err.contains("console.tls_cert") && err.contains("garbage.pem"),
        "{err}"
    );
}
