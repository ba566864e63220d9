//! The inbox feeder of the push sources (`http`, `nats`): payloads stored
//! in the state store's inbox are read back in arrival order — what a
//! previous run left first — parsed into records and handed to the
//! processor; a payload's row is deleted once its records are done
//! ([`Commit::Inbox`]).

use std::sync::Arc;
use std::time::Duration;

use mapwright_engine::input::{self, InputRecord, Source};
use tokio::sync::mpsc::Sender;

use super::{Batch, Commit};
use crate::Stop;
use crate::state::State;

/// Payloads read from the inbox at a time.
const READ_AT_ONCE: usize = 64;

/// Feeds inbox payloads to the processor until stopped; `wake` is
/// notified when a payload is stored.
pub(crate) async fn feed(state: State, wake: Arc<tokio::sync::Notify>, tx: Sender<Batch>, stop: Stop) {
    let mut after = 0;
    loop {
        let pending = {
            let state = state.clone();
            tokio::task::spawn_blocking(move || state.inbox_after(after, READ_AT_ONCE)).await
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
        // Payloads read together go together: one batch, committed once
        // all their records are done.
        let mut records: Vec<InputRecord> = Vec::new();
        let mut ids = Vec::with_capacity(pending.len());
        for p in pending {
            after = p.id;
            ids.push(p.id);
            let origin = format!("inbox#{}", p.id);
            let source = Source::Bytes { name: origin.clone(), bytes: p.body.into() };
            match input::open(&source, None, None) {
                Ok(r) => records.extend(r),
                Err(e) => records.push(InputRecord::unreadable(origin, e.to_string())),
            }
        }
        tokio::select! {
            _ = stop.clone().wait() => return,
            sent = tx.send(Batch { records, commit: Commit::Inbox(ids) }) => if sent.is_err() { return },
        }
    }
}

/// Stores one payload in the inbox (on a blocking thread) and wakes the
/// feeder.
pub(crate) async fn store(
    state: &State,
    metrics: &crate::metrics::Metrics,
    wake: &tokio::sync::Notify,
    body: Vec<u8>,
) -> Result<i64, String> {
    let st = state.clone();
    let id = tokio::task::spawn_blocking(move || st.inbox_put(&body))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    metrics.inbox.inc();
    wake.notify_one();
    Ok(id)
}
