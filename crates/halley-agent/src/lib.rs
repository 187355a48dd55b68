//! `halley-agent`: the backup client of a Halley server.

#![forbid(unsafe_code)]

pub mod engines;
