//! Ingest: one GStreamer pipeline per camera, decoding to RGB [`Frame`]s at the camera's detection
//! rate.
//!
//! Pipelines are built from the templates in `pipelines/` (compiled in). The source location is
//! always set as an element property, never pasted into the launch text. Live cameras drop old
//! frames in the `appsink` (newest frame wins, a slow detector never stalls the decoder); replays
//! apply back-pressure instead, so every sampled frame of a file is seen.

mod clip;
mod pool;
mod stream;

pub use clip::{write_mp4, ClipError, EncodedClip, EncodedRing};
pub use pool::FramePool;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use image::RgbImage;

pub use stream::{
    decoder_threads, diagnose, init as init_gstreamer, CameraStream, IngestError, PlayMode,
    SourceInfo, StreamEvent,
};

pub use crate::config::{SourceKind, TEST_PATTERNS};

/// One decoded, sampled frame: the message from ingest to detect.
#[derive(Debug, Clone)]
pub struct Frame {
    pub camera_id: Arc<str>,
    /// Counts sampled frames of this stream from 0.
    pub seq: u64,
    /// Stream time of the frame; rules measure durations on it, so a replay run as fast as
    /// possible behaves like the live camera.
    pub pts: Duration,
    /// Wall-clock capture time (pipeline start + `pts`).
    pub captured_at: DateTime<Utc>,
    pub image: Arc<RgbImage>,
}

impl Frame {
    pub fn width(&self) -> u32 {
        self.image.width()
    }
    pub fn height(&self) -> u32 {
        self.image.height()
    }
}
