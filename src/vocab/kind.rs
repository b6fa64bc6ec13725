//! The kinds of incident and what each one is called, coded and warned as: one row per kind,
//! read by the titles, the prompts, the speakers' urgency and the config checks.

use serde::{Deserialize, Serialize};

/// What kind of problem an incident is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// 人员聚集
    Crowd,
    /// 烟火: open flame
    Fire,
    /// 烟火: smoke without visible flame
    Smoke,
    /// 违停
    Parking,
    /// 占道经营 / 流动摊贩
    Vending,
    /// 溺水 danger
    Water,
    /// 摄像机故障: the camera's picture is frozen, black, blurred or no longer its calibrated view.
    CameraFault,
}

/// Everything about a kind that is not its rule: one row of the registry.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: IncidentKind,
    /// As written in documents and configs (`vending`, `camera_fault`, …).
    pub name: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// City-management event code used when the rule sets none.
    pub event_code: &'static str,
    /// Warned whatever the hour and however often: someone may be in danger.
    pub urgent: bool,
    /// Default 处置时限 (disposal deadline), hours from opening: an order still open then
    /// escalates one grade. Urgent kinds get minutes, street order an afternoon.
    pub deadline_h: f64,
    /// What the default voice prompt says; `None`: nobody on site to talk to.
    pub prompt_zh: Option<&'static str>,
    pub prompt_en: Option<&'static str>,
}

/// The registry, in the order documents list the kinds. Crowd, water and fire have no national
/// code in the 数字化城市管理 classification: theirs are local extension codes (21xx).
pub const KINDS: &[KindInfo] = &[
    KindInfo {
        kind: IncidentKind::Vending,
        name: "vending",
        deadline_h: 2.0,
        label_zh: "占道经营",
        label_en: "street vending",
        event_code: "0501",
        urgent: false,
        prompt_zh: Some("此处禁止摆摊，请立即离开。"),
        prompt_en: Some("Street vending is not allowed here. Please leave now."),
    },
    KindInfo {
        kind: IncidentKind::Parking,
        name: "parking",
        deadline_h: 1.0,
        label_zh: "机动车违停",
        label_en: "illegal parking",
        event_code: "0505",
        urgent: false,
        prompt_zh: Some("此处禁止停车，请立即驶离。"),
        prompt_en: Some("Parking is not allowed here. Please move your vehicle now."),
    },
    KindInfo {
        kind: IncidentKind::Crowd,
        name: "crowd",
        deadline_h: 1.0,
        label_zh: "人员聚集",
        label_en: "crowd gathering",
        event_code: "2101",
        urgent: false,
        prompt_zh: Some("此处人员密集，请勿聚集，有序离开。"),
        prompt_en: Some("This area is crowded. Please do not gather, and move on."),
    },
    KindInfo {
        kind: IncidentKind::Water,
        name: "water",
        deadline_h: 0.25,
        label_zh: "溺水风险",
        label_en: "water danger",
        event_code: "2102",
        urgent: true,
        prompt_zh: Some("危险水域，请立即远离水边。"),
        prompt_en: Some("Danger, deep water. Step away from the edge now."),
    },
    KindInfo {
        kind: IncidentKind::Fire,
        name: "fire",
        deadline_h: 0.5,
        label_zh: "明火",
        label_en: "fire",
        event_code: "2103",
        urgent: true,
        prompt_zh: Some("发现火情，请立即撤离，并拨打一一九。"),
        prompt_en: Some("Fire. Leave the area now and call one one nine."),
    },
    KindInfo {
        kind: IncidentKind::Smoke,
        name: "smoke",
        deadline_h: 0.5,
        label_zh: "烟雾",
        label_en: "smoke",
        event_code: "2103",
        urgent: true,
        prompt_zh: Some("发现火情，请立即撤离，并拨打一一九。"),
        prompt_en: Some("Fire. Leave the area now and call one one nine."),
    },
    KindInfo {
        kind: IncidentKind::CameraFault,
        name: "camera_fault",
        deadline_h: 24.0,
        label_zh: "摄像机故障",
        label_en: "camera fault",
        event_code: "2199",
        urgent: false,
        prompt_zh: None,
        prompt_en: None,
    },
];

impl IncidentKind {
    /// This kind's row of the registry.
    pub fn info(&self) -> &'static KindInfo {
        KINDS
            .iter()
            .find(|row| row.kind == *self)
            .expect("every kind has a row in vocab::kind::KINDS")
    }

    /// The kinds that have a default voice prompt (a camera fault has nobody on site to talk to).
    pub fn prompted() -> impl Iterator<Item = IncidentKind> {
        KINDS
            .iter()
            .filter(|row| row.prompt_zh.is_some())
            .map(|row| row.kind)
    }

    /// Every kind, in the registry's order.
    pub fn all() -> impl Iterator<Item = IncidentKind> {
        KINDS.iter().map(|row| row.kind)
    }

    /// The kind named `name` (`"vending"`), if there is one.
    pub fn from_name(name: &str) -> Option<IncidentKind> {
        KINDS
            .iter()
            .find(|row| row.name == name)
            .map(|row| row.kind)
    }

    /// The kind as it is written in documents and configs (`vending`, `camera_fault`, …).
    pub fn as_str(&self) -> &'static str {
        self.info().name
    }

    /// City-management event code used when the rule sets none.
    pub fn default_event_code(&self) -> &'static str {
        self.info().event_code
    }

    pub fn label_zh(&self) -> &'static str {
        self.info().label_zh
    }

    pub fn label_en(&self) -> &'static str {
        self.info().label_en
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The rows of the first Markdown table after `heading`: cells, trimmed.
    fn table_after(text: &str, heading: &str) -> Vec<Vec<String>> {
        let rest = text
            .split(heading)
            .nth(1)
            .unwrap_or_else(|| panic!("no {heading:?}"));
        rest.lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().to_owned())
                    .collect()
            })
            .collect()
    }

    /// `` `fire`, `smoke` `` → the kinds named.
    fn kinds_in(cell: &str) -> Vec<IncidentKind> {
        cell.split(',')
            .map(|n| n.trim().trim_matches('`'))
            .map(|n| IncidentKind::from_name(n).unwrap_or_else(|| panic!("{n:?} is no kind")))
            .collect()
    }

    #[test]
    fn the_documents_say_what_the_registry_says() {
        let rules = doc("docs/rules.md");
        let mut coded = Vec::new();
        for row in table_after(&rules, "## Event codes") {
            for kind in kinds_in(&row[0]) {
                assert_eq!(
                    format!("`{}`", kind.info().event_code),
                    row[1],
                    "docs/rules.md event code of {}",
                    kind.as_str()
                );
                coded.push(kind);
            }
        }
        let orders = doc("docs/orders.md");
        let mut timed = Vec::new();
        for row in table_after(&orders, "## Case codes and disposal deadlines") {
            let hours = match row[1].split_once(' ') {
                Some((n, "min")) => n.parse::<f64>().unwrap() / 60.0,
                Some((n, "h")) => n.parse::<f64>().unwrap(),
                _ => panic!("deadline {:?}", row[1]),
            };
            for kind in kinds_in(&row[0]) {
                assert_eq!(
                    kind.info().deadline_h,
                    hours,
                    "docs/orders.md deadline of {}",
                    kind.as_str()
                );
                timed.push(kind);
            }
        }
        let schema: serde_json::Value =
            serde_json::from_str(&doc("docs/schemas/work-order.schema.json")).unwrap();
        let mut enumerated: Vec<String> = schema["properties"]["kind"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        enumerated.sort();
        let mut names: Vec<String> = KINDS.iter().map(|r| r.name.to_owned()).collect();
        names.sort();
        assert_eq!(enumerated, names, "the work-order schema's kinds");
        let config = doc("docs/config.md");
        let codes = table_after(&config, "## `[[codes]]`");
        let kind_row = codes.iter().find(|r| r[0] == "`kind`").unwrap();
        for row in KINDS {
            assert!(
                coded.contains(&row.kind),
                "{} has no event code row",
                row.name
            );
            assert!(
                timed.contains(&row.kind),
                "{} has no deadline row",
                row.name
            );
            assert!(
                kind_row[2].contains(&format!("`{}`", row.name)),
                "docs/config.md [[codes]] kind lists {}",
                row.name
            );
        }
    }

    #[test]
    fn every_kind_has_one_row_whose_name_is_its_serde_name() {
        for row in KINDS {
            let json = serde_json::to_string(&row.kind).unwrap();
            assert_eq!(json, format!("\"{}\"", row.name));
            assert_eq!(KINDS.iter().filter(|r| r.kind == row.kind).count(), 1);
            assert_eq!(IncidentKind::from_name(row.name), Some(row.kind));
            assert_eq!(row.prompt_zh.is_some(), row.prompt_en.is_some());
        }
    }
}
