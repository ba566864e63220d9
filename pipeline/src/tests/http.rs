//! The HTTP source endpoint and the HTTP sink client, over real HTTP on
//! loopback: the endpoint is called with reqwest (and once with a raw
//! socket), the sink sends to a small axum server that plays the ERP.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use mapwright_engine::Value;
use mapwright_engine::spec::Located;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::breaker::Breaker;
use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::retry::Retry;
use crate::scheduler::{self, Delivering, Job, Report};
use crate::secrets::Secret;
use crate::sinks::http::{Body, HttpSink, HttpSinkSpec};
use crate::sinks::{BatchSpec, Sink};
use crate::sources::http::{HmacVerify, HttpSourceSpec, serve};
use crate::sources::inbox::Writer;
use crate::state::State;
use crate::{Stop, StopHandle};

/// Generous: the machine may be busy; only a hang should fail a test.
const PATIENCE: Duration = Duration::from_secs(20);

const SECRET: &str = "shpss_webhook_secret_123";

fn located<T>(value: T) -> Located<T> {
    Located::new(value, Default::default())
}

/// The signature Shopify puts in `X-Shopify-Hmac-Sha256`.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

struct Endpoint {
    url: String,
    addr: SocketAddr,
    state: State,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    stop: StopHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn endpoint(max_body: usize, verify: bool) -> Endpoint {
    endpoint_with(max_body, verify, |_| {}).await
}

async fn endpoint_with(max_body: usize, verify: bool, tune: impl FnOnce(&mut HttpSourceSpec)) -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let state = State::open(&dir.path().join("state.db")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut spec = HttpSourceSpec {
        listen: located(addr.to_string()),
        path: "/webhooks/orders".to_string(),
        verify: verify.then(|| HmacVerify { header: "X-Shopify-Hmac-Sha256".to_string(), secret: Secret::new(SECRET) }),
        max_body,
        max_pending: 100_000,
        max_pending_bytes: 1 << 30,
        max_connections: 4096,
        header_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        spool: dir.path().to_path_buf(),
    };
    tune(&mut spec);
    let metrics = Arc::new(Metrics::new("orders"));
    let wake = Arc::new(tokio::sync::Notify::new());
    let (handle, stop) = Stop::new();
    let writer = Writer::start(state.clone(), metrics.clone(), wake.clone()).unwrap();
    let server = tokio::spawn(serve(listener, Arc::new(spec), writer, metrics.clone(), stop));
    Endpoint {
        url: format!("http://{addr}/webhooks/orders"),
        addr,
        state,
        metrics,
        wake,
        stop: handle,
        server,
        _dir: dir,
    }
}

async fn post(url: &str, body: &[u8], signature: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut request = reqwest::Client::new().post(url).body(body.to_vec());
    if let Some(sig) = signature {
        request = request.header("X-Shopify-Hmac-Sha256", sig);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")))
}

#[tokio::test]
async fn a_signed_payload_is_stored_before_the_200() {
    let ep = endpoint(1 << 20, true).await;
    let body = br#"{"id":820982911946154508,"email":"jon@example.com","total_price":"19.90"}"#;
    let (status, answer) = post(&ep.url, body, Some(&sign(SECRET, body))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let stored = ep.state.inbox_after(0, 10, usize::MAX).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].body, body);
    assert_eq!(answer["id"], stored[0].id);
    assert_eq!(ep.metrics.inbox.get(), 1);
    tokio::time::timeout(PATIENCE, ep.wake.notified()).await.expect("the processor is woken");
}

#[tokio::test]
async fn a_wrong_or_missing_signature_is_refused_and_nothing_stored() {
    let ep = endpoint(1 << 20, true).await;
    let body = br#"{"id":1}"#;
    let good = sign(SECRET, body);
    for signature in [Some(sign("another secret", body)), Some("not base64!".to_string()), None] {
        let (status, answer) = post(&ep.url, body, signature.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        let text = answer.to_string();
        assert!(answer["error"].is_string(), "{text}");
        assert!(!text.contains(SECRET) && !text.contains(&good), "the answer gives nothing away: {text}");
    }
    // Signed for another body.
    let (status, _) = post(&ep.url, br#"{"id":2}"#, Some(&good)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(ep.state.inbox_len().unwrap(), 0);
    assert_eq!(ep.metrics.inbox.get(), 0);
}

#[tokio::test]
async fn an_oversize_body_gets_413_declared_or_not() {
    let ep = endpoint(64, true).await;
    let body = format!(r#"{{"note":"{}"}}"#, "x".repeat(200));
    // Checked before the signature: no need to sign what is too large.
    let (status, answer) = post(&ep.url, body.as_bytes(), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");

    // Chunked, with no length declared: cut off while reading.
    let mut socket = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    let request = format!(
        "POST /webhooks/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(ep.state.inbox_len().unwrap(), 0);
}

#[tokio::test]
async fn a_body_that_does_not_parse_gets_400_with_the_place() {
    let ep = endpoint(1 << 20, false).await;
    let (status, answer) = post(&ep.url, b"{\"id\":1}\n{\"id\":2,}\n", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.starts_with("body:2:") && error.contains("invalid JSON"), "line and column: {error}");
    let (status, answer) = post(&ep.url, br#"[{"id":1}, "two"]"#, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].as_str().unwrap().contains("body[1]"), "{answer}");
    let (status, _) = post(&ep.url, b"", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(ep.state.inbox_len().unwrap(), 0);
}

#[tokio::test]
async fn json_lines_and_arrays_count_every_record() {
    let ep = endpoint(1 << 20, true).await;
    let lines = b"{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n";
    let (status, answer) = post(&ep.url, lines, Some(&sign(SECRET, lines))).await;
    assert_eq!((status, &answer["accepted"]), (StatusCode::OK, &serde_json::json!(3)), "{answer}");
    let array = br#"[{"id":4},{"id":5}]"#;
    let (status, answer) = post(&ep.url, array, Some(&sign(SECRET, array))).await;
    assert_eq!((status, &answer["accepted"]), (StatusCode::OK, &serde_json::json!(2)), "{answer}");
    assert_eq!(ep.state.inbox_len().unwrap(), 2);
    assert_eq!(ep.metrics.inbox.get(), 2);
}

#[tokio::test]
async fn a_full_inbox_answers_503_with_retry_after_until_it_drains() {
    let ep = endpoint_with(1 << 20, false, |s| s.max_pending = 3).await;
    let (status, _) = post(&ep.url, b"{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n", None).await;
    assert_eq!(status, StatusCode::OK);
    let response = reqwest::Client::new().post(&ep.url).body("{\"id\":4}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(ep.state.inbox_len().unwrap(), 1, "nothing stored past the bound");
    assert_eq!(ep.metrics.refused_full.get(), 1);
    // The dispatcher finishes the payload: room again.
    let done = ep.state.inbox_after(0, 10, usize::MAX).unwrap();
    ep.state.inbox_done(&[done[0].id]).unwrap();
    ep.metrics.inbox_moved(-1, crate::state::InboxSize { payloads: 1, records: 3, bytes: done[0].body.len() as u64 });
    let (status, _) = post(&ep.url, b"{\"id\":4}", None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_large_body_is_spooled_checked_and_stored_whole() {
    let ep = endpoint_with(64 << 20, true, |_| {}).await;
    let mut body = String::new();
    for i in 0..30_000 {
        body.push_str(&format!("{{\"id\":{i},\"note\":\"{}\"}}\n", "n".repeat(80)));
    }
    assert!(body.len() > 2 << 20, "over the in-memory limit");
    let (status, answer) = post(&ep.url, body.as_bytes(), Some(&sign(SECRET, body.as_bytes()))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["accepted"], 30_000);
    let stored = ep.state.inbox_after(0, 10, usize::MAX).unwrap();
    assert!(stored[0].large, "stored as a large payload");
    let mut copy = Vec::new();
    ep.state.inbox_body_to(stored[0].id, &mut copy).unwrap();
    assert_eq!(copy, body.as_bytes());
    assert_eq!(stored[0].records, 30_000);
    assert_eq!(ep.metrics.inbox_records.get(), 30_000);
    // A large body with a bad record is refused whole, with the place.
    let bad = format!("{body}{{\"id\":}}\n");
    let (status, answer) = post(&ep.url, bad.as_bytes(), Some(&sign(SECRET, bad.as_bytes()))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["error"].as_str().unwrap().starts_with("body:30001:"), "{answer}");
    // Signed for another body: refused after reading, nothing stored.
    let (status, _) = post(&ep.url, bad.as_bytes(), Some(&sign(SECRET, body.as_bytes()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(ep.state.inbox_len().unwrap(), 1);
    let spooled: Vec<_> = std::fs::read_dir(ep._dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(spooled.iter().all(|n| n.to_string_lossy().starts_with("state.db")), "no spool file left: {spooled:?}");
}

#[tokio::test]
async fn slow_and_idle_clients_are_closed_while_webhooks_go_on() {
    let ep = endpoint_with(1 << 20, false, |s| {
        s.header_timeout = Duration::from_millis(300);
        s.body_timeout = Duration::from_millis(300);
    })
    .await;
    // A client that never finishes its head, one that sends nothing, one
    // whose body stalls.
    let mut slow_head = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    slow_head.write_all(b"POST /webhooks/orders HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    let mut slow_body = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    slow_body
        .write_all(b"POST /webhooks/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":")
        .await
        .unwrap();
    // Meanwhile a webhook goes through at once.
    let started = Instant::now();
    let (status, _) = post(&ep.url, br#"{"id":1}"#, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_secs(1));
    for (what, socket) in [("slow head", &mut slow_head), ("silent", &mut silent)] {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut rest)).await;
        assert!(closed.is_ok(), "{what}: closed within the header timeout");
    }
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow_body.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_over_the_limit_are_answered_503_and_closed() {
    let ep = endpoint_with(1 << 20, false, |s| s.max_connections = 2).await;
    let _a = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    let _b = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = tokio::net::TcpStream::connect(ep.addr).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, third.read_to_end(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("Retry-After: 5"), "{answer}");
}

#[tokio::test]
async fn only_post_to_the_path_is_served() {
    let ep = endpoint(1 << 20, false).await;
    let client = reqwest::Client::new();
    let get = client.get(&ep.url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get.headers()["allow"], "POST");
    let elsewhere = client.post(format!("http://{}/other", ep.addr)).body("{}").send().await.unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_server_returns_when_stop_fires() {
    let ep = endpoint(1 << 20, false).await;
    let (status, _) = post(&ep.url, br#"{"id":1}"#, None).await;
    assert_eq!(status, StatusCode::OK);
    ep.stop.stop();
    let result = tokio::time::timeout(PATIENCE, ep.server).await.expect("the server stops");
    result.unwrap().unwrap();
    assert!(reqwest::Client::new().post(&ep.url).body("{}").send().await.is_err(), "nobody listens any more");
}

/// One request as the ERP saw it.
#[derive(Clone, Debug)]
struct Seen {
    at: Instant,
    headers: HeaderMap,
    body: String,
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A stand-in ERP: records every request and answers with `answer(n)` for
/// the n-th (0-based).
async fn erp(answer: fn(usize) -> axum::response::Response) -> (String, Log) {
    let seen: Log = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
        let log = log.clone();
        async move {
            let n = {
                let mut log = log.lock().unwrap();
                log.push(Seen { at: Instant::now(), headers, body });
                log.len() - 1
            };
            answer(n)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/sales-orders"), seen)
}

fn sink_spec(url: &str, headers: Vec<(String, Secret)>) -> HttpSinkSpec {
    HttpSinkSpec {
        url: located(Secret::new(url)),
        method: "POST".to_string(),
        headers,
        idempotency_header: Some("Idempotency-Key".to_string()),
        timeout: Duration::from_secs(10),
        body: None,
    }
}

/// The sink as the scheduler drives it, with its metrics registered in
/// `metrics` under `erp`.
fn delivering(spec: &HttpSinkSpec, retry: Retry, metrics: &Metrics) -> Arc<Delivering> {
    let sink_metrics = Arc::new(metrics.sink("erp"));
    Arc::new(Delivering {
        index: 0,
        name: "erp".to_string(),
        sink: Sink::Http(Box::new(HttpSink::new(spec).unwrap())),
        concurrency: 16,
        batch: BatchSpec::SINGLE,
        retry,
        breaker: Arc::new(Breaker::new("erp", retry.breaker_after, retry, sink_metrics.clone())),
        rate: None,
        metrics: sink_metrics,
    })
}

/// Tries `records` as one request until it is done.
async fn send(d: &Delivering, records: &[Delivery], stop: &Stop) -> Sent {
    let jobs: Vec<Job> =
        records.iter().enumerate().map(|(idx, r)| Job { seq: 0, idx, delivery: Arc::new(r.clone()) }).collect();
    scheduler::deliver(d, &jobs, stop).await.unwrap()
}

fn order() -> Delivery {
    order_no("SO-1001", "19.90")
}

fn order_no(no: &str, total: &str) -> Delivery {
    let record = Value::from_json(&format!(r#"{{"order_no":"{no}","total":"{total}"}}"#)).unwrap();
    Delivery::new(Value::str(no), record, "mapping-hash")
}

fn quick(attempts: u32) -> Retry {
    Retry {
        attempts: Some(attempts),
        backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        breaker_after: 100,
        ..Retry::default()
    }
}

fn never() -> Stop {
    // The handle is leaked so that the signal never fires (a dropped handle
    // counts as fired).
    let (handle, stop) = Stop::new();
    std::mem::forget(handle);
    stop
}

#[tokio::test]
async fn failures_are_retried_with_one_key_until_delivered() {
    let (url, seen) = erp(|n| match n {
        0 => (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], "busy").into_response(),
        1 | 2 => (StatusCode::SERVICE_UNAVAILABLE, "still busy").into_response(),
        _ => (StatusCode::CREATED, r#"{"ok":true}"#).into_response(),
    })
    .await;
    let metrics = Metrics::new("orders");
    let retry = Retry { backoff: Duration::from_millis(2), max_backoff: Duration::from_secs(5), ..Retry::default() };
    let sink = delivering(&sink_spec(&url, vec![]), retry, &metrics);
    let d = order();
    let sent = tokio::time::timeout(PATIENCE, send(&sink, std::slice::from_ref(&d), &never())).await.unwrap();
    assert_eq!(sent, Sent::Delivered);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    for s in &seen {
        assert_eq!(s.headers["idempotency-key"], d.idempotency_key().as_str());
        assert_eq!(s.headers["content-type"], "application/json");
        assert_eq!(s.body, d.json);
    }
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(900), "Retry-After: 1 is honoured");
    assert_eq!(sink.metrics.retries.get(), 3);
    let text = metrics.render();
    assert!(text.contains("mapwright_sink_latency_seconds_count{sink=\"erp\"} 4"), "one latency per try\n{text}");
    assert!(text.contains("mapwright_sink_delivered_total{sink=\"erp\"} 1"), "{text}");
}

#[tokio::test]
async fn a_batch_is_one_request_with_one_key_on_every_try() {
    let (url, seen) = erp(|n| match n {
        0 => (StatusCode::BAD_GATEWAY, "restarting").into_response(),
        _ => StatusCode::NO_CONTENT.into_response(),
    })
    .await;
    let metrics = Metrics::new("orders");
    let records = [order_no("SO-1", "1.10"), order_no("SO-2", "2.20"), order_no("SO-3", "3.30")];
    let refs: Vec<&Delivery> = records.iter().collect();
    let key = crate::delivery::batch_key(&refs);
    for (body, want, content_type) in [
        (Body::Array, format!("[{},{},{}]", records[0].json, records[1].json, records[2].json), "application/json"),
        (
            Body::Jsonl,
            format!("{}\n{}\n{}\n", records[0].json, records[1].json, records[2].json),
            "application/x-ndjson",
        ),
    ] {
        seen.lock().unwrap().clear();
        let mut spec = sink_spec(&url, vec![]);
        spec.body = Some(body);
        let sink = delivering(&spec, quick(5), &metrics);
        assert_eq!(tokio::time::timeout(PATIENCE, send(&sink, &records, &never())).await.unwrap(), Sent::Delivered);
        let seen = seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        for s in &seen {
            assert_eq!(s.body, want);
            assert_eq!(s.headers["idempotency-key"], key.as_str(), "the same key on the retry");
            assert_eq!(s.headers["content-type"], content_type);
        }
    }
    assert!(key.starts_with("batch:") && key.len() == "batch:".len() + 16, "{key}");
    let other: Vec<&Delivery> = records[..2].iter().collect();
    assert_ne!(crate::delivery::batch_key(&other), key, "other records, another key");
}

#[tokio::test]
async fn a_refused_batch_is_split_so_one_bad_record_goes_alone() {
    // The ERP refuses any request that carries SO-2.
    let seen: Log = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: String| {
        let log = log.clone();
        async move {
            let bad = body.contains("SO-2");
            log.lock().unwrap().push(Seen { at: Instant::now(), headers, body });
            if bad {
                (StatusCode::UNPROCESSABLE_ENTITY, "SO-2: customer unknown").into_response()
            } else {
                StatusCode::OK.into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/orders", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut spec = sink_spec(&url, vec![]);
    spec.body = Some(Body::Array);
    let sink = delivering(&spec, quick(3), &Metrics::new("orders"));
    let jobs: Vec<Job> = ["SO-1", "SO-2", "SO-3"]
        .iter()
        .enumerate()
        .map(|(idx, no)| Job { seq: 7, idx, delivery: Arc::new(order_no(no, "1")) })
        .collect();
    let done = scheduler::send(&sink, jobs, &never()).await.unwrap();
    let sent: Vec<(usize, Sent)> = done.into_iter().map(|d| (d.idx, d.sent)).collect();
    assert_eq!(sent[0], (0, Sent::Delivered));
    assert!(matches!(&sent[1], (1, Sent::Rejected(r)) if r.contains("SO-2: customer unknown")), "{sent:?}");
    assert_eq!(sent[2], (2, Sent::Delivered));
    assert_eq!(seen.lock().unwrap().len(), 4, "the batch, then each record alone");
}

#[tokio::test]
async fn a_422_is_rejected_with_the_status_and_the_start_of_the_answer() {
    let (url, seen) = erp(|_| {
        let body = format!(r#"{{"error":"customer_no is required","padding":"{}"}}"#, "p".repeat(2000));
        (StatusCode::UNPROCESSABLE_ENTITY, body).into_response()
    })
    .await;
    let sink = delivering(&sink_spec(&url, vec![]), quick(5), &Metrics::new("orders"));
    let Sent::Rejected(reason) = send(&sink, &[order()], &never()).await else { panic!("rejected") };
    let prefix = "HTTP 422 Unprocessable Entity: ";
    assert!(reason.starts_with(&format!(r#"{prefix}{{"error":"customer_no is required""#)), "{reason}");
    assert_eq!(reason.len(), prefix.len() + 512, "the first 512 bytes of the answer");
    assert_eq!(seen.lock().unwrap().len(), 1, "a 4xx is not retried");
    assert_eq!(sink.metrics.retries.get(), 0);
}

#[tokio::test]
async fn a_closed_port_is_tried_until_the_policy_gives_up() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://erp:hunter22@127.0.0.1:{port}/api?token=sekrit-query");
    let metrics = Metrics::new("orders");
    let sink = delivering(&sink_spec(&url, vec![]), quick(3), &metrics);
    let sent = tokio::time::timeout(PATIENCE, send(&sink, &[order()], &never())).await.unwrap();
    let Sent::GaveUp(reason) = sent else { panic!("gave up: {sent:?}") };
    assert!(reason.contains("cannot connect"), "{reason}");
    assert!(reason.contains(&format!("127.0.0.1:{port}/api")), "{reason}");
    assert!(!reason.contains("hunter22") && !reason.contains("sekrit"), "no credentials: {reason}");
    assert_eq!(sink.metrics.retries.get(), 2);
    assert!(metrics.render().contains("mapwright_sink_latency_seconds_count{sink=\"erp\"} 3"), "three tries");
}

#[tokio::test]
async fn by_default_a_sink_that_is_down_is_tried_until_the_stop_and_its_breaker_opens() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/api");
    let metrics = Metrics::new("orders");
    let retry = Retry {
        backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        breaker_after: 3,
        ..Retry::default()
    };
    let sink = delivering(&sink_spec(&url, vec![]), retry, &metrics);
    let (handle, stop) = Stop::new();
    let task = {
        let (sink, stop) = (sink.clone(), stop.clone());
        tokio::spawn(async move { send(&sink, &[order()], &stop).await })
    };
    let started = Instant::now();
    while !sink.breaker.status().open {
        assert!(started.elapsed() < PATIENCE, "the breaker opens after 3 failures");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "a transient failure is never given up by default");
    assert!(metrics.render().contains("mapwright_sink_state{sink=\"erp\"} 1"));
    assert!(sink.breaker.status().last_error.unwrap().contains("cannot connect"));
    handle.stop();
    assert_eq!(tokio::time::timeout(PATIENCE, task).await.unwrap().unwrap(), Sent::Stopped);
}

#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_retried_then_given_up() {
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = tries.clone();
    let app = axum::Router::new().fallback(move || {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut spec = sink_spec(&url, vec![]);
    spec.timeout = Duration::from_millis(200);
    let sink = delivering(&spec, quick(2), &Metrics::new("orders"));
    let sent = tokio::time::timeout(PATIENCE, send(&sink, &[order()], &never())).await.unwrap();
    let Sent::GaveUp(reason) = sent else { panic!("gave up: {sent:?}") };
    assert!(reason.contains("no answer within 200ms"), "{reason}");
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(sink.metrics.retries.get(), 1);
}

#[tokio::test]
async fn a_stop_during_the_backoff_returns_at_once() {
    let (url, seen) = erp(|_| (StatusCode::BAD_GATEWAY, "down").into_response()).await;
    let retry = Retry { backoff: Duration::from_secs(60), max_backoff: Duration::from_secs(120), ..Retry::default() };
    let sink = delivering(&sink_spec(&url, vec![]), retry, &Metrics::new("orders"));
    let (handle, stop) = Stop::new();
    let task = tokio::spawn(async move { send(&sink, &[order()], &stop).await });
    let started = Instant::now();
    while seen.lock().unwrap().is_empty() {
        assert!(started.elapsed() < PATIENCE, "the first try arrives");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    handle.stop();
    let sent = tokio::time::timeout(PATIENCE, task).await.expect("returns well before the 30s+ backoff").unwrap();
    assert_eq!(sent, Sent::Stopped);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn under_concurrency_one_key_is_never_in_flight_twice_and_keeps_its_order() {
    // An ERP that takes 20 ms per request and notes what it holds at once.
    #[derive(Default)]
    struct Erp {
        now: Vec<String>,
        most: usize,
        overlap: bool,
        order: Vec<(String, String)>,
    }
    let erp: Arc<Mutex<Erp>> = Arc::default();
    let state = erp.clone();
    let app = axum::Router::new().fallback(move |body: String| {
        let state = state.clone();
        async move {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            let key = v["order_no"].as_str().unwrap().to_string();
            {
                let mut e = state.lock().unwrap();
                e.overlap |= e.now.contains(&key);
                e.now.push(key.clone());
                e.most = e.most.max(e.now.len());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut e = state.lock().unwrap();
            let at = e.now.iter().position(|k| *k == key).unwrap();
            e.now.remove(at);
            e.order.push((key, v["total"].as_str().unwrap().to_string()));
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/orders", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut d = Arc::into_inner(delivering(&sink_spec(&url, vec![]), quick(3), &Metrics::new("orders"))).unwrap();
    d.concurrency = 8;
    let d = Arc::new(d);
    let (jobs_tx, jobs) = tokio::sync::mpsc::unbounded_channel();
    let (report, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(scheduler::run(d, jobs, report, never()));
    // 12 keys, 5 versions each, in input order: version v of every key, then v + 1.
    for v in 0..5 {
        for k in 0..12 {
            jobs_tx
                .send(Job { seq: v, idx: k, delivery: Arc::new(order_no(&format!("SO-{k}"), &v.to_string())) })
                .unwrap();
        }
    }
    drop(jobs_tx);
    let mut done = 0;
    while let Some(r) = tokio::time::timeout(PATIENCE, reports.recv()).await.unwrap() {
        let Report::Done(d) = r else { panic!("fatal") };
        assert!(d.iter().all(|d| d.sent == Sent::Delivered));
        done += d.len();
    }
    task.await.unwrap();
    assert_eq!(done, 60);
    let e = erp.lock().unwrap();
    assert!(!e.overlap, "a key was in flight twice");
    assert_eq!(e.most, 8, "eight requests at once, never more");
    for k in 0..12 {
        let key = format!("SO-{k}");
        let versions: Vec<&str> = e.order.iter().filter(|(o, _)| *o == key).map(|(_, t)| t.as_str()).collect();
        assert_eq!(versions, ["0", "1", "2", "3", "4"], "{key} in input order");
    }
}

#[tokio::test]
async fn the_token_reaches_the_server_and_no_reason() {
    const TOKEN: &str = "erp_tok_9f8e7d6c5b4a";
    // A careless server that echoes the credentials it got.
    let (url, seen) = erp(|n| {
        let status = if n == 0 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::FORBIDDEN };
        (status, format!("refused Authorization: token {TOKEN}")).into_response()
    })
    .await;
    let headers = vec![("Authorization".to_string(), Secret::new(format!("token {TOKEN}")))];
    let sink = delivering(&sink_spec(&url, headers), quick(2), &Metrics::new("orders"));
    let Sent::Rejected(reason) = send(&sink, &[order()], &never()).await else { panic!("rejected") };
    assert!(reason.starts_with("HTTP 403 Forbidden: refused Authorization: ***"), "{reason}");
    assert!(!reason.contains(TOKEN), "{reason}");
    for s in seen.lock().unwrap().iter() {
        assert_eq!(s.headers["authorization"], format!("token {TOKEN}").as_str());
    }

    // A header that cannot be sent is named, its value is not shown.
    let bad = vec![("X-Api-Key".to_string(), Secret::new("line\nbreak-secret"))];
    let err = HttpSink::new(&sink_spec(&url, bad)).err().unwrap();
    assert!(err.contains("X-Api-Key") && !err.contains("break-secret"), "{err}");
}
