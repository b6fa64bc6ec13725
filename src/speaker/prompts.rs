//! The words of the default prompts and their files: `{kind}.{language}.wav` in the prompts
//! folder. `lookout prompt generate` speaks them with espeak-ng (a Debian package), so a fresh box
//! has working prompts; recorded human voices can replace the files one by one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Language;
use crate::rules::IncidentKind;

/// Kinds that have a default prompt (a camera fault has nobody on site to talk to).
pub const KINDS: [IncidentKind; 6] = [
    IncidentKind::Vending,
    IncidentKind::Parking,
    IncidentKind::Crowd,
    IncidentKind::Water,
    IncidentKind::Fire,
    IncidentKind::Smoke,
];

/// What the default prompt of `kind` says.
pub fn text(kind: IncidentKind, language: Language) -> &'static str {
    match (language, kind) {
        (Language::Zh, IncidentKind::Vending) => "此处禁止摆摊，请立即离开。",
        (Language::Zh, IncidentKind::Parking) => "此处禁止停车，请立即驶离。",
        (Language::Zh, IncidentKind::Crowd) => "此处人员密集，请勿聚集，有序离开。",
        (Language::Zh, IncidentKind::Water) => "危险水域，请立即远离水边。",
        (Language::Zh, IncidentKind::Fire | IncidentKind::Smoke) => {
            "发现火情，请立即撤离，并拨打一一九。"
        }
        (Language::Zh, IncidentKind::CameraFault) => "",
        (Language::En, IncidentKind::Vending) => {
            "Street vending is not allowed here. Please leave now."
        }
        (Language::En, IncidentKind::Parking) => {
            "Parking is not allowed here. Please move your vehicle now."
        }
        (Language::En, IncidentKind::Crowd) => {
            "This area is crowded. Please do not gather, and move on."
        }
        (Language::En, IncidentKind::Water) => "Danger, deep water. Step away from the edge now.",
        (Language::En, IncidentKind::Fire | IncidentKind::Smoke) => {
            "Fire. Leave the area now and call one one nine."
        }
        (Language::En, IncidentKind::CameraFault) => "",
    }
}

fn language_code(language: Language) -> &'static str {
    match language {
        Language::Zh => "zh",
        Language::En => "en",
    }
}

/// The prompts folder of a config: `[warnings] prompts`, or `prompts` in the state folder
/// (`state_dir` when the daemon was given one, `[storage] dir` otherwise).
pub fn dir(config: &crate::config::Config, state_dir: Option<&Path>) -> PathBuf {
    config.warnings.prompts.clone().unwrap_or_else(|| {
        state_dir
            .unwrap_or(config.storage.dir.as_path())
            .join("prompts")
    })
}

/// The default prompt file of `kind` in `dir`.
pub fn path(dir: &Path, kind: IncidentKind, language: Language) -> PathBuf {
    dir.join(format!("{}.{}.wav", kind.as_str(), language_code(language)))
}

/// Speaks `text` into `out` (WAV) with espeak-ng: Mandarin or English voice.
pub fn synthesize(text: &str, language: Language, out: &Path) -> anyhow::Result<()> {
    let voice = match language {
        Language::Zh => "cmn",
        Language::En => "en",
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let result = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "150", "-w"])
        .arg(out)
        .arg(text)
        .output();
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(anyhow::anyhow!(
            "espeak-ng is not installed (apt install espeak-ng; scripts/setup.sh does it)"
        )),
        Err(e) => Err(anyhow::anyhow!("cannot run espeak-ng: {e}")),
        Ok(o) if !o.status.success() => Err(anyhow::anyhow!(
            "espeak-ng failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => Ok(()),
    }
}
