//! The config file's schema. Every field is documented here; `docs/config.md` is the reference a
//! technician reads and mirrors these comments. Unknown keys are rejected everywhere
//! (`deny_unknown_fields`), so a typo is an error instead of a silently ignored setting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use crate::rules::Severity;

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Schema version of this file. Only `1` exists.
    #[serde(default = "default_version")]
    pub version: u32,
    /// Who this box is: both values become part of every MQTT topic.
    #[serde(rename = "box")]
    pub identity: BoxIdentity,
    /// Where work orders go.
    #[serde(default)]
    pub uplink: UplinkConfig,
    /// Where models and the ONNX Runtime library live.
    #[serde(default)]
    pub models: ModelsConfig,
    /// The cameras this box watches.
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
}

fn default_version() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxIdentity {
    /// Site (district, street office or lookout post) the box belongs to, e.g. `"jiangbei-03"`.
    pub site: String,
    /// This box's id, unique within the site, e.g. `"box-017"`.
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    /// `"embedded"` starts an MQTT broker inside the daemon (demo, bench, a box with a local
    /// consumer); `mqtt://host:port` or `mqtts://host:port` connects to the centre's broker.
    #[serde(default = "default_broker")]
    pub broker: String,
    /// Listen address of the embedded broker. When it is taken, a free port is used and logged.
    #[serde(default = "default_embedded_listen")]
    pub embedded_listen: String,
    /// MQTT client id. Default: `lookout-{site}-{box}`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Username for the broker.
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the broker password (kept out of the config so the config can be shared).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// PEM file with the CA that signed the broker's certificate (`mqtts://` only). Default: the
    /// system's trust store is not consulted; a CA is required for `mqtts://`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// MQTT keep-alive in seconds; the broker publishes the last will after 1.5× this silence.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// How often the retained status is refreshed, in seconds.
    #[serde(default = "default_status_interval")]
    pub status_interval_s: u64,
}

fn default_broker() -> String {
    "embedded".into()
}
fn default_embedded_listen() -> String {
    "127.0.0.1:1883".into()
}
fn default_keep_alive() -> u64 {
    30
}
fn default_status_interval() -> u64 {
    10
}

impl Default for UplinkConfig {
    fn default() -> Self {
        UplinkConfig {
            broker: default_broker(),
            embedded_listen: default_embedded_listen(),
            client_id: None,
            username: None,
            password_file: None,
            ca_file: None,
            keep_alive_s: default_keep_alive(),
            status_interval_s: default_status_interval(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// Folder with the model manifests (`*.toml`).
    #[serde(default = "default_manifest_dir")]
    pub manifests: PathBuf,
    /// Folder with the model files the manifests name.
    #[serde(default = "default_model_dir")]
    pub dir: PathBuf,
    /// Path of `libonnxruntime.so`.
    #[serde(default = "default_onnxruntime")]
    pub onnxruntime: PathBuf,
    /// ONNX Runtime intra-op threads per model.
    #[serde(default = "default_threads")]
    pub threads: usize,
}

fn default_manifest_dir() -> PathBuf {
    "/usr/share/lookout/models".into()
}
fn default_model_dir() -> PathBuf {
    "/var/lib/lookout/models".into()
}
fn default_onnxruntime() -> PathBuf {
    "/usr/lib/lookout/libonnxruntime.so".into()
}
fn default_threads() -> usize {
    2
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            manifests: default_manifest_dir(),
            dir: default_model_dir(),
            onnxruntime: default_onnxruntime(),
            threads: default_threads(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Stable id: letters, digits, `_` and `-` (it becomes part of topics and order ids).
    pub id: String,
    /// Human name shown in work orders, e.g. `"东门广场 north pole"`.
    #[serde(default)]
    pub name: Option<String>,
    /// `rtsp://…` (credentials allowed), a video file path (relative to this config file), or
    /// `test:PATTERN` for a GStreamer test pattern (`test:ball`, `test:smpte`).
    pub source: String,
    /// Video codec of an RTSP stream: `auto`, `h264` or `h265`. Ignored for files.
    #[serde(default)]
    pub codec: Codec,
    /// Frames per second handed to the detectors (the rest are decoded and dropped).
    #[serde(default = "default_detect_fps")]
    pub detect_fps: f64,
    /// Model names (manifest `name`) this camera runs.
    pub models: Vec<String>,
    /// Per-model sampling rate override in frames/s, e.g. `{ fire_smoke_yolov8 = 1.0 }`.
    /// Default: the manifest's `defaults.fps`, capped at `detect_fps`.
    #[serde(default)]
    pub model_fps: BTreeMap<String, f64>,
    /// Where the camera stands (until geo calibration exists, orders carry this point).
    pub location: LocationConfig,
    /// Named areas of the image the rules refer to.
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    /// What turns detections into incidents on this camera.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

fn default_detect_fps() -> f64 {
    5.0
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    #[default]
    Auto,
    H264,
    H265,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    /// WGS-84 latitude in degrees.
    pub lat: f64,
    /// WGS-84 longitude in degrees.
    pub lon: f64,
    /// How far an incident can be from this point, in metres (roughly the camera's view depth).
    #[serde(default = "default_accuracy")]
    pub accuracy_m: f64,
}

fn default_accuracy() -> f64 {
    50.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Zone id, unique within the camera.
    pub id: String,
    /// Human name shown in work orders.
    #[serde(default)]
    pub name: Option<String>,
    /// Polygon in normalised image coordinates `[[x, y], …]`, 0..1 from the top-left corner.
    pub polygon: Vec<[f64; 2]>,
}

/// One rule on one camera. `kind` picks the rule; the other keys belong to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleConfig {
    /// 人员聚集: persons inside a zone ≥ `min_count` for ≥ `hold_s`.
    Crowd(CrowdRuleConfig),
    /// 烟火: fire detections sustained over a confirm window.
    Fire(FireRuleConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrowdRuleConfig {
    /// Zone the persons are counted in (their feet, the bottom-centre of the box).
    pub zone: String,
    /// Persons needed to count as a crowd.
    pub min_count: usize,
    /// Seconds the count must stay at or above `min_count` before an order opens.
    #[serde(default = "default_crowd_hold")]
    pub hold_s: f64,
    /// Seconds below `min_count` before the order is cleared.
    #[serde(default = "default_crowd_clear")]
    pub clear_s: f64,
    /// A person still counts this long after its last detection (rides over missed frames).
    #[serde(default = "default_crowd_memory")]
    pub memory_s: f64,
    /// Severity of the order.
    #[serde(default = "default_crowd_severity")]
    pub severity: Severity,
    /// City-management event code. Default `2101` (local extension: crowd gathering).
    #[serde(default)]
    pub event_code: Option<String>,
}

fn default_crowd_hold() -> f64 {
    10.0
}
fn default_crowd_clear() -> f64 {
    15.0
}
fn default_crowd_memory() -> f64 {
    1.0
}
fn default_crowd_severity() -> Severity {
    Severity::Yellow
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FireRuleConfig {
    /// Optional zone; without one the whole frame counts.
    #[serde(default)]
    pub zone: Option<String>,
    /// Minimum fire score for a sample to count as a hit.
    #[serde(default = "default_fire_min_score")]
    pub min_score: f32,
    /// Samples of the fire model looked back over.
    #[serde(default = "default_fire_window")]
    pub window: usize,
    /// Hits needed within `window` samples.
    #[serde(default = "default_fire_min_hits")]
    pub min_hits: usize,
    /// Seconds from the first hit before the order opens.
    #[serde(default = "default_fire_confirm")]
    pub confirm_s: f64,
    /// Seconds without a hit before the order is cleared.
    #[serde(default = "default_fire_clear")]
    pub clear_s: f64,
    /// City-management event code. Default `2103` (local extension: fire and smoke).
    #[serde(default)]
    pub event_code: Option<String>,
}

fn default_fire_min_score() -> f32 {
    0.3
}
fn default_fire_window() -> usize {
    5
}
fn default_fire_min_hits() -> usize {
    3
}
fn default_fire_confirm() -> f64 {
    2.0
}
fn default_fire_clear() -> f64 {
    30.0
}
