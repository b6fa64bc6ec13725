//! The one module that knows every component's checks of a config. `config` parses the file and
//! checks what the file alone can tell (ranges, ids, references); each component says what only
//! it can (`geo`: a calibration that solves, a terrain grid that covers the camera; `speaker`: a
//! URL template; `uplink`: a message size it can send; `orders`: the case-code table's details; `tls`: the console's certificate). `run`, `doctor`, a reload and the CLI's
//! config edits all load through here, so they accept and refuse the same files with the same
//! errors, each at its file:line.

use std::path::Path;

use crate::config::{self, Config, ConfigErrors, Problem};

/// Every component's checks of a parsed config.
pub fn check(config: &Config) -> Vec<Problem> {
    let mut problems = crate::geo::Locator::check(config);
    problems.extend(crate::speaker::check(config));
    problems.extend(crate::uplink::check(config));
    problems.extend(crate::orders::check_codes(config));
    problems.extend(crate::rules::check(config));
    problems.extend(console_tls(config));
    problems
}

/// The console's certificate and key make a server certificate (the file's own checks said
/// both are there and are files).
fn console_tls(config: &Config) -> Option<Problem> {
    let (Some(cert), Some(key)) = (&config.console.tls_cert, &config.console.tls_key) else {
        return None;
    };
    if !cert.is_file() || !key.is_file() {
        return None;
    }
    let why = crate::tls::server_config(cert, key).err()?;
    Some(Problem::new(
        config::KeyPath::default().key("console").key("tls_cert"),
        why,
    ))
}

/// Reads, parses and checks a config file: the file's own checks and every component's.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    config::load_with(path, check)
}

/// As [`load`], from text; `path` names the file in errors and anchors relative paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigErrors> {
    config::parse_with(text, path, check)
}
