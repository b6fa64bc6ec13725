//! Non-maximum suppression, per label.

use super::Detection;

/// Keeps the strongest of every group of same-label boxes overlapping by more than `iou`.
pub fn nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if kept
            .iter()
            .all(|k| k.label != d.label || k.bbox.iou(&d.bbox) <= iou)
        {
            kept.push(d);
        }
    }
    kept
}
