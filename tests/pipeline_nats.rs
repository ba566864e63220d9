//! `mapwright run` with NATS endpoints (README "Pipeline file reference"), end to end: the binary
//! against a real `nats-server` (JetStream on, one per test, loopback only,
//! its store in a temporary folder), stopped with SIGTERM as a service
//! manager would.
//!
//! - JetStream → file: messages published while the pipeline is down are
//!   read after a restart, none twice; a payload that is not JSON becomes
//!   a dead letter; a payload holding a list gives one record per element.
//! - file → JetStream: one message per record with its idempotency key as
//!   `Nats-Msg-Id`; a second run with a fresh state store adds nothing to
//!   the stream (the stream drops the repeats).
//! - plain NATS both ways (no `stream:`).
//! - the broker killed and started again mid-run: source and sink go on.
//! - a SIGKILLed pipeline loses nothing; messages are acknowledged only
//!   once delivered: a worker holding messages for a sink that is down
//!   keeps them (in progress, past `ack_wait`), and when it is SIGKILLed
//!   another worker of the consumer delivers them; the example runs as
//!   its README says.
//! - start-up failures located in the pipeline file: no server, a missing
//!   stream, a stream that does not hold the subject; the password in the
//!   url never reaches standard error.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use support::{Engine, Receiver, eventually, free_port, healthy, json_lines, mapwright};

/// Generous, for loaded CI machines; a passing test waits far less.
const PATIENCE: Duration = Duration::from_secs(60);

const MAPPING: &str =
    "mapping: orders\nkey: $.id\nfields:\n  id: $.id\n  total:\n    expr: $.total | number\n    min: 0\n";

/// A throwaway `nats-server -js` on 127.0.0.1, killed when dropped.
struct NatsServer {
    child: Child,
    port: u16,
    auth: Option<(String, String)>,
    store: tempfile::TempDir,
}

impl NatsServer {
    fn start(auth: Option<(&str, &str)>) -> NatsServer {
        let store = tempfile::tempdir().expect("temp dir");
        let auth = auth.map(|(u, p)| (u.to_string(), p.to_string()));
        let (child, port) = NatsServer::spawn(None, store.path(), auth.as_ref());
        NatsServer { child, port, auth, store }
    }

    /// Starts nats-server on `port`, or on a port it picks itself (no race
    /// with other tests for a "free" port), and waits until it listens.
    fn spawn(port: Option<u16>, store: &Path, auth: Option<&(String, String)>) -> (Child, u16) {
        let mut cmd = Command::new(nats_server());
        let asked = port.map_or("-1".to_string(), |p| p.to_string());
        cmd.args(["-a", "127.0.0.1", "-p", &asked, "-js", "-sd"])
            .arg(store.join("js"))
            .arg("--ports_file_dir")
            .arg(store)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((user, pass)) = auth {
            cmd.args(["--user", user, "--pass", pass]);
        }
        let mut child = cmd.spawn().expect("start nats-server (tests/run.sh installs it: apt-get install nats-server)");
        // The server writes the address it listens on to this file.
        let ports = store.join(format!("nats-server_{}.ports", child.id()));
        let deadline = Instant::now() + PATIENCE;
        let port = loop {
            let listed = std::fs::read_to_string(&ports).ok().and_then(|t| {
                let v: serde_json::Value = serde_json::from_str(&t).ok()?;
                v["nats"][0].as_str()?.rsplit(':').next()?.parse::<u16>().ok()
            });
            if let Some(p) = listed {
                if std::net::TcpStream::connect(("127.0.0.1", p)).is_ok() {
                    break p;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nats-server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        (child, port)
    }

    /// Stops the server (SIGKILL) and starts it again on the same port with
    /// the same store, as after a crash of the broker.
    fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let (child, _) = NatsServer::spawn(Some(self.port), self.store.path(), self.auth.as_ref());
        self.child = child;
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn client(&self) -> async_nats::Client {
        async_nats::connect(self.url()).await.expect("connect to the test server")
    }

    /// A JetStream stream with these subjects.
    async fn stream(&self, name: &str, subjects: &[&str]) -> async_nats::jetstream::Context {
        let js = async_nats::jetstream::new(self.client().await);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: name.to_string(),
            subjects: subjects.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })
        .await
        .expect("create the stream");
        js
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `nats-server` on PATH, or where Debian puts it.
fn nats_server() -> String {
    for candidate in ["/usr/sbin/nats-server", "/usr/bin/nats-server"] {
        if Path::new(candidate).exists() {
            return candidate.to_string();
        }
    }
    "nats-server".to_string()
}

fn sandbox(pipeline: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("m.yaml"), MAPPING).expect("write the mapping");
    std::fs::write(dir.path().join("p.yaml"), pipeline).expect("write the pipeline");
    dir
}

/// Publishes to a stream and waits for its acknowledgement.
async fn publish(js: &async_nats::jetstream::Context, subject: &str, body: &str) {
    js.publish(subject.to_string(), body.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("the stream stores it");
}

/// Waits until `path` has `n` JSON lines; panics with the engine's log.
async fn wait_lines(path: &Path, n: usize, engine: &Engine) -> Vec<serde_json::Value> {
    let ok = eventually(PATIENCE, || async { json_lines(path).len() >= n }).await;
    let lines = json_lines(path);
    assert!(ok, "{} has {} lines, not {n}: {lines:?}\nstderr:\n{}", path.display(), lines.len(), engine.stderr());
    lines
}

/// Waits until the pipeline's health endpoint answers (it has started).
async fn wait_started(maddr: &str, engine: &Engine) {
    let client = reqwest::Client::new();
    let ok = eventually(PATIENCE, || healthy(&client, maddr)).await;
    assert!(ok, "the pipeline did not start:\n{}", engine.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_to_file_reads_what_was_published_while_it_was_down_and_nothing_twice() {
    let server = NatsServer::start(None);
    let js = server.stream("ORDERS", &["shop.orders.>"]).await;
    publish(&js, "shop.orders.created", r#"{"id": 1, "total": "10.50"}"#).await;
    publish(&js, "shop.orders.created", "this is not JSON").await;
    publish(&js, "shop.orders.created", r#"[{"id": 2, "total": "20"}, {"id": 3, "total": "0.10"}]"#).await;
    // Not held by the consumer's subject filter: never read.
    let other = server.stream("OTHER", &["shop.refunds"]).await;
    publish(&other, "shop.refunds", r#"{"id": 99, "total": "1"}"#).await;

    let maddr = format!("127.0.0.1:{}", free_port());
    let dir = sandbox(&format!(
        "pipeline: p\nmapping: m.yaml\nsource: {{ kind: nats, url: \"{}\", subject: \"shop.orders.>\", stream: ORDERS }}\n\
         sink: {{ kind: file, path: out.jsonl }}\ndead_letter: {{ kind: file, path: dead.jsonl }}\nstate: state.db\n\
         metrics: {{ listen: {maddr} }}\n",
        server.url()
    ));
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("stderr.log");
    let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &log);
    let lines = wait_lines(&out, 3, &engine).await;
    let ids: Vec<_> = lines.iter().map(|l| l["id"].clone()).collect();
    assert_eq!(ids, [serde_json::json!(1), serde_json::json!(2), serde_json::json!(3)]);
    assert_eq!(lines[2]["total"], serde_json::json!(0.10));
    let dead = wait_lines(&dir.path().join("dead.jsonl"), 1, &engine).await;
    assert!(dead[0].to_string().contains("this is not JSON"), "the dead letter keeps the payload: {}", dead[0]);
    assert!(engine.terminate(PATIENCE).await.is_some_and(|s| s.success()), "stderr:\n{}", engine.stderr());

    // Published while the pipeline is down: read after the restart.
    publish(&js, "shop.orders.updated", r#"{"id": 4, "total": "4"}"#).await;
    publish(&js, "shop.orders.created", r#"{"id": 1, "total": "10.50"}"#).await;
    let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &log);
    wait_started(&maddr, &engine).await;
    let lines = wait_lines(&out, 4, &engine).await;
    assert_eq!(lines[3]["id"], serde_json::json!(4));
    // The repeat of order 1 is skipped, and nothing read before comes again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(json_lines(&out).len(), 4, "{:?}\nstderr:\n{}", json_lines(&out), engine.stderr());
    assert_eq!(json_lines(&dir.path().join("dead.jsonl")).len(), 1);
    assert!(engine.terminate(PATIENCE).await.is_some_and(|s| s.success()), "stderr:\n{}", engine.stderr());

    // Every message was acknowledged: the consumer has nothing pending.
    let mut stream = js.get_stream("ORDERS").await.expect("stream");
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer("mapwright-p").await.expect("the durable consumer exists");
    let info = consumer.info().await.expect("consumer info");
    assert_eq!((info.num_pending, info.num_ack_pending), (0, 0), "{info:?}");
    assert_eq!(stream.info().await.expect("stream info").state.messages, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_to_jetstream_publishes_each_record_once_with_its_idempotency_key() {
    let server = NatsServer::start(None);
    let js = server.stream("ERP", &["erp.orders"]).await;
    let pipeline = format!(
        "pipeline: p\nmapping: m.yaml\nsource: {{ kind: file, path: in.jsonl }}\n\
         sink: {{ kind: nats, url: \"{}\", subject: erp.orders, stream: ERP }}\n\
         dead_letter: {{ kind: file, path: dead.jsonl }}\nstate: state.db\n",
        server.url()
    );
    let dir = sandbox(&pipeline);
    std::fs::write(
        dir.path().join("in.jsonl"),
        "{\"id\": 1, \"total\": \"1.10\"}\n{\"id\": 2, \"total\": \"-5\"}\n{\"id\": 3, \"total\": \"3\"}\n",
    )
    .expect("write input");
    let run = || mapwright().args(["run", "p.yaml"]).current_dir(dir.path()).output().expect("run mapwright");
    let first = run();
    let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
    assert_eq!(first.status.code(), Some(0), "{stderr}");
    assert_eq!(json_lines(&dir.path().join("dead.jsonl")).len(), 1, "order 2 fails `min: 0`");

    let mut stream = js.get_stream("ERP").await.expect("stream");
    assert_eq!(stream.info().await.expect("info").state.messages, 2);
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.expect("a reader");
    let mut messages =
        consumer.fetch().max_messages(10).expires(Duration::from_secs(2)).messages().await.expect("fetch");
    let mut got = Vec::new();
    while let Some(m) = messages.next().await {
        let m = m.expect("message");
        let body: serde_json::Value = serde_json::from_slice(&m.payload).expect("a JSON record");
        let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).map(|v| v.to_string()).unwrap_or_default();
        got.push((body, id));
    }
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, serde_json::json!({"id": 1, "total": 1.10}));
    assert!(got[0].1.starts_with("1:") && got[1].1.starts_with("3:"), "idempotency keys: {got:?}");

    // A lost state store is refused while the outputs exist; accepted
    // knowingly, it sends everything again and the stream drops the
    // repeats by their Nats-Msg-Id.
    std::fs::remove_file(dir.path().join("state.db")).expect("remove the state store");
    let refused = run();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("state.db does not exist") && stderr.contains("--fresh-state"), "{stderr}");
    assert!(!dir.path().join("state.db").exists(), "a refused start leaves no store behind");
    let second = mapwright().args(["run", "--fresh-state", "p.yaml"]).current_dir(dir.path()).output().expect("run");
    assert_eq!(second.status.code(), Some(0), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(stream.info().await.expect("info").state.messages, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_nats_both_ways() {
    let server = NatsServer::start(None);
    let client = server.client().await;
    let mut delivered = client.subscribe("erp.plain").await.expect("subscribe");
    client.flush().await.expect("flush");
    let maddr = format!("127.0.0.1:{}", free_port());
    let dir = sandbox(&format!(
        "pipeline: p\nmapping: m.yaml\nsource: {{ kind: nats, url: \"{url}\", subject: shop.plain }}\n\
         sink: {{ kind: nats, url: \"{url}\", subject: erp.plain }}\n\
         dead_letter: {{ kind: file, path: dead.jsonl }}\nstate: state.db\nmetrics: {{ listen: {maddr} }}\n",
        url = server.url()
    ));
    let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &dir.path().join("stderr.log"));
    wait_started(&maddr, &engine).await;
    client.publish("shop.plain", r#"{"id": "A-1", "total": "2.50"}"#.into()).await.expect("publish");
    client.flush().await.expect("flush");
    let got = tokio::time::timeout(PATIENCE, delivered.next()).await;
    let message = got.ok().flatten().unwrap_or_else(|| panic!("nothing delivered:\n{}", engine.stderr()));
    let body: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
    assert_eq!(body, serde_json::json!({"id": "A-1", "total": 2.50}));
    assert!(engine.terminate(PATIENCE).await.is_some_and(|s| s.success()), "stderr:\n{}", engine.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_failures_are_located_and_keep_the_password_out() {
    let password = "Nats-pw-n0t-in-logs";
    let server = NatsServer::start(Some(("app", password)));
    let js = async_nats::ConnectOptions::with_user_and_password("app".into(), password.into())
        .connect(server.url())
        .await
        .map(async_nats::jetstream::new)
        .expect("connect with the password");
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ERP".into(),
        subjects: vec!["erp.orders".into()],
        ..Default::default()
    })
    .await
    .expect("create the stream");
    let url = format!("nats://app:{password}@127.0.0.1:{}", server.port);
    let check = |pipeline: String, expect: &[&str]| {
        let dir = sandbox(&pipeline);
        std::fs::write(dir.path().join("in.jsonl"), "{\"id\": 1, \"total\": \"1\"}\n").expect("write input");
        let out = mapwright().args(["run", "p.yaml"]).current_dir(dir.path()).output().expect("run mapwright");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        for e in expect {
            assert!(stderr.contains(e), "expected {e:?} in:\n{stderr}");
        }
        assert!(!stderr.contains(password), "the password leaked:\n{stderr}");
    };
    let head = "pipeline: p\nmapping: m.yaml\nsource: { kind: file, path: in.jsonl }\n";
    // Nothing listens there.
    check(
        format!(
            "{head}sink: {{ kind: nats, url: \"nats://app:{password}@127.0.0.1:{}\", subject: erp.orders }}\n",
            free_port()
        ),
        &["p.yaml:4:", "cannot connect to NATS", "nats://app:***@127.0.0.1"],
    );
    // A token in the url (`nats://token@host`) is a secret too.
    check(
        format!(
            "{head}sink: {{ kind: nats, url: \"nats://{password}@127.0.0.1:{}\", subject: erp.orders }}\n",
            free_port()
        ),
        &["p.yaml:4:", "cannot connect to NATS", "nats://***@127.0.0.1"],
    );
    // Wrong password.
    check(
        format!(
            "{head}sink: {{ kind: nats, url: \"nats://app:wrong-one@127.0.0.1:{}\", subject: erp.orders }}\n",
            server.port
        ),
        &["p.yaml:4:", "cannot connect to NATS"],
    );
    // No such stream.
    check(
        format!("{head}sink:\n  kind: nats\n  url: \"{url}\"\n  subject: erp.orders\n  stream: MISSING\n"),
        &["p.yaml:8:", "no JetStream stream `MISSING`", "nats stream add"],
    );
    // The stream does not hold the subject.
    check(
        format!("{head}sink:\n  kind: nats\n  url: \"{url}\"\n  subject: erp.invoices\n  stream: ERP\n"),
        &["p.yaml:8:", "does not hold `erp.invoices`", "erp.orders"],
    );
    // A source with `durable:` but no stream is a spec error.
    check(
        format!(
            "pipeline: p\nmapping: m.yaml\nsource: {{ kind: nats, url: \"{}\", subject: a.b, durable: d }}\nsink: {{ kind: stdout }}\n",
            server.url()
        ),
        &["p.yaml:3:", "`durable:` names a JetStream consumer, which needs `stream:`"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_jetstream_pipeline_loses_nothing() {
    let server = NatsServer::start(None);
    let js = server.stream("ORDERS", &["shop.orders"]).await;
    const N: usize = 300;
    for i in 1..=N {
        publish(&js, "shop.orders", &format!(r#"{{"id": {i}, "total": "{i}.01"}}"#)).await;
    }
    let dir = sandbox(&format!(
        "pipeline: p\nmapping: m.yaml\nsource: {{ kind: nats, url: \"{}\", subject: shop.orders, stream: ORDERS, ack_wait: 2s }}\n\
         sink: {{ kind: file, path: out.jsonl }}\nstate: state.db\n",
        server.url()
    ));
    let out = dir.path().join("out.jsonl");
    let log = dir.path().join("stderr.log");
    let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &log);
    wait_lines(&out, 1, &engine).await;
    // SIGKILL in the middle: no shutdown, no final commit.
    engine.kill();
    let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &log);
    let ok = eventually(PATIENCE, || async {
        let ids: std::collections::BTreeSet<String> = json_lines(&out).iter().map(|l| l["id"].to_string()).collect();
        ids.len() == N
    })
    .await;
    let lines = json_lines(&out);
    assert!(ok, "{} lines after the restart:\n{}", lines.len(), engine.stderr());
    // Only what was in flight at the kill may be written twice: one
    // write of the file sink, at most one inbox read (64 payloads).
    assert!(lines.len() <= N + 64, "{} lines for {N} records", lines.len());
    // The restarted engine may find nothing left to do: let it start
    // before it is asked to stop.
    assert!(
        eventually(PATIENCE, || async { engine.stderr().matches("starting").count() == 2 }).await,
        "{}",
        engine.stderr()
    );
    let status = engine.terminate(PATIENCE).await;
    assert!(status.is_some_and(|s| s.success()), "{status:?} stderr:\n{}", engine.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nats_jetstream_example_runs_as_its_readme_says() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let server = NatsServer::start(None);
    let shop = server.stream("SHOP", &["shop.orders.>"]).await;
    let erp = server.stream("ERP", &["erp.sales_orders"]).await;

    // What `mapwright map` makes of the same orders: the expected output.
    let orders_file = root.join("examples/orders-file-to-file/orders.jsonl");
    let work = tempfile::tempdir().expect("temp dir");
    let expected_out = work.path().join("expected.jsonl");
    let expected_dead = work.path().join("expected-dead.jsonl");
    let mapped = mapwright()
        .args(["map", "-m"])
        .arg(root.join("mappings/shopify/order_to_canonical.yaml"))
        .arg(&orders_file)
        .arg("-o")
        .arg(&expected_out)
        .arg("--dead-letter")
        .arg(&expected_dead)
        .output()
        .expect("run mapwright map");
    assert!(mapped.status.code().is_some_and(|c| c == 0 || c == 2), "{}", String::from_utf8_lossy(&mapped.stderr));
    let expected = json_lines(&expected_out);
    let failed = json_lines(&expected_dead).len();
    assert!(!expected.is_empty() && failed > 0, "the example's orders map and fail both");

    // The example's own files, in the same layout, so that its relative
    // paths hold and nothing is written into the repository.
    let sandbox = tempfile::tempdir().expect("temp dir");
    support::copy_folder(&root, "examples/nats-jetstream", sandbox.path());
    support::copy_folder(&root, "mappings", sandbox.path());
    let orders = std::fs::read_to_string(&orders_file).expect("read the orders");
    for line in orders.lines().filter(|l| !l.trim().is_empty()) {
        publish(&shop, "shop.orders.created", line).await;
    }
    let log = sandbox.path().join("stderr.log");
    let pipeline = sandbox.path().join("examples/nats-jetstream/pipeline.yaml");
    let url = server.url();
    let mut engine = Engine::start(&pipeline, &[("NATS_URL", url.as_str())], &log);
    let dead = sandbox.path().join("examples/nats-jetstream/out/dead-letter.jsonl");
    let mut erp_stream = erp.get_stream("ERP").await.expect("stream");
    let want = expected.len();
    let ok = eventually(PATIENCE, || {
        let mut s = erp_stream.clone();
        let dead = dead.clone();
        async move {
            let n = s.info().await.map(|i| i.state.messages).unwrap_or(0);
            n as usize == want && json_lines(&dead).len() == failed
        }
    })
    .await;
    assert!(ok, "not every order arrived:\n{}", engine.stderr());
    assert!(engine.terminate(PATIENCE).await.is_some_and(|s| s.success()), "stderr:\n{}", engine.stderr());

    // The published sales orders are what `map` makes, each order's
    // versions in input order (orders with different keys go side by side).
    let consumer: async_nats::jetstream::consumer::PullConsumer =
        erp_stream.create_consumer(async_nats::jetstream::consumer::pull::Config::default()).await.expect("a reader");
    let mut messages = consumer
        .fetch()
        .max_messages(expected.len() + 5)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .expect("fetch");
    let mut got = Vec::new();
    while let Some(m) = messages.next().await {
        got.push(serde_json::from_slice::<serde_json::Value>(&m.expect("message").payload).expect("JSON"));
    }
    assert_eq!(by_key(&got), by_key(&expected));
    assert_eq!(erp_stream.info().await.expect("info").state.messages as usize, expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jetstream_source_and_sink_go_on_after_the_server_restarts() {
    let mut server = NatsServer::start(None);
    let js = server.stream("IN", &["in.orders"]).await;
    server.stream("OUT", &["out.orders"]).await;
    let dir = sandbox(&format!(
        "pipeline: p\nmapping: m.yaml\nsource: {{ kind: nats, url: \"{url}\", subject: in.orders, stream: IN }}\n\
         sink: {{ kind: nats, url: \"{url}\", subject: out.orders, stream: OUT, retry: {{ attempts: 20, backoff: 100ms, max_backoff: 1s }} }}\n\
         dead_letter: {{ kind: file, path: dead.jsonl }}\nstate: state.db\n",
        url = server.url()
    ));
    let log = dir.path().join("stderr.log");
    let mut engine = Engine::start(&dir.path().join("p.yaml"), &[], &log);
    publish(&js, "in.orders", r#"{"id": 1, "total": "1"}"#).await;
    let out_count = |url: String| async move {
        let Ok(client) = async_nats::connect(url).await else { return 0 };
        let js = async_nats::jetstream::new(client);
        match js.get_stream("OUT").await {
            Ok(mut s) => s.info().await.map(|i| i.state.messages).unwrap_or(0),
            Err(_) => 0,
        }
    };
    let url = server.url();
    assert!(eventually(PATIENCE, || out_count(url.clone()).map(|n| n == 1)).await, "{}", engine.stderr());

    server.restart();
    let js = async_nats::jetstream::new(server.client().await);
    publish(&js, "in.orders", r#"{"id": 2, "total": "2"}"#).await;
    publish(&js, "in.orders", r#"{"id": 3, "total": "3"}"#).await;
    let ok = eventually(PATIENCE, || out_count(url.clone()).map(|n| n == 3)).await;
    assert!(ok, "after the restart:\n{}", engine.stderr());
    assert!(json_lines(&dir.path().join("dead.jsonl")).is_empty(), "{}", engine.stderr());
    assert!(engine.terminate(PATIENCE).await.is_some_and(|s| s.success()), "stderr:\n{}", engine.stderr());
}

/// Records grouped by `order_id`, each group in the order given.
fn by_key(records: &[serde_json::Value]) -> std::collections::BTreeMap<String, Vec<serde_json::Value>> {
    let mut out: std::collections::BTreeMap<String, Vec<serde_json::Value>> = Default::default();
    for r in records {
        out.entry(r["order_id"].to_string()).or_default().push(r.clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_unacknowledged_messages_are_delivered_by_another_worker() {
    let server = NatsServer::start(None);
    let js = server.stream("ORDERS", &["shop.orders"]).await;
    const N: usize = 200;
    for i in 1..=N {
        publish(&js, "shop.orders", &format!(r#"{{"id": {i}, "total": "{i}.5"}}"#)).await;
    }
    let sink = Receiver::start(Box::new(|_, _| (201, "{}".to_string()))).await;
    let pipeline = |url: String| {
        format!(
            "pipeline: p\nmapping: m.yaml\nsource: {{ kind: nats, url: \"{}\", subject: shop.orders, stream: ORDERS, \
             durable: workers, ack_wait: 2s, max_ack_pending: 500 }}\n\
             sink: {{ kind: http, url: \"{url}\", retry: {{ backoff: 50ms, max_backoff: 200ms }} }}\nstate: state.db\n",
            server.url()
        )
    };
    // Worker A's sink is down: it takes every message and holds it.
    let a = sandbox(&pipeline(format!("http://127.0.0.1:{}/orders", free_port())));
    let b = sandbox(&pipeline(sink.url("/orders")));
    let mut worker_a = Engine::start(&a.path().join("p.yaml"), &[], &a.path().join("engine.log"));
    let stream = js.get_stream("ORDERS").await.expect("stream");
    let pending = || {
        let stream = stream.clone();
        async move {
            let mut c: async_nats::jetstream::consumer::PullConsumer = stream.get_consumer("workers").await.ok()?;
            c.info().await.ok().map(|i| i.num_ack_pending)
        }
    };
    assert!(eventually(PATIENCE, || async { pending().await == Some(N) }).await, "{}", worker_a.stderr());
    // Worker B joins: for longer than ack_wait nothing comes its way, A
    // keeps its messages in progress.
    let mut worker_b = Engine::start(&b.path().join("p.yaml"), &[], &b.path().join("engine.log"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(sink.records().len(), 0, "A's messages went elsewhere while A held them");
    assert_eq!(pending().await, Some(N));
    // A dies without a word: after ack_wait its messages go to B.
    worker_a.kill();
    let all = eventually(PATIENCE, || {
        let n = sink.records().len();
        async move { n >= N }
    })
    .await;
    let ids: std::collections::BTreeSet<String> = sink.records().iter().map(|r| r["id"].to_string()).collect();
    assert!(all && ids.len() == N, "{} of {N} delivered by B\n{}", ids.len(), worker_b.stderr());
    assert_eq!(sink.records().len(), N, "each once");
    assert!(eventually(PATIENCE, || async { pending().await == Some(0) }).await, "B acknowledged them");
    assert_eq!(worker_b.terminate(PATIENCE).await.and_then(|s| s.code()), Some(0), "{}", worker_b.stderr());
}
