//! Tiled inference for far and small objects: the frame is cut into overlapping tiles, each run
//! at the model's input size (so a person 20 px tall in a 1920-wide frame is seen at 2–3× the
//! scale of the whole-frame pass), plus optionally the whole frame for the large, close objects a
//! tile would cut. Results are merged in frame pixels: boxes cut by an inner tile edge are joined
//! with their other part, then one NMS runs across all views.

use super::{BBox, Detection};

/// How a frame is cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tiling {
    pub cols: u32,
    pub rows: u32,
    /// Overlap of neighbouring tiles as a fraction of the tile size.
    pub overlap: f32,
    /// Also run the whole frame (large, close objects).
    pub full_frame: bool,
}

/// A view of the frame: a rectangle in frame pixels and which of its edges are inner tile edges
/// (a box touching one may be a part of an object).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    /// Left, top, right, bottom: the edge lies inside the frame.
    pub inner: [bool; 4],
}

impl View {
    pub fn whole(w: u32, h: u32) -> View {
        View {
            x: 0,
            y: 0,
            w,
            h,
            inner: [false; 4],
        }
    }
}

impl Tiling {
    /// The views of a `w` × `h` frame: the whole frame first (when asked for), then the tiles row
    /// by row.
    pub fn views(&self, w: u32, h: u32) -> Vec<View> {
        let mut views = Vec::new();
        if self.full_frame {
            views.push(View::whole(w, h));
        }
        let axis = |len: u32, n: u32| -> Vec<(u32, u32)> {
            let n = n.max(1);
            if n == 1 {
                return vec![(0, len)];
            }
            // n tiles of size t overlapping by o·t cover len = t·(n − (n − 1)·o).
            let o = self.overlap.clamp(0.0, 0.9) as f64;
            let t = (len as f64 / (n as f64 - (n as f64 - 1.0) * o) - 1e-3).ceil() as u32;
            let t = t.min(len);
            (0..n)
                .map(|i| {
                    let start = if i + 1 == n {
                        len - t
                    } else {
                        ((i as f64) * t as f64 * (1.0 - o)).round() as u32
                    };
                    (start.min(len - t), t)
                })
                .collect()
        };
        let xs = axis(w, self.cols);
        let ys = axis(h, self.rows);
        for &(y, th) in &ys {
            for &(x, tw) in &xs {
                views.push(View {
                    x,
                    y,
                    w: tw,
                    h: th,
                    inner: [x > 0, y > 0, x + tw < w, y + th < h],
                });
            }
        }
        views
    }
}

/// A detection with the view it came from.
pub struct Found {
    pub det: Detection,
    pub view: usize,
    /// Which inner edges of its view the box touches (left, top, right, bottom).
    pub cut: [bool; 4],
}

/// Pixels from an inner tile edge within which a box counts as cut by it.
const EDGE_PX: f32 = 3.0;

impl Found {
    pub fn new(det: Detection, view_index: usize, view: &View) -> Found {
        let b = det.bbox;
        let (x1, y1) = (view.x as f32, view.y as f32);
        let (x2, y2) = (x1 + view.w as f32, y1 + view.h as f32);
        let cut = [
            view.inner[0] && b.x1 <= x1 + EDGE_PX,
            view.inner[1] && b.y1 <= y1 + EDGE_PX,
            view.inner[2] && b.x2 >= x2 - EDGE_PX,
            view.inner[3] && b.y2 >= y2 - EDGE_PX,
        ];
        Found {
            det,
            view: view_index,
            cut,
        }
    }

    fn is_cut(&self) -> bool {
        self.cut.iter().any(|c| *c)
    }
}

/// Intersection over the smaller box.
fn ios(a: &BBox, b: &BBox) -> f32 {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let smaller = a.area().min(b.area());
    if smaller <= 0.0 {
        0.0
    } else {
        ix * iy / smaller
    }
}

/// Overlap of two intervals over the shorter one.
fn span_overlap(a: (f32, f32), b: (f32, f32)) -> f32 {
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    let shorter = (a.1 - a.0).min(b.1 - b.0);
    if shorter <= 0.0 {
        0.0
    } else {
        inter / shorter
    }
}

/// Whether `a` (cut by its view's edge) and `b` (from another view) are parts of one object: one
/// mostly inside the other, or two parts meeting across the cut (they overlap across it and line
/// up along it).
fn same_object(a: &Found, b: &Found) -> bool {
    if a.view == b.view || a.det.label != b.det.label {
        return false;
    }
    let (p, q) = (&a.det.bbox, &b.det.bbox);
    if ios(p, q) >= 0.6 {
        return true;
    }
    let crosses_x =
        (a.cut[2] && q.x1 < p.x2 && q.x2 > p.x2) || (a.cut[0] && q.x2 > p.x1 && q.x1 < p.x1);
    let crosses_y =
        (a.cut[3] && q.y1 < p.y2 && q.y2 > p.y2) || (a.cut[1] && q.y2 > p.y1 && q.y1 < p.y1);
    (crosses_x && span_overlap((p.y1, p.y2), (q.y1, q.y2)) >= 0.6)
        || (crosses_y && span_overlap((p.x1, p.x2), (q.x1, q.x2)) >= 0.6)
}

fn union(a: &BBox, b: &BBox) -> BBox {
    BBox {
        x1: a.x1.min(b.x1),
        y1: a.y1.min(b.y1),
        x2: a.x2.max(b.x2),
        y2: a.y2.max(b.y2),
    }
}

/// Joins boxes cut by inner tile edges with the other parts of their object (the joined box is
/// the union, its score the better one), then suppresses overlaps across views with `nms_iou`.
pub fn merge(mut found: Vec<Found>, nms_iou: f32) -> Vec<Detection> {
    // Strongest first, so a joined object keeps its most confident label and score.
    found.sort_by(|a, b| b.det.score.total_cmp(&a.det.score));
    let mut joined: Vec<Found> = Vec::with_capacity(found.len());
    for f in found {
        let partner = joined
            .iter()
            .position(|k| (f.is_cut() && same_object(&f, k)) || (k.is_cut() && same_object(k, &f)));
        match partner {
            Some(i) => {
                let k = &mut joined[i];
                k.det.bbox = union(&k.det.bbox, &f.det.bbox);
                // The joined box is whole where either part was: it is cut only where both are.
                if k.view != f.view {
                    k.cut = [false; 4];
                }
            }
            None => joined.push(f),
        }
    }
    super::nms(joined.into_iter().map(|f| f.det).collect(), nms_iou)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn det(x1: f32, y1: f32, x2: f32, y2: f32, score: f32) -> Detection {
        Detection {
            label: Arc::from("person"),
            score,
            bbox: BBox { x1, y1, x2, y2 },
            model: Arc::from("m"),
        }
    }

    #[test]
    fn two_by_two_tiles_cover_the_frame_with_overlap() {
        let t = Tiling {
            cols: 2,
            rows: 2,
            overlap: 0.2,
            full_frame: true,
        };
        let v = t.views(1280, 720);
        assert_eq!(v.len(), 5);
        assert_eq!(v[0], View::whole(1280, 720));
        // Tile width 1280 / 1.8 = 712, the second starts at 1280 − 712.
        assert_eq!((v[1].x, v[1].w, v[2].x, v[2].w), (0, 712, 568, 712));
        assert_eq!((v[1].y, v[1].h, v[3].y, v[3].h), (0, 400, 320, 400));
        assert_eq!(v[1].inner, [false, false, true, true]);
        assert_eq!(v[4].inner, [true, true, false, false]);
        for tile in &v[1..] {
            assert!(tile.x + tile.w <= 1280 && tile.y + tile.h <= 720);
        }
    }

    #[test]
    fn a_person_cut_by_a_tile_edge_is_joined_into_one_box() {
        let t = Tiling {
            cols: 2,
            rows: 1,
            overlap: 0.2,
            full_frame: false,
        };
        let v = t.views(1000, 400);
        // Tiles [0, 556) and [444, 1000). A person spans 520..600: the left tile sees 520..556,
        // the right one 444..600 would see all of it; make the right one see only 540..600 to
        // stand for a part the model found alone.
        let left = Found::new(det(520.0, 100.0, 556.0, 300.0, 0.5), 0, &v[0]);
        let right = Found::new(det(540.0, 104.0, 600.0, 298.0, 0.7), 1, &v[1]);
        assert!(left.cut[2], "touches the inner right edge");
        let merged = merge(vec![left, right], 0.45);
        assert_eq!(merged.len(), 1, "{merged:?}");
        let b = merged[0].bbox;
        assert_eq!((b.x1, b.x2), (520.0, 600.0));
        assert_eq!(merged[0].score, 0.7);
    }

    #[test]
    fn neighbours_in_a_crowd_stay_apart() {
        let t = Tiling {
            cols: 2,
            rows: 1,
            overlap: 0.2,
            full_frame: true,
        };
        let v = t.views(1000, 400);
        // Two people side by side, both well inside the left tile and seen by the full frame too.
        let a = det(100.0, 100.0, 140.0, 200.0, 0.8);
        let b = det(135.0, 100.0, 175.0, 200.0, 0.7);
        let found = vec![
            Found::new(a.clone(), 0, &v[0]),
            Found::new(b.clone(), 0, &v[0]),
            Found::new(a, 1, &v[1]),
            Found::new(b, 1, &v[1]),
        ];
        assert_eq!(merge(found, 0.45).len(), 2);
    }
}
