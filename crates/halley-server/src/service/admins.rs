//! Administrator accounts, which live in `cometd.cfg` (`AdminUsers`).

use halley_api::types::AllowedAdminUser;

use crate::auth::password::{hash_password, PASSWORD_FORMAT_ARGON2ID};

/// A new administrator who logs in with a password.
pub fn new_admin(username: &str, password: &str, organization_id: &str) -> AllowedAdminUser {
    AllowedAdminUser {
        username: username.to_string(),
        organization_id: organization_id.to_string(),
        password_format: PASSWORD_FORMAT_ARGON2ID,
        password: hash_password(password),
        allow_password_login: true,
        ..Default::default()
    }
}

/// The entry of one administrator: usernames repeat across tenants, so the
/// organisation is part of the key.
pub fn find_mut<'a>(
    admins: &'a mut [AllowedAdminUser],
    username: &str,
    organization_id: &str,
) -> Option<&'a mut AllowedAdminUser> {
    admins
        .iter_mut()
        .find(|a| a.username == username && a.organization_id == organization_id)
}
