//! `mapwright doc MAPPING [--format md|html] [-o FILE]`: the data
//! dictionary of a mapping; `mapwright doc --keys mapping|pipeline`: the
//! reference of every key of a file format, from the loaders' own key
//! tables (the README carries it, and a test keeps the two equal).
//!
//! Everything comes from [`mapwright_engine::Mapping::dictionary`], which reads the compiled
//! mapping, so the page shows what runs: for every output field its path,
//! type, `doc`, expression (one per source for a multi-source field), truth
//! rule, condition, checks, lookups and default; and for the mapping its
//! key, filter, sources, lookups, contract, hooks and record rules.
//!
//! Markdown is for a repository or a wiki; HTML is one self-contained page
//! (inline CSS, no script, no network) that reads on screen and prints.
//! Text from the mapping is escaped for the format: in HTML everything, in
//! Markdown the table cells and code spans.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mapwright_engine::Value;
use mapwright_engine::dictionary::{Dictionary, FieldInfo};

/// Output format of `doc`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum DocFormat {
    /// Markdown.
    Md,
    /// One self-contained HTML page.
    Html,
}

/// Arguments of `doc`.
#[derive(clap::Args)]
pub struct Args {
    /// The mapping file.
    #[arg(required_unless_present = "keys")]
    mapping: Option<PathBuf>,
    /// Instead of a mapping's dictionary, the reference of every key of a
    /// file format (Markdown).
    #[arg(long, value_enum, value_name = "FORMAT", conflicts_with = "mapping")]
    keys: Option<super::schema::Format>,
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    format: DocFormat,
    /// Write the dictionary here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// The reference of every key of a file format, as the README shows it.
pub fn keys_reference(format: super::schema::Format) -> String {
    use mapwright_engine::spec::keys::reference_markdown;
    match format {
        super::schema::Format::Mapping => reference_markdown(&[&mapwright_engine::spec::mapping::MAPPING]),
        super::schema::Format::Pipeline => reference_markdown(&[mapwright_pipeline::KEYS]),
    }
}

/// Runs `doc`.
pub fn run(args: Args) -> u8 {
    let text = match (&args.mapping, args.keys) {
        (_, Some(format)) => keys_reference(format),
        (Some(path), None) => {
            let mapping = match super::load(path) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let dictionary = mapping.dictionary();
            let page = Page::new(&dictionary, path);
            match args.format {
                DocFormat::Md => page.markdown(),
                DocFormat::Html => page.html(),
            }
        }
        (None, None) => {
            eprintln!("error: give a mapping file, or --keys mapping|pipeline");
            return super::INVALID;
        }
    };
    match &args.output {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => super::OK,
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                super::INVALID
            }
        },
        None => {
            use std::io::Write;
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Ok(()) => super::OK,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => super::OK,
                Err(e) => {
                    eprintln!("error: cannot write the dictionary: {e}");
                    super::INVALID
                }
            }
        }
    }
}

/// The dictionary with the file it documents, in the words both formats use.
struct Page<'d> {
    d: &'d Dictionary,
    file: String,
    contract: Option<String>,
    /// Hook functions by name: the engine lists them in no fixed order.
    hook_functions: Vec<(String, usize)>,
}

fn sorted(functions: &[(String, usize)]) -> Vec<(String, usize)> {
    let mut f = functions.to_vec();
    f.sort();
    f
}

/// One labelled fact about a field: a label, and code or prose.
enum Fact {
    Code(&'static str, String),
    /// Code per source of a `from:` field.
    PerSource(&'static str, Vec<(String, String)>),
    Text(&'static str, String),
    List(&'static str, Vec<String>),
}

impl<'d> Page<'d> {
    fn new(d: &'d Dictionary, file: &Path) -> Page<'d> {
        let dir = file.parent().unwrap_or(Path::new(""));
        // Contract paths are resolved against the mapping's folder; show
        // them as written there.
        let contract = d.contract.as_ref().map(|c| {
            Path::new(c)
                .strip_prefix(dir)
                .ok()
                .filter(|_| !dir.as_os_str().is_empty())
                .map_or_else(|| c.clone(), |p| p.display().to_string())
        });
        Page { d, file: file.display().to_string(), contract, hook_functions: sorted(&d.hook_functions) }
    }

    fn version(&self) -> Option<String> {
        match &self.d.version {
            Value::Null => None,
            Value::String(s) => Some(s.to_string()),
            v => Some(v.to_json()),
        }
    }

    /// The mapping-level facts, in reading order.
    fn overview(&self) -> Vec<Fact> {
        let d = self.d;
        let mut facts = vec![Fact::Code("Mapping file", self.file.clone())];
        if let Some(v) = self.version() {
            facts.push(Fact::Text("Version", v));
        }
        if let Some(k) = &d.key {
            facts.push(Fact::Code("Key", k.clone()));
        }
        if let Some(f) = &d.filter {
            facts.push(Fact::Code("Filter (records where it is false are dropped)", f.clone()));
        }
        if let Some(c) = &self.contract {
            facts.push(Fact::Code("Contract (JSON Schema of every output)", c.clone()));
        }
        let (before, after) = &d.hooks;
        if let Some(b) = before {
            facts.push(Fact::Code("Hook before the fields", b.clone()));
        }
        if let Some(a) = after {
            facts.push(Fact::Code("Hook after the fields", a.clone()));
        }
        facts
    }

    /// What is known about a field, in reading order.
    fn facts(f: &FieldInfo) -> Vec<Fact> {
        let mut facts = Vec::new();
        let (where_, when) = match &f.when {
            Some(w) if f.kind == "list" => match w.strip_prefix("where ") {
                Some(x) => (Some(x.to_string()), None),
                None => (None, Some(w.clone())),
            },
            other => (None, other.clone()),
        };
        match f.kind {
            "from" => facts.push(Fact::PerSource(
                "Expression per source",
                f.exprs.iter().map(|(s, e)| (s.clone().unwrap_or_default(), e.clone())).collect(),
            )),
            "list" => {
                if let Some((_, e)) = f.exprs.first() {
                    facts.push(Fact::Code("One element per element of", e.clone()));
                }
            }
            _ => {
                for (_, e) in &f.exprs {
                    facts.push(Fact::Code("Expression", e.clone()));
                }
            }
        }
        if let Some(t) = &f.truth {
            facts.push(Fact::Text("Source of truth", t.clone()));
        }
        if let Some(w) = where_ {
            facts.push(Fact::Code("Elements kept where", w));
        }
        if let Some(w) = when {
            facts.push(Fact::Code("Present when", w));
        }
        if let Some(d) = &f.default {
            facts.push(Fact::Code("Default", d.to_json()));
        }
        if !f.checks.is_empty() {
            facts.push(Fact::List("Checks", f.checks.clone()));
        }
        if !f.lookups.is_empty() {
            facts.push(Fact::List("Lookups", f.lookups.clone()));
        }
        facts
    }
}

/// The type shown for a field.
fn type_of(f: &FieldInfo) -> String {
    match (&f.type_name, f.kind) {
        (Some(t), _) => t.clone(),
        (None, "object") => "object".into(),
        (None, "list") => "array".into(),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Markdown

/// Inline code that survives any backticks inside; one line.
fn md_code(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{s}{pad}{fence}")
}

/// After a label: ` code` inline, or a fenced block for text of several lines.
fn md_code_block(s: &str, indent: &str) -> String {
    if !s.contains('\n') {
        return format!(" {}", md_code(s));
    }
    let fence = if s.contains("```") { "~~~~" } else { "```" };
    let mut out = format!("\n\n{indent}{fence}\n");
    for line in s.lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
    let _ = writeln!(out, "{indent}{fence}");
    out
}

/// A table cell: one line, pipes escaped.
fn md_cell(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// Prose from the mapping (`description:`, `doc:`): Markdown is kept, but
/// `<` is escaped so that text like `<b>` or `<none>` is shown, not
/// swallowed as HTML.
fn md_text(s: &str) -> String {
    s.replace('<', "\\<")
}

impl Page<'_> {
    fn markdown(&self) -> String {
        let d = self.d;
        let mut out = format!("# Data dictionary: {}\n\n", md_code(&d.name));
        if let Some(desc) = &d.description {
            let _ = write!(out, "{}\n\n", md_text(desc));
        }
        out.push_str("| | |\n|---|---|\n");
        for fact in self.overview() {
            match fact {
                Fact::Code(label, c) => {
                    let _ = writeln!(out, "| {label} | {} |", md_cell(&md_code(&c)));
                }
                Fact::Text(label, t) => {
                    let _ = writeln!(out, "| {label} | {} |", md_cell(&t));
                }
                _ => {}
            }
        }
        if !d.sources.is_empty() {
            out.push_str(
                "\n## Sources\n\nRecords of these systems are joined by key; `$name` reads a source's record.\n\n",
            );
            out.push_str("| source | join key |\n|---|---|\n");
            for (name, key) in &d.sources {
                let _ = writeln!(out, "| {} | {} |", md_cell(&md_code(name)), md_cell(&md_code(key)));
            }
        }
        if !d.lookups.is_empty() {
            out.push_str("\n## Lookups\n\n| table | a miss |\n|---|---|\n");
            for (name, strict) in &d.lookups {
                let miss = if *strict { "fails the record (strict)" } else { "gives null" };
                let _ = writeln!(out, "| {} | {miss} |", md_cell(&md_code(name)));
            }
        }
        if !self.hook_functions.is_empty() {
            out.push_str("\n## Hook functions\n\n| function | arguments |\n|---|---|\n");
            for (name, arity) in &self.hook_functions {
                let _ = writeln!(out, "| {} | {arity} |", md_cell(&md_code(name)));
            }
        }
        if !d.rules.is_empty() {
            out.push_str("\n## Record rules\n\n");
            for r in &d.rules {
                let _ = writeln!(out, "- {}", md_code(r));
            }
        }
        out.push_str("\n## Fields\n\n| field | type | description |\n|---|---|---|\n");
        for f in &d.fields {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md_cell(&md_code(&f.path)),
                md_cell(&type_of(f)),
                md_cell(&md_text(f.doc.as_deref().unwrap_or("")))
            );
        }
        for f in &d.fields {
            let _ = write!(out, "\n### {}\n\n", md_code(&f.path));
            if let Some(doc) = &f.doc {
                let _ = write!(out, "{}\n\n", md_text(doc));
            }
            let t = type_of(f);
            if !t.is_empty() {
                let _ = writeln!(out, "- **Type:** {t}");
            }
            for fact in Page::facts(f) {
                match fact {
                    Fact::Code(label, c) => {
                        let _ = writeln!(out, "- **{label}:**{}", md_code_block(&c, "  "));
                    }
                    Fact::Text(label, t) => {
                        let _ = writeln!(out, "- **{label}:** {t}");
                    }
                    Fact::PerSource(label, items) => {
                        let _ = writeln!(out, "- **{label}:**");
                        for (source, e) in items {
                            let _ = writeln!(out, "  - {}:{}", md_code(&source), md_code_block(&e, "    "));
                        }
                    }
                    Fact::List(label, items) => {
                        let _ = writeln!(
                            out,
                            "- **{label}:** {}",
                            items.iter().map(|i| md_code(i)).collect::<Vec<_>>().join(", ")
                        );
                    }
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// HTML

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn code(s: &str) -> String {
    if s.contains('\n') { format!("<pre><code>{}</code></pre>", esc(s)) } else { format!("<code>{}</code>", esc(s)) }
}

/// An `id` for a field's anchor, from its position (paths may hold any character).
fn anchor(i: usize) -> String {
    format!("field-{}", i + 1)
}

const CSS: &str = "\
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --code: #f3f5f8; --accent: #2454a6; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 62rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0 0 .4rem; }
p.lead { color: var(--muted); margin: 0 0 1rem; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .35rem .6rem; border-bottom: 1px solid var(--line); }
th { font-weight: 600; color: var(--muted); font-size: .85rem; text-transform: uppercase; letter-spacing: .03em; }
table.facts th { text-transform: none; letter-spacing: 0; font-size: .95rem; width: 16rem; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--code); border-radius: 3px; }
code { padding: .05rem .3rem; overflow-wrap: anywhere; }
pre { padding: .5rem .7rem; margin: .2rem 0; white-space: pre-wrap; overflow-wrap: anywhere; }
pre code { padding: 0; background: none; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
section.field { border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; margin: 0 0 .9rem; }
section.field dl { display: grid; grid-template-columns: 12rem 1fr; gap: .25rem .8rem; margin: .5rem 0 0; }
section.field dt { color: var(--muted); }
section.field dd { margin: 0; }
section.field ul { margin: 0; padding-left: 1.1rem; }
.type { color: var(--muted); font-weight: normal; font-size: .9rem; margin-left: .5rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; }
  h2 { break-after: avoid; }
  section.field, tr { break-inside: avoid; }
}
";

impl Page<'_> {
    fn html(&self) -> String {
        let d = self.d;
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>Data dictionary: {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
            esc(&d.name)
        );
        let _ = writeln!(out, "<h1>Data dictionary: {}</h1>", code(&d.name));
        if let Some(desc) = &d.description {
            let _ = writeln!(out, "<p class=\"lead\">{}</p>", esc(desc));
        }
        out.push_str("<table class=\"facts\">\n");
        for fact in self.overview() {
            match fact {
                Fact::Code(label, c) => {
                    let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(label), code(&c));
                }
                Fact::Text(label, t) => {
                    let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(label), esc(&t));
                }
                _ => {}
            }
        }
        out.push_str("</table>\n");
        if !d.sources.is_empty() {
            out.push_str(
                "<h2>Sources</h2>\n<p>Records of these systems are joined by key; <code>$name</code> reads a source's record.</p>\n\
                 <table>\n<tr><th>source</th><th>join key</th></tr>\n",
            );
            for (name, key) in &d.sources {
                let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", code(name), code(key));
            }
            out.push_str("</table>\n");
        }
        if !d.lookups.is_empty() {
            out.push_str("<h2>Lookups</h2>\n<table>\n<tr><th>table</th><th>a miss</th></tr>\n");
            for (name, strict) in &d.lookups {
                let miss = if *strict { "fails the record (strict)" } else { "gives null" };
                let _ = writeln!(out, "<tr><td>{}</td><td>{miss}</td></tr>", code(name));
            }
            out.push_str("</table>\n");
        }
        if !self.hook_functions.is_empty() {
            out.push_str("<h2>Hook functions</h2>\n<table>\n<tr><th>function</th><th>arguments</th></tr>\n");
            for (name, arity) in &self.hook_functions {
                let _ = writeln!(out, "<tr><td>{}</td><td>{arity}</td></tr>", code(name));
            }
            out.push_str("</table>\n");
        }
        if !d.rules.is_empty() {
            out.push_str("<h2>Record rules</h2>\n<ul>\n");
            for r in &d.rules {
                let _ = writeln!(out, "<li>{}</li>", code(r));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("<h2>Fields</h2>\n<table>\n<tr><th>field</th><th>type</th><th>description</th></tr>\n");
        for (i, f) in d.fields.iter().enumerate() {
            let _ = writeln!(
                out,
                "<tr><td><a href=\"#{}\"><code>{}</code></a></td><td>{}</td><td>{}</td></tr>",
                anchor(i),
                esc(&f.path),
                esc(&type_of(f)),
                esc(f.doc.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</table>\n");
        for (i, f) in d.fields.iter().enumerate() {
            let t = type_of(f);
            let _ = write!(out, "<section class=\"field\" id=\"{}\">\n<h3>{}", anchor(i), code(&f.path));
            if !t.is_empty() {
                let _ = write!(out, "<span class=\"type\">{}</span>", esc(&t));
            }
            out.push_str("</h3>\n");
            if let Some(doc) = &f.doc {
                let _ = writeln!(out, "<p>{}</p>", esc(doc));
            }
            let facts = Page::facts(f);
            if !facts.is_empty() {
                out.push_str("<dl>\n");
                for fact in facts {
                    match fact {
                        Fact::Code(label, c) => {
                            let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(label), code(&c));
                        }
                        Fact::Text(label, t) => {
                            let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(label), esc(&t));
                        }
                        Fact::PerSource(label, items) => {
                            let _ = writeln!(out, "<dt>{}</dt><dd><table>", esc(label));
                            for (source, e) in items {
                                let _ = writeln!(out, "<tr><td>{}</td><td>{}</td></tr>", code(&source), code(&e));
                            }
                            out.push_str("</table></dd>\n");
                        }
                        Fact::List(label, items) => {
                            let _ = write!(out, "<dt>{}</dt><dd><ul>", esc(label));
                            for item in items {
                                let _ = write!(out, "<li>{}</li>", code(&item));
                            }
                            out.push_str("</ul></dd>\n");
                        }
                    }
                }
                out.push_str("</dl>\n");
            }
            out.push_str("</section>\n");
        }
        let _ = write!(
            out,
            "<footer>Generated by <code>mapwright doc</code> from {}.</footer>\n</main>\n</body>\n</html>\n",
            code(&self.file)
        );
        out
    }
}
