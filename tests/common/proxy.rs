//! A TCP proxy that breaks the link on command, the way a 4G uplink does: connection resets,
//! one direction silently black-holed (a NAT entry that timed out, a handover), a half-closed
//! socket. The box connects to the proxy, the proxy to the broker.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the link does now, to the connections alive when it is set and to new ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bytes flow both ways.
    Pass,
    /// Every connection is reset (RST); new ones are reset at once: the link is down.
    Reset,
    /// Bytes from the box to the broker vanish; the connection looks open. A connection
    /// black-holed stays so until it is closed (its stream has a hole in it).
    BlackholeUp,
    /// Bytes from the broker to the box vanish (acks never arrive).
    BlackholeDown,
    /// The proxy closes its sending side towards the box (the box reads end-of-file).
    HalfCloseDown,
    /// The proxy closes its sending side towards the broker.
    HalfCloseUp,
}

struct Shared {
    fault: Mutex<Fault>,
    /// Bumped on every change, so each connection applies a change once.
    epoch: AtomicU64,
    stop: AtomicBool,
    connections: AtomicU64,
}

pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on a free localhost port and forwards to `target` on localhost.
    pub fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listen");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            fault: Mutex::new(Fault::Pass),
            epoch: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            connections: AtomicU64::new(0),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                std::thread::spawn(move || serve(client, target, s));
            }
        });
        Proxy { port, shared }
    }

    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
        self.shared.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.set(Fault::Reset);
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Per-connection state both pumps see.
struct Link {
    up_dead: AtomicBool,
    down_dead: AtomicBool,
    closed: AtomicBool,
}

fn reset(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO));
    let _ = stream.shutdown(Shutdown::Both);
}

fn serve(client: TcpStream, target: u16, shared: Arc<Shared>) {
    let Ok(broker) = TcpStream::connect(("127.0.0.1", target)) else {
        reset(&client);
        return;
    };
    let link = Arc::new(Link {
        up_dead: AtomicBool::new(false),
        down_dead: AtomicBool::new(false),
        closed: AtomicBool::new(false),
    });
    let (c2, b2) = (client.try_clone().unwrap(), broker.try_clone().unwrap());
    let (l2, s2) = (link.clone(), shared.clone());
    let down = std::thread::spawn(move || pump(b2, c2, Direction::Down, l2, s2));
    pump(client, broker, Direction::Up, link, shared);
    let _ = down.join();
}

#[derive(Clone, Copy, PartialEq)]
enum Direction {
    /// Box → broker.
    Up,
    /// Broker → box.
    Down,
}

/// Copies `from` → `to`, applying each fault once as it is set. Both sockets are closed when
/// either side ends.
fn pump(mut from: TcpStream, mut to: TcpStream, dir: Direction, link: Arc<Link>, s: Arc<Shared>) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    // A new connection gets the fault in force (epoch u64::MAX never matches).
    let mut seen = u64::MAX;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if link.closed.load(Ordering::SeqCst) {
            break;
        }
        let epoch = s.epoch.load(Ordering::SeqCst);
        if epoch != seen {
            seen = epoch;
            let fault = *s.fault.lock().unwrap();
            match (fault, dir) {
                (Fault::Reset, _) => {
                    link.closed.store(true, Ordering::SeqCst);
                    reset(&from);
                    reset(&to);
                    break;
                }
                (Fault::BlackholeUp, Direction::Up) => link.up_dead.store(true, Ordering::SeqCst),
                (Fault::BlackholeDown, Direction::Down) => {
                    link.down_dead.store(true, Ordering::SeqCst)
                }
                (Fault::HalfCloseDown, Direction::Down) | (Fault::HalfCloseUp, Direction::Up) => {
                    let _ = to.shutdown(Shutdown::Write);
                }
                _ => {}
            }
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let dead = match dir {
                    Direction::Up => link.up_dead.load(Ordering::SeqCst),
                    Direction::Down => link.down_dead.load(Ordering::SeqCst),
                };
                if !dead && to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    link.closed.store(true, Ordering::SeqCst);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
