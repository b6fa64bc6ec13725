//! An ONVIF camera simulator for the tests: SOAP over HTTP on 127.0.0.1, answering the device,
//! media and PTZ operations lookout uses with responses shaped like a real camera's (element
//! structure from the ONVIF schemas, `tds`/`trt`/`tptz`/`tt` namespaces, as in the `oxvif`
//! crate's fixtures), checking WS-UsernameToken digests the way cameras do, and moving between
//! presets over time (`MOVING`, then `IDLE` at the preset's position).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// A stored preset: token, name, pan, tilt, zoom.
#[derive(Debug, Clone)]
pub struct SimPreset {
    pub token: String,
    pub name: String,
    pub pan: f32,
    pub tilt: f32,
    pub zoom: f32,
}

#[derive(Debug)]
struct State {
    presets: Vec<SimPreset>,
    /// Where the head is going and when it gets there.
    from: (f32, f32, f32),
    to: (f32, f32, f32),
    started: Instant,
    arrives: Instant,
    /// The preset the head is at (or going to).
    preset: Option<String>,
    /// Operations answered, in order (what a test can assert was asked).
    calls: Vec<String>,
}

/// Reads a simulated head: `((pan, tilt, zoom), moving, preset)`.
pub type HeadReader = Arc<dyn Fn() -> ((f32, f32, f32), bool, Option<String>) + Send + Sync>;

pub struct OnvifSim {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

pub const SIM_USER: &str = "admin";
pub const SIM_PASSWORD: &str = "s3cret-Pa55";
/// How long the simulated head takes from one preset to another.
pub const TRAVEL: Duration = Duration::from_millis(800);

impl OnvifSim {
    /// A camera with `presets`, its RTSP stream at `rtsp_uri`.
    pub fn start(presets: Vec<SimPreset>, rtsp_uri: &str) -> OnvifSim {
        let listener = TcpListener::bind("127.0.0.1:0").expect("simulator listen");
        let port = listener.local_addr().unwrap().port();
        let now = Instant::now();
        let state = Arc::new(Mutex::new(State {
            presets,
            from: (0.0, 0.0, 0.0),
            to: (0.0, 0.0, 0.0),
            started: now,
            arrives: now,
            preset: None,
            calls: Vec::new(),
        }));
        let s = state.clone();
        let uri = rtsp_uri.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let s = s.clone();
                let uri = uri.clone();
                std::thread::spawn(move || serve(stream, port, &uri, &s));
            }
        });
        OnvifSim { port, state }
    }

    pub fn device_url(&self) -> String {
        format!("http://127.0.0.1:{}/onvif/device_service", self.port)
    }

    /// The preset the head is at or going to.
    pub fn preset(&self) -> Option<String> {
        self.state.lock().unwrap().preset.clone()
    }

    /// Whether the head is moving now.
    pub fn moving(&self) -> bool {
        Instant::now() < self.state.lock().unwrap().arrives
    }

    /// A reader of the head for the picture side ([`super::ptz_camera`]): where it points, whether
    /// it moves, and the preset it is at or going to.
    pub fn head_reader(&self) -> HeadReader {
        let state = self.state.clone();
        Arc::new(move || {
            let st = state.lock().unwrap();
            let (pos, moving) = position(&st);
            (pos, moving, st.preset.clone())
        })
    }

    /// The camera runs its own patrol (as cameras do with a "patrol"/"cruise" set up in their
    /// web page): every preset in turn, `dwell` at each, round and round, until dropped.
    pub fn run_own_tour(&self, dwell: Duration) {
        let state = Arc::downgrade(&self.state);
        std::thread::spawn(move || {
            for n in 0usize.. {
                let Some(state) = state.upgrade() else { return };
                {
                    let mut st = state.lock().unwrap();
                    let p = st.presets[n % st.presets.len()].clone();
                    start_move(&mut st, &p);
                }
                drop(state);
                std::thread::sleep(TRAVEL + dwell);
            }
        });
    }

    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Answers WS-Discovery probes sent to 127.0.0.1:3702 (unicast, as `lookout camera
    /// discover --at` sends them) with a `ProbeMatch` naming this device service.
    pub fn answer_discovery(&self) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:3702").expect("bind 127.0.0.1:3702");
        let xaddr = self.device_url();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let probe = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !probe.contains("Probe") {
                    continue;
                }
                let relates = text_of(&probe, "MessageID").unwrap_or_default().to_owned();
                let reply = format!(
                    r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><SOAP-ENV:Header><wsa:MessageID>uuid:7b1c0f56-1d1e-4c3a-9b5e-0a0b0c0d0e0f</wsa:MessageID><wsa:RelatesTo>{relates}</wsa:RelatesTo><wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:4a0f6b2e-0000-1000-8000-simvision0001</wsa:Address></wsa:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/ptz onvif://www.onvif.org/hardware/TowerPTZ-2000 onvif://www.onvif.org/name/SimVision%20Tower onvif://www.onvif.org/location/city/hangzhou</d:Scopes><d:XAddrs>{xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
                );
                let _ = socket.send_to(reply.as_bytes(), from);
            }
        });
    }
}

fn serve(mut stream: TcpStream, port: u16, rtsp_uri: &str, state: &Mutex<State>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let (head_end, length) = loop {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            return;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(at) = find(&data, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..at]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (at + 4, length);
        }
    };
    while data.len() < head_end + length {
        let Ok(n) = stream.read(&mut buf) else { return };
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..]).into_owned();
    let (status, xml) = answer(&body, port, rtsp_uri, state);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
        xml.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The local name of the first element inside `Body`.
fn operation(body: &str) -> String {
    let Some((_, rest)) = body.split_once("Body") else {
        return String::new();
    };
    let Some(start) = rest.find('<') else {
        return String::new();
    };
    let name: String = rest[start + 1..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '/' && *c != '>')
        .collect();
    name.rsplit(':').next().unwrap_or_default().to_owned()
}

/// The text of the first element with this local name.
fn text_of<'a>(body: &'a str, local: &str) -> Option<&'a str> {
    for opener in [format!(":{local}"), format!("<{local}")] {
        let mut from = 0;
        while let Some(at) = body[from..].find(&opener) {
            let after = from + at + opener.len();
            let next = body[after..].chars().next()?;
            if next == '>' || next.is_whitespace() {
                let open_end = after + body[after..].find('>')? + 1;
                let close = open_end + body[open_end..].find('<')?;
                return Some(&body[open_end..close]);
            }
            from = after;
        }
    }
    None
}

/// A WS-UsernameToken with a correct PasswordDigest for the simulator's user.
fn authorised(body: &str) -> bool {
    let (Some(user), Some(digest), Some(nonce), Some(created)) = (
        text_of(body, "Username"),
        text_of(body, "Password"),
        text_of(body, "Nonce"),
        text_of(body, "Created"),
    ) else {
        return false;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let Ok(nonce) = b64.decode(nonce.trim()) else {
        return false;
    };
    let mut h = Sha1::new();
    h.update(&nonce);
    h.update(created.trim().as_bytes());
    h.update(SIM_PASSWORD.as_bytes());
    user.trim() == SIM_USER && b64.encode(h.finalize()) == digest.trim()
}

const NS: &str = r#"xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error""#;

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope {NS}><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

fn fault(subcode: &str, reason: &str) -> String {
    envelope(&format!(
        r#"<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:{subcode}</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault>"#
    ))
}

/// Starts the head's move to `p`.
fn start_move(st: &mut State, p: &SimPreset) {
    let (here, _) = position(st);
    let now = Instant::now();
    st.from = here;
    st.to = (p.pan, p.tilt, p.zoom);
    st.started = now;
    st.arrives = now + TRAVEL;
    st.preset = Some(p.token.clone());
}

fn position(state: &State) -> ((f32, f32, f32), bool) {
    let now = Instant::now();
    if now >= state.arrives {
        return (state.to, false);
    }
    let total = (state.arrives - state.started).as_secs_f32().max(1e-3);
    let k = (now - state.started).as_secs_f32() / total;
    let lerp = |a: f32, b: f32| a + (b - a) * k;
    (
        (
            lerp(state.from.0, state.to.0),
            lerp(state.from.1, state.to.1),
            lerp(state.from.2, state.to.2),
        ),
        true,
    )
}

fn answer(body: &str, port: u16, rtsp_uri: &str, state: &Mutex<State>) -> (&'static str, String) {
    let op = operation(body);
    let mut st = state.lock().unwrap();
    st.calls.push(op.clone());
    // Like cameras: the clock is open to all (clients read it to sign their requests).
    if op != "GetSystemDateAndTime" && !authorised(body) {
        return (
            "400 Bad Request",
            fault("NotAuthorized", "Sender not Authorized"),
        );
    }
    let base = format!("http://127.0.0.1:{port}/onvif");
    let xml = match op.as_str() {
        "GetSystemDateAndTime" => {
            let now = chrono::Utc::now();
            use chrono::{Datelike, Timelike};
            format!(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
                now.hour(), now.minute(), now.second(), now.year(), now.month(), now.day()
            )
        }
        "GetCapabilities" => format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>{base}/device_service</tt:XAddr></tt:Device><tt:Media><tt:XAddr>{base}/Media</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media><tt:PTZ><tt:XAddr>{base}/PTZ</tt:XAddr></tt:PTZ></tds:Capabilities></tds:GetCapabilitiesResponse>"
        ),
        "GetDeviceInformation" => "<tds:GetDeviceInformationResponse><tds:Manufacturer>SimVision</tds:Manufacturer><tds:Model>TowerPTZ-2000</tds:Model><tds:FirmwareVersion>V5.7.3 build 240101</tds:FirmwareVersion><tds:SerialNumber>SV2000-0001</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>".to_owned(),
        "GetProfiles" => "<trt:GetProfilesResponse><trt:Profiles token=\"Profile_1\" fixed=\"true\"><tt:Name>mainStream</tt:Name><tt:VideoSourceConfiguration token=\"VideoSourceToken\"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x=\"0\" y=\"0\" width=\"1920\" height=\"1080\"/></tt:VideoSourceConfiguration><tt:VideoEncoderConfiguration token=\"VideoEncoderToken_1\"><tt:Name>VideoEncoder_1</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration><tt:PTZConfiguration token=\"PTZToken\"><tt:Name>PTZ</tt:Name><tt:UseCount>2</tt:UseCount><tt:NodeToken>PTZNODETOKEN</tt:NodeToken></tt:PTZConfiguration></trt:Profiles><trt:Profiles token=\"Profile_2\" fixed=\"true\"><tt:Name>subStream</tt:Name></trt:Profiles></trt:GetProfilesResponse>".to_owned(),
        "GetStreamUri" => format!(
            "<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{rtsp_uri}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>"
        ),
        "GetPresets" => {
            let presets: String = st
                .presets
                .iter()
                .map(|p| {
                    format!(
                        "<tptz:Preset token=\"{}\"><tt:Name>{}</tt:Name><tt:PTZPosition><tt:PanTilt x=\"{}\" y=\"{}\" space=\"http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace\"/><tt:Zoom x=\"{}\" space=\"http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace\"/></tt:PTZPosition></tptz:Preset>",
                        p.token, p.name, p.pan, p.tilt, p.zoom
                    )
                })
                .collect();
            format!("<tptz:GetPresetsResponse>{presets}</tptz:GetPresetsResponse>")
        }
        "GotoPreset" => {
            let token = text_of(body, "PresetToken").unwrap_or_default().trim().to_owned();
            let Some(p) = st.presets.iter().find(|p| p.token == token).cloned() else {
                return (
                    "400 Bad Request",
                    fault("NoToken", "The requested preset token does not exist"),
                );
            };
            start_move(&mut st, &p);
            "<tptz:GotoPresetResponse/>".to_owned()
        }
        "GetStatus" => {
            let ((pan, tilt, zoom), moving) = position(&st);
            let m = if moving { "MOVING" } else { "IDLE" };
            format!(
                "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position><tt:PanTilt x=\"{pan}\" y=\"{tilt}\" space=\"http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace\"/><tt:Zoom x=\"{zoom}\" space=\"http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace\"/></tt:Position><tt:MoveStatus><tt:PanTilt>{m}</tt:PanTilt><tt:Zoom>{m}</tt:Zoom></tt:MoveStatus><tt:UtcTime>{}</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
            )
        }
        _ => {
            return (
                "400 Bad Request",
                fault("ActionNotSupported", "Optional Action Not Implemented"),
            )
        }
    };
    ("200 OK", envelope(&xml))
}
