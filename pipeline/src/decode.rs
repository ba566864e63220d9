//! Decoding a pipeline file: located YAML → [`PipelineSpec`], every
//! problem collected as a diagnostic with its place and a hint.
//!
//! Checks made here need nothing but the file and the environment: keys,
//! kinds, required keys, durations, formats, `${NAME}` variables. Checks
//! that need the world (a port to bind, a database to reach) are made at
//! start-up, before any record is read, and point at the same places.
//!
//! [`Pipe`] is the decoder every endpoint kind decodes its block with
//! (`sources/*.rs`, `sinks/*.rs`): the engine's [`Decoder`] plus what a
//! pipeline file adds — environment variables, paths relative to the file,
//! durations, sizes and `kind:` blocks.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{Diagnostics, SourceFile, SpecCode};
use mapwright_engine::input::Format;
use mapwright_engine::spec::keys::Block;
use mapwright_engine::spec::yaml::{self, Loc, Node, Yaml};
use mapwright_engine::spec::{Decoder, Located, get};

use crate::secrets::Secret;
use crate::sinks;
use crate::sources;
use crate::spec::{METRICS, PIPELINE, PipelineSpec, STATE};

/// How long delivered marks are kept by default: 30 days.
const DEFAULT_KEEP: Duration = Duration::from_secs(30 * 86_400);

/// Reads and decodes a pipeline file.
pub(crate) fn load(path: &Path) -> Result<PipelineSpec, mapwright_engine::Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| mapwright_engine::Error::Io { path: path.to_path_buf(), message: e.to_string() })?;
    decode_text(&text, path, &|name| std::env::var(name).ok())
}

/// Decodes pipeline text; `env` gives environment variables (tests pass
/// their own).
pub(crate) fn decode_text(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<PipelineSpec, mapwright_engine::Error> {
    let file = SourceFile::new(path.display().to_string(), text);
    let root = yaml::parse_file(&file)?;
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

/// The decoder of a pipeline file.
pub(crate) struct Pipe<'f, 'e> {
    /// The engine's decoder: the file and the problems found so far.
    pub d: Decoder<'f>,
    /// The pipeline file's folder: relative paths start there.
    base: PathBuf,
    env: &'e dyn Fn(&str) -> Option<String>,
}

/// The entries of a YAML mapping.
pub(crate) type Entries = [(yaml::Key, Node)];

impl Pipe<'_, '_> {
    fn pipeline(&mut self, root: &Node, path: &Path) -> Option<PipelineSpec> {
        let entries = self.d.map(root, "a pipeline file")?;
        self.d.check_keys(entries, &PIPELINE, "in a pipeline file");
        let name = self.required_text(entries, root.loc, &PIPELINE, "pipeline");
        let mapping = self.required_text(entries, root.loc, &PIPELINE, "mapping");
        let source = match get(entries, "source") {
            Some(node) => sources::decode(self, node),
            None => self.missing(root.loc, &PIPELINE, "source"),
        };
        let sinks = match (get(entries, "sink"), get(entries, "sinks")) {
            (Some(one), None) => sinks::decode(self, one, false).map(|s| vec![s]),
            (None, Some(list)) => sinks::decode_list(self, list),
            (Some(_), Some(list)) => {
                self.d.hint(
                    SpecCode::ConflictingKeys,
                    list.loc,
                    "`sink:` and `sinks:` are both written",
                    "write one sink as `sink:`, or list them all under `sinks:`",
                );
                None
            }
            (None, None) => {
                let hint =
                    "where records go: `sink: { kind: file, path: out/orders.jsonl }`, or a list of named `sinks:`";
                self.d.hint(SpecCode::MissingKey, root.loc, "`sink:` is missing", hint);
                None
            }
        };
        let dead_letter = get(entries, "dead_letter").map(|n| sinks::decode_lines(self, n, "dead_letter"));
        let drift = get(entries, "drift").map(|n| sinks::decode_lines(self, n, "drift"));
        let (state, keep) = match get(entries, "state") {
            Some(n) if n.as_map().is_some() => self.state(n),
            Some(n) => (self.text(n, "state").map(|t| self.path(&t.value)), Some(Some(DEFAULT_KEEP))),
            None => (None, Some(Some(DEFAULT_KEEP))),
        };
        let watch = get(entries, "watch").and_then(|n| self.d.boolean(n, "watch")).unwrap_or(false);
        let metrics = get(entries, "metrics").and_then(|n| {
            let m = self.d.map(n, "metrics")?;
            self.d.check_keys(m, &METRICS, "in `metrics:`");
            self.required_text(m, n.loc, &METRICS, "listen")
        });
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "pipeline".into());
        let state = state.unwrap_or_else(|| self.base.join(format!("{stem}.state.db")));
        let mut source = source;
        if let Some(sources::SourceSpec::Http(h)) = &mut source {
            // Large webhook bodies are spooled beside the state store.
            h.spool = match state.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
        }
        let dead_letter = match dead_letter {
            Some(d) => d?,
            None => sinks::file::default_dead_letter(self.base.join(format!("{stem}.dead-letter.jsonl")), root.loc),
        };
        let drift = match drift {
            Some(d) => Some(d?),
            None => None,
        };
        Some(PipelineSpec {
            name: name?.value,
            file: self.d.file.clone(),
            mapping: mapping.map(|m| Located::new(self.path(&m.value), m.loc))?,
            source: source?,
            sinks: sinks?,
            dead_letter,
            drift,
            state,
            keep: keep?,
            watch,
            metrics,
        })
    }

    /// `state: { path, keep }`: the path, and how long marks are kept.
    fn state(&mut self, node: &Node) -> (Option<PathBuf>, Option<Option<Duration>>) {
        let Some(entries) = self.d.map(node, "`state:`") else { return (None, None) };
        self.d.check_keys(entries, &STATE, "in `state:`");
        let path = self.opt_text(entries, "path").map(|t| self.path(&t.value));
        let keep = match get(entries, "keep") {
            Some(n) if n.scalar_text().as_deref() == Some("forever") => Some(None),
            Some(_) => self.duration(entries, "keep").map(Some),
            None => Some(Some(DEFAULT_KEEP)),
        };
        (path, keep)
    }

    /// The block of an endpoint (`source:`, `sink:`…): which of `kinds` its
    /// `kind:` names, and its entries, with unknown keys reported.
    pub(crate) fn kind<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        kinds: &[&'static Block],
    ) -> Option<(&'static Block, &'n Entries)> {
        let entries = self.d.map(node, &format!("`{what}:`"))?;
        let names: Vec<&str> = kinds.iter().map(|b| b.kind()).collect();
        let Some(kind_node) = get(entries, "kind") else {
            let hint = format!("say what it is: `kind:` one of {}", names.join(", "));
            self.d.hint(SpecCode::MissingKey, node.loc, "`kind:` is missing", hint);
            return None;
        };
        let kind = self.d.text(kind_node, "kind")?;
        let Some(block) = kinds.iter().copied().find(|b| b.kind() == kind.value) else {
            let hint = match mapwright_dsl::nearest(&kind.value, names.iter().copied()) {
                Some(n) => format!("did you mean `{n}`? (`{what}:` kinds: {})", names.join(", ")),
                None => format!("use one of {}", names.join(", ")),
            };
            self.d.hint(SpecCode::BadValue, kind.loc, format!("unknown {what} kind `{}`", kind.value), hint);
            return None;
        };
        self.d.check_kind_keys(entries, block, &format!("in a `kind: {}` {what}", block.kind()));
        Some((block, entries))
    }

    /// `format:`, when given.
    pub(crate) fn format(&mut self, entries: &Entries) -> Option<Option<Format>> {
        let Some(node) = get(entries, "format") else { return Some(None) };
        let text = self.d.text(node, "format")?;
        match Format::parse(&text.value) {
            Some(f) => Some(Some(f)),
            None => {
                self.d.hint(
                    SpecCode::BadValue,
                    text.loc,
                    format!("unknown format `{}`", text.value),
                    format!("use {}", Format::names()),
                );
                None
            }
        }
    }

    /// A list of text.
    pub(crate) fn list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
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

    /// A whole number above 0.
    pub(crate) fn count(&mut self, node: &Node, what: &str) -> Option<u32> {
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

    /// A size in bytes: `1048576`, `512KiB`, `10MiB`, `10MB`.
    pub(crate) fn size(&mut self, node: &Node) -> Option<usize> {
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

    /// The duration under `key`, when written and valid.
    pub(crate) fn duration(&mut self, entries: &Entries, key: &str) -> Option<Duration> {
        let node = get(entries, key)?;
        let text = node.scalar_text().unwrap_or_default();
        match parse_duration(&text) {
            Some(d) => Some(d),
            None => {
                self.d.hint(
                    SpecCode::BadValue,
                    node.loc,
                    format!("`{key}: {text}` is not a duration"),
                    "write a whole number and a unit: `200ms`, `30s`, `5m`, `1h`, `30d`",
                );
                None
            }
        }
    }

    /// Reports the required `key` of `block` missing at `loc`, with the
    /// table's hint; always `None`, for the caller to return.
    pub(crate) fn missing<T>(&mut self, loc: Loc, block: &Block, key: &str) -> Option<T> {
        let hint = block.key(key).map_or("", |k| k.hint);
        self.d.hint(SpecCode::MissingKey, loc, format!("`{key}:` is missing"), hint);
        None
    }

    /// The text of the required `key` of `block`.
    pub(crate) fn required_text(
        &mut self,
        entries: &Entries,
        at: Loc,
        block: &Block,
        key: &str,
    ) -> Option<Located<String>> {
        match get(entries, key) {
            Some(n) => self.text(n, key),
            None => self.missing(at, block, key),
        }
    }

    /// The text of the required `key` of `block`, as a secret.
    pub(crate) fn required_secret(
        &mut self,
        entries: &Entries,
        at: Loc,
        block: &Block,
        key: &str,
    ) -> Option<Located<Secret>> {
        self.required_text(entries, at, block, key).map(|t| Located::new(Secret::new(t.value), t.loc))
    }

    /// The text under `key`, when written.
    pub(crate) fn opt_text(&mut self, entries: &Entries, key: &str) -> Option<Located<String>> {
        get(entries, key).and_then(|n| self.text(n, key))
    }

    /// Text with `${NAME}` replaced.
    pub(crate) fn text(&mut self, node: &Node, what: &str) -> Option<Located<String>> {
        let raw = self.d.text(node, &format!("`{what}:`"))?;
        let value = self.substitute(&raw.value, node.loc)?;
        Some(Located::new(value, raw.loc))
    }

    /// Text with `${NAME}` replaced, as a secret.
    pub(crate) fn secret(&mut self, node: &Node, what: &str) -> Option<Located<Secret>> {
        self.text(node, what).map(|t| Located::new(Secret::new(t.value), t.loc))
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

    /// A path from the file, relative to the pipeline file's folder.
    pub(crate) fn path(&self, text: &str) -> PathBuf {
        let p = Path::new(text);
        if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) }
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

/// Parses `200ms`, `30s`, `5m`, `1h`, `30d`.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = t[..split].parse().ok()?;
    Some(match &t[split..] {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        "d" => Duration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    })
}

/// A start-up problem (an occupied port, an unreachable database) located
/// at the place in `file` it is about.
pub(crate) fn located(
    file: &SourceFile,
    code: SpecCode,
    loc: Loc,
    message: impl Into<String>,
    hint: impl Into<String>,
) -> mapwright_engine::Error {
    mapwright_engine::Error::Spec(Diagnostics(vec![Diagnostic::spec(file, code, loc, message).with_hint(hint)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::Retry;
    use crate::sinks::SinkKind;
    use crate::sources::SourceSpec;

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
        let [sink] = &spec.sinks[..] else { panic!("one sink") };
        let SinkKind::Http(s) = &sink.kind else { panic!() };
        assert_eq!(s.headers[0].1.expose(), "token s3cret");
        assert_eq!((sink.name.as_str(), sink.named, sink.concurrency, sink.batch.max_records), ("sink", false, 16, 1));
        let want = Retry {
            attempts: Some(3),
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
            ..Retry::default()
        };
        assert_eq!(sink.retry, want);
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
        assert_eq!(substitute("a${A}b$$c$d", &env).ok().as_deref(), Some("axb$c$d"));
        assert!(matches!(substitute("${B}", &env), Err(Missing::Unset(n)) if n == "B"));
        assert!(matches!(substitute("${A", &env), Err(Missing::Unclosed)));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms"), Some(Duration::from_millis(200)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("1.5s"), None);
    }

    #[test]
    fn every_key_of_every_table_is_described() {
        let blocks = PIPELINE.reachable();
        assert!(blocks.len() > 12, "{}", blocks.len());
        for b in blocks {
            assert!(!b.doc.is_empty(), "block {} has no doc", b.name);
            for k in b.keys {
                assert!(!k.doc.is_empty(), "{}.{} has no doc", b.name, k.name);
                assert_eq!(k.required, !k.hint.is_empty(), "{}.{}: a required key says what to write", b.name, k.name);
            }
        }
    }
}
