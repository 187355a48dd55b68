//! `/api/v1/admin/user-groups/*`: named groups of accounts within a tenant; an
//! account's `GroupID` names its group. A group may link a policy with a
//! `PolicyID` field (Halley's addition; the API's `UserGroup` has none, and
//! unknown fields are kept): saving the group gives that policy to every
//! member, and accounts joining through `set-users-for-group` receive it.

use std::collections::BTreeMap;

use halley_api::constants::{SEVT_USERGROUP_NEW, SEVT_USERGROUP_REMOVED, SEVT_USERGROUP_UPDATED};
use halley_api::types::{
    CreateUserGroupResponse, GetUserGroupWithUsersResponse, GroupPolicy, UserGroup,
};

use super::scope::{check_named_organization, list_scope, target_organization};
use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::user_groups::KIND;
use crate::service::{policies, policy_locks, users};
use crate::state::AppState;
use crate::store::{DocumentRecord, ReplaceOutcome};
use crate::util::now_unix;

fn not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("No user group has the ID '{id}'"))
}

/// A group in the caller's scope, and the scope of the group's own tenant
/// (where its members and its policy must be).
async fn load(call: &Call, id: &str) -> ApiResult<(UserGroup, TenantScope)> {
    let scope = call.admin()?.scope();
    let record = call
        .state
        .store
        .document_get(&scope, KIND, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    let group: UserGroup = serde_json::from_str(&record.doc_json).map_err(ApiError::internal)?;
    let tenant = scope
        .narrowed_to(&group.organization_id)
        .ok_or_else(|| not_found(id))?;
    Ok((group, tenant))
}

async fn save(
    state: &AppState,
    scope: &TenantScope,
    id: &str,
    group: &UserGroup,
    actor: &str,
    event: i64,
) -> ApiResult<()> {
    let doc_json = serde_json::to_string(group).map_err(ApiError::internal)?;
    let record = DocumentRecord {
        kind: KIND.into(),
        id: id.to_string(),
        organization_id: group.organization_id.clone(),
        hash: crate::util::document_hash(&doc_json),
        doc_json,
    };
    if state.store.document_put(scope, &record, None).await? != ReplaceOutcome::Replaced {
        return Err(not_found(id));
    }
    state.events.emit(
        event,
        actor,
        &group.organization_id,
        id,
        serde_json::to_value(group).ok(),
    );
    Ok(())
}

async fn list_groups(call: &Call) -> ApiResult<BTreeMap<String, UserGroup>> {
    let scope = list_scope(call)?;
    let records = call.state.store.document_list(&scope, KIND).await?;
    records
        .iter()
        .map(|r| {
            Ok((
                r.id.clone(),
                serde_json::from_str(&r.doc_json).map_err(ApiError::internal)?,
            ))
        })
        .collect()
}

/// The policy a group links, if any.
fn linked_policy(group: &UserGroup) -> Option<&str> {
    group
        .extra
        .get("PolicyID")
        .and_then(|id| id.as_str())
        .filter(|id| !id.is_empty())
}

/// The linked policy's ID and content; a policy the group's tenant cannot
/// use is refused.
async fn policy_of(
    state: &AppState,
    tenant: &TenantScope,
    group: &UserGroup,
) -> ApiResult<Option<(String, GroupPolicy)>> {
    let Some(id) = linked_policy(group) else {
        return Ok(None);
    };
    let (policy, _) = policies::load_for_tenant(state, tenant, &group.organization_id, id)
        .await
        .map_err(|_| {
            ApiError::invalid_param(
                "Group",
                format!("PolicyID '{id}' names no policy of the group's organization"),
            )
        })?;
    Ok(Some((id.to_string(), policy)))
}

/// Sets the `GroupID` of one account and, when the group links a policy,
/// its policy, leaving the rest of its profile alone.
async fn set_group_of(
    state: &AppState,
    tenant: &TenantScope,
    username: &str,
    group_id: &str,
    policy: Option<&(String, GroupPolicy)>,
    actor: &str,
) -> ApiResult<()> {
    users::edit(state, tenant, username, actor, |profile| {
        profile.group_id = group_id.to_string();
        if let Some((id, policy)) = policy {
            profile.policy_id = id.clone();
            profile.policy = policy.policy.clone();
            policy_locks::apply(profile);
        }
    })
    .await
}

/// Members of the group not in `keep` leave it (their policy stays).
async fn remove_members(
    state: &AppState,
    tenant: &TenantScope,
    group_id: &str,
    keep: &[String],
    actor: &str,
) -> ApiResult<()> {
    for record in state.store.users_in_group(tenant, group_id).await? {
        if !keep.contains(&record.username) {
            set_group_of(state, tenant, &record.username, "", None, actor).await?;
        }
    }
    Ok(())
}

pub async fn new(call: Call) -> ApiResult<Reply> {
    let name = call.params.non_empty("Name")?.to_string();
    let group = UserGroup {
        name,
        organization_id: target_organization(&call)?,
        created_at: now_unix(),
        ..Default::default()
    };
    let id = uuid::Uuid::new_v4().to_string();
    save(
        &call.state,
        &call.admin()?.scope(),
        &id,
        &group,
        &call.admin()?.actor(),
        SEVT_USERGROUP_NEW,
    )
    .await?;
    Ok(Reply::json(&CreateUserGroupResponse {
        status: 200,
        message: "OK".into(),
        user_group_id: id,
        ..Default::default()
    }))
}

pub async fn get(call: Call) -> ApiResult<Reply> {
    let id = call.params.str("GroupID")?;
    let (group, tenant) = load(&call, id).await?;
    let mut users_map = BTreeMap::new();
    if call.params.opt_bool("IncludeUsers")?.unwrap_or(false) {
        for record in call.state.store.users_in_group(&tenant, id).await? {
            users_map.insert(record.username.clone(), users::parse_record(&record)?);
        }
    }
    Ok(Reply::json(&GetUserGroupWithUsersResponse {
        user_group: group,
        users: users_map,
        ..Default::default()
    }))
}

pub async fn list(call: Call) -> ApiResult<Reply> {
    let names: BTreeMap<String, String> = list_groups(&call)
        .await?
        .into_iter()
        .map(|(id, g)| (id, g.name))
        .collect();
    Ok(Reply::json(&names))
}

pub async fn list_full(call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&list_groups(&call).await?))
}

/// Creates the group when the ID is new, otherwise renames it; the tenant
/// and creation time of an existing group stay.
pub async fn set(call: Call) -> ApiResult<Reply> {
    let id = call.params.non_empty("GroupID")?;
    let mut group: UserGroup = call.params.json("Group")?;
    let scope = call.admin()?.scope();
    let existing = call.state.store.document_get(&scope, KIND, id).await?;
    let event = match existing {
        Some(_) => {
            let (current, _) = load(&call, id).await?;
            check_named_organization("Group", &group.organization_id, &current.organization_id)?;
            group.organization_id = current.organization_id;
            group.created_at = current.created_at;
            SEVT_USERGROUP_UPDATED
        }
        None => {
            let tenant = target_organization(&call)?;
            check_named_organization("Group", &group.organization_id, &tenant)?;
            group.organization_id = tenant;
            if group.created_at == 0 {
                group.created_at = now_unix();
            }
            SEVT_USERGROUP_NEW
        }
    };
    let tenant = scope
        .narrowed_to(&group.organization_id)
        .ok_or_else(|| not_found(id))?;
    let policy = policy_of(&call.state, &tenant, &group).await?;
    let actor = call.admin()?.actor();
    // An ID another tenant holds is refused by the scoped write, unchanged.
    save(&call.state, &tenant, id, &group, &actor, event).await?;
    if policy.is_some() {
        for record in call.state.store.users_in_group(&tenant, id).await? {
            set_group_of(
                &call.state,
                &tenant,
                &record.username,
                id,
                policy.as_ref(),
                &actor,
            )
            .await?;
        }
    }
    Ok(Reply::ok())
}

/// The listed accounts join the group; members not listed leave it.
pub async fn set_users_for_group(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.str("GroupID")?;
    let (group, tenant) = load(&call, id).await?;
    let wanted: Vec<String> = call.params.json("Users")?;
    for username in &wanted {
        // Only the group's own tenant's accounts; others are "not found".
        users::load(&call.state, &tenant, username).await?;
    }
    let policy = policy_of(&call.state, &tenant, &group).await?;
    remove_members(&call.state, &tenant, id, &wanted, &admin.actor()).await?;
    for username in &wanted {
        set_group_of(
            &call.state,
            &tenant,
            username,
            id,
            policy.as_ref(),
            &admin.actor(),
        )
        .await?;
    }
    Ok(Reply::ok())
}

pub async fn delete(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.str("GroupID")?;
    let (group, tenant) = load(&call, id).await?;
    remove_members(&call.state, &tenant, id, &[], &admin.actor()).await?;
    call.state.store.document_delete(&tenant, KIND, id).await?;
    call.state.events.emit(
        SEVT_USERGROUP_REMOVED,
        &admin.actor(),
        &group.organization_id,
        id,
        None,
    );
    Ok(Reply::ok())
}
