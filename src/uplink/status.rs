//! The retained box status document.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Pipeline being built.
    Starting,
    /// Frames arriving.
    Online,
    /// The stream failed; it will be retried.
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
    /// Why the camera is offline, when it is.
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
}
