//! mapwright's expression language: values, grammar, parser, compiler,
//! evaluator and builtin functions (README "Language reference"). It knows
//! nothing of mapping files, records on disk or the pipeline: it never
//! depends on the engine, on I/O beyond its JSON text, or on async code.
//!
//! The stages follow the files: [`parse`](parse()) turns text into a syntax
//! tree ([`ast`]), [`Program::compile`] resolves every name once against a
//! [`Scope`], and [`Program::eval`] runs against a record in a [`Ctx`].
//!
//! ```
//! use mapwright_dsl::{Ctx, NoHost, Program, Scope, Value};
//!
//! let program = Program::compile(r#"$.email | trim | lower"#, &Scope::default())?;
//! let record = Value::from_json(r#"{"email": "  Ann@Example.COM "}"#)?;
//! let email = program.eval(&Ctx::new(&record, &NoHost))?;
//! assert_eq!(email.to_json(), r#""ann@example.com""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod ast;
mod compile;
mod error;
mod eval;
pub mod functions;
pub mod json;
mod jsonpath;
mod parse;
mod projection;
mod value;

pub use compile::{HostFn, LookupDecl, OutCheck, Program, Scope};
pub use error::{Code, CompileError, EvalError, edit_distance, nearest};
pub use eval::{Ctx, Host, NoHost, compare};
pub use json::JsonError;
pub use jsonpath::Query;
pub use parse::parse;
pub use projection::{Projection, Read, ReadRoot};
pub use value::{Kind, Map, Number, Str, Value, intern};

/// Re-exported so embedders can build numbers and timestamps.
pub use jiff;
/// Re-exported so embedders can build numbers.
pub use rust_decimal::Decimal;
