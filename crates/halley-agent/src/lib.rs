//! `halley-agent`: the backup client of a Halley server. It registers this
//! machine as a device of an account, keeps one live connection to the
//! server, follows the account's profile, runs its schedules and backs the
//! machine up into the account's Storage Vaults with `halley-vault`.
//!
//! Modules, one job each: [`state`] (what is kept on disk), [`defaults`]
//! (what a client package installed beside the binary), [`platform`]
//! (what the machine says about itself), [`link`] (one websocket),
//! [`session`] (keeping it up), [`scheduler`], [`job`] (one backup job),
//! [`restores`] (one restore job), [`maintenance`] (retention and verify
//! jobs), [`browse`] (directories for the dispatcher),
//! [`engines`], [`vaults`], [`exec`] (pre- and post-commands), [`dispatch`]
//! (the server's calls) and
//! [`commands`] (the command line).

#![forbid(unsafe_code)]

pub mod browse;
pub mod commands;
pub mod defaults;
pub mod dispatch;
pub mod engines;
pub mod exec;
pub mod job;
pub mod link;
pub mod maintenance;
pub mod platform;
pub mod restores;
pub mod scheduler;
pub mod session;
pub mod state;
pub mod uninstall;
pub mod update;
pub mod upload;
pub mod util;
pub mod vaults;
