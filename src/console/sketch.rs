//! The order page's map without a map: a small SVG in metres east and north of the camera —
//! the camera, the incident's point and its accuracy circle, north, a scale bar, and the
//! distance and bearing in words. No tiles, so it works on a box with no internet and leaks no
//! location to a tile server.

use std::fmt::Write;

use crate::config::Language;
use crate::geo::enu::LocalFrame;

/// Side of the drawing, in SVG units (pixels at 1:1).
const SIZE: f64 = 240.0;

/// Where the incident is from the camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offset {
    pub east_m: f64,
    pub north_m: f64,
    pub distance_m: f64,
    /// Degrees clockwise from north.
    pub bearing_deg: f64,
}

pub fn offset(camera: (f64, f64), incident: (f64, f64)) -> Offset {
    let (east_m, north_m) = LocalFrame::new(camera.0, camera.1).to_local(incident.0, incident.1);
    Offset {
        east_m,
        north_m,
        distance_m: east_m.hypot(north_m),
        bearing_deg: east_m.atan2(north_m).to_degrees().rem_euclid(360.0),
    }
}

/// A round scale-bar length (1, 2 or 5 × 10ⁿ m) close to a quarter of `extent_m`.
fn scale_bar(extent_m: f64) -> f64 {
    let target = extent_m / 4.0;
    let decade = 10f64.powf(target.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|k| k * decade)
        .min_by(|a, b| (a - target).abs().total_cmp(&(b - target).abs()))
        .unwrap_or(decade)
}

fn metres(m: f64) -> String {
    if m >= 1000.0 {
        format!("{:.1} km", m / 1000.0)
    } else {
        format!("{m:.0} m")
    }
}

/// The SVG: the camera at the centre, north up, drawn to a scale that holds the incident and
/// its accuracy circle.
pub fn svg(o: &Offset, accuracy_m: f64, camera_label: &str, incident_label: &str) -> String {
    let half_extent = (o.distance_m + accuracy_m).max(accuracy_m).max(20.0) * 1.15;
    let k = (SIZE / 2.0 - 12.0) / half_extent;
    let c = SIZE / 2.0;
    let (x, y) = (c + o.east_m * k, c - o.north_m * k);
    let bar = scale_bar(2.0 * half_extent);
    let mut s = format!(
        "<svg id=\"sketch\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{SIZE}\" height=\"{SIZE}\" viewBox=\"0 0 {SIZE} {SIZE}\" role=\"img\">\
         <rect width=\"{SIZE}\" height=\"{SIZE}\" fill=\"#fff\" stroke=\"#c9ccd3\"/>"
    );
    // The accuracy circle, the line of sight, the incident and the camera.
    let _ = write!(
        s,
        "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill=\"#c62828\" fill-opacity=\"0.12\" stroke=\"#c62828\" stroke-dasharray=\"4 3\"/>\
         <line x1=\"{c}\" y1=\"{c}\" x2=\"{x:.1}\" y2=\"{y:.1}\" stroke=\"#8a8f99\" stroke-dasharray=\"2 3\"/>\
         <circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#c62828\"/>\
         {inc}\
         <rect x=\"{cx0}\" y=\"{cx0}\" width=\"8\" height=\"8\" fill=\"#1d2330\"/>\
         <text x=\"{ctx}\" y=\"{cty}\" font-size=\"11\" fill=\"#1d2330\">{cam}</text>",
        r = (accuracy_m * k).max(4.0),
        // At (or nearly at) the camera the circle says it all: no label over the camera's.
        inc = if (x - c).hypot(y - c) < 12.0 {
            String::new()
        } else {
            format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#c62828\">{}</text>",
                x + 6.0,
                y - 6.0,
                super::pages::esc(incident_label)
            )
        },
        cx0 = c - 4.0,
        ctx = c + 7.0,
        cty = c + 14.0,
        cam = super::pages::esc(camera_label),
    );
    // North, and the scale bar.
    let _ = write!(
        s,
        "<path d=\"M{n} 10 L{nl} 26 L{n} 22 L{nr} 26 Z\" fill=\"#1d2330\"/><text x=\"{nt}\" y=\"38\" font-size=\"10\">N</text>\
         <line x1=\"10\" y1=\"{by}\" x2=\"{bx:.1}\" y2=\"{by}\" stroke=\"#1d2330\" stroke-width=\"2\"/>\
         <text x=\"10\" y=\"{bty}\" font-size=\"10\">{bar}</text></svg>",
        n = SIZE - 20.0,
        nl = SIZE - 26.0,
        nr = SIZE - 14.0,
        nt = SIZE - 24.0,
        by = SIZE - 10.0,
        bx = 10.0 + bar * k,
        bty = SIZE - 14.0,
        bar = metres(bar),
    );
    s
}

/// The offset in words: "From the camera: 1.2 km at 47° (NE)", or that the point is the
/// camera's own (an order located by the camera's position alone).
pub fn words(o: &Offset, accuracy_m: f64, language: Language) -> String {
    const POINTS: [(&str, &str); 8] = [
        ("北", "N"),
        ("东北", "NE"),
        ("东", "E"),
        ("东南", "SE"),
        ("南", "S"),
        ("西南", "SW"),
        ("西", "W"),
        ("西北", "NW"),
    ];
    let (zh, en) = POINTS[((o.bearing_deg + 22.5) / 45.0) as usize % 8];
    let (d, a) = (metres(o.distance_m), metres(accuracy_m));
    match (o.distance_m < 1.0, language) {
        (true, Language::Zh) => format!("位于摄像机处（±{a}）"),
        (true, Language::En) => format!("At the camera itself (±{a})"),
        (false, Language::Zh) => format!("距摄像机 {d}，方位 {:.0}°（{zh}），±{a}", o.bearing_deg),
        (false, Language::En) => {
            format!("From the camera: {d} at {:.0}° ({en}), ±{a}", o.bearing_deg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_north_east_of_the_camera_is_drawn_up_and_right_within_the_picture() {
        let cam = (30.2712, 120.1603);
        // About 700 m east and 700 m north.
        let o = offset(cam, (30.2712 + 0.0063, 120.1603 + 0.00727));
        assert!((o.distance_m - 990.0).abs() < 20.0, "{o:?}");
        assert!((o.bearing_deg - 45.0).abs() < 2.0, "{o:?}");
        assert_eq!(
            words(&o, 150.0, Language::En),
            "From the camera: 988 m at 45° (NE), ±150 m"
        );
        assert_eq!(
            words(&o, 150.0, Language::Zh),
            "距摄像机 988 m，方位 45°（东北），±150 m"
        );
        let svg = svg(&o, 150.0, "cam", "fire");
        // The incident's dot: right of and above the centre, inside the frame.
        let dot = svg
            .split("<circle cx=\"")
            .nth(2)
            .and_then(|r| r.split('"').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap();
        assert!(dot > SIZE / 2.0 && dot < SIZE, "{dot}");
        assert!(svg.contains(">200 m<") || svg.contains(">500 m<"), "{svg}");
    }

    #[test]
    fn an_order_at_the_camera_itself_is_a_circle_around_it() {
        let o = offset((30.0, 120.0), (30.0, 120.0));
        assert_eq!(o.distance_m, 0.0);
        assert_eq!(
            words(&o, 40.0, Language::En),
            "At the camera itself (±40 m)"
        );
        let svg = svg(&o, 40.0, "cam", "crowd");
        assert!(svg.contains("cx=\"120.0\" cy=\"120.0\""), "{svg}");
    }

    #[test]
    fn scale_bars_are_round() {
        assert_eq!(scale_bar(100.0), 20.0);
        assert_eq!(scale_bar(2300.0), 500.0);
        assert_eq!(scale_bar(4.0), 1.0);
    }
}
