//! `kind: postgres` sink: records upserted by key, one statement per
//! request of up to `batch.max_records` records — the whole record in a
//! JSONB column, or output fields written to columns of the same names.
//!
//! A request travels as one JSON text, `[[key, record], …]`, unnested on
//! the server with `jsonb_array_elements` into one `INSERT … ON CONFLICT`
//! (for the column form, each record spread by `jsonb_populate_record`):
//! one round trip and one statement per request, and a decimal goes from
//! the record into a `numeric` column without passing through a float.
//! The sink keeps one connection per request in flight (`concurrency:`).
//!
//! At start-up the table must exist (or be created, JSONB form, with
//! `create: true`), have the key column and the listed columns, and the key
//! column a unique index, which the upsert needs; each problem is a
//! located diagnostic. A request the database refuses for its data
//! (SQLSTATE classes 22 and 23) is split by the queue, so that only the
//! refused records go to the dead letter; any other failure (a lost
//! connection, a restart, a missing table) is retried until the database
//! is back.

use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::{Loc, Node};
use mapwright_engine::spec::{Located, get};
use tokio_postgres::{Client, Statement};

use super::Failure;
use crate::clients::postgres::{
    CONNECT_HINT, Endpoint, URL_HINT, describe, lost, quote_ident, quote_table, shown_file,
};
use crate::decode::{Entries, Pipe};
use crate::delivery::Delivery;
use crate::secrets::Secret;

/// The keys of `kind: postgres`.
pub(crate) static KEYS: Block = Block::new(
    "sink_postgres",
    "Upsert by key into a PostgreSQL table, one statement per batch of records (`batch:`, default 500): the record in a JSONB column, or `columns:` filled from output fields of the same names; `create: true` creates a missing table (JSONB form). A row the database refuses (a constraint, a value that does not fit) goes to the dead letter; anything else is retried.",
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
        super::NAME,
        super::WHEN,
        super::CONCURRENCY,
        super::BATCH,
        super::RATE_LIMIT,
        super::RETRY,
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
    Some(PgSinkSpec {
        url: url?,
        key_column: or_default(key, "key"),
        columns: columns?,
        document: or_default(document, "doc"),
        table,
        create,
    })
}

/// A `kind: postgres` sink: upserts records by key, either into a JSONB
/// column (the whole record) or into columns named like the record's
/// fields.
pub(crate) struct PgSink {
    endpoint: Endpoint,
    sql: String,
    /// One connection per request in flight (`concurrency:`), opened
    /// again when lost.
    pool: Vec<tokio::sync::Mutex<Option<SinkConn>>>,
    next: std::sync::atomic::AtomicUsize,
}

struct SinkConn {
    client: Client,
    upsert: Statement,
}

impl PgSink {
    /// Connects and checks the table: that it exists (or creates it, JSONB
    /// form, with `create: true`), that it has the key column and the
    /// listed columns, and that the key column has a unique index, which
    /// the upsert needs. Each problem is a `BadEndpoint` diagnostic at the
    /// offending key of the pipeline file.
    pub(crate) async fn connect(
        spec: &PgSinkSpec,
        file: &SourceFile,
        connections: usize,
    ) -> Result<PgSink, Diagnostic> {
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
                "INSERT INTO {table} ({k}, {d}) SELECT CAST(e->>0 AS {key_type}), e->1 \
                 FROM jsonb_array_elements(($1::text)::jsonb) AS e ON CONFLICT ({k}) DO UPDATE SET {set}"
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
                "INSERT INTO {table} ({k}{into}) SELECT CAST(e->>0 AS {key_type}){values} \
                 FROM jsonb_array_elements(($1::text)::jsonb) AS e, jsonb_populate_record(NULL::{table}, e->1) AS r \
                 ON CONFLICT ({k}) DO {action}"
            )
        };
        let upsert = client.prepare(&sql).await.map_err(|e| {
            let message = format!("cannot prepare the upsert into {name}: {}", endpoint.scrub(&describe(&e)));
            bad(table_loc, message, "check the table's columns and types against `key:` and `columns:`")
        })?;
        let mut pool = vec![tokio::sync::Mutex::new(Some(SinkConn { client, upsert }))];
        pool.extend((1..connections.max(1)).map(|_| tokio::sync::Mutex::new(None)));
        Ok(PgSink { endpoint, sql, pool, next: std::sync::atomic::AtomicUsize::new(0) })
    }

    /// Upserts `(key, record)` pairs in one statement: all are written, or
    /// none. A key seen before is updated (its columns, or its document and
    /// `updated_at`); keys within one call are distinct. A lost connection
    /// is opened again on the next call. (The pipeline sends through
    /// [`PgSink::try_send`]; tests write rows with this.)
    #[cfg(test)]
    pub(crate) async fn upsert(&self, rows: &[(String, mapwright_dsl::Value)]) -> Result<(), tokio_postgres::Error> {
        let mut param = String::with_capacity(rows.iter().map(|(k, r)| k.len() + 64 + r.to_json().len()).sum());
        param.push('[');
        for (i, (key, record)) in rows.iter().enumerate() {
            if i > 0 {
                param.push(',');
            }
            param.push('[');
            mapwright_dsl::json::write_string(&mut param, key);
            param.push(',');
            mapwright_dsl::json::write_value(&mut param, record);
            param.push(']');
        }
        param.push(']');
        self.execute(&param).await
    }

    /// Runs the upsert on the next connection of the pool. A connection
    /// found dead when used (the server restarted, an idle connection was
    /// cut) is opened again and the statement tried once more at once: a
    /// stale connection is not a failure of the sink.
    async fn execute(&self, param: &str) -> Result<(), tokio_postgres::Error> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.pool.len();
        let mut slot = self.pool[n].lock().await;
        let mut fresh = false;
        loop {
            let conn = match slot.as_ref() {
                Some(c) if !c.client.is_closed() => c,
                _ => {
                    fresh = true;
                    let client = self.endpoint.client().await?;
                    let upsert = client.prepare(&self.sql).await?;
                    slot.insert(SinkConn { client, upsert })
                }
            };
            match conn.client.execute(&conn.upsert, &[&param]).await {
                Ok(_) => return Ok(()),
                Err(e) => {
                    if !lost(&e, &conn.client) {
                        return Err(e);
                    }
                    *slot = None;
                    if fresh {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// One try of one request: the records upserted in one statement. A
    /// data or integrity error (SQLSTATE classes 22 and 23: a constraint,
    /// a value that does not fit its column) is a refusal; anything else
    /// (a lost connection, a server restarting, a lock timeout, a missing
    /// table) may pass later.
    pub(crate) async fn try_send(&self, records: &[&Delivery]) -> Result<(), Failure> {
        let mut param =
            String::with_capacity(records.iter().map(|d| d.key_text.len() + d.json.len() + 8).sum::<usize>() + 2);
        param.push('[');
        for (i, d) in records.iter().enumerate() {
            if i > 0 {
                param.push(',');
            }
            param.push('[');
            mapwright_dsl::json::write_string(&mut param, &d.key_text);
            param.push(',');
            param.push_str(&d.json);
            param.push(']');
        }
        param.push(']');
        match self.execute(&param).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let reason = self.endpoint.scrub(&describe(&e));
                let class = e.code().map(|c| &c.code()[..2]);
                if matches!(class, Some("22" | "23")) {
                    Err(Failure::Refused(reason))
                } else {
                    Err(Failure::Transient { reason, after: None })
                }
            }
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

async fn table_oid(client: &Client, table: &str) -> Result<Option<u32>, tokio_postgres::Error> {
    client.query_one("SELECT to_regclass($1::text)::oid", &[&table]).await?.try_get(0)
}
