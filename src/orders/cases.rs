//! City case codes as data: what an order is filed as (数字城管 大类/小类), the criteria text
//! and its disposal deadline (处置时限). A deployment's `[[codes]]` rows come first; a kind with
//! no row keeps its default code (the rule's `event_code`) and the kind's default deadline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::rfc3339;
use crate::config::{CaseCodeConfig, Config, KeyPath, Problem};
use crate::rules::Detail;
use crate::vocab::IncidentKind;

/// The case an order is filed as, carried in the order document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// 大类 code.
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub category_name: Option<String>,
    /// 小类 code (the order's `event_code`).
    pub subcategory: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subcategory_name: Option<String>,
    /// 立案标准.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub filing: Option<String>,
    /// 结案标准.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub closing: Option<String>,
    /// 处置时限: when the order, still open, escalates one grade. None: no deadline.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deadline_at: Option<String>,
    /// The deadline passed with the order still open (escalated once, then this is set).
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub overdue: bool,
}

/// Names of the default codes, so an order carries words as well as numbers.
const DEFAULT_NAMES: &[(&str, &str)] = &[
    ("05", "街面秩序"),
    ("0501", "无照经营游商"),
    ("0505", "机动车乱停放"),
    ("21", "本地扩展事件"),
    ("2101", "人员聚集"),
    ("2102", "溺水风险"),
    ("2103", "烟火"),
    ("2199", "摄像机故障"),
];

fn default_name(code: &str) -> Option<String> {
    DEFAULT_NAMES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, n)| (*n).to_owned())
}

/// A deployment's case-code table, ready to file orders.
#[derive(Debug, Clone, Default)]
pub struct CaseBook {
    rows: Vec<CaseCodeConfig>,
}

impl CaseBook {
    pub fn new(config: &Config) -> Self {
        CaseBook {
            rows: config.codes.clone(),
        }
    }

    /// The row for `kind` and `detail`: the one naming the detail first, then the kind's own.
    fn row(&self, kind: IncidentKind, detail: Option<Detail>) -> Option<&CaseCodeConfig> {
        let detail = detail.map(|d| d.as_str());
        self.rows
            .iter()
            .find(|r| r.kind == kind && r.detail.is_some() && r.detail.as_deref() == detail)
            .or_else(|| {
                self.rows
                    .iter()
                    .find(|r| r.kind == kind && r.detail.is_none())
            })
    }

    /// What an order opened at `opened` is filed as; `event_code` is the rule's (its own
    /// setting or the kind's default), used when no row names the kind.
    pub fn file(
        &self,
        kind: IncidentKind,
        detail: Option<Detail>,
        event_code: &str,
        opened: DateTime<Utc>,
    ) -> Case {
        let deadline = |hours: f64| {
            (hours > 0.0)
                .then(|| chrono::Duration::milliseconds((hours * 3_600_000.0).round() as i64))
                .map(|d| rfc3339(opened + d))
        };
        match self.row(kind, detail) {
            Some(r) => Case {
                category: r.category.clone(),
                category_name: r.category_name.clone(),
                subcategory: r.subcategory.clone(),
                subcategory_name: r.subcategory_name.clone(),
                filing: r.filing.clone(),
                closing: r.closing.clone(),
                deadline_at: deadline(r.deadline_h.unwrap_or(kind.info().deadline_h)),
                overdue: false,
            },
            None => {
                let category: String = event_code.chars().take(2).collect();
                Case {
                    category_name: default_name(&category),
                    category,
                    subcategory: event_code.to_owned(),
                    subcategory_name: default_name(event_code),
                    filing: None,
                    closing: None,
                    deadline_at: deadline(kind.info().deadline_h),
                    overdue: false,
                }
            }
        }
    }
}

/// The case-code table's checks that need the kinds' words: a `detail` must be one of its
/// kind's.
pub fn check(config: &Config) -> Vec<Problem> {
    config
        .codes
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let d = row.detail.as_deref()?;
            row.kind.detail(d).is_none().then(|| {
                let known: Vec<&str> = row.kind.info().details.iter().map(|x| x.name).collect();
                let message = if known.is_empty() {
                    format!("{d:?} is not a detail: {} has none", row.kind)
                } else {
                    format!(
                        "{d:?} is not a detail of {}; its details are {}",
                        row.kind,
                        known.join(", ")
                    )
                };
                Problem::new(
                    KeyPath::default().key("codes").index(i).key("detail"),
                    message,
                )
            })
        })
        .collect()
}
