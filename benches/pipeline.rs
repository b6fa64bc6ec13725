//! Pipeline throughput: the plaza clip replayed through the whole line (GStreamer decode →
//! YOLOX-Nano → tracker → rules → orders → embedded MQTT broker) as fast as possible, for the
//! person model as it was (YOLOX-Nano at 416) and as the plaza example now runs it (the free-size
//! model at a long side of 640, alone and with 2×2 tiles plus the whole frame). Prints sampled
//! frames per second; compare with the `detect` bench's `input_1280x720` group.
//!
//! Run: cargo bench --bench pipeline

use std::path::PathBuf;

use lookout::config::{ModelOptionsConfig, TilesConfig};
use lookout::ingest::PlayMode;
use lookout::runtime::{self, RunOptions};

/// One way of running the plaza camera's person model.
struct Variant {
    name: &'static str,
    model: &'static str,
    input_size: Option<u32>,
    tiles: Option<TilesConfig>,
    rates: &'static [f64],
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects speed.
    let quick = !std::env::args().any(|a| a == "--bench");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = lookout::build::load(&repo.join("examples/plaza_pedestrians.toml"))
        .expect("example config");
    config.uplink.embedded_listen = "127.0.0.1:0".into();
    let camera = config.cameras[0].clone();
    let runs = if quick { 1 } else { 3 };
    let tiles = TilesConfig {
        cols: 2,
        rows: 2,
        overlap: 0.2,
        full_frame: true,
    };
    let variants = [
        Variant {
            name: "yolox_416",
            model: "yolox_nano_coco",
            input_size: None,
            tiles: None,
            rates: &[5.0, 25.0],
        },
        Variant {
            name: "yolox_dyn_640",
            model: "yolox_nano_coco_dyn",
            input_size: Some(640),
            tiles: None,
            rates: &[5.0],
        },
        Variant {
            name: "yolox_dyn_640_tiles_2x2",
            model: "yolox_nano_coco_dyn",
            input_size: Some(640),
            tiles: Some(tiles),
            rates: &[5.0],
        },
    ];
    for v in &variants {
        let (what, model, size, tiles) = (v.name, v.model, &v.input_size, &v.tiles);
        for &fps in v.rates {
            let mut config = config.clone();
            let cam = &mut config.cameras[0];
            cam.detect_fps = fps;
            cam.models[0] = model.into();
            // Run the person model on every sampled frame.
            cam.model_fps.retain(|m, _| m.starts_with("fire"));
            cam.model_fps.insert(model.into(), fps);
            cam.model_options.clear();
            cam.model_options.insert(
                model.into(),
                ModelOptionsConfig {
                    input_size: *size,
                    tiles: tiles.clone(),
                    ..Default::default()
                },
            );
            let (mut best, mut inferences) = (0.0f64, 0);
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
                "pipeline/{}/{what}: detect_fps {fps}: {best:.1} frames/s through the whole line ({inferences} model runs, fire model at 1/s included)",
                camera.id
            );
        }
    }
}
