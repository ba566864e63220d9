//! `kind: nats`: messages on a subject; with `stream:`, a durable
//! JetStream pull consumer.
//!
//! Every message is one payload: a JSON record, or a list of records (like
//! a webhook body). It is written to the inbox of the state store first —
//! the processor reads the inbox exactly as for the `http` source — and
//! only then acknowledged. With `stream:` the messages come from a durable
//! consumer (`durable:`, default `mapwright-<pipeline>`) with explicit
//! acks: a message not yet stored when the pipeline stops is redelivered
//! by the server after a restart, and one stored but not acknowledged
//! arrives again and is skipped by the idempotency check, so nothing is
//! lost and nothing is sent twice. Without `stream:`, a plain subscription
//! sees only what is published while the pipeline runs (core NATS keeps
//! nothing). A payload that is not JSON is stored all the same and becomes
//! a dead letter with its reason.
//!
//! At start-up the server must answer, and with `stream:` the stream must
//! exist and hold the subject, each as a located diagnostic.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use futures_util::StreamExt;
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::{Loc, Node};
use mapwright_engine::spec::{Located, get};

use super::inbox;
use crate::Stop;
use crate::clients::nats::{CONNECT_HINT, checked_stream, connect, shown_file};
use crate::decode::{Entries, Pipe};
use crate::metrics::Metrics;
use crate::secrets::Secret;
use crate::state::State;

/// The keys of `kind: nats` (source).
pub(crate) static KEYS: Block = Block::new(
    "source_nats",
    "Messages on a NATS subject, each one payload (a record or a list), stored in the inbox, then acknowledged. With `stream:`, a durable JetStream pull consumer with explicit acks: messages published while the pipeline is down are read after a restart, and after a crash unacknowledged ones come back after `ack_wait`. Without it, plain NATS: only what is published while it runs.",
    &[
        Key::new("url", Type::Text, "`nats://user:password@host:4222` (several separated by commas); `${NAME}` reads an environment variable at load time.")
            .required("`url: nats://127.0.0.1:4222`"),
        Key::new("subject", Type::Text, "The NATS subject to receive (wildcards `*` and `>` allowed).")
            .required("what to receive: `subject: shop.orders`"),
        Key::new("stream", Type::Text, "The JetStream stream that holds the subject; without it, plain NATS."),
        Key::new("durable", Type::Text, "The durable JetStream consumer's name (default `mapwright-<pipeline>`)."),
        Key::new("ack_wait", Type::Duration, "How long JetStream waits for an ack before sending a message again (default 30s; applied when the consumer is created)."),
    ],
);

/// `kind: nats` source: every message is one payload (a record, or a list
/// of records), stored in the inbox before it is acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct NatsSourceSpec {
    /// `url:` — `nats://user:pass@host:4222` (several separated by commas).
    pub url: Located<Secret>,
    /// `subject:` — what to receive (wildcards `*` and `>` allowed).
    pub subject: Located<String>,
    /// `stream:` — a JetStream stream holding the subject.
    pub stream: Option<Located<String>>,
    /// `durable:` — the consumer's name (default `mapwright-<pipeline>`).
    pub durable: Option<Located<String>>,
    /// `ack_wait:` — how long the server waits for an ack before it sends a
    /// message again (default 30s). Applied when the durable consumer is
    /// created; an existing consumer keeps its own.
    pub ack_wait: Duration,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<NatsSourceSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    let subject = p.required_text(entries, node.loc, &KEYS, "subject");
    let stream = p.opt_text(entries, "stream");
    let durable = p.opt_text(entries, "durable");
    for key in ["durable", "ack_wait"] {
        if let (None, Some(n)) = (&stream, get(entries, key)) {
            p.d.hint(
                SpecCode::ConflictingKeys,
                n.loc,
                if key == "durable" {
                    "`durable:` names a JetStream consumer, which needs `stream:`"
                } else {
                    "`ack_wait:` is for a JetStream consumer, which needs `stream:`"
                },
                format!("add `stream:` (the JetStream stream that holds the subject), or drop `{key}:`"),
            );
        }
    }
    let ack_wait = p.duration(entries, "ack_wait").unwrap_or(Duration::from_secs(30));
    Some(NatsSourceSpec { url: url?, subject: subject?, stream, durable, ack_wait })
}

/// A connected `kind: nats` source.
pub(crate) struct NatsSource {
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
    pub(crate) async fn connect(
        spec: &NatsSourceSpec,
        file: &SourceFile,
        pipeline: &str,
    ) -> Result<NatsSource, Diagnostic> {
        let shown_file = shown_file(file, &spec.url);
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
                let durable = match &spec.durable {
                    Some(d) => d.value.clone(),
                    None => format!("mapwright-{}", consumer_name(pipeline)),
                };
                let config = pull::Config {
                    durable_name: Some(durable.clone()),
                    filter_subject: spec.subject.value.clone(),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: spec.ack_wait,
                    ..Default::default()
                };
                let consumer = handle.get_or_create_consumer(&durable, config).await.map_err(|e| {
                    bad(
                        spec.durable.as_ref().map_or(spec.url.loc, |d| d.loc),
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
pub(crate) async fn serve(
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
            if let Err(e) = inbox::store(&state, &metrics, &wake, message.payload.to_vec()).await {
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
                        if stop.sleep(Duration::from_secs(1)).await {
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
                        if stop.sleep(Duration::from_millis(200)).await {
                            return;
                        }
                        continue;
                    }
                    // The stream of messages ended: open it again.
                    None => break,
                };
                match inbox::store(&state, &metrics, &wake, message.payload.to_vec()).await {
                    Ok(id) => {
                        tracing::debug!(id, "nats payload stored");
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

/// A durable name from the pipeline's name: letters, digits, `-` and `_`.
fn consumer_name(pipeline: &str) -> String {
    pipeline.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_name_is_made_of_the_pipeline_name() {
        assert_eq!(consumer_name("orders to erp/v2"), "orders_to_erp_v2");
    }
}
