//! `kind: nats` sink: one message per record, its JSON as the payload,
//! on `subject:`.
//!
//! With `stream:` each publish waits for the stream's acknowledgement (the
//! record is stored) and carries the record's idempotency key as
//! `Nats-Msg-Id`, so the stream itself drops a repeat within its duplicate
//! window; without it, a publish is done when the server has received it
//! (a flush). A publish that fails is tried again with the pipeline's
//! retry policy (`retry:`); after the last try the record goes to the dead
//! letter with the reason, to be replayed. At start-up the server must
//! answer, and with `stream:` the stream must exist and hold the subject.

use async_nats::jetstream::{self, Context};
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::SourceFile;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;
use mapwright_engine::spec::{Located, get};

use crate::Stop;
use crate::clients::nats::{checked_stream, connect, shown_file};
use crate::decode::{Entries, Pipe};
use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::retry::{self, Retry, Try};
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
        Key::new("retry", Type::Block(&retry::KEYS), "Retries of publishes that fail or are not acknowledged."),
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
    /// `retry:` — for publishes that fail or are not acknowledged.
    pub retry: Retry,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<NatsSinkSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    let subject = p.required_text(entries, node.loc, &KEYS, "subject");
    let stream = p.opt_text(entries, "stream");
    let retry = match get(entries, "retry") {
        Some(n) => Retry::decode(p, n),
        None => Some(Retry::default()),
    };
    Some(NatsSinkSpec { url: url?, subject: subject?, stream, retry: retry? })
}

/// A connected `kind: nats` sink.
pub(crate) struct NatsSink {
    client: async_nats::Client,
    js: Option<Context>,
    subject: String,
    retry: Retry,
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
        Ok(NatsSink { client, js, subject: spec.subject.value.clone(), retry: spec.retry })
    }

    /// Publishes one record, tried again as `retry:` says; a record that
    /// is never acknowledged is [`Sent::GaveUp`] with the last reason.
    pub(crate) async fn send(&self, d: &Delivery, stop: &Stop, metrics: &Metrics) -> Sent {
        let outcome = retry::run(&self.retry, stop, metrics, "nats", |_| async move {
            let started = std::time::Instant::now();
            match self.publish(d).await {
                Ok(()) => {
                    metrics.sink_latency.observe(started.elapsed().as_secs_f64());
                    Try::Done(())
                }
                Err(reason) => Try::Again { reason: format!("nats sink: {reason}"), after: None },
            }
        })
        .await;
        Sent::from(outcome)
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
