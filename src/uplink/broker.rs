//! The embedded MQTT broker (`uplink.broker = "embedded"`): rumqttd in-process, on localhost, so
//! the demo and a newcomer need nothing else installed.

use std::net::{SocketAddr, TcpListener};

use super::UplinkError;

/// A started embedded broker. It lives until the process ends (rumqttd has no stop call).
pub struct EmbeddedBroker {
    pub address: SocketAddr,
}

/// Starts rumqttd on `listen`, or on a free port of the same interface when that one is taken.
pub fn start(listen: &str) -> Result<EmbeddedBroker, UplinkError> {
    let wanted: SocketAddr = listen.parse().map_err(|e| {
        UplinkError::Broker(
            "embedded".into(),
            format!("embedded_listen {listen:?}: {e}"),
        )
    })?;
    let address = match TcpListener::bind(wanted) {
        Ok(l) => l.local_addr().unwrap_or(wanted),
        Err(e) => {
            let free = TcpListener::bind(SocketAddr::new(wanted.ip(), 0))
                .and_then(|l| l.local_addr())
                .map_err(|e2| {
                    UplinkError::Broker(
                        "embedded".into(),
                        format!("cannot listen on {wanted} ({e}) nor on a free port ({e2})"),
                    )
                })?;
            tracing::warn!(wanted = %wanted, using = %free, error = %e, "Embedded broker address is taken; using a free port instead.");
            free
        }
    };
    let text = format!(
        r#"
id = 0
[router]
id = 0
max_connections = 1000
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "lookout-embedded"
listen = "{address}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = {max}
max_inflight_count = 500
dynamic_filters = true
"#,
        max = super::client::MAX_PACKET_BYTES
    );
    let config: rumqttd::Config = toml::from_str(&text)
        .map_err(|e| UplinkError::Broker("embedded".into(), format!("broker config: {e}")))?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("embedded-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "Embedded MQTT broker stopped.");
            }
        })
        .map_err(|e| UplinkError::Broker("embedded".into(), e.to_string()))?;
    // Wait until it accepts connections, so the first publish does not race the listener.
    for _ in 0..100 {
        if std::net::TcpStream::connect(address).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    tracing::info!(%address, "Embedded MQTT broker listening.");
    Ok(EmbeddedBroker { address })
}
