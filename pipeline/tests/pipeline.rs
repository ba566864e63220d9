//! The pipeline through its public API only, as an embedder runs it:
//! `Pipeline::load` makes the start-up checks, `run` goes on until the
//! input ends or the `Stop` fires, and the `Summary` adds up.

use std::path::Path;
use std::time::Duration;

use mapwright_pipeline::{Options, Pipeline, Stop};

const MAPPING: &str = "mapping: orders\nkey: $.id\nfields:\n  id: $.id\n  total: { expr: number($.total), min: 0 }\n";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_pipeline_runs_to_the_end_and_a_second_run_delivers_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.yaml", MAPPING);
    write(
        dir.path(),
        "in.jsonl",
        "{\"id\": 1, \"total\": \"19.90\"}\n{\"id\": 2, \"total\": \"-1\"}\n{\"id\": 3, \"total\": \"5\"}\n",
    );
    write(
        dir.path(),
        "p.yaml",
        "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\nsink: { kind: file, path: out/orders.jsonl }\ndead_letter: { kind: file, path: out/dead.jsonl }\n",
    );
    let path = dir.path().join("p.yaml");
    for (run, delivered, duplicates) in [(1, 2, 0), (2, 0, 3)] {
        let pipeline = Pipeline::load(&path, &Options::default()).await.unwrap();
        let (_handle, stop) = Stop::new();
        let summary = pipeline.run(stop).await.unwrap();
        assert_eq!(
            (summary.records_in, summary.delivered, summary.duplicates),
            (3, delivered, duplicates),
            "run {run}: {}",
            summary.line()
        );
    }
    assert_eq!(lines(&dir.path().join("out/orders.jsonl")), ["{\"id\":1,\"total\":19.9}", "{\"id\":3,\"total\":5}"]);
    assert_eq!(lines(&dir.path().join("out/dead.jsonl")).len(), 1, "the negative total, once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_pipeline_runs_until_stopped_and_keeps_what_it_accepted() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.yaml", MAPPING);
    write(
        dir.path(),
        "p.yaml",
        "pipeline: hooks\nmapping: m.yaml\nsource: { kind: http, listen: 127.0.0.1:0, path: /orders }\nsink: { kind: file, path: out/orders.jsonl }\n",
    );
    let pipeline = Pipeline::load(&dir.path().join("p.yaml"), &Options::default()).await.unwrap();
    let url = format!("http://{}/orders", pipeline.http_addr().unwrap());
    let (handle, stop) = Stop::new();
    let running = tokio::spawn(pipeline.run(stop));
    let client = reqwest::Client::new();
    for body in [r#"{"id": 1, "total": "2"}"#, r#"[{"id": 2, "total": "3"}, {"id": 3, "total": "4"}]"#] {
        let answer = client.post(&url).body(body).send().await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(client.post(&url).body("{oops").send().await.unwrap().status(), 400, "refused before it is stored");
    let out = dir.path().join("out/orders.jsonl");
    let started = std::time::Instant::now();
    while lines(&out).len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(20), "delivered: {:?}", lines(&out));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    handle.stop();
    let summary = tokio::time::timeout(Duration::from_secs(20), running).await.unwrap().unwrap().unwrap();
    assert_eq!((summary.records_in, summary.delivered, summary.failed), (3, 3, 0), "{}", summary.line());
}

#[tokio::test]
async fn start_up_problems_are_located_in_the_pipeline_file_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m.yaml", MAPPING);
    write(
        dir.path(),
        "p.yaml",
        "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: missing.jsonl }\nsink: { kind: file, path: out/o.jsonl }\n",
    );
    let err = Pipeline::load(&dir.path().join("p.yaml"), &Options::default()).await.err().unwrap();
    let d = &err.diagnostics()[0];
    assert_eq!((d.line, d.code), (3, "E0206"), "{d}");
    assert!(!dir.path().join("out").exists(), "a pipeline that cannot start leaves nothing behind");
    assert!(Pipeline::check(&dir.path().join("p.yaml")).is_ok(), "`check` does not touch the world");
}
