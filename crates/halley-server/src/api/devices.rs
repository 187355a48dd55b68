//! Devices and their live connections.

use crate::http::{ApiResult, Call, Reply};

/// `dispatcher/list-active`: the live device connections in the caller's
/// scope, by connection ID. No device protocol is served yet, so no device
/// is ever connected and the truthful answer is an empty map, which is what
/// monitoring integrations (they call this on every scrape) expect then.
pub async fn list_active(_call: Call) -> ApiResult<Reply> {
    Ok(Reply::json(&serde_json::Map::new()))
}
