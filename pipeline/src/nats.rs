//! The NATS endpoints of the pipeline (SPEC §5), with or without
//! JetStream.
//!
//! **Source.** Every message is one payload: a JSON record, or a list of
//! records (like a webhook body). It is written to the inbox of the state
//! store first — the processor reads the inbox exactly as for the `http`
//! source — and only then acknowledged. With `stream:` the messages come
//! from a durable JetStream pull consumer (`durable:`, default
//! `mapwright-<pipeline>`) with explicit acks: a message not yet stored
//! when the pipeline stops is redelivered by the server after a restart,
//! and one stored but not acknowledged arrives again and is skipped by the
//! idempotency check, so nothing is lost and nothing is sent twice. Without
//! `stream:`, a plain subscription sees only what is published while the
//! pipeline runs (core NATS keeps nothing). A payload that is not JSON is
//! stored all the same and becomes a dead letter with its reason.
//!
//! **Sink.** One message per record, its JSON as the payload, on
//! `subject:`. With `stream:` each publish waits for the stream's
//! acknowledgement (the record is stored) and carries the record's
//! idempotency key as `Nats-Msg-Id`, so the stream itself drops a repeat
//! within its duplicate window; without it, a publish is done when the
//! server has received it (a flush). A publish that fails is retried with
//! `retry:`'s backoff; after the last try the record goes to the dead
//! letter with the reason, to be replayed.
//!
//! Both check at start-up that the server answers and that the stream
//! exists and holds the subject, as a located [`Diagnostic`]. The url's
//! password never reaches a message.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy, Context};
use futures_util::StreamExt;

use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::postgres::{place, userinfo_password, without_secrets};
use crate::spec::{NatsSinkSpec, NatsSourceSpec, Retry, Secret};
use crate::state::State;
use crate::Stop;
use mapwright_engine::spec::yaml::Loc;
use mapwright_engine::{Diagnostic, SourceFile, SpecCode};

/// How long to wait for the server at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

const CONNECT_HINT: &str =
    "check that nats-server runs and accepts connections at this address (and the user and password)";

/// A connected `kind: nats` source.
pub struct NatsSource {
    receiver: Receiver,
    shown: String,
}

enum Receiver {
    /// A plain subscription.
    Core(async_nats::Subscriber),
    /// A durable JetStream pull consumer.
    JetStream(Box<jetstream::consumer::Consumer<pull::Config>>),
}

impl NatsSource {
    /// Connects, and with `stream:` checks the stream and creates (or
    /// finds) the durable consumer. Problems are `BadEndpoint` diagnostics
    /// at the offending key.
    pub async fn connect(spec: &NatsSourceSpec, file: &SourceFile, pipeline: &str) -> Result<NatsSource, Diagnostic> {
        let shown_file = without_secrets(file, &spec.url, &secret_ranges(spec.url.value.expose()));
        let file = &shown_file;
        let (client, shown) = connect(&spec.url.value, spec.url.loc, file).await?;
        let bad = |loc: Loc, message: String, hint: &str| {
            Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(hint)
        };
        let receiver = match &spec.stream {
            None => Receiver::Core(client.subscribe(spec.subject.value.clone()).await.map_err(|e| {
                bad(spec.subject.loc, format!("cannot subscribe to `{}`: {e}", spec.subject.value), CONNECT_HINT)
            })?),
            Some(stream) => {
                let js = jetstream::new(client);
                let handle = checked_stream(&js, &stream.value, &spec.subject.value, stream.loc, file).await?;
                let durable = spec.durable.clone().unwrap_or_else(|| format!("mapwright-{}", consumer_name(pipeline)));
                let config = pull::Config {
                    durable_name: Some(durable.clone()),
                    filter_subject: spec.subject.value.clone(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: spec.ack_wait,
                    ..Default::default()
                };
                let consumer = handle.get_or_create_consumer(&durable, config).await.map_err(|e| {
                    bad(
                        place(file, spec.url.loc, "durable"),
                        format!("cannot use the JetStream consumer `{durable}` on stream `{}`: {e}", stream.value),
                        "an existing consumer of this name must be a pull consumer with the same subject; \
                         name another one with `durable:`",
                    )
                })?;
                Receiver::JetStream(Box::new(consumer))
            }
        };
        Ok(NatsSource { receiver, shown })
    }
}

/// Receives messages until stopped: each payload is stored in the inbox,
/// then acknowledged (JetStream), and the inbox feeder is woken.
pub async fn serve_source(
    source: NatsSource,
    state: State,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
    stop: Stop,
) {
    let shown = source.shown;
    match source.receiver {
        Receiver::Core(mut sub) => loop {
            let message = tokio::select! {
                _ = stop.clone().wait() => return,
                m = sub.next() => m,
            };
            let Some(message) = message else {
                tracing::error!("nats source: the subscription at {shown} ended");
                return;
            };
            if let Err(e) = store(&state, &metrics, &wake, message.payload.to_vec()).await {
                // Core NATS cannot redeliver: say so loudly.
                tracing::error!("nats source: a message on {} could not be stored and is lost: {e}", message.subject);
            }
        },
        Receiver::JetStream(consumer) => loop {
            let mut messages = tokio::select! {
                _ = stop.clone().wait() => return,
                m = consumer.messages() => match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!("nats source: cannot read from the consumer at {shown}: {e}; trying again");
                        if pause(&stop, Duration::from_secs(1)).await {
                            return;
                        }
                        continue;
                    }
                },
            };
            loop {
                let next = tokio::select! {
                    _ = stop.clone().wait() => return,
                    m = messages.next() => m,
                };
                let message = match next {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        // Missed heartbeats while the server is away, and
                        // the like: the client reconnects by itself.
                        tracing::warn!("nats source: {e}");
                        if pause(&stop, Duration::from_millis(200)).await {
                            return;
                        }
                        continue;
                    }
                    // The stream of messages ended: open it again.
                    None => break,
                };
                match store(&state, &metrics, &wake, message.payload.to_vec()).await {
                    Ok(()) => {
                        if let Err(e) = message.ack().await {
                            // Stored: a redelivery is skipped as a duplicate.
                            tracing::warn!("nats source: stored, but the ack failed: {e}");
                        }
                    }
                    Err(e) => {
                        // Not acknowledged: the server sends it again.
                        tracing::error!("nats source: a message could not be stored (it will be redelivered): {e}");
                        let _ = message.ack_with(jetstream::AckKind::Nak(Some(Duration::from_secs(1)))).await;
                    }
                }
            }
        },
    }
}

/// Writes one payload to the inbox (on a blocking thread).
async fn store(state: &State, metrics: &Metrics, wake: &tokio::sync::Notify, body: Vec<u8>) -> Result<(), String> {
    let st = state.clone();
    let id = tokio::task::spawn_blocking(move || st.inbox_put(&body))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::debug!(id, "nats payload stored");
    metrics.inbox.inc();
    wake.notify_one();
    Ok(())
}

/// Sleeps unless stopped first; true when stopped.
async fn pause(stop: &Stop, wait: Duration) -> bool {
    tokio::select! {
        _ = stop.clone().wait() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

/// A connected `kind: nats` sink.
pub struct NatsSink {
    client: async_nats::Client,
    js: Option<Context>,
    subject: String,
    retry: Retry,
}

impl NatsSink {
    /// Connects, and with `stream:` checks that the stream exists and
    /// stores the subject.
    pub async fn connect(spec: &NatsSinkSpec, file: &SourceFile) -> Result<NatsSink, Diagnostic> {
        let shown_file = without_secrets(file, &spec.url, &secret_ranges(spec.url.value.expose()));
        let file = &shown_file;
        let (client, _) = connect(&spec.url.value, spec.url.loc, file).await?;
        let js = match &spec.stream {
            None => None,
            Some(stream) => {
                let js = jetstream::new(client.clone());
                checked_stream(&js, &stream.value, &spec.subject.value, stream.loc, file).await?;
                Some(js)
            }
        };
        Ok(NatsSink { client, js, subject: spec.subject.value.clone(), retry: spec.retry })
    }

    /// Publishes one record, retrying with backoff.
    pub async fn send(&self, d: &Delivery, stop: &Stop, metrics: &Metrics) -> Sent {
        let mut wait = self.retry.backoff;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            let started = std::time::Instant::now();
            match self.publish(d).await {
                Ok(()) => {
                    metrics.sink_latency.observe(started.elapsed().as_secs_f64());
                    return Sent::Delivered;
                }
                Err(e) => last = e,
            }
            if attempt < self.retry.attempts {
                metrics.retries.inc();
                tracing::warn!(attempt, "nats sink: {last}; retrying in {wait:?}");
                if pause(stop, jitter(wait)).await {
                    return Sent::Stopped;
                }
                wait = (wait * 2).min(self.retry.max_backoff);
            }
        }
        Sent::GaveUp(format!("nats sink: {last}"))
    }

    async fn publish(&self, d: &Delivery) -> Result<(), String> {
        let body: bytes::Bytes = d.json.clone().into();
        match &self.js {
            Some(js) => {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Nats-Msg-Id", d.idempotency_key().as_str());
                let ack = js
                    .publish_with_headers(self.subject.clone(), headers, body)
                    .await
                    .map_err(|e| format!("cannot publish to `{}`: {e}", self.subject))?;
                ack.await.map_err(|e| format!("the stream did not acknowledge a record on `{}`: {e}", self.subject))?;
                Ok(())
            }
            None => {
                self.client
                    .publish(self.subject.clone(), body)
                    .await
                    .map_err(|e| format!("cannot publish to `{}`: {e}", self.subject))?;
                self.client.flush().await.map_err(|e| format!("cannot flush to the server: {e}"))
            }
        }
    }
}

/// Up to 25% less than `wait`, so that retries of several pipelines do
/// not arrive together.
fn jitter(wait: Duration) -> Duration {
    use rand::Rng;
    let cut = rand::rng().random_range(0.0..0.25);
    wait.mul_f64(1.0 - cut)
}

/// Connects to the servers of `url`; the url as shown (without password)
/// comes back with the client.
async fn connect(url: &Secret, loc: Loc, file: &SourceFile) -> Result<(async_nats::Client, String), Diagnostic> {
    let raw = url.expose();
    let shown = redact(raw);
    let bad = |message: String| Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(CONNECT_HINT);
    // No retry of the first connection: a server that is not there is told
    // at start-up. Once connected, the client reconnects by itself.
    // The client does not take credentials from the url by itself.
    let servers: Vec<async_nats::ServerAddr> = raw
        .split(',')
        .map(|one| one.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(scrub(&format!("invalid NATS url {shown}: {e}"), raw)))?;
    let options = match servers.first().and_then(|s| Some((s.username()?, s.password()))) {
        Some((user, Some(password))) => {
            async_nats::ConnectOptions::with_user_and_password(percent_decoded(user), percent_decoded(password))
        }
        Some((token, None)) => async_nats::ConnectOptions::with_token(percent_decoded(token)),
        None => async_nats::ConnectOptions::new(),
    };
    let client = options
        .connection_timeout(CONNECT_TIMEOUT)
        .max_reconnects(None)
        .connect(servers)
        .await
        .map_err(|e| bad(scrub(&format!("cannot connect to NATS at {shown}: {e}"), raw)))?;
    Ok((client, shown))
}

/// `%XX` escapes of a url's user or password decoded (`p%40ss` is `p@ss`).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The stream `name`, checked to exist and to hold `subject`.
async fn checked_stream(
    js: &Context,
    name: &str,
    subject: &str,
    loc: Loc,
    file: &SourceFile,
) -> Result<jetstream::stream::Stream, Diagnostic> {
    let bad =
        |message: String, hint: String| Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(hint);
    let mut stream = js.get_stream(name).await.map_err(|e| {
        bad(
            format!("no JetStream stream `{name}` on the server: {e}"),
            format!(
                "create it (`nats stream add {name} --subjects '{subject}'`), check that the server runs with JetStream \
                 (`nats-server -js`), or drop `stream:` for plain NATS"
            ),
        )
    })?;
    let subjects = match stream.info().await {
        Ok(info) => info.config.subjects.clone(),
        Err(e) => return Err(bad(format!("cannot read the stream `{name}`: {e}"), CONNECT_HINT.to_string())),
    };
    if !subjects.iter().any(|s| subject_covers(s, subject)) {
        return Err(bad(
            format!("the stream `{name}` does not hold `{subject}` (its subjects: {})", subjects.join(", ")),
            format!("add `{subject}` to the stream's subjects, or name the stream that holds it"),
        ));
    }
    Ok(stream)
}

/// Whether the stream subject `pattern` covers every subject of `subject`
/// (`orders.>` covers `orders.eu.*`; `orders.*` does not cover `orders.>`).
fn subject_covers(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(t)) if t != ">" => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// A durable name from the pipeline's name: letters, digits, `-` and `_`.
fn consumer_name(pipeline: &str) -> String {
    pipeline.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// The byte ranges of the secrets written in the url(s): the password of
/// `nats://user:password@host`, or the token of `nats://token@host`, in
/// each comma-separated url.
fn secret_ranges(url: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    for one in url.split(',') {
        let range = userinfo_password(one).or_else(|| {
            let start = one.find("://")? + 3;
            let at = one[start..].rfind('@')?;
            Some((start, start + at))
        });
        if let Some((s, e)) = range {
            ranges.push((offset + s, offset + e));
        }
        offset += one.len() + 1;
    }
    ranges
}

/// The url(s) with every secret replaced by `***`.
fn redact(url: &str) -> String {
    let mut out = url.to_string();
    for (s, e) in secret_ranges(url).into_iter().rev() {
        out.replace_range(s..e, "***");
    }
    out
}

/// `message` without the url's secrets, should the client quote them.
fn scrub(message: &str, url: &str) -> String {
    let mut out = message.to_string();
    for (s, e) in secret_ranges(url) {
        // One or two characters would blank out ordinary words.
        if let Some(secret) = url.get(s..e).filter(|t| t.len() >= 3) {
            out = out.replace(secret, "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_subjects_cover_what_they_match() {
        assert!(subject_covers("orders.>", "orders.eu.created"));
        assert!(subject_covers("orders.>", "orders.*"));
        assert!(subject_covers("orders.*", "orders.eu"));
        assert!(subject_covers("orders", "orders"));
        assert!(!subject_covers("orders.*", "orders.>"));
        assert!(!subject_covers("orders.*", "orders.eu.created"));
        assert!(!subject_covers("orders", "orders.eu"));
        assert!(!subject_covers("orders.eu", "orders"));
        assert!(!subject_covers("shop.orders", "erp.orders"));
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact("nats://app:s3cret@127.0.0.1:4222"), "nats://app:***@127.0.0.1:4222");
        assert_eq!(redact("nats://token@h:4222,nats://h2:4222"), "nats://***@h:4222,nats://h2:4222");
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("nats://h:1,nats://u:p4ss@h2:2"), "nats://h:1,nats://u:***@h2:2");
        assert_eq!(scrub("failed for s3cret", "nats://app:s3cret@h:1"), "failed for ***");
        assert_eq!(scrub("bad t0ken", "nats://h:1,nats://t0ken@h:2"), "bad ***");
        assert_eq!(consumer_name("orders to erp/v2"), "orders_to_erp_v2");
        assert_eq!(percent_decoded("p%40ss%2Fw0rd%"), "p@ss/w0rd%");
    }
}
