//! Ledger: the box's durable memory, in SQLite (WAL). Only this module knows SQL.
//!
//! - `orders`: the latest revision of every work order.
//! - `outbox`: every message the box must publish, in order. A revision and its messages are
//!   written in one transaction *before* anything is published; a row is deleted only when the
//!   broker has acknowledged it (QoS 1 PUBACK). What is not acknowledged is sent again on
//!   reconnect and after a restart, so an accepted order survives broker outages, crashes and
//!   power cuts. Consumers de-duplicate by (order id, revision).
//! - `revisions`: every revision ever made of every order, the audit trail.
//! - `evidence`: every photo kept after delivery, bounded by bytes, with the record of what
//!   was evicted (`store.rs`).
//! - `commands`: every command from the centre with the result it got, so a re-delivered command
//!   gets the same answer and changes nothing.
//!
//! Closed and cancelled orders older than `[storage] keep_final_days` are pruned at start.
//!
//! The outbox has a disk quota (`[storage] outbox_quota_mb`). Over it, the oldest evidence photos
//! still waiting are dropped first (their order documents still list them by sha256); order
//! documents and command results are never dropped: they are kept over the quota and the ledger
//! says so ([`Recorded::over_quota`]), so the box reports it instead of losing an order.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::orders::{OrderState, WorkOrder};

#[derive(Debug, thiserror::Error)]
#[error("ledger {path}: {source}")]
pub struct LedgerError {
    path: String,
    #[source]
    source: rusqlite::Error,
}

/// Per kind, how the on-site warnings went (see [`Ledger::warning_stats`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WarningStats {
    pub kind: String,
    pub orders: u64,
    pub warned: u64,
    pub resolved_on_site: u64,
    pub escalated: u64,
}

/// What an outbox message carries; decides what the quota may drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageClass {
    /// A revision of an order document: never dropped.
    Order,
    /// Photo bytes: dropped first, oldest first, when the outbox is over its quota.
    Evidence,
    /// The answer to a command: never dropped.
    Result,
    /// One chunk of a video clip: sent after everything else waiting, dropped (the whole clip)
    /// before any photo when the outbox is over its quota.
    Clip,
}

impl MessageClass {
    fn as_str(&self) -> &'static str {
        match self {
            MessageClass::Order => "order",
            MessageClass::Evidence => "evidence",
            MessageClass::Result => "result",
            MessageClass::Clip => "clip",
        }
    }
    fn parse(s: &str) -> MessageClass {
        match s {
            "evidence" => MessageClass::Evidence,
            "result" => MessageClass::Result,
            "clip" => MessageClass::Clip,
            _ => MessageClass::Order,
        }
    }
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub class: MessageClass,
}

/// A file kept in the evidence store whole while its message(s) carry it in pieces (a clip).
#[derive(Debug, Clone, Copy)]
pub struct EvidenceFile<'a> {
    pub order_id: &'a str,
    pub name: &'a str,
    pub data: &'a [u8],
}

/// What storing a change did to the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Evidence messages dropped (or not stored) to stay within the quota or the disk reserve.
    pub dropped_evidence: u64,
    /// Still over the quota after dropping every evidence message: only orders and results left.
    pub over_quota: bool,
    /// The disk was short of its reserve (`storage.min_free_mb`).
    pub disk_short: bool,
    /// Photos evicted from the evidence store (over `storage.evidence_max_bytes`, or to keep
    /// the disk reserve).
    pub evicted_evidence: u64,
}

/// A command already answered.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsweredCommand {
    pub verb: String,
    pub result: Vec<u8>,
}

/// A command the centre sent about an order, as the box received and answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedCommand {
    pub request_id: String,
    pub verb: String,
    /// When the box took it (RFC 3339).
    pub received_at: String,
    /// The answer the box published (JSON).
    pub result: Vec<u8>,
}

/// An outbox row: a message not yet acknowledged by the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Position in the outbox; messages go out in this order.
    pub seq: i64,
    pub message: OutMessage,
}

/// The ledger, shared by the camera workers and the control (which write) and the uplink
/// (which drains the outbox).
pub type SharedLedger = std::sync::Arc<std::sync::Mutex<Ledger>>;

/// Locks a shared ledger; a panic elsewhere while it was held does not make it unusable (every
/// change is one SQLite transaction, so there is no half-written state to fear).
pub fn lock(ledger: &SharedLedger) -> std::sync::MutexGuard<'_, Ledger> {
    ledger.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Ledger {
    conn: Connection,
    path: String,
    quota_bytes: u64,
    /// Bound of the evidence store (`[storage] evidence_max_bytes`).
    evidence_max: u64,
    /// Free bytes kept on the file system (0 for an in-memory ledger: no disk to keep).
    reserve_bytes: u64,
    /// The folder whose file system the reserve is measured on.
    dir: Option<std::path::PathBuf>,
}

/// Command answers kept for re-deliveries (about 400 bytes each: 8 MB at most).
pub const MAX_COMMAND_ANSWERS: i64 = 20_000;

/// Disk reserve when none is configured.
pub const DEFAULT_RESERVE_BYTES: u64 = 64 * 1024 * 1024;

/// Outbox quota when none is configured.
pub const DEFAULT_QUOTA_BYTES: u64 = 512 * 1024 * 1024;

/// Evidence store bound when none is configured.
pub const DEFAULT_EVIDENCE_MAX_BYTES: u64 = 2 * 1024 * 1024 * 1024;

mod store;
pub use store::Eviction;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    camera TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    retain INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    request_id TEXT PRIMARY KEY,
    verb TEXT NOT NULL,
    order_id TEXT,
    received_at TEXT NOT NULL,
    result BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state);
";

/// Schema changes after the first release of the file, applied in order (`PRAGMA user_version`
/// counts those done).
const MIGRATIONS: &[&str] = &[
    "ALTER TABLE outbox ADD COLUMN class TEXT NOT NULL DEFAULT 'order';
     ALTER TABLE outbox ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
     UPDATE outbox SET bytes = length(payload);",
    // The quota's sums and its oldest-photo lookup read only this index, never the payloads.
    "CREATE INDEX IF NOT EXISTS outbox_by_class ON outbox (class, seq, bytes);
     CREATE TABLE IF NOT EXISTS revisions (
         id TEXT NOT NULL,
         revision INTEGER NOT NULL,
         document TEXT NOT NULL,
         PRIMARY KEY (id, revision)
     );",
    // Rows no broker will take (bigger than its packet limit) are set aside with the reason,
    // so they stop blocking the rows behind them; they stay for a technician to inspect.
    "ALTER TABLE outbox ADD COLUMN set_aside TEXT;",
    // The disposal deadline of an order still open and not yet escalated for it, so the sweep
    // finds the overdue ones from an index instead of reading every document.
    "ALTER TABLE orders ADD COLUMN deadline TEXT;
     CREATE INDEX IF NOT EXISTS orders_by_deadline ON orders (deadline) WHERE deadline IS NOT NULL;",
    // The evidence store (store.rs): photos kept after delivery, bounded by bytes; an evicted
    // photo keeps its row (data NULL) as the record of what was dropped.
    "CREATE TABLE IF NOT EXISTS evidence (
         order_id TEXT NOT NULL,
         name TEXT NOT NULL,
         content_type TEXT NOT NULL,
         bytes INTEGER NOT NULL,
         sha256 TEXT NOT NULL,
         stored_at TEXT NOT NULL,
         data BLOB,
         dropped_at TEXT,
         dropped_why TEXT,
         noted INTEGER NOT NULL DEFAULT 0,
         PRIMARY KEY (order_id, name)
     );",
];

fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let done: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, step) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        conn.execute_batch(&format!(
            "BEGIN; {step} PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))?;
    }
    Ok(())
}

impl Ledger {
    /// Opens (creating when needed) the ledger file.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let name = path.display().to_string();
        let err = |source| LedgerError {
            path: name.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let conn = Connection::open(path).map_err(err)?;
        // WAL + FULL: every commit is on the disk (fsync of the WAL) before `record` returns,
        // so nothing the centre was told — a revision, a command's answer — can be rolled back
        // by a power cut. NORMAL would save one fsync per commit and may lose the last ones;
        // docs/performance.md has the measured cost (a commit is a few ms on eMMC, a box makes
        // a few per minute).
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        // The WAL is truncated back to 8 MiB after a checkpoint instead of keeping its largest
        // size for ever: on a small disk, that space is the photos'.
        conn.pragma_update(None, "journal_size_limit", 8 * 1024 * 1024)
            .map_err(err)?;
        // Checkpoint every 1 MiB of WAL (SQLite's default is 4 MiB): the WAL is space the disk
        // reserve must cover.
        conn.pragma_update(None, "wal_autocheckpoint", 256)
            .map_err(err)?;
        migrate(&conn).map_err(err)?;
        Ok(Ledger {
            conn,
            path: name,
            quota_bytes: DEFAULT_QUOTA_BYTES,
            evidence_max: DEFAULT_EVIDENCE_MAX_BYTES,
            reserve_bytes: DEFAULT_RESERVE_BYTES,
            dir: path.parent().map(|d| {
                if d.as_os_str().is_empty() {
                    std::path::PathBuf::from(".")
                } else {
                    d.to_owned()
                }
            }),
        })
    }

    /// A ledger that lives in memory (replays and demos: nothing to resume).
    pub fn in_memory() -> Result<Ledger, LedgerError> {
        let err = |source| LedgerError {
            path: ":memory:".into(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(err)?;
        migrate(&conn).map_err(err)?;
        Ok(Ledger {
            conn,
            path: ":memory:".into(),
            quota_bytes: DEFAULT_QUOTA_BYTES,
            evidence_max: DEFAULT_EVIDENCE_MAX_BYTES,
            reserve_bytes: 0,
            dir: None,
        })
    }

    fn err(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            source,
        }
    }

    /// Sets the outbox quota in bytes of payload.
    pub fn set_quota(&mut self, bytes: u64) {
        self.quota_bytes = bytes;
    }

    /// Sets the bound of the evidence store in bytes.
    pub fn set_evidence_max(&mut self, bytes: u64) {
        self.evidence_max = bytes;
    }

    /// Sets the free space to keep on the ledger's file system.
    pub fn set_reserve(&mut self, bytes: u64) {
        if self.dir.is_some() {
            self.reserve_bytes = bytes;
        }
    }

    /// Bytes that can still be written without going under the reserve: the file system's
    /// free space plus the pages SQLite freed inside the file (it reuses those first), minus
    /// the reserve. `None` without a reserve (in memory) or when the file system cannot say.
    fn room(&self) -> Option<i64> {
        let dir = self.dir.as_ref().filter(|_| self.reserve_bytes > 0)?;
        let fs = rustix::fs::statvfs(dir).ok()?;
        let free = fs.f_bavail.saturating_mul(fs.f_frsize);
        let pages: i64 = self
            .conn
            .query_row("PRAGMA freelist_count", [], |r| r.get(0))
            .unwrap_or(0);
        let page_size: i64 = self
            .conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap_or(4096);
        Some(free as i64 + pages * page_size - self.reserve_bytes as i64)
    }

    /// Stores an order revision and the messages that announce it, atomically.
    pub fn record(
        &mut self,
        order: &WorkOrder,
        messages: &[OutMessage],
    ) -> Result<Recorded, LedgerError> {
        self.write(Some(order), None, messages, None)
    }

    /// Stores an order revision that adds a clip: the clip whole in the evidence store, its
    /// chunks (class [`MessageClass::Clip`]) and the revision in the outbox, atomically.
    pub fn record_clip(
        &mut self,
        order: &WorkOrder,
        messages: &[OutMessage],
        clip: EvidenceFile<'_>,
    ) -> Result<Recorded, LedgerError> {
        self.write(Some(order), None, messages, Some(clip))
    }

    /// Stores the answer to a command, the order revision it made (if any) and the messages
    /// that announce both, atomically.
    pub fn record_command(
        &mut self,
        command: &CommandRecord,
        order: Option<&WorkOrder>,
        messages: &[OutMessage],
    ) -> Result<Recorded, LedgerError> {
        self.write(order, Some(command), messages, None)
    }

    fn write(
        &mut self,
        order: Option<&WorkOrder>,
        command: Option<&CommandRecord>,
        messages: &[OutMessage],
        file: Option<EvidenceFile<'_>>,
    ) -> Result<Recorded, LedgerError> {
        let mut file = file;
        // Short of disk: make room from the oldest photos; when that is not enough, this write's
        // photos stay out. Orders and answers always go in.
        let mut skipped_evidence = 0;
        let mut evicted = 0;
        let mut short = false;
        let wanted: i64 = messages
            .iter()
            .map(|m| m.payload.len() as i64 + 4096)
            .sum::<i64>()
            + file.map_or(0, |f| f.data.len() as i64);
        let keep: Vec<OutMessage>;
        let messages = match self.room() {
            Some(room) if room < wanted => {
                short = true;
                // Photos already delivered go first, then those still waiting for the broker.
                evicted = self.shrink_store((wanted - room) as u64).unwrap_or(0);
                let freed = match self.room() {
                    Some(room) if room < wanted => self
                        .drop_oldest_evidence((wanted - room) as u64)
                        .unwrap_or(0),
                    _ => 0,
                };
                if self.room().is_some_and(|r| r < wanted) {
                    keep = without_evidence(messages);
                    skipped_evidence = (messages.len() - keep.len()) as u64;
                    file = None;
                    tracing::warn!(ledger = %self.path, freed_photos = freed, skipped_photos = skipped_evidence, "Disk nearly full (storage.min_free_mb): this revision's photos are not stored; the order is.");
                    &keep[..]
                } else {
                    messages
                }
            }
            _ => messages,
        };
        let mut recorded = match self.write_once(order, command, messages, file) {
            // The reserve did not hold (another program filled the disk): photos go, once more.
            Err(e) if is_disk_full(&e.source) => {
                tracing::error!(ledger = %self.path, error = %e, "Disk FULL: dropping the stored photos and the oldest photos waiting in the outbox, and trying again without this revision's photos.");
                evicted += self.shrink_store(u64::MAX / 2).unwrap_or(0);
                let _ = self.drop_oldest_evidence(u64::MAX / 2);
                let essential = without_evidence(messages);
                skipped_evidence += (messages.len() - essential.len()) as u64;
                short = true;
                self.write_once(order, command, &essential, None)?
            }
            other => other?,
        };
        recorded.dropped_evidence += skipped_evidence;
        recorded.evicted_evidence += evicted;
        recorded.disk_short |= short;
        Ok(recorded)
    }

    /// Deletes the oldest evidence waiting in the outbox, at least `bytes` of it (or all of
    /// it), in a transaction of its own; returns how many photos went.
    fn drop_oldest_evidence(&mut self, bytes: u64) -> Result<u64, LedgerError> {
        let tx = self.begin()?;
        let result = delete_oldest_evidence(&tx, bytes).and_then(|(photos, _)| {
            tx.commit()?;
            Ok(photos)
        });
        result.map_err(|e| self.err(e))
    }

    /// Evicts at least `bytes` of the oldest stored evidence (or all of it) to make room on the
    /// disk, in a transaction of its own; returns how many photos went.
    fn shrink_store(&mut self, bytes: u64) -> Result<u64, LedgerError> {
        let now = now();
        let tx = self.begin()?;
        let result = store::kept_bytes(&tx).and_then(|kept| {
            let n = store::enforce(&tx, kept.saturating_sub(bytes), "min_free_mb", &now)?;
            tx.commit()?;
            Ok(n)
        });
        result.map_err(|e| self.err(e))
    }

    fn begin(&mut self) -> Result<rusqlite::Transaction<'_>, LedgerError> {
        let path = self.path.clone();
        self.conn
            .transaction()
            .map_err(|source| LedgerError { path, source })
    }

    fn write_once(
        &mut self,
        order: Option<&WorkOrder>,
        command: Option<&CommandRecord>,
        messages: &[OutMessage],
        file: Option<EvidenceFile<'_>>,
    ) -> Result<Recorded, LedgerError> {
        let quota = self.quota_bytes;
        let evidence_max = self.evidence_max;
        let now = now();
        let tx = self.begin()?;
        let result = (|| {
            if let Some(order) = order {
                upsert_order(&tx, order)?;
            }
            if let Some(c) = command {
                tx.execute(
                    "INSERT OR IGNORE INTO commands (request_id, verb, order_id, received_at, result)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![c.request_id, c.verb, c.order_id, c.received_at, c.result],
                )?;
                // Bounded: the answers of the latest MAX_COMMAND_ANSWERS commands are kept (a
                // broker re-delivers within minutes, not after twenty thousand others).
                tx.execute(
                    "DELETE FROM commands WHERE rowid <= (SELECT MAX(rowid) FROM commands) - ?1",
                    params![MAX_COMMAND_ANSWERS],
                )?;
            }
            let mut kept = false;
            for m in messages {
                tx.execute(
                    "INSERT INTO outbox (topic, payload, retain, class, bytes) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![m.topic, m.payload, m.retain, m.class.as_str(), m.payload.len() as i64],
                )?;
                if m.class == MessageClass::Evidence {
                    if let Some((order_id, name)) = store::evidence_of(&m.topic) {
                        store::keep(&tx, order_id, name, &m.payload, &now)?;
                        kept = true;
                    }
                }
            }
            if let Some(f) = file {
                store::keep(&tx, f.order_id, f.name, f.data, &now)?;
                kept = true;
            }
            let mut recorded = enforce_quota(&tx, quota)?;
            if kept {
                recorded.evicted_evidence =
                    store::enforce(&tx, evidence_max, "evidence_max_bytes", &now)?;
            }
            tx.commit()?;
            Ok(recorded)
        })();
        result.map_err(|e| self.err(e))
    }

    /// The stored answer to a command, if it was already answered.
    pub fn answered(&self, request_id: &str) -> Result<Option<AnsweredCommand>, LedgerError> {
        self.conn
            .query_row(
                "SELECT verb, result FROM commands WHERE request_id = ?1",
                params![request_id],
                |r| {
                    Ok(AnsweredCommand {
                        verb: r.get(0)?,
                        result: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The centre's commands about `order_id`, in the order they arrived.
    pub fn commands_for(&self, order_id: &str) -> Result<Vec<ReceivedCommand>, LedgerError> {
        let run = || -> rusqlite::Result<Vec<ReceivedCommand>> {
            let mut q = self.conn.prepare(
                "SELECT request_id, verb, received_at, result FROM commands \
                 WHERE order_id = ?1 ORDER BY received_at, rowid",
            )?;
            let rows = q.query_map(params![order_id], |r| {
                Ok(ReceivedCommand {
                    request_id: r.get(0)?,
                    verb: r.get(1)?,
                    received_at: r.get(2)?,
                    result: r.get(3)?,
                })
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Re-sends a stored message (a re-delivered command's answer) without touching any order.
    pub fn enqueue(&mut self, messages: &[OutMessage]) -> Result<Recorded, LedgerError> {
        self.write(None, None, messages, None)
    }

    /// Bytes of evidence kept in the store.
    pub fn evidence_bytes(&self) -> Result<u64, LedgerError> {
        store::kept_bytes(&self.conn).map_err(|e| self.err(e))
    }

    /// Photos evicted from the store so far (their tombstones).
    pub fn evidence_evictions(&self) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM evidence WHERE data IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// A stored photo's bytes; `None` when there is none or it was evicted.
    pub fn evidence(&self, order_id: &str, name: &str) -> Result<Option<Vec<u8>>, LedgerError> {
        self.conn
            .query_row(
                "SELECT data FROM evidence WHERE order_id = ?1 AND name = ?2 AND data IS NOT NULL",
                params![order_id, name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// An order's evicted photos: (name, when, why).
    pub fn evicted_evidence(
        &self,
        order_id: &str,
    ) -> Result<Vec<(String, String, String)>, LedgerError> {
        let run = || -> rusqlite::Result<Vec<(String, String, String)>> {
            let mut stmt = self.conn.prepare(
                "SELECT name, dropped_at, dropped_why FROM evidence
                 WHERE order_id = ?1 AND data IS NULL ORDER BY rowid",
            )?;
            let rows =
                stmt.query_map(params![order_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Photos evicted from orders not yet final that their order's timeline does not mention
    /// yet; the caller notes them ([`Ledger::mark_noted`]).
    pub fn unnoted_evictions(&self) -> Result<Vec<Eviction>, LedgerError> {
        store::unnoted(&self.conn).map_err(|e| self.err(e))
    }

    /// Records that an eviction is noted in its order's timeline.
    pub fn mark_noted(&self, eviction: &Eviction) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE evidence SET noted = 1 WHERE order_id = ?1 AND name = ?2",
                params![eviction.order_id, eviction.name],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Bytes of payload waiting in the outbox.
    pub fn outbox_bytes(&self) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(bytes), 0) FROM outbox INDEXED BY outbox_by_class",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Orders in `state` (all when `None`), latest update first, at most `limit`.
    pub fn list(
        &self,
        state: Option<OrderState>,
        limit: usize,
    ) -> Result<Vec<WorkOrder>, LedgerError> {
        self.documents(
            "SELECT document FROM orders WHERE (?1 IS NULL OR state = ?1)
             ORDER BY updated_at DESC, id DESC LIMIT ?2",
            params![state.map(|s| s.as_str()), limit as i64],
        )
    }

    /// The order documents a query's first column holds.
    fn documents(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<WorkOrder>, LedgerError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, |r| r.get::<_, String>(0))
            .map_err(|e| self.err(e))?;
        let docs = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(docs
            .iter()
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect())
    }

    /// Up to `limit` unacknowledged messages after `after_seq`, oldest first, clip chunks
    /// aside (they go after everything else: [`Ledger::pending_clips`]).
    pub fn pending(&self, after_seq: i64, limit: usize) -> Result<Vec<Pending>, LedgerError> {
        self.pending_where("class != 'clip'", after_seq, limit)
    }

    /// Up to `limit` unacknowledged clip chunks after `after_seq`, oldest first.
    pub fn pending_clips(&self, after_seq: i64, limit: usize) -> Result<Vec<Pending>, LedgerError> {
        self.pending_where("class = 'clip'", after_seq, limit)
    }

    fn pending_where(
        &self,
        class: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<Pending>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT seq, topic, payload, retain, class FROM outbox WHERE {class} AND seq > ?1 AND set_aside IS NULL ORDER BY seq LIMIT ?2"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after_seq, limit as i64], |r| {
                Ok(Pending {
                    seq: r.get(0)?,
                    message: OutMessage {
                        topic: r.get(1)?,
                        payload: r.get(2)?,
                        retain: r.get(3)?,
                        class: MessageClass::parse(&r.get::<_, String>(4)?),
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The broker has the message: forget it.
    pub fn acknowledge(&self, seq: i64) -> Result<(), LedgerError> {
        self.conn
            .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Messages waiting for the broker (not counting those set aside).
    pub fn outbox_len(&self) -> Result<u64, LedgerError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM outbox WHERE set_aside IS NULL",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Takes a message out of the sending order for good (`why` is kept with it): no broker
    /// will take it, and re-sending it would block everything behind it.
    pub fn set_aside(&self, seq: i64, why: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE outbox SET set_aside = ?2 WHERE seq = ?1",
                params![seq, why],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Messages set aside, with their topic, size and why, oldest first.
    pub fn set_aside_messages(&self) -> Result<Vec<(String, u64, String)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT topic, bytes, set_aside FROM outbox WHERE set_aside IS NOT NULL ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Per kind: orders, orders warned on site (played), closed as resolved on site, and
    /// escalated after a warning — the first rung's record (`lookout orders stats`, metrics).
    /// Only a played warning can lead to an escalation, so only those orders' timelines are
    /// read (the metrics ask on every scrape).
    pub fn warning_stats(&self) -> Result<Vec<WarningStats>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT json_extract(document, '$.kind'),
                        COUNT(*),
                        SUM(json_extract(document, '$.warning.status') = 'played'),
                        SUM(json_extract(document, '$.resolution') = 'on_site'),
                        SUM(CASE WHEN json_extract(document, '$.warning.status') = 'played'
                                 THEN EXISTS (SELECT 1 FROM json_each(document, '$.timeline')
                                              WHERE json_extract(value, '$.event') = 'escalated')
                                 ELSE 0 END)
                 FROM orders GROUP BY 1 ORDER BY 1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(WarningStats {
                    kind: r.get::<_, Option<String>>(0)?.unwrap_or_default(),
                    orders: r.get::<_, i64>(1)? as u64,
                    warned: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u64,
                    resolved_on_site: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u64,
                    escalated: r.get::<_, Option<i64>>(4)?.unwrap_or(0) as u64,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// How many orders are in each state.
    pub fn count_by_state(&self) -> Result<Vec<(OrderState, u64)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, COUNT(*) FROM orders GROUP BY state")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.err(e))?;
        let counts = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(OrderState::ALL
            .iter()
            .map(|s| {
                let n = counts
                    .iter()
                    .find(|(name, _)| name == s.as_str())
                    .map_or(0, |(_, n)| *n as u64);
                (*s, n)
            })
            .collect())
    }

    /// Every order's id and latest revision, oldest update first.
    pub fn orders(&self) -> Result<Vec<(String, u32)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, revision FROM orders ORDER BY updated_at, id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every stored revision of an order, oldest first: its audit trail.
    pub fn revisions(&self, id: &str) -> Result<Vec<WorkOrder>, LedgerError> {
        self.documents(
            "SELECT document FROM revisions WHERE id = ?1 ORDER BY revision",
            params![id],
        )
    }

    /// Forgets closed and cancelled orders (and their revisions and command answers) last
    /// updated before `before` (RFC 3339). Open work is never pruned. Returns how many went.
    pub fn prune_final(&mut self, before: &str) -> Result<usize, LedgerError> {
        let tx = self.begin()?;
        let result = (|| {
            let ids: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM orders WHERE state IN ('closed', 'cancelled') AND updated_at < ?1",
                )?;
                let rows = stmt.query_map(params![before], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for id in &ids {
                tx.execute("DELETE FROM revisions WHERE id = ?1", params![id])?;
                tx.execute("DELETE FROM commands WHERE order_id = ?1", params![id])?;
                tx.execute("DELETE FROM orders WHERE id = ?1", params![id])?;
                tx.execute("DELETE FROM evidence WHERE order_id = ?1", params![id])?;
            }
            tx.commit()?;
            Ok(ids.len())
        })();
        result.map_err(|e| self.err(e))
    }

    /// Orders whose disposal deadline is at or before `now` (RFC 3339, as the documents write
    /// it), still not final and not yet escalated for it; earliest deadline first.
    pub fn overdue_orders(&self, now: &str) -> Result<Vec<WorkOrder>, LedgerError> {
        self.documents(
            "SELECT document FROM orders WHERE deadline IS NOT NULL AND deadline <= ?1
             ORDER BY deadline, id LIMIT 100",
            params![now],
        )
    }

    /// A camera's orders in `state`, oldest first.
    pub fn camera_orders(
        &self,
        camera: &str,
        state: OrderState,
    ) -> Result<Vec<WorkOrder>, LedgerError> {
        self.documents(
            "SELECT document FROM orders WHERE camera = ?1 AND state = ?2 ORDER BY updated_at, id",
            params![camera, state.as_str()],
        )
    }

    /// The stored revision of an order.
    pub fn order(&self, id: &str) -> Result<Option<WorkOrder>, LedgerError> {
        let doc: Option<String> = self
            .conn
            .query_row(
                "SELECT document FROM orders WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(doc.and_then(|d| serde_json::from_str(&d).ok()))
    }
}

/// A command's answer, as stored.
#[derive(Debug, Clone)]
pub struct CommandRecord {
    pub request_id: String,
    pub verb: String,
    pub order_id: Option<String>,
    pub received_at: String,
    pub result: Vec<u8>,
}

/// The deadline the sweep still has to act on: none once the order is final or overdue.
fn pending_deadline(order: &WorkOrder) -> Option<&str> {
    let case = order.case.as_ref()?;
    if order.state.is_final() || case.overdue {
        return None;
    }
    case.deadline_at.as_deref()
}

fn upsert_order(tx: &rusqlite::Transaction, order: &WorkOrder) -> rusqlite::Result<()> {
    let document = serde_json::to_string(order).unwrap_or_default();
    let kind = serde_json::to_value(order.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    tx.execute(
        "INSERT OR IGNORE INTO revisions (id, revision, document) VALUES (?1, ?2, ?3)",
        params![order.id, order.revision, document],
    )?;
    tx.execute(
        "INSERT INTO orders (id, revision, camera, kind, state, updated_at, document, deadline)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, state = excluded.state,
           updated_at = excluded.updated_at, document = excluded.document,
           deadline = excluded.deadline
         WHERE excluded.revision > orders.revision",
        params![
            order.id,
            order.revision,
            order.camera.id,
            kind,
            order.state.as_str(),
            order.updated_at,
            document,
            pending_deadline(order)
        ],
    )?;
    Ok(())
}

/// Drops the oldest evidence until the outbox fits `quota` bytes; never drops anything else.
fn enforce_quota(tx: &rusqlite::Transaction, quota: u64) -> rusqlite::Result<Recorded> {
    let total: u64 = tx
        .query_row(
            "SELECT COALESCE(SUM(bytes), 0) FROM outbox INDEXED BY outbox_by_class",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n.max(0) as u64)?;
    let mut recorded = Recorded::default();
    if total > quota {
        let (photos, freed) = delete_oldest_evidence(tx, total - quota)?;
        recorded.dropped_evidence = photos;
        recorded.over_quota = total - freed.min(total) > quota;
    }
    Ok(recorded)
}

/// Deletes the oldest evidence waiting in the outbox until at least `bytes` of it went or none
/// is left: clips first (a whole clip at a time: its other chunks are useless without the one
/// dropped), then photos. Returns how many clips and photos, and how many bytes, went.
fn delete_oldest_evidence(tx: &rusqlite::Transaction, bytes: u64) -> rusqlite::Result<(u64, u64)> {
    let (mut items, mut freed) = (0u64, 0u64);
    while freed < bytes {
        let clip: Option<String> = tx
            .query_row(
                "SELECT topic FROM outbox INDEXED BY outbox_by_class WHERE class = 'clip' ORDER BY seq LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(topic) = clip {
            // `…/clips/{name}/{index}`: every chunk of that clip.
            let prefix = topic.rsplit_once('/').map_or(topic.as_str(), |(p, _)| p);
            let prefix = format!("{prefix}/");
            let size: i64 = tx.query_row(
                "SELECT COALESCE(SUM(bytes), 0) FROM outbox WHERE class = 'clip' AND substr(topic, 1, length(?1)) = ?1",
                params![prefix],
                |r| r.get(0),
            )?;
            tx.execute(
                "DELETE FROM outbox WHERE class = 'clip' AND substr(topic, 1, length(?1)) = ?1",
                params![prefix],
            )?;
            items += 1;
            freed += size.max(0) as u64;
            continue;
        }
        let oldest: Option<(i64, i64)> = tx
            .query_row(
                "SELECT seq, bytes FROM outbox INDEXED BY outbox_by_class WHERE class = 'evidence' ORDER BY seq LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((seq, size)) = oldest else { break };
        tx.execute("DELETE FROM outbox WHERE seq = ?1", params![seq])?;
        items += 1;
        freed += size.max(0) as u64;
    }
    Ok((items, freed))
}

#[cfg(test)]
mod tests;

/// The messages that must be stored whatever the disk says: all but the photos and clips.
fn without_evidence(messages: &[OutMessage]) -> Vec<OutMessage> {
    messages
        .iter()
        .filter(|m| !matches!(m.class, MessageClass::Evidence | MessageClass::Clip))
        .cloned()
        .collect()
}

/// Time as the store writes it (RFC 3339, UTC).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Whether SQLite says the disk (or the file system's quota) is full.
fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
    )
}
