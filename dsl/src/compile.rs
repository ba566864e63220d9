//! Syntax tree to executable program, once per mapping load.
//!
//! Everything that can be decided before the first record is decided here:
//! function names and arity, lookup tables, sources, `out.` references,
//! regular expressions and JSONPath queries. The result is a tree of
//! [`Node`]s in which a singular path is a list of precomputed keys (a
//! direct lookup), a JSONPath query is already parsed, and a builtin is a
//! function pointer — so evaluation never parses or resolves anything.

use std::sync::Arc;

use regex::Regex;

use crate::ast::{BinaryOp, Expr, ExprKind, Path, Root, SegmentKind, Span, UnaryOp};
use crate::error::{Code, CompileError, nearest};
use crate::functions::{self, BUILTINS, Builtin, Imp, Special};
use crate::jsonpath::Query;
use crate::projection::{Read, ReadRoot};
use crate::value::{Str, Value};

/// A lookup table the expression may name.
#[derive(Clone, Debug, Default)]
pub struct LookupDecl {
    /// The table's name in `lookup("name", …)`.
    pub name: String,
    /// Whether a miss fails the record.
    pub strict: bool,
}

/// A host function (a Rhai hook) the expression may call.
#[derive(Clone, Debug, Default)]
pub struct HostFn {
    /// The name used in expressions.
    pub name: String,
    /// Its number of parameters, when known.
    pub arity: Option<usize>,
}

/// Checks an `out.a.b` reference; returns a message when `a.b` is not
/// defined above the field being compiled.
pub type OutCheck<'a> = &'a dyn Fn(&[&str]) -> Result<(), String>;

/// What an expression may refer to: the compile-time environment.
#[derive(Clone, Copy, Default)]
pub struct Scope<'a> {
    /// Named sources of a multi-source mapping (empty: single-source, `$`).
    pub sources: &'a [String],
    /// Declared lookup tables; the index is the table id passed to [`crate::Host`].
    pub lookups: &'a [LookupDecl],
    /// Host functions; the index is the id passed to [`crate::Host::call`].
    pub functions: &'a [HostFn],
    /// Validates `out.` references; `None` allows any.
    pub out: Option<OutCheck<'a>>,
    /// Whether `it` and `index()` are defined (inside `each`).
    pub element: bool,
    /// The input path `it` stands for inside `each:` over a plain path
    /// (for input projection); `None` when `it` is computed.
    pub it_base: Option<&'a Read>,
}

/// A compiled expression, ready to evaluate against any number of records.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) node: Node,
    text: Arc<str>,
    reads: Vec<Read>,
    singular: Option<Read>,
    lookups: Vec<String>,
}

impl Program {
    /// Parses and compiles `text` in `scope`.
    ///
    /// ```
    /// use mapwright_dsl::{Program, Scope, Value, Ctx, NoHost};
    /// let p = Program::compile("$.price * 3", &Scope::default()).unwrap();
    /// let input = Value::from_json(r#"{"price": 19.99}"#).unwrap();
    /// assert_eq!(p.eval(&Ctx::new(&input, &NoHost)).unwrap().to_json(), "59.97");
    /// ```
    pub fn compile(text: &str, scope: &Scope) -> Result<Program, CompileError> {
        let ast = crate::parse::parse(text)?;
        let mut c = Compiler {
            scope,
            reads: Vec::new(),
            used_lookups: Vec::new(),
            lambda: 0,
            it_bases: vec![scope.it_base.map(|r| (r.root.clone(), r.keys.clone()))],
        };
        let node = c.expr(&ast)?;
        let singular = match &ast.kind {
            ExprKind::Path(p) => c.pure_path(p),
            _ => None,
        };
        let mut reads = c.reads;
        reads.sort();
        reads.dedup();
        let lookups = c.used_lookups;
        Ok(Program { node, text: Arc::from(text), reads, singular, lookups })
    }

    /// The expression text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The input paths the expression reads (`$.customer.email`,
    /// `$erp.price`; `it.sku` resolved against its list), for lineage and
    /// input projection.
    pub fn reads(&self) -> &[Read] {
        &self.reads
    }

    /// The lookup tables the expression uses, by name.
    pub fn lookups(&self) -> &[String] {
        &self.lookups
    }

    /// The path, when the whole expression is a plain path of names and
    /// indexes (`$.line_items`, `it.parts`): an `each:` over it lets the
    /// elements be projected by what the fields read through `it`.
    pub fn singular_read(&self) -> Option<&Read> {
        self.singular.as_ref()
    }

    /// The value, when the expression is a constant.
    pub fn constant(&self) -> Option<&Value> {
        match &self.node {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }
}

/// Where a path starts, resolved.
#[derive(Clone, Debug)]
pub(crate) enum Base {
    Input,
    Source(usize),
    It,
    Out,
    Node(Box<Node>),
}

/// One resolved path step.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    Key(Str),
    Index(i64),
    Dynamic(Node),
}

/// The executable form of an expression.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(Value),
    Path(Base, Box<[Step]>),
    Query(Base, Box<Query>, Span),
    Array(Vec<Node>),
    Object(Vec<(Str, Node)>),
    Neg(Box<Node>, Span),
    Not(Box<Node>, Span),
    Binary(BinaryOp, Box<(Node, Node)>, Span),
    If(Vec<(Node, Node)>, Box<Node>),
    Call(&'static Builtin, Box<[Node]>, Option<Box<Regex>>, Span),
    Special(Special, Box<[Node]>, Span),
    Exists(Base, Box<[Step]>),
    Lookup { table: usize, strict: bool, name: Str, key: Box<Node>, default: Option<Box<Node>>, span: Span },
    Host(usize, Box<[Node]>, Span),
}

struct Compiler<'s, 'a> {
    scope: &'s Scope<'a>,
    reads: Vec<Read>,
    used_lookups: Vec<String>,
    lambda: usize,
    /// What `it` stands for, innermost last: `None` when it is a computed
    /// value (whose inputs are already read whole).
    it_bases: Vec<Option<(ReadRoot, Vec<Str>)>>,
}

impl Compiler<'_, '_> {
    fn expr(&mut self, e: &Expr) -> Result<Node, CompileError> {
        Ok(match &e.kind {
            ExprKind::Literal(v) => Node::Const(v.clone()),
            ExprKind::Array(items) => {
                let nodes = items.iter().map(|i| self.expr(i)).collect::<Result<Vec<_>, _>>()?;
                if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
                    Node::Const(Value::array(
                        nodes
                            .into_iter()
                            .map(|n| match n {
                                Node::Const(v) => v,
                                _ => Value::Null,
                            })
                            .collect(),
                    ))
                } else {
                    Node::Array(nodes)
                }
            }
            ExprKind::Object(entries) => Node::Object(
                entries
                    .iter()
                    .map(|(k, v)| Ok((crate::value::intern(k), self.expr(v)?)))
                    .collect::<Result<_, CompileError>>()?,
            ),
            ExprKind::Path(p) => self.path(p, e.span)?,
            ExprKind::Unary(UnaryOp::Neg, x) => Node::Neg(Box::new(self.expr(x)?), e.span),
            ExprKind::Unary(UnaryOp::Not, x) => Node::Not(Box::new(self.expr(x)?), e.span),
            ExprKind::Binary(op, a, b) => Node::Binary(*op, Box::new((self.expr(a)?, self.expr(b)?)), e.span),
            ExprKind::If { branches, otherwise } => Node::If(
                branches
                    .iter()
                    .map(|(c, v)| Ok((self.expr(c)?, self.expr(v)?)))
                    .collect::<Result<_, CompileError>>()?,
                Box::new(match otherwise {
                    Some(o) => self.expr(o)?,
                    None => Node::Const(Value::Null),
                }),
            ),
            ExprKind::Call { name, name_span, args } => self.call(name, *name_span, args, e.span)?,
            ExprKind::Ident(name) => return Err(self.bare_name(name, e.span)),
        })
    }

    fn bare_name(&self, name: &str, span: Span) -> CompileError {
        let err = CompileError::new(Code::BareName, span, format!("unknown name `{name}`"));
        if let Some(b) = functions::builtin(name) {
            if b.max_args == 0 {
                return err.hint(format!("`{name}` is a function: call it as {name}()"));
            }
        }
        if functions::builtin(name).is_some() || self.scope.functions.iter().any(|f| f.name == name) {
            return err.hint(format!("`{name}` is a function: call it as {name}(…) or pipe into it: x | {name}"));
        }
        if !self.scope.sources.is_empty() {
            if let Some(s) = nearest(name, self.scope.sources.iter().map(String::as_str)) {
                return err.hint(format!("did you mean the source ${s}?"));
            }
        }
        match name {
            "input" | "record" | "this" | "self" => err.hint("the input record is `$`"),
            "item" | "element" => err.hint("the current element is `it`"),
            _ => err.hint(format!("to read a field of the input write $.{name}; strings need quotes: \"{name}\"")),
        }
    }

    fn base(&mut self, root: &Root, span: Span) -> Result<Base, CompileError> {
        Ok(match root {
            Root::Input => {
                if !self.scope.sources.is_empty() {
                    return Err(CompileError::new(
                        Code::WrongRoot,
                        Span::new(span.start, span.start + 1),
                        "`$` is ambiguous in a multi-source mapping",
                    )
                    .hint(format!(
                        "name the source: {}",
                        self.scope.sources.iter().map(|s| format!("${s}")).collect::<Vec<_>>().join(", ")
                    )));
                }
                Base::Input
            }
            Root::Source(name) => {
                let name_span = Span::new(span.start, span.start + 1 + name.len());
                if self.scope.sources.is_empty() {
                    return Err(CompileError::new(
                        Code::WrongRoot,
                        name_span,
                        format!("unknown source `${name}`: this mapping has no `sources:`"),
                    )
                    .hint("in a single-source mapping the input record is `$`, as in $.field"));
                }
                match self.scope.sources.iter().position(|s| s == name) {
                    Some(i) => Base::Source(i),
                    None => {
                        let mut err =
                            CompileError::new(Code::UnknownSource, name_span, format!("unknown source `${name}`"));
                        err = match nearest(name, self.scope.sources.iter().map(String::as_str)) {
                            Some(s) => err.hint(format!("did you mean ${s}?")),
                            None => err.hint(format!("declared sources: {}", self.scope.sources.join(", "))),
                        };
                        return Err(err);
                    }
                }
            }
            Root::It => {
                if !self.scope.element && self.lambda == 0 {
                    return Err(CompileError::new(
                        Code::WrongRoot,
                        Span::new(span.start, span.start + 2),
                        "`it` is only defined inside `each:`, map(), filter() and the other list functions",
                    )
                    .hint("read the input record with $, or an output field above with out.<field>"));
                }
                Base::It
            }
            Root::Out => Base::Out,
            Root::Expr(e) => Base::Node(Box::new(self.expr(e)?)),
        })
    }

    fn path(&mut self, p: &Path, span: Span) -> Result<Node, CompileError> {
        let base = self.base(&p.root, span)?;
        if let Root::Out = p.root {
            self.check_out(p, span)?;
        }
        let is_query = p.segments.iter().any(|s| matches!(s.kind, SegmentKind::Query));
        if is_query {
            let mut text = String::from("$");
            for s in &p.segments {
                if let SegmentKind::Dynamic(_) = s.kind {
                    return Err(CompileError::new(
                        Code::BadJsonPath,
                        s.span,
                        "a computed key cannot be mixed with JSONPath wildcards or filters",
                    )
                    .hint("use map() or filter() on the list instead"));
                }
                text.push_str(&s.text);
            }
            let query = Query::compile(&text).map_err(|msg| {
                let seg_span =
                    p.segments.iter().find(|s| matches!(s.kind, SegmentKind::Query)).map_or(span, |s| s.span);
                CompileError::new(Code::BadJsonPath, seg_span, format!("invalid JSONPath: {msg}"))
                    .hint("see RFC 9535: [*], [1:3], [?@.qty > 1], ..name")
            })?;
            self.note_read(p);
            return Ok(Node::Query(base, Box::new(query), span));
        }
        let steps = self.steps(p)?;
        self.note_read(p);
        Ok(Node::Path(base, steps))
    }

    fn steps(&mut self, p: &Path) -> Result<Box<[Step]>, CompileError> {
        p.segments
            .iter()
            .map(|s| {
                Ok(match &s.kind {
                    SegmentKind::Name(n) => Step::Key(crate::value::intern(n)),
                    SegmentKind::Index(i) => Step::Index(*i),
                    SegmentKind::Dynamic(e) => Step::Dynamic(self.expr(e)?),
                    SegmentKind::Query => Step::Index(0),
                })
            })
            .collect()
    }

    /// Where a path's root points in the input: `None` for `out`, computed
    /// values, and `it` over a computed list.
    fn read_root(&self, root: &Root) -> Option<(ReadRoot, Vec<Str>)> {
        match root {
            Root::Input => Some((ReadRoot::Input, Vec::new())),
            Root::Source(name) => {
                self.scope.sources.iter().position(|s| s == name).map(|i| (ReadRoot::Source(i), Vec::new()))
            }
            Root::It => self.it_bases.last().cloned().flatten(),
            Root::Out | Root::Expr(_) => None,
        }
    }

    /// Records the input a path reads: its keys up to the first computed
    /// or query step, the whole value below.
    fn note_read(&mut self, p: &Path) {
        let Some((root, mut keys)) = self.read_root(&p.root) else {
            return;
        };
        for s in &p.segments {
            match &s.kind {
                SegmentKind::Name(n) => keys.push(crate::value::intern(n)),
                SegmentKind::Index(_) => {}
                SegmentKind::Dynamic(_) | SegmentKind::Query => break,
            }
        }
        self.reads.push(Read { root, keys, whole: true });
    }

    /// The read of a path made only of names and indexes.
    fn pure_path(&self, p: &Path) -> Option<Read> {
        let (root, mut keys) = self.read_root(&p.root)?;
        for s in &p.segments {
            match &s.kind {
                SegmentKind::Name(n) => keys.push(crate::value::intern(n)),
                SegmentKind::Index(_) => {}
                _ => return None,
            }
        }
        Some(Read { root, keys, whole: true })
    }

    fn check_out(&self, p: &Path, span: Span) -> Result<(), CompileError> {
        let Some(check) = self.scope.out else {
            return Ok(());
        };
        let names: Vec<&str> = p
            .segments
            .iter()
            .map_while(|s| match &s.kind {
                SegmentKind::Name(n) => Some(n.as_str()),
                _ => None,
            })
            .collect();
        check(&names).map_err(|msg| {
            let end = p.segments.get(names.len().max(1) - 1).map_or(span.end, |s| s.span.end);
            CompileError::new(Code::OutBeforeDefined, Span::new(span.start, end), msg)
                .hint("`out.x` reads a field defined above this one; move this field below it or read the input with $")
        })
    }

    fn call(&mut self, name: &str, name_span: Span, args: &[Expr], span: Span) -> Result<Node, CompileError> {
        if let Some(i) = self.scope.functions.iter().position(|f| f.name == name) {
            let f = &self.scope.functions[i];
            if let Some(n) = f.arity {
                if n != args.len() {
                    return Err(CompileError::new(
                        Code::Arity,
                        span,
                        format!("{name} takes {n} argument{}, got {}", plural(n), args.len()),
                    ));
                }
            }
            let args = args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
            return Ok(Node::Host(i, args.into(), span));
        }
        let Some(b) = functions::builtin(name) else {
            let mut err = CompileError::new(Code::UnknownFunction, name_span, format!("unknown function `{name}`"));
            let names = BUILTINS.iter().map(|b| b.name).chain(self.scope.functions.iter().map(|f| f.name.as_str()));
            if let Some(n) = nearest(name, names) {
                err = err.hint(format!("did you mean `{n}`?"));
            } else {
                err = err.hint("see the language reference in README.md for the builtin functions");
            }
            return Err(err);
        };
        if args.len() < b.min_args || args.len() > b.max_args {
            let expected = if b.max_args == usize::MAX {
                format!("at least {}", b.min_args)
            } else if b.min_args == b.max_args {
                b.min_args.to_string()
            } else {
                format!("{} to {}", b.min_args, b.max_args)
            };
            return Err(CompileError::new(
                Code::Arity,
                span,
                format!(
                    "{name} takes {expected} argument{}, got {}",
                    if b.max_args == 1 { "" } else { "s" },
                    args.len()
                ),
            )
            .hint(format!("usage: {name}({})", b.params)));
        }
        match b.imp {
            Imp::Plain(_) => {
                let nodes = args.iter().map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
                let regex = match b.regex_arg {
                    Some(i) => match nodes.get(i) {
                        Some(Node::Const(Value::String(pattern))) => {
                            Some(Box::new(functions::compile_regex(pattern).map_err(|m| {
                                CompileError::new(Code::BadRegex, args[i].span, m)
                                    .hint("write regular expressions in '…' quotes so backslashes stay as written")
                            })?))
                        }
                        _ => None,
                    },
                    None => None,
                };
                for (i, n) in nodes.iter().enumerate() {
                    if let Node::Const(v) = n {
                        if let Some((message, hint)) = functions::check_literal(b.name, i, v) {
                            return Err(CompileError::new(Code::BadArgument, args[i].span, message).hint(hint));
                        }
                    }
                }
                Ok(Node::Call(b, nodes.into(), regex, span))
            }
            Imp::Special(Special::Lookup) => self.lookup(args, span),
            Imp::Special(Special::Exists) => match &args[0].kind {
                ExprKind::Path(p) if p.segments.iter().any(|s| matches!(s.kind, SegmentKind::Query)) => {
                    // A query exists when it selects something.
                    let node = self.path(p, args[0].span)?;
                    Ok(Node::Special(Special::Exists, vec![node].into(), span))
                }
                ExprKind::Path(p) if !p.segments.is_empty() => {
                    let base = self.base(&p.root, args[0].span)?;
                    if let Root::Out = p.root {
                        self.check_out(p, args[0].span)?;
                    }
                    let steps = self.steps(p)?;
                    self.note_read(p);
                    Ok(Node::Exists(base, steps))
                }
                _ => Err(CompileError::new(Code::LiteralRequired, args[0].span, "exists() takes a path")
                    .hint("for example exists($.customer.email); to test a value use is_null(x)")),
            },
            Imp::Special(special) => {
                if special == Special::Index && !self.scope.element && self.lambda == 0 {
                    return Err(CompileError::new(
                        Code::WrongRoot,
                        span,
                        "index() is only defined inside `each:`, map(), filter() and the other list functions",
                    ));
                }
                let lambda = matches!(
                    special,
                    Special::Map | Special::Filter | Special::Find | Special::Any | Special::All | Special::SortBy
                );
                let mut nodes = Vec::with_capacity(args.len());
                // The list of map/any/all: when it is a plain path, its
                // elements are read only through `it` in the body. (filter,
                // find and sort_by hand elements on, so their list is read
                // whole.)
                let derives = matches!(special, Special::Map | Special::Any | Special::All);
                let mut base = None;
                for (i, a) in args.iter().enumerate() {
                    if lambda && i == 0 {
                        let before = self.reads.len();
                        nodes.push(self.expr(a)?);
                        if let ExprKind::Path(p) = &a.kind {
                            if let Some(mut r) = self.pure_path(p) {
                                base = Some((r.root.clone(), r.keys.clone()));
                                if derives {
                                    self.reads.truncate(before);
                                    r.whole = false;
                                    self.reads.push(r);
                                }
                            }
                        }
                    } else if lambda && i == 1 {
                        self.lambda += 1;
                        self.it_bases.push(base.take());
                        let n = self.expr(a);
                        self.it_bases.pop();
                        self.lambda -= 1;
                        nodes.push(n?);
                    } else {
                        nodes.push(self.expr(a)?);
                    }
                }
                Ok(Node::Special(special, nodes.into(), span))
            }
        }
    }

    fn lookup(&mut self, args: &[Expr], span: Span) -> Result<Node, CompileError> {
        let ExprKind::Literal(Value::String(name)) = &args[0].kind else {
            return Err(CompileError::new(
                Code::LiteralRequired,
                args[0].span,
                "the lookup table must be named by a string literal",
            )
            .hint("for example lookup(\"country3\", $.country_code)"));
        };
        let Some(table) = self.scope.lookups.iter().position(|l| *l.name == **name) else {
            let mut err =
                CompileError::new(Code::UnknownLookup, args[0].span, format!("unknown lookup table \"{name}\""));
            err = match nearest(name, self.scope.lookups.iter().map(|l| l.name.as_str())) {
                Some(n) => err.hint(format!("did you mean \"{n}\"?")),
                None if self.scope.lookups.is_empty() => {
                    err.hint("declare it under `lookups:` at the top of the mapping")
                }
                None => err.hint(format!(
                    "declared tables: {}",
                    self.scope.lookups.iter().map(|l| l.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
            };
            return Err(err);
        };
        let key = Box::new(self.expr(&args[1])?);
        let default = match args.get(2) {
            Some(d) => Some(Box::new(self.expr(d)?)),
            None => None,
        };
        if !self.used_lookups.iter().any(|l| **l == **name) {
            self.used_lookups.push(name.to_string());
        }
        Ok(Node::Lookup { table, strict: self.scope.lookups[table].strict, name: name.clone(), key, default, span })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str, scope: &Scope) -> String {
        match Program::compile(text, scope) {
            Ok(_) => "ok".into(),
            Err(e) => format!(
                "{} {} [{}..{}]{}",
                e.code.as_str(),
                e.message,
                e.span.start,
                e.span.end,
                e.hint.map(|h| format!(" hint: {h}")).unwrap_or_default()
            ),
        }
    }

    #[test]
    fn resolves_names_once() {
        let s = Scope::default();
        assert_eq!(err("upper($.a)", &s), "ok");
        assert_eq!(err("uper($.a)", &s), "E0102 unknown function `uper` [0..4] hint: did you mean `upper`?");
        assert!(err("upper($.a, 1)", &s).starts_with("E0103 upper takes 1 argument, got 2"));
        assert!(err("lookup(\"x\", $.a)", &s).starts_with("E0104"));
        assert!(err("$erp.a", &s).starts_with("E0111"));
        assert!(err("it.a", &s).starts_with("E0111"));
        assert_eq!(err("map($.a, it.b)", &s), "ok");
        assert!(err("matches($.a, '(')", &s).starts_with("E0107"));
        assert!(err("$.a[?@.b ==]", &s).starts_with("E0108"));
        assert!(err("trim", &s).starts_with("E0109"));
    }

    #[test]
    fn sources_and_out() {
        let sources = vec!["erp".to_string(), "pim".to_string()];
        let check = |p: &[&str]| {
            if p.first() == Some(&"a") { Ok(()) } else { Err(format!("out.{} is not defined above", p.join("."))) }
        };
        let s = Scope { sources: &sources, out: Some(&check), ..Scope::default() };
        assert_eq!(err("$erp.x ?? $pim.y", &s), "ok");
        assert!(err("$epr.x", &s).contains("did you mean $erp?"));
        assert!(err("$.x", &s).starts_with("E0111"));
        assert_eq!(err("out.a.b", &s), "ok");
        assert!(err("out.b", &s).starts_with("E0106 out.b is not defined above"));
    }

    #[test]
    fn records_reads() {
        let p = Program::compile("$.a.b + $['odd key'] + size($.c[*])", &Scope::default());
        assert!(p.is_err());
        let p =
            Program::compile("$.a.b + count($.c[*]) + $['odd key'] + sum(map($.l, it.x))", &Scope::default()).unwrap();
        let shown: Vec<String> =
            p.reads().iter().map(|r| format!("{r}{}", if r.whole { "" } else { " (shape)" })).collect();
        assert_eq!(shown, ["$.a.b", "$.c", "$.l (shape)", "$.l.x", "$['odd key']"]);
    }
}
