//! Maps a key path such as `cameras[1].rules[0].zone` back to a line and column of the TOML text,
//! so validation errors (found on the typed config, after parsing) still point into the file.

use std::fmt;

use toml_edit::{Document, Item, Table, Value};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from the document root to a key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPath(pub Vec<Segment>);

impl KeyPath {
    pub fn key(mut self, k: &str) -> Self {
        self.0.push(Segment::Key(k.to_owned()));
        self
    }
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(Segment::Index(i));
        self
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => write!(f, "{k}")?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |n| before.len() - n - 1)
        + 1;
    (line, column)
}

pub struct Locator<'a> {
    text: &'a str,
    doc: Option<Document<&'a str>>,
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: Document::parse(text).ok(),
        }
    }

    /// Line and column of the deepest part of `path` that the document has; (1, 1) if none.
    pub fn locate(&self, path: &KeyPath) -> (usize, usize) {
        self.doc
            .as_ref()
            .and_then(|doc| in_table(doc.as_table(), &path.0))
            .map_or((1, 1), |s| line_col(self.text, s.start))
    }
}

type Span = std::ops::Range<usize>;

fn in_table(table: &Table, path: &[Segment]) -> Option<Span> {
    let Some((Segment::Key(k), rest)) = path.split_first() else {
        return table.span();
    };
    let Some((key, child)) = table.get_key_value(k) else {
        return table.span();
    };
    let here = key.span();
    let deeper = match (rest.first(), child) {
        (None, _) => None,
        (Some(Segment::Index(n)), Item::ArrayOfTables(a)) => {
            a.get(*n).and_then(|t| in_table(t, &rest[1..]).or(t.span()))
        }
        (Some(_), Item::Table(t)) => in_table(t, rest),
        (Some(_), Item::Value(v)) => in_value(v, rest),
        _ => None,
    };
    deeper.or(here)
}

fn in_value(value: &Value, path: &[Segment]) -> Option<Span> {
    match (path.split_first(), value) {
        (None, v) => v.span(),
        (Some((Segment::Index(n), rest)), Value::Array(a)) => {
            a.get(*n).and_then(|v| in_value(v, rest)).or(value.span())
        }
        (Some((Segment::Key(k), rest)), Value::InlineTable(t)) => match t.get_key_value(k) {
            Some((key, v)) => v.as_value().and_then(|v| in_value(v, rest)).or(key.span()),
            None => value.span(),
        },
        _ => value.span(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[box]\nsite = \"a\"\nid = \"b\"\n\n[[cameras]]\nid = \"one\"\n\n[[cameras]]\nid = \"two\"\nsource = \"x\"\n\n[[cameras.rules]]\nkind = \"crowd\"\nzone = \"z\"\n";

    fn at(path: KeyPath) -> (usize, usize) {
        Locator::new(TEXT).locate(&path)
    }

    #[test]
    fn finds_keys_in_tables_and_arrays_of_tables() {
        assert_eq!(at(KeyPath::default().key("box").key("id")), (3, 1));
        assert_eq!(
            at(KeyPath::default().key("cameras").index(1).key("source")),
            (10, 1)
        );
        assert_eq!(
            at(KeyPath::default()
                .key("cameras")
                .index(1)
                .key("rules")
                .index(0)
                .key("zone")),
            (14, 1)
        );
    }

    #[test]
    fn missing_key_falls_back_to_its_table() {
        let (line, _) = at(KeyPath::default().key("cameras").index(0).key("source"));
        assert!((5..=6).contains(&line), "line {line}");
    }
}
