//! The evidence photo: the frame scaled to the configured size, a caption band above it, each
//! object boxed and labelled, the zone outlined and named, encoded as JPEG.
//!
//! The caption is a band added above the picture rather than text over it, so nothing the
//! camera saw is hidden by what the box wrote.

use std::sync::{Arc, OnceLock};

use image::codecs::jpeg::JpegEncoder;
use image::{imageops, Rgb, RgbImage};
use sha2::{Digest, Sha256};

use super::caption::Caption;
use super::typeface::Typeface;
use super::{colour, draw, Snapshot, ZONE};
use crate::config::EvidenceConfig;
use crate::rules::{ObservedObject, Zone};

const BAND: Rgb<u8> = Rgb([16, 16, 16]);
const CAPTION_TEXT: Rgb<u8> = Rgb([255, 255, 255]);
const LABEL_TEXT: Rgb<u8> = Rgb([0, 0, 0]);

/// Draws and encodes evidence photos as the `[evidence]` settings say. One per process is
/// enough; it is shared by every camera and the re-checks.
#[derive(Debug)]
pub struct Photographer {
    settings: EvidenceConfig,
    /// `None` when no font could be loaded: photos then carry boxes and outlines only (logged
    /// at start, reported by `lookout doctor`).
    face: Option<Typeface>,
}

impl Photographer {
    pub fn new(settings: &EvidenceConfig) -> Photographer {
        let face = match Typeface::find(settings.font.as_deref()) {
            Ok(face) => Some(face),
            Err(e) => {
                tracing::error!(error = %e, "Evidence photos go out without their caption and labels.");
                None
            }
        };
        Photographer {
            settings: settings.clone(),
            face,
        }
    }

    /// A photographer with the default settings, made once per process (tests and tools that
    /// have no config).
    pub fn shared_default() -> Arc<Photographer> {
        static DEFAULT: OnceLock<Arc<Photographer>> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Arc::new(Photographer::new(&EvidenceConfig::default())))
            .clone()
    }

    /// The font captions and labels are drawn with.
    pub fn typeface(&self) -> Option<&Typeface> {
        self.face.as_ref()
    }

    /// The annotated picture of `frame`, encoded.
    pub fn photo(
        &self,
        frame: &RgbImage,
        objects: &[ObservedObject],
        zone: Option<&Zone>,
        caption: &Caption,
    ) -> Result<Snapshot, image::ImageError> {
        let img = self.annotate(frame, objects, zone, caption);
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, self.settings.photo_quality.clamp(1, 100))
            .encode_image(&img)?;
        let sha256 = hex::encode(Sha256::digest(&jpeg));
        Ok(Snapshot {
            jpeg,
            sha256,
            captured_at: caption.at,
        })
    }

    /// The annotated picture: caption band on top, then the (scaled) frame with its boxes,
    /// labels and zone.
    pub fn annotate(
        &self,
        frame: &RgbImage,
        objects: &[ObservedObject],
        zone: Option<&Zone>,
        caption: &Caption,
    ) -> RgbImage {
        let max_width = self.settings.photo_max_width;
        let (picture, scale) = if max_width != 0 && frame.width() > max_width {
            let scale = max_width as f32 / frame.width() as f32;
            let height = ((frame.height() as f32 * scale).round() as u32).max(1);
            (
                imageops::resize(frame, max_width, height, imageops::FilterType::Triangle),
                scale,
            )
        } else {
            (frame.clone(), 1.0)
        };
        let mut picture = picture;
        self.draw_scene(&mut picture, objects, zone, scale);
        match self.caption_band(caption, picture.width(), picture.height()) {
            Some(band) => {
                let mut img = RgbImage::new(picture.width(), band.height() + picture.height());
                imageops::replace(&mut img, &band, 0, 0);
                imageops::replace(&mut img, &picture, 0, band.height() as i64);
                img
            }
            None => picture,
        }
    }

    /// The caption band for a picture of `width` × `height`, as it is drawn on the photo: what a
    /// test compares a published photo's top against. `None` when captions are off or no font
    /// was found.
    pub fn caption_band(&self, caption: &Caption, width: u32, height: u32) -> Option<RgbImage> {
        let face = self.face.as_ref().filter(|_| self.settings.caption)?;
        let lines = caption.lines();
        // About 36 lines to the picture's height, shrunk when the longest line would not fit.
        let mut px = (height as f32 / 36.0).clamp(14.0, 48.0);
        let margin = (px * 0.4).round();
        let widest = lines
            .iter()
            .map(|l| face.width(l, px))
            .fold(0.0f32, f32::max);
        let room = width as f32 - 2.0 * margin;
        if widest > room && widest > 0.0 {
            px = (px * room / widest).max(8.0);
        }
        let line = face.line_height(px).ceil();
        let band_height = (2.0 * line + 2.0 * margin).ceil() as u32;
        let mut band = RgbImage::from_pixel(width, band_height, BAND);
        for (i, text) in lines.iter().enumerate() {
            face.draw(
                &mut band,
                margin,
                margin + i as f32 * line,
                px,
                text,
                CAPTION_TEXT,
            );
        }
        Some(band)
    }

    fn draw_scene(
        &self,
        img: &mut RgbImage,
        objects: &[ObservedObject],
        zone: Option<&Zone>,
        scale: f32,
    ) {
        let (w, h) = (img.width() as f64, img.height() as f64);
        let thickness = (img.width().max(img.height()) / 400).max(2) as i64;
        let label_px = (h as f32 / 54.0).clamp(12.0, 32.0);
        if let Some(zone) = zone.filter(|_| self.settings.zone) {
            let pts: Vec<(i64, i64)> = zone
                .points
                .iter()
                .map(|[x, y]| ((x * (w - 1.0)) as i64, (y * (h - 1.0)) as i64))
                .collect();
            draw::polygon(img, &pts, ZONE, thickness);
            if let (Some(face), Some(&(x, y))) = (&self.face, pts.iter().min_by_key(|p| p.1)) {
                let name = if zone.name.is_empty() {
                    &zone.id
                } else {
                    &zone.name
                };
                tag(img, face, x as f32, y as f32, label_px, name, BAND, ZONE);
            }
        }
        for o in objects {
            let b = o.bbox;
            let (x1, y1) = ((b.x1 * scale) as i64, (b.y1 * scale) as i64);
            let (x2, y2) = ((b.x2 * scale) as i64, (b.y2 * scale) as i64);
            let c = colour(&o.label);
            draw::rectangle(img, (x1, y1), (x2, y2), c, thickness);
            if let (Some(face), true) = (&self.face, self.settings.labels) {
                let text = match o.track_id {
                    Some(id) => format!("{} {:.2} #{id}", o.label, o.score),
                    None => format!("{} {:.2}", o.label, o.score),
                };
                tag(
                    img, face, x1 as f32, y1 as f32, label_px, &text, c, LABEL_TEXT,
                );
            }
        }
    }
}

/// A text tag whose bottom-left sits at (`x`, `y`) (below it when there is no room above), on a
/// filled background.
#[allow(clippy::too_many_arguments)]
fn tag(
    img: &mut RgbImage,
    face: &Typeface,
    x: f32,
    y: f32,
    px: f32,
    text: &str,
    background: Rgb<u8>,
    ink: Rgb<u8>,
) {
    let pad = (px * 0.2).round();
    let height = face.line_height(px).ceil() + 2.0 * pad;
    let width = face.width(text, px).ceil() + 2.0 * pad;
    let top = if y - height >= 0.0 { y - height } else { y };
    let left = x.clamp(0.0, (img.width() as f32 - width).max(0.0));
    let (x0, y0) = (left as u32, top.max(0.0) as u32);
    let x1 = ((left + width) as u32).min(img.width());
    let y1 = ((top + height) as u32).min(img.height());
    for py in y0..y1 {
        for px_ in x0..x1 {
            img.put_pixel(px_, py, background);
        }
    }
    face.draw(img, left + pad, top + pad, px, text, ink);
}
