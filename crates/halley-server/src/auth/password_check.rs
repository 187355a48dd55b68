//! Every password check of the server: from the verified-credential cache
//! when it can, otherwise argon2 on the [`super::verify_pool`].

use super::password::{dummy_hash, verify_password, PASSWORD_FORMAT_ARGON2ID};
use crate::http::ApiResult;
use crate::state::AppState;

/// Whether `password` matches the stored `(format, hash)` of `account`.
pub async fn verify(
    state: &AppState,
    account: &str,
    format: i64,
    stored: &str,
    password: &str,
) -> ApiResult<bool> {
    if state.verified.knows(account, stored, password) {
        return Ok(true);
    }
    let (stored_owned, password_owned) = (stored.to_string(), password.to_string());
    let right = state
        .verify_pool
        .run(move || verify_password(format, &stored_owned, &password_owned))
        .await?;
    if right {
        state.verified.remember(account, stored, password);
    }
    Ok(right)
}

/// Spends the time of one verification that fails, for an account that does
/// not exist or a step that another path would have taken.
pub async fn spend(state: &AppState, password: &str) -> ApiResult<()> {
    let password = password.to_string();
    state
        .verify_pool
        .run(move || verify_password(PASSWORD_FORMAT_ARGON2ID, dummy_hash(), &password))
        .await?;
    Ok(())
}
