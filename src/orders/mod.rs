//! Orders: turn incident events into work-order documents (工单).
//!
//! One incident is one order. Every change produces a new revision of the whole document (the
//! consumer upserts by id and revision) plus any new evidence photos. The document is the MQTT
//! contract (`docs/mqtt.md`); only `uplink` knows where it goes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::config::{BoxIdentity, CameraConfig, Language};
use crate::evidence;
use crate::geo::{self, Location};
use crate::rules::{Detail, IncidentEvent, IncidentKind, Phase, Severity};

/// Version of the work-order document; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// The problem is there; nobody has acted yet.
    Open,
    /// The problem went away by itself before anyone was dispatched.
    Cleared,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneRef {
    pub id: String,
    pub name: String,
}

/// An object in the order, with its box normalised to 0..1 of the frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderObject {
    pub label: String,
    pub score: f32,
    /// `[x1, y1, x2, y2]`, normalised.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub track_id: Option<u64>,
}

/// A photo attached to the order; the bytes travel on their own topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// Name within the order, e.g. `opened-1.jpg`; last segment of the evidence topic.
    pub name: String,
    pub content_type: String,
    pub sha256: String,
    pub bytes: usize,
    pub captured_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    /// `opened`, `updated`, `cleared`, …
    pub event: String,
    pub actor: String,
    pub note: String,
}

/// The work-order document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub schema: u32,
    pub id: String,
    pub revision: u32,
    pub site: String,
    #[serde(rename = "box")]
    pub box_id: String,
    pub camera: CameraRef,
    pub zone: Option<ZoneRef>,
    pub kind: IncidentKind,
    /// Refinement of the kind (water: `in_water`, `at_shore`, `vanished`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<Detail>,
    /// City-management event code (数字化城市管理 classification or a local extension).
    pub event_code: String,
    pub severity: Severity,
    pub state: OrderState,
    /// Human-readable one-line summary (`box.language`: Chinese by default, or English).
    pub title: String,
    pub opened_at: String,
    pub updated_at: String,
    pub count: usize,
    pub objects: Vec<OrderObject>,
    pub location: Location,
    pub evidence: Vec<EvidenceRef>,
    pub timeline: Vec<TimelineEntry>,
}

/// A photo to publish with a revision.
#[derive(Debug, Clone)]
pub struct EvidenceBlob {
    pub name: String,
    pub jpeg: Arc<Vec<u8>>,
}

/// A new revision of an order: the message from orders to uplink.
#[derive(Debug, Clone)]
pub struct WorkOrderChange {
    pub order: WorkOrder,
    /// Photos added in this revision (already listed in `order.evidence`).
    pub evidence: Vec<EvidenceBlob>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Turns one camera's incident events into order revisions.
pub struct OrderDesk {
    identity: BoxIdentity,
    camera: CameraRef,
    location: crate::config::LocationConfig,
    open: HashMap<u64, WorkOrder>,
}

impl OrderDesk {
    pub fn new(identity: &BoxIdentity, camera: &CameraConfig) -> Self {
        OrderDesk {
            identity: identity.clone(),
            camera: CameraRef {
                id: camera.id.clone(),
                name: camera.display_name().to_owned(),
            },
            location: camera.location,
            open: HashMap::new(),
        }
    }

    /// Applies an incident event; `frame` is the image it was decided on (for the photo).
    pub fn apply(&mut self, event: &IncidentEvent, frame: &RgbImage) -> Option<WorkOrderChange> {
        let inc = &event.incident;
        let at = rfc3339(event.at);
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let objects: Vec<OrderObject> = inc
            .objects
            .iter()
            .map(|o| OrderObject {
                label: o.label.to_string(),
                score: (o.score * 1000.0).round() / 1000.0,
                bbox: [o.bbox.x1 / w, o.bbox.y1 / h, o.bbox.x2 / w, o.bbox.y2 / h]
                    .map(|v| (v.clamp(0.0, 1.0) * 10000.0).round() / 10000.0),
                track_id: o.track_id,
            })
            .collect();
        let mut order = match event.phase {
            Phase::Opened => WorkOrder {
                schema: SCHEMA_VERSION,
                id: new_order_id(),
                revision: 0,
                site: self.identity.site.clone(),
                box_id: self.identity.id.clone(),
                camera: self.camera.clone(),
                zone: inc.zone.as_ref().map(|z| ZoneRef {
                    id: z.id.clone(),
                    name: z.name.clone(),
                }),
                kind: inc.kind,
                detail: inc.detail,
                event_code: inc.event_code.clone(),
                severity: inc.severity,
                state: OrderState::Open,
                title: String::new(),
                opened_at: at.clone(),
                updated_at: at.clone(),
                count: inc.count,
                objects: Vec::new(),
                location: geo::locate_fixed(&self.location),
                evidence: Vec::new(),
                timeline: Vec::new(),
            },
            Phase::Updated | Phase::Cleared => self.open.get(&event.incident_id)?.clone(),
        };
        order.revision += 1;
        order.updated_at = at.clone();
        order.severity = order.severity.max(inc.severity);
        let phase_name = match event.phase {
            Phase::Opened => "opened",
            Phase::Updated => "updated",
            Phase::Cleared => "cleared",
        };
        if event.phase != Phase::Cleared {
            order.count = inc.count;
            order.objects = objects;
        } else {
            order.state = OrderState::Cleared;
        }
        order.title = title(&order, &self.camera, self.identity.language);
        let mut evidence = Vec::new();
        if event.phase != Phase::Cleared {
            let name = format!("{phase_name}-{}.jpg", order.revision);
            match evidence::snapshot(frame, &inc.objects, inc.zone.as_ref(), event.at) {
                Ok(snap) => {
                    order.evidence.push(EvidenceRef {
                        name: name.clone(),
                        content_type: "image/jpeg".into(),
                        sha256: snap.sha256.clone(),
                        bytes: snap.jpeg.len(),
                        captured_at: rfc3339(snap.captured_at),
                    });
                    evidence.push(EvidenceBlob {
                        name,
                        jpeg: Arc::new(snap.jpeg),
                    });
                }
                Err(e) => {
                    tracing::warn!(camera = %self.camera.id, error = %e, "Could not encode the evidence photo; the order goes out without it.");
                }
            }
        }
        order.timeline.push(TimelineEntry {
            at,
            event: phase_name.into(),
            actor: "lookout".into(),
            note: note(
                event.phase,
                inc.kind,
                inc.count,
                order.severity,
                self.identity.language,
            ),
        });
        if event.phase == Phase::Cleared {
            self.open.remove(&event.incident_id);
        } else {
            self.open.insert(event.incident_id, order.clone());
        }
        Some(WorkOrderChange { order, evidence })
    }
}

fn note(
    phase: Phase,
    kind: IncidentKind,
    count: usize,
    severity: Severity,
    lang: Language,
) -> String {
    match (lang, phase) {
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

fn title(order: &WorkOrder, camera: &CameraRef, lang: Language) -> String {
    let place = order.zone.as_ref().map_or_else(
        || camera.name.clone(),
        |z| format!("{} {}", camera.name, z.name),
    );
    let n = order.count;
    let cleared = order.state == OrderState::Cleared;
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
            };
            format!("{what}：{place}{}", if cleared { "（已消失）" } else { "" })
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
            };
            format!("{what}: {place}{}", if cleared { " (gone)" } else { "" })
        }
    }
}

/// Globally unique, time-ordered order id (UUID v7 layout: 48-bit millisecond time + random).
fn new_order_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
