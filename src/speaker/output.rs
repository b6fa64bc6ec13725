//! The three ways a prompt reaches a speaker.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::Announcement;
use crate::config::{SpeakerConfig, SpeakerOutput};

#[derive(Debug, thiserror::Error)]
pub enum SpeakerError {
    #[error("speaker {speaker}: prompt file {path} does not exist (lookout prompt generate writes the defaults)")]
    NoPrompt { speaker: String, path: PathBuf },
    #[error("speaker {speaker}: audio output failed: {}", crate::redact::text(.message))]
    Audio { speaker: String, message: String },
    // The URL (and the HTTP client's message, which quotes it) may carry a password or token.
    #[error("speaker {speaker}: HTTP {method} {}: {}", crate::redact::url(.url), crate::redact::text(.message))]
    Http {
        speaker: String,
        method: String,
        url: String,
        message: String,
    },
    #[error("speaker {speaker}: MQTT message not sent: {}", crate::redact::text(.message))]
    Mqtt { speaker: String, message: String },
}

/// Sends a message on the box's broker (topic, payload).
pub type Publish = Arc<dyn Fn(&str, Vec<u8>) -> Result<(), String> + Send + Sync>;

/// A speaker, ready to play: its configured output and, for an MQTT speaker controller, the
/// box's link to the broker.
#[derive(Clone)]
pub struct Output {
    config: SpeakerConfig,
    publish: Publish,
}

/// Longest a prompt may take to play before the output counts as stuck.
const PLAY_LIMIT: Duration = Duration::from_secs(120);

/// The placeholders of HTTP `url` and `body` templates (see [`fill`]).
pub const TEMPLATE_FIELDS: [&str; 7] = [
    "{camera}",
    "{kind}",
    "{order}",
    "{severity}",
    "{prompt}",
    "{text}",
    "{repeat}",
];

impl Output {
    pub fn new(config: &SpeakerConfig, publish: Publish) -> Output {
        Output {
            config: config.clone(),
            publish,
        }
    }

    /// Plays the announcement once.
    pub fn play(&self, a: &Announcement) -> Result<(), SpeakerError> {
        let id = &self.config.id;
        match &self.config.output {
            SpeakerOutput::Audio { device, file } => {
                play_audio(id, device.as_deref(), file.as_ref(), a)
            }
            SpeakerOutput::Http {
                url,
                method,
                body,
                headers,
                timeout_s,
            } => {
                let method = method.to_ascii_uppercase();
                let timeout = timeout_s.duration().max(Duration::from_millis(100));
                let url = fill(url, a, |v| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
                });
                let body = body.as_ref().map(|b| {
                    fill(b, a, |v| {
                        // A JSON string without its quotes: the template has them.
                        let quoted = serde_json::Value::from(v).to_string();
                        quoted[1..quoted.len() - 1].to_owned()
                    })
                });
                call_http(&method, &url, body, headers, timeout).map_err(|message| {
                    SpeakerError::Http {
                        speaker: id.clone(),
                        method,
                        url,
                        message,
                    }
                })
            }
            SpeakerOutput::Mqtt { topic } => {
                let doc = serde_json::json!({
                    "order": a.order_id,
                    "camera": a.camera,
                    "kind": a.kind,
                    "severity": a.severity,
                    "prompt": a.prompt_name(),
                    "text": a.text,
                    "repeat": a.repeat,
                });
                (self.publish)(topic, doc.to_string().into_bytes()).map_err(|message| {
                    SpeakerError::Mqtt {
                        speaker: id.clone(),
                        message,
                    }
                })
            }
        }
    }
}

/// Fills the [`TEMPLATE_FIELDS`] in `template`, each value passed through `escape`.
fn fill(template: &str, a: &Announcement, escape: impl Fn(&str) -> String) -> String {
    let values = [
        a.camera.clone(),
        a.kind.as_str().to_owned(),
        a.order_id.clone(),
        a.severity.as_str().to_owned(),
        a.prompt_name(),
        a.text.clone(),
        a.repeat.to_string(),
    ];
    TEMPLATE_FIELDS
        .iter()
        .zip(values)
        .fold(template.to_owned(), |t, (k, v)| t.replace(k, &escape(&v)))
}

fn call_http(
    method: &str,
    url: &str,
    body: Option<String>,
    headers: &std::collections::BTreeMap<String, String>,
    timeout: Duration,
) -> Result<(), String> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .build()
        .new_agent();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let result = match body {
        Some(b) => {
            let request = builder.body(b).map_err(|e| e.to_string())?;
            agent.run(request)
        }
        None => {
            let request = builder.body(()).map_err(|e| e.to_string())?;
            agent.run(request)
        }
    };
    result.map(|_| ()).map_err(|e| match e {
        ureq::Error::StatusCode(code) => format!("the speaker answered {code}"),
        ureq::Error::Timeout(_) => format!("no answer within {:.1} s", timeout.as_secs_f64()),
        other => other.to_string(),
    })
}

/// Plays the prompt file through GStreamer's `playbin` into the ALSA device, the default output,
/// or a WAV file. Paths and device names are element properties, never pipeline text.
fn play_audio(
    id: &str,
    device: Option<&str>,
    file: Option<&PathBuf>,
    a: &Announcement,
) -> Result<(), SpeakerError> {
    let fail = |message: String| SpeakerError::Audio {
        speaker: id.to_owned(),
        message,
    };
    if !a.prompt.is_file() {
        return Err(SpeakerError::NoPrompt {
            speaker: id.to_owned(),
            path: a.prompt.clone(),
        });
    }
    crate::ingest::init_gstreamer().map_err(|e| fail(e.to_string()))?;
    let prompt = std::fs::canonicalize(&a.prompt).map_err(|e| fail(e.to_string()))?;
    let uri = url::Url::from_file_path(&prompt)
        .map_err(|_| fail(format!("{} is not a usable path", prompt.display())))?;
    let element = |name: &str| {
        gst::ElementFactory::make(name).build().map_err(|_| {
            fail(format!(
                "GStreamer element {name} is missing (scripts/setup.sh installs it)"
            ))
        })
    };
    let playbin = element("playbin")?;
    playbin.set_property("uri", uri.as_str());
    playbin.set_property("video-sink", &element("fakesink")?);
    let sink = match (file, device) {
        (Some(path), _) => {
            let bin = gst::parse::bin_from_description(
                "audioconvert ! audioresample ! wavenc ! filesink name=out",
                true,
            )
            .map_err(|e| fail(e.to_string()))?;
            let out = bin
                .by_name("out")
                .ok_or_else(|| fail("no filesink in the file output".into()))?;
            out.set_property("location", path.to_string_lossy().as_ref());
            bin.upcast::<gst::Element>()
        }
        (None, Some(device)) => {
            let alsa = element("alsasink")?;
            alsa.set_property("device", device);
            alsa
        }
        (None, None) => element("autoaudiosink")?,
    };
    playbin.set_property("audio-sink", &sink);
    let bus = playbin
        .bus()
        .ok_or_else(|| fail("the player has no bus".into()))?;
    let stop = |e: SpeakerError| {
        let _ = playbin.set_state(gst::State::Null);
        e
    };
    if playbin.set_state(gst::State::Playing).is_err() {
        let why = first_error(&bus).unwrap_or_else(|| "the output refused to start".into());
        return Err(stop(fail(why)));
    }
    let deadline = Instant::now() + PLAY_LIMIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(stop(fail(format!(
                "still playing after {} s",
                PLAY_LIMIT.as_secs()
            ))));
        }
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(left.as_nanos() as u64),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        ) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => {
                return Err(stop(fail(format!(
                    "{} ({})",
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                ))))
            }
            _ => {}
        }
    }
    let _ = playbin.set_state(gst::State::Null);
    Ok(())
}

fn first_error(bus: &gst::Bus) -> Option<String> {
    bus.timed_pop_filtered(
        gst::ClockTime::from_mseconds(500),
        &[gst::MessageType::Error],
    )
    .and_then(|m| match m.view() {
        gst::MessageView::Error(e) => Some(e.error().to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Severity;

    fn announcement(prompt: PathBuf) -> Announcement {
        Announcement {
            order_id: "o".into(),
            camera: "c".into(),
            speaker: "s".into(),
            kind: crate::rules::VENDING,
            severity: Severity::Yellow,
            prompt,
            text: "此处禁止摆摊".into(),
            repeat: 1,
            repeat_gap: Duration::ZERO,
        }
    }

    fn output(output: SpeakerOutput) -> Output {
        let no_broker: Publish = Arc::new(|_: &str, _: Vec<u8>| Err("no broker".into()));
        Output::new(
            &SpeakerConfig {
                id: "s".into(),
                output,
            },
            no_broker,
        )
    }

    fn http(url: String, timeout: Duration) -> Output {
        output(SpeakerOutput::Http {
            url,
            method: "post".into(),
            body: None,
            headers: Default::default(),
            timeout_s: crate::vocab::Seconds::of(timeout.as_secs_f64()),
        })
    }

    fn audio(device: Option<&str>, file: Option<PathBuf>) -> Output {
        output(SpeakerOutput::Audio {
            device: device.map(str::to_owned),
            file,
        })
    }

    #[test]
    fn a_speaker_that_never_answers_times_out_with_the_reason() {
        // Accepts the connection, never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _hold = std::thread::spawn(move || {
            let conns: Vec<_> = listener.incoming().take(1).collect();
            std::thread::sleep(Duration::from_secs(3));
            drop(conns);
        });
        let began = Instant::now();
        let e = http(
            format!("http://127.0.0.1:{port}/play"),
            Duration::from_millis(500),
        )
        .play(&announcement(PathBuf::from("x.wav")))
        .unwrap_err();
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "bounded by timeout_s"
        );
        assert!(e.to_string().contains("no answer within 0.5 s"), "{e}");
    }

    #[test]
    fn no_audio_device_and_no_prompt_file_are_errors_that_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let missing = audio(None, Some(dir.path().join("out.wav")))
            .play(&announcement(dir.path().join("nope.wav")))
            .unwrap_err();
        assert!(
            missing.to_string().contains("lookout prompt generate"),
            "{missing}"
        );
        // A real (tiny) WAV, into an ALSA device that does not exist.
        let wav = dir.path().join("beep.wav");
        let mut bytes = b"RIFF".to_vec();
        let samples = vec![0u8; 1600];
        bytes.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
        bytes.extend_from_slice(b"WAVEfmt ");
        bytes.extend_from_slice(&16u32.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&8000u32.to_le_bytes());
        bytes.extend_from_slice(&16000u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&16u16.to_le_bytes());
        bytes.extend_from_slice(b"data");
        bytes.extend_from_slice(&(samples.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&samples);
        std::fs::write(&wav, bytes).unwrap();
        let e = audio(Some("hw:99,0"), None)
            .play(&announcement(wav.clone()))
            .unwrap_err();
        assert!(
            e.to_string().starts_with("speaker s: audio output failed"),
            "{e}"
        );
        // The same prompt into a file plays.
        audio(None, Some(dir.path().join("out.wav")))
            .play(&announcement(wav))
            .unwrap();
        assert!(dir.path().join("out.wav").metadata().unwrap().len() > 1000);
    }
}
