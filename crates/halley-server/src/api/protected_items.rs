//! `get|set-protected-item-with-backup-rules` and `delete-protected-item`, for
//! administrators and for end users on their own account. Each is one atomic
//! profile edit; `RequireHash` makes a set conditional. End users are held to
//! what their policy locks (`PreventNew/Edit/DeleteProtectedItem`, engines,
//! retention).

use std::collections::BTreeMap;

use halley_api::types::{BackupRuleConfig, SourceConfig, UserProfileConfig};

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::policy_locks;
use crate::service::protected_items as items;
use crate::service::users::{self, load, load_for_admin};

/// The account the call acts on, its profile and the profile's hash.
async fn target(call: &Call) -> ApiResult<(UserProfileConfig, String, String)> {
    let (profile, record) = match call.user() {
        Ok(user) => load(&call.state, &user.username).await?,
        Err(_) => {
            load_for_admin(&call.state, call.admin()?, call.params.str("TargetUser")?).await?
        }
    };
    let actor = match call.user() {
        Ok(user) => user.actor(),
        Err(_) => call.admin()?.actor(),
    };
    Ok((profile, record.profile_hash, actor))
}

/// End users are held to what their policy locks; administrators are not.
fn check_policy(
    call: &Call,
    before: &UserProfileConfig,
    after: &UserProfileConfig,
) -> ApiResult<()> {
    if call.user().is_err() {
        return Ok(());
    }
    policy_locks::check_self_edit(before, after)
}

pub async fn get(call: Call) -> ApiResult<Reply> {
    let (profile, hash, _) = target(&call).await?;
    Ok(Reply::json(&items::read(
        &profile,
        call.params.str("SourceID")?,
        hash,
    )?))
}

pub async fn set(call: Call) -> ApiResult<Reply> {
    let (mut profile, hash, actor) = target(&call).await?;
    let id = call.params.non_empty("SourceID")?;
    let source: Option<SourceConfig> = call.params.opt_json("Source")?;
    let rules: BTreeMap<String, BackupRuleConfig> = call.params.json("BackupRules")?;
    let expected = call.params.opt_str("RequireHash").filter(|h| !h.is_empty());
    if expected.is_some_and(|expected| expected != hash) {
        return Err(ApiError::new(409, "The profile was changed since it was read (RequireHash mismatch); read it again and retry"));
    }
    let before = profile.clone();
    items::write(&mut profile, id, source, rules)?;
    check_policy(&call, &before, &profile)?;
    users::save(&call.state, &profile, Some(&hash), &actor).await?;
    Ok(Reply::ok())
}

pub async fn delete(call: Call) -> ApiResult<Reply> {
    let (mut profile, hash, actor) = target(&call).await?;
    let before = profile.clone();
    items::remove(&mut profile, call.params.str("SourceID")?)?;
    check_policy(&call, &before, &profile)?;
    users::save(&call.state, &profile, Some(&hash), &actor).await?;
    Ok(Reply::ok())
}
