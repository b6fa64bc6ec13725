//! Video clips without re-encoding: a ring of the camera's encoded access units, tapped at the
//! decoder's input (after the depayloader/demuxer and parser), and a remux of a stretch of it
//! into an MP4 (`moov` first, "faststart") — the camera's own H.264/H.265, bit for bit.
//!
//! The ring holds `GstBuffer` references: the bytes the decoder reads anyway, kept a little
//! longer, never copied. It is trimmed by whole GOPs, so it always starts at a keyframe, and it
//! is bounded by time and by bytes (a camera that stops sending keyframes cannot fill memory).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

/// One encoded access unit and its stream time.
#[derive(Debug, Clone)]
struct Unit {
    buffer: gst::Buffer,
    pts: Duration,
    keyframe: bool,
}

#[derive(Debug)]
struct Ring {
    caps: Option<gst::Caps>,
    units: VecDeque<Unit>,
    bytes: usize,
    keep: Duration,
    max_bytes: usize,
}

impl Ring {
    fn push(&mut self, caps: Option<gst::Caps>, unit: Unit) {
        if caps.is_some() && caps != self.caps {
            // New caps (a camera's new resolution, a new SPS): what came before cannot be
            // muxed with what comes after.
            self.units.clear();
            self.bytes = 0;
            self.caps = caps;
        }
        if self.units.is_empty() && !unit.keyframe {
            return; // a clip starts at a keyframe
        }
        self.bytes += unit.buffer.size();
        let newest = unit.pts;
        self.units.push_back(unit);
        // Drop whole GOPs from the front while the next GOP still reaches back `keep`, or
        // while over the byte bound (then the newest GOP alone may stay).
        while let Some(next_key) = self.units.iter().skip(1).position(|u| u.keyframe) {
            let next_key = next_key + 1;
            let old_enough = newest.saturating_sub(self.units[next_key].pts) >= self.keep;
            if !(old_enough || self.bytes > self.max_bytes) {
                break;
            }
            for u in self.units.drain(..next_key) {
                self.bytes -= u.buffer.size();
            }
        }
    }
}

/// A camera's ring of encoded access units.
#[derive(Debug, Clone)]
pub struct EncodedRing {
    ring: Arc<Mutex<Ring>>,
}

/// A stretch of the encoded stream, starting at a keyframe: what a clip is made of.
#[derive(Debug, Clone)]
pub struct EncodedClip {
    pub caps: gst::Caps,
    units: Vec<Unit>,
}

impl EncodedClip {
    /// Stream time of the first and of the last access unit.
    pub fn span(&self) -> (Duration, Duration) {
        (
            self.units.first().map_or(Duration::ZERO, |u| u.pts),
            self.units.last().map_or(Duration::ZERO, |u| u.pts),
        )
    }

    /// Access units (frames) in it.
    pub fn frames(&self) -> usize {
        self.units.len()
    }

    /// Encoded bytes.
    pub fn bytes(&self) -> usize {
        self.units.iter().map(|u| u.buffer.size()).sum()
    }
}

impl EncodedRing {
    /// A ring keeping at least `keep` of stream (plus the GOP it starts in), at most
    /// `max_bytes` of it.
    pub fn new(keep: Duration, max_bytes: usize) -> EncodedRing {
        EncodedRing {
            ring: Arc::new(Mutex::new(Ring {
                caps: None,
                units: VecDeque::new(),
                bytes: 0,
                keep,
                max_bytes,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Forgets what is held: a new stream (a reconnect) starts its own times.
    pub fn clear(&self) {
        let mut ring = self.lock();
        ring.units.clear();
        ring.bytes = 0;
        ring.caps = None;
    }

    /// Stream time of the newest access unit held.
    pub fn newest(&self) -> Option<Duration> {
        self.lock().units.back().map(|u| u.pts)
    }

    /// Taps every video decoder of `pipeline` (those there now and those decodebin adds
    /// later): each encoded buffer entering one joins the ring.
    pub fn attach(&self, pipeline: &gst::Pipeline) {
        let tap = {
            let ring = self.clone();
            move |element: &gst::Element| {
                let is_video_decoder = element.factory().is_some_and(|f| {
                    let klass = f.metadata("klass").unwrap_or_default();
                    klass.contains("Decoder") && klass.contains("Video")
                });
                if !is_video_decoder {
                    return;
                }
                let Some(pad) = element.static_pad("sink") else {
                    return;
                };
                let ring = ring.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                    if let Some(buffer) = info.buffer() {
                        let Some(pts) = buffer.pts().or(buffer.dts()) else {
                            return gst::PadProbeReturn::Ok;
                        };
                        let unit = Unit {
                            keyframe: !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT),
                            pts: Duration::from_nanos(pts.nseconds()),
                            buffer: buffer.clone(),
                        };
                        ring.lock().push(pad.current_caps(), unit);
                    }
                    gst::PadProbeReturn::Ok
                });
            }
        };
        let mut it = pipeline.iterate_recurse();
        while let Ok(Some(element)) = it.next() {
            tap(&element);
        }
        pipeline.connect_deep_element_added(move |_, _, element| tap(element));
    }

    /// The stretch from the last keyframe at or before `from` to `to` (stream times); `None`
    /// when the ring holds nothing of it.
    pub fn clip(&self, from: Duration, to: Duration) -> Option<EncodedClip> {
        let ring = self.lock();
        let caps = ring.caps.clone()?;
        let start = ring
            .units
            .iter()
            .rposition(|u| u.keyframe && u.pts <= from)
            .or_else(|| ring.units.iter().position(|u| u.keyframe))?;
        let units: Vec<Unit> = ring
            .units
            .iter()
            .skip(start)
            .take_while(|u| u.pts <= to)
            .cloned()
            .collect();
        (!units.is_empty()).then_some(EncodedClip { caps, units })
    }
}

/// Why a clip could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ClipError {
    #[error("the encoded stream is {0}, which clips do not support (H.264 and H.265 do)")]
    Codec(String),
    #[error("remuxing the clip: {0}")]
    Remux(String),
}

/// Writes `clip` to `path` as an MP4 with its index first (faststart), remuxing only: the
/// access units are the camera's, their times rebased to start at 0.
pub fn write_mp4(clip: &EncodedClip, path: &Path) -> Result<(), ClipError> {
    let codec = clip
        .caps
        .structure(0)
        .map(|s| s.name().to_string())
        .unwrap_or_default();
    let parser = match codec.as_str() {
        "video/x-h264" => "h264parse",
        "video/x-h265" => "h265parse",
        other => return Err(ClipError::Codec(other.to_owned())),
    };
    let remux = |e: &dyn std::fmt::Display| ClipError::Remux(e.to_string());
    let pipeline = gst::parse::launch(&format!(
        "appsrc name=src format=time ! {parser} ! mp4mux faststart=true ! filesink name=sink"
    ))
    .map_err(|e| remux(&e))?
    .downcast::<gst::Pipeline>()
    .map_err(|_| ClipError::Remux("not a pipeline".into()))?;
    let src = pipeline
        .by_name("src")
        .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
        .ok_or_else(|| ClipError::Remux("no appsrc".into()))?;
    let sink = pipeline
        .by_name("sink")
        .ok_or_else(|| ClipError::Remux("no filesink".into()))?;
    sink.set_property("location", path.to_string_lossy().as_ref());
    src.set_caps(Some(&clip.caps));
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|e| remux(&e))?;
    let base = clip
        .units
        .iter()
        .filter_map(|u| u.buffer.dts().or(u.buffer.pts()))
        .min()
        .unwrap_or(gst::ClockTime::ZERO);
    let mut result = Ok(());
    for unit in &clip.units {
        let mut buffer = unit.buffer.copy();
        {
            let b = buffer.make_mut();
            let pts = unit.buffer.pts().map(|t| t.saturating_sub(base));
            let dts = unit.buffer.dts().map(|t| t.saturating_sub(base));
            b.set_pts(pts);
            b.set_dts(dts);
        }
        if let Err(e) = src.push_buffer(buffer) {
            result = Err(remux(&e));
            break;
        }
    }
    let _ = src.end_of_stream();
    let bus = pipeline
        .bus()
        .ok_or_else(|| ClipError::Remux("no bus".into()))?;
    let done = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(30),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    result?;
    match done.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => Err(remux(&e.error())),
        _ => Err(ClipError::Remux("no end of stream within 30 s".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(ms: u64, keyframe: bool, bytes: usize) -> Unit {
        Unit {
            buffer: gst::Buffer::from_mut_slice(vec![0u8; bytes]),
            pts: Duration::from_millis(ms),
            keyframe,
        }
    }

    fn ring(keep_ms: u64, max_bytes: usize) -> Ring {
        Ring {
            caps: None,
            units: VecDeque::new(),
            bytes: 0,
            keep: Duration::from_millis(keep_ms),
            max_bytes,
        }
    }

    #[test]
    fn the_ring_starts_at_a_keyframe_and_drops_whole_gops_past_its_time_or_bytes() {
        gst::init().unwrap();
        let mut r = ring(2_000, 1 << 20);
        r.push(None, unit(0, false, 10)); // before the first keyframe: useless
        assert!(r.units.is_empty());
        // GOPs of one second: keyframe every 1000 ms, frames every 250 ms.
        for ms in (0..=5_000).step_by(250) {
            r.push(None, unit(ms, ms % 1_000 == 0, 100));
        }
        let first = r.units.front().unwrap();
        assert!(first.keyframe);
        // At 5 s, 2 s are kept: the GOP starting at 3 s reaches back to 3 s.
        assert_eq!(first.pts, Duration::from_millis(3_000));
        assert_eq!(r.bytes, r.units.len() * 100);
        // Over the byte bound, GOPs go even when younger than `keep`.
        let mut small = ring(60_000, 1_000);
        for ms in (0..=5_000).step_by(250) {
            small.push(None, unit(ms, ms % 1_000 == 0, 100));
        }
        assert!(small.bytes <= 1_000, "{}", small.bytes);
        assert!(small.units.front().unwrap().keyframe);
    }
}
