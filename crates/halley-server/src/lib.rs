//! halleyd, the Halley server: serves the Comet Server API over HTTP from an
//! embedded SQLite store and a `cometd.cfg` configuration file.

pub mod api;
pub mod auth;
pub mod config;
pub mod devices;
pub mod events;
pub mod handover;
pub mod http;
pub mod licensing;
pub mod lifecycle;
pub mod listeners;
pub mod logging;
pub mod metrics;
pub mod private_files;
pub mod server;
pub mod service;
pub mod state;
pub mod storage;
pub mod store;
pub mod util;
pub mod web;
