//! Sources: where records come from, one file per `kind:` — its keys, its
//! decoding, its start-up checks and its reading.
//!
//! Every source hands records to the processor in [`Batch`]es, each with
//! what to do once it is delivered ([`Commit`]): nothing (a file read
//! again skips what was delivered), an inbox row deleted (`http`, `nats`),
//! a dropped file moved (`dir`), a cursor moved (`postgres`).
//!
//! - `file`, `stdin`: read to the end, then the run ends.
//! - `dir`: a drop folder, polled.
//! - `http`, `nats`: push sources; what arrives is stored in the state
//!   store's inbox before it is acknowledged, and [`inbox`] feeds it to
//!   the processor in arrival order.
//! - `postgres`: a query polled past a cursor.

pub(crate) mod dir;
pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod inbox;
pub(crate) mod nats;
pub(crate) mod postgres;
pub(crate) mod stdin;

use std::path::PathBuf;

use mapwright_engine::input::{FORMAT_NAMES, InputRecord};
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use tokio::sync::mpsc::Sender;

use crate::Stop;
use crate::decode::Pipe;

/// The source kinds, in the order docs list them.
pub(crate) static KINDS: [&Block; 6] =
    [&file::KEYS, &dir::KEYS, &stdin::KEYS, &http::KEYS, &postgres::KEYS, &nats::KEYS];

/// `format:` of a file source.
pub(crate) const FORMAT: Key = Key::new(
    "format",
    Type::Words(&FORMAT_NAMES),
    "The records' format when the extension does not tell: json (one record or an array), jsonl, csv (header row), yaml.",
);

/// Records per batch from files and standard input.
pub(crate) const BATCH: usize = 1000;

/// Where records come from.
#[derive(Debug)]
pub(crate) enum SourceSpec {
    /// `kind: file`.
    File(file::FileSourceSpec),
    /// `kind: dir`.
    Dir(dir::DirSourceSpec),
    /// `kind: stdin`.
    Stdin(stdin::StdinSourceSpec),
    /// `kind: http`.
    Http(http::HttpSourceSpec),
    /// `kind: postgres`.
    Postgres(postgres::PgSourceSpec),
    /// `kind: nats`.
    Nats(nats::NatsSourceSpec),
}

/// Decodes `source:`.
pub(crate) fn decode(p: &mut Pipe, node: &Node) -> Option<SourceSpec> {
    let (kind, entries) = p.kind(node, "source", &KINDS)?;
    let is = |keys: &Block| std::ptr::eq(kind, keys);
    Some(if is(&file::KEYS) {
        SourceSpec::File(file::decode(p, node, entries)?)
    } else if is(&dir::KEYS) {
        SourceSpec::Dir(dir::decode(p, node, entries)?)
    } else if is(&stdin::KEYS) {
        SourceSpec::Stdin(stdin::decode(p, entries)?)
    } else if is(&http::KEYS) {
        SourceSpec::Http(http::decode(p, node, entries)?)
    } else if is(&postgres::KEYS) {
        SourceSpec::Postgres(postgres::decode(p, node, entries)?)
    } else {
        SourceSpec::Nats(nats::decode(p, node, entries)?)
    })
}

/// Records read together, and what to do once they are done.
pub(crate) struct Batch {
    /// The records.
    pub records: Vec<InputRecord>,
    /// What finishing them means.
    pub commit: Commit,
}

/// What the processor does after a batch is delivered.
#[derive(Clone, Debug)]
pub(crate) enum Commit {
    /// Nothing (file and stdin sources).
    Nothing,
    /// Removes the payloads from the inbox (those whose last record is in
    /// this batch).
    Inbox {
        /// Their rows.
        ids: Vec<i64>,
        /// What they were, for the inbox's gauges.
        size: crate::state::InboxSize,
    },
    /// Acknowledges JetStream messages.
    Acks {
        /// The messages, by their keys in `held`.
        keys: Vec<u64>,
        /// The source's messages not yet acknowledged.
        held: std::sync::Arc<nats::Held>,
    },
    /// A part of a dropped file; `last` moves the file to `done/`, or to
    /// `failed/` when any of its records failed.
    DirFile {
        /// The file.
        path: PathBuf,
        /// Whether this is its last batch.
        last: bool,
    },
    /// Moves a polled source's cursor.
    Cursor {
        /// The source's name in the state store.
        source: String,
        /// The cursor value after this batch.
        value: String,
    },
}

/// Sends records in batches of [`BATCH`], each committed as `commit(last)`
/// says; false when the receiver is gone or a stop fired. Blocking.
pub(crate) fn send_all(
    reader: impl Iterator<Item = InputRecord>,
    tx: &Sender<Batch>,
    stop: &Stop,
    commit: impl Fn(bool) -> Commit,
) -> bool {
    let mut reader = reader.peekable();
    loop {
        let records: Vec<InputRecord> = reader.by_ref().take(BATCH).collect();
        let last = reader.peek().is_none();
        if records.is_empty() && !last {
            continue;
        }
        if stop.is_stopped() || tx.blocking_send(Batch { records, commit: commit(last) }).is_err() {
            return false;
        }
        if last {
            return true;
        }
    }
}

/// A source whose start-up checks passed: what it holds open.
pub(crate) enum Opened {
    /// A file, folder or standard input: nothing held.
    Nothing,
    /// The webhook endpoint's bound listener.
    Http(tokio::net::TcpListener),
    /// A connected PostgreSQL source.
    Postgres(Box<postgres::PgSource>),
    /// A connected NATS source.
    Nats(Box<nats::NatsSource>),
}

/// Runs the start-up checks of a source, before any record is read: files
/// exist, the port binds, the server answers. Problems are located in
/// `file`.
pub(crate) async fn open(
    spec: &SourceSpec,
    file: &mapwright_engine::diagnostic::SourceFile,
    pipeline: &str,
) -> Result<Opened, mapwright_engine::Error> {
    let one = |d| mapwright_engine::Error::Spec(mapwright_engine::diagnostic::Diagnostics(vec![d]));
    Ok(match spec {
        SourceSpec::File(f) => {
            file::check(f, file)?;
            Opened::Nothing
        }
        SourceSpec::Dir(_) | SourceSpec::Stdin(_) => Opened::Nothing,
        SourceSpec::Http(h) => Opened::Http(crate::launch::listen(file, &h.listen.value, h.listen.loc).await?),
        SourceSpec::Postgres(p) => Opened::Postgres(Box::new(postgres::PgSource::connect(p, file).await.map_err(one)?)),
        SourceSpec::Nats(n) => Opened::Nats(Box::new(nats::NatsSource::connect(n, file, pipeline).await.map_err(one)?)),
    })
}

/// What a running source needs from the pipeline.
pub(crate) struct Context {
    /// The pipeline's name (the PostgreSQL cursor's name in the state store).
    pub pipeline: String,
    pub state: crate::state::State,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub stop: Stop,
    /// The parts of a record the mapping reads: readers build only these.
    pub projection: Option<std::sync::Arc<mapwright_dsl::Projection>>,
    /// Drop-folder files handed out and not yet moved.
    pub taken: dir::Taken,
}

/// A source at work.
pub(crate) struct Running {
    /// The reader: it ends at the end of the input (file, stdin) or at the stop.
    pub reader: tokio::task::JoinHandle<()>,
    /// A server receiving records (the webhook endpoint, a NATS subscriber).
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts reading `spec` with what [`open`] opened, sending batches on `tx`.
pub(crate) fn start(spec: &SourceSpec, opened: Opened, cx: Context, tx: Sender<Batch>) -> Result<Running, String> {
    let Context { pipeline, state, metrics, stop, projection, taken } = cx;
    let mut server = None;
    let reader = match (spec, opened) {
        (SourceSpec::File(f), _) => {
            let spec = f.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = file::read(&spec, projection, &tx, &stop) {
                    tracing::error!("{e}");
                }
            })
        }
        (SourceSpec::Stdin(s), _) => {
            let spec = s.clone();
            tokio::task::spawn_blocking(move || stdin::read(&spec, projection, &tx, &stop))
        }
        (SourceSpec::Dir(d), _) => {
            let source = dir::DirSource {
                dir: d.path.value.clone(),
                format: d.format,
                poll: d.poll,
                settle: d.settle,
                projection,
                taken,
            };
            tokio::task::spawn_blocking(move || source.run(&tx, &stop))
        }
        (SourceSpec::Http(h), Opened::Http(listener)) => {
            let wake = std::sync::Arc::new(tokio::sync::Notify::new());
            let writer = inbox::Writer::start(state.clone(), metrics.clone(), wake.clone())
                .map_err(|e| format!("cannot start the inbox writer: {e}"))?;
            let endpoint = http::serve(listener, std::sync::Arc::new(h.clone()), writer, metrics, stop.clone());
            server = Some(tokio::spawn(endpoint));
            tokio::spawn(inbox::feed(state, wake, tx, stop, projection))
        }
        (SourceSpec::Postgres(p), Opened::Postgres(pg)) => {
            let name = format!("{pipeline}:postgres");
            let after = state.cursor(&name).map_err(|e| e.to_string())?;
            tokio::spawn(postgres::poll(*pg, name, after, p.poll, tx, stop))
        }
        (SourceSpec::Nats(_), Opened::Nats(source)) if nats::is_stream(&source) => {
            tokio::spawn(nats::consume(*source, tx, stop, projection))
        }
        (SourceSpec::Nats(_), Opened::Nats(source)) => {
            let wake = std::sync::Arc::new(tokio::sync::Notify::new());
            let writer = inbox::Writer::start(state.clone(), metrics, wake.clone())
                .map_err(|e| format!("cannot start the inbox writer: {e}"))?;
            server = Some(tokio::spawn({
                let stop = stop.clone();
                async move {
                    nats::subscribe(*source, writer, stop).await;
                    Ok(())
                }
            }));
            tokio::spawn(inbox::feed(state, wake, tx, stop, projection))
        }
        _ => return Err("internal: the source was not opened".to_string()),
    };
    Ok(Running { reader, server })
}
