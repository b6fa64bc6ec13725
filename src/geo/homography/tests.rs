use super::*;
use crate::geo::ptz::Pose;

/// A street camera 8 m up a pole, looking 35° down: the synthetic truth.
fn pole() -> Pose {
    Pose {
        lat: 30.2712,
        lon: 120.1603,
        height_m: 8.0,
        heading_deg: 120.0,
        tilt_deg: 35.0,
        roll_deg: 1.0,
        pan_deg: 0.0,
        ptz_tilt_deg: 0.0,
        hfov_deg: 70.0,
        aspect: 16.0 / 9.0,
        ground_offset_m: 0.0,
        max_range_m: 1000.0,
        pointing_accuracy_deg: 0.1,
    }
}

/// A ground point `(along, across)` metres from the camera's foot, as a GCP.
fn gcp(along: f64, across: f64) -> Gcp {
    let p = pole();
    let h = p.heading_deg.to_radians();
    let (e, n) = (
        along * h.sin() + across * h.cos(),
        along * h.cos() - across * h.sin(),
    );
    let (x, y) = p.project(e, n, 0.0).expect("in view");
    let (lat, lon) = LocalFrame::new(p.lat, p.lon).to_wgs84(e, n);
    Gcp { x, y, lat, lon }
}

fn six() -> Vec<Gcp> {
    vec![
        gcp(8.0, -3.0),
        gcp(9.0, 4.0),
        gcp(14.0, 0.0),
        gcp(20.0, -8.0),
        gcp(22.0, 9.0),
        gcp(30.0, 2.0),
    ]
}

fn max_error(cal: &GroundCalibration) -> f64 {
    let mut worst: f64 = 0.0;
    for along in [7.0, 12.0, 18.0, 25.0, 35.0] {
        for across in [-6.0, -2.0, 0.0, 3.0, 7.0] {
            let truth = gcp(along, across);
            if !(0.0..=1.0).contains(&truth.x) || !(0.0..=1.0).contains(&truth.y) {
                continue;
            }
            let (lat, lon) = cal.to_wgs84(truth.x, truth.y).expect("below the horizon");
            let (e, n) = cal.frame.to_local(lat, lon);
            let (te, tn) = cal.frame.to_local(truth.lat, truth.lon);
            worst = worst.max((e - te).hypot(n - tn));
        }
    }
    worst
}

#[test]
fn noise_free_points_are_recovered_within_half_a_metre() {
    let cal = calibrate(&six()).unwrap();
    assert!(cal.rms_m < 0.01, "{}", cal.rms_m);
    assert!(cal.outliers.is_empty());
    let worst = max_error(&cal);
    eprintln!(
        "homography, 6 points: rms {:.4} m, worst recovery {worst:.4} m",
        cal.rms_m
    );
    assert!(worst < 0.5, "worst recovery error {worst:.3} m");
    // Exactly four points also solve (with no redundancy to check them).
    let four = calibrate(&six()[..4]).unwrap();
    assert!(max_error(&four) < 0.5);
}

#[test]
fn one_gross_outlier_is_found_named_and_left_out() {
    let mut points = six();
    points[3].lat += 0.0002; // 22 m north: a typo in the survey
    let cal = calibrate(&points).unwrap();
    assert_eq!(cal.outliers, [3]);
    assert!(cal.errors_m[3] > 10.0, "{:?}", cal.errors_m);
    assert!(max_error(&cal) < 0.5);
}

#[test]
fn degenerate_inputs_are_refused_with_the_reason() {
    assert_eq!(
        calibrate(&six()[..3]).unwrap_err(),
        CalibrationError::TooFew(3)
    );
    let mut outside = six();
    outside[2].x = 1.3;
    assert!(matches!(
        calibrate(&outside),
        Err(CalibrationError::OutsideImage { index: 3, .. })
    ));
    let line: Vec<Gcp> = [8.0, 12.0, 16.0, 20.0, 24.0]
        .iter()
        .map(|&a| gcp(a, 0.0))
        .collect();
    let e = calibrate(&line).unwrap_err();
    assert!(matches!(e, CalibrationError::Collinear(_)), "{e}");
    let mut two_bad = six();
    two_bad[1].lon += 0.0003;
    two_bad[4].lat -= 0.0003;
    let e = calibrate(&two_bad).unwrap_err();
    assert!(matches!(e, CalibrationError::TooManyOutliers { .. }), "{e}");
    assert!(e.to_string().contains("more than one point is wrong"));
    let mut dup = six();
    dup[5] = dup[0];
    assert!(matches!(
        calibrate(&dup),
        Err(CalibrationError::Duplicate { a: 1, b: 6, .. })
    ));
}

#[test]
fn a_zone_reports_its_ground_area() {
    let cal = calibrate(&six()).unwrap();
    let corners = [
        gcp(10.0, -4.0),
        gcp(10.0, 4.0),
        gcp(20.0, 4.0),
        gcp(20.0, -4.0),
    ];
    let polygon: Vec<[f64; 2]> = corners.iter().map(|g| [g.x, g.y]).collect();
    let area = cal.ground_area(&polygon).unwrap();
    assert!((area - 80.0).abs() < 1.0, "10 m × 8 m: {area:.2} m²");
}
