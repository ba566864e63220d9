//! `mapwright test`: the fixtures under `tests/commands/test/` run in a
//! scratch copy (so `--update` can write), and the report and exit code of
//! each run are snapshots.
//!
//! - `passing/`: an object, a JSON array and a JSON Lines batch, and an
//!   `expect_error:` — exit 0.
//! - `failing/`: number spelling and key order differ (unified diffs), an
//!   expected failure that does not happen, an unexpected one, a filtered
//!   single record — exit 2.
//! - `new/`: a missing expect file — exit 2, and `--update` writes it.
//! - `multi/`: a multi-source mapping with `inputs:` per source.
//! - `bad/`: mappings that do not compile, fixtures that are not JSON,
//!   paths outside the project — each reported per test; exit 1.

use std::path::{Path, PathBuf};
use std::process::Command;

use mapwright_engine::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/commands/test")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch copy of the fixtures; the binary runs inside it.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        copy_dir(&fixtures(), dir.path());
        Sandbox { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Runs `mapwright test ARGS`: the exit code and standard output, then
    /// standard error when there is any.
    fn test(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_mapwright"))
            .arg("test")
            .args(args)
            .current_dir(self.dir.path())
            .env("NO_COLOR", "1")
            .output()
            .expect("run mapwright");
        let code = out.status.code().expect("exit code");
        let mut text = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        if !stderr.is_empty() {
            text.push_str("--- stderr\n");
            text.push_str(&stderr);
        }
        (code, text)
    }
}

#[test]
fn passing_tests_exit_0() {
    let s = Sandbox::new();
    let (code, out) = s.test(&["passing"]);
    insta::assert_snapshot!(out);
    assert_eq!(code, 0);
}

#[test]
fn failing_tests_show_a_diff_and_exit_2() {
    let s = Sandbox::new();
    let (code, out) = s.test(&["failing"]);
    insta::assert_snapshot!(out);
    assert_eq!(code, 2);
}

#[test]
fn a_missing_expect_file_is_new_and_update_writes_it() {
    let s = Sandbox::new();
    let (code, out) = s.test(&["new"]);
    assert_eq!(code, 2, "{out}");
    assert!(!s.path("new/fixtures/expected/batch.out.json").exists());
    insta::assert_snapshot!("new_before_update", out);

    let (code, out) = s.test(&["new", "--update"]);
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!("new_update", out);
    let written = s.read("new/fixtures/expected/batch.out.json");
    let value = Value::from_json(&written).unwrap();
    assert_eq!(written, format!("{}\n", value.to_json_pretty()), "pretty JSON and a newline");

    let (code, out) = s.test(&["new"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 passed, 0 failed, 0 new"), "{out}");
}

/// An expect file that no longer matches fails; `--update` rewrites it
/// (and only it) and the next run passes.
#[test]
fn update_round_trip() {
    let s = Sandbox::new();
    let order = "passing/fixtures/order.out.json";
    let untouched = s.read("passing/fixtures/batch.out.json");
    std::fs::write(s.path(order), "{\"order_id\": \"SO-1\", \"total\": 12.50, \"email\": \"ann@example.com\"}\n")
        .unwrap();

    let (code, out) = s.test(&["passing"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("-  \"total\": 12.50,\n    +  \"total\": 12.5,"), "{out}");

    let (code, out) = s.test(&["passing", "--update"]);
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!(out);
    assert_eq!(
        s.read(order),
        "{\n  \"order_id\": \"SO-1\",\n  \"total\": 12.5,\n  \"email\": \"ann@example.com\"\n}\n"
    );
    assert_eq!(s.read("passing/fixtures/batch.out.json"), untouched, "an unchanged expect file is not rewritten");

    let (code, out) = s.test(&["passing"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = s.test(&["passing", "--update"]);
    assert_eq!(code, 0);
    assert!(out.contains("4 passed, 0 failed, 0 new, 0 updated"), "{out}");
}

/// On a terminal (or with `CLICOLOR_FORCE`) the diff is coloured: removed
/// lines red, added lines green, hunk headers cyan.
#[test]
fn the_diff_is_coloured_when_asked() {
    let s = Sandbox::new();
    let out = Command::new(env!("CARGO_BIN_EXE_mapwright"))
        .args(["test", "failing"])
        .current_dir(s.dir.path())
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\x1b[31m-  \"total\": 12.50,\x1b[0m"), "{text}");
    assert!(text.contains("\x1b[32m+  \"total\": 12.5,\x1b[0m"), "{text}");
    assert!(text.contains("\x1b[36m@@ -1,5 +1,5 @@\x1b[0m"), "{text}");
    assert!(text.contains("\x1b[31;1mFAILED \x1b[0m"), "{text}");
    assert!(text.contains("\x1b[32mok     \x1b[0m"), "{text}");
}

#[test]
fn multi_source_tests_join_their_inputs() {
    let s = Sandbox::new();
    let (code, out) = s.test(&["multi/golden.yaml"]);
    insta::assert_snapshot!(out);
    assert_eq!(code, 0);
}

#[test]
fn bad_mappings_and_fixtures_are_reported_per_test_and_the_run_goes_on() {
    let s = Sandbox::new();
    let (code, out) = s.test(&["bad"]);
    insta::assert_snapshot!(out);
    assert_eq!(code, 1, "a mapping that does not compile is exit 1");
    assert!(!s.dir.path().parent().unwrap().join("outside.out.json").exists());
    // `--update` never writes outside the project either.
    let (code, _) = s.test(&["bad", "--update"]);
    assert_eq!(code, 1);
    assert!(!s.dir.path().parent().unwrap().join("outside.out.json").exists());
}

/// A link inside the mapping's folder that points outside the project is
/// outside the project.
#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_project_is_refused() {
    let s = Sandbox::new();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), s.path("passing/fixtures/linked")).unwrap();
    let yaml = s
        .read("passing/orders.yaml")
        .replace("expect: fixtures/order.out.json", "expect: fixtures/linked/order.out.json");
    std::fs::write(s.path("passing/orders.yaml"), yaml).unwrap();
    let (code, out) = s.test(&["passing", "--update"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("`fixtures/linked/order.out.json` is outside the project"), "{out}");
    assert!(!elsewhere.path().join("order.out.json").exists());
}

#[test]
fn every_folder_at_once_by_default() {
    let s = Sandbox::new();
    let (code, out) = s.test(&[]);
    assert_eq!(code, 1, "{out}");
    let files: Vec<&str> = out.lines().filter(|l| l.ends_with(".yaml")).collect();
    assert_eq!(
        files,
        [
            "bad/broken.yaml",
            "bad/broken_yaml.yaml",
            "bad/orders.yaml",
            "failing/orders.yaml",
            "multi/golden.yaml",
            "new/orders.yaml",
            "passing/orders.yaml"
        ]
    );
    assert!(out.contains("9 passed, 16 failed, 1 new; 2 mappings did not compile"), "{out}");
}

#[test]
fn bad_command_lines_exit_1() {
    let s = Sandbox::new();
    let mut snap = String::new();
    std::fs::create_dir(s.path("empty")).unwrap();
    std::fs::write(s.path("empty/notes.yaml"), "title: not a mapping\n").unwrap();
    std::fs::write(s.path("empty/untested.yaml"), "mapping: m\nfields: { a: $.a }\n").unwrap();
    for args in [&["no/such/dir"][..], &["empty"], &["empty/notes.yaml"]] {
        let (code, out) = s.test(args);
        assert_eq!(code, 1, "{args:?}: {out}");
        snap.push_str(&format!("$ mapwright test {}\n{out}\n", args.join(" ")));
    }
    insta::assert_snapshot!(snap);
}
