//! Pieces every rule shares: schedules (when a rule is armed), object filters (minimum score and
//! size), exclusion masks, and the confirm → open → clear → cooldown life cycle of one episode.

use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, Utc};

use super::Zone;
use crate::config::{FilterConfig, ScheduleConfig};
use crate::detect::BBox;
use crate::vocab::{DailyWindows, Seconds};
use serde::{Deserialize, Serialize};

/// When a rule is armed, in the box's local time.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The hours it is armed; none = all day.
    hours: DailyWindows,
    /// Allowed weekdays, Monday = 1 … Sunday = 7; empty = every day.
    days: Vec<u32>,
    /// Allowed months 1..=12; empty = all year.
    months: Vec<u32>,
    offset: FixedOffset,
}

impl Schedule {
    pub fn new(config: &ScheduleConfig, offset: FixedOffset) -> Self {
        Schedule {
            hours: DailyWindows::new(&config.hours, offset),
            days: config.days.clone(),
            months: config.months.clone(),
            offset,
        }
    }

    /// Whether the rule is armed at `t`.
    pub fn is_active(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.offset);
        if !self.months.is_empty() && !self.months.contains(&local.month()) {
            return false;
        }
        if !self.days.is_empty() && !self.days.contains(&local.weekday().number_from_monday()) {
            return false;
        }
        self.hours.is_empty() || self.hours.contains(t)
    }
}

/// Minimum score and size an object must have to count for a rule, per label.
#[derive(Debug, Clone)]
pub struct Filter {
    config: FilterConfig,
}

impl Filter {
    pub fn new(config: &FilterConfig) -> Self {
        Filter {
            config: config.clone(),
        }
    }

    pub fn accepts(
        &self,
        label: &str,
        score: f32,
        bbox: &BBox,
        frame_w: f32,
        frame_h: f32,
    ) -> bool {
        let own = self.config.labels.get(label);
        let min_score = own
            .and_then(|l| l.min_score)
            .unwrap_or(self.config.min_score);
        let min_area = own.and_then(|l| l.min_area).unwrap_or(self.config.min_area);
        score >= min_score && bbox.area() / (frame_w * frame_h) >= min_area
    }
}

/// Areas of the image a rule ignores (a chimney, a lamp, a billboard).
#[derive(Debug, Clone, Default)]
pub struct Masks(pub Vec<Zone>);

impl Masks {
    /// Whether a normalised point is masked out.
    pub fn hides(&self, x: f64, y: f64) -> bool {
        self.0.iter().any(|m| m.contains(x, y))
    }
}

/// How "not moving" is measured for parked vehicles, vendors and left objects.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stationary {
    /// Seconds of history judged.
    #[serde(default = "default_stationary_window")]
    pub window_s: Seconds,
    /// Largest movement of the ground point over the window, as a fraction of the box height.
    #[serde(default = "default_stationary_move")]
    pub max_move: f32,
}

fn default_stationary_window() -> Seconds {
    Seconds::of(10.0)
}
fn default_stationary_move() -> f32 {
    0.25
}

impl Default for Stationary {
    fn default() -> Self {
        Stationary {
            window_s: default_stationary_window(),
            max_move: default_stationary_move(),
        }
    }
}

/// The cooldown every rule defaults to.
pub fn default_cooldown() -> Seconds {
    Seconds::of(60.0)
}

/// The COCO labels that count as vehicles (parking, congestion).
pub fn default_vehicle_labels() -> Vec<String> {
    ["car", "truck", "bus", "motorcycle"]
        .map(String::from)
        .to_vec()
}

pub fn default_true() -> bool {
    true
}

/// Where one episode of a rule stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stage {
    /// Nothing going on.
    Idle,
    /// The condition holds since `since`, not yet for the confirm time.
    Pending { since: Duration },
    /// An order is open; `missing_since` is set while the condition does not hold.
    Open { missing_since: Option<Duration> },
    /// Closed at `until - cooldown`; the same problem does not reopen before `until`.
    Cooldown { until: Duration },
}

/// What a step of the life cycle asks the rule to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    Open,
    Clear,
}

/// Confirm time, clear time and cooldown of one episode: the debouncing every rule needs.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    pub confirm: Duration,
    pub clear: Duration,
    pub cooldown: Duration,
    pub stage: Stage,
    /// Whether the condition held at the last observation, debouncing aside: what a camera
    /// re-check samples.
    pub holds: bool,
}

impl Lifecycle {
    pub fn new(confirm_s: f64, clear_s: f64, cooldown_s: f64) -> Self {
        Lifecycle {
            confirm: Duration::from_secs_f64(confirm_s),
            clear: Duration::from_secs_f64(clear_s),
            cooldown: Duration::from_secs_f64(cooldown_s),
            stage: Stage::Idle,
            holds: false,
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self.stage, Stage::Open { .. })
    }

    /// Advances by one observation: does the condition hold at `now`?
    pub fn step(&mut self, holds: bool, now: Duration) -> Transition {
        self.holds = holds;
        match self.stage {
            Stage::Cooldown { until } if now < until => Transition::None,
            Stage::Cooldown { .. } | Stage::Idle => {
                if holds {
                    self.stage = Stage::Pending { since: now };
                    return self.step(true, now);
                }
                self.stage = Stage::Idle;
                Transition::None
            }
            Stage::Pending { since } => {
                if !holds {
                    self.stage = Stage::Idle;
                    Transition::None
                } else if now.saturating_sub(since) >= self.confirm {
                    self.stage = Stage::Open {
                        missing_since: None,
                    };
                    Transition::Open
                } else {
                    Transition::None
                }
            }
            Stage::Open { missing_since } => match (holds, missing_since) {
                (true, _) => {
                    self.stage = Stage::Open {
                        missing_since: None,
                    };
                    Transition::None
                }
                (false, None) => {
                    self.stage = Stage::Open {
                        missing_since: Some(now),
                    };
                    self.step(false, now)
                }
                (false, Some(since)) if now.saturating_sub(since) >= self.clear => {
                    self.stage = Stage::Cooldown {
                        until: now + self.cooldown,
                    };
                    Transition::Clear
                }
                (false, Some(_)) => Transition::None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn lifecycle_confirms_clears_and_cools_down() {
        let mut l = Lifecycle::new(2.0, 3.0, 10.0);
        assert_eq!(l.step(true, secs(0.0)), Transition::None);
        assert_eq!(l.step(true, secs(1.9)), Transition::None);
        assert_eq!(l.step(true, secs(2.0)), Transition::Open);
        assert_eq!(l.step(false, secs(3.0)), Transition::None);
        assert_eq!(
            l.step(true, secs(4.0)),
            Transition::None,
            "flicker does not clear"
        );
        assert_eq!(l.step(false, secs(5.0)), Transition::None);
        assert_eq!(l.step(false, secs(8.0)), Transition::Clear);
        // Re-entry during the cooldown: nothing, even when it would have confirmed.
        for t in 9..18 {
            assert_eq!(l.step(true, secs(t as f64)), Transition::None, "t={t}");
        }
        // After the cooldown it confirms again from scratch.
        assert_eq!(l.step(true, secs(18.0)), Transition::None);
        assert_eq!(l.step(true, secs(20.0)), Transition::Open);
    }

    #[test]
    fn a_gap_before_confirmation_restarts_the_confirm_time() {
        let mut l = Lifecycle::new(2.0, 3.0, 0.0);
        l.step(true, secs(0.0));
        l.step(false, secs(1.5));
        assert_eq!(l.step(true, secs(2.0)), Transition::None);
        assert_eq!(l.step(true, secs(4.0)), Transition::Open);
    }

    #[test]
    fn schedules_respect_hours_across_midnight_days_and_months() {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap();
        let s = Schedule::new(
            &ScheduleConfig {
                hours: vec!["22:00-06:00".try_into().unwrap()],
                days: vec![],
                months: vec![6, 7, 8],
            },
            cst,
        );
        let at = |m: u32, d: u32, h: u32, min: u32| {
            cst.with_ymd_and_hms(2026, m, d, h, min, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        assert!(s.is_active(at(7, 1, 23, 0)));
        assert!(s.is_active(at(7, 1, 5, 59)));
        assert!(!s.is_active(at(7, 1, 6, 0)), "end is exclusive");
        assert!(s.is_active(at(7, 1, 22, 0)), "start is inclusive");
        assert!(!s.is_active(at(7, 1, 12, 0)));
        assert!(!s.is_active(at(11, 1, 23, 0)), "out of season");
        let weekdays = Schedule::new(
            &ScheduleConfig {
                hours: vec![],
                days: vec![1, 2, 3, 4, 5],
                months: vec![],
            },
            cst,
        );
        assert!(
            weekdays.is_active(at(11, 23, 10, 0)),
            "2026-11-23 is a Monday"
        );
        assert!(!weekdays.is_active(at(11, 22, 10, 0)), "Sunday");
    }
}
