//! `news/*`: short announcements shown to administrators and end users. Top-
//! level news reaches everyone; a tenant's news its own accounts.

use std::collections::BTreeMap;

use halley_api::types::NewsEntry;

use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::store::DocumentRecord;
use crate::util::now_unix;

const KIND: &str = "news";

async fn entries(
    call: &Call,
    organization: Option<&str>,
) -> ApiResult<BTreeMap<String, NewsEntry>> {
    let records = call.state.store.document_list(KIND, organization).await?;
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
        organization_id: admin.organization_id.clone(),
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
    call.state.store.document_put(&record, None).await?;
    Ok(Reply::ok())
}

pub async fn remove(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let id = call.params.str("NewsItem")?;
    let found =
        call.state.store.document_get(KIND, id).await?.filter(|r| {
            admin.organization_id.is_empty() || r.organization_id == admin.organization_id
        });
    if found.is_none() {
        return Err(ApiError::invalid_param(
            "NewsItem",
            format!("no news item has the ID '{id}'"),
        ));
    }
    call.state.store.document_delete(KIND, id).await?;
    Ok(Reply::ok())
}

pub async fn get_all(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let scope = (!admin.organization_id.is_empty()).then_some(admin.organization_id.as_str());
    Ok(Reply::json(&entries(&call, scope).await?))
}

/// An end user sees the top level's news and their tenant's.
pub async fn user_get_all(call: Call) -> ApiResult<Reply> {
    let organization = call.user()?.organization_id.clone();
    let mut all = entries(&call, Some("")).await?;
    if !organization.is_empty() {
        all.extend(entries(&call, Some(&organization)).await?);
    }
    Ok(Reply::json(&all))
}
