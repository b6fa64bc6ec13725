//! `docs/rules.md` against the code: every rule kind has its section, and its key table lists
//! exactly the keys its config takes, with the defaults the code has — read from the config's
//! schema (`schemars`), so a key added, renamed or re-defaulted in a rule file fails here until
//! its section says so.

use serde_json::Value;

use super::RULE_TYPES;

/// Keys every rule takes, documented once in the "Every rule also takes" table.
const SHARED_KEYS: &[&str] = &["filter"];

fn rules_md() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/rules.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The section of `kind`: from its heading to the next `## `.
fn section(text: &str, kind: &str) -> Option<String> {
    let marker = format!("(`kind = \"{kind}\"`)");
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.starts_with("## ") && l.contains(&marker)));
    lines.next()?;
    Some(
        lines
            .take_while(|l| !l.starts_with("## "))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The rows of the section's `| key | default | …` table, each as (key, default) pairs: a row
/// may document several keys (`` `window`, `min_hits` `` with `5, 3`).
fn key_rows(section: &str) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in section.lines() {
        if line.starts_with("| key | default |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let keys: Vec<&str> = cells[0]
            .split(',')
            .map(|k| k.trim().trim_matches('`'))
            .collect();
        let defaults: Vec<&str> = if keys.len() > 1 {
            cells[1].split(',').map(str::trim).collect()
        } else {
            vec![cells[1]]
        };
        assert_eq!(keys.len(), defaults.len(), "row {line:?}");
        rows.extend(
            keys.into_iter()
                .zip(defaults)
                .map(|(k, d)| (k.to_owned(), d.to_owned())),
        );
    }
    rows
}

/// Whether a documented default says the same as the schema's (numbers as numbers, words
/// and booleans in backticks; lists and tables are prose and not compared).
fn same_default(documented: &str, code: &Value) -> bool {
    match code {
        Value::Number(n) => {
            let first = documented.split_whitespace().next().unwrap_or("");
            // f32 defaults arrive widened (0.3 as 0.30000001192092896).
            match (first.parse::<f64>(), n.as_f64()) {
                (Ok(d), Some(c)) => (d - c).abs() <= 1e-6 * c.abs().max(1.0),
                _ => false,
            }
        }
        Value::Bool(b) => documented == format!("`{b}`"),
        Value::String(s) => documented == format!("`{s}`"),
        _ => true,
    }
}

#[test]
fn every_rule_kind_has_a_section_whose_keys_and_defaults_are_the_codes() {
    let text = rules_md();
    for rule in RULE_TYPES.iter() {
        let section = section(&text, rule.name).unwrap_or_else(|| {
            panic!(
                "docs/rules.md has no section headed ... (`kind = \"{}\"`)",
                rule.name
            )
        });
        let schema = serde_json::to_value((rule.schema)()).unwrap();
        let properties = schema["properties"].as_object().expect("properties");
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let rows = key_rows(&section);
        assert!(
            !rows.is_empty(),
            "{}: no | key | default | table",
            rule.name
        );
        for (key, documented) in &rows {
            let Some(property) = properties.get(key) else {
                panic!(
                    "docs/rules.md ({}) documents `{key}`, which the rule does not take",
                    rule.name
                );
            };
            if required.contains(&key.as_str()) {
                assert_eq!(documented, "required", "{}: `{key}` is required", rule.name);
            } else if let Some(default) = property.get("default") {
                assert!(
                    same_default(documented, default),
                    "docs/rules.md ({}): `{key}` defaults to {default}, the docs say {documented:?}",
                    rule.name
                );
            }
        }
        for key in properties.keys() {
            assert!(
                rows.iter().any(|(k, _)| k == key) || SHARED_KEYS.contains(&key.as_str()),
                "docs/rules.md ({}) does not document `{key}`",
                rule.name
            );
        }
    }
}

#[test]
fn every_kind_a_rule_raises_is_registered_and_every_rule_kind_is_named_once() {
    for rule in RULE_TYPES.iter() {
        assert_eq!(
            RULE_TYPES.iter().filter(|r| r.name == rule.name).count(),
            1,
            "{}",
            rule.name
        );
        for kind in rule.kinds {
            assert!(
                crate::vocab::IncidentKind::from_name(kind.as_str()).is_some(),
                "{} raises {kind}, which has no row in vocab::KINDS",
                rule.name
            );
        }
    }
}
