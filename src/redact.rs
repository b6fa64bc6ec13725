//! Credentials out of text that leaves the process. Camera URLs carry passwords
//! (`rtsp://admin:pw@…`), speaker URLs carry passwords or tokens (`?token=…`); an error message
//! or a log line that quotes one must not carry it on into the journal, the MQTT status or an
//! order. A service like geo: anything may call it, it calls nothing of lookout's.

use std::borrow::Cow;

/// Query keys whose values are secrets (compared without case; also as a suffix: `api_key`).
const SECRET_KEYS: [&str; 8] = [
    "token", "key", "password", "passwd", "pwd", "secret", "sig", "auth",
];

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// `text` with the password of every `scheme://user:password@host` URL in it, and the values of
/// secret-looking query parameters, replaced by `***`. Text without a URL is returned as is.
pub fn text(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme runs back from "://" over letters, digits, '+', '-', '.'.
        let scheme_start = rest[..at]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&url(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// One URL with its password and secret query values masked.
pub fn url(u: &str) -> String {
    let Some(scheme_end) = u.find("://") else {
        return u.to_owned();
    };
    let after = scheme_end + 3;
    // The authority ends at the first '/', '?' or '#'; the userinfo is before its last '@'.
    let authority_end = u[after..]
        .find(['/', '?', '#'])
        .map_or(u.len(), |i| after + i);
    let mut out = String::with_capacity(u.len());
    out.push_str(&u[..after]);
    let authority = &u[after..authority_end];
    match authority.rfind('@') {
        Some(atsign) => {
            let userinfo = &authority[..atsign];
            match userinfo.split_once(':') {
                Some((user, _)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                // A lone user part may itself be a token (`https://TOKEN@host`).
                None if userinfo.len() > 16 => out.push_str(MASK),
                None => out.push_str(userinfo),
            }
            out.push_str(&authority[atsign..]);
        }
        None => out.push_str(authority),
    }
    let tail = &u[authority_end..];
    match tail.split_once('?') {
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            let parts: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if is_secret_key(k) => format!("{k}={MASK}"),
                    _ => pair.to_owned(),
                })
                .collect();
            out.push_str(&parts.join("&"));
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
        }
        None => out.push_str(tail),
    }
    out
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEYS
        .iter()
        .any(|s| k == *s || k.ends_with(&format!("_{s}")) || k.ends_with(&format!("-{s}")))
        || k == "access_token"
        || k == "apikey"
}

/// A log writer that redacts every line it is given (the stderr log's safety net: whatever a
/// dependency puts in an error message, a camera password does not reach the journal).
pub struct Writer<W: std::io::Write>(pub W);

impl<W: std::io::Write> std::io::Write for Writer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let s = String::from_utf8_lossy(buf);
        self.0.write_all(text(&s).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens_are_masked_wherever_a_url_appears() {
        for (raw, want) in [
            (
                "rtsp://admin:S3cr3t@10.0.0.5:554/Streaming/101",
                "rtsp://admin:***@10.0.0.5:554/Streaming/101",
            ),
            (
                "camera gate: cannot open rtsp://u:p%40ss@cam/x (401)",
                "camera gate: cannot open rtsp://u:***@cam/x (401)",
            ),
            (
                "HTTP POST https://speaker.local/play?id=3&token=abc123&vol=5: refused",
                "HTTP POST https://speaker.local/play?id=3&token=***&vol=5: refused",
            ),
            (
                "\"https://x/y?api_key=K&Signature=S#frag\"",
                "\"https://x/y?api_key=***&Signature=S#frag\"",
            ),
            (
                "https://0123456789abcdef0123@hooks.example/z",
                "https://***@hooks.example/z",
            ),
            ("rtsp://cam.local/stream", "rtsp://cam.local/stream"),
            ("no url here: a:b@c", "no url here: a:b@c"),
            ("rtsp://a:b@c rtsp://d:e@f", "rtsp://a:***@c rtsp://d:***@f"),
            ("ünïcødé://x:y@z", "ünïcødé://x:***@z"),
        ] {
            assert_eq!(text(raw), want, "{raw}");
        }
    }
}
