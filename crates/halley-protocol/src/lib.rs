//! What `halleyd` and the devices it manages must agree on, in one place so
//! neither side can drift: the device protocol's messages (`device`), when a
//! `ScheduleConfig` fires (`schedule`: the agent runs schedules, the server
//! writes the jobs they missed), how a `DestinationLocation` opens as a
//! `halley-vault` backend (`location`), and how a vault's password is
//! wrapped by the account key (`vault_key`), and what a client package
//! built by the server tells the agent (`package`). `docs/device-protocol.md`
//! describes the protocol for other implementations.

#![forbid(unsafe_code)]

pub mod device;
pub mod location;
pub mod package;
pub mod schedule;
pub mod vault_key;
