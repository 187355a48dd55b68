//! `news/*`: short announcements shown to administrators and end users. Top-
//! level news reaches everyone; a tenant's news its own accounts.

use std::collections::BTreeMap;

use halley_api::types::NewsEntry;

use crate::auth::TenantScope;
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::store::DocumentRecord;
use crate::util::now_unix;

const KIND: &str = "news";

async fn entries(call: &Call, scope: &TenantScope) -> ApiResult<BTreeMap<String, NewsEntry>> {
    let records = call.state.store.document_list(scope, KIND).await?;
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

pub async fn submit(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let entry = NewsEntry {
        organization_id: admin.organization_id().to_string(),
        date_time: now_unix(),
        text_content: call.params.non_empty("NewsContent")?.to_string(),
        ..Default::default()
    };
    let doc_json = serde_json::to_string(&entry).map_err(ApiError::internal)?;
    let record = DocumentRecord {
        kind: KIND.into(),
        id: uuid::Uuid::new_v4().to_string(),
        organization_id: entry.organization_id.clone(),
        hash: crate::util::document_hash(&doc_json),
        doc_json,
    };
    call.state
        .store
        .document_put(&admin.scope(), &record, None)
        .await?;
    Ok(Reply::ok())
}

pub async fn remove(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.str("NewsItem")?;
    if !call
        .state
        .store
        .document_delete(&admin.scope(), KIND, id)
        .await?
    {
        return Err(ApiError::invalid_param(
            "NewsItem",
            format!("no news item has the ID '{id}'"),
        ));
    }
    Ok(Reply::ok())
}

pub async fn get_all(call: Call) -> ApiResult<Reply> {
    let scope = call.admin()?.scope();
    Ok(Reply::json(&entries(&call, &scope).await?))
}

/// An end user sees the top level's news and their tenant's.
pub async fn user_get_all(call: Call) -> ApiResult<Reply> {
    let scope = call.user()?.scope().and_top_level();
    Ok(Reply::json(&entries(&call, &scope).await?))
}
