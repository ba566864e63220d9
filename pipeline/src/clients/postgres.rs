//! Speaking to PostgreSQL, for the `postgres` source and sink: the url
//! and its connection, errors described with the server's own words, and
//! never a password in any of it.
//!
//! The url is shown as `postgres://user:***@host:port/db`, messages are
//! scrubbed of the password (as written in the url and as decoded), and a
//! password written in `url:` itself is masked in the excerpt of the
//! pipeline file that a start-up diagnostic shows ([`shown_file`]). A lost
//! connection ([`lost`]) is opened again by the endpoints, once, on the
//! next call.
//!
//! The connection is plain TCP or a unix socket without TLS (`NoTls`): meant
//! for a database on the same host or a trusted network.

use std::time::Duration;

use mapwright_engine::diagnostic::SourceFile;
use mapwright_engine::spec::Located;
use tokio_postgres::{Client, Config, NoTls};

use crate::secrets::{self, Scrubber, Secret};

/// How long to wait for the server when the url does not say
/// (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The pipeline file as a start-up diagnostic about `url` shows it: a
/// password written in the url is masked.
pub(crate) fn shown_file(file: &SourceFile, url: &Located<Secret>) -> SourceFile {
    secrets::masked_file(file, url, &secrets::postgres_secrets(url.value.expose()))
}

pub(crate) const URL_HINT: &str = "write it as postgres://user:password@host:port/database";
pub(crate) const CONNECT_HINT: &str =
    "check that the server runs and accepts connections at this address, and the user, password and database";

/// A parsed url, with what it takes to speak of it without the password.
pub(crate) struct Endpoint {
    config: Config,
    /// The url as shown to the user: `postgres://user:***@host:port/db`.
    shown: String,
    /// The password as written in the url and as decoded.
    scrubber: Scrubber,
}

impl Endpoint {
    pub(crate) fn new(url: &Secret) -> Result<Endpoint, String> {
        let raw = url.expose();
        let ranges = secrets::postgres_secrets(raw);
        let mut endpoint =
            Endpoint { config: Config::new(), shown: secrets::redact(raw, &ranges), scrubber: Scrubber::default() };
        endpoint.scrubber.add(secrets::texts(raw, &ranges));
        endpoint.config = raw.parse().map_err(|e: tokio_postgres::Error| {
            endpoint.scrub(&format!("invalid PostgreSQL url {}: {}", endpoint.shown, describe(&e)))
        })?;
        let decoded = endpoint.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned());
        endpoint.scrubber.add(decoded);
        if endpoint.config.get_connect_timeout().is_none() {
            endpoint.config.connect_timeout(CONNECT_TIMEOUT);
        }
        if endpoint.config.get_application_name().is_none() {
            endpoint.config.application_name("mapwright");
        }
        Ok(endpoint)
    }

    /// Opens a connection; its driver runs on a task that ends when the
    /// client is dropped or the server goes away.
    pub(crate) async fn client(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection ended: {}", describe(&e));
            }
        });
        Ok(client)
    }

    pub(crate) fn connect_error(&self, e: &tokio_postgres::Error) -> String {
        self.scrub(&format!("cannot connect to PostgreSQL at {}: {}", self.shown, describe(e)))
    }

    /// `message` without the password.
    pub(crate) fn scrub(&self, message: &str) -> String {
        self.scrubber.scrub(message)
    }
}

/// An error with its causes: tokio-postgres prints only its kind ("db
/// error"), so the server's message, detail and hint are added here.
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut out = db.message().to_string();
        if let Some(detail) = db.detail() {
            out.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            out.push_str(&format!(" — {hint}"));
        }
        return out;
    }
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    out
}

/// Whether an error means the connection is gone (the server restarted,
/// the session was terminated, the network failed), so that a new
/// connection may succeed where this one failed. Writing a batch again
/// after a failure at commit is harmless: the upsert is idempotent.
pub(crate) fn lost(e: &tokio_postgres::Error, client: &Client) -> bool {
    let code = e.code().map(|c| c.code()).unwrap_or("");
    client.is_closed()
        || e.is_closed()
        || code.starts_with("08")
        || code.starts_with("57P")
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// `"name"`, with inner quotes doubled: names are used as written, case
/// and all.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name, schema-qualified or not (`sales.orders`), quoted.
pub(crate) fn quote_table(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_names() {
        assert_eq!(quote_table("sales.orders"), "\"sales\".\"orders\"");
        assert_eq!(quote_table("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
