//! Text on photos with a real font: a TrueType/OpenType face (Chinese included) rasterised by
//! `ab_glyph`, so a caption reads the same in a court's printout as on the dispatcher's screen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ab_glyph::{point, Font, FontArc, FontVec, PxScale, ScaleFont};
use image::{Rgb, RgbImage};

/// Fonts with Chinese and Latin glyphs, in the order they are looked for: Debian's (and Ubuntu's,
/// so JetPack's) packages `fonts-wqy-microhei`, `fonts-noto-cjk`, `fonts-droid-fallback`.
pub const SYSTEM_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
];

/// A loaded font face; cheap to clone (the file's bytes are shared).
#[derive(Clone)]
pub struct Typeface {
    font: FontArc,
    pub path: PathBuf,
}

impl std::fmt::Debug for Typeface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typeface")
            .field("path", &self.path)
            .finish()
    }
}

/// Every face loaded once per process: each camera's photos and the re-checks share it (a CJK
/// font is several megabytes).
fn loaded() -> &'static Mutex<HashMap<PathBuf, Typeface>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Typeface>>> = OnceLock::new();
    LOADED.get_or_init(Default::default)
}

impl Typeface {
    /// Loads the face at `path` (the first face of a collection).
    pub fn load(path: &Path) -> anyhow::Result<Typeface> {
        let mut cache = loaded().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(face) = cache.get(path) {
            return Ok(face.clone());
        }
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read the font {}: {e}", path.display()))?;
        let font = FontVec::try_from_vec_and_index(bytes, 0)
            .map_err(|_| anyhow::anyhow!("{} is not a TrueType/OpenType font", path.display()))?;
        let face = Typeface {
            font: FontArc::new(font),
            path: path.to_owned(),
        };
        cache.insert(path.to_owned(), face.clone());
        Ok(face)
    }

    /// The configured font, or else the first of [`SYSTEM_FONTS`] present.
    pub fn find(configured: Option<&Path>) -> anyhow::Result<Typeface> {
        if let Some(path) = configured {
            return Typeface::load(path);
        }
        SYSTEM_FONTS
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .map(Typeface::load)
            .unwrap_or_else(|| {
                Err(anyhow::anyhow!(
                    "no font with Chinese glyphs found (looked for {}); install fonts-wqy-microhei or set [evidence] font",
                    SYSTEM_FONTS.join(", ")
                ))
            })
    }

    /// Whether the face has a glyph for every character of `text` (spaces aside).
    pub fn covers(&self, text: &str) -> bool {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .all(|c| self.font.glyph_id(c).0 != 0)
    }

    /// Width in pixels of `text` at `px` pixels per em.
    pub fn width(&self, text: &str, px: f32) -> f32 {
        let scaled = self.font.as_scaled(PxScale::from(px));
        let mut width = 0.0;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                width += scaled.kern(p, id);
            }
            width += scaled.h_advance(id);
            previous = Some(id);
        }
        width
    }

    /// Height of a line at `px`: ascent to descent.
    pub fn line_height(&self, px: f32) -> f32 {
        let scaled = self.font.as_scaled(PxScale::from(px));
        scaled.ascent() - scaled.descent()
    }

    /// Draws `text` with its line's top-left corner at (`x`, `y`), blending anti-aliased edges
    /// into the picture. Clipped at the picture's edges.
    pub fn draw(&self, img: &mut RgbImage, x: f32, y: f32, px: f32, text: &str, colour: Rgb<u8>) {
        let scale = PxScale::from(px);
        let scaled = self.font.as_scaled(scale);
        let baseline = y + scaled.ascent();
        let (w, h) = (img.width() as i64, img.height() as i64);
        let mut caret = x;
        let mut previous = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = previous {
                caret += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(scale, point(caret, baseline));
            caret += scaled.h_advance(id);
            previous = Some(id);
            let Some(outline) = self.font.outline_glyph(glyph) else {
                continue; // a space
            };
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let px = bounds.min.x as i64 + gx as i64;
                let py = bounds.min.y as i64 + gy as i64;
                if px < 0 || py < 0 || px >= w || py >= h {
                    return;
                }
                let pixel = img.get_pixel_mut(px as u32, py as u32);
                let a = coverage.clamp(0.0, 1.0);
                for (dst, src) in pixel.0.iter_mut().zip(colour.0) {
                    *dst = (*dst as f32 * (1.0 - a) + src as f32 * a).round() as u8;
                }
            });
        }
    }
}
