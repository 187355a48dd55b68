//! `meta/webhook-options/get|set`: the webhooks of the caller's scope (the
//! top level, or the caller's tenant), replaced as a whole on set.

use std::collections::BTreeMap;

use halley_api::types::WebhookOption;

use crate::events::webhooks::{self, hook_key};
use crate::http::{ApiError, ApiResult, Call, Reply};

pub async fn get(call: Call) -> ApiResult<Reply> {
    let organization = call.admin()?.organization_id();
    let config = call.state.config.get();
    let empty = BTreeMap::new();
    let hooks = if organization.is_empty() {
        &config.webhook_options
    } else {
        config
            .organizations
            .get(organization)
            .map_or(&empty, |org| &org.webhook_options)
    };
    Ok(Reply::json(hooks))
}

pub async fn set(call: Call) -> ApiResult<Reply> {
    let organization = call.admin()?.organization_id().to_string();
    let options: BTreeMap<String, WebhookOption> = call.params.json("WebhookOptions")?;
    webhooks::validate(&options).map_err(|why| ApiError::invalid_param("WebhookOptions", why))?;
    let previous = call
        .state
        .config
        .update(|config| -> ApiResult<BTreeMap<String, WebhookOption>> {
            let slot = if organization.is_empty() {
                &mut config.webhook_options
            } else {
                &mut config
                    .organizations
                    .get_mut(&organization)
                    .ok_or_else(|| ApiError::bad_request("The caller's tenant no longer exists"))?
                    .webhook_options
            };
            Ok(std::mem::replace(slot, options.clone()))
        })
        .await?;
    // New and changed hooks are greeted with SEVT_META_HELLO.
    let greet: Vec<String> = options
        .iter()
        .filter(|(name, option)| previous.get(*name) != Some(option))
        .map(|(name, _)| hook_key(&organization, name))
        .collect();
    webhooks::reconcile(&call.state, &greet).await?;
    Ok(Reply::ok())
}
