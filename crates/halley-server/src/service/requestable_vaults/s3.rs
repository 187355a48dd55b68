//! S3-compatible providers (`Type` `s3`, `aws`, `wasabi`): each requested
//! vault is a folder of its own (`halley-` and a random name, below the
//! provider's `Prefix`) in the provider's `MasterBucket`, reached with the
//! provider's credentials, which the new vault carries; give the provider
//! keys limited to that bucket. The bucket is checked before the vault is
//! handed out.

use halley_api::constants::*;
use halley_api::types::{DestinationLocation, RemoteStorageOption};

use super::{failed, ForAccount};
use crate::http::{quoted, ApiError, ApiResult};
use crate::util::random_hex;

const WASABI_ENDPOINT: &str = "https://s3.wasabisys.com";

pub async fn request(
    option: &RemoteStorageOption,
    account: Option<&ForAccount<'_>>,
) -> ApiResult<DestinationLocation> {
    let (endpoint, region, bucket, access_key, secret_key, prefix) = match option.r#type.as_str() {
        REMOTESERVER_S3_GENERIC => {
            let s3 = &option.s3;
            (
                s3.s3_endpoint.as_str(),
                s3.region.as_str(),
                &s3.master_bucket,
                &s3.access_key,
                &s3.secret_key,
                s3.prefix.as_str(),
            )
        }
        REMOTESERVER_AWS => {
            let aws = &option.aws;
            (
                "",
                "",
                &aws.master_bucket,
                &aws.access_key,
                &aws.secret_key,
                "",
            )
        }
        _ => {
            let wasabi = &option.wasabi;
            (
                WASABI_ENDPOINT,
                "",
                &wasabi.master_bucket,
                &wasabi.access_key,
                &wasabi.secret_key,
                "",
            )
        }
    };
    if bucket.is_empty() {
        return Err(ApiError::bad_configuration(format!(
            "the Storage Vault provider {} has no MasterBucket: Halley gives each requested vault a folder of its own in that bucket",
            quoted(&option.description)
        )));
    }
    let folder = match account {
        Some(_) => format!("halley-{}", random_hex(8)),
        None => String::new(),
    };
    let subdir = [prefix.trim_matches('/'), folder.as_str()]
        .iter()
        .filter(|part| !part.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    let location = DestinationLocation {
        destination_type: DESTINATIONTYPE_S3,
        s3_server: endpoint.to_string(),
        s3_uses_tls: !endpoint.starts_with("http://"),
        s3_bucket_name: bucket.clone(),
        s3_subdir: subdir,
        s3_access_key: access_key.clone(),
        s3_secret_key: secret_key.clone(),
        s3_custom_region: region.to_string(),
        ..Default::default()
    };
    let checked = location.clone();
    let reachable = tokio::task::spawn_blocking(move || halley_protocol::location::probe(&checked))
        .await
        .map_err(ApiError::internal)?;
    reachable.map_err(|why| failed(option, format!("cannot be used: {why}")))?;
    Ok(location)
}
