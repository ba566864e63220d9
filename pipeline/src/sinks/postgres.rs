//! `kind: postgres` sink: records upserted by key, one transaction per
//! batch — the whole record in a JSONB column, or output fields written to
//! columns of the same names.
//!
//! The record travels as its JSON text and is cast to `jsonb` on the
//! server (for the column form, spread by `jsonb_populate_record`), so a
//! decimal goes from the record into a `numeric` column without passing
//! through a float.
//!
//! At start-up the table must exist (or be created, JSONB form, with
//! `create: true`), have the key column and the listed columns, and the key
//! column a unique index, which the upsert needs; each problem is a
//! located diagnostic. A batch that fails is tried again with the
//! pipeline's retry policy (`retry:`); one that keeps failing is split, so
//! that a record the database refuses goes to the dead letter and the
//! others are delivered. When every record fails alone too, the database is
//! the problem, not the records: the run stops rather than fill the dead
//! letter.

use std::time::Instant;

use mapwright_dsl::Value;
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::{Loc, Node};
use mapwright_engine::spec::{Located, get};
use tokio_postgres::{Client, Statement};

use super::Undelivered;
use crate::Stop;
use crate::clients::postgres::{
    CONNECT_HINT, Endpoint, URL_HINT, describe, lost, quote_ident, quote_table, shown_file,
};
use crate::decode::{Entries, Pipe};
use crate::delivery::{Delivery, Sent};
use crate::metrics::Metrics;
use crate::retry::{self, Ended, Retry, Tries};
use crate::secrets::Secret;
use crate::state::State;

/// The keys of `kind: postgres`.
pub(crate) static KEYS: Block = Block::new(
    "sink_postgres",
    "Upsert by key into a PostgreSQL table, one transaction per batch: the record in a JSONB column, or `columns:` filled from output fields of the same names; `create: true` creates a missing table (JSONB form).",
    &[
        Key::new(
            "url",
            Type::Text,
            "`postgres://user:password@host:port/db`; `${NAME}` reads an environment variable at load time.",
        )
        .required("`url: postgres://user:${PGPASSWORD}@127.0.0.1:5432/erp`"),
        Key::new("table", Type::Text, "The table to upsert into (`schema.table` allowed).")
            .required("the table to upsert into: `table: sales_orders`"),
        Key::new("key", Type::Text, "The key column (default `key`); it holds the record key and must be unique."),
        Key::new(
            "columns",
            Type::List(&Type::Text),
            "Output fields written to columns of the same names; without it, the JSONB form.",
        ),
        Key::new("document", Type::Text, "The JSONB column of the JSONB form (default `doc`)."),
        Key::new("create", Type::Bool, "Create the table (JSONB form) when it is missing."),
        Key::new(
            "retry",
            Type::Block(&retry::KEYS),
            "Retries of a batch that fails (a lost connection, a server restarting).",
        ),
    ],
);

/// `kind: postgres` sink: upsert by key.
#[derive(Clone, Debug)]
pub(crate) struct PgSinkSpec {
    /// `url:`.
    pub url: Located<Secret>,
    /// `table:`.
    pub table: Located<String>,
    /// `key:` — the key column (default `key`); it holds the record key.
    pub key_column: Located<String>,
    /// `columns:` — output fields written to columns of the same names;
    /// empty means the JSONB form: the whole record in `document:`.
    pub columns: Located<Vec<String>>,
    /// `document:` — the JSONB column of the JSONB form (default `doc`).
    pub document: Located<String>,
    /// `create: true` creates the table (JSONB form) when it is missing;
    /// otherwise a missing table is an error at start-up.
    pub create: bool,
    /// `retry:` — for a batch that fails.
    pub retry: Retry,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<PgSinkSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    let table = p.required_text(entries, node.loc, &KEYS, "table")?;
    // Keys not written point at the table: that is what they are about.
    let or_default =
        |t: Option<Located<String>>, default: &str| t.unwrap_or_else(|| Located::new(default.to_string(), table.loc));
    let key = p.opt_text(entries, "key");
    let document = p.opt_text(entries, "document");
    let create = get(entries, "create").and_then(|n| p.d.boolean(n, "create")).unwrap_or(false);
    let columns = match get(entries, "columns") {
        Some(n) => p.list(n, "columns").map(|c| Located::new(c, n.loc)),
        None => Some(Located::new(Vec::new(), table.loc)),
    };
    if let (Some(cols), Some(n)) = (&columns, get(entries, "columns")) {
        if !cols.value.is_empty() && create {
            p.d.hint(
                SpecCode::ConflictingKeys,
                n.loc,
                "`create: true` makes a table of the JSONB form, not one with `columns:`",
                "create the table yourself, or drop `columns:` to keep each record in one JSONB column",
            );
        }
    }
    let retry = match get(entries, "retry") {
        Some(n) => Retry::decode(p, n),
        None => Some(Retry::default()),
    };
    Some(PgSinkSpec {
        url: url?,
        key_column: or_default(key, "key"),
        columns: columns?,
        document: or_default(document, "doc"),
        table,
        create,
        retry: retry?,
    })
}

/// A `kind: postgres` sink: upserts records by key, either into a JSONB
/// column (the whole record) or into columns named like the record's
/// fields.
pub(crate) struct PgSink {
    endpoint: Endpoint,
    sql: String,
    conn: SinkConn,
    retry: Retry,
}

struct SinkConn {
    client: Client,
    upsert: Statement,
}

impl SinkConn {
    async fn open(endpoint: &Endpoint, sql: &str) -> Result<SinkConn, String> {
        let client = endpoint.client().await.map_err(|e| endpoint.connect_error(&e))?;
        let upsert = client.prepare(sql).await.map_err(|e| endpoint.scrub(&describe(&e)))?;
        Ok(SinkConn { client, upsert })
    }
}

impl PgSink {
    /// Connects and checks the table: that it exists (or creates it, JSONB
    /// form, with `create: true`), that it has the key column and the
    /// listed columns, and that the key column has a unique index, which
    /// the upsert needs. Each problem is a `BadEndpoint` diagnostic at the
    /// offending key of the pipeline file.
    pub(crate) async fn connect(spec: &PgSinkSpec, file: &SourceFile) -> Result<PgSink, Diagnostic> {
        let shown = shown_file(file, &spec.url);
        let file = &shown;
        let url_loc = spec.url.loc;
        let table_loc = spec.table.loc;
        let bad = |loc: Loc, message: String, hint: &str| {
            Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(hint)
        };
        let endpoint = Endpoint::new(&spec.url.value).map_err(|m| bad(url_loc, m, URL_HINT))?;
        let client = endpoint.client().await.map_err(|e| bad(url_loc, endpoint.connect_error(&e), CONNECT_HINT))?;
        let server = |e: tokio_postgres::Error| bad(url_loc, endpoint.scrub(&describe(&e)), CONNECT_HINT);

        let name = &spec.table.value;
        let table = quote_table(name);
        let jsonb_form = spec.columns.value.is_empty();
        let mut oid = table_oid(&client, &table).await.map_err(server)?;
        if oid.is_none() && spec.create && jsonb_form {
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {table} ({} text PRIMARY KEY, {} jsonb NOT NULL, \
                 updated_at timestamptz NOT NULL DEFAULT now())",
                quote_ident(&spec.key_column.value),
                quote_ident(&spec.document.value),
            );
            client.batch_execute(&create).await.map_err(|e| {
                let message = format!("cannot create table {name}: {}", endpoint.scrub(&describe(&e)));
                bad(
                    table_loc,
                    message,
                    "create it yourself, or check that the schema exists and the user may create tables in it",
                )
            })?;
            oid = table_oid(&client, &table).await.map_err(server)?;
        }
        let Some(oid) = oid else {
            let hint = match (jsonb_form, spec.create) {
                (true, _) => "create it, or set `create: true` to let mapwright create it (JSONB form)",
                (false, false) => "create it with the key column and the listed columns",
                (false, true) => {
                    "`create: true` only makes the JSONB form: create the table yourself, or drop `columns:`"
                }
            };
            return Err(bad(table_loc, format!("table {name} does not exist"), hint));
        };

        let rows = client
            .query(
                "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
                 WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
                &[&oid],
            )
            .await
            .map_err(server)?;
        let mut columns: Vec<(String, String)> = Vec::with_capacity(rows.len());
        for row in &rows {
            columns.push((row.try_get(0).map_err(server)?, row.try_get(1).map_err(server)?));
        }
        let has = |c: &str| columns.iter().any(|(n, _)| n == c);
        let listed =
            || format!("(its columns: {})", columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "));

        let key = &spec.key_column.value;
        let key_loc = spec.key_column.loc;
        let Some((_, key_type)) = columns.iter().find(|(n, _)| n == key) else {
            return Err(bad(
                key_loc,
                format!("table {name} has no key column `{key}` {}", listed()),
                "set `key:` to the column that holds the record key, or add the column to the table",
            ));
        };
        let unique = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a \
                 ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                 WHERE i.indrelid = $1 AND i.indisunique AND i.indimmediate AND i.indnkeyatts = 1 \
                 AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = $2)",
                &[&oid, &key.as_str()],
            )
            .await
            .map_err(server)?
            .try_get::<_, bool>(0)
            .map_err(server)?;
        if !unique {
            return Err(bad(
                key_loc,
                format!(
                    "the key column `{key}` of table {name} has no unique index (not deferrable), which an upsert needs"
                ),
                &format!("make it the primary key, or run CREATE UNIQUE INDEX ON {table} ({})", quote_ident(key)),
            ));
        }

        let k = quote_ident(key);
        let touch = (has("updated_at") && key != "updated_at").then_some("updated_at");
        let sql = if jsonb_form {
            let doc = &spec.document.value;
            if !has(doc) || doc == key {
                return Err(bad(
                    spec.document.loc,
                    format!("table {name} has no document column `{doc}` {}", listed()),
                    "set `document:` to the table's jsonb column (default `doc`), or add the column",
                ));
            }
            let d = quote_ident(doc);
            let mut set = format!("{d} = EXCLUDED.{d}");
            if let Some(t) = touch.filter(|t| *t != doc) {
                set.push_str(&format!(", {} = now()", quote_ident(t)));
            }
            format!(
                "INSERT INTO {table} ({k}, {d}) VALUES (CAST($1::text AS {key_type}), ($2::text)::jsonb) \
                 ON CONFLICT ({k}) DO UPDATE SET {set}"
            )
        } else {
            let fields: Vec<&String> = spec.columns.value.iter().filter(|c| *c != key).collect();
            let missing: Vec<&str> = fields.iter().filter(|c| !has(c)).map(|c| c.as_str()).collect();
            if !missing.is_empty() {
                return Err(bad(
                    spec.columns.loc,
                    format!("table {name} has no column{} {} {}", plural(missing.len()), missing.join(", "), listed()),
                    "list only columns of the table in `columns:`, or add them to the table",
                ));
            }
            let names: Vec<String> = fields.iter().map(|c| quote_ident(c)).collect();
            let into: String = names.iter().map(|c| format!(", {c}")).collect();
            let values: String = names.iter().map(|c| format!(", r.{c}")).collect();
            let mut set: Vec<String> = names.iter().map(|c| format!("{c} = EXCLUDED.{c}")).collect();
            if let Some(t) = touch.filter(|t| !fields.iter().any(|c| c == t)) {
                set.push(format!("{} = now()", quote_ident(t)));
            }
            let action = if set.is_empty() { "NOTHING".to_string() } else { format!("UPDATE SET {}", set.join(", ")) };
            format!(
                "INSERT INTO {table} ({k}{into}) SELECT CAST($1::text AS {key_type}){values} \
                 FROM jsonb_populate_record(NULL::{table}, ($2::text)::jsonb) AS r ON CONFLICT ({k}) DO {action}"
            )
        };
        let upsert = client.prepare(&sql).await.map_err(|e| {
            let message = format!("cannot prepare the upsert into {name}: {}", endpoint.scrub(&describe(&e)));
            bad(table_loc, message, "check the table's columns and types against `key:` and `columns:`")
        })?;
        Ok(PgSink { endpoint, sql, conn: SinkConn { client, upsert }, retry: spec.retry })
    }

    /// Upserts `(key, record)` pairs in one transaction: all are written,
    /// or none. A key seen before is updated (its columns, or its document
    /// and `updated_at`). A lost connection is opened again and the
    /// transaction tried once more; other failures (a constraint violated)
    /// come back as a message without secrets.
    pub(crate) async fn upsert(&mut self, rows: &[(String, Value)]) -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        let documents: Vec<String> = rows.iter().map(|(_, record)| record.to_json()).collect();
        let mut retried = false;
        loop {
            if retried || self.conn.client.is_closed() {
                self.conn = SinkConn::open(&self.endpoint, &self.sql).await?;
            }
            match write(&mut self.conn, rows, &documents).await {
                Ok(()) => return Ok(()),
                Err(e) if !retried && lost(&e, &self.conn.client) => retried = true,
                Err(e) => return Err(self.endpoint.scrub(&describe(&e))),
            }
        }
    }
}

async fn write(
    conn: &mut SinkConn,
    rows: &[(String, Value)],
    documents: &[String],
) -> Result<(), tokio_postgres::Error> {
    let tx = conn.client.transaction().await?;
    for ((key, _), document) in rows.iter().zip(documents) {
        tx.execute(&conn.upsert, &[key, document]).await?;
    }
    tx.commit().await
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

async fn table_oid(client: &Client, table: &str) -> Result<Option<u32>, tokio_postgres::Error> {
    client.query_one("SELECT to_regclass($1::text)::oid", &[&table]).await?.try_get(0)
}

impl PgSink {
    /// Delivers a batch in one transaction, tried again as `retry:` says;
    /// marks the delivered records in the state store. A batch that keeps
    /// failing is split to find the records at fault; an error means every
    /// record fails alone too.
    pub(crate) async fn deliver(
        &mut self,
        items: &[Delivery],
        state: &State,
        metrics: &Metrics,
        stop: &Stop,
    ) -> Result<Undelivered, String> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<(String, Value)> = items.iter().map(|d| (d.key_text.clone(), d.record.clone())).collect();
        let retry = self.retry;
        let mut tries = Tries::new(&retry, "postgres");
        let last = loop {
            let started = Instant::now();
            match self.upsert(&rows).await {
                Ok(()) => {
                    metrics.sink_latency.observe(started.elapsed().as_secs_f64());
                    state
                        .mark_delivered(items.iter().map(|d| (d.key_text.as_str(), d.hash.as_str())))
                        .map_err(|e| e.to_string())?;
                    return Ok(Vec::new());
                }
                Err(reason) => match tries.failed(reason, None, stop, metrics).await {
                    None => {}
                    Some(Ended::Stopped) => return Ok(vec![(0, Sent::Stopped)]),
                    Some(Ended::GaveUp(reason)) => break reason,
                },
            }
        };
        // The batch keeps failing: find the records at fault one by one;
        // the others are delivered.
        let mut undelivered = Vec::new();
        for (j, (d, row)) in items.iter().zip(rows).enumerate() {
            match self.upsert(std::slice::from_ref(&row)).await {
                Ok(()) => state.mark_delivered([(d.key_text.as_str(), d.hash.as_str())]).map_err(|e| e.to_string())?,
                Err(e) => undelivered.push((j, Sent::Rejected(e))),
            }
        }
        if undelivered.len() == items.len() {
            // Every record fails alone too: the database is the problem,
            // not the records. Stop rather than fill the dead letter; the
            // batch is read again after a restart.
            return Err(format!("the postgres sink fails every record: {last}"));
        }
        Ok(undelivered)
    }
}
