//! Built without the `contracts` feature: there is no JSON Schema
//! validator, and a mapping with `contract:` gets a located diagnostic
//! saying so instead of loading without its contract.

use std::path::{Path, PathBuf};

use mapwright_dsl::Value;

use crate::FieldError;
use crate::diagnostic::{Diagnostic, SourceFile, SpecCode};
use crate::spec::Located;

/// Never made: [`Contract::compile`] always refuses.
#[derive(Debug)]
pub(crate) struct Contract {
    /// The schema file.
    pub path: PathBuf,
}

impl Contract {
    /// Refuses `contract:` with a located diagnostic.
    pub(crate) fn compile(
        c: &Located<String>,
        _base: &Path,
        file: &SourceFile,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Contract> {
        diags.push(
            Diagnostic::spec(file, SpecCode::NotSupported, c.loc, "this build of mapwright checks no contracts")
                .with_hint(
                    "build mapwright-engine with its `contracts` feature (on by default), or remove `contract:`",
                ),
        );
        None
    }

    /// Never called: no contract is ever compiled.
    pub(crate) fn check(&self, _out: &Value) -> Vec<FieldError> {
        Vec::new()
    }
}
