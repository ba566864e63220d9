//! `mapwright map -m MAPPING [INPUT...]`: map records to JSON Lines.
//!
//! Input is streamed record by record (JSON Lines in constant memory);
//! mapped records go to standard output or `-o`, failed ones to
//! `--dead-letter` (or, without it, a line each on standard error), and a
//! one-line summary closes the run on standard error.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use mapwright_engine::input::{self, Format, Source};
use mapwright_engine::{output, Mapping, Outcome, Value};

/// Arguments of `map`.
#[derive(clap::Args)]
pub struct Args {
    /// The mapping file.
    #[arg(short, long, value_name = "MAPPING")]
    mapping: PathBuf,
    /// Input files (json, jsonl, csv, yaml by extension); standard input when none.
    inputs: Vec<PathBuf>,
    /// Write mapped records here (JSON Lines) instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Write failed records here, one JSON line each, with their reasons.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
    /// Input format when the extension does not tell (json, jsonl, csv, yaml).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

/// Counts for the summary line.
#[derive(Default)]
struct Counts {
    mapped: u64,
    filtered: u64,
    failed: u64,
    duplicates: u64,
    warnings: u64,
}

fn open_out(path: &Option<PathBuf>) -> std::io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::with_capacity(256 * 1024, File::create(p)?)),
        None => Box::new(BufWriter::with_capacity(256 * 1024, std::io::stdout().lock())),
    })
}

/// Runs `map`.
pub fn run(args: Args) -> u8 {
    let started = Instant::now();
    let mapping = match Mapping::load(&args.mapping) {
        Ok(m) => m,
        Err(e) => {
            super::report(&e);
            return super::INVALID;
        }
    };
    let format = match args.format.as_deref().map(|f| (f, Format::parse(f))) {
        None => None,
        Some((_, Some(f))) => Some(f),
        Some((name, None)) => {
            eprintln!("error: unknown format `{name}`: use json, jsonl, csv or yaml");
            return super::INVALID;
        }
    };
    let sources: Vec<Source> = if args.inputs.is_empty() {
        vec![Source::Stdin]
    } else {
        args.inputs.iter().cloned().map(Source::File).collect()
    };
    // Open everything before mapping anything: a missing input is a
    // command-line error, not a half-done run.
    let projection = mapping.projection().cloned().map(std::sync::Arc::new);
    let mut readers = Vec::new();
    for s in &sources {
        match input::open(s, format, projection.clone()) {
            Ok(r) => readers.push(r),
            Err(e) => {
                super::report(&e);
                return super::INVALID;
            }
        }
    }
    let mut out = match open_out(&args.output) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", args.output.as_ref().map_or("stdout".into(), |p| p.display().to_string()));
            return super::INVALID;
        }
    };
    let mut dead = match &args.dead_letter {
        Some(p) => match File::create(p) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", p.display());
                return super::INVALID;
            }
        },
        None => None,
    };
    let mut counts = Counts::default();
    // Key hash → output hash: 16 bytes per distinct key, whatever the record size.
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut line = String::with_capacity(4096);
    let mut shown = 0;
    let mut write_error = None;
    for record in readers.into_iter().flatten() {
        let (dead_line, reason) = match record.value {
            Err(bad) => (output::dead_letter_unreadable(&mapping, &bad), bad.message.clone()),
            Ok(value) => {
                let r = mapping.run(&value);
                counts.warnings += r.warnings.len() as u64;
                for w in &r.warnings {
                    eprintln!("warning: {} (key {}): {}: {}", record.origin, r.key, w.field, w.message);
                }
                match r.outcome {
                    Outcome::Mapped(v) => {
                        line.clear();
                        mapwright_dsl::json::write_value(&mut line, &v);
                        if !r.key.is_null() {
                            let hash = fingerprint(&line);
                            let key = fingerprint(&r.key.to_json());
                            if seen.get(&key) == Some(&hash) {
                                counts.duplicates += 1;
                                continue;
                            }
                            seen.insert(key, hash);
                        }
                        line.push('\n');
                        if let Err(e) = out.write_all(line.as_bytes()) {
                            write_error = Some(e);
                            break;
                        }
                        counts.mapped += 1;
                        continue;
                    }
                    Outcome::Filtered => {
                        counts.filtered += 1;
                        continue;
                    }
                    Outcome::Failed(errors) => {
                        let reason = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                        // The dead letter keeps the whole record, not the projection.
                        let full = record.raw.as_deref().and_then(|raw| Value::from_json(raw).ok()).unwrap_or(value);
                        (output::dead_letter(&mapping, &r.key, &errors, &full), reason)
                    }
                }
            }
        };
        counts.failed += 1;
        match &mut dead {
            Some(d) => {
                let mut text = dead_line.to_json();
                text.push('\n');
                if let Err(e) = d.write_all(text.as_bytes()) {
                    write_error = Some(e);
                    break;
                }
            }
            None => {
                if shown < 100 {
                    eprintln!("failed: {}: {reason}", record.origin);
                }
                shown += 1;
            }
        }
    }
    let flushed = out.flush().and_then(|_| dead.as_mut().map_or(Ok(()), Write::flush));
    if let Some(e) = write_error.or(flushed.err()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return super::OK;
        }
        eprintln!("error: cannot write output: {e}");
        return super::INVALID;
    }
    if shown > 100 {
        eprintln!("... {} more failed records (use --dead-letter FILE to keep them all)", shown - 100);
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{} mapped, {} filtered, {} failed, {} duplicates{} in {secs:.2}s",
        counts.mapped,
        counts.filtered,
        counts.failed,
        counts.duplicates,
        if counts.warnings > 0 { format!(", {} warnings", counts.warnings) } else { String::new() },
    );
    if counts.failed > 0 {
        super::FAILED
    } else {
        super::OK
    }
}

/// A 64-bit fingerprint of an output line, for duplicate detection.
fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}
