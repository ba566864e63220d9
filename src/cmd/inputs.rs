//! Reading the records a command works on: plain inputs for a
//! single-source mapping, or `--source NAME=FILE` inputs joined by key for
//! a multi-source one.

use std::path::PathBuf;
use std::sync::Arc;

use mapwright_engine::input::{self, Format, InputRecord, Source};
use mapwright_engine::{Joiner, Mapping, Value};

/// Parses `--format`.
pub fn format(name: Option<&str>) -> Result<Option<Format>, String> {
    match name {
        None => Ok(None),
        Some(n) => Format::parse(n).map(Some).ok_or_else(|| format!("unknown format `{n}`: use {}", Format::names())),
    }
}

/// Opens the plain inputs (standard input when none), before anything is
/// mapped: a missing file is a command-line error, not a half-done run.
pub fn open_plain(
    inputs: &[PathBuf],
    format: Option<Format>,
    projection: Option<Arc<mapwright_dsl::Projection>>,
) -> Result<Vec<Box<dyn Iterator<Item = InputRecord> + Send>>, mapwright_engine::Error> {
    let sources: Vec<Source> =
        if inputs.is_empty() { vec![Source::Stdin] } else { inputs.iter().cloned().map(Source::File).collect() };
    sources.iter().map(|s| input::open(s, format, projection.clone())).collect()
}

/// A source record that could not be joined.
pub struct Unjoined {
    /// Where it came from.
    pub origin: String,
    /// The source's name.
    pub source: String,
    /// Why.
    pub message: String,
    /// The key expression.
    pub expr: String,
    /// The record.
    pub record: Value,
}

/// The result of reading and joining every source.
pub struct Joined {
    /// Groups in order of first appearance: key and one record per source.
    pub groups: Vec<(Value, Vec<Value>)>,
    /// Records whose join key failed or was null.
    pub unjoined: Vec<Unjoined>,
    /// Records replaced as duplicates within one source.
    pub duplicates: u64,
}

/// Reads every `--source NAME=FILE` of a multi-source mapping and joins
/// them. Errors are messages for the user: a bad argument (exit 1) or a
/// source file that does not parse (exit 2, and nothing is written).
pub fn join(mapping: &Mapping, specs: &[String], format: Option<Format>) -> Result<Joined, (u8, String)> {
    let names = mapping.sources();
    let mut files: Vec<Vec<PathBuf>> = vec![Vec::new(); names.len()];
    for spec in specs {
        let Some((name, file)) = spec.split_once('=') else {
            return Err((super::INVALID, format!("--source takes NAME=FILE, got `{spec}`")));
        };
        let Some(i) = names.iter().position(|n| *n == name) else {
            return Err((
                super::INVALID,
                format!("unknown source `{name}`: the mapping declares {}", names.join(", ")),
            ));
        };
        files[i].push(PathBuf::from(file));
    }
    if let Some(i) = files.iter().position(Vec::is_empty) {
        return Err((
            super::INVALID,
            format!(
                "no input for source `{}`: give every source with --source NAME=FILE ({})",
                names[i],
                names.iter().map(|n| format!("--source {n}=…")).collect::<Vec<_>>().join(" ")
            ),
        ));
    }
    // Open everything first, so a missing file stops the run before any work.
    let mut readers = Vec::new();
    for (i, paths) in files.iter().enumerate() {
        let projection = mapping.source_projection(i).cloned().map(Arc::new);
        for p in paths {
            let r = input::open(&Source::File(p.clone()), format, projection.clone())
                .map_err(|e| (super::INVALID, e.to_string()))?;
            readers.push((i, r));
        }
    }
    let mut joiner = Joiner::new(mapping);
    let mut unjoined = Vec::new();
    for (i, reader) in readers {
        for record in reader {
            let value = match record.value {
                Ok(v) => v,
                // A join over a source that cannot be read would pass off
                // incomplete records as complete: stop.
                Err(bad) => {
                    return Err((
                        super::FAILED,
                        format!("source `{}`: {} — nothing was written", names[i], bad.message),
                    ));
                }
            };
            if let Err(e) = joiner.add(i, value.clone()) {
                unjoined.push(Unjoined {
                    origin: record.origin,
                    source: e.source,
                    message: e.message,
                    expr: e.expr,
                    record: record.raw.as_deref().and_then(|r| Value::from_json(r).ok()).unwrap_or(value),
                });
            }
        }
    }
    let duplicates = joiner.duplicates();
    Ok(Joined { groups: joiner.finish().collect(), unjoined, duplicates })
}

/// The records of a joined group as one object `{source: record}`, for
/// dead letters.
pub fn group_input(mapping: &Mapping, records: &[Value]) -> Value {
    Value::object(
        mapping.sources().iter().zip(records).map(|(n, r)| (mapwright_dsl::Str::from(*n), r.clone())).collect(),
    )
}
