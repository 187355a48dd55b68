//! What a device sees: a vault's snapshots and their trees, searches in
//! them, its own file system and databases, whether it reaches a vault.

use halley_api::types::{
    BrowseSQLServerResponse, DestinationLocation, DispatcherStoredObjectsResponse,
    DispatcherVaultSnapshotsResponse, MySQLConnection, SearchClause, SearchResultFileInfo,
    SearchSnapshotsResponse, StoredObject, VaultSnapshot,
};
use halley_protocol::device::Call as DeviceCall;
use serde_json::Value;
use std::collections::BTreeMap;

use super::{ask, check_file_names_visible, target};
use crate::http::{ApiError, ApiResult, Call, Reply};
use crate::service::search;

/// `request-vault-snapshots`: the snapshots a vault holds, as the device
/// reads them.
pub async fn vault_snapshots(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let destination_id = call.params.non_empty("Destination")?.to_string();
    let answer = ask(&connection, DeviceCall::VaultSnapshots { destination_id }).await?;
    let snapshots: Vec<VaultSnapshot> =
        serde_json::from_value(answer).map_err(ApiError::internal)?;
    Ok(Reply::json(&DispatcherVaultSnapshotsResponse {
        status: 200,
        message: "OK".into(),
        snapshots,
        ..Default::default()
    }))
}

/// `request-stored-objects`: one directory of a snapshot (`TreeID` from a
/// directory's `subtree`; the root when empty).
pub async fn stored_objects(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    check_file_names_visible(&call, &connection).await?;
    let request = DeviceCall::StoredObjects {
        destination_id: call.params.non_empty("Destination")?.to_string(),
        snapshot_id: call.params.non_empty("SnapshotID")?.to_string(),
        tree_id: call.params.opt_str("TreeID").unwrap_or("").to_string(),
    };
    objects(ask(&connection, request).await?)
}

/// `request-filesystem-objects`: one directory of the device (`/` when
/// `Path` is empty).
pub async fn filesystem_objects(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    check_file_names_visible(&call, &connection).await?;
    let path = call.params.opt_str("Path").unwrap_or("").to_string();
    objects(ask(&connection, DeviceCall::FilesystemObjects { path }).await?)
}

fn objects(answer: Value) -> ApiResult<Reply> {
    let stored_objects: Vec<StoredObject> =
        serde_json::from_value(answer).map_err(ApiError::internal)?;
    Ok(Reply::json(&DispatcherStoredObjectsResponse {
        status: 200,
        message: "OK".into(),
        stored_objects,
        ..Default::default()
    }))
}

/// `request-browse-mysql`: the databases the device sees on a MariaDB or
/// MySQL server, with the `Credentials` given (their TLS settings are not
/// used: the agent's client connects as its options file says).
pub async fn browse_mysql(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let credentials: MySQLConnection = call.params.json("Credentials")?;
    let request = DeviceCall::BrowseMysql {
        host: credentials.host,
        port: credentials.port,
        username: credentials.username,
        password: credentials.password,
    };
    let objects =
        serde_json::from_value(ask(&connection, request).await?).map_err(ApiError::internal)?;
    Ok(Reply::json(&BrowseSQLServerResponse {
        status: 200,
        message: "OK".into(),
        objects,
        ..Default::default()
    }))
}

/// `ping-destination`: whether the device reaches the location `ExtraData`.
pub async fn ping_destination(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    let location: DestinationLocation = call.params.json("ExtraData")?;
    ask(&connection, DeviceCall::PingDestination { location }).await?;
    Ok(Reply::ok())
}

/// `search-snapshots`: the entries of `SnapshotIDs` that match `Filter`, a
/// `SearchClause` over `SearchResultFileInfo` fields
/// (`SearchResultFileInfo.name`, `.path`, `.size`, ...), by snapshot.
pub async fn search_snapshots(call: Call) -> ApiResult<Reply> {
    let connection = target(&call).await?;
    check_file_names_visible(&call, &connection).await?;
    let destination_id = call.params.non_empty("DestinationID")?.to_string();
    let snapshot_ids: Vec<String> = call.params.opt_json("SnapshotIDs")?.unwrap_or_default();
    let filter: SearchClause = call.params.opt_json("Filter")?.unwrap_or_default();
    // A malformed filter is refused before the device does any work.
    search::matches(&filter, "SearchResultFileInfo", &Value::Null)
        .map_err(|why| ApiError::invalid_param("Filter", why))?;
    let request = DeviceCall::SnapshotFiles {
        destination_id,
        snapshot_ids,
    };
    let all: BTreeMap<String, Vec<SearchResultFileInfo>> =
        serde_json::from_value(ask(&connection, request).await?).map_err(ApiError::internal)?;
    let mut snapshot_files = BTreeMap::new();
    for (snapshot, files) in all {
        let mut kept = Vec::new();
        for file in files {
            let wire = serde_json::to_value(&file).map_err(ApiError::internal)?;
            if search::matches(&filter, "SearchResultFileInfo", &wire)
                .map_err(|why| ApiError::invalid_param("Filter", why))?
            {
                kept.push(file);
            }
        }
        snapshot_files.insert(snapshot, kept);
    }
    Ok(Reply::json(&SearchSnapshotsResponse {
        status: 200,
        message: "OK".into(),
        snapshot_files,
        ..Default::default()
    }))
}
