//! The console's pages: server-rendered HTML, every value escaped, labels in the box's language
//! (`[box] language`). No script is needed to read them.

use std::fmt::Write;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Extension;
use serde::Deserialize;

use super::auth::Session;
use super::{find_orders, Console, OrderFilter, Shared};
use crate::config::Language;
use crate::health::STALL;

/// Text safe inside HTML elements and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds as a person reads them: 45 s, 12 min, 3.5 h, 2.0 d.
fn duration(s: f64) -> String {
    match s {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 5400.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} d", s / 86_400.0),
    }
}

/// A titled table's start: `<h3>title</h3><table id=…>` and its header row.
pub(super) fn table_head(body: &mut String, title: &str, id: &str, columns: &[&str]) {
    let _ = write!(body, "<h3>{title}</h3><table id=\"{}\"><tr>", esc(id));
    for c in columns {
        let _ = write!(body, "<th>{c}</th>");
    }
    body.push_str("</tr>");
}

/// A label in the box's language.
pub(super) fn t(c: &Console, zh: &'static str, en: &'static str) -> &'static str {
    match c.language {
        Language::Zh => zh,
        Language::En => en,
    }
}

const STYLE: &str = "body{font-family:system-ui,'Noto Sans CJK SC',sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
header{background:#1d2330;color:#fff;padding:.6em 1em;display:flex;gap:1.5em;align-items:center}\
header a{color:#fff;text-decoration:none}header form{margin-left:auto}\
main{padding:1em;max-width:1200px}table{border-collapse:collapse;background:#fff;width:100%}\
th,td{padding:.35em .6em;border-bottom:1px solid #e3e5ea;text-align:left}th{background:#eceef2}\
.ok{color:#1a7f37}.bad{color:#c62828}.warn{color:#b26a00}\
.login{max-width:22em;margin:4em auto;background:#fff;padding:1.5em;border-radius:6px}\
.login input{display:block;width:100%;margin:.3em 0 .8em;padding:.4em;box-sizing:border-box}\
.notice{background:#fdecea;color:#c62828;padding:.5em;border-radius:4px}\
figure img,figure video{max-width:100%}\
.view{position:relative;display:inline-block;width:min(100%,960px)}.view img{display:block;width:100%}\
.view svg{position:absolute;left:0;top:0;width:100%;height:100%;cursor:crosshair}\
.view polygon{fill:rgba(255,200,0,.25);stroke:#ffc800;stroke-width:2;vector-effect:non-scaling-stroke}\
.view circle{fill:#ffc800}.editor{margin:1em 0}.editor input{margin-right:.5em}\
tr.mask td{color:#8e24aa}tr.current td{font-weight:600;background:#fff8e1}h3{margin-top:1.2em}";

/// `/console.css`: the pages' one stylesheet (the CSP allows no inline style).
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
}

/// A whole page: head, the header bar (when logged in) and `body`.
pub(super) fn page(
    c: &Console,
    title: &str,
    session: Option<&Session>,
    body: &str,
) -> Html<String> {
    let lang = match c.language {
        Language::Zh => "zh-CN",
        Language::En => "en",
    };
    let mut bar = String::new();
    if let Some(s) = session {
        let _ = write!(
            bar,
            "<header><strong>lookout {site}/{bx}</strong><a href=\"/\">{overview}</a><a href=\"/orders\">{orders}</a>\
             <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <button id=\"logout\">{logout} ({user})</button></form></header>",
            site = esc(&c.site),
            bx = esc(&c.box_id),
            overview = t(c, "总览", "Overview"),
            orders = t(c, "工单", "Orders"),
            csrf = esc(&s.csrf),
            logout = t(c, "退出", "Log out"),
            user = esc(&s.user),
        );
    }
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · lookout</title><link rel=\"stylesheet\" href=\"/console.css\"><script src=\"/console.js\" defer></script></head><body>{bar}<main>{body}</main></body></html>",
        title = esc(title),
    ))
}

/// Why the login form is shown again.
pub enum Notice {
    Wrong,
    TooMany(u64),
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn login_page(State(c): State<Shared>, Query(q): Query<NextQuery>) -> Html<String> {
    login_form(&c, &q.next, None)
}

pub fn login_form(c: &Console, next: &str, notice: Option<Notice>) -> Html<String> {
    let notice = match notice {
        None if c.password_hash.is_none() => format!(
            "<p class=\"notice\">{}</p>",
            t(
                c,
                "控制台尚未设置密码：在盒子上运行 lookout console passwd",
                "The console has no password yet: run lookout console passwd on the box"
            )
        ),
        None => String::new(),
        Some(Notice::Wrong) => format!(
            "<p class=\"notice\" id=\"refused\">{}</p>",
            t(c, "用户名或密码错误", "Wrong user or password")
        ),
        Some(Notice::TooMany(secs)) => format!(
            "<p class=\"notice\" id=\"refused\">{} {secs} s</p>",
            t(
                c,
                "失败次数过多，请稍后再试：",
                "Too many failed attempts; try again in"
            )
        ),
    };
    let body = format!(
        "<form class=\"login\" method=\"post\" action=\"/login\"><h2>lookout {site}/{bx}</h2>{notice}\
         <label>{user_l}<input name=\"user\" id=\"user\" autocomplete=\"username\" required></label>\
         <label>{pw_l}<input name=\"password\" id=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <input type=\"hidden\" name=\"next\" value=\"{next}\"><button id=\"login\">{go}</button></form>",
        site = esc(&c.site),
        bx = esc(&c.box_id),
        user_l = t(c, "用户名", "User"),
        pw_l = t(c, "密码", "Password"),
        next = esc(next),
        go = t(c, "登录", "Log in"),
    );
    page(c, t(c, "登录", "Log in"), None, &body)
}

pub async fn overview(State(c): State<Shared>, Extension(s): Extension<Session>) -> Html<String> {
    let now = Instant::now();
    let g = (c.gauges)();
    let verdict = c.health.verdict(now, STALL);
    let broker = c.health.broker_state(now);
    let mut body = format!(
        "<h2>{}</h2><table id=\"cameras\"><tr>",
        t(&c, "摄像机", "Cameras")
    );
    for h in [
        t(&c, "摄像机", "Camera"),
        t(&c, "状态", "State"),
        t(&c, "检测帧率", "Detect fps"),
        t(&c, "解码帧率", "Decode fps"),
        t(&c, "有效检测率", "Effective detection"),
        t(&c, "故障", "Faults"),
        t(&c, "重连", "Reconnects"),
    ] {
        let _ = write!(body, "<th>{h}</th>");
    }
    body.push_str("</tr>");
    for cam in c.health.cameras(now) {
        let class = match cam.state {
            "online" => "ok",
            "reconnecting" | "starting" => "warn",
            _ => "bad",
        };
        let rates: Vec<String> = cam
            .rates
            .iter()
            .map(|r| format!("{} {:.1}/{:.1}", esc(&r.model), r.effective, r.wanted))
            .collect();
        let _ = write!(
            body,
            "<tr data-camera=\"{id}\"><td><a href=\"/cameras/{id}\">{id}</a></td><td class=\"{class}\">{state}</td><td>{fps:.1}</td><td>{dfps:.1}</td><td>{rates}</td><td class=\"bad\">{faults}</td><td>{rc}</td></tr>",
            id = esc(&cam.id),
            state = esc(cam.state),
            fps = cam.fps,
            dfps = cam.decode_fps,
            rates = rates.join("<br>"),
            faults = esc(&cam.faults.join(", ")),
            rc = cam.reconnects,
        );
    }
    body.push_str("</table>");
    let _ = write!(
        body,
        "<h2>{box_l}</h2><table id=\"box\"><tr><th>{health_l}</th><td class=\"{hc}\">{health}</td></tr>\
         <tr><th>{broker_l}</th><td class=\"{bc}\" id=\"broker\">{broker}</td></tr>\
         <tr><th>{outbox_l}</th><td>{msgs} ({kb:.1} kB)</td></tr>\
         <tr><th>{queue_l}</th><td>{queue}</td></tr><tr><th>{orders_l}</th><td>{orders}</td></tr></table>",
        box_l = t(&c, "盒子", "Box"),
        health_l = t(&c, "健康", "Health"),
        hc = if verdict.healthy { "ok" } else { "bad" },
        health = if verdict.healthy {
            t(&c, "正常", "healthy").to_owned()
        } else {
            esc(&verdict.problems.join("; "))
        },
        broker_l = t(&c, "指挥中心消息服务器", "Centre's MQTT broker"),
        bc = match &broker {
            Some(b) if b.connected => "ok",
            _ => "bad",
        },
        broker = match &broker {
            None => t(&c, "尚未连接", "not connected yet").to_owned(),
            Some(b) if b.connected => format!(
                "{} {}",
                t(&c, "已连接", "connected for"),
                duration(b.for_s)
            ),
            Some(b) => format!(
                "{} {}{}",
                t(&c, "断开", "disconnected for"),
                duration(b.for_s),
                b.error
                    .as_deref()
                    .map(|e| format!(": {}", esc(&crate::redact::text(e))))
                    .unwrap_or_default()
            ),
        },
        outbox_l = t(&c, "待发送（发件箱）", "Outbox (not yet acknowledged by the broker)"),
        msgs = g.outbox_messages,
        kb = g.outbox_bytes as f64 / 1e3,
        queue_l = t(&c, "上行队列", "Uplink queue"),
        queue = g.uplink_queue,
        orders_l = t(&c, "工单", "Orders"),
        orders = esc(
            &g.orders_by_state
                .iter()
                .map(|(s, n)| format!("{s} {n}"))
                .collect::<Vec<_>>()
                .join(" · ")
        ),
    );
    page(&c, t(&c, "总览", "Overview"), Some(&s), &body)
}

pub async fn orders(
    State(c): State<Shared>,
    Extension(s): Extension<Session>,
    Query(f): Query<OrderFilter>,
) -> Response {
    let found = match find_orders(&c, &f) {
        Ok(o) => o,
        Err((status, why)) => return (status, why).into_response(),
    };
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or(""));
    let mut body = format!(
        "<h2>{title}</h2><form method=\"get\" action=\"/orders\">\
         {state_l} <input name=\"state\" value=\"{state}\"> {kind_l} <input name=\"kind\" value=\"{kind}\"> \
         {camera_l} <input name=\"camera\" value=\"{camera}\"> {since_l} <input name=\"since\" value=\"{since}\" placeholder=\"2026-12-06T00:00:00Z\"> \
         <button>{filter}</button></form><table id=\"orders\"><tr><th>{updated_l}</th><th>{title_l}</th><th>{state_l}</th><th>{camera_l}</th></tr>",
        title = t(&c, "工单", "Work orders"),
        state_l = t(&c, "状态", "State"),
        kind_l = t(&c, "类型", "Kind"),
        camera_l = t(&c, "摄像机", "Camera"),
        since_l = t(&c, "起始时间", "Since"),
        updated_l = t(&c, "更新", "Updated"),
        title_l = t(&c, "标题", "Title"),
        filter = t(&c, "筛选", "Filter"),
        state = v(&f.state),
        kind = v(&f.kind),
        camera = v(&f.camera),
        since = v(&f.since),
    );
    for o in &found {
        let _ = write!(
            body,
            "<tr><td>{at}</td><td><a href=\"/orders/{id}\">{title}</a></td><td>{state}</td><td>{cam}</td></tr>",
            at = esc(&o.updated_at),
            id = esc(&o.id),
            title = esc(&o.title),
            state = o.state.as_str(),
            cam = esc(&o.camera.name),
        );
    }
    body.push_str("</table>");
    page(&c, t(&c, "工单", "Work orders"), Some(&s), &body).into_response()
}

pub async fn order(
    State(c): State<Shared>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    let found = c
        .ledger
        .as_ref()
        .and_then(|l| crate::ledger::lock(l).order(&id).ok().flatten());
    let Some(o) = found else {
        return (StatusCode::NOT_FOUND, "no such order\n").into_response();
    };
    let mut body = format!(
        "<h2 id=\"title\">{title}</h2><table id=\"order\">\
         <tr><th>{state_l}</th><td>{state}</td></tr><tr><th>{camera_l}</th><td>{cam}</td></tr>\
         <tr><th>{opened_l}</th><td>{opened}</td></tr><tr><th>{where_l}</th><td>{lat:.6}, {lon:.6} (±{acc:.0} m, {method})</td></tr>",
        title = esc(&o.title),
        state_l = t(&c, "状态", "State"),
        state = o.state.as_str(),
        camera_l = t(&c, "摄像机", "Camera"),
        cam = esc(&o.camera.name),
        opened_l = t(&c, "发现时间", "Opened"),
        opened = esc(&o.opened_at),
        where_l = t(&c, "位置", "Location"),
        lat = o.location.lat,
        lon = o.location.lon,
        acc = o.location.accuracy_m,
        method = esc(&o.location.method),
    );
    body.push_str("</table>");
    location_sketch(&c, &mut body, &o);
    body.push_str("<h3>");
    body.push_str(t(&c, "证据", "Evidence"));
    body.push_str("</h3><div id=\"evidence\">");
    for e in &o.evidence {
        let src = format!("/orders/{}/evidence/{}", esc(&o.id), esc(&e.name));
        if e.content_type.starts_with("image/") {
            let _ = write!(
                body,
                "<figure><img src=\"{src}\" alt=\"{name}\"><figcaption>{name} · {at}</figcaption></figure>",
                name = esc(&e.name),
                at = esc(&e.captured_at),
            );
        } else {
            let _ = write!(
                body,
                "<figure><video src=\"{src}\" controls></video><figcaption>{name} · {at}</figcaption></figure>",
                name = esc(&e.name),
                at = esc(&e.captured_at),
            );
        }
    }
    body.push_str("</div><h3>");
    body.push_str(t(&c, "处置记录", "Timeline"));
    body.push_str("</h3><table id=\"timeline\">");
    for e in &o.timeline {
        let _ = write!(
            body,
            "<tr><td>{at}</td><td>{event}</td><td>{actor}</td><td>{note}</td></tr>",
            at = esc(&e.at),
            event = esc(&e.event),
            actor = esc(&e.actor),
            note = esc(&e.note),
        );
    }
    body.push_str("</table>");
    commands_table(&c, &mut body, &o.id);
    page(&c, &o.title, Some(&s), &body).into_response()
}

/// Where the incident is from its camera, drawn without map tiles (`sketch.rs`); nothing when
/// the camera is no longer in the config.
fn location_sketch(c: &Console, body: &mut String, o: &crate::orders::WorkOrder) {
    let Ok(camera) = super::cameras::camera_config(c, &o.camera.id) else {
        return;
    };
    let from = (camera.location.lat, camera.location.lon);
    let offset = super::sketch::offset(from, (o.location.lat, o.location.lon));
    let _ = write!(
        body,
        "<h3>{}</h3><figure class=\"sketch\">{}<figcaption>{}</figcaption></figure>",
        t(c, "位置示意", "Where, from the camera"),
        super::sketch::svg(
            &offset,
            o.location.accuracy_m,
            t(c, "摄像机", "camera"),
            t(c, "事件", "incident")
        ),
        esc(&super::sketch::words(
            &offset,
            o.location.accuracy_m,
            c.language
        )),
    );
}

/// The centre's commands about the order as they arrived, each with the box's answer.
fn commands_table(c: &Console, body: &mut String, order_id: &str) {
    let commands = c
        .ledger
        .as_ref()
        .and_then(|l| crate::ledger::lock(l).commands_for(order_id).ok())
        .unwrap_or_default();
    table_head(
        body,
        t(c, "指挥中心指令", "Commands from the centre"),
        "commands",
        &[
            t(c, "收到时间", "Received"),
            t(c, "指令", "Command"),
            t(c, "请求号", "Request"),
            t(c, "答复", "Answer"),
        ],
    );
    for cmd in &commands {
        let answer: serde_json::Value =
            serde_json::from_slice(&cmd.result).unwrap_or(serde_json::Value::Null);
        // The published answer (docs/schemas/command-result.schema.json): the state it led to,
        // or the refusal's code and message.
        let status = match answer.get("ok").and_then(|v| v.as_bool()) {
            Some(true) => format!(
                "ok → {}",
                answer.get("state").and_then(|v| v.as_str()).unwrap_or("")
            ),
            _ => answer["error"]["code"]
                .as_str()
                .unwrap_or("refused")
                .to_owned(),
        };
        let why = answer["error"]["message"].as_str().unwrap_or("");
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
            esc(&cmd.received_at),
            esc(&cmd.verb),
            esc(&cmd.request_id),
            esc(&status),
            esc(why)
        );
    }
    if commands.is_empty() {
        let _ = write!(
            body,
            "<tr><td colspan=\"4\">{}</td></tr>",
            t(c, "无", "none yet")
        );
    }
    body.push_str("</table>");
}
