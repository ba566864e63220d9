//! mapwright's engine: mapping files, their compilation and execution,
//! validation, diagnostics, and record input/output.
//!
//! The public surface is small: load a [`Mapping`], [`Mapping::apply`] it
//! to records, get an [`Outcome`]. Problems in a mapping file come back as
//! an [`Error::Spec`] holding located [`Diagnostic`]s.
//!
//! ```
//! use mapwright_engine::{Mapping, Outcome, Value};
//!
//! let mapping = Mapping::from_yaml("mapping: m\nfields:\n  sku: $.sku | upper\n", "m.yaml")?;
//! let record = Value::from_json(r#"{"sku": "ab-1"}"#).unwrap();
//! assert_eq!(mapping.apply_value(&record), Outcome::Mapped(Value::from_json(r#"{"sku":"AB-1"}"#).unwrap()));
//! # Ok::<(), mapwright_engine::Error>(())
//! ```
#![deny(missing_docs)]

mod diagnostic;
mod hooks;
pub mod input;
mod mapping;
pub mod output;
pub mod spec;
mod truth;
mod validate;

use std::path::PathBuf;

pub use diagnostic::{Diagnostic, Diagnostics, SourceFile, SpecCode};
pub use hooks::Limits;
pub use mapping::{Dictionary, FieldError, FieldInfo, Lineage, Mapping, Outcome, REPLICA_MAX_LOOKUP_ROWS, Record};
pub use mapwright_dsl::Value;
pub use truth::{Drift, JoinError, Joiner};
pub use validate::Severity;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A spec file has problems; every one is listed.
    #[error("{0}")]
    Spec(Diagnostics),
    /// A file could not be read or written.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The command line or an argument is invalid.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Renders the error for a terminal: diagnostics with source lines and
    /// carets, other errors as one line.
    pub fn render(&self, color: bool) -> String {
        match self {
            Error::Spec(d) => d.render(color),
            other => format!("error: {other}\n"),
        }
    }

    /// The diagnostics, when this is a spec error.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Spec(d) => &d.0,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod thread_safety {
    fn send_sync<T: Send + Sync>() {}

    #[test]
    fn a_mapping_can_be_shared_between_threads() {
        send_sync::<crate::Mapping>();
    }
}
