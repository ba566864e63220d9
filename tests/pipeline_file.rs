//! `mapwright run` with file, folder and standard-input endpoints, end to
//! end through the binary: the main example, drop folders, stdin → stdout,
//! CSV and JSON sinks, idempotent re-runs, and start-up errors that point
//! at the pipeline file's line before any record is read.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use std::time::{Duration, Instant};
use support::mapwright;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(pipeline: &Path) -> Output {
    mapwright().arg("run").arg(pipeline).output().expect("run mapwright")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// The summary line (the last line on standard error).
fn summary(o: &Output) -> String {
    stderr(o).lines().last().unwrap_or_default().to_string()
}

const MAPPING: &str =
    "mapping: orders\nkey: $.id\nfields:\n  id: $.id\n  total:\n    expr: $.total | number\n    min: 0\n";

fn sandbox(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.yaml"), MAPPING).unwrap();
    std::fs::write(dir.path().join("p.yaml"), pipeline).unwrap();
    dir
}

#[test]
fn the_main_example_runs_to_completion_and_a_rerun_delivers_nothing_twice() {
    // A copy of the example (the README test runs the original in place),
    // its mapping path made absolute.
    let copy = tempfile::tempdir().unwrap();
    let example = copy.path();
    let original = root().join("examples/orders-file-to-file");
    let text = std::fs::read_to_string(original.join("pipeline.yaml")).unwrap();
    let mapping = root().join("mappings/shopify/order_to_canonical.yaml");
    let text = text.replace("../../mappings/shopify/order_to_canonical.yaml", &mapping.display().to_string());
    std::fs::write(example.join("pipeline.yaml"), text).unwrap();
    std::fs::copy(original.join("orders.jsonl"), example.join("orders.jsonl")).unwrap();
    let first = run(&example.join("pipeline.yaml"));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        summary(&first).starts_with("15 read, 9 delivered, 1 filtered, 5 failed, 0 duplicates skipped"),
        "{}",
        stderr(&first)
    );
    let delivered = lines(&example.join("out/sales_orders.jsonl"));
    let dead = lines(&example.join("out/dead-letter.jsonl"));
    assert_eq!((delivered.len(), dead.len()), (9, 5));

    // The pipeline delivers exactly what `map` prints for the same input.
    let map = mapwright()
        .args(["map", "-m", "mappings/shopify/order_to_canonical.yaml", "examples/orders-file-to-file/orders.jsonl"])
        .current_dir(root())
        .output()
        .unwrap();
    let mapped: Vec<String> = String::from_utf8_lossy(&map.stdout).lines().map(str::to_string).collect();
    assert_eq!(delivered, mapped);
    for line in &dead {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["errors"].as_array().is_some_and(|e| !e.is_empty()) && v["input"].is_object(), "{line}");
        assert_eq!(v["mapping"], "shopify-order-to-canonical");
    }

    let second = run(&example.join("pipeline.yaml"));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        summary(&second).starts_with("15 read, 0 delivered, 1 filtered, 0 failed, 14 duplicates skipped"),
        "{}",
        stderr(&second)
    );
    assert_eq!(lines(&example.join("out/sales_orders.jsonl")), delivered);
    assert_eq!(lines(&example.join("out/dead-letter.jsonl")).len(), 5);
}

#[test]
fn a_changed_record_is_delivered_again_and_unchanged_ones_are_not() {
    let dir = sandbox(
        "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: 'in/*.jsonl' }\nsink: { kind: file, path: out.jsonl }\n",
    );
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(
        dir.path().join("in/a.jsonl"),
        "{\"id\":\"A\",\"total\":\"1.50\"}\n{\"id\":\"B\",\"total\":\"2\"}\n",
    )
    .unwrap();
    let o = run(&dir.path().join("p.yaml"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::write(
        dir.path().join("in/b.jsonl"),
        "{\"id\":\"A\",\"total\":\"1.75\"}\n{\"id\":\"B\",\"total\":\"2.0\"}\n",
    )
    .unwrap();
    let o = run(&dir.path().join("p.yaml"));
    assert!(
        summary(&o).starts_with("4 read, 1 delivered, 0 filtered, 0 failed, 3 duplicates skipped"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        lines(&dir.path().join("out.jsonl")),
        ["{\"id\":\"A\",\"total\":1.5}", "{\"id\":\"B\",\"total\":2}", "{\"id\":\"A\",\"total\":1.75}"]
    );
    // The default state store and dead letter sit next to the pipeline file.
    assert!(dir.path().join("p.state.db").exists());
    assert!(dir.path().join("p.dead-letter.jsonl").exists());
}

#[test]
fn stdin_to_stdout() {
    let dir = sandbox(
        "pipeline: p\nmapping: m.yaml\nsource: { kind: stdin }\nsink: { kind: stdout }\ndead_letter: { kind: file, path: dead.jsonl }\n",
    );
    let mut child = mapwright()
        .arg("run")
        .arg(dir.path().join("p.yaml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"{\"id\":1,\"total\":\"0.10\"}\n{\"id\":2,\"total\":\"-1\"}\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "{\"id\":1,\"total\":0.1}\n");
    let dead = lines(&dir.path().join("dead.jsonl"));
    assert_eq!(dead.len(), 1);
    assert!(dead[0].contains("\"key\":2") && dead[0].contains("at least 0"), "{}", dead[0]);
}

#[test]
fn csv_and_json_sinks() {
    for (name, expected) in [
        ("out.csv", "id,total\nA,1.5\n\"B,2\",20\n"),
        ("out.json", "[\n{\"id\":\"A\",\"total\":1.5},\n{\"id\":\"B,2\",\"total\":20}\n]\n"),
    ] {
        let dir = sandbox(&format!(
            "pipeline: p\nmapping: m.yaml\nsource: {{ kind: file, path: in.json }}\nsink: {{ kind: file, path: {name} }}\n"
        ));
        std::fs::write(dir.path().join("in.json"), r#"[{"id":"A","total":"1.50"},{"id":"B,2","total":20}]"#).unwrap();
        let o = run(&dir.path().join("p.yaml"));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(dir.path().join(name)).unwrap(), expected);
    }
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(mut child: Running) -> Output {
    let pid = child.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let c = std::mem::replace(&mut child.0, Command::new("true").spawn().unwrap());
    std::mem::forget(child);
    c.wait_with_output().unwrap()
}

#[test]
fn a_drop_folder_takes_whole_files_once_and_moves_them() {
    let dir = sandbox(
        "pipeline: p\nmapping: m.yaml\nsource: { kind: dir, path: inbox, poll: 100ms, settle: 800ms }\nsink: { kind: file, path: out.jsonl }\ndead_letter: { kind: file, path: dead.jsonl }\n",
    );
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let child = Running(
        mapwright()
            .arg("run")
            .arg(dir.path().join("p.yaml"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Written elsewhere and renamed in: complete at once.
    std::fs::write(dir.path().join("a.tmp"), "{\"id\":\"A\",\"total\":\"1\"}\n{\"id\":\"B\",\"total\":\"2\"}\n")
        .unwrap();
    std::fs::rename(dir.path().join("a.tmp"), inbox.join("a.jsonl")).unwrap();
    // A file with a failing record goes to failed/.
    std::fs::write(inbox.join("b.json"), r#"[{"id":"C","total":"-3"},{"id":"D","total":"4"}]"#).unwrap();
    wait_for("a.jsonl in done/", Duration::from_secs(30), || inbox.join("done/a.jsonl").exists());
    // A file written slowly, in two parts with a pause shorter than
    // `settle`: never read half-written.
    let mut slow = std::fs::File::create(inbox.join("c.jsonl")).unwrap();
    slow.write_all(b"{\"id\":\"E\",\"tot").unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    slow.write_all(b"al\":\"5\"}\n").unwrap();
    drop(slow);
    wait_for("c.jsonl in done/", Duration::from_secs(30), || inbox.join("done/c.jsonl").exists());
    wait_for("b.json in failed/", Duration::from_secs(30), || inbox.join("failed/b.json").exists());
    let o = terminate(child);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut out = lines(&dir.path().join("out.jsonl"));
    out.sort();
    assert_eq!(
        out,
        [
            "{\"id\":\"A\",\"total\":1}",
            "{\"id\":\"B\",\"total\":2}",
            "{\"id\":\"D\",\"total\":4}",
            "{\"id\":\"E\",\"total\":5}"
        ]
    );
    let dead = lines(&dir.path().join("dead.jsonl"));
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0].contains("\"key\":\"C\""), "{}", dead[0]);
    assert!(summary(&o).starts_with("5 read, 4 delivered, 0 filtered, 1 failed"), "{}", stderr(&o));
}

/// Start-up errors: exit 1, the pipeline file's place and a hint, and no
/// output written.
#[test]
fn start_up_problems_point_at_the_pipeline_file() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cases: Vec<(String, &[&str])> = vec![
        (
            "pipeline: p\nmapping: m.yaml\nsource: { kind: fil, path: in.jsonl }\nsink: { kind: file, path: out.jsonl }\n".into(),
            &["p.yaml:3:17", "unknown source kind `fil`", "did you mean `file`?"],
        ),
        (
            "pipeline: p\nmapping: m.yaml\nsource: { kind: file }\nsink: { kind: file, path: out.jsonl }\n".into(),
            &["p.yaml:3:9", "`path:` is missing"],
        ),
        (
            "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink:\n  kind: http\n  url: \"${MAPWRIGHT_TEST_UNSET}/x\"\n".into(),
            &["p.yaml:6:8", "environment variable `MAPWRIGHT_TEST_UNSET` is not set", "export MAPWRIGHT_TEST_UNSET="],
        ),
        (
            "pipeline: p\nmapping: nope.yaml\nsource: { kind: file, path: in.jsonl }\nsink: { kind: file, path: out.jsonl }\n".into(),
            &["p.yaml:2:10", "cannot read the mapping", "relative to the pipeline file"],
        ),
        (
            "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: missing.jsonl }\nsink: { kind: file, path: out.jsonl }\n".into(),
            &["p.yaml:3:29", "no such file"],
        ),
        (
            format!("pipeline: p\nmapping: m.yaml\nsource: {{ kind: file, path: in.jsonl }}\nsink: {{ kind: file, path: out.jsonl }}\nmetrics: {{ listen: 127.0.0.1:{port} }}\n"),
            &["p.yaml:5:20", "cannot listen on", "another program listens there"],
        ),
        (
            "pipeline: p\nmapping: m.yaml\nsource: { kind: nats }\nsink: { kind: file, path: out.jsonl }\n".into(),
            &["p.yaml:3:9", "`url:` is missing", "`subject:` is missing"],
        ),
        (
            "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink: { kind: file, path: out.jsonl }\ndead_letter: { kind: http, url: http://x }\n".into(),
            &["p.yaml:5:22", "`dead_letter:` cannot be `kind: http`"],
        ),
    ];
    for (pipeline, needles) in cases {
        let dir = sandbox(&pipeline);
        std::fs::write(dir.path().join("in.jsonl"), "{\"id\":1,\"total\":1}\n").unwrap();
        let o = run(&dir.path().join("p.yaml"));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{pipeline}\n{err}");
        for n in needles {
            assert!(err.contains(n), "missing {n:?} for\n{pipeline}\nin\n{err}");
        }
        assert!(!dir.path().join("out.jsonl").exists(), "records were written despite\n{err}");
        assert!(!dir.path().join("p.state.db").exists(), "a state store was created despite\n{err}");
    }
    drop(taken);
}

/// A mapping with problems stops the pipeline with the mapping's own diagnostics.
#[test]
fn a_broken_mapping_stops_the_start() {
    let dir = sandbox(
        "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink: { kind: file, path: out.jsonl }\n",
    );
    std::fs::write(dir.path().join("m.yaml"), "mapping: m\nfields:\n  a: $.a | uper\n").unwrap();
    std::fs::write(dir.path().join("in.jsonl"), "{}\n").unwrap();
    let o = run(&dir.path().join("p.yaml"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("m.yaml:3:12") && stderr(&o).contains("did you mean `upper`?"), "{}", stderr(&o));
    let check = mapwright().arg("check").arg(dir.path().join("p.yaml")).output().unwrap();
    assert_eq!(check.status.code(), Some(1));
    assert!(stderr(&check).contains("m.yaml:3:12"), "{}", stderr(&check));
}

#[test]
fn json_logs_and_no_secret_anywhere() {
    let dir = sandbox(
        "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink:\n  kind: http\n  url: \"http://user:${PW}@127.0.0.1:9/orders?token=${PW}\"\n  headers: { Authorization: \"token ${TOKEN}\" }\n  retry: { attempts: 2, backoff: 1ms, max_backoff: 2ms }\n  timeout: 500ms\ndead_letter: { kind: file, path: dead.jsonl }\nmetrics: { listen: 127.0.0.1:0 }\n",
    );
    std::fs::write(dir.path().join("in.jsonl"), "{\"id\":1,\"total\":2}\n").unwrap();
    let o = mapwright()
        .args(["--log-format", "json", "run"])
        .arg(dir.path().join("p.yaml"))
        .env("PW", "hunter2-secret")
        .env("TOKEN", "tok-XYZ-secret")
        .env("RUST_LOG", "debug")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let dead = std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap();
    assert!(dead.contains("could not be reached"), "{dead}");
    for text in [&err, &dead] {
        assert!(!text.contains("hunter2") && !text.contains("tok-XYZ"), "a secret leaked:\n{text}");
    }
    // Every log line but the closing summary is one JSON object.
    let lines: Vec<&str> = err.lines().collect();
    let (summary, logs) = lines.split_last().unwrap();
    assert!(summary.starts_with("1 read, 0 delivered, 0 filtered, 1 failed"), "{summary}");
    assert!(!logs.is_empty());
    for l in logs {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(v["level"].is_string() && v["fields"].is_object(), "{l}");
    }
}
