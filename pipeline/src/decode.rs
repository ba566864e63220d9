//! Decoding a pipeline file: located YAML → [`PipelineSpec`], every
//! problem collected as a diagnostic with its place and a hint.
//!
//! Checks made here need nothing but the file and the environment: keys,
//! kinds, required keys, durations, formats, `${NAME}` variables. Checks
//! that need the world (a port to bind, a database to reach) are made at
//! start-up, before any record is read, and point at the same places.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::spec::{
    HmacVerify, HttpSinkSpec, HttpSourceSpec, NatsSinkSpec, NatsSourceSpec, PgSinkSpec, PgSourceSpec, PipelineSpec,
    Retry, Secret, SinkSpec, SourceSpec,
};
use mapwright_engine::input::Format;
use mapwright_engine::spec::yaml::{Key, Loc, Node, Yaml};
use mapwright_engine::spec::{get, Decoder, Located};
use mapwright_engine::{Diagnostic, Diagnostics, SourceFile, SpecCode};

/// Top-level keys of a pipeline file.
pub const PIPELINE_KEYS: &[&str] =
    &["pipeline", "description", "mapping", "source", "sink", "dead_letter", "drift", "state", "watch", "metrics"];

/// Source kinds and their keys (`kind` included).
pub const SOURCE_KINDS: &[(&str, &[&str])] = &[
    ("file", &["kind", "path", "format"]),
    ("dir", &["kind", "path", "format", "done", "failed", "poll", "settle"]),
    ("stdin", &["kind", "format"]),
    ("http", &["kind", "listen", "path", "verify", "max_body"]),
    ("postgres", &["kind", "url", "query", "cursor", "poll", "batch"]),
    ("nats", &["kind", "url", "subject", "stream", "durable", "ack_wait"]),
];

/// Sink kinds and their keys (`kind` included).
pub const SINK_KINDS: &[(&str, &[&str])] = &[
    ("file", &["kind", "path", "format"]),
    ("dir", &["kind", "path", "format"]),
    ("stdout", &["kind", "format"]),
    ("http", &["kind", "url", "method", "headers", "idempotency_header", "retry", "timeout"]),
    ("postgres", &["kind", "url", "table", "key", "columns", "document", "create"]),
    ("nats", &["kind", "url", "subject", "stream", "retry"]),
];

/// Keys of `verify:`.
pub const VERIFY_KEYS: &[&str] = &["hmac_sha256_header", "secret"];
/// Keys of `retry:`.
pub const RETRY_KEYS: &[&str] = &["attempts", "backoff", "max_backoff"];
/// Keys of `metrics:`.
pub const METRICS_KEYS: &[&str] = &["listen"];

/// Reads and decodes a pipeline file.
pub fn load(path: &Path) -> Result<PipelineSpec, mapwright_engine::Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| mapwright_engine::Error::Io { path: path.to_path_buf(), message: e.to_string() })?;
    decode_text(&text, path, &|name| std::env::var(name).ok())
}

/// Decodes pipeline text; `env` gives environment variables (tests pass
/// their own).
pub fn decode_text(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PipelineSpec, mapwright_engine::Error> {
    let file = SourceFile::new(path.display().to_string(), text);
    let root = mapwright_engine::spec::yaml::parse_file(&file)
        .map_err(|d| mapwright_engine::Error::Spec(Diagnostics(vec![d])))?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut p = Pipe { d: Decoder::new(&file), base, env };
    let spec = p.pipeline(&root, path);
    let mut diags = p.d.diags;
    match spec {
        Some(spec) if diags.is_empty() => Ok(spec),
        _ => {
            diags.sort_by_key(|d| (d.offset, d.code));
            Err(mapwright_engine::Error::Spec(Diagnostics(diags)))
        }
    }
}

struct Pipe<'f, 'e> {
    d: Decoder<'f>,
    base: PathBuf,
    env: &'e dyn Fn(&str) -> Option<String>,
}

impl Pipe<'_, '_> {
    fn pipeline(&mut self, root: &Node, path: &Path) -> Option<PipelineSpec> {
        let entries = self.d.map(root, "a pipeline file")?;
        self.d.check_keys(entries, PIPELINE_KEYS, "in a pipeline file");
        let name = self.required_text(entries, root.loc, "pipeline", "the pipeline's name: `pipeline: orders-to-erp`");
        let mapping = self.required_text(
            entries,
            root.loc,
            "mapping",
            "the mapping file, relative to this file: `mapping: ../mappings/order.yaml`",
        );
        let source = match get(entries, "source") {
            Some(node) => self.source(node),
            None => {
                self.missing(
                    root.loc,
                    "source",
                    "where records come from: `source: { kind: file, path: in/orders.jsonl }`",
                );
                None
            }
        };
        let sink = match get(entries, "sink") {
            Some(node) => self.sink(node, "sink"),
            None => {
                self.missing(root.loc, "sink", "where records go: `sink: { kind: file, path: out/orders.jsonl }`");
                None
            }
        };
        let dead_letter = get(entries, "dead_letter").map(|n| self.sink(n, "dead_letter"));
        let drift = get(entries, "drift").map(|n| self.sink(n, "drift"));
        let state = get(entries, "state").and_then(|n| self.text(n, "state")).map(|t| self.path(&t.value));
        let watch = get(entries, "watch").and_then(|n| self.d.boolean(n, "watch")).unwrap_or(false);
        let metrics = get(entries, "metrics").and_then(|n| {
            let m = self.d.map(n, "metrics")?;
            self.d.check_keys(m, METRICS_KEYS, "in `metrics:`");
            match get(m, "listen") {
                Some(l) => self.text(l, "listen"),
                None => {
                    self.missing(n.loc, "listen", "the address to serve /metrics on: `listen: 127.0.0.1:9464`");
                    None
                }
            }
        });
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pipeline".into());
        let state = state.unwrap_or_else(|| self.base.join(format!("{stem}.state.db")));
        let dead_letter = match dead_letter {
            Some(d) => d?,
            None => SinkSpec::File {
                path: Located { value: self.base.join(format!("{stem}.dead-letter.jsonl")), loc: root.loc },
                format: Format::Jsonl,
            },
        };
        let drift = match drift {
            Some(d) => Some(d?),
            None => None,
        };
        Some(PipelineSpec {
            name: name?.value,
            file: self.d.file.clone(),
            path: path.to_path_buf(),
            mapping: mapping.map(|m| Located { value: self.path(&m.value), loc: m.loc })?,
            source: source?,
            sink: sink?,
            dead_letter,
            drift,
            state,
            watch,
            metrics,
        })
    }

    fn source(&mut self, node: &Node) -> Option<SourceSpec> {
        let (kind, entries) = self.kind(node, "source", SOURCE_KINDS)?;
        let format = self.format(entries);
        Some(match kind {
            "file" => {
                let path =
                    self.required_text(entries, node.loc, "path", "the file or glob to read: `path: in/*.jsonl`");
                let path = path?;
                let full = self.path(&path.value).to_string_lossy().into_owned();
                SourceSpec::File { path: Located { value: full, loc: path.loc }, format: format? }
            }
            "dir" => {
                let path = self.required_text(entries, node.loc, "path", "the drop folder to watch: `path: inbox/`")?;
                let dir = self.path(&path.value);
                let done = get(entries, "done").and_then(|n| self.text(n, "done")).map(|t| self.path(&t.value));
                let failed = get(entries, "failed").and_then(|n| self.text(n, "failed")).map(|t| self.path(&t.value));
                let poll = self.duration(entries, "poll").unwrap_or(Duration::from_secs(1));
                let settle = self.duration(entries, "settle").unwrap_or(Duration::from_secs(1));
                SourceSpec::Dir {
                    settle,
                    done: done.unwrap_or_else(|| dir.join("done")),
                    failed: failed.unwrap_or_else(|| dir.join("failed")),
                    path: Located { value: dir, loc: path.loc },
                    format: format?,
                    poll,
                }
            }
            "stdin" => SourceSpec::Stdin { format: format? },
            "http" => {
                let listen = self.required_text(
                    entries,
                    node.loc,
                    "listen",
                    "the address to listen on: `listen: 127.0.0.1:8088`",
                );
                let path = get(entries, "path").and_then(|n| self.text(n, "path"));
                let path = match path {
                    Some(p) if !p.value.starts_with('/') => {
                        self.d.hint(
                            SpecCode::BadValue,
                            p.loc,
                            format!("`path: {}` must start with `/`", p.value),
                            format!("write `path: /{}`", p.value),
                        );
                        None
                    }
                    Some(p) => Some(p.value),
                    None => Some("/".to_string()),
                };
                let verify = get(entries, "verify").map(|n| self.verify(n));
                let max_body = match get(entries, "max_body") {
                    Some(n) => self.size(n),
                    None => Some(10 * 1024 * 1024),
                };
                SourceSpec::Http(HttpSourceSpec {
                    listen: listen?,
                    path: path?,
                    verify: match verify {
                        Some(v) => Some(v?),
                        None => None,
                    },
                    max_body: max_body?,
                })
            }
            "postgres" => {
                let url = self.required_secret(
                    entries,
                    node.loc,
                    "url",
                    "`url: postgres://user:${PGPASSWORD}@127.0.0.1:5432/shop`",
                );
                let query =
                    self.required_text(entries, node.loc, "query", "the rows to read: `query: SELECT * FROM orders`");
                let cursor = self.required_text(
                    entries,
                    node.loc,
                    "cursor",
                    "an increasing column of the query, so each row is read once: `cursor: updated_at`",
                );
                let poll = self.duration(entries, "poll").unwrap_or(Duration::from_secs(1));
                let batch = match get(entries, "batch") {
                    Some(n) => self.count(n, "batch"),
                    None => Some(500),
                };
                SourceSpec::Postgres(PgSourceSpec {
                    url: url?,
                    query: query?.value,
                    cursor: cursor?.value,
                    poll,
                    batch: batch?,
                })
            }
            "nats" => {
                let url = self.required_secret(entries, node.loc, "url", "`url: nats://127.0.0.1:4222`");
                let subject =
                    self.required_text(entries, node.loc, "subject", "what to receive: `subject: shop.orders`");
                let stream = get(entries, "stream").and_then(|n| self.text(n, "stream"));
                let durable = get(entries, "durable").and_then(|n| self.text(n, "durable")).map(|t| t.value);
                if let (None, Some(n)) = (&stream, get(entries, "durable")) {
                    self.d.hint(
                        SpecCode::ConflictingKeys,
                        n.loc,
                        "`durable:` names a JetStream consumer, which needs `stream:`",
                        "add `stream:` (the JetStream stream that holds the subject), or drop `durable:`",
                    );
                }
                let ack_wait = self.duration(entries, "ack_wait").unwrap_or(Duration::from_secs(30));
                if let (None, Some(n)) = (&stream, get(entries, "ack_wait")) {
                    self.d.hint(
                        SpecCode::ConflictingKeys,
                        n.loc,
                        "`ack_wait:` is for a JetStream consumer, which needs `stream:`",
                        "add `stream:` (the JetStream stream that holds the subject), or drop `ack_wait:`",
                    );
                }
                SourceSpec::Nats(NatsSourceSpec { url: url?, subject: subject?, stream, durable, ack_wait })
            }
            _ => return None,
        })
    }

    fn sink(&mut self, node: &Node, what: &str) -> Option<SinkSpec> {
        let (kind, entries) = self.kind(node, what, SINK_KINDS)?;
        if what != "sink" && !["file", "dir", "stdout"].contains(&kind) {
            let loc = get(entries, "kind").map_or(node.loc, |n| n.loc);
            self.d.hint(
                SpecCode::BadValue,
                loc,
                format!("`{what}:` cannot be `kind: {kind}`"),
                "write it to a file, a folder or stdout, where it can be read and replayed",
            );
            return None;
        }
        let format = self.format(entries)?;
        Some(match kind {
            "file" => {
                let path =
                    self.required_text(entries, node.loc, "path", "the file to append to: `path: out/orders.jsonl`")?;
                let file = self.path(&path.value);
                let format = match format.or_else(|| Format::from_path(&file)) {
                    Some(Format::Yaml) => {
                        self.d.hint(
                            SpecCode::BadValue,
                            path.loc,
                            "a file sink writes json, jsonl or csv, not yaml",
                            "use a .jsonl, .json or .csv file",
                        );
                        return None;
                    }
                    Some(f) => f,
                    None => {
                        self.d.hint(
                            SpecCode::BadValue,
                            path.loc,
                            format!("cannot tell the format of `{}` from its extension", path.value),
                            "use a .jsonl, .json or .csv file, or set `format:`",
                        );
                        return None;
                    }
                };
                SinkSpec::File { path: Located { value: file, loc: path.loc }, format }
            }
            "dir" => {
                let path = self.required_text(entries, node.loc, "path", "the folder to write to: `path: out/`")?;
                let format = match format {
                    Some(Format::Yaml) => {
                        self.d.error(SpecCode::BadValue, node.loc, "a dir sink writes json, jsonl or csv files");
                        return None;
                    }
                    f => f.unwrap_or(Format::Jsonl),
                };
                SinkSpec::Dir { path: Located { value: self.path(&path.value), loc: path.loc }, format }
            }
            "stdout" => {
                if let Some(f) = format.filter(|f| *f != Format::Jsonl) {
                    let loc = get(entries, "format").map_or(node.loc, |n| n.loc);
                    self.d.hint(
                        SpecCode::BadValue,
                        loc,
                        format!("standard output takes JSON Lines, not {f:?}"),
                        "remove `format:` or write `format: jsonl`",
                    );
                    return None;
                }
                SinkSpec::Stdout
            }
            "http" => {
                let url = self.required_secret(entries, node.loc, "url", "`url: http://127.0.0.1:9099/api/orders`");
                if let Some(u) = &url {
                    let t = u.value.expose();
                    if !(t.starts_with("http://") || t.starts_with("https://")) {
                        self.d.hint(
                            SpecCode::BadValue,
                            u.loc,
                            "the sink's `url:` must start with http:// or https://",
                            "write the full URL: `url: http://127.0.0.1:9099/api/orders`",
                        );
                    }
                }
                let method = match get(entries, "method").and_then(|n| self.text(n, "method")) {
                    Some(m) => {
                        let up = m.value.to_ascii_uppercase();
                        if ["POST", "PUT", "PATCH"].contains(&up.as_str()) {
                            Some(up)
                        } else {
                            self.d.hint(
                                SpecCode::BadValue,
                                m.loc,
                                format!("`method: {}` cannot carry a record", m.value),
                                "use POST, PUT or PATCH",
                            );
                            None
                        }
                    }
                    None => Some("POST".to_string()),
                };
                let headers = match get(entries, "headers") {
                    Some(n) => self.headers(n),
                    None => Some(Vec::new()),
                };
                let idempotency_header =
                    get(entries, "idempotency_header").and_then(|n| self.text(n, "idempotency_header"));
                let retry = match get(entries, "retry") {
                    Some(n) => self.retry(n),
                    None => Some(Retry::default()),
                };
                let timeout = self.duration(entries, "timeout").unwrap_or(Duration::from_secs(10));
                SinkSpec::Http(HttpSinkSpec {
                    url: url?,
                    method: method?,
                    headers: headers?,
                    idempotency_header: idempotency_header.map(|h| h.value),
                    retry: retry?,
                    timeout,
                })
            }
            "postgres" => {
                let url = self.required_secret(
                    entries,
                    node.loc,
                    "url",
                    "`url: postgres://user:${PGPASSWORD}@127.0.0.1:5432/erp`",
                );
                let table =
                    self.required_text(entries, node.loc, "table", "the table to upsert into: `table: sales_orders`");
                let key = get(entries, "key").and_then(|n| self.text(n, "key")).map(|t| t.value);
                let document = get(entries, "document").and_then(|n| self.text(n, "document")).map(|t| t.value);
                let create = get(entries, "create").and_then(|n| self.d.boolean(n, "create")).unwrap_or(false);
                let columns = match get(entries, "columns") {
                    Some(n) => self.list(n, "columns"),
                    None => Some(Vec::new()),
                };
                if let (Some(cols), Some(n)) = (&columns, get(entries, "columns")) {
                    if !cols.is_empty() && create {
                        self.d.hint(
                            SpecCode::ConflictingKeys,
                            n.loc,
                            "`create: true` makes a table of the JSONB form, not one with `columns:`",
                            "create the table yourself, or drop `columns:` to keep each record in one JSONB column",
                        );
                    }
                }
                SinkSpec::Postgres(PgSinkSpec {
                    url: url?,
                    table: table?,
                    key_column: key.unwrap_or_else(|| "key".to_string()),
                    columns: columns?,
                    document: document.unwrap_or_else(|| "doc".to_string()),
                    create,
                })
            }
            "nats" => {
                let url = self.required_secret(entries, node.loc, "url", "`url: nats://127.0.0.1:4222`");
                let subject =
                    self.required_text(entries, node.loc, "subject", "where records go: `subject: erp.sales_orders`");
                let stream = get(entries, "stream").and_then(|n| self.text(n, "stream"));
                let retry = match get(entries, "retry") {
                    Some(n) => self.retry(n),
                    None => Some(Retry::default()),
                };
                SinkSpec::Nats(NatsSinkSpec { url: url?, subject: subject?, stream, retry: retry? })
            }
            _ => return None,
        })
    }

    /// The `kind:` of an endpoint and its entries, with unknown keys reported.
    fn kind<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        kinds: &[(&'static str, &[&str])],
    ) -> Option<(&'static str, &'n [(Key, Node)])> {
        let entries = self.d.map(node, &format!("`{what}:`"))?;
        let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        let Some(kind_node) = get(entries, "kind") else {
            self.missing(node.loc, "kind", &format!("say what it is: `kind:` one of {}", names.join(", ")));
            return None;
        };
        let kind = self.d.text(kind_node, "kind")?;
        let Some((name, keys)) = kinds.iter().find(|(k, _)| *k == kind.value) else {
            let hint = match mapwright_dsl::nearest(&kind.value, names.iter().copied()) {
                Some(n) => format!("did you mean `{n}`? (`{what}:` kinds: {})", names.join(", ")),
                None => format!("use one of {}", names.join(", ")),
            };
            self.d.hint(SpecCode::BadValue, kind.loc, format!("unknown {what} kind `{}`", kind.value), hint);
            return None;
        };
        self.d.check_keys(entries, keys, &format!("in a `kind: {name}` {what}"));
        Some((name, entries))
    }

    fn format(&mut self, entries: &[(Key, Node)]) -> Option<Option<Format>> {
        let Some(node) = get(entries, "format") else { return Some(None) };
        let text = self.d.text(node, "format")?;
        match Format::parse(&text.value) {
            Some(f) => Some(Some(f)),
            None => {
                self.d.hint(
                    SpecCode::BadValue,
                    text.loc,
                    format!("unknown format `{}`", text.value),
                    "use json, jsonl, csv or yaml",
                );
                None
            }
        }
    }

    fn verify(&mut self, node: &Node) -> Option<HmacVerify> {
        let entries = self.d.map(node, "`verify:`")?;
        self.d.check_keys(entries, VERIFY_KEYS, "in `verify:`");
        let header = self.required_text(
            entries,
            node.loc,
            "hmac_sha256_header",
            "the header carrying the signature: `hmac_sha256_header: X-Shopify-Hmac-Sha256`",
        );
        let secret = self.required_secret(entries, node.loc, "secret", "`secret: \"${SHOPIFY_WEBHOOK_SECRET}\"`");
        Some(HmacVerify { header: header?.value, secret: secret?.value })
    }

    fn retry(&mut self, node: &Node) -> Option<Retry> {
        let entries = self.d.map(node, "`retry:`")?;
        self.d.check_keys(entries, RETRY_KEYS, "in `retry:`");
        let mut retry = Retry::default();
        if let Some(n) = get(entries, "attempts") {
            retry.attempts = self.count(n, "attempts")?;
        }
        if let Some(d) = self.duration(entries, "backoff") {
            retry.backoff = d;
        }
        if let Some(d) = self.duration(entries, "max_backoff") {
            retry.max_backoff = d;
        }
        Some(retry)
    }

    fn headers(&mut self, node: &Node) -> Option<Vec<(String, Secret)>> {
        let entries = self.d.map(node, "`headers:`")?;
        let mut out = Vec::new();
        let mut ok = true;
        for (k, v) in entries {
            if !k.text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
                || k.text.is_empty()
            {
                self.d.error(SpecCode::BadValue, k.loc, format!("`{}` is not a valid header name", k.text));
                ok = false;
                continue;
            }
            match self.secret(v, &k.text) {
                Some(s) => out.push((k.text.clone(), s.value)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        match &node.value {
            Yaml::Seq(items) => items.iter().map(|i| self.text(i, what).map(|t| t.value)).collect(),
            _ => {
                self.d.hint(
                    SpecCode::WrongType,
                    node.loc,
                    format!("`{what}:` must be a list"),
                    "write it as `[a, b]` or as `- a` lines",
                );
                None
            }
        }
    }

    fn count(&mut self, node: &Node, what: &str) -> Option<u32> {
        match &node.value {
            Yaml::Number(n) => match n.parse::<u32>() {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    self.d.error(SpecCode::BadValue, node.loc, format!("`{what}:` must be a whole number above 0"));
                    None
                }
            },
            other => {
                let kind = other.kind();
                self.d.error(SpecCode::WrongType, node.loc, format!("`{what}:` must be a whole number, got {kind}"));
                None
            }
        }
    }

    fn size(&mut self, node: &Node) -> Option<usize> {
        let text = node.scalar_text().unwrap_or_default();
        let t = text.trim();
        let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let factor = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1000,
            "KiB" => 1024,
            "MB" => 1000 * 1000,
            "MiB" => 1024 * 1024,
            _ => 0,
        };
        match digits.parse::<usize>().ok().and_then(|n| n.checked_mul(factor)).filter(|n| *n > 0) {
            Some(n) => Some(n),
            None => {
                self.d.hint(
                    SpecCode::BadValue,
                    node.loc,
                    format!("`{t}` is not a size"),
                    "write bytes (`1048576`) or a size with a unit: `512KiB`, `10MiB`, `10MB`",
                );
                None
            }
        }
    }

    fn duration(&mut self, entries: &[(Key, Node)], key: &str) -> Option<Duration> {
        let node = get(entries, key)?;
        let text = node.scalar_text().unwrap_or_default();
        match parse_duration(&text) {
            Some(d) => Some(d),
            None => {
                self.d.hint(
                    SpecCode::BadValue,
                    node.loc,
                    format!("`{key}: {text}` is not a duration"),
                    "write a whole number and a unit: `200ms`, `30s`, `5m`, `1h`",
                );
                None
            }
        }
    }

    fn missing(&mut self, loc: Loc, key: &str, hint: &str) {
        self.d.hint(SpecCode::MissingKey, loc, format!("`{key}:` is missing"), hint);
    }

    fn required_text(&mut self, entries: &[(Key, Node)], at: Loc, key: &str, hint: &str) -> Option<Located<String>> {
        match get(entries, key) {
            Some(n) => self.text(n, key),
            None => {
                self.missing(at, key, hint);
                None
            }
        }
    }

    fn required_secret(&mut self, entries: &[(Key, Node)], at: Loc, key: &str, hint: &str) -> Option<Located<Secret>> {
        match get(entries, key) {
            Some(n) => self.secret(n, key),
            None => {
                self.missing(at, key, hint);
                None
            }
        }
    }

    /// Text with `${NAME}` replaced.
    fn text(&mut self, node: &Node, what: &str) -> Option<Located<String>> {
        let raw = self.d.text(node, &format!("`{what}:`"))?;
        let value = self.substitute(&raw.value, node.loc)?;
        Some(Located { value, loc: raw.loc })
    }

    fn secret(&mut self, node: &Node, what: &str) -> Option<Located<Secret>> {
        self.text(node, what).map(|t| Located { value: Secret::new(t.value), loc: t.loc })
    }

    fn substitute(&mut self, text: &str, loc: Loc) -> Option<String> {
        match substitute(text, self.env) {
            Ok(s) => Some(s),
            Err(Missing::Unset(name)) => {
                self.d.hint(
                    SpecCode::MissingEnv,
                    loc,
                    format!("environment variable `{name}` is not set"),
                    format!("set it before running (`export {name}=…`), or write the value here"),
                );
                None
            }
            Err(Missing::Unclosed) => {
                self.d.hint(
                    SpecCode::BadValue,
                    loc,
                    "`${` without a closing `}`",
                    "write `${NAME}` to read an environment variable, or `$$` for a literal `$`",
                );
                None
            }
        }
    }

    fn path(&self, text: &str) -> PathBuf {
        let p = Path::new(text);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }
}

enum Missing {
    Unset(String),
    Unclosed,
}

/// Replaces `${NAME}` with the variable's value; `$$` is a literal `$`.
fn substitute(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Missing> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body.find('}').ok_or(Missing::Unclosed)?;
            let name = &body[..end];
            out.push_str(&env(name).ok_or_else(|| Missing::Unset(name.to_string()))?);
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses `200ms`, `30s`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = t[..split].parse().ok()?;
    Some(match &t[split..] {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    })
}

/// A start-up problem (an occupied port, an unreachable database) located
/// at the pipeline file's place for it.
pub fn endpoint_error(
    spec: &PipelineSpec,
    loc: Loc,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> mapwright_engine::Error {
    mapwright_engine::Error::Spec(Diagnostics(vec![
        Diagnostic::spec(&spec.file, SpecCode::BadEndpoint, loc, message).with_hint(hint)
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Result<PipelineSpec, String> {
        let env = |n: &str| match n {
            "TOKEN" => Some("s3cret".to_string()),
            _ => None,
        };
        decode_text(text, Path::new("pipes/p.yaml"), &env).map_err(|e| {
            e.diagnostics()
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}:{}: {} ({})\n",
                        d.file.name,
                        d.line,
                        d.column,
                        d.message,
                        d.hint.clone().unwrap_or_default()
                    )
                })
                .collect()
        })
    }

    #[test]
    fn a_full_pipeline_decodes() {
        let spec = decode(
            "pipeline: p\nmapping: ../m.yaml\nsource: { kind: http, listen: 127.0.0.1:8088, path: /hook, verify: { hmac_sha256_header: X-Sig, secret: \"${TOKEN}\" } }\nsink:\n  kind: http\n  url: http://127.0.0.1:9/x\n  headers: { Authorization: \"token ${TOKEN}\" }\n  idempotency_header: Idempotency-Key\n  retry: { attempts: 3, backoff: 10ms, max_backoff: 1s }\nmetrics: { listen: 127.0.0.1:9464 }\nwatch: true\n",
        )
        .unwrap();
        assert_eq!(spec.mapping.value, Path::new("pipes/../m.yaml"));
        assert_eq!(spec.state, Path::new("pipes/p.state.db"));
        let SourceSpec::Http(h) = &spec.source else { panic!() };
        assert_eq!(h.verify.as_ref().unwrap().secret.expose(), "s3cret");
        let SinkSpec::Http(s) = &spec.sink else { panic!() };
        assert_eq!(s.headers[0].1.expose(), "token s3cret");
        assert_eq!(
            s.retry,
            Retry { attempts: 3, backoff: Duration::from_millis(10), max_backoff: Duration::from_secs(1) }
        );
        assert!(spec.watch);
        assert!(!format!("{spec:?}").contains("s3cret"), "secrets must not reach Debug output");
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let err = decode(
            "pipeline: p\nmapping: m.yaml\nsource: { kind: htp, listen: x }\nsink:\n  kind: http\n  headers: { A: \"${NOPE}\" }\n  retry: { attempts: 0, backof: 1s }\ndead_letter: { kind: file }\n",
        )
        .unwrap_err();
        for needle in [
            "unknown source kind `htp`",
            "did you mean `http`?",
            "p.yaml:3:17",
            "`url:` is missing",
            "environment variable `NOPE` is not set",
            "p.yaml:6:17",
            "unknown key `backof`",
            "did you mean `backoff`?",
            "`attempts:` must be a whole number above 0",
            "`path:` is missing",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in\n{err}");
        }
    }

    #[test]
    fn substitution() {
        let env = |n: &str| (n == "A").then(|| "x".to_string());
        assert_eq!(
            substitute("a${A}b$$c$d", &env).ok().as_deref(),
            Some("ax b$c$d").map(|s| s.replace(' ', "")).as_deref()
        );
        assert!(matches!(substitute("${B}", &env), Err(Missing::Unset(n)) if n == "B"));
        assert!(matches!(substitute("${A", &env), Err(Missing::Unclosed)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("1.5s"), None);
    }
}
