//! The pipeline file (SPEC §5): its structs, and the decoder that fills
//! them from the located YAML tree, collecting every problem as a
//! diagnostic. `${NAME}` is replaced by the environment variable at load
//! time; a value that used one is a [`Secret`] wherever it could carry a
//! credential (URLs of databases, headers, HMAC secrets).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use mapwright_engine::input::Format;
use mapwright_engine::spec::yaml::Loc;
use mapwright_engine::spec::Located;
use mapwright_engine::SourceFile;

/// Text that may hold a credential: printed as `***` by `Debug` and
/// `Display`, so it cannot reach a log line or a dead letter by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps text.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The text itself, for the one place that needs it (a header, a
    /// connection string).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A loaded pipeline file.
#[derive(Debug)]
pub struct PipelineSpec {
    /// `pipeline:` — the name.
    pub name: String,
    /// The pipeline file's text, for diagnostics raised after loading (an
    /// occupied port, an unreachable database).
    pub file: SourceFile,
    /// The pipeline file.
    pub path: PathBuf,
    /// `mapping:`, resolved against the pipeline file's folder.
    pub mapping: Located<PathBuf>,
    /// `source:`.
    pub source: SourceSpec,
    /// `sink:`.
    pub sink: SinkSpec,
    /// `dead_letter:` (default: a file `dead-letter.jsonl` next to the
    /// state store).
    pub dead_letter: SinkSpec,
    /// `drift:`, when given.
    pub drift: Option<SinkSpec>,
    /// `state:` (default: `<pipeline file stem>.state.db` next to the
    /// pipeline file).
    pub state: PathBuf,
    /// `watch:` — hot reload.
    pub watch: bool,
    /// `metrics: { listen }`.
    pub metrics: Option<Located<String>>,
}

/// Where records come from.
#[derive(Debug)]
pub enum SourceSpec {
    /// `kind: file` — one path or a glob (`in/*.jsonl`), read once; the run
    /// ends when every file is read.
    File {
        /// The path or glob, resolved against the pipeline file's folder.
        path: Located<String>,
        /// `format:`, else by extension.
        format: Option<Format>,
    },
    /// `kind: dir` — a drop folder: each new file is processed once, then
    /// moved to `done/` or `failed/`.
    Dir {
        /// The folder.
        path: Located<PathBuf>,
        /// `format:`, else by extension.
        format: Option<Format>,
        /// Where processed files go (default `<path>/done`).
        done: PathBuf,
        /// Where files with failed records go (default `<path>/failed`).
        failed: PathBuf,
        /// How often to look for new files (default 1s).
        poll: Duration,
        /// How long a file must stay unchanged before it is read (default
        /// 1s): a file still being written is not read half-way.
        settle: Duration,
    },
    /// `kind: stdin`.
    Stdin {
        /// `format:` (default: JSON Lines, or JSON when it starts with `[`).
        format: Option<Format>,
    },
    /// `kind: http` — a webhook endpoint.
    Http(HttpSourceSpec),
    /// `kind: postgres` — a polled query with an incremental cursor.
    Postgres(PgSourceSpec),
    /// `kind: nats` — messages on a subject (JetStream with `stream:`).
    Nats(NatsSourceSpec),
}

/// `kind: nats` source: every message is one payload (a record, or a list
/// of records), stored in the inbox before it is acknowledged.
#[derive(Clone, Debug)]
pub struct NatsSourceSpec {
    /// `url:` — `nats://user:pass@host:4222` (several separated by commas).
    pub url: Located<Secret>,
    /// `subject:` — what to receive (wildcards `*` and `>` allowed).
    pub subject: Located<String>,
    /// `stream:` — a JetStream stream holding the subject: messages are
    /// read by a durable consumer and acknowledged once stored, so none is
    /// lost while the pipeline is down. Without it, a plain subscription
    /// sees only what is published while it runs.
    pub stream: Option<Located<String>>,
    /// `durable:` — the consumer's name (default `mapwright-<pipeline>`).
    pub durable: Option<String>,
    /// `ack_wait:` — how long the server waits for an ack before it sends a
    /// message again (default 30s): after a crash, what was not yet
    /// stored comes back after this long. Applied when the durable
    /// consumer is created; an existing consumer keeps its own.
    pub ack_wait: Duration,
}

/// `kind: http` source.
#[derive(Clone, Debug)]
pub struct HttpSourceSpec {
    /// `listen:` — `host:port`.
    pub listen: Located<String>,
    /// `path:` (default `/`).
    pub path: String,
    /// `verify:` — the signature check.
    pub verify: Option<HmacVerify>,
    /// `max_body:` in bytes (default 10 MiB); larger requests get 413.
    pub max_body: usize,
}

/// `verify: { hmac_sha256_header, secret }`: the header carries the base64
/// HMAC-SHA256 of the raw body, keyed by `secret` (Shopify's scheme).
#[derive(Clone, Debug)]
pub struct HmacVerify {
    /// The header name.
    pub header: String,
    /// The shared secret.
    pub secret: Secret,
}

/// `kind: postgres` source.
#[derive(Clone, Debug)]
pub struct PgSourceSpec {
    /// `url:` — `postgres://user:pass@host:port/db`.
    pub url: Located<Secret>,
    /// `query:` — rows become records (`SELECT * FROM orders`).
    pub query: String,
    /// `cursor:` — an increasing column of the query; only rows past the
    /// last seen value are read, and the value is kept in the state store.
    pub cursor: String,
    /// `poll:` — how often to ask for new rows (default 1s).
    pub poll: Duration,
    /// `batch:` — rows per query (default 500).
    pub batch: u32,
}

/// Where records go.
#[derive(Debug)]
pub enum SinkSpec {
    /// `kind: file` — appended, flushed per batch; the format follows the
    /// extension (jsonl, json, csv) or `format:`.
    File {
        /// The file.
        path: Located<PathBuf>,
        /// The format.
        format: Format,
    },
    /// `kind: dir` — one file per batch, written by rename.
    Dir {
        /// The folder.
        path: Located<PathBuf>,
        /// The format of each file (default jsonl).
        format: Format,
    },
    /// `kind: stdout` — JSON Lines.
    Stdout,
    /// `kind: http`.
    Http(HttpSinkSpec),
    /// `kind: postgres`.
    Postgres(PgSinkSpec),
    /// `kind: nats`.
    Nats(NatsSinkSpec),
}

/// `kind: nats` sink: one message per record, its JSON as the payload.
#[derive(Clone, Debug)]
pub struct NatsSinkSpec {
    /// `url:`.
    pub url: Located<Secret>,
    /// `subject:` — where records are published.
    pub subject: Located<String>,
    /// `stream:` — the JetStream stream that stores the subject: each
    /// publish waits for the stream's acknowledgement and carries the
    /// record's idempotency key as `Nats-Msg-Id`, so the stream drops a
    /// repeat. Without it, a publish is done once the server has it.
    pub stream: Option<Located<String>>,
    /// `retry:` — for publishes that fail or are not acknowledged.
    pub retry: Retry,
}

/// `kind: http` sink.
#[derive(Clone, Debug)]
pub struct HttpSinkSpec {
    /// `url:`.
    pub url: Located<Secret>,
    /// `method:` (default POST).
    pub method: String,
    /// `headers:`, `${NAME}` replaced.
    pub headers: Vec<(String, Secret)>,
    /// `idempotency_header:` — carries the record's idempotency key.
    pub idempotency_header: Option<String>,
    /// `retry:`.
    pub retry: Retry,
    /// `timeout:` per request (default 10s).
    pub timeout: Duration,
}

/// `retry: { attempts, backoff, max_backoff }` — exponential backoff with
/// jitter on connect errors, timeouts, 429 and 5xx; `Retry-After` is
/// honoured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all, the first included (default 6).
    pub attempts: u32,
    /// The first wait (default 200ms), doubled each time.
    pub backoff: Duration,
    /// The longest wait (default 30s).
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry { attempts: 6, backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(30) }
    }
}

/// `kind: postgres` sink: upsert by key.
#[derive(Clone, Debug)]
pub struct PgSinkSpec {
    /// `url:`.
    pub url: Located<Secret>,
    /// `table:`.
    pub table: Located<String>,
    /// `key:` — the key column (default `key`); it holds the record key.
    pub key_column: String,
    /// `columns:` — output fields written to columns of the same names;
    /// empty means the JSONB form: the whole record in `document:`.
    pub columns: Vec<String>,
    /// `document:` — the JSONB column of the JSONB form (default `doc`).
    pub document: String,
    /// `create: true` creates the table (JSONB form) when it is missing;
    /// otherwise a missing table is an error at start-up.
    pub create: bool,
}

/// The place of something in the pipeline file, for errors raised at
/// start-up (an occupied port, an unreachable database).
pub type Place = Loc;
