//! `lookout models list|verify|fetch`: the model files a box needs, checked against their
//! manifests' sha256, fetched from a local folder or the manifest's URL.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use clap::Subcommand;
use lookout::config::Config;
use lookout::detect::{Manifest, ManifestSet};
use sha2::{Digest, Sha256};

use super::{load_config, BadInput};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// The models the manifests describe, and whether each file is present.
    ///
    /// Example: lookout models list --config /etc/lookout/lookout.toml
    List {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check every present model file against its manifest's sha256.
    ///
    /// Example: lookout models verify --config /etc/lookout/lookout.toml
    Verify {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Install the model files: copied from a local folder (`--from`, e.g. a USB stick) or
    /// downloaded from each manifest's URL, with a progress bar; the sha256 is always checked
    /// and a file that does not match is discarded.
    ///
    /// Example: lookout models fetch --from /media/usb/models --config /etc/lookout/lookout.toml
    Fetch {
        /// Only these models (default: every manifest).
        names: Vec<String>,
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        #[arg(long, short)]
        config: PathBuf,
    },
}

pub fn run(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::List { config } => {
            let config = load_config(&config)?;
            let set = manifests(&config)?;
            println!(
                "{:<20} {:<28} {:>10}  {:<10} STATE",
                "NAME", "FILE", "BYTES", "LICENSE"
            );
            for (m, _) in set.by_name.values() {
                let path = config.models.dir.join(&m.file);
                let state = match std::fs::metadata(&path) {
                    Ok(meta) => format!("present ({} bytes)", meta.len()),
                    Err(_) => "missing: lookout models fetch".into(),
                };
                println!(
                    "{:<20} {:<28} {:>10}  {:<10} {state}",
                    m.name,
                    m.file,
                    m.bytes.map(|b| b.to_string()).unwrap_or_default(),
                    m.license.as_deref().unwrap_or("-")
                );
            }
            Ok(())
        }
        ModelsCommand::Verify { config } => {
            let config = load_config(&config)?;
            let set = manifests(&config)?;
            let mut bad = 0;
            for (m, _) in set.by_name.values() {
                let path = config.models.dir.join(&m.file);
                match sha256_file(&path) {
                    Ok(got) if got == m.sha256 => println!("ok    {} {}", m.name, path.display()),
                    Ok(got) => {
                        bad += 1;
                        println!("FAIL  {} {}: sha256 {got}, the manifest says {} — lookout models fetch {}", m.name, path.display(), m.sha256, m.name);
                    }
                    Err(_) => {
                        bad += 1;
                        println!(
                            "FAIL  {} {}: missing — lookout models fetch {}",
                            m.name,
                            path.display(),
                            m.name
                        );
                    }
                }
            }
            if bad > 0 {
                return Err(anyhow!("{bad} model file(s) missing or corrupt"));
            }
            Ok(())
        }
        ModelsCommand::Fetch {
            names,
            from,
            config,
        } => {
            let config = load_config(&config)?;
            let set = manifests(&config)?;
            for n in &names {
                if set.get(n).is_none() {
                    return Err(BadInput(format!(
                        "no model {n:?} (known: {})",
                        set.by_name.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                    .into());
                }
            }
            std::fs::create_dir_all(&config.models.dir)
                .with_context(|| format!("cannot create {}", config.models.dir.display()))?;
            let mut failed = 0;
            for (m, _) in set
                .by_name
                .values()
                .filter(|(m, _)| names.is_empty() || names.contains(&m.name))
            {
                match fetch(m, &config.models.dir, from.as_deref()) {
                    Ok(how) => println!("ok    {}: {how}", m.name),
                    Err(e) => {
                        failed += 1;
                        println!("FAIL  {}: {e:#}", m.name);
                    }
                }
            }
            if failed > 0 {
                return Err(anyhow!("{failed} model(s) could not be installed"));
            }
            Ok(())
        }
    }
}

fn manifests(config: &Config) -> anyhow::Result<ManifestSet> {
    Ok(ManifestSet::load_dir(&config.models.manifests)?)
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Copies `reader` to `out`, drawing a progress bar on stderr.
fn copy_with_progress(
    name: &str,
    mut reader: impl Read,
    out: &mut impl Write,
    total: Option<u64>,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut done = 0u64;
    let mut last_drawn = u64::MAX;
    let mut err = std::io::stderr().lock();
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        done += n as u64;
        if let Some(t) = total.filter(|t| *t > 0) {
            let pct = (done * 100 / t).min(100);
            if pct != last_drawn {
                last_drawn = pct;
                let bar = (pct / 4) as usize;
                let _ = write!(
                    err,
                    "\r{name:<20} [{}{}] {pct:>3}% {:.1}/{:.1} MB",
                    "#".repeat(bar),
                    " ".repeat(25 - bar),
                    done as f64 / 1e6,
                    t as f64 / 1e6
                );
            }
        }
    }
    let _ = writeln!(err);
    Ok(done)
}

fn fetch(m: &Manifest, dir: &Path, from: Option<&Path>) -> anyhow::Result<String> {
    let target = dir.join(&m.file);
    if sha256_file(&target).is_ok_and(|h| h == m.sha256) {
        return Ok(format!("{} already installed", target.display()));
    }
    let part = dir.join(format!("{}.part", m.file));
    let how = {
        let mut out = std::fs::File::create(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        let how = match from.map(|d| d.join(&m.file)).filter(|p| p.is_file()) {
            Some(src) => {
                let f = std::fs::File::open(&src)?;
                let len = f.metadata().ok().map(|m| m.len());
                copy_with_progress(&m.name, f, &mut out, len)?;
                format!("copied from {}", src.display())
            }
            None => {
                if let Some(d) = from {
                    eprintln!("{}: not in {}; downloading {}", m.name, d.display(), m.url);
                }
                let resp = ureq::get(&m.url)
                    .call()
                    .map_err(|e| anyhow!("download {}: {e}", m.url))?;
                let len = resp
                    .headers()
                    .get("content-length")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
                    .or(m.bytes);
                let reader = resp.into_body().into_reader();
                copy_with_progress(&m.name, reader, &mut out, len)?;
                format!("downloaded from {}", m.url)
            }
        };
        out.sync_all()?;
        how
    };
    let got = sha256_file(&part)?;
    if got != m.sha256 {
        let _ = std::fs::remove_file(&part);
        return Err(anyhow!(
            "sha256 {got} does not match the manifest's {}; the file was discarded",
            m.sha256
        ));
    }
    std::fs::rename(&part, &target)?;
    Ok(format!("{how}, sha256 verified → {}", target.display()))
}
