//! A camera's page: its latest analysed frame with the zones and what the models saw drawn on
//! it, its zones and rules, and the zone editor — points clicked on the picture become a zone,
//! saved through the same validated, comment-keeping config edit as `lookout zone add`; the
//! daemon's config watcher then restarts that camera only.

use std::fmt::Write;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::auth::Session;
use super::pages::{esc, t, table_head};
use super::{Console, Shared};
use crate::config::CameraConfig;

/// The editor: clicks on the picture (normalised to 0..1 of it) build the polygon, drawn on an
/// SVG over the picture; undo and clear; the picture refreshes every 2 s while nothing is drawn.
const SCRIPT: &str = r#"document.addEventListener('DOMContentLoaded', function () {
  var img = document.getElementById('frame');
  var svg = document.getElementById('overlay');
  var field = document.getElementById('polygon');
  if (!img || !svg || !field) return;
  var NS = 'http://www.w3.org/2000/svg';
  var pts = [];
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (pts.length) {
      var poly = document.createElementNS(NS, 'polygon');
      poly.setAttribute('points', pts.map(function (p) { return p[0] + ',' + p[1]; }).join(' '));
      svg.appendChild(poly);
      pts.forEach(function (p) {
        var c = document.createElementNS(NS, 'circle');
        c.setAttribute('cx', p[0]); c.setAttribute('cy', p[1]); c.setAttribute('r', 0.006);
        svg.appendChild(c);
      });
    }
    field.value = pts.map(function (p) { return p[0].toFixed(4) + ',' + p[1].toFixed(4); }).join(';');
    var count = document.getElementById('points');
    if (count) count.textContent = pts.length;
  }
  svg.addEventListener('click', function (e) {
    var r = svg.getBoundingClientRect();
    var x = Math.min(1, Math.max(0, (e.clientX - r.left) / r.width));
    var y = Math.min(1, Math.max(0, (e.clientY - r.top) / r.height));
    pts.push([x, y]);
    draw();
  });
  document.getElementById('undo').addEventListener('click', function () { pts.pop(); draw(); });
  document.getElementById('clear').addEventListener('click', function () { pts = []; draw(); });
  setInterval(function () {
    if (!pts.length) img.src = img.src.split('?')[0] + '?t=' + Date.now();
  }, 2000);
});
"#;

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}

/// The camera as the config file says now, or why not.
pub(super) fn camera_config(c: &Console, id: &str) -> Result<CameraConfig, (StatusCode, String)> {
    let path = c.config_path.as_ref().ok_or((
        StatusCode::NOT_FOUND,
        "no config file: no camera pages\n".to_owned(),
    ))?;
    // For display the file's own checks are enough: the components' (calibrations solved,
    // the certificate parsed, …) would run on every picture request for nothing.
    let config = crate::config::load(path)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")))?;
    config
        .camera(id)
        .cloned()
        .ok_or((StatusCode::NOT_FOUND, format!("no camera {id:?}\n")))
}

/// The zones drawn for a frame and the ids of those a rule masks out: the camera's, and a PTZ
/// preset's when the frame is of one.
fn zones_of(camera: &CameraConfig, preset: Option<&str>) -> (Vec<crate::rules::Zone>, Vec<String>) {
    let view = preset
        .and_then(|t| camera.presets.iter().position(|p| p.token == t))
        .map(|k| camera.at_preset(k));
    let view = view.as_ref().unwrap_or(camera);
    let zones = view
        .zones
        .iter()
        .map(crate::rules::Zone::from_config)
        .collect();
    let masks = view
        .mask_zone_ids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    (zones, masks)
}

/// `/cameras/{id}/frame.jpg`: the latest analysed frame, zones and detections drawn.
pub async fn frame(State(c): State<Shared>, Path(id): Path<String>) -> Response {
    let camera = match camera_config(&c, &id) {
        Ok(cam) => cam,
        Err(e) => return e.into_response(),
    };
    let Some(latest) = c.snapshots.get(&id) else {
        return (StatusCode::NOT_FOUND, "no frame from this camera yet\n").into_response();
    };
    let encoded = tokio::task::spawn_blocking(move || {
        let (zones, masks) = zones_of(&camera, latest.preset.as_deref());
        let masks: Vec<&str> = masks.iter().map(String::as_str).collect();
        let seen: Vec<(String, [f32; 4])> = latest
            .seen
            .iter()
            .map(|s| (format!("{} {:.2}", s.label, s.score), s.bbox))
            .collect();
        let img = crate::evidence::live_view(&latest.image, &zones, &masks, &seen);
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .map(|_| out)
    })
    .await;
    match encoded {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode the frame\n",
        )
            .into_response(),
    }
}

/// `/cameras/{id}`: the picture, the zone editor, the zones and the rules.
pub async fn page(
    State(c): State<Shared>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
) -> Response {
    camera_page(&c, &s, &id, None, StatusCode::OK)
}

fn camera_page(
    c: &Console,
    s: &Session,
    id: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let camera = match camera_config(c, id) {
        Ok(cam) => cam,
        Err(e) => return e.into_response(),
    };
    let latest = c.snapshots.get(id);
    let mut body = format!(
        "<h2 id=\"camera\">{name} <small>({id})</small></h2>",
        name = esc(camera.display_name()),
        id = esc(id),
    );
    if let Some(p) = problem {
        let _ = write!(body, "<p class=\"notice\" id=\"problem\">{}</p>", esc(p));
    }
    match &latest {
        Some(l) => {
            let _ = write!(
                body,
                "<p>{at_l} {at}{preset}</p><div class=\"view\"><img id=\"frame\" src=\"/cameras/{id}/frame.jpg\" alt=\"{id}\">\
                 <svg id=\"overlay\" viewBox=\"0 0 1 1\" preserveAspectRatio=\"none\"></svg></div>",
                at_l = t(c, "最新画面", "Latest frame"),
                at = esc(&crate::orders::rfc3339(l.captured_at)),
                preset = l
                    .preset
                    .as_deref()
                    .map(|p| format!(" · preset {}", esc(p)))
                    .unwrap_or_default(),
                id = esc(id),
            );
        }
        None => {
            let _ = write!(
                body,
                "<p class=\"notice\">{}</p>",
                t(c, "尚无画面", "No frame from this camera yet")
            );
        }
    }
    let _ = write!(
        body,
        "<form class=\"editor\" method=\"post\" action=\"/cameras/{id}/zones\" id=\"zone-form\">\
         <h3>{new_l}</h3><p>{how}</p>\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"polygon\" id=\"polygon\">\
         <label>ID <input name=\"id\" id=\"zone-id\" required pattern=\"[A-Za-z0-9_-]{{1,64}}\"></label>\
         <label>{name_l} <input name=\"name\" id=\"zone-name\"></label>\
         <span>{points_l}: <b id=\"points\">0</b></span> \
         <button type=\"button\" id=\"undo\">{undo}</button> <button type=\"button\" id=\"clear\">{clear}</button> \
         <button id=\"save-zone\">{save}</button></form>",
        id = esc(id),
        new_l = t(c, "新建区域", "New zone"),
        how = t(
            c,
            "在画面上依次点击区域的各个顶点，然后命名并保存。",
            "Click the zone's corners on the picture in order, then name it and save."
        ),
        csrf = esc(&s.csrf),
        name_l = t(c, "名称", "Name"),
        points_l = t(c, "顶点", "Points"),
        undo = t(c, "撤销", "Undo"),
        clear = t(c, "清除", "Clear"),
        save = t(c, "保存区域", "Save zone"),
    );
    zone_table(c, &mut body, "zones", &camera.zones, &camera.rules);
    rule_table(c, &mut body, "rules", &camera.rules);
    preset_tables(
        c,
        &mut body,
        &camera,
        latest.as_ref().and_then(|l| l.preset.as_deref()),
    );
    let mut r = super::pages::page(c, camera.display_name(), Some(s), &body).into_response();
    *r.status_mut() = status;
    r
}

/// The zones, each with what it is for: a rule's area, or a mask some rule ignores.
fn zone_table(
    c: &Console,
    body: &mut String,
    id: &str,
    zones: &[crate::config::ZoneConfig],
    rules: &[crate::config::RuleConfig],
) {
    table_head(
        body,
        t(c, "区域", "Zones"),
        id,
        &[
            "ID",
            t(c, "名称", "Name"),
            t(c, "用途", "Used by"),
            t(c, "顶点", "Points"),
        ],
    );
    for z in zones {
        let pts: Vec<String> = z
            .polygon
            .iter()
            .map(|p| format!("{:.3},{:.3}", p[0], p[1]))
            .collect();
        let mut uses: Vec<String> = Vec::new();
        let mut masked = false;
        for r in rules {
            if r.params.get("zone").and_then(|v| v.as_str()) == Some(z.id.as_str()) {
                uses.push(r.kind.clone());
            }
            if r.masks.contains(&z.id) {
                masked = true;
                uses.push(format!("{} {}", t(c, "屏蔽", "mask of"), r.kind));
            }
        }
        let _ = write!(
            body,
            "<tr data-zone=\"{zid}\"{class}><td>{zid}</td><td>{name}</td><td>{uses}</td><td>{pts}</td></tr>",
            zid = esc(&z.id),
class = if masked { " class=\"mask\"" } else { "" },
            name = esc(z.name.as_deref().unwrap_or("")),
            uses = esc(&uses.join(", ")),
            pts = esc(&pts.join(" ")),
        );
    }
    body.push_str("</table>");
}

/// The rules: kind, zone, masks and when they are armed.
fn rule_table(c: &Console, body: &mut String, id: &str, rules: &[crate::config::RuleConfig]) {
    table_head(
        body,
        t(c, "规则", "Rules"),
        id,
        &[
            t(c, "类型", "Kind"),
            t(c, "区域", "Zone"),
            t(c, "屏蔽区", "Masks"),
            t(c, "布防时间", "Armed"),
        ],
    );
    for r in rules {
        let zone = r.params.get("zone").and_then(|v| v.as_str()).unwrap_or("—");
        let armed = match &r.schedule {
            None => t(c, "全天", "always").to_owned(),
            Some(s) => {
                let mut parts: Vec<String> = s.hours.iter().map(|w| w.to_string()).collect();
                if !s.days.is_empty() {
                    parts.push(format!("{} {:?}", t(c, "星期", "days"), s.days));
                }
                if !s.months.is_empty() {
                    parts.push(format!("{} {:?}", t(c, "月份", "months"), s.months));
                }
                parts.join(" · ")
            }
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.kind),
            esc(zone),
            esc(&r.masks.join(", ")),
            esc(&armed)
        );
    }
    body.push_str("</table>");
}

/// A PTZ camera's tour: each preset with its dwell and its own zones and rules (which hold
/// there on top of the camera's); the one the latest frame is of marked.
fn preset_tables(c: &Console, body: &mut String, camera: &CameraConfig, current: Option<&str>) {
    if camera.presets.is_empty() {
        return;
    }
    table_head(
        body,
        t(c, "巡航预置位", "Patrol presets"),
        "presets",
        &[
            t(c, "预置位", "Preset"),
            t(c, "名称", "Name"),
            t(c, "停留", "Dwell"),
            t(c, "区域", "Zones"),
            t(c, "规则", "Rules"),
        ],
    );
    for p in &camera.presets {
        let here = current == Some(p.token.as_str());
        let zones: Vec<&str> = p.zones.iter().map(|z| z.id.as_str()).collect();
        let rules: Vec<&str> = p.rules.iter().map(|r| r.kind.as_str()).collect();
        let _ = write!(
            body,
            "<tr data-preset=\"{tok}\"{class}><td>{tok}{mark}</td><td>{name}</td><td>{dwell} s</td><td>{zones}</td><td>{rules}</td></tr>",
            tok = esc(&p.token),
            class = if here { " class=\"current\"" } else { "" },
            mark = if here { format!(" ◀ {}", t(c, "当前", "now")) } else { String::new() },
            name = esc(p.name.as_deref().unwrap_or("")),
            dwell = p.dwell_s.secs(),
            zones = esc(&zones.join(", ")),
            rules = esc(&rules.join(", ")),
        );
    }
    body.push_str("</table>");
    for (k, p) in camera.presets.iter().enumerate() {
        let view = camera.at_preset(k);
        let own: Vec<crate::config::ZoneConfig> = p.zones.clone();
        if own.is_empty() {
            continue;
        }
        zone_table(c, body, &format!("zones-{}", p.token), &own, &view.rules);
    }
}

#[derive(Deserialize)]
pub struct ZoneForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    polygon: String,
}

/// `POST /cameras/{id}/zones`: adds the drawn zone to the config file (validated as a whole,
/// comments kept, replaced atomically); the daemon's watcher reloads that camera.
pub async fn add_zone(
    State(c): State<Shared>,
    Extension(s): Extension<Session>,
    Path(id): Path<String>,
    Form(form): Form<ZoneForm>,
) -> Response {
    if form.csrf != s.csrf {
        return (
            StatusCode::FORBIDDEN,
            "the form is stale: reload the page\n",
        )
            .into_response();
    }
    let Some(path) = c.config_path.clone() else {
        return (StatusCode::NOT_FOUND, "no config file\n").into_response();
    };
    let points = match crate::config::edit::parse_points(&form.polygon) {
        Ok(p) if p.len() >= 3 => p,
        Ok(_) => {
            let why = t(
                &c,
                "区域至少需要 3 个顶点",
                "A zone needs at least 3 points",
            );
            return camera_page(&c, &s, &id, Some(why), StatusCode::BAD_REQUEST);
        }
        Err(e) => return camera_page(&c, &s, &id, Some(&e), StatusCode::BAD_REQUEST),
    };
    let (camera, zone, name) = (id.clone(), form.id.clone(), form.name.clone());
    let saved = tokio::task::spawn_blocking(move || {
        let mut edit = crate::config::edit::ConfigEdit::open(&path)?;
        edit.add_zone(&camera, &zone, Some(name.as_str()), &points)?;
        edit.save(crate::build::check).map(|_| ())
    })
    .await;
    match saved {
        Ok(Ok(())) => {
            tracing::info!(camera = %id, zone = %form.id, user = %s.user, "Zone added from the console.");
            let enc =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            Redirect::to(&format!("/cameras/{}?saved={}", enc(&id), enc(&form.id))).into_response()
        }
        Ok(Err(e)) => camera_page(&c, &s, &id, Some(&e.to_string()), StatusCode::BAD_REQUEST),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the edit failed\n").into_response(),
    }
}
