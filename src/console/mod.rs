//! The box's HTTP server and web console (axum on the daemon's tokio runtime): `/metrics` and
//! `/healthz` as the watchdog and Prometheus have always had them, and the console — pages and a
//! read-only JSON API — for the people on site, behind a login (`auth.rs`).
//!
//! Anonymous: `/healthz`, `/login`, and `/metrics` when `[console] metrics_public` allows it.
//! Everything else needs a session; a page asked for without one redirects to the login, an API
//! call gets 401. Every change (a POST) must carry the session's CSRF token and, when the
//! browser sends one, an `Origin` of this server.

pub mod auth;
mod cameras;
mod pages;
mod sketch;
mod snapshots;

pub use snapshots::{Latest, Seen, Snapshots};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use crate::config::{ConsoleConfig, Language};
use crate::health::{GaugeSource, Health, STALL};
use crate::ledger::SharedLedger;
use crate::orders::OrderState;

/// What the console serves from.
pub struct Console {
    pub health: Arc<Health>,
    pub gauges: GaugeSource,
    /// The ledger (orders); `None` where the box runs without one.
    pub ledger: Option<SharedLedger>,
    pub language: Language,
    pub site: String,
    pub box_id: String,
    /// The console's user and password hash; without a hash nobody can log in (the login page
    /// says how to set one).
    pub user: String,
    pub password_hash: Option<String>,
    pub metrics_public: bool,
    pub sessions: auth::Sessions,
    pub throttle: auth::Throttle,
    /// The cameras' latest analysed frames.
    pub snapshots: Arc<Snapshots>,
    /// The config file the daemon runs (camera pages read it; the zone editor edits it and
    /// the daemon's watcher reloads the camera); `None`: no camera pages.
    pub config_path: Option<std::path::PathBuf>,
    /// Certificate and key (PEM): serve HTTPS only, with `Secure` cookies (no HSTS:
    /// `docs/security.md` says why).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Console {
    pub fn new(
        config: &ConsoleConfig,
        health: Arc<Health>,
        gauges: GaugeSource,
        ledger: Option<SharedLedger>,
        identity: &crate::config::BoxIdentity,
    ) -> Console {
        Console {
            health,
            gauges,
            ledger,
            language: identity.language,
            site: identity.site.clone(),
            box_id: identity.id.clone(),
            user: config.user.clone(),
            password_hash: config.password_hash.clone(),
            metrics_public: config.metrics_public,
            sessions: auth::Sessions::new(Duration::from_secs_f64(config.session_hours * 3600.0)),
            throttle: auth::Throttle::new(LOGIN_ATTEMPTS, LOGIN_WINDOW),
            snapshots: Arc::default(),
            config_path: None,
            tls: config.tls_cert.clone().zip(config.tls_key.clone()),
        }
    }

    /// Camera pages from these frames and this config file.
    pub fn with_cameras(
        mut self,
        snapshots: Arc<Snapshots>,
        config_path: Option<std::path::PathBuf>,
    ) -> Console {
        self.snapshots = snapshots;
        self.config_path = config_path;
        self
    }
}

/// Failed logins an address may make within [`LOGIN_WINDOW`] before it must wait.
const LOGIN_ATTEMPTS: usize = 5;
const LOGIN_WINDOW: Duration = Duration::from_secs(300);

type Shared = Arc<Console>;

/// Binds `listen` and serves until the runtime stops — over HTTPS when the console has a
/// certificate (never falling back to plain HTTP: a bad certificate is an error here).
/// Returns the bound address.
pub async fn serve(listen: &str, console: Arc<Console>) -> std::io::Result<SocketAddr> {
    let tls = match &console.tls {
        None => None,
        Some((cert, key)) => Some(
            crate::tls::server_config(cert, key)
                .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidInput, why))?,
        ),
    };
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = router(console).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        let served = match tls {
            None => axum::serve(listener, app).await,
            Some(tls) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
                match listener.into_std() {
                    Ok(listener) => {
                        axum_server::from_tcp_rustls(listener, config)
                            .serve(app)
                            .await
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "The HTTP server stopped.");
        }
    });
    Ok(addr)
}

/// Every route, with who may use it.
pub fn router(console: Shared) -> Router {
    let private = Router::new()
        .route("/", get(pages::overview))
        .route("/orders", get(pages::orders))
        .route("/orders/:id", get(pages::order))
        .route("/orders/:id/evidence/:name", get(evidence))
        .route("/cameras/:id", get(cameras::page))
        .route("/cameras/:id/frame.jpg", get(cameras::frame))
        .route("/cameras/:id/zones", post(cameras::add_zone))
        .route("/api/status", get(api_status))
        .route("/api/orders", get(api_orders))
        .route("/api/orders/:id", get(api_order))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(
            console.clone(),
            require_session,
        ));
    let metrics =
        if console.metrics_public {
            Router::new().route("/metrics", get(metrics))
        } else {
            Router::new().route("/metrics", get(metrics)).route_layer(
                middleware::from_fn_with_state(console.clone(), require_session),
            )
        };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/console.css", get(pages::stylesheet))
        .route("/console.js", get(cameras::script))
        .route("/login", get(pages::login_page).post(login))
        .merge(metrics)
        .merge(private)
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(console)
}

/// Headers every answer carries: no framing (clickjacking), no sniffing, no referrer leaks,
/// scripts and styles only from this server.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    // Static answers set their own caching; everything else is live data.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "not found\n")
}

async fn healthz(State(c): State<Shared>) -> Response {
    let v = c.health.verdict(Instant::now(), STALL);
    if v.healthy {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", v.problems.join("\n")),
        )
            .into_response()
    }
}

async fn metrics(State(c): State<Shared>) -> Response {
    let text = c.health.prometheus(Instant::now(), &(c.gauges)());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// The session cookie's value in a request.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == auth::COOKIE)
        .map(|(_, v)| v)
}

/// Lets a request with a live session through (the session in its extensions); otherwise a
/// page redirects to the login and the API answers 401. A POST must carry the session's CSRF
/// token (header `X-CSRF-Token`; forms are checked by their handler) and a same-origin `Origin`.
async fn require_session(State(c): State<Shared>, mut request: Request, next: Next) -> Response {
    let now = Instant::now();
    let session = session_id(request.headers()).and_then(|id| c.sessions.get(id, now));
    let Some(session) = session else {
        let path = request.uri().path().to_owned();
        if path.starts_with("/api/") || request.method() != Method::GET {
            return (StatusCode::UNAUTHORIZED, "log in first\n").into_response();
        }
        let next = request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        return Redirect::to(&format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ))
        .into_response();
    };
    if request.method() != Method::GET && !same_origin(request.headers()) {
        return (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response();
    }
    request.extensions_mut().insert(session);
    next.run(request).await
}

/// Whether the request's `Origin` (when the browser sends one) is this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    url::Url::parse(origin)
        .ok()
        .and_then(|u| {
            let h = u.host_str()?.to_owned();
            Some(match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h,
            })
        })
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Where a login may send the browser next: a path on this server only.
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

async fn login(
    State(c): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let now = Instant::now();
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response();
    }
    if let Some(wait) = c.throttle.wait(peer.ip(), now) {
        let secs = wait.as_secs().max(1);
        tracing::warn!(client = %peer.ip(), "Console login refused: too many failed attempts.");
        let mut r =
            pages::login_form(&c, &form.next, Some(pages::Notice::TooMany(secs))).into_response();
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    // The hash is checked even for a wrong user name, so the answer takes as long either way.
    let hash = c.password_hash.as_deref().unwrap_or("");
    let password_ok = auth::verify_password(hash, &form.password);
    if !(password_ok && form.user == c.user) {
        c.throttle.failed(peer.ip(), now);
        tracing::warn!(client = %peer.ip(), user = %form.user, "Console login failed.");
        let mut r = pages::login_form(&c, &form.next, Some(pages::Notice::Wrong)).into_response();
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let id = c.sessions.open(&c.user, now);
    tracing::info!(client = %peer.ip(), user = %c.user, "Console login.");
    let cookie = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        auth::COOKIE,
        c.sessions.lifetime().as_secs(),
        if c.tls.is_some() { "; Secure" } else { "" }
    );
    let mut r = Redirect::to(safe_next(&form.next)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(c): State<Shared>,
    headers: HeaderMap,
    axum::Extension(session): axum::Extension<auth::Session>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if form.csrf != session.csrf {
        return (
            StatusCode::FORBIDDEN,
            "the form is stale: reload the page\n",
        )
            .into_response();
    }
    if let Some(id) = session_id(&headers) {
        c.sessions.close(id);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("lookout_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

/// `/api/status`: the cameras as the box sees them, the outbox and the watchdog's verdict.
async fn api_status(State(c): State<Shared>) -> Json<serde_json::Value> {
    let now = Instant::now();
    let g = (c.gauges)();
    let verdict = c.health.verdict(now, STALL);
    Json(serde_json::json!({
        "site": c.site,
        "box": c.box_id,
        "healthy": verdict.healthy,
        "problems": verdict.problems,
        "cameras": c.health.cameras(now),
        "broker": c.health.broker_state(now),
        "outbox": { "messages": g.outbox_messages, "bytes": g.outbox_bytes },
        "uplink_queue": g.uplink_queue,
        "evidence_bytes": g.evidence_bytes,
        "orders_by_state": g.orders_by_state.iter().map(|(s, n)| (s.to_string(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
    }))
}

/// Filters of the orders list (`/orders`, `/api/orders`).
#[derive(Debug, Default, Deserialize)]
pub struct OrderFilter {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub camera: Option<String>,
    /// Updated at or after this RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Orders by the filter, latest update first, or why the filter is wrong.
pub fn find_orders(
    c: &Console,
    f: &OrderFilter,
) -> Result<Vec<crate::orders::WorkOrder>, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let state = match f.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            serde_json::from_value::<OrderState>(serde_json::Value::String(s.to_owned()))
                .map_err(|_| bad(format!("unknown state {s:?}")))?,
        ),
        None => None,
    };
    let since = match f.since.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| bad(format!("since: {e}")))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let limit = f.limit.unwrap_or(100).min(1000);
    let Some(ledger) = &c.ledger else {
        return Ok(Vec::new());
    };
    // Read generously, then filter: the ledger indexes by state and time only.
    let all = crate::ledger::lock(ledger)
        .list(state, 5000)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(all
        .into_iter()
        .filter(|o| {
            f.kind
                .as_deref()
                .is_none_or(|k| k.is_empty() || o.kind.as_str() == k)
        })
        .filter(|o| {
            f.camera
                .as_deref()
                .is_none_or(|cam| cam.is_empty() || o.camera.id == cam)
        })
        .filter(|o| {
            since.is_none_or(|t| {
                chrono::DateTime::parse_from_rfc3339(&o.updated_at)
                    .is_ok_and(|u| u.with_timezone(&chrono::Utc) >= t)
            })
        })
        .take(limit)
        .collect())
}

async fn api_orders(State(c): State<Shared>, Query(f): Query<OrderFilter>) -> Response {
    match find_orders(&c, &f) {
        Ok(orders) => Json(orders).into_response(),
        Err((status, why)) => (status, why).into_response(),
    }
}

/// A photo or clip of an order, from the box's evidence store (404 once evicted).
async fn evidence(State(c): State<Shared>, Path((id, name)): Path<(String, String)>) -> Response {
    let Some(ledger) = &c.ledger else {
        return (StatusCode::NOT_FOUND, "no evidence store\n").into_response();
    };
    let (order, bytes) = {
        let l = crate::ledger::lock(ledger);
        (
            l.order(&id).ok().flatten(),
            l.evidence(&id, &name).ok().flatten(),
        )
    };
    let content_type = order
        .as_ref()
        .and_then(|o| o.evidence.iter().find(|e| e.name == name))
        .map(|e| e.content_type.clone());
    match (content_type, bytes) {
        (Some(ct), Some(bytes)) => {
            let ct = HeaderValue::from_str(&ct)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let mut r = bytes.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, ct);
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=86400"),
            );
            r
        }
        _ => (StatusCode::NOT_FOUND, "no such evidence (evicted?)\n").into_response(),
    }
}

async fn api_order(State(c): State<Shared>, Path(id): Path<String>) -> Response {
    let found = c
        .ledger
        .as_ref()
        .and_then(|l| crate::ledger::lock(l).order(&id).ok().flatten());
    match found {
        Some(order) => Json(order).into_response(),
        None => (StatusCode::NOT_FOUND, "no such order\n").into_response(),
    }
}
