//! The latest analysed frame of each camera and what was seen on it, for the console's camera
//! pages: the camera workers put (a reference to the frame, no copy), the console reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use image::RgbImage;

/// Something seen on a frame: its label, score and box normalised to 0..1.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Seen {
    pub label: String,
    pub score: f32,
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

/// A camera's latest analysed frame.
#[derive(Debug, Clone)]
pub struct Latest {
    pub image: Arc<RgbImage>,
    pub seen: Vec<Seen>,
    pub captured_at: DateTime<Utc>,
    /// The PTZ preset the frame was analysed under, if any.
    pub preset: Option<String>,
}

#[derive(Debug, Default)]
pub struct Snapshots {
    by_camera: Mutex<HashMap<String, Latest>>,
}

impl Snapshots {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Latest>> {
        self.by_camera.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn put(&self, camera: &str, latest: Latest) {
        self.lock().insert(camera.to_owned(), latest);
    }

    pub fn get(&self, camera: &str) -> Option<Latest> {
        self.lock().get(camera).cloned()
    }

    /// A camera removed by a reload has no picture any more.
    pub fn forget(&self, camera: &str) {
        self.lock().remove(camera);
    }
}
