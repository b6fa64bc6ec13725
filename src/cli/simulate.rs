//! `lookout camera simulate`: serves a video file or a test pattern as an RTSP camera, with the
//! GStreamer RTSP server. For bench tests of a box without its cameras, for reproducing a field
//! problem from a recording, and for the recovery tests (kill it, start it again: a camera that
//! reboots).

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::{Args, ValueEnum};
use gstreamer as gst;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use super::BadInput;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimCodec {
    /// Pass the file's H.264 through untouched (MP4/MOV with H.264 video); no encoding cost.
    Copy,
    /// Decode and re-encode as H.264 (openh264).
    H264,
    /// Decode and re-encode as H.265 (x265).
    H265,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A video file, or test:PATTERN (ball, smpte, snow, …) for an endless test picture.
    pub source: String,
    /// TCP port of the RTSP server.
    #[arg(long, default_value_t = 8554)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Stream path: the camera URL is rtsp://ADDRESS:PORT/PATH.
    #[arg(long, default_value = "cam")]
    pub path: String,
    /// What goes on the wire. A file plays from its start for every new connection.
    #[arg(long, value_enum, default_value_t = SimCodec::Copy)]
    pub codec: SimCodec,
}

/// Quotes a value for a launch line: the file name is data, never pipeline syntax.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The media factory's launch line for `args`.
fn launch_line(args: &SimulateArgs) -> anyhow::Result<String> {
    let encode = |codec: SimCodec| {
        match codec {
        SimCodec::Copy | SimCodec::H264 => {
            "videoconvert ! video/x-raw,format=I420 ! openh264enc gop-size=25 ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1"
        }
        SimCodec::H265 => {
            "videoconvert ! video/x-raw,format=I420 ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=25 ! h265parse ! rtph265pay name=pay0 pt=96 config-interval=1"
        }
    }
    };
    if let Some(pattern) = args.source.strip_prefix("test:") {
        if !lookout::ingest::TEST_PATTERNS.contains(&pattern) {
            return Err(BadInput(format!(
                "unknown test pattern {pattern:?} (known: {})",
                lookout::ingest::TEST_PATTERNS.join(", ")
            ))
            .into());
        }
        return Ok(format!(
            "( videotestsrc is-live=true pattern={pattern} ! video/x-raw,width=640,height=360,framerate=25/1 ! {} )",
            encode(args.codec)
        ));
    }
    let file = PathBuf::from(&args.source);
    if !file.is_file() {
        return Err(BadInput(format!("video file {} does not exist", file.display())).into());
    }
    let location = quoted(&file.to_string_lossy());
    Ok(match args.codec {
        SimCodec::Copy => format!(
            "( filesrc location={location} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        ),
        codec => format!(
            "( filesrc location={location} ! decodebin ! {} )",
            encode(codec)
        ),
    })
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    gst::init().context("GStreamer")?;
    let launch = launch_line(&args)?;
    let server = rtsp::RTSPServer::new();
    server.set_address(&args.address);
    server.set_service(&args.port.to_string());
    let mounts = server
        .mount_points()
        .ok_or_else(|| anyhow!("the RTSP server has no mount points"))?;
    let factory = rtsp::RTSPMediaFactory::new();
    factory.set_launch(&launch);
    // Every client gets its own media, from the start of the file.
    factory.set_shared(false);
    let path = format!("/{}", args.path.trim_start_matches('/'));
    mounts.add_factory(&path, factory);
    server.attach(None).map_err(|e| {
        anyhow!(
            "cannot listen on {}:{} ({e}): is the port in use?",
            args.address,
            args.port
        )
    })?;
    println!(
        "serving {} as rtsp://{}:{}{path} ({:?}); Ctrl-C to stop",
        args.source, args.address, args.port, args.codec
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    gst::glib::MainLoop::new(None, false).run();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_cannot_inject_pipeline_syntax() {
        let dir = tempfile::tempdir().unwrap();
        let nasty = dir.path().join("a\" ! fakesink \"b.mp4");
        std::fs::write(&nasty, b"").unwrap();
        let line = launch_line(&SimulateArgs {
            source: nasty.to_string_lossy().into_owned(),
            port: 1,
            address: "127.0.0.1".into(),
            path: "cam".into(),
            codec: SimCodec::Copy,
        })
        .unwrap();
        gst::init().unwrap();
        let bin = gst::parse::launch(&line).expect("still one valid description");
        let bin = bin.downcast::<gst::Bin>().unwrap();
        let src = bin
            .iterate_recurse()
            .into_iter()
            .flatten()
            .find(|e| e.factory().is_some_and(|f| f.name() == "filesrc"))
            .unwrap();
        assert_eq!(
            src.property::<Option<String>>("location").as_deref(),
            Some(nasty.to_str().unwrap())
        );
    }
}
