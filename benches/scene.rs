//! What the camera-fault check costs per picture check (once a second per camera by default):
//! the grey thumbnail of a frame, and the view comparison against the reference, on a real image
//! at the resolutions cameras send.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use lookout::rules::scene::Thumb;

fn bench_scene(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/media/images/dog.jpg");
    let image = image::open(&path)
        .expect("../shared/media/images/dog.jpg")
        .to_rgb8();
    let mut group = c.benchmark_group("camera_fault");
    for (w, h) in [(768, 432), (1920, 1080)] {
        let frame = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
        group.bench_function(format!("thumbnail_{w}x{h}"), |b| {
            b.iter(|| Thumb::of(&frame))
        });
    }
    let a = Thumb::of(&image);
    group.bench_function("compare_with_reference", |b| b.iter(|| a.compare(&a)));
    group.bench_function("sharpness", |b| b.iter(|| a.sharpness()));
    group.finish();
}

criterion_group!(benches, bench_scene);
criterion_main!(benches);
