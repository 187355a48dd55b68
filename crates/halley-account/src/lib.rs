//! halley-account, the account portal service: the API guide's
//! "account.CometBackup.com API" for providers. It owns portal accounts and
//! API tokens, server serial numbers (and their activation by `halleyd`), the
//! daily billing of active services and its reports, the release catalogue
//! and its downloads, and hosted `halleyd` instances that it launches and
//! supervises. It keeps its own SQLite store and needs nothing else from
//! the server.

pub mod api;
pub mod auth;
pub mod billing;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod hosted;
pub mod http;
pub mod report;
pub mod serve;
pub mod state;
pub mod store;
pub mod throttle;
