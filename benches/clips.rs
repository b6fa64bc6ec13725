//! What a clip costs: the remux of six seconds of a camera's encoded stream into a faststart
//! MP4 (no decoding, no encoding), and the ring's memory per second of stream, on the shared
//! clips. Run: `cargo bench --bench clips`.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use lookout::config::CameraConfig;
use lookout::ingest::{write_mp4, CameraStream, EncodedRing, PlayMode, StreamEvent};

fn ring_of(clip: &str, seconds: u64) -> EncodedRing {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/media/video")
        .join(clip);
    let camera: CameraConfig = toml::from_str(&format!(
        "id = \"cam\"\nsource = {:?}\nmodels = [\"m\"]\nlocation = {{ lat = 0.0, lon = 0.0 }}",
        path.to_string_lossy()
    ))
    .unwrap();
    let ring = EncodedRing::new(Duration::from_secs(seconds), 256 * 1024 * 1024);
    let mut stream =
        CameraStream::open_recording(&camera, 1.0, PlayMode::Replay, 2, Some(&ring)).unwrap();
    while let Ok(StreamEvent::Frame(_) | StreamEvent::Idle) = stream.next(Duration::from_secs(10)) {
    }
    ring
}

/// The ring of a 1080p, 25 fps camera at 4 Mbit/s with a GOP of 2 s (a common IPC setting),
/// holding what a camera with `clip_pre_s = 3`, `clip_post_s = 3` keeps (8 s): the most it held
/// over 30 s of stream. The stream comes from GStreamer's test source through openh264 (the
/// shared footage has no 1080p clip); skipped when openh264enc is missing.
fn ring_of_a_1080p_camera() {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    if gst::ElementFactory::find("openh264enc").is_none() {
        eprintln!("1080p ring: openh264enc missing, skipped");
        return;
    }
    let pipeline = gst::parse::launch(
        "videotestsrc pattern=smpte num-buffers=750 ! video/x-raw,width=1920,height=1080,framerate=25/1 \
         ! videoconvert ! video/x-raw,format=I420 \
         ! openh264enc rate-control=bitrate bitrate=4000000 gop-size=50 complexity=low \
         ! h264parse ! avdec_h264 ! fakesink sync=false",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let ring = EncodedRing::new(Duration::from_secs(8), 256 * 1024 * 1024);
    ring.attach(&pipeline);
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let mut most = 0;
    loop {
        most = most.max(ring.bytes());
        match bus.timed_pop_filtered(
            gst::ClockTime::from_mseconds(20),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) {
            Some(_) => break,
            None => continue,
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    let held = ring.clip(Duration::ZERO, Duration::MAX).unwrap();
    let (first, last) = held.span();
    eprintln!(
        "1080p25 camera asked 4 Mbit/s (got {:.1} Mbit/s), GOP 2 s, ring for pre 3 s + post 3 s (+2 s slack): at most {:.1} MB held",
        held.bytes() as f64 * 8.0 / (last - first).as_secs_f64() / 1e6,
        most as f64 / 1e6
    );
}

fn bench_clips(c: &mut Criterion) {
    lookout::ingest::init_gstreamer().unwrap();
    ring_of_a_1080p_camera();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("clip");
    group.sample_size(20);
    for clip in [
        "forest_fire_smoke.mp4",
        "indoor_fire.mp4",
        "plaza_pedestrians.mp4",
    ] {
        let ring = ring_of(clip, 60);
        let newest = ring.newest().unwrap();
        let to = newest.min(Duration::from_secs(9));
        let encoded = ring
            .clip(to.saturating_sub(Duration::from_secs(6)), to)
            .unwrap();
        let (first, last) = encoded.span();
        let seconds = (last - first).as_secs_f64().max(0.001);
        eprintln!(
            "{clip}: {:.0} kB/s of stream; {:.1} s clip = {} kB",
            encoded.bytes() as f64 / seconds / 1024.0,
            seconds,
            encoded.bytes() / 1024
        );
        let path = dir.path().join("clip.mp4");
        group.bench_function(format!("remux_6s_{clip}"), |b| {
            b.iter(|| write_mp4(&encoded, &path).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_clips);
criterion_main!(benches);
