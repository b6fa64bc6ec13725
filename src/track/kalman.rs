//! Constant-velocity Kalman filter over (centre x, centre y, aspect ratio w/h, height), the state
//! space of SORT/DeepSORT/ByteTrack, with their noise weights (relative to the box height).

use nalgebra::{SMatrix, SVector};

pub type State = SVector<f32, 8>;
pub type Covariance = SMatrix<f32, 8, 8>;
pub type Measurement = SVector<f32, 4>;

const STD_POSITION: f32 = 1.0 / 20.0;
const STD_VELOCITY: f32 = 1.0 / 160.0;

#[derive(Debug, Clone)]
pub struct KalmanBox {
    pub mean: State,
    pub covariance: Covariance,
}

fn motion() -> SMatrix<f32, 8, 8> {
    let mut f = SMatrix::<f32, 8, 8>::identity();
    for i in 0..4 {
        f[(i, i + 4)] = 1.0;
    }
    f
}

fn observation() -> SMatrix<f32, 4, 8> {
    let mut h = SMatrix::<f32, 4, 8>::zeros();
    for i in 0..4 {
        h[(i, i)] = 1.0;
    }
    h
}

impl KalmanBox {
    pub fn new(z: Measurement) -> Self {
        let h = z[3];
        let std = [
            2.0 * STD_POSITION * h,
            2.0 * STD_POSITION * h,
            1e-2,
            2.0 * STD_POSITION * h,
            10.0 * STD_VELOCITY * h,
            10.0 * STD_VELOCITY * h,
            1e-5,
            10.0 * STD_VELOCITY * h,
        ];
        let mut mean = State::zeros();
        mean.fixed_rows_mut::<4>(0).copy_from(&z);
        KalmanBox {
            mean,
            covariance: Covariance::from_diagonal(&SVector::from(std.map(|s| s * s))),
        }
    }

    pub fn predict(&mut self) {
        let h = self.mean[3];
        let std = [
            STD_POSITION * h,
            STD_POSITION * h,
            1e-2,
            STD_POSITION * h,
            STD_VELOCITY * h,
            STD_VELOCITY * h,
            1e-5,
            STD_VELOCITY * h,
        ];
        let q = Covariance::from_diagonal(&SVector::from(std.map(|s| s * s)));
        let f = motion();
        self.mean = f * self.mean;
        self.covariance = f * self.covariance * f.transpose() + q;
    }

    pub fn update(&mut self, z: Measurement) {
        let h = self.mean[3];
        let std = [STD_POSITION * h, STD_POSITION * h, 1e-1, STD_POSITION * h];
        let r = SMatrix::<f32, 4, 4>::from_diagonal(&SVector::from(std.map(|s| s * s)));
        let hm = observation();
        let s = hm * self.covariance * hm.transpose() + r;
        let Some(s_inv) = s.try_inverse() else {
            // A degenerate covariance: trust the measurement.
            *self = KalmanBox::new(z);
            return;
        };
        let k = self.covariance * hm.transpose() * s_inv;
        let innovation = z - hm * self.mean;
        self.mean += k * innovation;
        self.covariance -= k * s * k.transpose();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_constant_velocity() {
        let mut kf = KalmanBox::new(Measurement::new(100.0, 100.0, 0.5, 80.0));
        for step in 1..=20 {
            kf.predict();
            kf.update(Measurement::new(
                100.0 + 5.0 * step as f32,
                100.0,
                0.5,
                80.0,
            ));
        }
        kf.predict();
        assert!((kf.mean[0] - 205.0).abs() < 2.0, "x {}", kf.mean[0]);
        assert!((kf.mean[4] - 5.0).abs() < 0.5, "vx {}", kf.mean[4]);
    }
}
