//! The typed syntax tree of an expression, with byte spans into its text.
//!
//! The tree is what the parser produces and the compiler consumes; it knows
//! nothing of functions, lookups or sources. Spans let every later error
//! point at the exact part of the expression.

use crate::value::Value;

/// A byte range in the expression text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// Start byte offset.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// An expression node.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it is in the text.
    pub span: Span,
}

/// The kinds of expression nodes.
#[derive(Clone, Debug)]
pub enum ExprKind {
    /// A literal value: number, string, boolean, null.
    Literal(Value),
    /// `[a, b]`
    Array(Vec<Expr>),
    /// `{a: 1, "b c": 2}`
    Object(Vec<(String, Expr)>),
    /// A path from a root through segments.
    Path(Path),
    /// `-x`, `not x`
    Unary(UnaryOp, Box<Expr>),
    /// `a + b`, `a and b`, …
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `if c then a elif d then b else e`
    If {
        /// Conditions and their branches, in order.
        branches: Vec<(Expr, Expr)>,
        /// The `else` branch (null when absent).
        otherwise: Option<Box<Expr>>,
    },
    /// `f(args)`; a pipe `x | f(y)` is stored as `f(x, y)`.
    Call {
        /// The function name.
        name: String,
        /// The span of the name.
        name_span: Span,
        /// The arguments.
        args: Vec<Expr>,
    },
    /// A bare name: valid only on the right of `|`.
    Ident(String),
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `not`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `??`
    Coalesce,
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Coalesce => "??",
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Rem => "%",
        }
    }
}

/// A path: a root and zero or more segments.
#[derive(Clone, Debug)]
pub struct Path {
    /// Where the path starts.
    pub root: Root,
    /// The steps after the root.
    pub segments: Vec<Segment>,
}

/// The start of a path.
#[derive(Clone, Debug)]
pub enum Root {
    /// `$`: the input record.
    Input,
    /// `$name`: a named source's record.
    Source(String),
    /// `it`: the current element.
    It,
    /// `out`: the output built so far.
    Out,
    /// `(expr)`, a call, a literal…: any other expression.
    Expr(Box<Expr>),
}

/// One step of a path.
#[derive(Clone, Debug)]
pub struct Segment {
    /// The step.
    pub kind: SegmentKind,
    /// The step's text as written (`.name`, `[0]`, `[?@.x > 1]`).
    pub text: String,
    /// Where it is.
    pub span: Span,
}

/// Kinds of path steps.
#[derive(Clone, Debug)]
pub enum SegmentKind {
    /// `.name` or `['name']`: singular.
    Name(String),
    /// `[3]`, `[-1]`: singular.
    Index(i64),
    /// `[expr]` whose key or index is computed per record: singular.
    Dynamic(Box<Expr>),
    /// A JSONPath step that yields many values: `.*`, `[*]`, `[1:3]`,
    /// `[?…]`, `[0,1]`, `..name`.
    Query,
}
