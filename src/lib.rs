//! lookout: an edge video-perception daemon.
//!
//! One frame travels a straight line: [`ingest`] → [`detect`] → [`track`] → [`rules`] → [`orders`]
//! → [`uplink`], with [`geo`] and [`evidence`] as services that the rules/orders stages call.
//! [`control`] closes the loop (commands from the centre, camera re-checks) on top of the
//! [`ledger`]. [`runtime`] wires the stages into threads and tasks; [`config`] describes the whole topology.
//! `ARCHITECTURE.md` at the repository root is the map.

pub mod build;
pub mod config;
pub mod console;
pub mod control;
pub mod detect;
pub mod eval;
pub mod evidence;
pub mod geo;
pub mod health;
pub mod ingest;
pub mod ledger;
pub mod onvif;
pub mod orders;
pub mod redact;
pub mod rules;
pub mod runtime;
pub mod speaker;
pub mod tls;
pub mod track;
pub mod uplink;
pub mod vocab;

/// Version string published in the box status.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
