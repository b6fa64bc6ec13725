//! A PTZ camera's patrol: through its tour of presets, each visited in turn — go to the preset,
//! wait until the head reports it is still and a settle time has passed (focus and exposure
//! catch up after a move), then watch for the preset's dwell, and move on. Frames are analysed
//! only while watching, and each under the preset being watched: frames taken while the head
//! moves would feed the rules a smeared, shifting view.
//!
//! The state machine is driven by the caller's clock ([`Patrol::step`]) through a [`Head`], so
//! it runs the same on an ONVIF camera and in the unit tests.

use std::time::{Duration, Instant};

/// What a patrol needs of a PTZ head.
pub trait Head {
    /// Starts the move to a preset.
    fn goto(&mut self, token: &str) -> Result<(), String>;
    /// Whether the head reports it is moving.
    fn moving(&mut self) -> Result<bool, String>;
}

impl Head for crate::onvif::OnvifCamera {
    fn goto(&mut self, token: &str) -> Result<(), String> {
        self.goto_preset(token).map_err(|e| e.to_string())
    }
    fn moving(&mut self) -> Result<bool, String> {
        self.pose().map(|p| p.moving).map_err(|e| e.to_string())
    }
}

/// One stop of a tour.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// The ONVIF preset token.
    pub token: String,
    /// How long to watch there.
    pub dwell: Duration,
}

/// Where a patrol is.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Not started yet.
    Idle,
    /// Moving to the stop at `index` (since `since`).
    Moving { index: usize, since: Instant },
    /// Arrived at `index`, the head still; the picture settles until `until`.
    Settling { index: usize, until: Instant },
    /// Watching the stop at `index` until `until`: frames are analysed under its preset.
    Watching { index: usize, until: Instant },
    /// The head did not answer or refused: tried again at `retry_at`.
    Failed {
        index: usize,
        retry_at: Instant,
        why: String,
    },
}

/// A patrol over `stops`, in order, round and round.
#[derive(Debug)]
pub struct Patrol {
    stops: Vec<Stop>,
    phase: Phase,
    /// Time after the head reports still before frames count.
    settle: Duration,
    /// A move that takes longer than this is a failure (a jammed or unplugged head).
    move_timeout: Duration,
    /// How long after a failure the patrol tries again.
    retry: Duration,
    /// Stops completed (watched to the end), for the status.
    pub visits: u64,
}

impl Patrol {
    pub fn new(stops: Vec<Stop>, settle: Duration) -> Patrol {
        Patrol {
            stops,
            phase: Phase::Idle,
            settle,
            move_timeout: Duration::from_secs(30),
            retry: Duration::from_secs(10),
            visits: 0,
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The preset whose view frames show now, when they are to be analysed.
    pub fn watching(&self) -> Option<&str> {
        match &self.phase {
            Phase::Watching { index, .. } => Some(self.stops[*index].token.as_str()),
            _ => None,
        }
    }

    fn go(&mut self, index: usize, now: Instant, head: &mut dyn Head) {
        self.phase = match head.goto(&self.stops[index].token) {
            Ok(()) => Phase::Moving { index, since: now },
            Err(why) => Phase::Failed {
                index,
                retry_at: now + self.retry,
                why,
            },
        };
    }

    /// Advances the patrol to `now`; the caller calls it often (every frame, or every 100 ms).
    pub fn step(&mut self, now: Instant, head: &mut dyn Head) -> &Phase {
        if self.stops.is_empty() {
            return &self.phase;
        }
        match self.phase.clone() {
            Phase::Idle => self.go(0, now, head),
            Phase::Moving { index, since } => match head.moving() {
                Ok(false) => {
                    self.phase = Phase::Settling {
                        index,
                        until: now + self.settle,
                    }
                }
                Ok(true) if now.duration_since(since) > self.move_timeout => {
                    self.phase = Phase::Failed {
                        index,
                        retry_at: now + self.retry,
                        why: format!("still moving after {} s", self.move_timeout.as_secs()),
                    }
                }
                Ok(true) => {}
                Err(why) => {
                    self.phase = Phase::Failed {
                        index,
                        retry_at: now + self.retry,
                        why,
                    }
                }
            },
            Phase::Settling { index, until } if now >= until => {
                self.phase = Phase::Watching {
                    index,
                    until: now + self.stops[index].dwell,
                }
            }
            Phase::Watching { index, until } if now >= until => {
                self.visits += 1;
                self.go((index + 1) % self.stops.len(), now, head);
            }
            Phase::Failed {
                index, retry_at, ..
            } if now >= retry_at => self.go(index, now, head),
            _ => {}
        }
        &self.phase
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head that takes `travel` per move; `broken` refuses every command.
    struct FakeHead {
        arrives: Option<Instant>,
        now: Instant,
        travel: Duration,
        broken: bool,
        moves: Vec<String>,
    }

    impl Head for FakeHead {
        fn goto(&mut self, token: &str) -> Result<(), String> {
            if self.broken {
                return Err("connection refused".into());
            }
            self.moves.push(token.into());
            self.arrives = Some(self.now + self.travel);
            Ok(())
        }
        fn moving(&mut self) -> Result<bool, String> {
            Ok(self.arrives.is_some_and(|a| self.now < a))
        }
    }

    fn stops() -> Vec<Stop> {
        ["a", "b", "c"]
            .iter()
            .map(|t| Stop {
                token: (*t).into(),
                dwell: Duration::from_secs(10),
            })
            .collect()
    }

    #[test]
    fn a_tour_watches_each_preset_for_its_dwell_and_never_while_moving() {
        let start = Instant::now();
        let mut head = FakeHead {
            arrives: None,
            now: start,
            travel: Duration::from_secs(3),
            broken: false,
            moves: Vec::new(),
        };
        let mut patrol = Patrol::new(stops(), Duration::from_secs(1));
        let mut watched: Vec<(String, u64)> = Vec::new();
        for tick in 0..1000u64 {
            let now = start + Duration::from_millis(100 * tick);
            head.now = now;
            patrol.step(now, &mut head);
            if let Some(token) = patrol.watching() {
                assert!(!head.moving().unwrap(), "watching while the head moves");
                match watched.last_mut() {
                    Some((t, n)) if t == token => *n += 1,
                    _ => watched.push((token.into(), 1)),
                }
            }
        }
        // 100 s: each stop is 3 s moving + 1 s settling + 10 s watching (+ a tick or two to
        // see each change) ≈ 14.2 s: seven stops watched, six of them to the end.
        let order: Vec<&str> = watched.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(order, ["a", "b", "c", "a", "b", "c", "a"]);
        assert!(watched[..6].iter().all(|(_, n)| *n == 100), "{watched:?}");
        assert!(patrol.visits >= 6, "{}", patrol.visits);
        assert_eq!(head.moves.len() as u64, patrol.visits + 1);
    }

    #[test]
    fn a_head_that_refuses_is_retried_and_nothing_is_watched_meanwhile() {
        let start = Instant::now();
        let mut head = FakeHead {
            arrives: None,
            now: start,
            travel: Duration::from_secs(1),
            broken: true,
            moves: Vec::new(),
        };
        let mut patrol = Patrol::new(stops(), Duration::from_secs(1));
        patrol.step(start, &mut head);
        assert!(matches!(patrol.phase(), Phase::Failed { index: 0, .. }));
        patrol.step(start + Duration::from_secs(5), &mut head);
        assert!(patrol.watching().is_none());
        head.broken = false;
        head.now = start + Duration::from_secs(11);
        patrol.step(head.now, &mut head);
        assert!(matches!(patrol.phase(), Phase::Moving { index: 0, .. }));
    }
}
