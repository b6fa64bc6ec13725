//! The config file: its schema, loading, and the checks that need nothing but the file — ranges,
//! ids unique, references resolving, typed windows and offsets.
//!
//! [`load_with`] parses one TOML file, rejects unknown keys, runs the file's checks and then the
//! components' own ([`Checks`], which `crate::build` supplies: a module above every component, so
//! this one imports none) and returns *all* problems at once, each as
//! `file:line:column: key: message`. Relative paths in the file are resolved against the file's
//! own folder, so a config works from any working directory.

pub mod edit;
mod model;
mod source;
mod span;
mod validate;

pub use span::KeyPath;
pub use validate::Problem;

/// The components' checks of a parsed config (a geo calibration that must solve, a speaker URL
/// template, a size the uplink can send): every problem with its key path.
pub type Checks = fn(&Config) -> Vec<Problem>;

/// No checks beyond the file's own (unit tests of the components below `build`).
pub fn no_checks(_: &Config) -> Vec<Problem> {
    Vec::new()
}

use std::fmt;
use std::path::{Path, PathBuf};

pub use model::*;
pub use source::{SourceKind, TEST_PATTERNS};

/// One problem in a config file, located by line, column and key path.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, e.g. `cameras[0].source`. Empty for whole-file problems.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        // A message may quote a camera or speaker URL: never with its password.
        write!(f, "{}", crate::redact::text(&self.message))
    }
}

/// Every problem found in one config file, in file order.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads, parses and validates a config file.
pub fn load_with(path: &Path, checks: Checks) -> Result<Config, ConfigErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line: 0,
            column: 0,
            key: String::new(),
            message: format!("cannot read the config file: {e}"),
        }])
    })?;
    parse_with(&text, path, checks)
}

/// [`parse_with`] and the file's own checks only: for tests of the components below `build`.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    parse_with(text, path, no_checks)
}

/// [`load_with`] and the file's own checks only: for tests of the components below `build`.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, no_checks)
}

/// Parses and validates config text; `path` names the file in errors and anchors relative paths.
pub fn parse_with(text: &str, path: &Path, checks: Checks) -> Result<Config, ConfigErrors> {
    let toml_error = |e: toml::de::Error| {
        let (line, column) = e
            .span()
            .map(|s| span::line_col(text, s.start))
            .unwrap_or((0, 0));
        ConfigErrors(vec![ConfigError {
            file: path.to_owned(),
            line,
            column,
            key: key_on_line(text, line),
            message: e.message().trim().replace('\n', " "),
        }])
    };
    // The raw numbers first, by their keys' units: `inf`, a century in seconds or a negative
    // size is refused here with its key, before a typed value could carry it anywhere.
    let raw: toml::Table = toml::from_str(text).map_err(toml_error)?;
    let problems = validate::validate_numbers(&raw);
    if !problems.is_empty() {
        return Err(located(text, path, problems));
    }
    let mut config: Config = toml::from_str(text).map_err(toml_error)?;
    let base = path.parent().unwrap_or(Path::new("."));
    resolve_paths(&mut config, base);
    let mut problems = validate::validate(&config);
    problems.extend(checks(&config));
    if problems.is_empty() {
        return Ok(config);
    }
    Err(located(text, path, problems))
}

fn located(text: &str, path: &Path, problems: Vec<validate::Problem>) -> ConfigErrors {
    let locator = span::Locator::new(text);
    let mut errors: Vec<ConfigError> = problems
        .into_iter()
        .map(|p| {
            let (line, column) = locator.locate(&p.key);
            ConfigError {
                file: path.to_owned(),
                line,
                column,
                key: p.key.to_string(),
                message: p.message,
            }
        })
        .collect();
    errors.sort_by_key(|e| (e.line, e.column));
    ConfigErrors(errors)
}

/// The key assigned on a 1-based line (`hold_s = …` → `hold_s`), so a type error names it.
fn key_on_line(text: &str, line: usize) -> String {
    let Some(l) = line.checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        return String::new();
    };
    match l.split_once('=') {
        Some((k, _)) if !k.trim().is_empty() && !k.contains('[') => {
            k.trim().trim_matches('"').to_owned()
        }
        _ => String::new(),
    }
}

fn resolve(base: &Path, p: &mut PathBuf) {
    if p.is_relative() {
        *p = base.join(&*p);
    }
}

fn resolve_paths(config: &mut Config, base: &Path) {
    resolve(base, &mut config.models.manifests);
    resolve(base, &mut config.models.dir);
    resolve(base, &mut config.models.onnxruntime);
    resolve(base, &mut config.storage.dir);
    if let Some(p) = config.uplink.password_file.as_mut() {
        resolve(base, p);
    }
    for p in [
        config.uplink.ca_file.as_mut(),
        config.uplink.cert_file.as_mut(),
        config.uplink.key_file.as_mut(),
        config.console.tls_cert.as_mut(),
        config.console.tls_key.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        resolve(base, p);
    }
    for camera in &mut config.cameras {
        if let Some(t) = camera.pose.as_mut().and_then(|p| p.terrain.as_mut()) {
            resolve(base, t);
        }
        if let Some(r) = camera.faults.reference.as_mut() {
            resolve(base, r);
        }
        if matches!(SourceKind::classify(&camera.source), SourceKind::File) {
            let mut p = PathBuf::from(&camera.source);
            resolve(base, &mut p);
            camera.source = p.to_string_lossy().into_owned();
        }
    }
}

impl Config {
    /// The camera with this id.
    pub fn camera(&self, id: &str) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.id == id)
    }
}

impl CameraConfig {
    /// The ids of the zones some rule of this camera masks out (each once, in zone order).
    pub fn mask_zone_ids(&self) -> Vec<&str> {
        self.zones
            .iter()
            .map(|z| z.id.as_str())
            .filter(|id| self.rules.iter().any(|r| r.masks.iter().any(|m| m == id)))
            .collect()
    }

    /// Display name, falling back to the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    pub fn zone(&self, id: &str) -> Option<&ZoneConfig> {
        self.zones.iter().find(|z| z.id == id)
    }

    /// The camera as it looks at its preset `index`: the camera's own zones and rules (which
    /// hold at every preset) followed by the preset's, and the preset's reference view.
    pub fn at_preset(&self, index: usize) -> CameraConfig {
        let mut view = self.clone();
        let preset = &self.presets[index];
        view.zones.extend(preset.zones.iter().cloned());
        view.rules.extend(preset.rules.iter().cloned());
        view.faults.reference = preset.reference.clone();
        if let Some(calibration) = &preset.calibration {
            view.calibration = Some(calibration.clone());
            view.pose = None;
        }
        view
    }

    /// Where a key path into [`CameraConfig::at_preset`]`(preset)` of the camera at `cameras[c]`
    /// is in the file: a zone or rule past the camera's own is the preset's, and so is the
    /// calibration when the preset has its own.
    pub fn preset_key(&self, c: usize, preset: usize, key: KeyPath) -> KeyPath {
        use span::Segment;
        let own = |list: &str| match list {
            "zones" => Some(self.zones.len()),
            "rules" => Some(self.rules.len()),
            _ => None,
        };
        let segments = &key.0;
        // A preset's calibration stands in for the camera's in its view.
        if let [Segment::Key(cams), Segment::Index(i), Segment::Key(k), rest @ ..] = &segments[..] {
            if cams == "cameras"
                && *i == c
                && k == "calibration"
                && self.presets[preset].calibration.is_some()
            {
                let mut out = KeyPath::default()
                    .key("cameras")
                    .index(c)
                    .key("presets")
                    .index(preset)
                    .key("calibration");
                out.0.extend(rest.iter().cloned());
                return out;
            }
        }
        if let [Segment::Key(cams), Segment::Index(i), Segment::Key(list), Segment::Index(n), rest @ ..] =
            &segments[..]
        {
            if cams == "cameras" && *i == c {
                if let Some(len) = own(list).filter(|len| n >= len) {
                    let mut out = KeyPath::default()
                        .key("cameras")
                        .index(c)
                        .key("presets")
                        .index(preset)
                        .key(list)
                        .index(n - len);
                    out.0.extend(rest.iter().cloned());
                    return out;
                }
            }
        }
        key
    }

    /// Where this camera's reference view at a preset is kept: the preset's `reference`, or
    /// `{storage_dir}/reference/{id}@{token}.png`.
    pub fn preset_reference_path(&self, storage_dir: &Path, index: usize) -> PathBuf {
        let preset = &self.presets[index];
        preset.reference.clone().unwrap_or_else(|| {
            storage_dir.join("reference").join(format!(
                "{}@{}.png",
                self.id,
                file_safe(&preset.token)
            ))
        })
    }

    /// Where this camera's reference view is kept: `faults.reference`, or
    /// `{storage_dir}/reference/{id}.png`.
    pub fn reference_path(&self, storage_dir: &Path) -> PathBuf {
        self.faults.reference.clone().unwrap_or_else(|| {
            storage_dir
                .join("reference")
                .join(format!("{}.png", self.id))
        })
    }
}

/// Whether `s` is a safe identifier for topics, file names and order ids.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A token as a file-name part: what is not a letter, digit, `_` or `-` becomes `_`.
fn file_safe(token: &str) -> String {
    token
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
