//! `mapwright test [PATH...] [--update]`: run the `tests:` entries of every
//! mapping under the paths — snapshot tests for people without a Rust
//! toolchain.
//!
//! A mapping is a `*.yaml`/`*.yml` file with a top-level `mapping:` key (and
//! no `pipeline:` key); a directory is searched recursively, skipping hidden
//! folders and `target`. Every test entry (README "Testing a mapping") is run:
//!
//! - `input:` a fixture of a single-source mapping. A `.json` file holding an
//!   object is one record and `expect:` is that record's output; a JSON array
//!   (or a `.jsonl`, `.csv` or `.yaml` file) is one record per element and
//!   `expect:` is the array of the outputs of the records that were mapped
//!   (filtered ones are left out).
//! - `inputs: {source: file}` one fixture per source of a multi-source
//!   mapping: the files are joined by key as `map --source` does, and
//!   `expect:` is the array of the outputs, in order of first appearance.
//! - `expect_error:` some record must fail with this text in its reason.
//!   Without it, any failed record fails the test.
//!
//! **How outputs are compared.** Key order and the spelling of numbers are
//! significant (`12.5` is not `12.50`), whitespace is not. The engine's
//! values normalise numbers, so the expected file is not parsed into a
//! value for the comparison: the dsl's JSON writer lays it out again token
//! by token (`mapwright_dsl::json::pretty_as_written`) — numbers keep
//! their text, strings are re-escaped the way the writer escapes them —
//! into the same layout as `Value::to_json_pretty`. The two texts are then compared, and
//! on a mismatch their unified diff is shown.
//!
//! `--update` writes missing expect files and rewrites changed ones (pretty
//! JSON plus a newline), and says which. The report goes to standard
//! output, coloured on a terminal (`NO_COLOR` turns colour off,
//! `CLICOLOR_FORCE` on). Bad fixtures, fixture paths that
//! leave the project (the mapping's folder or the current directory), and
//! mappings that do not compile are reported per test with the file name;
//! the run goes on.
//!
//! Exit codes: 0 every test passed (or was written by `--update`); 2 some
//! test failed, or an expect file is missing; 1 a mapping does not compile
//! or the command line is invalid (a path that does not exist, no mapping
//! with tests found).

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use mapwright_engine::input::{self, Format, Source};
use mapwright_engine::spec::mapping::TestSpec;
use mapwright_engine::spec::yaml::{self, Yaml};
use mapwright_engine::{Joiner, Mapping, Outcome, Value};

/// Arguments of `test`.
#[derive(clap::Args)]
pub struct Args {
    /// Mapping files, or folders to search for them (default: the current folder).
    paths: Vec<PathBuf>,
    /// Write missing expect files and rewrite those whose output changed.
    #[arg(long)]
    update: bool,
}

/// Runs `test`.
pub fn run(args: Args) -> u8 {
    let color = super::colour_for(std::io::stdout().is_terminal());
    let paths = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths };
    let found = match discover(&paths) {
        Ok(f) => f,
        Err(message) => {
            eprintln!("error: {message}");
            return super::INVALID;
        }
    };
    let cwd = std::env::current_dir().and_then(|d| d.canonicalize()).unwrap_or_else(|_| PathBuf::from("."));
    let mut tally = Tally::default();
    let with_tests: Vec<&Found> = found.iter().filter(|f| f.tests.is_some()).collect();
    for f in &with_tests {
        let report = test_mapping(f, &cwd, args.update, color, &mut tally);
        say(&report);
    }
    let untested = found.len() - with_tests.len();
    if with_tests.is_empty() {
        let place = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
        eprintln!("error: no mapping with `tests:` found under {place}");
        if untested > 0 {
            eprintln!("({untested} mapping{} without `tests:`)", plural(untested));
        }
        return super::INVALID;
    }
    say(&format!("{}\n", tally.summary(args.update, untested)));
    if tally.new > 0 && !args.update {
        say("run `mapwright test --update` to write the missing expect files\n");
    }
    if tally.broken > 0 {
        super::INVALID
    } else if tally.failed > 0 || (tally.new > 0 && !args.update) {
        super::FAILED
    } else {
        super::OK
    }
}

/// Prints to standard output; a closed pipe (`mapwright test | head`) is
/// not an error, and the exit code still tells the result.
fn say(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Counts for the summary line.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    new: usize,
    updated: usize,
    /// Mappings that do not compile.
    broken: usize,
}

impl Tally {
    fn summary(&self, update: bool, untested: usize) -> String {
        let mut s = format!("{} passed, {} failed, {} new", self.passed, self.failed, self.new);
        if update {
            if self.new > 0 {
                s.push_str(" (written)");
            }
            let _ = write!(s, ", {} updated", self.updated);
        }
        if self.broken > 0 {
            let _ = write!(s, "; {} mapping{} did not compile", self.broken, plural(self.broken));
        }
        if untested > 0 {
            let _ = write!(s, "; {untested} mapping{} without tests", plural(untested));
        }
        s
    }
}

/// A mapping file found under the paths.
struct Found {
    path: PathBuf,
    /// The names of its tests as written (`None`: no `tests:` key). For a
    /// file whose YAML does not parse, one placeholder.
    tests: Option<Vec<String>>,
}

/// Every mapping file under `paths`, in path order.
fn discover(paths: &[PathBuf]) -> Result<Vec<Found>, String> {
    let mut out: Vec<Found> = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if meta.is_dir() {
            walk(p, &mut out).map_err(|e| format!("{}: {e}", p.display()))?;
        } else {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            match classify(&text) {
                Some(tests) => out.push(Found { path: p.clone(), tests }),
                None => {
                    return Err(format!("{} is not a mapping file (it has no top-level `mapping:` key)", p.display()));
                }
            }
        }
    }
    // A file named twice (`mapping.yaml` and its folder) runs once.
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert(f.path.canonicalize().unwrap_or_else(|_| f.path.clone())));
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Found>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        // `./orders.yaml` reads better as `orders.yaml`.
        .map(|p| p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&path, out)?;
            }
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            // A file that cannot be read as text is not a mapping.
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Some(tests) = classify(&text) {
                    out.push(Found { path, tests });
                }
            }
        }
    }
    Ok(())
}

/// Whether YAML text is a mapping (`Some`), and the names of its tests.
///
/// The names come from the YAML tree, not the compiled mapping, so the
/// tests of a mapping that does not compile can still be reported one by
/// one. YAML that does not parse counts as a mapping when it has top-level
/// `mapping:` and `tests:` lines.
fn classify(text: &str) -> Option<Option<Vec<String>>> {
    match yaml::parse_file(&mapwright_engine::diagnostic::SourceFile::new("", text)) {
        Ok(root) => {
            let entries = root.as_map()?;
            let has = |k: &str| entries.iter().any(|(key, _)| key.text == k);
            if !has("mapping") || has("pipeline") {
                return None;
            }
            let tests = entries.iter().find(|(k, _)| k.text == "tests").map(|(_, node)| match &node.value {
                Yaml::Seq(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        item.as_map()
                            .and_then(|m| m.iter().find(|(k, _)| k.text == "name"))
                            .and_then(|(_, n)| n.scalar_text())
                            .unwrap_or_else(|| format!("test {}", i + 1))
                    })
                    .collect(),
                _ => vec!["tests".to_string()],
            });
            Some(tests)
        }
        Err(_) => {
            let top = |k: &str| text.lines().any(|l| l.starts_with(k));
            if top("mapping:") && !top("pipeline:") {
                Some(top("tests:").then(|| vec!["(the whole file)".to_string()]))
            } else {
                None
            }
        }
    }
}

/// What one test came to.
enum Verdict {
    Passed,
    Failed(String),
    /// The output differs from the expect file: a message and the diff.
    Differs(String, String),
    /// The expect file does not exist (and was written, with `--update`).
    New(String),
    /// `--update` rewrote the expect file.
    Updated(String),
}

/// Runs the tests of one mapping file; returns its part of the report.
fn test_mapping(found: &Found, cwd: &Path, update: bool, color: bool, tally: &mut Tally) -> String {
    let mut out = format!("{}\n", found.path.display());
    let mapping = match Mapping::load(&found.path) {
        Ok(m) => m,
        Err(e) => {
            tally.broken += 1;
            for name in found.tests.iter().flatten() {
                tally.failed += 1;
                let _ = writeln!(out, "  {} {name}: the mapping does not compile", label("FAILED", color));
            }
            for line in e.render(color).lines() {
                let _ = writeln!(out, "    {line}");
            }
            return out;
        }
    };
    let dir = found.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let roots = Roots { dir: dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()), cwd: cwd.to_path_buf() };
    for (i, test) in mapping.tests().iter().enumerate() {
        let name = test.name.as_ref().map_or_else(|| format!("test {}", i + 1), |n| n.value.clone());
        let verdict = run_test(&mapping, &roots, test, update);
        match verdict {
            Verdict::Passed => {
                tally.passed += 1;
                let _ = writeln!(out, "  {} {name}", label("ok", color));
            }
            Verdict::Failed(why) => {
                tally.failed += 1;
                let _ = writeln!(out, "  {} {name}: {}", label("FAILED", color), indent_rest(&why));
            }
            Verdict::Differs(why, diff) => {
                tally.failed += 1;
                let _ = writeln!(out, "  {} {name}: {why}", label("FAILED", color));
                out.push_str(&paint_diff(&diff, color));
            }
            Verdict::New(why) => {
                tally.new += 1;
                let _ = writeln!(out, "  {} {name}: {why}", label(if update { "written" } else { "new" }, color));
            }
            Verdict::Updated(why) => {
                tally.updated += 1;
                let _ = writeln!(out, "  {} {name}: {why}", label("updated", color));
            }
        }
    }
    out
}

/// A status word, padded and coloured.
fn label(word: &str, color: bool) -> String {
    let padded = format!("{word:<7}");
    if !color {
        return padded;
    }
    let code = match word {
        "ok" => "32",
        "FAILED" => "31;1",
        _ => "33",
    };
    format!("\x1b[{code}m{padded}\x1b[0m")
}

/// Continuation lines of a message, indented under the test's line.
fn indent_rest(s: &str) -> String {
    s.replace('\n', "\n          ")
}

/// The folders a fixture path may point into.
struct Roots {
    dir: PathBuf,
    cwd: PathBuf,
}

impl Roots {
    /// Resolves a fixture path relative to the mapping's folder and checks
    /// that it stays inside the mapping's folder or the current directory,
    /// symbolic links and `..` included (the file need not exist yet).
    fn resolve(&self, rel: &str) -> Result<PathBuf, String> {
        let mut normal = PathBuf::new();
        for c in self.dir.join(rel).components() {
            match c {
                Component::ParentDir => {
                    normal.pop();
                }
                Component::CurDir => {}
                other => normal.push(other),
            }
        }
        // Canonicalise the longest part that exists, to see through links.
        let mut existing = normal.as_path();
        let mut rest = Vec::new();
        let real = loop {
            match existing.canonicalize() {
                Ok(p) => break p,
                Err(_) => match (existing.parent(), existing.file_name()) {
                    (Some(parent), Some(name)) => {
                        rest.push(name.to_os_string());
                        existing = parent;
                    }
                    _ => break normal.clone(),
                },
            }
        };
        let real = rest.iter().rev().fold(real, |p, n| p.join(n));
        if real.starts_with(&self.dir) || real.starts_with(&self.cwd) {
            Ok(real)
        } else {
            Err(format!(
                "`{rel}` is outside the project (the mapping's folder and the current directory); refusing to use it"
            ))
        }
    }
}

/// What running a test's records gave.
struct Ran {
    mapped: Vec<Value>,
    /// Failure reasons, one line per failed record.
    failures: Vec<String>,
    filtered: usize,
    /// Whether the input was one record (an object) rather than a batch.
    single: bool,
}

fn run_test(mapping: &Mapping, roots: &Roots, test: &TestSpec, update: bool) -> Verdict {
    let ran = match read_and_run(mapping, roots, test) {
        Ok(r) => r,
        Err(why) => return Verdict::Failed(why),
    };
    if test.expect.is_none() && test.expect_error.is_none() {
        return Verdict::Failed(
            "a test needs `expect:` (an output file) or `expect_error:` (text of the failure)".into(),
        );
    }
    if let Some(text) = &test.expect_error {
        if !ran.failures.iter().any(|f| f.contains(&text.value)) {
            let got = if ran.failures.is_empty() {
                "no record failed".to_string()
            } else {
                format!("the failures were:\n{}", ran.failures.join("\n"))
            };
            return Verdict::Failed(format!("expected a failure containing {:?}, but {got}", text.value));
        }
    } else if !ran.failures.is_empty() {
        return Verdict::Failed(format!("unexpected failure:\n{}", ran.failures.join("\n")));
    }
    let Some(expect) = &test.expect else {
        return Verdict::Passed;
    };
    let actual = if ran.single {
        match ran.mapped.into_iter().next() {
            Some(v) => v,
            None if ran.filtered > 0 => {
                return Verdict::Failed(format!(
                    "the record was filtered out, so there is no output to compare with {} (a batch — a JSON array — expects the array of mapped records, `[]` here)",
                    expect.value
                ));
            }
            None => {
                return Verdict::Failed(format!(
                    "the record failed, so there is no output to compare with {}",
                    expect.value
                ));
            }
        }
    } else {
        Value::array(ran.mapped)
    };
    let path = match roots.resolve(&expect.value) {
        Ok(p) => p,
        Err(why) => return Verdict::Failed(why),
    };
    let actual_text = actual.to_json_pretty();
    let expected_text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !update {
                return Verdict::New(format!(
                    "{} does not exist yet; the output would be:\n{}",
                    expect.value,
                    indent_block(&actual_text)
                ));
            }
            return match write_expect(&path, &actual_text) {
                Ok(()) => Verdict::New(format!("wrote {}", expect.value)),
                Err(e) => Verdict::Failed(format!("cannot write {}: {e}", expect.value)),
            };
        }
        Err(e) => return Verdict::Failed(format!("cannot read {}: {e}", expect.value)),
    };
    let expected = match mapwright_dsl::json::pretty_as_written(&expected_text) {
        Ok(text) => text,
        // A broken expect file is rewritten by `--update`.
        Err(_) if update => String::new(),
        Err(e) => return Verdict::Failed(format!("{} is not JSON: {e}", expect.value)),
    };
    if expected == actual_text {
        return Verdict::Passed;
    }
    if update {
        return match write_expect(&path, &actual_text) {
            Ok(()) => Verdict::Updated(format!("rewrote {}", expect.value)),
            Err(e) => Verdict::Failed(format!("cannot write {}: {e}", expect.value)),
        };
    }
    let diff = similar::TextDiff::from_lines(&format!("{expected}\n"), &format!("{actual_text}\n"))
        .unified_diff()
        .context_radius(3)
        .header(&format!("expected ({})", expect.value), "actual")
        .to_string();
    Verdict::Differs(format!("the output differs from {}", expect.value), diff)
}

fn indent_block(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn write_expect(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, format!("{text}\n"))
}

/// A unified diff, indented and (on a terminal) coloured.
fn paint_diff(diff: &str, color: bool) -> String {
    let mut out = String::new();
    for line in diff.lines() {
        let code = match line.as_bytes().first() {
            _ if !color => None,
            Some(b'@') => Some("36"),
            Some(b'-') => Some("31"),
            Some(b'+') => Some("32"),
            _ => None,
        };
        match code {
            Some(c) => {
                let _ = writeln!(out, "    \x1b[{c}m{line}\x1b[0m");
            }
            None => {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    out
}

/// Reads a test's fixtures and runs its records.
fn read_and_run(mapping: &Mapping, roots: &Roots, test: &TestSpec) -> Result<Ran, String> {
    let sources = mapping.sources();
    match (&test.input, test.inputs.is_empty(), sources.is_empty()) {
        (Some(_), false, _) => Err("a test has either `input:` or `inputs:`, not both".into()),
        (Some(input), true, true) => run_single(mapping, roots, &input.value),
        (None, true, true) => Err("a test needs `input:` (a fixture file)".into()),
        (_, _, false) if test.input.is_some() => Err(format!(
            "`{}` is a multi-source mapping: give one fixture per source under `inputs:` ({})",
            mapping.name(),
            sources.join(", ")
        )),
        (None, false, true) => Err(format!(
            "`inputs:` is for multi-source mappings; `{}` has no `sources:` — use `input:`",
            mapping.name()
        )),
        _ => run_joined(mapping, roots, test),
    }
}

fn unreadable(rel: &str, e: impl std::fmt::Display) -> String {
    format!("cannot read {rel}: {e}")
}

fn run_single(mapping: &Mapping, roots: &Roots, rel: &str) -> Result<Ran, String> {
    let path = roots.resolve(rel)?;
    let mut ran = Ran { mapped: Vec::new(), failures: Vec::new(), filtered: 0, single: false };
    let records = match Format::from_path(&path) {
        Some(Format::Json) | None => {
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(rel, e))?;
            match Value::from_json(&text).map_err(|e| format!("{rel} is not JSON: {e}"))? {
                Value::Array(items) => items.to_vec(),
                one => {
                    ran.single = true;
                    vec![one]
                }
            }
        }
        Some(format) => read_all(&path, rel, format, None)?,
    };
    for (i, record) in records.iter().enumerate() {
        let origin = if ran.single { String::new() } else { format!("record {}: ", i + 1) };
        tally_record(&mut ran, &origin, mapping.run(record).outcome);
    }
    Ok(ran)
}

fn tally_record(ran: &mut Ran, origin: &str, outcome: Outcome) {
    match outcome {
        Outcome::Mapped(v) => ran.mapped.push(v),
        Outcome::Filtered => ran.filtered += 1,
        Outcome::Failed(errors) => {
            let reasons = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            ran.failures.push(format!("{origin}{reasons}"));
        }
    }
}

/// Every record of a fixture file; a record that cannot be read fails the test.
fn read_all(
    path: &Path,
    rel: &str,
    format: Format,
    projection: Option<Arc<mapwright_dsl::Projection>>,
) -> Result<Vec<Value>, String> {
    let reader = input::open(&Source::File(path.to_path_buf()), Some(format), projection)
        .map_err(|e| unreadable(rel, e.to_string().trim_end()))?;
    reader
        .map(|r| {
            r.value
                .map_err(|bad| format!("{rel}: a record cannot be read: {}", relative_message(&bad.message, path, rel)))
        })
        .collect()
}

/// Input messages name the file by its full path; tests show it as written.
fn relative_message(message: &str, path: &Path, rel: &str) -> String {
    message.replace(&path.display().to_string(), rel)
}

fn run_joined(mapping: &Mapping, roots: &Roots, test: &TestSpec) -> Result<Ran, String> {
    let names = mapping.sources();
    for (given, _) in &test.inputs {
        if !names.contains(&given.text.as_str()) {
            return Err(format!(
                "`inputs:` names `{}`, which is not a source of the mapping ({})",
                given.text,
                names.join(", ")
            ));
        }
    }
    let mut joiner = Joiner::new(mapping);
    let mut failures = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let Some((_, rel)) = test.inputs.iter().find(|(k, _)| k.text == *name) else {
            return Err(format!(
                "`inputs:` has no fixture for source `{name}` (give one per source: {})",
                names.join(", ")
            ));
        };
        let path = roots.resolve(&rel.value)?;
        let format = Format::from_path(&path).unwrap_or(Format::Json);
        let projection = mapping.source_projection(i).cloned().map(Arc::new);
        for record in read_all(&path, &rel.value, format, projection)? {
            if let Err(e) = joiner.add(i, record) {
                failures.push(format!("source `{}`: {} (in `{}`)", e.source, e.message, e.expr));
            }
        }
    }
    let mut ran = Ran { mapped: Vec::new(), failures, filtered: 0, single: false };
    for (key, records) in joiner.finish() {
        let origin = format!("key {}: ", key.to_json());
        tally_record(&mut ran, &origin, mapping.run_joined(&key, &records).outcome);
    }
    Ok(ran)
}
