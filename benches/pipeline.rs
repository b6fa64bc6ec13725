//! Pipeline throughput: the plaza clip replayed through the whole line (GStreamer decode →
//! YOLOX-Nano → tracker → rules → orders → embedded MQTT broker) as fast as possible.
//! Prints sampled frames per second; compare with `detect` bench's `yolox_nano_coco/ort_only`.
//!
//! Run: cargo bench --bench pipeline

use std::path::PathBuf;

use lookout::ingest::PlayMode;
use lookout::runtime::{self, RunOptions};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects speed.
    let quick = !std::env::args().any(|a| a == "--bench");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = lookout::config::load(&repo.join("examples/plaza_pedestrians.toml"))
        .expect("example config");
    config.uplink.embedded_listen = "127.0.0.1:0".into();
    let camera = config.cameras[0].clone();
    let runs = if quick { 1 } else { 3 };
    for fps in [5.0, 25.0] {
        let mut inferences = 0;
        let mut config = config.clone();
        config.cameras[0].detect_fps = fps;
        // Run the model on every sampled frame (its manifest default would be 5/s).
        config.cameras[0]
            .model_fps
            .insert("yolox_nano_coco".into(), fps);
        let mut best = 0.0f64;
        for _ in 0..runs {
            let report = runtime::run(
                &config,
                RunOptions {
                    mode: PlayMode::Replay,
                    strict: true,
                    ..Default::default()
                },
            )
            .expect("replay");
            let cam = &report.cameras[0];
            best = best.max(cam.fps());
            inferences = cam.inferences;
            if quick {
                break;
            }
        }
        println!(
            "pipeline/{}: detect_fps {fps}: {best:.1} frames/s through the whole line ({inferences} YOLOX-Nano runs)",
            camera.id
        );
    }
}
