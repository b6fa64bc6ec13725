//! The MQTT client task.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS, Transport};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BoxStatus, CameraStatus, Topics, UplinkMessage};
use crate::config::{Config, UplinkConfig};
use crate::orders::WorkOrder;

pub use crate::ledger::SharedLedger;

/// Outbox messages handed to the MQTT client at once (rumqttc's default in-flight window).
const MAX_IN_FLIGHT: usize = 100;
/// Clip chunks out at once: enough to keep a link busy (a chunk is ~340 KB on the wire), few
/// enough that an order revision never queues behind a whole clip.
const CLIPS_IN_FLIGHT: usize = 2;

/// Largest MQTT payload in either direction: evidence photos of a 4K camera fit.
pub const MAX_PACKET_BYTES: usize = 16 * 1024 * 1024;
/// The packet limit given to the MQTT client: a payload of `MAX_PACKET_BYTES` with its topic and
/// header. A bigger packet from the broker ends the connection (rumqttc cannot skip it), so the
/// broker must cap messages below this (docs/security.md); anything up to it the box reads and,
/// for a command, refuses as too large.
const PACKET_LIMIT: usize = MAX_PACKET_BYTES + 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error("uplink.broker {:?}: {}", crate::redact::url(.0), crate::redact::text(.1))]
    Broker(String, String),
    #[error("uplink: cannot read {0}: {1}")]
    File(String, std::io::Error),
}

/// Where the client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerAddress {
    pub fn parse(url: &str) -> Result<Self, UplinkError> {
        let bad = |why: &str| UplinkError::Broker(url.to_owned(), why.to_owned());
        let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let tls = match u.scheme() {
            "mqtt" => false,
            "mqtts" => true,
            _ => return Err(bad("scheme must be mqtt:// or mqtts://")),
        };
        let host = u.host_str().ok_or_else(|| bad("no host"))?.to_owned();
        let port = u.port().unwrap_or(if tls { 8883 } else { 1883 });
        Ok(BrokerAddress { host, port, tls })
    }
}

/// Client options for the configured broker at `address`; `client_suffix` keeps a replay from
/// taking over the daemon's session.
pub fn connect_options(
    config: &Config,
    address: &BrokerAddress,
    client_suffix: &str,
) -> Result<MqttOptions, UplinkError> {
    let up: &UplinkConfig = &config.uplink;
    let topics = Topics::new(&config.identity.site, &config.identity.id);
    let client_id = up
        .client_id
        .clone()
        .unwrap_or_else(|| format!("lookout-{}-{}", config.identity.site, config.identity.id))
        + client_suffix;
    let mut opts = MqttOptions::new(client_id, address.host.clone(), address.port);
    opts.set_keep_alive(Duration::from_secs(up.keep_alive_s));
    opts.set_max_packet_size(PACKET_LIMIT, PACKET_LIMIT);
    opts.set_clean_session(true);
    // Each connection is a fresh client (see `Connection`): nothing to carry across.
    let will = offline_status(config, Utc::now(), Vec::new());
    opts.set_last_will(LastWill::new(
        topics.status(),
        serde_json::to_vec(&will).unwrap_or_default(),
        QoS::AtLeastOnce,
        true,
    ));
    apply_security(&mut opts, up, address)?;
    Ok(opts)
}

/// Options for a tool that talks to the box's broker as a client of its own (`lookout orders`):
/// the configured credentials and TLS, no last will.
pub fn tool_options(
    config: &Config,
    address: &BrokerAddress,
    client_id: &str,
) -> Result<MqttOptions, UplinkError> {
    let mut opts = MqttOptions::new(client_id, address.host.clone(), address.port);
    opts.set_keep_alive(Duration::from_secs(config.uplink.keep_alive_s));
    opts.set_max_packet_size(PACKET_LIMIT, PACKET_LIMIT);
    opts.set_clean_session(true);
    apply_security(&mut opts, &config.uplink, address)?;
    Ok(opts)
}

fn apply_security(
    opts: &mut MqttOptions,
    up: &UplinkConfig,
    address: &BrokerAddress,
) -> Result<(), UplinkError> {
    if let Some(user) = &up.username {
        let password = match &up.password_file {
            Some(p) => std::fs::read_to_string(p)
                .map_err(|e| UplinkError::File(p.display().to_string(), e))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => String::new(),
        };
        opts.set_credentials(user.clone(), password);
    }
    if address.tls {
        let ca_path = up.ca_file.as_ref().ok_or_else(|| {
            UplinkError::Broker(up.broker.clone(), "mqtts:// needs uplink.ca_file".into())
        })?;
        let client = match (&up.cert_file, &up.key_file) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        };
        let tls = super::tls::client_config(ca_path, client)
            .map_err(|e| UplinkError::Broker(up.broker.clone(), e))?;
        opts.set_transport(Transport::tls_with_config(tls));
    }
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn offline_status(
    config: &Config,
    started: DateTime<Utc>,
    cameras: Vec<CameraStatus>,
) -> BoxStatus {
    BoxStatus {
        schema: 1,
        site: config.identity.site.clone(),
        box_id: config.identity.id.clone(),
        state: "offline".into(),
        version: crate::VERSION.into(),
        started_at: rfc3339(started),
        updated_at: rfc3339(Utc::now()),
        cameras,
        speakers: Vec::new(),
        commands: None,
        set_aside: 0,
    }
}

/// Callback run for every order revision handed to the broker (replay's `--json` uses it).
pub type OrderTap = Arc<dyn Fn(&WorkOrder) + Send + Sync>;

/// Who answers the centre's commands. The uplink subscribes to `{root}/cmd/+` when it has one,
/// hands each command over as received, and publishes whatever the sink queued in the outbox.
pub trait CommandSink: Send + Sync {
    /// Handles one command; returns the order revision it produced, if any.
    fn command(&self, verb: &str, payload: &[u8]) -> Option<WorkOrder>;

    /// The answer (topic, payload) to a command not taken because too many arrive: sent as is,
    /// not stored. `None` when it has no request id to answer to.
    fn busy(&self, verb: &str, payload: &[u8]) -> Option<(String, Vec<u8>)>;
}

/// Handle to send messages to the uplink from camera threads.
#[derive(Clone)]
pub struct UplinkSender(mpsc::Sender<UplinkMessage>);

impl UplinkSender {
    /// Blocks the calling (non-async) thread while the uplink's queue is full: back-pressure
    /// reaches the camera, whose newest-frame-wins ingest absorbs it.
    pub fn send(&self, msg: UplinkMessage) -> bool {
        self.0.blocking_send(msg).is_ok()
    }

    /// From async code: queues without waiting. A full queue is fine to skip: the uplink is
    /// about to drain the outbox for the messages ahead of this one anyway.
    pub fn nudge(&self, msg: UplinkMessage) {
        let _ = self.0.try_send(msg);
    }

    /// Messages queued for the uplink task (the metrics' queue depth).
    pub fn depth(&self) -> usize {
        self.0.max_capacity() - self.0.capacity()
    }

    /// A handle that does not keep the uplink alive (the uplink stops once every sender is
    /// gone): for what may outlive the run (the metrics gauge, the speaker threads).
    pub fn downgrade(&self) -> WeakUplinkSender {
        WeakUplinkSender(self.0.downgrade())
    }
}

/// See [`UplinkSender::downgrade`].
#[derive(Clone)]
pub struct WeakUplinkSender(mpsc::WeakSender<UplinkMessage>);

impl WeakUplinkSender {
    pub fn depth(&self) -> usize {
        self.0.upgrade().map_or(0, |s| UplinkSender(s).depth())
    }

    /// As [`UplinkSender::send`]; false once the uplink has stopped.
    pub fn send(&self, msg: UplinkMessage) -> bool {
        self.0
            .upgrade()
            .is_some_and(|s| s.blocking_send(msg).is_ok())
    }
}

/// What the uplink did, reported when it stops.
#[derive(Debug, Clone, Copy, Default)]
pub struct UplinkReport {
    pub orders_published: u64,
    pub messages_published: u64,
    pub messages_acked: u64,
}

/// The running uplink task.
pub struct Uplink {
    sender: UplinkSender,
    task: JoinHandle<UplinkReport>,
}

impl Uplink {
    /// Starts the client task on the current tokio runtime.
    pub fn start(
        config: &Config,
        options: MqttOptions,
        ledger: SharedLedger,
        tap: Option<OrderTap>,
        commands: Option<Arc<dyn CommandSink>>,
    ) -> Uplink {
        Self::start_watched(config, options, ledger, tap, commands, None)
    }

    /// As [`Uplink::start`]; the task beats `health` as service `uplink` every second, so a
    /// wedged or dead uplink stops the watchdog.
    pub fn start_watched(
        config: &Config,
        options: MqttOptions,
        ledger: SharedLedger,
        tap: Option<OrderTap>,
        commands: Option<Arc<dyn CommandSink>>,
        health: Option<Arc<crate::health::Health>>,
    ) -> Uplink {
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(run(
            config.clone(),
            options,
            ledger,
            rx,
            tap,
            commands,
            health,
        ));
        Uplink {
            sender: UplinkSender(tx),
            task,
        }
    }

    /// Whether the task has ended (it must not while the box runs).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    pub fn sender(&self) -> UplinkSender {
        self.sender.clone()
    }

    /// Waits for the task to finish. It finishes once every [`UplinkSender`] (including this
    /// handle's) is dropped, after publishing the offline status and waiting up to 5 s for the
    /// broker to acknowledge the outbox; what is left stays in the ledger for the next start.
    pub async fn finish(self) -> UplinkReport {
        drop(self.sender);
        self.task.await.unwrap_or_default()
    }
}

struct State {
    config: Config,
    topics: Topics,
    /// The client of the current connection. Each connection gets a fresh client and event
    /// loop (see [`Connection`]), so nothing of an earlier connection can reach this one.
    client: AsyncClient,
    ledger: SharedLedger,
    started: DateTime<Utc>,
    cameras: BTreeMap<String, CameraStatus>,
    speakers: BTreeMap<String, crate::uplink::SpeakerStatus>,
    report: UplinkReport,
    connected: bool,
    /// Highest outbox seq handed to the client on this connection (clip chunks aside).
    sent_up_to: i64,
    /// Highest clip chunk's seq handed to the client on this connection.
    clips_sent_up_to: i64,
    /// Clip chunks handed to the client and not yet acknowledged: at most
    /// [`CLIPS_IN_FLIGHT`], so a document that arrives meanwhile waits for one chunk at most.
    clips_out: std::collections::HashSet<i64>,
    /// Publishes handed to this connection's client, in order, waiting for their packet id:
    /// `Some(seq)` for outbox messages, `None` for status messages (not in the outbox). One
    /// client hands its requests to the wire in the order it got them, and a client lives for
    /// one connection only, so the n-th `Outgoing::Publish` is the n-th publish made here.
    awaiting_pkid: VecDeque<Option<i64>>,
    /// Outbox messages on the wire, by packet id, waiting for PUBACK.
    in_flight: HashMap<u16, i64>,
    /// The last connection failure logged (each distinct one is logged once, not every retry).
    last_error: Option<String>,
    commands: Option<Arc<dyn CommandSink>>,
    /// `subscribed` or `denied`, once the broker answered the subscription.
    commands_state: Option<String>,
    /// Limits the commands taken per second.
    command_budget: TokenBucket,
    /// Commands refused by the limit (logged at powers of two, not each one).
    rate_limited: u64,
    /// Outbox messages set aside (too big for the broker).
    set_aside: u64,
    tap: Option<OrderTap>,
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: std::time::Instant,
}

impl TokenBucket {
    fn new(rate: f64, burst: f64) -> Self {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            at: std::time::Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl State {
    fn status(&self, state: &str) -> BoxStatus {
        let mut s = offline_status(
            &self.config,
            self.started,
            self.cameras.values().cloned().collect(),
        );
        s.state = state.into();
        s.speakers = self.speakers.values().cloned().collect();
        s.commands = self.commands_state.clone();
        s.set_aside = self.set_aside;
        s
    }

    /// Hands a message to the client; an error says why it could not (logged here too).
    async fn publish(
        &mut self,
        topic: String,
        retain: bool,
        payload: Vec<u8>,
        seq: Option<i64>,
    ) -> Result<(), String> {
        match self
            .client
            .publish(topic.clone(), QoS::AtLeastOnce, retain, payload)
            .await
        {
            Ok(()) => {
                self.report.messages_published += 1;
                self.awaiting_pkid.push_back(seq);
                Ok(())
            }
            Err(e) => {
                tracing::error!(%topic, error = %e, "Could not queue an MQTT message.");
                Err(format!("the MQTT client could not queue it: {e}"))
            }
        }
    }

    fn max_message_bytes(&self) -> usize {
        (self.config.uplink.max_message_kb as usize).saturating_mul(1024)
    }

    /// Hands the next outbox messages to the client, keeping at most `MAX_IN_FLIGHT` out:
    /// orders, photos and answers in their order, then clip chunks when nothing else waits,
    /// [`CLIPS_IN_FLIGHT`] at a time.
    async fn drain(&mut self) {
        if !self.connected {
            return;
        }
        loop {
            let out = self.in_flight.len() + self.awaiting_pkid.len();
            let room = MAX_IN_FLIGHT.saturating_sub(out);
            if room == 0 {
                return;
            }
            let pending = {
                let ledger = crate::ledger::lock(&self.ledger);
                ledger.pending(self.sent_up_to, room).and_then(|rows| {
                    let clip_room = CLIPS_IN_FLIGHT.saturating_sub(self.clips_out.len());
                    if rows.len() >= room || clip_room == 0 {
                        return Ok(rows);
                    }
                    let clips = ledger
                        .pending_clips(self.clips_sent_up_to, clip_room.min(room - rows.len()))?;
                    Ok(rows.into_iter().chain(clips).collect())
                })
            };
            let rows = match pending {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "Cannot read the outbox.");
                    return;
                }
            };
            if rows.is_empty() {
                return;
            }
            let limit = self.max_message_bytes();
            let mut set_aside_any = false;
            for row in rows {
                let m = row.message;
                if m.class == crate::ledger::MessageClass::Clip {
                    self.clips_sent_up_to = row.seq;
                    self.clips_out.insert(row.seq);
                } else {
                    self.sent_up_to = row.seq;
                }
                if m.payload.len() + m.topic.len() > limit {
                    self.clips_out.remove(&row.seq);
                    self.set_aside_row(row.seq, &m.topic, m.payload.len(), limit);
                    set_aside_any = true;
                    continue;
                }
                // A failure is logged; the message stays in the outbox until the broker acks it.
                let _ = self
                    .publish(m.topic, m.retain, m.payload, Some(row.seq))
                    .await;
            }
            if set_aside_any {
                self.publish_status("online").await;
            } else {
                return;
            }
        }
    }

    fn set_aside_row(&mut self, seq: i64, topic: &str, bytes: usize, limit: usize) {
        let why = format!(
            "{bytes} bytes is more than uplink.max_message_kb ({} KiB) allows",
            limit / 1024
        );
        tracing::error!(%topic, bytes, limit, "Outbox message too big for the broker: SET ASIDE (kept in the ledger, not sent); the messages behind it go on.");
        let ledger = crate::ledger::lock(&self.ledger);
        match ledger.set_aside(seq, &why) {
            Ok(()) => self.set_aside += 1,
            Err(e) => tracing::error!(error = %e, "Cannot set an outbox message aside."),
        }
    }

    fn acknowledged(&mut self, pkid: u16) {
        self.report.messages_acked += 1;
        if let Some(seq) = self.in_flight.remove(&pkid) {
            self.clips_out.remove(&seq);
            let ledger = crate::ledger::lock(&self.ledger);
            if let Err(e) = ledger.acknowledge(seq) {
                tracing::error!(error = %e, "Cannot remove an acknowledged message from the outbox.");
            }
        }
    }

    /// A new connection's client replaces the last one: whatever the old one had queued or in
    /// flight is forgotten here and sent again from the outbox once connected.
    fn replace_client(&mut self, client: AsyncClient) {
        self.client = client;
        self.connected = false;
        self.sent_up_to = 0;
        self.clips_sent_up_to = 0;
        self.clips_out.clear();
        self.awaiting_pkid.clear();
        self.in_flight.clear();
    }

    /// Applies one event of the MQTT event loop; `announce` publishes the online status on
    /// connect (not while saying goodbye).
    async fn on_event(&mut self, ev: Result<Event, String>, announce: bool) {
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                tracing::info!(broker = %self.config.uplink.broker, "Connected to the MQTT broker.");
                self.connected = true;
                self.last_error = None;
                if announce {
                    if self.commands.is_some() {
                        // Clean sessions forget subscriptions: subscribe on every connection,
                        // before saying "online", so a centre that waits for the status can
                        // send commands at once.
                        if let Err(e) = self
                            .client
                            .subscribe(self.topics.all_commands(), QoS::AtLeastOnce)
                            .await
                        {
                            tracing::error!(error = %e, "Cannot subscribe to the command topics.");
                        }
                    }
                    self.publish_status("online").await;
                }
                self.drain().await;
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let denied = ack
                    .return_codes
                    .iter()
                    .any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure));
                let state = if denied { "denied" } else { "subscribed" };
                if denied {
                    tracing::error!(topic = %self.topics.all_commands(), "The broker REFUSED the subscription to the command topics: the centre's commands cannot reach this box (check the broker ACL, docs/security.md).");
                }
                if self.commands_state.as_deref() != Some(state) {
                    self.commands_state = Some(state.into());
                    self.publish_status("online").await;
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let sink = self.commands.clone();
                if let (Some(sink), Some(verb)) = (sink, self.topics.command_verb(&p.topic)) {
                    if p.retain {
                        // A retained command is an old one the broker replays to every new
                        // subscriber: applying it on each reconnect would repeat it.
                        tracing::warn!(topic = %p.topic, "Ignored a RETAINED command (commands must not be retained; clear it with an empty retained message).");
                        return;
                    }
                    if !self.command_budget.take() {
                        self.rate_limited += 1;
                        if self.rate_limited.is_power_of_two() {
                            tracing::warn!(topic = %p.topic, refused = self.rate_limited, "Commands refused as rate_limited: more than uplink.command_rate arrive.");
                        }
                        if let Some((topic, payload)) = sink.busy(verb, &p.payload) {
                            let _ = self.publish(topic, false, payload, None).await;
                        }
                        return;
                    }
                    if let Some(order) = sink.command(verb, &p.payload) {
                        if let Some(tap) = &self.tap {
                            tap(&order);
                        }
                    }
                    self.drain().await;
                }
            }
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                if let Some(Some(seq)) = self.awaiting_pkid.pop_front() {
                    self.in_flight.insert(pkid, seq);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                self.acknowledged(ack.pkid);
                self.drain().await;
            }
            Ok(_) => {}
            Err(e) => {
                self.connected = false;
                if self.last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!(broker = %self.config.uplink.broker, error = %e, "MQTT connection failed; retrying with back-off.");
                    self.last_error = Some(e);
                }
            }
        }
    }

    fn outbox_empty(&self) -> bool {
        let ledger = crate::ledger::lock(&self.ledger);
        ledger.outbox_len().map(|n| n == 0).unwrap_or(true)
    }

    async fn publish_status(&mut self, state: &str) {
        let doc = self.status(state);
        let payload = serde_json::to_vec(&doc).unwrap_or_default();
        let _ = self
            .publish(self.topics.status(), true, payload, None)
            .await;
    }
}

/// An event of one connection's event loop, tagged with that connection's number.
type Tagged = (u64, Result<Event, String>);

/// One connection: a fresh client and event loop. The event loop is polled until its first
/// error, which ends the connection; the next one starts from scratch. rumqttc would otherwise
/// reconnect the same event loop, replay its own unacknowledged publishes and hand out events
/// of the old connection, and acks could no longer be told apart.
struct Connection {
    number: u64,
    poller: JoinHandle<()>,
}

impl Connection {
    fn open(
        options: &MqttOptions,
        number: u64,
        events: mpsc::UnboundedSender<Tagged>,
    ) -> (AsyncClient, Connection) {
        let (client, mut eventloop) = AsyncClient::new(options.clone(), 256);
        let poller = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(ev) => {
                        if events.send((number, Ok(ev))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = events.send((number, Err(e.to_string())));
                        return;
                    }
                }
            }
        });
        (client, Connection { number, poller })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// Back-off between connection attempts: from 0.5 s, doubling, capped at 10 s (a box should be
/// back soon after the centre's broker is); reset by a successful connection.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

async fn run(
    config: Config,
    options: MqttOptions,
    ledger: SharedLedger,
    mut rx: mpsc::Receiver<UplinkMessage>,
    tap: Option<OrderTap>,
    commands: Option<Arc<dyn CommandSink>>,
    health: Option<Arc<crate::health::Health>>,
) -> UplinkReport {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Tagged>();
    let (client, mut connection) = Connection::open(&options, 1, ev_tx.clone());
    let set_aside = crate::ledger::lock(&ledger)
        .set_aside_messages()
        .map_or(0, |v| v.len() as u64);
    let rate = config.uplink.command_rate;
    let mut state = State {
        topics: Topics::new(&config.identity.site, &config.identity.id),
        started: Utc::now(),
        config,
        client,
        ledger,
        cameras: BTreeMap::new(),
        speakers: BTreeMap::new(),
        report: UplinkReport::default(),
        connected: false,
        sent_up_to: 0,
        clips_sent_up_to: 0,
        clips_out: Default::default(),
        awaiting_pkid: VecDeque::new(),
        in_flight: HashMap::new(),
        last_error: None,
        commands,
        commands_state: None,
        command_budget: TokenBucket::new(rate, rate * 10.0),
        rate_limited: 0,
        set_aside,
        tap: tap.clone(),
    };
    let mut backoff = FIRST_BACKOFF;
    // When the current connection failed: the next one opens after the back-off.
    let mut reconnect_at: Option<tokio::time::Instant> = None;
    let mut ticker =
        tokio::time::interval(Duration::from_secs(state.config.uplink.status_interval_s));
    let mut heartbeat = tokio::time::interval(Duration::from_secs(1));
    loop {
        let reconnect = async {
            match reconnect_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(UplinkMessage::Committed(order)) => {
                    state.report.orders_published += 1;
                    if let Some(tap) = &tap {
                        tap(&order);
                    }
                    state.drain().await;
                }
                Some(UplinkMessage::Publish { topic, payload, sent }) => {
                    let result = if state.connected {
                        state.publish(topic, false, payload, None).await
                    } else {
                        Err("the broker is unreachable".to_owned())
                    };
                    let _ = sent.send(result);
                }
                Some(UplinkMessage::Speaker(status)) => {
                    let changed = state.speakers.get(&status.id).is_none_or(|old| old.state != status.state);
                    state.speakers.insert(status.id.clone(), status);
                    if changed && state.connected {
                        state.publish_status("online").await;
                    }
                }
                Some(UplinkMessage::CameraRemoved(id)) => {
                    if state.cameras.remove(&id).is_some() && state.connected {
                        state.publish_status("online").await;
                    }
                }
                Some(UplinkMessage::Camera(cam)) => {
                    let changed = state.cameras.get(&cam.id).is_none_or(|old| old.state != cam.state || old.faults != cam.faults);
                    state.cameras.insert(cam.id.clone(), *cam);
                    if changed && state.connected {
                        state.publish_status("online").await;
                    }
                }
                None => break,
            },
            Some((number, ev)) = ev_rx.recv() => {
                if number != connection.number {
                    continue; // from a connection already given up
                }
                let failed = ev.is_err();
                if matches!(ev, Ok(Event::Incoming(Packet::ConnAck(_)))) {
                    backoff = FIRST_BACKOFF;
                }
                state.on_event(ev, true).await;
                if failed {
                    reconnect_at = Some(tokio::time::Instant::now() + backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            _ = reconnect => {
                reconnect_at = None;
                let (client, next) = Connection::open(&options, connection.number + 1, ev_tx.clone());
                connection = next;
                state.replace_client(client);
            }
            _ = ticker.tick() => {
                if state.connected {
                    state.publish_status("online").await;
                }
            }
            _ = heartbeat.tick() => {
                if let Some(h) = &health {
                    let now = std::time::Instant::now();
                    h.service_beat("uplink", now);
                    h.broker(state.connected, state.last_error.as_deref(), now);
                }
            }
        }
    }
    // Orderly goodbye: drain the outbox, offline status (retained), wait for acknowledgements.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut said_offline = false;
    loop {
        if state.outbox_empty() && !said_offline && state.connected {
            state.publish_status("offline").await;
            said_offline = true;
        }
        if said_offline && state.report.messages_acked >= state.report.messages_published {
            break;
        }
        match tokio::time::timeout_at(deadline, ev_rx.recv()).await {
            Ok(Some((number, ev))) if number == connection.number => {
                let failed = ev.is_err();
                state.on_event(ev, false).await;
                if failed {
                    break;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    if !state.outbox_empty() {
        tracing::warn!(
            published = state.report.messages_published,
            acked = state.report.messages_acked,
            "Stopped before the broker acknowledged every message; the rest stays in the outbox for the next start."
        );
    }
    let _ = state.client.disconnect().await;
    // Let the event loop send the DISCONNECT before it is dropped.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some((number, ev)) = ev_rx.recv().await {
            if number == connection.number
                && matches!(ev, Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_))
            {
                break;
            }
        }
    })
    .await;
    drop(connection);
    state.report
}
