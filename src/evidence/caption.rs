//! What a photo says about itself: the caption burnt into its top band, so a print or a
//! screenshot of it still tells when, where, what and which order.

use chrono::{DateTime, FixedOffset, Utc};

use crate::vocab::{IncidentKind, Severity};

/// The facts of one photo's caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Caption {
    /// When the frame was captured; shown in the box's local time with its offset.
    pub at: DateTime<Utc>,
    pub offset: FixedOffset,
    pub site: String,
    pub box_id: String,
    /// The camera's name (its id when it has none).
    pub camera: String,
    pub kind: IncidentKind,
    pub severity: Severity,
    pub order_id: String,
    /// The order revision the photo belongs to.
    pub revision: u32,
    /// Which photo of the order: `opened`, `updated`, `resumed`, `verified`.
    pub moment: String,
}

fn severity_words(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Blue => ("蓝色", "blue"),
        Severity::Yellow => ("黄色", "yellow"),
        Severity::Orange => ("橙色", "orange"),
        Severity::Red => ("红色", "red"),
    }
}

fn moment_zh(moment: &str) -> &'static str {
    match moment {
        "opened" => "立案",
        "updated" => "更新",
        "resumed" => "续报",
        "verified" => "核查",
        _ => "",
    }
}

impl Caption {
    /// The caption's two lines, Chinese and English side by side: a dispatcher reads one, an
    /// auditor from elsewhere the other.
    pub fn lines(&self) -> [String; 2] {
        let local = self.at.with_timezone(&self.offset);
        let info = self.kind.info();
        let (sev_zh, sev_en) = severity_words(self.severity);
        [
            format!(
                "{}  {} / {} / {}",
                local.format("%Y-%m-%d %H:%M:%S UTC%:z"),
                self.site,
                self.box_id,
                self.camera
            ),
            format!(
                "{} {} · {} {} · 工单 order {} r{} · {} {}",
                info.label_zh,
                info.label_en,
                sev_zh,
                sev_en,
                self.order_id,
                self.revision,
                moment_zh(&self.moment),
                self.moment
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_caption_gives_local_time_with_its_offset_and_names_in_both_languages() {
        let caption = Caption {
            at: Utc.with_ymd_and_hms(2026, 12, 6, 13, 5, 9).unwrap(),
            offset: FixedOffset::east_opt(8 * 3600).unwrap(),
            site: "jiangbei-03".into(),
            box_id: "box-017".into(),
            camera: "东门广场".into(),
            kind: IncidentKind::from_name("fire").unwrap(),
            severity: Severity::Red,
            order_id: "0193".into(),
            revision: 2,
            moment: "opened".into(),
        };
        let [first, second] = caption.lines();
        assert_eq!(
            first,
            "2026-12-06 21:05:09 UTC+08:00  jiangbei-03 / box-017 / 东门广场"
        );
        let fire = caption.kind;
        assert!(second.starts_with(&format!(
            "{} {} · 红色 red · 工单 order 0193 r2",
            fire.label_zh(),
            fire.label_en()
        )));
        assert!(second.ends_with("立案 opened"), "{second}");
    }
}
