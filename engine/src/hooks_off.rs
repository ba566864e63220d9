//! Built without the `hooks` feature: there is no Rhai, and a mapping
//! with `hooks:` gets a located diagnostic saying so instead of loading
//! without its hooks.

use std::path::{Path, PathBuf};

use mapwright_dsl::Value;

use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};
use crate::spec::mapping::HooksSpec;

/// Never made: [`Hooks::compile`] always refuses. The fields mirror the
/// real hooks' so that the rest of the engine reads alike.
#[derive(Debug)]
pub(crate) struct Hooks {
    pub functions: Vec<(String, usize)>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub file: Option<PathBuf>,
    pub source: String,
}

const NONE: &str = "this build of mapwright has no hooks";

impl Hooks {
    /// Refuses `hooks:` with a located diagnostic.
    pub(crate) fn compile(
        spec: &HooksSpec,
        _base: &Path,
        file: &SourceFile,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Hooks> {
        diags.push(
            Diagnostic::spec(file, SpecCode::NotSupported, spec.loc, "this build of mapwright runs no Rhai hooks")
                .with_hint("build mapwright-engine with its `hooks` feature (on by default), or remove `hooks:`"),
        );
        None
    }

    /// Never called: no hooks are ever compiled.
    pub(crate) fn call(&self, _id: usize, _args: &[Value]) -> Result<Value, String> {
        Err(NONE.into())
    }

    /// Never called.
    pub(crate) fn before(&self, _record: &Value) -> Result<Option<Value>, String> {
        Err(NONE.into())
    }

    /// Never called.
    pub(crate) fn after(&self, _output: &Value, _input: &Value) -> Result<Value, String> {
        Err(NONE.into())
    }
}
