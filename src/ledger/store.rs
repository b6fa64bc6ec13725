//! The evidence store: every photo the box took, kept after the broker has it (for a
//! technician, a later dispute, the web console), bounded by bytes (`[storage]
//! evidence_max_bytes`).
//!
//! Over the bound the oldest evidence goes first, of final (closed, cancelled) orders before
//! that of orders still being worked on. What goes leaves a tombstone (name, size, sha256, when
//! and why) so the order's record says what was dropped; for an order not yet final, the caller
//! adds a timeline note too ([`super::Ledger::unnoted_evictions`]).
//!
//! A photo still waiting for the broker is also in the outbox (bounded by its own quota) until
//! the broker acknowledges it: eviction here never takes a photo off its way to the centre.

use rusqlite::{params, OptionalExtension, Transaction};

/// A photo evicted from an order not yet final, waiting for its timeline note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eviction {
    pub order_id: String,
    pub name: String,
    pub bytes: u64,
}

/// Splits an evidence topic `…/orders/{id}/evidence/{name}` into the order id and the name.
pub(super) fn evidence_of(topic: &str) -> Option<(&str, &str)> {
    let (head, name) = topic.rsplit_once("/evidence/")?;
    let (_, order_id) = head.rsplit_once("/orders/")?;
    (!order_id.is_empty() && !name.is_empty() && !name.contains('/')).then_some((order_id, name))
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".jpg") {
        "image/jpeg"
    } else if name.ends_with(".mp4") {
        "video/mp4"
    } else {
        "application/octet-stream"
    }
}

/// Keeps one photo (the same name twice keeps the first: a re-sent message is the same photo).
pub(super) fn keep(
    tx: &Transaction,
    order_id: &str,
    name: &str,
    data: &[u8],
    now: &str,
) -> rusqlite::Result<()> {
    use sha2::{Digest, Sha256};
    tx.execute(
        "INSERT OR IGNORE INTO evidence (order_id, name, content_type, bytes, sha256, stored_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            order_id,
            name,
            content_type(name),
            data.len() as i64,
            hex::encode(Sha256::digest(data)),
            now,
            data
        ],
    )?;
    Ok(())
}

/// Bytes of evidence kept (tombstones aside).
pub(super) fn kept_bytes(tx: &rusqlite::Connection) -> rusqlite::Result<u64> {
    tx.query_row(
        "SELECT COALESCE(SUM(bytes), 0) FROM evidence WHERE data IS NOT NULL",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n.max(0) as u64)
}

/// Evicts the oldest evidence until at most `max` bytes are kept: final orders' first, then
/// the others'. Returns how many photos went.
pub(super) fn enforce(tx: &Transaction, max: u64, why: &str, now: &str) -> rusqlite::Result<u64> {
    let mut total = kept_bytes(tx)?;
    let mut evicted = 0;
    while total > max {
        // Final orders first; an order the ledger no longer knows counts as final.
        let oldest: Option<(i64, i64)> = tx
            .query_row(
                "SELECT e.rowid, e.bytes FROM evidence e LEFT JOIN orders o ON o.id = e.order_id
                 WHERE e.data IS NOT NULL
                 ORDER BY CASE WHEN o.state IS NULL OR o.state IN ('closed', 'cancelled') THEN 0 ELSE 1 END,
                          e.rowid
                 LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((rowid, bytes)) = oldest else { break };
        tx.execute(
            "UPDATE evidence SET data = NULL, dropped_at = ?2, dropped_why = ?3 WHERE rowid = ?1",
            params![rowid, now, why],
        )?;
        total = total.saturating_sub(bytes.max(0) as u64);
        evicted += 1;
    }
    Ok(evicted)
}

/// Evictions from orders not yet final that have no timeline note yet, oldest first.
pub(super) fn unnoted(conn: &rusqlite::Connection) -> rusqlite::Result<Vec<Eviction>> {
    let mut stmt = conn.prepare(
        "SELECT e.order_id, e.name, e.bytes FROM evidence e JOIN orders o ON o.id = e.order_id
         WHERE e.data IS NULL AND e.noted = 0 AND o.state NOT IN ('closed', 'cancelled')
         ORDER BY e.rowid LIMIT 1000",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Eviction {
            order_id: r.get(0)?,
            name: r.get(1)?,
            bytes: r.get::<_, i64>(2)?.max(0) as u64,
        })
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_topics_name_their_order_and_photo() {
        assert_eq!(
            evidence_of("lookout/v1/s/b/orders/0193-ab/evidence/opened-1.jpg"),
            Some(("0193-ab", "opened-1.jpg"))
        );
        assert_eq!(evidence_of("lookout/v1/s/b/orders/0193-ab"), None);
        assert_eq!(evidence_of("lookout/v1/s/b/orders//evidence/x.jpg"), None);
    }
}
