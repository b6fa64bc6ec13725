//! Geo: where an incident is on the map. A service the orders stage calls.
//!
//! Three ways, per camera, best first:
//! - **homography** (`[cameras.calibration] gcp`): fixed cameras; the ground-contact point of the
//!   objects (bottom-centre of each box) through a homography solved from ground control points
//!   (`homography.rs`, in a local metric plane: `enu.rs`);
//! - **ray_cast** (`[cameras.pose]`): lookout/PTZ cameras; the pixel's ray onto the ground
//!   (`ptz.rs`), with an accuracy that grows with range and grazing angle;
//! - **camera_position**: the camera's surveyed position with its accuracy radius, for cameras
//!   without either, and for pixels the others cannot place (sky, beyond range).

pub mod enu;
pub mod homography;
pub mod ptz;
pub mod terrain;

use serde::{Deserialize, Serialize};

use crate::config::{CameraConfig, Config, KeyPath, LocationConfig, PoseConfig, Problem};
pub use homography::{calibrate, CalibrationError, Gcp, GroundCalibration};
pub use ptz::Pose;

/// A WGS-84 point with an accuracy radius and how it was obtained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    /// `homography`, `ray_cast` or `camera_position`.
    pub method: String,
    /// The same point as a GeoJSON geometry (`[lon, lat]`), for map clients.
    #[serde(default = "GeoJsonPoint::missing")]
    pub geojson: GeoJsonPoint,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoJsonPoint {
    #[serde(rename = "type")]
    pub kind: String,
    pub coordinates: [f64; 2],
}

impl GeoJsonPoint {
    fn at(lat: f64, lon: f64) -> Self {
        GeoJsonPoint {
            kind: "Point".into(),
            coordinates: [round(lon, 7), round(lat, 7)],
        }
    }
    fn missing() -> Self {
        GeoJsonPoint::at(0.0, 0.0)
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

fn location(lat: f64, lon: f64, accuracy_m: f64, method: &str) -> Location {
    Location {
        lat: round(lat, 7),
        lon: round(lon, 7),
        accuracy_m: round(accuracy_m, 1),
        method: method.into(),
        geojson: GeoJsonPoint::at(lat, lon),
    }
}

/// Location of an incident seen by a camera with a fixed position.
pub fn locate_fixed(camera: &LocationConfig) -> Location {
    location(camera.lat, camera.lon, camera.accuracy_m, "camera_position")
}

/// How a detection's box jitters, as a share of the frame: what a pixel error costs on the ground.
const BOX_JITTER: f64 = 0.01;

/// One camera's way of placing pixels on the map.
#[derive(Debug, Clone)]
pub enum Locator {
    Fixed(LocationConfig),
    Homography {
        camera: LocationConfig,
        calibration: Box<GroundCalibration>,
    },
    RayCast {
        camera: LocationConfig,
        pose: Pose,
        terrain: Option<std::sync::Arc<terrain::Terrain>>,
    },
}

impl Locator {
    /// The camera's locator; a calibration that does not solve is a config error caught by
    /// validation, so here it falls back to the camera's position.
    /// Builds a camera's locator, or says every reason it cannot at its key path (`at` is the
    /// camera's): a calibration that does not solve, a terrain grid that does not load or does
    /// not cover the camera. What `build::check` runs, so a config that passed builds here.
    pub fn build(camera: &CameraConfig, at: &KeyPath) -> Result<Locator, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut homography = None;
        if let Some(cal) = &camera.calibration {
            match calibrate(&gcps(&cal.gcp)) {
                Ok(c) => homography = Some(c),
                Err(e) => problems.push(Problem::new(
                    at.clone().key("calibration").key("gcp"),
                    format!("the calibration does not solve: {e}"),
                )),
            }
        }
        let mut terrain = None;
        if let Some(t) = camera.pose.as_ref().and_then(|p| p.terrain.as_ref()) {
            let key = at.clone().key("pose").key("terrain");
            match terrain::Terrain::load(t) {
                Ok(grid)
                    if grid
                        .elevation(camera.location.lat, camera.location.lon)
                        .is_none() =>
                {
                    problems.push(Problem::new(
                        key,
                        format!("{} does not cover the camera's location", t.display()),
                    ))
                }
                Ok(grid) => terrain = Some(std::sync::Arc::new(grid)),
                Err(e) => problems.push(Problem::new(key, e.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(match (homography, &camera.pose) {
            (Some(c), _) => Locator::Homography {
                camera: camera.location,
                calibration: Box::new(c),
            },
            (None, Some(p)) => Locator::RayCast {
                camera: camera.location,
                pose: pose(&camera.location, p),
                terrain,
            },
            (None, None) => Locator::Fixed(camera.location),
        })
    }

    /// The locator of a camera whose config passed [`Locator::build`]. Should a file have
    /// changed since (a terrain grid removed), the error is logged and the camera's incidents
    /// are placed at the camera itself, with its accuracy saying so.
    pub fn for_camera(camera: &CameraConfig) -> Locator {
        Locator::build(camera, &KeyPath::default()).unwrap_or_else(|problems| {
            for p in problems {
                tracing::error!(camera = %camera.id, key = %p.key, error = %p.message, "The camera's geo-location cannot be built; its incidents are placed at the camera.");
            }
            Locator::Fixed(camera.location)
        })
    }

    /// Every camera's geo problems in one config.
    pub fn check(config: &Config) -> Vec<Problem> {
        config
            .cameras
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let at = KeyPath::default().key("cameras").index(i);
                let own = Locator::build(c, &at).err().unwrap_or_default();
                // A preset's own calibration solves on its own.
                let presets = (0..c.presets.len())
                    .filter(|&k| c.presets[k].calibration.is_some())
                    .flat_map(move |k| {
                        Locator::build(&c.at_preset(k), &at)
                            .err()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|p| p.key.to_string().contains("calibration"))
                            .map(move |p| Problem {
                                key: c.preset_key(i, k, p.key),
                                ..p
                            })
                    });
                own.into_iter().chain(presets).collect::<Vec<_>>()
            })
            .collect()
    }

    /// The same camera with its head pointed elsewhere: a ray-casting locator takes the head's
    /// pan and downward tilt (degrees, added to the mounting heading and tilt) and the field of
    /// view at its zoom; other locators do not depend on where a head points.
    pub fn pointed(&self, pan_deg: f64, ptz_tilt_deg: f64, hfov_deg: f64) -> Locator {
        match self {
            Locator::RayCast {
                camera,
                pose,
                terrain,
            } => Locator::RayCast {
                camera: *camera,
                pose: Pose {
                    pan_deg,
                    ptz_tilt_deg,
                    hfov_deg,
                    ..*pose
                },
                terrain: terrain.clone(),
            },
            other => other.clone(),
        }
    }

    fn camera(&self) -> &LocationConfig {
        match self {
            Locator::Fixed(c) => c,
            Locator::Homography { camera, .. } | Locator::RayCast { camera, .. } => camera,
        }
    }

    /// Where the ground-contact points (normalised image coordinates) of an incident's objects
    /// are: their centroid on the ground. Points that cannot be placed are left out; when none
    /// can, the camera's position.
    pub fn locate(&self, contacts: &[(f64, f64)]) -> Location {
        let placed: Vec<(f64, f64, f64)> = match self {
            Locator::Fixed(_) => Vec::new(),
            Locator::Homography { calibration, .. } => contacts
                .iter()
                .filter_map(|&(x, y)| {
                    let (e, n) = calibration.to_local(x, y)?;
                    let jitter = calibration.metres_per_unit(x, y)? * BOX_JITTER;
                    Some((e, n, 2.0 * calibration.rms_m + jitter))
                })
                .collect(),
            Locator::RayCast { pose, terrain, .. } => {
                let frame = enu::LocalFrame::new(pose.lat, pose.lon);
                contacts
                    .iter()
                    .filter_map(|&(x, y)| {
                        let hit = cast(pose, terrain.as_deref(), x, y).ok()?;
                        let (e, n) = frame.to_local(hit.lat, hit.lon);
                        Some((e, n, hit.accuracy_m))
                    })
                    .collect()
            }
        };
        if placed.is_empty() {
            return locate_fixed(self.camera());
        }
        let k = placed.len() as f64;
        let (e, n) = placed
            .iter()
            .fold((0.0, 0.0), |(a, b), p| (a + p.0 / k, b + p.1 / k));
        // The group's own spread counts as uncertainty only beyond the points' accuracy.
        let accuracy = placed.iter().map(|p| p.2).fold(0.0, f64::max).max(0.5);
        let (frame, method) = match self {
            Locator::Homography { calibration, .. } => (calibration.frame, "homography"),
            Locator::RayCast { pose, .. } => (enu::LocalFrame::new(pose.lat, pose.lon), "ray_cast"),
            Locator::Fixed(_) => unreachable!("no points are placed without a calibration"),
        };
        let (lat, lon) = frame.to_wgs84(e, n);
        location(lat, lon, accuracy, method)
    }

    /// Ground area of a zone polygon in m², when the camera is calibrated and the zone lies
    /// below the horizon.
    pub fn zone_area(&self, polygon: &[[f64; 2]]) -> Option<f64> {
        match self {
            Locator::Homography { calibration, .. } => calibration.ground_area(polygon),
            Locator::RayCast { pose, terrain, .. } => {
                let frame = enu::LocalFrame::new(pose.lat, pose.lon);
                let pts: Option<Vec<(f64, f64)>> = polygon
                    .iter()
                    .map(|p| {
                        let hit = cast(pose, terrain.as_deref(), p[0], p[1]).ok()?;
                        Some(frame.to_local(hit.lat, hit.lon))
                    })
                    .collect();
                Some(polygon_area(&pts?))
            }
            Locator::Fixed(_) => None,
        }
    }
}

/// A pixel's ray onto the terrain grid when there is one, else onto flat ground.
fn cast(
    pose: &Pose,
    terrain: Option<&terrain::Terrain>,
    x: f64,
    y: f64,
) -> Result<ptz::RayHit, ptz::NoHit> {
    match terrain {
        Some(t) => pose.locate_on(x, y, t),
        None => pose.locate(x, y),
    }
}

/// Area of a polygon (shoelace), in the square of its coordinates' unit: m² in a metric plane.
pub(crate) fn polygon_area(pts: &[(f64, f64)]) -> f64 {
    let twice: f64 = (0..pts.len())
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum();
    twice.abs() / 2.0
}

/// Config GCP rows `[x, y, lat, lon]` as [`Gcp`]s.
pub fn gcps(rows: &[[f64; 4]]) -> Vec<Gcp> {
    rows.iter()
        .map(|r| Gcp {
            x: r[0],
            y: r[1],
            lat: r[2],
            lon: r[3],
        })
        .collect()
}

/// A config pose at the camera's location (its terrain grid is loaded by [`Locator`]).
pub fn pose(at: &LocationConfig, p: &PoseConfig) -> Pose {
    Pose {
        lat: at.lat,
        lon: at.lon,
        height_m: p.height_m,
        heading_deg: p.heading_deg,
        tilt_deg: p.tilt_deg,
        roll_deg: p.roll_deg,
        pan_deg: p.pan_deg,
        ptz_tilt_deg: p.ptz_tilt_deg,
        hfov_deg: p.hfov_deg,
        aspect: p.aspect,
        ground_offset_m: p.ground_offset_m,
        max_range_m: p.max_range_m,
        pointing_accuracy_deg: p.pointing_accuracy_deg,
    }
}
