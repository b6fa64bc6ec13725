//! Pixel → ground for a fixed camera: a plane-to-plane homography from ground control points
//! (normalised image x/y ↔ lat/lon), solved in a local metric plane around the points.
//!
//! Fitting: normalised DLT (Hartley) on every 4-point subset (a handful of points gives at most a
//! few thousand), the subset that agrees with the most points within [`INLIER_M`] wins, then a
//! least-squares refit on its inliers. So one bad point is found and named instead of bending
//! the whole calibration. Degenerate inputs are refused with the reason.

use nalgebra::{Matrix3, SMatrix, SymmetricEigen, Vector3};

use super::enu::LocalFrame;

/// A point farther than this from the fitted homography is an outlier.
pub const INLIER_M: f64 = 2.0;

/// One ground control point: where a surveyed spot appears in the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gcp {
    /// Normalised image coordinates, 0..1 from the top-left corner.
    pub x: f64,
    pub y: f64,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    #[error(
        "{0} ground control points given; at least 4 are needed (5 or more to detect a bad one)"
    )]
    TooFew(usize),
    #[error("point {index} ({x:.3}, {y:.3}) is outside the image: image coordinates are 0..1 from the top-left corner")]
    OutsideImage { index: usize, x: f64, y: f64 },
    #[error("points {a} and {b} are the same {what}")]
    Duplicate {
        a: usize,
        b: usize,
        what: &'static str,
    },
    #[error("the points lie on one line in the {0}: spread them over the ground the camera sees")]
    Collinear(&'static str),
    #[error("no 4 points agree within {INLIER_M} m: check that every point's pixel and lat/lon describe the same spot")]
    NoConsensus,
    #[error("only {inliers} of {total} points agree within {INLIER_M} m (bad: {bad:?}): more than one point is wrong")]
    TooManyOutliers {
        inliers: usize,
        total: usize,
        bad: Vec<usize>,
    },
}

/// A solved calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundCalibration {
    pub frame: LocalFrame,
    /// Normalised image (x, y, 1) → local (east, north, w) metres.
    pub h: Matrix3<f64>,
    /// Ground distance in metres between each point's surveyed and reprojected position.
    pub errors_m: Vec<f64>,
    /// Points left out of the fit, with their error.
    pub outliers: Vec<usize>,
    /// Root mean square of the inliers' errors.
    pub rms_m: f64,
}

impl GroundCalibration {
    /// Local (east, north) metres of a normalised image point; `None` above the horizon.
    pub fn to_local(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        apply(&self.h, x, y)
    }

    /// WGS-84 of a normalised image point; `None` above the horizon.
    pub fn to_wgs84(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (e, n) = self.to_local(x, y)?;
        Some(self.frame.to_wgs84(e, n))
    }

    /// Ground metres per unit of normalised image distance around (x, y): how much a small
    /// pixel error moves the location there.
    pub fn metres_per_unit(&self, x: f64, y: f64) -> Option<f64> {
        let d = 1e-3;
        let (e0, n0) = self.to_local(x, y)?;
        let (ex, nx) = self.to_local(x + d, y)?;
        let (ey, ny) = self.to_local(x, y + d)?;
        let gx = ((ex - e0).powi(2) + (nx - n0).powi(2)).sqrt() / d;
        let gy = ((ey - e0).powi(2) + (ny - n0).powi(2)).sqrt() / d;
        Some(gx.max(gy))
    }

    /// Ground area in m² of a polygon in normalised image coordinates (shoelace on the ground);
    /// `None` when a corner is above the horizon.
    pub fn ground_area(&self, polygon: &[[f64; 2]]) -> Option<f64> {
        let pts: Option<Vec<(f64, f64)>> =
            polygon.iter().map(|p| self.to_local(p[0], p[1])).collect();
        Some(super::polygon_area(&pts?))
    }
}

fn apply(h: &Matrix3<f64>, x: f64, y: f64) -> Option<(f64, f64)> {
    let p = h * Vector3::new(x, y, 1.0);
    (p.z.abs() > 1e-12 && p.z > 0.0).then(|| (p.x / p.z, p.y / p.z))
}

/// Hartley normalisation: centroid at 0, mean distance √2.
fn normaliser(pts: &[(f64, f64)]) -> Matrix3<f64> {
    let n = pts.len() as f64;
    let (cx, cy) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let mean = pts
        .iter()
        .map(|p| ((p.0 - cx).powi(2) + (p.1 - cy).powi(2)).sqrt())
        .sum::<f64>()
        / n;
    let s = if mean > 0.0 {
        std::f64::consts::SQRT_2 / mean
    } else {
        1.0
    };
    Matrix3::new(s, 0.0, -s * cx, 0.0, s, -s * cy, 0.0, 0.0, 1.0)
}

/// Least-squares homography mapping `from` to `to` (≥ 4 pairs), by the normalised DLT.
fn fit(from: &[(f64, f64)], to: &[(f64, f64)]) -> Option<Matrix3<f64>> {
    let (tf, tt) = (normaliser(from), normaliser(to));
    // AᵀA accumulated directly: its eigenvector of the smallest eigenvalue is h. (A thin SVD of
    // A itself drops the null vector when there are exactly 4 points: 8 rows, 9 columns.)
    let mut ata = SMatrix::<f64, 9, 9>::zeros();
    for (a, b) in from.iter().zip(to) {
        let p = tf * Vector3::new(a.0, a.1, 1.0);
        let q = tt * Vector3::new(b.0, b.1, 1.0);
        let (x, y, u, v) = (p.x / p.z, p.y / p.z, q.x / q.z, q.y / q.z);
        let r1 = [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u];
        let r2 = [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v];
        for r in [r1, r2] {
            for i in 0..9 {
                for j in 0..9 {
                    ata[(i, j)] += r[i] * r[j];
                }
            }
        }
    }
    let eig = SymmetricEigen::new(ata);
    let k = eig.eigenvalues.imin();
    let h = eig.eigenvectors.column(k);
    let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
    let full = tt.try_inverse()? * hn * tf;
    // Scale so that w > 0 in front of the camera (at the points' centroid).
    let c = from.iter().fold((0.0, 0.0), |(a, b), p| (a + p.0, b + p.1));
    let n = from.len() as f64;
    let w = (full * Vector3::new(c.0 / n, c.1 / n, 1.0)).z;
    if !w.is_finite() || w.abs() < 1e-15 {
        return None;
    }
    Some(full / w)
}

/// Whether points are (nearly) on one line: the smaller principal spread is under 1 % of the
/// larger.
fn collinear(pts: &[(f64, f64)]) -> bool {
    let n = pts.len() as f64;
    let (cx, cy) = pts
        .iter()
        .fold((0.0, 0.0), |(a, b), p| (a + p.0 / n, b + p.1 / n));
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in pts {
        sxx += (p.0 - cx).powi(2);
        syy += (p.1 - cy).powi(2);
        sxy += (p.0 - cx) * (p.1 - cy);
    }
    let tr = sxx + syy;
    let det = sxx * syy - sxy * sxy;
    let disc = ((tr / 2.0).powi(2) - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, tr / 2.0 - disc);
    l1 <= 0.0 || l2.max(0.0).sqrt() < 0.01 * l1.sqrt()
}

fn errors(h: &Matrix3<f64>, img: &[(f64, f64)], ground: &[(f64, f64)]) -> Vec<f64> {
    img.iter()
        .zip(ground)
        .map(|(p, g)| match apply(h, p.0, p.1) {
            Some((e, n)) => ((e - g.0).powi(2) + (n - g.1).powi(2)).sqrt(),
            None => f64::INFINITY,
        })
        .collect()
}

/// Solves a calibration from ground control points.
pub fn calibrate(gcps: &[Gcp]) -> Result<GroundCalibration, CalibrationError> {
    if gcps.len() < 4 {
        return Err(CalibrationError::TooFew(gcps.len()));
    }
    for (i, g) in gcps.iter().enumerate() {
        if !(0.0..=1.0).contains(&g.x) || !(0.0..=1.0).contains(&g.y) {
            return Err(CalibrationError::OutsideImage {
                index: i + 1,
                x: g.x,
                y: g.y,
            });
        }
    }
    let n = gcps.len() as f64;
    let frame = LocalFrame::new(
        gcps.iter().map(|g| g.lat).sum::<f64>() / n,
        gcps.iter().map(|g| g.lon).sum::<f64>() / n,
    );
    let img: Vec<(f64, f64)> = gcps.iter().map(|g| (g.x, g.y)).collect();
    let ground: Vec<(f64, f64)> = gcps.iter().map(|g| frame.to_local(g.lat, g.lon)).collect();
    for a in 0..gcps.len() {
        for b in a + 1..gcps.len() {
            let close = |p: (f64, f64), q: (f64, f64), eps: f64| {
                (p.0 - q.0).abs() < eps && (p.1 - q.1).abs() < eps
            };
            if close(img[a], img[b], 1e-4) {
                return Err(CalibrationError::Duplicate {
                    a: a + 1,
                    b: b + 1,
                    what: "image point",
                });
            }
            if close(ground[a], ground[b], 0.05) {
                return Err(CalibrationError::Duplicate {
                    a: a + 1,
                    b: b + 1,
                    what: "ground point",
                });
            }
        }
    }
    if collinear(&img) {
        return Err(CalibrationError::Collinear("image"));
    }
    if collinear(&ground) {
        return Err(CalibrationError::Collinear("ground"));
    }
    // Consensus over every 4-point subset that is not itself degenerate.
    let idx: Vec<usize> = (0..gcps.len()).collect();
    let mut best: Option<(usize, f64, Vec<usize>)> = None;
    for_each_4(&idx, |s| {
        let sub_img: Vec<_> = s.iter().map(|&i| img[i]).collect();
        let sub_ground: Vec<_> = s.iter().map(|&i| ground[i]).collect();
        if any_three_collinear(&sub_img) || any_three_collinear(&sub_ground) {
            return;
        }
        let Some(h) = fit(&sub_img, &sub_ground) else {
            return;
        };
        let errs = errors(&h, &img, &ground);
        let inliers: Vec<usize> = (0..errs.len()).filter(|&i| errs[i] <= INLIER_M).collect();
        let cost: f64 = inliers.iter().map(|&i| errs[i] * errs[i]).sum();
        let better = match &best {
            None => true,
            Some((count, c, _)) => inliers.len() > *count || (inliers.len() == *count && cost < *c),
        };
        if better {
            best = Some((inliers.len(), cost, inliers));
        }
    });
    let Some((count, _, inliers)) = best else {
        return Err(CalibrationError::NoConsensus);
    };
    if count < 4 {
        return Err(CalibrationError::NoConsensus);
    }
    let outliers: Vec<usize> = (0..gcps.len()).filter(|i| !inliers.contains(i)).collect();
    if outliers.len() > 1 || (outliers.len() == 1 && gcps.len() < 5) {
        return Err(CalibrationError::TooManyOutliers {
            inliers: count,
            total: gcps.len(),
            bad: outliers.iter().map(|i| i + 1).collect(),
        });
    }
    let in_img: Vec<_> = inliers.iter().map(|&i| img[i]).collect();
    let in_ground: Vec<_> = inliers.iter().map(|&i| ground[i]).collect();
    let h = fit(&in_img, &in_ground).ok_or(CalibrationError::NoConsensus)?;
    let errors_m = errors(&h, &img, &ground);
    let rms_m = (inliers.iter().map(|&i| errors_m[i].powi(2)).sum::<f64>() / count as f64).sqrt();
    Ok(GroundCalibration {
        frame,
        h,
        errors_m,
        outliers,
        rms_m,
    })
}

fn any_three_collinear(p: &[(f64, f64)]) -> bool {
    let scale = p
        .iter()
        .flat_map(|a| p.iter().map(move |b| (a.0 - b.0).hypot(a.1 - b.1)))
        .fold(0.0, f64::max);
    for i in 0..p.len() {
        for j in i + 1..p.len() {
            for k in j + 1..p.len() {
                let area = ((p[j].0 - p[i].0) * (p[k].1 - p[i].1)
                    - (p[k].0 - p[i].0) * (p[j].1 - p[i].1))
                    .abs();
                if area < 1e-4 * scale * scale {
                    return true;
                }
            }
        }
    }
    false
}

fn for_each_4(idx: &[usize], mut f: impl FnMut([usize; 4])) {
    let n = idx.len();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                for d in c + 1..n {
                    f([idx[a], idx[b], idx[c], idx[d]]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
