//! Output decoders for the two supported layouts. Boxes come out in model-input pixels.

use std::collections::HashMap;
use std::sync::Arc;

use super::manifest::{Contract, Layout};
use super::BBox;

pub struct Candidate {
    pub label: Arc<str>,
    pub score: f32,
    pub bbox: BBox,
}

pub fn decode(
    c: &Contract,
    shape: &[usize],
    data: &[f32],
    min_score: f32,
    labels: &HashMap<usize, Arc<str>>,
) -> Result<Vec<Candidate>, String> {
    match c.layout {
        Layout::Yolox => yolox(c, shape, data, min_score, labels),
        Layout::Yolov8 => yolov8(shape, data, min_score, labels),
    }
}

/// YOLOX: `[1, N, 5 + C]` with N = Σ (W/s)·(H/s) over the strides, raw (pre-grid) regressions.
fn yolox(
    c: &Contract,
    shape: &[usize],
    data: &[f32],
    min_score: f32,
    labels: &HashMap<usize, Arc<str>>,
) -> Result<Vec<Candidate>, String> {
    let [1, n, stride_len] = shape else {
        return Err(format!(
            "output shape {shape:?} is not [1, N, 5+C] (yolox layout)"
        ));
    };
    let grid: usize = c
        .strides
        .iter()
        .map(|&s| (c.width / s) as usize * (c.height / s) as usize)
        .sum();
    if *n != grid || *stride_len < 6 || data.len() != n * stride_len {
        return Err(format!(
            "output shape {shape:?} does not match a {}x{} input with strides {:?} ({grid} anchors)",
            c.width, c.height, c.strides
        ));
    }
    let classes = stride_len - 5;
    let mut out = Vec::new();
    let mut row = 0;
    for &s in &c.strides {
        let (gw, gh) = ((c.width / s) as usize, (c.height / s) as usize);
        let s = s as f32;
        for gy in 0..gh {
            for gx in 0..gw {
                let r = &data[row * stride_len..(row + 1) * stride_len];
                row += 1;
                let obj = r[4];
                if obj < min_score {
                    continue;
                }
                let Some((cls, cls_score)) = best_class(&r[5..5 + classes]) else {
                    continue;
                };
                let score = obj * cls_score;
                if score < min_score {
                    continue;
                }
                let Some(label) = labels.get(&cls) else {
                    continue;
                };
                let cx = (r[0] + gx as f32) * s;
                let cy = (r[1] + gy as f32) * s;
                let w = r[2].exp() * s;
                let h = r[3].exp() * s;
                out.push(Candidate {
                    label: label.clone(),
                    score,
                    bbox: BBox::from_center(cx, cy, w, h),
                });
            }
        }
    }
    Ok(out)
}

/// Ultralytics YOLOv8: `[1, 4 + C, N]`, boxes already decoded as cx, cy, w, h.
fn yolov8(
    shape: &[usize],
    data: &[f32],
    min_score: f32,
    labels: &HashMap<usize, Arc<str>>,
) -> Result<Vec<Candidate>, String> {
    let [1, rows, n] = shape else {
        return Err(format!(
            "output shape {shape:?} is not [1, 4+C, N] (yolov8 layout)"
        ));
    };
    if *rows < 5 || data.len() != rows * n {
        return Err(format!(
            "output shape {shape:?} is not [1, 4+C, N] (yolov8 layout)"
        ));
    }
    let classes = rows - 4;
    let at = |r: usize, i: usize| data[r * n + i];
    let mut out = Vec::new();
    for i in 0..*n {
        let (mut cls, mut score) = (0, f32::MIN);
        for k in 0..classes {
            let v = at(4 + k, i);
            if v > score {
                (cls, score) = (k, v);
            }
        }
        if score < min_score {
            continue;
        }
        let Some(label) = labels.get(&cls) else {
            continue;
        };
        out.push(Candidate {
            label: label.clone(),
            score,
            bbox: BBox::from_center(at(0, i), at(1, i), at(2, i), at(3, i)),
        });
    }
    Ok(out)
}

fn best_class(scores: &[f32]) -> Option<(usize, f32)> {
    scores
        .iter()
        .copied()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
}
