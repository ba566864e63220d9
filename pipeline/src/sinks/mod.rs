//! Sinks: where records go, one file per `kind:` — its keys, its decoding,
//! its start-up checks and one try of one request ([`Sink::try_send`]).
//! Everything around the try — concurrency, batches, per-key order,
//! retries, the rate limit and the circuit breaker — is the same for every
//! kind and lives in `scheduler.rs`; the keys that set it are here
//! ([`CONCURRENCY`], [`BATCH`], [`RATE_LIMIT`], `retry:`, and `name:` and
//! `when:` for a list of `sinks:`).
//!
//! The dead letter and the drift report are written by the sinks that
//! write text ([`LineSink`]: a file, a folder or standard output), where
//! they can be read and replayed.

pub(crate) mod dir;
pub(crate) mod encode;
pub(crate) mod file;
pub(crate) mod http;
pub(crate) mod nats;
pub(crate) mod postgres;
pub(crate) mod stdout;

use std::sync::Mutex;
use std::time::Duration;

use mapwright_dsl::{Program, Scope, Value};
use mapwright_engine::Error;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::get;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;

use crate::decode::{Pipe, located};
use crate::delivery::Delivery;
use crate::rate_limit::RateSpec;
use crate::retry::Retry;

/// The sink kinds, in the order docs list them.
pub(crate) static KINDS: [&Block; 6] =
    [&file::KEYS, &dir::KEYS, &stdout::KEYS, &http::KEYS, &postgres::KEYS, &nats::KEYS];

/// The kinds that write text, for the dead letter and drift.
pub(crate) static LINE_KINDS: [&Block; 3] = [&file::KEYS, &dir::KEYS, &stdout::KEYS];

/// `name:` of a sink.
pub(crate) const NAME: Key = Key::new(
    "name",
    Type::Text,
    "The sink's name: in logs, metrics (`sink=\"…\"`), dead letters and the state store's delivered marks; required in `sinks:`, where names are unique.",
);

/// `when:` of a sink.
pub(crate) const WHEN: Key = Key::new(
    "when",
    Type::Expr,
    "Only records for which this is true go to this sink: an expression over the mapped record `out` and the input `$` (reading `$` parses the whole input record).",
);

/// `concurrency:` of a sink.
pub(crate) const CONCURRENCY: Key = Key::new(
    "concurrency",
    Type::Count { min: 1 },
    "Requests in flight at once (default: 16 for http and nats, 4 for postgres); two records with one key are never in flight together and arrive in input order.",
);

/// `batch:` of a sink.
pub(crate) const BATCH: Key = Key::new(
    "batch",
    Type::Block(&BATCH_KEYS),
    "Records per request (default: one per request for http; 500 for postgres; 100 for nats).",
);

/// `rate_limit:` of a sink.
pub(crate) const RATE_LIMIT: Key = Key::new(
    "rate_limit",
    Type::Block(&crate::rate_limit::KEYS),
    "At most this many requests a second, for API quotas.",
);

/// `retry:` of a sink.
pub(crate) const RETRY: Key = Key::new(
    "retry",
    Type::Block(&crate::retry::KEYS),
    "How transient failures are tried again (by default until the pipeline stops); refusals go to the dead letter.",
);

/// The keys of `batch:`.
pub(crate) static BATCH_KEYS: Block = Block::new(
    "batch",
    "Records sent together in one request: up to `max_records` and `max_bytes`; a request that is not full waits up to `max_wait` for more.",
    &[
        Key::new(
            "max_records",
            Type::Count { min: 1 },
            "Records per request at most (default 100 when `batch:` is written).",
        ),
        Key::new("max_bytes", Type::Size, "Bytes of JSON per request at most (default 1MiB); one record always goes."),
        Key::new(
            "max_wait",
            Type::Duration,
            "How long a request that is not full waits for more records (default 200ms for http, 20ms for the others).",
        ),
    ],
);

/// `batch:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchSpec {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

impl BatchSpec {
    /// One record per request.
    pub(crate) const SINGLE: BatchSpec = BatchSpec { max_records: 1, max_bytes: usize::MAX, max_wait: Duration::ZERO };

    fn decode(p: &mut Pipe, node: &Node, default: BatchSpec) -> Option<BatchSpec> {
        let entries = p.d.map(node, "`batch:`")?;
        p.d.check_keys(entries, &BATCH_KEYS, "in `batch:`");
        let mut b = BatchSpec { max_records: 100, max_bytes: 1 << 20, max_wait: default.max_wait };
        if let Some(n) = get(entries, "max_records") {
            b.max_records = p.count(n, "max_records")? as usize;
        }
        if let Some(n) = get(entries, "max_bytes") {
            b.max_bytes = p.size(n)?;
        }
        if let Some(d) = p.duration(entries, "max_wait") {
            b.max_wait = d;
        }
        Some(b)
    }
}

/// Where records go, by kind.
#[derive(Debug)]
pub(crate) enum SinkKind {
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

/// A sink with how to deliver to it.
#[derive(Debug)]
pub(crate) struct SinkSpec {
    /// `name:` (`sink` for a single `sink:` without one).
    pub name: String,
    /// Whether the name was written (the state store's marks of an unnamed
    /// single sink carry no name, as they always did).
    pub named: bool,
    /// `when:`, compiled.
    pub when: Option<Program>,
    /// What it is.
    pub kind: SinkKind,
    /// `concurrency:`.
    pub concurrency: usize,
    /// `batch:`.
    pub batch: BatchSpec,
    /// `rate_limit:`.
    pub rate: Option<RateSpec>,
    /// `retry:`.
    pub retry: Retry,
}

/// Decodes a sink block of `sink:` or `sinks:` (`listed`: `name:` is then
/// required).
pub(crate) fn decode(p: &mut Pipe, node: &Node, listed: bool) -> Option<SinkSpec> {
    let what = if listed { "sinks" } else { "sink" };
    let (kind, entries) = p.kind(node, what, &KINDS)?;
    let is = |keys: &Block| std::ptr::eq(kind, keys);
    let name = match p.opt_text(entries, "name") {
        Some(n) => Some(n.value),
        None if listed => {
            p.missing::<()>(node.loc, kind, "name");
            None
        }
        None => Some("sink".to_string()),
    };
    let named = get(entries, "name").is_some();
    let when = get(entries, "when").and_then(|n| {
        let out = |_: &[&str]| Ok(());
        p.d.program(n, "`when:`", &Scope { out: Some(&out), ..Scope::default() })
    });
    let format = p.format(entries);
    let sink_kind = if is(&file::KEYS) {
        format.and_then(|f| file::decode(p, node, entries, f)).map(SinkKind::File)
    } else if is(&dir::KEYS) {
        format.and_then(|f| dir::decode(p, node, entries, f)).map(SinkKind::Dir)
    } else if is(&stdout::KEYS) {
        format.and_then(|f| stdout::decode(p, node, entries, f)).map(|()| SinkKind::Stdout)
    } else if is(&http::KEYS) {
        http::decode(p, node, entries).map(SinkKind::Http)
    } else if is(&postgres::KEYS) {
        postgres::decode(p, node, entries).map(SinkKind::Postgres)
    } else {
        nats::decode(p, node, entries).map(SinkKind::Nats)
    };
    // Per kind: requests at once, and records per request without `batch:`.
    let (concurrency, batch) = if is(&http::KEYS) {
        (16, BatchSpec { max_wait: Duration::from_millis(200), ..BatchSpec::SINGLE })
    } else if is(&postgres::KEYS) {
        (4, BatchSpec { max_records: 500, max_bytes: 4 << 20, max_wait: Duration::from_millis(20) })
    } else if is(&nats::KEYS) {
        (16, BatchSpec { max_records: 100, max_bytes: 1 << 20, max_wait: Duration::from_millis(20) })
    } else {
        (1, BatchSpec { max_records: 1000, max_bytes: usize::MAX, max_wait: Duration::ZERO })
    };
    let concurrency = match get(entries, "concurrency") {
        Some(n) => p.count(n, "concurrency").map(|n| n as usize),
        None => Some(concurrency),
    };
    let batch = match get(entries, "batch") {
        Some(n) => BatchSpec::decode(p, n, batch),
        None => Some(batch),
    };
    let rate = match get(entries, "rate_limit") {
        Some(n) => RateSpec::decode(p, n).map(Some),
        None => Some(None),
    };
    let retry = match get(entries, "retry") {
        Some(n) => Retry::decode(p, n),
        None => Some(Retry::default()),
    };
    let (sink_kind, concurrency, batch, rate, retry) = (sink_kind?, concurrency?, batch?, rate?, retry?);
    if let SinkKind::Http(h) = &sink_kind {
        http::check_body(p, h, &batch, get(entries, "body").map_or(node.loc, |n| n.loc));
    }
    Some(SinkSpec { name: name?, named, when, kind: sink_kind, concurrency, batch, rate, retry })
}

/// Decodes `dead_letter:` or `drift:` (`what`): a file, a folder or
/// standard output.
pub(crate) fn decode_lines(p: &mut Pipe, node: &Node, what: &str) -> Option<SinkKind> {
    let (kind, entries) = p.kind(node, what, &KINDS)?;
    let is = |keys: &Block| std::ptr::eq(kind, keys);
    if !LINE_KINDS.iter().any(|k| is(k)) {
        let loc = get(entries, "kind").map_or(node.loc, |n| n.loc);
        p.d.hint(
            SpecCode::BadValue,
            loc,
            format!("`{what}:` cannot be `kind: {}`", kind.kind()),
            "write it to a file, a folder or stdout, where it can be read and replayed",
        );
        return None;
    }
    for key in ["name", "when"] {
        if let Some(n) = get(entries, key) {
            p.d.hint(
                SpecCode::ConflictingKeys,
                n.loc,
                format!("`{key}:` is for a sink, not for `{what}:`"),
                format!("`{what}:` takes every line of its kind; remove `{key}:`"),
            );
        }
    }
    let format = p.format(entries)?;
    Some(if is(&file::KEYS) {
        SinkKind::File(file::decode(p, node, entries, format)?)
    } else if is(&dir::KEYS) {
        SinkKind::Dir(dir::decode(p, node, entries, format)?)
    } else {
        stdout::decode(p, node, entries, format)?;
        SinkKind::Stdout
    })
}

/// Decodes `sinks:`: a list of named sinks with unique names.
pub(crate) fn decode_list(p: &mut Pipe, node: &Node) -> Option<Vec<SinkSpec>> {
    let mapwright_engine::spec::yaml::Yaml::Seq(items) = &node.value else {
        p.d.hint(
            SpecCode::WrongType,
            node.loc,
            "`sinks:` must be a list",
            "start each sink with `- name: erp` and its `kind:`",
        );
        return None;
    };
    if items.is_empty() {
        p.d.hint(SpecCode::BadValue, node.loc, "`sinks:` is empty", "list at least one sink");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match decode(p, item, true) {
            Some(s) => {
                if out.iter().any(|o: &SinkSpec| o.name == s.name) {
                    let loc = item.as_map().and_then(|m| get(m, "name")).map_or(item.loc, |n| n.loc);
                    p.d.hint(
                        SpecCode::DuplicateField,
                        loc,
                        format!("two sinks are named `{}`", s.name),
                        "each sink's name is its own: its delivered marks, metrics and dead letters carry it",
                    );
                    ok = false;
                }
                out.push(s);
            }
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// Why one try of a request did not deliver it.
#[derive(Debug)]
pub(crate) enum Failure {
    /// It may succeed later (no connection, a timeout, 408, 429, 5xx); the
    /// other side may have said when (`Retry-After`).
    Transient { reason: String, after: Option<Duration> },
    /// The sink refused it for good (another 4xx, a row the database
    /// rejects): the dead letter, with the reason.
    Refused(String),
    /// The sink cannot take anything (a local file cannot be written): the
    /// run stops.
    Fatal(String),
}

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
    /// Opens `kind` (a file, folder or stdout sink), creating files and
    /// folders; a failure is located at the spec's path. `what` names the
    /// role (`sink`, `dead_letter`, `drift`); `prefix` names a folder
    /// sink's files.
    pub(crate) fn open(kind: &SinkKind, file: &SourceFile, what: &str, prefix: &str) -> Result<LineSink, Error> {
        let opened = match kind {
            SinkKind::File(f) => file::FileSink::open(&f.path.value, f.format)
                .map(LineSink::File)
                .map_err(|e| (f.path.loc, f.path.value.display().to_string(), e)),
            SinkKind::Dir(d) => dir::DirSink::open(&d.path.value, d.format, prefix)
                .map(LineSink::Dir)
                .map_err(|e| (d.path.loc, d.path.value.display().to_string(), e)),
            SinkKind::Stdout => Ok(LineSink::Stdout),
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

/// An open sink of any kind, shared by the requests in flight.
pub(crate) enum Sink {
    /// A file, a folder or standard output (one request at a time).
    Lines(Mutex<LineSink>),
    /// An HTTP endpoint.
    Http(Box<http::HttpSink>),
    /// A PostgreSQL table.
    Postgres(Box<postgres::PgSink>),
    /// A NATS subject.
    Nats(Box<nats::NatsSink>),
}

impl Sink {
    /// Opens the sink of `spec` and checks what can be checked before the
    /// first record (the server answers, the table or stream exists);
    /// problems are located in `file`.
    pub(crate) async fn open(spec: &SinkSpec, file: &SourceFile, prefix: &str) -> Result<Sink, Error> {
        let one = |d| Error::Spec(mapwright_engine::diagnostic::Diagnostics(vec![d]));
        Ok(match &spec.kind {
            SinkKind::Http(h) => Sink::Http(Box::new(http::HttpSink::new(h).map_err(|e| {
                located(file, SpecCode::BadEndpoint, h.url.loc, e, "check the sink's url and headers")
            })?)),
            SinkKind::Postgres(p) => {
                Sink::Postgres(Box::new(postgres::PgSink::connect(p, file, spec.concurrency).await.map_err(one)?))
            }
            SinkKind::Nats(n) => Sink::Nats(Box::new(nats::NatsSink::connect(n, file).await.map_err(one)?)),
            other => Sink::Lines(Mutex::new(LineSink::open(other, file, "sink", prefix)?)),
        })
    }

    /// One try of one request carrying `records` (one or more, of distinct
    /// keys, in input order).
    pub(crate) async fn try_send(&self, records: &[&Delivery]) -> Result<(), Failure> {
        match self {
            Sink::Lines(sink) => {
                let pairs: Vec<(&Value, &str)> = records.iter().map(|d| (&d.record, d.json.as_str())).collect();
                let mut sink = sink.lock().unwrap_or_else(|p| p.into_inner());
                sink.write_json(&pairs).map_err(|e| Failure::Fatal(format!("cannot write to the sink: {e}")))
            }
            Sink::Http(sink) => sink.try_send(records).await,
            Sink::Postgres(sink) => sink.try_send(records).await,
            Sink::Nats(sink) => sink.try_send(records).await,
        }
    }
}
