//! Editing a config file for the provisioning CLI: comments and order kept (`toml_edit`), the
//! result validated as a whole before it replaces the old file, and the replacement atomic (write
//! a temporary file beside it, flush it to disk, rename), so a technician's laptop dying halfway
//! never leaves a box with half a config.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};

use super::{Config, ConfigErrors};

/// Points `x,y` separated by `;` or spaces, as `lookout zone add --polygon` and the console's
/// zone editor give them.
pub fn parse_points(s: &str) -> Result<Vec<[f64; 2]>, String> {
    s.split(|c: char| c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (x, y) = p
                .split_once(',')
                .ok_or_else(|| format!("{p:?} is not a point x,y"))?;
            let num = |v: &str| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("{p:?}: {v:?} is not a number"))
            };
            Ok([num(x)?, num(y)?])
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not TOML: {1}")]
    Syntax(String, toml_edit::TomlError),
    #[error("the change was not saved, {0} would be invalid:\n{1}")]
    Invalid(String, ConfigErrors),
    #[error("{0}")]
    Refused(String),
}

pub struct ConfigEdit {
    path: PathBuf,
    pub doc: DocumentMut,
}

impl ConfigEdit {
    pub fn open(path: &Path) -> Result<ConfigEdit, EditError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| EditError::Io(name.clone(), e))?;
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| EditError::Syntax(name, e))?;
        Ok(ConfigEdit {
            path: path.to_owned(),
            doc,
        })
    }

    /// A new file's content (for `init`); saved like any edit.
    pub fn create(path: &Path, text: &str) -> Result<ConfigEdit, EditError> {
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|e| EditError::Syntax(path.display().to_string(), e))?;
        Ok(ConfigEdit {
            path: path.to_owned(),
            doc,
        })
    }

    /// The `[[cameras]]` array, created when missing. A file that wrote the cameras as an
    /// inline array (`cameras = []`, `cameras = [{ id = … }]`) has it turned into `[[cameras]]`
    /// tables, so edits can add to it; anything else under `cameras` is refused.
    pub fn cameras(&mut self) -> Result<&mut ArrayOfTables, EditError> {
        let path = self.path.display().to_string();
        let refuse = || {
            EditError::Refused(format!(
                "{path}: `cameras` is not a list of camera tables; fix it by hand first"
            ))
        };
        match self.doc.get("cameras") {
            None => {
                self.doc
                    .insert("cameras", Item::ArrayOfTables(ArrayOfTables::new()));
            }
            Some(Item::ArrayOfTables(_)) => {}
            Some(Item::Value(toml_edit::Value::Array(a))) => {
                let mut tables = ArrayOfTables::new();
                for v in a.iter() {
                    match v {
                        toml_edit::Value::InlineTable(t) => tables.push(t.clone().into_table()),
                        _ => return Err(refuse()),
                    }
                }
                self.doc.insert("cameras", Item::ArrayOfTables(tables));
            }
            Some(_) => return Err(refuse()),
        }
        self.doc["cameras"]
            .as_array_of_tables_mut()
            .ok_or_else(refuse)
    }

    /// The camera table with this id.
    pub fn camera(&mut self, id: &str) -> Result<&mut Table, EditError> {
        let path = self.path.display().to_string();
        let cameras = self.cameras()?;
        let known: Vec<String> = cameras
            .iter()
            .filter_map(|t| t.get("id").and_then(|v| v.as_str()).map(str::to_owned))
            .collect();
        cameras
            .iter_mut()
            .find(|t| t.get("id").and_then(|v| v.as_str()) == Some(id))
            .ok_or_else(|| {
                EditError::Refused(format!(
                    "no camera {id:?} in {path} (cameras: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ))
            })
    }

    /// Adds a zone to a camera (`lookout zone add`, the console's zone editor); a zone id the
    /// camera already has is refused. Points are normalised image coordinates.
    pub fn add_zone(
        &mut self,
        camera: &str,
        id: &str,
        name: Option<&str>,
        points: &[[f64; 2]],
    ) -> Result<(), EditError> {
        let cam = self.camera(camera)?;
        if !cam.contains_key("zones") {
            cam.insert("zones", Item::ArrayOfTables(ArrayOfTables::new()));
        }
        let zones = cam["zones"].as_array_of_tables_mut().ok_or_else(|| {
            EditError::Refused(format!("camera {camera}: zones is not a list of tables"))
        })?;
        if zones
            .iter()
            .any(|z| z.get("id").and_then(|v| v.as_str()) == Some(id))
        {
            return Err(EditError::Refused(format!(
                "camera {camera} already has a zone {id:?}"
            )));
        }
        let mut t = Table::new();
        t["id"] = toml_edit::value(id);
        if let Some(n) = name.filter(|n| !n.is_empty()) {
            t["name"] = toml_edit::value(n);
        }
        let mut arr = toml_edit::Array::new();
        for [x, y] in points {
            arr.push(toml_edit::Value::Array([*x, *y].into_iter().collect()));
        }
        t["polygon"] = toml_edit::value(arr);
        zones.push(t);
        Ok(())
    }

    /// Validates the edited config (the file's checks and `checks`, the components' — the CLI
    /// passes `build::check`) and, only when it is valid, atomically replaces the file.
    pub fn save(self, checks: super::Checks) -> Result<Config, EditError> {
        let text = self.doc.to_string();
        let name = self.path.display().to_string();
        let config = super::parse_with(&text, &self.path, checks)
            .map_err(|e| EditError::Invalid(name.clone(), e))?;
        let dir = self
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            self.path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        let io = |e| EditError::Io(name.clone(), e);
        {
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_keeps_comments_and_an_invalid_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lookout.toml");
        let original = "# the box on the east gate\n[box]\nsite = \"s\" # district\nid = \"b\"\n";
        std::fs::write(&path, original).unwrap();
        let mut e = ConfigEdit::open(&path).unwrap();
        e.doc["box"]["id"] = toml_edit::value("b2");
        e.save(crate::config::no_checks).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("# the box on the east gate") && text.contains("# district"));
        assert!(text.contains("id = \"b2\""));
        let mut bad = ConfigEdit::open(&path).unwrap();
        bad.doc["box"]["id"] = toml_edit::value("not/valid");
        let err = bad.save(crate::config::no_checks).unwrap_err();
        assert!(err.to_string().contains("box.id"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "untouched");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }
}
