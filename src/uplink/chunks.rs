//! Clips over MQTT: a clip is published as chunks of bounded size (so a broker's packet limit,
//! often 1 MB, and a 4G link's hiccups are no obstacle), each a JSON document on
//! `…/orders/{id}/clips/{name}/{index}` with its place, its own sha256 and the whole file's.
//! Each chunk is an outbox row of its own: an interrupted transfer resumes at the first chunk
//! the broker did not acknowledge. [`accept`] is the receiving side (`lookout orders watch`):
//! chunks are kept on disk as they arrive, so a receiver that restarts keeps what it had.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Topics;
use crate::ledger::{MessageClass, OutMessage};

/// One chunk of a clip, as published (`docs/schemas/clip-chunk.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClipChunk {
    pub order_id: String,
    /// The clip's name in the order's `evidence`, e.g. `opened-1.mp4`.
    pub name: String,
    pub content_type: String,
    /// 0-based place of this chunk.
    pub index: u32,
    /// Chunks in the clip.
    pub total: u32,
    /// Where this chunk starts in the file, in bytes.
    pub offset: u64,
    /// The whole file's size and sha256 (as in the order's evidence entry).
    pub bytes: u64,
    pub sha256: String,
    /// This chunk's decoded bytes' sha256.
    pub chunk_sha256: String,
    /// This chunk's bytes, base64 (RFC 4648, with padding).
    pub data: String,
}

/// JSON and base64 around a chunk's bytes, at most: a chunk of `n` bytes makes a message of at
/// most `4 * n / 3 + CHUNK_OVERHEAD` bytes.
const CHUNK_OVERHEAD: usize = 1024;

/// The chunk size to use: `wanted` bytes, or less so that a chunk's message fits
/// `max_message_bytes` (with its topic).
pub fn chunk_bytes(wanted: usize, max_message_bytes: usize) -> usize {
    let fits = max_message_bytes.saturating_sub(CHUNK_OVERHEAD) / 4 * 3;
    wanted.min(fits).max(1024)
}

/// The messages that carry `data` (the clip `name` of order `order_id`), in order.
pub fn clip_messages(
    topics: &Topics,
    order_id: &str,
    name: &str,
    content_type: &str,
    data: &[u8],
    chunk_bytes: usize,
) -> Vec<OutMessage> {
    let sha256 = hex::encode(Sha256::digest(data));
    let chunk_bytes = chunk_bytes.max(1);
    let total = data.len().div_ceil(chunk_bytes).max(1) as u32;
    (0..total)
        .map(|index| {
            let start = index as usize * chunk_bytes;
            let piece = &data[start.min(data.len())..(start + chunk_bytes).min(data.len())];
            let chunk = ClipChunk {
                order_id: order_id.to_owned(),
                name: name.to_owned(),
                content_type: content_type.to_owned(),
                index,
                total,
                offset: start as u64,
                bytes: data.len() as u64,
                sha256: sha256.clone(),
                chunk_sha256: hex::encode(Sha256::digest(piece)),
                data: base64::engine::general_purpose::STANDARD.encode(piece),
            };
            OutMessage {
                topic: topics.clip_chunk(order_id, name, index),
                payload: serde_json::to_vec(&chunk).unwrap_or_default(),
                retain: false,
                class: MessageClass::Clip,
            }
        })
        .collect()
}

/// What a received chunk made of its clip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// Chunks held so far of `total`.
    Partial { have: u32, total: u32 },
    /// Every chunk is in, and the whole file matches its sha256: written here.
    Complete(PathBuf),
}

/// Why a chunk was refused (nothing of it is kept).
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("not a clip chunk: {0}")]
    Malformed(String),
    #[error("chunk {index} of {name}: {why}")]
    Invalid {
        name: String,
        index: u32,
        why: String,
    },
    #[error("clip {name}: the chunks make {got}, the order says sha256 {want}: discarded")]
    Mismatch {
        name: String,
        got: String,
        want: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Clips larger than this are refused (a clip of a minute at 16 Mbit/s is ~120 MB).
const MAX_CLIP_BYTES: u64 = 1 << 30;

/// A name safe to use as one path component: what the box itself publishes.
fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Takes one received chunk (`payload` of a clip-chunk message) into `dir`: chunks wait in
/// `dir/{order_id}/.{name}.parts/`, and the clip is written to `dir/{order_id}/{name}` once
/// all are in and the file's sha256 is the one announced. A chunk received twice is harmless.
pub fn accept(dir: &Path, payload: &[u8]) -> Result<Assembled, ChunkError> {
    let chunk: ClipChunk =
        serde_json::from_slice(payload).map_err(|e| ChunkError::Malformed(e.to_string()))?;
    let invalid = |why: &str| ChunkError::Invalid {
        name: chunk.name.clone(),
        index: chunk.index,
        why: why.to_owned(),
    };
    if !safe_component(&chunk.order_id) || !safe_component(&chunk.name) {
        return Err(invalid("order id or name is not a plain file name"));
    }
    if chunk.total == 0 || chunk.index >= chunk.total || chunk.bytes > MAX_CLIP_BYTES {
        return Err(invalid("index, total or size out of range"));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(chunk.data.as_bytes())
        .map_err(|e| invalid(&format!("data is not base64: {e}")))?;
    if hex::encode(Sha256::digest(&data)) != chunk.chunk_sha256 {
        return Err(invalid("its bytes do not match its chunk_sha256"));
    }
    if chunk.offset + data.len() as u64 > chunk.bytes {
        return Err(invalid("it reaches past the file's size"));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ChunkError::Io { path, source }
    };
    let order_dir = dir.join(&chunk.order_id);
    let parts = order_dir.join(format!(".{}.parts", chunk.name));
    std::fs::create_dir_all(&parts).map_err(io(&parts))?;
    // Parts are named by index and file hash: a clip re-made under the same name (it never is,
    // but a hostile sender could) does not mix with the first.
    let stem = format!("{}.", &chunk.sha256.get(..16).unwrap_or("x"));
    let part = parts.join(format!("{stem}{:06}", chunk.index));
    let tmp = parts.join(format!(".{stem}{:06}.tmp", chunk.index));
    std::fs::write(&tmp, &data).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &part).map_err(io(&part))?;
    let have = (0..chunk.total)
        .filter(|i| parts.join(format!("{stem}{i:06}")).is_file())
        .count() as u32;
    if have < chunk.total {
        return Ok(Assembled::Partial {
            have,
            total: chunk.total,
        });
    }
    let mut whole = Vec::with_capacity(chunk.bytes as usize);
    for i in 0..chunk.total {
        let p = parts.join(format!("{stem}{i:06}"));
        whole.extend(std::fs::read(&p).map_err(io(&p))?);
    }
    let got = hex::encode(Sha256::digest(&whole));
    if got != chunk.sha256 || whole.len() as u64 != chunk.bytes {
        let _ = std::fs::remove_dir_all(&parts);
        return Err(ChunkError::Mismatch {
            name: chunk.name,
            got,
            want: chunk.sha256,
        });
    }
    let path = order_dir.join(&chunk.name);
    let tmp = order_dir.join(format!(".{}.tmp", chunk.name));
    std::fs::write(&tmp, &whole).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    let _ = std::fs::remove_dir_all(&parts);
    Ok(Assembled::Complete(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn chunks_in_any_order_twice_over_reassemble_to_the_file() {
        let topics = Topics::new("s", "b");
        let data = clip(700_000);
        let messages = clip_messages(&topics, "o1", "opened-1.mp4", "video/mp4", &data, 256 << 10);
        assert_eq!(messages.len(), 3);
        assert!(messages.iter().all(|m| m.class == MessageClass::Clip));
        assert_eq!(
            messages[2].topic,
            "lookout/v1/s/b/orders/o1/clips/opened-1.mp4/2"
        );
        assert!(messages.iter().all(|m| m.payload.len() < 400 << 10));
        let dir = tempfile::tempdir().unwrap();
        let order = [2usize, 0, 2, 1];
        let mut last = None;
        for (k, i) in order.iter().enumerate() {
            let got = accept(dir.path(), &messages[*i].payload).unwrap();
            if k < 3 {
                assert!(
                    matches!(got, Assembled::Partial { total: 3, .. }),
                    "{got:?}"
                );
            }
            last = Some(got);
        }
        let Some(Assembled::Complete(path)) = last else {
            panic!("{last:?}")
        };
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert_eq!(path, dir.path().join("o1/opened-1.mp4"));
        assert!(!dir.path().join("o1/.opened-1.mp4.parts").exists());
    }

    #[test]
    fn a_tampered_or_hostile_chunk_is_refused_with_its_reason() {
        let topics = Topics::new("s", "b");
        let data = clip(3000);
        let messages = clip_messages(&topics, "o1", "opened-1.mp4", "video/mp4", &data, 1024);
        let dir = tempfile::tempdir().unwrap();
        let mut chunk: ClipChunk = serde_json::from_slice(&messages[0].payload).unwrap();
        chunk.data = base64::engine::general_purpose::STANDARD.encode(b"other bytes");
        let e = accept(dir.path(), &serde_json::to_vec(&chunk).unwrap()).unwrap_err();
        assert!(e.to_string().contains("chunk_sha256"), "{e}");
        let mut chunk: ClipChunk = serde_json::from_slice(&messages[0].payload).unwrap();
        chunk.order_id = "../../etc".into();
        let e = accept(dir.path(), &serde_json::to_vec(&chunk).unwrap()).unwrap_err();
        assert!(e.to_string().contains("plain file name"), "{e}");
        assert!(accept(dir.path(), b"{not json").is_err());
        // A whole that does not match the announced sha256 is discarded, not written.
        for m in &messages {
            let mut chunk: ClipChunk = serde_json::from_slice(&m.payload).unwrap();
            chunk.sha256 = "0".repeat(64);
            let _ = accept(dir.path(), &serde_json::to_vec(&chunk).unwrap());
        }
        assert!(!dir.path().join("o1/opened-1.mp4").exists());
    }

    #[test]
    fn chunks_shrink_to_fit_the_brokers_limit() {
        assert_eq!(chunk_bytes(256 << 10, 1 << 20), 256 << 10);
        let small = chunk_bytes(256 << 10, 64 << 10);
        assert!(small * 4 / 3 + CHUNK_OVERHEAD <= 64 << 10, "{small}");
    }
}
