//! `kind: nats` sink: one message per record, its JSON as the payload,
//! on `subject:`.
//!
//! With `stream:` each publish waits for the stream's acknowledgement (the
//! record is stored) and carries the record's idempotency key as
//! `Nats-Msg-Id`, so the stream itself drops a repeat within its duplicate
//! window; without it, a publish is done when the server has received it
//! (a flush). A request of several records sends every publish first and
//! awaits their acknowledgements together. A publish that fails is tried
//! again by the sink's queue; only a message the server refuses (too
//! large) goes to the dead letter. At start-up the server must answer, and
//! with `stream:` the stream must exist and hold the subject.

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, Context};
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::SourceFile;
use mapwright_engine::spec::Located;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;

use super::Failure;
use crate::clients::nats::{checked_stream, connect, shown_file};
use crate::decode::{Entries, Pipe};
use crate::delivery::Delivery;
use crate::secrets::Secret;

/// The keys of `kind: nats` (sink).
pub(crate) static KEYS: Block = Block::new(
    "sink_nats",
    "One NATS message per record, its JSON as the payload; with `stream:`, each publish waits for JetStream's acknowledgement and carries the idempotency key as `Nats-Msg-Id`, so the stream drops a repeat; without it, done once the server has it (flushed). The stream must exist and hold the subject (checked at start-up).",
    &[
        Key::new("url", Type::Text, "`nats://user:password@host:4222` (several separated by commas); `${NAME}` reads an environment variable at load time.")
            .required("`url: nats://127.0.0.1:4222`"),
        Key::new("subject", Type::Text, "The NATS subject records are published on.").required("where records go: `subject: erp.sales_orders`"),
        Key::new("stream", Type::Text, "The JetStream stream that stores the subject; without it, plain NATS."),
        super::NAME,
        super::WHEN,
        super::CONCURRENCY,
        super::BATCH,
        super::RATE_LIMIT,
        super::RETRY,
    ],
);

/// `kind: nats` sink: one message per record, its JSON as the payload.
#[derive(Clone, Debug)]
pub(crate) struct NatsSinkSpec {
    /// `url:`.
    pub url: Located<Secret>,
    /// `subject:` — where records are published.
    pub subject: Located<String>,
    /// `stream:` — the JetStream stream that stores the subject.
    pub stream: Option<Located<String>>,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<NatsSinkSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    let subject = p.required_text(entries, node.loc, &KEYS, "subject");
    let stream = p.opt_text(entries, "stream");
    Some(NatsSinkSpec { url: url?, subject: subject?, stream })
}

/// A connected `kind: nats` sink.
pub(crate) struct NatsSink {
    client: async_nats::Client,
    js: Option<Context>,
    subject: String,
}

impl NatsSink {
    /// Connects, and with `stream:` checks that the stream exists and
    /// stores the subject.
    pub(crate) async fn connect(spec: &NatsSinkSpec, file: &SourceFile) -> Result<NatsSink, Diagnostic> {
        let shown_file = shown_file(file, &spec.url);
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
        Ok(NatsSink { client, js, subject: spec.subject.value.clone() })
    }

    /// One try of one request: a message per record, every publish sent
    /// before any acknowledgement is awaited, then all awaited together.
    /// A message larger than the server takes is a refusal; anything else
    /// (no server, no acknowledgement in time) may pass later — a repeat
    /// carries the same `Nats-Msg-Id`, which the stream drops.
    pub(crate) async fn try_send(&self, records: &[&Delivery]) -> Result<(), Failure> {
        let transient = |reason: String| Failure::Transient { reason: format!("nats sink: {reason}"), after: None };
        match &self.js {
            Some(js) => {
                let mut acks = Vec::with_capacity(records.len());
                for d in records {
                    let mut headers = async_nats::HeaderMap::new();
                    headers.insert("Nats-Msg-Id", d.idempotency_key().as_str());
                    let body: bytes::Bytes = d.json.clone().into();
                    match js.publish_with_headers(self.subject.clone(), headers, body).await {
                        Ok(ack) => acks.push(ack),
                        Err(e) => return Err(self.classify(e.kind() == PublishErrorKind::MaxPayloadExceeded, &e)),
                    }
                }
                for ack in acks {
                    ack.await.map_err(|e| {
                        if e.kind() == PublishErrorKind::MaxPayloadExceeded {
                            Failure::Refused(format!(
                                "nats sink: the stream refused a record on `{}`: {e}",
                                self.subject
                            ))
                        } else {
                            transient(format!("the stream did not acknowledge a record on `{}`: {e}", self.subject))
                        }
                    })?;
                }
                Ok(())
            }
            None => {
                for d in records {
                    let body: bytes::Bytes = d.json.clone().into();
                    if let Err(e) = self.client.publish(self.subject.clone(), body).await {
                        let too_big = e.kind() == async_nats::client::PublishErrorKind::MaxPayloadExceeded;
                        return Err(self.classify(too_big, &e));
                    }
                }
                self.client.flush().await.map_err(|e| transient(format!("cannot flush to the server: {e}")))
            }
        }
    }

    fn classify(&self, refused: bool, e: &dyn std::fmt::Display) -> Failure {
        let reason = format!("nats sink: cannot publish to `{}`: {e}", self.subject);
        if refused { Failure::Refused(reason) } else { Failure::Transient { reason, after: None } }
    }
}
