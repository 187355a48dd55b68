//! Backblaze B2 providers (`Type` `b2`): B2 is asked for the account's S3
//! address (`b2_authorize_account` with `B2.KeyID` and `B2.AppKey`), and
//! the vault is a folder of its own in `B2.MasterBucket` there, reached
//! through B2's S3 API with the same key, as for any S3-compatible
//! provider. `RemoteAddress`, when set, is the B2 API's address instead of
//! `https://api.backblazeb2.com`.

use halley_api::types::{DestinationLocation, RemoteStorageOption, S3GenericVirtualStorageRole};
use serde::Deserialize;

use super::{failed, s3, ForAccount, PROVIDER_TIMEOUT};
use crate::http::{ApiError, ApiResult};
use crate::service::remote_server::server_address;

const B2_API: &str = "https://api.backblazeb2.com/";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Authorized {
    s3_api_url: String,
}

pub async fn request(
    option: &RemoteStorageOption,
    account: Option<&ForAccount<'_>>,
) -> ApiResult<DestinationLocation> {
    let settings = &option.b2;
    let api = server_address(&option.remote_address).unwrap_or_else(|| B2_API.to_string());
    let client = reqwest::Client::builder()
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(ApiError::internal)?;
    let answer = client
        .get(format!("{api}b2api/v2/b2_authorize_account"))
        .basic_auth(&settings.key_id, Some(&settings.app_key))
        .send()
        .await
        .map_err(|err| failed(option, format!("(B2 at {api}) could not be reached: {err}")))?;
    if !answer.status().is_success() {
        return Err(failed(
            option,
            format!("(B2 at {api}) refused the key: HTTP {}", answer.status()),
        ));
    }
    let authorized: Authorized = answer.json().await.map_err(|err| {
        failed(
            option,
            format!("(B2 at {api}) answered no S3 address: {err}"),
        )
    })?;
    // s3.REGION.backblazeb2.com
    let region = authorized
        .s3_api_url
        .split("://")
        .nth(1)
        .and_then(|host| host.split('.').nth(1))
        .unwrap_or_default()
        .to_string();
    let as_s3 = RemoteStorageOption {
        s3: S3GenericVirtualStorageRole {
            s3_endpoint: authorized.s3_api_url,
            region,
            master_bucket: settings.master_bucket.clone(),
            access_key: settings.key_id.clone(),
            secret_key: settings.app_key.clone(),
            ..Default::default()
        },
        r#type: halley_api::constants::REMOTESERVER_S3_GENERIC.into(),
        ..option.clone()
    };
    s3::request(&as_s3, account).await
}
