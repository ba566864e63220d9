//! One mapped record on its way to a sink, and what became of it.
//!
//! The idempotency key is `<record key>:<hash>`, where the hash is the first
//! 16 hex digits of SHA-256 over the mapping's content hash and the record's
//! JSON. The same record mapped by the same mapping always gets the same
//! key — across retries, restarts and repeats of the same payload — so a
//! sink that remembers keys drops repeats; a changed record or a changed
//! mapping gets a new one.

use mapwright_dsl::Value;
use sha2::{Digest, Sha256};

/// A mapped record ready to send.
#[derive(Clone, Debug)]
pub(crate) struct Delivery {
    /// The record's key (`key:` of the mapping; null without one).
    pub key: Value,
    /// The key as text, as stored in the state store (`""` without a key).
    pub key_text: String,
    /// The idempotency hash (16 hex digits).
    pub hash: String,
    /// The mapped record.
    pub record: Value,
    /// The record's JSON, as sent.
    pub json: String,
}

impl Delivery {
    /// A delivery of `record` with `key`, mapped by a mapping whose content
    /// hash is `mapping_hash`.
    pub(crate) fn new(key: Value, record: Value, mapping_hash: &str) -> Delivery {
        let json = record.to_json();
        let key_text = match &key {
            Value::Null => String::new(),
            Value::String(s) => s.to_string(),
            other => other.to_json(),
        };
        let mut h = Sha256::new();
        h.update(mapping_hash.as_bytes());
        h.update([0]);
        h.update(json.as_bytes());
        let digest = h.finalize();
        let hash = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Delivery { key, key_text, hash, record, json }
    }

    /// The idempotency key: `<key>:<hash>` (just the hash without a key).
    pub(crate) fn idempotency_key(&self) -> String {
        if self.key_text.is_empty() { self.hash.clone() } else { format!("{}:{}", self.key_text, self.hash) }
    }
}

/// The idempotency key of a request of several records: `batch:` and the
/// first 16 hex digits of SHA-256 over their keys, in order — the same
/// records in the same request always get the same key, on every retry.
pub(crate) fn batch_key(records: &[&Delivery]) -> String {
    let mut h = Sha256::new();
    for d in records {
        h.update(d.idempotency_key().as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("batch:{hex}")
}

/// What a sink did with one record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// It was delivered.
    Delivered,
    /// The sink refused it for good (an HTTP 4xx other than 429, a
    /// constraint violation): it goes to the dead letter with the reason.
    Rejected(String),
    /// The retry policy gave up (`retry.max_elapsed` or `attempts`): it
    /// goes to the dead letter with the last reason, to be replayed.
    GaveUp(String),
    /// The pipeline is stopping: not delivered, not dead-lettered; it is
    /// read again after a restart.
    Stopped,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_stable_and_follows_content_and_mapping() {
        let rec = Value::from_json(r#"{"id":"SO-1","total":19.90}"#).unwrap();
        let a = Delivery::new(Value::str("SO-1"), rec.clone(), "m1");
        let b = Delivery::new(Value::str("SO-1"), rec.clone(), "m1");
        assert_eq!(a.idempotency_key(), b.idempotency_key());
        assert!(a.idempotency_key().starts_with("SO-1:"));
        assert_eq!(a.hash.len(), 16);
        let other_mapping = Delivery::new(Value::str("SO-1"), rec, "m2");
        assert_ne!(a.hash, other_mapping.hash);
        let total = |t: &str| Value::from_json(&format!(r#"{{"id":"SO-1","total":{t}}}"#)).unwrap();
        let same_amount = Delivery::new(Value::str("SO-1"), total("19.9"), "m1");
        assert_eq!(a.hash, same_amount.hash, "19.90 and 19.9 are one amount, written one way");
        let other_amount = Delivery::new(Value::str("SO-1"), total("19.91"), "m1");
        assert_ne!(a.hash, other_amount.hash);
        let numeric_key = Delivery::new(Value::from_json("42").unwrap(), Value::Null, "m1");
        assert_eq!(numeric_key.key_text, "42");
    }
}
