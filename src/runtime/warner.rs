//! On-site voice warnings: one thread per speaker plays the prompts queued for it (a slow or
//! dead speaker delays only its own prompts, never a camera), the gate decides whether it may
//! play now, and `Control` records how it went — `warned` with the on-site re-check scheduled,
//! or a timeline entry saying why not.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::config::{CameraConfig, Config, WarningsConfig};
use crate::control::Control;
use crate::orders::{OrderState, Warning, WarningStatus, WorkOrder};
use crate::speaker::{self, Announcement, Decision, Gate, Outcome, Output, Plan};
use crate::uplink::{SpeakerStatus, UplinkMessage, WeakUplinkSender};
use crate::vocab::DailyWindows;

struct Request {
    announcement: Announcement,
    recheck_after: Option<Duration>,
}

pub struct Warner {
    config: WarningsConfig,
    prompts_dir: PathBuf,
    queues: HashMap<String, Sender<Request>>,
    /// Orders queued and not yet recorded as warned (one warning per order; once recorded, the
    /// order's `warning` says so and the entry goes).
    offered: Arc<Mutex<HashSet<String>>>,
}

/// How long an MQTT prompt may wait for the uplink to hand it to the broker.
const PUBLISH_WAIT: Duration = Duration::from_secs(10);

/// What every speaker thread shares.
#[derive(Clone)]
struct Shared {
    gate: Arc<Mutex<Gate>>,
    control: Arc<Control>,
    uplink: WeakUplinkSender,
    offered: Arc<Mutex<HashSet<String>>>,
}

impl Warner {
    /// Starts a thread per configured speaker; `None` when warnings are off or there is no
    /// speaker.
    pub fn start(
        config: &Config,
        control: Arc<Control>,
        uplink: WeakUplinkSender,
        state_dir: Option<&Path>,
    ) -> Option<Arc<Warner>> {
        if !config.warnings.enabled || config.speakers.is_empty() {
            return None;
        }
        let gate = Gate::new(
            DailyWindows::new(&config.warnings.quiet_hours, config.identity.offset()),
            config.warnings.min_gap_s.duration(),
            config.warnings.max_per_hour as usize,
        );
        let shared = Shared {
            gate: Arc::new(Mutex::new(gate)),
            control,
            uplink,
            offered: Arc::default(),
        };
        let mut queues = HashMap::new();
        for speaker in &config.speakers {
            let output = Output::new(speaker, publisher(shared.uplink.clone()));
            shared.uplink.send(UplinkMessage::Speaker(SpeakerStatus {
                id: speaker.id.clone(),
                state: "idle".into(),
                last_played_at: None,
                error: None,
            }));
            let (tx, rx) = channel::<Request>();
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("spk-{}", speaker.id))
                .spawn(move || {
                    while let Ok(request) = rx.recv() {
                        serve(&shared, &output, request);
                    }
                });
            match spawned {
                Ok(_) => {
                    queues.insert(speaker.id.clone(), tx);
                }
                Err(e) => {
                    tracing::error!(speaker = %speaker.id, error = %e, "Cannot start the speaker's thread; no warnings on it.")
                }
            }
        }
        Some(Arc::new(Warner {
            config: config.warnings.clone(),
            prompts_dir: speaker::prompts::dir(config, state_dir),
            queues,
            offered: shared.offered,
        }))
    }

    /// Called with every stored revision of a camera's orders: an open order that its camera
    /// warns for (and has not warned for yet) is queued on the camera's speaker.
    pub fn offer(&self, camera: &CameraConfig, order: &WorkOrder) {
        if order.state != OrderState::Open || order.warning.is_some() {
            return;
        }
        let Some(Plan {
            speaker,
            prompt,
            text,
            repeat,
            recheck_after,
        }) = speaker::plan(
            &self.config,
            &self.prompts_dir,
            camera,
            order.kind,
            order.zone.as_ref().map(|z| z.id.as_str()),
            order.severity,
        )
        else {
            return;
        };
        let Some(queue) = self.queues.get(&speaker) else {
            return;
        };
        if !self
            .offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order.id.clone())
        {
            return;
        }
        let _ = queue.send(Request {
            announcement: Announcement {
                order_id: order.id.clone(),
                camera: camera.id.clone(),
                speaker,
                kind: order.kind,
                severity: order.severity,
                prompt,
                text,
                repeat,
                repeat_gap: self.config.repeat_gap_s.duration(),
            },
            recheck_after,
        });
    }
}

/// One queued warning: the gate's decision, the prompt played (or not), the speaker's state
/// in the status, and the outcome recorded on the order.
fn serve(shared: &Shared, output: &Output, request: Request) {
    let a = &request.announcement;
    let decision =
        shared
            .gate
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(&a.speaker, a.kind, Utc::now());
    let outcome = match decision {
        Decision::Play => speaker::play(output, a),
        skipped => Outcome::Skipped {
            reason: skipped.as_str(),
        },
    };
    if let Outcome::Failed { error } = &outcome {
        tracing::error!(speaker = %a.speaker, order = %a.order_id, %error, "Speaker failed; the order goes on without its warning.");
    }
    let now = Utc::now();
    let report = match &outcome {
        Outcome::Played { .. } => Some(SpeakerStatus {
            id: a.speaker.clone(),
            state: "ok".into(),
            last_played_at: Some(crate::orders::rfc3339(now)),
            error: None,
        }),
        Outcome::Failed { error } => Some(SpeakerStatus {
            id: a.speaker.clone(),
            state: "failing".into(),
            last_played_at: None,
            error: Some(error.clone()),
        }),
        Outcome::Skipped { .. } => None,
    };
    if let Some(report) = report {
        shared.uplink.send(UplinkMessage::Speaker(report));
    }
    let recheck_at = request
        .recheck_after
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| now + d);
    if let Some(order) =
        shared
            .control
            .warned(&a.order_id, warning(a, &outcome, now), recheck_at, now)
    {
        shared
            .uplink
            .send(UplinkMessage::Committed(Box::new(order)));
    }
    shared
        .offered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&a.order_id);
}

/// Sends an MQTT speaker's prompts through the box's uplink and waits for it to say whether
/// the prompt went out: a controller the box cannot reach is a failed warning, not a played one.
fn publisher(uplink: WeakUplinkSender) -> speaker::Publish {
    Arc::new(move |topic: &str, payload: Vec<u8>| {
        let (sent, outcome) = channel();
        if !uplink.send(UplinkMessage::Publish {
            topic: topic.to_owned(),
            payload,
            sent,
        }) {
            return Err("the uplink has stopped".into());
        }
        outcome
            .recv_timeout(PUBLISH_WAIT)
            .unwrap_or_else(|_| Err("the uplink did not take the message in time".into()))
    })
}

fn warning(a: &Announcement, outcome: &Outcome, at: chrono::DateTime<Utc>) -> Warning {
    let (status, times, reason) = match outcome {
        Outcome::Played { times } => (WarningStatus::Played, *times, None),
        Outcome::Skipped { reason } => (WarningStatus::Skipped, 0, Some((*reason).to_owned())),
        Outcome::Failed { error } => (WarningStatus::Failed, 0, Some(error.clone())),
    };
    Warning {
        status,
        speaker: a.speaker.clone(),
        prompt: a.prompt_name(),
        at: crate::orders::rfc3339(at),
        times,
        recheck_at: None,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{SpeakerConfig, SpeakerOutput};
    use crate::uplink::Uplink;
    use crate::vocab::Severity;

    /// An MQTT speaker controller behind a broker the box cannot reach: the prompt is a failed
    /// warning with the reason (reported, the order goes on), never one counted as played.
    #[test]
    fn an_mqtt_prompt_with_the_broker_down_fails_with_the_reason() {
        let config = crate::config::parse(
            "[box]\nsite = \"s\"\nid = \"b\"\n[[cameras]]\nid = \"c\"\nsource = \"test:ball\"\nmodels = [\"m\"]\nlocation = { lat = 0.0, lon = 0.0 }\n",
            Path::new("test.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let ledger = Arc::new(Mutex::new(crate::ledger::Ledger::in_memory().unwrap()));
        let uplink = {
            let _context = runtime.enter();
            Uplink::start(
                &config,
                rumqttc::MqttOptions::new("t", "127.0.0.1", closed_port),
                ledger,
                None,
                None,
            )
        };
        let output = Output::new(
            &SpeakerConfig {
                id: "ctl".into(),
                output: SpeakerOutput::Mqtt {
                    topic: "speakers/pole-9/play".into(),
                },
            },
            publisher(uplink.sender().downgrade()),
        );
        let announcement = Announcement {
            order_id: "o".into(),
            camera: "c".into(),
            speaker: "ctl".into(),
            kind: crate::rules::PARKING,
            severity: Severity::Yellow,
            prompt: "parking.zh.wav".into(),
            text: "此处禁止停车".into(),
            repeat: 1,
            repeat_gap: Duration::ZERO,
        };
        match speaker::play(&output, &announcement) {
            Outcome::Failed { error } => assert!(
                error.contains("speaker ctl: MQTT message not sent: the broker is unreachable"),
                "{error}"
            ),
            other => panic!("{other:?}"),
        }
    }
}
