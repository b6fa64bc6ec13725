//! Which orders are warned, through which speaker, with which prompt, and when the camera looks
//! again: `[warnings]` and the camera's own `[[cameras.warnings]]` overrides.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::gate::is_urgent;
use super::prompts;
use crate::config::{CameraConfig, WarningsConfig};
use crate::vocab::{IncidentKind, Severity};

/// A warning to give.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub speaker: String,
    pub prompt: PathBuf,
    pub text: String,
    pub repeat: u32,
    /// When the camera looks again after the warning; `None` for water and fire, which stay
    /// with the centre (the warning is in addition, never instead).
    pub recheck_after: Option<Duration>,
}

/// The warning for an order of `kind` in `zone` at `severity` on `camera`, if any.
pub fn plan(
    warnings: &WarningsConfig,
    prompts_dir: &Path,
    camera: &CameraConfig,
    kind: IncidentKind,
    zone: Option<&str>,
    severity: Severity,
) -> Option<Plan> {
    if !warnings.enabled {
        return None;
    }
    let speaker = camera.speaker.clone()?;
    let name = kind.as_str();
    let own = camera.warnings.iter().find(|w| {
        w.kind.as_deref().is_none_or(|k| k == name)
            && w.zone.as_deref().is_none_or(|z| Some(z) == zone)
    });
    if own.is_some_and(|w| !w.enabled) {
        return None;
    }
    if own
        .and_then(|w| w.min_severity)
        .is_some_and(|min| severity < min)
    {
        return None;
    }
    let grace = own
        .and_then(|w| w.grace_s)
        .or_else(|| warnings.grace_s.get(name).copied())?;
    let language = warnings.language;
    Some(Plan {
        speaker,
        prompt: own
            .and_then(|w| w.prompt.clone())
            .unwrap_or_else(|| prompts::path(prompts_dir, kind, language)),
        text: prompts::text(kind, language).to_owned(),
        repeat: own.and_then(|w| w.repeat).unwrap_or(warnings.repeat),
        recheck_after: (!is_urgent(kind)).then(|| grace.duration()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(extra: &str) -> CameraConfig {
        let text = format!(
            "id = \"c\"\nsource = \"test:ball\"\nmodels = [\"m\"]\nlocation = {{ lat = 0.0, lon = 0.0 }}\n{extra}"
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn only_cameras_with_a_speaker_warn_and_overrides_win() {
        let w = WarningsConfig::default();
        let dir = Path::new("/p");
        assert_eq!(
            plan(
                &w,
                dir,
                &camera(""),
                crate::rules::VENDING,
                None,
                Severity::Yellow
            ),
            None,
            "no speaker, no warning"
        );
        let cam = camera("speaker = \"pole\"");
        let p = plan(
            &w,
            dir,
            &cam,
            crate::rules::PARKING,
            Some("gate"),
            Severity::Yellow,
        )
        .unwrap();
        assert_eq!(p.speaker, "pole");
        assert_eq!(p.prompt, Path::new("/p/parking.zh.wav"));
        assert_eq!(p.recheck_after, Some(Duration::from_secs(600)));
        let water = plan(&w, dir, &cam, crate::rules::WATER, None, Severity::Red).unwrap();
        assert_eq!(water.recheck_after, None, "water stays with the centre");
        assert_eq!(
            plan(
                &w,
                dir,
                &cam,
                crate::rules::CAMERA_FAULT,
                None,
                Severity::Orange
            ),
            None
        );
        let cam = camera(
            "speaker = \"pole\"\n[[warnings]]\nkind = \"parking\"\nzone = \"gate\"\nenabled = false\n[[warnings]]\nkind = \"crowd\"\nmin_severity = \"orange\"\ngrace_s = 60.0\nrepeat = 4\nprompt = \"/own/crowd.wav\"\n",
        );
        assert_eq!(
            plan(
                &w,
                dir,
                &cam,
                crate::rules::PARKING,
                Some("gate"),
                Severity::Red
            ),
            None,
            "switched off in that zone"
        );
        assert!(plan(
            &w,
            dir,
            &cam,
            crate::rules::PARKING,
            Some("lane"),
            Severity::Blue
        )
        .is_some());
        assert_eq!(
            plan(&w, dir, &cam, crate::rules::CROWD, None, Severity::Yellow),
            None,
            "below its severity"
        );
        let crowd = plan(&w, dir, &cam, crate::rules::CROWD, None, Severity::Orange).unwrap();
        assert_eq!(
            (crowd.recheck_after, crowd.repeat, crowd.prompt),
            (
                Some(Duration::from_secs(60)),
                4,
                PathBuf::from("/own/crowd.wav")
            )
        );
    }
}
