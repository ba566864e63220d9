//! JSON in and out, with exact numbers.
//!
//! Why not serde_json: its numbers are `f64` unless the `arbitrary_precision`
//! feature is on, and that feature changes serde_json's behaviour for every
//! crate in the build. Reading straight into [`Value`] keeps every digit
//! (`1.60`, ids above 2^53) without touching anyone else's serde_json, and
//! lets the reader skip work the mapping does not need. The grammar is RFC
//! 8259; nesting is limited to [`MAX_DEPTH`] so hostile input cannot
//! overflow the stack.
//!
//! The writer prints numbers in their shortest exact form (`59.97`, `5`,
//! never `19.00` or `59.970000000000006`) and timestamps as RFC 3339 UTC.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::projection::{PNode, Projection};
use crate::value::{Map, Number, Str, Value};

/// Deepest nesting of arrays and objects the reader accepts.
pub const MAX_DEPTH: usize = 256;

/// A JSON syntax error with its place.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line}, column {column}")]
pub struct JsonError {
    /// What is wrong.
    pub message: String,
    /// Byte offset into the text.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
}

/// Parses one JSON document.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { src: text.as_bytes(), text, pos: 0, depth: 0 };
    p.skip_ws();
    let v = p.value()?;
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

/// Parses one JSON document, building only the parts `projection` keeps
/// and skipping the rest (whose syntax is still checked): the result reads
/// the same as the full document along every projected path.
pub fn parse_projected(text: &str, projection: &Projection) -> Result<Value, JsonError> {
    let mut p = Parser { src: text.as_bytes(), text, pos: 0, depth: 0 };
    p.skip_ws();
    let v = p.projected(&projection.root)?;
    p.skip_ws();
    if p.pos < p.src.len() {
        return Err(p.error("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

/// The index of the first byte at or after `i` that ends the plain run of a
/// JSON string: a quote, a backslash or a control character (`src.len()`
/// when there is none). Eight bytes at a time (SWAR): strings in commerce
/// records are short, where this beats a vectorised search's set-up.
#[inline]
fn plain_run_end(src: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = src.get(i..i + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let x = u64::from_le_bytes(bytes);
        let quote = x ^ (LO * u64::from(b'"'));
        let slash = x ^ (LO * u64::from(b'\\'));
        // The lowest flagged byte of each term is exact (false positives
        // only follow a true one), so the lowest of all is the answer.
        let hits =
            ((quote.wrapping_sub(LO) & !quote) | (slash.wrapping_sub(LO) & !slash) | (x.wrapping_sub(LO * 0x20) & !x))
                & HI;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = src.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// The projection entry for an object key. Keys rarely share both length
/// and first byte, so most misses cost two byte compares, not a `memcmp`.
#[inline]
fn find_key<'p>(keys: &'p [(Str, PNode)], raw: &[u8]) -> Option<&'p (Str, PNode)> {
    let first = raw.first().copied();
    keys.iter().find(|(k, _)| k.len() == raw.len() && k.as_bytes().first().copied() == first && k.as_bytes() == raw)
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> JsonError {
        let offset = self.pos.min(self.src.len());
        let before = &self.text[..floor_char_boundary(self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        JsonError { message: message.to_string(), offset, line, column }
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\t' || b == b'\r' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input, expected a value")),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn projected(&mut self, node: &PNode) -> Result<Value, JsonError> {
        let PNode::Keys(keys) = node else {
            return self.value();
        };
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                let mut map = Map::with_capacity(keys.len());
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::object(map));
                }
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a string key"));
                    }
                    let key = self.key_raw()?;
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected ':' after the key"));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    let wanted = match &key {
                        Ok(raw) => find_key(keys, raw.as_bytes()),
                        Err(decoded) => find_key(keys, decoded.as_bytes()),
                    };
                    match wanted {
                        Some((k, child)) => {
                            let v = self.projected(child)?;
                            map.insert_interned(k, v);
                        }
                        None => self.skip_value()?,
                    }
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.error("expected ',' or '}' in object")),
                    }
                }
                self.depth -= 1;
                Ok(Value::object(map))
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(Value::array(items));
                }
                loop {
                    self.skip_ws();
                    items.push(self.projected(node)?);
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.error("expected ',' or ']' in array")),
                    }
                }
                self.depth -= 1;
                Ok(Value::Array(Arc::new(items)))
            }
            _ => self.value(),
        }
    }

    /// A key as a slice of the input when it has no escapes (`Ok`), else
    /// decoded (`Err`), without allocating in the common case.
    fn key_raw(&mut self) -> Result<Result<&'a str, Str>, JsonError> {
        let start = self.pos + 1;
        let end = plain_run_end(self.src, start);
        if self.src.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(Ok(&self.text[start..end]));
        }
        self.string().map(Err)
    }

    /// Skips one value, checking its syntax, without building it.
    fn skip_value(&mut self) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a string key"));
                    }
                    self.skip_string()?;
                    self.skip_ws();
                    if self.peek() != Some(b':') {
                        return Err(self.error("expected ':' after the key"));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    self.skip_value()?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.error("expected ',' or '}' in object")),
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    self.skip_value()?;
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(self.error("expected ',' or ']' in array")),
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'"') => self.skip_string(),
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            _ => self.value().map(|_| ()),
        }
    }

    fn skip_string(&mut self) -> Result<(), JsonError> {
        self.pos += 1;
        loop {
            self.pos = plain_run_end(self.src, self.pos);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {}
                Some(_) => return Err(self.error("control character in string")),
            }
            self.pos += 1;
            match self.peek() {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 1,
                Some(b'u') => {
                    self.pos += 1;
                    self.unicode_escape()?;
                }
                _ => return Err(self.error("invalid escape in string")),
            }
        }
    }

    fn skip_number(&mut self) -> Result<(), JsonError> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: digits expected after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: digits expected in exponent"));
            }
            self.digits();
        }
        Ok(())
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, JsonError> {
        if self.src[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn enter(&mut self) -> Result<(), JsonError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after the key"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value()?;
            map.insert(key, v);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.error("expected ',' or '}' in object")),
            }
        }
        self.depth -= 1;
        Ok(Value::object(map))
    }

    fn array(&mut self) -> Result<Value, JsonError> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.error("expected ',' or ']' in array")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(Arc::new(items)))
    }

    fn string(&mut self) -> Result<Str, JsonError> {
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: no escapes.
        let end = plain_run_end(self.src, start);
        if self.src.get(end) == Some(&b'"') {
            self.pos = end + 1;
            // The input is a &str, and quotes are ASCII, so the slice is UTF-8.
            return Ok(Str::from(&self.text[start..end]));
        }
        let mut out = String::new();
        loop {
            let end = plain_run_end(self.src, self.pos);
            out.push_str(&self.text[self.pos..end]);
            self.pos = end;
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Str::from(out));
                }
                Some(b'\\') => {}
                Some(_) => return Err(self.error("control character in string")),
            }
            self.pos += 1; // backslash
            let Some(esc) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            self.pos += 1;
            match esc {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let c = self.unicode_escape()?;
                    out.push(c);
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.error("invalid escape in string"));
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(digits) = self.src.get(self.pos..self.pos + 4) else {
            return Err(self.error("incomplete \\u escape"));
        };
        let mut n = 0u32;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or_else(|| self.error("invalid \\u escape"))?;
            n = n * 16 + v;
        }
        self.pos += 4;
        Ok(n)
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            if self.src.get(self.pos..self.pos + 2) == Some(b"\\u") {
                self.pos += 2;
                let second = self.hex4()?;
                if (0xDC00..0xE000).contains(&second) {
                    let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    return char::from_u32(c).ok_or_else(|| self.error("invalid surrogate pair"));
                }
            }
            return Err(self.error("unpaired surrogate in \\u escape"));
        }
        if (0xDC00..0xE000).contains(&first) {
            return Err(self.error("unpaired surrogate in \\u escape"));
        }
        char::from_u32(first).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: digits expected after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("invalid number: digits expected in exponent"));
            }
            self.digits();
        }
        Ok(Value::Number(Number::from_json_text(&self.text[start..self.pos])))
    }

    #[inline]
    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Compact JSON of a value.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Indented JSON of a value (two spaces, one key per line).
pub fn to_string_pretty(v: &Value) -> String {
    let mut out = String::new();
    write_pretty(&mut out, v, 0);
    out
}

/// Appends the compact JSON of `v` to `out`.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Timestamp(t) => {
            out.push('"');
            write_timestamp(out, t);
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

fn write_pretty(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                push_indent(out, indent + 1);
                write_pretty(out, item, indent + 1);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(out, indent);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in map.iter().enumerate() {
                push_indent(out, indent + 1);
                write_string(out, k);
                out.push_str(": ");
                write_pretty(out, v, indent + 1);
                if i + 1 < map.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            push_indent(out, indent);
            out.push('}');
        }
        _ => write_value(out, v),
    }
}

fn push_indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push_str("  ");
    }
}

/// Appends a number in its shortest exact form.
pub fn write_number(out: &mut String, n: &Number) {
    match n {
        Number::Dec(d) => write_decimal(out, d),
        Number::Big(text) => out.push_str(text),
    }
}

/// Appends a decimal in its shortest exact form (`1.50` → `1.5`, `0` for
/// any zero), without `fmt` machinery: the mantissa's digits with the
/// point put in by the scale. The same text as `Display` of the normalised
/// decimal (a test compares them).
fn push_digits(out: &mut String, digits: &[u8]) {
    out.extend(digits.iter().map(|&b| char::from(b)));
}

fn write_decimal(out: &mut String, d: &rust_decimal::Decimal) {
    let mantissa = d.mantissa();
    if mantissa == 0 {
        out.push('0');
        return;
    }
    if mantissa < 0 {
        out.push('-');
    }
    // Trailing zeros of the fraction go (`1.50` → `1.5`), in u64
    // arithmetic when the mantissa fits (almost always), which is much
    // cheaper than `Decimal::normalize`.
    let mut u = mantissa.unsigned_abs();
    let mut scale = d.scale();
    let mut small = match u64::try_from(u) {
        Ok(mut s) => {
            while scale > 0 && s % 10 == 0 {
                s /= 10;
                scale -= 1;
            }
            u = 0;
            s
        }
        Err(_) => {
            while scale > 0 && u % 10 == 0 {
                u /= 10;
                scale -= 1;
            }
            0
        }
    };
    // 96-bit mantissas have at most 29 digits.
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    while u > u64::MAX as u128 {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
    }
    if u > 0 {
        small = u as u64;
    }
    while small > 0 {
        i -= 1;
        buf[i] = b'0' + (small % 10) as u8;
        small /= 10;
    }
    let digits = &buf[i..];
    let scale = scale as usize;
    if scale == 0 {
        push_digits(out, digits);
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        push_digits(out, int);
        out.push('.');
        push_digits(out, frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', scale - digits.len()));
        push_digits(out, digits);
    }
}

/// Appends an RFC 3339 UTC timestamp (`Z`, fraction only when non-zero).
pub fn write_timestamp(out: &mut String, t: &jiff::Timestamp) {
    let _ = write!(out, "{t}");
}

pub(crate) fn format_timestamp_string(v: &Value) -> String {
    let mut s = String::new();
    if let Value::Timestamp(t) = v {
        write_timestamp(&mut s, t);
    }
    s
}

/// Appends a JSON string literal with the necessary escapes (control
/// characters, `"` and `\`; the same bytes that end a plain run when
/// reading).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    loop {
        let i = plain_run_end(bytes, start);
        out.push_str(&s[start..i]);
        let Some(&b) = bytes.get(i) else { break };
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push('"');
}

/// JSON text laid out as [`to_string_pretty`] lays out a value, changing
/// nothing but whitespace and string escapes: numbers keep their spelling
/// (`12.50` stays `12.50`, where a value would write `12.5`), keys their
/// order. For comparing an expected file with an output where the
/// spelling of numbers matters; text that is not JSON is an error.
///
/// ```
/// use mapwright_dsl::json::pretty_as_written;
///
/// assert_eq!(pretty_as_written(r#"{"price": 12.50, "tags": ["a"]}"#)?, "{\n  \"price\": 12.50,\n  \"tags\": [\n    \"a\"\n  ]\n}");
/// assert!(pretty_as_written("{oops").is_err());
/// # Ok::<(), mapwright_dsl::JsonError>(())
/// ```
pub fn pretty_as_written(text: &str) -> Result<String, JsonError> {
    parse(text)?;
    let mut r = Reindent { text, pos: 0, out: String::with_capacity(text.len()) };
    r.value(0);
    Ok(r.out)
}

struct Reindent<'t> {
    text: &'t str,
    pos: usize,
    out: String,
}

impl Reindent<'_> {
    fn skip_ws(&mut self) {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && matches!(bytes[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> u8 {
        self.text.as_bytes().get(self.pos).copied().unwrap_or(0)
    }

    fn push_indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn value(&mut self, depth: usize) {
        self.skip_ws();
        match self.peek() {
            b'{' => self.container(depth, b'}', true),
            b'[' => self.container(depth, b']', false),
            b'"' => self.string(),
            _ => {
                let start = self.pos;
                let bytes = self.text.as_bytes();
                while self.pos < bytes.len()
                    && !matches!(bytes[self.pos], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    self.pos += 1;
                }
                self.out.push_str(&self.text[start..self.pos]);
            }
        }
    }

    fn container(&mut self, depth: usize, close: u8, object: bool) {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == close {
            self.pos += 1;
            self.out.push_str(if object { "{}" } else { "[]" });
            return;
        }
        self.out.push_str(if object { "{\n" } else { "[\n" });
        loop {
            self.push_indent(depth + 1);
            if object {
                self.skip_ws();
                self.string();
                self.skip_ws();
                self.pos += 1; // the colon
                self.out.push_str(": ");
            }
            self.value(depth + 1);
            self.skip_ws();
            if self.peek() == b',' {
                self.pos += 1;
                self.out.push_str(",\n");
            } else {
                self.pos += 1; // the closing bracket
                self.out.push('\n');
                self.push_indent(depth);
                self.out.push(close as char);
                return;
            }
        }
    }

    /// A string token, decoded and written back with the writer's escapes.
    fn string(&mut self) {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        self.pos += 1;
        while self.pos < bytes.len() {
            match bytes[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        let token = &self.text[start..self.pos];
        match parse(token) {
            Ok(Value::String(s)) => write_string(&mut self.out, &s),
            _ => self.out.push_str(token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(text: &str) -> String {
        to_string(&parse(text).unwrap())
    }

    #[test]
    fn decimals_print_like_display_of_the_normalised_value() {
        use rust_decimal::Decimal;
        let cases = [
            "0",
            "-0",
            "0.000",
            "1",
            "-1",
            "1.50",
            "0.05",
            "-0.5",
            "123.456",
            "100",
            "1e-28",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7.9228162514264337593543950335",
            "18446744073709551616",
            "18446744073709551615.5",
            "12345678901234567890.123456789",
        ];
        for c in cases {
            let d = Decimal::from_scientific(c).or_else(|_| c.parse::<Decimal>()).unwrap();
            let mut out = String::new();
            write_decimal(&mut out, &d);
            let n = d.normalize();
            let expected = if n.is_zero() { "0".to_string() } else { n.to_string() };
            assert_eq!(out, expected, "{c}");
        }
        // And a sweep of mantissas and scales.
        for m in [1i128, 7, 10, 99, 1000, 123456789, -42, 10i128.pow(20) + 3, -(10i128.pow(27))] {
            for scale in 0..=28 {
                let Ok(d) = Decimal::try_from_i128_with_scale(m, scale) else { continue };
                let mut out = String::new();
                write_decimal(&mut out, &d);
                assert_eq!(out, d.normalize().to_string(), "{m} scale {scale}");
            }
        }
    }

    #[test]
    fn plain_runs_end_at_the_first_quote_backslash_or_control() {
        let naive = |src: &[u8], i: usize| {
            src[i..].iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map_or(src.len(), |n| i + n)
        };
        // Every special byte at every place of runs up to 24 bytes long,
        // over plain ASCII, multi-byte UTF-8 and bytes just around the
        // boundaries (0x1f/0x20, 0x21/0x23, 0x5b/0x5d, 0x7f/0x80, 0xff).
        let fillers: [&[u8]; 4] =
            [b"abcdefgh", "é€😀".as_bytes(), &[0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f], &[0x80, 0xff, 0xa2, 0xdc]];
        for filler in fillers {
            for len in 0..24 {
                let base: Vec<u8> = filler.iter().copied().cycle().take(len).collect();
                assert_eq!(plain_run_end(&base, 0), naive(&base, 0));
                for at in 0..len {
                    for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                        let mut v = base.clone();
                        v[at] = special;
                        for start in 0..=at {
                            assert_eq!(plain_run_end(&v, start), naive(&v, start), "{v:?} from {start}");
                        }
                        // A second special byte after the first never hides it.
                        if at + 1 < len {
                            v[at + 1] = 0x01;
                            assert_eq!(plain_run_end(&v, 0), naive(&v, 0), "{v:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strings_escape_what_json_needs() {
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c\n\t\u{1}\u{7f}é😀");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\t\\u0001\u{7f}é😀\"");
    }

    #[test]
    fn numbers_keep_exact_digits_and_print_shortest() {
        assert_eq!(round("12345678901234567890"), "12345678901234567890");
        assert_eq!(round("9007199254740993"), "9007199254740993");
        assert_eq!(round("1.60"), "1.6");
        assert_eq!(round("19.00"), "19");
        assert_eq!(round("-0.0"), "0");
        assert_eq!(round("1e3"), "1000");
        assert_eq!(round("1.5E-3"), "0.0015");
        assert_eq!(round("1e400"), "1e400");
        assert_eq!(round("3.14159265358979323846264338327950288"), "3.14159265358979323846264338327950288");
    }

    #[test]
    fn strings_escape_and_unescape() {
        assert_eq!(round(r#""a\"b\\c\n\u00e9\ud83d\ude00""#), "\"a\\\"b\\\\c\\né😀\"");
        assert_eq!(round("\"\\u0001\""), "\"\\u0001\"");
    }

    #[test]
    fn errors_have_places() {
        let e = parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        assert!(parse("[1,]").is_err());
        assert!(parse("01").is_err());
        assert!(parse("\"\\ud800\"").is_err());
        assert!(parse("{\"a\":1}x").is_err());
        assert!(parse(&"[".repeat(10_000)).is_err());
    }

    #[test]
    fn projection_builds_only_what_is_read_and_checks_the_rest() {
        use crate::projection::{Read, ReadRoot};
        let read = |keys: &[&str], whole| Read {
            root: ReadRoot::Input,
            keys: keys.iter().map(|k| Str::from(*k)).collect(),
            whole,
        };
        let proj = Projection::from_reads(
            &ReadRoot::Input,
            &[read(&["a", "b"], true), read(&["items"], false), read(&["items", "sku"], true)],
        )
        .unwrap();
        let text = r#"{"x": {"deep": [1, "two", null]}, "a": {"b": 1.50, "c": 2}, "items": [{"sku": "s1", "q": 1}, 7], "z": "\u00e9"}"#;
        let v = parse_projected(text, &proj).unwrap();
        assert_eq!(to_string(&v), r#"{"a":{"b":1.5},"items":[{"sku":"s1"},7]}"#);
        assert!(parse_projected(r#"{"x": [1, 2,], "a": 1}"#, &proj).is_err());
        assert!(parse_projected(r#"{"x": "\q", "a": 1}"#, &proj).is_err());
        assert!(parse_projected(r#"{"x": 01}"#, &proj).is_err());
        assert!(parse_projected(&format!("{{\"x\": {}}}", "[".repeat(1000)), &proj).is_err());
    }

    #[test]
    fn duplicate_keys_last_wins_in_place() {
        assert_eq!(round(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn pretty_as_written_matches_the_pretty_writer_and_keeps_number_spelling() {
        for text in [
            r#"{"a": [1, 2.5, {"b": null}], "c": {}, "d": [], "e": "x\u00e9\n\"", "f": true}"#,
            "[]",
            "  \"just text\" ",
            r#"[[], [{}], {"k": [[1]]}]"#,
        ] {
            assert_eq!(pretty_as_written(text).unwrap(), to_string_pretty(&parse(text).unwrap()), "{text}");
        }
        assert_eq!(
            pretty_as_written(r#"{"price": 12.50, "n": 1e3}"#).unwrap(),
            "{\n  \"price\": 12.50,\n  \"n\": 1e3\n}"
        );
    }
}
