//! `/api/v1/admin/policies/*`.

use std::collections::BTreeMap;

use halley_api::types::{
    CreateGroupPolicyResponse, GetGroupPolicyResponse, GroupPolicy, PolicyOptions,
};

use super::scope::{check_named_organization, list_scope, target_organization};
use crate::http::{ApiResult, Call, Reply};
use crate::service::policies;

pub async fn new(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let mut policy: GroupPolicy = call.params.json("Policy")?;
    check_named_organization("Policy", &policy.organization_id, admin.organization_id())?;
    policy.organization_id = admin.organization_id().to_string();
    let id = uuid::Uuid::new_v4().to_string();
    let hash = policies::save(
        &call.state,
        &admin.scope(),
        &id,
        policy,
        None,
        &admin.actor(),
    )
    .await?;
    let mut response = CreateGroupPolicyResponse {
        status: 200,
        message: "OK".into(),
        policy_hash: hash,
        ..Default::default()
    };
    // Not in the published type, but a caller needs the new ID to use it.
    response.extra.insert("PolicyID".into(), id.into());
    Ok(Reply::json(&response))
}

pub async fn get(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let (policy, hash) =
        policies::load(&call.state, &admin.scope(), call.params.str("PolicyID")?).await?;
    Ok(Reply::json(&GetGroupPolicyResponse {
        status: 200,
        message: "OK".into(),
        policy,
        policy_hash: hash,
        ..Default::default()
    }))
}

pub async fn list(call: Call) -> ApiResult<Reply> {
    let scope = list_scope(&call)?;
    let names: BTreeMap<String, String> = policies::list(&call.state, &scope)
        .await?
        .into_iter()
        .map(|(id, policy)| (id, policy.description))
        .collect();
    Ok(Reply::json(&names))
}

pub async fn list_full(call: Call) -> ApiResult<Reply> {
    let scope = list_scope(&call)?;
    let all: BTreeMap<String, GroupPolicy> = policies::list(&call.state, &scope)
        .await?
        .into_iter()
        .collect();
    Ok(Reply::json(&all))
}

/// Creates the policy when the ID is new (billing modules choose their own
/// IDs); `CheckPolicyHash` makes the replacement conditional.
pub async fn set(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.non_empty("PolicyID")?;
    let mut policy: GroupPolicy = call.params.json("Policy")?;
    let _options: Option<PolicyOptions> = call.params.opt_json("Options")?;
    let check = call
        .params
        .opt_str("CheckPolicyHash")
        .filter(|h| !h.is_empty());
    // A new ID goes to the target tenant; an existing one keeps its tenant
    // (and one outside the caller's scope is refused as missing by `save`).
    let tenant = match call
        .state
        .store
        .document_get(&admin.scope(), policies::KIND, id)
        .await?
    {
        Some(existing) => existing.organization_id,
        None => target_organization(&call)?,
    };
    check_named_organization("Policy", &policy.organization_id, &tenant)?;
    policy.organization_id = tenant;
    policies::save(
        &call.state,
        &admin.scope(),
        id,
        policy,
        check,
        &admin.actor(),
    )
    .await?;
    Ok(Reply::ok())
}

pub async fn delete(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    policies::delete(
        &call.state,
        &admin.scope(),
        call.params.str("PolicyID")?,
        &admin.actor(),
    )
    .await?;
    Ok(Reply::ok())
}
