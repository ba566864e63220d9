//! Mapping JSON Lines on every core, with the output order preserved.
//!
//! A reader thread cuts the input into blocks of whole lines (about
//! [`CHUNK_BYTES`] each; it only looks for the last newline, so it does
//! almost no work per record); worker threads check each line's UTF-8,
//! parse it (along the mapping's projection), map it and render the
//! results of a block into one text buffer; the calling thread puts blocks
//! back in input order and hands every record to the [`Emitter`], which
//! does duplicate detection and the writing exactly as the single-threaded
//! path does. So the output is byte-for-byte the same whatever the number
//! of threads. Channels are bounded, so memory stays a few blocks per
//! thread.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc;

use mapwright_dsl::Projection;
use mapwright_engine::{FieldError, Mapping, Outcome, Value, dead_letter};

use super::map::Emitter;

/// Bytes per block: large enough to amortise channel costs (about 200
/// orders of the benchmark), small enough to keep memory and latency low.
const CHUNK_BYTES: usize = 256 * 1024;

/// The least the reader asks for at once.
const READ_BYTES: usize = 64 * 1024;

/// One record, mapped and rendered by a worker.
pub(super) enum Done {
    /// An output line (its place in the block's text, newline included)
    /// and its (key, content) fingerprints when it has a key.
    Mapped(Range<usize>, Option<(u64, u64)>, Vec<String>),
    Filtered(Vec<String>),
    /// Origin, errors (for the console), the dead-letter line.
    Failed(String, Vec<FieldError>, Value, Vec<String>),
}

/// A block of whole lines, as read.
struct Chunk {
    index: usize,
    first_line: usize,
    bytes: Vec<u8>,
    /// Why reading stopped after this block, if it failed.
    error: Option<String>,
}

/// A block's results: the rendered output lines and one entry per record.
pub(super) struct Rendered {
    pub(super) text: String,
    pub(super) done: Vec<Done>,
}

/// Maps the JSON Lines of `reader` (named `name` in messages) on `threads`
/// threads.
pub(super) fn run(
    em: &mut Emitter,
    mapping: &Mapping,
    reader: Box<dyn Read + Send>,
    name: &str,
    threads: usize,
) -> std::io::Result<()> {
    let projection = mapping.projection().cloned().map(Arc::new);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(threads * 2);
    let chunk_rx = Arc::new(std::sync::Mutex::new(chunk_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<(usize, Rendered)>(threads * 2);
    // Spent buffers go back: blocks to the reader, output texts to workers.
    let (spent_tx, spent_rx) = mpsc::channel::<Vec<u8>>();
    let texts: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    std::thread::scope(move |scope| {
        scope.spawn(move || read_chunks(reader, chunk_tx, spent_rx));
        for _ in 0..threads {
            let rx = Arc::clone(&chunk_rx);
            let tx = done_tx.clone();
            let spent = spent_tx.clone();
            let texts = Arc::clone(&texts);
            let projection = projection.clone();
            scope.spawn(move || {
                // Each worker maps with its own copy: no reference count is
                // shared between threads (see `Mapping::replica`).
                let replica = mapping.replica();
                let mapping = replica.as_ref().unwrap_or(mapping);
                let projection = match &replica {
                    Some(r) => r.projection().cloned().map(Arc::new),
                    None => projection,
                };
                loop {
                    let chunk = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(_) => return,
                    };
                    let Ok(chunk) = chunk else { return };
                    let text = texts.lock().ok().and_then(|mut t| t.pop()).unwrap_or_default();
                    let rendered = map_chunk(mapping, projection.as_deref(), name, &chunk, text);
                    let _ = spent.send(chunk.bytes);
                    if tx.send((chunk.index, rendered)).is_err() {
                        return;
                    }
                }
            });
        }
        // Only workers hold the block receiver now: when they stop (the
        // writer failed), the reader's next send fails and it stops too.
        drop(chunk_rx);
        drop(done_tx);
        drop(spent_tx);
        // Put blocks back in order.
        let mut pending: BTreeMap<usize, Rendered> = BTreeMap::new();
        let mut next = 0;
        for (index, rendered) in done_rx {
            pending.insert(index, rendered);
            while let Some(r) = pending.remove(&next) {
                next += 1;
                for item in r.done {
                    em.done(item, &r.text)?;
                }
                if let Ok(mut t) = texts.lock() {
                    t.push(r.text);
                }
            }
        }
        Ok(())
    })
}

/// Reads blocks of whole lines until the end or an error (reported with
/// the last block). Buffers come back from the workers through `spent`
/// and are reused: no fresh pages to fault in and zero for every block.
fn read_chunks(mut reader: Box<dyn Read + Send>, tx: mpsc::SyncSender<Chunk>, spent: mpsc::Receiver<Vec<u8>>) {
    let mut index = 0;
    let mut first_line = 1;
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut bytes = spent.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK_BYTES + READ_BYTES));
        bytes.clear();
        bytes.append(&mut carry);
        let mut has_newline = memchr::memchr(b'\n', &bytes).is_some();
        let mut error = None;
        let mut end = false;
        // Fill to the block size, and on past it until a newline when one
        // line is longer than a block.
        while bytes.len() < CHUNK_BYTES || !has_newline {
            let start = bytes.len();
            let want = CHUNK_BYTES.saturating_sub(start).max(READ_BYTES);
            match (&mut reader).take(want as u64).read_to_end(&mut bytes) {
                Ok(n) => {
                    has_newline = has_newline || memchr::memchr(b'\n', &bytes[start..]).is_some();
                    // Less than asked for: the input has ended.
                    if n < want {
                        end = true;
                        break;
                    }
                }
                Err(e) => {
                    error = Some(e.to_string());
                    end = true;
                    break;
                }
            }
        }
        if !end {
            // Keep the unfinished last line for the next block.
            if let Some(last) = memchr::memrchr(b'\n', &bytes) {
                carry.extend_from_slice(&bytes[last + 1..]);
                bytes.truncate(last + 1);
            }
        }
        if bytes.is_empty() && error.is_none() {
            return;
        }
        let lines = memchr::memchr_iter(b'\n', &bytes).count() + usize::from(!bytes.ends_with(b"\n"));
        if tx.send(Chunk { index, first_line, bytes, error }).is_err() || end {
            return;
        }
        first_line += lines;
        index += 1;
    }
}

/// A failed record without a mapping result (unreadable input).
fn unreadable(mapping: &Mapping, origin: String, message: String, raw: String) -> Done {
    let bad = mapwright_engine::input::BadInput::new(message, raw);
    let errors = vec![FieldError::new("", "", bad.message.clone(), None)];
    Done::Failed(origin, errors, dead_letter::unreadable(mapping, &bad), Vec::new())
}

/// The lines of a block, without their newlines.
struct Lines<'a> {
    bytes: &'a [u8],
    start: usize,
    newlines: memchr::Memchr<'a>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        Lines { bytes, start: 0, newlines: memchr::memchr_iter(b'\n', bytes) }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = match self.newlines.next() {
            Some(end) => end,
            // The last line has no newline at the end of the input.
            None if self.start < self.bytes.len() => self.bytes.len(),
            None => return None,
        };
        let line = self.bytes.get(self.start..end);
        self.start = end + 1;
        line
    }
}

fn map_chunk(
    mapping: &Mapping,
    projection: Option<&Projection>,
    name: &str,
    chunk: &Chunk,
    mut text: String,
) -> Rendered {
    text.clear();
    text.reserve(chunk.bytes.len());
    let mut done = Vec::new();
    for (i, line) in Lines::new(&chunk.bytes).enumerate() {
        let origin = || format!("{name}:{}", chunk.first_line + i);
        // The same checks, in the same order, as the sequential reader.
        let line = match std::str::from_utf8(line) {
            Ok(l) => l.trim_end_matches('\r'),
            Err(e) => {
                let origin = origin();
                let message = format!("{origin}: invalid UTF-8 at byte {}", e.valid_up_to() + 1);
                done.push(unreadable(mapping, origin, message, String::from_utf8_lossy(line).into_owned()));
                continue;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let parsed = match projection {
            Some(p) => mapwright_dsl::json::parse_projected(line, p),
            None => Value::from_json(line),
        };
        let value = match parsed {
            Ok(v) => v,
            Err(e) => {
                let origin = origin();
                let message = format!("{origin}:{}: invalid JSON: {}", e.column, e.message);
                done.push(unreadable(mapping, origin, message, line.to_string()));
                continue;
            }
        };
        let r = mapping.run(&value);
        let warnings: Vec<String> = if matches!(r.outcome, Outcome::Failed(_)) {
            Vec::new()
        } else {
            r.warnings
                .iter()
                .map(|w| format!("warning: {} (key {}): {}: {}", origin(), r.key, w.field, w.message))
                .collect()
        };
        done.push(match r.outcome {
            Outcome::Mapped(v) => {
                let start = text.len();
                mapwright_dsl::json::write_value(&mut text, &v);
                let fp = super::map::fingerprints(&r.key, &text[start..]);
                text.push('\n');
                Done::Mapped(start..text.len(), fp, warnings)
            }
            Outcome::Filtered => Done::Filtered(warnings),
            Outcome::Failed(errors) => {
                let full = if projection.is_some() { Value::from_json(line).unwrap_or(value) } else { value };
                let dl = dead_letter::line(mapping, &r.key, &errors, &full);
                Done::Failed(origin(), errors, dl, warnings)
            }
        });
    }
    if let Some(e) = &chunk.error {
        let origin = format!("{name}:{}", chunk.first_line + memchr::memchr_iter(b'\n', &chunk.bytes).count());
        let message = format!("{origin}: cannot read: {e}");
        done.push(unreadable(mapping, origin, message, String::new()));
    }
    Rendered { text, done }
}
