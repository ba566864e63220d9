//! Identifiers: content hashes and name-based UUIDs, for stable keys.

use sha2::{Digest, Sha256};

use super::{Args, Builtin, FnError, Group, Imp, Nulls, string};
use crate::value::Value;

pub const SHA256: Builtin = Builtin {
    name: "sha256",
    group: Group::Ids,
    params: "s",
    min_args: 1,
    max_args: 1,
    doc: "The SHA-256 of text (UTF-8), as 64 lower-case hex digits.",
    examples: &[("sha256(\"abc\")", "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"")],
    imp: Imp::Plain(|a: &Args| -> Result<Value, FnError> {
        let digest = Sha256::digest(a.str(0)?.as_bytes());
        let mut hex = String::with_capacity(64);
        for b in digest {
            hex.push_str(&format!("{b:02x}"));
        }
        Ok(string(hex))
    }),
    nulls: Nulls::Propagate,
    regex_arg: None,
};

pub const UUID5: Builtin = Builtin {
    name: "uuid5",
    group: Group::Ids,
    params: "namespace, name",
    min_args: 2,
    max_args: 2,
    doc: "A name-based UUID (RFC 9562 version 5): the same namespace and name always give the same id. `namespace` is a UUID or one of \"dns\", \"url\", \"oid\", \"x500\".",
    examples: &[("uuid5(\"dns\", \"example.com\")", "\"cfbff0d1-9375-5685-968c-48ce8b15ae17\"")],
    imp: Imp::Plain(|a: &Args| -> Result<Value, FnError> {
        let ns = match a.str(0)? {
            "dns" => uuid::Uuid::NAMESPACE_DNS,
            "url" => uuid::Uuid::NAMESPACE_URL,
            "oid" => uuid::Uuid::NAMESPACE_OID,
            "x500" => uuid::Uuid::NAMESPACE_X500,
            other => uuid::Uuid::parse_str(other).map_err(|_| {
                FnError::msg(format!("namespace \"{other}\" is not a UUID nor one of dns, url, oid, x500"))
            })?,
        };
        let name = match a.get(1) {
            Value::String(s) => s.to_string(),
            Value::Number(_) => a.get(1).to_json(),
            other => return Err(FnError::expected("text or a number", other, 1)),
        };
        Ok(string(uuid::Uuid::new_v5(&ns, name.as_bytes()).to_string()))
    }),
    nulls: Nulls::Propagate,
    regex_arg: None,
};

#[cfg(test)]
mod tests {
    use crate::functions::testing::table;

    #[test]
    fn id_functions() {
        insta::assert_snapshot!(table(&[
            "sha256(\"\")",
            "sha256(\"Wörld\")",
            "sha256(5)",
            "uuid5(\"url\", \"https://shop.example/orders/1042\")",
            "uuid5(\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\", 1042)",
            "uuid5(\"nope\", \"x\")",
        ]));
    }
}
