//! The config file's schema. Every field is documented here; `docs/config.md` is the reference a
//! technician reads and mirrors these comments. Unknown keys are rejected everywhere
//! (`deny_unknown_fields`), so a typo is an error instead of a silently ignored setting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::vocab::{IncidentKind, Seconds, Severity, UtcOffset, Window};

/// The whole config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Where the box keeps its state.
    #[serde(default)]
    pub storage: StorageConfig,
    /// What the evidence photos show and how they are encoded.
    #[serde(default)]
    pub evidence: EvidenceConfig,
    /// How orders move through the closed loop (verification after `handled`).
    #[serde(default)]
    pub orders: OrdersConfig,
    /// The box's HTTP server of `lookout run`: `/metrics`, `/healthz` and the web console, on
    /// `listen`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Who may use the web console, and what is public.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// On-site voice warnings and the automatic re-check after them.
    #[serde(default)]
    pub warnings: WarningsConfig,
    /// The site speakers cameras warn through.
    #[serde(default)]
    pub speakers: Vec<SpeakerConfig>,
    /// The cameras this box watches.
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
    /// The city's case codes (数字城管 大类/小类), criteria and disposal deadlines, by kind and
    /// detail; kinds without a row keep their default code and deadline (`docs/orders.md`).
    #[serde(default)]
    pub codes: Vec<CaseCodeConfig>,
}

/// One row of the city's case-code table: what an order of `kind` (and `detail`) is filed as.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCodeConfig {
    pub kind: IncidentKind,
    /// Only orders with this detail (`vanished`, `frozen`, …); none: every order of the kind
    /// that no row with a detail matches.
    #[serde(default)]
    pub detail: Option<String>,
    /// 大类 code, e.g. `05`.
    pub category: String,
    /// 大类 name, e.g. `街面秩序`.
    #[serde(default)]
    pub category_name: Option<String>,
    /// 小类 code, e.g. `0505`: becomes the order's `event_code`.
    pub subcategory: String,
    /// 小类 name, e.g. `机动车乱停放`.
    #[serde(default)]
    pub subcategory_name: Option<String>,
    /// 立案标准: when the city files such a case.
    #[serde(default)]
    pub filing: Option<String>,
    /// 结案标准: when such a case counts as closed.
    #[serde(default)]
    pub closing: Option<String>,
    /// 处置时限 in hours from the order's opening: an order still open then escalates one grade.
    /// Absent: the kind's default (`docs/orders.md`); `0`: no deadline.
    #[serde(default)]
    pub deadline_h: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Folder of the ledger (`ledger.sqlite3`: orders and the outbox of unacknowledged messages).
    /// `lookout run --state DIR` overrides it.
    #[serde(default = "default_state_dir")]
    pub dir: PathBuf,
    /// Disk quota of the outbox (messages the broker has not acknowledged), MiB. Over it the
    /// oldest evidence photos are dropped first; order documents and command results never are.
    #[serde(default = "default_outbox_quota_mb")]
    pub outbox_quota_mb: u64,
    /// Closed and cancelled orders (with their revisions and command answers) are forgotten
    /// this many days after their last change; open work never is.
    #[serde(default = "default_keep_final_days")]
    pub keep_final_days: u32,
    /// Free space kept on the ledger's file system, MiB. Below it the oldest evidence photos
    /// waiting in the outbox are dropped (and new photos are not stored) until there is room
    /// again; order documents and command results are always written. A full disk then costs
    /// photos, never an order.
    #[serde(default = "default_min_free_mb")]
    pub min_free_mb: u64,
    /// Bytes of evidence (photos, clips) the box keeps after sending it. Over it the oldest go
    /// first, final orders' before open ones'; each leaves a record of what was dropped, and an
    /// open order gets a timeline note. At least 1 MiB.
    #[serde(default = "default_evidence_max_bytes")]
    pub evidence_max_bytes: u64,
}

fn default_evidence_max_bytes() -> u64 {
    2 * 1024 * 1024 * 1024
}

/// Evidence photos: what is burnt in and how they are encoded (`docs/config.md`, `[evidence]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceConfig {
    /// JPEG quality, 1 to 100.
    #[serde(default = "default_photo_quality")]
    pub photo_quality: u8,
    /// Frames wider than this many pixels are scaled down before annotation; 0 keeps the
    /// camera's size.
    #[serde(default = "default_photo_max_width")]
    pub photo_max_width: u32,
    /// A caption band above the picture: the box's local time and offset, site, box and camera,
    /// the kind and severity, the order id and revision.
    #[serde(default = "default_true")]
    pub caption: bool,
    /// Each object's box labelled with its label, score and track id.
    #[serde(default = "default_true")]
    pub labels: bool,
    /// The incident's zone outlined and named.
    #[serde(default = "default_true")]
    pub zone: bool,
    /// A TrueType/OpenType font (or collection) with Chinese glyphs. Default: the first found
    /// of WenQuanYi Micro Hei (`fonts-wqy-microhei`, which the set-up installs), Noto Sans CJK
    /// and Droid Sans Fallback.
    #[serde(default)]
    pub font: Option<PathBuf>,
    /// Seconds of video before an order's opening kept in its clip (the camera's own encoded
    /// stream, remuxed, never re-encoded). A clip is made when this or `clip_post_s` is above
    /// 0; both 0 (the default) record nothing.
    #[serde(default)]
    pub clip_pre_s: f64,
    /// Seconds of video after an order's opening in its clip; the clip is published once they
    /// have passed (or the stream ended).
    #[serde(default)]
    pub clip_post_s: f64,
    /// A re-check's verdict gets a clip too: the `clip_pre_s + clip_post_s` seconds the camera
    /// saw before it decided (`verified-N.mp4`, paired with the opening's clip).
    #[serde(default)]
    pub clip_verify: bool,
    /// Memory each camera's encoded-stream ring may hold, in MiB (whole GOPs go first when it
    /// is full, so a camera that stops sending keyframes cannot fill memory).
    #[serde(default = "default_clip_buffer_mb")]
    pub clip_buffer_mb: u64,
    /// Clip bytes per MQTT message (before base64); lowered to fit `uplink.max_message_kb`.
    #[serde(default = "default_clip_chunk_kb")]
    pub clip_chunk_kb: u64,
}

impl EvidenceConfig {
    /// Whether openings get a video clip.
    pub fn clips(&self) -> bool {
        self.clip_pre_s > 0.0 || self.clip_post_s > 0.0
    }
}

fn default_clip_buffer_mb() -> u64 {
    32
}
fn default_clip_chunk_kb() -> u64 {
    256
}

impl Default for EvidenceConfig {
    fn default() -> Self {
        EvidenceConfig {
            photo_quality: default_photo_quality(),
            photo_max_width: default_photo_max_width(),
            caption: true,
            labels: true,
            zone: true,
            font: None,
            clip_pre_s: 0.0,
            clip_post_s: 0.0,
            clip_verify: false,
            clip_buffer_mb: default_clip_buffer_mb(),
            clip_chunk_kb: default_clip_chunk_kb(),
        }
    }
}

fn default_photo_quality() -> u8 {
    85
}

fn default_photo_max_width() -> u32 {
    1920
}

fn default_keep_final_days() -> u32 {
    180
}

fn default_min_free_mb() -> u64 {
    64
}

fn default_outbox_quota_mb() -> u64 {
    512
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics` and `/healthz` (`lookout run` only).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address to listen on; keep it on localhost unless a scraper needs it.
    #[serde(default = "default_metrics_listen")]
    pub listen: String,
}

fn default_metrics_listen() -> String {
    "127.0.0.1:9464".into()
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: default_metrics_listen(),
        }
    }
}

/// The web console's user (`[console]`); it is served on `[metrics] listen`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// The console's user name.
    #[serde(default = "default_console_user")]
    pub user: String,
    /// Argon2id hash of the user's password (PHC string), written by `lookout console passwd`.
    /// Without one nobody can log in.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// `/metrics` without a login, for Prometheus scrapers (the endpoint says nothing secret).
    #[serde(default = "default_true")]
    pub metrics_public: bool,
    /// Hours a login lasts.
    #[serde(default = "default_session_hours")]
    pub session_hours: f64,
    /// The server's certificate chain (PEM, leaf first); with `tls_key` the console (and
    /// `/metrics`, `/healthz`) is served over HTTPS only and its cookie is `Secure`.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
}

fn default_console_user() -> String {
    "admin".into()
}
fn default_session_hours() -> f64 {
    12.0
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            user: default_console_user(),
            password_hash: None,
            metrics_public: true,
            session_hours: default_session_hours(),
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// The closed loop: what the box does after the centre reports an order handled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersConfig {
    /// An order whose problem goes away before anyone is dispatched closes at once (`true`) or
    /// waits in `cleared` for the centre to close it (`false`).
    #[serde(default)]
    pub close_when_cleared: bool,
    /// Seconds of samples the camera re-check looks at.
    #[serde(default = "default_verify_window_s")]
    pub verify_window_s: Seconds,
    /// Share of the window's samples on which the rule must still see the problem for the
    /// re-check to say "present" (reopen) rather than "cleared" (close).
    #[serde(default = "default_verify_present_ratio")]
    pub verify_present_ratio: f64,
    /// First wait before retrying an inconclusive re-check (camera offline); doubles per try.
    #[serde(default = "default_verify_retry_s")]
    pub verify_retry_s: Seconds,
    /// Longest wait between retries.
    #[serde(default = "default_verify_retry_max_s")]
    pub verify_retry_max_s: Seconds,
}

fn default_verify_window_s() -> Seconds {
    Seconds::of(30.0)
}
fn default_verify_present_ratio() -> f64 {
    0.5
}
fn default_verify_retry_s() -> Seconds {
    Seconds::of(30.0)
}
fn default_verify_retry_max_s() -> Seconds {
    Seconds::of(600.0)
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            close_when_cleared: false,
            verify_window_s: default_verify_window_s(),
            verify_present_ratio: default_verify_present_ratio(),
            verify_retry_s: default_verify_retry_s(),
            verify_retry_max_s: default_verify_retry_max_s(),
        }
    }
}

fn default_state_dir() -> PathBuf {
    "/var/lib/lookout/state".into()
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            dir: default_state_dir(),
            outbox_quota_mb: default_outbox_quota_mb(),
            keep_final_days: default_keep_final_days(),
            min_free_mb: default_min_free_mb(),
            evidence_max_bytes: default_evidence_max_bytes(),
        }
    }
}

fn default_version() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxIdentity {
    /// Site (district, street office or lookout post) the box belongs to, e.g. `"jiangbei-03"`.
    pub site: String,
    /// This box's id, unique within the site, e.g. `"box-017"`.
    pub id: String,
    /// The box's local time as an offset from UTC; rule schedules are read in it.
    #[serde(default = "UtcOffset::china")]
    pub utc_offset: UtcOffset,
    /// Language of order titles and notes: `zh` (default) or `en`.
    #[serde(default)]
    pub language: Language,
}

impl BoxIdentity {
    /// The box's local time offset (China Standard Time, +08:00, by default).
    pub fn offset(&self) -> chrono::FixedOffset {
        self.utc_offset.fixed()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

/// When a rule is armed. Empty lists mean "always".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// Local-time windows `"HH:MM-HH:MM"`; a window may wrap past midnight (`"22:00-06:00"`).
    #[serde(default)]
    pub hours: Vec<Window>,
    /// Weekdays, Monday = 1 … Sunday = 7.
    #[serde(default)]
    pub days: Vec<u32>,
    /// Months 1..12 (a season: `[6, 7, 8]`).
    #[serde(default)]
    pub months: Vec<u32>,
}

/// Minimum score and size for an object to count, with per-label overrides.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Detection score floor.
    #[serde(default = "default_filter_score")]
    pub min_score: f32,
    /// Box area as a fraction of the frame (0.0005 ≈ a 20×20 box in 1280×720).
    #[serde(default)]
    pub min_area: f32,
    /// Per-label overrides, e.g. `{ umbrella = { min_score = 0.5, min_area = 0.002 } }`.
    #[serde(default)]
    pub labels: BTreeMap<String, LabelFilterConfig>,
}

/// Score and size floor for one label; unset keys fall back to the filter's own.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelFilterConfig {
    #[serde(default)]
    pub min_score: Option<f32>,
    #[serde(default)]
    pub min_area: Option<f32>,
}

fn default_filter_score() -> f32 {
    0.3
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig {
            min_score: default_filter_score(),
            min_area: 0.0,
            labels: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    /// `"embedded"` starts an MQTT broker inside the daemon (demo, bench, a box with a local
    /// consumer); `mqtt://host:port` or `mqtts://host:port` connects to the centre's broker.
    #[serde(default = "default_broker")]
    pub broker: String,
    /// Listen address of the embedded broker. When it is taken, a free port is used and logged.
    /// The embedded broker has no authentication: loopback only, unless
    /// `embedded_allow_remote` says otherwise.
    #[serde(default = "default_embedded_listen")]
    pub embedded_listen: String,
    /// Let the embedded broker (no authentication!) listen on a non-loopback address: for a
    /// closed bench network only.
    #[serde(default)]
    pub embedded_allow_remote: bool,
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
    /// PEM client certificate and its private key, for brokers that authenticate boxes by
    /// certificate (mutual TLS, `mqtts://` only). Both or neither.
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// MQTT keep-alive in seconds; the broker publishes the last will after 1.5× this silence.
    #[serde(default = "default_keep_alive")]
    pub keep_alive_s: u64,
    /// How often the retained status is refreshed, in seconds.
    #[serde(default = "default_status_interval")]
    pub status_interval_s: u64,
    /// Largest message the broker takes, in KiB (EMQX's default `max_packet_size` is 1 MB;
    /// Mosquitto's `message_size_limit`). A bigger outbox message is set aside and reported in
    /// the status instead of being re-sent forever in front of everything behind it.
    #[serde(default = "default_max_message_kb")]
    pub max_message_kb: u64,
    /// Commands taken per second at most (a burst of 10× this is allowed); the rest are
    /// dropped with a log line and counted in the metrics, so a flood cannot starve the cameras.
    #[serde(default = "default_command_rate")]
    pub command_rate: f64,
}

fn default_max_message_kb() -> u64 {
    1024
}
fn default_command_rate() -> f64 {
    20.0
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
            embedded_allow_remote: false,
            client_id: None,
            username: None,
            password_file: None,
            ca_file: None,
            cert_file: None,
            key_file: None,
            keep_alive_s: default_keep_alive(),
            status_interval_s: default_status_interval(),
            max_message_kb: default_max_message_kb(),
            command_rate: default_command_rate(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// ONNX Runtime intra-op threads per inference worker.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// Inference workers per model, each with its own session; 0: one per physical core.
    #[serde(default)]
    pub workers: usize,
    /// Most frames a worker runs as one batch (models with a free batch size only).
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Frames a camera may have waiting for a model's workers; a newer frame pushes out the oldest.
    #[serde(default = "default_queue_per_camera")]
    pub queue_per_camera: usize,
    /// A frame that waited this long for a worker is dropped (counted), never run late.
    #[serde(default = "default_deadline")]
    pub deadline_s: Seconds,
    /// Where the sessions run.
    #[serde(default)]
    pub execution: Execution,
    /// Share of the workers' time the compute plan may fill; above it, rates are lowered by
    /// priority.
    #[serde(default = "default_budget")]
    pub budget: f64,
    /// No camera's rate is planned below this (frames per second), however over budget.
    #[serde(default = "default_min_fps")]
    pub min_fps: f64,
    /// ONNX Runtime's CPU memory arena: `auto`, `keep`, `shrink` (after each run) or `off`.
    #[serde(default)]
    pub memory_arena: MemoryArena,
}

/// What a session does with ONNX Runtime's CPU memory arena, where it keeps the activations of
/// a run. Written as `"auto"`, `"keep"`, `"shrink"`, `"off"`, or `true` (keep) / `false` (off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryArena {
    /// `shrink` for models with a large input (what their arena holds grows with it), `keep`
    /// for the others.
    #[default]
    Auto,
    /// Kept at its peak between runs: fastest, and each session holds its peak activations
    /// (the fire model's: ~140 MB) while idle.
    Keep,
    /// Used during a run and handed back after it: an idle session holds only its weights, at
    /// a cost per run (measured: 8 % for the fire model, 21 % for YOLOX-Nano 416).
    Shrink,
    /// No arena: every tensor from malloc (8–17 % slower than `keep`).
    Off,
}

impl<'de> Deserialize<'de> for MemoryArena {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Flag(bool),
            Word(String),
        }
        match Written::deserialize(d)? {
            Written::Flag(true) => Ok(MemoryArena::Keep),
            Written::Flag(false) => Ok(MemoryArena::Off),
            Written::Word(w) => match w.as_str() {
                "auto" => Ok(MemoryArena::Auto),
                "keep" => Ok(MemoryArena::Keep),
                "shrink" => Ok(MemoryArena::Shrink),
                "off" => Ok(MemoryArena::Off),
                other => Err(serde::de::Error::custom(format!(
                    "memory_arena is \"auto\", \"keep\", \"shrink\" or \"off\", not {other:?}"
                ))),
            },
        }
    }
}

/// How ONNX Runtime runs a model's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Execution {
    /// The CPU execution provider.
    #[default]
    Cpu,
    /// NVIDIA CUDA (a Jetson's or a discrete GPU); loading fails when the runtime library has
    /// no CUDA provider, instead of falling back to the CPU unnoticed.
    Cuda,
    /// NVIDIA TensorRT with FP16, CUDA for what TensorRT does not take; fails like `cuda`.
    Tensorrt,
}

impl Execution {
    pub fn as_str(self) -> &'static str {
        match self {
            Execution::Cpu => "cpu",
            Execution::Cuda => "cuda",
            Execution::Tensorrt => "tensorrt",
        }
    }
}

/// Which cameras keep their detection rate when the box is over its compute budget: `low`
/// is lowered first, `high` last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }
}

/// Motion-gated detection (`[cameras.motion]`): a model runs on a frame only when the picture
/// changed since the model last looked, or when its keep-alive is due.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Share of the picture that must have changed since a model's last run for it to run again.
    #[serde(default = "default_motion_min_change")]
    pub min_change: f64,
    /// A model runs at least this often however still the picture (stationary objects stay
    /// tracked); never longer than half the tracker's `max_lost_s`.
    #[serde(default = "default_motion_keepalive")]
    pub keepalive_s: Seconds,
    /// The same for the region models (fire, smoke), whose findings are not tracked: a fire
    /// flickers and smoke drifts, which is change; a still picture is looked at this often.
    #[serde(default = "default_region_keepalive")]
    pub region_keepalive_s: Seconds,
}

fn default_motion_min_change() -> f64 {
    0.002
}
fn default_motion_keepalive() -> Seconds {
    Seconds::of(1.5)
}
fn default_region_keepalive() -> Seconds {
    Seconds::of(5.0)
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            enabled: true,
            min_change: default_motion_min_change(),
            keepalive_s: default_motion_keepalive(),
            region_keepalive_s: default_region_keepalive(),
        }
    }
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
    1
}
fn default_batch() -> usize {
    1
}
fn default_queue_per_camera() -> usize {
    2
}
fn default_deadline() -> Seconds {
    // A frame waits for every model it was sent to before it is judged: the wait plus the
    // fire model's ~150 ms stays under a second of lag.
    Seconds::of(0.5)
}
fn default_budget() -> f64 {
    0.9
}
fn default_min_fps() -> f64 {
    0.2
}

impl Default for ModelsConfig {
    fn default() -> Self {
        ModelsConfig {
            manifests: default_manifest_dir(),
            dir: default_model_dir(),
            onnxruntime: default_onnxruntime(),
            threads: default_threads(),
            workers: 0,
            batch: default_batch(),
            queue_per_camera: default_queue_per_camera(),
            deadline_s: default_deadline(),
            execution: Execution::default(),
            budget: default_budget(),
            min_fps: default_min_fps(),
            memory_arena: MemoryArena::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// How RTSP media travel: `tcp` (interleaved on the RTSP connection: passes NAT and
    /// firewalls, no loss), `udp`, or `auto` (UDP first, TCP when UDP gets nothing).
    #[serde(default)]
    pub transport: Transport,
    /// Frames per second handed to the detectors (the rest are decoded and dropped).
    #[serde(default = "default_detect_fps")]
    pub detect_fps: f64,
    /// Model names (manifest `name`) this camera runs.
    pub models: Vec<String>,
    /// Per-model sampling rate override in frames/s, e.g. `{ fire_smoke_yolov8 = 1.0 }`.
    /// Default: the manifest's `defaults.fps`, capped at `detect_fps`.
    #[serde(default)]
    pub model_fps: BTreeMap<String, f64>,
    /// Per-model settings of this camera: input size, tiles, score floor, box sanity, labels,
    /// e.g. `[cameras.model_options.yolox_nano_coco_dyn] input_size = 960`.
    #[serde(default)]
    pub model_options: BTreeMap<String, ModelOptionsConfig>,
    /// The tracker's thresholds (who gets an identity for dwell, parking and water rules).
    #[serde(default)]
    pub tracker: TrackerSettings,
    /// Where the camera stands. Without a calibration or pose, orders carry this point with its
    /// accuracy radius.
    pub location: LocationConfig,
    /// Fixed camera: ground control points for the pixel → ground homography.
    #[serde(default)]
    pub calibration: Option<CalibrationConfig>,
    /// Lookout / PTZ camera: pose and lens; pixels are located by casting rays onto the ground.
    #[serde(default)]
    pub pose: Option<PoseConfig>,
    /// Named areas of the image the rules refer to.
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    /// What turns detections into incidents on this camera.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Checks of the picture itself (frozen, black, blurred, moved): `camera_fault` orders.
    #[serde(default)]
    pub faults: FaultsConfig,
    /// The speaker (`[[speakers]]` id) on this camera's pole; without one, no voice warnings.
    #[serde(default)]
    pub speaker: Option<String>,
    /// Per kind / zone / severity overrides of `[warnings]`; the first entry that matches wins.
    #[serde(default)]
    pub warnings: Vec<CameraWarningConfig>,
    /// Keeps its detection rate before the others when the box is over budget; unset: `high`
    /// for a camera with an urgent rule (fire, water), else `normal`.
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub motion: MotionConfig,
    /// A PTZ camera the box talks to over ONVIF (`[cameras.ptz]`): where it points now, and the
    /// patrol through `presets`.
    #[serde(default)]
    pub ptz: Option<PtzConfig>,
    /// A patrolling camera's stops, in tour order (`[[cameras.presets]]`): each an ONVIF preset
    /// with its dwell and its own zones, rules and reference view. The camera's own `zones` and
    /// `rules` hold at every preset. Needs `[cameras.ptz]`.
    #[serde(default)]
    pub presets: Vec<PresetConfig>,
}

/// How the box reaches a PTZ camera's head and reads its pose (`[cameras.ptz]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PtzConfig {
    /// The camera's ONVIF device service, e.g. `http://10.0.0.31/onvif/device_service`.
    pub onvif: String,
    /// ONVIF user (an "operator": a "user" cannot move the head).
    #[serde(default)]
    pub user: Option<String>,
    /// File holding the ONVIF password (kept out of the config). Without one, the environment
    /// variable `LOOKOUT_ONVIF_PASSWORD`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Who runs the tour: `box` (the box moves the head from preset to preset) or `camera`
    /// (the camera runs its own patrol; the box follows it by reading the head's position).
    #[serde(default)]
    pub tour: TourMode,
    /// Seconds after the head reports it is still before frames count (focus, exposure).
    #[serde(default = "default_settle_s")]
    pub settle_s: Seconds,
    /// Pan in degrees at ONVIF's generic -1 and +1 (the data sheet's pan range).
    #[serde(default = "default_pan_range")]
    pub pan_range_deg: [f64; 2],
    /// Elevation in degrees (up positive) at ONVIF's generic tilt -1 and +1.
    #[serde(default = "default_tilt_range")]
    pub tilt_range_deg: [f64; 2],
    /// The lens's horizontal field of view at the widest and the narrowest zoom, degrees.
    /// Without them, a preset's `hfov_deg` or the pose's `hfov_deg`.
    #[serde(default)]
    pub hfov_wide_deg: Option<f64>,
    #[serde(default)]
    pub hfov_tele_deg: Option<f64>,
}

/// Who drives a PTZ camera's tour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TourMode {
    #[default]
    Box,
    Camera,
}

fn default_settle_s() -> Seconds {
    Seconds::of(2.0)
}
fn default_pan_range() -> [f64; 2] {
    [-180.0, 180.0]
}
fn default_tilt_range() -> [f64; 2] {
    [-90.0, 20.0]
}

/// One stop of a PTZ camera's tour (`[[cameras.presets]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetConfig {
    /// The ONVIF preset token (`lookout camera ptz` lists them).
    pub token: String,
    /// Human name shown in work orders and the status.
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds the box watches this preset before moving on (`tour = "box"`).
    #[serde(default = "default_dwell_s")]
    pub dwell_s: Seconds,
    /// Horizontal field of view at this preset's zoom, degrees: overrides the zoom mapping of
    /// `[cameras.ptz]` (read it off the picture once, e.g. with `lookout calibrate`).
    #[serde(default)]
    pub hfov_deg: Option<f64>,
    /// Ground control points of this preset's picture (`lookout calibrate CAMERA --preset
    /// TOKEN --gcp …`): its incidents are then located by that homography instead of by casting
    /// rays from the head's pose — the better choice for a close, flat view.
    #[serde(default)]
    pub calibration: Option<CalibrationConfig>,
    /// This preset's reference view. Default `{storage.dir}/reference/{camera}@{token}.png`.
    #[serde(default)]
    pub reference: Option<PathBuf>,
    /// Zones of this preset's picture (ids unique with the camera's own).
    #[serde(default)]
    pub zones: Vec<ZoneConfig>,
    /// Rules at this preset only.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

fn default_dwell_s() -> Seconds {
    Seconds::of(30.0)
}

/// How one camera runs one model (`[cameras.model_options.NAME]`); unset keys take the
/// manifest's defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelOptionsConfig {
    /// Long side of the model input in pixels, a multiple of 32 (free-size models only): larger
    /// finds smaller, farther objects at a higher cost. The short side follows the frame.
    #[serde(default)]
    pub input_size: Option<u32>,
    /// Overlapping tiles for far and small objects (lookout views, 4K cameras).
    #[serde(default)]
    pub tiles: Option<TilesConfig>,
    /// Detections below this score are dropped (default: the manifest's `min_score`).
    #[serde(default)]
    pub min_score: Option<f32>,
    /// Boxes covering more than this fraction of the frame (or tile) are dropped.
    #[serde(default)]
    pub max_box_fraction: Option<f32>,
    /// Canonical label → the label the rules see on this camera; `""` drops it, e.g.
    /// `{ truck = "car", dog = "" }`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Overlapping tiles: `cols` × `rows` crops, each run at the model's input size.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TilesConfig {
    pub cols: u32,
    pub rows: u32,
    /// Overlap of neighbouring tiles as a fraction of a tile (an object cut by one tile is
    /// whole in its neighbour when it is smaller than the overlap).
    #[serde(default = "default_tile_overlap")]
    pub overlap: f32,
    /// Also run the whole frame, for large, close objects the tiles would cut.
    #[serde(default = "default_true")]
    pub full_frame: bool,
}

fn default_tile_overlap() -> f32 {
    0.2
}

/// Tracker thresholds (`[cameras.tracker]`). Tracks give objects an identity over time — what
/// dwell, parking and water rules need; crowds are counted from each frame's detections.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerSettings {
    /// A track is born only from a detection at least this confident.
    #[serde(default = "default_track_birth")]
    pub new_track_score: f32,
    /// Detections at or above this take part in the first association.
    #[serde(default = "default_track_high")]
    pub high_score: f32,
    /// Detections below this are ignored by the tracker.
    #[serde(default = "default_track_low")]
    pub low_score: f32,
    /// Seconds a lost track may come back before it is forgotten.
    #[serde(default = "default_track_max_lost")]
    pub max_lost_s: Seconds,
}

fn default_track_birth() -> f32 {
    0.5
}
fn default_track_high() -> f32 {
    0.5
}
fn default_track_low() -> f32 {
    0.1
}
fn default_track_max_lost() -> Seconds {
    Seconds::of(3.0)
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            new_track_score: default_track_birth(),
            high_score: default_track_high(),
            low_score: default_track_low(),
            max_lost_s: default_track_max_lost(),
        }
    }
}

/// On-site voice warnings (`[warnings]`): when an order opens on a camera with a speaker, a
/// prompt plays; after the kind's grace period the camera looks again, and the order closes as
/// resolved on site or goes to the centre for dispatch. Water and fire go to the centre at once
/// as well: their warning is in addition, never instead.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarningsConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Prompt language: `zh` (Mandarin) or `en`.
    #[serde(default)]
    pub language: Language,
    /// Folder of the prompt files `{kind}.{language}.wav` (`lookout prompt generate` writes
    /// them); default `{storage.dir}/prompts`.
    #[serde(default)]
    pub prompts: Option<PathBuf>,
    /// Local-time windows `"HH:MM-HH:MM"` without prompts (water and fire excepted).
    #[serde(default)]
    pub quiet_hours: Vec<Window>,
    /// Least time between two prompts on one speaker (water and fire excepted).
    #[serde(default = "default_warning_min_gap")]
    pub min_gap_s: Seconds,
    /// Most prompts per speaker per hour (water and fire excepted).
    #[serde(default = "default_warning_max_per_hour")]
    pub max_per_hour: u32,
    /// Times the prompt is played per warning.
    #[serde(default = "default_warning_repeat")]
    pub repeat: u32,
    /// Pause between repetitions.
    #[serde(default = "default_warning_repeat_gap")]
    pub repeat_gap_s: Seconds,
    /// Seconds after the warning before the camera looks again, per kind. A kind without an
    /// entry is not warned.
    #[serde(default = "default_grace")]
    pub grace_s: BTreeMap<String, Seconds>,
}

fn default_warning_min_gap() -> Seconds {
    Seconds::of(30.0)
}
fn default_warning_max_per_hour() -> u32 {
    20
}
fn default_warning_repeat() -> u32 {
    2
}
fn default_warning_repeat_gap() -> Seconds {
    Seconds::of(5.0)
}
/// Each kind's default grace from its row of the kinds registry: the first rung of the loop
/// for the kinds a voice can resolve; water warns at once and is re-checked at once; fire warns
/// people away (the centre has the order from the start).
fn default_grace() -> BTreeMap<String, Seconds> {
    IncidentKind::all()
        .filter_map(|k| {
            let grace = Seconds::new(k.info().grace_s?).ok()?;
            Some((k.as_str().to_owned(), grace))
        })
        .collect()
}

impl Default for WarningsConfig {
    fn default() -> Self {
        WarningsConfig {
            enabled: true,
            language: Language::default(),
            prompts: None,
            quiet_hours: Vec::new(),
            min_gap_s: default_warning_min_gap(),
            max_per_hour: default_warning_max_per_hour(),
            repeat: default_warning_repeat(),
            repeat_gap_s: default_warning_repeat_gap(),
            grace_s: default_grace(),
        }
    }
}

/// A camera's override of `[warnings]` for some orders.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraWarningConfig {
    /// The kind it applies to (all kinds when absent).
    #[serde(default)]
    pub kind: Option<String>,
    /// The zone it applies to (all zones when absent).
    #[serde(default)]
    pub zone: Option<String>,
    /// Warn only once the order reaches this severity.
    #[serde(default)]
    pub min_severity: Option<Severity>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub grace_s: Option<Seconds>,
    /// A prompt file of its own.
    #[serde(default)]
    pub prompt: Option<PathBuf>,
    #[serde(default)]
    pub repeat: Option<u32>,
}

/// A site speaker (`[[speakers]]`). Unknown keys are refused by the output's own fields (serde
/// cannot deny them on a flattened struct).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SpeakerConfig {
    pub id: String,
    #[serde(flatten)]
    pub output: SpeakerOutput,
}

/// How a prompt reaches a speaker.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SpeakerOutput {
    /// The box's own audio output through GStreamer: `device` is an ALSA device (`hw:1,0`),
    /// absent for the default output; `file` writes each played prompt to a WAV file instead
    /// (bench tests, a recording of what was said).
    Audio {
        #[serde(default)]
        device: Option<String>,
        #[serde(default)]
        file: Option<PathBuf>,
    },
    /// An IP speaker's HTTP API. `url` and `body` take `{camera}`, `{kind}`, `{order}`,
    /// `{severity}`, `{prompt}` (file name), `{text}` and `{repeat}`; values are URL-encoded in
    /// the URL and JSON-escaped in the body.
    Http {
        url: String,
        #[serde(default = "default_http_method")]
        method: String,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default = "default_http_timeout")]
        timeout_s: Seconds,
    },
    /// A message to a speaker controller on the box's broker: a JSON document with the same
    /// fields on `topic`.
    Mqtt { topic: String },
}

fn default_http_method() -> String {
    "POST".into()
}
fn default_http_timeout() -> Seconds {
    Seconds::of(3.0)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
    Auto,
}

/// Camera-fault checks (`[cameras.faults]`). Times are seconds of stream time the condition must
/// hold before an order opens; the defaults are long enough that night, rain or a truck parked in
/// front for a minute do not page anyone.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultsConfig {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often the picture is checked.
    #[serde(default = "default_fault_check_every_s")]
    pub check_every_s: Seconds,
    /// The same picture, unchanged, for this long: the stream is frozen.
    #[serde(default = "default_fault_frozen_s")]
    pub frozen_s: Seconds,
    /// Black or blank (lens covered, night without IR) for this long.
    #[serde(default = "default_fault_black_s")]
    pub black_s: Seconds,
    /// Mean grey level (0..255) at or below which the picture counts as black.
    #[serde(default = "default_black_max_mean")]
    pub black_max_mean: f32,
    /// Grey-level standard deviation at or below which the picture counts as blank.
    #[serde(default = "default_uniform_max_std")]
    pub uniform_max_std: f32,
    /// Blurred for this long (needs a reference view).
    #[serde(default = "default_fault_blur_s")]
    pub blur_s: Seconds,
    /// Blurred: fine detail below this share of the reference view's.
    #[serde(default = "default_blur_max_ratio")]
    pub blur_max_ratio: f32,
    /// The view does not match the reference for this long: the camera was moved.
    #[serde(default = "default_fault_shift_s")]
    pub shift_s: Seconds,
    /// Correlation of the edge maps (−1..1) below which the view no longer matches.
    #[serde(default = "default_shift_min_score")]
    pub shift_min_score: f32,
    /// The view matches its reference far better once shifted back by at least this share of
    /// the frame's width or height: the camera (or a PTZ preset) slipped that far.
    #[serde(default = "default_shift_min_offset")]
    pub shift_min_offset: f32,
    /// A fault's order clears once the picture is fine for this long.
    #[serde(default = "default_fault_clear_s")]
    pub clear_s: Seconds,
    /// The reference view: an image of what the camera should see. Default
    /// `{storage.dir}/reference/{camera}.png`, written by `lookout camera reference` (and
    /// `calibrate`), or by the box itself from the first minute of a camera that has none.
    #[serde(default)]
    pub reference: Option<PathBuf>,
    /// City-management event code of the orders (default 2199, a local extension code).
    #[serde(default)]
    pub event_code: Option<String>,
}

fn default_fault_check_every_s() -> Seconds {
    Seconds::of(1.0)
}
fn default_fault_frozen_s() -> Seconds {
    Seconds::of(60.0)
}
fn default_fault_black_s() -> Seconds {
    Seconds::of(60.0)
}
fn default_black_max_mean() -> f32 {
    16.0
}
fn default_uniform_max_std() -> f32 {
    4.0
}
fn default_fault_blur_s() -> Seconds {
    Seconds::of(120.0)
}
fn default_blur_max_ratio() -> f32 {
    0.15
}
fn default_fault_shift_s() -> Seconds {
    Seconds::of(60.0)
}
fn default_shift_min_score() -> f32 {
    0.45
}
fn default_shift_min_offset() -> f32 {
    0.05
}
fn default_fault_clear_s() -> Seconds {
    Seconds::of(30.0)
}

impl Default for FaultsConfig {
    fn default() -> Self {
        FaultsConfig {
            enabled: true,
            check_every_s: default_fault_check_every_s(),
            frozen_s: default_fault_frozen_s(),
            black_s: default_fault_black_s(),
            black_max_mean: default_black_max_mean(),
            uniform_max_std: default_uniform_max_std(),
            blur_s: default_fault_blur_s(),
            blur_max_ratio: default_blur_max_ratio(),
            shift_s: default_fault_shift_s(),
            shift_min_score: default_shift_min_score(),
            shift_min_offset: default_shift_min_offset(),
            clear_s: default_fault_clear_s(),
            reference: None,
            event_code: None,
        }
    }
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

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    /// Ground control points `[x, y, lat, lon]`: x/y normalised image coordinates (0..1 from the
    /// top-left corner, as in zones), lat/lon WGS-84 degrees of the same spot. At least 4,
    /// spread over the ground in view; 5 or more let a bad one be found.
    pub gcp: Vec<[f64; 4]>,
}

/// A lookout/PTZ camera's pose and lens (`lookout calibrate CAMERA --pose …`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PoseConfig {
    /// Lens height above the ground at the camera's foot, metres.
    pub height_m: f64,
    /// Heading of the optical axis at pan 0, degrees clockwise from north.
    pub heading_deg: f64,
    /// Downward tilt of the optical axis at tilt 0, degrees.
    pub tilt_deg: f64,
    #[serde(default)]
    pub roll_deg: f64,
    /// Current pan and tilt of the PTZ head (added to heading and tilt), degrees.
    #[serde(default)]
    pub pan_deg: f64,
    #[serde(default)]
    pub ptz_tilt_deg: f64,
    /// Horizontal field of view at the current zoom, degrees.
    pub hfov_deg: f64,
    /// Frame width / height.
    #[serde(default = "default_aspect")]
    pub aspect: f64,
    /// Elevation of the ground in view relative to the camera's foot, metres.
    #[serde(default)]
    pub ground_offset_m: f64,
    /// No location beyond this range, metres.
    #[serde(default = "default_max_range")]
    pub max_range_m: f64,
    /// One-sigma pointing error of the pose and PTZ head, degrees (drives `accuracy_m`).
    #[serde(default = "default_pointing_accuracy")]
    pub pointing_accuracy_deg: f64,
    /// Terrain grid (ESRI ASCII `.asc`, WGS-84 degrees, metres) covering the camera and what it
    /// sees; rays meet this ground instead of a flat plane (`ground_offset_m` is then unused).
    #[serde(default)]
    pub terrain: Option<PathBuf>,
}

fn default_aspect() -> f64 {
    16.0 / 9.0
}
fn default_max_range() -> f64 {
    10_000.0
}
fn default_pointing_accuracy() -> f64 {
    0.1
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Deserialize)]
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

/// One rule on one camera. `kind` names a rule kind (each registered by its file in
/// `src/rules/`); the keys here are the ones every rule takes, and `params` holds the rule's
/// own, which its kind reads and checks when the rule is built (`docs/rules.md` lists them).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RuleConfig {
    pub kind: String,
    /// Zone ids whose area the rule ignores.
    #[serde(default)]
    pub masks: Vec<String>,
    /// When the rule is armed.
    #[serde(default)]
    pub schedule: Option<ScheduleConfig>,
    /// City-management event code; the kind's default without one.
    #[serde(default)]
    pub event_code: Option<String>,
    /// The rule's own keys.
    #[serde(flatten)]
    pub params: toml::Table,
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::MemoryArena;

    fn arena(value: &str) -> Result<MemoryArena, String> {
        let text = format!("[box]\nsite = \"s\"\nid = \"b\"\n[models]\nmemory_arena = {value}\n");
        crate::config::parse(&text, std::path::Path::new("arena.toml"))
            .map(|c| c.models.memory_arena)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn memory_arena_takes_its_words_and_the_old_booleans_and_names_a_wrong_one() {
        assert_eq!(arena("\"auto\""), Ok(MemoryArena::Auto));
        assert_eq!(arena("\"keep\""), Ok(MemoryArena::Keep));
        assert_eq!(arena("\"shrink\""), Ok(MemoryArena::Shrink));
        assert_eq!(arena("\"off\""), Ok(MemoryArena::Off));
        assert_eq!(arena("true"), Ok(MemoryArena::Keep));
        assert_eq!(arena("false"), Ok(MemoryArena::Off));
        let wrong = arena("\"tiny\"").expect_err("an unknown word is refused");
        assert!(
            wrong.contains("memory_arena") && wrong.contains("tiny"),
            "{wrong}"
        );
    }
}
