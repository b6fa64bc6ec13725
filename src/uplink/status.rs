//! The retained box status document.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Pipeline being built.
    Starting,
    /// Frames arriving.
    Online,
    /// The stream failed moments ago; it is being rebuilt.
    Reconnecting,
    /// No frames for a minute or more (or never): the stream is retried with back-off.
    Offline,
    /// A file source reached its end.
    Ended,
}

/// One camera's line in the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStatus {
    pub id: String,
    pub name: String,
    pub state: CameraState,
    /// Frames per second handed to the detectors, over the last few seconds.
    pub fps: f64,
    /// Frames per second the decoder delivered over the same window (the camera's own rate).
    #[serde(default)]
    pub decode_fps: f64,
    /// Seconds since the last frame when this status was made; absent before the first frame.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_frame_age_s: Option<f64>,
    /// Times the stream was rebuilt since the box started.
    #[serde(default)]
    pub reconnects: u64,
    /// Picture faults with an open `camera_fault` order.
    #[serde(default)]
    pub faults: Vec<crate::rules::Detail>,
    /// The rules' live measurements (a crowd zone's head count, a lane's occupancy, a line's
    /// crossings each way), as of the last status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gauges: Vec<crate::vocab::Gauge>,
    /// Detection rates per model: wanted, planned by the compute budget, effective.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<crate::vocab::DetectRate>,
    /// Why the camera is offline, when it is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// A patrolling PTZ camera: its presets and where it is in its tour.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tour: Option<TourStatus>,
}

/// Where a patrolling camera is in its tour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TourStatus {
    /// `box` (the box moves the head) or `camera` (the camera tours, the box follows).
    pub mode: String,
    /// The preset the head is at or going to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub preset: Option<String>,
    /// `connecting`, `starting`, `moving`, `settling`, `watching` (frames analysed), `failed`
    /// or `off_tour` (a followed head still, away from every preset).
    pub phase: String,
    /// Stops watched to the end since the box started.
    pub visits: u64,
    /// The tour's stops, in order.
    pub presets: Vec<TourStop>,
    /// Why the head does not answer or move, when it does not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// One stop of a tour, as the status lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TourStop {
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name: Option<String>,
    pub dwell_s: f64,
}

/// One site speaker's line in the status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeakerStatus {
    pub id: String,
    /// `idle` (nothing played yet), `ok` (the last prompt played), `failing` (the last one
    /// failed: `error` says why).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_played_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// The retained document on `{root}/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxStatus {
    pub schema: u32,
    pub site: String,
    #[serde(rename = "box")]
    pub box_id: String,
    /// `online` or `offline`.
    pub state: String,
    pub version: String,
    pub started_at: String,
    pub updated_at: String,
    pub cameras: Vec<CameraStatus>,
    /// The site speakers of on-site warnings.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub speakers: Vec<SpeakerStatus>,
    /// Whether the centre's commands reach the box: `subscribed`, or `denied` when the broker
    /// refused the subscription (its ACL does not let this box read `{root}/cmd/+`). Absent
    /// when the box takes no commands (a replay, the demo's bench).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub commands: Option<String>,
    /// Outbox messages set aside because no broker would take them (bigger than
    /// `uplink.max_message_kb`); each is logged with its topic. Absent when none.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub set_aside: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
