//! `kind: stdin`: records from standard input (JSON Lines, or a JSON
//! array), to its end; then the run ends.

use std::sync::Arc;

use mapwright_dsl::Projection;
use mapwright_engine::input::{self, Format, Source};
use mapwright_engine::spec::keys::Block;
use tokio::sync::mpsc::Sender;

use super::{Batch, Commit, FORMAT, send_all};
use crate::Stop;
use crate::decode::{Entries, Pipe};

/// The keys of `kind: stdin`.
pub(crate) static KEYS: Block = Block::new(
    "source_stdin",
    "Records from standard input (JSON Lines, or a JSON array when it starts with `[`), to its end; then the run ends.",
    &[FORMAT],
);

/// `kind: stdin`.
#[derive(Clone, Debug)]
pub(crate) struct StdinSourceSpec {
    /// `format:` (default: JSON Lines, or JSON when it starts with `[`).
    pub format: Option<Format>,
}

pub(crate) fn decode(p: &mut Pipe, entries: &Entries) -> Option<StdinSourceSpec> {
    Some(StdinSourceSpec { format: p.format(entries)? })
}

/// Reads standard input, sending batches. Blocking.
pub(crate) fn read(spec: &StdinSourceSpec, projection: Option<Arc<Projection>>, tx: &Sender<Batch>, stop: &Stop) {
    match input::open(&Source::Stdin, spec.format, projection) {
        Ok(reader) => {
            send_all(reader, tx, stop, |_| Commit::Nothing);
        }
        Err(e) => tracing::error!("cannot read standard input: {e}"),
    }
}
