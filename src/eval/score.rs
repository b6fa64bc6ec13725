//! Matching raised orders to expectations, and the scorecard per kind. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::truth::{Clip, Expected};
use crate::rules::{Detail, IncidentKind, Severity};

/// An order as the scorecard sees it: its first revision.
#[derive(Debug, Clone, Serialize)]
pub struct Raised {
    pub order: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// Stream seconds at which it opened.
    pub opened_s: f64,
    pub count: usize,
}

/// One expectation and what met it.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub kind: IncidentKind,
    pub opens: [f64; 2],
    /// The order that met it, if one did.
    pub found: Option<Raised>,
    /// Seconds from the incident becoming visible to the order.
    pub time_to_order_s: Option<f64>,
}

/// One clip's score.
#[derive(Debug, Clone, Serialize)]
pub struct ClipScore {
    pub clip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub outcomes: Vec<Outcome>,
    pub false_alarms: Vec<Raised>,
    /// Why the clip could not be replayed (counts as every expectation missed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall seconds the replay took.
    pub elapsed_s: f64,
}

fn meets(e: &Expected, r: &Raised) -> bool {
    r.kind == e.kind
        && e.severity.is_none_or(|s| s == r.severity)
        && e.detail.is_none_or(|d| Some(d) == r.detail)
        && (e.opens[0]..=e.opens[1]).contains(&r.opened_s)
        && e.count.is_none_or(|[lo, hi]| (lo..=hi).contains(&r.count))
}

/// Gives each expectation the earliest order that meets it; orders left over are false alarms
/// unless their kind is ignored on this clip.
pub fn score_clip(
    clip: &Clip,
    mut raised: Vec<Raised>,
    error: Option<String>,
    elapsed_s: f64,
) -> ClipScore {
    raised.sort_by(|a, b| a.opened_s.total_cmp(&b.opened_s));
    let mut used = vec![false; raised.len()];
    let outcomes = clip
        .expect
        .iter()
        .map(|e| {
            let hit = raised
                .iter()
                .enumerate()
                .position(|(i, r)| !used[i] && meets(e, r));
            if let Some(i) = hit {
                used[i] = true;
            }
            let found = hit.map(|i| raised[i].clone());
            Outcome {
                kind: e.kind,
                opens: e.opens,
                time_to_order_s: found.as_ref().map(|r| r.opened_s - e.opens[0]),
                found,
            }
        })
        .collect();
    let false_alarms = raised
        .into_iter()
        .zip(used)
        .filter(|(r, used)| !used && !clip.ignore.contains(&r.kind))
        .map(|(r, _)| r)
        .collect();
    ClipScore {
        clip: clip.name(),
        note: clip.note.clone(),
        outcomes,
        false_alarms,
        error,
        elapsed_s,
    }
}

/// Totals of one kind over all clips.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindScore {
    pub expected: usize,
    pub found: usize,
    pub missed: usize,
    pub false_alarms: usize,
    /// Mean and worst seconds from visible to order, over the found ones.
    pub mean_time_to_order_s: Option<f64>,
    pub max_time_to_order_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub clips: Vec<ClipScore>,
    pub kinds: BTreeMap<String, KindScore>,
    pub expected: usize,
    pub found: usize,
    pub false_alarms: usize,
    /// found / expected (1 when nothing was expected).
    pub recall: f64,
}

impl Scorecard {
    pub fn new(clips: Vec<ClipScore>) -> Scorecard {
        let mut kinds: BTreeMap<String, KindScore> = BTreeMap::new();
        let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for c in &clips {
            for o in &c.outcomes {
                let k = kinds.entry(o.kind.as_str().into()).or_default();
                k.expected += 1;
                match o.time_to_order_s {
                    Some(t) => {
                        k.found += 1;
                        times.entry(o.kind.as_str().into()).or_default().push(t);
                    }
                    None => k.missed += 1,
                }
            }
            for f in &c.false_alarms {
                kinds
                    .entry(f.kind.as_str().into())
                    .or_default()
                    .false_alarms += 1;
            }
        }
        for (kind, t) in times {
            let k = kinds.get_mut(&kind).expect("a kind with times was counted");
            k.mean_time_to_order_s = Some(t.iter().sum::<f64>() / t.len() as f64);
            k.max_time_to_order_s = t.iter().copied().reduce(f64::max);
        }
        let expected = kinds.values().map(|k| k.expected).sum();
        let found = kinds.values().map(|k| k.found).sum();
        let false_alarms = kinds.values().map(|k| k.false_alarms).sum();
        Scorecard {
            recall: if expected == 0 {
                1.0
            } else {
                found as f64 / expected as f64
            },
            clips,
            kinds,
            expected,
            found,
            false_alarms,
        }
    }

    /// The scorecard as a text table: one line per clip, then one per kind.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let secs = |t: Option<f64>| t.map_or("-".to_owned(), |t| format!("{t:.1}"));
        out.push_str(&format!(
            "{:<38} {:>8} {:>6} {:>6}  {}\n",
            "clip", "expected", "found", "false", "orders (kind@opened s, count)"
        ));
        for c in &self.clips {
            let found = c.outcomes.iter().filter(|o| o.found.is_some()).count();
            let mut what: Vec<String> = c
                .outcomes
                .iter()
                .map(|o| match &o.found {
                    Some(r) => format!("{}@{:.1}({})", r.kind.as_str(), r.opened_s, r.count),
                    None => format!("MISSED {} in {:?}", o.kind.as_str(), o.opens),
                })
                .collect();
            what.extend(c.false_alarms.iter().map(|r| {
                format!(
                    "FALSE {}@{:.1}({}, {})",
                    r.kind.as_str(),
                    r.opened_s,
                    r.count,
                    r.severity.as_str()
                )
            }));
            if let Some(e) = &c.error {
                what.push(format!("ERROR {e}"));
            }
            out.push_str(&format!(
                "{:<38} {:>8} {:>6} {:>6}  {}\n",
                c.clip,
                c.outcomes.len(),
                found,
                c.false_alarms.len(),
                what.join(", ")
            ));
        }
        out.push_str(&format!(
            "\n{:<14} {:>8} {:>6} {:>6} {:>6} {:>10} {:>10}\n",
            "kind", "expected", "found", "missed", "false", "mean_s", "max_s"
        ));
        for (kind, k) in &self.kinds {
            out.push_str(&format!(
                "{:<14} {:>8} {:>6} {:>6} {:>6} {:>10} {:>10}\n",
                kind,
                k.expected,
                k.found,
                k.missed,
                k.false_alarms,
                secs(k.mean_time_to_order_s),
                secs(k.max_time_to_order_s)
            ));
        }
        out.push_str(&format!(
            "{:<14} {:>8} {:>6} {:>6} {:>6}   recall {:.0} %\n",
            "all",
            self.expected,
            self.found,
            self.expected - self.found,
            self.false_alarms,
            self.recall * 100.0
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(expect: &str) -> Clip {
        let text = format!("video = \"a/parking.mp4\"\nconfig = \"c.toml\"\n{expect}");
        toml::from_str(&text).expect("clip")
    }

    fn raised(kind: IncidentKind, at: f64, count: usize) -> Raised {
        Raised {
            order: format!("o{at}"),
            kind,
            severity: Severity::Yellow,
            detail: None,
            opened_s: at,
            count,
        }
    }

    #[test]
    fn an_order_in_its_window_is_found_and_everything_else_is_a_false_alarm() {
        let c = clip(
            r#"expect = [{ kind = "crowd", opens = [2.0, 8.0], count = [5, 9] }]
ignore = ["camera_fault"]"#,
        );
        let s = score_clip(
            &c,
            vec![
                raised(crate::rules::CROWD, 1.0, 6),  // too early
                raised(crate::rules::CROWD, 3.0, 12), // count out of range
                raised(crate::rules::CROWD, 4.0, 7),  // the one
                raised(crate::rules::FIRE, 5.0, 1),
                raised(crate::rules::CAMERA_FAULT, 6.0, 1),
            ],
            None,
            1.0,
        );
        assert_eq!(s.outcomes[0].found.as_ref().map(|r| r.opened_s), Some(4.0));
        assert_eq!(s.outcomes[0].time_to_order_s, Some(2.0));
        let fa: Vec<f64> = s.false_alarms.iter().map(|r| r.opened_s).collect();
        assert_eq!(fa, vec![1.0, 3.0, 5.0], "camera faults are ignored here");
        let card = Scorecard::new(vec![s]);
        assert_eq!((card.expected, card.found, card.false_alarms), (1, 1, 3));
        assert_eq!(card.kinds["crowd"].false_alarms, 2);
        assert!(card.render().contains("FALSE fire@5.0"));
    }

    #[test]
    fn a_missing_order_is_missed_and_recall_counts_it() {
        let c = clip(r#"expect = [{ kind = "parking", opens = [0.0, 15.0] }]"#);
        let card = Scorecard::new(vec![score_clip(&c, vec![], None, 1.0)]);
        assert_eq!(card.recall, 0.0);
        assert_eq!(card.kinds["parking"].missed, 1);
        assert!(card.render().contains("MISSED parking"));
    }
}
