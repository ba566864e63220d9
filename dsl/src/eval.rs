//! Running a compiled [`Program`] against one record.
//!
//! Evaluation is a walk over the compiled node tree. Paths are followed by
//! reference and only the final value is cloned (a reference-count bump for
//! strings, lists and objects). Null propagates through operators and
//! functions (README "Expressions"); type errors carry the span of the failing part and
//! the offending value, and fail the record unless caught by `try()`.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use crate::ast::{BinaryOp, Span};
use crate::compile::{Base, Node, Program, Step};
use crate::error::EvalError;
use crate::functions::{Args, Imp, Nulls, Special};
use crate::value::{Map, Number, Value};

/// What the engine provides at run time: lookup tables and host functions.
pub trait Host {
    /// The value for `key` in lookup table `table` (ids are positions in
    /// [`crate::Scope::lookups`]); `None` on a miss.
    fn lookup(&self, table: usize, key: &str) -> Option<Value> {
        let _ = (table, key);
        None
    }

    /// Calls host function `id` (a position in [`crate::Scope::functions`]).
    fn call(&self, id: usize, args: &[Value]) -> Result<Value, String> {
        let _ = args;
        Err(format!("host function {id} is not available"))
    }
}

/// A host with no lookup tables and no functions.
pub struct NoHost;

impl Host for NoHost {}

static NULL: Value = Value::Null;

/// The evaluation context of one record.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    /// `$`: the input record.
    pub input: &'a Value,
    /// `$name`: the records of named sources, in [`crate::Scope::sources`] order.
    pub sources: &'a [Value],
    /// `out`: the output built so far.
    pub out: &'a Value,
    /// `it`: the current element.
    pub it: &'a Value,
    /// `index()`: the current element's position.
    pub index: usize,
    /// Lookups and host functions.
    pub host: &'a dyn Host,
    /// What `now()` returns: fixed per record, so one record sees one time.
    pub now: jiff::Timestamp,
}

impl<'a> Ctx<'a> {
    /// A context for `input` with nothing else set.
    pub fn new(input: &'a Value, host: &'a dyn Host) -> Ctx<'a> {
        Ctx { input, sources: &[], out: &NULL, it: &NULL, index: 0, host, now: jiff::Timestamp::now() }
    }

    /// The same context with `it` and `index()` set.
    pub fn element(&self, it: &'a Value, index: usize) -> Ctx<'a> {
        Ctx { it, index, ..*self }
    }

    /// The same context with `out` set.
    pub fn with_out(&self, out: &'a Value) -> Ctx<'a> {
        Ctx { out, ..*self }
    }
}

impl Program {
    /// Evaluates the program in `ctx`.
    pub fn eval(&self, ctx: &Ctx) -> Result<Value, EvalError> {
        eval(&self.node, ctx).map_err(|e| *e)
    }

    /// Evaluates a condition (`filter:`, `when:`, `where:`): `true` or
    /// `false`; `null` counts as false; anything else is an error.
    pub fn eval_bool(&self, ctx: &Ctx) -> Result<bool, EvalError> {
        let v = eval(&self.node, ctx).map_err(|e| *e)?;
        truthy(&v, Span::new(0, self.text().len())).map_err(|e| *e)
    }
}

fn truthy(v: &Value, span: Span) -> Result<bool, Box<EvalError>> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(Box::new(
            EvalError::new(span, format!("expected true or false, got {}", other.describe())).with_value(other.clone()),
        )),
    }
}

fn base<'v>(b: &Base, ctx: &Ctx<'v>, holder: &'v mut Option<Value>) -> Result<&'v Value, Box<EvalError>> {
    Ok(match b {
        Base::Input => ctx.input,
        Base::Source(i) => ctx.sources.get(*i).unwrap_or(&NULL),
        Base::It => ctx.it,
        Base::Out => ctx.out,
        Base::Node(n) => {
            *holder = Some(eval(n, ctx)?);
            holder.as_ref().unwrap_or(&NULL)
        }
    })
}

fn step<'v>(v: &'v Value, s: &Step, ctx: &Ctx) -> Result<Option<&'v Value>, Box<EvalError>> {
    Ok(match s {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.at(*i),
        Step::Dynamic(n) => match eval(n, ctx)? {
            Value::String(k) => v.get(&k),
            Value::Number(num) => {
                let d = num.to_decimal().unwrap_or_default();
                match i64::try_from(d) {
                    Ok(i) if d.fract().is_zero() => v.at(i),
                    _ => None,
                }
            }
            Value::Null => None,
            other => {
                return Err(Box::new(
                    EvalError::new(
                        Span::default(),
                        format!("a key must be a string or a whole number, got {}", other.describe()),
                    )
                    .with_value(other),
                ));
            }
        },
    })
}

pub(crate) fn eval(node: &Node, ctx: &Ctx) -> Result<Value, Box<EvalError>> {
    match node {
        Node::Const(v) => Ok(v.clone()),
        Node::Path(b, steps) => {
            let mut holder = None;
            let mut v = base(b, ctx, &mut holder)?;
            for s in steps.iter() {
                match step(v, s, ctx)? {
                    Some(next) => v = next,
                    None => return Ok(Value::Null),
                }
            }
            Ok(v.clone())
        }
        Node::Query(b, q, span) => {
            let mut holder = None;
            let v = base(b, ctx, &mut holder)?;
            q.select(v)
                .map(Value::array)
                .map_err(|m| boxed(EvalError::new(*span, format!("JSONPath query failed: {m}"))))
        }
        Node::Array(items) => Ok(Value::array(items.iter().map(|n| eval(n, ctx)).collect::<Result<_, _>>()?)),
        Node::Object(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, n) in entries {
                map.insert(k.clone(), eval(n, ctx)?);
            }
            Ok(Value::object(map))
        }
        Node::Neg(x, span) => match eval(x, ctx)? {
            Value::Null => Ok(Value::Null),
            Value::Number(n) => {
                let d = n.to_decimal().map_err(|m| EvalError::new(*span, m))?;
                Ok(Value::dec(-d))
            }
            other => Err(type_error(*span, "cannot negate", &other)),
        },
        Node::Not(x, span) => {
            let v = eval(x, ctx)?;
            Ok(Value::Bool(!truthy(&v, *span)?))
        }
        Node::Binary(op, ab, span) => binary(*op, &ab.0, &ab.1, *span, ctx),
        Node::If(branches, otherwise) => {
            for (c, v) in branches {
                let cond = eval(c, ctx)?;
                if truthy(&cond, span_hint(c))? {
                    return eval(v, ctx);
                }
            }
            eval(otherwise, ctx)
        }
        Node::Call(b, args, regex, span) => {
            let Imp::Plain(f) = b.imp else {
                return Err(boxed(EvalError::new(*span, "internal: special function called as plain")));
            };
            let mut values: smallvec::SmallVec<[Value; 4]> = smallvec::SmallVec::new();
            for a in args.iter() {
                let v = eval(a, ctx)?;
                if v.is_null() && b.nulls == Nulls::Propagate {
                    return Ok(Value::Null);
                }
                values.push(v);
            }
            f(&Args { values: &values, regex: regex.as_deref() }).map_err(|e| {
                boxed(EvalError {
                    // error("…") carries the analyst's own words; others name the function.
                    message: if b.name == "error" { e.message } else { format!("{}: {}", b.name, e.message) },
                    span: *span,
                    value: e.value,
                })
            })
        }
        Node::Special(s, args, span) => special(*s, args, *span, ctx),
        Node::Exists(b, steps) => {
            let mut holder = None;
            let mut v = base(b, ctx, &mut holder)?;
            for s in steps.iter() {
                match step(v, s, ctx)? {
                    Some(next) => v = next,
                    None => return Ok(Value::Bool(false)),
                }
            }
            Ok(Value::Bool(true))
        }
        Node::Lookup { table, strict, name, key, default, span } => {
            let k = eval(key, ctx)?;
            let key_text: std::borrow::Cow<str> = match &k {
                Value::Null => return Ok(Value::Null),
                Value::String(s) => std::borrow::Cow::Borrowed(s),
                Value::Number(_) | Value::Bool(_) => std::borrow::Cow::Owned(k.to_json()),
                other => return Err(type_error(*span, "a lookup key must be text or a number, got", other)),
            };
            if let Some(v) = ctx.host.lookup(*table, &key_text) {
                return Ok(v);
            }
            match default {
                Some(d) => eval(d, ctx),
                None if *strict => Err(Box::new(
                    EvalError::new(*span, format!("key \"{key_text}\" is not in strict lookup table \"{name}\""))
                        .with_value(k),
                )),
                None => Ok(Value::Null),
            }
        }
        Node::Host(id, args, span) => {
            let values = args.iter().map(|a| eval(a, ctx)).collect::<Result<Vec<_>, _>>()?;
            ctx.host.call(*id, &values).map_err(|m| boxed(EvalError::new(*span, m)))
        }
    }
}

fn span_hint(n: &Node) -> Span {
    match n {
        Node::Binary(_, _, s) | Node::Call(_, _, _, s) | Node::Special(_, _, s) | Node::Neg(_, s) | Node::Not(_, s) => {
            *s
        }
        _ => Span::default(),
    }
}

fn type_error(span: Span, what: &str, v: &Value) -> Box<EvalError> {
    boxed(EvalError::new(span, format!("{what} {}", v.describe())).with_value(v.clone()))
}

/// Errors travel boxed inside the evaluator: a `Result<Value, _>` is then
/// no larger than a value, which every node returns.
fn boxed(e: EvalError) -> Box<EvalError> {
    Box::new(e)
}

fn num_or_err(v: &Number, span: Span) -> Result<Decimal, Box<EvalError>> {
    v.to_decimal().map_err(|m| boxed(EvalError::new(span, m)))
}

fn binary(op: BinaryOp, a: &Node, b: &Node, span: Span, ctx: &Ctx) -> Result<Value, Box<EvalError>> {
    match op {
        BinaryOp::Coalesce => {
            let l = eval(a, ctx)?;
            if l.is_null() { eval(b, ctx) } else { Ok(l) }
        }
        BinaryOp::And => {
            let l = eval(a, ctx)?;
            if !truthy(&l, span)? {
                return Ok(Value::Bool(false));
            }
            Ok(Value::Bool(truthy(&eval(b, ctx)?, span)?))
        }
        BinaryOp::Or => {
            let l = eval(a, ctx)?;
            if truthy(&l, span)? {
                return Ok(Value::Bool(true));
            }
            Ok(Value::Bool(truthy(&eval(b, ctx)?, span)?))
        }
        _ => {
            let l = eval(a, ctx)?;
            let r = eval(b, ctx)?;
            apply_binary(op, &l, &r, span)
        }
    }
}

/// Applies a strict (non-short-circuit) binary operator.
pub(crate) fn apply_binary(op: BinaryOp, l: &Value, r: &Value, span: Span) -> Result<Value, Box<EvalError>> {
    match op {
        BinaryOp::Eq => return Ok(Value::Bool(l == r)),
        BinaryOp::Ne => return Ok(Value::Bool(l != r)),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            if l.is_null() || r.is_null() {
                return Ok(Value::Bool(false));
            }
            let ord = compare(l, r).ok_or_else(|| {
                // Blame the operand that is not a plain comparable value
                // (in `$.amount > 0` that is the record's field).
                let bad = if matches!(l, Value::Number(_) | Value::Timestamp(_))
                    && !matches!(r, Value::Number(_) | Value::Timestamp(_))
                {
                    r
                } else {
                    l
                };
                EvalError::new(span, format!("cannot compare {} with {}", l.describe(), r.describe()))
                    .with_value(bad.clone())
            })?;
            return Ok(Value::Bool(match op {
                BinaryOp::Lt => ord == Ordering::Less,
                BinaryOp::Le => ord != Ordering::Greater,
                BinaryOp::Gt => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }));
        }
        _ => {}
    }
    if l.is_null() || r.is_null() {
        return Ok(Value::Null);
    }
    match (op, l, r) {
        (BinaryOp::Add, Value::String(a), Value::String(b)) => {
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(a);
            s.push_str(b);
            Ok(Value::from(s))
        }
        (BinaryOp::Add, Value::Array(a), Value::Array(b)) => {
            let mut items = Vec::with_capacity(a.len() + b.len());
            items.extend(a.iter().cloned());
            items.extend(b.iter().cloned());
            Ok(Value::array(items))
        }
        (_, Value::Number(a), Value::Number(b)) => {
            let (x, y) = (num_or_err(a, span)?, num_or_err(b, span)?);
            let result = match op {
                BinaryOp::Add => x.checked_add(y),
                BinaryOp::Sub => x.checked_sub(y),
                BinaryOp::Mul => x.checked_mul(y),
                BinaryOp::Div | BinaryOp::Rem if y.is_zero() => {
                    return Err(boxed(EvalError::new(span, format!("division by zero: {x} {} 0", op.symbol()))));
                }
                BinaryOp::Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            // rust_decimal keeps 28 decimal places: a non-zero product or
            // quotient that rounds to zero is an underflow, not a 0.
            if let Some(z) = result {
                if z.is_zero() && !x.is_zero() && matches!(op, BinaryOp::Mul | BinaryOp::Div) && !y.is_zero() {
                    return Err(boxed(EvalError::new(
                        span,
                        format!(
                            "number underflow in {x} {} {y}: the result is below the exact decimal range (28 decimal places)",
                            op.symbol()
                        ),
                    )));
                }
            }
            result.map(Value::dec).ok_or_else(|| {
                boxed(EvalError::new(
                    span,
                    format!("number overflow in {x} {} {y}: the result exceeds the exact decimal range", op.symbol()),
                ))
            })
        }
        (BinaryOp::Add, Value::String(_), other) | (BinaryOp::Add, other, Value::String(_)) => {
            let hint = if matches!(other, Value::Number(_) | Value::Bool(_) | Value::Timestamp(_)) {
                "; convert it with string(x) to join it to text"
            } else {
                ""
            };
            Err(Box::new(
                EvalError::new(
                    span,
                    format!(
                        "cannot add {} to {}{hint}",
                        other.describe(),
                        if matches!(l, Value::String(_)) { l.describe() } else { r.describe() }
                    ),
                )
                .with_value(other.clone()),
            ))
        }
        _ => {
            let bad = if matches!(l, Value::Number(_)) { r } else { l };
            let hint = match bad {
                Value::String(_) => "; convert text to a number with number(x)",
                _ => "",
            };
            Err(Box::new(
                EvalError::new(
                    span,
                    format!("`{}` needs numbers, got {} and {}{hint}", op.symbol(), l.describe(), r.describe()),
                )
                .with_value(bad.clone()),
            ))
        }
    }
}

/// Orders two values of the same comparable kind (numbers, strings,
/// timestamps, booleans); `None` when they cannot be compared.
pub fn compare(l: &Value, r: &Value) -> Option<Ordering> {
    match (l, r) {
        (Value::Number(a), Value::Number(b)) => {
            let (x, y) = (a.to_decimal().ok()?, b.to_decimal().ok()?);
            Some(x.cmp(&y))
        }
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

fn list_arg(v: Value, span: Span, name: &str) -> Result<Option<std::sync::Arc<Vec<Value>>>, Box<EvalError>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(a) => Ok(Some(a)),
        other => Err(type_error(span, &format!("{name}: first argument must be a list, got"), &other)),
    }
}

fn special(s: Special, args: &[Node], span: Span, ctx: &Ctx) -> Result<Value, Box<EvalError>> {
    match s {
        Special::Try => match eval(&args[0], ctx) {
            Ok(v) => Ok(v),
            Err(_) => eval(&args[1], ctx),
        },
        Special::Coalesce => {
            for a in args {
                let v = eval(a, ctx)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            Ok(Value::Null)
        }
        Special::Exists => {
            let v = eval(&args[0], ctx)?;
            Ok(Value::Bool(v.as_array().is_some_and(|a| !a.is_empty())))
        }
        Special::Index => Ok(Value::from(ctx.index)),
        Special::Now => Ok(Value::Timestamp(ctx.now)),
        Special::Lookup => Err(boxed(EvalError::new(span, "internal: lookup compiled as special"))),
        Special::Map | Special::Filter | Special::Find | Special::Any | Special::All | Special::SortBy => {
            let name = match s {
                Special::Map => "map",
                Special::Filter => "filter",
                Special::Find => "find",
                Special::Any => "any",
                Special::All => "all",
                _ => "sort_by",
            };
            let Some(list) = list_arg(eval(&args[0], ctx)?, span, name)? else {
                return Ok(Value::Null);
            };
            let body = &args[1];
            match s {
                Special::Map => {
                    let mut out = Vec::with_capacity(list.len());
                    for (i, item) in list.iter().enumerate() {
                        out.push(eval(body, &ctx.element(item, i))?);
                    }
                    Ok(Value::array(out))
                }
                Special::Filter => {
                    let mut out = Vec::new();
                    let mut kept = 0;
                    for item in list.iter() {
                        let v = eval(body, &ctx.element(item, kept))?;
                        if truthy(&v, span)? {
                            out.push(item.clone());
                            kept += 1;
                        }
                    }
                    Ok(Value::array(out))
                }
                Special::Find => {
                    for (i, item) in list.iter().enumerate() {
                        if truthy(&eval(body, &ctx.element(item, i))?, span)? {
                            return Ok(item.clone());
                        }
                    }
                    Ok(Value::Null)
                }
                Special::Any => {
                    for (i, item) in list.iter().enumerate() {
                        if truthy(&eval(body, &ctx.element(item, i))?, span)? {
                            return Ok(Value::Bool(true));
                        }
                    }
                    Ok(Value::Bool(false))
                }
                Special::All => {
                    for (i, item) in list.iter().enumerate() {
                        if !truthy(&eval(body, &ctx.element(item, i))?, span)? {
                            return Ok(Value::Bool(false));
                        }
                    }
                    Ok(Value::Bool(true))
                }
                _ => {
                    let mut keyed = Vec::with_capacity(list.len());
                    for (i, item) in list.iter().enumerate() {
                        keyed.push((eval(body, &ctx.element(item, i))?, item.clone()));
                    }
                    sort_keyed(&mut keyed, span)?;
                    Ok(Value::array(keyed.into_iter().map(|(_, v)| v).collect()))
                }
            }
        }
    }
}

/// Stable sort by key: nulls last, keys of one comparable kind.
pub(crate) fn sort_keyed(keyed: &mut [(Value, Value)], span: Span) -> Result<(), Box<EvalError>> {
    let mut bad: Option<(Value, Value)> = None;
    keyed.sort_by(|(a, _), (b, _)| match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => compare(a, b).unwrap_or_else(|| {
            if bad.is_none() {
                bad = Some((a.clone(), b.clone()));
            }
            Ordering::Equal
        }),
    });
    match bad {
        Some((a, b)) => Err(Box::new(
            EvalError::new(span, format!("cannot sort: {} and {} do not compare", a.describe(), b.describe()))
                .with_value(b),
        )),
        None => Ok(()),
    }
}
