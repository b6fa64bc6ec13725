//! The box's local time: its offset from UTC and `"HH:MM-HH:MM"` windows of the day. Both are
//! typed when the config is read, so a value that does not parse is an error at its key — never
//! a silent fallback at run time.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveTime, Timelike, Utc};
use serde::Deserialize;

/// Parses `"+08:00"` / `"-05:30"` / `"Z"`.
pub fn parse_utc_offset(s: &str) -> Option<FixedOffset> {
    if s == "Z" || s == "UTC" {
        return FixedOffset::east_opt(0);
    }
    let sign = match s.get(..1)? {
        "+" => 1,
        "-" => -1,
        _ => return None,
    };
    let (h, m) = s.get(1..)?.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// The box's offset from UTC, as written in the config (`"+08:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UtcOffset(FixedOffset);

impl UtcOffset {
    /// China Standard Time, the default.
    pub fn china() -> Self {
        UtcOffset(FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset"))
    }

    pub fn fixed(&self) -> FixedOffset {
        self.0
    }
}

impl TryFrom<String> for UtcOffset {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_utc_offset(&s)
            .map(UtcOffset)
            .ok_or_else(|| format!("{s:?} is not an offset like \"+08:00\""))
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Parses `"HH:MM-HH:MM"` into minutes of the day.
pub fn parse_window(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let t = |x: &str| NaiveTime::parse_from_str(x.trim(), "%H:%M").ok();
    let (a, b) = (t(a)?, t(b)?);
    Some((a.hour() * 60 + a.minute(), b.hour() * 60 + b.minute()))
}

/// One `"HH:MM-HH:MM"` window of the day; an end before the start wraps past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Window {
    /// Minutes of the day.
    start: u32,
    end: u32,
}

impl Window {
    fn contains(&self, minute: u32) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// As it is written in the config: `"22:00-07:00"`.
impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

impl TryFrom<String> for Window {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_window(&s)
            .map(|(start, end)| Window { start, end })
            .ok_or_else(|| format!("{s:?} is not a window like \"22:00-07:00\""))
    }
}

impl TryFrom<&str> for Window {
    type Error = String;
    fn try_from(s: &str) -> Result<Self, String> {
        Window::try_from(s.to_owned())
    }
}

/// Windows of the day in the box's local time (a rule's hours, the speakers' quiet hours).
#[derive(Debug, Clone)]
pub struct DailyWindows {
    windows: Vec<Window>,
    offset: FixedOffset,
}

impl DailyWindows {
    pub fn new(windows: &[Window], offset: FixedOffset) -> Self {
        DailyWindows {
            windows: windows.to_vec(),
            offset,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether `t` falls in one of the windows.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.offset);
        let minute = local.hour() * 60 + local.minute();
        self.windows.iter().any(|w| w.contains(minute))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_written_as_it_is_read() {
        for text in ["22:00-07:00", "08:30-17:05", "00:00-23:59"] {
            assert_eq!(Window::try_from(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn offsets_and_windows_parse_or_say_why() {
        assert_eq!(
            UtcOffset::try_from("-05:30".to_owned()).unwrap().fixed(),
            FixedOffset::west_opt(5 * 3600 + 1800).unwrap()
        );
        assert!(UtcOffset::try_from("8".to_owned())
            .unwrap_err()
            .contains("+08:00"));
        assert!(UtcOffset::try_from("+15:00".to_owned()).is_err());
        let w = Window::try_from("22:00-07:00").unwrap();
        assert!(w.contains(23 * 60) && w.contains(0) && !w.contains(12 * 60));
        assert!(Window::try_from("25:00-07:00").is_err());
        assert!(Window::try_from("22:00").is_err());
    }
}
