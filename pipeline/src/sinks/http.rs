//! `kind: http` sink: records sent to an endpoint, one per request or
//! several (`batch:`, `body:`), each request with an idempotency key.
//!
//! What may succeed later (no connection, a timeout, 408, 429, 5xx) is
//! tried again by the sink's queue (`scheduler.rs`, the pipeline's one
//! retry policy); a `Retry-After` answer sets the wait. Every try carries the same
//! idempotency key, which lets the server drop a repeat of a request whose
//! answer was lost. A 4xx other than 408 and 429 is final: the record goes
//! to the dead letter with the status and the start of the answer.
//!
//! Credentials stay out of logs and reasons: header values are marked
//! sensitive and scrubbed from any text that reaches a reason, and the URL
//! is shown without its user, password and query. Redirects are not
//! followed: a redirect means the URL in the pipeline file needs fixing.

use std::time::Duration;

use axum::http::{HeaderMap, header};
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use mapwright_engine::spec::{Located, get};
use reqwest::header::{HeaderName, HeaderValue};

use super::Failure;
use crate::decode::{Entries, Pipe};
use crate::delivery::Delivery;
use crate::secrets::{Scrubber, Secret};

/// The methods that can carry a record.
const METHODS: [&str; 3] = ["POST", "PUT", "PATCH"];

/// `body:` words and what they mean.
const BODIES: [(&str, Body); 3] = [("single", Body::Single), ("array", Body::Array), ("jsonl", Body::Jsonl)];
const BODY_WORDS: [&str; 3] = mapwright_engine::spec::keys::names(&BODIES);

/// How a request carries its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    /// One record, its JSON object as the body.
    Single,
    /// A JSON array of the records.
    Array,
    /// JSON Lines, one record per line.
    Jsonl,
}

/// The keys of `kind: http`.
pub(crate) static KEYS: Block = Block::new(
    "sink_http",
    "Records sent to an HTTP endpoint with an idempotency key: by default one record per request (its JSON as the body), up to `concurrency` requests at once; with `batch:`, several records per request.",
    &[
        super::NAME,
        super::WHEN,
        Key::new(
            "url",
            Type::Text,
            "The endpoint, `http://` or `https://`; `${NAME}` reads an environment variable at load time.",
        )
        .required("`url: http://127.0.0.1:9099/api/orders`"),
        Key::new("method", Type::Words(&METHODS), "The HTTP method (default POST)."),
        Key::new("headers", Type::Dict(&Type::Text), "Request headers; `${NAME}` reads an environment variable."),
        Key::new(
            "idempotency_header",
            Type::Text,
            "A header carrying the idempotency key: the record's (`<key>:<hash>`), or for a request of several records `batch:<hash of theirs>`, the same on every retry.",
        ),
        Key::new(
            "timeout",
            Type::Duration,
            "Time allowed for one request (default 10s); a request that times out is tried again with the same idempotency key.",
        ),
        Key::new(
            "body",
            Type::Words(&BODY_WORDS),
            "How a request carries its records: `single` (one JSON object; the default without `batch:`), `array` (a JSON array; the default with `batch:`) or `jsonl`.",
        ),
        super::CONCURRENCY,
        super::BATCH,
        super::RATE_LIMIT,
        super::RETRY,
    ],
);

/// How much of a refusing server's answer goes into a reason.
const EXCERPT_BYTES: usize = 512;

/// `kind: http` sink.
#[derive(Clone, Debug)]
pub(crate) struct HttpSinkSpec {
    /// `url:`.
    pub url: Located<Secret>,
    /// `method:` (default POST).
    pub method: String,
    /// `headers:`, `${NAME}` replaced.
    pub headers: Vec<(String, Secret)>,
    /// `idempotency_header:` — carries the idempotency key.
    pub idempotency_header: Option<String>,
    /// `timeout:` per request (default 10s).
    pub timeout: Duration,
    /// `body:`, when written (else by `batch:`).
    pub body: Option<Body>,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<HttpSinkSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    if let Some(u) = &url {
        let t = u.value.expose();
        if !(t.starts_with("http://") || t.starts_with("https://")) {
            p.d.hint(
                SpecCode::BadValue,
                u.loc,
                "the sink's `url:` must start with http:// or https://",
                "write the full URL: `url: http://127.0.0.1:9099/api/orders`",
            );
        }
    }
    let method = match p.opt_text(entries, "method") {
        Some(m) => {
            let up = m.value.to_ascii_uppercase();
            if METHODS.contains(&up.as_str()) {
                Some(up)
            } else {
                p.d.hint(
                    SpecCode::BadValue,
                    m.loc,
                    format!("`method: {}` cannot carry a record", m.value),
                    format!("use {}", mapwright_engine::spec::keys::or_list(&METHODS)),
                );
                None
            }
        }
        None => Some("POST".to_string()),
    };
    let headers = match get(entries, "headers") {
        Some(n) => decode_headers(p, n),
        None => Some(Vec::new()),
    };
    let idempotency_header = p.opt_text(entries, "idempotency_header");
    let timeout = p.duration(entries, "timeout").unwrap_or(Duration::from_secs(10));
    let body = match p.opt_text(entries, "body") {
        Some(b) => match mapwright_engine::spec::keys::word(&BODIES, &b.value) {
            Some(body) => Some(Some(body)),
            None => {
                p.d.hint(
                    SpecCode::BadValue,
                    b.loc,
                    format!("`body: {}` is not a body", b.value),
                    format!("use {}", mapwright_engine::spec::keys::or_list(&BODY_WORDS)),
                );
                None
            }
        },
        None => Some(None),
    };
    Some(HttpSinkSpec {
        url: url?,
        method: method?,
        headers: headers?,
        idempotency_header: idempotency_header.map(|h| h.value),
        timeout,
        body: body?,
    })
}

/// `body: single` carries one record: it cannot go with batches.
pub(crate) fn check_body(
    p: &mut Pipe,
    spec: &HttpSinkSpec,
    batch: &super::BatchSpec,
    loc: mapwright_engine::spec::yaml::Loc,
) {
    if spec.body == Some(Body::Single) && batch.max_records > 1 {
        p.d.hint(
            SpecCode::ConflictingKeys,
            loc,
            "`body: single` carries one record, but `batch:` sends several per request",
            "use `body: array` or `body: jsonl` with `batch:`, or remove `batch:`",
        );
    }
}

fn decode_headers(p: &mut Pipe, node: &Node) -> Option<Vec<(String, Secret)>> {
    let entries = p.d.map(node, "`headers:`")?;
    let mut out = Vec::new();
    let mut ok = true;
    for (k, v) in entries {
        if !k.text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b)) || k.text.is_empty() {
            p.d.error(SpecCode::BadValue, k.loc, format!("`{}` is not a valid header name", k.text));
            ok = false;
            continue;
        }
        match p.secret(v, &k.text) {
            Some(s) => out.push((k.text.clone(), s.value)),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// The client of a `kind: http` sink: one try of one request, with the
/// idempotency key of the records it carries.
pub(crate) struct HttpSink {
    client: reqwest::Client,
    url: reqwest::Url,
    /// The URL without user, password, query or fragment, for logs.
    shown: String,
    method: reqwest::Method,
    idempotency: Option<HeaderName>,
    body: Option<Body>,
    timeout: Duration,
    /// Texts that must not appear in a reason: header values (and their
    /// last word, the token after `Bearer`), the URL's password and query.
    scrubber: Scrubber,
}

impl HttpSink {
    /// A client for the sink: `spec.timeout` per request, `spec.headers` on
    /// every request, redirects not followed. An invalid URL, method or
    /// header is an error that names the header, never its value.
    pub(crate) fn new(spec: &HttpSinkSpec) -> Result<HttpSink, String> {
        let url = reqwest::Url::parse(spec.url.value.expose()).map_err(|e| format!("url: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("url: the scheme must be http or https, not {}", url.scheme()));
        }
        let method = reqwest::Method::from_bytes(spec.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("method {}: not an HTTP method", spec.method))?;
        let mut headers = HeaderMap::new();
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
        let mut scrubber = Scrubber::default();
        scrubber.add(secrets);
        let client = reqwest::Client::builder()
            .timeout(spec.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {}", e.without_url()))?;
        let shown = shown_url(&url);
        Ok(HttpSink { client, url, shown, method, idempotency, body: spec.body, timeout: spec.timeout, scrubber })
    }

    /// One try of one request carrying `records`: one JSON object when it
    /// is one record (and `body:` is not `array` or `jsonl`), else a JSON
    /// array or JSON Lines. The idempotency header carries the record's key,
    /// or for several records `batch:` and a hash of their keys, so every
    /// try of a request carries the same key.
    ///
    /// 2xx delivers; connection failures, timeouts, 408, 429 and 5xx are
    /// transient (`Retry-After` — seconds or an HTTP date — says when to
    /// try again); another status is a refusal with the status and the
    /// first 512 bytes of the answer.
    pub(crate) async fn try_send(&self, records: &[&Delivery]) -> Result<(), Failure> {
        let body = match (self.body, records) {
            (None | Some(Body::Single), [one]) => one.json.clone(),
            (Some(Body::Jsonl), _) => records.iter().map(|d| format!("{}\n", d.json)).collect(),
            _ => format!("[{}]", records.iter().map(|d| d.json.as_str()).collect::<Vec<_>>().join(",")),
        };
        let content_type = if self.body == Some(Body::Jsonl) { "application/x-ndjson" } else { "application/json" };
        let mut request = self
            .client
            .request(self.method.clone(), self.url.clone())
            .header(header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(name) = &self.idempotency {
            let key = match records {
                [one] => one.idempotency_key(),
                many => crate::delivery::batch_key(many),
            };
            request = request.header(name.clone(), key_header(&key));
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let after = retry_after(response.headers());
                let excerpt = excerpt(response).await;
                let reason = self.scrub(if excerpt.is_empty() {
                    format!("HTTP {status}")
                } else {
                    format!("HTTP {status}: {excerpt}")
                });
                if retryable(status) {
                    Err(Failure::Transient { reason, after })
                } else {
                    Err(Failure::Refused(reason))
                }
            }
            Err(e) => Err(Failure::Transient { reason: self.scrub(self.describe(e)), after: None }),
        }
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

    /// `text` without any secret.
    fn scrub(&self, text: String) -> String {
        self.scrubber.scrub(&text)
    }
}

/// Whether a status may turn out better on a later try.
fn retryable(status: reqwest::StatusCode) -> bool {
    status.is_server_error()
        || status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
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
}
