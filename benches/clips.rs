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

fn bench_clips(c: &mut Criterion) {
    lookout::ingest::init_gstreamer().unwrap();
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
