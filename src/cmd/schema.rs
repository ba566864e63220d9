//! `mapwright schema [mapping|pipeline]`: JSON Schema (draft 2020-12) of
//! the spec formats, for editors (`# yaml-language-server: $schema=…`) and
//! for checking files in CI.
//!
//! Why not `schemars` on the spec structs: the loader does not deserialize
//! with serde. It walks a located YAML tree so that it can report every
//! problem of a file at once (see `engine/src/spec/`), and what it accepts
//! is decided by the key lists it checks against (`MAPPING_KEYS`,
//! `FIELD_KEYS`, … in `mapwright_engine::spec::mapping`). The schema is
//! built by iterating those same lists, so a key added to the loader
//! appears here; a key without a description below still appears (as
//! "any value"), and a test fails until it is described. Every object is
//! closed (`additionalProperties: false`), like the loader.
//!
//! The pipeline schema is built the same way from the pipeline loader's
//! lists (`PIPELINE_KEYS`, `SOURCE_KINDS`, `SINK_KINDS`, … in
//! `mapwright_pipeline::decode`).
//!
//! The output is deterministic (keys in a fixed order); the generated files
//! are committed under `schemas/`, and a test checks they are current.

use mapwright_dsl::{Map, Value};
use mapwright_engine::spec::mapping::{
    CHECK_KEYS, FIELD_KEYS, HOOK_KEYS, LOOKUP_KEYS, MAPPING_KEYS, RULE_KEYS, SOURCE_KEYS, TEST_KEYS,
};
use mapwright_pipeline::decode::{METRICS_KEYS, PIPELINE_KEYS, RETRY_KEYS, SINK_KINDS, SOURCE_KINDS, VERIFY_KEYS};

/// Which format.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// A mapping file (SPEC §4).
    #[default]
    Mapping,
    /// A pipeline file (SPEC §5).
    Pipeline,
}

/// Arguments of `schema`.
#[derive(clap::Args)]
pub struct Args {
    /// The format to describe.
    #[arg(value_enum, default_value = "mapping")]
    format: Format,
}

/// Runs `schema`: prints the schema (pretty JSON) to standard output.
pub fn run(args: Args) -> u8 {
    let schema = match args.format {
        Format::Mapping => mapping_schema(),
        Format::Pipeline => pipeline_schema(),
    };
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{}", schema.to_json_pretty()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("error: cannot write the schema: {e}");
            super::INVALID
        }
        _ => super::OK,
    }
}

/// Text used for a key the loader accepts but this module does not describe yet.
const UNDESCRIBED: &str = "(accepted by the loader; not described yet)";

// ---------------------------------------------------------------------------
// Small builders: schemas are mapwright values, which keep insertion order.

fn obj<'a>(entries: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in entries {
        m.insert(k, v);
    }
    Value::object(m)
}

fn s(text: &str) -> Value {
    Value::str(text)
}

fn strs(items: &[&str]) -> Value {
    Value::array(items.iter().map(|i| s(i)).collect())
}

fn int(n: i64) -> Value {
    Value::from_json(&n.to_string()).unwrap_or(Value::Null)
}

fn reference(def: &str) -> Value {
    obj([("$ref", s(&format!("#/$defs/{def}")))])
}

/// `schema` with a description added in front.
fn describe(text: &str, schema: Value) -> Value {
    let mut m = Map::new();
    m.insert("description", s(text));
    if let Value::Object(inner) = schema {
        for (k, v) in inner.iter() {
            if k.as_ref() != "description" {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    Value::object(m)
}

fn typed(t: &str) -> Value {
    obj([("type", s(t))])
}

fn one_of_words(words: &[&str]) -> Value {
    obj([("type", s("string")), ("enum", strs(words))])
}

/// A closed object whose properties are `keys`, each described by `each`.
fn closed(keys: &[&str], each: impl Fn(&str) -> Option<Value>, required: &[&str]) -> Value {
    let mut props = Map::new();
    for k in keys {
        props.insert(*k, each(k).unwrap_or_else(|| obj([("description", s(UNDESCRIBED))])));
    }
    let mut m = Map::new();
    m.insert("type", s("object"));
    if !required.is_empty() {
        m.insert("required", strs(required));
    }
    m.insert("properties", Value::object(props));
    m.insert("additionalProperties", Value::Bool(false));
    Value::object(m)
}

/// An object with any keys, each value matching `values`.
fn dict(values: Value) -> Value {
    obj([("type", s("object")), ("additionalProperties", values)])
}

// ---------------------------------------------------------------------------
// Mapping files (SPEC §4)

/// The JSON Schema of a mapping file.
pub fn mapping_schema() -> Value {
    let mut defs = Map::new();
    defs.insert(
        "expression",
        describe(
            "An expression of the mapping language (`$.customer.email | trim | lower`). A number, true, false or null is an expression too.",
            obj([("type", strs(&["string", "number", "boolean", "null"]))]),
        ),
    );
    defs.insert(
        "fields",
        describe(
            "Output fields, in output order. A dotted name (`customer.email`) builds a nested object.",
            dict(reference("field")),
        ),
    );
    defs.insert(
        "field",
        describe(
            "An output field: an expression (short form), or an object with `expr:`, `from:`, `fields:` or `each:` and options (long form).",
            obj([("anyOf", Value::array(vec![reference("expression"), reference("field_block")]))]),
        ),
    );
    defs.insert("field_block", describe("An output field in long form.", closed(FIELD_KEYS, field_key, &[])));
    defs.insert(
        "per_source",
        describe(
            "One expression per source of a multi-source mapping: `{erp: $erp.price, shop: $shop.price}`.",
            dict(reference("expression")),
        ),
    );
    defs.insert(
        "prefer",
        describe(
            "Source precedence: a list of sources (the first with a value wins; sources not listed come after, in `from:` order), or `latest` (the newest by `updated_at:` wins).",
            obj([(
                "anyOf",
                Value::array(vec![
                    obj([("const", s("latest"))]),
                    obj([("type", s("string"))]),
                    obj([("type", s("array")), ("items", typed("string"))]),
                ]),
            )]),
        ),
    );
    defs.insert(
        "severity",
        describe(
            "`error` (default): the record fails and goes to the dead letter. `warn`: the record passes; the problem is counted and logged.",
            one_of_words(&["error", "warn", "warning"]),
        ),
    );
    defs.insert(
        "bound",
        describe("A number, or a timestamp as text (`2020-01-01`).", obj([("type", strs(&["number", "string"]))])),
    );
    defs.insert(
        "check",
        describe("A conditional check on the field's value.", closed(CHECK_KEYS, check_key, &["message"])),
    );
    defs.insert("rule", describe("A rule about the whole output record.", closed(RULE_KEYS, rule_key, &["rule"])));
    defs.insert(
        "lookup",
        describe("A lookup table: `inline:` entries or a `file:`.", closed(LOOKUP_KEYS, lookup_key, &[])),
    );
    defs.insert(
        "source",
        describe(
            "A source of a multi-source mapping: its join key expression, or an object with `key:` and `updated_at:`.",
            obj([("anyOf", Value::array(vec![reference("expression"), closed(SOURCE_KEYS, source_key, &["key"])]))]),
        ),
    );
    defs.insert("hooks", describe("Rhai hook functions, run in a sandbox.", closed(HOOK_KEYS, hook_key, &[])));
    defs.insert("test", describe("A fixture test, run by `mapwright test`.", closed(TEST_KEYS, test_key, &[])));

    let mut root = Map::new();
    root.insert("$schema", s("https://json-schema.org/draft/2020-12/schema"));
    root.insert("title", s("mapwright mapping"));
    root.insert(
        "description",
        s("A mapwright mapping file: turns one input record (or one record per source, joined by key) into one output record. Generated by `mapwright schema mapping`."),
    );
    if let Value::Object(body) = closed(MAPPING_KEYS, mapping_key, &["mapping", "fields"]) {
        for (k, v) in body.iter() {
            root.insert(k.clone(), v.clone());
        }
    }
    root.insert("$defs", Value::object(defs));
    Value::object(root)
}

fn mapping_key(key: &str) -> Option<Value> {
    Some(match key {
        "mapping" => describe("The mapping's name, unique in a project; written into dead letters.", typed("string")),
        "version" => describe(
            "The mapping's version, written into dead letters and lineage.",
            obj([("type", strs(&["string", "number"]))]),
        ),
        "description" => describe("What the mapping does, for people.", typed("string")),
        "key" => describe("The record's identity (idempotency, duplicates, joins, lineage).", reference("expression")),
        "filter" => {
            describe("Records for which this is false are dropped on purpose (and counted).", reference("expression"))
        }
        "nulls" => describe(
            "`keep` (default): null fields are written; `omit`: they are left out.",
            one_of_words(&["keep", "omit"]),
        ),
        "lookups" => describe("Lookup tables by name, used as `lookup(\"name\", key)`.", dict(reference("lookup"))),
        "sources" => describe(
            "The named sources of a multi-source mapping, joined by key; `$name` reads a source's record.",
            dict(reference("source")),
        ),
        "prefer" => describe("Default source precedence for every multi-source field.", reference("prefer")),
        "hooks" => describe(
            "Rhai hooks: a script with functions callable from expressions, and optional before/after hooks.",
            reference("hooks"),
        ),
        "fields" => describe("The output fields, in output order.", reference("fields")),
        "validate" => describe(
            "Rules about the whole output record, checked after the fields.",
            obj([("type", s("array")), ("items", reference("rule"))]),
        ),
        "contract" => {
            describe("A JSON Schema file (relative to the mapping) every output must satisfy.", typed("string"))
        }
        "tests" => describe(
            "Fixture tests for `mapwright test`: an input (or one per source) and the expected output or error.",
            obj([("type", s("array")), ("items", reference("test"))]),
        ),
        _ => return None,
    })
}

fn field_key(key: &str) -> Option<Value> {
    Some(match key {
        "expr" => describe("How the value is computed.", reference("expression")),
        "from" => describe(
            "Multi-source: a candidate expression per source; the winner is chosen by `prefer:`.",
            reference("per_source"),
        ),
        "default" => describe("A literal used when the value is null.", obj([])),
        "when" => describe("The field is left out of the output when this is false.", reference("expression")),
        "type" => describe(
            "The value must have this type.",
            one_of_words(&["string", "number", "integer", "boolean", "timestamp", "array", "object"]),
        ),
        "required" => describe("The value must not be null.", typed("boolean")),
        "pattern" => describe("A regular expression the text must match.", typed("string")),
        "enum" => describe("The allowed values.", typed("array")),
        "min" => describe("The smallest allowed value.", reference("bound")),
        "max" => describe("The largest allowed value.", reference("bound")),
        "min_length" => {
            describe("The fewest characters (or elements) allowed.", obj([("type", s("integer")), ("minimum", int(0))]))
        }
        "max_length" => {
            describe("The most characters (or elements) allowed.", obj([("type", s("integer")), ("minimum", int(0))]))
        }
        "checks" => describe(
            "Conditional checks, each with its own message and severity.",
            obj([("type", s("array")), ("items", reference("check"))]),
        ),
        "doc" => describe("What the field means; shown by `mapwright doc`.", typed("string")),
        "omit_null" => describe("Leave the field out when it is null (overrides `nulls:`).", typed("boolean")),
        "prefer" => describe("Source precedence for this field.", reference("prefer")),
        "on_conflict" => describe(
            "When sources disagree: `ignore` (default), `report` (a drift line), `error` (the record fails).",
            one_of_words(&["ignore", "report", "error"]),
        ),
        "tolerance" => describe(
            "Numbers closer than this do not count as a conflict.",
            obj([("type", s("number")), ("minimum", int(0))]),
        ),
        "updated_at" => describe(
            "For `prefer: latest`: a timestamp expression per source (default: the source's `updated_at:`).",
            reference("per_source"),
        ),
        "fields" => describe("A nested object (or, with `each:`, the object built per element).", reference("fields")),
        "each" => describe(
            "An array: one output element per element of this list (`it` is the element, `index()` its position).",
            reference("expression"),
        ),
        "where" => describe("With `each:`: keep only the elements for which this is true.", reference("expression")),
        _ => return None,
    })
}

fn check_key(key: &str) -> Option<Value> {
    Some(match key {
        "when" => describe("The check applies only when this is true.", reference("expression")),
        "rule" => describe("An expression that must be true (`it` is the field's value).", reference("expression")),
        "pattern" => describe("A regular expression the text must match.", typed("string")),
        "enum" => describe("The allowed values.", typed("array")),
        "min" => describe("The smallest allowed value.", reference("bound")),
        "max" => describe("The largest allowed value.", reference("bound")),
        "message" => describe("What is wrong, for the dead letter.", typed("string")),
        "severity" => reference("severity"),
        _ => return None,
    })
}

fn rule_key(key: &str) -> Option<Value> {
    Some(match key {
        "rule" => describe("An expression over the output (`out`) that must be true.", reference("expression")),
        "message" => describe("What is wrong, for the dead letter.", typed("string")),
        "severity" => reference("severity"),
        _ => return None,
    })
}

fn lookup_key(key: &str) -> Option<Value> {
    Some(match key {
        "inline" => describe("The entries, key → value.", typed("object")),
        "file" => describe("A CSV or JSON file, relative to the mapping.", typed("string")),
        "key" => describe("The CSV column (or JSON field) holding the keys.", typed("string")),
        "value" => describe("The CSV column (or JSON field) holding the values.", typed("string")),
        "strict" => describe("A key not in the table fails the record (instead of giving null).", typed("boolean")),
        "format" => describe("The file's format, when its extension does not tell.", one_of_words(&["csv", "json"])),
        _ => return None,
    })
}

fn source_key(key: &str) -> Option<Value> {
    Some(match key {
        "key" => describe("The join key, read from this source's record as `$`.", reference("expression")),
        "updated_at" => describe(
            "The record's freshness: picks among duplicates, and the default for `prefer: latest`.",
            reference("expression"),
        ),
        _ => return None,
    })
}

fn hook_key(key: &str) -> Option<Value> {
    const LIMITS: &[&str] =
        &["max_operations", "max_call_levels", "max_expr_depth", "max_string_size", "max_array_size", "max_map_size"];
    Some(match key {
        "script" => describe("A Rhai file, relative to the mapping.", typed("string")),
        "inline" => describe("Rhai source.", typed("string")),
        "before" => describe("A function `fn(record) -> record` run before the fields.", typed("string")),
        "after" => describe("A function `fn(output, input) -> output` run after the fields.", typed("string")),
        "limits" => describe(
            "Sandbox limits; exceeding one fails the record, never hangs.",
            closed(LIMITS, |_| Some(obj([("type", s("integer")), ("minimum", int(1))])), &[]),
        ),
        _ => return None,
    })
}

fn test_key(key: &str) -> Option<Value> {
    Some(match key {
        "name" => describe("What the test shows.", typed("string")),
        "input" => describe(
            "The input fixture, relative to the mapping: a JSON object (one record) or array, JSON Lines, CSV or YAML.",
            typed("string"),
        ),
        "inputs" => describe("Multi-source: one input fixture per source.", dict(typed("string"))),
        "expect" => describe(
            "The expected output (JSON), relative to the mapping; `mapwright test --update` writes it.",
            typed("string"),
        ),
        "expect_error" => describe("Text that must appear in the failure of some record.", typed("string")),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Pipeline files (SPEC §5)
//
// Built from the pipeline loader's lists (`mapwright_pipeline::decode`):
// one closed block per source and sink kind, with exactly the keys the
// loader accepts for that kind.

fn text(desc: &str) -> Value {
    describe(desc, typed("string"))
}

fn format_prop() -> Value {
    describe(
        "Record format when the extension does not tell: json (one record or an array), jsonl, csv (header row), yaml.",
        one_of_words(&["json", "jsonl", "csv", "yaml"]),
    )
}

fn duration(desc: &str) -> Value {
    describe(desc, reference("duration"))
}

/// Keys the loader requires, by endpoint and kind.
fn required(source: bool, kind: &str) -> &'static [&'static str] {
    match (source, kind) {
        (_, "file" | "dir") => &["path"],
        (true, "http") => &["listen"],
        (true, "postgres") => &["url", "query", "cursor"],
        (false, "http") => &["url"],
        (false, "postgres") => &["url", "table"],
        (_, "nats") => &["url", "subject"],
        _ => &[],
    }
}

fn kind_description(source: bool, kind: &str) -> Option<&'static str> {
    Some(match (source, kind) {
        (true, "file") => {
            "Records from a file or a glob of files (`in/*.jsonl`), read once; the run ends when all are read."
        }
        (true, "dir") => "A drop folder: each new file is processed once, then moved to `done/` or `failed/`.",
        (true, "stdin") => "Records from standard input; the run ends at its end.",
        (true, "http") => "Records POSTed to an HTTP endpoint, answered 2xx once durably stored.",
        (true, "postgres") => "Rows of a PostgreSQL query past an increasing cursor column, polled.",
        (false, "file") => "Append to a file (jsonl, json or csv by extension), synced per batch.",
        (false, "dir") => "One file per batch in a folder, written by rename.",
        (false, "stdout") => "Standard output, JSON Lines.",
        (false, "http") => "One request per record, with retries and an idempotency key.",
        (false, "postgres") => "Upsert by key into a PostgreSQL table: one JSONB column or a column list.",
        (true, "nats") => {
            "Messages on a NATS subject, each stored before it is acknowledged; with `stream:`, a durable JetStream consumer."
        }
        (false, "nats") => {
            "One NATS message per record; with `stream:`, acknowledged by JetStream and deduplicated by `Nats-Msg-Id`."
        }
        _ => return None,
    })
}

/// The description of an endpoint key.
fn endpoint_key(source: bool, key: &str) -> Option<Value> {
    let url = || text("A URL; `${NAME}` reads an environment variable at load time.");
    Some(match (source, key) {
        (_, "kind") => return None,
        (_, "path") if source => {
            text("A file, glob or folder path, relative to the pipeline file; for `http`, the URL path.")
        }
        (_, "path") => text("A file or folder path, relative to the pipeline file."),
        (_, "format") => format_prop(),
        (_, "done") => text("Where finished files go (default `<path>/done`)."),
        (_, "failed") => text("Where files with a failed record go (default `<path>/failed`)."),
        (_, "poll") => duration("How often to look for new files or rows (default 1s)."),
        (_, "settle") => duration("How long a dropped file must stay unchanged before it is read (default 1s)."),
        (_, "listen") => text("Address to listen on, `host:port`."),
        (_, "verify") => describe(
            "Signature check of each request (Shopify's scheme).",
            closed(
                VERIFY_KEYS,
                |k| {
                    Some(match k {
                        "hmac_sha256_header" => text("The header carrying the base64 HMAC-SHA256 of the body."),
                        "secret" => text("The shared secret; use `${NAME}` to read it from the environment."),
                        _ => return None,
                    })
                },
                VERIFY_KEYS,
            ),
        ),
        (_, "max_body") => describe(
            "Largest accepted body: bytes, or a size with a unit (`10MiB`, `512KiB`, `10MB`); larger gets 413.",
            obj([("type", Value::array(vec![s("integer"), s("string")]))]),
        ),
        (_, "url") => url(),
        (_, "query") => text("The SQL query whose rows are the records."),
        (_, "cursor") => text("An increasing column of the query; only rows past the last value seen are read."),
        (_, "batch") => describe("Rows per query (default 500).", obj([("type", s("integer")), ("minimum", int(1))])),
        (_, "method") => describe("HTTP method (default POST).", one_of_words(&["POST", "PUT", "PATCH"])),
        (_, "headers") => describe("Request headers; `${NAME}` reads an environment variable.", dict(typed("string"))),
        (_, "idempotency_header") => text("Header carrying the record's idempotency key (`<key>:<hash>`)."),
        (_, "retry") => describe(
            "Retries with exponential backoff and jitter on connect errors, timeouts, 429 and 5xx.",
            closed(
                RETRY_KEYS,
                |k| {
                    Some(match k {
                        "attempts" => describe(
                            "Tries in all, the first included (default 6).",
                            obj([("type", s("integer")), ("minimum", int(1))]),
                        ),
                        "backoff" => duration("The first wait (default 200ms), doubled each time."),
                        "max_backoff" => duration("The longest wait (default 30s)."),
                        _ => return None,
                    })
                },
                &[],
            ),
        ),
        (_, "timeout") => duration("Time allowed for one request (default 10s)."),
        (_, "table") => text("The table to upsert into (`schema.table` allowed)."),
        (_, "key") => text("The key column (default `key`); it holds the record key and must be unique."),
        (_, "columns") => describe(
            "Output fields written to columns of the same names; without it, the JSONB form.",
            obj([("type", s("array")), ("items", typed("string"))]),
        ),
        (_, "document") => text("The JSONB column of the JSONB form (default `doc`)."),
        (_, "create") => describe("Create the table (JSONB form) when it is missing.", typed("boolean")),
        (true, "subject") => text("The NATS subject to receive (wildcards `*` and `>` allowed)."),
        (false, "subject") => text("The NATS subject records are published on."),
        (_, "stream") => text("The JetStream stream that holds the subject; without it, plain NATS."),
        (_, "durable") => text("The durable JetStream consumer's name (default `mapwright-<pipeline>`)."),
        (_, "ack_wait") => {
            duration("How long JetStream waits for an ack before sending a message again (default 30s).")
        }
        _ => return None,
    })
}

fn endpoint(source: bool, kinds: &[(&str, &[&str])]) -> Value {
    let blocks = kinds
        .iter()
        .map(|(kind, keys)| {
            let props = keys
                .iter()
                .filter(|k| **k != "kind")
                .map(|k| (*k, endpoint_key(source, k).unwrap_or_else(|| obj([("description", s(UNDESCRIBED))]))))
                .collect();
            kind_block(kind, kind_description(source, kind).unwrap_or(UNDESCRIBED), props, required(source, kind))
        })
        .collect();
    let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
    let what = if source { "Where records come from" } else { "Where records go" };
    obj([("description", s(&format!("{what}: `kind:` one of {}.", names.join(", ")))), ("oneOf", Value::array(blocks))])
}

/// A closed object for one `kind:` and its own keys.
fn kind_block(kind: &str, desc: &str, props: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut p = Map::new();
    p.insert("kind", obj([("const", s(kind))]));
    for (k, v) in props {
        p.insert(k, v);
    }
    let mut req = vec!["kind"];
    req.extend_from_slice(required);
    obj([
        ("description", s(desc)),
        ("type", s("object")),
        ("required", strs(&req)),
        ("properties", Value::object(p)),
        ("additionalProperties", Value::Bool(false)),
    ])
}

fn pipeline_key(key: &str) -> Option<Value> {
    Some(match key {
        "pipeline" => text("The pipeline's name."),
        "description" => text("What the pipeline is for."),
        "mapping" => text("The mapping file, relative to the pipeline file."),
        "source" => reference("source"),
        "sink" => reference("sink"),
        "dead_letter" => describe(
            "Where failed records go, one JSON line each: {key, mapping, version, at, errors, input} (file, dir or stdout; default `<pipeline>.dead-letter.jsonl` next to the pipeline file).",
            reference("lines"),
        ),
        "drift" => describe(
            "Where disagreements between sources go (fields with `on_conflict: report`): file, dir or stdout.",
            reference("lines"),
        ),
        "state" => text("The state store (inbox, delivered keys and hashes, cursors): a file path (default `<pipeline>.state.db` next to the pipeline file)."),
        "watch" => describe("Hot reload of the mapping, lookups, hooks and contract when they change.", typed("boolean")),
        "metrics" => describe(
            "GET /metrics (Prometheus text) and GET /health.",
            closed(METRICS_KEYS, |_| Some(text("Address to listen on, `host:port`.")), &["listen"]),
        ),
        _ => return None,
    })
}

/// The JSON Schema of a pipeline file.
pub fn pipeline_schema() -> Value {
    let lines: Vec<(&str, &[&str])> =
        SINK_KINDS.iter().filter(|(k, _)| ["file", "dir", "stdout"].contains(k)).copied().collect();
    let mut defs = Map::new();
    defs.insert("source", endpoint(true, SOURCE_KINDS));
    defs.insert("sink", endpoint(false, SINK_KINDS));
    defs.insert("lines", endpoint(false, &lines));
    defs.insert(
        "duration",
        describe(
            "A duration: a whole number and a unit (`200ms`, `30s`, `5m`, `1h`).",
            obj([("type", s("string")), ("pattern", s("^[0-9]+(ms|s|m|h)$"))]),
        ),
    );
    let body = closed(PIPELINE_KEYS, pipeline_key, &["pipeline", "mapping", "source", "sink"]);
    let mut root = Map::new();
    root.insert("$schema", s("https://json-schema.org/draft/2020-12/schema"));
    root.insert("title", s("mapwright pipeline"));
    root.insert(
        "description",
        s("A mapwright pipeline file: a mapping between a source and a sink, with dead letters, drift, state and metrics. Generated by `mapwright schema pipeline`."),
    );
    if let Value::Object(b) = body {
        for (k, v) in b.iter() {
            root.insert(k.clone(), v.clone());
        }
    }
    root.insert("$defs", Value::object(defs));
    Value::object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Describer = fn(&str) -> Option<Value>;

    /// Every key of every loader list is described (not only present).
    #[test]
    fn every_loader_key_is_described() {
        let lists: [(&str, &[&str], Describer); 8] = [
            ("mapping", MAPPING_KEYS, mapping_key),
            ("field", FIELD_KEYS, field_key),
            ("check", CHECK_KEYS, check_key),
            ("rule", RULE_KEYS, rule_key),
            ("lookup", LOOKUP_KEYS, lookup_key),
            ("hooks", HOOK_KEYS, hook_key),
            ("test", TEST_KEYS, test_key),
            ("source", SOURCE_KEYS, source_key),
        ];
        for (list, keys, describe) in lists {
            for k in keys {
                assert!(describe(k).is_some(), "`{k}` ({list} keys) has no description in src/cmd/schema.rs");
            }
        }
        assert!(!mapping_schema().to_json().contains(UNDESCRIBED));
        for k in PIPELINE_KEYS {
            assert!(pipeline_key(k).is_some(), "`{k}` (pipeline keys) has no description");
        }
        for (source, kinds) in [(true, SOURCE_KINDS), (false, SINK_KINDS)] {
            for (kind, keys) in kinds {
                assert!(kind_description(source, kind).is_some(), "kind {kind} has no description");
                for k in keys.iter().filter(|k| **k != "kind") {
                    assert!(endpoint_key(source, k).is_some(), "`{k}` of kind {kind} has no description");
                }
            }
        }
        assert!(!pipeline_schema().to_json().contains(UNDESCRIBED));
    }
}
