//! Control: catching a failure with a fallback, and failing on purpose.

use super::{Args, Builtin, FnError, Group, Imp, Nulls, Special};
use crate::value::Value;

pub const TRY: Builtin = Builtin {
    name: "try",
    group: Group::Control,
    params: "expr, fallback",
    min_args: 2,
    max_args: 2,
    doc: "The value of `expr`, or of `fallback` if `expr` fails (a type error, a bad number, error(…)).",
    examples: &[("try(number(\"n/a\"), 0)", "0"), ("try(upper(5), \"?\")", "\"?\"")],
    imp: Imp::Special(Special::Try),
    nulls: Nulls::Accept,
    regex_arg: None,
};

pub const ERROR: Builtin = Builtin {
    name: "error",
    group: Group::Control,
    params: "message",
    min_args: 1,
    max_args: 1,
    doc: "Fails the record with `message` (it goes to the dead letter).",
    examples: &[("if $.i > 2 then error(\"too many: \" + string($.i)) else $.i", "error: too many: 3")],
    imp: Imp::Plain(|a: &Args| -> Result<Value, FnError> {
        Err(FnError::msg(match a.get(0) {
            Value::String(s) => s.to_string(),
            other => other.to_json(),
        }))
    }),
    nulls: Nulls::Accept,
    regex_arg: None,
};

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn control_functions() {
        insta::assert_snapshot!(table(&[
            "try(1 / 0, \"div\")",
            "try(error(\"x\"), null)",
            "try(try(error(\"a\"), error(\"b\")), \"c\")",
            "error(null)",
            "error({code: 7})",
            "\"SO-\" + 5",
            "\"a\" * 2",
            "[1] + [2]",
            "{a: 1} + 1",
            "true < 1",
            "\"b\" > \"a\"",
        ]));
    }
}
