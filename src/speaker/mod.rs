//! Site speakers: a voice prompt played on the pole of the camera that saw the problem — the first
//! rung of the loop, which resolves most street-vending, parking and crowd incidents without
//! sending anyone. A service, like geo and evidence: the control side asks it to warn and is told
//! how that went; a speaker that fails is reported and never holds up an order.
//!
//! Outputs: the box's own audio (GStreamer: an ALSA device, the default output, or a WAV file),
//! an IP speaker's HTTP API, or an MQTT message to a speaker controller. Which prompt may play
//! when is the [`gate`]'s call (quiet hours, rate limit).

pub mod gate;
mod output;
mod plan;
pub mod prompts;

use std::path::PathBuf;
use std::time::Duration;

pub use gate::{Decision, Gate};
pub use output::{Output, Publish, SpeakerError, TEMPLATE_FIELDS};
pub use plan::{plan, Plan};

use crate::config::{Config, KeyPath, Problem, SpeakerOutput};
use crate::vocab::{IncidentKind, Severity};

/// What to say, where, for which order.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    pub order_id: String,
    pub camera: String,
    pub speaker: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    /// The audio file (for outputs that play audio) and the words in it (for those that speak
    /// text themselves or log it).
    pub prompt: PathBuf,
    pub text: String,
    pub repeat: u32,
    pub repeat_gap: Duration,
}

/// How a warning went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Played (or handed to the speaker, which acknowledged it) this many times.
    Played { times: u32 },
    /// Not played: quiet hours or the speaker's rate limit.
    Skipped { reason: &'static str },
    /// The speaker failed; why.
    Failed { error: String },
}

impl Announcement {
    /// The prompt's file name (what an IP speaker or a controller is told to play, and what the
    /// order records).
    pub fn prompt_name(&self) -> String {
        self.prompt
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Plays an announcement on `output`: `repeat` times with the gap between, stopping at the first
/// failure.
pub fn play(output: &Output, a: &Announcement) -> Outcome {
    let mut times = 0;
    for i in 0..a.repeat.max(1) {
        if i > 0 {
            std::thread::sleep(a.repeat_gap);
        }
        match output.play(a) {
            Ok(()) => times += 1,
            Err(e) if times == 0 => {
                return Outcome::Failed {
                    error: e.to_string(),
                }
            }
            // Played at least once: that is a warning given; the rest is logged.
            Err(e) => {
                tracing::warn!(speaker = %a.speaker, order = %a.order_id, error = %e, "A repetition of the prompt failed.");
                break;
            }
        }
    }
    Outcome::Played { times }
}

/// The speakers' checks of a config: an HTTP speaker's URL template must give an http(s) URL
/// once its fields are filled in.
pub fn check(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (i, s) in config.speakers.iter().enumerate() {
        let SpeakerOutput::Http { url, .. } = &s.output else {
            continue;
        };
        let probe = TEMPLATE_FIELDS
            .iter()
            .fold(url.clone(), |u, field| u.replace(field, "x"));
        if !url::Url::parse(&probe).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
            problems.push(Problem::new(
                KeyPath::default().key("speakers").index(i).key("url"),
                format!("{url:?} is not an http:// or https:// URL"),
            ));
        }
    }
    problems
}
