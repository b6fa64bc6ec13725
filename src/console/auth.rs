//! Who may use the console: one local user whose password is kept as an Argon2id hash
//! (`lookout console passwd`), sessions behind an HttpOnly, SameSite=Strict cookie, a CSRF token
//! per session for every change, and a limit on failed logins per client address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// The session cookie's name.
pub const COOKIE: &str = "lookout_session";

/// An Argon2id hash of `password` in the PHC string format (`$argon2id$v=19$…`), with a fresh
/// random salt: what `[console] password_hash` holds.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// Whether `password` matches a stored hash (a hash that does not parse matches nothing).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Whether a stored hash is one `verify_password` can use.
pub fn check_hash(hash: &str) -> Result<(), String> {
    PasswordHash::new(hash)
        .map(|_| ())
        .map_err(|e| format!("not an Argon2 PHC string ({e}): set it with lookout console passwd"))
}

/// 32 random bytes, hex: session ids and CSRF tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

/// A logged-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    /// Sent back with every change (form field `csrf` or header `X-CSRF-Token`).
    pub csrf: String,
    expires: Instant,
}

/// The live sessions, in memory: a restart logs everybody out, which for a box's console is a
/// feature (no session file to steal).
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
    lifetime: Duration,
}

/// Most sessions kept at once; the oldest go first past it.
const MAX_SESSIONS: usize = 64;

impl Sessions {
    pub fn new(lifetime: Duration) -> Sessions {
        Sessions {
            by_id: Mutex::default(),
            lifetime,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session for `user`: its id (the cookie's value).
    pub fn open(&self, user: &str, now: Instant) -> String {
        let mut all = self.lock();
        all.retain(|_, s| s.expires > now);
        while all.len() >= MAX_SESSIONS {
            let oldest = all
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => all.remove(&id),
                None => break,
            };
        }
        let id = random_token();
        all.insert(
            id.clone(),
            Session {
                user: user.to_owned(),
                csrf: random_token(),
                expires: now + self.lifetime,
            },
        );
        id
    }

    /// The live session with this id.
    pub fn get(&self, id: &str, now: Instant) -> Option<Session> {
        self.lock().get(id).filter(|s| s.expires > now).cloned()
    }

    pub fn close(&self, id: &str) {
        self.lock().remove(id);
    }

    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }
}

/// Failed logins per client address: past `max` within `window`, that address waits until the
/// oldest failure leaves the window. A right password does not reset it early: guessing must
/// not be sped up by logging in to a known account in between.
pub struct Throttle {
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    max: usize,
    window: Duration,
}

impl Throttle {
    pub fn new(max: usize, window: Duration) -> Throttle {
        Throttle {
            failures: Mutex::default(),
            max,
            window,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, VecDeque<Instant>>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long `ip` must wait before it may try again (`None`: it may now).
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let mut all = self.lock();
        let window = self.window;
        let list = all.get_mut(&ip)?;
        while list
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            list.pop_front();
        }
        (list.len() >= self.max).then(|| window - now.duration_since(list[0]))
    }

    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut all = self.lock();
        // Bounded: a flood of addresses forgets the quietest first.
        if all.len() > 4096 {
            all.retain(|_, l| {
                l.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        all.entry(ip).or_default().push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_and_nothing_else_does() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsf"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert_ne!(
            hash,
            hash_password("correct horse").unwrap(),
            "a fresh salt each time"
        );
        assert!(check_hash(&hash).is_ok() && check_hash("plain").is_err());
    }

    #[test]
    fn sessions_expire_and_close() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let id = sessions.open("admin", t0);
        let s = sessions.get(&id, t0).unwrap();
        assert_eq!(s.user, "admin");
        assert_eq!(s.csrf.len(), 64);
        assert!(sessions.get(&id, t0 + Duration::from_secs(61)).is_none());
        sessions.close(&id);
        assert!(sessions.get(&id, t0).is_none());
        assert!(sessions.get("forged", t0).is_none());
    }

    #[test]
    fn failures_past_the_limit_make_an_address_wait_until_the_window_passes() {
        let throttle = Throttle::new(3, Duration::from_secs(60));
        let (ip, other): (IpAddr, IpAddr) =
            ("10.0.0.5".parse().unwrap(), "10.0.0.6".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..3 {
            assert!(throttle.wait(ip, t0).is_none());
            throttle.failed(ip, t0 + Duration::from_secs(i));
        }
        let wait = throttle.wait(ip, t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(wait, Duration::from_secs(50));
        assert!(throttle.wait(other, t0).is_none(), "per address");
        assert!(throttle.wait(ip, t0 + Duration::from_secs(61)).is_none());
    }
}
