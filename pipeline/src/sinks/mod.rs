//! Sinks: where records go, one file per `kind:` — its keys, its decoding,
//! its start-up checks and its writing. The dead letter and the drift
//! report are written by the sinks that write text ([`LineSink`]: a file,
//! a folder or standard output), where they can be read and replayed.
//!
//! [`Sink::deliver`] is the one door of the processor into every kind: it
//! delivers a batch, marks each delivered record in the state store at
//! once (so that after a crash only the record in flight is sent again),
//! and says, for each record not delivered, why.

pub(crate) mod dir;
pub(crate) mod encode;
pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod nats;
pub(crate) mod postgres;
pub(crate) mod stdout;

use std::sync::Arc;
use std::time::Instant;

use mapwright_dsl::Value;
use mapwright_engine::Error;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::get;
use mapwright_engine::spec::keys::Block;
use mapwright_engine::spec::yaml::Node;

use crate::Stop;
use crate::decode::{Pipe, located};
use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::state::State;

/// The sink kinds, in the order docs list them.
pub(crate) static KINDS: [&Block; 6] =
    [&file::KEYS, &dir::KEYS, &stdout::KEYS, &http::KEYS, &postgres::KEYS, &nats::KEYS];

/// The kinds that write text, for the dead letter and drift.
pub(crate) static LINE_KINDS: [&Block; 3] = [&file::KEYS, &dir::KEYS, &stdout::KEYS];

/// Where records go.
#[derive(Debug)]
pub(crate) enum SinkSpec {
    /// `kind: file`.
    File(file::FileSinkSpec),
    /// `kind: dir`.
    Dir(dir::DirSinkSpec),
    /// `kind: stdout`.
    Stdout,
    /// `kind: http`.
    Http(http::HttpSinkSpec),
    /// `kind: postgres`.
    Postgres(postgres::PgSinkSpec),
    /// `kind: nats`.
    Nats(nats::NatsSinkSpec),
}

/// Decodes a sink block: `sink:`, or (`what`) `dead_letter:` or `drift:`,
/// which take only the kinds that write text.
pub(crate) fn decode(p: &mut Pipe, node: &Node, what: &str) -> Option<SinkSpec> {
    let (kind, entries) = p.kind(node, what, &KINDS)?;
    let is = |keys: &Block| std::ptr::eq(kind, keys);
    if what != "sink" && !LINE_KINDS.iter().any(|k| is(k)) {
        let loc = get(entries, "kind").map_or(node.loc, |n| n.loc);
        p.d.hint(
            SpecCode::BadValue,
            loc,
            format!("`{what}:` cannot be `kind: {}`", kind.kind()),
            "write it to a file, a folder or stdout, where it can be read and replayed",
        );
        return None;
    }
    let format = p.format(entries)?;
    Some(if is(&file::KEYS) {
        SinkSpec::File(file::decode(p, node, entries, format)?)
    } else if is(&dir::KEYS) {
        SinkSpec::Dir(dir::decode(p, node, entries, format)?)
    } else if is(&stdout::KEYS) {
        stdout::decode(p, node, entries, format)?;
        SinkSpec::Stdout
    } else if is(&http::KEYS) {
        SinkSpec::Http(http::decode(p, node, entries)?)
    } else if is(&postgres::KEYS) {
        SinkSpec::Postgres(postgres::decode(p, node, entries)?)
    } else {
        SinkSpec::Nats(nats::decode(p, node, entries)?)
    })
}

/// For each record of a batch not delivered: its index and why.
pub(crate) type Undelivered = Vec<(usize, Sent)>;

/// A sink that writes text: a file, a folder or standard output.
pub(crate) enum LineSink {
    /// Appends to a file.
    File(file::FileSink),
    /// One file per batch in a folder.
    Dir(dir::DirSink),
    /// Standard output, JSON Lines.
    Stdout,
}

impl LineSink {
    /// Opens `spec` (a file, folder or stdout sink), creating files and
    /// folders; a failure is located at the spec's path. `what` names the
    /// role (`sink`, `dead_letter`, `drift`); `prefix` names a folder
    /// sink's files.
    pub(crate) fn open(spec: &SinkSpec, file: &SourceFile, what: &str, prefix: &str) -> Result<LineSink, Error> {
        let opened = match spec {
            SinkSpec::File(f) => file::FileSink::open(&f.path.value, f.format)
                .map(LineSink::File)
                .map_err(|e| (f.path.loc, f.path.value.display().to_string(), e)),
            SinkSpec::Dir(d) => dir::DirSink::open(&d.path.value, d.format, prefix)
                .map(LineSink::Dir)
                .map_err(|e| (d.path.loc, d.path.value.display().to_string(), e)),
            SinkSpec::Stdout => Ok(LineSink::Stdout),
            _ => return Err(Error::Usage(format!("`{what}:` must be a file, a folder or stdout"))),
        };
        opened.map_err(|(loc, path, e)| {
            located(
                file,
                SpecCode::BadEndpoint,
                loc,
                format!("cannot open {path}: {e}"),
                "check the path and its permissions",
            )
        })
    }

    /// Writes records and makes them durable: synced to disk when this
    /// returns (standard output: flushed).
    pub(crate) fn write(&mut self, records: &[&Value]) -> std::io::Result<()> {
        let json: Vec<String> = records.iter().map(|r| r.to_json()).collect();
        let pairs: Vec<(&Value, &str)> = records.iter().copied().zip(json.iter().map(String::as_str)).collect();
        self.write_json(&pairs)
    }

    /// [`LineSink::write`] for records whose JSON text is already made.
    pub(crate) fn write_json(&mut self, records: &[(&Value, &str)]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        match self {
            LineSink::Stdout => stdout::write(records),
            LineSink::File(f) => f.append(records),
            LineSink::Dir(d) => d.write(records),
        }
    }
}

/// An open sink of any kind.
pub(crate) enum Sink {
    /// A file, a folder or standard output.
    Lines(LineSink),
    /// An HTTP endpoint, one request per record.
    Http(Box<http::HttpSink>),
    /// A PostgreSQL table, one transaction per batch.
    Postgres(Box<postgres::PgSink>),
    /// A NATS subject, one message per record.
    Nats(Box<nats::NatsSink>),
}

impl Sink {
    /// Opens the sink of `spec` and checks what can be checked before the
    /// first record (the server answers, the table or stream exists);
    /// problems are located in `file`.
    pub(crate) async fn open(
        spec: &SinkSpec,
        file: &SourceFile,
        prefix: &str,
        metrics: Arc<Metrics>,
    ) -> Result<Sink, Error> {
        let one = |d| Error::Spec(mapwright_engine::diagnostic::Diagnostics(vec![d]));
        Ok(match spec {
            SinkSpec::Http(h) => Sink::Http(Box::new(http::HttpSink::new(h, metrics).map_err(|e| {
                located(file, SpecCode::BadEndpoint, h.url.loc, e, "check the sink's url and headers")
            })?)),
            SinkSpec::Postgres(p) => Sink::Postgres(Box::new(postgres::PgSink::connect(p, file).await.map_err(one)?)),
            SinkSpec::Nats(n) => Sink::Nats(Box::new(nats::NatsSink::connect(n, file).await.map_err(one)?)),
            other => Sink::Lines(LineSink::open(other, file, "sink", prefix)?),
        })
    }

    /// Delivers records; marks each delivered record in the state store.
    /// Returns, for each record not delivered, its index and why; an error
    /// when the sink, as a whole, cannot take records.
    pub(crate) async fn deliver(
        &mut self,
        items: &[Delivery],
        state: &State,
        metrics: &Metrics,
        stop: &Stop,
    ) -> Result<Undelivered, String> {
        match self {
            Sink::Lines(sink) => {
                let started = Instant::now();
                let records: Vec<(&Value, &str)> = items.iter().map(|d| (&d.record, d.json.as_str())).collect();
                sink.write_json(&records).map_err(|e| format!("cannot write to the sink: {e}"))?;
                metrics.sink_latency.observe(started.elapsed().as_secs_f64());
                state
                    .mark_delivered(items.iter().map(|d| (d.key_text.as_str(), d.hash.as_str())))
                    .map_err(|e| e.to_string())?;
                Ok(Vec::new())
            }
            Sink::Http(sink) => one_by_one(items, state, |d| sink.send(d, stop)).await,
            Sink::Nats(sink) => one_by_one(items, state, |d| sink.send(d, stop, metrics)).await,
            Sink::Postgres(sink) => sink.deliver(items, state, metrics, stop).await,
        }
    }
}

/// Delivers records one at a time, each marked delivered at once: after a
/// crash only the record in flight is sent again. A stop ends the batch.
async fn one_by_one<'a, F, Fut>(items: &'a [Delivery], state: &State, mut send: F) -> Result<Undelivered, String>
where
    F: FnMut(&'a Delivery) -> Fut,
    Fut: Future<Output = Sent>,
{
    let mut undelivered = Vec::new();
    for (j, d) in items.iter().enumerate() {
        match send(d).await {
            Sent::Delivered => {
                state.mark_delivered([(d.key_text.as_str(), d.hash.as_str())]).map_err(|e| e.to_string())?;
            }
            Sent::Stopped => {
                undelivered.push((j, Sent::Stopped));
                return Ok(undelivered);
            }
            other => undelivered.push((j, other)),
        }
    }
    Ok(undelivered)
}
