//! The Storage Role: buckets that devices back up into over the server's
//! own bucket data protocol (`docs/bucket-protocol.md`).
//!
//! - `buckets.rs`: the bucket records (ID, tenant, hashed key, quota, the
//!   last size measurement), kept in the store as documents;
//! - `data.rs`: where the buckets' files are (a local directory, or any
//!   Storage Vault location behind the server) and what they use;
//! - `protocol.rs`: the HTTP handlers of the bucket data protocol;
//! - `replication.rs`: copying the buckets to other Storage Role servers.

pub mod buckets;
pub mod data;
pub mod protocol;
pub mod replication;
