//! `kind: http`: the webhook endpoint — records POSTed to a path,
//! answered 2xx only once the payload is durably in the state store's
//! inbox: a sender that saw 200 can forget the payload, a sender that saw
//! anything else sends it again.
//!
//! Every check that can refuse a payload runs before it is stored,
//! cheapest first — size, then the signature, then the parse — so a bad
//! request costs no disk write. The processing itself happens elsewhere
//! ([`super::inbox`]); the endpoint only stores and wakes the feeder.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::input::{self, Source};
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use mapwright_engine::spec::{Located, get};
use sha2::Sha256;

use crate::Stop;
use crate::decode::{Entries, Pipe};
use crate::metrics::Metrics;
use crate::secrets::Secret;
use crate::state::{State, StateError};

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
            "Largest accepted body: bytes, or a size with a unit (`10MiB`, `512KiB`, `10MB`); larger gets 413 (default 10MiB).",
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
    Some(HttpSourceSpec {
        listen: listen?,
        path: path?,
        verify: match verify {
            Some(v) => Some(v?),
            None => None,
        },
        max_body: max_body?,
    })
}

fn decode_verify(p: &mut Pipe, node: &Node) -> Option<HmacVerify> {
    let entries = p.d.map(node, "`verify:`")?;
    p.d.check_keys(entries, &VERIFY, "in `verify:`");
    let header = p.required_text(entries, node.loc, &VERIFY, "hmac_sha256_header");
    let secret = p.required_secret(entries, node.loc, &VERIFY, "secret");
    Some(HmacVerify { header: header?.value, secret: secret?.value })
}

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
/// fires; requests in flight then have [`crate::stop::SHUTDOWN_GRACE`] to finish
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
pub(crate) async fn serve(
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
    crate::stop::serve_until(listener, app, stop, "webhook endpoint").await
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
