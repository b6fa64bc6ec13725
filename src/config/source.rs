//! What a camera `source` string points at: part of the file's vocabulary, so the config can
//! resolve a file source's path and check a source without asking ingest.

/// Test patterns accepted as `test:PATTERN` sources.
pub const TEST_PATTERNS: &[&str] = &["smpte", "ball", "snow", "black", "gradient"];

/// What a camera `source` string points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind<'a> {
    Rtsp,
    File,
    Test(&'a str),
    Unsupported(String),
}

impl<'a> SourceKind<'a> {
    pub fn classify(source: &'a str) -> SourceKind<'a> {
        let lower = source.to_ascii_lowercase();
        if lower.starts_with("rtsp://") || lower.starts_with("rtsps://") {
            SourceKind::Rtsp
        } else if let Some(pattern) = source.strip_prefix("test:") {
            SourceKind::Test(pattern)
        } else if let Some((scheme, _)) = source.split_once("://") {
            SourceKind::Unsupported(scheme.to_owned())
        } else {
            SourceKind::File
        }
    }
}
