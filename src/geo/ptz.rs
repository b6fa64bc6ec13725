//! Pixel → ground for a lookout or PTZ camera (高空瞭望) that sees kilometres: the camera's pose
//! and lens from config, the pixel's ray intersected with the ground (flat at a configured
//! elevation, bent by earth curvature less refraction, which matters beyond a kilometre).
//!
//! The accuracy estimate is what a small error in the camera's pointing does at that range and
//! grazing angle: the ground error along the ray grows as 1 / sin(grazing). Rays that miss the
//! ground (sky, horizon) or land beyond the maximum range give no location rather than a wrong one.

use nalgebra::Vector3;

use super::enu::{curvature_drop, LocalFrame};

/// Where the camera is and where it looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub lat: f64,
    pub lon: f64,
    /// Height of the lens above the ground at the camera's foot, metres.
    pub height_m: f64,
    /// Heading of the optical axis at pan 0, degrees clockwise from north.
    pub heading_deg: f64,
    /// Downward tilt of the optical axis at tilt 0, degrees (0 = horizontal).
    pub tilt_deg: f64,
    /// Roll about the optical axis, degrees clockwise as seen from behind the camera.
    pub roll_deg: f64,
    /// Current pan (added to heading) and tilt (added to tilt) of a PTZ head, degrees.
    pub pan_deg: f64,
    pub ptz_tilt_deg: f64,
    /// Horizontal field of view at the current zoom, degrees.
    pub hfov_deg: f64,
    /// Frame width / height.
    pub aspect: f64,
    /// Elevation of the ground in view relative to the camera's foot, metres.
    pub ground_offset_m: f64,
    /// Farther than this, no location is given.
    pub max_range_m: f64,
    /// One-sigma error of the camera's pointing (pose survey, PTZ repeatability), degrees.
    pub pointing_accuracy_deg: f64,
}

/// A located pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RayHit {
    pub lat: f64,
    pub lon: f64,
    /// Horizontal distance from the camera, metres.
    pub range_m: f64,
    /// Angle between the ray and the ground, degrees.
    pub grazing_deg: f64,
    pub accuracy_m: f64,
}

/// Why a pixel has no location.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum NoHit {
    #[error("the pixel looks above the horizon")]
    Sky,
    #[error("the ground there is {0:.0} m away, beyond the camera's max_range_m")]
    TooFar(f64),
    #[error("the ray leaves the terrain grid before it meets the ground")]
    OffGrid,
}

struct Axes {
    forward: Vector3<f64>,
    right: Vector3<f64>,
    down: Vector3<f64>,
}

impl Pose {
    fn axes(&self) -> Axes {
        let h = (self.heading_deg + self.pan_deg).to_radians();
        let t = (self.tilt_deg + self.ptz_tilt_deg).to_radians();
        let r = self.roll_deg.to_radians();
        let up = Vector3::new(0.0, 0.0, 1.0);
        let f0 = Vector3::new(h.sin(), h.cos(), 0.0);
        let r0 = Vector3::new(h.cos(), -h.sin(), 0.0);
        let forward = f0 * t.cos() - up * t.sin();
        let down1 = -up * t.cos() - f0 * t.sin();
        let right = r0 * r.cos() + down1 * r.sin();
        let down = down1 * r.cos() - r0 * r.sin();
        Axes {
            forward,
            right,
            down,
        }
    }

    fn tan_half(&self) -> (f64, f64) {
        let tx = (self.hfov_deg.to_radians() / 2.0).tan();
        (tx, tx / self.aspect)
    }

    /// The ray through a normalised image point, in local east/north/up.
    pub fn ray(&self, x: f64, y: f64) -> Vector3<f64> {
        let a = self.axes();
        let (tx, ty) = self.tan_half();
        (a.forward + a.right * ((x - 0.5) * 2.0 * tx) + a.down * ((y - 0.5) * 2.0 * ty)).normalize()
    }

    /// Where a local point (east, north, up metres from the camera's foot) appears in the image;
    /// `None` behind the camera. The inverse of [`Pose::locate`], for checks and tests.
    pub fn project(&self, east: f64, north: f64, up: f64) -> Option<(f64, f64)> {
        let a = self.axes();
        let (tx, ty) = self.tan_half();
        let v = Vector3::new(east, north, up - self.height_m);
        let z = v.dot(&a.forward);
        if z <= 0.0 {
            return None;
        }
        Some((
            0.5 + v.dot(&a.right) / z / (2.0 * tx),
            0.5 + v.dot(&a.down) / z / (2.0 * ty),
        ))
    }

    /// The ground point a normalised image point looks at.
    pub fn locate(&self, x: f64, y: f64) -> Result<RayHit, NoHit> {
        let d = self.ray(x, y);
        if d.z >= -1e-9 {
            return Err(NoHit::Sky);
        }
        let above = self.height_m - self.ground_offset_m;
        // The ground drops away with distance: fixed-point on the range (converges in a few
        // steps; diverges only at grazing rays that never meet the curved ground).
        let horizontal = (d.x * d.x + d.y * d.y).sqrt();
        let mut s = above / -d.z;
        for _ in 0..50 {
            let range = s * horizontal;
            if range > self.max_range_m * 2.0 {
                break;
            }
            let next = (above + curvature_drop(range)) / -d.z;
            if (next - s).abs() < 1e-6 {
                s = next;
                break;
            }
            s = next;
        }
        let range_m = s * horizontal;
        if !range_m.is_finite() || range_m > self.max_range_m {
            return Err(NoHit::TooFar(range_m));
        }
        if above <= 0.0 {
            return Err(NoHit::Sky);
        }
        Ok(self.hit(&d, s, 0.0))
    }

    /// The ground point a normalised image point looks at, over real terrain: the ray is marched
    /// until it passes below the grid's ground (less earth curvature), then refined to 10 cm.
    pub fn locate_on(
        &self,
        x: f64,
        y: f64,
        terrain: &super::terrain::Terrain,
    ) -> Result<RayHit, NoHit> {
        let d = self.ray(x, y);
        let base = terrain
            .elevation(self.lat, self.lon)
            .ok_or(NoHit::OffGrid)?;
        let eye = base + self.height_m;
        let frame = LocalFrame::new(self.lat, self.lon);
        let horizontal = (d.x * d.x + d.y * d.y).sqrt();
        // Height of the ray above the ground at slant distance s (negative: below).
        let clearance = |s: f64| -> Option<f64> {
            let (lat, lon) = frame.to_wgs84(s * d.x, s * d.y);
            let ground = terrain.elevation(lat, lon)? - curvature_drop(s * horizontal);
            Some(eye + s * d.z - ground)
        };
        let max_s = self.max_range_m / horizontal.max(1e-9);
        let step = |s: f64| (s * 0.01).clamp(2.0, 25.0);
        let (mut lo, mut s) = (0.0, 1.0);
        loop {
            if s > max_s {
                return Err(if d.z >= 0.0 {
                    NoHit::Sky
                } else {
                    NoHit::TooFar(s * horizontal)
                });
            }
            match clearance(s) {
                None => return Err(NoHit::OffGrid),
                Some(c) if c <= 0.0 => break,
                Some(_) => {
                    lo = s;
                    s += step(s);
                }
            }
        }
        let mut hi = s;
        while hi - lo > 0.1 {
            let mid = (lo + hi) / 2.0;
            match clearance(mid) {
                Some(c) if c > 0.0 => lo = mid,
                _ => hi = mid,
            }
        }
        // The slope of the ground along the ray at the hit steepens (rising away) or flattens
        // (falling away) the grazing angle.
        let g = |s: f64| clearance(s).map(|c| eye + s * d.z - c);
        let slope = match (g(hi + 5.0), g((hi - 5.0).max(0.0))) {
            (Some(a), Some(b)) => ((a - b) / (10.0 * horizontal)).atan(),
            _ => 0.0,
        };
        Ok(self.hit(&d, hi, slope))
    }

    /// A hit at slant distance `s` along `d`, with its accuracy; `ground_slope` is the terrain's
    /// rise along the ray (radians).
    fn hit(&self, d: &Vector3<f64>, s: f64, ground_slope: f64) -> RayHit {
        let horizontal = (d.x * d.x + d.y * d.y).sqrt();
        let range_m = s * horizontal;
        let frame = LocalFrame::new(self.lat, self.lon);
        let (lat, lon) = frame.to_wgs84(s * d.x, s * d.y);
        // Grazing angle against the (curved) ground: the ray's depression less the ground's
        // curvature away from the camera at that range, plus the terrain's own slope.
        let depression = (-d.z).atan2(horizontal);
        let curvature = range_m * (1.0 - super::enu::REFRACTION_K) / super::enu::EARTH_RADIUS_M;
        let grazing = (depression - curvature + ground_slope).max(1e-4);
        let sigma = self.pointing_accuracy_deg.to_radians();
        let slant = s;
        // Two sigma: the radius that holds the true point about 95 % of the time (to first
        // order; at grazing angles a shallower error reaches a little farther than a steeper).
        let along = 2.0 * slant * sigma / grazing.sin();
        let across = 2.0 * slant * sigma;
        RayHit {
            lat,
            lon,
            range_m,
            grazing_deg: grazing.to_degrees(),
            accuracy_m: (along.hypot(across)).max(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::terrain::Terrain;

    /// A grid 6 km × 6 km around the camera: flat at 50 m, or a slope rising 5 % to the east.
    fn grid(rising: bool) -> Terrain {
        let (n, cell) = (121usize, 0.0005);
        let (west, south) = (120.1551 - 0.03, 30.2741 - 0.027);
        let mut text =
            format!("ncols {n}\nnrows {n}\nxllcorner {west}\nyllcorner {south}\ncellsize {cell}\n");
        let frame = LocalFrame::new(30.2741, 120.1551);
        for r in 0..n {
            let lat = south + (n - r) as f64 * cell - cell / 2.0;
            let row: Vec<String> = (0..n)
                .map(|c| {
                    let lon = west + c as f64 * cell + cell / 2.0;
                    let (e, _) = frame.to_local(lat, lon);
                    let h = if rising {
                        50.0 + 0.05 * e.max(0.0)
                    } else {
                        50.0
                    };
                    format!("{h:.3}")
                })
                .collect();
            text.push_str(&row.join(" "));
            text.push('\n');
        }
        Terrain::parse(&text).unwrap()
    }

    #[test]
    fn flat_terrain_agrees_with_the_flat_ground_model() {
        let p = Pose {
            tilt_deg: 6.0,
            ..lookout()
        };
        let flat = p.locate(0.5, 0.6).unwrap();
        let on = p.locate_on(0.5, 0.6, &grid(false)).unwrap();
        let f = LocalFrame::new(p.lat, p.lon);
        let (a, b) = (f.to_local(flat.lat, flat.lon), f.to_local(on.lat, on.lon));
        assert!((a.0 - b.0).hypot(a.1 - b.1) < 1.0, "{a:?} {b:?}");
    }

    #[test]
    fn a_hill_rising_towards_the_camera_view_is_hit_sooner_and_more_precisely() {
        // Looking east-north-east (heading 75°) at a slope rising to the east.
        let p = Pose {
            tilt_deg: 3.0,
            heading_deg: 75.0,
            ..lookout()
        };
        let flat = p.locate_on(0.5, 0.5, &grid(false)).unwrap();
        let hill = p.locate_on(0.5, 0.5, &grid(true)).unwrap();
        assert!(
            hill.range_m < flat.range_m * 0.8,
            "{} vs {}",
            hill.range_m,
            flat.range_m
        );
        assert!(hill.grazing_deg > flat.grazing_deg + 2.0);
        assert!(hill.accuracy_m < flat.accuracy_m / 2.0);
        // Check against the terrain itself: the hit is on the ground within half a metre.
        let t = grid(true);
        let ground = t.elevation(hill.lat, hill.lon).unwrap() - curvature_drop(hill.range_m);
        let base = t.elevation(p.lat, p.lon).unwrap();
        let ray_height = base + 120.0
            - hill.range_m * p.ray(0.5, 0.5).z.abs() / (1.0 - p.ray(0.5, 0.5).z.powi(2)).sqrt();
        assert!(
            (ground - ray_height).abs() < 0.5,
            "{ground} vs {ray_height}"
        );
        // A camera outside its grid is refused.
        let away = Pose { lat: 31.0, ..p };
        assert_eq!(away.locate_on(0.5, 0.5, &t), Err(NoHit::OffGrid));
    }

    fn lookout() -> Pose {
        Pose {
            lat: 30.2741,
            lon: 120.1551,
            height_m: 120.0,
            heading_deg: 40.0,
            tilt_deg: 2.0,
            roll_deg: 0.3,
            pan_deg: 0.0,
            ptz_tilt_deg: 0.0,
            hfov_deg: 20.0,
            aspect: 16.0 / 9.0,
            ground_offset_m: 0.0,
            max_range_m: 10_000.0,
            pointing_accuracy_deg: 0.05,
        }
    }

    /// The ground point at `range` metres straight ahead (bearing = heading), on the curved
    /// ground, seen from a pose whose pointing is off by `error_deg` in tilt.
    fn recover(range: f64, error_deg: f64) -> (RayHit, f64) {
        // Aimed just above the target, as an operator would frame it.
        let truth = Pose {
            tilt_deg: (120.0f64).atan2(range).to_degrees() - 0.5,
            ..lookout()
        };
        let h = truth.heading_deg.to_radians();
        // A little right of the optical axis.
        let side = 0.08 * range;
        let (e, n) = (
            range * h.sin() + side * h.cos(),
            range * h.cos() - side * h.sin(),
        );
        let (x, y) = truth
            .project(e, n, -curvature_drop(e.hypot(n)))
            .expect("in front of the camera");
        assert!(
            (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y),
            "{x} {y}"
        );
        let believed = Pose {
            tilt_deg: truth.tilt_deg + error_deg,
            ..truth
        };
        let hit = believed.locate(x, y).expect("a ground hit");
        let frame = LocalFrame::new(truth.lat, truth.lon);
        let (ge, gn) = frame.to_local(hit.lat, hit.lon);
        (hit, (ge - e).hypot(gn - n))
    }

    #[test]
    fn exact_poses_recover_ground_points_at_100_m_1_km_and_5_km() {
        for range in [100.0, 1_000.0, 5_000.0] {
            let (hit, error) = recover(range, 0.0);
            eprintln!(
                "ray cast at {range} m: off by {error:.3} m, stated accuracy {:.1} m",
                hit.accuracy_m
            );
            assert!(error < 0.5, "{range} m: off by {error:.2} m");
            assert!((hit.range_m - range).abs() < 60.0);
        }
    }

    #[test]
    fn the_stated_accuracy_covers_a_pointing_error_of_one_sigma() {
        let mut last = 0.0;
        for range in [100.0, 1_000.0, 5_000.0] {
            for sign in [1.0, -1.0] {
                let (hit, error) = recover(range, sign * lookout().pointing_accuracy_deg);
                eprintln!("ray cast at {range} m, {sign}σ pointing error: off by {error:.1} m, stated {:.1} m", hit.accuracy_m);
                assert!(
                    error <= hit.accuracy_m,
                    "{range} m, {sign}σ: error {error:.1} m beyond the stated {:.1} m",
                    hit.accuracy_m
                );
                if sign > 0.0 {
                    assert!(hit.accuracy_m > last, "accuracy grows with range");
                    last = hit.accuracy_m;
                }
            }
        }
        assert!(
            last > 100.0,
            "at 5 km from 120 m a 0.05° error is hundreds of metres: {last}"
        );
    }

    #[test]
    fn the_sky_and_the_far_ground_give_no_location() {
        let p = lookout();
        assert_eq!(
            p.locate(0.5, 0.0),
            Err(NoHit::Sky),
            "top of a near-level view"
        );
        let near_horizon = Pose {
            max_range_m: 3_000.0,
            ..p
        };
        // 2° down from 120 m meets the ground at ~3.4 km.
        assert!(matches!(near_horizon.locate(0.5, 0.5), Err(NoHit::TooFar(r)) if r > 3_000.0));
    }
}

/// How a PTZ head's reported position (ONVIF's generic spaces: pan and tilt in [-1, 1], zoom in
/// [0, 1]) maps to angles and a field of view. ONVIF leaves the scale to the vendor; these are
/// read off the camera's data sheet (pan range, tilt range, the lens's widest and narrowest
/// horizontal field of view).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadModel {
    /// Pan in degrees at generic -1 and +1 (clockwise positive), e.g. (-180, 180).
    pub pan_range_deg: (f64, f64),
    /// Elevation in degrees at generic tilt -1 and +1 (up positive), e.g. (-90, 20).
    pub tilt_range_deg: (f64, f64),
    /// Horizontal field of view at zoom 0 (wide) and zoom 1 (tele), degrees.
    pub hfov_wide_deg: f64,
    pub hfov_tele_deg: f64,
}

impl HeadModel {
    /// Pan (degrees clockwise, added to the heading), downward tilt (degrees, added to the
    /// mounting tilt) and horizontal field of view for a reported position. Zoom is taken as
    /// linear in magnification between the lens's ends, which is how the generic zoom space of
    /// the cameras seen behaves.
    pub fn angles(&self, pan: f64, tilt: f64, zoom: f64) -> (f64, f64, f64) {
        let lerp = |(lo, hi): (f64, f64), v: f64| lo + (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * (hi - lo);
        let pan_deg = lerp(self.pan_range_deg, pan);
        let elevation = lerp(self.tilt_range_deg, tilt);
        let half = |deg: f64| (deg.to_radians() / 2.0).tan();
        let (wide, tele) = (half(self.hfov_wide_deg), half(self.hfov_tele_deg));
        let magnification = 1.0 + zoom.clamp(0.0, 1.0) * (wide / tele - 1.0);
        let hfov_deg = 2.0 * (wide / magnification).atan().to_degrees();
        (pan_deg, -elevation, hfov_deg)
    }

    /// `pose` pointed where the head reports.
    pub fn apply(&self, pose: &Pose, pan: f64, tilt: f64, zoom: f64) -> Pose {
        let (pan_deg, ptz_tilt_deg, hfov_deg) = self.angles(pan, tilt, zoom);
        Pose {
            pan_deg,
            ptz_tilt_deg,
            hfov_deg,
            ..*pose
        }
    }
}

#[cfg(test)]
mod head_tests {
    use super::*;

    #[test]
    fn generic_positions_map_to_the_heads_angles_and_the_lenss_field_of_view() {
        let head = HeadModel {
            pan_range_deg: (-180.0, 180.0),
            tilt_range_deg: (-90.0, 20.0),
            hfov_wide_deg: 60.0,
            hfov_tele_deg: 2.0,
        };
        let (pan, down, hfov) = head.angles(0.5, 1.0, 0.0);
        assert!((pan - 90.0).abs() < 1e-9);
        assert!((down + 20.0).abs() < 1e-9, "20° up is -20° down: {down}");
        assert!((hfov - 60.0).abs() < 1e-9);
        let (_, down, hfov) = head.angles(0.0, -1.0, 1.0);
        assert!((down - 90.0).abs() < 1e-9);
        assert!((hfov - 2.0).abs() < 1e-9);
        // Half way in magnification: 2·atan(tan(30°)/m) with m = (1 + M)/2.
        let m = (1.0 + (30f64.to_radians().tan() / 1f64.to_radians().tan())) / 2.0;
        let (_, _, hfov) = head.angles(0.0, 0.0, 0.5);
        let want = 2.0 * (30f64.to_radians().tan() / m).atan().to_degrees();
        assert!((hfov - want).abs() < 1e-9, "{hfov} vs {want}");
        // Out-of-range reports are clamped, not extrapolated.
        assert_eq!(head.angles(3.0, 0.0, 0.0).0, 180.0);
    }
}
