//! What an evidence photo costs: caption band, labelled boxes and zone drawn on a real image,
//! then JPEG-encoded, at the resolutions cameras send (once per order revision, on the camera's
//! thread before the ledger is locked).

use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use lookout::config::{EvidenceConfig, ZoneConfig};
use lookout::detect::BBox;
use lookout::evidence::{Caption, Photographer};
use lookout::rules::{ObservedObject, Zone};

fn bench_photo(c: &mut Criterion) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/media/images/dog.jpg");
    let image = image::open(&path)
        .expect("../shared/media/images/dog.jpg")
        .to_rgb8();
    let photographer = Photographer::new(&EvidenceConfig::default());
    let caption = Caption {
        at: chrono::Utc::now(),
        offset: chrono::FixedOffset::east_opt(8 * 3600).unwrap(),
        site: "jiangbei-03".into(),
        box_id: "box-017".into(),
        camera: "东门广场 East gate plaza".into(),
        kind: lookout::vocab::IncidentKind::from_name("vending").unwrap(),
        severity: lookout::vocab::Severity::Yellow,
        order_id: "0193c1f2-7a1b-7c3d-8e4f-a1b2c3d4e5f6".into(),
        revision: 3,
        moment: "opened".into(),
    };
    let zone = Zone::from_config(&ZoneConfig {
        id: "plaza".into(),
        name: Some("广场 plaza".into()),
        polygon: vec![[0.1, 0.4], [0.9, 0.4], [0.95, 0.95], [0.05, 0.95]],
    });
    let mut group = c.benchmark_group("evidence_photo");
    group.sample_size(20);
    for (w, h) in [(1280, 720), (1920, 1080)] {
        let frame = image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle);
        let objects: Vec<ObservedObject> = (0..3)
            .map(|i| ObservedObject {
                label: Arc::from("person"),
                score: 0.8,
                bbox: BBox {
                    x1: w as f32 * (0.2 + 0.2 * i as f32),
                    y1: h as f32 * 0.4,
                    x2: w as f32 * (0.3 + 0.2 * i as f32),
                    y2: h as f32 * 0.9,
                },
                track_id: Some(i),
            })
            .collect();
        group.bench_function(format!("annotate_{w}x{h}"), |b| {
            b.iter(|| photographer.annotate(&frame, &objects, Some(&zone), &caption))
        });
        group.bench_function(format!("annotate_and_encode_{w}x{h}"), |b| {
            b.iter(|| photographer.photo(&frame, &objects, Some(&zone), &caption))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_photo);
criterion_main!(benches);
