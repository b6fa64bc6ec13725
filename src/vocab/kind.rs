//! The kinds of incident and what each one is called, coded, titled and warned as: one row per
//! kind, registered by the kind's own rule file (`src/rules/<kind>.rs`) into [`KINDS`], and read
//! by the titles, the prompts, the speakers' urgency and the config checks. A new kind adds its
//! row where its rule is; nothing here changes.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every kind's row, from wherever it is declared (`#[linkme::distributed_slice(KINDS)]`).
#[linkme::distributed_slice]
pub static KINDS: [KindInfo];

/// What kind of problem an incident is: a registered kind's name (`"vending"`). Compared,
/// hashed and serialised as its name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IncidentKind(&'static str);

/// A refinement of an incident's kind (water: `in_water`, `at_shore`, `vanished`), declared in
/// its kind's row.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Detail(&'static str);

/// Everything about a kind that is not its rule: one row of the registry.
#[derive(Debug)]
pub struct KindInfo {
    /// As written in documents, configs and orders (`vending`, `camera_fault`, …).
    pub name: &'static str,
    /// Where documents list it: lower first.
    pub rank: u16,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// City-management event code used when the rule sets none.
    pub event_code: &'static str,
    /// Warned whatever the hour and however often: someone may be in danger.
    pub urgent: bool,
    /// Default 处置时限 (disposal deadline), hours from opening: an order still open then
    /// escalates one grade. Urgent kinds get minutes, street order an afternoon.
    pub deadline_h: f64,
    /// Default `[warnings] grace_s`: seconds after an on-site warning before the camera looks
    /// again; `None`: not warned unless the config says so.
    pub grace_s: Option<f64>,
    /// What the default voice prompt says; `None`: nobody on site to talk to.
    pub prompt_zh: Option<&'static str>,
    pub prompt_en: Option<&'static str>,
    /// The order's title before the place; `{n}` is the incident's object count.
    pub title_zh: &'static str,
    pub title_en: &'static str,
    /// The timeline's words when an order opens (`{label}` and `{n}` filled in) and clears.
    pub opened_zh: &'static str,
    pub opened_en: &'static str,
    pub cleared_zh: &'static str,
    pub cleared_en: &'static str,
    /// The details this kind's incidents may carry, each with its own title.
    pub details: &'static [DetailInfo],
}

/// One detail of a kind, with the order title it gets.
#[derive(Debug)]
pub struct DetailInfo {
    pub name: &'static str,
    pub title_zh: &'static str,
    pub title_en: &'static str,
}

impl KindInfo {
    /// The fields most kinds share; a row names what differs (`..KindInfo::BASE`).
    pub const BASE: KindInfo = KindInfo {
        name: "",
        rank: u16::MAX,
        label_zh: "",
        label_en: "",
        event_code: "",
        urgent: false,
        deadline_h: 24.0,
        grace_s: None,
        prompt_zh: None,
        prompt_en: None,
        title_zh: "",
        title_en: "",
        opened_zh: "发现{label}，涉及 {n} 个目标",
        opened_en: "{label} detected: {n} object(s)",
        cleared_zh: "现场已恢复，目标消失",
        cleared_en: "no longer seen",
        details: &[],
    };
}

/// The rows in document order (rank, then name), checked once for duplicate names.
fn rows() -> &'static [&'static KindInfo] {
    static ROWS: OnceLock<Vec<&'static KindInfo>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut rows: Vec<&'static KindInfo> = KINDS.iter().collect();
        rows.sort_by_key(|r| (r.rank, r.name));
        rows
    })
}

impl IncidentKind {
    /// The kind registered as `name`. For the kind's own rule file, next to its row; input from
    /// outside goes through [`IncidentKind::from_name`].
    pub const fn registered(name: &'static str) -> Self {
        IncidentKind(name)
    }

    /// This kind's row of the registry.
    pub fn info(&self) -> &'static KindInfo {
        rows()
            .iter()
            .find(|row| row.name == self.0)
            .unwrap_or_else(|| panic!("kind {:?} has no row in vocab::KINDS", self.0))
    }

    /// The kinds that have a default voice prompt (a camera fault has nobody on site to talk to).
    pub fn prompted() -> impl Iterator<Item = IncidentKind> {
        rows()
            .iter()
            .filter(|row| row.prompt_zh.is_some())
            .map(|row| IncidentKind(row.name))
    }

    /// Every kind, in the registry's document order.
    pub fn all() -> impl Iterator<Item = IncidentKind> {
        rows().iter().map(|row| IncidentKind(row.name))
    }

    /// The kind named `name` (`"vending"`), if there is one.
    pub fn from_name(name: &str) -> Option<IncidentKind> {
        rows()
            .iter()
            .find(|row| row.name == name)
            .map(|row| IncidentKind(row.name))
    }

    /// The kind as it is written in documents and configs (`vending`, `camera_fault`, …).
    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// City-management event code used when the rule sets none.
    pub fn default_event_code(&self) -> &'static str {
        self.info().event_code
    }

    pub fn label_zh(&self) -> &'static str {
        self.info().label_zh
    }

    pub fn label_en(&self) -> &'static str {
        self.info().label_en
    }

    /// This kind's detail named `name`, if it has one.
    pub fn detail(&self, name: &str) -> Option<Detail> {
        self.info()
            .details
            .iter()
            .find(|d| d.name == name)
            .map(|d| Detail(d.name))
    }
}

impl fmt::Debug for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for IncidentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for IncidentKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for IncidentKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        IncidentKind::from_name(&name).ok_or_else(|| {
            let known: Vec<&str> = IncidentKind::all().map(|k| k.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown kind {name:?}; the kinds are {}",
                known.join(", ")
            ))
        })
    }
}

impl Detail {
    /// The detail registered as `name` in its kind's row.
    pub const fn registered(name: &'static str) -> Self {
        Detail(name)
    }

    /// Every detail of every kind, in document order.
    pub fn all() -> impl Iterator<Item = Detail> {
        rows()
            .iter()
            .flat_map(|row| row.details.iter().map(|d| Detail(d.name)))
    }

    /// The detail named `name` of any kind.
    pub fn from_name(name: &str) -> Option<Detail> {
        Detail::all().find(|d| d.0 == name)
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }

    /// This detail's row, found in `kind`'s details.
    pub fn info(&self, kind: IncidentKind) -> Option<&'static DetailInfo> {
        kind.info().details.iter().find(|d| d.name == self.0)
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Serialize for Detail {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Detail {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Detail::from_name(&name).ok_or_else(|| {
            let known: Vec<&str> = Detail::all().map(|k| k.as_str()).collect();
            serde::de::Error::custom(format!(
                "unknown detail {name:?}; the details are {}",
                known.join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The rows of the first Markdown table after `heading`: cells, trimmed.
    pub(crate) fn table_after(text: &str, heading: &str) -> Vec<Vec<String>> {
        let rest = text
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("no {heading:?}"));
        rest.lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().to_owned())
                    .collect()
            })
            .collect()
    }

    /// `` `in_water`, `at_shore` `` → the names.
    fn names_in(cell: &str) -> Vec<String> {
        cell.split(',')
            .map(|n| n.trim().trim_matches('`').to_owned())
            .filter(|n| !n.is_empty())
            .collect()
    }

    fn hours(cell: &str) -> f64 {
        match cell.split_once(' ') {
            Some((n, "min")) => n.parse::<f64>().unwrap() / 60.0,
            Some((n, "h")) => n.parse::<f64>().unwrap(),
            _ => panic!("deadline {cell:?}"),
        }
    }

    #[test]
    fn the_documents_say_what_the_registry_says() {
        let rules = doc("docs/rules.md");
        let table = table_after(&rules, "## Kinds");
        let mut documented = Vec::new();
        for row in &table {
            let name = row[0].trim_matches('`');
            let kind = IncidentKind::from_name(name)
                .unwrap_or_else(|| panic!("docs/rules.md lists {name:?}, which is no kind"));
            let info = kind.info();
            assert_eq!(
                row[1],
                format!("`{}`", info.event_code),
                "{name}: event code"
            );
            assert_eq!(hours(&row[2]), info.deadline_h, "{name}: deadline");
            assert_eq!(
                row[3],
                if info.urgent { "yes" } else { "no" },
                "{name}: urgent"
            );
            let grace = info.grace_s.map_or("—".to_owned(), |g| format!("{g} s"));
            assert_eq!(row[4], grace, "{name}: warning grace");
            let details: Vec<&str> = info.details.iter().map(|d| d.name).collect();
            assert_eq!(names_in(&row[5]), details, "{name}: details");
            documented.push(kind);
        }
        for kind in IncidentKind::all() {
            assert!(
                documented.contains(&kind),
                "docs/rules.md's kinds table lacks {kind}"
            );
        }
        let ranked: Vec<IncidentKind> = IncidentKind::all().collect();
        assert_eq!(
            documented, ranked,
            "docs/rules.md lists the kinds in rank order"
        );
    }

    #[test]
    fn every_kind_and_detail_is_named_as_the_order_schema_takes_it() {
        let schema: serde_json::Value =
            serde_json::from_str(&doc("docs/schemas/work-order.schema.json")).unwrap();
        for field in ["kind", "detail"] {
            let pattern = schema["properties"][field]["pattern"].as_str().unwrap();
            assert_eq!(pattern, "^[a-z][a-z0-9_]{0,31}$", "{field}");
        }
        let well_named = |n: &str| {
            n.len() <= 32
                && n.starts_with(|c: char| c.is_ascii_lowercase())
                && n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        for kind in IncidentKind::all() {
            assert!(well_named(kind.as_str()), "{kind}");
            for d in kind.info().details {
                assert!(well_named(d.name), "{kind}: {}", d.name);
            }
        }
    }

    #[test]
    fn every_kind_has_one_row_whose_name_is_its_serde_name() {
        for row in KINDS.iter() {
            let kind = IncidentKind::from_name(row.name).unwrap();
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", row.name));
            assert_eq!(serde_json::from_str::<IncidentKind>(&json).unwrap(), kind);
            assert_eq!(KINDS.iter().filter(|r| r.name == row.name).count(), 1);
            assert_eq!(row.prompt_zh.is_some(), row.prompt_en.is_some());
            assert!(
                !row.title_zh.is_empty() && !row.title_en.is_empty(),
                "{}",
                row.name
            );
            assert!(row.rank != u16::MAX, "{} has a rank", row.name);
            assert!(crate::vocab::Seconds::new(row.deadline_h * 3600.0).is_ok());
            for d in row.details {
                assert_eq!(kind.detail(d.name).unwrap().as_str(), d.name);
                // A detail's name is unique across kinds: orders and [[codes]] name it alone.
                assert_eq!(Detail::all().filter(|x| x.as_str() == d.name).count(), 1);
            }
        }
        assert!(serde_json::from_str::<IncidentKind>("\"sunburn\"").is_err());
    }
}
