//! `mapwright explain -m MAPPING [INPUT...] [--source NAME=FILE]... [--json]`:
//! where every output field of every record came from — the winning
//! source, the expression, the input paths it read, and whether a default
//! or a fallback source supplied it.

use std::path::PathBuf;

use mapwright_engine::{Outcome, Record, Value};

use super::inputs;

/// Arguments of `explain`.
#[derive(clap::Args)]
pub struct Args {
    /// The mapping file.
    #[arg(short, long, value_name = "MAPPING")]
    mapping: PathBuf,
    /// Input files of a single-source mapping; standard input when none.
    inputs: Vec<PathBuf>,
    /// An input of a multi-source mapping, as NAME=FILE (repeatable).
    #[arg(long = "source", value_name = "NAME=FILE")]
    sources: Vec<String>,
    /// One JSON line per record instead of a table.
    #[arg(long)]
    json: bool,
    /// Input format when the extension does not tell (json, jsonl, csv, yaml).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
}

/// Runs `explain`.
pub fn run(args: Args) -> u8 {
    let mapping = match super::load(&args.mapping) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let format = match super::input_format(args.format.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let mut records: Vec<(String, Record)> = Vec::new();
    if mapping.sources().is_empty() {
        let readers = match inputs::open_plain(&args.inputs, format, None) {
            Ok(r) => r,
            Err(e) => {
                super::report(&e);
                return super::INVALID;
            }
        };
        for record in readers.into_iter().flatten() {
            match &record.value {
                Ok(v) => records.push((record.origin.clone(), mapping.explain(v, None, &[]))),
                Err(bad) => {
                    eprintln!("error: {}", bad.message);
                    return super::FAILED;
                }
            }
        }
    } else {
        let joined = match inputs::join(&mapping, &args.sources, format) {
            Ok(j) => j,
            Err((code, message)) => {
                eprintln!("error: {message}");
                return code;
            }
        };
        for u in &joined.unjoined {
            eprintln!("warning: {}: source `{}` record not joined: {}", u.origin, u.source, u.message);
        }
        for (n, (key, group)) in joined.groups.iter().enumerate() {
            records.push((format!("record {}", n + 1), mapping.explain(&Value::Null, Some(key), group)));
        }
    }
    let mut failed = false;
    let mut stdout = std::io::stdout().lock();
    for (origin, r) in &records {
        failed |= matches!(r.outcome, Outcome::Failed(_));
        let text = if args.json { format!("{}\n", to_json(r).to_json()) } else { table(origin, r) };
        // A closed pipe (`| head`) ends the output quietly.
        if std::io::Write::write_all(&mut stdout, text.as_bytes()).is_err() {
            break;
        }
    }
    if failed { super::FAILED } else { super::OK }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Mapped(_) => "mapped",
        Outcome::Filtered => "filtered",
        Outcome::Failed(_) => "failed",
    }
}

fn to_json(r: &Record) -> Value {
    let mut m = mapwright_dsl::Map::new();
    m.insert("key", r.key.clone());
    m.insert("outcome", Value::str(outcome_name(&r.outcome)));
    m.insert("fields", Value::array(r.lineage.iter().map(|l| l.to_value()).collect()));
    if let Outcome::Failed(errors) = &r.outcome {
        m.insert("errors", Value::array(errors.iter().map(|e| e.to_value()).collect()));
    }
    Value::object(m)
}

fn cell(s: &str, width: usize) -> String {
    let shown: String = if s.chars().count() > width {
        s.chars().take(width.saturating_sub(1)).collect::<String>() + "…"
    } else {
        s.to_string()
    };
    format!("{shown:<width$}")
}

/// A table for people: field, value, source, expression.
fn table(origin: &str, r: &Record) -> String {
    let mut out = format!("{origin} (key {}): {}\n", r.key.to_json(), outcome_name(&r.outcome));
    let rows: Vec<[String; 4]> = r
        .lineage
        .iter()
        .map(|l| {
            let mut source = l.source.clone().unwrap_or_else(|| "-".into());
            if l.fallback {
                source.push_str(" (fallback)");
            }
            let mut expr = l.expr.clone();
            if l.default_used {
                expr.push_str("  [default]");
            }
            [l.field.clone(), l.value.to_json(), source, expr]
        })
        .collect();
    let header = ["field", "value", "source", "expression"];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter().map(|r| r[i].chars().count()).chain([header[i].len()]).max().unwrap_or(0).min(if i == 3 {
                60
            } else {
                40
            })
        })
        .collect();
    let line = |cols: [&str; 4]| -> String {
        let mut s = String::from("  ");
        for (i, c) in cols.iter().enumerate() {
            s.push_str(&cell(c, widths[i]));
            s.push_str(if i < 3 { "  " } else { "" });
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header));
    for r in &rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    if let Outcome::Failed(errors) = &r.outcome {
        for e in errors {
            out.push_str(&format!("  ! {e}\n"));
        }
    }
    out.push('\n');
    out
}
