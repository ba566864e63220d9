//! The run, in two stages: [`map_batch`] maps each record of a batch with
//! the mapping in use and picks the sinks it goes to (on its own thread,
//! ahead of delivery), then the [`Dispatcher`] skips what each sink was
//! already given, hands the rest to the sinks' schedulers
//! (`scheduler.rs`: concurrency, batches, per-key order, retries),
//! writes dead letters and drift, marks what was delivered, and commits
//! each batch once all its records are done — in the order the batches
//! were read (inbox rows deleted, files moved, cursors moved).
//!
//! Order of durability, per record and sink: the sink's write → its
//! `delivered` mark; per batch: every record delivered, filtered or in the
//! dead letter (synced) → the commit. A crash anywhere re-reads the
//! batches not committed; records already marked delivered are skipped,
//! so only what was in flight is sent again, with the same idempotency
//! key.
//!
//! Everything in flight is bounded: the dispatcher takes a new batch only
//! while fewer than `max_pending` records are open, so a sink that is down
//! or slow holds the source back (a file is read no further, a webhook
//! waits in the inbox) instead of filling memory.
//!
//! Duplicates are found here, against the state store's marks and what
//! is in flight: a repeat of a record on its way is not sent twice, and
//! its batch waits for the first to be done.
//! Each sink has its own marks — a record delivered to the ERP and not
//! yet to the 3PL goes to the 3PL only — under its name (`name` U+001F
//! `key`); the one unnamed `sink:` keeps the bare key, as always.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mapwright_dsl::{Ctx, NoHost, Program, Value};
use mapwright_engine::input::InputRecord;
use tokio::sync::mpsc;

use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::scheduler::{Done, Job, Report};
use crate::sinks::LineSink;
use crate::sources::dir::{self, Taken};
use crate::sources::{Batch, Commit};
use crate::state::State;
use crate::{Stop, StopHandle};
use mapwright_engine::{FieldError, Mapping, Outcome, dead_letter};

/// Which sinks a record goes to: each sink's `when:` (none: every record).
pub(crate) type Routes = Arc<Vec<Option<Program>>>;

/// A batch with every record mapped and routed, waiting to be delivered
/// and committed.
pub(crate) struct Mapped {
    batch: Batch,
    /// The mapping the batch was mapped with (for dead letters written
    /// after delivery).
    mapping: Arc<Mapping>,
    /// In record order.
    items: Vec<Item>,
    drift: Vec<Value>,
}

enum Item {
    /// A mapped record, its index in the batch and the sinks it goes to.
    Deliver(Delivery, usize, Vec<usize>),
    /// A failed record: its dead-letter id and line.
    Dead((String, String), Value),
}

/// Maps every record of a batch with one mapping (no record sees half of a
/// reload) and routes it. CPU work only, without the state store: it runs
/// on its own thread, ahead of delivery. `read_with` is the projection the
/// source read with: a mapping that reads other parts, or a route that
/// reads the input, parses each record whole.
pub(crate) fn map_batch(
    mapping: Arc<Mapping>,
    read_with: Option<&mapwright_dsl::Projection>,
    routes: &Routes,
    metrics: &Metrics,
    batch: Batch,
) -> Mapped {
    let reparse = read_with.is_some() && mapping.projection() != read_with;
    let routes_read_input = read_with.is_some() && routes.iter().flatten().any(|p| !p.reads().is_empty());
    let mut items = Vec::with_capacity(batch.records.len());
    let mut drift: Vec<Value> = Vec::new();
    for (i, rec) in batch.records.iter().enumerate() {
        metrics.records_in.inc();
        let whole;
        let value = match &rec.value {
            Ok(v) if reparse => {
                whole = rec.full();
                whole.as_ref().unwrap_or(v)
            }
            Ok(v) => v,
            Err(bad) => {
                let id = dead_id(&Value::Null, &Value::str(&bad.raw), mapping.content_hash());
                items.push(Item::Dead(id, dead_letter::unreadable(&mapping, bad)));
                continue;
            }
        };
        let started = Instant::now();
        let r = mapping.run(value);
        metrics.mapping_latency.observe(started.elapsed().as_secs_f64());
        if !matches!(r.outcome, Outcome::Failed(_)) {
            metrics.warnings.inc_by(r.warnings.len() as u64);
            for w in &r.warnings {
                tracing::warn!(origin = %rec.origin, key = %r.key, field = %w.field, "{}", w.message);
            }
        }
        for d in &r.drift {
            metrics.conflicts.inc();
            drift.push(d.to_value(&r.key, &mapping));
        }
        match r.outcome {
            Outcome::Mapped(out) => {
                let full;
                let input = if routes_read_input && !reparse {
                    full = rec.full();
                    full.as_ref().unwrap_or(value)
                } else {
                    value
                };
                match route(routes, &out, input) {
                    Ok(to) => items.push(Item::Deliver(Delivery::new(r.key, out, mapping.content_hash()), i, to)),
                    Err(error) => {
                        let input = rec.full().unwrap_or_else(|| value.clone());
                        let id = dead_id(&r.key, &input, mapping.content_hash());
                        items.push(Item::Dead(id, dead_letter::line(&mapping, &r.key, &[error], &input)));
                    }
                }
            }
            Outcome::Filtered => {
                metrics.filtered.inc();
            }
            Outcome::Failed(errors) => {
                let input = rec.full().unwrap_or_else(|| value.clone());
                let id = dead_id(&r.key, &input, mapping.content_hash());
                items.push(Item::Dead(id, dead_letter::line(&mapping, &r.key, &errors, &input)));
            }
        }
    }
    Mapped { batch, mapping, items, drift }
}

/// The sinks whose `when:` holds for `out` (and the input `$`); an error
/// in a `when:` fails the record, naming the sink's condition.
fn route(routes: &Routes, out: &Value, input: &Value) -> Result<Vec<usize>, FieldError> {
    let mut to = Vec::with_capacity(routes.len());
    for (i, when) in routes.iter().enumerate() {
        let Some(when) = when else {
            to.push(i);
            continue;
        };
        let ctx = Ctx::new(input, &NoHost).with_out(out);
        match when.eval_bool(&ctx) {
            Ok(true) => to.push(i),
            Ok(false) => {}
            Err(e) => return Err(FieldError::new("", format!("when: {}", when.text()), e.to_string(), None)),
        }
    }
    Ok(to)
}

/// One sink as the dispatcher sees it.
pub(crate) struct Outlet {
    /// The sink's name, for dead letters.
    pub name: String,
    /// What its delivered marks start with: `""` for the one unnamed
    /// `sink:`, else its name and U+001F.
    pub ns: String,
    /// Its scheduler's queue; `None` once closed.
    pub jobs: Option<mpsc::UnboundedSender<Job>>,
}

impl Outlet {
    fn mark(&self, key: &str) -> String {
        if self.ns.is_empty() { key.to_string() } else { format!("{}{key}", self.ns) }
    }
}

/// What the dispatcher works with.
pub(crate) struct Dispatcher {
    /// The state store.
    pub state: State,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The sinks, in `sinks:` order.
    pub outlets: Vec<Outlet>,
    /// Where failed records go.
    pub dead_letter: LineSink,
    /// Where drift lines go.
    pub drift: Option<LineSink>,
    /// Drop-folder files handed out and not yet moved.
    pub taken: Taken,
    /// Drop folder: where finished files go (`done`, `failed`).
    pub dir_targets: Option<(PathBuf, PathBuf)>,
    /// A progress bar for batch runs on a terminal.
    pub progress: Option<indicatif::ProgressBar>,
    /// Records open (read, not committed) at most before intake waits.
    pub max_pending: usize,
}

/// A batch handed to the sinks and not yet committed.
struct Open {
    commit: Commit,
    /// The input records, for the dead letter of a refused record.
    records: Vec<InputRecord>,
    mapping: Arc<Mapping>,
    /// Per record: sinks still to hear from, and whether one failed.
    left: Vec<(u16, bool)>,
    /// Jobs not yet done, over all records.
    remaining: usize,
    /// Whether any record of the batch went to the dead letter.
    failed: bool,
    /// A job came back undone at a stop: the batch is read again.
    stopped: bool,
    /// When it was admitted, for the lag.
    admitted: Instant,
}

/// The dispatcher at work.
struct Run {
    d: Dispatcher,
    /// Batches in the order they were read; the first has number `first`.
    open: VecDeque<Open>,
    first: u64,
    /// (sink, mark key, hash) of every job given to a sink and not done,
    /// with the repeats of it that arrived meanwhile (batch, record): they
    /// are done when it is, so a repeat's batch is not committed — its
    /// inbox row deleted, its message acknowledged — before the record is
    /// delivered.
    in_flight: HashMap<(usize, String, String), Vec<(u64, usize)>>,
    /// Records in open batches.
    pending: usize,
    /// Drop-folder files with a failed record so far.
    dir_failed: HashSet<PathBuf>,
}

impl Dispatcher {
    /// Runs until the input ends and everything is committed, or `stop`
    /// fires (what is in flight is let finish and marked; batches not
    /// finished are read again at the next start). `reports` comes from
    /// the sinks' schedulers; `halt` stops the run when a sink fails for
    /// good. `Err` says what failed.
    pub(crate) async fn run(
        self,
        mut mapped: mpsc::Receiver<Mapped>,
        mut reports: mpsc::UnboundedReceiver<Report>,
        stop: Stop,
        halt: Arc<StopHandle>,
    ) -> Result<(), String> {
        let mut run = Run {
            d: self,
            open: VecDeque::new(),
            first: 0,
            in_flight: HashMap::new(),
            pending: 0,
            dir_failed: HashSet::new(),
        };
        let mut input = true;
        let mut result = Ok(());
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            if !input && run.open.is_empty() {
                break;
            }
            let room = run.pending < run.d.max_pending;
            tokio::select! {
                biased;
                report = reports.recv() => {
                    let Some(report) = report else { break };
                    if let Err(e) = run.reported(report, &mut reports) {
                        result = Err(e);
                        break;
                    }
                }
                batch = mapped.recv(), if input && room && !stop.is_stopped() => match batch {
                    Some(batch) => {
                        if let Err(e) = run.admit(batch) {
                            result = Err(e);
                            break;
                        }
                    }
                    None => input = false,
                },
                _ = stop.clone().wait(), if !stop.is_stopped() => {}
                _ = tick.tick() => {}
            }
            if stop.is_stopped() {
                break;
            }
            run.lag();
        }
        if result.is_err() {
            halt.stop();
        }
        // Wind down: no more jobs; what is in flight finishes (or stops)
        // and is marked; the schedulers end and the reports close.
        for o in &mut run.d.outlets {
            o.jobs = None;
        }
        drop(mapped);
        while let Some(report) = reports.recv().await {
            if let Err(e) = run.reported(report, &mut reports) {
                halt.stop();
                if result.is_ok() {
                    result = Err(e);
                }
            }
        }
        run.lag();
        result
    }
}

impl Run {
    /// Takes a mapped batch: writes its failed records and drift, and
    /// gives each record to the sinks it goes to that do not have it yet.
    fn admit(&mut self, mapped: Mapped) -> Result<(), String> {
        let Mapped { batch, mapping, items, drift } = mapped;
        let seq = self.first + self.open.len() as u64;
        let metrics = self.d.metrics.clone();
        let mut left = vec![(0u16, false); batch.records.len()];
        let mut remaining = 0;
        let mut dead: Vec<Value> = Vec::new();
        // Failed records already dead-lettered by this mapping: a re-read
        // file or a repeated webhook does not fill the dead letter twice.
        let mut dead_ids: Vec<(String, String)> = Vec::new();
        for item in items {
            match item {
                Item::Deliver(d, idx, to) => {
                    if to.is_empty() {
                        metrics.filtered.inc();
                        continue;
                    }
                    let d = Arc::new(d);
                    let (mut jobs, mut waits) = (0u16, 0u16);
                    for sink in to {
                        let outlet = &self.d.outlets[sink];
                        let mark = outlet.mark(&d.key_text);
                        let id = (sink, mark, d.hash.clone());
                        if let Some(waiters) = self.in_flight.get_mut(&id) {
                            waiters.push((seq, idx));
                            waits += 1;
                            continue;
                        }
                        if self.d.state.is_delivered(&id.1, &id.2).map_err(|e| e.to_string())? {
                            continue;
                        }
                        let Some(tx) = &outlet.jobs else { continue };
                        if tx.send(Job { seq, idx, delivery: d.clone() }).is_err() {
                            return Err(format!("internal: the scheduler of sink {} is gone", outlet.name));
                        }
                        self.in_flight.insert(id, Vec::new());
                        jobs += 1;
                    }
                    if jobs == 0 {
                        metrics.duplicates.inc();
                    }
                    left[idx].0 = jobs + waits;
                    remaining += usize::from(jobs + waits);
                }
                Item::Dead(id, line) => {
                    let seen =
                        dead_ids.contains(&id) || self.d.state.is_delivered(&id.0, &id.1).map_err(|e| e.to_string())?;
                    if seen {
                        metrics.duplicates.inc();
                    } else {
                        dead.push(line);
                        dead_ids.push(id);
                    }
                }
            }
        }
        metrics.failed.inc_by(dead.len() as u64);
        metrics.dead_letters.inc_by(dead.len() as u64);
        self.d
            .dead_letter
            .write(&dead.iter().collect::<Vec<_>>())
            .map_err(|e| format!("cannot write the dead letter: {e}"))?;
        self.d
            .state
            .mark_delivered(dead_ids.iter().map(|(k, h)| (k.as_str(), h.as_str())))
            .map_err(|e| e.to_string())?;
        if let Some(d) = &mut self.d.drift {
            d.write(&drift.iter().collect::<Vec<_>>()).map_err(|e| format!("cannot write drift: {e}"))?;
        }
        self.pending += batch.records.len();
        self.open.push_back(Open {
            commit: batch.commit,
            records: batch.records,
            mapping,
            left,
            remaining,
            failed: !dead.is_empty(),
            stopped: false,
            admitted: Instant::now(),
        });
        self.commit_ready()
    }

    /// Takes a report and every other one already waiting: marks what was
    /// delivered (one transaction), dead-letters what was refused, and
    /// commits the batches that are done.
    fn reported(&mut self, first: Report, more: &mut mpsc::UnboundedReceiver<Report>) -> Result<(), String> {
        let mut done: Vec<Done> = Vec::new();
        let mut fatal = None;
        let mut next = Some(first);
        while let Some(report) = next.take() {
            match report {
                Report::Done(d) => done.extend(d),
                Report::Fatal(e) => fatal = fatal.or(Some(e)),
            }
            if done.len() < 10_000 {
                next = more.try_recv().ok();
            }
        }
        let mut marks: Vec<(String, String)> = Vec::new();
        let mut dead: Vec<Value> = Vec::new();
        let metrics = self.d.metrics.clone();
        for job in &done {
            let Some(open) = job.seq.checked_sub(self.first).and_then(|i| self.open.get_mut(i as usize)) else {
                continue;
            };
            let outlet = &self.d.outlets[job.sink];
            let mark = outlet.mark(&job.delivery.key_text);
            let failure = match &job.sent {
                Sent::Delivered => {
                    marks.push((mark.clone(), job.delivery.hash.clone()));
                    None
                }
                Sent::Rejected(r) => Some(format!("the sink rejected the record: {r}")),
                Sent::GaveUp(r) => Some(format!("the sink could not be reached within retry.max_elapsed: {r}")),
                Sent::Stopped => {
                    open.stopped = true;
                    None
                }
            };
            let slot = &mut open.left[job.idx];
            slot.0 = slot.0.saturating_sub(1);
            open.remaining = open.remaining.saturating_sub(1);
            if let Some(reason) = failure {
                let expr = if outlet.ns.is_empty() { "sink".to_string() } else { format!("sink {}", outlet.name) };
                let error = FieldError::new("", expr, reason, None);
                let input = open.records.get(job.idx).and_then(InputRecord::full).unwrap_or(Value::Null);
                dead.push(dead_letter::line(&open.mapping, &job.delivery.key, &[error], &input));
                open.failed = true;
                if !slot.1 {
                    metrics.failed.inc();
                }
                slot.1 = true;
            }
            if slot.0 == 0 && !slot.1 && job.sent == Sent::Delivered {
                metrics.records_out.inc();
            }
        }
        // The records' marks first: a crash after the sink's write and
        // before its mark only sends them again, with the same key.
        self.d.state.mark_delivered(marks.iter().map(|(k, h)| (k.as_str(), h.as_str()))).map_err(|e| e.to_string())?;
        metrics.dead_letters.inc_by(dead.len() as u64);
        self.d
            .dead_letter
            .write(&dead.iter().collect::<Vec<_>>())
            .map_err(|e| format!("cannot write the dead letter: {e}"))?;
        for job in done {
            let mark = self.d.outlets[job.sink].mark(&job.delivery.key_text);
            let waiters = self.in_flight.remove(&(job.sink, mark, job.delivery.hash.clone())).unwrap_or_default();
            for (seq, idx) in waiters {
                let Some(open) = seq.checked_sub(self.first).and_then(|i| self.open.get_mut(i as usize)) else {
                    continue;
                };
                let slot = &mut open.left[idx];
                slot.0 = slot.0.saturating_sub(1);
                open.remaining = open.remaining.saturating_sub(1);
                open.stopped |= job.sent == Sent::Stopped;
            }
        }
        if let Some(e) = fatal {
            return Err(e);
        }
        self.commit_ready()
    }

    /// Commits the finished batches at the front, in the order they were
    /// read (a cursor never passes a record not done).
    fn commit_ready(&mut self) -> Result<(), String> {
        while self.open.front().is_some_and(|o| o.remaining == 0 && !o.stopped) {
            let Some(open) = self.open.pop_front() else { break };
            self.first += 1;
            self.pending -= open.records.len();
            if let Some(p) = &self.d.progress {
                p.inc(open.records.len() as u64);
            }
            self.commit(open.commit, open.failed)?;
        }
        Ok(())
    }

    fn commit(&mut self, commit: Commit, failed: bool) -> Result<(), String> {
        match commit {
            Commit::Nothing => Ok(()),
            Commit::Inbox { ids, size } => {
                self.d.state.inbox_done(&ids).map_err(|e| e.to_string())?;
                self.d.metrics.inbox_moved(-1, size);
                Ok(())
            }
            Commit::Acks { keys, held } => {
                held.ack(&keys);
                Ok(())
            }
            Commit::Cursor { source, value } => self.d.state.set_cursor(&source, &value).map_err(|e| e.to_string()),
            Commit::DirFile { path, last } => {
                if failed {
                    self.dir_failed.insert(path.clone());
                }
                if !last {
                    return Ok(());
                }
                let any_failed = self.dir_failed.remove(&path);
                if let Some((done, failed_dir)) = &self.d.dir_targets {
                    let to = if any_failed { failed_dir } else { done };
                    match dir::move_into(&path, to) {
                        Ok(target) => tracing::info!(file = %path.display(), to = %target.display(), "processed"),
                        Err(e) => {
                            return Err(format!("cannot move {} to {}: {e}", path.display(), to.display()));
                        }
                    }
                }
                self.d.taken.lock().unwrap_or_else(|p| p.into_inner()).remove(&path);
                Ok(())
            }
        }
    }

    /// The lag: how long the oldest open batch has waited.
    fn lag(&self) {
        let age = self.open.front().map_or(0, |o| o.admitted.elapsed().as_secs());
        self.d.metrics.oldest_pending.set(age as i64);
    }
}

/// The state-store identity of a dead-lettered record: `dead:<key>` and the
/// hash of its input under this mapping.
fn dead_id(key: &Value, input: &Value, mapping_hash: &str) -> (String, String) {
    let d = Delivery::new(key.clone(), input.clone(), mapping_hash);
    (format!("dead:{}", d.key_text), d.hash)
}
