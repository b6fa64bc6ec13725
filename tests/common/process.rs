//! Helper processes for tests and benches: killed on drop, waited for until they listen, read
//! from `/proc` for what they cost.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A helper process, killed when dropped.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits (up to a minute) until something accepts connections on the local `port`.
pub fn wait_listening(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} never listened on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A video file served as an RTSP camera at `rtsp://127.0.0.1:PORT/cam` (`lookout camera
/// simulate`, the file's own H.264): a camera that reaches the end reconnects and sees it again
/// from the start.
pub fn simulated_camera(lookout: &Path, clip: &Path, port: u16) -> Killed {
    let child = Command::new(lookout)
        .args(["camera", "simulate"])
        .arg(clip)
        .args([
            "--codec",
            "copy",
            "--path",
            "cam",
            "--port",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lookout camera simulate");
    wait_listening(port, "the RTSP camera");
    Killed(child)
}

/// The process's resident memory, MB.
pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) the process has used so far.
pub fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces: utime
    // and stime (fields 14 and 15 of stat) are the 12th and 13th of those, in 1/100 s.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
