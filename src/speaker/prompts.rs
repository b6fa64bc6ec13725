//! The words of the default prompts and their files: `{kind}.{language}.wav` in the prompts
//! folder. `lookout prompt generate` speaks them with espeak-ng (a Debian package), so a fresh box
//! has working prompts; recorded human voices can replace the files one by one.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Language;
use crate::vocab::IncidentKind;

/// Kinds that have a default prompt (a camera fault has nobody on site to talk to), in the
/// registry's order.
pub fn kinds() -> impl Iterator<Item = IncidentKind> {
    IncidentKind::prompted()
}

/// What the default prompt of `kind` says (empty for a kind without one).
pub fn text(kind: IncidentKind, language: Language) -> &'static str {
    let info = kind.info();
    match language {
        Language::Zh => info.prompt_zh,
        Language::En => info.prompt_en,
    }
    .unwrap_or("")
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
