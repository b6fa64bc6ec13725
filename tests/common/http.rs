//! A plain HTTP/1.1 client for the box's server: one request per connection, the answer whole
//! (status, head, body as text and as bytes). Enough for the console's contract and benches;
//! the browser test speaks HTTPS through Chromium instead.

use std::io::{Read, Write};

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
    /// The body as sent (photos).
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// The `name=value` a `Set-Cookie` answer sets, ready for a `Cookie` header.
    pub fn cookie(&self) -> Option<String> {
        let c = self.header("set-cookie")?;
        Some(c.split(';').next()?.to_owned())
    }
}

/// One HTTP/1.1 request (the connection closed after it). A POST's body is a form.
pub fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("the box's HTTP port");
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    // Photos are bytes: the body is kept as lossy text, their length is in the header.
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(raw.len(), |i| i + 4);
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Answer {
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
        bytes: raw[split..].to_vec(),
    }
}

/// A form body, each value URL-encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
