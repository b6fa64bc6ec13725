//! Commands from the centre: parsing and checking, nothing else (pure).
//!
//! A command arrives on `{root}/cmd/{verb}` with a JSON body. Everything about it is hostile
//! until proven otherwise: size, syntax, types, unknown fields, string lengths, identifiers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Largest command body accepted.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Longest `actor`, `team`, `photo` or id string.
const MAX_SHORT: usize = 256;
/// Longest `note`.
const MAX_NOTE: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verb {
    Dispatch,
    Handled,
    Verify,
    Cancel,
    Close,
}

impl Verb {
    pub fn parse(s: &str) -> Option<Verb> {
        Some(match s {
            "dispatch" => Verb::Dispatch,
            "handled" => Verb::Handled,
            "verify" => Verb::Verify,
            "cancel" => Verb::Cancel,
            "close" => Verb::Close,
            _ => return None,
        })
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Verb::Dispatch => "dispatch",
            Verb::Handled => "handled",
            Verb::Verify => "verify",
            Verb::Cancel => "cancel",
            Verb::Close => "close",
        }
    }
    pub const ALL: [Verb; 5] = [
        Verb::Dispatch,
        Verb::Handled,
        Verb::Verify,
        Verb::Cancel,
        Verb::Close,
    ];
}

/// The body, as sent. Unknown fields are refused (a typo must not be silently ignored).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandBody {
    pub request_id: String,
    pub order_id: String,
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Optional addressing check: when present it must name this box.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    #[serde(default, rename = "box", skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
    /// `dispatch`: the team sent (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `dispatch`: when the team should be done, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// `handled`: the team's photo (URL or an id in the centre's system).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<String>,
    /// `handled`, `verify`: seconds of re-check instead of `[orders] verify_window_s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_s: Option<f64>,
}

/// A command that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub verb: Verb,
    pub body: CommandBody,
}

/// Why a command was refused: the `error.code` of its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON at all.
    MalformedJson,
    /// JSON, but a field is missing, of the wrong type, unknown, too long or out of range.
    InvalidField,
    /// The topic's last segment is not a verb.
    UnknownVerb,
    /// Over [`MAX_COMMAND_BYTES`].
    TooLarge,
    /// `site`/`box` name another box.
    WrongBox,
    /// No such order on this box.
    UnknownOrder,
    /// The state machine does not allow it.
    IllegalTransition,
    /// The box could not store the change (disk full, broken ledger); safe to retry.
    Internal,
    /// The order took all the commands one order may take (a loop, or abuse): close or
    /// cancel it, or raise a new one.
    LimitReached,
    /// More commands arrive than `uplink.command_rate` allows: not applied, not stored; send it
    /// again later (same request id).
    RateLimited,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnknownVerb => "unknown_verb",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::WrongBox => "wrong_box",
            ErrorCode::UnknownOrder => "unknown_order",
            ErrorCode::IllegalTransition => "illegal_transition",
            ErrorCode::Internal => "internal",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::RateLimited => "rate_limited",
        }
    }
}

/// A refusal: code and a message a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

/// Whether `s` can be a topic segment and an id: 1-128 of `A-Z a-z 0-9 _ - .`, not `.`/`..`.
pub fn is_safe_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The request id of a body that failed to parse, if one can be read from it safely: so even a
/// refused command gets its answer on its own topic.
pub fn salvage_request_id(payload: &[u8]) -> Option<String> {
    if payload.len() > MAX_COMMAND_BYTES {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    let id = v.get("request_id")?.as_str()?;
    is_safe_id(id).then(|| id.to_owned())
}

/// Parses and checks a command for this box (`site`, `box_id`).
pub fn parse(
    verb: &str,
    payload: &[u8],
    site: &str,
    box_id: &str,
) -> Result<Command, CommandError> {
    if payload.len() > MAX_COMMAND_BYTES {
        return Err(CommandError::new(
            ErrorCode::TooLarge,
            format!(
                "the command is {} bytes; the limit is {MAX_COMMAND_BYTES}",
                payload.len()
            ),
        ));
    }
    let body: CommandBody = serde_json::from_slice(payload).map_err(|e| {
        let code = if e.is_data() {
            ErrorCode::InvalidField
        } else {
            ErrorCode::MalformedJson
        };
        CommandError::new(code, e.to_string())
    })?;
    let Some(verb) = Verb::parse(verb) else {
        return Err(CommandError::new(
            ErrorCode::UnknownVerb,
            format!(
                "{:?} is not a command; use one of dispatch, handled, verify, cancel, close",
                truncate(verb, 64)
            ),
        ));
    };
    let invalid = |m: String| Err(CommandError::new(ErrorCode::InvalidField, m));
    if !is_safe_id(&body.request_id) {
        return invalid("request_id must be 1-128 of A-Z a-z 0-9 _ - .".into());
    }
    if !is_safe_id(&body.order_id) {
        return invalid("order_id must be 1-128 of A-Z a-z 0-9 _ - .".into());
    }
    for (name, value, max) in [
        ("actor", Some(&body.actor), MAX_SHORT),
        ("note", body.note.as_ref(), MAX_NOTE),
        ("team", body.team.as_ref(), MAX_SHORT),
        ("photo", body.photo.as_ref(), MAX_SHORT * 8),
        ("site", body.site.as_ref(), MAX_SHORT),
        ("box", body.box_id.as_ref(), MAX_SHORT),
    ] {
        if let Some(v) = value {
            if v.chars().count() > max {
                return invalid(format!("{name} is longer than {max} characters"));
            }
            if v.chars().any(|c| c.is_control() && c != '\n') {
                return invalid(format!("{name} contains control characters"));
            }
        }
    }
    if body.actor.trim().is_empty() {
        return invalid("actor must name who sends the command".into());
    }
    if body.site.as_deref().is_some_and(|s| s != site)
        || body.box_id.as_deref().is_some_and(|b| b != box_id)
    {
        return Err(CommandError::new(
            ErrorCode::WrongBox,
            format!(
                "the command is for {}/{}; this is {site}/{box_id}",
                truncate(body.site.as_deref().unwrap_or(site), 64),
                truncate(body.box_id.as_deref().unwrap_or(box_id), 64)
            ),
        ));
    }
    let only = |field: &str, value: bool, verbs: &[Verb]| {
        if value && !verbs.contains(&verb) {
            Err(CommandError::new(
                ErrorCode::InvalidField,
                format!(
                    "{field} is not used by {}; it belongs to {}",
                    verb.as_str(),
                    verbs
                        .iter()
                        .map(Verb::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))
        } else {
            Ok(())
        }
    };
    only("team", body.team.is_some(), &[Verb::Dispatch])?;
    only("due", body.due.is_some(), &[Verb::Dispatch])?;
    only("photo", body.photo.is_some(), &[Verb::Handled])?;
    only(
        "window_s",
        body.window_s.is_some(),
        &[Verb::Handled, Verb::Verify],
    )?;
    if verb == Verb::Dispatch && body.team.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return invalid("dispatch needs the team that is sent".into());
    }
    if let Some(due) = &body.due {
        if DateTime::parse_from_rfc3339(due).is_err() {
            return invalid(format!(
                "due {:?} is not an RFC 3339 time like 2026-11-23T10:00:00+08:00",
                truncate(due, 64)
            ));
        }
    }
    if let Some(w) = body.window_s {
        if !(1.0..=3600.0).contains(&w) {
            return invalid("window_s must be between 1 and 3600".into());
        }
    }
    Ok(Command { verb, body })
}

/// The answer to a command, published once on `{root}/cmd-result/{request_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    pub schema: u32,
    /// Absent only when the command had no usable request id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub request_id: Option<String>,
    /// Absent when the topic's verb was not one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub verb: Option<Verb>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub order_id: Option<String>,
    pub ok: bool,
    /// The order's state after the command (ok results).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state: Option<crate::orders::OrderState>,
    /// The order revision the command produced (ok results).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub revision: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<ResultError>,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultError {
    pub code: ErrorCode,
    pub message: String,
}

impl CommandResult {
    pub fn failed(
        request_id: Option<String>,
        verb: Option<Verb>,
        order_id: Option<String>,
        error: CommandError,
        at: DateTime<Utc>,
    ) -> Self {
        CommandResult {
            schema: 1,
            request_id,
            verb,
            order_id,
            ok: false,
            state: None,
            revision: None,
            error: Some(ResultError {
                code: error.code,
                message: error.message,
            }),
            at: crate::orders::rfc3339(at),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(verb: &str, body: &str) -> Command {
        parse(verb, body.as_bytes(), "s", "b").expect("valid command")
    }
    fn code(verb: &str, body: &[u8]) -> ErrorCode {
        parse(verb, body, "s", "b").expect_err("refused").code
    }

    #[test]
    fn a_dispatch_is_read_with_its_team_and_due_time() {
        let c = parse_ok(
            "dispatch",
            r#"{"request_id":"r-1","order_id":"o1","actor":"张三","team":"城管一队","due":"2026-11-23T10:00:00+08:00"}"#,
        );
        assert_eq!(c.verb, Verb::Dispatch);
        assert_eq!(c.body.team.as_deref(), Some("城管一队"));
    }

    #[test]
    fn hostile_bodies_get_precise_codes() {
        let ok = r#""request_id":"r","order_id":"o","actor":"a""#;
        assert_eq!(code("close", b"{not json"), ErrorCode::MalformedJson);
        assert_eq!(code("close", b""), ErrorCode::MalformedJson);
        assert_eq!(
            code("close", br#"{"request_id":5,"order_id":"o","actor":"a"}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code("close", format!("{{{ok},\"extra\":1}}").as_bytes()),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code("close", br#"{"request_id":"r","actor":"a"}"#),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code("explode", format!("{{{ok}}}").as_bytes()),
            ErrorCode::UnknownVerb
        );
        assert_eq!(
            code("close", &vec![b' '; MAX_COMMAND_BYTES + 1]),
            ErrorCode::TooLarge
        );
        assert_eq!(
            code("close", format!("{{{ok},\"box\":\"other\"}}").as_bytes()),
            ErrorCode::WrongBox
        );
        assert_eq!(
            code(
                "close",
                br#"{"request_id":"../../x","order_id":"o","actor":"a"}"#
            ),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code("dispatch", format!("{{{ok}}}").as_bytes()),
            ErrorCode::InvalidField,
            "dispatch without a team"
        );
        assert_eq!(
            code("close", format!("{{{ok},\"team\":\"t\"}}").as_bytes()),
            ErrorCode::InvalidField,
            "a field of another verb"
        );
        assert_eq!(
            code("verify", format!("{{{ok},\"window_s\":1e9}}").as_bytes()),
            ErrorCode::InvalidField
        );
        assert_eq!(
            code(
                "dispatch",
                format!("{{{ok},\"team\":\"t\",\"due\":\"tomorrow\"}}").as_bytes()
            ),
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn a_request_id_is_salvaged_only_when_safe() {
        assert_eq!(
            salvage_request_id(br#"{"request_id":"r-9","order_id":5}"#).as_deref(),
            Some("r-9")
        );
        assert_eq!(salvage_request_id(br#"{"request_id":"a/b"}"#), None);
        assert_eq!(salvage_request_id(b"garbage"), None);
    }
}
