//! The inference scheduler of one model, shared by every camera that runs it: a few workers,
//! each with its own ONNX Runtime session, serving the cameras' prepared frames from one queue.
//!
//! Why several single-threaded sessions rather than one session with several threads: a small
//! detector's operators are too short to split well over threads (YOLOX-Nano on two cores: one
//! 2-thread session 16 ms a frame, two 1-thread sessions side by side 14 ms each, over twice the
//! throughput). So a box runs one session per core, each on its own frames.
//!
//! The queue is fair and never late:
//! - Each camera has its own lane, at most `queue_per_camera` frames deep; the workers take
//!   from the lanes in turn, so a camera that floods frames gets its turn like the others and
//!   never starves them.
//! - Newest frame wins: a frame queued into a full lane pushes out that lane's oldest waiting
//!   frame ([`Dropped::Superseded`]).
//! - A frame that waited past the deadline is dropped when a worker reaches it
//!   ([`Dropped::Expired`]): a late detection would only describe the past.
//! - Both are counted ([`SchedulerStats`]); the camera sees the outcome and goes on without
//!   detections for that frame.
//!
//! Frames are letterboxed by the camera that submits them ([`super::Model::prepare`]), on its
//! own thread, so the workers only run the sessions. Where the session takes a free batch size
//! and `batch` > 1, a worker takes up to `batch` frames of one input size from different lanes and
//! runs them at once (worth it on a GPU; on a CPU it gains about 5 %).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{DetectError, DetectOptions, Detection, Engine, Model, Prepared};

/// How a model's scheduler runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerConfig {
    /// Workers, each with its own session.
    pub workers: usize,
    /// Most frames run as one batch (1: never batch).
    pub batch: usize,
    /// Frames a camera may have waiting (not yet taken by a worker).
    pub queue_per_camera: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            workers: 1,
            batch: 1,
            queue_per_camera: 2,
        }
    }
}

/// Why a submitted frame was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// A newer frame of the same camera took its place in the queue.
    Superseded,
    /// It waited past its deadline.
    Expired,
    /// The scheduler stopped.
    Stopped,
}

impl Dropped {
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Superseded => "superseded",
            Dropped::Expired => "expired",
            Dropped::Stopped => "stopped",
        }
    }
}

/// What a submission does when its camera's lane is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Full {
    /// Newest frame wins: the lane's oldest waiting frame is dropped.
    PushOut,
    /// Wait until a worker takes from the lane.
    Wait,
}

/// What became of a submitted frame.
#[derive(Debug)]
pub enum Outcome {
    Done {
        detections: Vec<Detection>,
        /// Session time spent on this frame (its share of a batch).
        took: Duration,
        /// Time from submission until a worker took it.
        waited: Duration,
    },
    Failed(DetectError),
    Dropped(Dropped),
}

/// Where a worker puts a frame's outcome and its camera finds it.
#[derive(Default)]
struct Reply {
    outcome: Mutex<Option<Outcome>>,
    ready: Condvar,
}

impl Reply {
    fn put(&self, outcome: Outcome) {
        *lock(&self.outcome) = Some(outcome);
        self.ready.notify_all();
    }
}

/// A submitted frame's claim on its outcome.
pub struct Ticket {
    reply: Arc<Reply>,
}

impl Ticket {
    /// Whether the outcome is there (taking it does not wait).
    pub fn is_ready(&self) -> bool {
        lock(&self.reply.outcome).is_some()
    }

    /// Waits for the outcome.
    pub fn wait(self) -> Outcome {
        let mut guard = lock(&self.reply.outcome);
        loop {
            if let Some(outcome) = guard.take() {
                return outcome;
            }
            guard = self
                .reply
                .ready
                .wait(guard)
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

struct Job {
    prepared: Prepared,
    options: Arc<DetectOptions>,
    submitted: Instant,
    deadline: Option<Instant>,
    reply: Arc<Reply>,
}

impl Job {
    /// The input shape when the frame is one view (what a batch stacks).
    fn batch_shape(&self) -> Option<[usize; 4]> {
        match self.prepared.views.as_slice() {
            [one] => Some(one.pixels.shape()),
            _ => None,
        }
    }
}

struct Lane {
    camera: Arc<str>,
    jobs: VecDeque<Job>,
}

#[derive(Default)]
struct Queue {
    lanes: Vec<Lane>,
    /// The lane the next worker looks at first.
    cursor: usize,
    stopped: bool,
}

impl Queue {
    fn is_empty(&self) -> bool {
        self.lanes.iter().all(|l| l.jobs.is_empty())
    }

    /// The next frames for a worker: the next lane's oldest frame, then (batching) one frame of
    /// the same shape from each following lane, up to `batch`. Expired frames met on the way
    /// are handed back to be answered.
    fn take(&mut self, batch: usize, now: Instant, expired: &mut Vec<Job>) -> Vec<Job> {
        let n = self.lanes.len();
        let mut taken: Vec<Job> = Vec::new();
        for step in 0..n {
            let i = (self.cursor + step) % n;
            let lane = &mut self.lanes[i].jobs;
            while lane
                .front()
                .is_some_and(|j| j.deadline.is_some_and(|d| d < now))
            {
                expired.extend(lane.pop_front());
            }
            let Some(job) = lane.front() else {
                continue;
            };
            let fits = match taken.first() {
                None => true,
                Some(first) => {
                    first.batch_shape().is_some() && first.batch_shape() == job.batch_shape()
                }
            };
            if !fits {
                continue;
            }
            taken.extend(lane.pop_front());
            if taken.len() == 1 {
                // The next worker starts after this lane, whatever else it batches.
                self.cursor = (i + 1) % n;
            }
            if taken.len() >= batch || taken[0].batch_shape().is_none() {
                break;
            }
        }
        taken
    }
}

/// Counters of a scheduler since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SchedulerStats {
    /// Frames run (batched or not).
    pub runs: u64,
    pub errors: u64,
    /// Session runs that carried more than one frame.
    pub batches: u64,
    pub superseded: u64,
    pub expired: u64,
    /// Worker time spent in sessions.
    pub busy: Duration,
}

#[derive(Default)]
struct Counters {
    runs: AtomicU64,
    errors: AtomicU64,
    batches: AtomicU64,
    superseded: AtomicU64,
    expired: AtomicU64,
    busy_ns: AtomicU64,
    /// Smoothed session time of one view, in ns (0: not measured yet).
    view_cost_ns: AtomicU64,
}

struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
    /// Signalled when a worker takes frames (a lane has room again) or the scheduler stops.
    room: Condvar,
    counters: Counters,
    config: SchedulerConfig,
}

/// One model's workers and queue.
pub struct Scheduler {
    model: Arc<Model>,
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    batchable: bool,
}

impl Scheduler {
    /// Starts one worker per engine (each engine a session of `model`).
    pub fn start(
        model: Arc<Model>,
        engines: Vec<Engine>,
        config: SchedulerConfig,
    ) -> Result<Scheduler, DetectError> {
        if engines.is_empty() {
            return Err(DetectError::Model {
                model: model.name().to_owned(),
                message: "a scheduler needs at least one session".into(),
            });
        }
        let batchable = engines.iter().all(Engine::batchable);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            room: Condvar::new(),
            counters: Counters::default(),
            config: SchedulerConfig {
                workers: engines.len(),
                batch: if batchable { config.batch.max(1) } else { 1 },
                queue_per_camera: config.queue_per_camera.max(1),
            },
        });
        let mut workers = Vec::new();
        for (i, engine) in engines.into_iter().enumerate() {
            let shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("infer-{}-{i}", model.name()))
                .spawn(move || work(engine, &shared))
                .map_err(|e| DetectError::Model {
                    model: model.name().to_owned(),
                    message: format!("cannot start an inference thread: {e}"),
                })?;
            workers.push(handle);
        }
        Ok(Scheduler {
            model,
            shared,
            workers,
            batchable,
        })
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// The configuration it runs with (workers as started, batch as the model allows).
    pub fn config(&self) -> SchedulerConfig {
        self.shared.config
    }

    /// Whether the sessions take a free batch size.
    pub fn batchable(&self) -> bool {
        self.batchable
    }

    /// Queues a camera's prepared frame. A frame not taken by a worker before `deadline` has
    /// passed since now is dropped; `None` waits as long as it takes (a replay).
    pub fn submit(
        &self,
        camera: &Arc<str>,
        prepared: Prepared,
        options: Arc<DetectOptions>,
        deadline: Option<Duration>,
    ) -> Ticket {
        self.enqueue(camera, prepared, options, deadline, Full::PushOut)
    }

    /// Queues a camera's frame without pushing out any: when the camera's lane is full, waits
    /// until a worker takes from it. A replay judges every sampled frame, and keeps more frames
    /// on their way than the lane holds so that a worker never waits for the camera to prepare
    /// the next one.
    pub fn submit_waiting(
        &self,
        camera: &Arc<str>,
        prepared: Prepared,
        options: Arc<DetectOptions>,
    ) -> Ticket {
        self.enqueue(camera, prepared, options, None, Full::Wait)
    }

    fn enqueue(
        &self,
        camera: &Arc<str>,
        prepared: Prepared,
        options: Arc<DetectOptions>,
        deadline: Option<Duration>,
        full: Full,
    ) -> Ticket {
        let reply = Arc::new(Reply::default());
        let now = Instant::now();
        let job = Job {
            prepared,
            options,
            submitted: now,
            deadline: deadline.map(|d| now + d),
            reply: reply.clone(),
        };
        let depth = self.shared.config.queue_per_camera;
        let pushed_out = {
            let mut queue = lock(&self.shared.queue);
            let i = loop {
                if queue.stopped {
                    drop(queue);
                    reply.put(Outcome::Dropped(Dropped::Stopped));
                    return Ticket { reply };
                }
                let i = match queue.lanes.iter().position(|l| l.camera == *camera) {
                    Some(i) => i,
                    None => {
                        queue.lanes.push(Lane {
                            camera: camera.clone(),
                            jobs: VecDeque::new(),
                        });
                        queue.lanes.len() - 1
                    }
                };
                if full == Full::PushOut || queue.lanes[i].jobs.len() < depth {
                    break i;
                }
                queue = self
                    .shared
                    .room
                    .wait(queue)
                    .unwrap_or_else(|p| p.into_inner());
            };
            let lane = &mut queue.lanes[i].jobs;
            let pushed_out = if lane.len() >= depth {
                lane.pop_front()
            } else {
                None
            };
            lane.push_back(job);
            pushed_out
        };
        self.shared.work.notify_one();
        if let Some(old) = pushed_out {
            self.shared
                .counters
                .superseded
                .fetch_add(1, Ordering::Relaxed);
            old.reply.put(Outcome::Dropped(Dropped::Superseded));
        }
        Ticket { reply }
    }

    pub fn stats(&self) -> SchedulerStats {
        let c = &self.shared.counters;
        SchedulerStats {
            runs: c.runs.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            superseded: c.superseded.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            busy: Duration::from_nanos(c.busy_ns.load(Ordering::Relaxed)),
        }
    }

    /// The smoothed session time of one view, once a frame has run.
    pub fn view_cost(&self) -> Option<Duration> {
        match self.shared.counters.view_cost_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    /// Seeds the cost estimate (a measurement taken before the cameras start).
    pub fn set_view_cost(&self, cost: Duration) {
        self.shared
            .counters
            .view_cost_ns
            .store(cost.as_nanos().max(1) as u64, Ordering::Relaxed);
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let left: Vec<Job> = {
            let mut queue = lock(&self.shared.queue);
            queue.stopped = true;
            queue
                .lanes
                .iter_mut()
                .flat_map(|l| l.jobs.drain(..))
                .collect()
        };
        for job in left {
            job.reply.put(Outcome::Dropped(Dropped::Stopped));
        }
        self.shared.work.notify_all();
        self.shared.room.notify_all();
        for handle in self.workers.drain(..) {
            let _ = handle.join();
        }
    }
}

/// A worker: takes frames in turn from the lanes and runs them until the scheduler stops.
fn work(mut engine: Engine, shared: &Shared) {
    let batch = shared.config.batch;
    let c = &shared.counters;
    loop {
        let mut expired = Vec::new();
        let jobs = {
            let mut queue = lock(&shared.queue);
            loop {
                if queue.stopped {
                    return;
                }
                if !queue.is_empty() {
                    let jobs = queue.take(batch, Instant::now(), &mut expired);
                    if !jobs.is_empty() || !expired.is_empty() {
                        break jobs;
                    }
                }
                queue = shared.work.wait(queue).unwrap_or_else(|p| p.into_inner());
            }
        };
        // Taking (or expiring) frames made room in their lanes for waiting submissions.
        shared.room.notify_all();
        for job in expired {
            c.expired.fetch_add(1, Ordering::Relaxed);
            job.reply.put(Outcome::Dropped(Dropped::Expired));
        }
        if jobs.is_empty() {
            continue;
        }
        let began = Instant::now();
        let results = run_jobs(&mut engine, &jobs);
        let took = began.elapsed();
        c.busy_ns
            .fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        let views: usize = jobs.iter().map(|j| j.prepared.views.len()).sum();
        let per_view = took.as_nanos() as u64 / views.max(1) as u64;
        let old = c.view_cost_ns.load(Ordering::Relaxed);
        // A slow moving average: one slow frame (a page fault, a neighbour's burst) does not
        // swing the plan.
        let new = if old == 0 {
            per_view
        } else {
            (old * 7 + per_view) / 8
        };
        c.view_cost_ns.store(new.max(1), Ordering::Relaxed);
        if jobs.len() > 1 {
            c.batches.fetch_add(1, Ordering::Relaxed);
        }
        let share = took / jobs.len() as u32;
        for (job, result) in jobs.into_iter().zip(results) {
            c.runs.fetch_add(1, Ordering::Relaxed);
            let outcome = match result {
                Ok(detections) => Outcome::Done {
                    detections,
                    took: share,
                    waited: began.saturating_duration_since(job.submitted),
                },
                Err(e) => {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                    Outcome::Failed(e)
                }
            };
            job.reply.put(outcome);
            engine.model().recycle(job.prepared);
        }
    }
}

/// Runs one frame, or a batch of one-view frames of one shape, on the engine.
fn run_jobs(engine: &mut Engine, jobs: &[Job]) -> Vec<Result<Vec<Detection>, DetectError>> {
    if let [job] = jobs {
        return vec![engine.run(&job.prepared, &job.options)];
    }
    let inputs: Vec<_> = jobs.iter().map(|j| &j.prepared.views[0].pixels).collect();
    match engine.infer_batch(&inputs) {
        Ok(outputs) => jobs
            .iter()
            .zip(outputs)
            .map(|(job, out)| {
                let outputs = [out];
                let detections = engine.model().finish(&job.prepared, &outputs, &job.options);
                engine.recycle(outputs.into_iter().flatten());
                detections
            })
            .collect(),
        Err(e) => {
            let message = e.to_string();
            jobs.iter()
                .map(|_| {
                    Err(DetectError::Inference {
                        model: engine.model().name().to_owned(),
                        message: message.clone(),
                    })
                })
                .collect()
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
