//! `kind: http` sink: one request per record, with an idempotency key.
//!
//! What may succeed later (no connection, a timeout, 408, 429, 5xx) is
//! retried with the pipeline's one retry policy ([`crate::retry`]); a
//! `Retry-After` answer sets the wait. Every try carries the same
//! idempotency key, which lets the server drop a repeat of a request whose
//! answer was lost. A 4xx other than 408 and 429 is final: the record goes
//! to the dead letter with the status and the start of the answer.
//!
//! Credentials stay out of logs and reasons: header values are marked
//! sensitive and scrubbed from any text that reaches a reason, and the URL
//! is shown without its user, password and query. Redirects are not
//! followed: a redirect means the URL in the pipeline file needs fixing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use mapwright_engine::spec::{Located, get};
use reqwest::header::{HeaderName, HeaderValue};

use crate::Stop;
use crate::decode::{Entries, Pipe};
use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::retry::{self, Retry, Try};
use crate::secrets::{Scrubber, Secret};

/// The methods that can carry a record.
const METHODS: [&str; 3] = ["POST", "PUT", "PATCH"];

/// The keys of `kind: http`.
pub(crate) static KEYS: Block = Block::new(
    "sink_http",
    "One request per record, its JSON as the body, with retries and an idempotency key.",
    &[
        Key::new(
            "url",
            Type::Text,
            "The endpoint, `http://` or `https://`; `${NAME}` reads an environment variable at load time.",
        )
        .required("`url: http://127.0.0.1:9099/api/orders`"),
        Key::new("method", Type::Words(&METHODS), "The HTTP method (default POST)."),
        Key::new("headers", Type::Dict(&Type::Text), "Request headers; `${NAME}` reads an environment variable."),
        Key::new("idempotency_header", Type::Text, "A header carrying the record's idempotency key (`<key>:<hash>`)."),
        Key::new(
            "retry",
            Type::Block(&retry::KEYS),
            "Retries of connect errors, timeouts, 408, 429 and 5xx (`Retry-After` honoured).",
        ),
        Key::new("timeout", Type::Duration, "Time allowed for one request (default 10s)."),
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
    /// `idempotency_header:` — carries the record's idempotency key.
    pub idempotency_header: Option<String>,
    /// `retry:`.
    pub retry: Retry,
    /// `timeout:` per request (default 10s).
    pub timeout: Duration,
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
    let retry = match get(entries, "retry") {
        Some(n) => Retry::decode(p, n),
        None => Some(Retry::default()),
    };
    let timeout = p.duration(entries, "timeout").unwrap_or(Duration::from_secs(10));
    Some(HttpSinkSpec {
        url: url?,
        method: method?,
        headers: headers?,
        idempotency_header: idempotency_header.map(|h| h.value),
        retry: retry?,
        timeout,
    })
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

/// The client of a `kind: http` sink: one record per request, retried with
/// backoff, each try with the same idempotency key.
pub(crate) struct HttpSink {
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
    scrubber: Scrubber,
    metrics: Arc<Metrics>,
}

impl HttpSink {
    /// A client for the sink: `spec.timeout` per request, `spec.headers` on
    /// every request, redirects not followed. An invalid URL, method or
    /// header is an error that names the header, never its value.
    pub(crate) fn new(spec: &HttpSinkSpec, metrics: Arc<Metrics>) -> Result<HttpSink, String> {
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
            scrubber,
            metrics,
        })
    }

    /// Sends one record: the body is `d.json` (`Content-Type:
    /// application/json`), with the idempotency header when configured.
    ///
    /// 2xx is [`Sent::Delivered`]; a status that a later try cannot change
    /// is [`Sent::Rejected`] with the status and the first 512 bytes of the
    /// answer; connection failures, timeouts, 408, 429 and 5xx are tried
    /// again as `retry:` says (a `Retry-After` answer — seconds or an HTTP
    /// date — sets the wait), then [`Sent::GaveUp`] with the last reason; a
    /// stop during a wait is [`Sent::Stopped`] at once. Each try's latency
    /// counts in `metrics.sink_latency`.
    pub(crate) async fn send(&self, d: &Delivery, stop: &Stop) -> Sent {
        let key = self.idempotency.as_ref().map(|name| (name, key_header(&d.idempotency_key())));
        let key = &key;
        let outcome = retry::run(&self.retry, stop, &self.metrics, &self.shown, |_| async move {
            let mut request = self
                .client
                .request(self.method.clone(), self.url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .body(d.json.clone());
            if let Some((name, value)) = key {
                request = request.header((*name).clone(), value.clone());
            }
            let started = Instant::now();
            let result = request.send().await;
            self.metrics.sink_latency.observe(started.elapsed().as_secs_f64());
            match result {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        return Try::Done(());
                    }
                    let after = retry_after(response.headers());
                    let excerpt = excerpt(response).await;
                    let reason = self.scrub(if excerpt.is_empty() {
                        format!("HTTP {status}")
                    } else {
                        format!("HTTP {status}: {excerpt}")
                    });
                    if retryable(status) { Try::Again { reason, after } } else { Try::Refused(reason) }
                }
                Err(e) => Try::Again { reason: self.scrub(self.describe(e)), after: None },
            }
        })
        .await;
        Sent::from(outcome)
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
