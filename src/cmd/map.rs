//! `mapwright map -m MAPPING [INPUT...]`: map records to JSON Lines.
//!
//! Single-source input is streamed record by record (JSON Lines in
//! constant memory, apart from 16 bytes per distinct key for duplicate
//! detection). A multi-source mapping reads every `--source NAME=FILE`,
//! joins the records by key, then maps each group. Mapped records go to
//! standard output or `-o`, failed ones to `--dead-letter` (or, without it,
//! a line each on standard error), disagreements between sources to
//! `--drift`, and a one-line summary closes the run on standard error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use mapwright_engine::input::Format;
use mapwright_engine::{FieldError, Mapping, Outcome, Record, Value, dead_letter};

use super::inputs;
use super::parallel::{self, Done};

/// Arguments of `map`.
#[derive(clap::Args)]
pub struct Args {
    /// The mapping file.
    #[arg(short, long, value_name = "MAPPING")]
    mapping: PathBuf,
    /// Input files (json, jsonl, csv, yaml by extension); standard input when none.
    inputs: Vec<PathBuf>,
    /// An input of a multi-source mapping, as NAME=FILE (repeatable).
    #[arg(long = "source", value_name = "NAME=FILE")]
    sources: Vec<String>,
    /// Write mapped records here (JSON Lines) instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Write failed records here, one JSON line each, with their reasons.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Write disagreements between sources here (fields with `on_conflict: report`).
    #[arg(long, value_name = "FILE")]
    drift: Option<PathBuf>,
    /// Input format when the extension does not tell (json, jsonl, csv, yaml).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Threads mapping JSON Lines files (default: every core); the output
    /// order and bytes are the same for any number.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn create(path: &Option<PathBuf>) -> std::io::Result<Option<BufWriter<File>>> {
    path.as_ref().map(|p| File::create(p).map(|f| BufWriter::with_capacity(256 * 1024, f))).transpose()
}

/// Where results go, and the counts for the summary (shared with `replay`).
pub(super) struct Emitter<'m> {
    mapping: &'m Mapping,
    out: Box<dyn Write>,
    dead: Option<BufWriter<File>>,
    drift: Option<BufWriter<File>>,
    /// Key hash → output hash: 16 bytes per distinct key.
    seen: HashMap<u64, u64, foldhash::fast::RandomState>,
    /// The line being written (reused).
    line: String,
    mapped: u64,
    filtered: u64,
    failed: u64,
    duplicates: u64,
    warnings: u64,
    conflicts: u64,
    shown: u64,
}

impl<'m> Emitter<'m> {
    /// An emitter writing to `-o` (or standard output) and the optional files.
    pub(super) fn open(
        mapping: &'m Mapping,
        output: &Option<PathBuf>,
        dead_letter: &Option<PathBuf>,
        drift: &Option<PathBuf>,
    ) -> Result<Emitter<'m>, String> {
        let out: Box<dyn Write> = match output {
            Some(p) => match File::create(p) {
                Ok(f) => Box::new(BufWriter::with_capacity(256 * 1024, f)),
                Err(e) => return Err(format!("cannot write {}: {e}", p.display())),
            },
            None => Box::new(BufWriter::with_capacity(256 * 1024, std::io::stdout().lock())),
        };
        let (dead, drift) = match (create(dead_letter), create(drift)) {
            (Ok(d), Ok(r)) => (d, r),
            (Err(e), _) | (_, Err(e)) => return Err(format!("cannot create an output file: {e}")),
        };
        Ok(Emitter {
            mapping,
            out,
            dead,
            drift,
            seen: HashMap::default(),
            line: String::new(),
            mapped: 0,
            filtered: 0,
            failed: 0,
            duplicates: 0,
            warnings: 0,
            conflicts: 0,
            shown: 0,
        })
    }

    /// Routes one record's result; `input` gives the full input for a dead letter.
    pub(super) fn record(&mut self, origin: &str, r: Record, input: impl FnOnce() -> Value) -> std::io::Result<()> {
        for d in &r.drift {
            self.conflicts += 1;
            if let Some(f) = &mut self.drift {
                let mut text = d.to_value(&r.key, self.mapping).to_json();
                text.push('\n');
                f.write_all(text.as_bytes())?;
            }
        }
        // Warnings matter for records that pass; a failed record's reasons
        // are in the dead letter.
        let warnings = if matches!(r.outcome, Outcome::Failed(_)) {
            Vec::new()
        } else {
            r.warnings
                .iter()
                .map(|w| format!("warning: {origin} (key {}): {}: {}", r.key, w.field, w.message))
                .collect()
        };
        let done = match r.outcome {
            Outcome::Mapped(v) => {
                // Rendered into a reused buffer: no allocation per record.
                let mut line = std::mem::take(&mut self.line);
                line.clear();
                mapwright_dsl::json::write_value(&mut line, &v);
                let fp = fingerprints(&r.key, &line);
                line.push('\n');
                let written = self.done(Done::Mapped(0..line.len(), fp, warnings), &line);
                self.line = line;
                return written;
            }
            Outcome::Filtered => Done::Filtered(warnings),
            Outcome::Failed(errors) => {
                let line = dead_letter::line(self.mapping, &r.key, &errors, &input());
                Done::Failed(origin.to_string(), errors, line, warnings)
            }
        };
        self.done(done, "")
    }

    /// Writes one finished record: the single place where duplicates are
    /// detected and lines are written, for the sequential and the parallel
    /// paths alike.
    pub(super) fn done(&mut self, d: Done, text: &str) -> std::io::Result<()> {
        let warnings = match &d {
            Done::Mapped(_, _, w) | Done::Filtered(w) | Done::Failed(_, _, _, w) => w,
        };
        self.warnings += warnings.len() as u64;
        for w in warnings {
            eprintln!("{w}");
        }
        match d {
            Done::Mapped(range, fp, _) => match text.get(range) {
                Some(line) => self.write_mapped(line, fp),
                None => Err(std::io::Error::other("internal: a rendered line is out of its block")),
            },
            Done::Filtered(_) => {
                self.filtered += 1;
                Ok(())
            }
            Done::Failed(origin, errors, line, _) => self.fail(&origin, &errors, line),
        }
    }

    /// Writes a mapped line unless it repeats the last output for its key.
    /// `line` ends with its newline.
    fn write_mapped(&mut self, line: &str, fp: Option<(u64, u64)>) -> std::io::Result<()> {
        if let Some((key, hash)) = fp {
            if self.seen.get(&key) == Some(&hash) {
                self.duplicates += 1;
                return Ok(());
            }
            self.seen.insert(key, hash);
        }
        self.out.write_all(line.as_bytes())?;
        self.mapped += 1;
        Ok(())
    }

    pub(super) fn fail(&mut self, origin: &str, errors: &[FieldError], line: Value) -> std::io::Result<()> {
        self.failed += 1;
        match &mut self.dead {
            Some(d) => {
                let mut text = line.to_json();
                text.push('\n');
                d.write_all(text.as_bytes())
            }
            None => {
                if self.shown < 100 {
                    let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                    eprintln!("failed: {origin}: {reason}");
                }
                self.shown += 1;
                Ok(())
            }
        }
    }

    pub(super) fn finish(mut self, started: Instant, joined: Option<usize>) -> u8 {
        let flushed = self
            .out
            .flush()
            .and_then(|_| self.dead.as_mut().map_or(Ok(()), Write::flush))
            .and_then(|_| self.drift.as_mut().map_or(Ok(()), Write::flush));
        if let Err(e) = flushed {
            return write_failed(&e);
        }
        if self.shown > 100 {
            eprintln!("... {} more failed records (use --dead-letter FILE to keep them all)", self.shown - 100);
        }
        let mut extra = String::new();
        if let Some(keys) = joined {
            extra.push_str(&format!(", {} conflicts ({keys} keys joined)", self.conflicts));
        }
        if self.warnings > 0 {
            extra.push_str(&format!(", {} warnings", self.warnings));
        }
        eprintln!(
            "{} mapped, {} filtered, {} failed, {} duplicates{extra} in {:.2}s",
            self.mapped,
            self.filtered,
            self.failed,
            self.duplicates,
            started.elapsed().as_secs_f64(),
        );
        if self.failed > 0 { super::FAILED } else { super::OK }
    }
}

pub(super) fn write_failed(e: &std::io::Error) -> u8 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return super::OK;
    }
    eprintln!("error: cannot write output: {e}");
    super::INVALID
}

/// Runs `map`.
pub fn run(args: Args) -> u8 {
    let started = Instant::now();
    let mapping = match super::load(&args.mapping) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let format = match super::input_format(args.format.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let multi = !mapping.sources().is_empty();
    if multi && !args.inputs.is_empty() {
        eprintln!(
            "error: `{}` is a multi-source mapping: give its inputs as --source NAME=FILE ({})",
            mapping.name(),
            mapping.sources().join(", ")
        );
        return super::INVALID;
    }
    if !multi && !args.sources.is_empty() {
        eprintln!(
            "error: --source is for multi-source mappings; `{}` has no `sources:` — pass input files directly",
            mapping.name()
        );
        return super::INVALID;
    }
    // Read (and, for several sources, join) before creating any output.
    let mut plain = Vec::new();
    let mut joined = None;
    if multi {
        match inputs::join(&mapping, &args.sources, format) {
            Ok(j) => joined = Some(j),
            Err((code, message)) => {
                eprintln!("error: {message}");
                return code;
            }
        }
    } else {
        let projection = mapping.projection().cloned().map(std::sync::Arc::new);
        match inputs::open_plain(&args.inputs, format, projection) {
            Ok(r) => plain = r,
            Err(e) => {
                super::report(&e);
                return super::INVALID;
            }
        }
    }
    let mut em = match Emitter::open(&mapping, &args.output, &args.dead_letter, &args.drift) {
        Ok(e) => e,
        Err(m) => {
            eprintln!("error: {m}");
            return super::INVALID;
        }
    };
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let all_jsonl = !args.inputs.is_empty()
        && args.inputs.iter().all(|p| format.or_else(|| Format::from_path(p)) == Some(Format::Jsonl));
    let result = match joined {
        Some(j) => map_joined(&mut em, &mapping, j),
        None if threads > 1 && all_jsonl => map_parallel(&mut em, &mapping, &args.inputs, threads),
        None => map_plain(&mut em, &mapping, plain),
    };
    match result {
        Ok(keys) => em.finish(started, keys),
        Err(e) => write_failed(&e),
    }
}

fn map_plain(
    em: &mut Emitter,
    mapping: &Mapping,
    readers: Vec<Box<dyn Iterator<Item = mapwright_engine::input::InputRecord> + Send>>,
) -> std::io::Result<Option<usize>> {
    for record in readers.into_iter().flatten() {
        match &record.value {
            Err(bad) => {
                let errors = [FieldError::new("", "", bad.message.clone(), None)];
                em.fail(&record.origin, &errors, dead_letter::unreadable(mapping, bad))?;
            }
            Ok(value) => {
                let r = mapping.run(value);
                // The dead letter keeps the whole record, not the projection.
                em.record(&record.origin, r, || record.full().unwrap_or_else(|| value.clone()))?;
            }
        }
    }
    Ok(None)
}

fn map_parallel(
    em: &mut Emitter,
    mapping: &Mapping,
    inputs: &[PathBuf],
    threads: usize,
) -> std::io::Result<Option<usize>> {
    for path in inputs {
        let file = File::open(path)?;
        parallel::run(em, mapping, Box::new(file), &path.display().to_string(), threads)?;
    }
    Ok(None)
}

fn map_joined(em: &mut Emitter, mapping: &Mapping, j: inputs::Joined) -> std::io::Result<Option<usize>> {
    em.duplicates += j.duplicates;
    for u in &j.unjoined {
        let errors = [FieldError::new(format!("sources.{}.key", u.source), u.expr.clone(), u.message.clone(), None)];
        let line = dead_letter::line(mapping, &Value::Null, &errors, &u.record);
        em.fail(&u.origin, &errors, line)?;
    }
    let keys = j.groups.len();
    for (key, records) in &j.groups {
        let r = mapping.run_joined(key, records);
        em.record(&format!("key {}", key.to_json()), r, || inputs::group_input(mapping, records))?;
    }
    Ok(Some(keys))
}

/// The (key, output) fingerprints of a mapped record with a key, for
/// duplicate detection: 64-bit hashes, seeded at random once per run so
/// crafted input cannot make two keys collide.
pub(super) fn fingerprints(key: &Value, line: &str) -> Option<(u64, u64)> {
    use std::hash::BuildHasher;
    static STATE: std::sync::OnceLock<foldhash::quality::RandomState> = std::sync::OnceLock::new();
    if key.is_null() {
        return None;
    }
    let state = STATE.get_or_init(foldhash::quality::RandomState::default);
    // Tagged, so the text key "1" and the number key 1 stay two keys.
    let key_hash = match key {
        Value::String(s) => state.hash_one((0u8, &**s)),
        other => state.hash_one((1u8, other.to_json())),
    };
    Some((key_hash, state.hash_one(line)))
}
