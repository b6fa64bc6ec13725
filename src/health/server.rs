//! The metrics endpoint: `GET /metrics` (Prometheus text) and `GET /healthz` (200 `ok`, or 503
//! with the watchdog's problems), on a localhost port. Deliberately tiny — two fixed GET routes,
//! one request per connection, requests capped at 8 KiB — so it needs no web framework on the box.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Health, LedgerGauges, STALL};

/// Reads the ledger's figures for a scrape.
pub type GaugeSource = Arc<dyn Fn() -> LedgerGauges + Send + Sync>;

/// Binds `listen` and serves until the runtime stops. Returns the bound address.
pub async fn serve(
    listen: &str,
    health: Arc<Health>,
    gauges: GaugeSource,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (health, gauges) = (health.clone(), gauges.clone());
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), answer(stream, &health, &gauges))
                        .await;
            });
        }
    });
    Ok(addr)
}

async fn answer(
    mut stream: TcpStream,
    health: &Health,
    gauges: &GaugeSource,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => (
            "200 OK",
            "text/plain; version=0.0.4",
            health.prometheus(Instant::now(), &gauges()),
        ),
        ("GET", "/healthz") => {
            let v = health.verdict(Instant::now(), STALL);
            if v.healthy {
                ("200 OK", "text/plain", "ok\n".to_owned())
            } else {
                (
                    "503 Service Unavailable",
                    "text/plain",
                    format!("{}\n", v.problems.join("\n")),
                )
            }
        }
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /healthz\n".into(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".into()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
