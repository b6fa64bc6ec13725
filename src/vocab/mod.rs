//! Shared vocabulary: the words every stage speaks — a warning grade, the kinds of incident,
//! the box's local time and windows of the day. A leaf: it imports no other module of lookout,
//! so the config, the rules, the speakers and the orders can all use it without a cycle.

mod gauge;
mod kind;
mod seconds;
mod severity;
mod time;

pub use gauge::{DetectRate, Gauge};
pub use kind::{Detail, DetailInfo, IncidentKind, KindInfo, KINDS};
pub use seconds::{Seconds, MAX_SECONDS};
pub use severity::Severity;
pub use time::{parse_utc_offset, parse_window, DailyWindows, UtcOffset, Window};
