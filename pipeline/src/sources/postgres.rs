//! `kind: postgres`: the rows of a query past an increasing cursor column,
//! polled.
//!
//! Rows travel as JSON text: the server is asked for `row_to_json(q)::text`,
//! so every column arrives in its own exact text form (a `numeric` keeps
//! all its digits, which no float would) and the engine reads the numbers
//! exactly.
//!
//! The cursor is compared in its own type (`q."c" > ($1::text)::<type>`):
//! the pipeline keeps it as text in its state store, yet `10` sorts after
//! `9` and timestamps compare as instants. Paging with a plain `>` would
//! skip rows that share a cursor value across a batch boundary, so each
//! read asks for one row more than a batch: when that row shares the
//! batch's last cursor value, the batch gives back its rows of that value,
//! and the next call reads them whole. The state store's cursor moves only
//! when a batch is delivered ([`Commit::Cursor`]).
//!
//! At start-up the server must answer, the query run and the cursor be a
//! column of it, each as a located diagnostic. Statements are prepared
//! once; a lost connection is opened again (and the statements prepared
//! again) once, on the next call.

use std::time::Duration;

use mapwright_dsl::Value;
use mapwright_engine::Diagnostic;
use mapwright_engine::diagnostic::{SourceFile, SpecCode};
use mapwright_engine::input::InputRecord;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::{Loc, Node};
use mapwright_engine::spec::{Located, get};
use tokio::sync::mpsc::Sender;
use tokio_postgres::{Client, Statement};

use super::{Batch, Commit};
use crate::Stop;
use crate::clients::postgres::{CONNECT_HINT, Endpoint, URL_HINT, describe, lost, quote_ident, shown_file};
use crate::decode::{Entries, Pipe};
use crate::secrets::Secret;

/// The keys of `kind: postgres`.
pub(crate) static KEYS: Block = Block::new(
    "source_postgres",
    "Rows of a PostgreSQL query past the last value of an increasing `cursor` column, in cursor order, polled; the cursor is kept in the state store and moves only once a batch is delivered.",
    &[
        Key::new(
            "url",
            Type::Text,
            "`postgres://user:password@host:port/db`; `${NAME}` reads an environment variable at load time.",
        )
        .required("`url: postgres://user:${PGPASSWORD}@127.0.0.1:5432/shop`"),
        Key::new("query", Type::Text, "The SQL query whose rows are the records.")
            .required("the rows to read: `query: SELECT * FROM orders`"),
        Key::new(
            "cursor",
            Type::Text,
            "An increasing column of the query; only rows past the last value seen are read.",
        )
        .required("an increasing column of the query, so each row is read once: `cursor: updated_at`"),
        Key::new("poll", Type::Duration, "How often to ask for new rows (default 1s)."),
        Key::new("batch", Type::Count { min: 1 }, "Rows per query (default 500)."),
    ],
);

/// `kind: postgres` source.
#[derive(Clone, Debug)]
pub(crate) struct PgSourceSpec {
    /// `url:` — `postgres://user:pass@host:port/db`.
    pub url: Located<Secret>,
    /// `query:` — rows become records (`SELECT * FROM orders`).
    pub query: Located<String>,
    /// `cursor:` — an increasing column of the query; only rows past the
    /// last seen value are read, and the value is kept in the state store.
    pub cursor: Located<String>,
    /// `poll:` — how often to ask for new rows (default 1s).
    pub poll: Duration,
    /// `batch:` — rows per query (default 500).
    pub batch: u32,
}

pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries) -> Option<PgSourceSpec> {
    let url = p.required_secret(entries, node.loc, &KEYS, "url");
    let query = p.required_text(entries, node.loc, &KEYS, "query");
    let cursor = p.required_text(entries, node.loc, &KEYS, "cursor");
    let poll = p.duration(entries, "poll").unwrap_or(Duration::from_secs(1));
    let batch = match get(entries, "batch") {
        Some(n) => p.count(n, "batch"),
        None => Some(500),
    };
    Some(PgSourceSpec { url: url?, query: query?, cursor: cursor?, poll, batch: batch? })
}

/// A `kind: postgres` source: reads the rows of a query in cursor order,
/// a batch at a time, resuming after the last cursor value seen.
pub(crate) struct PgSource {
    endpoint: Endpoint,
    sql: SourceSql,
    conn: SourceConn,
    /// `batch:`, at least 1.
    batch: usize,
    /// The `LIMIT`: one row more than a batch.
    limit: i64,
}

/// The three reads of a source, as SQL.
struct SourceSql {
    /// The first batch.
    first: String,
    /// A batch after a cursor value.
    after: String,
    /// All rows of one cursor value.
    equal: String,
}

struct SourceConn {
    client: Client,
    first: Statement,
    after: Statement,
    equal: Statement,
}

impl SourceConn {
    /// Connects again after a lost connection.
    async fn open(endpoint: &Endpoint, sql: &SourceSql) -> Result<SourceConn, String> {
        let client = endpoint.client().await.map_err(|e| endpoint.connect_error(&e))?;
        SourceConn::prepare(client, sql).await.map_err(|e| endpoint.scrub(&describe(&e)))
    }

    async fn prepare(client: Client, sql: &SourceSql) -> Result<SourceConn, tokio_postgres::Error> {
        let first = client.prepare(&sql.first).await?;
        let after = client.prepare(&sql.after).await?;
        let equal = client.prepare(&sql.equal).await?;
        Ok(SourceConn { client, first, after, equal })
    }
}

impl PgSource {
    /// Connects and checks the query and its cursor column, learning the
    /// cursor's type. An unreachable server, a query that does not run or a
    /// cursor that is not a column of the query is a `BadEndpoint`
    /// diagnostic at the offending key of the pipeline file.
    pub(crate) async fn connect(spec: &PgSourceSpec, file: &SourceFile) -> Result<PgSource, Diagnostic> {
        let shown = shown_file(file, &spec.url);
        let file = &shown;
        let url_loc = spec.url.loc;
        let bad = |loc: Loc, message: String, hint: &str| {
            Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(hint)
        };
        let endpoint = Endpoint::new(&spec.url.value).map_err(|m| bad(url_loc, m, URL_HINT))?;
        let client = endpoint.client().await.map_err(|e| bad(url_loc, endpoint.connect_error(&e), CONNECT_HINT))?;

        let query = spec.query.value.trim().trim_end_matches(';').trim_end();
        let (query_loc, cursor_loc) = (spec.query.loc, spec.cursor.loc);
        let cursor = &spec.cursor.value;
        let probe = client.prepare(&format!("SELECT * FROM ({query}) AS q LIMIT 0")).await.map_err(|e| {
            let message = format!("the query does not run: {}", endpoint.scrub(&describe(&e)));
            bad(query_loc, message, "try the query in psql against the same database, and fix it here")
        })?;
        if !probe.params().is_empty() {
            return Err(bad(
                query_loc,
                "the query has parameters ($1…), which a source cannot fill".to_string(),
                "write the values into the query; the cursor condition is added by mapwright",
            ));
        }
        let Some(column) = probe.columns().iter().find(|c| c.name() == *cursor) else {
            let names: Vec<&str> = probe.columns().iter().map(|c| c.name()).collect();
            return Err(bad(
                cursor_loc,
                format!("the query has no column `{cursor}` for the cursor (its columns: {})", names.join(", ")),
                "set `cursor:` to an increasing column of the query's result, such as an id or an updated_at timestamp",
            ));
        };
        let type_name: String =
            match client.query_one("SELECT format_type($1::oid, NULL)", &[&column.type_().oid()]).await {
                Ok(row) => row.try_get(0).map_err(|e| bad(cursor_loc, endpoint.scrub(&describe(&e)), CONNECT_HINT))?,
                Err(e) => return Err(bad(url_loc, endpoint.scrub(&describe(&e)), CONNECT_HINT)),
            };

        let c = quote_ident(cursor);
        let select = format!("SELECT row_to_json(q)::text, q.{c}::text FROM ({query}) AS q");
        let sql = SourceSql {
            first: format!("{select} WHERE q.{c} IS NOT NULL ORDER BY q.{c} LIMIT $1"),
            after: format!("{select} WHERE q.{c} > ($1::text)::{type_name} ORDER BY q.{c} LIMIT $2"),
            equal: format!("{select} WHERE q.{c} = ($1::text)::{type_name}"),
        };
        let conn = SourceConn::prepare(client, &sql).await.map_err(|e| {
            let message = format!(
                "the cursor column `{cursor}` (of type {type_name}) cannot be ordered and compared: {}",
                endpoint.scrub(&describe(&e))
            );
            bad(cursor_loc, message, "choose a column of an ordered type: an integer, a timestamp, text")
        })?;
        let batch = spec.batch.max(1);
        Ok(PgSource { endpoint, sql, conn, batch: batch as usize, limit: i64::from(batch) + 1 })
    }

    /// The next rows after the cursor value `after` (`None`: from the
    /// start), in cursor order, at most `batch:` of them unless one cursor
    /// value has more rows than that: each row as a record, with its cursor
    /// value as text. Rows whose cursor is NULL are never read. An empty
    /// answer means there is nothing new yet.
    pub(crate) async fn next_rows(&mut self, after: Option<&str>) -> Result<Vec<(Value, String)>, String> {
        let rows = match after {
            None => self.query(Read::First).await?,
            Some(value) => self.query(Read::After(value)).await?,
        };
        let mut rows = rows_of(rows)?;
        // One row more than a batch was read, to see whether the batch
        // ends in the middle of a cursor value.
        if rows.len() <= self.batch {
            return Ok(rows);
        }
        let (_, next) = rows.remove(self.batch);
        if rows.last().is_some_and(|(_, last)| *last == next) {
            match rows.iter().rposition(|(_, c)| *c != next) {
                Some(i) => rows.truncate(i + 1),
                // The whole batch shares one cursor value: read all its rows.
                None => rows = rows_of(self.query(Read::Equal(&next)).await?)?,
            }
        }
        Ok(rows)
    }

    /// Runs one read, opening the connection again once if it was lost.
    async fn query(&mut self, read: Read<'_>) -> Result<Vec<tokio_postgres::Row>, String> {
        let mut retried = false;
        loop {
            if retried || self.conn.client.is_closed() {
                self.conn = SourceConn::open(&self.endpoint, &self.sql).await?;
            }
            let conn = &self.conn;
            let result = match read {
                Read::First => conn.client.query(&conn.first, &[&self.limit]).await,
                Read::After(value) => conn.client.query(&conn.after, &[&value, &self.limit]).await,
                Read::Equal(value) => conn.client.query(&conn.equal, &[&value]).await,
            };
            match result {
                Ok(rows) => return Ok(rows),
                Err(e) if !retried && lost(&e, &self.conn.client) => retried = true,
                Err(e) => return Err(self.endpoint.scrub(&describe(&e))),
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Read<'a> {
    First,
    After(&'a str),
    Equal(&'a str),
}

fn rows_of(rows: Vec<tokio_postgres::Row>) -> Result<Vec<(Value, String)>, String> {
    rows.into_iter()
        .map(|row| {
            let json: Option<&str> = row.try_get(0).map_err(|e| describe(&e))?;
            let cursor: Option<String> = row.try_get(1).map_err(|e| describe(&e))?;
            let record = Value::from_json(json.unwrap_or("null")).map_err(|e| format!("a row is not JSON: {e}"))?;
            Ok((record, cursor.ok_or("a row without a cursor value")?))
        })
        .collect()
}

/// Polls the query for rows past the cursor until stopped. The cursor
/// moves in memory as batches are sent; the state store's cursor moves
/// only when a batch is done, so a restart reads again what was not
/// finished.
pub(crate) async fn poll(
    mut pg: PgSource,
    name: String,
    mut after: Option<String>,
    every: Duration,
    tx: Sender<Batch>,
    stop: Stop,
) {
    loop {
        if stop.is_stopped() {
            return;
        }
        let rows = match pg.next_rows(after.as_deref()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!("postgres source: {e}; trying again in {every:?}");
                Vec::new()
            }
        };
        let Some(last) = rows.last().map(|(_, c)| c.clone()) else {
            if stop.sleep(every).await {
                return;
            }
            continue;
        };
        let records = rows.into_iter().map(|(v, c)| InputRecord::new(v, format!("{name}@{c}"))).collect();
        let batch = Batch { records, commit: Commit::Cursor { source: name.clone(), value: last.clone() } };
        tokio::select! {
            _ = stop.clone().wait() => return,
            sent = tx.send(batch) => if sent.is_err() { return },
        }
        after = Some(last);
    }
}
