//! The `mapwright` binary end to end (README "Command line"): exit codes, the summary
//! line, dead letters, input formats, duplicates and determinism. Every
//! test works in its own temporary directory.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory with files and a way to run the binary in it.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.path(name), text).expect("write fixture");
        self
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    fn exists(&self, name: &str) -> bool {
        self.path(name).exists()
    }

    /// Runs `mapwright ARGS` in the sandbox, feeding `stdin`.
    fn run(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mapwright"))
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mapwright");
        let mut input = child.stdin.take().unwrap();
        let text = stdin.to_string();
        // Write from a thread so a large input cannot deadlock with output.
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(text.as_bytes());
        });
        let output = child.wait_with_output().expect("wait for mapwright");
        writer.join().unwrap();
        Run::from(output)
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().expect("exit code"),
            stdout: String::from_utf8(o.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(o.stderr).expect("stderr is UTF-8"),
        }
    }
}

impl Run {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// The `N mapped, N filtered, N failed, N duplicates` counts.
    fn summary(&self) -> (u64, u64, u64, u64) {
        let line = self
            .stderr
            .lines()
            .find(|l| l.contains(" mapped, "))
            .unwrap_or_else(|| panic!("no summary line in stderr:\n{}", self.stderr));
        let nums: Vec<u64> =
            line.split(", ").take(4).map(|part| part.split_whitespace().next().unwrap().parse().unwrap()).collect();
        let words: Vec<&str> = line.split(", ").take(4).map(|p| p.split_whitespace().nth(1).unwrap()).collect();
        assert_eq!(words, ["mapped", "filtered", "failed", "duplicates"], "summary line: {line}");
        (nums[0], nums[1], nums[2], nums[3])
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

fn keys(v: &serde_json::Value) -> BTreeSet<&str> {
    v.as_object().expect("an object").keys().map(String::as_str).collect()
}

const ORDERS: &str = r#"mapping: orders
version: 3
key: $.id
filter: not $.test
fields:
  order_id: '"SO-" + string($.id)'
  sku: $.sku | upper
  total: $.price * $.qty
"#;

// ---------------------------------------------------------------- check

#[test]
fn check_accepts_a_valid_mapping() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let r = s.run(&["check", "orders.yaml"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("orders.yaml"), "{r:?}");
}

#[test]
fn check_names_file_line_and_column_of_each_problem() {
    let s = Sandbox::new();
    s.write(
        "bad.yaml",
        "mapping: bad\nfields:\n  id: $.id\n  sku: uper($.sku)\n  qty:\n    expr: $.qty\n    type: intger\n",
    );
    let r = s.run(&["check", "bad.yaml"], "");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("bad.yaml:4:8"), "unknown function at line 4, column 8: {r:?}");
    assert!(r.stderr.contains("bad.yaml:7:11"), "unknown type at line 7, column 11: {r:?}");
    assert!(r.stderr.contains("upper"), "nearest name: {r:?}");
    assert!(r.stderr.contains("integer"), "nearest type: {r:?}");
}

#[test]
fn check_reports_every_file_and_fails_if_any_is_bad() {
    let s = Sandbox::new();
    s.write("good.yaml", ORDERS);
    s.write("bad.yaml", "mapping: bad\nfield:\n  id: $.id\n");
    let r = s.run(&["check", "good.yaml", "bad.yaml"], "");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("good.yaml"), "{r:?}");
    assert!(r.stderr.contains("bad.yaml:2:1"), "{r:?}");
}

#[test]
fn check_of_a_missing_file_is_an_error() {
    let s = Sandbox::new();
    let r = s.run(&["check", "nowhere.yaml"], "");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("nowhere.yaml"), "{r:?}");
}

// ---------------------------------------------------------------- map

#[test]
fn map_writes_json_lines_and_a_summary() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS).write(
        "in.jsonl",
        "{\"id\": 1, \"sku\": \"ab\", \"price\": 19.99, \"qty\": 3}\n\n{\"id\": 2, \"test\": true}\n{\"id\": 3, \"sku\": \"c\", \"price\": 0.1, \"qty\": 2}\n",
    );
    let r = s.run(&["map", "-m", "orders.yaml", "in.jsonl"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [r#"{"order_id":"SO-1","sku":"AB","total":59.97}"#, r#"{"order_id":"SO-3","sku":"C","total":0.2}"#]
    );
    assert_eq!(r.summary(), (2, 1, 0, 0));
}

#[test]
fn map_output_keys_follow_the_mapping_order() {
    let s = Sandbox::new();
    s.write("m.yaml", "mapping: order\nfields:\n  zeta: $.a\n  alpha: $.b\n  mid.z: $.a\n  mid.a: $.b\n  beta: $.a\n");
    let r = s.run(&["map", "-m", "m.yaml"], "{\"b\": 2, \"a\": 1}\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "{\"zeta\":1,\"alpha\":2,\"mid\":{\"z\":1,\"a\":2},\"beta\":1}\n");
}

#[test]
fn map_failed_record_exits_2_and_goes_to_the_dead_letter() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS).write(
        "in.jsonl",
        "{\"id\": 1, \"sku\": \"ab\", \"price\": 1, \"qty\": 3}\n{\"id\": 2, \"sku\": 5, \"price\": \"x\", \"qty\": 1}\n{\"id\": 3, \"sku\": \"c\", \"price\": 2, \"qty\": 2}\n",
    );
    let r = s.run(&["map", "-m", "orders.yaml", "in.jsonl", "--dead-letter", "dead.jsonl"], "");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.summary(), (2, 0, 1, 0));
    assert_eq!(r.lines().len(), 2, "the other records still map: {r:?}");

    let dead = s.read("dead.jsonl");
    let lines: Vec<&str> = dead.lines().collect();
    assert_eq!(lines.len(), 1, "{dead}");
    let d = json(lines[0]);
    assert_eq!(keys(&d), BTreeSet::from(["key", "mapping", "version", "at", "errors", "input"]), "{d}");
    assert_eq!(d["key"], 2);
    assert_eq!(d["mapping"], "orders");
    assert_eq!(d["version"], 3);
    let at = d["at"].as_str().expect("`at` is a timestamp string");
    assert!(at.ends_with('Z') && at.contains('T') && at.len() >= 20, "RFC 3339 UTC: {at}");
    assert_eq!(d["input"], json(r#"{"id": 2, "sku": 5, "price": "x", "qty": 1}"#));
    let errors = d["errors"].as_array().expect("errors is a list");
    assert_eq!(errors.len(), 2, "every failing field is reported: {d}");
    for e in errors {
        assert_eq!(keys(e), BTreeSet::from(["field", "expr", "message", "value"]), "{e}");
    }
    assert_eq!(errors[0]["field"], "sku");
    assert_eq!(errors[0]["expr"], "$.sku | upper");
    assert_eq!(errors[0]["value"], 5);
    assert_eq!(errors[1]["field"], "total");
    assert_eq!(errors[1]["expr"], "$.price * $.qty");
    assert_eq!(errors[1]["value"], "x");
    assert!(errors[1]["message"].as_str().unwrap().contains("number"), "{e}", e = errors[1]);
}

#[test]
fn map_without_dead_letter_reports_failures_on_stderr() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let r = s.run(&["map", "-m", "orders.yaml"], "{\"id\": 9, \"sku\": [1], \"price\": 1, \"qty\": 1}\n");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("sku"), "the failing field is named: {r:?}");
    assert_eq!(r.summary(), (0, 0, 1, 0));
}

#[test]
fn map_bad_json_line_goes_to_the_dead_letter_and_the_run_goes_on() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS).write(
        "in.jsonl",
        "{\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n{\"id\": 2, \"sku\": oops}\n{\"id\": 3, \"sku\": \"c\", \"price\": 1, \"qty\": 1}\n",
    );
    let r = s.run(&["map", "-m", "orders.yaml", "in.jsonl", "--dead-letter", "dead.jsonl", "-o", "out.jsonl"], "");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.summary(), (2, 0, 1, 0));
    assert_eq!(s.read("out.jsonl").lines().count(), 2);
    let dead = s.read("dead.jsonl");
    let lines: Vec<&str> = dead.lines().collect();
    assert_eq!(lines.len(), 1, "{dead}");
    let d = json(lines[0]);
    assert_eq!(keys(&d), BTreeSet::from(["key", "mapping", "version", "at", "errors", "input"]), "{d}");
    assert_eq!(d["input"], "{\"id\": 2, \"sku\": oops}", "the raw text is kept");
    let message = d["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("in.jsonl:2"), "the place is named: {message}");
}

#[test]
fn map_output_file_takes_the_records() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let r = s.run(
        &["map", "-m", "orders.yaml", "-o", "out.jsonl"],
        "{\"id\": 1, \"sku\": \"a\", \"price\": 2, \"qty\": 2}\n",
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "", "records go to -o, not stdout");
    assert_eq!(s.read("out.jsonl"), "{\"order_id\":\"SO-1\",\"sku\":\"A\",\"total\":4}\n");
    assert_eq!(r.summary(), (1, 0, 0, 0));
}

#[test]
fn map_reads_stdin_as_json_lines() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let input =
        "{\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n{\"id\": 2, \"sku\": \"b\", \"price\": 1, \"qty\": 2}";
    let r = s.run(&["map", "-m", "orders.yaml"], input);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines().len(), 2, "the last line needs no newline: {r:?}");
    assert_eq!(r.summary(), (2, 0, 0, 0));
}

#[test]
fn map_reads_a_json_array_on_stdin() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let input = "  [\n {\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1},\n {\"id\": 2, \"sku\": \"b\", \"price\": 1, \"qty\": 2}\n]\n";
    let r = s.run(&["map", "-m", "orders.yaml"], input);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), [r#"{"order_id":"SO-1","sku":"A","total":1}"#, r#"{"order_id":"SO-2","sku":"B","total":2}"#]);
}

#[test]
fn map_reads_pretty_printed_objects_on_stdin() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let input = "{\n  \"id\": 1,\n  \"sku\": \"a\",\n  \"price\": 1,\n  \"qty\": 1\n}\n{\n  \"id\": 2,\n  \"sku\": \"b\",\n  \"price\": 2,\n  \"qty\": 1\n}\n";
    let r = s.run(&["map", "-m", "orders.yaml"], input);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), [r#"{"order_id":"SO-1","sku":"A","total":1}"#, r#"{"order_id":"SO-2","sku":"B","total":2}"#]);
}

#[test]
fn map_reads_csv_values_as_text() {
    let s = Sandbox::new();
    s.write(
        "m.yaml",
        "mapping: csv\nfields:\n  id: $.id\n  id_type: type_of($.id)\n  qty: number($.qty)\n  name: $.name\n",
    )
    .write("in.csv", "id,qty,name\n007,3,\"Lee, Ann\"\n8,1.50,Bo\n");
    let r = s.run(&["map", "-m", "m.yaml", "in.csv"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            r#"{"id":"007","id_type":"string","qty":3,"name":"Lee, Ann"}"#,
            r#"{"id":"8","id_type":"string","qty":1.5,"name":"Bo"}"#
        ]
    );
}

#[test]
fn map_reads_yaml_and_json_files() {
    let s = Sandbox::new();
    s.write("m.yaml", "mapping: files\nfields:\n  id: $.id\n  price: $.price\n")
        .write("in.yaml", "- id: 1\n  price: 19.90\n- id: 2\n  price: 12345678901234567890\n")
        .write("array.json", "[{\"id\": 3, \"price\": 0.10}, {\"id\": 4}]")
        .write("one.json", "{\"id\": 5, \"price\": 1e2}");
    let r = s.run(&["map", "-m", "m.yaml", "in.yaml", "array.json", "one.json"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            r#"{"id":1,"price":19.9}"#,
            r#"{"id":2,"price":12345678901234567890}"#,
            r#"{"id":3,"price":0.1}"#,
            r#"{"id":4,"price":null}"#,
            r#"{"id":5,"price":100}"#
        ]
    );
    assert_eq!(r.summary(), (5, 0, 0, 0));
}

#[test]
fn map_counts_duplicates_and_emits_them_once() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let a = "{\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n";
    let changed = "{\"id\": 1, \"sku\": \"a\", \"price\": 2, \"qty\": 1}\n";
    let other = "{\"id\": 2, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n";
    let r = s.run(&["map", "-m", "orders.yaml"], &[a, a, other, a, changed].concat());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        r.lines(),
        [
            r#"{"order_id":"SO-1","sku":"A","total":1}"#,
            r#"{"order_id":"SO-2","sku":"A","total":1}"#,
            r#"{"order_id":"SO-1","sku":"A","total":2}"#
        ],
        "same key and output is emitted once; a changed output is emitted again"
    );
    assert_eq!(r.summary(), (3, 0, 0, 2));
}

#[test]
fn map_missing_input_file_exits_1_and_writes_nothing() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS).write("in.jsonl", "{\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n");
    let r = s.run(
        &["map", "-m", "orders.yaml", "in.jsonl", "missing.jsonl", "-o", "out.jsonl", "--dead-letter", "dead.jsonl"],
        "",
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("missing.jsonl"), "{r:?}");
    assert!(!s.exists("out.jsonl"), "no output is written for an invalid command line");
    assert!(!s.exists("dead.jsonl"));
}

#[test]
fn map_with_a_broken_mapping_exits_1_and_writes_nothing() {
    let s = Sandbox::new();
    s.write("broken.yaml", "mapping: broken\nfields:\n  id: $.id +\n").write("in.jsonl", "{\"id\": 1}\n");
    let r = s.run(&["map", "-m", "broken.yaml", "in.jsonl", "-o", "out.jsonl"], "");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("broken.yaml:3:"), "the problem is located: {r:?}");
    assert!(!s.exists("out.jsonl"));
    assert_eq!(r.stdout, "");
}

#[test]
fn map_with_a_missing_mapping_exits_1() {
    let s = Sandbox::new();
    let r = s.run(&["map", "-m", "nowhere.yaml"], "{}\n");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("nowhere.yaml"), "{r:?}");
}

#[test]
fn map_rejects_an_unknown_input_extension() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS).write("in.txt", "{}\n");
    let r = s.run(&["map", "-m", "orders.yaml", "in.txt"], "");
    assert_eq!(r.code, 1, "{r:?}");
    let r = s.run(&["map", "-m", "orders.yaml", "--format", "jsonl", "in.txt"], "");
    assert_eq!(r.code, 0, "--format overrides the extension: {r:?}");
}

#[test]
fn map_output_is_byte_identical_across_runs() {
    let s = Sandbox::new();
    s.write(
        "m.yaml",
        "mapping: det\nkey: $.id\nfields:\n  id: $.id\n  tags: distinct($.tags)\n  obj: $.obj\n  money: $.price * 3\n  at: timestamp($.at)\n  keys: keys($.obj)\n",
    );
    let mut input = String::new();
    for i in 0..200 {
        input.push_str(&format!(
            "{{\"id\": {i}, \"tags\": [\"b\", \"a\", \"b\"], \"obj\": {{\"z\": {i}, \"a\": 1.10, \"m\": null}}, \"price\": 19.99, \"at\": \"2026-03-01T10:15:00-05:00\"}}\n"
        ));
    }
    s.write("in.jsonl", &input);
    let first = s.run(&["map", "-m", "m.yaml", "in.jsonl", "-o", "a.jsonl"], "");
    let second = s.run(&["map", "-m", "m.yaml", "in.jsonl", "-o", "b.jsonl"], "");
    assert_eq!((first.code, second.code), (0, 0), "{first:?}{second:?}");
    let (a, b) = (std::fs::read(s.path("a.jsonl")).unwrap(), std::fs::read(s.path("b.jsonl")).unwrap());
    assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 200);
    assert!(a == b, "two runs differ");
    let first_line = String::from_utf8(a).unwrap().lines().next().unwrap().to_string();
    assert_eq!(
        first_line,
        r#"{"id":0,"tags":["b","a"],"obj":{"z":0,"a":1.1,"m":null},"money":59.97,"at":"2026-03-01T15:15:00Z","keys":["z","a","m"]}"#
    );
}

#[test]
fn map_lookup_files_resolve_relative_to_the_mapping() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("maps/lookups")).unwrap();
    s.write("maps/lookups/wh.csv", "id,code\n101,NYC\n")
        .write("maps/m.yaml", "mapping: wh\nlookups:\n  wh: { file: lookups/wh.csv, key: id, value: code }\nfields:\n  wh: lookup(\"wh\", $.loc)\n");
    let r = s.run(&["map", "-m", "maps/m.yaml"], "{\"loc\": 101}\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "{\"wh\":\"NYC\"}\n");
}

#[test]
fn map_bad_csv_row_goes_to_the_dead_letter_and_the_run_goes_on() {
    let s = Sandbox::new();
    s.write("m.yaml", "mapping: csv\nkey: $.id\nfields:\n  id: $.id\n").write("in.csv", "id,x\n1,2\n3\n4,5\n");
    let r = s.run(&["map", "-m", "m.yaml", "in.csv", "--dead-letter", "dead.jsonl"], "");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.lines(), [r#"{"id":"1"}"#, r#"{"id":"4"}"#]);
    assert_eq!(r.summary(), (2, 0, 1, 0));
    let dead = s.read("dead.jsonl");
    let d = json(dead.lines().next().unwrap());
    assert_eq!(d["input"], "3");
    assert!(d["errors"][0]["message"].as_str().unwrap().contains("in.csv:3"), "{d}");
}

#[test]
fn map_unreadable_json_file_goes_to_the_dead_letter_whole() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS).write("in.json", "[{\"id\": 1},");
    let r = s.run(&["map", "-m", "orders.yaml", "in.json", "--dead-letter", "dead.jsonl"], "");
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.summary(), (0, 0, 1, 0));
    let d = json(s.read("dead.jsonl").lines().next().unwrap());
    assert_eq!(d["input"], "[{\"id\": 1},");
    assert_eq!(d["mapping"], "orders");
}

#[test]
fn map_unfinished_pretty_object_on_stdin_is_a_failed_record() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let input = "{\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n{\n  \"id\": 2,\n  \"sku\": \"b\"\n";
    let r = s.run(&["map", "-m", "orders.yaml", "--dead-letter", "dead.jsonl"], input);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.summary(), (1, 0, 1, 0));
    let d = json(s.read("dead.jsonl").lines().next().unwrap());
    assert_eq!(d["input"], "{\n  \"id\": 2,\n  \"sku\": \"b\"");
}

#[test]
fn map_of_empty_input_maps_nothing_and_succeeds() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let r = s.run(&["map", "-m", "orders.yaml"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "");
    assert_eq!(r.summary(), (0, 0, 0, 0));
}

#[test]
fn map_reports_warnings_but_exits_0() {
    let s = Sandbox::new();
    s.write(
        "m.yaml",
        "mapping: warn\nfields:\n  weight:\n    expr: $.w\n    checks:\n      - max: 30\n        message: heavy parcel\n        severity: warn\n",
    );
    let r = s.run(&["map", "-m", "m.yaml"], "{\"w\": 31}\n{\"w\": 1}\n");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.lines(), [r#"{"weight":31}"#, r#"{"weight":1}"#]);
    assert!(r.stderr.contains("heavy parcel"), "{r:?}");
    assert_eq!(r.summary(), (2, 0, 0, 0));
}

// ---------------------------------------------------------------- threads

/// Input that exercises every path of the readers: mapped, filtered,
/// failing, duplicate and changed records, bad JSON, a line that is not
/// UTF-8, blank and CRLF lines, a record longer than a parallel block
/// (256 KiB) and a last line without a newline.
fn tricky_orders() -> Vec<u8> {
    let mut input = Vec::new();
    for i in 0..3000u32 {
        let line = if i % 19 == 5 {
            format!("{{\"id\": {i}, \"sku\": oops}}")
        } else if i % 13 == 0 && i > 0 {
            // The same record twice: a duplicate.
            let line = format!("{{\"id\": {i}, \"sku\": \"d{i}\", \"price\": 1.10, \"qty\": 3}}");
            format!("{line}\n{line}")
        } else if i % 17 == 0 {
            // An earlier id with other content: not a duplicate.
            format!("{{\"id\": {}, \"sku\": \"changed\", \"price\": 2, \"qty\": 1}}", i / 2)
        } else if i % 11 == 0 {
            format!("{{\"id\": {i}, \"sku\": {i}, \"price\": 1, \"qty\": 1}}")
        } else if i % 7 == 0 {
            format!("{{\"id\": {i}, \"sku\": \"t{i}\", \"price\": 1, \"qty\": 1, \"test\": true}}")
        } else if i == 1500 {
            format!("{{\"id\": {i}, \"sku\": \"{}\", \"price\": 0.5, \"qty\": 2}}", "x".repeat(300_000))
        } else {
            format!("{{\"id\": {i}, \"sku\": \"s{i}\", \"price\": 1.10, \"qty\": 3}}")
        };
        input.extend_from_slice(line.as_bytes());
        match i % 23 {
            0 => input.extend_from_slice(b"\r\n"),
            1 => input.extend_from_slice(b"\n\n   \n"),
            _ => input.push(b'\n'),
        }
        if i == 2000 {
            input.extend_from_slice(b"{\"id\": 99999, \"sku\": \"caf\xe9\"}\n");
        }
    }
    input.extend_from_slice(b"{\"id\": 77777, \"sku\": \"last\", \"price\": 1, \"qty\": 1}");
    input
}

/// Dead-letter lines without their `at` time, which differs between runs.
fn dead_without_time(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| {
            let mut v = json(l);
            v.as_object_mut().expect("an object").remove("at");
            v
        })
        .collect()
}

#[test]
fn map_output_is_the_same_for_any_number_of_threads() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    std::fs::write(s.path("in.jsonl"), tricky_orders()).unwrap();
    let mut runs = Vec::new();
    for threads in ["1", "2", "3", "8"] {
        let out = format!("out{threads}.jsonl");
        let dead = format!("dead{threads}.jsonl");
        let r = s.run(
            &["map", "-m", "orders.yaml", "in.jsonl", "-o", &out, "--dead-letter", &dead, "--threads", threads],
            "",
        );
        assert_eq!(r.code, 2, "threads {threads}: {r:?}");
        runs.push((threads, r.summary(), std::fs::read(s.path(&out)).unwrap(), dead_without_time(&s.read(&dead))));
    }
    let (_, summary, out, dead) = &runs[0];
    let (mapped, filtered, failed, duplicates) = *summary;
    assert!(mapped > 2000 && filtered > 100 && failed > 300 && duplicates > 100, "{summary:?}");
    assert_eq!(out.iter().filter(|&&b| b == b'\n').count() as u64, mapped);
    assert_eq!(dead.len() as u64, failed);
    // The line that is not UTF-8 is one failed record, named by its line.
    let utf8: Vec<_> = dead.iter().filter(|d| d["errors"].to_string().contains("invalid UTF-8")).collect();
    assert_eq!(utf8.len(), 1, "{utf8:?}");
    assert!(utf8[0]["errors"][0]["message"].as_str().unwrap().contains("in.jsonl:"), "{}", utf8[0]);
    // The long record and the last line (no newline) both mapped.
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("\"order_id\":\"SO-1500\""));
    assert!(
        text.ends_with("{\"order_id\":\"SO-77777\",\"sku\":\"LAST\",\"total\":1}\n"),
        "{}",
        &text[text.len() - 200..]
    );
    for (threads, s2, o2, d2) in &runs[1..] {
        assert_eq!(s2, summary, "threads {threads}: summary");
        assert!(o2 == out, "threads {threads}: output differs from one thread's");
        assert_eq!(d2, dead, "threads {threads}: dead letters differ");
    }
}

#[test]
fn map_on_standard_input_keeps_reading_after_a_line_that_is_not_utf8() {
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let mut input = b"{\"id\": 1, \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n".to_vec();
    input.extend_from_slice(b"{\"id\": 2, \"sku\": \"\xff\xfe\"}\n");
    input.extend_from_slice(b"{\"id\": 3, \"sku\": \"c\", \"price\": 1, \"qty\": 1}\n");
    std::fs::write(s.path("in.jsonl"), &input).unwrap();
    let stdin = std::fs::File::open(s.path("in.jsonl")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .args(["map", "-m", "orders.yaml", "--dead-letter", "dead.jsonl"])
        .current_dir(s.dir.path())
        .stdin(stdin)
        .output()
        .expect("run mapwright");
    let r = Run::from(out);
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(r.summary(), (2, 0, 1, 0), "{r:?}");
    let dead = dead_without_time(&s.read("dead.jsonl"));
    let message = dead[0]["errors"][0]["message"].as_str().unwrap();
    assert_eq!(message, "<stdin>:2: invalid UTF-8 at byte 19", "{dead:?}");
    assert_eq!(dead[0]["input"], "{\"id\": 2, \"sku\": \"\u{fffd}\u{fffd}\"}", "the text is kept, lossily");
}

#[test]
fn map_with_threads_stops_when_its_reader_goes_away() {
    // `mapwright map … | head -1`: the output pipe closes early; the run
    // must end (it used to wait forever for a reader thread blocked on a
    // full queue).
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let mut input = String::new();
    for i in 0..200_000 {
        input.push_str(&format!("{{\"id\": {i}, \"sku\": \"s{i}\", \"price\": 1.10, \"qty\": 3}}\n"));
    }
    s.write("in.jsonl", &input);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .args(["map", "-m", "orders.yaml", "in.jsonl", "--threads", "2"])
        .current_dir(s.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mapwright");
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("some output");
    drop(stdout);
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0), "a closed pipe is a normal end");
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("mapwright did not stop after its output pipe closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn map_tells_a_text_key_from_a_number_key_when_detecting_duplicates() {
    // "1" and 1 are two keys: the third record repeats the first one's
    // output for its key, so it is a duplicate even though key 1 came between.
    let s = Sandbox::new();
    s.write("orders.yaml", ORDERS);
    let input = "{\"id\": \"1\", \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n\
                 {\"id\": 1, \"sku\": \"b\", \"price\": 1, \"qty\": 1}\n\
                 {\"id\": \"1\", \"sku\": \"a\", \"price\": 1, \"qty\": 1}\n";
    s.write("in.jsonl", input);
    for threads in ["1", "2"] {
        let r = s.run(&["map", "-m", "orders.yaml", "in.jsonl", "--threads", threads], "");
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(r.summary(), (2, 0, 0, 1), "threads {threads}: {r:?}");
    }
}

#[test]
fn a_runaway_hook_in_the_cli_fails_one_record_and_the_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("engine/tests/hooks/runaway.yaml");
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\": 1}\n{\"id\": 2, \"kind\": \"loop\"}\n{\"id\": 3}\n").unwrap();
    let dead = dir.path().join("dl.jsonl");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .args(["map", "-m"])
        .arg(&mapping)
        .arg(&input)
        .arg("--dead-letter")
        .arg(&dead)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stdout, "{\"id\":1,\"v\":2}\n{\"id\":3,\"v\":6}\n");
    assert!(stderr.contains("2 mapped, 0 filtered, 1 failed"), "{stderr}");
    let dl = std::fs::read_to_string(&dead).unwrap();
    assert_eq!(dl.lines().count(), 1, "{dl}");
    let line = json(dl.lines().next().unwrap());
    assert_eq!(line["key"], serde_json::json!(2));
    assert!(line.to_string().contains("the hook ran too long"), "{dl}");
    assert!(elapsed < Duration::from_secs(if cfg!(debug_assertions) { 15 } else { 3 }), "took {elapsed:?}");
}
