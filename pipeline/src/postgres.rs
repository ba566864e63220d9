//! The PostgreSQL endpoints of the pipeline (SPEC §5): a source that polls
//! a query for the rows past an increasing cursor, and a sink that upserts
//! records by key.
//!
//! Rows travel as JSON text, both ways. The source asks the server for
//! `row_to_json(q)::text`, so every column arrives in its own exact text
//! form (a `numeric` keeps all its digits, which no float would) and
//! [`Value::from_json`] reads the numbers exactly. The sink sends the
//! record's JSON text and casts it to `jsonb` on the server; a decimal goes
//! from the record into a `numeric` column without passing through a float.
//!
//! The source compares the cursor in its own type
//! (`q."c" > ($1::text)::<type>`): the pipeline keeps the cursor as text in
//! its state store, yet `10` sorts after `9` and timestamps compare as
//! instants. Paging with a plain `>` would skip rows that share a cursor
//! value across a batch boundary, so each read asks for one row more than
//! a batch: when that row shares the batch's last cursor value, the batch
//! gives back its rows of that value, and the next call reads them whole.
//!
//! Both endpoints check what they can at start-up and report it as a
//! located [`Diagnostic`]: a server that does not answer, a query that does
//! not run, a missing table or column. Statements are prepared once; a lost
//! connection is opened again (and the statements prepared again) once, on
//! the next call. No message carries the password: the url is shown as
//! `postgres://user:***@host:port/db`, messages are scrubbed of it, and a
//! password written in `url:` itself is masked in the excerpt of the
//! pipeline file that a start-up diagnostic shows.
//!
//! The connection is plain TCP or a unix socket without TLS (`NoTls`): meant
//! for a database on the same host or a trusted network.

use std::time::Duration;

use mapwright_dsl::Value;
use tokio_postgres::{Client, Config, NoTls, Statement};

use crate::spec::{PgSinkSpec, PgSourceSpec, Secret};
use mapwright_engine::spec::yaml::Loc;
use mapwright_engine::spec::Located;
use mapwright_engine::{Diagnostic, SourceFile, SpecCode};

/// How long to wait for the server when the url does not say
/// (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A `kind: postgres` source: reads the rows of a query in cursor order,
/// a batch at a time, resuming after the last cursor value seen.
///
/// ```no_run
/// # async fn run(spec: &mapwright_pipeline::spec::PgSourceSpec,
/// #              file: &mapwright_engine::SourceFile) -> Result<(), String> {
/// use mapwright_pipeline::postgres::PgSource;
///
/// let mut source = PgSource::connect(spec, file).await.map_err(|d| d.to_string())?;
/// let mut cursor: Option<String> = None; // kept in the state store
/// loop {
///     let rows = source.next_rows(cursor.as_deref()).await?;
///     let Some((_, last)) = rows.last() else { break };
///     cursor = Some(last.clone());
///     // map and deliver `rows`…
/// }
/// # Ok(()) }
/// ```
pub struct PgSource {
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
    pub async fn connect(spec: &PgSourceSpec, file: &SourceFile) -> Result<PgSource, Diagnostic> {
        let shown = without_password(file, &spec.url);
        let file = &shown;
        let url_loc = spec.url.loc;
        let bad = |loc: Loc, message: String, hint: &str| {
            Diagnostic::spec(file, SpecCode::BadEndpoint, loc, message).with_hint(hint)
        };
        let endpoint = Endpoint::new(&spec.url.value).map_err(|m| bad(url_loc, m, URL_HINT))?;
        let client = endpoint.client().await.map_err(|e| bad(url_loc, endpoint.connect_error(&e), CONNECT_HINT))?;

        let query = spec.query.trim().trim_end_matches(';').trim_end();
        let query_loc = place(file, url_loc, "query");
        let cursor_loc = place(file, url_loc, "cursor");
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
        let Some(column) = probe.columns().iter().find(|c| c.name() == spec.cursor) else {
            let names: Vec<&str> = probe.columns().iter().map(|c| c.name()).collect();
            return Err(bad(
                cursor_loc,
                format!("the query has no column `{}` for the cursor (its columns: {})", spec.cursor, names.join(", ")),
                "set `cursor:` to an increasing column of the query's result, such as an id or an updated_at timestamp",
            ));
        };
        let type_name: String =
            match client.query_one("SELECT format_type($1::oid, NULL)", &[&column.type_().oid()]).await {
                Ok(row) => row.try_get(0).map_err(|e| bad(cursor_loc, endpoint.scrub(&describe(&e)), CONNECT_HINT))?,
                Err(e) => return Err(bad(url_loc, endpoint.scrub(&describe(&e)), CONNECT_HINT)),
            };

        let c = quote_ident(&spec.cursor);
        let select = format!("SELECT row_to_json(q)::text, q.{c}::text FROM ({query}) AS q");
        let sql = SourceSql {
            first: format!("{select} WHERE q.{c} IS NOT NULL ORDER BY q.{c} LIMIT $1"),
            after: format!("{select} WHERE q.{c} > ($1::text)::{type_name} ORDER BY q.{c} LIMIT $2"),
            equal: format!("{select} WHERE q.{c} = ($1::text)::{type_name}"),
        };
        let conn = SourceConn::prepare(client, &sql).await.map_err(|e| {
            let message = format!(
                "the cursor column `{}` (of type {type_name}) cannot be ordered and compared: {}",
                spec.cursor,
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
    pub async fn next_rows(&mut self, after: Option<&str>) -> Result<Vec<(Value, String)>, String> {
        let rows = match after {
            None => self.query(Read::First).await?,
            Some(value) => self.query(Read::After(value)).await?,
        };
        let mut rows = decode(rows)?;
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
                None => rows = decode(self.query(Read::Equal(&next)).await?)?,
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

fn decode(rows: Vec<tokio_postgres::Row>) -> Result<Vec<(Value, String)>, String> {
    rows.into_iter()
        .map(|row| {
            let json: Option<&str> = row.try_get(0).map_err(|e| describe(&e))?;
            let cursor: Option<String> = row.try_get(1).map_err(|e| describe(&e))?;
            let record = Value::from_json(json.unwrap_or("null")).map_err(|e| format!("a row is not JSON: {e}"))?;
            Ok((record, cursor.ok_or("a row without a cursor value")?))
        })
        .collect()
}

/// A `kind: postgres` sink: upserts records by key, either into a JSONB
/// column (the whole record) or into columns named like the record's
/// fields.
///
/// ```no_run
/// # async fn run(spec: &mapwright_pipeline::spec::PgSinkSpec,
/// #              file: &mapwright_engine::SourceFile) -> Result<(), String> {
/// use mapwright_pipeline::postgres::PgSink;
/// use mapwright_engine::Value;
///
/// let mut sink = PgSink::connect(spec, file).await.map_err(|d| d.to_string())?;
/// let record = Value::from_json(r#"{"id": 7, "total": 19.90}"#).map_err(|e| e.message)?;
/// sink.upsert(&[("7".to_string(), record)]).await?;
/// # Ok(()) }
/// ```
pub struct PgSink {
    endpoint: Endpoint,
    sql: String,
    conn: SinkConn,
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
    pub async fn connect(spec: &PgSinkSpec, file: &SourceFile) -> Result<PgSink, Diagnostic> {
        let shown = without_password(file, &spec.url);
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
        let jsonb_form = spec.columns.is_empty();
        let mut oid = table_oid(&client, &table).await.map_err(server)?;
        if oid.is_none() && spec.create && jsonb_form {
            let create = format!(
                "CREATE TABLE IF NOT EXISTS {table} ({} text PRIMARY KEY, {} jsonb NOT NULL, \
                 updated_at timestamptz NOT NULL DEFAULT now())",
                quote_ident(&spec.key_column),
                quote_ident(&spec.document),
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

        let key = &spec.key_column;
        let key_loc = place(file, table_loc, "key");
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
                format!("the key column `{key}` of table {name} has no unique index (not deferrable), which an upsert needs"),
                &format!("make it the primary key, or run CREATE UNIQUE INDEX ON {table} ({})", quote_ident(key)),
            ));
        }

        let k = quote_ident(key);
        let touch = (has("updated_at") && key != "updated_at").then_some("updated_at");
        let sql = if jsonb_form {
            let doc = &spec.document;
            if !has(doc) || doc == key {
                return Err(bad(
                    place(file, table_loc, "document"),
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
            let fields: Vec<&String> = spec.columns.iter().filter(|c| *c != key).collect();
            let missing: Vec<&str> = fields.iter().filter(|c| !has(c)).map(|c| c.as_str()).collect();
            if !missing.is_empty() {
                return Err(bad(
                    place(file, table_loc, "columns"),
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
        Ok(PgSink { endpoint, sql, conn: SinkConn { client, upsert } })
    }

    /// Upserts `(key, record)` pairs in one transaction: all are written,
    /// or none. A key seen before is updated (its columns, or its document
    /// and `updated_at`). A lost connection is opened again and the
    /// transaction tried once more; other failures (a constraint violated)
    /// come back as a message without secrets.
    pub async fn upsert(&mut self, rows: &[(String, Value)]) -> Result<(), String> {
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
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Whether an error means the connection is gone (the server restarted,
/// the session was terminated, the network failed), so that a new
/// connection may succeed where this one failed. Writing a batch again
/// after a failure at commit is harmless: the upsert is idempotent.
fn lost(e: &tokio_postgres::Error, client: &Client) -> bool {
    let code = e.code().map(|c| c.code()).unwrap_or("");
    client.is_closed()
        || e.is_closed()
        || code.starts_with("08")
        || code.starts_with("57P")
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

async fn table_oid(client: &Client, table: &str) -> Result<Option<u32>, tokio_postgres::Error> {
    client.query_one("SELECT to_regclass($1::text)::oid", &[&table]).await?.try_get(0)
}

const URL_HINT: &str = "write it as postgres://user:password@host:port/database";
const CONNECT_HINT: &str =
    "check that the server runs and accepts connections at this address, and the user, password and database";

/// A parsed url, with what it takes to speak of it without the password.
struct Endpoint {
    config: Config,
    /// The url as shown to the user: `postgres://user:***@host:port/db`.
    shown: String,
    /// Texts that must not reach a message: the password as written in the
    /// url and as decoded.
    secrets: Vec<String>,
}

impl Endpoint {
    fn new(url: &Secret) -> Result<Endpoint, String> {
        let raw = url.expose();
        let mut endpoint = Endpoint { config: Config::new(), shown: redact(raw), secrets: Vec::new() };
        endpoint.add_secrets(password_ranges(raw).into_iter().map(|(s, e)| raw[s..e].to_string()));
        endpoint.config = raw.parse().map_err(|e: tokio_postgres::Error| {
            endpoint.scrub(&format!("invalid PostgreSQL url {}: {}", endpoint.shown, describe(&e)))
        })?;
        let decoded = endpoint.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned());
        endpoint.add_secrets(decoded);
        if endpoint.config.get_connect_timeout().is_none() {
            endpoint.config.connect_timeout(CONNECT_TIMEOUT);
        }
        if endpoint.config.get_application_name().is_none() {
            endpoint.config.application_name("mapwright");
        }
        Ok(endpoint)
    }

    fn add_secrets(&mut self, secrets: impl IntoIterator<Item = String>) {
        // A password of one or two characters would blank out ordinary
        // words; our own messages never format the url, so it cannot leak
        // through them anyway.
        self.secrets.extend(secrets.into_iter().filter(|s| s.chars().count() >= 3));
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
    }

    /// Opens a connection; its driver runs on a task that ends when the
    /// client is dropped or the server goes away.
    async fn client(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.config.connect(NoTls).await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("postgres connection ended: {}", describe(&e));
            }
        });
        Ok(client)
    }

    fn connect_error(&self, e: &tokio_postgres::Error) -> String {
        self.scrub(&format!("cannot connect to PostgreSQL at {}: {}", self.shown, describe(e)))
    }

    fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        for secret in &self.secrets {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }
}

/// An error with its causes: tokio-postgres prints only its kind ("db
/// error"), so the server's message, detail and hint are added here.
fn describe(e: &tokio_postgres::Error) -> String {
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

/// The pipeline file as diagnostics show it: a password written in the
/// `url:` itself (not through `${NAME}`) is masked with as many `*`, so
/// that the excerpt of the line under a message does not show it, and
/// every offset into the file stays where it was.
pub(super) fn without_password(file: &SourceFile, url: &Located<Secret>) -> SourceFile {
    without_secrets(file, url, &password_ranges(url.value.expose()))
}

/// The pipeline file with the parts `ranges` of the `url:` value (byte
/// ranges into it) masked where they are written in the file, as
/// [`without_password`] does for a PostgreSQL url.
pub(super) fn without_secrets(file: &SourceFile, url: &Located<Secret>, ranges: &[(usize, usize)]) -> SourceFile {
    let raw = url.value.expose();
    let text = &file.text;
    // The lines the value is written on (its length may be unknown).
    let at = url.loc.offset.min(text.len());
    let start = text.get(..at).and_then(|t| t.rfind('\n')).map_or(0, |i| i + 1);
    let to = (at + url.loc.len).min(text.len());
    let end = text.get(to..).and_then(|t| t.find('\n')).map_or(text.len(), |i| to + i);
    let mut shown = text.to_string();
    let mut masked = false;
    for &(s, e) in ranges {
        let Some(password) = raw.get(s..e) else { continue };
        if password.is_empty() {
            continue;
        }
        let line = shown.get(start..end).unwrap_or("");
        let found: Vec<usize> = line.match_indices(password).map(|(i, _)| start + i).collect();
        for i in found {
            shown.replace_range(i..i + password.len(), &"*".repeat(password.len()));
            masked = true;
        }
    }
    if !masked {
        return file.clone();
    }
    SourceFile::new(file.name.clone(), shown)
}

/// The url with its password replaced by `***`, in both the url form
/// (`postgres://user:pw@host/db`, `?password=pw`) and the key-value form
/// (`host=h password=pw`).
fn redact(url: &str) -> String {
    let mut out = url.to_string();
    for (start, end) in password_ranges(url).into_iter().rev() {
        out.replace_range(start..end, "***");
    }
    out
}

/// The byte ranges of the passwords written in a url, in order.
fn password_ranges(url: &str) -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = userinfo_password(url).into_iter().collect();
    ranges.extend(keyword_passwords(url));
    ranges.sort_unstable();
    ranges
}

/// The byte range of the password in `scheme://user:password@host…`.
pub(super) fn userinfo_password(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    let rest = &url[start..];
    let end_of_authority = rest.find('?').unwrap_or(rest.len());
    let at = rest[..end_of_authority].rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((start + colon + 1, start + at))
}

/// The byte ranges of the values of `password=` keys (the key-value form,
/// or url query parameters), quoted or not.
fn keyword_passwords(text: &str) -> Vec<(usize, usize)> {
    let spaces = |s: &str| s.len() - s.trim_start_matches(' ').len();
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("password") {
        let key = from + i;
        from = key + "password".len();
        if !matches!(text[..key].chars().next_back(), None | Some(' ' | '?' | '&')) {
            continue;
        }
        let mut at = from + spaces(&text[from..]);
        if !text[at..].starts_with('=') {
            continue;
        }
        at += 1;
        at += spaces(&text[at..]);
        let value = &text[at..];
        let len = if let Some(quoted) = value.strip_prefix('\'') {
            // libpq's quoting: backslash escapes a quote or a backslash.
            let mut escaped = false;
            let close = quoted.char_indices().find(|&(_, c)| {
                let end = c == '\'' && !escaped;
                escaped = c == '\\' && !escaped;
                end
            });
            close.map_or(value.len(), |(j, _)| j + 2)
        } else {
            value.find([' ', '&']).unwrap_or(value.len())
        };
        ranges.push((at, at + len));
        from = at + len;
    }
    ranges
}

/// `"name"`, with inner quotes doubled: names are used as written, case
/// and all.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A table name, schema-qualified or not (`sales.orders`), quoted.
fn quote_table(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(name),
    }
}

/// The place of `key:`'s value in the YAML block that holds `near`, for
/// keys the spec does not locate (`cursor:`, `key:`, `columns:`); `near`
/// itself when the key is not written (its default applies) or cannot be
/// found.
pub(super) fn place(file: &SourceFile, near: Loc, key: &str) -> Loc {
    find_key(&file.text, near.offset, key)
        .map(|(offset, len)| {
            let (line, column) = file.line_col(offset);
            Loc { line, column, offset, len }
        })
        .unwrap_or(near)
}

fn find_key(text: &str, near: usize, key: &str) -> Option<(usize, usize)> {
    let near = near.min(text.len());
    let line_start = text[..near].rfind('\n').map_or(0, |i| i + 1);
    let line_end = |s: usize| text[s..].find('\n').map_or(text.len(), |i| s + i);
    let indent = |s: usize| text[s..line_end(s)].len() - text[s..line_end(s)].trim_start_matches(' ').len();
    let blank = |s: usize| {
        let l = text[s..line_end(s)].trim();
        l.is_empty() || l.starts_with('#')
    };
    let depth = indent(line_start);
    // The block: the lines around `near` indented at least as deep.
    let mut first = line_start;
    while first > 0 {
        let prev = text[..first - 1].rfind('\n').map_or(0, |i| i + 1);
        if !blank(prev) && indent(prev) < depth {
            break;
        }
        first = prev;
    }
    let mut last = line_end(line_start);
    while last < text.len() {
        let next = last + 1;
        if !blank(next) && indent(next) < depth {
            break;
        }
        last = line_end(next);
    }
    let on_line = find_in(text, line_start, line_end(line_start), key);
    on_line.or_else(|| find_in(text, first, last, key))
}

/// The first `key:` in `text[first..last]`, as the range of its value, or
/// of the key when the value is on the next lines.
fn find_in(text: &str, first: usize, last: usize, key: &str) -> Option<(usize, usize)> {
    let block = &text[first..last];
    let pattern = format!("{key}:");
    let mut from = 0;
    while let Some(i) = block[from..].find(&pattern) {
        let at = from + i;
        from = at + pattern.len();
        if !matches!(block[..at].chars().next_back(), None | Some(' ' | '{' | ',' | '\n')) {
            continue;
        }
        let value = &block[from..];
        let skip = value.len() - value.trim_start_matches(' ').len();
        let value = &value[skip..];
        let len = value.find(['\n', ',', '}', '#']).unwrap_or(value.len());
        let written = value[..len].trim_end();
        return Some(if written.is_empty() || written == "|" || written == ">" {
            (first + at, key.len())
        } else {
            (first + from + skip, written.len())
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        let cases = [
            ("postgres://ann:s3cret@127.0.0.1:5432/shop", "postgres://ann:***@127.0.0.1:5432/shop"),
            ("postgresql://ann:p%40ss@db/shop?sslmode=disable", "postgresql://ann:***@db/shop?sslmode=disable"),
            ("postgres://ann@db/shop", "postgres://ann@db/shop"),
            ("postgres://db/shop?user=ann&password=s3cret", "postgres://db/shop?user=ann&password=***"),
            ("host=db user=ann password=s3cret dbname=shop", "host=db user=ann password=*** dbname=shop"),
            ("host=db password = 'a b\\' c' dbname=shop", "host=db password = *** dbname=shop"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn a_password_written_in_the_url_is_masked_in_the_file_shown() {
        let text = "sink:\n  url: \"postgres://ann:s3cret@db/shop\"\n  table: s3cret_orders\n";
        let file = SourceFile::new("p.yaml", text);
        let offset = text.find("\"postgres").unwrap();
        let url = Located {
            value: Secret::new("postgres://ann:s3cret@db/shop"),
            loc: Loc { line: 2, column: 8, offset, len: 31 },
        };
        let shown = without_password(&file, &url);
        assert_eq!(&*shown.text, "sink:\n  url: \"postgres://ann:******@db/shop\"\n  table: s3cret_orders\n");
        let from_env = Located {
            value: Secret::new("postgres://ann:s3cret@db/shop"),
            loc: Loc { line: 2, column: 8, offset, len: 0 },
        };
        let env_file = SourceFile::new("p.yaml", "sink:\n  url: \"${URL}\"\n");
        assert_eq!(without_password(&env_file, &from_env).text, env_file.text);
    }

    #[test]
    fn quotes_names() {
        assert_eq!(quote_table("sales.orders"), "\"sales\".\"orders\"");
        assert_eq!(quote_table("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn finds_keys_in_the_block() {
        let text = "source:\n  kind: postgres\n  url: x\n  query: |\n    SELECT 1\n  cursor: id\nsink:\n  cursor: no\n";
        let near = text.find("url").unwrap();
        let (at, len) = find_key(text, near, "cursor").unwrap();
        assert_eq!(&text[at..at + len], "id");
        let (at, len) = find_key(text, near, "query").unwrap();
        assert_eq!(&text[at..at + len], "query");
        assert_eq!(find_key(text, near, "batch"), None);
        let flow = "sink: {kind: postgres, url: x, table: t, key: order_id}\n";
        let (at, len) = find_key(flow, flow.find("table").unwrap(), "key").unwrap();
        assert_eq!(&flow[at..at + len], "order_id");
    }
}
