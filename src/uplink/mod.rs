//! Uplink: the only stage that knows MQTT, topics and JSON encoding.
//!
//! A tokio task owns the `rumqttc` client. Camera workers hand it [`UplinkMessage`]s over a
//! bounded channel; it publishes order revisions (evidence photos first, then the document) with
//! QoS 1, keeps the retained box status fresh, and registers a last will that marks the box
//! offline if the connection dies. `broker` runs the embedded broker for `broker = "embedded"`.

pub mod broker;
mod client;
mod status;
mod topics;

pub use client::{
    connect_options, BrokerAddress, OrderTap, Uplink, UplinkError, UplinkReport, UplinkSender,
};
pub use status::{BoxStatus, CameraState, CameraStatus};
pub use topics::Topics;

use crate::orders::WorkOrderChange;

/// What camera workers send to the uplink.
#[derive(Debug, Clone)]
pub enum UplinkMessage {
    Order(Box<WorkOrderChange>),
    Camera(CameraStatus),
}
