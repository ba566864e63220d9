//! The delivery queue of one sink: how many requests are in flight, which
//! records go together, and the order of each key.
//!
//! Records arrive in input order. Each key has its own queue: a record is
//! sent only when no request of its key is in flight, so two records with
//! the same key are never in flight at once and reach the sink in input
//! order; records of different keys go side by side, up to `concurrency`
//! requests at a time (records without a key have no order to keep). A
//! request carries up to `batch.max_records` records (and
//! `batch.max_bytes`), of distinct keys; a request that is not full waits
//! up to `batch.max_wait` for more.
//!
//! Each request is tried until it is delivered, refused, or the retry
//! policy gives up (`retry.rs`), through the sink's rate limit and circuit
//! breaker. A refused request of several records is split: each record is
//! tried alone, so that one bad record does not take its neighbours to the
//! dead letter. What became of each record goes back to the dispatcher
//! (`runtime.rs`), which marks, dead-letters and commits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::Stop;
use crate::breaker::Breaker;
use crate::delivery::{Delivery, Sent};
use crate::metrics::SinkMetrics;
use crate::rate_limit::RateLimit;
use crate::retry::{Retry, Tries};
use crate::sinks::{BatchSpec, Failure, Sink};

/// One record for one sink: where it came from (the batch's sequence
/// number and the record's index in it) and what to send.
#[derive(Clone)]
pub(crate) struct Job {
    pub seq: u64,
    pub idx: usize,
    pub delivery: Arc<Delivery>,
}

impl Job {
    fn order_key(&self) -> Arc<str> {
        order_key(self.seq, self.idx, &self.delivery)
    }
}

/// What orders a record: its key, or (without one) nothing to keep in
/// order with.
fn order_key(seq: u64, idx: usize, delivery: &Delivery) -> Arc<str> {
    if delivery.key_text.is_empty() {
        Arc::from(format!("\u{0}{seq}.{idx}"))
    } else {
        Arc::from(delivery.key_text.as_str())
    }
}

/// What became of one job.
pub(crate) struct Done {
    pub sink: usize,
    pub seq: u64,
    pub idx: usize,
    pub delivery: Arc<Delivery>,
    pub sent: Sent,
}

/// What the scheduler reports to the dispatcher.
pub(crate) enum Report {
    /// Records that are done (delivered, refused, given up, or stopped).
    Done(Vec<Done>),
    /// The sink cannot take records at all (a local file cannot be
    /// written): the run stops.
    Fatal(String),
}

/// A sink and how to deliver to it.
pub(crate) struct Delivering {
    pub index: usize,
    pub name: String,
    pub sink: Sink,
    pub concurrency: usize,
    pub batch: BatchSpec,
    pub retry: Retry,
    pub breaker: Arc<Breaker>,
    pub rate: Option<RateLimit>,
    pub metrics: Arc<SinkMetrics>,
}

/// Per-key queues; or, for a sink that writes lines (one request at a
/// time), one queue in input order, so that the file reads as the input.
#[derive(Default)]
struct Queue {
    /// One queue in input order.
    fifo: Option<VecDeque<Job>>,
    pending: HashMap<Arc<str>, VecDeque<Job>>,
    /// Keys whose first record may go (no request of the key in flight),
    /// in the order their first record arrived.
    ready: VecDeque<Arc<str>>,
    /// Keys with a request in flight.
    busy: HashSet<Arc<str>>,
    len: usize,
}

impl Queue {
    fn in_order() -> Queue {
        Queue { fifo: Some(VecDeque::new()), ..Queue::default() }
    }

    fn push(&mut self, job: Job) {
        self.len += 1;
        if let Some(line) = &mut self.fifo {
            line.push_back(job);
            return;
        }
        let key = job.order_key();
        match self.pending.get_mut(&key) {
            Some(q) => q.push_back(job),
            None => {
                self.pending.insert(key.clone(), VecDeque::from([job]));
                if !self.busy.contains(&key) {
                    self.ready.push_back(key);
                }
            }
        }
    }

    /// Up to `max_records` first records of distinct ready keys, within
    /// `max_bytes` (one record always fits).
    fn take(&mut self, max_records: usize, max_bytes: usize) -> Vec<Job> {
        let mut out: Vec<Job> = Vec::new();
        let mut bytes = 0;
        if let Some(line) = &mut self.fifo {
            while out.len() < max_records {
                let Some(size) = line.front().map(|j| j.delivery.json.len()) else { break };
                if !out.is_empty() && bytes + size > max_bytes {
                    break;
                }
                bytes += size;
                out.extend(line.pop_front());
            }
            self.len -= out.len();
            return out;
        }
        while out.len() < max_records {
            let Some(key) = self.ready.front().cloned() else { break };
            let size = self.pending.get(&key).and_then(|q| q.front()).map_or(0, |j| j.delivery.json.len());
            if !out.is_empty() && bytes + size > max_bytes {
                break;
            }
            self.ready.pop_front();
            let Some(q) = self.pending.get_mut(&key) else { continue };
            let Some(job) = q.pop_front() else { continue };
            if q.is_empty() {
                self.pending.remove(&key);
            }
            self.busy.insert(key);
            self.len -= 1;
            bytes += size;
            out.push(job);
        }
        out
    }

    /// The request of `key` is done: its next record may go.
    fn release(&mut self, key: &Arc<str>) {
        self.busy.remove(key);
        if self.pending.contains_key(key) {
            self.ready.push_back(key.clone());
        }
    }

    fn ready_count(&self) -> usize {
        match &self.fifo {
            Some(line) => line.len(),
            None => self.ready.len(),
        }
    }
}

/// Runs the sink's queue until `jobs` closes and everything is done, or
/// `stop` fires (requests in flight are let finish: a stop during a wait
/// ends it at once, a request on the wire completes or times out).
pub(crate) async fn run(
    d: Arc<Delivering>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
    report: mpsc::UnboundedSender<Report>,
    stop: Stop,
) {
    let mut queue = if matches!(d.sink, Sink::Lines(_)) { Queue::in_order() } else { Queue::default() };
    let mut tasks: JoinSet<Result<Vec<Done>, String>> = JoinSet::new();
    let mut open = true;
    // When the first record of a partial batch became ready.
    let mut partial_since: Option<Instant> = None;
    loop {
        // Start what may start.
        while !stop.is_stopped() && tasks.len() < d.concurrency {
            let full = queue.ready_count() >= d.batch.max_records;
            let waited = partial_since.is_some_and(|t| t.elapsed() >= d.batch.max_wait);
            if queue.ready_count() == 0 || !(full || waited || !open || d.batch.max_wait.is_zero()) {
                if queue.ready_count() > 0 && partial_since.is_none() {
                    partial_since = Some(Instant::now());
                }
                break;
            }
            let request = queue.take(d.batch.max_records, d.batch.max_bytes);
            partial_since = None;
            if request.is_empty() {
                break;
            }
            d.metrics.queued.set(queue.len as i64);
            let (d2, stop2) = (d.clone(), stop.clone());
            tasks.spawn(async move { send(&d2, request, &stop2).await });
        }
        d.metrics.in_flight.set(tasks.len() as i64);
        if !open && queue.len == 0 && tasks.is_empty() {
            return;
        }
        if stop.is_stopped() && tasks.is_empty() {
            return;
        }
        let timer = match partial_since {
            Some(t) if tasks.len() < d.concurrency => d.batch.max_wait.saturating_sub(t.elapsed()),
            _ => Duration::from_secs(3600),
        };
        tokio::select! {
            job = jobs.recv(), if open && !stop.is_stopped() => match job {
                Some(job) => {
                    queue.push(job);
                    // Take what else is there, so a burst becomes full requests.
                    while let Ok(job) = jobs.try_recv() {
                        queue.push(job);
                    }
                    d.metrics.queued.set(queue.len as i64);
                }
                None => open = false,
            },
            done = tasks.join_next(), if !tasks.is_empty() => {
                let done = match done {
                    Some(Ok(Ok(done))) => done,
                    Some(Ok(Err(fatal))) => {
                        let _ = report.send(Report::Fatal(fatal));
                        return;
                    }
                    Some(Err(e)) => {
                        let _ = report.send(Report::Fatal(format!("internal: a delivery task of sink {} failed: {e}", d.name)));
                        return;
                    }
                    None => continue,
                };
                if queue.fifo.is_none() {
                    for job in &done {
                        queue.release(&order_key(job.seq, job.idx, &job.delivery));
                    }
                }
                if report.send(Report::Done(done)).is_err() {
                    return;
                }
            },
            _ = tokio::time::sleep(timer) => {}
            _ = stop.clone().wait(), if !stop.is_stopped() => {}
        }
    }
}

/// Sends one request of `jobs` until it is done; a refused request of
/// several records is tried again record by record. `Err` is fatal.
pub(crate) async fn send(d: &Delivering, jobs: Vec<Job>, stop: &Stop) -> Result<Vec<Done>, String> {
    let outcome = deliver(d, &jobs, stop).await?;
    let done = |job: Job, sent: Sent| Done { sink: d.index, seq: job.seq, idx: job.idx, delivery: job.delivery, sent };
    if let (Sent::Rejected(_), true) = (&outcome, jobs.len() > 1) {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let sent = deliver(d, std::slice::from_ref(&job), stop).await?;
            out.push(done(job, sent));
        }
        return Ok(out);
    }
    Ok(jobs.into_iter().map(|job| done(job, outcome.clone())).collect())
}

/// Tries one request until it is delivered or refused, or the policy
/// gives up, or the pipeline stops.
pub(crate) async fn deliver(d: &Delivering, jobs: &[Job], stop: &Stop) -> Result<Sent, String> {
    let deliveries: Vec<&Delivery> = jobs.iter().map(|j| j.delivery.as_ref()).collect();
    let mut tries = Tries::new(&d.retry);
    loop {
        if let Some(rate) = &d.rate {
            if !rate.acquire(stop).await {
                return Ok(Sent::Stopped);
            }
        }
        let Some(admit) = d.breaker.admit(stop).await else { return Ok(Sent::Stopped) };
        let started = Instant::now();
        let result = d.sink.try_send(&deliveries).await;
        d.metrics.latency.observe(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                d.breaker.success();
                d.metrics.delivered(deliveries.len());
                return Ok(Sent::Delivered);
            }
            Err(Failure::Refused(reason)) => {
                d.breaker.success();
                return Ok(Sent::Rejected(reason));
            }
            Err(Failure::Fatal(reason)) => return Err(reason),
            Err(Failure::Transient { reason, after }) => {
                d.breaker.failure(admit, &reason);
                let Some(wait) = tries.next_wait(after) else {
                    tracing::warn!(sink = %d.name, tries = tries.failed, reason = %reason, "giving up: the records go to the dead letter");
                    return Ok(Sent::GaveUp(reason));
                };
                d.metrics.retries.inc();
                if tries.failed <= 3 || tries.failed.is_power_of_two() {
                    tracing::warn!(sink = %d.name, attempt = tries.failed, wait_ms = wait.as_millis() as u64, reason = %reason, "retrying");
                }
                if stop.sleep(wait).await {
                    return Ok(Sent::Stopped);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapwright_dsl::Value;

    fn job(seq: u64, idx: usize, key: &str) -> Job {
        Job { seq, idx, delivery: Arc::new(Delivery::new(Value::str(key), Value::str("x"), "h")) }
    }

    #[test]
    fn one_key_never_goes_twice_at_once_and_keeps_its_order() {
        let mut q = Queue::default();
        for (i, k) in ["a", "b", "a", "c", "a"].iter().enumerate() {
            q.push(job(1, i, k));
        }
        let first = q.take(10, usize::MAX);
        assert_eq!(first.iter().map(|j| j.idx).collect::<Vec<_>>(), [0, 1, 3], "one record per key");
        assert!(q.take(10, usize::MAX).is_empty(), "a, b and c are busy");
        q.release(&first[0].order_key());
        let second = q.take(10, usize::MAX);
        assert_eq!(second.iter().map(|j| j.idx).collect::<Vec<_>>(), [2], "a's next record, in order");
        q.release(&second[0].order_key());
        assert_eq!(q.take(10, usize::MAX).iter().map(|j| j.idx).collect::<Vec<_>>(), [4]);
    }

    #[test]
    fn records_without_a_key_go_side_by_side_and_requests_respect_their_limits() {
        let mut q = Queue::default();
        for i in 0..5 {
            q.push(job(1, i, ""));
        }
        assert_eq!(q.take(2, usize::MAX).len(), 2);
        assert_eq!(q.take(10, 1).len(), 1, "one record always fits, a second would pass max_bytes");
        assert_eq!(q.len, 2);
    }
}
