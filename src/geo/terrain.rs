//! A terrain grid for lookout cameras over hills: an ESRI ASCII grid (`.asc`, what GDAL and
//! most GIS tools export from SRTM/ASTER DEMs) in WGS-84 degrees, elevations in metres.
//!
//! ```text
//! ncols 4
//! nrows 3
//! xllcorner 120.10      (west edge, degrees of longitude)
//! yllcorner 30.20       (south edge, degrees of latitude)
//! cellsize 0.001        (degrees)
//! NODATA_value -9999    (optional)
//! 12 13 15 18           (north row first)
//! …
//! ```

use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Terrain {
    ncols: usize,
    nrows: usize,
    west: f64,
    south: f64,
    cell: f64,
    nodata: Option<f64>,
    /// Row-major, north row first.
    heights: Vec<f64>,
}

#[derive(Debug, thiserror::Error)]
#[error("terrain grid {path}: {why}")]
pub struct TerrainError {
    path: String,
    why: String,
}

impl Terrain {
    pub fn load(path: &Path) -> Result<Terrain, TerrainError> {
        let fail = |why: String| TerrainError {
            path: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        Terrain::parse(&text).map_err(fail)
    }

    pub fn parse(text: &str) -> Result<Terrain, String> {
        let mut header = std::collections::HashMap::new();
        let mut values = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let mut parts = line.split_whitespace().peekable();
            let Some(first) = parts.peek().copied() else {
                continue;
            };
            if first
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && values.is_empty()
            {
                let key = first.to_ascii_lowercase();
                parts.next();
                let v: f64 = parts
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("line {}: {key} needs a number", n + 1))?;
                header.insert(key, v);
                continue;
            }
            for p in parts {
                values.push(
                    p.parse::<f64>()
                        .map_err(|_| format!("line {}: {p:?} is not a number", n + 1))?,
                );
            }
        }
        let get = |k: &str| {
            header
                .get(k)
                .copied()
                .ok_or_else(|| format!("the header has no {k}"))
        };
        let (ncols, nrows) = (get("ncols")? as usize, get("nrows")? as usize);
        let cell = get("cellsize")?;
        if ncols < 2 || nrows < 2 || cell <= 0.0 {
            return Err("the grid needs at least 2×2 cells and a positive cellsize".into());
        }
        if values.len() != ncols * nrows {
            return Err(format!(
                "{} values for a {ncols}×{nrows} grid",
                values.len()
            ));
        }
        Ok(Terrain {
            ncols,
            nrows,
            west: get("xllcorner")?,
            south: get("yllcorner")?,
            cell,
            nodata: header.get("nodata_value").copied(),
            heights: values,
        })
    }

    /// Ground elevation in metres at a point (bilinear between cell centres); `None` outside the
    /// grid or on missing data.
    pub fn elevation(&self, lat: f64, lon: f64) -> Option<f64> {
        // Cell centres: column c at west + (c + 0.5) cell; row r (north first) at
        // south + (nrows - r - 0.5) cell.
        let fx = (lon - self.west) / self.cell - 0.5;
        let fy = (self.south + self.nrows as f64 * self.cell - lat) / self.cell - 0.5;
        // A hair of tolerance: a point exactly on an outer cell centre is inside.
        let eps = 1e-9;
        let (xmax, ymax) = ((self.ncols - 1) as f64, (self.nrows - 1) as f64);
        if fx < -eps || fy < -eps || fx > xmax + eps || fy > ymax + eps {
            return None;
        }
        let (fx, fy) = (fx.clamp(0.0, xmax), fy.clamp(0.0, ymax));
        let (c0, r0) = (fx.floor() as usize, fy.floor() as usize);
        let (c1, r1) = ((c0 + 1).min(self.ncols - 1), (r0 + 1).min(self.nrows - 1));
        let (tx, ty) = (fx - c0 as f64, fy - r0 as f64);
        let at = |r: usize, c: usize| {
            let v = self.heights[r * self.ncols + c];
            (Some(v) != self.nodata).then_some(v)
        };
        let top = at(r0, c0)? * (1.0 - tx) + at(r0, c1)? * tx;
        let bottom = at(r1, c0)? * (1.0 - tx) + at(r1, c1)? * tx;
        Some(top * (1.0 - ty) + bottom * ty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_is_read_and_interpolated_and_bad_ones_are_named() {
        let t = Terrain::parse(
            "ncols 3\nnrows 2\nxllcorner 120.0\nyllcorner 30.0\ncellsize 0.01\nNODATA_value -9999\n10 20 30\n0 10 -9999\n",
        )
        .unwrap();
        // Centres: north row at lat 30.015, south row at 30.005; columns at 120.005/.015/.025.
        assert_eq!(t.elevation(30.015, 120.005), Some(10.0));
        assert!((t.elevation(30.010, 120.010).unwrap() - 10.0).abs() < 1e-9);
        assert_eq!(t.elevation(30.005, 120.025), None, "no data");
        assert_eq!(t.elevation(29.0, 120.0), None, "outside");
        assert!(
            Terrain::parse("ncols 2\nnrows 2\nxllcorner 0\nyllcorner 0\ncellsize 1\n1 2 3\n")
                .unwrap_err()
                .contains("3 values for a 2×2 grid")
        );
    }
}
