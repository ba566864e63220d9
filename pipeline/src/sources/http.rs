//! `kind: http`: the webhook endpoint — records POSTed to a path,
//! answered 2xx only once the payload is durably in the state store's
//! inbox: a sender that saw 200 can forget the payload, a sender that saw
//! anything else sends it again.
//!
//! Every check that can refuse a payload runs before it is stored,
//! cheapest first — size, then the signature, then the parse — so a bad
//! request costs no disk write. The processing itself happens elsewhere
//! ([`super::inbox`]); the endpoint only stores and wakes the feeder.

use std::future::Future as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use mapwright_engine::spec::{Located, get};
use sha2::Sha256;

use super::inbox::Writer;
use crate::Stop;
use crate::decode::{Entries, Pipe};
use crate::metrics::Metrics;
use crate::secrets::Secret;
use crate::state::InboxSize;

/// The keys of `kind: http`.
pub(crate) static KEYS: Block = Block::new(
    "source_http",
    "A webhook endpoint: POST a JSON object, an array or JSON Lines; `200 {\"accepted\": n, \"id\": …}` once stored, 401 bad signature, 413 too large, 400 unparsable (with the place), 404 another path, 405 another method.",
    &[
        Key::new("listen", Type::Text, "Address to listen on, `host:port`.")
            .required("the address to listen on: `listen: 127.0.0.1:8088`"),
        Key::new("path", Type::Text, "The URL path served (default `/`)."),
        Key::new("verify", Type::Block(&VERIFY), "Signature check of each request (Shopify's scheme)."),
        Key::new(
            "max_body",
            Type::Size,
            "Largest accepted body: bytes, or a size with a unit (`10MiB`, `512KiB`, `10MB`); larger gets 413 (default 10MiB). A body over 1MiB is spooled to disk beside the state store, never held whole in memory.",
        ),
        Key::new(
            "max_pending",
            Type::Count { min: 1 },
            "Records accepted and not yet done, at most: past it, webhooks get 503 with `Retry-After` (senders retry) until delivery catches up (default 100000).",
        ),
        Key::new(
            "max_pending_bytes",
            Type::Size,
            "Bytes of payloads accepted and not yet done, at most (default 1GiB); past it, 503 as for `max_pending`.",
        ),
        Key::new(
            "max_connections",
            Type::Count { min: 1 },
            "Connections open at once (default 4096); one more is answered 503 and closed.",
        ),
        Key::new(
            "header_timeout",
            Type::Duration,
            "A connection must send a whole request head within this, from when it opens or got its last answer (default 10s): slow and idle clients are closed.",
        ),
        Key::new(
            "body_timeout",
            Type::Duration,
            "The whole body must arrive within this (default 30s); slower gets 408.",
        ),
        Key::new(
            "idle_timeout",
            Type::Duration,
            "A connection that sends and receives nothing for this long is closed (default 60s).",
        ),
    ],
);

/// The keys of `verify:`.
pub(crate) static VERIFY: Block = Block::new(
    "verify",
    "The signature check of a webhook: the header carries the base64 HMAC-SHA256 of the raw body, keyed by the secret (Shopify's scheme).",
    &[
        Key::new("hmac_sha256_header", Type::Text, "The header carrying the base64 HMAC-SHA256 of the body.")
            .required("the header carrying the signature: `hmac_sha256_header: X-Shopify-Hmac-Sha256`"),
        Key::new("secret", Type::Text, "The shared secret; use `${NAME}` to read it from the environment.")
            .required("`secret: \"${SHOPIFY_WEBHOOK_SECRET}\"`"),
    ],
);

/// `kind: http` source.
#[derive(Clone, Debug)]
pub(crate) struct HttpSourceSpec {
    /// `listen:` — `host:port`.
    pub listen: Located<String>,
    /// `path:` (default `/`).
    pub path: String,
    /// `verify:` — the signature check.
    pub verify: Option<HmacVerify>,
    /// `max_body:` in bytes (default 10 MiB); larger requests get 413.
    pub max_body: usize,
    /// `max_pending:` records, `max_pending_bytes:` bytes in the inbox at
    /// most; past either, 503.
    pub max_pending: u64,
    pub max_pending_bytes: u64,
    /// `max_connections:` open at once.
    pub max_connections: usize,
    /// `header_timeout:`, `body_timeout:`, `idle_timeout:`.
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    /// Where large bodies are spooled: the state store's folder (set at
    /// start-up).
    pub spool: PathBuf,
}

/// `verify: { hmac_sha256_header, secret }`: the header carries the base64
/// HMAC-SHA256 of the raw body, keyed by `secret` (Shopify's scheme).
#[derive(Clone, Debug)]
pub(crate) struct HmacVerify {
    /// The header name.
    pub header: String,
    /// The shared secret.
    pub secret: Secret,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<HttpSourceSpec> {
    let listen = p.required_text(entries, node.loc, &KEYS, "listen");
    let path = match p.opt_text(entries, "path") {
        Some(path) if !path.value.starts_with('/') => {
            p.d.hint(
                SpecCode::BadValue,
                path.loc,
                format!("`path: {}` must start with `/`", path.value),
                format!("write `path: /{}`", path.value),
            );
            None
        }
        Some(path) => Some(path.value),
        None => Some("/".to_string()),
    };
    let verify = get(entries, "verify").map(|n| decode_verify(p, n));
    let max_body = match get(entries, "max_body") {
        Some(n) => p.size(n),
        None => Some(10 * 1024 * 1024),
    };
    let max_pending = match get(entries, "max_pending") {
        Some(n) => p.count(n, "max_pending").map(u64::from),
        None => Some(100_000),
    };
    let max_pending_bytes = match get(entries, "max_pending_bytes") {
        Some(n) => p.size(n).map(|n| n as u64),
        None => Some(1 << 30),
    };
    let max_connections = match get(entries, "max_connections") {
        Some(n) => p.count(n, "max_connections").map(|n| n as usize),
        None => Some(4096),
    };
    let header_timeout = p.duration(entries, "header_timeout").unwrap_or(Duration::from_secs(10));
    let body_timeout = p.duration(entries, "body_timeout").unwrap_or(Duration::from_secs(30));
    let idle_timeout = p.duration(entries, "idle_timeout").unwrap_or(Duration::from_secs(60));
    Some(HttpSourceSpec {
        listen: listen?,
        path: path?,
        verify: match verify {
            Some(v) => Some(v?),
            None => None,
        },
        max_body: max_body?,
        max_pending: max_pending?,
        max_pending_bytes: max_pending_bytes?,
        max_connections: max_connections?,
        header_timeout,
        body_timeout,
        idle_timeout,
        spool: PathBuf::new(),
    })
}

fn decode_verify(p: &mut Pipe, node: &Node) -> Option<HmacVerify> {
    let entries = p.d.map(node, "`verify:`")?;
    p.d.check_keys(entries, &VERIFY, "in `verify:`");
    let header = p.required_text(entries, node.loc, &VERIFY, "hmac_sha256_header");
    let secret = p.required_secret(entries, node.loc, &VERIFY, "secret");
    Some(HmacVerify { header: header?.value, secret: secret?.value })
}

/// Webhook bodies checked at once, each on a blocking thread: a burst
/// that outruns the cores waits as parked futures (which cost next to
/// nothing) rather than growing tokio's blocking pool to its 512 threads.
const CHECKING_AT_ONCE: usize = 4;

/// Bodies up to this are checked on the request's own task.
const CHECK_INLINE: usize = 64 << 10;

/// Bodies up to this are held in memory (and stored group-committed);
/// larger ones are spooled to disk as they arrive.
const IN_MEMORY: usize = 1 << 20;

/// How long a sender is asked to wait when the inbox is full.
const RETRY_AFTER_SECS: u64 = 5;

/// Everything a request handler of the endpoint needs.
struct Endpoint {
    spec: Arc<HttpSourceSpec>,
    /// The HMAC keyed with the secret, cloned per request.
    mac: Option<Hmac<Sha256>>,
    writer: Writer,
    metrics: Arc<Metrics>,
    /// Permits to check a body ([`CHECKING_AT_ONCE`]).
    checking: Arc<tokio::sync::Semaphore>,
}

/// Serves the webhook endpoint on an already bound listener until `stop`
/// fires; requests in flight then have [`crate::stop::SHUTDOWN_GRACE`] to
/// finish before it returns.
///
/// Only `POST <spec.path>` is served (another path gets 404, another method
/// 405). A request is checked in this order: the inbox is full (more than
/// `max_pending` records or `max_pending_bytes` waiting) — 503 with
/// `Retry-After`; a body larger than `spec.max_body` gets 413, one slower
/// than `body_timeout` 408; with `verify:`, a missing or wrong signature
/// (base64 HMAC-SHA256 of the raw body) gets 401; a body that is not a
/// JSON object, an array of objects, or JSON Lines of objects gets 400
/// with the place of the problem. The body is then stored in the inbox,
/// synced to disk (503 when that fails), and the answer is
/// `200 {"accepted": <records>, "id": <inbox id>}`.
///
/// Connections: at most `max_connections` at once (one more is answered
/// 503 and closed); a request head must arrive within `header_timeout` of
/// the connection opening or of its last answer, and a connection silent
/// both ways for `idle_timeout` is closed — slow or idle clients cannot
/// hold the endpoint.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    spec: Arc<HttpSourceSpec>,
    writer: Writer,
    metrics: Arc<Metrics>,
    stop: Stop,
) -> std::io::Result<()> {
    let mac = match &spec.verify {
        Some(v) => Some(Hmac::<Sha256>::new_from_slice(v.secret.expose().as_bytes()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the HMAC secret cannot key an HMAC-SHA256")
        })?),
        None => None,
    };
    let checking = Arc::new(tokio::sync::Semaphore::new(CHECKING_AT_ONCE));
    let endpoint = Arc::new(Endpoint { spec: spec.clone(), mac, writer, metrics, checking });
    let connections = Arc::new(tokio::sync::Semaphore::new(spec.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(spec.header_timeout).keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.clone().wait() => break,
            a = listener.accept() => a,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!(error = %e, "webhook endpoint: cannot accept a connection");
                if stop.sleep(Duration::from_millis(50)).await {
                    break;
                }
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tokio::spawn(turn_away(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(Idle::new(stream, spec.idle_timeout));
        let endpoint = endpoint.clone();
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let endpoint = endpoint.clone();
            async move { Ok::<_, std::convert::Infallible>(accept(&endpoint, req.map(axum::body::Body::new)).await) }
        });
        let conn = graceful.watch(http.serve_connection(io, service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(crate::stop::SHUTDOWN_GRACE) => {
            tracing::warn!(server = "webhook endpoint", grace = ?crate::stop::SHUTDOWN_GRACE, "requests still open after the stop were cut off");
        }
    }
    Ok(())
}

/// Answers a connection over `max_connections` with 503 and closes it.
async fn turn_away(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {RETRY_AFTER_SECS}\r\nContent-Type: application/json\r\nContent-Length: 41\r\nConnection: close\r\n\r\n{{\"error\":\"too many connections; retry\"}}\n"
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
}

/// A body as received: in memory, or spooled to a file.
enum Received {
    Memory(Bytes),
    Spooled { file: std::fs::File, len: u64 },
}

/// Answers one request to the endpoint.
async fn accept(endpoint: &Endpoint, req: Request) -> Response {
    let spec = &endpoint.spec;
    if req.uri().path() != spec.path {
        return refuse(StatusCode::NOT_FOUND, "no webhook endpoint here");
    }
    if req.method() != Method::POST {
        let mut res = refuse(StatusCode::METHOD_NOT_ALLOWED, "use POST");
        res.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("POST"));
        return res;
    }
    // Backpressure: while the inbox is full, senders are asked to come
    // back later (webhook senders retry), so memory and disk stay bounded
    // whatever the intake rate.
    let m = &endpoint.metrics;
    if m.inbox_records.get() as u64 >= spec.max_pending || m.inbox_bytes.get() as u64 >= spec.max_pending_bytes {
        m.refused_full.inc();
        let mut res = refuse(StatusCode::SERVICE_UNAVAILABLE, "the pipeline is catching up; send it again later");
        res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECS));
        return res;
    }
    // A declared length over the limit is refused before reading a byte;
    // an undeclared one is cut off while reading.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > spec.max_body as u64) {
        return too_large(spec.max_body);
    }
    let signature = spec.verify.as_ref().map(|v| req.headers().get(v.header.as_str()).cloned());
    let mut mac = endpoint.mac.clone();
    let body = match receive(req.into_body(), spec, mac.as_mut()).await {
        Ok(body) => body,
        Err(res) => return res,
    };
    if let (Some(verify), Some(mac)) = (&spec.verify, mac) {
        let Some(signature) = signature.flatten() else {
            tracing::warn!(path = %spec.path, header = %verify.header, "webhook refused: no signature header");
            return refuse(StatusCode::UNAUTHORIZED, &format!("missing signature header {}", verify.header));
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(signature.as_bytes().trim_ascii());
        // `verify_slice` compares in constant time: the answer's timing
        // tells nothing about how much of a forged signature was right.
        let valid = decoded.is_ok_and(|sig| mac.verify_slice(&sig).is_ok());
        if !valid {
            tracing::warn!(path = %spec.path, "webhook refused: wrong signature");
            return refuse(StatusCode::UNAUTHORIZED, "the signature does not match the body");
        }
    }
    let Ok(permit) = endpoint.checking.clone().acquire_owned().await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the payload could not be stored; send it again later");
    };
    let stored = match body {
        Received::Memory(bytes) => {
            // A typical webhook (a few KB) is checked in microseconds, right
            // here: a hop to a blocking thread would cost more than the
            // check. Larger bodies go to one.
            let checked = if bytes.len() <= CHECK_INLINE {
                drop(permit);
                Ok(count_records(&bytes))
            } else {
                let bytes = bytes.clone();
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    count_records(&bytes)
                })
                .await
            };
            match checked {
                Ok(Ok(records)) => endpoint.writer.put(bytes, records as u64).await.map(|id| (records, id)),
                Ok(Err(message)) => return refuse(StatusCode::BAD_REQUEST, &message),
                Err(e) => Err(e.to_string()),
            }
        }
        Received::Spooled { file, len } => {
            // Checked and stored from the file, in pieces; the inbox's
            // bookkeeping runs on the same thread, so a client hanging up
            // cannot leave a stored payload uncounted.
            let writer = endpoint.writer.clone();
            let metrics = endpoint.metrics.clone();
            let done = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                store_spooled(file, len, &writer, &metrics)
            })
            .await;
            match done {
                Ok(Ok(stored)) => Ok(stored),
                Ok(Err(Spool::Bad(message))) => return refuse(StatusCode::BAD_REQUEST, &message),
                Ok(Err(Spool::Failed(e))) => Err(e),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match stored {
        Ok((records, id)) => {
            tracing::debug!(path = %spec.path, records, id, "webhook payload stored");
            (StatusCode::OK, axum::Json(serde_json::json!({ "accepted": records, "id": id }))).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook payload not stored");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "the payload could not be stored; send it again later")
        }
    }
}

/// Reads a body within `max_body` and `body_timeout`, feeding the HMAC as
/// it comes; past [`IN_MEMORY`] it goes to a file in the spool folder.
async fn receive(
    body: axum::body::Body,
    spec: &HttpSourceSpec,
    mut mac: Option<&mut Hmac<Sha256>>,
) -> Result<Received, Response> {
    use futures_util::StreamExt as _;
    use std::io::Write as _;
    let deadline = tokio::time::Instant::now() + spec.body_timeout;
    let mut stream = body.into_data_stream();
    let mut memory: Vec<u8> = Vec::new();
    let mut spooled: Option<std::fs::File> = None;
    let mut len: u64 = 0;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return Err(refuse(
                    StatusCode::REQUEST_TIMEOUT,
                    &format!("the body did not arrive within {:?}", spec.body_timeout),
                ));
            }
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(refuse(StatusCode::BAD_REQUEST, "cannot read the request body")),
            Ok(Some(Ok(chunk))) => chunk,
        };
        len += chunk.len() as u64;
        if len > spec.max_body as u64 {
            return Err(too_large(spec.max_body));
        }
        if let Some(mac) = mac.as_deref_mut() {
            mac.update(&chunk);
        }
        let file = match &mut spooled {
            Some(f) => f,
            None if memory.len() + chunk.len() <= IN_MEMORY => {
                memory.extend_from_slice(&chunk);
                continue;
            }
            None => {
                let mut f = tempfile::tempfile_in(&spec.spool).map_err(|e| {
                    tracing::error!(error = %e, folder = %spec.spool.display(), "cannot spool a large webhook body");
                    refuse(StatusCode::SERVICE_UNAVAILABLE, "the payload could not be stored; send it again later")
                })?;
                let written = f.write_all(&memory);
                memory = Vec::new();
                if written.is_err() {
                    return Err(refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the payload could not be stored; send it again later",
                    ));
                }
                spooled.insert(f)
            }
        };
        // A local file write of one chunk; the spool is beside the state
        // store, on the same disk the inbox is synced to.
        if file.write_all(&chunk).is_err() {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "the payload could not be stored; send it again later",
            ));
        }
    }
    Ok(match spooled {
        Some(file) => Received::Spooled { file, len },
        None => Received::Memory(Bytes::from(memory)),
    })
}

enum Spool {
    Bad(String),
    Failed(String),
}

/// Checks a spooled body and stores it from the file. Blocking.
fn store_spooled(mut file: std::fs::File, len: u64, writer: &Writer, metrics: &Metrics) -> Result<(usize, i64), Spool> {
    use std::io::Seek as _;
    file.rewind().map_err(|e| Spool::Failed(e.to_string()))?;
    let records = count_records_in(std::io::BufReader::new(&file)).map_err(Spool::Bad)?;
    file.rewind().map_err(|e| Spool::Failed(e.to_string()))?;
    let id = writer
        .state()
        .inbox_put_from(&mut std::io::BufReader::new(&file), len, records as u64)
        .map_err(|e| Spool::Failed(e.to_string()))?;
    metrics.inbox_moved(1, InboxSize { payloads: 1, records: records as u64, bytes: len });
    writer.wake();
    Ok((records, id))
}

/// The number of records in a body, or what is wrong with it: every record
/// must parse and be an object, and there must be one at least. Checked
/// without building the records (serde's `IgnoredAny`), so a large body
/// costs no memory beyond itself.
pub(crate) fn count_records(body: &[u8]) -> Result<usize, String> {
    count_records_in(body)
}

/// [`count_records`] over a reader (a spooled body).
fn count_records_in(mut reader: impl std::io::BufRead) -> Result<usize, String> {
    // Blank lines before the first record: skipped here, counted back into
    // the positions of problems.
    let mut blank_lines = 0;
    let first = loop {
        let buf = reader.fill_buf().map_err(|e| format!("body: cannot read: {e}"))?;
        let Some(&b) = buf.first() else { break None };
        if !b.is_ascii_whitespace() {
            break Some(b);
        }
        blank_lines += usize::from(b == b'\n');
        reader.consume(1);
    };
    let located = |e: serde_json::Error| format!("body:{}:{}: invalid JSON: {e}", e.line() + blank_lines, e.column());
    if first == Some(b'[') {
        // An array of records.
        let mut de = serde_json::Deserializer::from_reader(reader);
        let kinds: Vec<Kind> = serde::Deserialize::deserialize(&mut de).map_err(located)?;
        de.end().map_err(located)?;
        if let Some((i, Kind::Other(kind))) = kinds.iter().enumerate().find(|(_, k)| **k != Kind::Object) {
            return Err(format!("body[{i}]: a record must be a JSON object, not {kind}"));
        }
        if kinds.is_empty() {
            return Err("the body holds no record".to_string());
        }
        return Ok(kinds.len());
    }
    // Records one after another: JSON Lines, or one pretty-printed object.
    let mut n = 0;
    for kind in serde_json::Deserializer::from_reader(reader).into_iter::<Kind>() {
        match kind.map_err(located)? {
            Kind::Object => n += 1,
            Kind::Other(kind) => {
                return Err(format!("body: record {}: a record must be a JSON object, not {kind}", n + 1));
            }
        }
    }
    if n == 0 {
        return Err("the body holds no record".to_string());
    }
    Ok(n)
}

/// What one record of a body is: an object (its contents skipped) or
/// something else (named in the refusal).
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Other(&'static str),
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Kind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Kind::Object)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Kind::Other("array"))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Kind, E> {
                Ok(Kind::Other("bool"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Kind, E> {
                Ok(Kind::Other("number"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Kind, E> {
                Ok(Kind::Other("number"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Kind, E> {
                Ok(Kind::Other("number"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Kind, E> {
                Ok(Kind::Other("string"))
            }
            fn visit_unit<E>(self) -> Result<Kind, E> {
                Ok(Kind::Other("null"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A connection that is closed when nothing goes either way for a while.
struct Idle {
    stream: tokio::net::TcpStream,
    timeout: Duration,
    deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Idle {
    fn new(stream: tokio::net::TcpStream, timeout: Duration) -> Idle {
        Idle { stream, timeout, deadline: Box::pin(tokio::time::sleep(timeout)) }
    }

    fn touch(&mut self) {
        self.deadline.as_mut().reset(tokio::time::Instant::now() + self.timeout);
    }

    fn expired(&mut self, cx: &mut std::task::Context<'_>) -> bool {
        self.deadline.as_mut().poll(cx).is_ready()
    }
}

fn idle_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "the connection was idle too long")
}

impl tokio::io::AsyncRead for Idle {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut self.stream).poll_read(cx, buf) {
            std::task::Poll::Ready(r) => {
                if buf.filled().len() > before {
                    self.touch();
                }
                std::task::Poll::Ready(r)
            }
            std::task::Poll::Pending if self.expired(cx) => std::task::Poll::Ready(Err(idle_error())),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for Idle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match std::pin::Pin::new(&mut self.stream).poll_write(cx, data) {
            std::task::Poll::Ready(r) => {
                if matches!(r, Ok(n) if n > 0) {
                    self.touch();
                }
                std::task::Poll::Ready(r)
            }
            std::task::Poll::Pending if self.expired(cx) => std::task::Poll::Ready(Err(idle_error())),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A refusal: the status and `{"error": message}`.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn too_large(max: usize) -> Response {
    refuse(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is larger than {max} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_counted_and_problems_located() {
        assert_eq!(count_records(br#"{"a":1}"#), Ok(1));
        assert_eq!(count_records(br#"[{"a":1},{"a":2}]"#), Ok(2));
        assert_eq!(count_records(b"{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\n"), Ok(3));
        assert_eq!(count_records(b"{\n  \"a\": 1\n}\n"), Ok(1), "pretty JSON is one record");
        assert_eq!(count_records(b" \n"), Err("the body holds no record".to_string()));
        let bad = count_records(b"{\"a\":1}\n{\"a\":}\n").unwrap_err();
        assert!(bad.starts_with("body:2:"), "{bad}");
        let not_object = count_records(br#"[{"a":1}, 2]"#).unwrap_err();
        assert!(not_object.contains("body[1]") && not_object.contains("not number"), "{not_object}");
    }
}
