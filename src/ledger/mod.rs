//! Ledger: the box's durable memory, in SQLite (WAL). Only this module knows SQL.
//!
//! - `orders`: the latest revision of every work order.
//! - `outbox`: every message the box must publish, in order. A revision and its messages are
//!   written in one transaction *before* anything is published; a row is deleted only when the
//!   broker has acknowledged it (QoS 1 PUBACK). What is not acknowledged is sent again on
//!   reconnect and after a restart, so an accepted order survives broker outages, crashes and
//!   power cuts. Consumers de-duplicate by (order id, revision).

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::orders::WorkOrder;

#[derive(Debug, thiserror::Error)]
#[error("ledger {path}: {source}")]
pub struct LedgerError {
    path: String,
    #[source]
    source: rusqlite::Error,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct OutMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

/// An outbox row: a message not yet acknowledged by the broker.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// Position in the outbox; messages go out in this order.
    pub seq: i64,
    pub message: OutMessage,
}

pub struct Ledger {
    conn: Connection,
    path: String,
}

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
";

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
        // WAL + NORMAL: a commit survives a process crash; a power cut may lose the last
        // transaction but never corrupts the file.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Ledger { conn, path: name })
    }

    /// A ledger that lives in memory (replays and demos: nothing to resume).
    pub fn in_memory() -> Result<Ledger, LedgerError> {
        let err = |source| LedgerError {
            path: ":memory:".into(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Ledger {
            conn,
            path: ":memory:".into(),
        })
    }

    fn err(&self, source: rusqlite::Error) -> LedgerError {
        LedgerError {
            path: self.path.clone(),
            source,
        }
    }

    /// Stores an order revision and the messages that announce it, atomically.
    pub fn record(
        &mut self,
        order: &WorkOrder,
        messages: &[OutMessage],
    ) -> Result<(), LedgerError> {
        let document = serde_json::to_string(order).unwrap_or_default();
        let kind = serde_json::to_value(order.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let state = serde_json::to_value(order.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let tx = self.conn.transaction().map_err(|e| LedgerError {
            path: self.path.clone(),
            source: e,
        })?;
        let result = (|| {
            tx.execute(
                "INSERT INTO orders (id, revision, camera, kind, state, updated_at, document)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET revision = excluded.revision, state = excluded.state,
                   updated_at = excluded.updated_at, document = excluded.document
                 WHERE excluded.revision > orders.revision",
                params![
                    order.id,
                    order.revision,
                    order.camera.id,
                    kind,
                    state,
                    order.updated_at,
                    document
                ],
            )?;
            for m in messages {
                tx.execute(
                    "INSERT INTO outbox (topic, payload, retain) VALUES (?1, ?2, ?3)",
                    params![m.topic, m.payload, m.retain],
                )?;
            }
            tx.commit()
        })();
        result.map_err(|e| self.err(e))
    }

    /// Up to `limit` unacknowledged messages after `after_seq`, oldest first.
    pub fn pending(&self, after_seq: i64, limit: usize) -> Result<Vec<Pending>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, topic, payload, retain FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after_seq, limit as i64], |r| {
                Ok(Pending {
                    seq: r.get(0)?,
                    message: OutMessage {
                        topic: r.get(1)?,
                        payload: r.get(2)?,
                        retain: r.get(3)?,
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

    /// Messages waiting for the broker.
    pub fn outbox_len(&self) -> Result<u64, LedgerError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
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

#[cfg(test)]
mod tests;
