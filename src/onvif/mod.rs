//! ONVIF cameras (Profile S/T): what `lookout camera add --onvif` and PTZ patrols ask of a
//! camera — who it is, its stream URI, its PTZ presets, moving to one, and where it points now
//! — through the `oxvif` crate (SOAP over HTTP, WS-UsernameToken digest; `docs/ptz.md` says why
//! this crate). A service like geo and evidence: blocking calls on a small runtime of its own,
//! so a camera thread or the CLI can use it without an async context.
//!
//! Credentials never reach a log or an error: errors name the operation and redact the URL.

use std::time::Duration;

use oxvif::OnvifSession;

/// A camera's ONVIF user (the camera's own accounts, often not its RTSP ones).
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// Why an ONVIF call failed.
#[derive(Debug, thiserror::Error)]
pub enum OnvifError {
    #[error("ONVIF device {url}: {message}")]
    Connect { url: String, message: String },
    #[error("ONVIF {operation} on {url}: {message}")]
    Call {
        operation: &'static str,
        url: String,
        message: String,
    },
    #[error("ONVIF device {url} has no media profile")]
    NoProfile { url: String },
}

/// Who the camera says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    pub manufacturer: String,
    pub model: String,
    pub firmware: String,
    pub serial: String,
}

/// A stored PTZ preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// What `GotoPreset` takes (and `[[cameras.presets]] token` names).
    pub token: String,
    pub name: String,
    /// Normalised pan and tilt in [-1, 1] and zoom in [0, 1], when the camera says.
    pub pan_tilt: Option<(f32, f32)>,
    pub zoom: Option<f32>,
}

/// Where the camera points now, and whether it is moving.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub pan: Option<f32>,
    pub tilt: Option<f32>,
    pub zoom: Option<f32>,
    /// Pan/tilt or zoom reported `MOVING` (a camera that reports neither is taken as still).
    pub moving: bool,
}

/// A connected ONVIF camera, using its first media profile (the main stream on the cameras
/// seen: Hikvision, Dahua, Uniview and Axis list it first).
pub struct OnvifCamera {
    url: String,
    runtime: tokio::runtime::Runtime,
    session: OnvifSession,
    profile: String,
}

/// How long one ONVIF call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A runtime for blocking calls from a thread that has none.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs one call to its end or [`CALL_TIMEOUT`]; the error is redacted text.
fn block<T>(
    runtime: &tokio::runtime::Runtime,
    fut: impl std::future::Future<Output = Result<T, oxvif::OnvifError>>,
) -> Result<T, String> {
    runtime
        .block_on(async { tokio::time::timeout(CALL_TIMEOUT, fut).await })
        .map_err(|_| format!("no answer within {} s", CALL_TIMEOUT.as_secs()))?
        .map_err(|e| crate::redact::text(&e.to_string()).into_owned())
}

impl OnvifCamera {
    /// Connects to the device service at `device_url` (`http://host/onvif/device_service`),
    /// with the camera's clock taken into account for WS-Security timestamps.
    pub fn connect(
        device_url: &str,
        credentials: Option<&Credentials>,
    ) -> Result<OnvifCamera, OnvifError> {
        let url = crate::redact::url(device_url);
        let connect = |message: String| OnvifError::Connect {
            url: url.clone(),
            message,
        };
        let runtime = runtime().map_err(|e| connect(format!("cannot start its runtime: {e}")))?;
        let mut builder = OnvifSession::builder(device_url).with_clock_sync();
        if let Some(c) = credentials {
            builder = builder.with_credentials(c.user.clone(), c.password.clone());
        }
        let session = block(&runtime, builder.build()).map_err(connect)?;
        let profiles = block(&runtime, session.get_profiles())
            .map_err(|e| connect(format!("GetProfiles: {e}")))?;
        let profile = profiles
            .first()
            .map(|p| p.token.clone())
            .ok_or_else(|| OnvifError::NoProfile { url: url.clone() })?;
        Ok(OnvifCamera {
            url,
            runtime,
            session,
            profile,
        })
    }

    /// Runs one call with the timeout, naming it in the error.
    fn call<T>(
        &self,
        operation: &'static str,
        fut: impl std::future::Future<Output = Result<T, oxvif::OnvifError>>,
    ) -> Result<T, OnvifError> {
        block(&self.runtime, fut).map_err(|message| OnvifError::Call {
            operation,
            url: self.url.clone(),
            message,
        })
    }

    /// The media profile used (its token).
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// Manufacturer, model, firmware and serial number.
    pub fn device(&self) -> Result<DeviceSummary, OnvifError> {
        let info = self.call("GetDeviceInformation", self.session.get_device_info())?;
        Ok(DeviceSummary {
            manufacturer: info.manufacturer,
            model: info.model,
            firmware: info.firmware_version,
            serial: info.serial_number,
        })
    }

    /// The profile's RTSP URI (without credentials: the camera's RTSP user is configured
    /// separately, as for any camera).
    pub fn stream_uri(&self) -> Result<String, OnvifError> {
        Ok(self
            .call("GetStreamUri", self.session.get_stream_uri(&self.profile))?
            .uri)
    }

    /// The PTZ presets stored in the camera.
    pub fn presets(&self) -> Result<Vec<Preset>, OnvifError> {
        let presets = self.call("GetPresets", self.session.ptz_get_presets(&self.profile))?;
        Ok(presets
            .into_iter()
            .map(|p| Preset {
                token: p.token,
                name: p.name,
                pan_tilt: p.pan_tilt,
                zoom: p.zoom,
            })
            .collect())
    }

    /// Starts the move to a preset (returns before the camera gets there: see [`Self::pose`]).
    pub fn goto_preset(&self, token: &str) -> Result<(), OnvifError> {
        self.call(
            "GotoPreset",
            self.session.ptz_goto_preset(&self.profile, token),
        )
    }

    /// Where the camera points now.
    pub fn pose(&self) -> Result<Pose, OnvifError> {
        let s = self.call("GetStatus", self.session.ptz_get_status(&self.profile))?;
        let moving = |m: &str| m.eq_ignore_ascii_case("MOVING");
        Ok(Pose {
            pan: s.pan,
            tilt: s.tilt,
            zoom: s.zoom,
            moving: moving(&s.pan_tilt_status) || moving(&s.zoom_status),
        })
    }
}

impl OnvifCamera {
    /// Moves to a preset and waits until the head reports it is still (at most `timeout`).
    pub fn goto_and_wait(&self, token: &str, timeout: Duration) -> Result<Pose, OnvifError> {
        self.goto_preset(token)?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let pose = self.pose()?;
            if !pose.moving || std::time::Instant::now() >= deadline {
                return Ok(pose);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// A configured PTZ camera's ONVIF user and password: `ptz.password_file`, else the
/// environment variable `LOOKOUT_ONVIF_PASSWORD`; `None` without `ptz.user`.
pub fn credentials_for(ptz: &crate::config::PtzConfig) -> Result<Option<Credentials>, String> {
    let Some(user) = &ptz.user else {
        return Ok(None);
    };
    let password = match &ptz.password_file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read ptz.password_file {}: {e}", path.display()))?
            .trim_end_matches(['\r', '\n'])
            .to_owned(),
        None => std::env::var("LOOKOUT_ONVIF_PASSWORD").map_err(|_| {
            "ptz.user is set but there is no ptz.password_file and no LOOKOUT_ONVIF_PASSWORD"
                .to_owned()
        })?,
    };
    Ok(Some(Credentials {
        user: user.clone(),
        password,
    }))
}

/// A device that answered a WS-Discovery probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// Its device service URL(s).
    pub addresses: Vec<String>,
    /// `onvif://www.onvif.org/name/…` and `…/hardware/…` scopes, when it has them.
    pub name: Option<String>,
    pub hardware: Option<String>,
}

fn discovered(d: oxvif::DiscoveredDevice) -> Discovered {
    let scope = |kind: &str| {
        d.scopes.iter().find_map(|s| {
            let (_, value) = s.split_once(&format!("onvif://www.onvif.org/{kind}/"))?;
            // Scope values are percent-encoded (`Camera%201`).
            url::form_urlencoded::parse(value.as_bytes())
                .next()
                .map(|(k, _)| k.into_owned())
        })
    };
    Discovered {
        name: scope("name"),
        hardware: scope("hardware"),
        addresses: d.xaddrs,
    }
}

/// Probes the local segment (WS-Discovery multicast) for `timeout`.
pub fn discover(timeout: Duration) -> Result<Vec<Discovered>, String> {
    let runtime = runtime().map_err(|e| e.to_string())?;
    let found = runtime
        .block_on(oxvif::discovery::probe_result(timeout))
        .map_err(|e| format!("WS-Discovery probe: {e}"))?;
    Ok(found.into_iter().map(discovered).collect())
}

/// Probes one address (WS-Discovery unicast to its port 3702), for a camera on another
/// segment or a network that drops multicast.
pub fn discover_at(ip: std::net::IpAddr, timeout: Duration) -> Result<Vec<Discovered>, String> {
    let runtime = runtime().map_err(|e| e.to_string())?;
    let found = runtime.block_on(oxvif::discovery::probe_unicast(ip, timeout));
    Ok(found.into_iter().map(discovered).collect())
}
