//! Uplink: the only stage that knows MQTT, topics and JSON encoding.
//!
//! A tokio task owns the `rumqttc` client. Camera workers hand it [`UplinkMessage`]s over a
//! bounded channel; it publishes order revisions (evidence photos first, then the document) with
//! QoS 1, keeps the retained box status fresh, and registers a last will that marks the box
//! offline if the connection dies. `broker` runs the embedded broker for `broker = "embedded"`.

pub mod broker;
pub mod chunks;
mod client;
mod status;
pub mod tls;
mod topics;

pub use client::{
    connect_options, tool_options, BrokerAddress, CommandSink, OrderTap, SharedLedger, Uplink,
    UplinkError, UplinkReport, UplinkSender, WeakUplinkSender, MAX_PACKET_BYTES,
};
pub use status::{BoxStatus, CameraState, CameraStatus, SpeakerStatus, TourStatus, TourStop};
pub use topics::Topics;

use crate::config::{Config, KeyPath, Problem};
use crate::ledger::{MessageClass, OutMessage};
use crate::orders::{WorkOrder, WorkOrderChange};

/// What camera workers send to the uplink.
#[derive(Debug, Clone)]
pub enum UplinkMessage {
    /// This revision and its messages are in the ledger's outbox: publish them.
    Committed(Box<WorkOrder>),
    Camera(Box<CameraStatus>),
    /// A speaker's state changed.
    Speaker(SpeakerStatus),
    /// A config reload removed this camera: it leaves the status.
    CameraRemoved(String),
    /// A message to a device on the broker (a speaker controller), QoS 1, not stored: a prompt
    /// that arrives after a reconnect is no use. `sent` is told whether it went out (handed to
    /// the connected client) or why not, so the sender can report a speaker it cannot reach.
    Publish {
        topic: String,
        payload: Vec<u8>,
        sent: std::sync::mpsc::Sender<Result<(), String>>,
    },
}

/// The MQTT messages that announce an order revision: its new photos first, then the document,
/// so a consumer that sees an evidence entry can already have the bytes.
pub fn encode(topics: &Topics, change: &WorkOrderChange) -> Vec<OutMessage> {
    let id = &change.order.id;
    let mut out: Vec<OutMessage> = change
        .evidence
        .iter()
        .map(|blob| OutMessage {
            topic: topics.evidence(id, &blob.name),
            payload: blob.jpeg.to_vec(),
            retain: false,
            class: MessageClass::Evidence,
        })
        .collect();
    out.push(OutMessage {
        topic: topics.order(id),
        payload: serde_json::to_vec(&change.order).unwrap_or_default(),
        retain: false,
        class: MessageClass::Order,
    });
    out
}

/// The uplink's checks of a config: a message size the client can send.
pub fn check(config: &Config) -> Vec<Problem> {
    let max_kb = MAX_PACKET_BYTES as u64 / 1024;
    if (16..=max_kb).contains(&config.uplink.max_message_kb) {
        return Vec::new();
    }
    vec![Problem::new(
        KeyPath::default().key("uplink").key("max_message_kb"),
        format!("must be between 16 and {max_kb} KiB"),
    )]
}
