//! Zones: polygons in normalised image coordinates.

use ::geo::{Contains, Coord, LineString, Point, Polygon};

use crate::config::ZoneConfig;

#[derive(Debug, Clone)]
pub struct Zone {
    pub id: String,
    pub name: String,
    pub points: Vec<[f64; 2]>,
    polygon: Polygon<f64>,
}

impl Zone {
    pub fn from_config(z: &ZoneConfig) -> Self {
        let ring: Vec<Coord<f64>> = z.polygon.iter().map(|&[x, y]| Coord { x, y }).collect();
        Zone {
            id: z.id.clone(),
            name: z.name.clone().unwrap_or_else(|| z.id.clone()),
            points: z.polygon.clone(),
            polygon: Polygon::new(LineString::from(ring), vec![]),
        }
    }

    /// Whether the normalised point lies inside the zone.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        self.polygon.contains(&Point::new(x, y))
    }
}
