//! Minimal line drawing for annotations (Bresenham, thickened with a square brush).

use image::{Rgb, RgbImage};

fn dot(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>, t: i64) {
    let (w, h) = (img.width() as i64, img.height() as i64);
    for dy in -(t / 2)..=(t - 1) / 2 {
        for dx in -(t / 2)..=(t - 1) / 2 {
            let (px, py) = (x + dx, y + dy);
            if px >= 0 && py >= 0 && px < w && py < h {
                img.put_pixel(px as u32, py as u32, c);
            }
        }
    }
}

pub fn line(img: &mut RgbImage, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: Rgb<u8>, t: i64) {
    let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
    let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x0, y0, dx + dy);
    // Bounded: a line never has more points than its longer side.
    for _ in 0..=(dx.max(-dy) + 1) {
        dot(img, x, y, c, t);
        if x == x1 && y == y1 {
            break;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

pub fn polygon(img: &mut RgbImage, pts: &[(i64, i64)], c: Rgb<u8>, t: i64) {
    for i in 0..pts.len() {
        line(img, pts[i], pts[(i + 1) % pts.len()], c, t);
    }
}

pub fn rectangle(img: &mut RgbImage, a: (i64, i64), b: (i64, i64), c: Rgb<u8>, t: i64) {
    polygon(img, &[a, (b.0, a.1), b, (a.0, b.1)], c, t);
}

/// Hatches a polygon's inside: every pixel darkened, every 8th diagonal in `c` — a masked area
/// stays visible but plainly set apart. Even-odd rule per pixel centre, within the bounding box.
pub fn hatch(img: &mut RgbImage, pts: &[(i64, i64)], c: Rgb<u8>) {
    if pts.len() < 3 {
        return;
    }
    let (w, h) = (img.width() as i64, img.height() as i64);
    let x0 = pts.iter().map(|p| p.0).min().unwrap_or(0).clamp(0, w);
    let x1 = pts.iter().map(|p| p.0).max().unwrap_or(0).clamp(0, w);
    let y0 = pts.iter().map(|p| p.1).min().unwrap_or(0).clamp(0, h);
    let y1 = pts.iter().map(|p| p.1).max().unwrap_or(0).clamp(0, h);
    for y in y0..y1 {
        for x in x0..x1 {
            if !inside(pts, x as f64 + 0.5, y as f64 + 0.5) {
                continue;
            }
            let px = img.get_pixel_mut(x as u32, y as u32);
            *px = if (x + y) % 8 < 2 {
                c
            } else {
                Rgb(px.0.map(|v| v / 2))
            };
        }
    }
}

fn inside(pts: &[(i64, i64)], x: f64, y: f64) -> bool {
    let mut odd = false;
    let mut j = pts.len() - 1;
    for i in 0..pts.len() {
        let (xi, yi) = (pts[i].0 as f64, pts[i].1 as f64);
        let (xj, yj) = (pts[j].0 as f64, pts[j].1 as f64);
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            odd = !odd;
        }
        j = i;
    }
    odd
}
