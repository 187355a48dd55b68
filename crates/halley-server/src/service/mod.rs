//! The rules of the server, free of HTTP: what a valid account is, how a
//! profile may change, how hashes are formed.

pub mod account_keys;
pub mod admins;
pub mod client_packages;
pub mod constellation;
pub mod devices;
pub mod email;
pub mod external_auth;
pub mod policies;
pub mod policy_locks;
pub mod protected_items;
pub mod remote_server;
pub mod reports;
pub mod requestable_vaults;
pub mod resources;
pub mod search;
pub mod secrets;
pub mod self_backup;
pub mod self_backup_runs;
pub mod server_info;
pub mod user_groups;
pub mod users;

/// Stands in for a secret (a password, a TOTP secret, a bind password) shown
/// back to an administrator; sending it back unchanged keeps the stored secret.
pub const OBSCURED: &str = "**********";
