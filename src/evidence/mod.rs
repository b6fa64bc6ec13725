//! Evidence: annotated JPEG snapshots of an incident. A service the orders stage calls.
//!
//! The photo is the frame the incident was decided on, with every involved object's box and the
//! zone outline drawn in, so a dispatcher sees at a glance what the box saw.

mod draw;

use chrono::{DateTime, Utc};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use sha2::{Digest, Sha256};

use crate::rules::{ObservedObject, Zone};

/// JPEG quality: readable faces and plates at a few hundred KB for 1080p.
const JPEG_QUALITY: u8 = 85;

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
        draw::polygon(&mut img, &pts, Rgb([0, 255, 0]), thickness);
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
