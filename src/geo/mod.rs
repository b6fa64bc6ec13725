//! Geo: where an incident is on the map. A service the orders stage calls.
//!
//! For now every camera has a fixed surveyed position and orders carry it with the camera's
//! accuracy radius (`method = "camera_position"`); pixel→ground calibration will refine this.

use serde::{Deserialize, Serialize};

use crate::config::LocationConfig;

/// A WGS-84 point with an accuracy radius and how it was obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    /// `camera_position`: the camera's own surveyed position.
    pub method: String,
}

/// Location of an incident seen by a camera with a fixed position.
pub fn locate_fixed(camera: &LocationConfig) -> Location {
    Location {
        lat: camera.lat,
        lon: camera.lon,
        accuracy_m: camera.accuracy_m,
        method: "camera_position".into(),
    }
}
