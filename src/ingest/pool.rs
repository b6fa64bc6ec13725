//! A camera's pool of decoded RGB frames, so the hot path does not allocate a full frame per
//! frame.
//!
//! A frame travels the line as an `Arc<RgbImage>` (the models, the tracker's evidence, the
//! rules' thumbnails all read it); once every holder has let go, its buffer is free again and
//! the next frame is copied into it. A frame someone keeps (a left object's reference view) just
//! stays out of the pool; when every pooled buffer is busy a fresh one is allocated, and kept
//! only while the pool has room, so the pool's memory is bounded by `capacity` frames.

use std::sync::Arc;

use image::RgbImage;

/// Frames a camera has in use at once in the worst case: one being filled, one waiting in the
/// appsink, up to `queue_per_camera` + workers in the inference pipeline, one being judged.
pub const DEFAULT_CAPACITY: usize = 8;

#[derive(Debug)]
pub struct FramePool {
    frames: Vec<Arc<RgbImage>>,
    capacity: usize,
    allocated: u64,
}

impl FramePool {
    pub fn new(capacity: usize) -> Self {
        FramePool {
            frames: Vec::new(),
            capacity: capacity.max(1),
            allocated: 0,
        }
    }

    /// A `width`×`height` frame filled by `fill` (given the frame's rows, `width * 3` bytes
    /// each, top to bottom), in a pooled buffer when one is free. `None` when `fill` says the
    /// source was short.
    pub fn frame(
        &mut self,
        width: u32,
        height: u32,
        fill: impl FnOnce(&mut [u8]) -> Option<()>,
    ) -> Option<Arc<RgbImage>> {
        let free = self
            .frames
            .iter_mut()
            .position(|f| Arc::get_mut(f).is_some());
        let slot = match free {
            Some(i) => {
                if self.frames[i].dimensions() != (width, height) {
                    // The stream changed size: the old buffer will not be used again.
                    self.frames[i] = self.fresh(width, height);
                }
                &mut self.frames[i]
            }
            None if self.frames.len() < self.capacity => {
                let fresh = self.fresh(width, height);
                self.frames.push(fresh);
                self.frames.last_mut()?
            }
            None => {
                let mut fresh = self.fresh(width, height);
                fill(Arc::get_mut(&mut fresh)?.as_mut())?;
                return Some(fresh);
            }
        };
        fill(Arc::get_mut(slot)?.as_mut())?;
        Some(slot.clone())
    }

    /// Full-frame buffers allocated so far (the pool's own and overflow ones).
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    fn fresh(&mut self, width: u32, height: u32) -> Arc<RgbImage> {
        self.allocated += 1;
        Arc::new(RgbImage::new(width, height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill_with(v: u8) -> impl FnOnce(&mut [u8]) -> Option<()> {
        move |buf| {
            buf.fill(v);
            Some(())
        }
    }

    #[test]
    fn a_released_frame_is_reused_and_a_held_one_is_not_overwritten() {
        let mut pool = FramePool::new(4);
        let a = pool.frame(4, 2, fill_with(1)).unwrap();
        drop(a);
        let b = pool.frame(4, 2, fill_with(2)).unwrap();
        assert_eq!(pool.allocated(), 1, "the released buffer was reused");
        let c = pool.frame(4, 2, fill_with(3)).unwrap();
        assert_eq!(pool.allocated(), 2);
        assert!(b.iter().all(|&v| v == 2), "a held frame keeps its pixels");
        assert!(c.iter().all(|&v| v == 3));
    }

    #[test]
    fn a_full_pool_allocates_without_growing_and_a_new_size_replaces_buffers() {
        let mut pool = FramePool::new(2);
        let held: Vec<_> = (0..3)
            .map(|i| pool.frame(2, 2, fill_with(i)).unwrap())
            .collect();
        assert_eq!(pool.frames.len(), 2, "bounded by its capacity");
        drop(held);
        let big = pool.frame(8, 8, fill_with(9)).unwrap();
        assert_eq!(big.dimensions(), (8, 8));
        assert!(
            pool.frame(2, 2, |_| None).is_none(),
            "a short source gives no frame"
        );
    }
}
