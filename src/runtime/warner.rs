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
use crate::orders::{OrderState, Warning, WorkOrder};
use crate::speaker::{self, Announcement, Decision, Gate, Outcome, Output, Plan};
use crate::uplink::{SpeakerStatus, UplinkMessage, WeakUplinkSender};

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
        let offset = crate::rules::parse_utc_offset(&config.identity.utc_offset)
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(8 * 3600).expect("valid offset"));
        let gate = Arc::new(Mutex::new(Gate::new(
            config
                .warnings
                .quiet_hours
                .iter()
                .filter_map(|w| crate::rules::parse_window(w))
                .collect(),
            offset,
            Duration::from_secs_f64(config.warnings.min_gap_s),
            config.warnings.max_per_hour as usize,
        )));
        let offered: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut queues = HashMap::new();
        for speaker in &config.speakers {
            let publish: speaker::Publish = {
                let uplink = uplink.clone();
                Arc::new(move |topic: &str, payload: Vec<u8>| {
                    if uplink.send(UplinkMessage::Publish {
                        topic: topic.to_owned(),
                        payload,
                    }) {
                        Ok(())
                    } else {
                        Err("the uplink has stopped".into())
                    }
                })
            };
            let output = Output::new(speaker, publish);
            uplink.send(UplinkMessage::Speaker(SpeakerStatus {
                id: speaker.id.clone(),
                state: "idle".into(),
                last_played_at: None,
                error: None,
            }));
            let (tx, rx) = channel::<Request>();
            let (gate, control, uplink) = (gate.clone(), control.clone(), uplink.clone());
            let offered = offered.clone();
            let id = speaker.id.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("spk-{id}"))
                .spawn(move || {
                    while let Ok(request) = rx.recv() {
                        let a = &request.announcement;
                        let decision = gate
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .check(&a.speaker, a.kind, Utc::now());
                        let outcome = match decision {
                            Decision::Play => speaker::play(&output, a),
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
                            uplink.send(UplinkMessage::Speaker(report));
                        }
                        let warning = warning(a, &outcome, now);
                        let recheck_at = request
                            .recheck_after
                            .and_then(|d| chrono::Duration::from_std(d).ok())
                            .map(|d| now + d);
                        if let Some(order) = control.warned(&a.order_id, warning, recheck_at, now)
                        {
                            uplink.send(UplinkMessage::Committed(Box::new(order)));
                        }
                        offered
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&a.order_id);
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
            offered,
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
        if !self
            .offered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(order.id.clone())
        {
            return;
        }
        let Some(queue) = self.queues.get(&speaker) else {
            return;
        };
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
                repeat_gap: Duration::from_secs_f64(self.config.repeat_gap_s),
            },
            recheck_after,
        });
    }
}

fn warning(a: &Announcement, outcome: &Outcome, at: chrono::DateTime<Utc>) -> Warning {
    let (status, times, reason) = match outcome {
        Outcome::Played { times } => ("played", *times, None),
        Outcome::Skipped { reason } => ("skipped", 0, Some((*reason).to_owned())),
        Outcome::Failed { error } => ("failed", 0, Some(error.clone())),
    };
    Warning {
        status: status.into(),
        speaker: a.speaker.clone(),
        prompt: a
            .prompt
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
        at: crate::orders::rfc3339(at),
        times,
        recheck_at: None,
        reason,
    }
}
