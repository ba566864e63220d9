//! The state store: an embedded SQLite database (rusqlite, bundled) that
//! makes delivery durable and idempotent across restarts.
//!
//! Three tables:
//! - `inbox` — payloads accepted from sources that cannot be read again
//!   (an HTTP request body). A payload is stored, and the store synced to
//!   disk, before the sender gets its 2xx; it is deleted once every record
//!   in it was delivered, filtered or dead-lettered.
//! - `delivered` — the record key and idempotency hash of every delivered
//!   record: a record already delivered is skipped, so a repeat (a webhook
//!   sent twice, a batch re-read after a crash) is harmless.
//! - `cursors` — how far a polled source has read (a PostgreSQL cursor).
//!
//! The store runs in WAL mode. The inbox connection syncs every commit
//! (`synchronous=FULL`: an acknowledged payload survives a power cut); the
//! processing connection uses `synchronous=NORMAL`, which survives a
//! killed process — a lost `delivered` mark after a power cut only means a
//! re-send with the same idempotency key, which the sink drops.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

/// A state store error: what failed, with the store's path.
#[derive(Debug, thiserror::Error)]
#[error("state store {}: {message}", path.display())]
pub struct StateError {
    /// The store's file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// A payload waiting in the inbox.
#[derive(Clone, Debug)]
pub struct Pending {
    /// Its row id, increasing in arrival order.
    pub id: i64,
    /// The raw body; empty for a large one ([`Pending::large`]), which is
    /// read with [`State::inbox_body_to`].
    pub body: Vec<u8>,
    /// Its size in bytes.
    pub len: u64,
    /// Whether it was stored as a large payload (spooled, over 1 MiB) and
    /// is not read into memory.
    pub large: bool,
    /// How many records it holds (counted when it was accepted).
    pub records: u64,
}

/// What waits in the inbox: payloads, their records, their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InboxSize {
    /// Payloads.
    pub payloads: u64,
    /// Records in them.
    pub records: u64,
    /// Bytes of their bodies.
    pub bytes: u64,
}

/// The state store; cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct State {
    path: Arc<PathBuf>,
    /// Processing: delivered marks, cursors, inbox reads and deletes.
    main: Arc<Mutex<Connection>>,
    /// Accepting: inbox inserts, synced on every commit.
    inbox: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    body BLOB NOT NULL,
    records INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS delivered (
    key TEXT NOT NULL,
    hash TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (key, hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbox_large (
    id INTEGER PRIMARY KEY,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS delivered_at ON delivered (at);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sinks (
    name TEXT PRIMARY KEY,
    open INTEGER NOT NULL,
    since TEXT,
    last_error TEXT,
    queued INTEGER NOT NULL,
    in_flight INTEGER NOT NULL,
    delivered INTEGER NOT NULL,
    last_success TEXT,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
";

/// How to recover a damaged store, for the message that says it is.
pub(crate) const RECOVERY: &str = "stop every mapwright that uses it; keep a copy (`cp STORE STORE.damaged`); \
try `sqlite3 STORE.damaged .recover | sqlite3 STORE.recovered` and move STORE.recovered in its place; \
if nothing can be recovered, move it away and start with `--fresh-state`: records not marked delivered are sent \
again with their idempotency keys, and webhooks accepted but not yet delivered are lost (ask their senders to resend)";

impl State {
    /// Opens (or creates) the store at `path`, creating its folder.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let err = |message: String| StateError { path: path.to_path_buf(), message };
        let db_err = |e: rusqlite::Error| {
            let damaged = matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
            );
            if damaged {
                let shown = path.display().to_string();
                err(format!("it is damaged ({e}). To recover: {}", RECOVERY.replace("STORE", &shown)))
            } else {
                err(e.to_string())
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create its folder: {e}")))?;
        }
        let open = |sync: &str| -> Result<Connection, StateError> {
            let conn = Connection::open(path).map_err(db_err)?;
            conn.busy_timeout(Duration::from_secs(30)).map_err(db_err)?;
            conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
            conn.pragma_update(None, "synchronous", sync).map_err(db_err)?;
            Ok(conn)
        };
        let main = open("NORMAL")?;
        main.execute_batch(SCHEMA).map_err(db_err)?;
        // Stores made before the inbox counted records: each payload
        // counts as one until it is done.
        let has_records: bool = main
            .query_row("SELECT count(*) FROM pragma_table_info('inbox') WHERE name = 'records'", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(|e| err(e.to_string()))?;
        if !has_records {
            main.execute_batch("ALTER TABLE inbox ADD COLUMN records INTEGER NOT NULL DEFAULT 1")
                .map_err(|e| err(format!("cannot add the inbox's record count: {e}")))?;
        }
        let inbox = open("FULL")?;
        Ok(State {
            path: Arc::new(path.to_path_buf()),
            main: Arc::new(Mutex::new(main)),
            inbox: Arc::new(Mutex::new(inbox)),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> StateError {
        StateError { path: self.path.to_path_buf(), message: e.to_string() }
    }

    fn main(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (its own transactions roll back), so a poisoned lock is usable.
        self.main.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores an accepted payload of `records` records durably (synced to
    /// disk when this returns) and gives its id. Blocking: call it off the
    /// async threads. (The endpoints store through the group-committing
    /// writer, `sources/inbox.rs`.)
    #[cfg(test)]
    pub fn inbox_put(&self, body: &[u8], records: u64) -> Result<i64, StateError> {
        self.inbox_put_all(&[(body, records)]).map(|ids| ids[0])
    }

    /// Stores several payloads in one transaction, synced once: what a
    /// burst of webhooks costs is one disk sync, not one each. Gives their
    /// ids, in order.
    pub fn inbox_put_all(&self, payloads: &[(&[u8], u64)]) -> Result<Vec<i64>, StateError> {
        let mut conn = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let mut ids = Vec::with_capacity(payloads.len());
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO inbox (received_at, body, records) VALUES (?1, ?2, ?3)")
                .map_err(|e| self.err(e))?;
            let at = now();
            for (body, records) in payloads {
                ids.push(stmt.insert(params![at, body, *records as i64]).map_err(|e| self.err(e))?);
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(ids)
    }

    /// Stores a payload of `len` bytes read from `body` (a spooled large
    /// request) without holding it in memory: the row is made with an
    /// empty blob of the right size (in `inbox_large`), which is then
    /// written in pieces, all in one synced transaction.
    pub fn inbox_put_from(&self, body: &mut dyn std::io::Read, len: u64, records: u64) -> Result<i64, StateError> {
        let mut conn = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let size =
            i32::try_from(len).map_err(|_| self.err(format!("a payload of {len} bytes is too large to store")))?;
        // The body goes to a table of its own where it is the last column:
        // SQLite then makes the row without filling the zeros in memory.
        tx.execute(
            "INSERT INTO inbox (received_at, body, records) VALUES (?1, x'', ?2)",
            params![now(), records as i64],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        tx.execute("INSERT INTO inbox_large (id, body) VALUES (?1, zeroblob(?2))", params![id, size])
            .map_err(|e| self.err(e))?;
        {
            let mut blob =
                tx.blob_open(rusqlite::MAIN_DB, "inbox_large", "body", id, false).map_err(|e| self.err(e))?;
            let copied = std::io::copy(body, &mut blob).map_err(|e| self.err(e))?;
            if copied != len {
                return Err(self.err(format!("the payload ended after {copied} of {len} bytes")));
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Payloads after `after` (an id; 0 for all), oldest first, at most
    /// `limit` of them and, past the first, at most `max_bytes` in all.
    pub fn inbox_after(&self, after: i64, limit: usize, max_bytes: usize) -> Result<Vec<Pending>, StateError> {
        let conn = self.main();
        let mut stmt = conn
            .prepare_cached(
                "SELECT i.id, coalesce(length(l.body), length(i.body)), i.records, l.id IS NOT NULL \
                 FROM inbox i LEFT JOIN inbox_large l ON l.id = i.id WHERE i.id > ?1 ORDER BY i.id LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, bool>(3)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut body = conn.prepare_cached("SELECT body FROM inbox WHERE id = ?1").map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        let mut bytes = 0usize;
        for (id, len, records, large) in rows {
            let len = len as u64;
            let counted = if large { 0 } else { len as usize };
            if !out.is_empty() && bytes + counted > max_bytes {
                break;
            }
            bytes += counted;
            let body: Vec<u8> =
                if large { Vec::new() } else { body.query_row([id], |r| r.get(0)).map_err(|e| self.err(e))? };
            out.push(Pending { id, body, len, large, records: records as u64 });
        }
        Ok(out)
    }

    /// Copies a payload's body to `out` in pieces (a large one), giving
    /// its length.
    pub fn inbox_body_to(&self, id: i64, out: &mut dyn std::io::Write) -> Result<u64, StateError> {
        let conn = self.main();
        let mut blob = conn.blob_open(rusqlite::MAIN_DB, "inbox_large", "body", id, true).map_err(|e| self.err(e))?;
        std::io::copy(&mut blob, out).map_err(|e| self.err(e))
    }

    /// The folder of the store (where large payloads are spooled).
    pub fn folder(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// What waits in the inbox.
    pub fn inbox_size(&self) -> Result<InboxSize, StateError> {
        let conn = self.main();
        conn.query_row(
            "SELECT count(*), coalesce(sum(records), 0), coalesce(sum(length(body)), 0) \
             + (SELECT coalesce(sum(length(body)), 0) FROM inbox_large) FROM inbox",
            [],
            |r| {
                Ok(InboxSize {
                    payloads: r.get::<_, i64>(0)? as u64,
                    records: r.get::<_, i64>(1)? as u64,
                    bytes: r.get::<_, i64>(2)? as u64,
                })
            },
        )
        .map_err(|e| self.err(e))
    }

    /// How many payloads wait in the inbox.
    #[cfg(test)]
    pub fn inbox_len(&self) -> Result<u64, StateError> {
        self.inbox_size().map(|s| s.payloads)
    }

    /// Removes payloads whose records are all done, in one transaction.
    pub fn inbox_done(&self, ids: &[i64]) -> Result<(), StateError> {
        let mut conn = self.main();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM inbox WHERE id = ?1").map_err(|e| self.err(e))?;
            let mut large = tx.prepare_cached("DELETE FROM inbox_large WHERE id = ?1").map_err(|e| self.err(e))?;
            for id in ids {
                stmt.execute([id]).map_err(|e| self.err(e))?;
                large.execute([id]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Whether a record with this key and idempotency hash was delivered.
    pub fn is_delivered(&self, key: &str, hash: &str) -> Result<bool, StateError> {
        let conn = self.main();
        conn.prepare_cached("SELECT 1 FROM delivered WHERE key = ?1 AND hash = ?2")
            .and_then(|mut s| s.query_row(params![key, hash], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(|e| self.err(e))
    }

    /// Marks records delivered, in one transaction.
    pub fn mark_delivered<'a>(&self, marks: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<(), StateError> {
        let mut conn = self.main();
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT OR IGNORE INTO delivered (key, hash, at) VALUES (?1, ?2, ?3)")
                .map_err(|e| self.err(e))?;
            let at = now();
            for (key, hash) in marks {
                stmt.execute(params![key, hash, at]).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// How many records were delivered in all.
    #[cfg(test)]
    pub fn delivered_len(&self) -> Result<u64, StateError> {
        let conn = self.main();
        conn.query_row("SELECT count(*) FROM delivered", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// Whether the store has never been used: no record of its creation,
    /// nothing delivered, no cursor, nothing in the inbox.
    pub fn is_unused(&self) -> Result<bool, StateError> {
        let conn = self.main();
        conn.query_row(
            "SELECT NOT EXISTS (SELECT 1 FROM meta WHERE key = 'created_at') AND NOT EXISTS (SELECT 1 FROM delivered) \
             AND NOT EXISTS (SELECT 1 FROM cursors) AND NOT EXISTS (SELECT 1 FROM inbox)",
            [],
            |r| r.get(0),
        )
        .map_err(|e| self.err(e))
    }

    /// Notes who uses the store: when it was created (first time only),
    /// the pipeline, and the process now running it.
    pub fn claim(&self, pipeline: &str) -> Result<(), StateError> {
        let conn = self.main();
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', ?1)", [now()])
            .and_then(|_| {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('pipeline', ?1), ('pid', ?2), ('started_at', ?3) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![pipeline, std::process::id().to_string(), now()],
                )
            })
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// A value of the `meta` table.
    #[cfg(test)]
    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        let conn = self.main();
        conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(|e| self.err(e))
    }

    /// Deletes delivered marks older than `keep`, a few thousand at a time
    /// (the lock is let go in between); gives how many went. Pending
    /// records (the inbox) are never pruned.
    pub fn prune(&self, keep: Duration) -> Result<u64, StateError> {
        let cutoff = mapwright_dsl::jiff::Timestamp::now()
            .checked_sub(
                mapwright_dsl::jiff::SignedDuration::try_from(keep).unwrap_or(mapwright_dsl::jiff::SignedDuration::MAX),
            )
            .unwrap_or(mapwright_dsl::jiff::Timestamp::MIN);
        let cutoff = cutoff.to_string();
        let mut pruned = 0;
        loop {
            let n = {
                let conn = self.main();
                conn.prepare_cached(
                    "DELETE FROM delivered WHERE (key, hash) IN (SELECT key, hash FROM delivered WHERE at < ?1 LIMIT 5000)",
                )
                .and_then(|mut s| s.execute([&cutoff]))
                .map_err(|e| self.err(e))?
            };
            pruned += n as u64;
            if n < 5000 {
                return Ok(pruned);
            }
        }
    }

    /// Writes what a sink's delivery looks like now, for `mapwright state`.
    pub fn set_sink(&self, sink: &SinkRow) -> Result<(), StateError> {
        let conn = self.main();
        conn.prepare_cached(
            "INSERT INTO sinks (name, open, since, last_error, queued, in_flight, delivered, last_success, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (name) DO UPDATE SET open = excluded.open, \
             since = excluded.since, last_error = excluded.last_error, queued = excluded.queued, \
             in_flight = excluded.in_flight, delivered = excluded.delivered, last_success = coalesce(excluded.last_success, sinks.last_success), \
             updated_at = excluded.updated_at",
        )
        .and_then(|mut s| {
            s.execute(params![
                sink.name,
                sink.open,
                sink.since,
                sink.last_error,
                sink.queued as i64,
                sink.in_flight as i64,
                sink.delivered as i64,
                sink.last_success,
                now()
            ])
        })
        .map(|_| ())
        .map_err(|e| self.err(e))
    }

    /// What `mapwright state` shows.
    pub fn report(&self) -> Result<Report, StateError> {
        let conn = self.main();
        let e = |e: rusqlite::Error| self.err(e);
        let meta = |key: &str| -> Result<Option<String>, StateError> {
            conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(e)
        };
        let (created_at, pipeline, pid, started_at) =
            (meta("created_at")?, meta("pipeline")?, meta("pid")?, meta("started_at")?);
        let inbox = conn
            .query_row(
                "SELECT count(*), coalesce(sum(records), 0), coalesce(sum(length(body)), 0) \
                 + (SELECT coalesce(sum(length(body)), 0) FROM inbox_large), min(received_at) FROM inbox",
                [],
                |r| {
                    Ok((
                        InboxSize {
                            payloads: r.get::<_, i64>(0)? as u64,
                            records: r.get::<_, i64>(1)? as u64,
                            bytes: r.get::<_, i64>(2)? as u64,
                        },
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .map_err(e)?;
        // Marks by sink: `name` U+001F `key`, or a bare key for the one
        // unnamed sink; `dead:` marks are failed records already written.
        let mut marks: Vec<(String, u64, Option<String>)> = Vec::new();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT CASE WHEN key LIKE 'dead:%' THEN 'dead letter' WHEN instr(key, char(31)) > 0 \
                     THEN substr(key, 1, instr(key, char(31)) - 1) ELSE 'sink' END AS sink, count(*), max(at) \
                     FROM delivered GROUP BY sink ORDER BY sink",
                )
                .map_err(e)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64, r.get::<_, Option<String>>(2)?))
                })
                .map_err(e)?;
            for row in rows {
                marks.push(row.map_err(e)?);
            }
        }
        let mut cursors = Vec::new();
        {
            let mut stmt = conn.prepare("SELECT source, value FROM cursors ORDER BY source").map_err(e)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(e)?;
            for row in rows {
                cursors.push(row.map_err(e)?);
            }
        }
        let mut sinks = Vec::new();
        {
            let mut stmt = conn
                .prepare(
                    "SELECT name, open, since, last_error, queued, in_flight, delivered, last_success, updated_at \
                     FROM sinks ORDER BY name",
                )
                .map_err(e)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        SinkRow {
                            name: r.get(0)?,
                            open: r.get(1)?,
                            since: r.get(2)?,
                            last_error: r.get(3)?,
                            queued: r.get::<_, i64>(4)? as u64,
                            in_flight: r.get::<_, i64>(5)? as u64,
                            delivered: r.get::<_, i64>(6)? as u64,
                            last_success: r.get(7)?,
                        },
                        r.get::<_, String>(8)?,
                    ))
                })
                .map_err(e)?;
            for row in rows {
                sinks.push(row.map_err(e)?);
            }
        }
        Ok(Report {
            path: self.path.to_path_buf(),
            created_at,
            pipeline,
            pid: pid.and_then(|p| p.parse().ok()),
            started_at,
            inbox: inbox.0,
            oldest_pending: inbox.1,
            marks,
            cursors,
            sinks,
        })
    }

    /// A source's cursor.
    pub fn cursor(&self, source: &str) -> Result<Option<String>, StateError> {
        let conn = self.main();
        conn.query_row("SELECT value FROM cursors WHERE source = ?1", [source], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Moves a source's cursor.
    pub fn set_cursor(&self, source: &str, value: &str) -> Result<(), StateError> {
        let conn = self.main();
        conn.execute(
            "INSERT INTO cursors (source, value) VALUES (?1, ?2) ON CONFLICT (source) DO UPDATE SET value = excluded.value",
            params![source, value],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }
}

/// One sink's delivery as last written by the running pipeline.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkRow {
    /// The sink's name.
    pub name: String,
    /// Whether its circuit breaker is open.
    pub open: bool,
    /// Since when it is open.
    pub since: Option<String>,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// Records waiting for a request.
    pub queued: u64,
    /// Requests in flight.
    pub in_flight: u64,
    /// Records delivered by this run.
    pub delivered: u64,
    /// When a request last went through.
    pub last_success: Option<String>,
}

/// What a state store holds, for `mapwright state`.
#[derive(Clone, Debug)]
pub struct Report {
    /// The store's file.
    pub path: PathBuf,
    /// When it was first used.
    pub created_at: Option<String>,
    /// The pipeline that last ran on it.
    pub pipeline: Option<String>,
    /// The process that last ran it, and when it started.
    pub pid: Option<u32>,
    /// When that run started.
    pub started_at: Option<String>,
    /// What waits in the inbox.
    pub inbox: InboxSize,
    /// When the oldest payload waiting arrived.
    pub oldest_pending: Option<String>,
    /// Delivered marks by sink (`dead letter` for failed records): how
    /// many, and the newest.
    pub marks: Vec<(String, u64, Option<String>)>,
    /// Cursors of polled sources.
    pub cursors: Vec<(String, String)>,
    /// Each sink as last written by the running pipeline, and when.
    pub sinks: Vec<(SinkRow, String)>,
}

fn now() -> String {
    mapwright_dsl::jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp() -> (tempfile::TempDir, State) {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("sub/state.db")).unwrap();
        (dir, state)
    }

    #[test]
    fn inbox_keeps_payloads_in_order_until_done() {
        let (_d, s) = temp();
        let a = s.inbox_put(b"{\"a\":1}", 1).unwrap();
        let b = s.inbox_put(b"[1,2]", 2).unwrap();
        assert!(b > a);
        let all = s.inbox_after(0, 10, usize::MAX).unwrap();
        assert_eq!(all.iter().map(|p| p.body.as_slice()).collect::<Vec<_>>(), [&b"{\"a\":1}"[..], b"[1,2]"]);
        assert_eq!(all.iter().map(|p| p.records).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(s.inbox_after(a, 10, usize::MAX).unwrap().len(), 1);
        assert_eq!(s.inbox_after(0, 10, 3).unwrap().len(), 1, "past the first payload, within max_bytes");
        assert_eq!(s.inbox_size().unwrap(), InboxSize { payloads: 2, records: 3, bytes: 12 });
        s.inbox_done(&[a]).unwrap();
        assert_eq!(s.inbox_len().unwrap(), 1);
        let ids = s.inbox_put_all(&[(b"{}", 1), (b"{}", 1)]).unwrap();
        assert!(ids[0] > b && ids[1] > ids[0]);
        let big = vec![b'x'; 100_000];
        let c = s.inbox_put_from(&mut big.as_slice(), big.len() as u64, 7).unwrap();
        let last = s.inbox_after(ids[1], 10, usize::MAX).unwrap();
        assert_eq!((last[0].id, last[0].len, last[0].records, last[0].large), (c, 100_000, 7, true));
        let mut body = Vec::new();
        s.inbox_body_to(c, &mut body).unwrap();
        assert_eq!(body, big);
        let huge = vec![b'y'; (1 << 20) + 1];
        let h = s.inbox_put_from(&mut huge.as_slice(), huge.len() as u64, 1).unwrap();
        let p = s.inbox_after(c, 10, usize::MAX).unwrap();
        assert!(p[0].large && p[0].body.is_empty() && p[0].len == huge.len() as u64, "not read into memory");
        let mut copy = Vec::new();
        assert_eq!(s.inbox_body_to(h, &mut copy).unwrap(), huge.len() as u64);
        assert_eq!(copy, huge);
        assert!(s.inbox_put_from(&mut &big[..10], 20, 1).is_err(), "a short body is not stored");
        assert_eq!(s.inbox_len().unwrap(), 5);
    }

    #[test]
    fn delivered_marks_and_cursors_survive_reopening() {
        let (d, s) = temp();
        assert!(!s.is_delivered("k1", "h1").unwrap());
        s.mark_delivered([("k1", "h1"), ("k2", "h2"), ("k1", "h1")]).unwrap();
        s.set_cursor("pg", "41").unwrap();
        s.set_cursor("pg", "42").unwrap();
        drop(s);
        let s = State::open(&d.path().join("sub/state.db")).unwrap();
        assert!(s.is_delivered("k1", "h1").unwrap());
        assert!(!s.is_delivered("k1", "h2").unwrap());
        assert_eq!(s.delivered_len().unwrap(), 2);
        assert_eq!(s.cursor("pg").unwrap().as_deref(), Some("42"));
        assert_eq!(s.cursor("other").unwrap(), None);
    }

    #[test]
    fn a_store_knows_whether_it_was_used_and_prunes_old_marks_only() {
        let (_d, s) = temp();
        assert!(s.is_unused().unwrap());
        s.claim("orders").unwrap();
        assert!(!s.is_unused().unwrap(), "claimed: used");
        let created = s.meta("created_at").unwrap();
        s.claim("orders").unwrap();
        assert_eq!(s.meta("created_at").unwrap(), created, "created once");
        s.mark_delivered([("k1", "h1"), ("erp\u{1f}k1", "h1"), ("dead:k2", "h2")]).unwrap();
        {
            let conn = s.main();
            conn.execute("UPDATE delivered SET at = '2020-01-01T00:00:00Z' WHERE key = 'k1'", []).unwrap();
        }
        s.inbox_put(b"{}", 1).unwrap();
        assert_eq!(s.prune(Duration::from_secs(30 * 86400)).unwrap(), 1, "only the old mark");
        assert!(!s.is_delivered("k1", "h1").unwrap() && s.is_delivered("erp\u{1f}k1", "h1").unwrap());
        s.set_sink(&SinkRow {
            name: "erp".into(),
            open: true,
            last_error: Some("503".into()),
            queued: 4,
            ..SinkRow::default()
        })
        .unwrap();
        let r = s.report().unwrap();
        assert_eq!(r.pipeline.as_deref(), Some("orders"));
        assert_eq!(r.inbox.payloads, 1);
        assert_eq!(
            r.marks.iter().map(|(n, c, _)| (n.as_str(), *c)).collect::<Vec<_>>(),
            [("dead letter", 1), ("erp", 1)]
        );
        assert_eq!((r.sinks[0].0.name.as_str(), r.sinks[0].0.open, r.sinks[0].0.queued), ("erp", true, 4));
    }

    #[test]
    fn a_damaged_store_says_how_to_recover() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("state.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let err = State::open(&path).err().unwrap().to_string();
        assert!(err.contains("damaged") && err.contains(".recover") && err.contains("--fresh-state"), "{err}");
        assert!(err.contains(&format!("cp {} {}.damaged", path.display(), path.display())), "{err}");
    }

    #[test]
    fn an_unwritable_place_is_an_error_naming_it() {
        let err = State::open(Path::new("/proc/nope/state.db")).err().unwrap();
        assert!(err.to_string().contains("/proc/nope/state.db"), "{err}");
    }
}
