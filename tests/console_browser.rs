//! The web console in a real browser: Debian's headless Chromium driven through
//! `chromedriver` (WebDriver, the `fantoccini` crate), over HTTPS with a certificate the test
//! makes. Two RTSP cameras replay shared clips (`lookout camera simulate`); the box analyses
//! them (`lookout run`). The browser is sent to the login, logs in, sees both cameras online
//! with their zones drawn on the pictures, draws a zone with four clicks and saves it (the file
//! gains it with its comments, the camera reloads, `lookout zone list` shows it), opens the
//! crowd order the replay raised and sees its photo and the centre's command, logs out, and is
//! refused and then rate-limited on wrong passwords. Screenshots of the overview, the camera
//! page with the editor and the order page are saved under `target/`.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, ClientBuilder, Locator};

/// Chromium's WebDriver server (Debian's `chromium-driver`, installed by scripts/setup.sh).
fn chromedriver(port: u16) -> Killed {
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (scripts/setup.sh installs chromium-driver)");
    wait_listening(port, "chromedriver");
    Killed(child)
}

/// A self-signed certificate for 127.0.0.1 and its key, made with openssl.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("console.pem"), dir.join("console.key"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=lookout console test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

const CONFIG: &str = r#"# A box with two cameras on the console test's RTSP simulators.
version = 1

[box]
site = "demo-district"
id = "box-001"
language = "zh"

[uplink]
broker = "{BROKER}"

[metrics]
listen = "127.0.0.1:{HTTPS}"

# The console over HTTPS with the test's certificate.
[console]
tls_cert = "console.pem"
tls_key = "console.key"

[models]
manifests = "{REPO}/models"
dir = "{REPO}/.runtime/models"
onnxruntime = "{REPO}/.runtime/onnxruntime/libonnxruntime.so"

# A high view of a plaza: ~40 people walking.
[[cameras]]
id = "plaza"
name = "市民广场 Civic plaza"
source = "rtsp://127.0.0.1:{PLAZA}/cam"
detect_fps = 4.0
models = ["yolox_nano_coco_dyn"]
location = { lat = 30.2712, lon = 120.1603, accuracy_m = 40.0 }

[cameras.model_options.yolox_nano_coco_dyn]
tiles = { cols = 2, rows = 2 }

[[cameras.zones]]
id = "plaza"
name = "广场中心 plaza centre"
polygon = [[0.02, 0.05], [0.98, 0.05], [0.98, 0.98], [0.02, 0.98]]

# A busy plaza: 10 people for 3 s.
[[cameras.rules]]
kind = "crowd"
zone = "plaza"
min_count = 10
hold_s = 3.0
clear_s = 5.0

# An overhead parking lane, with a booth the parking rule ignores.
[[cameras]]
id = "parking"
name = "停车场通道 parking lane"
source = "rtsp://127.0.0.1:{PARKING}/cam"
detect_fps = 4.0
models = ["yolox_nano_coco"]
location = { lat = 30.2731, lon = 120.1570, accuracy_m = 20.0 }

[[cameras.zones]]
id = "lane"
name = "消防通道 fire lane"
polygon = [[0.05, 0.05], [0.95, 0.05], [0.95, 0.95], [0.05, 0.95]]

[[cameras.zones]]
id = "booth"
name = "岗亭 booth"
polygon = [[0.70, 0.60], [0.90, 0.60], [0.90, 0.90], [0.70, 0.90]]

[[cameras.rules]]
kind = "parking"
zone = "lane"
masks = ["booth"]
tolerance_s = 60.0
"#;

/// Runs JavaScript in the page (WebDriver's "execute script").
async fn js(b: &Client, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
    b.execute(script, args).await.expect("script runs")
}

/// The colours of the camera picture at points (0..1 of it), each the most saturated pixel in
/// the hue asked for within 3 px (outlines are 2 px wide and JPEG blurs them); `null` while the
/// picture loads.
const PIXELS: &str = r#"
var img = document.getElementById('frame');
if (!img || !img.complete || !img.naturalWidth) return null;
var c = document.createElement('canvas');
c.width = img.naturalWidth; c.height = img.naturalHeight;
var g = c.getContext('2d'); g.drawImage(img, 0, 0);
var hue = arguments[1];
return arguments[0].map(function (p) {
  var x = Math.round(p[0] * c.width), y = Math.round(p[1] * c.height);
  var d = g.getImageData(x - 3, y - 3, 7, 7).data, best = null, score = -1e9;
  for (var i = 0; i < d.length; i += 4) {
    var s = hue == 'green' ? d[i+1] - Math.max(d[i], d[i+2]) : Math.min(d[i], d[i+2]) - d[i+1];
    if (s > score) { score = s; best = [d[i], d[i+1], d[i+2]]; }
  }
  return best;
});
"#;

/// How many of `points` on the camera picture are in `hue` ("green": a zone's outline,
/// "magenta": a mask's), once the picture has loaded. Several points, because a person's box
/// or label may cover any one of them.
async fn outline_points(b: &Client, points: &[(f64, f64)], hue: &str) -> usize {
    let pts: Vec<serde_json::Value> = points
        .iter()
        .map(|p| serde_json::json!([p.0, p.1]))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = js(b, PIXELS, vec![pts.clone().into(), hue.into()]).await;
        if let Some(colours) = v.as_array() {
            return colours
                .iter()
                .filter(|c| {
                    let [r, g, bl] = [0, 1, 2].map(|i| c[i].as_i64().unwrap_or(0));
                    match hue {
                        "green" => g > 150 && g - r.max(bl) > 80,
                        _ => r.min(bl) > 150 && r.min(bl) - g > 60,
                    }
                })
                .count();
        }
        assert!(Instant::now() < deadline, "the camera picture never loaded");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Points along the edges of a rectangle given by its corners.
fn along(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    let mut v = Vec::new();
    for k in 1..=4 {
        let f = 0.15 + 0.7 * k as f64 / 5.0;
        let (x, y) = (x0 + (x1 - x0) * f, y0 + (y1 - y0) * f);
        v.extend([(x, y0), (x, y1), (x0, y), (x1, y)]);
    }
    v
}

/// The page's address once the navigation a click started has happened.
async fn navigated(b: &Client, arrived: impl Fn(&url::Url) -> bool) -> url::Url {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = b.current_url().await.unwrap();
        if arrived(&url) || Instant::now() > deadline {
            return url;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn path_of(b: &Client) -> String {
    b.current_url().await.unwrap().path().to_owned()
}

async fn screenshot(b: &Client, name: &str) {
    let png = b.screenshot().await.expect("a screenshot");
    let path = repo().join("target").join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

async fn login(b: &Client, user: &str, password: &str) {
    b.find(Locator::Id("user"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    b.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    b.find(Locator::Id("login"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Reloads `url` until `css` matches something on it.
async fn until_found(
    b: &Client,
    url: &str,
    css: &str,
    within: Duration,
) -> fantoccini::elements::Element {
    let deadline = Instant::now() + within;
    loop {
        b.goto(url).await.unwrap();
        if let Ok(e) = b.find(Locator::Css(css)).await {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "{css} never appeared on {url}:\n{}",
            b.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[test]
fn a_technician_logs_in_sees_the_cameras_draws_a_zone_and_reviews_an_order_in_chromium() {
    let dir = scratch_dir();
    let broker = Mosquitto::start();
    let (https, plaza_port, parking_port, driver_port) =
        (free_port(), free_port(), free_port(), free_port());
    certificate(dir.path());
    let text = CONFIG
        .replace("{HTTPS}", &https.to_string())
        .replace("{PLAZA}", &plaza_port.to_string())
        .replace("{PARKING}", &parking_port.to_string());
    let cfg = write_config(dir.path(), "lookout.toml", &text, &broker.url());
    let password = "Tower-7-Lantern";
    console_passwd(&cfg, password);

    let _plaza = simulated_camera(&lookout_bin(), &video("plaza_pedestrians.mp4"), plaza_port);
    let _parking = simulated_camera(
        &lookout_bin(),
        &video("parking_lot_overhead.mp4"),
        parking_port,
    );
    let log = repo().join("target/console-browser-daemon.log");
    let _daemon = Daemon::start(&cfg, &dir.path().join("state"), Some(&log));
    wait_listening(https, "the console");

    // HTTPS only: a plain HTTP request on the console's port gets no page.
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", https)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(
        !String::from_utf8_lossy(&answer).starts_with("HTTP/"),
        "plain HTTP must not be served"
    );

    let _driver = chromedriver(driver_port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert("acceptInsecureCerts".into(), true.into());
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1500"],
            }),
        );
        let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a Chromium session");
        let base = format!("https://127.0.0.1:{https}");
        let result = browse(&b, &base, &cfg, &log, password, broker.port).await;
        let _ = b.close().await;
        result
    });
}

async fn browse(b: &Client, base: &str, cfg: &Path, log: &Path, password: &str, mqtt: u16) {
    // No session: the overview sends the browser to the login.
    b.goto(&format!("{base}/")).await.unwrap();
    let url = b.current_url().await.unwrap();
    assert_eq!(url.path(), "/login");
    assert_eq!(url.query(), Some("next=%2F"));

    login(b, "admin", password).await;
    assert_eq!(navigated(b, |u| u.path() == "/").await.path(), "/");
    let cookies = b.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name() == "lookout_session")
        .expect("a session cookie");
    assert_eq!(session.secure(), Some(true), "Secure over HTTPS");
    assert_eq!(session.http_only(), Some(true));

    // Both cameras online on the overview, their models running.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        b.goto(&format!("{base}/")).await.unwrap();
        let online = b
            .find_all(Locator::Css("tr[data-camera] td.ok"))
            .await
            .unwrap()
            .len();
        let detecting = js(
            b,
            "return Array.from(document.querySelectorAll('tr[data-camera]'))\
               .filter(function (r) { return parseFloat(r.cells[2].textContent) > 0; }).length;",
            vec![],
        )
        .await;
        if online == 2 && detecting.as_u64() == Some(2) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "both cameras never online together:\n{}",
            b.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    b.find(Locator::Css("#broker.ok"))
        .await
        .expect("the broker connected on the overview");
    screenshot(b, "console-overview.png").await;

    // Each camera's picture has its zones drawn: the zone's top edge in green, the parking
    // camera's masked booth hatched in magenta.
    b.goto(&format!("{base}/cameras/parking")).await.unwrap();
    let lane = outline_points(b, &along(0.05, 0.05, 0.95, 0.95), "green").await;
    assert!(lane >= 10, "the lane's outline: {lane} of 16 points green");
    let booth = outline_points(b, &along(0.70, 0.60, 0.90, 0.90), "magenta").await;
    assert!(
        booth >= 10,
        "the masked booth's outline: {booth} of 16 points magenta"
    );
    let booth = b
        .find(Locator::Css("tr[data-zone=\"booth\"].mask"))
        .await
        .expect("the booth listed as a mask");
    assert!(booth.text().await.unwrap().contains("parking"));
    screenshot(b, "console-camera-masks.png").await;

    b.goto(&format!("{base}/cameras/plaza")).await.unwrap();
    let plaza = outline_points(b, &along(0.02, 0.05, 0.98, 0.98), "green").await;
    assert!(
        plaza >= 10,
        "the plaza's outline: {plaza} of 16 points green"
    );

    // Draw a zone: four clicks on the picture, relative to its centre.
    let overlay = b.find(Locator::Id("overlay")).await.unwrap();
    let size = js(
        b,
        "var r = document.getElementById('overlay').getBoundingClientRect(); return [r.width, r.height];",
        vec![],
    )
    .await;
    let (w, h) = (size[0].as_f64().unwrap(), size[1].as_f64().unwrap());
    let corners = [(0.2, 0.4), (0.45, 0.4), (0.45, 0.7), (0.2, 0.7)];
    let mut mouse = MouseActions::new("mouse".into());
    for (x, y) in corners {
        mouse = mouse
            .then(PointerAction::MoveToElement {
                element: overlay.clone(),
                duration: None,
                x: ((x - 0.5) * w).round(),
                y: ((y - 0.5) * h).round(),
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
    }
    b.perform_actions(mouse).await.unwrap();
    assert_eq!(
        b.find(Locator::Id("points"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "4"
    );
    b.find(Locator::Id("zone-id"))
        .await
        .unwrap()
        .send_keys("kiosk")
        .await
        .unwrap();
    b.find(Locator::Id("zone-name"))
        .await
        .unwrap()
        .send_keys("售货亭 kiosk")
        .await
        .unwrap();
    screenshot(b, "console-camera-editor.png").await;
    let comments = |t: &str| {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
    };
    let before = std::fs::read_to_string(cfg).unwrap();
    b.find(Locator::Id("save-zone"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let url = navigated(b, |u| u.query().is_some()).await;
    assert_eq!(
        (url.path(), url.query()),
        ("/cameras/plaza", Some("saved=kiosk"))
    );
    b.find(Locator::Css("tr[data-zone=\"kiosk\"]"))
        .await
        .expect("the new zone listed");

    // The file gained the zone where it was drawn, its comments kept.
    let after = std::fs::read_to_string(cfg).unwrap();
    assert_eq!(comments(&after), comments(&before), "comments kept");
    let parsed: toml::Value = toml::from_str(&after).unwrap();
    let zone = parsed["cameras"][0]["zones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["id"].as_str() == Some("kiosk"))
        .expect("the zone in the file")
        .clone();
    assert_eq!(zone["name"].as_str(), Some("售货亭 kiosk"));
    let points = zone["polygon"].as_array().unwrap();
    assert_eq!(points.len(), 4);
    for (p, (x, y)) in points.iter().zip(corners) {
        let (px, py) = (p[0].as_float().unwrap(), p[1].as_float().unwrap());
        assert!(
            (px - x).abs() < 0.01 && (py - y).abs() < 0.01,
            "drawn at ({x}, {y}), saved as ({px}, {py})"
        );
    }
    // The camera reloaded alone, and the CLI lists the zone.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text
            .lines()
            .any(|l| l.contains("Config reloaded.") && l.contains("restarted=[\"plaza\"]"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the camera was not reloaded:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = lookout_with(&["zone", "list", "plaza"], cfg);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("kiosk"));

    // The crowd order the replay raised: the centre dispatches it, the page shows its photo
    // and the command.
    let link = until_found(
        b,
        &format!("{base}/orders?kind=crowd"),
        "#orders a[href^=\"/orders/\"]",
        Duration::from_secs(120),
    )
    .await;
    let href = link.attr("href").await.unwrap().unwrap();
    let order_id = href.trim_start_matches("/orders/").to_owned();
    let command = serde_json::json!({
        "request_id": "console-dispatch-1",
        "order_id": order_id,
        "actor": "centre-operator",
        "team": "城管一队",
    })
    .to_string();
    // The MQTT helper runs its own runtime: off this one's thread.
    tokio::task::spawn_blocking(move || {
        publish(
            mqtt,
            "lookout/v1/demo-district/box-001/cmd/dispatch",
            command.as_bytes(),
        )
    })
    .await
    .unwrap();
    link.click().await.unwrap();
    assert_eq!(navigated(b, |u| u.path() == href).await.path(), href);
    until_found(
        b,
        &format!("{base}{href}"),
        "#commands td",
        Duration::from_secs(30),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let commands = b
            .find(Locator::Id("commands"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if commands.contains("dispatch") && commands.contains("console-dispatch-1") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no dispatch on the page: {commands}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        b.refresh().await.unwrap();
    }
    let photo = js(
        b,
        "var i = document.querySelector('#evidence img'); return i && i.complete ? i.naturalWidth : 0;",
        vec![],
    )
    .await;
    assert!(
        photo.as_u64().unwrap_or(0) >= 320,
        "the order's photo shows: {photo}"
    );
    b.find(Locator::Css("svg#sketch"))
        .await
        .expect("the location sketch");
    screenshot(b, "console-order.png").await;

    // Log out; the orders page then wants a login again.
    b.find(Locator::Id("logout"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        navigated(b, |u| u.path() == "/login").await.path(),
        "/login"
    );
    b.goto(&format!("{base}/orders")).await.unwrap();
    assert_eq!(path_of(b).await, "/login");

    // Wrong passwords are refused; after five, even the right one waits.
    for _ in 0..5 {
        b.goto(&format!("{base}/login")).await.unwrap();
        login(b, "admin", "not-the-password").await;
        let refused = b
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Id("refused"))
            .await
            .expect("a refusal");
        assert!(!refused.text().await.unwrap().is_empty());
    }
    b.goto(&format!("{base}/login")).await.unwrap();
    login(b, "admin", password).await;
    let refused = b
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("refused"))
        .await
        .expect("rate-limited");
    let text = refused.text().await.unwrap();
    assert!(text.contains("失败次数过多"), "{text}");
    b.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(path_of(b).await, "/login", "no session after the limit");
}
