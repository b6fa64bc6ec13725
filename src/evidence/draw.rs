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
