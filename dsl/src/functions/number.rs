//! Number functions. All arithmetic is exact decimal (28 significant
//! digits); rounding modes are named, never implied by float conversion.

use std::cmp::Ordering;

use rust_decimal::{Decimal, RoundingStrategy};

use super::{Args, Builtin, FnError, Group, Imp, Nulls, num};
use crate::value::{Number, Value};

const fn number(
    name: &'static str,
    params: &'static str,
    min_args: usize,
    max_args: usize,
    doc: &'static str,
    examples: &'static [(&'static str, &'static str)],
    f: fn(&Args) -> Result<Value, FnError>,
) -> Builtin {
    Builtin {
        name,
        group: Group::Number,
        params,
        min_args,
        max_args,
        doc,
        examples,
        imp: Imp::Plain(f),
        nulls: Nulls::Propagate,
        regex_arg: None,
    }
}

/// Parses text as an exact number: optional sign, digits, optional
/// fraction and exponent, surrounding whitespace allowed.
pub(crate) fn parse_number_text(text: &str) -> Option<Number> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let body = t.strip_prefix('-').unwrap_or(t);
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let ok_int = digits(int) || (int.is_empty() && frac.is_some_and(digits));
    let ok_frac = frac.is_none_or(|f| f.is_empty() && !int.is_empty() || digits(f));
    let ok_exp = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !(ok_int && ok_frac && ok_exp) {
        return None;
    }
    if !int.is_empty() && !t.ends_with('.') {
        // Already JSON number text (the common case): no copy.
        return Some(Number::from_json_text(t));
    }
    let normalized = if int.is_empty() { format!("0{t}") } else { t.to_string() };
    let normalized = normalized.replace("-.", "-0.");
    let normalized = normalized.strip_suffix('.').map(str::to_string).unwrap_or(normalized);
    Some(Number::from_json_text(&normalized))
}

pub(crate) fn to_number(v: &Value) -> Result<Value, FnError> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        Value::String(s) => parse_number_text(s).map(Value::Number).ok_or_else(|| {
            FnError { message: format!("cannot read {} as a number", v.describe()), value: Some(v.clone()) }
                .with_hint("wrap it in try(number(x), fallback) if the field may hold other text")
        }),
        other => Err(FnError::expected("a number or numeric text", other, 0)),
    }
}

pub const NUMBER: Builtin = number(
    "number",
    "x",
    1,
    1,
    "Reads a number from numeric text (`\"19.99\"`, ` 1e3 `) exactly; numbers pass through.",
    &[
        ("number(\"19.99\") * 3", "59.97"),
        (
            "number(\"abc\")",
            "error: number: cannot read string \"abc\" as a number; wrap it in try(number(x), fallback) if the field may hold other text",
        ),
    ],
    |a| to_number(a.get(0)),
);

pub const INTEGER: Builtin = number(
    "integer",
    "x",
    1,
    1,
    "The whole-number part of a number or numeric text, toward zero (use round() to round).",
    &[("integer(\"12.7\")", "12"), ("integer(-2.5)", "-2")],
    |a| {
        let Value::Number(n) = to_number(a.get(0))? else {
            return Ok(Value::Null);
        };
        Ok(num(n.to_decimal().map_err(FnError::msg)?.trunc()))
    },
);

fn strategy(mode: &str) -> Option<RoundingStrategy> {
    Some(match mode {
        "half_away_from_zero" | "half_up" => RoundingStrategy::MidpointAwayFromZero,
        "half_even" | "bankers" => RoundingStrategy::MidpointNearestEven,
        "half_toward_zero" | "half_down" => RoundingStrategy::MidpointTowardZero,
        "up" | "away_from_zero" => RoundingStrategy::AwayFromZero,
        "down" | "toward_zero" | "truncate" => RoundingStrategy::ToZero,
        "ceiling" => RoundingStrategy::ToPositiveInfinity,
        "floor" => RoundingStrategy::ToNegativeInfinity,
        _ => return None,
    })
}

/// A load-time check of a literal rounding mode.
pub(crate) fn check_mode(mode: &str) -> Option<(String, String)> {
    if strategy(mode).is_some() {
        return None;
    }
    const NAMES: &[&str] = &[
        "half_away_from_zero",
        "half_up",
        "half_even",
        "bankers",
        "half_toward_zero",
        "half_down",
        "up",
        "down",
        "truncate",
        "ceiling",
        "floor",
    ];
    let hint = match crate::error::nearest(mode, NAMES.iter().copied()) {
        Some(n) => format!("did you mean \"{n}\"?"),
        None => format!("use one of: {ROUNDING_MODES}"),
    };
    Some((format!("unknown rounding mode \"{mode}\""), hint))
}

/// The rounding modes `round` accepts, for docs and messages.
pub const ROUNDING_MODES: &str = "half_away_from_zero (default; alias half_up), half_even (bankers), half_toward_zero (half_down), up, down (truncate), ceiling, floor";

pub(crate) fn round_decimal(d: Decimal, places: i64, mode: RoundingStrategy) -> Result<Decimal, FnError> {
    if places >= 0 {
        let dp = u32::try_from(places.min(28)).unwrap_or(28);
        return Ok(d.round_dp_with_strategy(dp, mode));
    }
    let k = places.unsigned_abs().min(28) as u32;
    let factor = Decimal::from_i128_with_scale(10i128.pow(k), 0);
    let scaled = d / factor;
    scaled
        .round_dp_with_strategy(0, mode)
        .checked_mul(factor)
        .ok_or_else(|| FnError::msg("number overflow while rounding"))
}

pub const ROUND: Builtin = number(
    "round",
    "x, places?, mode?",
    1,
    3,
    "Rounds to `places` decimals (default 0; negative rounds to tens, hundreds…). Mode: half_away_from_zero (default), half_even, half_toward_zero, up, down, ceiling, floor.",
    &[("round(2.345, 2)", "2.35"), ("round(2.345, 2, \"half_even\")", "2.34"), ("round(1250, -2)", "1300")],
    |a| {
        let d = a.dec(0)?;
        let places = if a.has(1) && !a.get(1).is_null() { a.int(1)? } else { 0 };
        let mode = match a.get(2) {
            Value::Null => RoundingStrategy::MidpointAwayFromZero,
            Value::String(m) => strategy(m)
                .ok_or_else(|| FnError::msg(format!("unknown rounding mode \"{m}\"; use one of: {ROUNDING_MODES}")))?,
            other => return Err(FnError::expected("a rounding mode name", other, 2)),
        };
        Ok(num(round_decimal(d, places, mode)?))
    },
);

pub const FLOOR: Builtin =
    number("floor", "x", 1, 1, "The largest whole number not above `x`.", &[("floor(-2.5)", "-3")], |a| {
        Ok(num(a.dec(0)?.floor()))
    });

pub const CEIL: Builtin =
    number("ceil", "x", 1, 1, "The smallest whole number not below `x`.", &[("ceil(2.01)", "3")], |a| {
        Ok(num(a.dec(0)?.ceil()))
    });

pub const ABS: Builtin =
    number("abs", "x", 1, 1, "The absolute value.", &[("abs($.neg)", "2.5")], |a| Ok(num(a.dec(0)?.abs())));

/// The values of `min`/`max`/`sum`/`avg`: the arguments, or the elements of
/// a single list argument; nulls skipped.
fn operands<'a>(a: &'a Args) -> Vec<&'a Value> {
    let all: Vec<&Value> = match a.values {
        [Value::Array(items)] => items.iter().collect(),
        vals => vals.iter().collect(),
    };
    all.into_iter().filter(|v| !v.is_null()).collect()
}

fn extreme(a: &Args, want: Ordering) -> Result<Value, FnError> {
    let mut best: Option<&Value> = None;
    for v in operands(a) {
        if !matches!(v, Value::Number(_) | Value::String(_) | Value::Timestamp(_)) {
            return Err(FnError::msg(format!("cannot compare {}", v.describe())));
        }
        best = Some(match best {
            None => v,
            Some(b) => match crate::eval::compare(v, b) {
                Some(o) if o == want => v,
                Some(_) => b,
                None => return Err(FnError::msg(format!("cannot compare {} with {}", v.describe(), b.describe()))),
            },
        });
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

pub const MIN: Builtin = Builtin {
    nulls: Nulls::Accept,
    ..number(
        "min",
        "x...",
        1,
        usize::MAX,
        "The smallest of the arguments or of one list (numbers, texts or timestamps; nulls skipped).",
        &[("min(3, 1.5, 2)", "1.5"), ("min($.list)", "1")],
        |a| extreme(a, Ordering::Less),
    )
};

pub const MAX: Builtin = Builtin {
    nulls: Nulls::Accept,
    ..number(
        "max",
        "x...",
        1,
        usize::MAX,
        "The largest of the arguments or of one list (numbers, texts or timestamps; nulls skipped).",
        &[("max(3, 1.5, 2)", "3"), ("max([])", "null")],
        |a| extreme(a, Ordering::Greater),
    )
};

fn total(items: &[Value]) -> Result<(Decimal, usize), FnError> {
    let mut sum = Decimal::ZERO;
    let mut n = 0;
    for v in items {
        match v {
            Value::Null => continue,
            Value::Number(x) => {
                sum = sum
                    .checked_add(x.to_decimal().map_err(FnError::msg)?)
                    .ok_or_else(|| FnError::msg("number overflow in sum"))?;
                n += 1;
            }
            other => {
                return Err(FnError {
                    message: format!("needs numbers, got {}", other.describe()),
                    value: Some(other.clone()),
                }
                .with_hint("convert with map(list, number(it))"));
            }
        }
    }
    Ok((sum, n))
}

pub const SUM: Builtin = number(
    "sum",
    "list",
    1,
    1,
    "The exact sum of a list of numbers (nulls skipped; 0 for an empty list).",
    &[("sum([19.99, 0.01, null])", "20"), ("sum([0.1, 0.2])", "0.3")],
    |a| Ok(num(total(a.list(0)?)?.0)),
);

pub const AVG: Builtin = number(
    "avg",
    "list",
    1,
    1,
    "The mean of a list of numbers (nulls skipped; null for an empty list).",
    &[("avg([1, 2, 4])", "2.3333333333333333333333333333")],
    |a| {
        let (sum, n) = total(a.list(0)?)?;
        if n == 0 {
            return Ok(Value::Null);
        }
        Ok(num(sum / Decimal::from(n)))
    },
);

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn number_functions() {
        insta::assert_snapshot!(table(&[
            "number(\" 42 \")",
            "number(\"-0.50\")",
            "number(\"1e3\")",
            "number(\".5\")",
            "number(\"5.\")",
            "number(\"1,234.50\")",
            "number(\"\")",
            "number(true)",
            "number(null)",
            "number(\"123456789012345678901234567890123\")",
            "integer(\"abc\")",
            "integer(99999999999999999999.9)",
            "round(2.5)",
            "round(-2.5)",
            "round(2.5, 0, \"half_even\")",
            "round(3.5, 0, \"half_even\")",
            "round(2.5, 0, \"half_toward_zero\")",
            "round(2.1, 0, \"up\")",
            "round(2.9, 0, \"down\")",
            "round(-2.1, 0, \"ceiling\")",
            "round(-2.1, 0, \"floor\")",
            "round(1.005, 2)",
            "round(2.5, 0, \"sideways\")",
            "round(\"2.5\")",
            "round(12345.678, -3)",
            "round(1, 40)",
            "floor(\"x\")",
            "ceil(-0.5)",
            "abs(-0)",
            "min()",
            "min(1, \"a\")",
            "min(\"b\", \"a\")",
            "max(null, 2, null)",
            "sum([])",
            "sum([\"1\"])",
            "sum(5)",
            "sum([79228162514264337593543950335, 1])",
            "avg([])",
            "avg([1, null, 2])",
            "19.99 * 3",
            "0.1 + 0.2 == 0.3",
            "1 / 3",
            "2 / 3 * 3",
            "10 % 3",
            "1 / 0",
            "12345678901234567890 + 1",
            "79228162514264337593543950335 * 2",
        ]));
    }
}
