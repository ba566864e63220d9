//! Multi-source mappings and source-of-truth rules through the library:
//! the fixtures in `tests/multi_source/` (the command line runs the same
//! ones in the root package's `tests/map_sources.rs`), the two examples in
//! `mappings/products/` and `mappings/inventory/`, and the load-time
//! diagnostics of bad truth rules (snapshots of
//! `Mapping::from_yaml(..).unwrap_err().render(false)`).

mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mapwright_engine::{Mapping, Outcome, Value};

fn root() -> PathBuf {
    support::repo()
}

fn fixtures() -> PathBuf {
    support::fixtures().join("multi_source")
}

fn joined_records(mapping: &Mapping, dir: &Path, inputs: &[(&str, &str)]) -> Vec<(String, Outcome)> {
    support::joined(mapping, dir, inputs).into_iter().map(|r| (r.key.to_json(), r.outcome)).collect()
}

/// The outputs of a joined run, by key, as compact JSON.
fn mapped_by_key(mapping: &Mapping, dir: &Path, inputs: &[(&str, &str)]) -> Vec<(String, String)> {
    joined_records(mapping, dir, inputs)
        .into_iter()
        .map(|(key, r)| {
            let out = match r {
                Outcome::Mapped(v) => v.to_json(),
                Outcome::Filtered => "filtered".into(),
                Outcome::Failed(e) => {
                    format!("failed: {}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
                }
            };
            (key, out)
        })
        .collect()
}

/// A field's `updated_at:` falls back to the source's `updated_at:` (README
/// "Several systems, one record", `prefer: latest`). This is the same case as `latest.yaml` with the
/// ERP's time given at source level only, so the results must be the same.
///
/// (Regression: the source-level `updated_at:` reads `$` as the source's
/// own record, also when a field's `prefer: latest` falls back to it. Only
/// the expression text in messages differs: `$.modified` vs `$erp.modified`.)
#[test]
fn latest_falls_back_to_the_source_level_updated_at() {
    let dir = fixtures();
    let inputs = [("erp", "latest_erp.jsonl"), ("shop", "latest_shop.jsonl")];
    let by_field = Mapping::load(dir.join("latest.yaml")).unwrap();
    let by_source = Mapping::load(dir.join("latest_source_level.yaml")).unwrap();
    let expected: Vec<_> =
        mapped_by_key(&by_field, &dir, &inputs).into_iter().map(|(k, v)| (k, v.replace("`$erp.", "`$."))).collect();
    let actual = mapped_by_key(&by_source, &dir, &inputs);
    assert_eq!(actual, expected);
}

/// The `tests:` blocks of the two examples (multi-source `inputs:`), run
/// through the library: join the inputs, map, compare with `expect:`.
#[test]
fn example_mappings_pass_their_multi_source_tests() {
    for file in ["mappings/products/golden_record.yaml", "mappings/inventory/parity.yaml"] {
        let path = root().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# yaml-language-server: $schema=../../schemas/mapping.schema.json\n"),
            "{file}: the first line names the schema"
        );
        let mapping = Mapping::load(&path).unwrap_or_else(|e| panic!("{file}:\n{}", e.render(false)));
        let dir = path.parent().unwrap();
        assert!(!mapping.tests().is_empty(), "{file}: needs tests");
        for test in mapping.tests() {
            let name = test.name.as_ref().map_or("(unnamed)", |n| n.value.as_str());
            let inputs: Vec<(&str, &str)> =
                test.inputs.iter().map(|(k, v)| (k.text.as_str(), v.value.as_str())).collect();
            let mut declared = mapping.sources();
            let mut given: Vec<&str> = inputs.iter().map(|(k, _)| *k).collect();
            declared.sort_unstable();
            given.sort_unstable();
            assert_eq!(given, declared, "{file}: {name}: one input per source");
            let mut mapped = Vec::new();
            for (key, outcome) in joined_records(&mapping, dir, &inputs) {
                match outcome {
                    Outcome::Mapped(v) => mapped.push(v),
                    other => panic!("{file}: {name}: key {key}: {other:?}"),
                }
            }
            let expect = test.expect.as_ref().unwrap_or_else(|| panic!("{file}: {name}: needs expect:"));
            let expected = Value::from_json(&std::fs::read_to_string(dir.join(&expect.value)).unwrap()).unwrap();
            assert_eq!(Value::array(mapped).to_json_pretty(), expected.to_json_pretty(), "{file}: {name}");
        }
    }
}

/// The join keeps, per source and key, only what the mapping reads: the
/// projection of each source. A mapping that read a whole record (`$pim`)
/// would show `$` here and keep every field.
#[test]
fn example_mappings_keep_only_the_fields_they_read() {
    let mut snap = String::new();
    for file in ["mappings/products/golden_record.yaml", "mappings/inventory/parity.yaml"] {
        let mapping = Mapping::load(root().join(file)).unwrap();
        let _ = writeln!(snap, "## {file}");
        for (i, name) in mapping.sources().iter().enumerate() {
            let projection = mapping.source_projection(i);
            assert!(projection.is_some(), "{file}: source `{name}` is kept whole");
            let _ = write!(snap, "{name}:\n{}", projection.unwrap());
        }
    }
    insta::assert_snapshot!(snap);
}

// ---------------------------------------------------------------------------
// Bad specs: located diagnostics at load time

fn diagnostics(name: &str) -> String {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    match Mapping::from_yaml(&text, name) {
        Ok(_) => panic!("{name} compiled, but it is invalid"),
        Err(e) => e.render(false),
    }
}

#[test]
fn from_naming_an_undeclared_source() {
    insta::assert_snapshot!(diagnostics("err_from_undeclared.yaml"));
}

#[test]
fn prefer_naming_an_unknown_source() {
    insta::assert_snapshot!(diagnostics("err_prefer_unknown.yaml"));
}

#[test]
fn latest_without_updated_at() {
    insta::assert_snapshot!(diagnostics("err_latest_without_updated_at.yaml"));
}

#[test]
fn from_inside_each() {
    insta::assert_snapshot!(diagnostics("err_from_in_each.yaml"));
}

#[test]
fn from_in_a_mapping_without_sources() {
    insta::assert_snapshot!(diagnostics("err_from_without_sources.yaml"));
}

#[test]
fn bad_truth_rule_values() {
    insta::assert_snapshot!(diagnostics("err_truth_keys.yaml"));
}
