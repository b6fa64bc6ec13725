//! Evidence: annotated JPEG photos of an incident. A service the orders stage calls.
//!
//! The photo is the frame the incident was decided on, with a caption band (time, place, kind,
//! severity, order), every involved object's box labelled, and the zone outlined and named, so a
//! dispatcher sees at a glance what the box saw, and a printout still says what it is.

mod best;
mod caption;
mod draw;
mod font;
mod photo;
mod typeface;

use chrono::{DateTime, Utc};
use image::{Rgb, RgbImage};

use crate::rules::Zone;

pub use best::{Shortlist, View};
pub use caption::Caption;
pub use photo::Photographer;
pub use typeface::{Typeface, SYSTEM_FONTS};

/// Zone outlines, in photos and previews.
const ZONE: Rgb<u8> = Rgb([0, 255, 0]);
/// Zones a rule masks out: hatched, outlined in this colour.
const MASK: Rgb<u8> = Rgb([255, 120, 255]);

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

/// A technician's check of a camera's zones: the frame with a coordinate grid every 0.1 (the
/// normalised coordinates zones and ground control points use, labelled along the top and left
/// edges) and every zone outlined and labelled with its id; the zones named in `masks` (those a
/// rule ignores) hatched, in their own colour and labelled "id (mask)".
pub fn zone_preview(frame: &RgbImage, zones: &[Zone], masks: &[&str]) -> RgbImage {
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
        let masked = masks.contains(&z.id.as_str());
        let (colour, label) = if masked {
            draw::hatch(&mut img, &pts, MASK);
            (MASK, format!("{} (mask)", z.id))
        } else {
            (ZONE, z.id.clone())
        };
        draw::polygon(&mut img, &pts, colour, thickness);
        let (cx, cy) = pts.iter().fold((0, 0), |(a, b), p| (a + p.0, b + p.1));
        let n = pts.len().max(1) as i64;
        font::text(&mut img, cx / n, cy / n, &label, colour, scale + 1);
    }
    img
}

/// What the console shows of a camera: the zone preview (grid, zones, masks) with what the models saw
/// on the frame boxed and labelled (`seen`: label and box normalised to 0..1).
pub fn live_view(
    frame: &RgbImage,
    zones: &[Zone],
    masks: &[&str],
    seen: &[(String, [f32; 4])],
) -> RgbImage {
    let mut img = zone_preview(frame, zones, masks);
    let (w, h) = (img.width() as f32, img.height() as f32);
    let scale = ((w.max(h) as i64) / 400).clamp(1, 4);
    let thickness = ((w.max(h) as i64) / 400).max(1);
    let colour = Rgb([255, 60, 60]);
    for (label, b) in seen {
        let a = ((b[0] * w) as i64, (b[1] * h) as i64);
        let z = ((b[2] * w) as i64, (b[3] * h) as i64);
        draw::rectangle(&mut img, a, z, colour, thickness);
        font::text(
            &mut img,
            a.0,
            (a.1 - 8 * scale).max(0),
            label,
            colour,
            scale,
        );
    }
    img
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

    use chrono::FixedOffset;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::config::{EvidenceConfig, ZoneConfig};
    use crate::detect::BBox;
    use crate::rules::ObservedObject;
    use crate::vocab::{IncidentKind, Severity};

    fn caption() -> Caption {
        Caption {
            at: Utc::now(),
            offset: FixedOffset::east_opt(8 * 3600).unwrap(),
            site: "jiangbei-03".into(),
            box_id: "box-017".into(),
            camera: "东门广场".into(),
            kind: IncidentKind::from_name("vending").unwrap(),
            severity: Severity::Yellow,
            order_id: "0193c1f2-7a1b-7c3d-8e4f-a1b2c3d4e5f6".into(),
            revision: 1,
            moment: "opened".into(),
        }
    }

    fn person() -> ObservedObject {
        ObservedObject {
            label: Arc::from("person"),
            score: 0.9,
            bbox: BBox {
                x1: 20.0,
                y1: 40.0,
                x2: 60.0,
                y2: 190.0,
            },
            track_id: Some(7),
        }
    }

    /// A masked zone is hatched inside and outlined in the mask colour; a plain zone's inside
    /// is left as it was.
    #[test]
    fn a_masked_zone_is_hatched_and_a_plain_one_only_outlined() {
        let frame = RgbImage::from_pixel(200, 100, Rgb([100, 100, 100]));
        let zone = |id: &str, x0: f64| {
            crate::rules::Zone::from_config(&ZoneConfig {
                id: id.into(),
                name: None,
                polygon: vec![[x0, 0.2], [x0 + 0.3, 0.2], [x0 + 0.3, 0.8], [x0, 0.8]],
            })
        };
        let zones = [zone("lane", 0.1), zone("booth", 0.6)];
        let img = zone_preview(&frame, &zones, &["booth"]);
        let inside = |x0: u32| {
            (x0 + 10..x0 + 50)
                .flat_map(|x| (30..70).map(move |y| (x, y)))
                .map(|(x, y)| *img.get_pixel(x, y))
                .collect::<Vec<_>>()
        };
        let booth = inside(125);
        assert!(booth.contains(&MASK), "hatch lines");
        assert!(booth.contains(&Rgb([50, 50, 50])), "darkened");
        assert_eq!(*img.get_pixel(150, 20), MASK, "outlined in the mask colour");
        assert_eq!(*img.get_pixel(40, 20), ZONE);
        // The plain zone's inside: untouched but for the grid's dots and the label; none of
        // the masked one's.
        let untouched = |px: &[Rgb<u8>]| px.iter().filter(|p| **p == Rgb([100, 100, 100])).count();
        let lane = inside(25);
        assert!(
            untouched(&lane) * 10 > lane.len() * 6,
            "{} of {}",
            untouched(&lane),
            lane.len()
        );
        assert_eq!(untouched(&booth), 0);
    }

    fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
        let total: u64 = a
            .as_raw()
            .iter()
            .zip(b.as_raw())
            .map(|(x, y)| x.abs_diff(*y) as u64)
            .sum();
        total as f64 / a.as_raw().len() as f64
    }

    #[test]
    fn the_photo_shows_the_object_box_and_the_zone_outline_below_its_caption() {
        let frame = RgbImage::from_pixel(400, 200, Rgb([40, 40, 40]));
        let zone = Zone::from_config(&ZoneConfig {
            id: "z".into(),
            name: None,
            polygon: vec![[0.5, 0.3], [0.9, 0.3], [0.9, 0.9], [0.5, 0.9]],
        });
        let photographer = Photographer::new(&EvidenceConfig::default());
        let caption = caption();
        let snap = photographer
            .photo(&frame, &[person()], Some(&zone), &caption)
            .unwrap();
        assert_eq!(snap.sha256, hex::encode(Sha256::digest(&snap.jpeg)));
        let img = image::load_from_memory(&snap.jpeg).unwrap().to_rgb8();
        let band = photographer
            .caption_band(&caption, 400, 200)
            .expect("the set-up installs a CJK font");
        let top = band.height();
        assert_eq!(img.height(), 200 + top, "the band is added, not drawn over");
        let near = |p: &Rgb<u8>, c: [u8; 3]| p.0.iter().zip(c).all(|(a, b)| a.abs_diff(b) < 60);
        let at = |x: u32, y: u32| img.get_pixel(x, y + top);
        assert!(
            near(at(20, 120), [255, 200, 0]),
            "box left edge is yellow: {:?}",
            at(20, 120)
        );
        assert!(near(at(199, 150), [0, 255, 0]), "zone left edge is green");
        assert!(near(at(300, 150), [40, 40, 40]), "inside untouched");
        // The label tag sits on the box's top edge, in the box's colour.
        assert!(
            near(at(22, 36), [255, 200, 0]),
            "label tag: {:?}",
            at(22, 36)
        );
    }

    #[test]
    fn the_caption_is_drawn_with_the_font_in_chinese_and_english() {
        let photographer = Photographer::new(&EvidenceConfig::default());
        let face = photographer.typeface().expect("a CJK font is installed");
        let caption = caption();
        for line in caption.lines() {
            assert!(face.covers(&line), "the font has every glyph of {line:?}");
        }
        let band = photographer.caption_band(&caption, 1280, 720).unwrap();
        let blank = RgbImage::from_pixel(band.width(), band.height(), Rgb([16, 16, 16]));
        let inked = mean_difference(&band, &blank);
        assert!(inked > 5.0, "the band carries text: {inked}");
        // A different order id draws differently: the text is really the caption's.
        let other = Caption {
            order_id: "ffffffff-0000-7000-8000-000000000000".into(),
            ..caption.clone()
        };
        let changed = photographer.caption_band(&other, 1280, 720).unwrap();
        assert!(mean_difference(&band, &changed) > 0.5);
        // Chinese glyphs are outlines from the font, not empty boxes: 东门广场 alone inks pixels.
        let mut han = RgbImage::from_pixel(200, 60, Rgb([0, 0, 0]));
        face.draw(&mut han, 4.0, 4.0, 40.0, "东门广场", Rgb([255, 255, 255]));
        let lit = han.pixels().filter(|p| p.0[0] > 128).count();
        assert!(lit > 400, "{lit} pixels lit by 东门广场");
    }

    #[test]
    fn large_frames_are_scaled_to_the_configured_width_and_captions_can_be_turned_off() {
        let frame = RgbImage::from_pixel(2560, 1440, Rgb([40, 40, 40]));
        let settings = EvidenceConfig {
            caption: false,
            ..EvidenceConfig::default()
        };
        let img = Photographer::new(&settings).annotate(&frame, &[person()], None, &caption());
        assert_eq!((img.width(), img.height()), (1920, 1080));
    }
}
