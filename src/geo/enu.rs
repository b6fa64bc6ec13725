//! A local tangent plane: metres east and north of an origin, for the few kilometres a camera
//! sees. Uses the WGS-84 radii of curvature at the origin; within 10 km the flattening error is
//! centimetres, far below what pixels resolve. Height above the plane is handled by the callers
//! (earth curvature for long rays: [`curvature_drop`]).

/// WGS-84 semi-major axis, metres.
const A: f64 = 6_378_137.0;
/// WGS-84 first eccentricity squared.
const E2: f64 = 6.694_379_990_14e-3;
/// Mean earth radius, metres.
pub const EARTH_RADIUS_M: f64 = 6_371_000.0;
/// Standard coefficient of atmospheric refraction: light bends down, so the horizon looks
/// further away, as if the earth were 1 / (1 - k) times larger.
pub const REFRACTION_K: f64 = 0.13;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    pub lat0: f64,
    pub lon0: f64,
    /// Metres per radian of latitude (meridian radius) and of longitude (parallel radius).
    m: f64,
    n_cos: f64,
}

impl LocalFrame {
    pub fn new(lat0: f64, lon0: f64) -> Self {
        let phi = lat0.to_radians();
        let w = (1.0 - E2 * phi.sin().powi(2)).sqrt();
        LocalFrame {
            lat0,
            lon0,
            m: A * (1.0 - E2) / w.powi(3),
            n_cos: A / w * phi.cos(),
        }
    }

    /// (east, north) in metres of a WGS-84 point.
    pub fn to_local(&self, lat: f64, lon: f64) -> (f64, f64) {
        (
            (lon - self.lon0).to_radians() * self.n_cos,
            (lat - self.lat0).to_radians() * self.m,
        )
    }

    /// The WGS-84 point at (east, north) metres.
    pub fn to_wgs84(&self, east: f64, north: f64) -> (f64, f64) {
        (
            self.lat0 + (north / self.m).to_degrees(),
            self.lon0 + (east / self.n_cos).to_degrees(),
        )
    }
}

/// How far the ground at `distance_m` lies below the tangent plane, as a camera sees it
/// (curvature less standard refraction): 6.7 m at 10 km.
pub fn curvature_drop(distance_m: f64) -> f64 {
    distance_m * distance_m * (1.0 - REFRACTION_K) / (2.0 * EARTH_RADIUS_M)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_trip_is_exact_and_distances_match_the_ellipsoid() {
        let f = LocalFrame::new(30.2741, 120.1551);
        let (e, n) = f.to_local(30.2741 + 0.009, 120.1551 + 0.01);
        // One hundredth of a degree of longitude at 30.27° N is ~962 m; 0.009° of latitude ~997 m.
        assert!((e - 962.4).abs() < 1.0, "{e}");
        assert!((n - 997.5).abs() < 1.0, "{n}");
        let (lat, lon) = f.to_wgs84(e, n);
        assert!((lat - 30.2831).abs() < 1e-9 && (lon - 120.1651).abs() < 1e-9);
        assert!((curvature_drop(10_000.0) - 6.83).abs() < 0.05);
    }
}
