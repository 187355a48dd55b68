//! Policies (`GroupPolicy`): stored documents that user profiles point to by
//! `PolicyID`. A profile that names a policy carries a read-only copy of it in
//! `Policy`, rewritten whenever the policy changes; a deleted policy leaves its
//! users with their last copy and no `PolicyID`.

use halley_api::constants::{SEVT_POLICY_NEW, SEVT_POLICY_REMOVED, SEVT_POLICY_UPDATED};
use halley_api::types::{GroupPolicy, UserProfileConfig};

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult};
use crate::service::{policy_locks, users};
use crate::state::AppState;
use crate::store::{DocumentRecord, ReplaceOutcome};
use crate::util::now_unix;

pub const KIND: &str = "policy";

pub fn hash(json: &str) -> String {
    crate::util::document_hash(json)
}

fn parse(record: &DocumentRecord) -> ApiResult<GroupPolicy> {
    serde_json::from_str(&record.doc_json).map_err(ApiError::internal)
}

fn not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("No policy has the ID '{id}'"))
}

/// A policy inside `scope`, with its hash; another tenant's is "not found".
pub async fn load(
    state: &AppState,
    scope: &TenantScope,
    id: &str,
) -> ApiResult<(GroupPolicy, String)> {
    let record = state
        .store
        .document_get(scope, KIND, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok((parse(&record)?, record.hash))
}

/// A policy that an object of `organization` may name: that tenant's own
/// only (the top level's policies are not a tenant's, nor the reverse).
pub async fn load_for_tenant(
    state: &AppState,
    scope: &TenantScope,
    organization: &str,
    id: &str,
) -> ApiResult<(GroupPolicy, String)> {
    let tenant = scope
        .narrowed_to(organization)
        .ok_or_else(|| not_found(id))?;
    load(state, &tenant, id).await
}

pub async fn list(state: &AppState, scope: &TenantScope) -> ApiResult<Vec<(String, GroupPolicy)>> {
    let records = state.store.document_list(scope, KIND).await?;
    records
        .iter()
        .map(|r| Ok((r.id.clone(), parse(r)?)))
        .collect()
}

/// Creates or replaces a policy (`expected_hash`: only if unchanged since
/// read), keeps a single default per organisation, and brings the copies in
/// its users' profiles up to date. Returns the new hash.
pub async fn save(
    state: &AppState,
    scope: &TenantScope,
    id: &str,
    mut policy: GroupPolicy,
    expected_hash: Option<&str>,
    actor: &str,
) -> ApiResult<String> {
    let existing = state.store.document_get(scope, KIND, id).await?;
    let now = now_unix();
    if let Some(existing) = &existing {
        let previous = parse(existing)?;
        policy.created_date = previous.created_date;
        policy.organization_id = previous.organization_id;
    } else {
        policy.created_date = now;
    }
    policy.modified_date = now;
    let doc_json = serde_json::to_string(&policy).map_err(ApiError::internal)?;
    let record = DocumentRecord {
        kind: KIND.into(),
        id: id.to_string(),
        organization_id: policy.organization_id.clone(),
        hash: hash(&doc_json),
        doc_json,
    };
    let tenant = scope
        .narrowed_to(&policy.organization_id)
        .ok_or_else(|| not_found(id))?;
    match state.store.document_put(&tenant, &record, expected_hash).await? {
        ReplaceOutcome::Replaced => {}
        ReplaceOutcome::NotFound => return Err(not_found(id)),
        ReplaceOutcome::HashMismatch => {
            return Err(ApiError::new(
                409,
                "The policy was changed since it was read (CheckPolicyHash mismatch); read it again and retry",
            ))
        }
    }
    if policy.default_user_policy {
        clear_other_defaults(state, &tenant, id, actor).await?;
    }
    let event = if existing.is_some() {
        SEVT_POLICY_UPDATED
    } else {
        SEVT_POLICY_NEW
    };
    state.events.emit(
        event,
        actor,
        &policy.organization_id,
        id,
        serde_json::to_value(&policy).ok(),
    );
    propagate(state, &tenant, id, Some(&policy), actor).await?;
    Ok(record.hash)
}

/// Only one policy per organisation is the default for new users; `tenant`
/// is the scope of that one organisation.
async fn clear_other_defaults(
    state: &AppState,
    tenant: &TenantScope,
    keep: &str,
    actor: &str,
) -> ApiResult<()> {
    for (id, mut other) in list(state, tenant).await? {
        if id != keep && other.default_user_policy {
            other.default_user_policy = false;
            Box::pin(save(state, tenant, &id, other, None, actor)).await?;
        }
    }
    Ok(())
}

pub async fn delete(state: &AppState, scope: &TenantScope, id: &str, actor: &str) -> ApiResult<()> {
    let (policy, _) = load(state, scope, id).await?;
    let tenant = scope
        .narrowed_to(&policy.organization_id)
        .ok_or_else(|| not_found(id))?;
    state.store.document_delete(&tenant, KIND, id).await?;
    state.events.emit(
        SEVT_POLICY_REMOVED,
        actor,
        &policy.organization_id,
        id,
        None,
    );
    propagate(state, &tenant, id, None, actor).await
}

/// Rewrites the policy copy of every profile of the policy's tenant (`tenant`)
/// naming `id`; with `None` (the policy is gone) the profiles keep their copy
/// and lose the `PolicyID`.
async fn propagate(
    state: &AppState,
    tenant: &TenantScope,
    id: &str,
    policy: Option<&GroupPolicy>,
    actor: &str,
) -> ApiResult<()> {
    for record in state.store.users_with_policy(tenant, id).await? {
        let outcome = users::edit(state, tenant, &record.username, actor, |profile| {
            // The account may have moved to another policy meanwhile.
            if profile.policy_id != id {
                return;
            }
            match policy {
                Some(policy) => {
                    profile.policy = policy.policy.clone();
                    policy_locks::apply(profile);
                }
                None => profile.policy_id.clear(),
            }
        })
        .await;
        match outcome {
            // The account went away meanwhile: nothing to keep in step.
            Ok(()) | Err(ApiError::Message { status: 400, .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(())
}

/// Applies the profile's policy: its `Policy` becomes the policy's copy and
/// the values it enforces are written in. An unknown `PolicyID`, or another
/// tenant's, is refused alike.
pub async fn enforce(
    state: &AppState,
    scope: &TenantScope,
    profile: &mut UserProfileConfig,
) -> ApiResult<()> {
    if profile.policy_id.is_empty() {
        // Without a PolicyID the administrator's own `Policy` values apply.
        policy_locks::apply(profile);
        return Ok(());
    }
    let (policy, _) = load_for_tenant(state, scope, &profile.organization_id, &profile.policy_id)
        .await
        .map_err(|_| {
            ApiError::invalid_param(
                "ProfileData",
                format!(
                    "PolicyID '{}' names no policy of this account's organization",
                    profile.policy_id
                ),
            )
        })?;
    profile.policy = policy.policy;
    policy_locks::apply(profile);
    Ok(())
}

/// The organisation's default policy for new accounts, if it has one.
pub async fn default_for(
    state: &AppState,
    scope: &TenantScope,
    organization: &str,
) -> ApiResult<Option<String>> {
    let Some(tenant) = scope.narrowed_to(organization) else {
        return Ok(None);
    };
    Ok(list(state, &tenant)
        .await?
        .into_iter()
        .find(|(_, p)| p.default_user_policy)
        .map(|(id, _)| id))
}
