//! Health: what the box knows about its own liveness. Camera workers report progress (a beat on
//! every loop turn, each frame, reconnects) and the detectors their inference times; from that
//! come the watchdog's verdict (`verdict`: is the core loop still turning?) and the Prometheus
//! text the metrics endpoint serves (`prometheus`). A service, like geo: stages call it, it
//! calls nobody.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Reads the ledger's figures for a scrape.
pub type GaugeSource = std::sync::Arc<dyn Fn() -> LedgerGauges + Send + Sync>;

/// A camera worker that has not turned its loop for this long is wedged.
pub const STALL: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Camera {
    state: &'static str,
    beat: Instant,
    frames: u64,
    last_frame: Option<Instant>,
    reconnects: u64,
    fps: f64,
    decode_fps: f64,
    faults: Vec<&'static str>,
    gauges: Vec<crate::vocab::Gauge>,
    rates: Vec<crate::vocab::DetectRate>,
    /// Frames a model skipped because the picture was still, by model.
    gated: BTreeMap<String, u64>,
    lag: Histogram,
}

/// Upper bounds (seconds) of the frame-lag histogram's buckets.
const LAG_BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

/// A Prometheus histogram: counts per bucket (not cumulative), sum and count.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; LAG_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if let Some(i) = LAG_BUCKETS.iter().position(|&b| v <= b) {
            self.buckets[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

#[derive(Debug, Clone, Default)]
struct Model {
    runs: u64,
    errors: u64,
    /// Frames dropped before they ran, by why (`superseded`, `expired`).
    dropped: BTreeMap<&'static str, u64>,
    seconds: f64,
    last_seconds: f64,
}

#[derive(Debug, Default)]
struct Inner {
    cameras: BTreeMap<String, Camera>,
    models: BTreeMap<String, Model>,
    /// The box's own tasks besides the camera workers (uplink, sweeper): their last beat, or
    /// why they ended when they must not.
    services: BTreeMap<&'static str, Service>,
    /// Camera workers that panicked, per camera (each was restarted).
    crashes: BTreeMap<String, u64>,
    /// The uplink's connection to the broker, as its task last said.
    broker: Option<Broker>,
}

#[derive(Debug, Clone)]
struct Broker {
    connected: bool,
    /// When `connected` last changed.
    since: Instant,
    error: Option<String>,
}

/// The broker connection as the console shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BrokerSnapshot {
    pub connected: bool,
    /// Seconds in this state.
    pub for_s: f64,
    /// The last connection error while disconnected.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
struct Service {
    beat: Instant,
    ended: Option<String>,
}

/// Shared by the camera workers, the watchdog and the metrics endpoint.
#[derive(Debug)]
pub struct Health {
    inner: Mutex<Inner>,
    started: Instant,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            inner: Mutex::new(Inner::default()),
            started: Instant::now(),
        }
    }
}

/// Figures the ledger knows, added to the metrics when they are served.
#[derive(Debug, Clone, Default)]
pub struct LedgerGauges {
    pub outbox_messages: u64,
    pub outbox_bytes: u64,
    /// Bytes of evidence the box keeps (`storage.evidence_max_bytes` bounds it).
    pub evidence_bytes: u64,
    /// Photos evicted from the evidence store, ever (their records are kept).
    pub evidence_evictions: u64,
    pub orders_by_state: Vec<(&'static str, u64)>,
    /// Messages from the camera workers waiting for the uplink task.
    pub uplink_queue: u64,
    /// Per kind: (kind, resolved on site, escalated after the warning).
    pub on_site: Vec<(String, u64, u64)>,
}

/// One camera as the console shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CameraSnapshot {
    pub id: String,
    pub state: &'static str,
    pub fps: f64,
    pub decode_fps: f64,
    pub reconnects: u64,
    /// Seconds since its last frame; absent before the first.
    pub last_frame_age_s: Option<f64>,
    pub faults: Vec<&'static str>,
    pub rates: Vec<crate::vocab::DetectRate>,
}

/// The watchdog's view.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub healthy: bool,
    pub problems: Vec<String>,
}

impl Health {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn camera<'a>(inner: &'a mut Inner, id: &str, now: Instant) -> &'a mut Camera {
        inner.cameras.entry(id.to_owned()).or_insert(Camera {
            state: "starting",
            beat: now,
            frames: 0,
            last_frame: None,
            reconnects: 0,
            fps: 0.0,
            decode_fps: 0.0,
            faults: Vec::new(),
            gauges: Vec::new(),
            rates: Vec::new(),
            gated: BTreeMap::new(),
            lag: Histogram::default(),
        })
    }

    /// The camera's decoder rate and its open picture faults (`frozen`, `black`, …).
    pub fn vitals(&self, camera: &str, decode_fps: f64, faults: Vec<&'static str>, now: Instant) {
        let mut inner = self.inner();
        let c = Self::camera(&mut inner, camera, now);
        c.decode_fps = decode_fps;
        c.faults = faults;
    }

    /// The camera's rules' live measurements, as of its last status.
    pub fn gauges(&self, camera: &str, gauges: Vec<crate::vocab::Gauge>) {
        let mut inner = self.inner();
        Self::camera(&mut inner, camera, Instant::now()).gauges = gauges;
    }

    /// The camera's detection rates per model, as of its last status.
    pub fn rates(&self, camera: &str, rates: Vec<crate::vocab::DetectRate>) {
        let mut inner = self.inner();
        Self::camera(&mut inner, camera, Instant::now()).rates = rates;
    }

    /// A frame went through the rules `lag` after it came out of the decoder.
    pub fn lag(&self, camera: &str, lag: Duration) {
        let mut inner = self.inner();
        Self::camera(&mut inner, camera, Instant::now())
            .lag
            .observe(lag.as_secs_f64());
    }

    /// A model skipped a frame of the camera: nothing had changed.
    pub fn gated(&self, camera: &str, model: &str) {
        let mut inner = self.inner();
        let c = Self::camera(&mut inner, camera, Instant::now());
        *c.gated.entry(model.to_owned()).or_default() += 1;
    }

    /// A frame was dropped before the model ran it (`superseded`, `expired`).
    pub fn dropped(&self, model: &str, why: &'static str) {
        let mut inner = self.inner();
        let m = inner.models.entry(model.to_owned()).or_default();
        *m.dropped.entry(why).or_default() += 1;
    }

    /// The camera was removed by a config reload: it no longer counts anywhere.
    pub fn forget(&self, camera: &str) {
        self.inner().cameras.remove(camera);
    }

    /// The camera's worker turned its loop (a frame, an idle wait, a back-off step).
    pub fn beat(&self, camera: &str, now: Instant) {
        Self::camera(&mut self.inner(), camera, now).beat = now;
    }

    /// A frame was delivered.
    pub fn frame(&self, camera: &str, now: Instant) {
        let mut inner = self.inner();
        let c = Self::camera(&mut inner, camera, now);
        c.beat = now;
        c.frames += 1;
        c.last_frame = Some(now);
    }

    /// `starting`, `online`, `offline`, `ended`; `fps` as measured by the worker.
    pub fn state(&self, camera: &str, state: &'static str, fps: f64, now: Instant) {
        let mut inner = self.inner();
        let c = Self::camera(&mut inner, camera, now);
        c.beat = now;
        c.state = state;
        c.fps = fps;
    }

    /// The camera's stream is being rebuilt after a failure.
    pub fn reconnect(&self, camera: &str, now: Instant) {
        Self::camera(&mut self.inner(), camera, now).reconnects += 1;
    }

    /// A camera's worker panicked (a bug): counted, and the fleet restarts it after a back-off
    /// (during which the camera is `crashed`, not stuck: nothing is wedged).
    pub fn crashed(&self, camera: &str) {
        let now = Instant::now();
        let mut inner = self.inner();
        *inner.crashes.entry(camera.to_owned()).or_default() += 1;
        let c = Self::camera(&mut inner, camera, now);
        c.state = "crashed";
        c.fps = 0.0;
    }

    /// A long-lived task of the box (`uplink`, `sweeper`) turned its loop.
    pub fn service_beat(&self, name: &'static str, now: Instant) {
        let mut inner = self.inner();
        let s = inner.services.entry(name).or_insert(Service {
            beat: now,
            ended: None,
        });
        s.beat = now;
    }

    /// The uplink's connection to the broker (its task says so every second).
    pub fn broker(&self, connected: bool, error: Option<&str>, now: Instant) {
        let mut inner = self.inner();
        let since = match &inner.broker {
            Some(b) if b.connected == connected => b.since,
            _ => now,
        };
        inner.broker = Some(Broker {
            connected,
            since,
            error: (!connected).then(|| error.map(str::to_owned)).flatten(),
        });
    }

    /// The broker connection, once the uplink has said anything.
    pub fn broker_state(&self, now: Instant) -> Option<BrokerSnapshot> {
        self.inner().broker.as_ref().map(|b| BrokerSnapshot {
            connected: b.connected,
            for_s: now.saturating_duration_since(b.since).as_secs_f64(),
            error: b.error.clone(),
        })
    }

    /// A long-lived task ended although the box still runs: unhealthy until the restart.
    pub fn service_ended(&self, name: &'static str, why: String) {
        self.inner().services.insert(
            name,
            Service {
                beat: Instant::now(),
                ended: Some(why),
            },
        );
    }

    /// One model run and how long it took (`ok = false`: it failed).
    pub fn inference(&self, model: &str, took: Duration, ok: bool) {
        let mut inner = self.inner();
        let m = inner.models.entry(model.to_owned()).or_default();
        m.runs += 1;
        m.errors += u64::from(!ok);
        m.seconds += took.as_secs_f64();
        m.last_seconds = took.as_secs_f64();
    }

    /// Whether every camera that has not ended is known to every consumer (no longer starting).
    pub fn all_started(&self, expected: usize) -> bool {
        let inner = self.inner();
        inner.cameras.len() >= expected && inner.cameras.values().all(|c| c.state != "starting")
    }

    /// Healthy while every camera worker that has not ended, and every service task (the
    /// uplink, the sweeper), turned its loop within `stall`. An offline camera in back-off is
    /// healthy (its worker is waiting on purpose); a worker stuck inside its pipeline or the
    /// ledger is not, nor a service task that died, and then the watchdog stops pinging.
    pub fn verdict(&self, now: Instant, stall: Duration) -> Verdict {
        let inner = self.inner();
        let mut problems: Vec<String> = inner
            .cameras
            .iter()
            .filter(|(_, c)| c.state != "ended" && c.state != "crashed")
            .filter(|(_, c)| now.saturating_duration_since(c.beat) > stall)
            .map(|(id, c)| {
                format!(
                    "camera {id}: worker stuck for {:.0} s",
                    now.saturating_duration_since(c.beat).as_secs_f64()
                )
            })
            .collect();
        for (name, s) in &inner.services {
            if let Some(why) = &s.ended {
                problems.push(format!("{name}: stopped ({why})"));
            } else if now.saturating_duration_since(s.beat) > stall {
                problems.push(format!(
                    "{name}: stuck for {:.0} s",
                    now.saturating_duration_since(s.beat).as_secs_f64()
                ));
            }
        }
        Verdict {
            healthy: problems.is_empty(),
            problems,
        }
    }

    /// Every camera's state, rates and faults, by id.
    pub fn cameras(&self, now: Instant) -> Vec<CameraSnapshot> {
        self.inner()
            .cameras
            .iter()
            .map(|(id, c)| CameraSnapshot {
                id: id.clone(),
                state: c.state,
                fps: (c.fps * 10.0).round() / 10.0,
                decode_fps: (c.decode_fps * 10.0).round() / 10.0,
                reconnects: c.reconnects,
                last_frame_age_s: c.last_frame.map(|t| {
                    (now.saturating_duration_since(t).as_secs_f64() * 10.0).round() / 10.0
                }),
                faults: c.faults.clone(),
                rates: c.rates.clone(),
            })
            .collect()
    }

    /// The Prometheus text exposition of everything known.
    pub fn prometheus(&self, now: Instant, ledger: &LedgerGauges) -> String {
        let inner = self.inner();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: Vec<(String, f64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, v) in rows {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        };
        let cams = |f: &dyn Fn(&Camera) -> f64| -> Vec<(String, f64)> {
            inner
                .cameras
                .iter()
                .map(|(id, c)| (format!("{{camera=\"{id}\"}}"), f(c)))
                .collect()
        };
        metric(
            "lookout_uptime_seconds",
            "gauge",
            "Seconds since the daemon started.",
            vec![(
                String::new(),
                now.duration_since(self.started).as_secs_f64(),
            )],
        );
        metric(
            "lookout_camera_up",
            "gauge",
            "1 while the camera delivers frames.",
            cams(&|c| f64::from(u8::from(c.state == "online"))),
        );
        let states = ["starting", "online", "reconnecting", "offline", "ended"];
        metric(
            "lookout_camera_state",
            "gauge",
            "1 for the camera's current state (starting, online, reconnecting, offline, ended).",
            inner
                .cameras
                .iter()
                .flat_map(|(id, c)| {
                    states.iter().map(move |s| {
                        (
                            format!("{{camera=\"{id}\",state=\"{s}\"}}"),
                            f64::from(u8::from(c.state == *s)),
                        )
                    })
                })
                .collect(),
        );
        metric(
            "lookout_camera_decode_fps",
            "gauge",
            "Frames per second out of the camera's decoder, over the last few seconds.",
            cams(&|c| c.decode_fps),
        );
        let rule_series = |total: bool| -> Vec<(String, f64)> {
            inner
                .cameras
                .iter()
                .flat_map(|(id, c)| {
                    c.gauges
                        .iter()
                        .filter(move |g| g.total == total)
                        .map(move |g| {
                            (
                                format!(
                                    "{{camera=\"{id}\",place=\"{}\",what=\"{}\"}}",
                                    g.place, g.what
                                ),
                                g.value,
                            )
                        })
                })
                .collect()
        };
        metric(
            "lookout_rule_value",
            "gauge",
            "A rule's live measurement (what): a zone's head count, a lane's occupancy, by camera and zone or line (place).",
            rule_series(false),
        );
        metric(
            "lookout_rule_events_total",
            "counter",
            "What a rule counted since the camera started (what): crossings of a line each way, by camera and line (place).",
            rule_series(true),
        );
        metric(
            "lookout_camera_fault",
            "gauge",
            "1 for each picture fault with an open camera_fault order.",
            inner
                .cameras
                .iter()
                .flat_map(|(id, c)| {
                    c.faults
                        .iter()
                        .map(move |f| (format!("{{camera=\"{id}\",fault=\"{f}\"}}"), 1.0))
                })
                .collect(),
        );
        metric(
            "lookout_camera_frames_total",
            "counter",
            "Frames handed to the detectors.",
            cams(&|c| c.frames as f64),
        );
        metric(
            "lookout_camera_fps",
            "gauge",
            "Frames per second handed to the detectors, over the last few seconds.",
            cams(&|c| c.fps),
        );
        metric(
            "lookout_camera_frame_age_seconds",
            "gauge",
            "Seconds since the camera's last frame (-1: none yet).",
            cams(&|c| {
                c.last_frame
                    .map_or(-1.0, |t| now.saturating_duration_since(t).as_secs_f64())
            }),
        );
        metric(
            "lookout_camera_crashes_total",
            "counter",
            "Times the camera's worker panicked and was restarted (a bug: report it).",
            inner
                .crashes
                .iter()
                .map(|(id, n)| (format!("{{camera=\"{id}\"}}"), *n as f64))
                .collect(),
        );
        metric(
            "lookout_camera_reconnects_total",
            "counter",
            "Times the camera's stream was rebuilt after a failure.",
            cams(&|c| c.reconnects as f64),
        );
        let models = |f: &dyn Fn(&Model) -> f64| -> Vec<(String, f64)> {
            inner
                .models
                .iter()
                .map(|(name, m)| (format!("{{model=\"{name}\"}}"), f(m)))
                .collect()
        };
        metric(
            "lookout_inference_seconds_total",
            "counter",
            "Time spent in model runs.",
            models(&|m| m.seconds),
        );
        metric(
            "lookout_inference_runs_total",
            "counter",
            "Model runs.",
            models(&|m| m.runs as f64),
        );
        metric(
            "lookout_inference_errors_total",
            "counter",
            "Model runs that failed.",
            models(&|m| m.errors as f64),
        );
        metric(
            "lookout_inference_last_seconds",
            "gauge",
            "Duration of the latest model run.",
            models(&|m| m.last_seconds),
        );
        metric(
            "lookout_inference_dropped_total",
            "counter",
            "Frames dropped before the model ran them: superseded by a newer frame of the camera, or expired (waited past [models] deadline_s).",
            inner
                .models
                .iter()
                .flat_map(|(name, m)| {
                    ["superseded", "expired"].into_iter().map(move |why| {
                        (
                            format!("{{model=\"{name}\",reason=\"{why}\"}}"),
                            m.dropped.get(why).copied().unwrap_or(0) as f64,
                        )
                    })
                })
                .collect(),
        );
        metric(
            "lookout_detect_fps",
            "gauge",
            "A camera's detection rate of a model (rate): wanted by the config, planned by the compute budget, effective (runs a second over the last few seconds).",
            inner
                .cameras
                .iter()
                .flat_map(|(id, c)| {
                    c.rates.iter().flat_map(move |r| {
                        [
                            ("wanted", r.wanted),
                            ("planned", r.planned),
                            ("effective", r.effective),
                        ]
                        .into_iter()
                        .map(move |(what, v)| {
                            (
                                format!(
                                    "{{camera=\"{id}\",model=\"{}\",rate=\"{what}\"}}",
                                    r.model
                                ),
                                v,
                            )
                        })
                    })
                })
                .collect(),
        );
        metric(
            "lookout_detect_gated_total",
            "counter",
            "Frames a model skipped on a camera because the picture had not changed since its last run (motion gating).",
            inner
                .cameras
                .iter()
                .flat_map(|(id, c)| {
                    c.gated.iter().map(move |(model, n)| {
                        (
                            format!("{{camera=\"{id}\",model=\"{model}\"}}"),
                            *n as f64,
                        )
                    })
                })
                .collect(),
        );
        {
            let mut rows = Vec::new();
            for (id, c) in &inner.cameras {
                let mut cumulative = 0;
                for (bound, n) in LAG_BUCKETS.iter().zip(c.lag.buckets) {
                    cumulative += n;
                    rows.push((
                        format!("_bucket{{camera=\"{id}\",le=\"{bound}\"}}"),
                        cumulative as f64,
                    ));
                }
                rows.push((
                    format!("_bucket{{camera=\"{id}\",le=\"+Inf\"}}"),
                    c.lag.count as f64,
                ));
                rows.push((format!("_sum{{camera=\"{id}\"}}"), c.lag.sum));
                rows.push((format!("_count{{camera=\"{id}\"}}"), c.lag.count as f64));
            }
            metric(
                "lookout_frame_lag_seconds",
                "histogram",
                "Time from a frame leaving the decoder to the rules having judged it.",
                rows,
            );
        }
        metric(
            "lookout_outbox_messages",
            "gauge",
            "Messages waiting for the broker's acknowledgement.",
            vec![(String::new(), ledger.outbox_messages as f64)],
        );
        metric(
            "lookout_outbox_bytes",
            "gauge",
            "Bytes waiting for the broker's acknowledgement.",
            vec![(String::new(), ledger.outbox_bytes as f64)],
        );
        metric(
            "lookout_evidence_bytes",
            "gauge",
            "Bytes of evidence (photos, clips) kept on the box.",
            vec![(String::new(), ledger.evidence_bytes as f64)],
        );
        metric(
            "lookout_evidence_evicted_total",
            "counter",
            "Photos evicted from the evidence store (storage.evidence_max_bytes or the disk reserve).",
            vec![(String::new(), ledger.evidence_evictions as f64)],
        );
        metric(
            "lookout_uplink_queue_depth",
            "gauge",
            "Messages from the camera workers waiting for the uplink task.",
            vec![(String::new(), ledger.uplink_queue as f64)],
        );
        metric(
            "lookout_orders_on_site_total",
            "counter",
            "Orders of the ledger the on-site warning resolved (how=resolved) or did not (how=escalated), by kind.",
            ledger
                .on_site
                .iter()
                .flat_map(|(kind, resolved, escalated)| {
                    [
                        (format!("{{kind=\"{kind}\",how=\"resolved\"}}"), *resolved as f64),
                        (format!("{{kind=\"{kind}\",how=\"escalated\"}}"), *escalated as f64),
                    ]
                })
                .collect(),
        );
        metric(
            "lookout_orders",
            "gauge",
            "Work orders in the ledger, by state.",
            ledger
                .orders_by_state
                .iter()
                .map(|(s, n)| (format!("{{state=\"{s}\"}}"), *n as f64))
                .collect(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wedged_worker_stops_the_watchdog_and_a_camera_in_back_off_does_not() {
        let h = Health::default();
        let t0 = Instant::now();
        h.state("a", "online", 5.0, t0);
        h.state("b", "offline", 0.0, t0);
        h.state("c", "ended", 0.0, t0);
        for s in 1..=40 {
            let now = t0 + Duration::from_secs(s);
            h.frame("a", now);
            // b waits out its back-off: its loop still turns.
            h.beat("b", now);
        }
        let later = t0 + Duration::from_secs(41);
        assert!(
            h.verdict(later, STALL).healthy,
            "ended cameras do not count"
        );
        // a stops turning (stuck inside its pipeline): after STALL the watchdog must not ping.
        let stuck = t0 + Duration::from_secs(40) + STALL + Duration::from_secs(1);
        h.beat("b", stuck);
        let v = h.verdict(stuck, STALL);
        assert!(!v.healthy);
        assert_eq!(v.problems.len(), 1);
        assert!(v.problems[0].starts_with("camera a: worker stuck"), "{v:?}");
    }

    #[test]
    fn a_silent_or_dead_service_task_stops_the_watchdog() {
        let h = Health::default();
        let t0 = Instant::now();
        h.service_beat("uplink", t0);
        h.service_beat("sweeper", t0);
        assert!(h.verdict(t0 + Duration::from_secs(1), STALL).healthy);
        h.service_beat("sweeper", t0 + STALL);
        let v = h.verdict(t0 + STALL + Duration::from_secs(2), STALL);
        assert_eq!(v.problems, vec!["uplink: stuck for 32 s".to_owned()]);
        h.service_ended("sweeper", "panicked: boom".into());
        let v = h.verdict(t0 + Duration::from_secs(1), STALL);
        assert!(
            v.problems
                .contains(&"sweeper: stopped (panicked: boom)".to_owned()),
            "{v:?}"
        );
    }

    #[test]
    fn the_metrics_text_is_prometheus_and_counts() {
        let h = Health::default();
        let t0 = Instant::now();
        h.state("gate", "online", 4.9, t0);
        h.frame("gate", t0);
        h.frame("gate", t0);
        h.reconnect("gate", t0);
        h.inference("yolox_nano_coco", Duration::from_millis(10), true);
        h.inference("yolox_nano_coco", Duration::from_millis(12), false);
        h.gauges(
            "gate",
            vec![
                crate::vocab::Gauge::level("square", "persons", 12.0),
                crate::vocab::Gauge::total("gate_line", "crossed_forward", 7),
            ],
        );
        let text = h.prometheus(
            t0 + Duration::from_secs(2),
            &LedgerGauges {
                outbox_messages: 3,
                outbox_bytes: 1000,
                evidence_bytes: 4096,
                evidence_evictions: 2,
                orders_by_state: vec![("open", 2), ("closed", 1)],
                uplink_queue: 0,
                on_site: vec![("vending".into(), 3, 1)],
            },
        );
        for line in [
            "# TYPE lookout_camera_frames_total counter",
            "lookout_camera_frames_total{camera=\"gate\"} 2",
            "lookout_camera_up{camera=\"gate\"} 1",
            "lookout_camera_fps{camera=\"gate\"} 4.9",
            "lookout_camera_frame_age_seconds{camera=\"gate\"} 2",
            "lookout_camera_reconnects_total{camera=\"gate\"} 1",
            "lookout_inference_runs_total{model=\"yolox_nano_coco\"} 2",
            "lookout_inference_errors_total{model=\"yolox_nano_coco\"} 1",
            "lookout_outbox_messages 3",
            "lookout_orders{state=\"open\"} 2",
            "lookout_orders_on_site_total{kind=\"vending\",how=\"resolved\"} 3",
            "# TYPE lookout_rule_value gauge",
            "lookout_rule_value{camera=\"gate\",place=\"square\",what=\"persons\"} 12",
            "# TYPE lookout_rule_events_total counter",
            "lookout_rule_events_total{camera=\"gate\",place=\"gate_line\",what=\"crossed_forward\"} 7",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
    }
}
