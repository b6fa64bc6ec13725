//! Evidence: annotated JPEG snapshots of an incident. A service the orders stage calls.
//!
//! The photo is the frame the incident was decided on, with every involved object's box and the
//! zone outline drawn in, so a dispatcher sees at a glance what the box saw.

mod draw;
mod font;

use chrono::{DateTime, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};

use crate::rules::{ObservedObject, Zone};

/// JPEG quality: readable faces and plates at a few hundred KB for 1080p.
const JPEG_QUALITY: u8 = 85;

/// Zone outlines, in photos and previews.
const ZONE: Rgb<u8> = Rgb([0, 255, 0]);

/// An encoded photo, ready to publish.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub jpeg: Vec<u8>,
    pub sha256: String,
    pub captured_at: DateTime<Utc>,
}

fn colour(label: &str) -> Rgb<u8> {
    match label {
        "person" => Rgb([255, 200, 0]),
        "fire" => Rgb([255, 40, 40]),
        "smoke" => Rgb([200, 200, 200]),
        _ => Rgb([0, 200, 255]),
    }
}

/// Draws the zone and the objects on a copy of `frame` and encodes it as JPEG.
/// A technician's check of a camera's zones: the frame with a coordinate grid every 0.1 (the
/// normalised coordinates zones and ground control points use, labelled along the top and left
/// edges) and every zone outlined and labelled with its id.
pub fn zone_preview(frame: &RgbImage, zones: &[Zone]) -> RgbImage {
    let mut img = frame.clone();
    let (w, h) = (img.width() as i64, img.height() as i64);
    let scale = (w.max(h) / 400).clamp(1, 4);
    let grid = Rgb([255, 255, 255]);
    for i in 1..10 {
        let x = w * i / 10;
        let y = h * i / 10;
        // Dotted, so the scene stays visible.
        for t in (0..h).step_by(6) {
            draw::line(&mut img, (x, t), (x, (t + 2).min(h - 1)), grid, 1);
        }
        for t in (0..w).step_by(6) {
            draw::line(&mut img, (t, y), ((t + 2).min(w - 1), y), grid, 1);
        }
        let label = format!("0.{i}");
        font::text(&mut img, x + 2 * scale, scale * 2, &label, grid, scale);
        font::text(&mut img, scale * 2, y + 2 * scale, &label, grid, scale);
    }
    let thickness = (w.max(h) / 300).max(2);
    for z in zones {
        let pts: Vec<(i64, i64)> = z
            .points
            .iter()
            .map(|p| ((p[0] * w as f64) as i64, (p[1] * h as f64) as i64))
            .collect();
        draw::polygon(&mut img, &pts, ZONE, thickness);
        let (cx, cy) = pts.iter().fold((0, 0), |(a, b), p| (a + p.0, b + p.1));
        let n = pts.len().max(1) as i64;
        font::text(&mut img, cx / n, cy / n, &z.id, ZONE, scale + 1);
    }
    img
}

pub fn snapshot(
    frame: &RgbImage,
    objects: &[ObservedObject],
    zone: Option<&Zone>,
    captured_at: DateTime<Utc>,
) -> Result<Snapshot, image::ImageError> {
    let mut img = frame.clone();
    let thickness = (img.width().max(img.height()) / 400).max(2) as i64;
    if let Some(zone) = zone {
        let (w, h) = (img.width() as f64, img.height() as f64);
        let pts: Vec<(i64, i64)> = zone
            .points
            .iter()
            .map(|[x, y]| ((x * (w - 1.0)) as i64, (y * (h - 1.0)) as i64))
            .collect();
        draw::polygon(&mut img, &pts, ZONE, thickness);
    }
    for o in objects {
        let b = o.bbox;
        draw::rectangle(
            &mut img,
            (b.x1 as i64, b.y1 as i64),
            (b.x2 as i64, b.y2 as i64),
            colour(&o.label),
            thickness,
        );
    }
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY).encode_image(&img)?;
    let sha256 = hex::encode(Sha256::digest(&jpeg));
    Ok(Snapshot {
        jpeg,
        sha256,
        captured_at,
    })
}

/// Stores a camera's reference view (what it should see) as PNG, atomically: a half-written
/// file would be a wrong reference for months.
pub fn save_reference(path: &std::path::Path, frame: &RgbImage) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("png.tmp");
    frame
        .save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::ZoneConfig;
    use crate::detect::BBox;

    #[test]
    fn the_photo_shows_the_object_box_and_the_zone_outline() {
        let frame = RgbImage::from_pixel(200, 100, Rgb([40, 40, 40]));
        let person = ObservedObject {
            label: Arc::from("person"),
            score: 0.9,
            bbox: BBox {
                x1: 20.0,
                y1: 10.0,
                x2: 60.0,
                y2: 90.0,
            },
            track_id: Some(1),
        };
        let zone = Zone::from_config(&ZoneConfig {
            id: "z".into(),
            name: None,
            polygon: vec![[0.5, 0.1], [0.9, 0.1], [0.9, 0.9], [0.5, 0.9]],
        });
        let snap = snapshot(&frame, &[person], Some(&zone), Utc::now()).unwrap();
        assert_eq!(snap.sha256, hex::encode(Sha256::digest(&snap.jpeg)));
        let img = image::load_from_memory(&snap.jpeg).unwrap().to_rgb8();
        let near = |p: &Rgb<u8>, c: [u8; 3]| p.0.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 60);
        assert!(
            near(img.get_pixel(40, 10), [255, 200, 0]),
            "box top edge is yellow: {:?}",
            img.get_pixel(40, 10)
        );
        assert!(near(img.get_pixel(20, 50), [255, 200, 0]), "box left edge");
        assert!(
            near(img.get_pixel(99, 50), [0, 255, 0]),
            "zone left edge is green: {:?}",
            img.get_pixel(99, 50)
        );
        assert!(
            near(img.get_pixel(140, 50), [40, 40, 40]),
            "inside untouched"
        );
    }
}
