//! `create-install-token`: a single-use token that lets an installer register
//! a device to an account without typing its password.

use halley_api::types::{InstallToken, InstallTokenResponse};

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::users::load;
use crate::store::DocumentRecord;
use crate::util::{now_unix, random_hex};

pub const KIND: &str = "install-token";
/// How long a token stays usable.
pub const LIFETIME_SECONDS: i64 = 24 * 60 * 60;

pub async fn create(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let username = call.params.str("TargetUser")?;
    let (profile, _) = load(&call.state, &admin.scope(), username).await?;
    let password = call.params.str("TargetPassword")?;
    if !crate::auth::confirm_user_password(&call.state, &profile, password, &call.origin).await? {
        return Err(ApiError::invalid_param(
            "TargetPassword",
            "it is not the account's password",
        ));
    }
    let now = now_unix();
    let token = InstallToken {
        username: username.to_string(),
        server: call.params.opt_str("Server").unwrap_or("").to_string(),
        token: random_hex(16),
        create_time: now,
        used: false,
        expire_time: now + LIFETIME_SECONDS,
        ..Default::default()
    };
    let doc_json = serde_json::to_string(&token).map_err(ApiError::internal)?;
    let record = DocumentRecord {
        kind: KIND.into(),
        id: blake3::hash(token.token.as_bytes()).to_hex().to_string(),
        organization_id: profile.organization_id.clone(),
        hash: String::new(),
        doc_json,
    };
    call.state
        .store
        .document_put(&admin.scope(), &record, None)
        .await?;
    // A device registering with the token gets the account key without the
    // password.
    crate::service::account_keys::add_token(
        &call.state,
        &admin.scope(),
        &profile,
        password,
        &token.token,
    )
    .await?;
    Ok(Reply::json(&InstallTokenResponse {
        status: 200,
        message: "OK".into(),
        install_token: token,
        ..Default::default()
    }))
}
