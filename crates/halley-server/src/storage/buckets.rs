//! Bucket records: the store keeps one document of kind `bucket` per
//! bucket, in its tenant. The key is kept only as an argon2id hash
//! ([`PASSWORD_FORMAT_ARGON2ID`]), and answers never carry it.

use halley_api::constants::PASSWORD_FORMAT_PLAINTEXT;
use halley_api::types::{BucketProperties, SizeMeasurement};
use serde::{Deserialize, Serialize};

use crate::auth::password::{hash_password, PASSWORD_FORMAT_ARGON2ID};
use crate::auth::TenantScope;
use crate::http::{quoted, ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{DocumentRecord, ReplaceOutcome};
use crate::util::{document_hash, now_unix, random_hex};

pub const KIND: &str = "bucket";

/// What the store keeps of a bucket.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Bucket {
    #[serde(skip)]
    pub id: String,
    pub properties: BucketProperties,
    /// Bytes the bucket may hold; 0: no limit.
    #[serde(default)]
    pub quota_bytes: u64,
}

impl Bucket {
    /// The properties as answers show them: without the key's hash.
    pub fn public_properties(&self) -> BucketProperties {
        BucketProperties {
            read_write_key: String::new(),
            ..self.properties.clone()
        }
    }
}

/// What `register-bucket` was asked for.
#[derive(Debug, Default)]
pub struct NewBucket {
    /// The caller's ID, or `None` for a random one.
    pub id: Option<String>,
    /// The caller's key as `(format, value)`, or `None` for a random one.
    pub key: Option<(i64, String)>,
    pub organization_id: String,
    pub quota_bytes: u64,
}

/// Whether `id` can name a bucket (it is part of paths and URLs).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Creates a bucket; answers its ID and, when the server chose or was
/// given it in plain text, its key.
pub async fn register(
    state: &AppState,
    scope: &TenantScope,
    new: NewBucket,
) -> ApiResult<(Bucket, String)> {
    let id = match new.id {
        Some(id) if !valid_id(&id) => {
            return Err(ApiError::invalid_param(
                "SetBucketValue",
                format!(
                    "{} is not a bucket ID: 1 to 64 letters, digits, '-' or '_'",
                    quoted(&id)
                ),
            ))
        }
        Some(id) => id,
        None => random_hex(16),
    };
    let (key_hash, key) = match new.key {
        None => {
            let key = random_hex(16);
            (hash_password(&key), key)
        }
        Some((PASSWORD_FORMAT_PLAINTEXT, key)) if key.is_empty() => {
            return Err(ApiError::invalid_param("SetKeyHashValue", "the key is empty"))
        }
        Some((PASSWORD_FORMAT_PLAINTEXT, key)) => (hash_password(&key), key),
        Some((PASSWORD_FORMAT_ARGON2ID, hash)) => {
            if argon2::password_hash::PasswordHash::new(&hash).is_err() {
                return Err(ApiError::invalid_param(
                    "SetKeyHashValue",
                    "not an argon2id hash in PHC form ($argon2id$v=19$...)",
                ));
            }
            (hash, String::new())
        }
        Some((other, _)) => {
            return Err(ApiError::invalid_param(
                "SetKeyHashFormat",
                format!("format {other} is not known here: use {PASSWORD_FORMAT_PLAINTEXT} (the key itself) or {PASSWORD_FORMAT_ARGON2ID} (an argon2id hash)"),
            ))
        }
    };
    let bucket = Bucket {
        id: id.clone(),
        properties: BucketProperties {
            organization_id: new.organization_id,
            create_time: now_unix(),
            read_write_key_format: PASSWORD_FORMAT_ARGON2ID,
            read_write_key: key_hash,
            ..Default::default()
        },
        quota_bytes: new.quota_bytes,
    };
    // IDs are unique over the whole server, not only the caller's tenant.
    if lookup(state, &id).await?.is_some() {
        return Err(ApiError::invalid_param(
            "SetBucketValue",
            format!("a bucket {} exists already", quoted(&id)),
        ));
    }
    save(state, scope, &bucket).await?;
    Ok((bucket, key))
}

pub async fn save(state: &AppState, scope: &TenantScope, bucket: &Bucket) -> ApiResult<()> {
    let doc_json = serde_json::to_string(bucket).map_err(ApiError::internal)?;
    let record = DocumentRecord {
        kind: KIND.into(),
        id: bucket.id.clone(),
        organization_id: bucket.properties.organization_id.clone(),
        hash: document_hash(&doc_json),
        doc_json,
    };
    if state.store.document_put(scope, &record, None).await? == ReplaceOutcome::NotFound {
        return Err(not_found(&bucket.id));
    }
    Ok(())
}

fn parse(record: &DocumentRecord) -> ApiResult<Bucket> {
    let mut bucket: Bucket = serde_json::from_str(&record.doc_json).map_err(ApiError::internal)?;
    bucket.id = record.id.clone();
    Ok(bucket)
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::bad_request(format!("No bucket has the ID {}", quoted(id)))
}

/// A bucket of any tenant (for the data protocol, which names the bucket
/// and proves its key).
pub async fn lookup(state: &AppState, id: &str) -> ApiResult<Option<Bucket>> {
    let record = state
        .store
        .document_get(&TenantScope::server_wide(), KIND, id)
        .await?;
    record.as_ref().map(parse).transpose()
}

/// A bucket in the caller's scope; another tenant's answers as missing.
pub async fn get(state: &AppState, scope: &TenantScope, id: &str) -> ApiResult<Bucket> {
    let record = state.store.document_get(scope, KIND, id).await?;
    record
        .as_ref()
        .map(parse)
        .transpose()?
        .ok_or_else(|| not_found(id))
}

pub async fn list(state: &AppState, scope: &TenantScope) -> ApiResult<Vec<Bucket>> {
    let records = state.store.document_list(scope, KIND).await?;
    records.iter().map(parse).collect()
}

pub async fn delete(state: &AppState, scope: &TenantScope, id: &str) -> ApiResult<Bucket> {
    let bucket = get(state, scope, id).await?;
    if !state.store.document_delete(scope, KIND, id).await? {
        return Err(not_found(id));
    }
    Ok(bucket)
}

/// Measures the bucket's size now and keeps the measurement.
pub async fn measure(state: &AppState, mut bucket: Bucket) -> ApiResult<Bucket> {
    let started = now_unix();
    let size = state.buckets.measure(state, &bucket.id).await?;
    bucket.properties.size = SizeMeasurement {
        size: size as i64,
        measure_started: started,
        measure_completed: now_unix(),
        ..Default::default()
    };
    // Saved only if the bucket still exists (a delete may have raced).
    if lookup(state, &bucket.id).await?.is_some() {
        save(state, &TenantScope::server_wide(), &bucket).await?;
    }
    Ok(bucket)
}

/// How often every bucket's size is measured again.
pub const MEASURE_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Measures every bucket, one after another (the background task).
pub async fn measure_all(state: &AppState) {
    let Ok(all) = list(state, &TenantScope::server_wide()).await else {
        return;
    };
    for bucket in all {
        let id = bucket.id.clone();
        if let Err(err) = measure(state, bucket).await {
            tracing::warn!("measuring bucket {id}: {}", err.message());
        }
    }
}
