//! Speaking to NATS, for the `nats` source and sink: connecting to the
//! servers of a url list (credentials taken from the url, which the client
//! does not do by itself), checking that a JetStream stream exists and
//! holds a subject, and never a password or token in any message.

use std::time::Duration;

use async_nats::jetstream::{self, Context};
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::Located;
use mapwright_engine::spec::yaml::Loc;

use crate::secrets::{self, Scrubber, Secret};

/// How long to wait for the server at start-up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) const CONNECT_HINT: &str =
    "check that nats-server runs and accepts connections at this address (and the user and password)";

/// The pipeline file as a start-up diagnostic about `url` shows it: the
/// passwords and tokens written in the url are masked.
pub(crate) fn shown_file(file: &SourceFile, url: &Located<Secret>) -> SourceFile {
    secrets::masked_file(file, url, &secrets::nats_secrets(url.value.expose()))
}

/// Connects to the servers of `url`; the url as shown (without password)
/// comes back with the client.
pub(crate) async fn connect(
    url: &Secret,
    loc: Loc,
    file: &SourceFile,
) -> Result<(async_nats::Client, String), Diagnostic> {
    let raw = url.expose();
    let ranges = secrets::nats_secrets(raw);
    let shown = secrets::redact(raw, &ranges);
    let mut scrubber = Scrubber::default();
    scrubber.add(secrets::texts(raw, &ranges));
    let scrub = |m: String| scrubber.scrub(&m);
    let bad = |message: String| Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(CONNECT_HINT);
    // No retry of the first connection: a server that is not there is told
    // at start-up. Once connected, the client reconnects by itself.
    // The client does not take credentials from the url by itself.
    let servers: Vec<async_nats::ServerAddr> = raw
        .split(',')
        .map(|one| one.trim().parse::<async_nats::ServerAddr>())
        .collect::<Result<_, _>>()
        .map_err(|e| bad(scrub(format!("invalid NATS url {shown}: {e}"))))?;
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
        .map_err(|e| bad(scrub(format!("cannot connect to NATS at {shown}: {e}"))))?;
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
pub(crate) async fn checked_stream(
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
    fn credentials_are_percent_decoded() {
        assert_eq!(percent_decoded("p%40ss%2Fw0rd%"), "p@ss/w0rd%");
    }
}
