//! The human-readable parts of an order: titles and timeline notes, in the box's language.

use super::{OrderState, Step, Warning, WarningStatus, WorkOrder};
use crate::config::Language;
use crate::rules::{Detail, IncidentKind, Phase, Severity};

pub(super) fn note(
    phase: Phase,
    kind: IncidentKind,
    count: usize,
    severity: Severity,
    lang: Language,
) -> String {
    match (lang, phase) {
        (Language::Zh, Phase::Opened) if kind == IncidentKind::CameraFault => {
            "发现摄像机故障".into()
        }
        (Language::En, Phase::Opened) if kind == IncidentKind::CameraFault => {
            "camera fault detected".into()
        }
        (Language::Zh, Phase::Cleared) if kind == IncidentKind::CameraFault => {
            "画面已恢复正常".into()
        }
        (Language::En, Phase::Cleared) if kind == IncidentKind::CameraFault => {
            "the picture is back to normal".into()
        }
        (Language::Zh, Phase::Opened) => format!("发现{}，涉及 {count} 个目标", kind.label_zh()),
        (Language::Zh, Phase::Updated) => {
            format!("更新：{count} 个目标，等级 {}", severity.as_str())
        }
        (Language::Zh, Phase::Cleared) => "现场已恢复，目标消失".into(),
        (Language::En, Phase::Opened) => format!("{} detected: {count} object(s)", kind.label_en()),
        (Language::En, Phase::Updated) => {
            format!("now {count} object(s), severity {}", severity.as_str())
        }
        (Language::En, Phase::Cleared) => "no longer seen".into(),
    }
}

pub(super) fn title(order: &WorkOrder, lang: Language) -> String {
    let camera = &order.camera;
    let place = order.zone.as_ref().map_or_else(
        || camera.name.clone(),
        |z| format!("{} {}", camera.name, z.name),
    );
    let n = order.count;
    let (zh_state, en_state) = state_suffix(order.state);
    match lang {
        Language::Zh => {
            let what = match (order.kind, order.detail) {
                (IncidentKind::Crowd, _) => format!("人员聚集 {n} 人"),
                (IncidentKind::Fire, _) => "发现明火".into(),
                (IncidentKind::Smoke, _) => "发现烟雾".into(),
                (IncidentKind::Parking, _) => "机动车违停".into(),
                (IncidentKind::Vending, _) => "占道经营（流动摊贩）".into(),
                (IncidentKind::Water, Some(Detail::Vanished)) => "疑似溺水：有人在水中消失".into(),
                (IncidentKind::Water, Some(Detail::AtShore)) => "岸边逗留".into(),
                (IncidentKind::Water, _) => "有人进入危险水域".into(),
                (IncidentKind::CameraFault, Some(Detail::Frozen)) => "摄像机画面冻结".into(),
                (IncidentKind::CameraFault, Some(Detail::Black)) => "摄像机画面黑屏或被遮挡".into(),
                (IncidentKind::CameraFault, Some(Detail::Blurred)) => "摄像机画面模糊".into(),
                (IncidentKind::CameraFault, Some(Detail::SceneShift)) => {
                    "摄像机视角偏移：区域与标定已失效".into()
                }
                (IncidentKind::CameraFault, _) => "摄像机故障".into(),
            };
            format!("{what}：{place}{zh_state}")
        }
        Language::En => {
            let what = match (order.kind, order.detail) {
                (IncidentKind::Crowd, _) => format!("Crowd of {n}"),
                (IncidentKind::Fire, _) => "Open fire".into(),
                (IncidentKind::Smoke, _) => "Smoke".into(),
                (IncidentKind::Parking, _) => "Illegally parked vehicle".into(),
                (IncidentKind::Vending, _) => "Street vending".into(),
                (IncidentKind::Water, Some(Detail::Vanished)) => {
                    "Possible drowning: a person vanished in the water".into()
                }
                (IncidentKind::Water, Some(Detail::AtShore)) => {
                    "Person lingering at the water's edge".into()
                }
                (IncidentKind::Water, _) => "Person in a water danger zone".into(),
                (IncidentKind::CameraFault, Some(Detail::Frozen)) => "Camera picture frozen".into(),
                (IncidentKind::CameraFault, Some(Detail::Black)) => {
                    "Camera picture black or covered".into()
                }
                (IncidentKind::CameraFault, Some(Detail::Blurred)) => {
                    "Camera picture blurred".into()
                }
                (IncidentKind::CameraFault, Some(Detail::SceneShift)) => {
                    "Camera view moved: zones and calibration no longer fit".into()
                }
                (IncidentKind::CameraFault, _) => "Camera fault".into(),
            };
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
