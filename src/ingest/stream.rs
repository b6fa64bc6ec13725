//! A camera's GStreamer pipeline and the pull loop that turns its samples into [`Frame`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use chrono::{DateTime, Utc};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;

use super::pool::{self, FramePool};
use super::{Frame, SourceKind};
use crate::config::{CameraConfig, Codec, Transport};

const FILE: &str = include_str!("../../pipelines/file.pipeline");
const RTSP_AUTO: &str = include_str!("../../pipelines/rtsp_auto.pipeline");
const RTSP_H264: &str = include_str!("../../pipelines/rtsp_h264.pipeline");
const RTSP_H265: &str = include_str!("../../pipelines/rtsp_h265.pipeline");
const JETSON_RTSP_H264: &str = include_str!("../../pipelines/jetson_rtsp_h264.pipeline");
const JETSON_RTSP_H265: &str = include_str!("../../pipelines/jetson_rtsp_h265.pipeline");
const TEST: &str = include_str!("../../pipelines/test.pipeline");

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("GStreamer could not be initialised: {0}")]
    Init(String),
    #[error("camera {camera}: GStreamer element {element:?} is missing (install the GStreamer plugins: scripts/setup.sh)")]
    MissingElement { camera: String, element: String },
    #[error("camera {camera}: pipeline template does not parse: {}", crate::redact::text(.message))]
    Template { camera: String, message: String },
    #[error("camera {camera}: {}", crate::redact::text(.message))]
    Source { camera: String, message: String },
    // GStreamer's messages may quote the camera URL, password and all.
    #[error("camera {camera}: stream error from {element}: {}", crate::redact::text(.message))]
    Stream {
        camera: String,
        element: String,
        message: String,
    },
}

/// How frames are handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayMode {
    /// Live camera (or a file played at its own speed): newest frame wins.
    Live,
    /// A file decoded as fast as possible, every sampled frame delivered.
    Replay,
}

/// What a camera's stream carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceInfo {
    pub codec: Option<String>,
    pub fps: Option<f64>,
}

/// A technician's reading of a stream error: what is most likely wrong.
pub fn diagnose(error: &str) -> &'static str {
    let e = error.to_ascii_lowercase();
    if e.contains("401") || e.contains("unauthorized") || e.contains("not authorized") {
        "authentication failed: check the user and password in the URL"
    } else if e.contains("404") || e.contains("not found") && e.contains("rtsp") {
        "the camera answered but has no such stream path: check the URL's path"
    } else if e.contains("missing a plug-in")
        || e.contains("no suitable plugins")
        || e.contains("missing element")
    {
        "no decoder for this codec is installed (see scripts/setup.sh)"
    } else if e.contains("does not exist") || e.contains("no such file") {
        "the file does not exist"
    } else if e.contains("could not connect")
        || e.contains("failed to connect")
        || e.contains("could not open resource")
        || e.contains("timeout")
        || e.contains("unreachable")
    {
        "unreachable: no answer from that address and port (network, firewall, camera off?)"
    } else if e.contains("no video") || e.contains("not-linked") || e.contains("not linked") {
        "the stream has no video track"
    } else {
        "see the error for details"
    }
}

/// What one pull from the stream gives.
#[derive(Debug)]
pub enum StreamEvent {
    Frame(Frame),
    /// Nothing arrived within the timeout.
    Idle,
    /// End of stream (files).
    Eos,
}

pub fn init() -> Result<(), IngestError> {
    static INIT: Once = Once::new();
    let mut result = Ok(());
    INIT.call_once(|| result = gst::init().map_err(|e| IngestError::Init(e.to_string())));
    result
}

/// Whether the Jetson hardware decode elements are installed.
fn has_jetson_decoder() -> bool {
    gst::ElementFactory::find("nvv4l2decoder").is_some()
        && gst::ElementFactory::find("nvvidconv").is_some()
}

fn template_for(camera: &CameraConfig) -> &'static str {
    match SourceKind::classify(&camera.source) {
        SourceKind::Rtsp => match (camera.codec, has_jetson_decoder()) {
            (Codec::H264, true) => JETSON_RTSP_H264,
            (Codec::H265, true) => JETSON_RTSP_H265,
            (Codec::H264, false) => RTSP_H264,
            (Codec::H265, false) => RTSP_H265,
            (Codec::Auto, _) => RTSP_AUTO,
        },
        SourceKind::Test(_) => TEST,
        SourceKind::File | SourceKind::Unsupported(_) => FILE,
    }
}

/// A running camera pipeline.
pub struct CameraStream {
    camera_id: Arc<str>,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    started: DateTime<Utc>,
    seq: u64,
    /// Frames out of the decoder, sampled or not.
    decoded: Arc<AtomicU64>,
    pool: FramePool,
}

impl CameraStream {
    /// Builds and starts the pipeline for `camera`, sampling at `fps` frames per second.
    pub fn open(camera: &CameraConfig, fps: f64, mode: PlayMode) -> Result<Self, IngestError> {
        Self::open_with_threads(camera, fps, mode, MAX_DECODER_THREADS)
    }

    /// As [`CameraStream::open`], with at most `decoder_threads` threads in a software decoder
    /// (see [`decoder_threads`]).
    pub fn open_with_threads(
        camera: &CameraConfig,
        fps: f64,
        mode: PlayMode,
        decoder_threads: i32,
    ) -> Result<Self, IngestError> {
        Self::open_recording(camera, fps, mode, decoder_threads, None)
    }

    /// As [`CameraStream::open_with_threads`], with the encoded stream also kept in `ring`
    /// (tapped before the decoder, from the first access unit on) for clips.
    pub fn open_recording(
        camera: &CameraConfig,
        fps: f64,
        mode: PlayMode,
        decoder_threads: i32,
        ring: Option<&super::clip::EncodedRing>,
    ) -> Result<Self, IngestError> {
        init()?;
        let id = camera.id.clone();
        let template = template_for(camera);
        let pipeline = gst::parse::launch(template.trim())
            .map_err(|e| classify_parse_error(&id, e))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| IngestError::Template {
                camera: id.clone(),
                message: "template is not a pipeline".into(),
            })?;
        limit_decoder_threads(&pipeline, decoder_threads.clamp(1, MAX_DECODER_THREADS));
        if let Some(ring) = ring {
            ring.attach(&pipeline);
        }
        let named = |name: &str| {
            pipeline.by_name(name).ok_or_else(|| IngestError::Template {
                camera: id.clone(),
                message: format!("template has no element named {name:?}"),
            })
        };
        let src = named("src")?;
        match SourceKind::classify(&camera.source) {
            SourceKind::Test(pattern) => src.set_property_from_str("pattern", pattern),
            SourceKind::File => {
                if !std::path::Path::new(&camera.source).is_file() {
                    return Err(IngestError::Source {
                        camera: id,
                        message: format!("video file {} does not exist", camera.source),
                    });
                }
                src.set_property("location", camera.source.as_str());
            }
            SourceKind::Rtsp => {
                src.set_property("location", camera.source.as_str());
                // rtspsrc tries UDP first by default; over NAT or a firewall that costs the
                // UDP timeout on every (re)connect, and UDP loses packets on a busy uplink.
                let protocols = match camera.transport {
                    Transport::Tcp => "tcp",
                    Transport::Udp => "udp+udp-mcast",
                    Transport::Auto => "udp+udp-mcast+tcp",
                };
                src.set_property_from_str("protocols", protocols);
            }
            SourceKind::Unsupported(scheme) => {
                return Err(IngestError::Source {
                    camera: id,
                    message: format!("unsupported source scheme {scheme:?}"),
                })
            }
        }
        let decoded = install_sampler(&named("sample")?, fps);
        let sink =
            named("sink")?
                .downcast::<gst_app::AppSink>()
                .map_err(|_| IngestError::Template {
                    camera: id.clone(),
                    message: "element \"sink\" is not an appsink".into(),
                })?;
        sink.set_max_buffers(1);
        sink.set_drop(mode == PlayMode::Live);
        // A file in live mode plays at its own speed; a camera is live anyway.
        let is_file = matches!(SourceKind::classify(&camera.source), SourceKind::File);
        sink.set_property("sync", mode == PlayMode::Live && is_file);
        let bus = pipeline.bus().ok_or_else(|| IngestError::Template {
            camera: id.clone(),
            message: "pipeline has no bus".into(),
        })?;
        let stream = CameraStream {
            camera_id: Arc::from(id.as_str()),
            pipeline,
            sink,
            bus,
            started: Utc::now(),
            seq: 0,
            decoded,
            pool: FramePool::new(pool::DEFAULT_CAPACITY),
        };
        if stream.pipeline.set_state(gst::State::Playing).is_err() {
            // The bus says why (missing file, unreachable host, …).
            return Err(stream.pending_error().unwrap_or(IngestError::Source {
                camera: id,
                message: "pipeline refused to start".into(),
            }));
        }
        Ok(stream)
    }

    /// What the source carries, read from the video decoder's caps once frames flow: the codec
    /// (`video/x-h264`, `video/x-h265`, …) and the native frame rate.
    pub fn source_info(&self) -> SourceInfo {
        let mut info = SourceInfo::default();
        let mut it = self.pipeline.iterate_recurse();
        while let Ok(Some(element)) = it.next() {
            let Some(factory) = element.factory() else {
                continue;
            };
            let klass = factory.metadata("klass").unwrap_or_default();
            if !(klass.contains("Decoder") && klass.contains("Video")) {
                continue;
            }
            let caps = |pad: &str| element.static_pad(pad).and_then(|p| p.current_caps());
            if let Some(s) = caps("sink").as_ref().and_then(|c| c.structure(0)) {
                info.codec = Some(s.name().to_string());
            }
            if let Some(s) = caps("src").as_ref().and_then(|c| c.structure(0)) {
                if let Ok(f) = s.get::<gst::Fraction>("framerate") {
                    if f.denom() > 0 && f.numer() > 0 {
                        info.fps = Some(f.numer() as f64 / f.denom() as f64);
                    }
                }
            }
        }
        info
    }

    /// Frames the decoder has delivered so far (the camera's own rate, before sampling).
    pub fn decoded(&self) -> u64 {
        self.decoded.load(Ordering::Relaxed)
    }

    /// Wall-clock time of stream time 0: a frame's capture time is this plus its `pts`.
    pub fn started(&self) -> DateTime<Utc> {
        self.started
    }

    /// Waits up to `timeout` for the next sampled frame.
    pub fn next(&mut self, timeout: Duration) -> Result<StreamEvent, IngestError> {
        if let Some(err) = self.pending_error() {
            return Err(err);
        }
        match self
            .sink
            .try_pull_sample(gst::ClockTime::from_nseconds(timeout.as_nanos() as u64))
        {
            Some(sample) => match self.make_frame(&sample) {
                Some(frame) => Ok(StreamEvent::Frame(frame)),
                None => Ok(StreamEvent::Idle),
            },
            None if self.sink.is_eos() => Ok(StreamEvent::Eos),
            None => match self.pending_error() {
                Some(err) => Err(err),
                None => Ok(StreamEvent::Idle),
            },
        }
    }

    fn pending_error(&self) -> Option<IngestError> {
        while let Some(msg) = self.bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                let element = err
                    .src()
                    .map(|s| s.name().to_string())
                    .unwrap_or_else(|| "pipeline".into());
                let mut message = err.error().to_string();
                if let Some(debug) = err.debug() {
                    // The first line of the debug string usually names the cause (404, auth, …).
                    if let Some(first) = debug.lines().last() {
                        message = format!("{message} ({})", first.trim());
                    }
                }
                return Some(IngestError::Stream {
                    camera: self.camera_id.to_string(),
                    element,
                    message,
                });
            }
        }
        None
    }

    fn make_frame(&mut self, sample: &gst::Sample) -> Option<Frame> {
        let buffer = sample.buffer()?;
        let caps = sample.caps()?;
        let info = gst_video::VideoInfo::from_caps(caps).ok()?;
        let vframe = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).ok()?;
        let (w, h) = (info.width(), info.height());
        let stride = vframe.plane_stride()[0] as usize;
        let data = vframe.plane_data(0).ok()?;
        let row = w as usize * 3;
        let image = self.pool.frame(w, h, |rgb| {
            for (y, out) in rgb.chunks_exact_mut(row).enumerate() {
                out.copy_from_slice(data.get(y * stride..y * stride + row)?);
            }
            Some(())
        })?;
        let pts = Duration::from_nanos(buffer.pts().map_or(0, |t| t.nseconds()));
        let captured_at = self.started + chrono::Duration::from_std(pts).unwrap_or_default();
        let frame = Frame {
            camera_id: self.camera_id.clone(),
            seq: self.seq,
            pts,
            captured_at,
            image,
        };
        self.seq += 1;
        Some(frame)
    }
}

impl Drop for CameraStream {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Software decoders (libav's) default to one frame thread per core, each with its own frame
/// buffers and a frame of latency (a 12-core Jetson Orin: 12 frame threads per camera). Two
/// threads decode a 1080p H.264 camera in real time.
const MAX_DECODER_THREADS: i32 = 2;

/// Threads for each camera's software decoder on a box of `cores` cores serving `cameras`
/// cameras: two while there are cores to spare, one once the cameras outnumber the cores —
/// then the cameras decode side by side anyway, and each extra thread only holds frames.
/// Measured with GStreamer alone on 16 of the shared clips: one thread each holds 198 MB,
/// two 286 MB (5.5 MB a camera), for the same CPU.
pub fn decoder_threads(cameras: usize, cores: usize) -> i32 {
    let spare = cores / cameras.max(1);
    i32::try_from(spare)
        .unwrap_or(i32::MAX)
        .clamp(1, MAX_DECODER_THREADS)
}

fn limit_decoder_threads(pipeline: &gst::Pipeline, threads: i32) {
    let limit = move |element: &gst::Element| {
        let is_libav = element
            .factory()
            .is_some_and(|f| f.name().starts_with("avdec_"));
        if is_libav && element.find_property("max-threads").is_some() {
            element.set_property("max-threads", threads);
        }
    };
    let mut it = pipeline.iterate_recurse();
    while let Ok(Some(element)) = it.next() {
        limit(&element);
    }
    // decodebin adds its decoder once it has seen the stream.
    pipeline.connect_deep_element_added(move |_, _, element| limit(element));
}

/// Drops buffers that are not due at `fps` before they reach the colour conversion. Returns the
/// count of decoded buffers that reached it.
fn install_sampler(element: &gst::Element, fps: f64) -> Arc<AtomicU64> {
    let decoded = Arc::new(AtomicU64::new(0));
    let Some(pad) = element.static_pad("sink") else {
        return decoded;
    };
    let interval = (1e9 / fps) as u64;
    // u64::MAX: nothing sampled yet.
    let next_due = Arc::new(AtomicU64::new(u64::MAX));
    let counter = decoded.clone();
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        counter.fetch_add(1, Ordering::Relaxed);
        let Some(pts) = info.buffer().and_then(|b| b.pts()).map(|t| t.nseconds()) else {
            return gst::PadProbeReturn::Ok;
        };
        let due = next_due.load(Ordering::Relaxed);
        if due != u64::MAX && pts < due {
            // Take and release the buffer ourselves: returning `Drop` trips a
            // gst_mini_object_unref critical in GStreamer 1.22 (fixed in 1.24.8).
            drop(info.take_buffer());
            return gst::PadProbeReturn::Handled;
        }
        // Keep the average rate, but never build up a debt after a gap in the stream.
        let mut next = if due == u64::MAX { pts } else { due } + interval;
        if next <= pts {
            next = pts + interval;
        }
        next_due.store(next, Ordering::Relaxed);
        gst::PadProbeReturn::Ok
    });
    decoded
}

fn classify_parse_error(camera: &str, e: gst::glib::Error) -> IngestError {
    if let Some(gst::ParseError::NoSuchElement) = e.kind::<gst::ParseError>() {
        let element = e
            .message()
            .split('"')
            .nth(1)
            .unwrap_or("unknown")
            .to_owned();
        return IngestError::MissingElement {
            camera: camera.to_owned(),
            element,
        };
    }
    IngestError::Template {
        camera: camera.to_owned(),
        message: e.to_string(),
    }
}
