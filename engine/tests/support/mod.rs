//! What the engine's behaviour suites share: where the repository and the
//! fixtures are, reading records, the outcome of a record that must map or
//! fail, failures rendered for snapshots, diagnostics of a mapping that
//! must not load, and joining the inputs of a multi-source mapping.
//!
//! Each suite uses a part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mapwright_engine::input::{self, Source};
use mapwright_engine::{FieldError, Joiner, Mapping, Outcome, Record, Value};

/// The repository's root (the project's `mappings/` are there).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The engine's test fixtures (`engine/tests/`).
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// A record from JSON text.
#[track_caller]
pub fn json(text: &str) -> Value {
    Value::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Compiles YAML text with files resolved in `dir`, or panics with the
/// rendered diagnostics.
#[track_caller]
pub fn compile(yaml: &str, name: &str, dir: &Path) -> Mapping {
    Mapping::from_yaml_in(yaml, name, dir).unwrap_or_else(|e| panic!("{}", e.render(false)))
}

/// Maps one record given as JSON text.
#[track_caller]
pub fn run(m: &Mapping, text: &str) -> Record {
    m.run(&json(text))
}

/// The output of a record that must map.
#[track_caller]
pub fn mapped(r: &Record) -> &Value {
    match &r.outcome {
        Outcome::Mapped(v) => v,
        other => panic!("expected the record to map, got {other:?}"),
    }
}

/// The errors of a record that must fail.
#[track_caller]
pub fn failed(r: &Record) -> &[FieldError] {
    match &r.outcome {
        Outcome::Failed(errors) => errors,
        other => panic!("expected the record to fail, got {other:?}"),
    }
}

/// One error as `label: field | expr | message | value`, a line of a
/// snapshot (`-` for no value).
pub fn render_error(out: &mut String, label: &str, e: &FieldError) {
    let value = e.value.as_ref().map_or_else(|| "-".to_string(), Value::to_json);
    let _ = writeln!(out, "{label}{} | {} | {} | {value}", e.field, e.expr, e.message);
}

/// The rendered diagnostics of a mapping that must not load, and how many.
#[track_caller]
pub fn diagnostics_of(result: Result<Mapping, mapwright_engine::Error>) -> (usize, String) {
    match result {
        Ok(_) => panic!("expected the mapping to be rejected"),
        Err(e) => (e.diagnostics().len(), e.render(false)),
    }
}

/// Joins the inputs of a multi-source mapping (`(source, file)` pairs,
/// files in `dir`) and maps every group, in order of first appearance —
/// what `mapwright map --source` does. Each source is read with its
/// projection, as the command reads it.
pub fn joined(mapping: &Mapping, dir: &Path, inputs: &[(&str, &str)]) -> Vec<Record> {
    let mut joiner = Joiner::new(mapping);
    for (i, name) in mapping.sources().iter().enumerate() {
        let Some((_, file)) = inputs.iter().find(|(s, _)| s == name) else { panic!("no input for source `{name}`") };
        let projection = mapping.source_projection(i).cloned().map(std::sync::Arc::new);
        let source = Source::File(dir.join(file));
        for record in input::open(&source, None, projection).unwrap_or_else(|e| panic!("{file}: {e}")) {
            let value = record.value.unwrap_or_else(|e| panic!("{}: {}", record.origin, e.message));
            joiner.add(i, value).unwrap_or_else(|e| panic!("{file}: join key of {}: {}", e.source, e.message));
        }
    }
    joiner.finish().map(|(key, records)| mapping.run_joined(&key, &records)).collect()
}
