//! The processor, in two stages: [`map_batch`] maps each record of a batch
//! with the mapping in use (on its own thread, one batch ahead), then
//! [`Processor::finish`] skips what was already delivered, delivers to the
//! sink, writes dead letters and drift, and commits the batch (inbox row
//! deleted, file moved, cursor moved). Duplicates are found at delivery,
//! not while mapping: a batch's records may repeat the previous batch's,
//! whose marks are written only when it is finished.
//!
//! Order of durability, per batch: the sink's write (or each HTTP record)
//! → the `delivered` marks → dead letters and drift synced → the commit.
//! A crash anywhere re-reads the batch; records already marked delivered
//! are skipped, so only records whose delivery was in flight are sent
//! again, with the same idempotency key.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use mapwright_dsl::Value;

use crate::Stop;
use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::sinks::{LineSink, Sink};
use crate::sources::dir::{self, Taken};
use crate::sources::{Batch, Commit};
use crate::state::State;
use mapwright_engine::{FieldError, Mapping, Outcome, dead_letter};

/// Why the processor stopped before the end.
#[derive(Debug)]
pub(crate) enum Halt {
    /// A stop signal arrived mid-batch; the batch will be read again.
    Stopped,
    /// The sink, the dead letter or the state store failed.
    Failed(String),
}

/// The processor's state.
pub(crate) struct Processor {
    /// The state store.
    pub state: State,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Where mapped records go.
    pub sink: Sink,
    /// Where failed records go.
    pub dead_letter: LineSink,
    /// Where drift lines go.
    pub drift: Option<LineSink>,
    /// Drop-folder files handed out and not yet moved.
    pub taken: Taken,
    /// Drop folder: where finished files go (`done`, `failed`).
    pub dir_targets: Option<(PathBuf, PathBuf)>,
    /// Drop folder: files with a failed record so far.
    pub dir_failed: HashSet<PathBuf>,
    /// A progress bar for batch runs on a terminal.
    pub progress: Option<indicatif::ProgressBar>,
}

/// A batch with every record mapped, waiting to be delivered and
/// committed.
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
    /// A mapped record to deliver, with its index in the batch.
    Deliver(Delivery, usize),
    /// A failed record: its dead-letter id and line.
    Dead((String, String), Value),
}

/// Maps every record of a batch with one mapping (no record sees half of a
/// reload). CPU work only, without the state store: it runs on its own
/// thread, one batch ahead of delivery, which needs the previous batch's
/// marks to find duplicates. `read_with` is the projection the source read
/// with: a mapping that reads other parts parses each record whole.
pub(crate) fn map_batch(
    mapping: Arc<Mapping>,
    read_with: Option<&mapwright_dsl::Projection>,
    metrics: &Metrics,
    batch: Batch,
) -> Mapped {
    let reparse = read_with.is_some() && mapping.projection() != read_with;
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
                items.push(Item::Deliver(Delivery::new(r.key, out, mapping.content_hash()), i));
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

impl Processor {
    /// Delivers a mapped batch, writes its dead letters and drift, and
    /// commits it.
    pub(crate) async fn finish(&mut self, mapped: Mapped, stop: &Stop) -> Result<(), Halt> {
        let Mapped { batch, mapping, items, drift } = mapped;
        let metrics = self.metrics.clone();
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut inputs: Vec<usize> = Vec::new();
        let mut dead: Vec<Value> = Vec::new();
        let mut in_batch: HashSet<(String, String)> = HashSet::new();
        // Failed records already dead-lettered by this mapping: a re-read
        // file or a repeated webhook does not fill the dead letter twice.
        let mut dead_ids: Vec<(String, String)> = Vec::new();
        for item in items {
            match item {
                Item::Deliver(d, i) => {
                    let id = (d.key_text.clone(), d.hash.clone());
                    let seen = in_batch.contains(&id)
                        || self.state.is_delivered(&d.key_text, &d.hash).map_err(|e| Halt::Failed(e.to_string()))?;
                    if seen {
                        metrics.duplicates.inc();
                    } else {
                        in_batch.insert(id);
                        deliveries.push(d);
                        inputs.push(i);
                    }
                }
                Item::Dead(id, line) => {
                    if self.seen_dead(&id, &mut dead_ids)? {
                        metrics.duplicates.inc();
                    } else {
                        dead.push(line);
                        dead_ids.push(id);
                    }
                }
            }
        }
        let sent = self.sink.deliver(&deliveries, &self.state, &metrics, stop).await.map_err(Halt::Failed)?;
        let mut undelivered = vec![false; deliveries.len()];
        for (j, outcome) in sent {
            undelivered[j] = true;
            let reason = match outcome {
                Sent::Stopped => return Err(Halt::Stopped),
                Sent::Delivered => continue,
                Sent::Rejected(r) => format!("the sink rejected the record: {r}"),
                Sent::GaveUp(r) => format!("the sink could not be reached after every retry: {r}"),
            };
            let d = &deliveries[j];
            let error = FieldError::new("", "sink", reason, None);
            let rec = &batch.records[inputs[j]];
            let input = rec.full().unwrap_or(Value::Null);
            dead.push(dead_letter::line(&mapping, &d.key, &[error], &input));
        }
        metrics.records_out.inc_by(undelivered.iter().filter(|u| !**u).count() as u64);
        metrics.failed.inc_by(dead.len() as u64);
        metrics.dead_letters.inc_by(dead.len() as u64);
        self.dead_letter
            .write(&dead.iter().collect::<Vec<_>>())
            .map_err(|e| Halt::Failed(format!("cannot write the dead letter: {e}")))?;
        self.state
            .mark_delivered(dead_ids.iter().map(|(k, h)| (k.as_str(), h.as_str())))
            .map_err(|e| Halt::Failed(e.to_string()))?;
        if let Some(d) = &mut self.drift {
            d.write(&drift.iter().collect::<Vec<_>>()).map_err(|e| Halt::Failed(format!("cannot write drift: {e}")))?;
        }
        if let Some(p) = &self.progress {
            p.inc(batch.records.len() as u64);
        }
        self.commit(batch.commit, !dead.is_empty()).map_err(Halt::Failed)
    }

    fn seen_dead(&self, id: &(String, String), batch: &mut [(String, String)]) -> Result<bool, Halt> {
        Ok(batch.contains(id) || self.state.is_delivered(&id.0, &id.1).map_err(|e| Halt::Failed(e.to_string()))?)
    }

    fn commit(&mut self, commit: Commit, failed: bool) -> Result<(), String> {
        match commit {
            Commit::Nothing => Ok(()),
            Commit::Inbox(id) => {
                self.state.inbox_done(id).map_err(|e| e.to_string())?;
                self.metrics.inbox.dec();
                Ok(())
            }
            Commit::Cursor { source, value } => self.state.set_cursor(&source, &value).map_err(|e| e.to_string()),
            Commit::DirFile { path, last } => {
                if failed {
                    self.dir_failed.insert(path.clone());
                }
                if !last {
                    return Ok(());
                }
                let any_failed = self.dir_failed.remove(&path);
                if let Some((done, failed_dir)) = &self.dir_targets {
                    let to = if any_failed { failed_dir } else { done };
                    match dir::move_into(&path, to) {
                        Ok(target) => tracing::info!(file = %path.display(), to = %target.display(), "processed"),
                        Err(e) => {
                            return Err(format!("cannot move {} to {}: {e}", path.display(), to.display()));
                        }
                    }
                }
                self.taken.lock().unwrap_or_else(|p| p.into_inner()).remove(&path);
                Ok(())
            }
        }
    }
}

/// The state-store identity of a dead-lettered record: `dead:<key>` and the
/// hash of its input under this mapping.
fn dead_id(key: &Value, input: &Value, mapping_hash: &str) -> (String, String) {
    let d = Delivery::new(key.clone(), input.clone(), mapping_hash);
    (format!("dead:{}", d.key_text), d.hash)
}
