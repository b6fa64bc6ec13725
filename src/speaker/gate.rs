//! Whether a prompt may play now: quiet hours (no prompts at night next to homes, except where a
//! life is at stake: water and fire) and a per-speaker rate limit (a pole that shouts every
//! minute is soon ignored, and complained about). Time comes in as an argument, so the rules
//! are tested with any clock.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::vocab::{DailyWindows, IncidentKind};

/// The gate's answer for one prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Play,
    /// Inside the quiet hours.
    Quiet,
    /// The speaker played too recently or too often; it may play again after this long.
    RateLimited {
        retry_after: Duration,
    },
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Play => "play",
            Decision::Quiet => "quiet_hours",
            Decision::RateLimited { .. } => "rate_limited",
        }
    }
}

/// Kinds that are warned whatever the hour and however often: someone may be in danger.
pub fn is_urgent(kind: IncidentKind) -> bool {
    kind.info().urgent
}

#[derive(Debug)]
pub struct Gate {
    quiet: DailyWindows,
    min_gap: Duration,
    max_per_hour: usize,
    played: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl Gate {
    pub fn new(quiet: DailyWindows, min_gap: Duration, max_per_hour: usize) -> Self {
        Gate {
            quiet,
            min_gap,
            max_per_hour,
            played: HashMap::new(),
        }
    }

    /// Decides for a prompt of `kind` on `speaker` at `now`, and counts it when it plays.
    pub fn check(&mut self, speaker: &str, kind: IncidentKind, now: DateTime<Utc>) -> Decision {
        let urgent = is_urgent(kind);
        if !urgent && self.quiet.contains(now) {
            return Decision::Quiet;
        }
        let hour = chrono::Duration::hours(1);
        let history = self.played.entry(speaker.to_owned()).or_default();
        while history.front().is_some_and(|t| now - *t >= hour) {
            history.pop_front();
        }
        if !urgent {
            let since_last = history
                .back()
                .map(|t| (now - *t).to_std().unwrap_or_default());
            if let Some(since) = since_last.filter(|s| *s < self.min_gap) {
                return Decision::RateLimited {
                    retry_after: self.min_gap - since,
                };
            }
            if history.len() >= self.max_per_hour {
                let oldest = history.front().copied().unwrap_or(now);
                return Decision::RateLimited {
                    retry_after: (oldest + hour - now).to_std().unwrap_or_default(),
                };
            }
        }
        history.push_back(now);
        Decision::Play
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, TimeZone};

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        cst()
            .with_ymd_and_hms(2026, 11, 23, h, m, s)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn gate() -> Gate {
        // 22:00-07:00 quiet, 60 s between prompts, 3 an hour.
        Gate::new(
            DailyWindows::new(&["22:00-07:00".try_into().unwrap()], cst()),
            Duration::from_secs(60),
            3,
        )
    }

    #[test]
    fn quiet_hours_silence_everything_but_water_and_fire() {
        let mut g = gate();
        assert_eq!(
            g.check("pole", crate::rules::VENDING, at(23, 30, 0)),
            Decision::Quiet
        );
        assert_eq!(
            g.check("pole", crate::rules::PARKING, at(6, 59, 59)),
            Decision::Quiet
        );
        assert_eq!(
            g.check("pole", crate::rules::WATER, at(23, 30, 0)),
            Decision::Play
        );
        assert_eq!(
            g.check("pole", crate::rules::FIRE, at(2, 0, 0)),
            Decision::Play
        );
        assert_eq!(
            g.check("other", crate::rules::CROWD, at(7, 0, 0)),
            Decision::Play,
            "the quiet hours end at 07:00"
        );
        assert_eq!(
            g.check("x", crate::rules::CROWD, at(21, 59, 0)),
            Decision::Play
        );
        assert_eq!(
            g.check("y", crate::rules::CROWD, at(22, 0, 0)),
            Decision::Quiet
        );
    }

    #[test]
    fn a_speaker_waits_its_gap_and_plays_at_most_its_hourly_share() {
        let mut g = gate();
        assert_eq!(
            g.check("pole", crate::rules::VENDING, at(10, 0, 0)),
            Decision::Play
        );
        assert_eq!(
            g.check("pole", crate::rules::PARKING, at(10, 0, 20)),
            Decision::RateLimited {
                retry_after: Duration::from_secs(40)
            }
        );
        assert_eq!(
            g.check("other pole", crate::rules::PARKING, at(10, 0, 20)),
            Decision::Play,
            "limits are per speaker"
        );
        assert_eq!(
            g.check("pole", crate::rules::VENDING, at(10, 1, 0)),
            Decision::Play
        );
        assert_eq!(
            g.check("pole", crate::rules::VENDING, at(10, 2, 0)),
            Decision::Play
        );
        // Three in the last hour: the fourth waits until the first is an hour old.
        assert_eq!(
            g.check("pole", crate::rules::VENDING, at(10, 30, 0)),
            Decision::RateLimited {
                retry_after: Duration::from_secs(30 * 60)
            }
        );
        assert_eq!(
            g.check("pole", crate::rules::WATER, at(10, 30, 1)),
            Decision::Play,
            "a person in the water is warned regardless"
        );
        assert_eq!(
            g.check("pole", crate::rules::VENDING, at(11, 1, 30)),
            Decision::Play
        );
    }
}
