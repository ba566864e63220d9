//! What the command-line tests share (the package's one test-support
//! module): the binary under test, and for the tests that run `mapwright
//! run` over real HTTP a receiving server that records what an HTTP sink
//! delivered, a running engine process that can be killed, stopped or
//! waited for, webhook signing, free loopback ports and a Prometheus text
//! reader. The PostgreSQL tests' throwaway server is the pipeline crate's
//! (`postgres`).
//!
//! Everything listens on 127.0.0.1 only. Each test binary uses a part of
//! this module, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A real PostgreSQL server for tests, from the pipeline crate's tests.
#[path = "../../pipeline/src/tests/pg_server.rs"]
pub mod postgres;

/// The binary under test, with colours off and the default log level.
pub fn mapwright() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mapwright"));
    c.env("NO_COLOR", "1").env_remove("RUST_LOG");
    c
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local address").port()
}

/// The webhook signature of a body: base64 HMAC-SHA256 keyed by `secret`
/// (Shopify's scheme, and the one `verify:` checks).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length works");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// One request that the receiver answered with 2xx.
#[derive(Clone, Debug)]
pub struct Receipt {
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
    /// Every header.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Receipt {
    /// The body as JSON (null when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_default()
    }
}

/// How the receiver answers a request, given its headers and body: a
/// status and a body. Called under the receiver's lock, so requests are
/// answered in the order they call it.
pub type Answer = Box<dyn FnMut(&HeaderMap, &str) -> (u16, String) + Send>;

struct Log {
    answer: Answer,
    receipts: Vec<Receipt>,
    /// Statuses of the requests answered with something other than 2xx.
    refused: Vec<u16>,
    /// When each of those arrived.
    refused_at: Vec<Instant>,
    /// Records in the 2xx receipts (a JSON array counts its elements).
    records: usize,
}

/// An HTTP server standing in for an ERP: answers every request on any path
/// as `Answer` decides and keeps the 2xx ones. Shuts down when dropped.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// Starts a receiver on a free loopback port (in the current tokio runtime).
    pub async fn start(answer: Answer) -> Receiver {
        Receiver::start_at("127.0.0.1:0", answer).await
    }

    /// Starts a receiver on `addr` (a port that was closed until now).
    pub async fn start_at(addr: &str, answer: Answer) -> Receiver {
        let log = Arc::new(Mutex::new(Log {
            answer,
            receipts: Vec::new(),
            refused: Vec::new(),
            refused_at: Vec::new(),
            records: 0,
        }));
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let handler_log = log.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let log = handler_log.clone();
            async move {
                let body = String::from_utf8_lossy(&body).into_owned();
                let mut log = log.lock().unwrap_or_else(|p| p.into_inner());
                let (status, answer) = (log.answer)(&headers, &body);
                if (200..300).contains(&status) {
                    let idempotency_key =
                        headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
                    let at = Instant::now();
                    log.records += match body.trim_start().as_bytes().first() {
                        Some(b'[') => serde_json::from_str::<Vec<serde::de::IgnoredAny>>(&body).map_or(1, |v| v.len()),
                        _ => 1,
                    };
                    log.receipts.push(Receipt { idempotency_key, headers, body, at });
                } else {
                    log.refused.push(status);
                    log.refused_at.push(Instant::now());
                }
                (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), answer)
            }
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver { addr, log, _shutdown: tx }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Looks at the receipts so far.
    pub fn with_receipts<R>(&self, f: impl FnOnce(&[Receipt]) -> R) -> R {
        f(&self.log.lock().unwrap_or_else(|p| p.into_inner()).receipts)
    }

    /// A copy of the receipts so far.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.with_receipts(<[Receipt]>::to_vec)
    }

    /// Every record received so far: each receipt's body, or each element
    /// of a receipt whose body is an array (a batch).
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.with_receipts(|r| {
            r.iter()
                .flat_map(|r| match r.json() {
                    serde_json::Value::Array(items) => items,
                    one => vec![one],
                })
                .collect()
        })
    }

    /// How many records the 2xx receipts carried (cheap: counted on arrival).
    pub fn record_count(&self) -> usize {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).records
    }

    /// When each refused request arrived.
    pub fn refused_at(&self) -> Vec<Instant> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).refused_at.clone()
    }

    /// The statuses of refused requests so far.
    pub fn refused(&self) -> Vec<u16> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).refused.clone()
    }
}

/// A running `mapwright run`, its standard error going to a file (a pipe
/// could fill up and stall it). Killed when dropped.
pub struct Engine {
    child: Option<Child>,
    log: PathBuf,
}

impl Engine {
    /// Starts `mapwright run <pipeline>` with extra environment variables,
    /// appending its standard error to `log`.
    pub fn start(pipeline: &Path, env: &[(&str, &str)], log: &Path) -> Engine {
        let err = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("open the engine log");
        let child = mapwright()
            .arg("run")
            .arg(pipeline)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start mapwright");
        Engine { child: Some(child), log: log.to_path_buf() }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// What it wrote to standard error (every run that shared the log).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Its exit status, if it exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub async fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        loop {
            if let Some(s) = self.exited() {
                self.child = None;
                return Some(s);
            }
            if started.elapsed() > timeout {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM (through `kill -TERM`), then waits up to `timeout` for the
    /// exit. `None` when it did not exit in time (it is then killed).
    pub async fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.pid().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = self.wait(timeout).await;
        if status.is_none() {
            self.kill();
        }
        status
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every 50 ms until it holds or `timeout` passes; whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if started.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether `GET http://<addr>/health` answers 200.
pub async fn healthy(client: &reqwest::Client, addr: &str) -> bool {
    match client.get(format!("http://{addr}/health")).timeout(Duration::from_secs(2)).send().await {
        Ok(r) => r.status().is_success(),
        Err(_) => false,
    }
}

/// `GET http://<addr>/metrics`, as text (`None` when it does not answer).
pub async fn metrics(client: &reqwest::Client, addr: &str) -> Option<String> {
    let r = client.get(format!("http://{addr}/metrics")).timeout(Duration::from_secs(2)).send().await.ok()?;
    r.text().await.ok()
}

/// The value of an unlabelled metric in Prometheus text.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The JSON lines of a file (none when it does not exist).
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", path.display())))
        .collect()
}

/// Copies `from` (a folder of the repository) to the same place under
/// `to`, so relative paths between copied folders still hold.
pub fn copy_folder(root: &Path, from: &str, to: &Path) {
    let target = to.join(from);
    std::fs::create_dir_all(&target).expect("create folder");
    for entry in std::fs::read_dir(root.join(from)).expect("read folder") {
        let entry = entry.expect("folder entry");
        let path = entry.path();
        if path.is_file() {
            std::fs::copy(&path, target.join(entry.file_name())).expect("copy file");
        } else if path.is_dir() && entry.file_name() != "out" {
            copy_folder(root, &format!("{from}/{}", entry.file_name().to_string_lossy()), to);
        }
    }
}
