//! Mapping JSON Lines on every core, with the output order preserved.
//!
//! A reader thread cuts the input into chunks of lines; worker threads
//! parse (along the mapping's projection), map and render each chunk into
//! ready-to-write text; the calling thread puts chunks back in input order
//! and hands every record to the [`Emitter`], which does duplicate
//! detection and the writing exactly as the single-threaded path does. So
//! the output is byte-for-byte the same whatever the number of threads.
//! Channels are bounded, so memory stays a few chunks per thread.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::mpsc;
use std::sync::Arc;

use mapwright_dsl::Projection;
use mapwright_engine::{output, FieldError, Mapping, Outcome, Value};

use super::map::Emitter;

/// Lines per chunk: large enough to amortise channel costs, small enough
/// to keep memory and latency low.
const CHUNK_LINES: usize = 256;

/// One record, mapped and rendered by a worker.
pub(super) enum Done {
    /// An output line (without newline) and its (key, content)
    /// fingerprints when it has a key.
    Mapped(String, Option<(u64, u64)>, Vec<String>),
    Filtered(Vec<String>),
    /// Origin, errors (for the console), the dead-letter line.
    Failed(String, Vec<FieldError>, Value, Vec<String>),
}

struct Chunk {
    index: usize,
    first_line: usize,
    lines: Vec<String>,
}

/// Maps the JSON Lines of `reader` (named `name` in messages) on `threads`
/// threads.
pub(super) fn run(
    em: &mut Emitter,
    mapping: &Mapping,
    reader: Box<dyn BufRead + Send>,
    name: &str,
    threads: usize,
) -> std::io::Result<()> {
    let projection = mapping.projection().cloned().map(Arc::new);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(threads * 2);
    let chunk_rx = Arc::new(std::sync::Mutex::new(chunk_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<(usize, std::io::Result<Vec<Done>>)>(threads * 2);
    std::thread::scope(|scope| {
        scope.spawn(move || read_chunks(reader, chunk_tx));
        for _ in 0..threads {
            let rx = Arc::clone(&chunk_rx);
            let tx = done_tx.clone();
            let projection = projection.clone();
            scope.spawn(move || loop {
                let chunk = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                let Ok(chunk) = chunk else { return };
                let index = chunk.index;
                let done = map_chunk(mapping, projection.as_deref(), name, chunk);
                if tx.send((index, Ok(done))).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        // Put chunks back in order.
        let mut pending: BTreeMap<usize, Vec<Done>> = BTreeMap::new();
        let mut next = 0;
        let mut result = Ok(());
        for (index, done) in done_rx {
            match done {
                Ok(d) => {
                    pending.insert(index, d);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            while let Some(d) = pending.remove(&next) {
                next += 1;
                if result.is_ok() {
                    for item in d {
                        if let Err(e) = em.done(item) {
                            result = Err(e);
                            break;
                        }
                    }
                }
            }
            if result.is_err() {
                break;
            }
        }
        result
    })
}

fn read_chunks(mut reader: Box<dyn BufRead + Send>, tx: mpsc::SyncSender<Chunk>) {
    let mut index = 0;
    let mut line_no = 0;
    loop {
        let first_line = line_no + 1;
        let mut lines = Vec::with_capacity(CHUNK_LINES);
        while lines.len() < CHUNK_LINES {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    line_no += 1;
                    // Blank lines keep their number but carry nothing.
                    lines.push(line);
                }
                Err(e) => {
                    line_no += 1;
                    lines.push(format!("\u{0}read error: {e}"));
                    break;
                }
            }
        }
        if lines.is_empty() {
            return;
        }
        let last = lines.len() < CHUNK_LINES;
        if tx.send(Chunk { index, first_line, lines }).is_err() || last {
            return;
        }
        index += 1;
    }
}

fn map_chunk(mapping: &Mapping, projection: Option<&Projection>, name: &str, chunk: Chunk) -> Vec<Done> {
    let mut out = Vec::with_capacity(chunk.lines.len());
    for (i, line) in chunk.lines.iter().enumerate() {
        let text = line.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        let origin = format!("{name}:{}", chunk.first_line + i);
        if let Some(msg) = text.strip_prefix('\u{0}') {
            let errors = vec![FieldError {
                field: String::new(),
                expr: String::new(),
                message: format!("{origin}: {msg}"),
                value: None,
            }];
            let dl = output::dead_letter(mapping, &Value::Null, &errors, &Value::Null);
            out.push(Done::Failed(origin, errors, dl, Vec::new()));
            continue;
        }
        let parsed = match projection {
            Some(p) => mapwright_dsl::json::parse_projected(text, p),
            None => Value::from_json(text),
        };
        let value = match parsed {
            Ok(v) => v,
            Err(e) => {
                let bad = mapwright_engine::input::BadInput {
                    message: format!("{origin}:{}: invalid JSON: {}", e.column, e.message),
                    raw: text.to_string(),
                };
                let errors = vec![FieldError {
                    field: String::new(),
                    expr: String::new(),
                    message: bad.message.clone(),
                    value: None,
                }];
                out.push(Done::Failed(origin, errors, output::dead_letter_unreadable(mapping, &bad), Vec::new()));
                continue;
            }
        };
        let r = mapping.run(&value);
        let warnings: Vec<String> = if matches!(r.outcome, Outcome::Failed(_)) {
            Vec::new()
        } else {
            r.warnings
                .iter()
                .map(|w| format!("warning: {origin} (key {}): {}: {}", r.key, w.field, w.message))
                .collect()
        };
        out.push(match r.outcome {
            Outcome::Mapped(v) => {
                let line = v.to_json();
                let fp = super::map::fingerprints(&r.key, &line);
                Done::Mapped(line, fp, warnings)
            }
            Outcome::Filtered => Done::Filtered(warnings),
            Outcome::Failed(errors) => {
                let full = if projection.is_some() { Value::from_json(text).unwrap_or(value) } else { value };
                let dl = output::dead_letter(mapping, &r.key, &errors, &full);
                Done::Failed(origin, errors, dl, warnings)
            }
        });
    }
    out
}
