//! `lookout prompt`: the voice prompts of the on-site warnings.

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use lookout::config::Language;
use lookout::rules::{IncidentKind, Severity};
use lookout::speaker::{self, prompts, Announcement, Output};

use super::{load_config, BadInput};

#[derive(Subcommand)]
pub enum PromptCommand {
    /// Write the default prompt of every kind, spoken by espeak-ng, into the prompts folder
    /// (`[warnings] prompts`, default {storage.dir}/prompts). Existing files are kept unless
    /// --force (so a recorded human voice is not overwritten).
    ///
    /// Example: lookout prompt generate --config /etc/lookout/lookout.toml
    Generate {
        /// Also the other language (Mandarin and English).
        #[arg(long)]
        all_languages: bool,
        #[arg(long)]
        force: bool,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Play a prompt on a camera's speaker now, for the technician standing under it (no quiet
    /// hours, no rate limit, one repetition).
    ///
    /// Example: lookout prompt test gate_east --kind parking --config /etc/lookout/lookout.toml
    Test {
        camera: String,
        /// Which kind's prompt: vending, parking, crowd, water, fire.
        #[arg(long, default_value = "vending")]
        kind: String,
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn parse_kind(kind: &str) -> anyhow::Result<IncidentKind> {
    serde_json::from_value(serde_json::Value::String(kind.to_owned())).map_err(|_| {
        BadInput(format!(
            "unknown kind {kind:?} (vending, parking, crowd, water, fire, smoke)"
        ))
        .into()
    })
}

pub fn run(cmd: PromptCommand) -> anyhow::Result<()> {
    match cmd {
        PromptCommand::Generate {
            all_languages,
            force,
            config,
        } => {
            let config = load_config(&config)?;
            let dir = prompts::dir(&config, None);
            let languages = if all_languages {
                vec![Language::Zh, Language::En]
            } else {
                vec![config.warnings.language]
            };
            for language in languages {
                for kind in prompts::kinds() {
                    let path = prompts::path(&dir, kind, language);
                    if path.exists() && !force {
                        println!("kept      {}", path.display());
                        continue;
                    }
                    prompts::synthesize(prompts::text(kind, language), language, &path)?;
                    println!("generated {}", path.display());
                }
            }
            Ok(())
        }
        PromptCommand::Test {
            camera,
            kind,
            config,
        } => {
            let config = load_config(&config)?;
            let kind = parse_kind(&kind)?;
            let cam = config
                .camera(&camera)
                .ok_or_else(|| BadInput(format!("no camera {camera:?}")))?;
            let speaker_id = cam.speaker.as_deref().ok_or_else(|| {
                BadInput(format!(
                    "camera {camera} has no speaker (set speaker = \"ID\" on it and add a [[speakers]] entry)"
                ))
            })?;
            let speaker = config
                .speakers
                .iter()
                .find(|s| s.id == speaker_id)
                .ok_or_else(|| BadInput(format!("no [[speakers]] entry with id {speaker_id:?}")))?;
            let language = config.warnings.language;
            let announcement = Announcement {
                order_id: "test".into(),
                camera: camera.clone(),
                speaker: speaker_id.to_owned(),
                kind,
                severity: Severity::Blue,
                prompt: prompts::path(&prompts::dir(&config, None), kind, language),
                text: prompts::text(kind, language).to_owned(),
                repeat: 1,
                repeat_gap: Duration::ZERO,
            };
            // A test prompt goes straight to the speaker: MQTT output needs the daemon's link.
            let publish: speaker::Publish = {
                let config = config.clone();
                std::sync::Arc::new(move |topic: &str, payload: Vec<u8>| {
                    super::provision::publish_once(&config, topic, payload)
                        .map_err(|e| format!("{e:#}"))
                })
            };
            let output = Output::new(speaker, publish);
            match speaker::play(&output, &announcement) {
                speaker::Outcome::Played { .. } => {
                    println!(
                        "played the {} prompt on speaker {speaker_id}",
                        announcement.prompt.display()
                    );
                    Ok(())
                }
                speaker::Outcome::Failed { error } => Err(anyhow::anyhow!("{error}")),
                speaker::Outcome::Skipped { reason } => Err(anyhow::anyhow!(
                    "speaker {speaker_id}: not played ({reason})"
                )),
            }
        }
    }
}
