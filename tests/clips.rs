//! Clips without re-encoding, on real footage: the encoded stream is kept in a ring tapped
//! before the decoder while the camera is decoded as usual, and a stretch of it around a moment
//! is remuxed into a faststart MP4 that holds the camera's own codec, starts at a keyframe and
//! lasts what was asked within one GOP. The MP4 is read back by GStreamer's own demuxer.

mod common;

use std::time::Duration;

use common::*;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use lookout::config::{CameraConfig, LocationConfig};
use lookout::ingest::{write_mp4, CameraStream, EncodedRing, PlayMode, StreamEvent};

fn camera(source: &std::path::Path) -> CameraConfig {
    let mut camera: CameraConfig = toml::from_str(&format!(
        "id = \"cam\"\nsource = {:?}\nmodels = [\"m\"]\nlocation = {{ lat = 0.0, lon = 0.0 }}",
        source.to_string_lossy()
    ))
    .unwrap();
    camera.detect_fps = 2.0;
    let _: &LocationConfig = &camera.location;
    camera
}

/// Top-level MP4 boxes, in file order.
fn boxes(data: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at + 8 <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned());
        if size < 8 {
            break;
        }
        at += size;
    }
    out
}

/// What GStreamer's own MP4 demuxer reads back: the video caps, whether the first access unit
/// is a keyframe, the duration, and the units' total size.
fn read_back(path: &std::path::Path) -> (String, bool, Duration, usize) {
    let pipeline = gst::parse::launch(
        "filesrc name=src ! qtdemux name=demux demux.video_0 ! appsink name=sink sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    pipeline
        .by_name("src")
        .unwrap()
        .set_property("location", path.to_string_lossy().as_ref());
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut codec = String::new();
    let mut first_is_key = None;
    let mut bytes = 0;
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        if codec.is_empty() {
            codec = sample
                .caps()
                .unwrap()
                .structure(0)
                .unwrap()
                .name()
                .to_string();
        }
        let buffer = sample.buffer().unwrap();
        first_is_key.get_or_insert(!buffer.flags().contains(gst::BufferFlags::DELTA_UNIT));
        bytes += buffer.size();
    }
    let duration = pipeline
        .query_duration::<gst::ClockTime>()
        .map(|d| Duration::from_nanos(d.nseconds()))
        .unwrap_or_default();
    pipeline.set_state(gst::State::Null).unwrap();
    (codec, first_is_key.unwrap_or(false), duration, bytes)
}

fn clip_around(clip: &str, moment: Duration, pre: Duration, post: Duration) {
    lookout::ingest::init_gstreamer().unwrap();
    // What a camera with pre/post keeps: the clip is cut `post` after the moment.
    let ring = EncodedRing::new(pre + post + Duration::from_secs(1), 64 * 1024 * 1024);
    let mut stream =
        CameraStream::open_recording(&camera(&video(clip)), 2.0, PlayMode::Replay, 2, Some(&ring))
            .unwrap();
    // Decode as a camera does until `post` after the moment (or the clip's end).
    loop {
        match stream.next(Duration::from_secs(10)).unwrap() {
            StreamEvent::Frame(f) if f.pts >= moment + post => break,
            StreamEvent::Eos => break,
            _ => {}
        }
    }
    let codec = stream.source_info().codec.unwrap();
    let held = ring.bytes();
    let encoded = ring
        .clip(moment.saturating_sub(pre), moment + post)
        .expect("the ring holds the stretch");
    let (first, last) = encoded.span();
    let dir = scratch_dir();
    let path = dir.path().join("clip.mp4");
    write_mp4(&encoded, &path).unwrap();
    let data = std::fs::read(&path).unwrap();
    let order = boxes(&data);
    let moov = order.iter().position(|b| b == "moov").expect("a moov box");
    let mdat = order.iter().position(|b| b == "mdat").expect("an mdat box");
    assert!(
        moov < mdat,
        "faststart: the index before the media: {order:?}"
    );

    let (read_codec, first_is_key, duration, media_bytes) = read_back(&path);
    assert_eq!(
        read_codec, codec,
        "{clip}: the camera's own codec, not re-encoded"
    );
    assert!(first_is_key, "{clip}: the clip starts at a keyframe");
    assert_eq!(
        media_bytes,
        encoded.bytes(),
        "{clip}: the access units are the camera's, byte for byte in number"
    );
    // Asked: pre + post, or what the clip has of it. Allowed: one GOP more at the start (the
    // keyframe before), one frame's worth either way.
    let wanted_end = last;
    let wanted = wanted_end.saturating_sub(moment.saturating_sub(pre));
    let gop = moment.saturating_sub(pre).saturating_sub(first);
    eprintln!(
        "{clip}: clip {first:?}..{last:?}, duration {duration:?} (asked {wanted:?}, keyframe {gop:?} earlier), {} kB, ring held {} kB",
        data.len() / 1024,
        held / 1024
    );
    assert!(
        duration + Duration::from_millis(100) >= wanted
            && duration <= wanted + gop + Duration::from_millis(100),
        "{clip}: duration {duration:?}, asked {wanted:?}, GOP start {gop:?} earlier"
    );
}

#[test]
fn a_clip_of_the_night_flare_up_is_remuxed_not_reencoded() {
    // 5.8 s long: three seconds either side of 3 s.
    clip_around(
        "fire_flareup_night_cctv.mp4",
        Duration::from_secs(3),
        Duration::from_secs(3),
        Duration::from_secs(3),
    );
}

#[test]
fn a_clip_of_the_forest_fire_is_remuxed_not_reencoded() {
    clip_around(
        "forest_fire_smoke.mp4",
        Duration::from_secs(6),
        Duration::from_secs(3),
        Duration::from_secs(3),
    );
}
