//! Compiling a mapping: the raw spec (`crate::spec`) checked and turned
//! into the [`Compiled`] form the runner trusts. Every expression is parsed
//! and resolved once, lookup files are loaded, hooks and the contract
//! compiled, field paths checked for clashes, `out.` references checked
//! against the fields above; every problem of a file is collected.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mapwright_dsl::{HostFn, LookupDecl, Program, Projection, Read, ReadRoot, Scope, Value};

use super::{Compiled, Each, EachValue, Field, FieldValue, Mapping, SourceDef, lookups};
use crate::contract::Contract;
use crate::diagnostic::{Diagnostic, Diagnostics, ExprPlace, SourceFile, SpecCode};
use crate::hooks::Hooks;
use crate::spec::keys;
use crate::spec::mapping::NULLS;
use crate::spec::mapping::{ChecksSpec, EachItem, FieldBody, FieldSpec, MappingSpec, PreferSpec};
use crate::spec::yaml::{Node, Yaml};
use crate::spec::{Decoder, ExprSrc};
use crate::truth::{ON_CONFLICT, OnConflict, TruthRule};
use crate::validate::{Check, CheckKind, SEVERITIES, Severity, TYPE_NAMES};

/// Parses, decodes and compiles; collects every diagnostic.
pub(super) fn compile_text(text: &str, name: &str, base: &Path) -> Result<Mapping, crate::Error> {
    let file = SourceFile::new(name, text);
    let root = crate::spec::yaml::parse_file(&file)?;
    let mut decoder = Decoder::new(&file);
    let spec = crate::spec::mapping::decode(&mut decoder, &root);
    let mut c = Compiler {
        file: &file,
        diags: decoder.diags,
        base: base.to_path_buf(),
        lookups: Vec::new(),
        reads: Vec::new(),
        sources: Vec::new(),
        prefer: None,
        source_fresh: Vec::new(),
        functions: Vec::new(),
    };
    let compiled = c.mapping(&spec, text);
    if !c.diags.is_empty() {
        c.diags.sort_by_key(|d| (d.offset, d.code));
        c.diags.dedup_by(|a, b| a.offset == b.offset && a.code == b.code && a.message == b.message);
        return Err(crate::Error::Spec(Diagnostics(c.diags)));
    }
    Ok(Mapping { inner: Arc::new(compiled) })
}

struct Compiler<'f> {
    file: &'f SourceFile,
    diags: Vec<Diagnostic>,
    base: PathBuf,
    lookups: Vec<LookupDecl>,
    /// Every input path any expression reads, for the projection.
    reads: Vec<Read>,
    /// Source names of a multi-source mapping.
    sources: Vec<String>,
    /// The mapping-level `prefer:`.
    prefer: Option<Prefer>,
    /// Source-level `updated_at:` programs, by source.
    source_fresh: Vec<Option<Program>>,
    /// Hook functions callable from expressions.
    functions: Vec<HostFn>,
}

/// A validated `prefer:`.
#[derive(Clone)]
enum Prefer {
    Order(Vec<usize>),
    Latest,
}

/// Output paths defined so far in one object scope, to check `out.` and
/// clashes.
#[derive(Default)]
struct OutScope {
    defined: Vec<Vec<String>>,
    all: Vec<Vec<String>>,
}

impl OutScope {
    fn check(&self, path: &[&str]) -> Result<(), String> {
        let shown = if path.is_empty() { "out".to_string() } else { format!("out.{}", path.join(".")) };
        if path.is_empty() {
            return Ok(());
        }
        let related = |p: &Vec<String>| {
            let n = p.len().min(path.len());
            p[..n].iter().zip(&path[..n]).all(|(a, b)| a == b)
        };
        if self.defined.iter().any(related) {
            return Ok(());
        }
        if self.all.iter().any(related) {
            return Err(format!("{shown} is defined below this field"));
        }
        let names: Vec<String> = self.defined.iter().map(|p| p.join(".")).collect();
        Err(match mapwright_dsl::nearest(&path.join("."), names.iter().map(String::as_str)) {
            Some(n) => format!("{shown} is not an output field above (did you mean out.{n}?)"),
            None => format!("{shown} is not an output field above"),
        })
    }
}

impl Compiler<'_> {
    fn mapping(&mut self, spec: &MappingSpec, text: &str) -> Compiled {
        let mut tables = Vec::new();
        for l in &spec.lookups {
            if let Some(t) = lookups::load(l, &self.base, self.file, &mut self.diags) {
                tables.push(t);
            }
            self.lookups.push(LookupDecl { name: l.name.text.clone(), strict: l.strict });
        }
        let hooks = spec.hooks.as_ref().and_then(|h| Hooks::compile(h, &self.base, self.file, &mut self.diags));
        self.functions = hooks
            .as_ref()
            .map(|h| h.functions.iter().map(|(name, n)| HostFn { name: name.clone(), arity: Some(*n) }).collect())
            .unwrap_or_default();
        let sources = self.sources(spec);
        let names = self.sources.clone();
        let fns = self.functions.clone();
        let record_scope =
            Scope { lookups: &self.lookups.clone(), sources: &names, functions: &fns, ..Scope::default() };
        let key = spec.key.as_ref().and_then(|k| self.program(k, &record_scope));
        let filter = spec.filter.as_ref().and_then(|f| self.program(f, &record_scope));
        let omit_nulls = match &spec.nulls {
            None => false,
            Some(n) => keys::word(&NULLS, &n.value).unwrap_or_else(|| {
                self.diags.push(
                    Diagnostic::spec(
                        self.file,
                        SpecCode::BadValue,
                        n.loc,
                        format!("`nulls:` must be {}, got `{}`", keys::or_list(&keys::names(&NULLS)), n.value),
                    )
                    .with_hint("keep writes null fields; omit leaves them out"),
                );
                false
            }),
        };
        let mut out = OutScope::default();
        collect_paths(&spec.fields, &[], &mut out.all);
        let fields = self.fields(&spec.fields, &mut out);
        let rules = spec
            .validate
            .iter()
            .filter_map(|r| {
                let rule = r.rule.as_ref()?;
                let check = |p: &[&str]| out.check(p);
                let scope = Scope {
                    lookups: &self.lookups.clone(),
                    sources: &names,
                    functions: &fns,
                    out: Some(&check),
                    ..Scope::default()
                };
                let program = self.program(rule, &scope)?;
                Some(Check {
                    kind: CheckKind::Rule(Box::new(program)),
                    when: None,
                    message: r.message.as_ref().map(|m| m.value.clone()),
                    severity: self.severity(r.severity.as_ref()),
                })
            })
            .collect();
        let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut hasher, text.as_bytes());
        for t in &tables {
            if let Some(f) = &t.file {
                if let Ok(bytes) = std::fs::read(f) {
                    sha2::Digest::update(&mut hasher, &bytes);
                }
            }
        }
        if let Some(h) = &hooks {
            sha2::Digest::update(&mut hasher, h.source.as_bytes());
        }
        if let Some(c) = &spec.contract {
            if let Ok(bytes) = std::fs::read(self.base.join(&c.value)) {
                sha2::Digest::update(&mut hasher, &bytes);
            }
        }
        let digest = sha2::Digest::finalize(hasher);
        // `before` and `after` see the whole record: no projection then.
        let whole_record = hooks.as_ref().is_some_and(|h| h.before.is_some() || h.after.is_some());
        let content_hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Compiled {
            name: spec.name.as_ref().map(|n| n.value.clone()).unwrap_or_default(),
            version: spec
                .version
                .as_ref()
                .map(|v| match v.value.parse::<f64>() {
                    Ok(_) => Value::Number(mapwright_dsl::Number::from_json_text(&v.value)),
                    Err(_) => Value::str(&v.value),
                })
                .unwrap_or(Value::Null),
            description: spec.description.clone(),
            key,
            filter,
            omit_nulls,
            tables,
            lookups: self.lookups.iter().map(|l| (l.name.clone(), l.strict)).collect(),
            fields,
            rules,
            tests: spec.tests.clone(),
            path: None,
            origin: (Arc::from(text), self.file.name.to_string(), self.base.clone()),
            content_hash,
            projection: if whole_record { None } else { Projection::from_reads(&ReadRoot::Input, &self.reads) },
            sources: sources
                .into_iter()
                .enumerate()
                .map(|(i, mut s)| {
                    s.projection = Projection::from_reads(&ReadRoot::Source(i), &self.reads);
                    s
                })
                .collect(),
            hooks,
            contract: spec.contract.as_ref().and_then(|c| Contract::compile(c, &self.base, self.file, &mut self.diags)),
        }
    }

    /// Compiles `sources:` and the mapping-level `prefer:`.
    fn sources(&mut self, spec: &MappingSpec) -> Vec<SourceDef> {
        self.sources = spec.sources.iter().map(|s| s.name.text.clone()).collect();
        if spec.sources.is_empty() {
            if let Some(p) = &spec.prefer {
                let loc = match p {
                    PreferSpec::Order(_, l) | PreferSpec::Latest(l) => *l,
                };
                self.diags.push(
                    Diagnostic::spec(self.file, SpecCode::BadTruthRule, loc, "`prefer:` needs `sources:`").with_hint(
                        "declare the sources (`sources: { erp: { key: $.item_code } }`) or remove `prefer:`",
                    ),
                );
            }
            return Vec::new();
        }
        let lookups = self.lookups.clone();
        let mut defs = Vec::new();
        for (i, s) in spec.sources.iter().enumerate() {
            // Source keys read that source's own record as `$`.
            let fns = self.functions.clone();
            let single = Scope { lookups: &lookups, functions: &fns, ..Scope::default() };
            let before = self.reads.len();
            let key = s.key.as_ref().and_then(|k| self.program(k, &single));
            let updated_at = s.updated_at.as_ref().and_then(|u| self.program(u, &single));
            for r in &mut self.reads[before..] {
                r.root = ReadRoot::Source(i);
            }
            self.source_fresh.push(updated_at.clone());
            if let Some(key) = key {
                defs.push(SourceDef { name: s.name.text.clone(), key, updated_at, projection: None });
            }
        }
        self.prefer = spec.prefer.as_ref().and_then(|p| self.prefer_spec(p));
        defs
    }

    fn source_index(&mut self, name: &str, loc: crate::spec::yaml::Loc) -> Option<usize> {
        let found = self.sources.iter().position(|s| s == name);
        if found.is_none() {
            let hint = match mapwright_dsl::nearest(name, self.sources.iter().map(String::as_str)) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!("declared sources: {}", self.sources.join(", ")),
            };
            self.diags.push(
                Diagnostic::at(
                    self.file,
                    mapwright_dsl::Code::UnknownSource.as_str(),
                    loc.offset,
                    loc.len.max(1),
                    format!("unknown source `{name}`"),
                )
                .with_hint(hint),
            );
        }
        found
    }

    fn prefer_spec(&mut self, p: &PreferSpec) -> Option<Prefer> {
        match p {
            PreferSpec::Latest(_) => Some(Prefer::Latest),
            PreferSpec::Order(names, _) => {
                let mut order = Vec::new();
                let mut ok = true;
                for n in names {
                    match self.source_index(&n.value, n.loc) {
                        Some(i) => order.push(i),
                        None => ok = false,
                    }
                }
                ok.then_some(Prefer::Order(order))
            }
        }
    }

    /// Compiles a `{source: expression}` map (`from:`, `updated_at:`):
    /// the programs by source index, and whether every entry was valid.
    fn per_source(
        &mut self,
        entries: &[(crate::spec::yaml::Key, ExprSrc)],
        scope: &Scope,
    ) -> (Vec<(usize, Program)>, bool) {
        let mut out = Vec::new();
        let mut ok = true;
        for (k, e) in entries {
            // An unknown source is reported once, not again in its expression.
            match self.source_index(&k.text, k.loc).and_then(|i| self.program(e, scope).map(|p| (i, p))) {
                Some(entry) => out.push(entry),
                None => ok = false,
            }
        }
        (out, ok)
    }

    /// Compiles a field's `from:` rule.
    fn truth_rule(&mut self, spec: &FieldSpec, scope: &Scope, display: &str) -> Option<TruthRule> {
        let t = &spec.truth;
        let Some(from_loc) = t.from_loc else {
            self.diags.push(
                Diagnostic::spec(
                    self.file,
                    SpecCode::BadTruthRule,
                    spec.name.loc,
                    format!("field `{display}` has source-of-truth keys but no `from:`"),
                )
                .with_hint("list a candidate per source: `from: { erp: $erp.price, shop: number($shop.price) }`"),
            );
            return None;
        };
        if let FieldBody::Expr(_) | FieldBody::Nested(..) | FieldBody::Each { .. } = spec.body {
            self.diags.push(
                Diagnostic::spec(
                    self.file,
                    SpecCode::ConflictingKeys,
                    from_loc,
                    format!("field `{display}` has both `from:` and a value (`expr:`, `fields:` or `each:`)"),
                )
                .with_hint("`from:` gives the candidates; remove the other"),
            );
            return None;
        }
        let (candidates, mut ok) = self.per_source(&t.from, scope);
        let prefer = match &t.prefer {
            Some(p) => self.prefer_spec(p),
            None => self.prefer.clone(),
        };
        let from_order: Vec<usize> = candidates.iter().map(|(s, _)| *s).collect();
        let mut order: Vec<usize> = Vec::new();
        if let Some(Prefer::Order(list)) = &prefer {
            for s in list {
                if let Some(pos) = from_order.iter().position(|f| f == s) {
                    if !order.contains(&pos) {
                        order.push(pos);
                    }
                }
            }
        }
        for pos in 0..from_order.len() {
            if !order.contains(&pos) {
                order.push(pos);
            }
        }
        let (field_fresh, fresh_ok) = self.per_source(&t.updated_at, scope);
        ok &= fresh_ok;
        let latest = if let Some(Prefer::Latest) = prefer {
            let mut stamps = Vec::new();
            for (s, _) in &candidates {
                let fresh = field_fresh
                    .iter()
                    .find(|(f, _)| f == s)
                    .map(|(_, p)| (p.clone(), None))
                    .or_else(|| self.source_fresh.get(*s).cloned().flatten().map(|p| (p, Some(*s))));
                match fresh {
                    Some(p) => stamps.push(p),
                    None => {
                        let loc = t.updated_at_loc.unwrap_or(from_loc);
                        self.diags.push(
                            Diagnostic::spec(self.file, SpecCode::BadTruthRule, loc, format!("`prefer: latest` in field `{display}` needs an `updated_at:` for source `{}`", self.sources[*s]))
                                .with_hint(format!("add `updated_at: {{ {}: ${}.updated_at }}` to the field, or `updated_at: $.updated_at` to the source", self.sources[*s], self.sources[*s])),
                        );
                        ok = false;
                    }
                }
            }
            Some(stamps)
        } else {
            None
        };
        let on_conflict = match &t.on_conflict {
            None => OnConflict::Ignore,
            Some(c) => match keys::word(&ON_CONFLICT, &c.value) {
                Some(on_conflict) => on_conflict,
                None => {
                    let other = &c.value;
                    self.diags.push(
                        Diagnostic::spec(
                            self.file,
                            SpecCode::BadValue,
                            c.loc,
                            format!(
                                "`on_conflict:` must be {}, got `{other}`",
                                keys::or_list(&keys::names(&ON_CONFLICT))
                            ),
                        )
                        .with_hint(
                            "report writes a drift line; error fails the record; ignore (the default) does nothing",
                        ),
                    );
                    ok = false;
                    OnConflict::Ignore
                }
            },
        };
        let tolerance = match &t.tolerance {
            None => None,
            Some(n) => match &n.value {
                Yaml::Number(text) if crate::truth::tolerance_of(text).is_some() => crate::truth::tolerance_of(text),
                _ => {
                    self.diags.push(
                        Diagnostic::spec(
                            self.file,
                            SpecCode::BadValue,
                            n.loc,
                            "`tolerance:` must be a number of zero or more",
                        )
                        .with_hint(
                            "for example `tolerance: 0.01`: numbers closer than this do not count as a conflict",
                        ),
                    );
                    ok = false;
                    None
                }
            },
        };
        (ok && !candidates.is_empty()).then_some(TruthRule { candidates, order, latest, tolerance, on_conflict })
    }

    fn severity(&mut self, s: Option<&crate::spec::Located<String>>) -> Severity {
        match s {
            None => Severity::Error,
            Some(s) => match keys::word(&SEVERITIES, &s.value) {
                Some(severity) => severity,
                None => {
                    self.diags.push(
                        Diagnostic::spec(
                            self.file,
                            SpecCode::BadValue,
                            s.loc,
                            format!(
                                "`severity:` must be {}, got `{}`",
                                keys::or_list(&keys::names(&SEVERITIES)),
                                s.value
                            ),
                        )
                        .with_hint("error sends the record to the dead letter; warn lets it through and counts it"),
                    );
                    Severity::Error
                }
            },
        }
    }

    fn program(&mut self, src: &ExprSrc, scope: &Scope) -> Option<Program> {
        match Program::compile(&src.text, scope) {
            Ok(p) => {
                self.reads.extend(p.reads().iter().cloned());
                Some(p)
            }
            Err(e) => {
                let place = ExprPlace::new(self.file, src.loc, &src.text);
                self.diags.push(place.diagnostic(self.file, &e));
                None
            }
        }
    }

    fn fields(&mut self, specs: &[FieldSpec], out: &mut OutScope) -> Vec<Field> {
        self.fields_at(specs, out, false, None, "", &[])
    }

    /// Compiles fields whose output paths start with `base` inside the
    /// current object scope (`out`).
    /// `it_base` is what `it` stands for in the input (inside `each:` over
    /// a plain path), for the projection.
    fn fields_at(
        &mut self,
        specs: &[FieldSpec],
        out: &mut OutScope,
        element: bool,
        it_base: Option<&Read>,
        prefix: &str,
        base: &[String],
    ) -> Vec<Field> {
        let mut fields = Vec::new();
        for spec in specs {
            let rel: Vec<String> = spec.name.text.split('.').map(str::to_string).collect();
            if rel.iter().any(String::is_empty) {
                self.diags.push(
                    Diagnostic::spec(
                        self.file,
                        SpecCode::BadValue,
                        spec.name.loc,
                        format!("field name `{}` has an empty part", spec.name.text),
                    )
                    .with_hint("dotted names nest objects: `customer.email`; remove the extra dot"),
                );
                continue;
            }
            let abs: Vec<String> = base.iter().cloned().chain(rel.iter().cloned()).collect();
            let display = if prefix.is_empty() { abs.join(".") } else { format!("{prefix}.{}", abs.join(".")) };
            // A clash: the same path twice, or a value where an object is built.
            let nested = matches!(spec.body, FieldBody::Nested(..));
            let clash = out.defined.iter().find(|p| {
                let n = p.len().min(abs.len());
                let shared = p[..n] == abs[..n];
                // A value clashes with anything on its path; a nested block
                // only with a value at or above it (it may add to an object).
                shared && (!nested || p.len() <= abs.len())
            });
            if let Some(other) = clash {
                let other = other.join(".");
                self.diags.push(
                    Diagnostic::spec(
                        self.file,
                        SpecCode::DuplicateField,
                        spec.name.loc,
                        if other == abs.join(".") {
                            format!("output field `{display}` is defined twice")
                        } else {
                            format!("output field `{display}` clashes with `{other}` defined above")
                        },
                    )
                    .with_hint("each output path may be set once; rename one of them"),
                );
                continue;
            }
            let lookups = self.lookups.clone();
            let names = self.sources.clone();
            let fns = self.functions.clone();
            let when = spec.when.as_ref().and_then(|w| {
                let check = |p: &[&str]| out.check(p);
                let scope =
                    Scope { lookups: &lookups, out: Some(&check), element, it_base, sources: &names, functions: &fns };
                self.program(w, &scope)
            });
            let truth = if spec.truth.is_empty() || names.is_empty() {
                None
            } else if element {
                self.diags.push(
                    Diagnostic::spec(
                        self.file,
                        SpecCode::BadTruthRule,
                        spec.truth.from_loc.unwrap_or(spec.name.loc),
                        format!("field `{display}`: `from:` is not allowed inside `each:`"),
                    )
                    .with_hint(
                        "source-of-truth rules choose record-level values; compute list elements with expressions",
                    ),
                );
                continue;
            } else {
                let check = |p: &[&str]| out.check(p);
                let scope = Scope {
                    lookups: &lookups,
                    out: Some(&check),
                    sources: &names,
                    functions: &fns,
                    ..Scope::default()
                };
                match self.truth_rule(spec, &scope, &display) {
                    Some(rule) => Some(rule),
                    None => continue,
                }
            };
            let default = spec.default.as_ref().map(lookups::yaml_value);
            if !spec.truth.is_empty() && names.is_empty() {
                let loc = spec.truth.from_loc.or(spec.truth.updated_at_loc).unwrap_or(spec.name.loc);
                self.diags.push(
                    Diagnostic::spec(self.file, SpecCode::BadTruthRule, loc, format!("field `{display}` uses source-of-truth keys (from:, prefer:, on_conflict:, tolerance:, updated_at:), which need `sources:`"))
                        .with_hint("declare the sources at the top of the mapping, or write the field as an expression"),
                );
            }
            let value = match (&spec.body, truth) {
                (_, Some(rule)) => FieldValue::Truth(Box::new(rule)),
                (FieldBody::Expr(src), None) => {
                    let check = |p: &[&str]| out.check(p);
                    let scope = Scope {
                        lookups: &lookups,
                        out: Some(&check),
                        element,
                        it_base,
                        sources: &names,
                        functions: &fns,
                    };
                    match self.program(src, &scope) {
                        Some(p) => FieldValue::Expr(p),
                        None => {
                            // Still check the field's checks, so every
                            // problem of the file shows in one run.
                            out.defined.push(abs.clone());
                            let _ = self.checks(&spec.checks, out, element, it_base, &lookups);
                            continue;
                        }
                    }
                }
                (FieldBody::Nothing, None) => FieldValue::Const(Value::Null),
                (FieldBody::Nested(inner), None) => {
                    let inner = self.fields_at(inner, out, element, it_base, prefix, &abs);
                    FieldValue::Nested(inner)
                }
                (FieldBody::Each { each, filter, item }, None) => {
                    let check = |p: &[&str]| out.check(p);
                    let scope = Scope {
                        lookups: &lookups,
                        out: Some(&check),
                        element,
                        it_base,
                        sources: &names,
                        functions: &fns,
                    };
                    let before = self.reads.len();
                    let list = self.program(each, &scope);
                    // Over a plain path, elements are read only through
                    // `it`: project them by what the fields read.
                    let it_base = list.as_ref().and_then(|l| l.singular_read()).cloned().map(|mut r| {
                        self.reads.truncate(before);
                        r.whole = false;
                        self.reads.push(r.clone());
                        r
                    });
                    let elem_scope = Scope {
                        lookups: &lookups,
                        element: true,
                        out: Some(&|_: &[&str]| Ok(())),
                        it_base: it_base.as_ref(),
                        sources: &names,
                        functions: &fns,
                    };
                    let filter = filter.as_ref().and_then(|f| self.program(f, &elem_scope));
                    let item = match item {
                        EachItem::Expr(x) => self.program(x, &elem_scope).map(EachValue::Expr),
                        EachItem::Fields(inner) => {
                            let mut inner_out = OutScope::default();
                            collect_paths(inner, &[], &mut inner_out.all);
                            Some(EachValue::Fields(self.fields_at(
                                inner,
                                &mut inner_out,
                                true,
                                it_base.as_ref(),
                                &format!("{display}[]"),
                                &[],
                            )))
                        }
                    };
                    match (list, item) {
                        (Some(list), Some(item)) => FieldValue::Each(Box::new(Each { list, filter, item })),
                        _ => continue,
                    }
                }
            };
            if !matches!(spec.body, FieldBody::Nested(..)) {
                out.defined.push(abs.clone());
            }
            let checks = self.checks(&spec.checks, out, element, it_base, &lookups);
            fields.push(Field {
                path: rel.iter().map(|s| mapwright_dsl::intern(s)).collect(),
                abs: abs.iter().map(|s| mapwright_dsl::intern(s)).collect(),
                value,
                when,
                default,
                omit_null: spec.omit_null,
                checks,
                doc: spec.doc.clone(),
            });
        }
        fields
    }

    fn bound(&mut self, node: &Node, what: &str) -> Option<Value> {
        match &node.value {
            Yaml::Number(n) => Some(Value::Number(mapwright_dsl::Number::from_json_text(n))),
            Yaml::String(s) => {
                match Program::compile(&format!("timestamp({})", Value::str(s).to_json()), &Scope::default())
                    .ok()
                    .and_then(|p| p.eval(&mapwright_dsl::Ctx::new(&Value::Null, &mapwright_dsl::NoHost)).ok())
                {
                    Some(ts) => Some(ts),
                    None => {
                        self.diags.push(
                            Diagnostic::spec(
                                self.file,
                                SpecCode::BadCheck,
                                node.loc,
                                format!("`{what}:` must be a number or a timestamp, got \"{s}\""),
                            )
                            .with_hint("for example `min: 0` or `min: 2020-01-01`"),
                        );
                        None
                    }
                }
            }
            other => {
                let kind = other.kind();
                self.diags.push(Diagnostic::spec(
                    self.file,
                    SpecCode::BadCheck,
                    node.loc,
                    format!("`{what}:` must be a number, got {kind}"),
                ));
                None
            }
        }
    }

    fn count(&mut self, node: &Node, what: &str) -> Option<usize> {
        match &node.value {
            Yaml::Number(n) if n.parse::<usize>().is_ok() => n.parse().ok(),
            _ => {
                self.diags.push(Diagnostic::spec(
                    self.file,
                    SpecCode::BadCheck,
                    node.loc,
                    format!("`{what}:` must be a whole number of characters"),
                ));
                None
            }
        }
    }

    fn regex(&mut self, p: &crate::spec::Located<String>) -> Option<regex::Regex> {
        match mapwright_dsl::functions::compile_regex(&p.value) {
            Ok(re) => Some(re),
            Err(m) => {
                self.diags.push(
                    Diagnostic::at(
                        self.file,
                        mapwright_dsl::Code::BadRegex.as_str(),
                        p.loc.offset,
                        p.loc.len.max(1),
                        m,
                    )
                    .with_hint("write patterns in single quotes so backslashes stay as written: pattern: '^\\d{5}$'"),
                );
                None
            }
        }
    }

    /// The value checks shared by field keys and `checks:` entries.
    fn value_checks(
        &mut self,
        pattern: Option<&crate::spec::Located<String>>,
        one_of: Option<&(Vec<Node>, crate::spec::yaml::Loc)>,
        min: Option<&Node>,
        max: Option<&Node>,
    ) -> Vec<CheckKind> {
        let mut kinds = Vec::new();
        if let Some(re) = pattern.and_then(|p| self.regex(p)) {
            kinds.push(CheckKind::Pattern(Box::new(re)));
        }
        if let Some((values, _)) = one_of {
            kinds.push(CheckKind::Enum(values.iter().map(lookups::yaml_value).collect()));
        }
        if let Some(b) = min.and_then(|n| self.bound(n, "min")) {
            kinds.push(CheckKind::Min(b));
        }
        if let Some(b) = max.and_then(|n| self.bound(n, "max")) {
            kinds.push(CheckKind::Max(b));
        }
        kinds
    }

    fn checks(
        &mut self,
        spec: &ChecksSpec,
        out: &OutScope,
        element: bool,
        it_base: Option<&Read>,
        lookups: &[LookupDecl],
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let mut push =
            |kind: CheckKind| checks.push(Check { kind, when: None, message: None, severity: Severity::Error });
        if let Some(r) = &spec.required {
            if r.value {
                push(CheckKind::Required);
            }
        }
        if let Some(t) = &spec.kind {
            match TYPE_NAMES.iter().find(|n| **n == t.value) {
                Some(name) => push(CheckKind::Type(name)),
                None => {
                    let hint = match mapwright_dsl::nearest(&t.value, TYPE_NAMES.iter().copied()) {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!("use one of: {}", TYPE_NAMES.join(", ")),
                    };
                    self.diags.push(
                        Diagnostic::spec(self.file, SpecCode::BadCheck, t.loc, format!("unknown type `{}`", t.value))
                            .with_hint(hint),
                    );
                }
            }
        }
        let mut pending =
            self.value_checks(spec.pattern.as_ref(), spec.one_of.as_ref(), spec.min.as_ref(), spec.max.as_ref());
        if let Some(n) = &spec.min_length {
            if let Some(c) = self.count(n, "min_length") {
                pending.push(CheckKind::MinLength(c));
            }
        }
        if let Some(n) = &spec.max_length {
            if let Some(c) = self.count(n, "max_length") {
                pending.push(CheckKind::MaxLength(c));
            }
        }
        for kind in pending {
            push(kind);
        }
        let names = self.sources.clone();
        let fns = self.functions.clone();
        for c in &spec.checks {
            let check = |p: &[&str]| out.check(p);
            let scope = Scope { lookups, out: Some(&check), element, it_base, sources: &names, functions: &fns };
            let when = c.when.as_ref().and_then(|w| self.program(w, &scope));
            let mut kinds = Vec::new();
            if let Some(r) = &c.rule {
                if let Some(p) = self.program(r, &scope) {
                    kinds.push(CheckKind::Rule(Box::new(p)));
                }
            }
            kinds.extend(self.value_checks(c.pattern.as_ref(), c.one_of.as_ref(), c.min.as_ref(), c.max.as_ref()));
            if c.rule.is_none() && c.pattern.is_none() && c.one_of.is_none() && c.min.is_none() && c.max.is_none() {
                self.diags.push(
                    Diagnostic::spec(
                        self.file,
                        SpecCode::BadCheck,
                        c.loc,
                        "a check needs one of `rule:`, `pattern:`, `enum:`, `min:`, `max:`",
                    )
                    .with_hint("for example `- pattern: '^\\d{5}$'` with a `message:`"),
                );
            }
            let severity = self.severity(c.severity.as_ref());
            for kind in kinds {
                checks.push(Check {
                    kind,
                    when: when.clone(),
                    message: c.message.as_ref().map(|m| m.value.clone()),
                    severity,
                });
            }
        }
        checks
    }
}

/// Every output path of a fields block (for "defined below" hints).
fn collect_paths(specs: &[FieldSpec], base: &[String], out: &mut Vec<Vec<String>>) {
    for s in specs {
        let abs: Vec<String> = base.iter().cloned().chain(s.name.text.split('.').map(str::to_string)).collect();
        if let FieldBody::Nested(inner) = &s.body {
            collect_paths(inner, &abs, out);
        } else {
            out.push(abs);
        }
    }
}
