//! Mapping cases: `tests/cases/*.yaml` hold a mapping, a line `---`,
//! then input records as JSON Lines. Each record's key and outcome is
//! snapshotted. Files named `err_*.yaml` are mappings that must not
//! compile; their snapshot is the rendered diagnostics, so a moved caret
//! or a lost hint shows up in review.

mod support;

use std::fmt::Write as _;

use mapwright_engine::{Mapping, Outcome, Value};
use support::render_error;

/// Splits a fixture into the mapping text and the input lines (after the
/// first line that is exactly `---`).
fn split(text: &str) -> (&str, &str) {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == "---" {
            return (&text[..offset], &text[offset + line.len()..]);
        }
        offset += line.len();
    }
    (text, "")
}

/// Runs every input line through the mapping and renders the results.
fn run_records(mapping: &Mapping, input: &str) -> String {
    let mut out = String::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let value = Value::from_json(line).unwrap_or_else(|e| panic!("input line {} is not JSON: {e}", i + 1));
        let record = mapping.run(&value);
        let _ = writeln!(out, "in:  {}", value.to_json());
        let _ = writeln!(out, "key: {}", record.key.to_json());
        match &record.outcome {
            Outcome::Mapped(v) => {
                let _ = writeln!(out, "mapped: {}", v.to_json());
            }
            Outcome::Filtered => out.push_str("filtered\n"),
            Outcome::Failed(errors) => {
                assert!(!errors.is_empty(), "a failed record must say why");
                out.push_str("failed:\n");
                for e in errors {
                    render_error(&mut out, "  error: ", e);
                }
            }
        }
        for w in &record.warnings {
            render_error(&mut out, "  warning: ", w);
        }
        out.push('\n');
    }
    out
}

#[test]
fn cases() {
    insta::glob!("cases/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        // Relative to the package root (the test's working directory), so
        // paths in messages are the same on every machine.
        let base = Path::new("tests/cases");
        let (yaml, input) = split(&text);
        let compiled = Mapping::from_yaml_in(yaml, &name, base);
        let rendered = if name.starts_with("err_") {
            match compiled {
                Ok(_) => panic!("{name} must not compile"),
                Err(e) => {
                    assert!(!e.diagnostics().is_empty(), "{name}: a spec error lists its diagnostics");
                    for d in e.diagnostics() {
                        assert_eq!(&*d.file.name, name, "diagnostics name the file");
                    }
                    e.render(false)
                }
            }
        } else {
            match compiled {
                Ok(m) => run_records(&m, input),
                Err(e) => panic!("{name} does not compile:\n{}", e.render(false)),
            }
        };
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn split_finds_the_first_separator_only() {
    let (a, b) = split("mapping: m\n---\n{}\n---\n");
    assert_eq!(a, "mapping: m\n");
    assert_eq!(b, "{}\n---\n");
    assert_eq!(split("no separator\n"), ("no separator\n", ""));
}
