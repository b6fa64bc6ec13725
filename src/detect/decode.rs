//! Output decoders for the supported layouts. Boxes come out in model-input pixels.
//!
//! Every decoder checks the tensor shape against the input size actually fed (a free-size model's
//! grid depends on it), so a manifest that does not describe its model fails with the shapes
//! instead of producing nonsense boxes.

use std::collections::HashMap;
use std::sync::Arc;

use super::manifest::{Contract, Layout, ScoreActivation};
use super::{BBox, RawOutput};

pub struct Candidate {
    pub label: Arc<str>,
    pub score: f32,
    pub bbox: BBox,
}

/// What the decoders need to know besides the tensors.
pub struct DecodeInput<'a> {
    pub contract: &'a Contract,
    /// Input size fed to the model (width, height).
    pub input: (u32, u32),
    pub min_score: f32,
    pub labels: &'a HashMap<usize, Arc<str>>,
}

/// Decodes `outputs` (the contract's `output`, then `scores_output` when it has one).
pub fn decode(d: &DecodeInput, outputs: &[RawOutput]) -> Result<Vec<Candidate>, String> {
    let main = outputs.first().ok_or("the model returned no output")?;
    match d.contract.layout {
        Layout::Yolox => yolox(d, main),
        Layout::Yolov8 => yolov8(d, main),
        Layout::Yolov5 => yolov5(d, main),
        Layout::EndToEnd => end_to_end(d, main),
        Layout::Detr => detr(d, main, outputs.get(1)),
    }
}

/// Keeps a candidate of class `cls` scoring `score` when its class is mapped and it is confident.
fn keep(d: &DecodeInput, cls: usize, score: f32, bbox: BBox, out: &mut Vec<Candidate>) {
    // NaN scores and boxes are dropped, not compared.
    let confident = score >= d.min_score;
    if !confident || !bbox.x1.is_finite() || !bbox.y2.is_finite() {
        return;
    }
    if let Some(label) = d.labels.get(&cls) {
        out.push(Candidate {
            label: label.clone(),
            score,
            bbox,
        });
    }
}

/// `[1, N, K]` with N and K as named, or the reason it is not.
fn rows<'a>(o: &'a RawOutput, layout: &str) -> Result<(usize, usize, &'a [f32]), String> {
    match o.shape.as_slice() {
        [1, n, k] if o.data.len() == n * k => Ok((*n, *k, &o.data)),
        s => Err(format!(
            "output shape {s:?} is not [1, N, K] ({layout} layout)"
        )),
    }
}

/// YOLOX: `[1, N, 5 + C]` with N = Σ (W/s)·(H/s) over the strides, raw (pre-grid) regressions.
fn yolox(d: &DecodeInput, o: &RawOutput) -> Result<Vec<Candidate>, String> {
    let c = d.contract;
    let (n, k, data) = rows(o, "yolox")?;
    let (w, h) = d.input;
    let grid: usize = c
        .strides
        .iter()
        .map(|&s| (w / s) as usize * (h / s) as usize)
        .sum();
    if n != grid || k < 6 {
        return Err(format!(
            "output shape {:?} does not match a {w}x{h} input with strides {:?} ({grid} anchors)",
            o.shape, c.strides
        ));
    }
    let mut out = Vec::new();
    let mut row = 0;
    for &s in &c.strides {
        let (gw, gh) = ((w / s) as usize, (h / s) as usize);
        let s = s as f32;
        for gy in 0..gh {
            for gx in 0..gw {
                let r = &data[row * k..(row + 1) * k];
                row += 1;
                let obj = r[4];
                if obj < d.min_score {
                    continue;
                }
                let Some((cls, cls_score)) = best_class(&r[5..]) else {
                    continue;
                };
                let cx = (r[0] + gx as f32) * s;
                let cy = (r[1] + gy as f32) * s;
                let bw = r[2].exp() * s;
                let bh = r[3].exp() * s;
                keep(
                    d,
                    cls,
                    obj * cls_score,
                    BBox::from_center(cx, cy, bw, bh),
                    &mut out,
                );
            }
        }
    }
    Ok(out)
}

/// YOLOv5 / YOLOv7: `[1, N, 5 + C]`, boxes decoded (cx, cy, w, h), score = obj × cls.
fn yolov5(d: &DecodeInput, o: &RawOutput) -> Result<Vec<Candidate>, String> {
    let (n, k, data) = rows(o, "yolov5")?;
    if k < 6 {
        return Err(format!(
            "output shape {:?} is not [1, N, 5+C] (yolov5 layout)",
            o.shape
        ));
    }
    let mut out = Vec::new();
    for r in data.chunks_exact(k).take(n) {
        if r[4] < d.min_score {
            continue;
        }
        let Some((cls, cls_score)) = best_class(&r[5..]) else {
            continue;
        };
        keep(
            d,
            cls,
            r[4] * cls_score,
            BBox::from_center(r[0], r[1], r[2], r[3]),
            &mut out,
        );
    }
    Ok(out)
}

/// Ultralytics YOLOv8 / YOLO11: `[1, 4 + C, N]`, boxes already decoded as cx, cy, w, h.
fn yolov8(d: &DecodeInput, o: &RawOutput) -> Result<Vec<Candidate>, String> {
    let (rows, n, data) = rows(o, "yolov8")?;
    if rows < 5 {
        return Err(format!(
            "output shape {:?} is not [1, 4+C, N] (yolov8 layout)",
            o.shape
        ));
    }
    let classes = rows - 4;
    let at = |r: usize, i: usize| data[r * n + i];
    let mut out = Vec::new();
    for i in 0..n {
        let (mut cls, mut score) = (0, f32::MIN);
        for k in 0..classes {
            let v = at(4 + k, i);
            if v > score {
                (cls, score) = (k, v);
            }
        }
        keep(
            d,
            cls,
            score,
            BBox::from_center(at(0, i), at(1, i), at(2, i), at(3, i)),
            &mut out,
        );
    }
    Ok(out)
}

/// End-to-end YOLO (YOLOv10, YOLO26): `[1, N, 6]` = x1, y1, x2, y2, score, class.
fn end_to_end(d: &DecodeInput, o: &RawOutput) -> Result<Vec<Candidate>, String> {
    let (n, k, data) = rows(o, "end_to_end")?;
    if k != 6 {
        return Err(format!(
            "output shape {:?} is not [1, N, 6] (end_to_end layout: x1, y1, x2, y2, score, class)",
            o.shape
        ));
    }
    let mut out = Vec::new();
    for r in data.chunks_exact(6).take(n) {
        let class_ok = r[5] >= 0.0 && r[5].fract() == 0.0;
        if !class_ok {
            continue;
        }
        let bbox = BBox {
            x1: r[0],
            y1: r[1],
            x2: r[2],
            y2: r[3],
        };
        keep(d, r[5] as usize, r[4], bbox, &mut out);
    }
    Ok(out)
}

/// DETR family: boxes `[1, N, 4]` normalised cx, cy, w, h plus scores `[1, N, C]` (a second
/// output), or one `[1, N, 4 + C]` output.
fn detr(
    d: &DecodeInput,
    boxes: &RawOutput,
    scores: Option<&RawOutput>,
) -> Result<Vec<Candidate>, String> {
    let (n, k, bdata) = rows(boxes, "detr")?;
    let (classes, sdata, s_stride, s_offset) = match scores {
        Some(s) => {
            let (sn, c, sdata) = rows(s, "detr scores")?;
            if k != 4 || sn != n || c == 0 {
                return Err(format!(
                    "outputs {:?} and {:?} are not boxes [1, N, 4] and scores [1, N, C] (detr layout)",
                    boxes.shape, s.shape
                ));
            }
            (c, sdata, c, 0)
        }
        None if k > 4 => (k - 4, bdata, k, 4),
        None => {
            return Err(format!(
                "output shape {:?} is not [1, N, 4+C] and the manifest names no scores_output (detr layout)",
                boxes.shape
            ))
        }
    };
    let (w, h) = (d.input.0 as f32, d.input.1 as f32);
    let activate = |v: f32| match d.contract.scores {
        ScoreActivation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
        ScoreActivation::None => v,
    };
    let mut out = Vec::new();
    for i in 0..n {
        let b = &bdata[i * k..i * k + 4];
        let row = &sdata[i * s_stride + s_offset..i * s_stride + s_offset + classes];
        let Some((cls, raw)) = best_class(row) else {
            continue;
        };
        keep(
            d,
            cls,
            activate(raw),
            BBox::from_center(b[0] * w, b[1] * h, b[2] * w, b[3] * h),
            &mut out,
        );
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
