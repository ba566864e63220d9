//! `kind: stdout` sink: JSON Lines on standard output, flushed per batch.

use std::io::Write;

use mapwright_dsl::Value;
use mapwright_engine::diagnostic::SpecCode;
use mapwright_engine::input::{FORMAT_NAMES, Format};
use mapwright_engine::spec::get;
use mapwright_engine::spec::keys::{Block, Key, Type};
use mapwright_engine::spec::yaml::Node;

use super::encode;
use crate::decode::{Entries, Pipe};

/// The keys of `kind: stdout`.
pub(crate) static KEYS: Block = Block::new(
    "sink_stdout",
    "JSON Lines on standard output, flushed per batch.",
    &[
        Key::new("format", Type::Words(&FORMAT_NAMES), "`jsonl`, the only format standard output takes."),
        super::NAME,
        super::WHEN,
    ],
);

/// Checks `format:`: standard output takes JSON Lines only.
pub(crate) fn decode(p: &mut Pipe, node: &Node, entries: &Entries, format: Option<Format>) -> Option<()> {
    if let Some(f) = format.filter(|f| *f != Format::Jsonl) {
        let loc = get(entries, "format").map_or(node.loc, |n| n.loc);
        p.d.hint(
            SpecCode::BadValue,
            loc,
            format!("standard output takes JSON Lines, not {f:?}"),
            "remove `format:` or write `format: jsonl`",
        );
        return None;
    }
    Some(())
}

/// Writes records (each with its JSON text) and flushes.
pub(crate) fn write(records: &[(&Value, &str)]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(&encode::jsonl(records))?;
    out.flush()
}
