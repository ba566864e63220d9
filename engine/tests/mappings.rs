//! The project's own mappings (`mappings/**/*.yaml`) against the fixtures
//! their `tests:` blocks list.
//!
//! For every test entry the input fixture is mapped (a JSON object is one
//! record, a JSON array is one record per element) and:
//!
//! - `expect:` — the mapped output must equal the expected file (both read
//!   with `Value::from_json` and compared as pretty JSON, so exact digits
//!   count). An object input expects an object; an array input expects the
//!   array of the records that were mapped (filtered ones are left out, so
//!   a batch of filtered records expects `[]`).
//! - `expect_error:` — some record must fail with that text in one of its
//!   failure messages.
//! - `inputs: {source: file}` (multi-source mappings) — the files are joined
//!   by key; the expected file is the array of mapped records in join order.
//!
//! Every outcome (output, failures, warnings) of a mapping is also written
//! to one insta snapshot per mapping file, so any change in what a mapping
//! produces shows up in review even where no `expect:` file pins it.

use std::fmt::Write as _;
use std::path::Path;

mod support;

use mapwright_engine::{Mapping, Outcome, Value};
use support::render_error;

/// Where two texts first differ, as "at line N: actual … / expected …".
fn first_difference(actual: &str, expected: &str) -> Option<String> {
    if actual == expected {
        return None;
    }
    let mut a = actual.lines();
    let mut e = expected.lines();
    let mut n = 1;
    loop {
        match (a.next(), e.next()) {
            (Some(x), Some(y)) if x == y => n += 1,
            (x, y) => {
                return Some(format!(
                    "at line {n}:\n  actual:   {}\n  expected: {}",
                    x.unwrap_or("(end)"),
                    y.unwrap_or("(end)")
                ));
            }
        }
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    Value::from_json(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Runs one test entry; returns its part of the snapshot.
fn run_test(mapping: &Mapping, dir: &Path, test: &mapwright_engine::spec::mapping::TestSpec) -> String {
    let name = test.name.as_ref().map_or("(unnamed)", |n| n.value.as_str());
    assert!(test.expect.is_some() || test.expect_error.is_some(), "{name}: a test needs `expect:` or `expect_error:`");
    let mut out = String::new();
    // A multi-source test joins one file per source; its expected file is
    // the array of mapped records, in join order.
    let (results, is_batch) = if test.inputs.is_empty() {
        let input = test.input.as_ref().unwrap_or_else(|| panic!("{name}: a test needs `input:`"));
        let _ = writeln!(out, "## {name}\ninput: {}", input.value);
        let input_value = read_json(&dir.join(&input.value));
        let (records, is_batch) = match &input_value {
            Value::Array(items) => (items.to_vec(), true),
            _ => (vec![input_value.clone()], false),
        };
        (records.iter().map(|r| mapping.run(r)).collect::<Vec<_>>(), is_batch)
    } else {
        let _ = writeln!(out, "## {name}");
        let mut inputs = Vec::new();
        for (source, file) in &test.inputs {
            let _ = writeln!(out, "input {}: {}", source.text, file.value);
            inputs.push((source.text.as_str(), file.value.as_str()));
        }
        (support::joined(mapping, dir, &inputs), true)
    };

    let mut mapped = Vec::new();
    let mut failures = Vec::new();
    for (i, r) in results.iter().enumerate() {
        let _ = writeln!(out, "\nrecord {i}: key {}", r.key.to_json());
        match &r.outcome {
            Outcome::Mapped(v) => {
                let _ = writeln!(out, "mapped:\n{}", v.to_json_pretty());
                mapped.push(v.clone());
            }
            Outcome::Filtered => out.push_str("filtered\n"),
            Outcome::Failed(errors) => {
                assert!(!errors.is_empty(), "{name}: a failed record must say why");
                out.push_str("failed:\n");
                for e in errors {
                    render_error(&mut out, "error: ", e);
                    failures.push(e.to_string());
                }
            }
        }
        for w in &r.warnings {
            render_error(&mut out, "warning: ", w);
        }
        for d in &r.drift {
            let _ = writeln!(
                out,
                "drift: {} | winner {} | {}",
                d.field,
                d.winner,
                d.values.iter().map(|(s, v)| format!("{s}={}", v.to_json())).collect::<Vec<_>>().join(", ")
            );
        }
    }

    if let Some(expect) = &test.expect {
        let expected = read_json(&dir.join(&expect.value)).to_json_pretty();
        let actual = if is_batch {
            Value::array(mapped).to_json_pretty()
        } else {
            match mapped.pop() {
                Some(v) => v.to_json_pretty(),
                None => {
                    panic!("{name}: expected the output in {}, but the record was not mapped:\n{out}", expect.value)
                }
            }
        };
        if let Some(diff) = first_difference(&actual, &expected) {
            panic!("{name}: the output differs from {} {diff}\nactual output:\n{actual}", expect.value);
        }
    }
    if let Some(text) = &test.expect_error {
        assert!(
            failures.iter().any(|f| f.contains(&text.value)),
            "{name}: expected a failure containing {:?}, got {failures:#?}",
            text.value
        );
    }
    out
}

#[test]
fn mappings_pass_their_fixture_tests() {
    insta::glob!("../../mappings", "**/*.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        if !text.lines().any(|l| l.starts_with("mapping:")) {
            return; // not a mapping file
        }
        let mapping = Mapping::load(path).unwrap_or_else(|e| panic!("{}:\n{}", path.display(), e.render(false)));
        let dir = path.parent().unwrap();
        assert!(!mapping.tests().is_empty(), "{}: a mapping under mappings/ needs `tests:`", path.display());

        let mut snap = format!("mapping: {} (version {})\n", mapping.name(), mapping.version().to_json());
        for test in mapping.tests() {
            snap.push('\n');
            snap.push_str(&run_test(&mapping, dir, test));
        }
        insta::assert_snapshot!(snap);
    });
}
