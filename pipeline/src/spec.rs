//! The pipeline file: its top-level keys (the table below) and the spec it
//! decodes into. Each source and sink kind has its keys and its spec in
//! its own file (`sources/http.rs`, `sinks/postgres.rs`, …); this file
//! holds what is common to a whole pipeline.

use std::path::PathBuf;

use mapwright_engine::diagnostic::SourceFile;
use mapwright_engine::spec::Located;
use mapwright_engine::spec::keys::{Block, Key, Type};

use crate::sinks::{self, SinkKind, SinkSpec};
use crate::sources::{self, SourceSpec};

/// The top level of a pipeline file.
pub(crate) static PIPELINE: Block = Block::new(
    "pipeline",
    "A mapwright pipeline file: a mapping between a source and a sink, with dead letters, drift, state and metrics. Paths are relative to the pipeline file; `${NAME}` reads an environment variable when the file is loaded (`$$` is a literal `$`).",
    &[
        Key::new("pipeline", Type::Text, "The pipeline's name (metrics, logs, dead-letter file names).")
            .required("the pipeline's name: `pipeline: orders-to-erp`"),
        Key::new("description", Type::Text, "What the pipeline is for."),
        Key::new("mapping", Type::Text, "The mapping file, relative to the pipeline file (one source; multi-source mappings run with `map --source`).")
            .required("the mapping file, relative to this file: `mapping: ../mappings/order.yaml`"),
        Key::new("source", Type::Kinds(&sources::KINDS), "Where records come from, by `kind:`.")
            .required("where records come from: `source: { kind: file, path: in/orders.jsonl }`"),
        Key::new("sink", Type::Kinds(&sinks::KINDS), "Where mapped records go, by `kind:` (or `sinks:` for several)."),
        Key::new(
            "sinks",
            Type::List(&SINK),
            "Several sinks, each with its `name:`, an optional `when:` and its own delivery: every record goes to each sink whose `when:` holds, exactly once.",
        ),
        Key::new(
            "dead_letter",
            Type::Kinds(&sinks::LINE_KINDS),
            "Where failed records go, one JSON line each: `{key, mapping, version, at, errors, input}` (a file, a folder or stdout; default `<pipeline>.dead-letter.jsonl` beside the pipeline file).",
        ),
        Key::new(
            "drift",
            Type::Kinds(&sinks::LINE_KINDS),
            "Where disagreements between sources go (fields with `on_conflict: report`): a file, a folder or stdout.",
        ),
        Key::new(
            "state",
            Type::Either(&[Type::Text, Type::Block(&STATE)]),
            "The state store: inbox of accepted payloads, delivered marks, cursors — a path (default `<pipeline>.state.db` beside the pipeline file), or `{ path, keep }`.",
        ),
        Key::new("watch", Type::Bool, "Hot reload of the mapping, its lookups, hooks and contract when they change."),
        Key::new("metrics", Type::Block(&METRICS), "`GET /metrics` (Prometheus text) and `GET /health`."),
    ],
);

/// `state:` as a block.
pub(crate) static STATE: Block = Block::new(
    "state",
    "The state store: where it is, and how long delivered marks are kept.",
    &[
        Key::new("path", Type::Text, "The store's file (default `<pipeline>.state.db` beside the pipeline file)."),
        Key::new(
            "keep",
            Type::Either(&[Type::Duration, Type::Words(&["forever"])]),
            "How long a delivered mark is kept (default `30d`): a record older than this, read again, is sent again (with the same idempotency key). Pending records are never pruned.",
        ),
    ],
);

/// One sink of `sinks:`.
static SINK: Type = Type::Kinds(&sinks::KINDS);

/// `metrics:`.
pub(crate) static METRICS: Block = Block::new(
    "metrics",
    "The metrics server: `GET /metrics` (Prometheus text) and `GET /health`.",
    &[Key::new("listen", Type::Text, "Address to listen on, `host:port`.")
        .required("the address to serve /metrics on: `listen: 127.0.0.1:9464`")],
);

/// A loaded pipeline file.
#[derive(Debug)]
pub(crate) struct PipelineSpec {
    /// `pipeline:` — the name.
    pub name: String,
    /// The pipeline file's text, for diagnostics raised after loading (an
    /// occupied port, an unreachable database).
    pub file: SourceFile,
    /// `mapping:`, resolved against the pipeline file's folder.
    pub mapping: Located<PathBuf>,
    /// `source:`.
    pub source: SourceSpec,
    /// `sink:` (one) or `sinks:`, in the order written.
    pub sinks: Vec<SinkSpec>,
    /// `dead_letter:` (default: a file `<pipeline>.dead-letter.jsonl` next
    /// to the pipeline file).
    pub dead_letter: SinkKind,
    /// `drift:`, when given.
    pub drift: Option<SinkKind>,
    /// `state:` (default: `<pipeline file stem>.state.db` next to the
    /// pipeline file).
    pub state: PathBuf,
    /// `state.keep:` — how long delivered marks are kept (`None`: forever).
    pub keep: Option<std::time::Duration>,
    /// `watch:` — hot reload.
    pub watch: bool,
    /// `metrics: { listen }`.
    pub metrics: Option<Located<String>>,
}
