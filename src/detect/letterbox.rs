//! Letterboxing: scale a frame into the model's input square keeping its aspect ratio, pad the
//! rest, and remember how to map boxes back.

use image::RgbImage;
use ndarray::Array4;

use super::manifest::{ChannelOrder, Contract, LetterboxAnchor};

/// How model-input coordinates map back to frame pixels: `frame = (input - pad) / scale`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub scale: f32,
    pub pad_x: f32,
    pub pad_y: f32,
}

impl Letterbox {
    pub fn to_frame(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_x) / self.scale, (y - self.pad_y) / self.scale)
    }
}

/// A frame scaled and padded to a model's input size, still as 8-bit RGB: what a camera queues
/// for a model (a quarter of the float tensor's bytes; the worker fills its own reused tensor).
#[derive(Debug, Clone, PartialEq)]
pub struct Letterboxed {
    pub width: u32,
    pub height: u32,
    /// Interleaved RGB, row by row.
    pub rgb: Vec<u8>,
}

impl Letterboxed {
    /// The NCHW tensor shape it fills.
    pub fn shape(&self) -> [usize; 4] {
        [1, 3, self.height as usize, self.width as usize]
    }

    /// Writes it into `tensor` (batch item `item`) per the contract: channel order and scale.
    pub fn fill(&self, c: &Contract, tensor: &mut ndarray::ArrayViewMut3<f32>) {
        let plane = self.width as usize * self.height as usize;
        let slice = tensor
            .as_slice_mut()
            .expect("the worker's tensors are contiguous");
        for k in 0..3 {
            let channel = match c.channel_order {
                ChannelOrder::Rgb => k,
                ChannelOrder::Bgr => 2 - k,
            };
            let out = &mut slice[channel * plane..(channel + 1) * plane];
            for (o, px) in out.iter_mut().zip(self.rgb.chunks_exact(3)) {
                *o = px[k] as f32 * c.scale;
            }
        }
    }

    /// As a fresh float tensor (tools and benchmarks; the workers reuse theirs).
    pub fn to_tensor(&self, c: &Contract) -> Array4<f32> {
        let mut t = Array4::<f32>::zeros(self.shape());
        self.fill(c, &mut t.index_axis_mut(ndarray::Axis(0), 0));
        t
    }
}

/// Fills an NCHW float tensor of `size` (width, height) from `image` per the contract (bilinear
/// resize, like OpenCV's `INTER_LINEAR` the models were trained with).
pub fn letterbox(image: &RgbImage, c: &Contract, size: (u32, u32)) -> (Array4<f32>, Letterbox) {
    let (pixels, lb) = letterbox_rgb(image, c, size);
    (pixels.to_tensor(c), lb)
}

/// Scales `image` into `size` (width, height) keeping its aspect ratio and pads the rest with the
/// contract's pad value (bilinear, like OpenCV's `INTER_LINEAR` the models were trained with, and
/// rounded to 8 bits as OpenCV's resize of an 8-bit image is).
pub fn letterbox_rgb(image: &RgbImage, c: &Contract, size: (u32, u32)) -> (Letterboxed, Letterbox) {
    letterbox_rgb_into(image, c, size, Vec::new())
}

/// As [`letterbox_rgb`], writing into `buffer` (a spare one from an earlier frame: the hot path
/// then allocates nothing).
pub fn letterbox_rgb_into(
    image: &RgbImage,
    c: &Contract,
    size: (u32, u32),
    mut buffer: Vec<u8>,
) -> (Letterboxed, Letterbox) {
    let (iw, ih) = (image.width() as usize, image.height() as usize);
    let (tw, th) = (size.0 as usize, size.1 as usize);
    let r = (tw as f32 / iw as f32).min(th as f32 / ih as f32);
    let nw = ((iw as f32 * r).round() as usize).clamp(1, tw);
    let nh = ((ih as f32 * r).round() as usize).clamp(1, th);
    let (pad_x, pad_y) = match c.letterbox {
        LetterboxAnchor::TopLeft => (0, 0),
        // Ultralytics rounds (d - 0.1) so odd padding goes to the right/bottom.
        LetterboxAnchor::Center => (
            ((tw - nw) as f32 / 2.0 - 0.1).round().max(0.0) as usize,
            ((th - nh) as f32 / 2.0 - 0.1).round().max(0.0) as usize,
        ),
    };
    let pad = c.pad_value;
    buffer.clear();
    buffer.resize(th * tw * 3, pad);
    let mut out = buffer;
    // Source sample positions, computed once per column and row.
    let sx = iw as f32 / nw as f32;
    let sy = ih as f32 / nh as f32;
    let taps = |n: usize, step: f32, limit: usize| -> Vec<(usize, usize, f32)> {
        (0..n)
            .map(|i| {
                let s = ((i as f32 + 0.5) * step - 0.5).max(0.0);
                let i0 = (s.floor() as usize).min(limit - 1);
                let i1 = (i0 + 1).min(limit - 1);
                (i0, i1, s - i0 as f32)
            })
            .collect()
    };
    let xs = taps(nw, sx, iw);
    let ys = taps(nh, sy, ih);
    let raw = image.as_raw();
    for (oy, &(y0, y1, fy)) in ys.iter().enumerate() {
        let row0 = &raw[y0 * iw * 3..(y0 + 1) * iw * 3];
        let row1 = &raw[y1 * iw * 3..(y1 + 1) * iw * 3];
        let out_row = (oy + pad_y) * tw + pad_x;
        for (ox, &(x0, x1, fx)) in xs.iter().enumerate() {
            for k in 0..3 {
                let a = row0[x0 * 3 + k] as f32;
                let b = row0[x1 * 3 + k] as f32;
                let cc = row1[x0 * 3 + k] as f32;
                let d = row1[x1 * 3 + k] as f32;
                let top = a + (b - a) * fx;
                let bottom = cc + (d - cc) * fx;
                let v = top + (bottom - top) * fy;
                out[(out_row + ox) * 3 + k] = (v + 0.5) as u8;
            }
        }
    }
    (
        Letterboxed {
            width: tw as u32,
            height: th as u32,
            rgb: out,
        },
        Letterbox {
            scale: r,
            pad_x: pad_x as f32,
            pad_y: pad_y as f32,
        },
    )
}
