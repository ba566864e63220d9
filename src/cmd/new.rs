//! `mapwright new mapping NAME --from SAMPLE.json [--dir DIR]`: scaffold a
//! mapping from a sample record — the fastest start for a new integration.
//!
//! The mapping gets one field per leaf path of the sample: a scalar (or a
//! list of scalars, or an empty object) becomes `name: $.a.b`, a nested
//! object becomes dotted output names (`customer.first_name`), and a list
//! of objects becomes an `each:` block whose fields read `it.`. Output
//! names are snake_case. The sample is copied as `fixtures/sample.json`,
//! and the new mapping's own output for it as `fixtures/sample.out.json`,
//! with a `tests:` entry naming both: `mapwright test` passes at once, and
//! every edit afterwards shows up as a diff.
//!
//! A sample that is an array is a batch: its objects are merged (every key
//! seen in any of them gets a field) and the expected output is the array
//! of outputs. Nothing is overwritten: if any of the three files exists,
//! nothing is written.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use mapwright_dsl::{Map, Value};
use mapwright_engine::{Mapping, Outcome};

/// Arguments of `new`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// A mapping with one field per leaf of a sample record, a test, and its fixture.
    Mapping(MappingArgs),
}

#[derive(clap::Args)]
struct MappingArgs {
    /// The mapping's name (letters, digits, `-`, `_`); the file is NAME.yaml.
    name: String,
    /// A sample input record: a JSON object, or an array of objects.
    #[arg(long, value_name = "SAMPLE.json")]
    from: PathBuf,
    /// The folder to create the mapping in [default: mappings/NAME].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Runs `new`.
pub fn run(args: Args) -> u8 {
    match args.what {
        What::Mapping(m) => match new_mapping(&m) {
            Ok(()) => super::OK,
            Err(message) => {
                eprintln!("error: {message}");
                super::INVALID
            }
        },
    }
}

fn new_mapping(args: &MappingArgs) -> Result<(), String> {
    let name = &args.name;
    let valid = !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "`{name}` is not a mapping name: use letters, digits, `-` and `_` (it names the file NAME.yaml)"
        ));
    }
    let dir = args.dir.clone().unwrap_or_else(|| Path::new("mappings").join(name));
    let file = dir.join(format!("{name}.yaml"));
    let fixture = dir.join("fixtures").join("sample.json");
    let expected = dir.join("fixtures").join("sample.out.json");
    for p in [&file, &fixture, &expected] {
        if p.exists() {
            return Err(format!("{} already exists; nothing was written (choose another NAME or --dir)", p.display()));
        }
    }
    let sample_text =
        std::fs::read_to_string(&args.from).map_err(|e| format!("cannot read {}: {e}", args.from.display()))?;
    let sample = Value::from_json(&sample_text).map_err(|e| format!("{} is not JSON: {e}", args.from.display()))?;
    let records: Vec<Value> = match &sample {
        Value::Array(items) => items.to_vec(),
        one => vec![one.clone()],
    };
    let objects: Vec<&Map> = records.iter().filter_map(Value::as_object).collect();
    if objects.is_empty() || objects.len() != records.len() {
        return Err(format!(
            "{}: the sample must be a JSON object (one record) or an array of objects",
            args.from.display()
        ));
    }

    let entries = collect(&objects, "$", "");
    let leaves = count_leaves(&entries);
    let text = render(name, &args.from, &dir, &objects, &entries);

    // Compile and run before writing anything: the scaffold must work.
    let mapping = Mapping::from_yaml_in(&text, &file.display().to_string(), &dir).map_err(|e| {
        format!("the scaffolded mapping does not compile (a bug in `mapwright new`):\n{}", e.render(false))
    })?;
    let mut outputs = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match mapping.run(record).outcome {
            Outcome::Mapped(v) => outputs.push(v),
            Outcome::Filtered => {}
            Outcome::Failed(errors) => {
                let why = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                return Err(format!("record {} of the sample does not map: {why}", i + 1));
            }
        }
    }
    let out = match &sample {
        Value::Array(_) => Value::array(outputs),
        _ => outputs.pop().unwrap_or(Value::Null),
    };

    std::fs::create_dir_all(dir.join("fixtures")).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    write_new(&file, &text)?;
    write_new(&fixture, &sample_text)?;
    write_new(&expected, &format!("{}\n", out.to_json_pretty()))?;
    println!("created {} ({leaves} field{})", file.display(), if leaves == 1 { "" } else { "s" });
    println!("created {} (copy of {})", fixture.display(), args.from.display());
    println!("created {} (its output)", expected.display());
    println!("next: edit the fields, then `mapwright test {}` shows what changed", dir.display());
    Ok(())
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// An output field of the scaffold.
enum Entry {
    /// `name: expression`
    Expr(String, String),
    /// `name: { each: list, fields: … }` (or `expr: it` when the elements have no keys).
    Each(String, String, Vec<Entry>),
}

fn count_leaves(entries: &[Entry]) -> usize {
    entries
        .iter()
        .map(|e| match e {
            Entry::Expr(..) => 1,
            Entry::Each(_, _, inner) => count_leaves(inner).max(1),
        })
        .sum()
}

/// The fields for the keys of `objects` (merged), read from `root`, named under `prefix`.
fn collect(objects: &[&Map], root: &str, prefix: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut taken = HashSet::new();
    collect_into(objects, root, prefix, &mut entries, &mut taken);
    entries
}

fn collect_into(objects: &[&Map], root: &str, prefix: &str, entries: &mut Vec<Entry>, taken: &mut HashSet<String>) {
    let mut keys: Vec<&str> = Vec::new();
    for o in objects {
        for k in o.keys() {
            if !keys.contains(&k.as_ref()) {
                keys.push(k);
            }
        }
    }
    for key in keys {
        let values: Vec<&Value> = objects.iter().filter_map(|o| o.get(key)).filter(|v| !v.is_null()).collect();
        let expr = format!("{root}{}", segment(key));
        let mut name = format!("{prefix}{}", snake(key));
        if !taken.insert(name.clone()) {
            let mut n = 2;
            while !taken.insert(format!("{name}_{n}")) {
                n += 1;
            }
            name = format!("{name}_{n}");
        }
        let nested: Vec<&Map> = values.iter().filter_map(|v| v.as_object()).filter(|m| !m.is_empty()).collect();
        let lists: Vec<&[Value]> = values.iter().filter_map(|v| v.as_array()).collect();
        let elements: Vec<&Map> = lists.iter().flat_map(|l| l.iter()).filter_map(Value::as_object).collect();
        if !nested.is_empty() && nested.len() == values.len() {
            collect_into(&nested, &expr, &format!("{name}."), entries, taken);
        } else if !elements.is_empty() && lists.len() == values.len() {
            entries.push(Entry::Each(name, expr, collect(&elements, "it", "")));
        } else {
            entries.push(Entry::Expr(name, expr));
        }
    }
}

/// A path step to `key`: `.key` when it is a plain name, else `["key"]`.
fn segment(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { format!(".{key}") } else { format!("[{}]", Value::str(key).to_json()) }
}

/// `firstName`, `First Name`, `order-ID` → `first_name`, `first_name`, `order_id`.
fn snake(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            if c.is_uppercase() {
                let prev = i.checked_sub(1).map(|j| chars[j]);
                let next = chars.get(i + 1);
                let boundary = match prev {
                    Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                    Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                    _ => false,
                };
                if boundary && !out.is_empty() && !out.ends_with('_') {
                    out.push('_');
                }
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() {
        "field".to_string()
    } else if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
        format!("field_{trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// A YAML scalar for an expression: plain when that is safe, else single-quoted.
fn yaml_expr(expr: &str) -> String {
    let plain = expr.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'));
    if plain { expr.to_string() } else { format!("'{}'", expr.replace('\'', "''")) }
}

/// A YAML key for an output name.
fn yaml_key(name: &str) -> String {
    let plain = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.'))
        && !matches!(name, "true" | "false" | "null");
    if plain { name.to_string() } else { Value::str(name).to_json() }
}

fn render_entries(out: &mut String, entries: &[Entry], indent: usize) {
    let pad = "  ".repeat(indent);
    for e in entries {
        match e {
            Entry::Expr(name, expr) => {
                let _ = writeln!(out, "{pad}{}: {}", yaml_key(name), yaml_expr(expr));
            }
            Entry::Each(name, list, inner) => {
                let _ = writeln!(out, "{pad}{}:", yaml_key(name));
                let _ = writeln!(out, "{pad}  each: {}", yaml_expr(list));
                if inner.is_empty() {
                    let _ = writeln!(out, "{pad}  expr: it");
                } else {
                    let _ = writeln!(out, "{pad}  fields:");
                    render_entries(out, inner, indent + 2);
                }
            }
        }
    }
}

/// `path` made absolute against the current directory, `..` resolved.
fn absolute(path: &Path) -> PathBuf {
    let joined = std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf());
    let mut normal = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                normal.pop();
            }
            Component::CurDir => {}
            other => normal.push(other),
        }
    }
    normal
}

/// The relative path from `dir` to the nearest `schemas/mapping.schema.json`
/// in it or a folder above it.
fn schema_path(dir: &Path) -> Option<String> {
    let dir = absolute(dir);
    for (up, ancestor) in dir.ancestors().enumerate() {
        if ancestor.join("schemas").join("mapping.schema.json").is_file() {
            return Some(format!("{}schemas/mapping.schema.json", "../".repeat(up)));
        }
    }
    None
}

fn render(name: &str, from: &Path, dir: &Path, objects: &[&Map], entries: &[Entry]) -> String {
    let mut out = String::new();
    match schema_path(dir) {
        Some(p) => {
            let _ = writeln!(out, "# yaml-language-server: $schema={p}\n#");
        }
        None => {
            out.push_str(
                "# Editor support: `mapwright schema mapping > mapping.schema.json`, then make the first\n\
                 # line `# yaml-language-server: $schema=<path to mapping.schema.json>`.\n#\n",
            );
        }
    }
    let source = from.file_name().map_or_else(|| from.display().to_string(), |f| f.to_string_lossy().into_owned());
    let _ = write!(
        out,
        "# Scaffolded by `mapwright new mapping` from {source}: one field per leaf of the\n\
         # sample. Rename, reshape, add checks (`required:`, `type:`, `pattern:`) and\n\
         # `doc:`; `mapwright test` compares the output with fixtures/sample.out.json\n\
         # (`mapwright test --update` accepts a change).\n"
    );
    let _ =
        writeln!(out, "mapping: {name}\nversion: 1\ndescription: {}", yaml_expr(&format!("{name} (from {source})")));
    if objects.iter().all(|o| o.contains_key("id")) {
        out.push_str("key: $.id\n");
    } else {
        out.push_str("# key: $.id                    # the record's identity (duplicates, dead letters)\n");
    }
    out.push_str("\nfields:\n");
    render_entries(&mut out, entries, 1);
    out.push_str(
        "\ntests:\n  - name: sample record\n    input: fixtures/sample.json\n    expect: fixtures/sample.out.json\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::snake;

    #[test]
    fn snake_case_names() {
        for (key, want) in [
            ("firstName", "first_name"),
            ("First Name", "first_name"),
            ("order-ID", "order_id"),
            ("orderID", "order_id"),
            ("HTTPServer", "http_server"),
            ("line_items", "line_items"),
            ("a.b", "a_b"),
            ("2fa", "field_2fa"),
            ("__", "field"),
            ("Größe", "größe"),
            ("sku2Code", "sku2_code"),
        ] {
            assert_eq!(snake(key), want, "{key}");
        }
    }
}
