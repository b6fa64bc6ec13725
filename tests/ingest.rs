//! Ingest on real footage: sampling rate, frame contents, audio tracks ignored, dead sources
//! reported.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lookout::config::{CameraConfig, LocationConfig};
use lookout::ingest::{CameraStream, Frame, PlayMode, StreamEvent};

fn camera(source: &str) -> CameraConfig {
    CameraConfig {
        id: "cam".into(),
        name: None,
        source: source.into(),
        codec: Default::default(),
        transport: Default::default(),
        detect_fps: 5.0,
        models: vec!["yolox_nano_coco".into()],
        model_fps: Default::default(),
        model_options: Default::default(),
        tracker: Default::default(),
        location: LocationConfig {
            lat: 0.0,
            lon: 0.0,
            accuracy_m: 1.0,
        },
        calibration: None,
        pose: None,
        zones: vec![],
        rules: vec![],
        faults: Default::default(),
        speaker: None,
        warnings: vec![],
        priority: None,
        motion: Default::default(),
        ptz: None,
        presets: Vec::new(),
    }
}

fn all_frames(source: &str, fps: f64) -> Vec<Frame> {
    let mut stream =
        CameraStream::open(&camera(source), fps, PlayMode::Replay).expect("pipeline starts");
    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "stream never ended");
        match stream
            .next(Duration::from_millis(500))
            .expect("no stream error")
        {
            StreamEvent::Frame(f) => frames.push(f),
            StreamEvent::Idle => {}
            StreamEvent::Eos => return frames,
        }
    }
}

#[test]
fn replay_samples_every_frame_due_at_the_detection_rate() {
    // 13.6 s at 25 frames/s, sampled at 5/s.
    let frames = all_frames(&video("plaza_pedestrians.mp4").display().to_string(), 5.0);
    assert!((67..=70).contains(&frames.len()), "{} frames", frames.len());
    for pair in frames.windows(2) {
        let gap = pair[1].pts - pair[0].pts;
        assert!(
            gap >= Duration::from_millis(190) && gap <= Duration::from_millis(210),
            "gap {gap:?}"
        );
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    let f = &frames[10];
    assert_eq!((f.width(), f.height()), (640, 360));
    // A real picture, not a blank buffer: the plaza floor is bright, people are dark.
    let lum: Vec<u32> = f
        .image
        .pixels()
        .map(|p| (p[0] as u32 + p[1] as u32 + p[2] as u32) / 3)
        .collect();
    let (min, max) = (lum.iter().min().unwrap(), lum.iter().max().unwrap());
    assert!(*max > 180 && *min < 60, "contrast {min}..{max}");
}

#[test]
fn a_clip_with_an_audio_track_yields_its_video() {
    // forest_fire_smoke.mp4 carries an AAC track next to the portrait H.264 video.
    let frames = all_frames(&video("forest_fire_smoke.mp4").display().to_string(), 2.0);
    assert!(frames.len() >= 30, "{} frames", frames.len());
    assert_eq!((frames[0].width(), frames[0].height()), (480, 854));
}

#[test]
fn an_unreachable_rtsp_camera_is_reported_with_its_id() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let mut stream =
        match CameraStream::open(&camera("rtsp://127.0.0.1:1/stream"), 5.0, PlayMode::Live) {
            Err(e) => {
                assert!(e.to_string().contains("camera cam"), "{e}");
                return;
            }
            Ok(s) => s,
        };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "no error reported for a dead camera"
        );
        match stream.next(Duration::from_millis(200)) {
            Err(e) => {
                let text = e.to_string();
                assert!(
                    text.contains("camera cam") && text.contains("src"),
                    "{text}"
                );
                return;
            }
            Ok(StreamEvent::Frame(_)) => panic!("frames from nowhere"),
            Ok(_) => {}
        }
    }
}
