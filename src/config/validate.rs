//! Checks the typed config can't express: ranges, references between keys, safe identifiers and
//! camera sources. Returns every problem, never stops at the first.

use std::collections::HashSet;
use std::path::Path;

use super::span::KeyPath;
use super::{is_identifier, CameraConfig, Config, RuleConfig};
use super::{SourceKind, TEST_PATTERNS};

#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: KeyPath,
    pub message: String,
}

impl Problem {
    pub fn new(key: KeyPath, message: impl Into<String>) -> Self {
        Problem {
            key,
            message: message.into(),
        }
    }
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, key: KeyPath, message: impl Into<String>) {
        self.0.push(Problem {
            key,
            message: message.into(),
        });
    }
}

fn root() -> KeyPath {
    KeyPath::default()
}

pub fn validate(config: &Config) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    if config.version != 1 {
        p.add(
            root().key("version"),
            format!(
                "unsupported config version {}; this lookout reads version 1",
                config.version
            ),
        );
    }
    for (key, value) in [("site", &config.identity.site), ("id", &config.identity.id)] {
        if !is_identifier(value) {
            p.add(
                root().key("box").key(key),
                format!("{value:?} is not a valid identifier: use 1-64 letters, digits, '_' or '-' (it becomes part of MQTT topics)"),
            );
        }
    }
    validate_uplink(config, &mut p);
    let console = root().key("console");
    if !is_identifier(&config.console.user) {
        p.add(
            console.clone().key("user"),
            "1-64 letters, digits, '_' or '-'",
        );
    }
    if !(config.console.session_hours > 0.0 && config.console.session_hours <= 24.0 * 30.0) {
        p.add(
            console.key("session_hours"),
            "must be greater than 0 and at most 720 (30 days)",
        );
    }
    if let Some(hash) = &config.console.password_hash {
        if argon2::password_hash::PasswordHash::new(hash).is_err() {
            p.add(
                root().key("console").key("password_hash"),
                "not an Argon2 PHC string ($argon2id$…): set it with lookout console passwd",
            );
        }
    }
    validate_console_tls(&config.console, &mut p);
    validate_orders(config, &mut p);
    validate_models(&config.models, &mut p);
    let mut ids = HashSet::new();
    for (i, camera) in config.cameras.iter().enumerate() {
        let at = root().key("cameras").index(i);
        if !ids.insert(camera.id.as_str()) {
            p.add(
                at.clone().key("id"),
                format!("camera id {:?} is used twice", camera.id),
            );
        }
        validate_camera(camera, at.clone(), &mut p);
        validate_camera_warnings(config, camera, at, &mut p);
    }
    validate_warnings(config, &mut p);
    validate_codes(config, &mut p);
    p.0
}

/// A city case code as the order schema takes it: 2 to 8 digits.
fn is_case_code(code: &str) -> bool {
    (2..=8).contains(&code.len()) && code.chars().all(|c| c.is_ascii_digit())
}

/// The case-code table: one row per kind and detail, codes that are codes.
fn validate_codes(config: &Config, p: &mut Problems) {
    let mut seen = HashSet::new();
    for (i, row) in config.codes.iter().enumerate() {
        let at = root().key("codes").index(i);
        if !seen.insert((row.kind, row.detail.clone())) {
            p.add(
                at.clone().key("kind"),
                format!(
                    "a second row for kind {:?}{}",
                    row.kind.as_str(),
                    row.detail
                        .as_ref()
                        .map(|d| format!(" and detail {d:?}"))
                        .unwrap_or_default()
                ),
            );
        }
        for (key, code) in [
            ("category", &row.category),
            ("subcategory", &row.subcategory),
        ] {
            if !is_case_code(code) {
                p.add(
                    at.clone().key(key),
                    format!("{code:?} is not a code: 2 to 8 digits (05, 0505)"),
                );
            }
        }
    }
}

/// Longest duration a `*_s` key takes: a year. Anything longer is a typo, and `inf` (which
/// TOML allows) would panic the first time it became a `Duration`.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// Most entries an array may have (a zone's points, a camera list): far above any real config,
/// far below what makes the checks slow.
pub const MAX_ARRAY: usize = 10_000;
/// Most points a zone polygon may have.
pub const MAX_ZONE_POINTS: usize = 1_000;

/// Checks every number of the raw TOML before it is used, by the key's unit suffix: no `inf` or
/// `nan` anywhere, durations (`*_s`) within 0..a year, `*_days` within 0..36500, `*_mb` within
/// 0..1048576, and no array longer than [`MAX_ARRAY`]. One mechanism for every key, so a
/// setting added later is covered without anyone remembering to.
pub fn validate_numbers(raw: &toml::Table) -> Vec<Problem> {
    let mut p = Problems(Vec::new());
    walk_table(raw, root(), &mut p);
    p.0
}

fn walk_table(t: &toml::Table, at: KeyPath, p: &mut Problems) {
    for (k, v) in t {
        walk_value(v, Some(k), at.clone().key(k), p);
    }
}

fn walk_value(v: &toml::Value, key: Option<&str>, at: KeyPath, p: &mut Problems) {
    let number = match v {
        toml::Value::Float(f) => Some(*f),
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Table(t) => {
            walk_table(t, at.clone(), p);
            None
        }
        toml::Value::Array(a) => {
            if a.len() > MAX_ARRAY {
                p.add(
                    at.clone(),
                    format!("has {} entries; at most {MAX_ARRAY} are allowed", a.len()),
                );
                return;
            }
            for (i, item) in a.iter().enumerate() {
                // An array's items carry the array's unit (`gcp`, `polygon`: plain numbers).
                walk_value(item, key, at.clone().index(i), p);
            }
            None
        }
        toml::Value::String(text) => {
            check_typed_text(text, key, at, p);
            return;
        }
        _ => None,
    };
    let Some(x) = number else { return };
    if !x.is_finite() {
        p.add(at, format!("{x} is not a usable number"));
        return;
    }
    let Some(key) = key else { return };
    let range = if key.ends_with("_s") {
        Some((0.0, MAX_SECONDS, "seconds (a year at most)"))
    } else if key.ends_with("_days") {
        Some((0.0, 36_500.0, "days"))
    } else if key.ends_with("_h") {
        Some((0.0, 8_760.0, "hours (a year at most)"))
    } else if key.ends_with("_mb") {
        Some((0.0, 1_048_576.0, "MB"))
    } else {
        None
    };
    if let Some((lo, hi, unit)) = range {
        if !(lo..=hi).contains(&x) {
            p.add(at, format!("{x} is out of range: {lo}..{hi} {unit}"));
        }
    }
}

/// Strings the model types when it reads them (windows of the day, the box's offset), checked
/// here first so that every bad one is reported at once, each at its key.
fn check_typed_text(text: &str, key: Option<&str>, at: KeyPath, p: &mut Problems) {
    let problem = match key {
        Some("hours" | "quiet_hours") => crate::vocab::Window::try_from(text).err(),
        Some("utc_offset") => crate::vocab::UtcOffset::try_from(text.to_owned()).err(),
        _ => None,
    };
    if let Some(why) = problem {
        p.add(at, why);
    }
}

/// Whether `name` is a kind with a voice prompt (`vending`, `parking`, …).
fn is_warned_kind(name: &str) -> bool {
    crate::vocab::IncidentKind::prompted().any(|k| k.as_str() == name)
}

fn warned_kinds() -> String {
    crate::vocab::IncidentKind::prompted()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn validate_warnings(config: &Config, p: &mut Problems) {
    let at = root().key("warnings");
    let w = &config.warnings;
    if w.max_per_hour == 0 {
        p.add(at.clone().key("max_per_hour"), "must be at least 1");
    }
    if w.repeat == 0 || w.repeat > 10 {
        p.add(at.clone().key("repeat"), "1 to 10 repetitions");
    }
    for kind in w.grace_s.keys() {
        if !is_warned_kind(kind) {
            p.add(
                at.clone().key("grace_s").key(kind),
                format!("{kind:?} is not a kind that is warned ({})", warned_kinds()),
            );
        }
    }
    let mut ids = HashSet::new();
    for (i, s) in config.speakers.iter().enumerate() {
        let sat = root().key("speakers").index(i);
        if !is_identifier(&s.id) {
            p.add(
                sat.clone().key("id"),
                format!("{:?} is not a valid speaker id", s.id),
            );
        }
        if !ids.insert(s.id.as_str()) {
            p.add(
                sat.clone().key("id"),
                format!("speaker id {:?} is used twice", s.id),
            );
        }
        match &s.output {
            crate::config::SpeakerOutput::Http {
                method, timeout_s, ..
            } => {
                if !matches!(method.to_ascii_uppercase().as_str(), "GET" | "POST" | "PUT") {
                    p.add(sat.clone().key("method"), "GET, POST or PUT");
                }
                if !(timeout_s.secs() > 0.0 && timeout_s.secs() <= 60.0) {
                    p.add(
                        sat.clone().key("timeout_s"),
                        "more than 0 and at most 60 seconds",
                    );
                }
            }
            crate::config::SpeakerOutput::Mqtt { topic } => {
                if topic.is_empty() || topic.contains(['+', '#']) {
                    p.add(sat.clone().key("topic"), "a topic without wildcards");
                }
            }
            crate::config::SpeakerOutput::Audio { .. } => {}
        }
    }
}

fn validate_camera_warnings(config: &Config, camera: &CameraConfig, at: KeyPath, p: &mut Problems) {
    if let Some(id) = &camera.speaker {
        if !config.speakers.iter().any(|s| &s.id == id) {
            p.add(
                at.clone().key("speaker"),
                format!("no [[speakers]] entry has id {id:?}"),
            );
        }
    }
    for (i, w) in camera.warnings.iter().enumerate() {
        let wat = at.clone().key("warnings").index(i);
        if let Some(kind) = &w.kind {
            if !is_warned_kind(kind) {
                p.add(
                    wat.clone().key("kind"),
                    format!("{kind:?} is not a kind that is warned ({})", warned_kinds()),
                );
            }
        }
        if let Some(zone) = &w.zone {
            if camera.zone(zone).is_none() {
                p.add(
                    wat.clone().key("zone"),
                    format!("no zone {zone:?} on this camera"),
                );
            }
        }
        if w.repeat.is_some_and(|r| r == 0 || r > 10) {
            p.add(wat.clone().key("repeat"), "1 to 10 repetitions");
        }
    }
}

fn validate_uplink(config: &Config, p: &mut Problems) {
    let at = root().key("uplink");
    let broker = config.uplink.broker.as_str();
    if broker != "embedded" {
        match url::Url::parse(broker) {
            Ok(u) if matches!(u.scheme(), "mqtt" | "mqtts") && u.host_str().is_some() => {
                if u.scheme() == "mqtts" && config.uplink.ca_file.is_none() {
                    p.add(at.clone().key("ca_file"), "an mqtts:// broker needs ca_file (the PEM of the CA that signed the broker's certificate)");
                }
            }
            _ => p.add(
                at.clone().key("broker"),
                format!("{broker:?} is not a broker: use \"embedded\", mqtt://host:port or mqtts://host:port"),
            ),
        }
    }
    if config
        .uplink
        .embedded_listen
        .parse::<std::net::SocketAddr>()
        .is_err()
    {
        p.add(
            at.clone().key("embedded_listen"),
            format!(
                "{:?} is not an address like 127.0.0.1:1883",
                config.uplink.embedded_listen
            ),
        );
    }
    if let Some(id) = &config.uplink.client_id {
        if id.is_empty() || id.len() > 128 {
            p.add(at.clone().key("client_id"), "must be 1-128 characters");
        }
    }
    files_exist(
        &at,
        &[
            ("password_file", &config.uplink.password_file),
            ("ca_file", &config.uplink.ca_file),
            ("cert_file", &config.uplink.cert_file),
            ("key_file", &config.uplink.key_file),
        ],
        p,
    );
    if config.uplink.broker == "embedded" {
        match config.uplink.embedded_listen.parse::<std::net::SocketAddr>() {
            Err(e) => p.add(
                at.clone().key("embedded_listen"),
                format!("{:?} is not an address like 127.0.0.1:1883: {e}", config.uplink.embedded_listen),
            ),
            Ok(a) if !a.ip().is_loopback() && !config.uplink.embedded_allow_remote => p.add(
                at.clone().key("embedded_listen"),
                format!("the embedded broker has no authentication: it listens on loopback only ({a} would open it to the network); use the centre's broker, or set embedded_allow_remote = true on a closed bench network"),
            ),
            Ok(_) => {}
        }
    }
    if config.uplink.cert_file.is_some() != config.uplink.key_file.is_some() {
        p.add(
            at.clone().key("cert_file"),
            "a client certificate needs its key: set both cert_file and key_file, or neither",
        );
    }
    if config.uplink.keep_alive_s < 5 {
        p.add(at.clone().key("keep_alive_s"), "must be at least 5 seconds");
    }
    if config.uplink.status_interval_s == 0 || config.uplink.status_interval_s > 3600 {
        p.add(
            at.clone().key("status_interval_s"),
            "must be between 1 and 3600 seconds",
        );
    }
    if config.uplink.keep_alive_s > 3600 {
        p.add(
            at.clone().key("keep_alive_s"),
            "must be at most 3600 seconds",
        );
    }
    if !(config.uplink.command_rate >= 0.1 && config.uplink.command_rate <= 10_000.0) {
        p.add(at.key("command_rate"), "must be between 0.1 and 10000");
    }
}

fn validate_orders(config: &Config, p: &mut Problems) {
    let o = &config.orders;
    let at = root().key("orders");
    if !(1.0..=3600.0).contains(&o.verify_window_s.secs()) {
        p.add(
            at.clone().key("verify_window_s"),
            "must be between 1 and 3600 seconds",
        );
    }
    if !(0.0..=1.0).contains(&o.verify_present_ratio) || o.verify_present_ratio == 0.0 {
        p.add(
            at.clone().key("verify_present_ratio"),
            "must be more than 0 and at most 1",
        );
    }
    if !(o.verify_retry_s.secs() >= 1.0 && o.verify_retry_max_s >= o.verify_retry_s) {
        p.add(
            at.key("verify_retry_s"),
            "must be at least 1 second and not more than verify_retry_max_s",
        );
    }
    let photo_quality = config.evidence.photo_quality;
    if !(1..=100).contains(&photo_quality) {
        p.add(
            root().key("evidence").key("photo_quality"),
            format!("{photo_quality} is out of range: use 1 to 100"),
        );
    }
    let max_width = config.evidence.photo_max_width;
    if max_width != 0 && max_width < 320 {
        p.add(
            root().key("evidence").key("photo_max_width"),
            format!("{max_width} is out of range: 0 (the camera's size) or at least 320 pixels"),
        );
    }
    let ev = &config.evidence;
    for (key, value) in [
        ("clip_pre_s", ev.clip_pre_s),
        ("clip_post_s", ev.clip_post_s),
    ] {
        if !(0.0..=60.0).contains(&value) {
            p.add(
                root().key("evidence").key(key),
                format!("{value} is out of range: 0 to 60 seconds"),
            );
        }
    }
    if !(1..=1024).contains(&ev.clip_buffer_mb) {
        p.add(
            root().key("evidence").key("clip_buffer_mb"),
            format!("{} is out of range: 1 to 1024 MiB", ev.clip_buffer_mb),
        );
    }
    if !(16..=4096).contains(&ev.clip_chunk_kb) {
        p.add(
            root().key("evidence").key("clip_chunk_kb"),
            format!("{} is out of range: 16 to 4096 KiB", ev.clip_chunk_kb),
        );
    }
    if config.storage.evidence_max_bytes < 1024 * 1024 {
        p.add(
            root().key("storage").key("evidence_max_bytes"),
            format!(
                "{} is out of range: at least 1048576 (1 MiB)",
                config.storage.evidence_max_bytes
            ),
        );
    }
    if config.storage.outbox_quota_mb == 0 {
        p.add(
            root().key("storage").key("outbox_quota_mb"),
            "must be at least 1 MiB",
        );
    }
}

fn validate_geo(camera: &CameraConfig, at: &KeyPath, p: &mut Problems) {
    if camera.calibration.is_some() && camera.pose.is_some() {
        p.add(
            at.clone().key("pose"),
            "a camera has either a calibration (fixed camera) or a pose (lookout/PTZ), not both",
        );
    }
    if let Some(pose) = &camera.pose {
        let pat = at.clone().key("pose");
        let checks: [(&str, bool, &str); 6] = [
            (
                "height_m",
                pose.height_m > 0.0,
                "must be above the ground (> 0)",
            ),
            (
                "tilt_deg",
                (-90.0..=90.0).contains(&pose.tilt_deg),
                "must be within -90..90",
            ),
            (
                "hfov_deg",
                pose.hfov_deg > 0.0 && pose.hfov_deg < 179.0,
                "must be within 0..179",
            ),
            ("aspect", pose.aspect > 0.0, "must be greater than 0"),
            (
                "max_range_m",
                pose.max_range_m > 0.0,
                "must be greater than 0",
            ),
            (
                "pointing_accuracy_deg",
                pose.pointing_accuracy_deg > 0.0,
                "must be greater than 0",
            ),
        ];
        for (key, ok, why) in checks {
            if !ok {
                p.add(pat.clone().key(key), why);
            }
        }
    }
}

fn validate_models(models: &crate::config::ModelsConfig, p: &mut Problems) {
    let at = || root().key("models");
    for (key, value, max) in [
        ("threads", models.threads, 64),
        ("batch", models.batch, 64),
        ("queue_per_camera", models.queue_per_camera, 64),
    ] {
        if value == 0 || value > max {
            p.add(
                at().key(key),
                format!("{value} is out of range: use 1 to {max}"),
            );
        }
    }
    if models.workers > 64 {
        p.add(
            at().key("workers"),
            format!(
                "{} is out of range: use 0 (one per core) to 64",
                models.workers
            ),
        );
    }
    if !(models.budget > 0.0 && models.budget <= 1.0) {
        p.add(
            at().key("budget"),
            format!(
                "{} is out of range: a share of the workers' time, above 0 and at most 1",
                models.budget
            ),
        );
    }
    if !(is_positive(models.min_fps) && models.min_fps <= 60.0) {
        p.add(
            at().key("min_fps"),
            format!(
                "{} is out of range: above 0, at most 60 frames per second",
                models.min_fps
            ),
        );
    }
    if models.deadline_s.secs() <= 0.0 {
        p.add(at().key("deadline_s"), "must be above 0 seconds");
    }
}

fn validate_camera(camera: &CameraConfig, at: KeyPath, p: &mut Problems) {
    if !is_identifier(&camera.id) {
        p.add(
            at.clone().key("id"),
            format!(
                "{:?} is not a valid camera id: use 1-64 letters, digits, '_' or '-'",
                camera.id
            ),
        );
    }
    if let Err(why) = check_source(&camera.source) {
        p.add(at.clone().key("source"), why);
    }
    if !is_positive(camera.detect_fps) || camera.detect_fps > 60.0 {
        p.add(
            at.clone().key("detect_fps"),
            "must be greater than 0 and at most 60",
        );
    }
    if camera.models.is_empty() {
        p.add(at.clone().key("models"), "name at least one model");
    }
    let motion = &camera.motion;
    if !(0.0..=1.0).contains(&motion.min_change) {
        p.add(
            at.clone().key("motion").key("min_change"),
            format!(
                "{} is out of range: a share of the picture, 0 to 1",
                motion.min_change
            ),
        );
    }
    for name in camera.model_fps.keys() {
        if !camera.models.contains(name) {
            p.add(
                at.clone().key("model_fps").key(name),
                format!("model {name:?} is not in this camera's models"),
            );
        }
    }
    for (name, fps) in &camera.model_fps {
        if !is_positive(*fps) {
            p.add(
                at.clone().key("model_fps").key(name),
                "must be greater than 0",
            );
        }
    }
    model_options(camera, &at, p);
    let t = &camera.tracker;
    let tracker = at.clone().key("tracker");
    for (key, v) in [
        ("new_track_score", t.new_track_score),
        ("high_score", t.high_score),
        ("low_score", t.low_score),
    ] {
        if !(0.0..=1.0).contains(&v) {
            p.add(tracker.clone().key(key), "must be within 0..1");
        }
    }
    if t.low_score > t.high_score {
        p.add(
            tracker.clone().key("low_score"),
            "must not exceed high_score",
        );
    }
    if !(t.max_lost_s.secs() > 0.0 && t.max_lost_s.secs() <= 600.0) {
        p.add(
            tracker.clone().key("max_lost_s"),
            "must be greater than 0 and at most 600",
        );
    }
    let loc = camera.location;
    if !(-90.0..=90.0).contains(&loc.lat) {
        p.add(
            at.clone().key("location").key("lat"),
            "latitude must be within -90..90",
        );
    }
    if !(-180.0..=180.0).contains(&loc.lon) {
        p.add(
            at.clone().key("location").key("lon"),
            "longitude must be within -180..180",
        );
    }
    if !is_positive(loc.accuracy_m) {
        p.add(
            at.clone().key("location").key("accuracy_m"),
            "must be greater than 0",
        );
    }
    validate_geo(camera, &at, p);
    validate_faults(&camera.faults, at.clone().key("faults"), p);
    validate_ptz(camera, &at, p);
    validate_zones_and_rules(camera, &at, p);
    // At each preset the camera's zones and rules hold with the preset's: the preset's are
    // checked in that company (ids unique with the camera's, masks naming either), and a
    // problem is reported at the preset's key.
    let c = match at.0.get(1) {
        Some(super::span::Segment::Index(c)) => *c,
        _ => 0,
    };
    for k in 0..camera.presets.len() {
        let view = camera.at_preset(k);
        let mut found = Problems(Vec::new());
        validate_zones_and_rules(&view, &at, &mut found);
        for problem in found.0 {
            let key = camera.preset_key(c, k, problem.key);
            if key.0.get(2) == Some(&super::span::Segment::Key("presets".into())) {
                p.add(key, problem.message);
            }
        }
    }
}

/// A PTZ camera's `[cameras.ptz]` and `[[cameras.presets]]` keys.
fn validate_ptz(camera: &CameraConfig, at: &KeyPath, p: &mut Problems) {
    if let Some(ptz) = &camera.ptz {
        let pat = at.clone().key("ptz");
        match url::Url::parse(&ptz.onvif) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
            _ => p.add(
                pat.clone().key("onvif"),
                "must be the camera's ONVIF device service URL, e.g. http://10.0.0.31/onvif/device_service",
            ),
        }
        if ptz.settle_s.secs() > 60.0 {
            p.add(pat.clone().key("settle_s"), "must be at most 60");
        }
        for (key, [lo, hi]) in [
            ("pan_range_deg", ptz.pan_range_deg),
            ("tilt_range_deg", ptz.tilt_range_deg),
        ] {
            if !(lo.is_finite() && hi.is_finite() && lo < hi && hi - lo <= 720.0) {
                p.add(
                    pat.clone().key(key),
                    "must be [low, high] degrees with low < high",
                );
            }
        }
        let fov_ok = |v: f64| v > 0.0 && v < 179.0;
        match (ptz.hfov_wide_deg, ptz.hfov_tele_deg) {
            (Some(w), Some(t)) if fov_ok(w) && fov_ok(t) && t <= w => {}
            (None, None) => {}
            (Some(_), Some(_)) => p.add(
                pat.clone().key("hfov_tele_deg"),
                "hfov_wide_deg and hfov_tele_deg must be within 0..179 with tele ≤ wide",
            ),
            _ => p.add(
                pat.clone().key("hfov_wide_deg"),
                "give both hfov_wide_deg and hfov_tele_deg, or neither",
            ),
        }
    }
    if camera.presets.is_empty() {
        return;
    }
    if camera.ptz.is_none() {
        p.add(
            at.clone().key("presets"),
            "presets need [cameras.ptz] (the camera's ONVIF address) to move the head",
        );
    }
    let mut tokens = HashSet::new();
    for (k, preset) in camera.presets.iter().enumerate() {
        let kat = at.clone().key("presets").index(k);
        if preset.token.trim().is_empty() || preset.token.len() > 64 {
            p.add(
                kat.clone().key("token"),
                "must be the preset's ONVIF token (1-64 characters)",
            );
        }
        if !tokens.insert(preset.token.as_str()) {
            p.add(
                kat.clone().key("token"),
                format!("preset {:?} is in the tour twice", preset.token),
            );
        }
        if preset.dwell_s.secs() < 1.0 {
            p.add(kat.clone().key("dwell_s"), "must be at least 1");
        }
        if let Some(h) = preset.hfov_deg {
            if !(h > 0.0 && h < 179.0) {
                p.add(kat.clone().key("hfov_deg"), "must be within 0..179");
            }
        }
    }
}

/// A camera's zones and the rules on them.
fn validate_zones_and_rules(camera: &CameraConfig, at: &KeyPath, p: &mut Problems) {
    let mut zone_ids = HashSet::new();
    for (i, zone) in camera.zones.iter().enumerate() {
        let zat = at.clone().key("zones").index(i);
        if !is_identifier(&zone.id) {
            p.add(
                zat.clone().key("id"),
                format!("{:?} is not a valid zone id", zone.id),
            );
        }
        if !zone_ids.insert(zone.id.as_str()) {
            p.add(
                zat.clone().key("id"),
                format!("zone id {:?} is used twice", zone.id),
            );
        }
        if zone.polygon.len() < 3 {
            p.add(zat.clone().key("polygon"), "a zone needs at least 3 points");
        }
        if zone.polygon.len() > MAX_ZONE_POINTS {
            p.add(
                zat.clone().key("polygon"),
                format!(
                    "has {} points; a zone takes at most {MAX_ZONE_POINTS}",
                    zone.polygon.len()
                ),
            );
        }
        for (j, [x, y]) in zone.polygon.iter().enumerate() {
            if !(0.0..=1.0).contains(x) || !(0.0..=1.0).contains(y) {
                p.add(
                    zat.clone().key("polygon").index(j),
                    format!(
                        "point [{x}, {y}] is outside the image: coordinates are normalised to 0..1"
                    ),
                );
            }
        }
    }
    // The crossing check is quadratic: only on polygons of an allowed size.
    for (i, zone) in camera.zones.iter().enumerate() {
        if zone.polygon.len() > MAX_ZONE_POINTS {
            continue;
        }
        if let Some((a, b)) = self_intersection(&zone.polygon) {
            p.add(
                at.clone().key("zones").index(i).key("polygon"),
                format!("the polygon crosses itself (edge {a} crosses edge {b}): list the points in order around the area"),
            );
        }
    }
    for (i, rule) in camera.rules.iter().enumerate() {
        validate_rule(camera, rule, at.clone().key("rules").index(i), p);
    }
}

/// The first pair of non-adjacent edges (1-based, edge k runs from point k to point k+1) that
/// cross, if any.
fn self_intersection(pts: &[[f64; 2]]) -> Option<(usize, usize)> {
    let n = pts.len();
    if n < 4 {
        return None;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    for i in 0..n {
        for j in i + 1..n {
            // Adjacent edges share a point; skip them (and the wrap-around pair).
            if j == i + 1 || (i == 0 && j == n - 1) {
                continue;
            }
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            let (c, d) = (pts[j], pts[(j + 1) % n]);
            let (d1, d2) = (cross(c, d, a), cross(c, d, b));
            let (d3, d4) = (cross(a, b, c), cross(a, b, d));
            if d1 * d2 < 0.0 && d3 * d4 < 0.0 {
                return Some((i + 1, j + 1));
            }
        }
    }
    None
}

/// The keys every rule shares; each kind checks its own keys when it is built (`rules::check`).
fn validate_rule(camera: &CameraConfig, rule: &RuleConfig, at: KeyPath, p: &mut Problems) {
    for (m, mask) in rule.masks.iter().enumerate() {
        if camera.zone(mask).is_none() {
            p.add(
                at.clone().key("masks").index(m),
                format!(
                    "mask zone {mask:?} is not defined on camera {:?}",
                    camera.id
                ),
            );
        }
    }
    if let Some(code) = &rule.event_code {
        if !is_case_code(code) {
            p.add(
                at.clone().key("event_code"),
                format!("{code:?} is not a code: 2 to 8 digits (0505)"),
            );
        }
    }
    if let Some(s) = &rule.schedule {
        if s.days.iter().any(|d| !(1..=7).contains(d)) {
            p.add(
                at.clone().key("schedule").key("days"),
                "days are 1 (Monday) to 7 (Sunday)",
            );
        }
        if s.months.iter().any(|m| !(1..=12).contains(m)) {
            p.add(
                at.clone().key("schedule").key("months"),
                "months are 1 to 12",
            );
        }
    }
}

/// Checks a camera source string; the error says what is wrong with it.
pub fn check_source(source: &str) -> Result<(), String> {
    match SourceKind::classify(source) {
        SourceKind::Rtsp => {
            if source.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(format!(
                    "camera URL {source:?} contains spaces or control characters; a URL never does (percent-encode them as %20)"
                ));
            }
            if source.contains('!') {
                return Err(format!(
                    "camera URL {source:?} contains '!', which looks like a GStreamer pipeline fragment; percent-encode it as %21 if it is really part of the URL"
                ));
            }
            let url = url::Url::parse(source).map_err(|e| format!("camera URL {source:?} is not a valid URL: {e}"))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("camera URL {source:?} has no host"));
            }
            Ok(())
        }
        SourceKind::Test(pattern) => {
            if TEST_PATTERNS.contains(&pattern) {
                Ok(())
            } else {
                Err(format!(
                    "unknown test pattern {pattern:?}; use one of {}",
                    TEST_PATTERNS.join(", ")
                ))
            }
        }
        SourceKind::Unsupported(scheme) => Err(format!(
            "unsupported source scheme {scheme:?}: use rtsp://, rtsps://, a video file path or test:PATTERN"
        )),
        SourceKind::File => {
            if Path::new(source).is_file() {
                Ok(())
            } else {
                Err(format!("video file {source} does not exist"))
            }
        }
    }
}

/// `v > 0`, false for NaN (a plain `!(v > 0.0)` reads as a typo).
fn validate_faults(f: &crate::config::FaultsConfig, at: KeyPath, p: &mut Problems) {
    for (key, v) in [
        ("check_every_s", f.check_every_s),
        ("frozen_s", f.frozen_s),
        ("black_s", f.black_s),
        ("blur_s", f.blur_s),
        ("shift_s", f.shift_s),
    ] {
        if v.secs() <= 0.0 {
            p.add(at.clone().key(key), "must be greater than 0 seconds");
        }
    }
    if !(0.0..=255.0).contains(&f.black_max_mean) {
        p.add(at.clone().key("black_max_mean"), "a grey level: 0..255");
    }
    if !(0.0..=128.0).contains(&f.uniform_max_std) {
        p.add(
            at.clone().key("uniform_max_std"),
            "a grey-level standard deviation: 0..128",
        );
    }
    if !(0.0..1.0).contains(&f.blur_max_ratio) {
        p.add(
            at.clone().key("blur_max_ratio"),
            "a share of the reference view's sharpness: 0 up to (not including) 1",
        );
    }
    if !(0.01..=0.15).contains(&f.shift_min_offset) {
        p.add(
            at.clone().key("shift_min_offset"),
            "a share of the frame within 0.01..0.15 (the largest shift searched for is 0.15)",
        );
    }
    if !(-1.0..=1.0).contains(&f.shift_min_score) {
        p.add(at.clone().key("shift_min_score"), "a correlation: -1..1");
    }
}

fn is_positive(v: f64) -> bool {
    v.partial_cmp(&0.0) == Some(std::cmp::Ordering::Greater)
}

/// `model_options`: for models the camera runs, with sizes and fractions in range. Whether a
/// model takes a free input size is the manifest's to say; the camera checks it when it loads.
fn model_options(camera: &CameraConfig, at: &KeyPath, p: &mut Problems) {
    for (name, o) in &camera.model_options {
        let key = at.clone().key("model_options").key(name);
        if !camera.models.contains(name) {
            p.add(
                key.clone(),
                format!("model {name:?} is not in this camera's models"),
            );
        }
        if let Some(size) = o.input_size {
            if size % 32 != 0 || !(64..=4096).contains(&size) {
                p.add(
                    key.clone().key("input_size"),
                    "must be a multiple of 32 within 64..4096",
                );
            }
        }
        if o.min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            p.add(key.clone().key("min_score"), "must be within 0..1");
        }
        if o.max_box_fraction.is_some_and(|f| !(f > 0.0 && f <= 1.0)) {
            p.add(
                key.clone().key("max_box_fraction"),
                "must be greater than 0 and at most 1",
            );
        }
        if let Some(t) = &o.tiles {
            let tiles = key.clone().key("tiles");
            if !(1..=8).contains(&t.cols) {
                p.add(tiles.clone().key("cols"), "must be within 1..8");
            }
            if !(1..=8).contains(&t.rows) {
                p.add(tiles.clone().key("rows"), "must be within 1..8");
            }
            if !(0.0..=0.5).contains(&t.overlap) {
                p.add(tiles.clone().key("overlap"), "must be within 0..0.5");
            }
        }
    }
}

/// Both halves of the console's certificate, or neither; each a file. Whether they hold a
/// usable certificate is `crate::tls`'s to say (through `build::check`).
fn validate_console_tls(console: &crate::config::ConsoleConfig, p: &mut Problems) {
    let at = root().key("console");
    match (&console.tls_cert, &console.tls_key) {
        (Some(_), None) => p.add(
            at.clone().key("tls_key"),
            "tls_cert needs its tls_key (PEM)",
        ),
        (None, Some(_)) => p.add(
            at.clone().key("tls_cert"),
            "tls_key needs its tls_cert (PEM)",
        ),
        _ => {}
    }
    files_exist(
        &at,
        &[
            ("tls_cert", &console.tls_cert),
            ("tls_key", &console.tls_key),
        ],
        p,
    );
}

/// Each file a section names (`key`, path when set) is there.
fn files_exist(at: &KeyPath, files: &[(&str, &Option<std::path::PathBuf>)], p: &mut Problems) {
    for (key, file) in files {
        if let Some(f) = file {
            if !f.is_file() {
                p.add(
                    at.clone().key(key),
                    format!("{} does not exist", f.display()),
                );
            }
        }
    }
}
