//! The dead letter → fix → replay loop with the binary (README "Checks, contracts, hooks, replay"):
//! `mapwright map` with a broken mapping writes failed records to a dead
//! letter; after the mapping is fixed, `mapwright replay DL -m FIXED -o OUT
//! --dead-letter DL2` maps them and the new dead letter stays empty. Input
//! that could not be read (its raw text is the dead letter's `input`) and
//! still is not JSON goes to the new dead letter again.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mapwright_engine::Value;

const BROKEN: &str = r#"
mapping: orders
version: 1
key: $.id
lookups:
  status: { strict: true, inline: { open: OPEN, paid: PAID } }
fields:
  id: string($.id)
  status: lookup("status", $.status)
  total: { expr: number($.total), required: true, min: 0 }
"#;

/// The fix: a status the shop added, and totals with a decimal comma.
const FIXED: &str = r#"
mapping: orders
version: 2
key: $.id
lookups:
  status: { strict: true, inline: { open: OPEN, paid: PAID, shipped: SHIPPED } }
fields:
  id: string($.id)
  status: lookup("status", $.status)
  total:
    expr: number(replace(string($.total), ",", "."))
    required: true
    min: 0
"#;

const INPUT: &str = r#"{"id": 1, "status": "open", "total": "10.00"}
{"id": 2, "status": "shipped", "total": "5"}
{"id": 3, "status": "paid", "total": "12,50"}
{"id": 4, "status": "paid", "total": "1"}
"#;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

fn mapwright(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapwright")).args(args).env("NO_COLOR", "1").output().unwrap()
}

fn p(s: &str) -> &Path {
    Path::new(s)
}

fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|l| Value::from_json(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// The summary line (`N mapped, N filtered, N failed, N duplicates …`)
/// without its timing.
fn summary(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().rev().find(|l| l.contains(" mapped, ")).unwrap_or_else(|| panic!("no summary in {text}"));
    line.rsplit_once(" in ").map_or(line, |(s, _)| s).to_string()
}

/// Maps INPUT with the broken mapping; returns the directory with
/// `dl1.jsonl` holding the failed records.
fn broken_run(input: &str) -> (Dir, Output) {
    let dir = Dir::new();
    let m = dir.write("orders.yaml", BROKEN);
    let i = dir.write("in.jsonl", input);
    let out = mapwright(&[
        p("map"),
        p("-m"),
        &m,
        &i,
        p("-o"),
        &dir.path("out1.jsonl"),
        p("--dead-letter"),
        &dir.path("dl1.jsonl"),
    ]);
    (dir, out)
}

#[test]
fn fix_the_mapping_replay_the_dead_letter_and_it_empties() {
    let (dir, first) = broken_run(INPUT);
    assert_eq!(first.status.code(), Some(2), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(summary(&first.stderr), "2 mapped, 0 filtered, 2 failed, 0 duplicates");
    let dl1 = lines(&dir.read("dl1.jsonl"));
    assert_eq!(dl1.len(), 2);
    // Dead-letter lines: {key, mapping, version, at, errors, input}.
    for line in &dl1 {
        let keys: Vec<String> = line.as_object().unwrap().keys().map(ToString::to_string).collect();
        assert_eq!(keys, ["key", "mapping", "version", "at", "errors", "input"]);
        assert_eq!(line.get("version").unwrap().to_json(), "1");
        let error_keys: Vec<String> = line.get("errors").unwrap().as_array().unwrap()[0]
            .as_object()
            .unwrap()
            .keys()
            .map(ToString::to_string)
            .collect();
        assert_eq!(error_keys, ["field", "expr", "message", "value"]);
    }
    assert_eq!(dl1[0].get("key").unwrap().to_json(), "2");
    assert!(dl1[0].to_json().contains(r#"key \"shipped\" is not in strict lookup table \"status\""#));
    assert_eq!(dl1[1].get("key").unwrap().to_json(), "3");
    assert!(dl1[1].to_json().contains(r#"cannot read string \"12,50\" as a number"#));

    // Replaying with the broken mapping changes nothing: the same records fail.
    let same = mapwright(&[
        p("replay"),
        &dir.path("dl1.jsonl"),
        p("-m"),
        &dir.path("orders.yaml"),
        p("-o"),
        &dir.path("out_same.jsonl"),
        p("--dead-letter"),
        &dir.path("dl_same.jsonl"),
    ]);
    assert_eq!(same.status.code(), Some(2));
    assert_eq!(summary(&same.stderr), "0 mapped, 0 filtered, 2 failed, 0 duplicates");
    let dl_same = lines(&dir.read("dl_same.jsonl"));
    assert_eq!(dl_same.len(), 2);
    // The input is carried over unchanged, so the loop can go round again.
    for (a, b) in dl1.iter().zip(&dl_same) {
        assert_eq!(a.get("input"), b.get("input"));
        assert_eq!(a.get("errors"), b.get("errors"));
    }

    // Fix the mapping and replay: every record maps, the new dead letter is empty.
    let fixed = dir.write("orders_fixed.yaml", FIXED);
    let replay = mapwright(&[
        p("replay"),
        &dir.path("dl1.jsonl"),
        p("-m"),
        &fixed,
        p("-o"),
        &dir.path("out2.jsonl"),
        p("--dead-letter"),
        &dir.path("dl2.jsonl"),
    ]);
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert_eq!(replay.status.code(), Some(0), "{stderr}");
    assert_eq!(summary(&replay.stderr), "2 mapped, 0 filtered, 0 failed, 0 duplicates");
    assert_eq!(dir.read("dl2.jsonl"), "", "the new dead letter is empty");
    assert_eq!(
        dir.read("out2.jsonl"),
        "{\"id\":\"2\",\"status\":\"SHIPPED\",\"total\":5}\n{\"id\":\"3\",\"status\":\"PAID\",\"total\":12.5}\n"
    );
    // Nothing is written to stdout when -o is given.
    assert!(replay.stdout.is_empty());
}

#[test]
fn replay_writes_to_stdout_without_o() {
    let (dir, _) = broken_run(INPUT);
    let fixed = dir.write("orders_fixed.yaml", FIXED);
    let out = mapwright(&[p("replay"), &dir.path("dl1.jsonl"), p("-m"), &fixed]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines(&String::from_utf8_lossy(&out.stdout)).len(), 2);
}

#[test]
fn an_unreadable_line_that_still_is_not_json_goes_to_the_new_dead_letter() {
    let input = format!("{INPUT}{{\"id\": 5, \"status\": \"open\", \"total\": \n");
    let (dir, first) = broken_run(&input);
    assert_eq!(first.status.code(), Some(2));
    assert_eq!(summary(&first.stderr), "2 mapped, 0 filtered, 3 failed, 0 duplicates");
    let dl1 = lines(&dir.read("dl1.jsonl"));
    assert_eq!(dl1.len(), 3);
    // The unreadable line keeps its raw text as the input.
    let raw = &dl1[2];
    assert_eq!(raw.get("key"), Some(&Value::Null));
    assert_eq!(raw.get("input"), Some(&Value::str(r#"{"id": 5, "status": "open", "total": "#)));

    let fixed = dir.write("orders_fixed.yaml", FIXED);
    let replay = mapwright(&[
        p("replay"),
        &dir.path("dl1.jsonl"),
        p("-m"),
        &fixed,
        p("-o"),
        &dir.path("out2.jsonl"),
        p("--dead-letter"),
        &dir.path("dl2.jsonl"),
    ]);
    assert_eq!(replay.status.code(), Some(2), "{}", String::from_utf8_lossy(&replay.stderr));
    assert_eq!(summary(&replay.stderr), "2 mapped, 0 filtered, 1 failed, 0 duplicates");
    assert_eq!(lines(&dir.read("out2.jsonl")).len(), 2);
    let dl2 = lines(&dir.read("dl2.jsonl"));
    assert_eq!(dl2.len(), 1);
    let line = &dl2[0];
    assert_eq!(line.get("input"), raw.get("input"), "the raw text is kept for the next round");
    assert_eq!(line.get("version").unwrap().to_json(), "2", "the new dead letter names the mapping that replayed it");
    let message = line.get("errors").unwrap().as_array().unwrap()[0].get("message").unwrap().to_json();
    assert!(message.contains("dl1.jsonl:3: the input is still not JSON"), "{message}");

    // Fixing the data in the dead letter itself works too: complete the
    // raw text and replay the new dead letter.
    let mended = dir.read("dl2.jsonl").replace(r#""total\": ""#, r#""total\": \"7\"}""#);
    assert_ne!(mended, dir.read("dl2.jsonl"), "the edit must apply");
    let mended = dir.write("dl2_mended.jsonl", &mended);
    let again = mapwright(&[
        p("replay"),
        &mended,
        p("-m"),
        &fixed,
        p("-o"),
        &dir.path("out3.jsonl"),
        p("--dead-letter"),
        &dir.path("dl3.jsonl"),
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!(dir.read("out3.jsonl"), "{\"id\":\"5\",\"status\":\"OPEN\",\"total\":7}\n");
    assert_eq!(dir.read("dl3.jsonl"), "");
}

#[test]
fn records_the_fixed_mapping_filters_are_counted_as_filtered() {
    let (dir, _) = broken_run(INPUT);
    let fixed = dir.write("orders_filter.yaml", &format!("{FIXED}filter: $.status != \"shipped\"\n"));
    let out = mapwright(&[
        p("replay"),
        &dir.path("dl1.jsonl"),
        p("-m"),
        &fixed,
        p("-o"),
        &dir.path("out2.jsonl"),
        p("--dead-letter"),
        &dir.path("dl2.jsonl"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&out.stderr), "1 mapped, 1 filtered, 0 failed, 0 duplicates");
}

#[test]
fn replay_refuses_to_overwrite_its_input_and_lines_that_are_not_dead_letters() {
    let (dir, _) = broken_run(INPUT);
    let fixed = dir.write("orders_fixed.yaml", FIXED);
    let dl1 = dir.path("dl1.jsonl");
    let before = dir.read("dl1.jsonl");
    let out = mapwright(&[p("replay"), &dl1, p("-m"), &fixed, p("--dead-letter"), &dl1]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dead-letter must not be the file being replayed"));
    assert_eq!(dir.read("dl1.jsonl"), before, "the dead letter is untouched");

    let not_dl = dir.write("records.jsonl", "{\"id\": 1}\n");
    let out = mapwright(&[p("replay"), &not_dl, p("-m"), &fixed]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("records.jsonl:1: not a dead-letter line"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A mapping that does not load: exit 1 with its diagnostics.
    let bad = dir.write("bad.yaml", "mapping: bad\nfields:\n  x: nosuch($.x)\n");
    let out = mapwright(&[p("replay"), &dl1, p("-m"), &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown function `nosuch`"));
}

#[test]
fn the_project_mappings_round_trip_through_replay() {
    // The Shopify fixtures that fail go to a dead letter; replaying them
    // with the same mapping fails them again with the same reasons.
    let dir = Dir::new();
    let fixtures = Path::new("mappings/shopify/fixtures");
    let mut batch = String::new();
    for name in ["unknown_sku.json", "bad_postcode_gb.json", "order.json"] {
        let v = Value::from_json(&std::fs::read_to_string(fixtures.join(name)).unwrap()).unwrap();
        batch.push_str(&v.to_json());
        batch.push('\n');
    }
    let input = dir.write("orders.jsonl", &batch);
    let mapping = Path::new("mappings/shopify/order_to_canonical.yaml");
    let first = mapwright(&[
        p("map"),
        p("-m"),
        mapping,
        &input,
        p("-o"),
        &dir.path("out.jsonl"),
        p("--dead-letter"),
        &dir.path("dl.jsonl"),
    ]);
    assert_eq!(first.status.code(), Some(2), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(summary(&first.stderr), "1 mapped, 0 filtered, 2 failed, 0 duplicates");
    let again =
        mapwright(&[p("replay"), &dir.path("dl.jsonl"), p("-m"), mapping, p("--dead-letter"), &dir.path("dl2.jsonl")]);
    assert_eq!(again.status.code(), Some(2));
    let strip = |text: String| -> Vec<String> {
        lines(&text)
            .iter()
            .map(|l| format!("{} {}", l.get("key").unwrap().to_json(), l.get("errors").unwrap().to_json()))
            .collect()
    };
    assert_eq!(strip(dir.read("dl.jsonl")), strip(dir.read("dl2.jsonl")));
}
