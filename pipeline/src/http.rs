//! HTTP at both ends of a pipeline: the webhook endpoint that a source
//! serves ([`serve_source`]) and the client that a sink sends with
//! ([`HttpSink`]).
//!
//! The endpoint answers 2xx only once the payload is durably in the state
//! store's inbox (SPEC §5): a sender that saw 200 can forget the payload,
//! a sender that saw anything else sends it again. Every check that can
//! refuse a payload runs before it is stored, cheapest first — size, then
//! the signature, then the parse — so a bad request costs no disk write.
//! The processing itself happens elsewhere; the endpoint only stores and
//! wakes the processor.
//!
//! The sink sends one record per request and retries what may succeed
//! later (no connection, a timeout, 408, 429, 5xx) with exponential backoff
//! and jitter, so that many pipelines restarting together do not hammer a
//! recovering server in step. Every try carries the same idempotency key,
//! which lets the server drop a repeat of a request whose answer was lost.
//! A 4xx other than 408 and 429 is final: the record goes to the dead
//! letter with the status and the start of the answer.
//!
//! Credentials stay out of logs and reasons: header values are marked
//! sensitive and scrubbed from any text that reaches a reason, and the URL
//! is shown without its user, password and query.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::Rng as _;
use reqwest::header::{HeaderName, HeaderValue};
use sha2::Sha256;

use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::spec::{HttpSinkSpec, HttpSourceSpec, Retry};
use crate::state::{State, StateError};
use crate::Stop;
use mapwright_engine::input::{self, Source};

/// How much of a refusing server's answer goes into a reason.
const EXCERPT_BYTES: usize = 512;

/// Webhook bodies parsed and stored at once, each on a blocking thread.
///
/// Inserts into the inbox take turns (one synced write at a time), so more
/// threads than this only queue behind the inbox's lock, and a burst that
/// outruns the disk would grow tokio's blocking pool to its 512 threads,
/// each with its own stack and allocator heap (seen: 1.6 GB resident at
/// 1000 webhooks/s on 2 cores). A request over the limit waits for a
/// permit as a parked future, which costs next to nothing.
const STORING_AT_ONCE: usize = 4;

/// Everything a request handler of the endpoint needs.
struct Endpoint {
    spec: Arc<HttpSourceSpec>,
    /// The HMAC keyed with the secret, cloned per request.
    mac: Option<Hmac<Sha256>>,
    state: State,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    /// Permits to parse and store a body ([`STORING_AT_ONCE`]).
    storing: Arc<tokio::sync::Semaphore>,
}

/// Serves the webhook endpoint on an already bound listener until `stop`
/// fires; requests in flight then have [`crate::SHUTDOWN_GRACE`] to finish
/// before it returns.
///
/// Only `POST <spec.path>` is served (another path gets 404, another method
/// 405). A request is checked in this order: a body larger than
/// `spec.max_body` gets 413; with `verify:`, a missing or wrong signature
/// (base64 HMAC-SHA256 of the raw body) gets 401; a body that is not a JSON
/// object, an array of objects, or JSON Lines of objects gets 400 with the
/// place of the problem. The body is then stored in the inbox, synced to
/// disk (503 when that fails), the processor is woken, and the answer is
/// `200 {"accepted": <records>, "id": <inbox id>}`.
///
/// ```no_run
/// # async fn run(spec: std::sync::Arc<mapwright_pipeline::spec::HttpSourceSpec>,
/// #     state: mapwright_pipeline::state::State) -> std::io::Result<()> {
/// use std::sync::Arc;
/// use mapwright_pipeline::{http, metrics::Metrics, Stop};
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8088").await?;
/// let (_handle, stop) = Stop::new();
/// let wake = Arc::new(tokio::sync::Notify::new());
/// http::serve_source(listener, spec, state, Arc::new(Metrics::new("orders")), wake, stop).await
/// # }
/// ```
pub async fn serve_source(
    listener: tokio::net::TcpListener,
    spec: Arc<HttpSourceSpec>,
    state: State,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    stop: Stop,
) -> std::io::Result<()> {
    let mac = match &spec.verify {
        Some(v) => Some(Hmac::<Sha256>::new_from_slice(v.secret.expose().as_bytes()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the HMAC secret cannot key an HMAC-SHA256")
        })?),
        None => None,
    };
    let max_body = spec.max_body;
    let storing = Arc::new(tokio::sync::Semaphore::new(STORING_AT_ONCE));
    let endpoint = Arc::new(Endpoint { spec, mac, state, metrics, wake, storing });
    // One fallback handler rather than a route: the path comes from the
    // pipeline file, and a path that axum's router would read as a pattern
    // (`/{id}`) or refuse must still mean itself.
    let app = axum::Router::new()
        .fallback(move |req: Request| {
            let endpoint = endpoint.clone();
            async move { accept(&endpoint, req).await }
        })
        .layer(DefaultBodyLimit::max(max_body));
    crate::serve_until(listener, app, stop, "webhook endpoint").await
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
    // A declared length over the limit is refused before reading a byte;
    // an undeclared one is cut off by the limited body below.
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > spec.max_body as u64) {
        return too_large(spec.max_body);
    }
    let signature = spec.verify.as_ref().map(|v| req.headers().get(v.header.as_str()).cloned());
    let body = match Bytes::from_request(req, &()).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => return too_large(spec.max_body),
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "cannot read the request body"),
    };
    if let (Some(verify), Some(mac)) = (&spec.verify, &endpoint.mac) {
        let Some(signature) = signature.flatten() else {
            tracing::warn!(path = %spec.path, header = %verify.header, "webhook refused: no signature header");
            return refuse(StatusCode::UNAUTHORIZED, &format!("missing signature header {}", verify.header));
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(signature.as_bytes().trim_ascii());
        // `verify_slice` compares in constant time: the answer's timing
        // tells nothing about how much of a forged signature was right.
        let valid = decoded.is_ok_and(|sig| mac.clone().chain_update(&body).verify_slice(&sig).is_ok());
        if !valid {
            tracing::warn!(path = %spec.path, "webhook refused: wrong signature");
            return refuse(StatusCode::UNAUTHORIZED, "the signature does not match the body");
        }
    }
    let (state, metrics, wake) = (endpoint.state.clone(), endpoint.metrics.clone(), endpoint.wake.clone());
    // Parsing a large body and the synced insert both block; and the
    // bookkeeping after the insert runs on the same thread so that a client
    // hanging up (which drops this future) cannot leave a stored payload
    // uncounted or the processor asleep. The permit moves to that thread
    // too: it is given back when the store is done, not when this future is.
    let Ok(permit) = endpoint.storing.clone().acquire_owned().await else {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "the payload could not be stored; send it again later");
    };
    let stored = tokio::task::spawn_blocking(move || -> Stored {
        let _permit = permit;
        let records = match count_records(&body) {
            Ok(n) => n,
            Err(message) => return Stored::Bad(message),
        };
        match state.inbox_put(&body) {
            Ok(id) => {
                metrics.inbox.inc();
                wake.notify_one();
                Stored::Ok { records, id }
            }
            Err(e) => Stored::Failed(e),
        }
    })
    .await;
    match stored {
        Ok(Stored::Ok { records, id }) => {
            tracing::debug!(path = %spec.path, records, id, "webhook payload stored");
            (StatusCode::OK, axum::Json(serde_json::json!({ "accepted": records, "id": id }))).into_response()
        }
        Ok(Stored::Bad(message)) => refuse(StatusCode::BAD_REQUEST, &message),
        Ok(Stored::Failed(e)) => {
            tracing::error!(error = %e, "webhook payload not stored");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "the payload could not be stored; send it again later")
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook payload not stored");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "the payload could not be stored; send it again later")
        }
    }
}

/// What became of a body handed to the blocking thread.
enum Stored {
    Ok { records: usize, id: i64 },
    Bad(String),
    Failed(StateError),
}

/// The number of records in a body, or what is wrong with it: every record
/// must parse and be an object, and there must be one at least.
fn count_records(body: &[u8]) -> Result<usize, String> {
    let source = Source::Bytes { name: "body".to_string(), bytes: Arc::from(body) };
    let records = input::open(&source, None, None).map_err(|e| e.to_string())?;
    let mut n = 0;
    for record in records {
        match record.value {
            Ok(v) if v.as_object().is_some() => n += 1,
            Ok(v) => return Err(format!("{}: a record must be a JSON object, not {}", record.origin, v.kind().name())),
            Err(bad) => return Err(bad.message),
        }
    }
    if n == 0 {
        return Err("the body holds no record".to_string());
    }
    Ok(n)
}

/// A refusal: the status and `{"error": message}`.
fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

fn too_large(max: usize) -> Response {
    refuse(StatusCode::PAYLOAD_TOO_LARGE, &format!("the body is larger than {max} bytes"))
}

/// The client of a `kind: http` sink: one record per request, retried with
/// backoff, each try with the same idempotency key.
///
/// ```no_run
/// # async fn run(spec: &mapwright_pipeline::spec::HttpSinkSpec,
/// #     d: &mapwright_pipeline::delivery::Delivery) -> Result<(), String> {
/// use std::sync::Arc;
/// use mapwright_pipeline::{delivery::Sent, http::HttpSink, metrics::Metrics, Stop};
///
/// let sink = HttpSink::new(spec, Arc::new(Metrics::new("orders")))?;
/// let (_handle, stop) = Stop::new();
/// match sink.send(d, &stop).await {
///     Sent::Delivered => {}
///     Sent::Rejected(reason) | Sent::GaveUp(reason) => eprintln!("to the dead letter: {reason}"),
///     Sent::Stopped => {}
/// }
/// # Ok(())
/// # }
/// ```
pub struct HttpSink {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The URL without user, password, query or fragment, for logs.
    shown: String,
    method: reqwest::Method,
    idempotency: Option<HeaderName>,
    retry: Retry,
    timeout: Duration,
    /// Texts that must not appear in a reason: header values (and their
    /// last word, the token after `Bearer`), the URL's password and query.
    secrets: Vec<String>,
    metrics: Arc<Metrics>,
}

impl HttpSink {
    /// A client for the sink: `spec.timeout` per request, `spec.headers` on
    /// every request, redirects not followed (a redirect means the URL in
    /// the pipeline file needs fixing). An invalid URL, method or header is
    /// an error that names the header, never its value.
    pub fn new(spec: &HttpSinkSpec, metrics: Arc<Metrics>) -> Result<HttpSink, String> {
        let url = reqwest::Url::parse(spec.url.value.expose()).map_err(|e| format!("url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url: the scheme must be http or https, not {}", url.scheme()));
        }
        let method = reqwest::Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("method {}: not an HTTP method", spec.method))?;
        let mut headers = reqwest::header::HeaderMap::new();
        let mut secrets = Vec::new();
        for (name, value) in &spec.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("header {name}: not a valid header name"))?;
            let mut v = HeaderValue::from_str(value.expose())
                .map_err(|_| format!("header {name}: its value is not a valid header value (a newline?)"))?;
            v.set_sensitive(true);
            headers.insert(header, v);
            secrets.push(value.expose().to_string());
            if let Some(last) = value.expose().split_whitespace().last() {
                secrets.push(last.to_string());
            }
        }
        let idempotency = match &spec.idempotency_header {
            Some(name) => Some(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("idempotency_header {name}: not a valid header name"))?,
            ),
            None => None,
        };
        secrets.extend(url.password().map(str::to_string));
        secrets.extend(url.query().map(str::to_string));
        // Scrubbing a two-letter value would garble reasons and hide nothing.
        secrets.retain(|s| s.len() >= 4);
        let client = reqwest::Client::builder()
            .timeout(spec.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        let shown = shown_url(&url);
        Ok(HttpSink {
            client,
            url,
            shown,
            method,
            idempotency,
            retry: spec.retry,
            timeout: spec.timeout,
            secrets,
            metrics,
        })
    }

    /// Sends one record: the body is `d.json` (`Content-Type:
    /// application/json`), with the idempotency header when configured.
    ///
    /// Connection failures, timeouts, 408, 429 and 5xx are retried, at most
    /// `retry.attempts` tries in all, after waits that start at
    /// `retry.backoff` and double up to `retry.max_backoff`, with equal
    /// jitter (half the wait fixed, half random); a `Retry-After` answer
    /// (seconds or an HTTP date) sets the wait instead, capped the same way.
    /// Each retry counts in `metrics.retries`, each try's latency in
    /// `metrics.sink_latency`.
    ///
    /// 2xx is [`Sent::Delivered`]; any other status is [`Sent::Rejected`]
    /// with the status and the first 512 bytes of the answer; when the tries
    /// run out it is [`Sent::GaveUp`] with the last reason; a stop during a
    /// wait is [`Sent::Stopped`] at once.
    pub async fn send(&self, d: &Delivery, stop: &Stop) -> Sent {
        let key = self.idempotency.as_ref().map(|name| (name, key_header(&d.idempotency_key())));
        let attempts = self.retry.attempts.max(1);
        let mut reason = String::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.metrics.retries.inc();
            }
            let mut request = self
                .client
                .request(self.method.clone(), self.url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .body(d.json.clone());
            if let Some((name, value)) = &key {
                request = request.header((*name).clone(), value.clone());
            }
            let started = Instant::now();
            let result = request.send().await;
            self.metrics.sink_latency.observe(started.elapsed().as_secs_f64());
            let (status, retry_after) = match result {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return Sent::Delivered;
                    }
                    let retry_after = retry_after(response.headers());
                    let excerpt = excerpt(response).await;
                    reason = self.scrub(if excerpt.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        format!("HTTP {status}: {excerpt}")
                    });
                    if !retryable(status) {
                        return Sent::Rejected(reason);
                    }
                    (Some(status.as_u16()), retry_after)
                }
                Err(e) => {
                    reason = self.scrub(self.describe(e));
                    (None, None)
                }
            };
            if attempt == attempts {
                break;
            }
            let wait = match retry_after {
                Some(wait) => wait.min(self.retry.max_backoff),
                None => backoff(self.retry, attempt),
            };
            tracing::debug!(
                sink = %self.shown,
                attempt,
                status,
                wait_ms = wait.as_millis() as u64,
                reason = %reason,
                "retrying"
            );
            tokio::select! {
                biased;
                _ = stop.clone().wait() => return Sent::Stopped,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        tracing::debug!(sink = %self.shown, attempts, reason = %reason, "giving up");
        Sent::GaveUp(reason)
    }

    /// A transport error as one line, without the URL (it may carry
    /// credentials), with the cause that says what happened.
    fn describe(&self, e: reqwest::Error) -> String {
        let what = if e.is_timeout() {
            format!("no answer within {:?}", self.timeout)
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            "request failed".to_string()
        };
        let mut cause = None;
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = Some(s.to_string());
            source = s.source();
        }
        match cause {
            Some(cause) => format!("{} {}: {what}: {cause}", self.method, self.shown),
            None => format!("{} {}: {what}", self.method, self.shown),
        }
    }

    /// Replaces every secret in `text` by `***`.
    fn scrub(&self, mut text: String) -> String {
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }
}

/// Whether a status may turn out better on a later try.
fn retryable(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// The wait after try number `attempt` (1 for the first): the backoff
/// doubled per try and capped, then equal jitter — at least half of it, so
/// a retry never comes at once, and a random rest, so that clients do not
/// retry in step.
fn backoff(retry: Retry, attempt: u32) -> Duration {
    let doubled = retry.backoff.saturating_mul(1u32 << (attempt - 1).min(30));
    let base = doubled.min(retry.max_backoff);
    let half = base / 2;
    let jitter = rand::rng().random_range(0..=(base - half).as_nanos() as u64);
    half + Duration::from_nanos(jitter)
}

/// `Retry-After`: delay seconds, or an HTTP date (a wait until then; none
/// when it is past).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    static PARSER: mapwright_dsl::jiff::fmt::rfc2822::DateTimeParser =
        mapwright_dsl::jiff::fmt::rfc2822::DateTimeParser::new();
    let at = PARSER.parse_timestamp(text).ok()?;
    let wait = at.duration_since(mapwright_dsl::jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// The first [`EXCERPT_BYTES`] of an answer, read no further, as text.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(EXCERPT_BYTES);
    // A cut through a UTF-8 character shows as one replacement character.
    String::from_utf8_lossy(&bytes).trim().to_string()
}

/// The idempotency key as a header value. A key holding a control
/// character (a record key with a newline) has those escaped as `%XX`,
/// the same way on every try.
fn key_header(key: &str) -> HeaderValue {
    if let Ok(v) = HeaderValue::from_str(key) {
        return v;
    }
    let mut escaped = String::with_capacity(key.len() + 8);
    for c in key.chars() {
        if c.is_ascii_control() && c != '\t' {
            escaped.push_str(&format!("%{:02X}", c as u32));
        } else {
            escaped.push(c);
        }
    }
    HeaderValue::from_str(&escaped).unwrap_or(HeaderValue::from_static("invalid-key"))
}

/// A URL fit for a log: scheme, host, port and path only.
fn shown_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    // Both fail only for URLs that cannot have a user (`data:`), which
    // have none to hide.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let retry = Retry { attempts: 10, backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        for _ in 0..50 {
            let first = backoff(retry, 1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let third = backoff(retry, 3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400), "{third:?}");
            let late = backoff(retry, 40);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1), "{late:?}");
        }
        let zero = Retry { attempts: 2, backoff: Duration::ZERO, max_backoff: Duration::ZERO };
        assert_eq!(backoff(zero, 1), Duration::ZERO);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a date in the past means now");
        let later = mapwright_dsl::jiff::Timestamp::now() + mapwright_dsl::jiff::SignedDuration::from_secs(120);
        let date =
            mapwright_dsl::jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_rfc9110_string(&later).unwrap();
        h.insert(header::RETRY_AFTER, date.parse().unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{wait:?}");
        h.insert(header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn what_may_succeed_later_is_retried() {
        for (code, again) in
            [(500, true), (502, true), (503, true), (408, true), (429, true), (400, false), (404, false)]
        {
            assert_eq!(retryable(reqwest::StatusCode::from_u16(code).unwrap()), again, "{code}");
        }
        assert!(!retryable(reqwest::StatusCode::MOVED_PERMANENTLY), "a redirect needs a fixed url, not patience");
    }

    #[test]
    fn the_shown_url_has_no_credentials() {
        let url = reqwest::Url::parse("https://user:pw@erp.example:8443/api/orders?token=abc#x").unwrap();
        assert_eq!(shown_url(&url), "https://erp.example:8443/api/orders");
    }

    #[test]
    fn keys_with_control_characters_are_escaped() {
        assert_eq!(key_header("SO-1:abcd").to_str().unwrap(), "SO-1:abcd");
        assert_eq!(key_header("a\nb:ff").to_str().unwrap(), "a%0Ab:ff");
    }

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
