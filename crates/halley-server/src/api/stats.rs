//! `meta/stats`: the server's figures sampled over time (at start and every
//! hour), keyed by the Unix time of the sample. `Simple` keeps the last
//! sample of each day. Top-level administrators see the whole server, tenant
//! administrators their organization's share.

use std::collections::BTreeMap;

use halley_api::types::StatResult;

use crate::http::{ApiResult, Call, Reply};

pub const SAMPLE_EVERY_SECONDS: u64 = 60 * 60;

pub async fn get(call: Call) -> ApiResult<Reply> {
    let admin = call.admin()?;
    let simple = call.params.opt_bool("Simple")?.unwrap_or(false);
    let mut stats = BTreeMap::new();
    for sample in call.state.store.stats_list(&admin.scope()).await? {
        let key = if simple {
            sample.at / 86_400
        } else {
            sample.at
        };
        stats.insert(
            key,
            (
                sample.at,
                StatResult {
                    users: sample.users,
                    devices: sample.devices,
                    ..Default::default()
                },
            ),
        );
    }
    let stats: BTreeMap<i64, StatResult> = stats.into_values().collect();
    Ok(Reply::json(&stats))
}
