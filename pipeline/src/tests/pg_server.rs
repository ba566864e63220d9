//! A real PostgreSQL server for tests: [`PgServer::start`] makes a
//! throwaway cluster in a temporary folder, starts it on a free port of
//! 127.0.0.1 and stops it (and deletes the folder) when dropped.
//!
//! Tests talk to a real server, never a mock: the point of the PostgreSQL
//! endpoints is what the server does with our SQL (casts, upserts, numeric
//! precision). Each server is its own cluster, so tests run in parallel
//! without sharing tables. `initdb` runs once per build and PostgreSQL
//! version: its result is kept under `CARGO_TARGET_TMPDIR` and copied for
//! each server, which takes a tenth of the time.
//!
//! PostgreSQL refuses to run as root; as root, the server runs as the
//! `postgres` user (`runuser`), which owns the folder. Without `initdb` and
//! `pg_ctl` the harness panics: a test that needs PostgreSQL must not pass
//! by skipping.
//!
//! Shared by the pipeline's tests and the root package's (which includes
//! it with `#[path = "../pipeline/src/tests/pg_server.rs"] mod postgres;`).
//! It needs only the standard library.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The user the server runs as when the tests run as root.
const SERVER_USER: &str = "postgres";

/// A running PostgreSQL server, stopped on drop.
pub struct PgServer {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    psql: PathBuf,
    as_root: bool,
}

impl PgServer {
    /// Starts a fresh server on a free loopback port; panics with the
    /// server's log if it does not come up.
    pub fn start() -> PgServer {
        let bin = bin_dir();
        let as_root = is_root();
        let template = template(&bin, as_root);
        let mut last_log = String::new();
        // A free port can be taken between our probe and the server's bind:
        // try a few.
        for _ in 0..5 {
            let dir = temp_dir("server");
            run(Command::new("cp").arg("-a").arg(template).arg(dir.join("data")));
            if as_root {
                run(Command::new("chown").args(["-R", &format!("{SERVER_USER}:")]).arg(&dir));
            }
            let port = free_port();
            let server = PgServer { psql: psql(&bin), dir, port, bin: bin.clone(), as_root };
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{}' -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=30",
                server.dir.display()
            );
            let started = server
                .command(&server.bin.join("pg_ctl"))
                .arg("-D")
                .arg(server.dir.join("data"))
                .arg("-l")
                .arg(server.dir.join("log"))
                .args(["-w", "-t", "60", "-o", &options, "start"])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if started && server.wait_ready() {
                return server;
            }
            last_log = std::fs::read_to_string(server.dir.join("log")).unwrap_or_default();
            // `server` drops here: stopped and removed.
        }
        panic!("PostgreSQL did not start; last server log:\n{last_log}");
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres` (trust
    /// authentication: any password is accepted).
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The url of another database of this server (see
    /// [`PgServer::create_database`]).
    pub fn url_for(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database and returns its url.
    pub fn create_database(&self, name: &str) -> String {
        self.sql(&format!("CREATE DATABASE \"{name}\""));
        self.url_for(name)
    }

    /// Runs SQL (one or more statements) in the `postgres` database with
    /// psql and returns its unaligned, tuples-only output (`|` between
    /// columns, one row a line); panics on an error.
    pub fn sql(&self, sql: &str) -> String {
        self.sql_in("postgres", sql).unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
    }

    /// Runs SQL in a database; `Err` holds psql's error output.
    pub fn sql_in(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(&self.psql)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.psql.display()));
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n').to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn wait_ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.sql_in("postgres", "SELECT 1").is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A command that runs as the server's user.
    fn command(&self, program: &Path) -> Command {
        as_server_user(program, self.as_root)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self
            .command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder with `initdb` and `pg_ctl`: from PATH, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> PathBuf {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        if has_both(&dir) {
            // Debian links them into PATH; the real folder holds psql and
            // postgres too.
            let real = std::fs::canonicalize(dir.join("initdb"))
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .filter(|d| has_both(d));
            return real.unwrap_or(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has_both(dir))
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, dir)) => dir,
        None => panic!(
            "PostgreSQL's initdb and pg_ctl are not in PATH nor in /usr/lib/postgresql/*/bin; \
             these tests need a real server: install postgresql: apt-get install -y postgresql"
        ),
    }
}

fn psql(bin: &Path) -> PathBuf {
    if bin.join("psql").is_file() {
        return bin.join("psql");
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("psql"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("psql not found: install postgresql-client: apt-get install -y postgresql-client"))
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn as_server_user(program: &Path, as_root: bool) -> Command {
    if !as_root {
        return Command::new(program);
    }
    let mut command = Command::new("runuser");
    command.args(["-u", SERVER_USER, "--"]).arg(program);
    command
}

/// A cluster made by `initdb` once per build and PostgreSQL version, copied
/// for each server.
fn template(bin: &Path, as_root: bool) -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        // "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let out = run(Command::new(bin.join("pg_ctl")).arg("--version"));
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let version: String = out
            .split_whitespace()
            .nth(2)
            .unwrap_or(&out)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        // Integration tests get a folder of their own from cargo; unit tests
        // keep the template beside the build.
        let root = option_env!("CARGO_TARGET_TMPDIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tmp"));
        let dir = root.join(format!("pg-template-{version}"));
        if dir.join("PG_VERSION").is_file() {
            return dir;
        }
        // initdb in a folder the server user can reach, then move the
        // result into place in one rename, so that parallel test processes
        // never see half a template.
        let stage = temp_dir("initdb");
        if as_root {
            run(Command::new("chown").arg(format!("{SERVER_USER}:")).arg(&stage));
        }
        run(as_server_user(&bin.join("initdb"), as_root)
            .arg("-D")
            .arg(stage.join("data"))
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .stdout(Stdio::null()));
        let partial = root.join(format!("pg-template-{version}.{}", std::process::id()));
        let _ = std::fs::create_dir_all(&root);
        run(Command::new("cp").arg("-a").arg(stage.join("data")).arg(&partial));
        if std::fs::rename(&partial, &dir).is_err() {
            // Another process was first.
            let _ = std::fs::remove_dir_all(&partial);
        }
        let _ = std::fs::remove_dir_all(&stage);
        dir
    })
}

/// A new empty folder under the system's temporary folder.
fn temp_dir(what: &str) -> PathBuf {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("mapwright-pg-{what}-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"));
    listener.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("no local address: {e}"))
}

fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if !out.status.success() {
        panic!("{command:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    out
}
