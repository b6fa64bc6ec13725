//! The picture side of a simulated PTZ camera: an RTSP stream (GStreamer's RTSP server, H.264)
//! whose view follows the ONVIF simulator's head. The "world" is a real clip from the shared
//! media, looped; the camera sees a crop of it centred where the head points (pan moves the crop
//! sideways, tilt up and down), so each preset is a different part of the scene, and while the
//! head travels the crop slides across and the picture is smeared, as a real head's is.
//! A preset can be made to drift ([`PtzCamera::drift`]): its view then comes out shifted by a
//! share of the frame, as a camera whose preset slipped after maintenance.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;
use image::RgbImage;

use super::onvif::OnvifSim;

/// Output picture size and rate.
const W: u32 = 640;
const H: u32 = 360;
const FPS: u32 = 10;
/// The crop is this share of the world's width and height.
const CROP: f64 = 0.45;

pub struct PtzCamera {
    pub port: u16,
    drift: Arc<Mutex<HashMap<String, f64>>>,
    _main: gst::glib::MainLoop,
}

impl PtzCamera {
    /// Serves rtsp://127.0.0.1:PORT/ptz, the picture following `sim`'s head over `clip`.
    pub fn start(clip: &Path, sim: &OnvifSim) -> PtzCamera {
        gst::init().unwrap();
        let world = Arc::new(decode(clip));
        assert!(!world.is_empty(), "no frames in {}", clip.display());
        let port = super::free_port();
        let server = rtsp::RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let factory = rtsp::RTSPMediaFactory::new();
        factory.set_launch(&format!(
            "( appsrc name=world is-live=true format=time do-timestamp=true caps=video/x-raw,format=RGB,width={W},height={H},framerate={FPS}/1 ! videoconvert ! video/x-raw,format=I420 ! openh264enc gop-size={FPS} ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        ));
        factory.set_shared(true);
        let drift: Arc<Mutex<HashMap<String, f64>>> = Arc::default();
        let head = sim.head_reader();
        let d = drift.clone();
        factory.connect_media_configure(move |_, media| {
            let bin = media.element().downcast::<gst::Bin>().unwrap();
            let src = bin
                .by_name_recurse_up("world")
                .or_else(|| bin.by_name("world"))
                .expect("appsrc world")
                .downcast::<gst_app::AppSrc>()
                .unwrap();
            let (world, head, drift) = (world.clone(), head.clone(), d.clone());
            std::thread::spawn(move || feed(src, &world, &*head, &drift));
        });
        server.mount_points().unwrap().add_factory("/ptz", factory);
        let ctx = gst::glib::MainContext::new();
        server.attach(Some(&ctx)).expect("RTSP server listens");
        let main = gst::glib::MainLoop::new(Some(&ctx), false);
        let m = main.clone();
        std::thread::spawn(move || m.run());
        PtzCamera {
            port,
            drift,
            _main: main,
        }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/ptz", self.port)
    }

    /// From now on the preset `token`'s view comes out shifted sideways by `share` of the frame.
    pub fn drift(&self, token: &str, share: f64) {
        self.drift.lock().unwrap().insert(token.to_owned(), share);
    }
}

impl Drop for PtzCamera {
    fn drop(&mut self) {
        self._main.quit();
    }
}

/// The clip's frames at [`FPS`], decoded once.
fn decode(clip: &Path) -> Vec<RgbImage> {
    let pipeline = gst::Pipeline::new();
    let src = gst::ElementFactory::make("filesrc")
        .property("location", clip.to_str().unwrap())
        .build()
        .unwrap();
    let decode = gst::ElementFactory::make("decodebin").build().unwrap();
    let convert = gst::ElementFactory::make("videoconvert").build().unwrap();
    let rate = gst::ElementFactory::make("videorate").build().unwrap();
    let sink = gst_app::AppSink::builder()
        .caps(
            &gst::Caps::builder("video/x-raw")
                .field("format", "RGB")
                .field("framerate", gst::Fraction::new(FPS as i32, 1))
                .build(),
        )
        .sync(false)
        .build();
    pipeline
        .add_many([&src, &decode, &convert, &rate, sink.upcast_ref()])
        .unwrap();
    src.link(&decode).unwrap();
    gst::Element::link_many([&convert, &rate, sink.upcast_ref()]).unwrap();
    let convert_weak = convert.downgrade();
    decode.connect_pad_added(move |_, pad| {
        let Some(convert) = convert_weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap();
        if caps.structure(0).unwrap().name().starts_with("video/") {
            let _ = pad.link(&convert.static_pad("sink").unwrap());
        }
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut frames = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let caps = sample.caps().unwrap();
        let info = gstreamer_video::VideoInfo::from_caps(caps).unwrap();
        let buffer = sample.buffer().unwrap().map_readable().unwrap();
        let (w, h, stride) = (info.width(), info.height(), info.stride()[0] as usize);
        let mut img = RgbImage::new(w, h);
        for y in 0..h as usize {
            let row = &buffer[y * stride..y * stride + w as usize * 3];
            img.as_mut()[y * w as usize * 3..(y + 1) * w as usize * 3].copy_from_slice(row);
        }
        frames.push(img);
    }
    pipeline.set_state(gst::State::Null).unwrap();
    frames
}

/// The view at a head position: a crop of the world centred by pan and tilt.
fn view(world: &RgbImage, pan: f64, tilt: f64, drift: f64) -> RgbImage {
    let (ww, wh) = (world.width() as f64, world.height() as f64);
    let (cw, ch) = (ww * CROP, wh * CROP);
    let cx = (0.5 + pan * 0.55 + drift * CROP) * ww;
    let cy = (0.5 - tilt * 0.5) * wh;
    let x = (cx - cw / 2.0).clamp(0.0, ww - cw);
    let y = (cy - ch / 2.0).clamp(0.0, wh - ch);
    let crop =
        image::imageops::crop_imm(world, x as u32, y as u32, cw as u32, ch as u32).to_image();
    image::imageops::resize(&crop, W, H, image::imageops::FilterType::Triangle)
}

/// A moving head's smear: down to an eighth and back up.
fn smear(img: &RgbImage) -> RgbImage {
    let small = image::imageops::resize(img, W / 8, H / 8, image::imageops::FilterType::Triangle);
    image::imageops::resize(&small, W, H, image::imageops::FilterType::Triangle)
}

fn feed(
    src: gst_app::AppSrc,
    world: &[RgbImage],
    head: &(dyn Fn() -> ((f32, f32, f32), bool, Option<String>) + Send + Sync),
    drift: &Mutex<HashMap<String, f64>>,
) {
    let start = Instant::now();
    for n in 0u64.. {
        let ((pan, tilt, _zoom), moving, preset) = head();
        let shift = preset
            .filter(|_| !moving)
            .and_then(|p| drift.lock().unwrap().get(&p).copied())
            .unwrap_or(0.0);
        let frame = &world[n as usize % world.len()];
        let mut picture = view(frame, pan as f64, tilt as f64, shift);
        if moving {
            picture = smear(&picture);
        }
        let buffer = gst::Buffer::from_mut_slice(picture.into_raw());
        if src.push_buffer(buffer).is_err() {
            return;
        }
        let due = start + Duration::from_millis((n + 1) * 1000 / FPS as u64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}
