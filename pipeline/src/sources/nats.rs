//! `kind: nats`: messages on a subject; with `stream:`, a durable
//! JetStream pull consumer.
//!
//! Every message is one payload: a JSON record, or a list of records (like
//! a webhook body); a payload that is not JSON becomes a dead letter with
//! its reason.
//!
//! With `stream:` the messages come from a durable pull consumer
//! (`durable:`, default `mapwright-<pipeline>`) with explicit acks, and the
//! stream is the buffer: a message is processed from the stream and
//! acknowledged only once every record in it is delivered, filtered or
//! dead-lettered — never on a local copy. What is held unacknowledged is
//! bounded by the consumer's `max_ack_pending`; while a message waits (a
//! sink that is down), the source tells the server it is still at work
//! (`+WPI`, every third of `ack_wait`), so the server does not send it to
//! another worker. A worker that dies leaves its messages unacknowledged;
//! they come back after `ack_wait` to any worker of the consumer (a
//! restarted one skips what its state store marked delivered and acks it).
//!
//! Without `stream:`, a plain subscription sees only what is published
//! while the pipeline runs (core NATS keeps nothing and cannot redeliver):
//! each message is stored in the inbox of the state store first, as for
//! the `http` source.
//!
//! At start-up the server must answer, and with `stream:` the stream must
//! exist and hold the subject, each as a located diagnostic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::pull};
use futures_util::StreamExt;
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::{Loc, Node};
use mapwright_engine::spec::{Located, get};

use mapwright_dsl::Projection;
use mapwright_engine::input::{self, InputRecord, Source};
use tokio::sync::mpsc;

use super::inbox::Writer;
use super::{Batch, Commit};
use crate::Stop;
use crate::clients::nats::{CONNECT_HINT, checked_stream, connect, shown_file};
use crate::decode::{Entries, Pipe};
use crate::secrets::Secret;

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
        Key::new("max_ack_pending", Type::Count { min: 1 }, "Messages held unacknowledged at most, in flight to the sinks (default 1000; applied when the consumer is created)."),
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
    /// `max_ack_pending:` — messages held unacknowledged at most (default
    /// 1000; applied when the consumer is created).
    pub max_ack_pending: u32,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<NatsSourceSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    let subject = p.required_text(entries, node.loc, &KEYS, "subject");
    let stream = p.opt_text(entries, "stream");
    let durable = p.opt_text(entries, "durable");
    for key in ["durable", "ack_wait", "max_ack_pending"] {
        if let (None, Some(n)) = (&stream, get(entries, key)) {
            p.d.hint(
                SpecCode::ConflictingKeys,
                n.loc,
                if key == "durable" {
                    "`durable:` names a JetStream consumer, which needs `stream:`".to_string()
                } else {
                    format!("`{key}:` is for a JetStream consumer, which needs `stream:`")
                },
                format!("add `stream:` (the JetStream stream that holds the subject), or drop `{key}:`"),
            );
        }
    }
    let ack_wait = p.duration(entries, "ack_wait").unwrap_or(Duration::from_secs(30));
    let max_ack_pending = match get(entries, "max_ack_pending") {
        Some(n) => p.count(n, "max_ack_pending"),
        None => Some(1000),
    };
    Some(NatsSourceSpec { url: url?, subject: subject?, stream, durable, ack_wait, max_ack_pending: max_ack_pending? })
}

/// A connected `kind: nats` source.
pub(crate) struct NatsSource {
    receiver: Receiver,
    shown: String,
    ack_wait: Duration,
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
                    max_ack_pending: i64::from(spec.max_ack_pending),
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
        Ok(NatsSource { receiver, shown, ack_wait: spec.ack_wait })
    }
}

/// Whether the source reads a JetStream stream (acknowledged after
/// delivery) rather than a plain subscription (stored in the inbox).
pub(crate) fn is_stream(source: &NatsSource) -> bool {
    matches!(source.receiver, Receiver::JetStream(_))
}

/// A plain subscription, until stopped: each payload is stored in the
/// inbox (`writer`), which the inbox feeder reads.
pub(crate) async fn subscribe(source: NatsSource, writer: Writer, stop: Stop) {
    let shown = source.shown;
    let Receiver::Core(mut sub) = source.receiver else { return };
    loop {
        let message = tokio::select! {
            _ = stop.clone().wait() => return,
            m = sub.next() => m,
        };
        let Some(message) = message else {
            tracing::error!("nats source: the subscription at {shown} ended");
            return;
        };
        let records = super::http::count_records(&message.payload).unwrap_or(1) as u64;
        if let Err(e) = writer.put(message.payload.clone(), records).await {
            // Core NATS cannot redeliver: say so loudly.
            tracing::error!("nats source: a message on {} could not be stored and is lost: {e}", message.subject);
        }
    }
}

/// Messages taken into one batch at most.
const MESSAGES_PER_BATCH: usize = 256;

/// How long a batch waits for more messages once it has one.
const GATHER: Duration = Duration::from_millis(5);

/// Reads the JetStream consumer until stopped, handing messages to the
/// dispatcher in batches that are acknowledged when done
/// ([`Commit::Acks`]); while they wait, the server is told they are in
/// progress.
pub(crate) async fn consume(
    source: NatsSource,
    tx: mpsc::Sender<Batch>,
    stop: Stop,
    projection: Option<Arc<Projection>>,
) {
    let shown = source.shown;
    let Receiver::JetStream(consumer) = source.receiver else { return };
    let held = Arc::new(Held::default());
    let keeper = tokio::spawn(held.clone().keep_alive(source.ack_wait / 3, stop.clone()));
    'open: loop {
        let mut messages = tokio::select! {
            _ = stop.clone().wait() => break,
            m = consumer.messages() => match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!("nats source: cannot read from the consumer at {shown}: {e}; trying again");
                    if stop.sleep(Duration::from_secs(1)).await {
                        break;
                    }
                    continue;
                }
            },
        };
        loop {
            let mut batch: Vec<jetstream::Message> = Vec::new();
            let mut ended = false;
            loop {
                let next = if batch.is_empty() {
                    tokio::select! {
                        _ = stop.clone().wait() => break 'open,
                        m = messages.next() => Some(m),
                    }
                } else {
                    tokio::select! {
                        _ = stop.clone().wait() => break 'open,
                        m = messages.next() => Some(m),
                        _ = tokio::time::sleep(GATHER) => None,
                    }
                };
                match next {
                    // Waited long enough for more.
                    None => break,
                    Some(Some(Ok(m))) => {
                        batch.push(m);
                        if batch.len() >= MESSAGES_PER_BATCH {
                            break;
                        }
                    }
                    Some(Some(Err(e))) => {
                        // Missed heartbeats while the server is away, and
                        // the like: the client reconnects by itself.
                        tracing::warn!("nats source: {e}");
                        if batch.is_empty() && stop.sleep(Duration::from_millis(200)).await {
                            break 'open;
                        }
                        break;
                    }
                    // The stream of messages ended: open it again.
                    Some(None) => {
                        ended = true;
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                let mut records = Vec::new();
                let mut keys = Vec::with_capacity(batch.len());
                for m in batch {
                    let seq = m.info().map(|i| i.stream_sequence).unwrap_or(0);
                    let origin = format!("nats#{seq}");
                    let source = Source::Bytes { name: origin.clone(), bytes: Arc::from(&m.payload[..]) };
                    match input::open(&source, None, projection.clone()) {
                        Ok(r) => records.extend(r),
                        Err(e) => records.push(InputRecord::unreadable(origin, e.to_string())),
                    }
                    keys.push(held.hold(m));
                }
                let batch = Batch { records, commit: Commit::Acks { keys, held: held.clone() } };
                let sent = tokio::select! {
                    _ = stop.clone().wait() => false,
                    sent = tx.send(batch) => sent.is_ok(),
                };
                if !sent {
                    break 'open;
                }
            }
            if ended {
                continue 'open;
            }
        }
    }
    keeper.abort();
}

/// The JetStream messages taken and not yet acknowledged.
#[derive(Default)]
pub(crate) struct Held {
    messages: Mutex<(u64, HashMap<u64, jetstream::Message>)>,
}

impl std::fmt::Debug for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Held").field("messages", &self.lock().1.len()).finish()
    }
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<u64, jetstream::Message>)> {
        self.messages.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hold(&self, message: jetstream::Message) -> u64 {
        let mut held = self.lock();
        held.0 += 1;
        let key = held.0;
        held.1.insert(key, message);
        key
    }

    /// Acknowledges the messages with these keys (on a task: the caller
    /// does not wait). An ack that is lost makes the server send the
    /// message again, which is then skipped as delivered and acknowledged.
    pub(crate) fn ack(&self, keys: &[u64]) {
        let messages: Vec<jetstream::Message> = {
            let mut held = self.lock();
            keys.iter().filter_map(|k| held.1.remove(k)).collect()
        };
        if messages.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for m in messages {
                if let Err(e) = m.ack().await {
                    tracing::warn!(
                        "nats source: delivered, but the ack failed (the message comes back and is skipped): {e}"
                    );
                }
            }
        });
    }

    /// Until stopped, tells the server every `every` that the messages held
    /// are still at work, so that it does not send them again.
    async fn keep_alive(self: Arc<Self>, every: Duration, stop: Stop) {
        let every = every.max(Duration::from_millis(100));
        while !stop.sleep(every).await {
            let messages: Vec<jetstream::Message> = self.lock().1.values().cloned().collect();
            for m in messages {
                if let Err(e) = m.ack_with(jetstream::AckKind::Progress).await {
                    tracing::debug!("nats source: in-progress ack failed: {e}");
                }
            }
        }
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
