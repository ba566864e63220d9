//! Multi-source mappings and source-of-truth rules end to end through the
//! command line (`mapwright map --source …`, `mapwright explain`): the
//! small mappings and fixtures of the engine's `tests/multi_source/` (whose
//! library-level suite is `engine/tests/multi_source.rs`), and the two
//! examples in `mappings/products/` and `mappings/inventory/`.
//!
//! Each case is an insta snapshot of what a user sees: the exit code,
//! standard output, standard error (the summary line with its time
//! replaced by `[time]`) and every file written. Drift and dead-letter
//! lines are shown without their `at` time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapwright_engine::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    root().join("engine/tests/multi_source")
}

/// Files a run may write, as `(flag, name)`: passed to the command when
/// listed, and shown in the snapshot (or "(not created)").
const OUTPUTS: &[(&str, &str)] = &[("-o", "out.jsonl"), ("--drift", "drift.jsonl"), ("--dead-letter", "dead.jsonl")];

/// Drops `,"at":"…"` (the time a drift or dead-letter line was written).
fn strip_at(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(",\"at\":\"") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 7..];
        match after.find('"') {
            Some(end) => rest = &after[end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Replaces the run time at the end of the summary line (` in 0.03s`).
fn redact_time(text: &str) -> String {
    text.lines()
        .map(|l| match l.rfind(" in ") {
            Some(i) if l.ends_with('s') && l[i + 4..l.len() - 1].parse::<f64>().is_ok() => {
                format!("{} in [time]", &l[..i])
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `mapwright ARGS` in `cwd` with the output files `outputs` (flags
/// from [`OUTPUTS`]) in a fresh temporary directory; renders everything.
fn run(cwd: &Path, args: &[&str], outputs: &[&str]) -> (i32, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mapwright"));
    cmd.args(args).current_dir(cwd).env("NO_COLOR", "1");
    let mut shown: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    for flag in outputs {
        let (_, name) = OUTPUTS.iter().find(|(f, _)| f == flag).expect("known output flag");
        cmd.arg(flag).arg(tmp.path().join(name));
        shown.push(format!("{flag} {name}"));
    }
    let o = cmd.output().expect("run mapwright");
    let code = o.status.code().expect("exit code");
    let mut snap = format!("$ mapwright {}\nexit: {code}\n", shown.join(" "));
    let stdout = String::from_utf8(o.stdout).expect("UTF-8 stdout");
    let stderr = String::from_utf8(o.stderr).expect("UTF-8 stderr");
    if !stdout.is_empty() {
        let _ = write!(snap, "--- stdout\n{stdout}");
    }
    if !stderr.is_empty() {
        let _ = write!(snap, "--- stderr\n{}\n", redact_time(&stderr));
    }
    for flag in outputs {
        let (_, name) = OUTPUTS.iter().find(|(f, _)| f == flag).unwrap();
        match std::fs::read_to_string(tmp.path().join(name)) {
            Ok(text) => {
                let _ = writeln!(snap, "--- {name}");
                for line in text.lines() {
                    let _ = writeln!(snap, "{}", strip_at(line));
                }
            }
            Err(_) => {
                let _ = writeln!(snap, "--- {name}: (not created)");
            }
        }
    }
    (code, snap)
}

/// `mapwright map -m MAPPING --source …` in the fixtures with every output file.
fn map_fixture(mapping: &str, sources: &[&str]) -> (i32, String) {
    let mut args = vec!["map", "-m", mapping];
    for s in sources {
        args.push("--source");
        args.push(s);
    }
    run(&fixtures(), &args, &["-o", "--drift", "--dead-letter"])
}

#[test]
fn a_source_missing_for_a_key_reads_as_null_and_the_next_source_supplies_the_value() {
    let (code, snap) = map_fixture("missing.yaml", &["erp=missing_erp.csv", "shop=missing_shop.json"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(snap);
}

#[test]
fn all_candidates_null_give_null_or_the_default() {
    let (code, snap) = map_fixture("nulls.yaml", &["pim=nulls_pim.jsonl", "shop=nulls_shop.jsonl"]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(snap);
}

#[test]
fn latest_newest_wins_ties_go_to_precedence_and_a_bad_timestamp_fails_the_record() {
    let (code, snap) = map_fixture("latest.yaml", &["erp=latest_erp.jsonl", "shop=latest_shop.jsonl"]);
    assert_eq!(code, 2, "the record with an unreadable timestamp fails");
    insta::assert_snapshot!(snap);
}

#[test]
fn conflicts_inside_tolerance_are_not_drift_outside_they_are_reported() {
    let (code, snap) = map_fixture(
        "tolerance.yaml",
        &["erp=tolerance_erp.csv", "shop=tolerance_shop.jsonl", "market=tolerance_market.jsonl"],
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!(snap);
}

#[test]
fn duplicate_keys_in_one_source_newest_or_last_read_wins_and_are_counted() {
    let (code, snap) = map_fixture("duplicates.yaml", &["wms=duplicates_wms.jsonl", "erp=duplicates_erp.csv"]);
    assert_eq!(code, 0);
    assert!(snap.contains(", 6 duplicates,"), "{snap}");
    insta::assert_snapshot!(snap);
}

#[test]
fn on_conflict_error_fails_the_record_naming_the_field() {
    let (code, snap) =
        map_fixture("conflict_error.yaml", &["erp=conflict_error_erp.jsonl", "shop=conflict_error_shop.jsonl"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(snap);
}

#[test]
fn on_conflict_error_without_dead_letter_lists_the_failure_on_stderr() {
    let (code, snap) = run(
        &fixtures(),
        &[
            "map",
            "-m",
            "conflict_error.yaml",
            "--source",
            "erp=conflict_error_erp.jsonl",
            "--source",
            "shop=conflict_error_shop.jsonl",
        ],
        &[],
    );
    assert_eq!(code, 2);
    insta::assert_snapshot!(snap);
}

#[test]
fn a_record_whose_join_key_is_null_goes_to_the_dead_letter() {
    let (code, snap) =
        map_fixture("conflict_error.yaml", &["erp=conflict_error_erp.jsonl", "shop=null_key_shop.jsonl"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(snap);
}

#[test]
fn explain_table() {
    let (code, snap) = run(
        &fixtures(),
        &["explain", "-m", "missing.yaml", "--source", "erp=missing_erp.csv", "--source", "shop=missing_shop.json"],
        &[],
    );
    assert_eq!(code, 0);
    insta::assert_snapshot!(snap);
}

#[test]
fn explain_json() {
    let (code, snap) = run(
        &fixtures(),
        &[
            "explain",
            "-m",
            "nulls.yaml",
            "--source",
            "pim=nulls_pim.jsonl",
            "--source",
            "shop=nulls_shop.jsonl",
            "--json",
        ],
        &[],
    );
    assert_eq!(code, 0);
    // Every line is one JSON object.
    for line in snap.lines().filter(|l| l.starts_with('{')) {
        Value::from_json(line).unwrap_or_else(|e| panic!("not JSON: {line}: {e}"));
    }
    insta::assert_snapshot!(snap);
}

#[test]
fn explain_names_the_failing_field() {
    let (code, snap) = run(
        &fixtures(),
        &["explain", "-m", "latest.yaml", "--source", "erp=latest_erp.jsonl", "--source", "shop=latest_shop.jsonl"],
        &[],
    );
    assert_eq!(code, 2);
    insta::assert_snapshot!(snap);
}

// ---------------------------------------------------------------------------
// The examples in mappings/

const GOLDEN: &[&str] = &[
    "map",
    "-m",
    "mappings/products/golden_record.yaml",
    "--source",
    "pim=mappings/products/fixtures/pim.json",
    "--source",
    "erp=mappings/products/fixtures/erp.csv",
    "--source",
    "wms=mappings/products/fixtures/wms.jsonl",
    "--source",
    "shop=mappings/products/fixtures/shop.json",
];

const PARITY: &[&str] = &[
    "map",
    "-m",
    "mappings/inventory/parity.yaml",
    "--source",
    "wms=mappings/inventory/fixtures/wms_stock.jsonl",
    "--source",
    "shop=mappings/inventory/fixtures/shop_levels.jsonl",
];

/// The CLI output must equal the mapping's `expect:` file.
fn assert_output_matches(snap: &str, expect: &str) {
    let out: Vec<Value> = snap
        .split("--- out.jsonl\n")
        .nth(1)
        .expect("an output file")
        .lines()
        .take_while(|l| !l.starts_with("--- "))
        .map(|l| Value::from_json(l).unwrap())
        .collect();
    let expected = Value::from_json(&std::fs::read_to_string(root().join(expect)).unwrap()).unwrap();
    assert_eq!(Value::array(out).to_json_pretty(), expected.to_json_pretty(), "output differs from {expect}");
}

#[test]
fn golden_record_end_to_end() {
    let (code, snap) = run(&root(), GOLDEN, &["-o", "--drift", "--dead-letter"]);
    assert_eq!(code, 0);
    assert_output_matches(&snap, "mappings/products/fixtures/golden.out.json");
    insta::assert_snapshot!(snap);
}

#[test]
fn golden_record_explain() {
    let mut args = GOLDEN.to_vec();
    args[0] = "explain";
    let (code, snap) = run(&root(), &args, &[]);
    assert_eq!(code, 0);
    insta::assert_snapshot!(snap);
}

#[test]
fn inventory_parity_end_to_end() {
    let (code, snap) = run(&root(), PARITY, &["-o", "--drift", "--dead-letter"]);
    assert_eq!(code, 0);
    assert_output_matches(&snap, "mappings/inventory/fixtures/parity.out.json");
    // The storefront drifted at two warehouses; the WMS's count was written.
    let drift: Vec<&str> =
        snap.split("--- drift.jsonl\n").nth(1).unwrap().lines().take_while(|l| !l.starts_with("--- ")).collect();
    assert_eq!(drift.len(), 2, "{snap}");
    assert!(drift.iter().all(|l| l.contains(r#""winner":"wms""#)), "{snap}");
    insta::assert_snapshot!(snap);
}

// ---------------------------------------------------------------------------
// Bad input and bad command lines

#[test]
fn a_source_file_that_does_not_parse_stops_the_run_and_writes_nothing() {
    let mut snap = String::new();
    for (erp, shop) in [
        ("conflict_error_erp.jsonl", "bad_shop.jsonl"),
        ("bad_erp.csv", "conflict_error_shop.jsonl"),
        ("conflict_error_erp.jsonl", "bad_shop.json"),
    ] {
        let (code, s) = map_fixture("conflict_error.yaml", &[&format!("erp={erp}"), &format!("shop={shop}")]);
        assert_eq!(code, 2, "{s}");
        assert!(s.contains("--- out.jsonl: (not created)"), "{s}");
        snap.push_str(&s);
        snap.push('\n');
    }
    insta::assert_snapshot!(snap);
}

#[test]
fn bad_command_lines_exit_1() {
    let mut snap = String::new();
    for args in [
        // an unknown --source name
        &["map", "-m", "conflict_error.yaml", "--source", "erp=conflict_error_erp.jsonl", "--source", "shopp=x.jsonl"]
            [..],
        // a source not given
        &["map", "-m", "conflict_error.yaml", "--source", "erp=conflict_error_erp.jsonl"],
        // a source file that does not exist
        &[
            "map",
            "-m",
            "conflict_error.yaml",
            "--source",
            "erp=conflict_error_erp.jsonl",
            "--source",
            "shop=nope.jsonl",
        ],
        // positional inputs with a multi-source mapping
        &["map", "-m", "conflict_error.yaml", "conflict_error_erp.jsonl"],
        // --source without a file
        &["map", "-m", "conflict_error.yaml", "--source", "erp", "--source", "shop=conflict_error_shop.jsonl"],
        // --source with a single-source mapping
        &["map", "-m", "../../../mappings/shopify/order_to_canonical.yaml", "--source", "shop=missing_shop.json"],
        // explain: a source not given
        &["explain", "-m", "conflict_error.yaml", "--source", "shop=conflict_error_shop.jsonl"],
    ] {
        let (code, s) = run(&fixtures(), args, &["-o"][..if args[0] == "map" { 1 } else { 0 }]);
        assert_eq!(code, 1, "{s}");
        snap.push_str(&s);
        snap.push('\n');
    }
    insta::assert_snapshot!(snap);
}
