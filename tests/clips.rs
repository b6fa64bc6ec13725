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
use sha2::Digest;

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

/// A playing pipeline that demuxes `path`'s video track into an appsink (GStreamer's own MP4
/// demuxer, qtdemux).
fn demux_video(path: &std::path::Path) -> (gst::Pipeline, gst_app::AppSink) {
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
    (pipeline, sink)
}

/// What GStreamer's own MP4 demuxer reads back: the video caps, whether the first access unit
/// is a keyframe, the duration, and the units' total size.
fn read_back(path: &std::path::Path) -> (String, bool, Duration, usize) {
    let (pipeline, sink) = demux_video(path);
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

/// Keyframe times of a file's video track, read by GStreamer's demuxer.
fn keyframes(path: &std::path::Path) -> Vec<Duration> {
    let (pipeline, sink) = demux_video(path);
    let mut keys = Vec::new();
    while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
        let buffer = sample.buffer().unwrap();
        if !buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
            keys.push(Duration::from_nanos(buffer.pts().unwrap().nseconds()));
        }
    }
    pipeline.set_state(gst::State::Null).unwrap();
    keys
}

const ROOT: &str = "lookout/v1/demo-district/box-001";

/// The acceptance run: a replay with `clip_pre_s = 3`, `clip_post_s = 3` through a broker that
/// takes at most 1 MB per message. The fire order lists a clip; its chunks reach a subscriber
/// and `lookout orders watch --photos` rebuilds the file, whose sha256 is the order's; the file
/// holds the camera's own codec, starts at a keyframe and lasts 6 s within one GOP (or what the
/// footage has, for a 5.8 s clip). Every message captured matches `docs/schemas`.
fn clip_reaches_the_centre(example: &str, camera: &str, file: &str) {
    lookout::ingest::init_gstreamer().unwrap();
    let broker = Mosquitto::start_with("message_size_limit 1048576");
    let sub = Subscriber::start(broker.port, &format!("{ROOT}/#"));
    let dir = scratch_dir();
    let cfg = example_with_broker(dir.path(), example, &broker.url());
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str("\n[evidence]\nclip_pre_s = 3.0\nclip_post_s = 3.0\n");
    std::fs::write(&cfg, text).unwrap();
    let received = dir.path().join("received");
    let watch = std::process::Command::new(lookout_bin())
        .args([
            "orders",
            "watch",
            "--broker",
            &broker.url(),
            "--timeout",
            "60",
        ])
        .arg("--photos")
        .arg(&received)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("watch");
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let watch = Killed(watch);
    // The watcher subscribes before the box publishes.
    std::thread::sleep(Duration::from_secs(2));
    let out = std::process::Command::new(lookout_bin())
        .args(["replay", "--config"])
        .arg(&cfg)
        .args(["--camera", camera, "--video"])
        .arg(video(file))
        .output()
        .expect("run lookout replay");
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let orders = |m: &[Received]| -> Vec<serde_json::Value> {
        m.iter()
            .filter(|x| x.topic.split('/').count() == 6 && x.topic.contains("/orders/"))
            .filter_map(|x| serde_json::from_slice(&x.payload).ok())
            .collect()
    };
    let clip_of = |o: &serde_json::Value| -> Option<serde_json::Value> {
        o["evidence"]
            .as_array()?
            .iter()
            .find(|e| e["content_type"] == "video/mp4")
            .cloned()
    };
    let msgs = sub.wait_for(
        Duration::from_secs(30),
        "a fire order's clip, every chunk",
        |m| {
            orders(m).iter().any(|o| {
                o["kind"] == "fire"
                    && clip_of(o).is_some_and(|c| {
                        let prefix = format!(
                            "{ROOT}/orders/{}/clips/{}/",
                            o["id"].as_str().unwrap(),
                            c["name"].as_str().unwrap()
                        );
                        let got: std::collections::BTreeSet<&str> = m
                            .iter()
                            .filter_map(|x| x.topic.strip_prefix(&prefix))
                            .collect();
                        got.len() as u64 == c["chunks"].as_u64().unwrap()
                    })
            })
        },
    );
    let order = orders(&msgs)
        .into_iter()
        .filter(|o| o["kind"] == "fire" && clip_of(o).is_some())
        .max_by_key(|o| o["revision"].as_u64())
        .unwrap();
    let clip = clip_of(&order).unwrap();
    let id = order["id"].as_str().unwrap();
    let name = clip["name"].as_str().unwrap();
    assert!(
        name.starts_with("opened-") && name.ends_with(".mp4"),
        "{name}"
    );
    assert!(
        order["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["event"] == "clip_recorded"),
        "{order:#}"
    );
    // Every chunk fits the broker's limit, and photos arrived through it too.
    let chunks: Vec<&Received> = msgs
        .iter()
        .filter(|m| m.topic.contains("/clips/"))
        .collect();
    assert!(chunks.iter().all(|c| c.payload.len() < 1_048_576));
    let this_clip = format!("{ROOT}/orders/{id}/clips/{name}/");
    let pieces = chunks
        .iter()
        .filter(|c| c.topic.starts_with(&this_clip))
        .count();
    assert!(msgs.iter().any(|m| m.topic.contains("/evidence/")));

    // The watcher rebuilt the file from the chunks and checked it.
    let path = received.join(id).join(name);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !path.is_file() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    drop(watch);
    assert_eq!(data.len() as u64, clip["bytes"].as_u64().unwrap());
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&data)),
        clip["sha256"].as_str().unwrap()
    );
    let (codec, first_is_key, duration, _) = read_back(&path);
    assert_eq!(
        codec, "video/x-h264",
        "the camera's own codec, not re-encoded"
    );
    assert!(first_is_key, "the clip starts at a keyframe");
    let documented = Duration::from_secs_f64(clip["duration_s"].as_f64().unwrap());
    assert!(
        duration.abs_diff(documented) < Duration::from_millis(100),
        "the order says {documented:?}, the file lasts {duration:?}"
    );
    let keys = keyframes(&video(file));
    let gop = keys
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or(Duration::from_secs(60));
    let footage = read_back(&video(file)).2;
    let wanted = Duration::from_secs(6).min(footage);
    eprintln!(
        "{file}: clip {name} {duration:?} ({} kB, {pieces} chunk messages), GOP up to {gop:?}, footage {footage:?}",
        data.len() / 1024
    );
    assert!(
        duration.abs_diff(wanted) <= gop + Duration::from_millis(100),
        "{file}: {duration:?} is not within one GOP ({gop:?}) of {wanted:?}"
    );
    let checked = ApiSchemas::load().check_all(&sub.snapshot());
    assert!(checked > chunks.len(), "{checked} messages checked");
}

#[test]
fn the_night_flare_up_clip_reaches_the_centre_in_chunks_through_a_1_mb_broker() {
    clip_reaches_the_centre(
        "fire_flareup_night_cctv.toml",
        "fire_flareup_night_cctv",
        "fire_flareup_night_cctv.mp4",
    );
}

#[test]
fn the_forest_fire_clip_reaches_the_centre_in_chunks_through_a_1_mb_broker() {
    clip_reaches_the_centre(
        "forest_fire_smoke.toml",
        "forest_fire_smoke",
        "forest_fire_smoke.mp4",
    );
}

/// An RTSP camera (`lookout camera simulate`, the GStreamer RTSP server) in H.264 (the file's
/// own stream, copied) and H.265 (re-encoded by the simulator, as an H.265 camera sends it):
/// the ring tapped before the decoder cuts a clip of the camera's codec starting at a keyframe.
#[test]
fn rtsp_cameras_in_h264_and_h265_give_clips_of_their_own_codec() {
    lookout::ingest::init_gstreamer().unwrap();
    for (codec, caps) in [("copy", "video/x-h264"), ("h265", "video/x-h265")] {
        let port = free_port();
        let mut server = std::process::Command::new(lookout_bin())
            .args(["camera", "simulate"])
            .arg(video("forest_fire_smoke.mp4"))
            .args([
                "--path",
                "cam",
                "--codec",
                codec,
                "--port",
                &port.to_string(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("lookout camera simulate");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "RTSP server never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut cam = camera(std::path::Path::new(&format!(
            "rtsp://127.0.0.1:{port}/cam"
        )));
        cam.codec = toml::from_str::<toml::Value>(&format!(
            "c = \"{}\"",
            if codec == "h265" { "h265" } else { "h264" }
        ))
        .unwrap()["c"]
            .clone()
            .try_into()
            .unwrap();
        let ring = EncodedRing::new(Duration::from_secs(10), 64 << 20);
        let mut stream =
            CameraStream::open_recording(&cam, 2.0, PlayMode::Live, 2, Some(&ring)).unwrap();
        let mut first = None;
        loop {
            if let StreamEvent::Frame(f) = stream.next(Duration::from_secs(10)).unwrap() {
                let start = *first.get_or_insert(f.pts);
                if f.pts >= start + Duration::from_secs(4) {
                    break;
                }
            }
        }
        let start = first.unwrap();
        let encoded = ring
            .clip(
                start + Duration::from_secs(1),
                start + Duration::from_secs(4),
            )
            .expect("the ring holds the stretch");
        drop(stream);
        let _ = server.kill();
        let _ = server.wait();
        let dir = scratch_dir();
        let path = dir.path().join("rtsp.mp4");
        write_mp4(&encoded, &path).unwrap();
        let (read_codec, first_is_key, duration, bytes) = read_back(&path);
        eprintln!("rtsp {codec}: {duration:?}, {} kB", bytes / 1024);
        assert_eq!(read_codec, caps, "{codec}");
        assert!(first_is_key, "{codec}: starts at a keyframe");
        assert_eq!(bytes, encoded.bytes(), "{codec}: the camera's access units");
        assert!(
            duration >= Duration::from_millis(2_900),
            "{codec}: {duration:?}"
        );
    }
}
