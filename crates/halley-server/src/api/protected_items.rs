//! `get|set-protected-item-with-backup-rules` and `delete-protected-item`, for
//! administrators and for end users on their own account. Each is one atomic
//! profile edit; `RequireHash` makes a set conditional. End users are held to
//! what their policy locks (`PreventNew/Edit/DeleteProtectedItem`, engines,
//! retention).

use std::collections::BTreeMap;

use halley_api::types::{BackupRuleConfig, SourceConfig, UserProfileConfig};

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::policy_locks;
use crate::service::protected_items as items;
use crate::service::users::{self, load};

/// The account the call acts on, its profile, the profile's hash, and the
/// scope and actor of the call.
struct Target {
    profile: UserProfileConfig,
    hash: String,
    scope: TenantScope,
    actor: String,
}

async fn target(call: &Call) -> ApiResult<Target> {
    let (scope, username, actor) = match call.user() {
        Ok(user) => (user.scope(), user.username(), user.actor()),
        Err(_) => {
            let admin = call.admin()?;
            (admin.scope(), call.params.str("TargetUser")?, admin.actor())
        }
    };
    let (profile, record) = load(&call.state, &scope, username).await?;
    Ok(Target {
        profile,
        hash: record.profile_hash,
        scope,
        actor,
    })
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
    let target = target(&call).await?;
    Ok(Reply::json(&items::read(
        &target.profile,
        call.params.str("SourceID")?,
        target.hash,
    )?))
}

pub async fn set(call: Call) -> ApiResult<Reply> {
    let Target {
        mut profile,
        hash,
        scope,
        actor,
    } = target(&call).await?;
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
    users::save(&call.state, &scope, &profile, Some(&hash), &actor).await?;
    Ok(Reply::ok())
}

pub async fn delete(call: Call) -> ApiResult<Reply> {
    let Target {
        mut profile,
        hash,
        scope,
        actor,
    } = target(&call).await?;
    let before = profile.clone();
    items::remove(&mut profile, call.params.str("SourceID")?)?;
    check_policy(&call, &before, &profile)?;
    users::save(&call.state, &scope, &profile, Some(&hash), &actor).await?;
    Ok(Reply::ok())
}
