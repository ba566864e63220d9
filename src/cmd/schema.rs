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
//! The pipeline format (SPEC §5) has no loader yet: its schema is written
//! from the SPEC, not from key lists.
//!
//! The output is deterministic (keys in a fixed order); the generated files
//! are committed under `schemas/`, and a test checks they are current.

use mapwright_dsl::{Map, Value};
use mapwright_engine::spec::mapping::{
    CHECK_KEYS, FIELD_KEYS, HOOK_KEYS, LOOKUP_KEYS, MAPPING_KEYS, RULE_KEYS, SOURCE_KEYS, TEST_KEYS,
};

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

const SOURCE_KINDS: &[&str] = &["file", "dir", "stdin", "http", "postgres", "nats"];
const SINK_KINDS: &[&str] = &["file", "dir", "stdout", "http", "postgres", "nats"];

fn text(desc: &str) -> Value {
    describe(desc, typed("string"))
}

fn format_prop() -> Value {
    describe(
        "Record format when the extension does not tell: json (one record or an array), jsonl, csv (header row), yaml.",
        one_of_words(&["json", "jsonl", "csv", "yaml"]),
    )
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

/// The JSON Schema of a pipeline file.
pub fn pipeline_schema() -> Value {
    let path = || text("A file or folder path, relative to the pipeline file.");
    let url = || text("A URL; `${NAME}` reads an environment variable at load time.");
    let source = obj([
        ("description", s(&format!("Where records come from: `kind:` one of {}.", SOURCE_KINDS.join(", ")))),
        (
            "oneOf",
            Value::array(vec![
                kind_block(
                    "file",
                    "Records from one file.",
                    vec![("path", path()), ("format", format_prop())],
                    &["path"],
                ),
                kind_block(
                    "dir",
                    "Records from every file dropped into a folder.",
                    vec![("path", path()), ("format", format_prop())],
                    &["path"],
                ),
                kind_block("stdin", "Records from standard input.", vec![("format", format_prop())], &[]),
                kind_block(
                    "http",
                    "Records POSTed to an HTTP endpoint (answered 2xx once durably stored).",
                    vec![
                        ("listen", text("Address to listen on, `host:port`.")),
                        ("path", text("The URL path records are POSTed to.")),
                        (
                            "verify",
                            describe(
                                "Signature check of each request.",
                                closed(
                                    &["hmac_sha256_header", "secret"],
                                    |k| {
                                        Some(match k {
                                            "hmac_sha256_header" => {
                                                text("The header carrying the base64 HMAC-SHA256 of the body.")
                                            }
                                            _ => text(
                                                "The shared secret; use `${NAME}` to read it from the environment.",
                                            ),
                                        })
                                    },
                                    &["hmac_sha256_header", "secret"],
                                ),
                            ),
                        ),
                    ],
                    &["listen"],
                ),
                kind_block(
                    "postgres",
                    "Records from a PostgreSQL query.",
                    vec![("url", url()), ("query", text("The SQL query whose rows are the records."))],
                    &["url"],
                ),
                kind_block(
                    "nats",
                    "Records from a NATS subject.",
                    vec![("url", url()), ("subject", text("The subject to subscribe to."))],
                    &["url", "subject"],
                ),
            ]),
        ),
    ]);
    let retry = describe(
        "Retries with exponential backoff and jitter.",
        closed(
            &["attempts", "backoff", "max_backoff"],
            |k| {
                Some(match k {
                    "attempts" => {
                        describe("How many times to try.", obj([("type", s("integer")), ("minimum", int(1))]))
                    }
                    "backoff" => describe("The first wait (`200ms`, `1s`).", reference("duration")),
                    _ => describe("The longest wait (`30s`).", reference("duration")),
                })
            },
            &[],
        ),
    );
    let sink = obj([
        ("description", s(&format!("Where records go: `kind:` one of {}.", SINK_KINDS.join(", ")))),
        (
            "oneOf",
            Value::array(vec![
                kind_block("file", "Append to a file.", vec![("path", path()), ("format", format_prop())], &["path"]),
                kind_block(
                    "dir",
                    "One file per record in a folder.",
                    vec![("path", path()), ("format", format_prop())],
                    &["path"],
                ),
                kind_block("stdout", "Standard output.", vec![("format", format_prop())], &[]),
                kind_block(
                    "http",
                    "POST each record to an HTTP endpoint.",
                    vec![
                        ("url", url()),
                        (
                            "headers",
                            describe(
                                "Request headers; `${NAME}` reads an environment variable.",
                                dict(typed("string")),
                            ),
                        ),
                        ("idempotency_header", text("Header carrying the record's idempotency key.")),
                        ("retry", retry),
                    ],
                    &["url"],
                ),
                kind_block(
                    "postgres",
                    "Upsert each record into a PostgreSQL table.",
                    vec![("url", url()), ("table", text("The table to write to."))],
                    &["url", "table"],
                ),
                kind_block(
                    "nats",
                    "Publish each record to a NATS subject.",
                    vec![("url", url()), ("subject", text("The subject to publish to."))],
                    &["url", "subject"],
                ),
            ]),
        ),
    ]);
    let mut defs = Map::new();
    defs.insert("source", source);
    defs.insert("sink", sink);
    defs.insert(
        "duration",
        describe(
            "A duration: a whole number and a unit (`200ms`, `30s`, `5m`, `1h`).",
            obj([("type", s("string")), ("pattern", s("^[0-9]+(ms|s|m|h)$"))]),
        ),
    );
    let top: &[&str] = &["pipeline", "mapping", "source", "sink", "dead_letter", "drift", "state", "watch", "metrics"];
    let body = closed(
        top,
        |k| {
            Some(match k {
                "pipeline" => text("The pipeline's name."),
                "mapping" => text("The mapping file, relative to the pipeline file."),
                "source" => reference("source"),
                "sink" => reference("sink"),
                "dead_letter" => describe(
                    "Where failed records go, one JSON line each: {key, mapping, version, at, errors, input}.",
                    reference("sink"),
                ),
                "drift" => describe(
                    "Where disagreements between sources go (fields with `on_conflict: report`).",
                    reference("sink"),
                ),
                "state" => {
                    text("The state store (delivered keys and content hashes, in-flight deliveries): a file path.")
                }
                "watch" => describe(
                    "Hot reload of the mapping, lookups, hooks and contract when they change.",
                    typed("boolean"),
                ),
                "metrics" => describe(
                    "GET /metrics (Prometheus text) and GET /health.",
                    closed(&["listen"], |_| Some(text("Address to listen on, `host:port`.")), &["listen"]),
                ),
                _ => return None,
            })
        },
        &["pipeline", "mapping", "source", "sink"],
    );
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
    }
}
