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
    /// The raw body.
    pub body: Vec<u8>,
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
";

impl State {
    /// Opens (or creates) the store at `path`, creating its folder.
    pub fn open(path: &Path) -> Result<State, StateError> {
        let err = |message: String| StateError { path: path.to_path_buf(), message };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create its folder: {e}")))?;
        }
        let open = |sync: &str| -> Result<Connection, StateError> {
            let conn = Connection::open(path).map_err(|e| err(e.to_string()))?;
            conn.busy_timeout(Duration::from_secs(30)).map_err(|e| err(e.to_string()))?;
            conn.pragma_update(None, "journal_mode", "WAL").map_err(|e| err(e.to_string()))?;
            conn.pragma_update(None, "synchronous", sync).map_err(|e| err(e.to_string()))?;
            Ok(conn)
        };
        let main = open("NORMAL")?;
        main.execute_batch(SCHEMA).map_err(|e| err(format!("cannot create its tables: {e}")))?;
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
    /// empty blob of the right size, which is then written in pieces, all
    /// in one synced transaction.
    pub fn inbox_put_from(&self, body: &mut dyn std::io::Read, len: u64, records: u64) -> Result<i64, StateError> {
        let mut conn = self.inbox.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        let size =
            i32::try_from(len).map_err(|_| self.err(format!("a payload of {len} bytes is too large to store")))?;
        tx.execute(
            "INSERT INTO inbox (received_at, body, records) VALUES (?1, zeroblob(?2), ?3)",
            params![now(), size, records as i64],
        )
        .map_err(|e| self.err(e))?;
        let id = tx.last_insert_rowid();
        {
            let mut blob = tx.blob_open(rusqlite::MAIN_DB, "inbox", "body", id, false).map_err(|e| self.err(e))?;
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
            .prepare_cached("SELECT id, length(body), records FROM inbox WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        let mut body = conn.prepare_cached("SELECT body FROM inbox WHERE id = ?1").map_err(|e| self.err(e))?;
        let mut out = Vec::with_capacity(rows.len());
        let mut bytes = 0usize;
        for (id, len, records) in rows {
            if !out.is_empty() && bytes + len as usize > max_bytes {
                break;
            }
            bytes += len as usize;
            let body: Vec<u8> = body.query_row([id], |r| r.get(0)).map_err(|e| self.err(e))?;
            out.push(Pending { id, body, records: records as u64 });
        }
        Ok(out)
    }

    /// What waits in the inbox.
    pub fn inbox_size(&self) -> Result<InboxSize, StateError> {
        let conn = self.main();
        conn.query_row(
            "SELECT count(*), coalesce(sum(records), 0), coalesce(sum(length(body)), 0) FROM inbox",
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
            for id in ids {
                stmt.execute([id]).map_err(|e| self.err(e))?;
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
        assert_eq!((last[0].id, last[0].body.len(), last[0].records), (c, 100_000, 7));
        assert!(s.inbox_put_from(&mut &big[..10], 20, 1).is_err(), "a short body is not stored");
        assert_eq!(s.inbox_len().unwrap(), 4);
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
    fn an_unwritable_place_is_an_error_naming_it() {
        let err = State::open(Path::new("/proc/nope/state.db")).err().unwrap();
        assert!(err.to_string().contains("/proc/nope/state.db"), "{err}");
    }
}
