//! A camera's clip recorder: the encoded-stream ring the camera's pipeline feeds, and a thread
//! of its own that turns each order opening into an MP4 clip (`[evidence] clip_pre_s` before
//! to `clip_post_s` after, remuxed, never re-encoded), adds it to the order as a new revision
//! and queues its chunks in the outbox. Detection never waits for it: the camera only sends a
//! request; the thread waits until the stream has run `clip_post_s` past the opening.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::{EvidenceConfig, Language};
use crate::ingest::{write_mp4, EncodedRing};
use crate::ledger::{self, EvidenceFile, SharedLedger};
use crate::orders::{ClipOf, RecordedClip, WorkOrder, WorkOrderChange};
use crate::uplink::{chunks, Topics, UplinkMessage, UplinkSender};

/// A clip waits at most this long past its `post` for the stream to get there (a camera that
/// stalls, a replay that ended): then what the ring holds is cut.
const LATE: Duration = Duration::from_secs(20);

/// Where the recorder's clips go, and how they are cut.
pub struct ClipOutputs {
    pub ledger: SharedLedger,
    pub topics: Topics,
    pub uplink: UplinkSender,
    pub language: Language,
    /// Clip bytes per MQTT chunk (fitted to the broker's limit).
    pub chunk_bytes: usize,
}

struct Request {
    order_id: String,
    name: String,
    of: ClipOf,
    /// The moment's time in the ring's (the pipeline's) stream time, and on the wall clock.
    pts: Duration,
    at: DateTime<Utc>,
    /// The stretch to cut, in stream time.
    from: Duration,
    to: Duration,
    asked: Instant,
}

enum Job {
    Record(Request),
    /// The stream ended: cut every waiting clip with what the ring holds, then empty it (a new
    /// stream starts its own times); answer when done.
    Cut(mpsc::Sender<()>),
}

/// A camera's clip recorder (see the module's documentation).
pub struct ClipRecorder {
    camera: String,
    ring: EncodedRing,
    pre: Duration,
    post: Duration,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl ClipRecorder {
    /// Starts the recorder of `camera` when `settings` ask for clips.
    pub fn start(
        camera: &str,
        settings: &EvidenceConfig,
        outputs: ClipOutputs,
    ) -> Option<ClipRecorder> {
        if !settings.clips() {
            return None;
        }
        let pre = Duration::from_secs_f64(settings.clip_pre_s);
        let post = Duration::from_secs_f64(settings.clip_post_s);
        // The opening is judged a little after its frame was decoded (the models' latency):
        // two seconds of slack on top of what the clip spans.
        let keep = pre + post + Duration::from_secs(2);
        let ring = EncodedRing::new(keep, (settings.clip_buffer_mb as usize) << 20);
        let (tx, rx) = mpsc::channel();
        let cutter = Cutter {
            camera: camera.to_owned(),
            ring: ring.clone(),
            post,
            outputs,
        };
        let thread = std::thread::Builder::new()
            .name(format!("clips-{camera}"))
            .spawn(move || cutter.run(rx))
            .map_err(|e| tracing::error!(camera, error = %e, "Cannot start the clip recorder's thread: no clips."))
            .ok()?;
        Some(ClipRecorder {
            camera: camera.to_owned(),
            ring,
            pre,
            post,
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    /// The ring the camera's pipeline feeds.
    pub fn ring(&self) -> &EncodedRing {
        &self.ring
    }

    /// Asks for a clip of `order` around `of` (an opening, a verdict) at `pts` in the
    /// pipeline's stream time: from `pre` before to `post` after an opening, the `pre + post`
    /// before a verdict.
    pub fn record(&self, order: &WorkOrder, of: ClipOf, pts: Duration, at: DateTime<Utc>) {
        // Named like the photo of the moment, which is named after the revision it joined
        // (`opened-3.jpg` → `opened-3.mp4`): unique within the order even when that photo
        // could not be taken.
        let stem = match of {
            ClipOf::Opening => format!("opened-{}", order.revision),
            ClipOf::Verdict => format!("verified-{}", order.revision),
        };
        let (from, to) = match of {
            ClipOf::Opening => (pts.saturating_sub(self.pre), pts + self.post),
            ClipOf::Verdict => (pts.saturating_sub(self.pre + self.post), pts),
        };
        let request = Request {
            order_id: order.id.clone(),
            name: format!("{stem}.mp4"),
            of,
            pts,
            at,
            from,
            to,
            asked: Instant::now(),
        };
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(Job::Record(request));
        }
    }

    /// The stream ended (end of file, a reconnect): waiting clips are cut with what there is,
    /// and the ring starts afresh. Returns once done.
    pub fn stream_ended(&self) {
        let (done, wait) = mpsc::channel();
        if let Some(jobs) = &self.jobs {
            if jobs.send(Job::Cut(done)).is_ok() && wait.recv_timeout(LATE).is_err() {
                tracing::warn!(camera = %self.camera, "The clip recorder is slow to cut its clips.");
            }
        }
    }
}

impl Drop for ClipRecorder {
    /// Cuts what is waiting and stops the thread.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The recorder's thread.
struct Cutter {
    camera: String,
    ring: EncodedRing,
    post: Duration,
    outputs: ClipOutputs,
}

impl Cutter {
    fn run(self, jobs: mpsc::Receiver<Job>) {
        let mut waiting: Vec<Request> = Vec::new();
        loop {
            let wait = if waiting.is_empty() {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(50)
            };
            match jobs.recv_timeout(wait) {
                Ok(Job::Record(r)) => waiting.push(r),
                Ok(Job::Cut(done)) => {
                    for r in waiting.drain(..) {
                        self.cut(r);
                    }
                    self.ring.clear();
                    let _ = done.send(());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    for r in waiting.drain(..) {
                        self.cut(r);
                    }
                    return;
                }
            }
            let newest = self.ring.newest();
            let (ready, still): (Vec<Request>, Vec<Request>) = waiting.drain(..).partition(|r| {
                newest.is_some_and(|n| n >= r.to) || r.asked.elapsed() > self.post + LATE
            });
            waiting = still;
            for r in ready {
                self.cut(r);
            }
        }
    }

    /// Cuts, writes and files one clip; a failure is logged (the order is unaffected).
    fn cut(&self, r: Request) {
        let Some(clip) = self.ring.clip(r.from, r.to) else {
            tracing::warn!(camera = %self.camera, order = %r.order_id, clip = %r.name, "No clip: the camera's encoded stream held nothing of the moment (a stream that just restarted?).");
            return;
        };
        let path = std::env::temp_dir().join(format!(
            "lookout-clip-{}-{}-{}",
            std::process::id(),
            self.camera,
            r.name
        ));
        let written = write_mp4(&clip, &path).and_then(|()| {
            std::fs::read(&path).map_err(|e| crate::ingest::ClipError::Remux(e.to_string()))
        });
        let _ = std::fs::remove_file(&path);
        let data = match written {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(camera = %self.camera, order = %r.order_id, error = %e, "No clip for the order.");
                return;
            }
        };
        let (first, last) = clip.span();
        let frame = (last - first)
            .checked_div(clip.frames().saturating_sub(1).max(1) as u32)
            .unwrap_or_default();
        let before = r.pts.saturating_sub(first);
        let recorded = RecordedClip {
            name: r.name.clone(),
            of: r.of,
            sha256: hex::encode(Sha256::digest(&data)),
            bytes: data.len(),
            starts_at: r.at - chrono::Duration::from_std(before).unwrap_or_default(),
            duration_s: (last - first + frame).as_secs_f64(),
            before_s: before.as_secs_f64(),
            after_s: last.saturating_sub(r.pts).as_secs_f64(),
            chunks: 0,
        };
        self.file(r, recorded, &data);
    }

    /// Adds the clip to its order (a new revision) and queues its chunks, under one lock.
    fn file(&self, r: Request, mut clip: RecordedClip, data: &[u8]) {
        let out = &self.outputs;
        let mut chunk_messages = chunks::clip_messages(
            &out.topics,
            &r.order_id,
            &clip.name,
            "video/mp4",
            data,
            out.chunk_bytes,
        );
        clip.chunks = chunk_messages.len() as u32;
        let mut ledger = ledger::lock(&out.ledger);
        let mut order = match ledger.order(&r.order_id) {
            Ok(Some(order)) => order,
            other => {
                tracing::warn!(camera = %self.camera, order = %r.order_id, error = ?other.err(), "The clip's order is not in the ledger: clip not kept.");
                return;
            }
        };
        crate::orders::attach_clip(&mut order, &clip, out.language, Utc::now());
        let change = WorkOrderChange {
            order,
            evidence: Vec::new(),
        };
        // The revision that lists the clip first, then its chunks (which go after everything
        // else waiting anyway): the receiver knows the size, hash and chunk count to expect.
        let mut messages = crate::uplink::encode(&out.topics, &change);
        messages.append(&mut chunk_messages);
        let file = EvidenceFile {
            order_id: &r.order_id,
            name: &clip.name,
            data,
        };
        match ledger.record_clip(&change.order, &messages, file) {
            Ok(recorded) => {
                let noted = if recorded.evicted_evidence > 0 {
                    crate::control::note_evictions(
                        &mut ledger,
                        &out.topics,
                        out.language,
                        Utc::now(),
                    )
                } else {
                    Vec::new()
                };
                drop(ledger);
                if recorded.disk_short {
                    tracing::warn!(camera = %self.camera, order = %r.order_id, "Disk short of storage.min_free_mb: the clip was not kept; the order lists it.");
                }
                tracing::info!(camera = %self.camera, order = %r.order_id, clip = %clip.name, bytes = clip.bytes, seconds = clip.duration_s, chunks = clip.chunks, "Clip recorded.");
                for order in std::iter::once(change.order).chain(noted) {
                    out.uplink.send(UplinkMessage::Committed(Box::new(order)));
                }
            }
            Err(e) => {
                tracing::error!(camera = %self.camera, order = %r.order_id, error = %e, "Cannot store the clip's revision: clip lost (the order is unaffected).");
            }
        }
    }
}
