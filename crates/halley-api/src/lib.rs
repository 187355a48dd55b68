//! The wire layer of the Comet Server API as Halley speaks it.
//!
//! This crate owns the API's shape and nothing else: no I/O, no storage, no
//! HTTP. The server (`halley-server`) and the client (`halley-client`) both
//! build on it, so that they agree with each other and with existing Comet
//! Server integrations down to the JSON field names.
//!
//! - [`types`]: every struct and alias type of the API, with the exact JSON
//!   field names; unknown fields survive a read-modify-write in `extra`.
//! - [`constants`]: every named constant (event types, job statuses,
//!   destination types, ...), and [`constants::sevt_name`].
//! - [`endpoints`]: the table of all API calls: path, authentication,
//!   parameters, response type.
//! - [`wire`]: the hand-written JSON rules the types follow (lenient decoding,
//!   Go-style `omitempty`, base64 [`Bytes`]).
//!
//! `types`, `constants` and the endpoint table are generated from the Comet
//! Server API description by `cargo run -p xtask -- gen-api
//! <comet-api.json>`; the generated files are committed and must not be edited
//! by hand. Conveniences on top of them live in hand-written modules.

pub mod constants;
pub mod endpoints;
mod response;
pub mod types;
pub mod wire;

pub use wire::Bytes;
