//! `lookout demo`: the example cameras on real footage, an embedded broker, and a subscriber that
//! prints each work order as it arrives, the way the command centre would see it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use lookout::config::Config;
use lookout::ingest::PlayMode;
use lookout::orders::WorkOrder;
use lookout::runtime::{self, RunOptions};
use lookout::uplink::{broker, Topics};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::{load_config, BadInput};

/// The example configs the demo runs, one camera each.
const DEMO_CONFIGS: &[&str] = &["forest_fire_smoke.toml", "plaza_pedestrians.toml"];

pub fn run(examples: &Path, realtime: bool) -> anyhow::Result<()> {
    let mut merged: Option<Config> = None;
    for name in DEMO_CONFIGS {
        let path = examples.join(name);
        if !path.is_file() {
            return Err(BadInput(format!(
                "{} does not exist (run the demo from the repository root, or pass --examples DIR)",
                path.display()
            ))
            .into());
        }
        let config = load_config(&path)?;
        match merged.as_mut() {
            None => merged = Some(config),
            Some(m) => m.cameras.extend(config.cameras),
        }
    }
    let mut config = merged.ok_or_else(|| anyhow!("no demo config"))?;
    // The demo shows clips too: three seconds either side of each opening.
    if !config.evidence.clips() {
        config.evidence.clip_pre_s = 3.0;
        config.evidence.clip_post_s = 3.0;
    }
    let embedded = broker::start(&config.uplink.embedded_listen)?;
    config.uplink.broker = format!("mqtt://{}", embedded.address);
    let topics = Topics::new(&config.identity.site, &config.identity.id);
    println!(
        "lookout demo: {} cameras, embedded MQTT broker on {} — watch it with: mosquitto_sub -h {} -p {} -t '{}/#' -v",
        config.cameras.len(),
        embedded.address,
        embedded.address.ip(),
        embedded.address.port(),
        topics.root()
    );
    let seen = Arc::new(AtomicUsize::new(0));
    let watcher = watch(&embedded.address, &topics, seen.clone())?;
    let options = RunOptions {
        mode: if realtime {
            PlayMode::Live
        } else {
            PlayMode::Replay
        },
        strict: true,
        client_suffix: "-demo".into(),
        ..Default::default()
    };
    let report = runtime::run(&config, options).context("demo run")?;
    // The subscriber gets the last revisions a moment after the uplink's acknowledgements.
    std::thread::sleep(Duration::from_millis(500));
    drop(watcher);
    for cam in &report.cameras {
        println!(
            "camera {}: {} frames at {:.1} frames/s, {} order revisions",
            cam.camera,
            cam.frames,
            cam.fps(),
            cam.orders
        );
    }
    let n = seen.load(Ordering::SeqCst);
    if n == 0 {
        return Err(anyhow!("the demo ran but no work order reached the broker"));
    }
    println!("{n} work-order revisions received from the broker.");
    Ok(())
}

/// Subscribes to the orders and prints them; runs until the returned client is dropped.
fn watch(
    address: &std::net::SocketAddr,
    topics: &Topics,
    seen: Arc<AtomicUsize>,
) -> anyhow::Result<Client> {
    let mut opts = MqttOptions::new(
        format!("lookout-demo-watch-{}", std::process::id()),
        address.ip().to_string(),
        address.port(),
    );
    opts.set_max_packet_size(16 << 20, 16 << 20);
    let (client, mut connection) = Client::new(opts, 64);
    client.subscribe(topics.all_orders(), QoS::AtLeastOnce)?;
    client.subscribe(topics.all_evidence(), QoS::AtLeastOnce)?;
    client.subscribe(
        format!("{}/orders/+/clips/+/+", topics.root()),
        QoS::AtLeastOnce,
    )?;
    std::thread::spawn(move || {
        for event in connection.iter() {
            match event {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if p.topic.contains("/evidence/") {
                        println!("  photo  {} ({} KB)", p.topic, p.payload.len() / 1024);
                    } else if p.topic.contains("/clips/") {
                        println!("  clip   {} ({} KB)", p.topic, p.payload.len() / 1024);
                    } else if let Ok(order) = serde_json::from_slice::<WorkOrder>(&p.payload) {
                        seen.fetch_add(1, Ordering::SeqCst);
                        print_order(&order);
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    Ok(client)
}

fn print_order(o: &WorkOrder) {
    let state = serde_json::to_value(o.state).ok();
    let kind = serde_json::to_value(o.kind).ok();
    let severity = serde_json::to_value(o.severity).ok();
    let text = |v: Option<serde_json::Value>| {
        v.and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    println!(
        "工单 {} rev {} [{}] {} {} ({} objects) — {} @ {:.5},{:.5} — {}",
        o.id,
        o.revision,
        text(state).to_uppercase(),
        text(kind),
        text(severity),
        o.count,
        o.camera.id,
        o.location.lat,
        o.location.lon,
        o.title
    );
}
