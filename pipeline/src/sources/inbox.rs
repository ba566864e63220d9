//! The inbox of the push sources (`http`, and `nats` without a stream):
//! payloads are stored in the state store before the sender is answered,
//! read back in arrival order — what a previous run left first — parsed
//! into records and handed to the dispatcher.
//!
//! Storing is group-committed ([`Writer`]): the payloads that arrive while
//! one transaction is being synced go together in the next, so a burst of
//! webhooks costs one disk sync per group rather than one each, and every
//! sender still hears back only once its payload is on disk.
//!
//! Reading ([`feed`]) takes payloads in arrival order into batches of at
//! most [`super::BATCH`] records: small payloads go together, a large one
//! is cut into several batches. A payload's row is deleted with the batch
//! that holds its last record ([`Commit::Inbox`]) — once every record in it
//! is delivered, filtered or dead-lettered; a restart in between reads the
//! payload again and skips what was delivered.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mapwright_dsl::Projection;
use mapwright_engine::input::{self, Format, InputRecord, Source};
use tokio::sync::{Notify, mpsc, oneshot};

use super::{BATCH, Batch, Commit};
use crate::Stop;
use crate::metrics::Metrics;
use crate::state::{InboxSize, State};

/// Payloads read from the store at a time, at most.
const READ_AT_ONCE: usize = 256;

/// Bytes of payloads read from the store at a time (past the first).
const READ_BYTES: usize = 8 << 20;

/// Feeds inbox payloads to the dispatcher until stopped; `wake` is
/// notified when a payload is stored. Records are built with `projection`
/// (the parts the mapping reads).
pub(crate) async fn feed(
    state: State,
    wake: Arc<Notify>,
    tx: mpsc::Sender<Batch>,
    stop: Stop,
    projection: Option<Arc<Projection>>,
) {
    let mut after = 0;
    loop {
        let pending = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.inbox_after(after, READ_AT_ONCE, READ_BYTES)).await
        };
        let pending = match pending {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                tracing::error!("{e}");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        if pending.is_empty() {
            tokio::select! {
                _ = stop.clone().wait() => return,
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        let mut records: Vec<InputRecord> = Vec::new();
        let mut done = InboxSize::default();
        let mut ids = Vec::new();
        for p in pending {
            after = p.id;
            let origin = format!("inbox#{}", p.id);
            let size = InboxSize { payloads: 1, records: p.records, bytes: p.len };
            // A large payload is read from a spooled copy, record by
            // record, rather than whole into memory.
            let mut spooled = None;
            let mut reader: Box<dyn Iterator<Item = InputRecord> + Send> = if p.large {
                let (st, name) = (state.clone(), origin.clone());
                let projection = projection.clone();
                let opened = tokio::task::spawn_blocking(move || open_large(&st, p.id, &name, projection)).await;
                match opened {
                    Ok(Ok((file, records))) => {
                        spooled = Some(file);
                        records
                    }
                    Ok(Err(e)) => Box::new(std::iter::once(InputRecord::unreadable(origin.clone(), e))),
                    Err(e) => Box::new(std::iter::once(InputRecord::unreadable(origin.clone(), e.to_string()))),
                }
            } else {
                let source = Source::Bytes { name: origin.clone(), bytes: p.body.into() };
                match input::open(&source, None, projection.clone()) {
                    Ok(r) => r,
                    Err(e) => Box::new(std::iter::once(InputRecord::unreadable(origin, e.to_string()))),
                }
            };
            loop {
                let room = BATCH.saturating_sub(records.len()).max(1);
                records.extend(reader.by_ref().take(room));
                if records.len() < BATCH {
                    // The payload is all in this batch.
                    break;
                }
                // Full: send it; the payload is committed with its last
                // record, in a later batch unless it ended here exactly.
                let batch = Batch { records: std::mem::take(&mut records), commit: inbox_commit(&mut ids, &mut done) };
                if !send(&tx, batch, &stop).await {
                    return;
                }
            }
            drop(spooled);
            ids.push(p.id);
            done = InboxSize {
                payloads: done.payloads + 1,
                records: done.records + size.records,
                bytes: done.bytes + size.bytes,
            };
        }
        if !ids.is_empty() || !records.is_empty() {
            let batch = Batch { records, commit: inbox_commit(&mut ids, &mut done) };
            if !send(&tx, batch, &stop).await {
                return;
            }
        }
    }
}

/// A large payload copied from the store to a spool file beside it, and
/// its records read from there as they are needed (JSON Lines stream; a
/// JSON array is read whole). Records are named `inbox#<id>…` as if read
/// from memory. Blocking.
fn open_large(
    state: &State,
    id: i64,
    name: &str,
    projection: Option<Arc<Projection>>,
) -> Result<(tempfile::NamedTempFile, Box<dyn Iterator<Item = InputRecord> + Send>), String> {
    use std::io::{BufRead as _, Seek as _};
    let mut file = tempfile::NamedTempFile::new_in(state.folder()).map_err(|e| format!("cannot spool {name}: {e}"))?;
    state.inbox_body_to(id, file.as_file_mut()).map_err(|e| e.to_string())?;
    file.as_file_mut().rewind().map_err(|e| e.to_string())?;
    let first = std::io::BufReader::new(file.as_file())
        .fill_buf()
        .map(|b| b.iter().find(|c| !c.is_ascii_whitespace()).copied())
        .map_err(|e| e.to_string())?;
    let format = if first == Some(b'[') { Format::Json } else { Format::Jsonl };
    let path = file.path().to_path_buf();
    let records = input::open(&Source::File(path.clone()), Some(format), projection).map_err(|e| e.to_string())?;
    let shown = path.display().to_string();
    let name = name.to_string();
    let renamed = records.map(move |mut r| {
        r.origin = r.origin.replacen(&shown, &name, 1);
        if let Err(bad) = &mut r.value {
            bad.message = bad.message.replacen(&shown, &name, 1);
        }
        r
    });
    Ok((file, Box::new(renamed)))
}

fn inbox_commit(ids: &mut Vec<i64>, size: &mut InboxSize) -> Commit {
    Commit::Inbox { ids: std::mem::take(ids), size: std::mem::take(size) }
}

async fn send(tx: &mpsc::Sender<Batch>, batch: Batch, stop: &Stop) -> bool {
    tokio::select! {
        _ = stop.clone().wait() => false,
        sent = tx.send(batch) => sent.is_ok(),
    }
}

/// One payload to store, and who waits for its id.
struct Put {
    body: Bytes,
    records: u64,
    stored: oneshot::Sender<Result<i64, String>>,
}

/// Payloads stored in one transaction at most.
const GROUP: usize = 512;

/// Bytes stored in one transaction at most (past the first payload).
const GROUP_BYTES: usize = 16 << 20;

/// The inbox's writer: one thread that stores what is handed to it,
/// group-committed. Cheap to clone; the thread ends when every clone is
/// dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Put>,
    state: State,
    wake: Arc<Notify>,
}

impl Writer {
    /// Starts the writer thread. After each synced group it counts the
    /// payloads in the metrics and wakes the feeder.
    pub(crate) fn start(state: State, metrics: Arc<Metrics>, wake: Arc<Notify>) -> std::io::Result<Writer> {
        let (tx, mut rx) = mpsc::channel::<Put>(4 * GROUP);
        let handles = (state.clone(), wake.clone());
        std::thread::Builder::new().name("mapwright-inbox".to_string()).spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut bytes = first.body.len();
                let mut group = vec![first];
                while group.len() < GROUP && bytes < GROUP_BYTES {
                    let Ok(more) = rx.try_recv() else { break };
                    bytes += more.body.len();
                    group.push(more);
                }
                let payloads: Vec<(&[u8], u64)> = group.iter().map(|p| (&p.body[..], p.records)).collect();
                match state.inbox_put_all(&payloads) {
                    Ok(ids) => {
                        let records = group.iter().map(|p| p.records).sum();
                        metrics
                            .inbox_moved(1, InboxSize { payloads: group.len() as u64, records, bytes: bytes as u64 });
                        wake.notify_one();
                        for (put, id) in group.into_iter().zip(ids) {
                            let _ = put.stored.send(Ok(id));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, payloads = group.len(), "inbox payloads not stored");
                        for put in group {
                            let _ = put.stored.send(Err(e.to_string()));
                        }
                    }
                }
            }
        })?;
        Ok(Writer { tx, state: handles.0, wake: handles.1 })
    }

    /// The state store it writes to (large payloads are stored there
    /// directly, from their spool file).
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// Wakes the feeder (after a payload was stored directly).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stores a payload of `records` records: its id once it is synced to
    /// disk. A caller that stops waiting (a client hanging up) does not
    /// undo the store; the payload is processed all the same.
    pub(crate) async fn put(&self, body: Bytes, records: u64) -> Result<i64, String> {
        let (stored, id) = oneshot::channel();
        self.tx.send(Put { body, records, stored }).await.map_err(|_| "the inbox writer has stopped".to_string())?;
        id.await.map_err(|_| "the inbox writer has stopped".to_string())?
    }
}
