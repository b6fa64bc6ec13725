//! The human-readable parts of an order: titles and timeline notes, in the box's language.

use super::{OrderState, Step, Warning, WarningStatus, WorkOrder};
use crate::config::Language;
use crate::rules::{IncidentKind, Phase, Severity};

pub(super) fn note(
    phase: Phase,
    kind: IncidentKind,
    count: usize,
    severity: Severity,
    lang: Language,
) -> String {
    let info = kind.info();
    let fill = |template: &str, label: &str| {
        template
            .replace("{label}", label)
            .replace("{n}", &count.to_string())
    };
    match (lang, phase) {
        (Language::Zh, Phase::Opened) => fill(info.opened_zh, info.label_zh),
        (Language::En, Phase::Opened) => fill(info.opened_en, info.label_en),
        (Language::Zh, Phase::Updated) => {
            format!("更新：{count} 个目标，等级 {}", severity.as_str())
        }
        (Language::En, Phase::Updated) => {
            format!("now {count} object(s), severity {}", severity.as_str())
        }
        (Language::Zh, Phase::Cleared) => info.cleared_zh.into(),
        (Language::En, Phase::Cleared) => info.cleared_en.into(),
    }
}

/// The title of an order: its kind's (or detail's) words from the kinds registry, the place and
/// the state.
pub(super) fn title(order: &WorkOrder, lang: Language) -> String {
    let camera = &order.camera;
    let place = order.zone.as_ref().map_or_else(
        || camera.name.clone(),
        |z| format!("{} {}", camera.name, z.name),
    );
    let info = order.kind.info();
    let detail = order.detail.and_then(|d| d.info(order.kind));
    let (zh_state, en_state) = state_suffix(order.state);
    let n = order.count.to_string();
    match lang {
        Language::Zh => {
            let what = detail
                .map_or(info.title_zh, |d| d.title_zh)
                .replace("{n}", &n);
            format!("{what}：{place}{zh_state}")
        }
        Language::En => {
            let what = detail
                .map_or(info.title_en, |d| d.title_en)
                .replace("{n}", &n);
            format!("{what}: {place}{en_state}")
        }
    }
}

fn state_suffix(state: OrderState) -> (&'static str, &'static str) {
    match state {
        OrderState::Open => ("", ""),
        OrderState::Dispatched => ("（已派遣）", " (dispatched)"),
        OrderState::Handled => ("（已处置）", " (handled)"),
        OrderState::Verifying => ("（核查中）", " (verifying)"),
        OrderState::Closed => ("（已办结）", " (closed)"),
        OrderState::Reopened => ("（核查未通过，重新打开）", " (reopened)"),
        OrderState::Cancelled => ("（误报撤销）", " (cancelled)"),
        OrderState::Cleared => ("（已消失）", " (gone)"),
        OrderState::Warned => ("（已现场喊话）", " (warned on site)"),
        OrderState::Escalated => ("（现场劝离无效，待派遣）", " (escalated)"),
    }
}

/// The box's own words for a step in the timeline (the centre's note, when it gave one, is kept
/// as it was written).
pub(super) fn step_note(step: Step, lang: Language) -> &'static str {
    match (lang, step) {
        (Language::Zh, Step::Dispatch) => "已派遣处置人员",
        (Language::Zh, Step::Handled) => "处置人员报告已处置",
        (Language::Zh, Step::Verify) => "开始视频核查",
        (Language::Zh, Step::Cancel) => "误报，已撤销",
        (Language::Zh, Step::Close) => "指挥中心办结",
        (Language::Zh, Step::RuleCleared) => "现场已恢复，目标消失",
        (Language::Zh, Step::VerifiedGone) => "视频核查通过：问题已消除，工单办结",
        (Language::Zh, Step::VerifiedPresent) => "视频核查未通过：问题仍在，工单重新打开并升级",
        (Language::Zh, Step::Inconclusive) => "视频核查无法完成：摄像机无画面，稍后重试",
        (Language::Zh, Step::Warn) => "已通过现场音柱喊话劝离",
        (Language::Zh, Step::Escalate) => "现场劝离后复核：问题仍在，上报指挥中心派遣",
        (Language::En, Step::Dispatch) => "team dispatched",
        (Language::En, Step::Handled) => "team reports it handled",
        (Language::En, Step::Verify) => "camera re-check started",
        (Language::En, Step::Cancel) => "false alarm, cancelled",
        (Language::En, Step::Close) => "closed by the centre",
        (Language::En, Step::RuleCleared) => "no longer seen",
        (Language::En, Step::VerifiedGone) => "re-check passed: the problem is gone, order closed",
        (Language::En, Step::VerifiedPresent) => {
            "re-check failed: the problem is still there, order reopened and escalated"
        }
        (Language::En, Step::Inconclusive) => {
            "re-check could not be done: no frames from the camera, retrying later"
        }
        (Language::En, Step::Warn) => "voice warning given on site",
        (Language::En, Step::Escalate) => {
            "re-check after the on-site warning: still there, escalated to the centre for dispatch"
        }
    }
}

/// The note of a played warning that moves the order to `warned`: which speaker, how often, and
/// when the camera looks again.
pub fn warned_note(warning: &Warning, recheck_at: &str, lang: Language) -> String {
    match lang {
        Language::Zh => format!(
            "音柱 {} 现场喊话 {} 次；{recheck_at} 复核",
            warning.speaker, warning.times
        ),
        Language::En => format!(
            "voice warning on speaker {} ({}×); camera re-check at {recheck_at}",
            warning.speaker, warning.times
        ),
    }
}

/// The note of a warning that leaves the state as it is (water and fire, which the centre has
/// anyway; a warning skipped or failed).
pub fn warning_note(warning: &Warning, lang: Language) -> String {
    let why = warning.reason.as_deref().unwrap_or_default();
    let speaker = &warning.speaker;
    match (warning.status, lang) {
        (WarningStatus::Played, Language::Zh) => format!(
            "音柱 {speaker} 现场喊话 {} 次（同时上报指挥中心）",
            warning.times
        ),
        (WarningStatus::Played, Language::En) => format!(
            "voice warning on speaker {speaker} ({}×), the centre has the order too",
            warning.times
        ),
        (WarningStatus::Skipped, Language::Zh) => format!("未喊话：{why}"),
        (WarningStatus::Skipped, Language::En) => format!("no voice warning: {why}"),
        (WarningStatus::Failed, Language::Zh) => format!("音柱 {speaker} 故障，未能喊话：{why}"),
        (WarningStatus::Failed, Language::En) => {
            format!("speaker {speaker} failed, no voice warning: {why}")
        }
    }
}

/// The note of an order an earlier run left open that the rules see again after a restart.
pub(super) fn seen_again_after_restart(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "设备重启后再次确认：问题仍在",
        Language::En => "seen again after the box restarted",
    }
}

/// The note of an order an earlier run left open that was not seen again after a restart.
pub(super) fn not_seen_after_restart(lang: Language) -> &'static str {
    match lang {
        Language::Zh => "设备重启后未再发现，视为已恢复",
        Language::En => "not seen again after the box restarted",
    }
}

/// The note of an order still open at its disposal deadline: when it was due and the grades.
pub fn overdue_note(deadline: &str, was: Severity, now: Severity, lang: Language) -> String {
    match lang {
        Language::Zh => format!(
            "超过处置时限（{deadline}）仍未处置，等级由 {} 升为 {}",
            was.as_str(),
            now.as_str()
        ),
        Language::En => format!(
            "still open past its disposal deadline ({deadline}): escalated from {} to {}",
            was.as_str(),
            now.as_str()
        ),
    }
}

/// The timeline note of photos the evidence store evicted (`[storage] evidence_max_bytes`).
pub fn evidence_dropped_note(names: &[String], bytes: u64, lang: Language) -> String {
    let kb = bytes.div_ceil(1024);
    match lang {
        Language::Zh => format!(
            "证据 {}（共 {kb} KB）因本机证据存储上限（storage.evidence_max_bytes）已删除；中心已收到的副本不受影响",
            names.join("、")
        ),
        Language::En => format!(
            "evidence {} ({kb} KB in all) deleted from the box: its evidence store is full (storage.evidence_max_bytes); copies the centre received are unaffected",
            names.join(", ")
        ),
    }
}

/// The timeline note of a clip joining its order.
pub fn clip_note(clip: &super::RecordedClip, lang: Language) -> String {
    let kb = clip.bytes.div_ceil(1024);
    let (zh, en) = match clip.of {
        super::ClipOf::Opening => ("立案", "the opening"),
        super::ClipOf::Verdict => ("核查结论", "the re-check's verdict"),
    };
    match lang {
        Language::Zh => format!(
            "告警录像 {}：{:.1} 秒（{zh}前 {:.1} 秒、后 {:.1} 秒），{kb} KB，分 {} 段发送",
            clip.name, clip.duration_s, clip.before_s, clip.after_s, clip.chunks
        ),
        Language::En => format!(
            "clip {} recorded: {:.1} s ({:.1} s before {en}, {:.1} s after), {kb} KB, sent in {} chunks",
            clip.name, clip.duration_s, clip.before_s, clip.after_s, clip.chunks
        ),
    }
}
