//! `mapwright run` with an HTTP source (README "Pipeline file reference"), end to end through the
//! binary and real HTTP on loopback: what the webhook endpoint refuses
//! (401, 413, 400) is never stored; a webhook sent twice is delivered once
//! and counted; an HTTP sink's 422 is a dead letter with the status and the
//! answer's start; `/health` and `/metrics` answer while it runs; SIGTERM
//! exits 0 with the summary line; start-up problems exit 1 at the pipeline
//! file's line and column; and the Shopify → ERP example runs as written.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{Engine, Receipt, Receiver, eventually, free_port, healthy, json_lines, metric, metrics, sign};

const MAPPING: &str =
    "mapping: orders\nkey: $.id\nfields:\n  id: $.id\n  total:\n    expr: $.total | number\n    min: 0\n";
const SECRET: &str = "hook-secret";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A temp dir with the mapping and the pipeline file `p.yaml`.
fn sandbox(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.yaml"), MAPPING).unwrap();
    std::fs::write(dir.path().join("p.yaml"), pipeline).unwrap();
    dir
}

/// Starts the pipeline and waits for `/health` on `metrics_addr`.
async fn start(dir: &Path, env: &[(&str, &str)], metrics_addr: &str) -> Engine {
    let engine = Engine::start(&dir.join("p.yaml"), env, &dir.join("engine.log"));
    let client = reqwest::Client::new();
    assert!(
        eventually(Duration::from_secs(30), || healthy(&client, metrics_addr)).await,
        "the pipeline did not start:\n{}",
        engine.stderr()
    );
    engine
}

/// SIGTERM; asserts exit 0 and returns the summary line.
async fn stop(mut engine: Engine) -> String {
    let status = engine.terminate(Duration::from_secs(30)).await;
    let stderr = engine.stderr();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "SIGTERM must exit 0:\n{stderr}");
    let last = stderr.lines().last().unwrap_or_default().to_string();
    assert!(last.contains(" read, ") && last.contains(" duplicates skipped in "), "no summary line:\n{stderr}");
    last
}

async fn post(client: &reqwest::Client, url: &str, body: &str, signature: Option<&str>) -> (u16, String) {
    let mut req = client.post(url).header("Content-Type", "application/json").body(body.to_string());
    if let Some(s) = signature {
        req = req.header("X-Sig", s);
    }
    let r = req.send().await.expect("the endpoint answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

async fn counter(client: &reqwest::Client, addr: &str, name: &str) -> Option<f64> {
    metric(&metrics(client, addr).await?, name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_stores_only_good_webhooks_and_a_repeat_is_delivered_once() {
    let (port, mport) = (free_port(), free_port());
    let maddr = format!("127.0.0.1:{mport}");
    let dir = sandbox(&format!(
        "pipeline: hooks
mapping: m.yaml
source:
  kind: http
  listen: 127.0.0.1:{port}
  path: /hook
  verify: {{ hmac_sha256_header: X-Sig, secret: \"${{HOOK_SECRET}}\" }}
  max_body: 1KiB
sink: {{ kind: file, path: out/orders.jsonl }}
dead_letter: {{ kind: file, path: out/dead.jsonl }}
state: out/state.db
metrics: {{ listen: {maddr} }}
"
    ));
    let engine = start(dir.path(), &[("HOOK_SECRET", SECRET)], &maddr).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/hook");

    let health = client.get(format!("http://{maddr}/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let health: serde_json::Value = serde_json::from_str(&health.text().await.unwrap()).unwrap();
    assert_eq!((health["status"].as_str(), health["pipeline"].as_str()), (Some("ok"), Some("hooks")));
    assert_eq!(health["mapping"], "orders");

    // Refused, cheapest check first; none of these is stored.
    let evil = r#"{"id":"EVIL","total":"1"}"#;
    let (status, body) = post(&client, &url, evil, None).await;
    assert_eq!(status, 401, "no signature: {body}");
    assert!(body.contains("missing signature header X-Sig"), "{body}");
    let (status, body) = post(&client, &url, evil, Some(&sign("another secret", evil.as_bytes()))).await;
    assert_eq!(status, 401, "wrong secret: {body}");
    let (status, _) = post(&client, &url, evil, Some("not base64!")).await;
    assert_eq!(status, 401);
    let big = format!(r#"{{"id":"BIG","total":"1","pad":"{}"}}"#, "x".repeat(2000));
    let (status, body) = post(&client, &url, &big, Some(&sign(SECRET, big.as_bytes()))).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than 1024 bytes"), "{body}");
    for bad in ["{\"id\":\"BAD\",", "[1, 2]", " "] {
        let (status, body) = post(&client, &url, bad, Some(&sign(SECRET, bad.as_bytes()))).await;
        assert_eq!(status, 400, "{bad:?}: {body}");
        assert!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["error"].is_string(), "{body}");
    }
    let wrong_path = client.post(format!("http://127.0.0.1:{port}/other")).body("{}").send().await.unwrap();
    assert_eq!(wrong_path.status(), 404);
    let get = client.get(&url).send().await.unwrap();
    assert_eq!(get.status(), 405);

    // Accepted: one order twice (Shopify retries a webhook whose answer it
    // missed), and a JSON Lines body with two more.
    let a = r#"{"id":"A1","total":"19.90"}"#;
    for _ in 0..2 {
        let (status, body) = post(&client, &url, a, Some(&sign(SECRET, a.as_bytes()))).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"accepted\":1"), "{body}");
    }
    let two = "{\"id\":\"B2\",\"total\":\"5\"}\n{\"id\":\"C3\",\"total\":\"-1\"}\n";
    let (status, body) = post(&client, &url, two, Some(&sign(SECRET, two.as_bytes()))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"accepted\":2"), "{body}");

    let out = dir.path().join("out/orders.jsonl");
    let dead = dir.path().join("out/dead.jsonl");
    let done = eventually(Duration::from_secs(30), || {
        let (client, maddr) = (&client, &maddr);
        async move { counter(client, maddr, "mapwright_inbox_pending").await == Some(0.0) }
    })
    .await;
    assert!(done, "the inbox did not drain:\n{}", engine.stderr());
    assert_eq!(
        std::fs::read_to_string(&out).unwrap_or_default(),
        "{\"id\":\"A1\",\"total\":19.9}\n{\"id\":\"B2\",\"total\":5}\n",
        "the repeat is delivered once and refused bodies never"
    );
    let dead = json_lines(&dead);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["key"], "C3");
    let text = metrics(&client, &maddr).await.expect("/metrics answers");
    assert_eq!(metric(&text, "mapwright_duplicates_skipped_total"), Some(1.0), "{text}");
    assert_eq!(metric(&text, "mapwright_records_in_total"), Some(4.0), "{text}");
    assert_eq!(metric(&text, "mapwright_records_out_total"), Some(2.0), "{text}");
    assert_eq!(metric(&text, "mapwright_records_failed_total"), Some(1.0), "{text}");
    assert!(text.contains("# TYPE mapwright_sink_latency_seconds histogram"), "{text}");

    let summary = stop(engine).await;
    assert!(summary.starts_with("4 read, 2 delivered, 0 filtered, 1 failed, 1 duplicates skipped in "), "{summary}");
}

/// An ERP stand-in that refuses order `BAD` with 422 and takes the others.
async fn erp() -> Receiver {
    Receiver::start(Box::new(|_, body| {
        if body.contains("\"BAD\"") {
            (422, r#"{"error":"unknown customer","field":"customer_id"}"#.to_string())
        } else {
            (201, r#"{"status":"created"}"#.to_string())
        }
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_to_http_sends_the_key_and_headers_and_dead_letters_a_422() {
    let sink = erp().await;
    let (port, mport) = (free_port(), free_port());
    let maddr = format!("127.0.0.1:{mport}");
    let dir = sandbox(&format!(
        "pipeline: relay
mapping: m.yaml
source: {{ kind: http, listen: 127.0.0.1:{port} }}
sink:
  kind: http
  url: {}
  headers: {{ Authorization: \"token ${{ERP_TOKEN}}\" }}
  idempotency_header: Idempotency-Key
  retry: {{ attempts: 3, backoff: 10ms, max_backoff: 50ms }}
dead_letter: {{ kind: file, path: dead.jsonl }}
state: state.db
metrics: {{ listen: {maddr} }}
",
        sink.url("/api/orders")
    ));
    let engine = start(dir.path(), &[("ERP_TOKEN", "t0k3n-s3cret")], &maddr).await;
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/");
    let body = "{\"id\":\"A1\",\"total\":\"3.50\"}\n{\"id\":\"BAD\",\"total\":\"1\"}\n";
    assert_eq!(post(&client, &url, body, None).await.0, 200);

    let dead = dir.path().join("dead.jsonl");
    let arrived = eventually(Duration::from_secs(30), || {
        let n = json_lines(&dead).len() + sink.with_receipts(<[Receipt]>::len);
        async move { n >= 2 }
    })
    .await;
    assert!(arrived, "nothing reached the sink or the dead letter:\n{}", engine.stderr());

    let receipts = sink.receipts();
    assert_eq!(receipts.len(), 1);
    let r = &receipts[0];
    assert_eq!(r.body, "{\"id\":\"A1\",\"total\":3.5}");
    assert_eq!(r.headers["authorization"], "token t0k3n-s3cret");
    assert_eq!(r.headers["content-type"], "application/json");
    let key = r.idempotency_key.as_deref().unwrap_or_default();
    assert!(key.starts_with("A1:") && key.len() == 3 + 16, "{key}");

    let dead = json_lines(&dead);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["key"], "BAD");
    assert_eq!(dead[0]["input"], serde_json::json!({"id": "BAD", "total": "1"}));
    let message = dead[0]["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("422"), "{message}");
    assert!(message.contains(r#"{"error":"unknown customer","field":"customer_id"}"#), "{message}");
    assert_eq!(sink.refused(), [422], "a 422 is final: not retried");
    assert!(!std::fs::read_to_string(dir.path().join("dead.jsonl")).unwrap().contains("t0k3n"));

    let summary = stop(engine).await;
    assert!(summary.starts_with("2 read, 1 delivered, 0 filtered, 1 failed, 0 duplicates skipped"), "{summary}");
    assert!(!std::fs::read_to_string(dir.path().join("engine.log")).unwrap().contains("t0k3n"), "the token leaked");
}

/// Start-up problems of an HTTP pipeline: exit 1, the pipeline file's place
/// and a hint, and nothing read or written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_problems_point_at_the_pipeline_file() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let head = "pipeline: p\nmapping: m.yaml\nsource:\n  kind: http\n";
    let file_sink = "sink:\n  kind: file\n  path: out.jsonl\n";
    let cases: Vec<(String, &[&str])> = vec![
        (
            format!("{head}  listen: 127.0.0.1:{port}\n  path: /hook\n{file_sink}"),
            &["p.yaml:5:11", "cannot listen on 127.0.0.1:", "another program listens there"],
        ),
        (
            format!(
                "{head}  listen: 127.0.0.1:0\n  verify:\n    hmac_sha256_header: X-Sig\n    secret: \"${{MAPWRIGHT_TEST_UNSET}}\"\n{file_sink}"
            ),
            &["p.yaml:8:13", "environment variable `MAPWRIGHT_TEST_UNSET` is not set"],
        ),
        (
            format!("pipeline: p\nmapping: m.yaml\nsource:\n  kind: htp\n  listen: 127.0.0.1:0\n{file_sink}"),
            &["p.yaml:4:9", "unknown source kind `htp`", "did you mean `http`?"],
        ),
        (
            format!("{head}  path: /hook\n{file_sink}"),
            &["p.yaml:4:3", "`listen:` is missing", "listen: 127.0.0.1:8088"],
        ),
        (
            format!("{head}  listen: 127.0.0.1:0\nsink:\n  kind: http\n  url: 127.0.0.1:9099/api/orders\n"),
            &["p.yaml:8:8", "must start with http:// or https://"],
        ),
    ];
    for (pipeline, needles) in cases {
        let dir = sandbox(&pipeline);
        let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &dir.path().join("engine.log"));
        let status = engine.wait(Duration::from_secs(30)).await;
        let err = engine.stderr();
        assert_eq!(status.and_then(|s| s.code()), Some(1), "{pipeline}\n{err}");
        for n in needles {
            assert!(err.contains(n), "missing {n:?} for\n{pipeline}\nin\n{err}");
        }
        assert!(!err.contains(" read, "), "a record was read despite\n{err}");
        assert!(!dir.path().join("out.jsonl").exists(), "the sink was opened despite\n{err}");
    }
    drop(taken);
}

/// `examples/shopify-webhook-to-erp/pipeline.yaml`, as written: its
/// addresses and secrets come from the environment, set here; the ERP is a
/// server in this test. The signed fixture order arrives as the canonical
/// order, with the token and an idempotency key; a second delivery of the
/// same webhook is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shopify_webhook_example_delivers_the_canonical_order() {
    let example = root().join("examples/shopify-webhook-to-erp");
    let _ = std::fs::remove_dir_all(example.join("out"));
    let erp = Receiver::start(Box::new(|_, _| (201, r#"{"status":"created"}"#.to_string()))).await;
    let (port, mport) = (free_port(), free_port());
    let (listen, maddr, erp_url) =
        (format!("127.0.0.1:{port}"), format!("127.0.0.1:{mport}"), erp.url("/api/sales-orders"));
    let env = [
        ("SHOPIFY_WEBHOOK_SECRET", "shpss_test_secret"),
        ("ERP_URL", erp_url.as_str()),
        ("ERP_TOKEN", "erp-token-123"),
        ("WEBHOOK_LISTEN", listen.as_str()),
        ("METRICS_LISTEN", maddr.as_str()),
    ];
    let log = tempfile::NamedTempFile::new().unwrap();
    let engine = Engine::start(&example.join("pipeline.yaml"), &env, log.path());
    let client = reqwest::Client::new();
    assert!(
        eventually(Duration::from_secs(30), || healthy(&client, &maddr)).await,
        "the example did not start:\n{}",
        engine.stderr()
    );

    let order = std::fs::read(root().join("mappings/shopify/fixtures/order.json")).unwrap();
    let url = format!("http://{listen}/webhooks/shopify/orders");
    for _ in 0..2 {
        let r = client
            .post(&url)
            .header("Content-Type", "application/json")
            .header("X-Shopify-Topic", "orders/create")
            .header("X-Shopify-Hmac-Sha256", sign("shpss_test_secret", &order))
            .body(order.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
    let done = eventually(Duration::from_secs(30), || {
        let (client, maddr) = (&client, &maddr);
        async move { counter(client, maddr, "mapwright_inbox_pending").await == Some(0.0) }
    })
    .await;
    assert!(done, "the inbox did not drain:\n{}", engine.stderr());

    let receipts = erp.receipts();
    assert_eq!(receipts.len(), 1, "the repeated webhook is delivered once");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("mappings/shopify/fixtures/order.out.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(receipts[0].json(), expected, "the ERP receives the canonical order");
    assert_eq!(receipts[0].headers["authorization"], "token erp-token-123");
    let key = receipts[0].idempotency_key.as_deref().unwrap_or_default();
    assert!(key.starts_with("450789469:"), "{key}");
    assert_eq!(counter(&client, &maddr, "mapwright_duplicates_skipped_total").await, Some(1.0));

    let summary = stop(engine).await;
    assert!(summary.starts_with("2 read, 1 delivered, 0 filtered, 0 failed, 1 duplicates skipped"), "{summary}");
    assert!(json_lines(&example.join("out/dead-letter.jsonl")).is_empty());
    let _ = std::fs::remove_dir_all(example.join("out"));
}

/// Regression: a client that stops halfway through its request (a body
/// shorter than its Content-Length, the connection left open) kept the
/// graceful shutdown waiting for it, so SIGTERM never ended the run. Now
/// requests in flight get 5 s after the stop, then are cut off, unstored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_the_run_even_while_a_client_stalls_mid_request() {
    let (port, mport) = (free_port(), free_port());
    let maddr = format!("127.0.0.1:{mport}");
    let dir = sandbox(&format!(
        "pipeline: p\nmapping: m.yaml\nsource: {{ kind: http, listen: 127.0.0.1:{port} }}\nsink: {{ kind: file, path: out.jsonl }}\nstate: state.db\nmetrics: {{ listen: {maddr} }}\n"
    ));
    let mut engine = start(dir.path(), &[], &maddr).await;
    let mut stalled = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(
        &mut stalled,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"S\",",
    )
    .unwrap();
    // The request is in the server's hands before the stop.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = std::time::Instant::now();
    let status = engine.terminate(Duration::from_secs(30)).await;
    let took = asked.elapsed();
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", engine.stderr());
    assert!(took < Duration::from_secs(15), "SIGTERM took {took:?}");
    assert!(engine.stderr().contains("0 read, 0 delivered"), "{}", engine.stderr());
    drop(stalled);
}
