//! Input projection: which parts of a record a mapping reads.
//!
//! Every compiled program records the input paths it reads ([`Read`]).
//! Merged over a whole mapping they form a [`Projection`]: a tree of the
//! object keys that matter. The JSON reader then builds only those parts
//! of each record and skips the rest (still checking its syntax), which
//! saves most of the allocation work on wide records such as Shopify
//! orders. Arrays are kept whole in length; their elements are projected
//! by the same subtree. Anything that could see beyond the known paths —
//! `$` itself, `..`, computed keys — widens the projection to the whole
//! subtree, so a projected record always gives the same results as the
//! full one.

use std::fmt;

use crate::value::Str;

/// Which record a read starts from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ReadRoot {
    /// `$`: the input record.
    Input,
    /// `$name`: a named source (its position in the scope's sources).
    Source(usize),
}

/// One input path read by an expression.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Read {
    /// Where the path starts.
    pub root: ReadRoot,
    /// Object keys along the path (array indexes are transparent: a read
    /// of `$.items[0].sku` needs `sku` in every element of `items`).
    pub keys: Vec<Str>,
    /// Whether the whole value at the end of the path is needed, or only
    /// its presence and shape (a list iterated by `each:`/`map()` whose
    /// elements are read through `it`).
    pub whole: bool,
}

impl fmt::Display for Read {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.root {
            ReadRoot::Input => f.write_str("$")?,
            ReadRoot::Source(i) => write!(f, "$source{i}")?,
        }
        for k in &self.keys {
            if !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_') {
                write!(f, ".{k}")?;
            } else {
                write!(f, "['{}']", k.replace('\'', "\\'"))?;
            }
        }
        Ok(())
    }
}

/// A tree of the keys a mapping reads.
#[derive(Clone, Debug, PartialEq)]
pub struct Projection {
    pub(crate) root: PNode,
}

/// A node of a projection.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PNode {
    /// Everything below is needed.
    All,
    /// Only these keys (of an object, or of each object in an array).
    Keys(Vec<(Str, PNode)>),
}

impl Projection {
    /// The projection of `reads` rooted at `root`; `None` when the whole
    /// record is needed (nothing to skip).
    pub fn from_reads<'a>(root: &ReadRoot, reads: impl IntoIterator<Item = &'a Read>) -> Option<Projection> {
        let mut node = PNode::Keys(Vec::new());
        for r in reads {
            if &r.root == root {
                insert(&mut node, &r.keys, r.whole);
            }
        }
        match node {
            PNode::All => None,
            keys => Some(Projection { root: keys }),
        }
    }

    /// The number of key paths kept (for diagnostics and tests).
    pub fn len(&self) -> usize {
        fn count(n: &PNode) -> usize {
            match n {
                PNode::All => 1,
                PNode::Keys(k) => k.iter().map(|(_, c)| count(c)).sum::<usize>().max(1),
            }
        }
        count(&self.root)
    }

    /// Whether a top-level key of the record is kept (for flat formats such
    /// as CSV, whose columns are the record's keys).
    pub fn keeps_key(&self, key: &str) -> bool {
        match &self.root {
            PNode::All => true,
            PNode::Keys(keys) => keys.iter().any(|(k, _)| &**k == key),
        }
    }

    /// Whether the projection keeps nothing but the record's shape.
    pub fn is_empty(&self) -> bool {
        matches!(&self.root, PNode::Keys(k) if k.is_empty())
    }
}

impl fmt::Display for Projection {
    /// The kept paths, one per line, for `--explain`-style output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn walk(n: &PNode, path: &mut String, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match n {
                PNode::All => writeln!(f, "{path}"),
                PNode::Keys(k) if k.is_empty() => writeln!(f, "{path} (shape only)"),
                PNode::Keys(k) => {
                    for (key, child) in k {
                        let len = path.len();
                        path.push('.');
                        path.push_str(key);
                        walk(child, path, f)?;
                        path.truncate(len);
                    }
                    Ok(())
                }
            }
        }
        walk(&self.root, &mut "$".to_string(), f)
    }
}

fn insert(node: &mut PNode, keys: &[Str], whole: bool) {
    let PNode::Keys(children) = node else {
        return; // already everything
    };
    let Some((first, rest)) = keys.split_first() else {
        if whole {
            *node = PNode::All;
        }
        return;
    };
    let i = match children.iter().position(|(k, _)| k == first) {
        Some(i) => i,
        None => {
            children.push((first.clone(), PNode::Keys(Vec::new())));
            children.len() - 1
        }
    };
    insert(&mut children[i].1, rest, whole);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(keys: &[&str], whole: bool) -> Read {
        Read { root: ReadRoot::Input, keys: keys.iter().map(|k| Str::from(*k)).collect(), whole }
    }

    #[test]
    fn merges_paths_and_widens() {
        let reads = [
            read(&["customer", "email"], true),
            read(&["items"], false),
            read(&["items", "sku"], true),
            read(&["customer"], true),
        ];
        let p = Projection::from_reads(&ReadRoot::Input, &reads).unwrap();
        assert_eq!(p.to_string(), "$.customer\n$.items.sku\n");
        assert!(Projection::from_reads(&ReadRoot::Input, &[read(&[], true)]).is_none());
    }
}
