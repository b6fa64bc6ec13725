//! `lookout orders …`: the command-centre side, for operators and integrators. `list` and `show`
//! read the box's ledger; `watch` follows the live MQTT feed; the verbs send a command and wait
//! for its one result.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use clap::{Args, Subcommand};
use lookout::config::Config;
use lookout::control::{command::CommandBody, CommandResult};
use lookout::ledger::Ledger;
use lookout::orders::{OrderState, WorkOrder};
use lookout::uplink::{BrokerAddress, Topics};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use super::{load_config, BadInput};

#[derive(Subcommand)]
pub enum OrdersCommand {
    /// Per kind: orders, warned on site, resolved on site, escalated after the warning, and the
    /// share the voice warning resolved (of those it could).
    ///
    /// Example: lookout orders stats --config /etc/lookout/lookout.toml
    Stats {
        #[command(flatten)]
        ledger: LedgerArgs,
        /// One JSON document per kind instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the orders in the box's ledger, latest first.
    ///
    /// Example: lookout orders list --config /etc/lookout/lookout.toml --in open
    List {
        #[command(flatten)]
        ledger: LedgerArgs,
        /// Only orders in this state (open, warned, escalated, dispatched, handled, verifying,
        /// closed, reopened, cancelled, cleared).
        #[arg(long = "in")]
        state: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON document per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one order from the ledger with its timeline.
    ///
    /// Example: lookout orders show 019ab3c2-… --config /etc/lookout/lookout.toml
    Show {
        id: String,
        #[command(flatten)]
        ledger: LedgerArgs,
        #[arg(long)]
        json: bool,
    },
    /// Follow the live feed of orders, photos, clips and command results.
    ///
    /// Example: lookout orders watch --broker mqtt://centre:1883 --photos ./photos
    Watch {
        #[command(flatten)]
        broker: BrokerArgs,
        /// Save evidence photos and clips under DIR/{order id}/{name}: a clip's chunks wait
        /// in DIR/{order id}/.{name}.parts/ until all are in and the file's sha256 matches.
        #[arg(long, value_name = "DIR")]
        photos: Option<PathBuf>,
        /// Print the raw JSON documents instead of one line per revision.
        #[arg(long)]
        json: bool,
        /// Exit after this many order revisions.
        #[arg(long)]
        count: Option<u64>,
        /// Exit after this many seconds.
        #[arg(long)]
        timeout: Option<f64>,
    },
    /// Send a team: open|warned|escalated|reopened → dispatched.
    ///
    /// Example: lookout orders dispatch 019ab3c2-… --team "城管一队" --due 2026-11-23T10:00:00+08:00
    /// --config /etc/lookout/lookout.toml
    Dispatch {
        id: String,
        #[arg(long)]
        team: String,
        /// When the team should be done (RFC 3339).
        #[arg(long)]
        due: Option<String>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// The team reports it handled: the box re-checks through the camera and closes or reopens.
    ///
    /// Example: lookout orders handled 019ab3c2-… --photo https://centre/p/1.jpg --config lookout.toml
    Handled {
        id: String,
        /// The team's own photo (a URL or an id in the centre's system).
        #[arg(long)]
        photo: Option<String>,
        /// Seconds of re-check instead of the box's [orders] verify_window_s.
        #[arg(long)]
        window: Option<f64>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Ask for a camera re-check now.
    ///
    /// Example: lookout orders verify 019ab3c2-… --window 20 --config lookout.toml
    Verify {
        id: String,
        #[arg(long)]
        window: Option<f64>,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Mark a false alarm: open|warned|escalated|dispatched → cancelled.
    ///
    /// Example: lookout orders cancel 019ab3c2-… --note "shadow, not smoke" --config lookout.toml
    Cancel {
        id: String,
        #[command(flatten)]
        send: SendArgs,
    },
    /// Close an order (a cleared one, or end a handled/reopened one).
    ///
    /// Example: lookout orders close 019ab3c2-… --config lookout.toml
    Close {
        id: String,
        #[command(flatten)]
        send: SendArgs,
    },
}

#[derive(Args)]
pub struct LedgerArgs {
    /// The box's config (its [storage] dir holds the ledger).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The ledger folder itself (what `lookout run --state` got).
    #[arg(long = "state-dir", value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

#[derive(Args)]
pub struct BrokerArgs {
    /// The box's config: its broker, credentials, site and box id.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Broker URL (mqtt:// or mqtts://) when there is no config at hand.
    #[arg(long)]
    broker: Option<String>,
    /// Site of the box (with --broker; `+` for all sites when watching).
    #[arg(long)]
    site: Option<String>,
    /// Id of the box (with --broker; `+` for all boxes when watching).
    #[arg(long = "box", value_name = "ID")]
    box_id: Option<String>,
}

#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    broker: BrokerArgs,
    /// Who sends it (goes into the order's timeline).
    #[arg(long, default_value = "operator")]
    actor: String,
    #[arg(long)]
    note: Option<String>,
    /// Request id (default: a new one). Sending the same id again is safe: the box answers
    /// with the first result and changes nothing.
    #[arg(long)]
    request_id: Option<String>,
    /// Seconds to wait for the result.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: OrdersCommand) -> anyhow::Result<()> {
    match cmd {
        OrdersCommand::List {
            ledger,
            state,
            limit,
            json,
        } => list(&ledger, state.as_deref(), limit, json),
        OrdersCommand::Show { id, ledger, json } => show(&ledger, &id, json),
        OrdersCommand::Stats { ledger, json } => stats(&ledger, json),
        OrdersCommand::Watch {
            broker,
            photos,
            json,
            count,
            timeout,
        } => watch(&broker, photos.as_deref(), json, count, timeout),
        OrdersCommand::Dispatch {
            id,
            team,
            due,
            send: s,
        } => send(
            "dispatch",
            &id,
            &s,
            CommandBody {
                team: Some(team),
                due,
                ..Default::default()
            },
        ),
        OrdersCommand::Handled {
            id,
            photo,
            window,
            send: s,
        } => send(
            "handled",
            &id,
            &s,
            CommandBody {
                photo,
                window_s: window,
                ..Default::default()
            },
        ),
        OrdersCommand::Verify {
            id,
            window,
            send: s,
        } => send(
            "verify",
            &id,
            &s,
            CommandBody {
                window_s: window,
                ..Default::default()
            },
        ),
        OrdersCommand::Cancel { id, send: s } => send("cancel", &id, &s, CommandBody::default()),
        OrdersCommand::Close { id, send: s } => send("close", &id, &s, CommandBody::default()),
    }
}

fn open_ledger(args: &LedgerArgs) -> anyhow::Result<Ledger> {
    let dir = match (&args.state_dir, &args.config) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => load_config(c)?.storage.dir,
        (None, None) => {
            return Err(BadInput(
                "say where the ledger is: --config FILE or --state-dir DIR".into(),
            )
            .into())
        }
    };
    let path = dir.join("ledger.sqlite3");
    if !path.is_file() {
        return Err(BadInput(format!(
            "no ledger at {} (has `lookout run` used this state folder?)",
            path.display()
        ))
        .into());
    }
    Ok(Ledger::open(&path)?)
}

fn parse_state(s: &str) -> anyhow::Result<OrderState> {
    OrderState::ALL
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| {
            BadInput(format!(
                "{s:?} is not an order state; use one of {}",
                OrderState::ALL.map(|s| s.as_str()).join(", ")
            ))
            .into()
        })
}

fn list(args: &LedgerArgs, state: Option<&str>, limit: usize, json: bool) -> anyhow::Result<()> {
    let state = state.map(parse_state).transpose()?;
    let ledger = open_ledger(args)?;
    let orders = ledger.list(state, limit)?;
    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "{:<36}  {:>3}  {:<10}  {:<6}  {:<8}  {:<24}  TITLE",
            "ID", "REV", "STATE", "LEVEL", "KIND", "UPDATED"
        )?;
    }
    for o in &orders {
        if json {
            writeln!(out, "{}", serde_json::to_string(o)?)?;
        } else {
            writeln!(out, "{}", line(o))?;
        }
    }
    Ok(())
}

fn stats(args: &LedgerArgs, json: bool) -> anyhow::Result<()> {
    let ledger = open_ledger(args)?;
    let rows = ledger.warning_stats()?;
    let mut out = std::io::stdout().lock();
    if !json {
        writeln!(
            out,
            "{:<14}  {:>6}  {:>6}  {:>8}  {:>9}  ON-SITE SHARE",
            "KIND", "ORDERS", "WARNED", "ON SITE", "ESCALATED"
        )?;
    }
    for r in &rows {
        let decided = r.resolved_on_site + r.escalated;
        let share = (decided > 0).then(|| r.resolved_on_site as f64 / decided as f64);
        if json {
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "kind": r.kind, "orders": r.orders, "warned": r.warned,
                    "resolved_on_site": r.resolved_on_site, "escalated": r.escalated,
                    "on_site_share": share,
                })
            )?;
        } else {
            writeln!(
                out,
                "{:<14}  {:>6}  {:>6}  {:>8}  {:>9}  {}",
                r.kind,
                r.orders,
                r.warned,
                r.resolved_on_site,
                r.escalated,
                share.map_or("-".into(), |s| format!("{:.0} %", s * 100.0))
            )?;
        }
    }
    Ok(())
}

fn line(o: &WorkOrder) -> String {
    format!(
        "{:<36}  {:>3}  {:<10}  {:<6}  {:<8}  {:<24}  {}",
        o.id,
        o.revision,
        o.state.as_str(),
        o.severity.as_str(),
        serde_json::to_value(o.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        o.updated_at,
        o.title
    )
}

fn show(args: &LedgerArgs, id: &str, json: bool) -> anyhow::Result<()> {
    let ledger = open_ledger(args)?;
    let order = ledger
        .order(id)?
        .ok_or_else(|| BadInput(format!("no order {id} in the ledger")))?;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&order)?)?;
        return Ok(());
    }
    writeln!(out, "{}", order.title)?;
    writeln!(
        out,
        "  id        {} (revision {})",
        order.id, order.revision
    )?;
    writeln!(
        out,
        "  state     {}   severity {}",
        order.state.as_str(),
        order.severity.as_str()
    )?;
    writeln!(
        out,
        "  camera    {} ({}){}",
        order.camera.name,
        order.camera.id,
        order
            .zone
            .as_ref()
            .map(|z| format!(", zone {}", z.name))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "  where     {:.6}, {:.6} (±{} m)",
        order.location.lat, order.location.lon, order.location.accuracy_m
    )?;
    if let Some(d) = &order.dispatch {
        writeln!(
            out,
            "  team      {}{}",
            d.team,
            d.due
                .as_ref()
                .map(|d| format!(", due {d}"))
                .unwrap_or_default()
        )?;
    }
    for e in &order.evidence {
        writeln!(out, "  photo     {} ({} bytes)", e.name, e.bytes)?;
    }
    writeln!(out, "  timeline")?;
    for t in &order.timeline {
        writeln!(
            out,
            "    {}  {:<16} {:<12} {}",
            t.at, t.event, t.actor, t.note
        )?;
    }
    Ok(())
}

/// Broker, options and topic root from `--config` or `--broker/--site/--box`.
fn connect(args: &BrokerArgs, wildcard_ok: bool) -> anyhow::Result<(MqttOptions, String)> {
    let client_id = format!("lookout-cli-{}", uuid::Uuid::now_v7().simple());
    if let Some(path) = &args.config {
        let config: Config = load_config(path)?;
        let url = match args.broker.clone() {
            Some(b) => b,
            None if config.uplink.broker == "embedded" => {
                format!("mqtt://{}", config.uplink.embedded_listen)
            }
            None => config.uplink.broker.clone(),
        };
        let address = BrokerAddress::parse(&url).map_err(|e| BadInput(e.to_string()))?;
        let opts = lookout::uplink::tool_options(&config, &address, &client_id)?;
        let site = args.site.clone().unwrap_or(config.identity.site.clone());
        let box_id = args.box_id.clone().unwrap_or(config.identity.id.clone());
        return Ok((opts, Topics::new(&site, &box_id).root().to_owned()));
    }
    let url = args
        .broker
        .as_deref()
        .ok_or_else(|| BadInput("say which broker: --config FILE or --broker URL".into()))?;
    let address = BrokerAddress::parse(url).map_err(|e| BadInput(e.to_string()))?;
    if address.tls {
        return Err(BadInput("mqtts:// needs --config (for the CA file)".into()).into());
    }
    let any = wildcard_ok.then(|| "+".to_owned());
    let site = args
        .site
        .clone()
        .or(any.clone())
        .ok_or_else(|| BadInput("--site is required with --broker".into()))?;
    let box_id = args
        .box_id
        .clone()
        .or(any)
        .ok_or_else(|| BadInput("--box is required with --broker".into()))?;
    for v in [&site, &box_id] {
        if !(lookout::config::is_identifier(v) || (wildcard_ok && v == "+")) {
            return Err(BadInput(format!("{v:?} is not a site or box id")).into());
        }
    }
    let mut opts = MqttOptions::new(client_id, address.host, address.port);
    opts.set_max_packet_size(
        lookout::uplink::MAX_PACKET_BYTES,
        lookout::uplink::MAX_PACKET_BYTES,
    );
    opts.set_keep_alive(Duration::from_secs(30));
    Ok((opts, Topics::new(&site, &box_id).root().to_owned()))
}

/// Waits for the next event, turning connection errors into a plain message.
fn next_event(
    conn: &mut rumqttc::Connection,
    until: Instant,
    broker: &str,
) -> anyhow::Result<Option<Event>> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Ok(None);
    }
    match conn.recv_timeout(left) {
        Ok(Ok(ev)) => Ok(Some(ev)),
        Ok(Err(e)) => Err(anyhow!("MQTT broker {broker}: {e}")),
        Err(_) => Ok(None),
    }
}

fn send(verb: &str, id: &str, args: &SendArgs, mut body: CommandBody) -> anyhow::Result<()> {
    let (opts, root) = connect(&args.broker, false)?;
    let broker = format!("{}:{}", opts.broker_address().0, opts.broker_address().1);
    let request_id = args
        .request_id
        .clone()
        .unwrap_or_else(|| format!("cli-{}", uuid::Uuid::now_v7().simple()));
    if !lookout::control::command::is_safe_id(&request_id) {
        return Err(BadInput("--request-id must be 1-128 of A-Z a-z 0-9 _ - .".into()).into());
    }
    body.request_id = request_id.clone();
    body.order_id = id.to_owned();
    body.actor = args.actor.clone();
    body.note = args.note.clone();
    let payload = serde_json::to_vec(&body)?;
    let result_topic = format!("{root}/cmd-result/{request_id}");
    let (client, mut conn) = Client::new(opts, 16);
    let until = Instant::now() + Duration::from_secs_f64(args.timeout.max(0.1));
    let mut result: Option<CommandResult> = None;
    while let Some(ev) = next_event(&mut conn, until, &broker)? {
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                client
                    .subscribe(result_topic.clone(), QoS::AtLeastOnce)
                    .context("subscribe")?;
            }
            // Subscribed before sending: the result cannot slip past.
            Event::Incoming(Packet::SubAck(_)) => {
                client
                    .publish(
                        format!("{root}/cmd/{verb}"),
                        QoS::AtLeastOnce,
                        false,
                        payload.clone(),
                    )
                    .context("publish")?;
            }
            Event::Incoming(Packet::Publish(p)) if p.topic == result_topic => {
                result = Some(serde_json::from_slice(&p.payload).with_context(|| {
                    format!("the box's answer on {result_topic} is not a command result")
                })?);
                break;
            }
            _ => {}
        }
    }
    let _ = client.disconnect();
    let Some(result) = result else {
        return Err(anyhow!(
            "no answer from the box on {result_topic} within {} s (is the box online? sending again with --request-id {request_id} is safe)",
            args.timeout
        ));
    };
    if args.json {
        println!("{}", serde_json::to_string(&result)?);
    }
    match (&result.error, result.ok) {
        (None, true) => {
            if !args.json {
                println!(
                    "{verb} {id}: ok, now {} (revision {})",
                    result.state.map(|s| s.as_str()).unwrap_or("?"),
                    result.revision.unwrap_or(0)
                );
            }
            Ok(())
        }
        (e, _) => Err(anyhow!(
            "{verb} {id} refused: {}: {}",
            e.as_ref().map(|e| e.code.as_str()).unwrap_or("error"),
            e.as_ref().map(|e| e.message.as_str()).unwrap_or("")
        )),
    }
}

fn watch(
    args: &BrokerArgs,
    photos: Option<&Path>,
    json: bool,
    count: Option<u64>,
    timeout: Option<f64>,
) -> anyhow::Result<()> {
    let (opts, root) = connect(args, true)?;
    let broker = format!("{}:{}", opts.broker_address().0, opts.broker_address().1);
    let (client, mut conn) = Client::new(opts, 64);
    let until = timeout.map_or(
        Instant::now() + Duration::from_secs(100 * 365 * 86400),
        |t| Instant::now() + Duration::from_secs_f64(t.max(0.0)),
    );
    let mut seen = 0u64;
    let mut out = std::io::stdout().lock();
    while let Some(ev) = next_event(&mut conn, until, &broker)? {
        let p = match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                let mut topics = vec!["orders/+", "orders/+/evidence/+", "cmd-result/+", "status"];
                if photos.is_some() {
                    topics.push("orders/+/clips/+/+");
                }
                for t in topics {
                    client.subscribe(format!("{root}/{t}"), QoS::AtLeastOnce)?;
                }
                continue;
            }
            Event::Incoming(Packet::Publish(p)) => p,
            _ => continue,
        };
        let parts: Vec<&str> = p.topic.split('/').collect();
        // lookout/v1/{site}/{box}/...
        match parts.get(4..).unwrap_or_default() {
            ["orders", _id] => {
                seen += 1;
                if json {
                    writeln!(out, "{}", String::from_utf8_lossy(&p.payload))?;
                } else {
                    match serde_json::from_slice::<WorkOrder>(&p.payload) {
                        Ok(o) => writeln!(out, "{}", line(&o))?,
                        Err(e) => writeln!(out, "(unreadable order on {}: {e})", p.topic)?,
                    }
                }
                out.flush()?;
            }
            ["orders", id, "evidence", name] => {
                if let Some(dir) = photos {
                    let safe = |s: &str| lookout::control::command::is_safe_id(s);
                    if safe(id) && safe(name) {
                        let folder = dir.join(id);
                        std::fs::create_dir_all(&folder)
                            .with_context(|| format!("cannot create {}", folder.display()))?;
                        let file = folder.join(name);
                        std::fs::write(&file, &p.payload)
                            .with_context(|| format!("cannot write {}", file.display()))?;
                        if !json {
                            writeln!(
                                out,
                                "  photo {} ({} bytes)",
                                file.display(),
                                p.payload.len()
                            )?;
                        }
                    }
                }
            }
            ["orders", _, "clips", _, _] => {
                if let Some(dir) = photos {
                    match lookout::uplink::chunks::accept(dir, &p.payload) {
                        Ok(lookout::uplink::chunks::Assembled::Complete(file)) if !json => {
                            let bytes = std::fs::metadata(&file).map_or(0, |m| m.len());
                            writeln!(
                                out,
                                "  clip {} ({bytes} bytes, sha256 verified)",
                                file.display()
                            )?;
                        }
                        Ok(_) => {}
                        Err(e) => writeln!(
                            std::io::stderr(),
                            "  clip chunk on {} refused: {e}",
                            p.topic
                        )?,
                    }
                }
            }
            ["cmd-result", rid] => {
                if json {
                    writeln!(out, "{}", String::from_utf8_lossy(&p.payload))?;
                } else {
                    writeln!(
                        out,
                        "  result {rid}: {}",
                        String::from_utf8_lossy(&p.payload)
                    )?;
                }
            }
            ["status"] if !json => {
                let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap_or_default();
                writeln!(
                    out,
                    "  box {}/{} is {}",
                    parts[2],
                    parts[3],
                    v.get("state").and_then(|s| s.as_str()).unwrap_or("?")
                )?;
            }
            _ => {}
        }
        if count.is_some_and(|c| seen >= c) {
            break;
        }
    }
    let _ = client.disconnect();
    Ok(())
}
