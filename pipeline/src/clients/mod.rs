//! Clients of the servers that endpoints talk to, shared by the source and
//! the sink of one kind: connecting, describing errors, keeping secrets
//! out of messages.

pub(crate) mod nats;
pub(crate) mod postgres;
