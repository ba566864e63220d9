//! The endpoints against real servers on loopback (HTTP, PostgreSQL),
//! inside the crate because the endpoints are its own, not its API.

mod http;
pub(crate) mod pg_server;
mod postgres;
