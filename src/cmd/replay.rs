//! `mapwright replay DEAD_LETTER -m MAPPING [-o OUT] [--dead-letter FILE]`:
//! re-run the `input` of every dead-letter line through a (fixed) mapping.
//! What maps goes to the output; what still fails goes to a new dead
//! letter with its new reasons. Lines of unreadable input (the raw text is
//! the `input`) are parsed again, so fixing the data in the dead-letter
//! file and replaying it works too. For a multi-source mapping the `input`
//! is the `{source: record}` object the dead letter holds.

use std::io::BufRead;
use std::path::PathBuf;
use std::time::Instant;

use mapwright_engine::{FieldError, Value};

use super::map::{Emitter, write_failed};

/// Arguments of `replay`.
#[derive(clap::Args)]
pub struct Args {
    /// The dead-letter file (JSON Lines) to replay.
    dead_letter_in: PathBuf,
    /// The mapping file.
    #[arg(short, long, value_name = "MAPPING")]
    mapping: PathBuf,
    /// Write mapped records here instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Write records that still fail here.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
}

/// Runs `replay`.
pub fn run(args: Args) -> u8 {
    let started = Instant::now();
    let mapping = match super::load(&args.mapping) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let file = match std::fs::File::open(&args.dead_letter_in) {
        Ok(f) => std::io::BufReader::new(f),
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.dead_letter_in.display());
            return super::INVALID;
        }
    };
    if args.dead_letter.as_ref().is_some_and(|d| same_file(d, &args.dead_letter_in)) {
        eprintln!("error: --dead-letter must not be the file being replayed; write to a new file");
        return super::INVALID;
    }
    let mut em = match Emitter::open(&mapping, &args.output, &args.dead_letter, &None) {
        Ok(e) => e,
        Err(m) => {
            eprintln!("error: {m}");
            return super::INVALID;
        }
    };
    let name = args.dead_letter_in.display().to_string();
    let sources = mapping.sources();
    for (n, line) in file.lines().enumerate() {
        let origin = format!("{name}:{}", n + 1);
        let line = match line {
            Ok(l) if l.trim().is_empty() => continue,
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {origin}: {e}");
                return super::INVALID;
            }
        };
        let input = match Value::from_json(&line).ok().and_then(|v| v.get("input").cloned()) {
            Some(Value::String(raw)) => match Value::from_json(&raw) {
                Ok(v) => v,
                Err(e) => {
                    let errors = [FieldError::new("", "", format!("{origin}: the input is still not JSON: {e}"), None)];
                    let dl = mapwright_engine::dead_letter::line(&mapping, &Value::Null, &errors, &Value::String(raw));
                    if let Err(e) = em.fail(&origin, &errors, dl) {
                        return write_failed(&e);
                    }
                    continue;
                }
            },
            Some(v) => v,
            None => {
                eprintln!("error: {origin}: not a dead-letter line (a JSON object with `input`)");
                return super::INVALID;
            }
        };
        let record = if sources.is_empty() {
            mapping.run(&input)
        } else {
            let records: Vec<Value> = sources.iter().map(|s| input.get(s).cloned().unwrap_or(Value::Null)).collect();
            let key = Value::from_json(&line).ok().and_then(|v| v.get("key").cloned()).unwrap_or(Value::Null);
            mapping.run_joined(&key, &records)
        };
        if let Err(e) = em.record(&origin, record, || input.clone()) {
            return write_failed(&e);
        }
    }
    em.finish(started, None)
}

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
