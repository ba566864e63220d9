//! Time functions. Timestamps are instants (jiff `Timestamp`); time zones
//! are IANA names from the tz database bundled into the binary, so a
//! mapping gives the same answer on any machine.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

use super::{Args, Builtin, FnError, Group, Imp, Nulls, Special, string};
use crate::value::Value;

const fn time(
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
        group: Group::Time,
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

pub(crate) fn zone(name: &str) -> Result<TimeZone, FnError> {
    TimeZone::get(name).map_err(|_| {
        FnError::msg(format!(
            "unknown time zone \"{name}\"; use an IANA name such as \"America/New_York\", \"Europe/Berlin\" or \"UTC\""
        ))
    })
}

/// A load-time check of a literal time zone name.
pub(crate) fn check_zone(name: &str) -> Option<(String, String)> {
    if TimeZone::get(name).is_ok() {
        return None;
    }
    let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    let hint = match crate::error::nearest(name, names.iter().map(String::as_str)) {
        Some(n) => format!("did you mean \"{n}\"?"),
        None => "use an IANA name such as \"America/New_York\", \"Europe/Berlin\" or \"UTC\"".to_string(),
    };
    Some((format!("unknown time zone \"{name}\""), hint))
}

/// A load-time check of a literal strftime format.
pub(crate) fn check_format(format: &str) -> Option<(String, String)> {
    let probe = Timestamp::UNIX_EPOCH.to_zoned_datetime(TimeZone::UTC);
    match jiff::fmt::strtime::format(format.as_bytes(), &probe) {
        Ok(_) => None,
        Err(e) => Some((
            format!("invalid time format \"{format}\": {e}"),
            "use strftime directives such as %Y-%m-%d %H:%M:%S".into(),
        )),
    }
}

/// Parses text as an instant: RFC 3339 with an offset or `Z`, a date alone
/// (midnight UTC), or a local date-time (`T` or space separated) read in `tz`.
pub(crate) fn parse_instant(text: &str, tz: Option<&TimeZone>) -> Result<Timestamp, FnError> {
    let t = text.trim();
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    if let Ok(d) = t.parse::<Date>() {
        if t.len() == 10 {
            let tz = tz.cloned().unwrap_or(TimeZone::UTC);
            return d
                .to_datetime(jiff::civil::Time::midnight())
                .to_zoned_datetime(tz)
                .map(|z| z.timestamp())
                .map_err(|e| FnError::msg(e.to_string()));
        }
    }
    if let Ok(dt) = t.parse::<DateTime>() {
        return match tz {
            Some(tz) => dt
                .to_zoned_datetime(tz.clone())
                .map(|z| z.timestamp())
                .map_err(|e| FnError::msg(e.to_string())),
            None => Err(FnError::msg(format!(
                "\"{t}\" has no UTC offset, so it is not an instant"
            ))
            .with_hint("pass its time zone: timestamp(x, null, \"Europe/Berlin\"), or read a field that has an offset (such as a *_gmt field with \"UTC\")")),
        };
    }
    Err(FnError {
        message: format!("cannot read \"{t}\" as a timestamp"),
        value: Some(Value::str(t)),
    }
    .with_hint("expected RFC 3339 like 2026-03-01T10:15:00Z or 2026-03-01T10:15:00-05:00, or a date like 2026-03-01; give a format for other layouts"))
}

/// Reads a value as an instant the way `timestamp(x)` does: timestamps
/// pass, text is RFC 3339 (or a date), numbers are epoch seconds; `null`
/// gives `None`.
pub fn instant_of(v: &Value) -> Result<Option<Timestamp>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Timestamp(t) => Ok(Some(*t)),
        Value::String(s) => parse_instant(s, None).map(Some).map_err(|e| e.message),
        Value::Number(n) => from_epoch_seconds(n.to_decimal()?).map(Some).map_err(|e| e.message),
        other => Err(format!("cannot read {} as a timestamp", other.describe())),
    }
}

fn from_epoch_seconds(d: Decimal) -> Result<Timestamp, FnError> {
    let nanos = d
        .checked_mul(Decimal::from(1_000_000_000u32))
        .and_then(|n| i128::try_from(n.trunc()).ok())
        .ok_or_else(|| FnError::msg(format!("{d} seconds is outside the timestamp range")))?;
    Timestamp::from_nanosecond(nanos).map_err(|_| FnError::msg(format!("{d} seconds is outside the timestamp range")))
}

pub const TIMESTAMP: Builtin = Builtin {
    nulls: Nulls::Accept,
    ..time(
        "timestamp",
        "x, format?, tz?",
        1,
        3,
        "Reads an instant: RFC 3339 text with an offset or Z, a date (midnight UTC), epoch seconds, or text in a strftime `format`; `tz` names the zone of text without an offset.",
        &[
            ("timestamp(\"2026-03-01T10:15:00-05:00\")", "\"2026-03-01T15:15:00Z\""),
            ("timestamp(\"2026-03-01\")", "\"2026-03-01T00:00:00Z\""),
            ("timestamp(\"2026-03-01 10:15:00\", null, \"America/New_York\")", "\"2026-03-01T15:15:00Z\""),
            ("timestamp(\"01/03/2026 10:15\", \"%d/%m/%Y %H:%M\", \"Europe/London\")", "\"2026-03-01T10:15:00Z\""),
        ],
        |a| {
            let tz = match a.get(2) {
                Value::Null => None,
                Value::String(name) => Some(zone(name)?),
                other => return Err(FnError::expected("a time zone name", other, 2)),
            };
            match (a.get(0), a.get(1)) {
                (Value::Null, _) => Ok(Value::Null),
                (Value::Timestamp(t), _) => Ok(Value::Timestamp(*t)),
                (Value::Number(n), Value::Null) => {
                    Ok(Value::Timestamp(from_epoch_seconds(n.to_decimal().map_err(FnError::msg)?)?))
                }
                (Value::String(s), Value::Null) => Ok(Value::Timestamp(parse_instant(s, tz.as_ref())?)),
                (Value::String(s), Value::String(fmt)) => {
                    let tm = jiff::fmt::strtime::parse(fmt.as_bytes(), s.as_bytes())
                        .map_err(|e| FnError::msg(format!("\"{s}\" does not match the format \"{fmt}\": {e}")))?;
                    if tm.offset().is_some() {
                        return tm.to_timestamp().map(Value::Timestamp).map_err(|e| FnError::msg(e.to_string()));
                    }
                    let dt = match tm.to_datetime() {
                        Ok(dt) => dt,
                        Err(_) => tm
                            .to_date()
                            .map_err(|e| FnError::msg(format!("\"{s}\" with format \"{fmt}\": {e}")))?
                            .to_datetime(jiff::civil::Time::midnight()),
                    };
                    let tz = tz.unwrap_or(TimeZone::UTC);
                    dt.to_zoned_datetime(tz)
                        .map(|z| Value::Timestamp(z.timestamp()))
                        .map_err(|e| FnError::msg(e.to_string()))
                }
                (v, Value::Null) => Err(FnError::expected("text, a number of seconds or a timestamp", v, 0)),
                (_, other) => Err(FnError::expected("a strftime format text", other, 1)),
            }
        },
    )
};

pub const NOW: Builtin = Builtin {
    imp: Imp::Special(Special::Now),
    ..time(
        "now",
        "",
        0,
        0,
        "The current instant, fixed for the whole record (so every field sees the same time).",
        &[("type_of(now())", "\"timestamp\"")],
        |_| Ok(Value::Null),
    )
};

fn zoned(a: &Args, ts_arg: usize, tz_arg: usize) -> Result<jiff::ZonedDateTime, FnError> {
    let ts = a.ts(ts_arg)?;
    let tz = if a.has(tz_arg) { zone(a.str(tz_arg)?)? } else { TimeZone::UTC };
    Ok(ts.to_zoned_datetime(tz))
}

pub const FORMAT_TIME: Builtin = time(
    "format_time",
    "ts, format, tz?",
    2,
    3,
    "Writes a timestamp with a strftime `format` (%Y-%m-%d %H:%M:%S, %z, %Z…), in UTC or the zone `tz`.",
    &[
        ("format_time(timestamp($.t), \"%Y-%m-%d %H:%M\")", "\"2026-03-01 15:15\""),
        ("format_time(timestamp($.t), \"%d.%m.%Y %H:%M %Z\", \"Europe/Berlin\")", "\"01.03.2026 16:15 CET\""),
    ],
    |a| {
        let z = zoned(a, 0, 2)?;
        let fmt = a.str(1)?;
        jiff::fmt::strtime::format(fmt.as_bytes(), &z)
            .map(string)
            .map_err(|e| FnError::msg(format!("invalid format \"{fmt}\": {e}")))
    },
);

pub const DATE: Builtin = time(
    "date",
    "ts",
    1,
    1,
    "The UTC calendar date of a timestamp, as \"YYYY-MM-DD\".",
    &[("date(timestamp(\"2026-03-01T22:30:00-05:00\"))", "\"2026-03-02\"")],
    |a| Ok(string(a.ts(0)?.to_zoned_datetime(TimeZone::UTC).date().to_string())),
);

fn add_seconds(a: &Args, unit: i64) -> Result<Value, FnError> {
    let ts = a.ts(0)?;
    let n = a.dec(1)?;
    let nanos = n
        .checked_mul(Decimal::from(unit))
        .and_then(|s| s.checked_mul(Decimal::from(1_000_000_000u32)))
        .and_then(|x| i128::try_from(x.trunc()).ok())
        .ok_or_else(|| FnError::msg("duration is too large"))?;
    let secs = i64::try_from(nanos / 1_000_000_000).map_err(|_| FnError::msg("duration is too large"))?;
    let sub = (nanos % 1_000_000_000) as i32;
    ts.checked_add(SignedDuration::new(secs, sub))
        .map(Value::Timestamp)
        .map_err(|_| FnError::msg("the result is outside the timestamp range"))
}

pub const ADD_DAYS: Builtin = time(
    "add_days",
    "ts, n",
    2,
    2,
    "The instant `n` days (of 24 hours) later; `n` may be negative or fractional.",
    &[("add_days(timestamp(\"2026-02-27\"), 2)", "\"2026-03-01T00:00:00Z\"")],
    |a| add_seconds(a, 86_400),
);

pub const ADD_HOURS: Builtin = time(
    "add_hours",
    "ts, n",
    2,
    2,
    "The instant `n` hours later; `n` may be negative or fractional.",
    &[("add_hours(timestamp($.t), -1.5)", "\"2026-03-01T13:45:00Z\"")],
    |a| add_seconds(a, 3_600),
);

pub const DAYS_BETWEEN: Builtin = time(
    "days_between",
    "a, b",
    2,
    2,
    "Whole days (24-hour periods) from `a` to `b`, negative when `b` is earlier.",
    &[("days_between(timestamp(\"2026-03-01\"), timestamp(\"2026-03-08T12:00:00Z\"))", "7")],
    |a| {
        let d = a.ts(1)?.duration_since(a.ts(0)?);
        Ok(Value::from(d.as_secs() / 86_400))
    },
);

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn time_functions() {
        insta::assert_snapshot!(table(&[
            "timestamp(\"2026-03-01T10:15:00Z\")",
            "timestamp(\"2026-03-01T10:15:00.120+01:00\")",
            "timestamp(\"2026-03-01T10:15:00\")",
            "timestamp(\"2026-03-01T10:15:00\", null, \"UTC\")",
            "timestamp(\"2026-03-08T02:30:00\", null, \"America/New_York\")",
            "timestamp(\"2026-11-01T01:30:00\", null, \"America/New_York\")",
            "timestamp(\"2026-07-01T12:00:00\", null, \"Mars/Olympus\")",
            "timestamp(\"yesterday\")",
            "timestamp(1767225600)",
            "timestamp(1767225600.5)",
            "timestamp(true)",
            "timestamp(\"\")",
            "timestamp(null)",
            "timestamp(\"20260301\", \"%Y%m%d\")",
            "timestamp(\"2026-03-01 10:15 +0530\", \"%Y-%m-%d %H:%M %z\")",
            "timestamp(\"x\", \"%Y\")",
            "timestamp(\"2026-03-01T10:15:00Z\") < timestamp(\"2026-03-01T10:15:01+00:00\")",
            "timestamp(\"2026-03-01T10:15:00-05:00\") == timestamp(\"2026-03-01T15:15:00Z\")",
            "format_time(timestamp(\"2026-07-01T12:00:00Z\"), \"%H:%M %Z\", \"America/New_York\")",
            "format_time(timestamp(\"2026-07-01T12:00:00Z\"), \"%Q\")",
            "format_time(\"2026-07-01\", \"%Y\")",
            "date(timestamp(\"2026-12-31T23:59:59.999Z\"))",
            "add_days(timestamp(\"2026-03-07T12:00:00Z\"), 1)",
            "add_days(timestamp(\"2026-03-07T12:00:00Z\"), 99999999999)",
            "add_hours(timestamp(\"2026-03-01T00:00:00Z\"), 0.001)",
            "days_between(timestamp(\"2026-03-08\"), timestamp(\"2026-03-01T01:00:00Z\"))",
            "days_between(timestamp(\"2026-03-01\"), \"2026-03-02\")",
        ]));
    }
}
