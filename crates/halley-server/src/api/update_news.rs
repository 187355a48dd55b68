//! `meta/software-update-news`: the release feed of the licence portal
//! (`GET /latestversion` of `--license-portal`); without a portal, this
//! server's own version is the latest it knows.

use halley_api::constants::APPLICATION_VERSION;
use halley_api::types::SoftwareUpdateNewsResponse;

use crate::http::{ApiError, ApiResult, Call, Reply};

pub async fn get(call: Call) -> ApiResult<Reply> {
    call.admin()?;
    let Some(portal) = &call.state.license_portal else {
        return Ok(Reply::json(&SoftwareUpdateNewsResponse {
            latest_stable: APPLICATION_VERSION.into(),
            latest_prerelease: APPLICATION_VERSION.into(),
            ..Default::default()
        }));
    };
    let url = format!("{}/latestversion", portal.trim_end_matches('/'));
    let fetched = async {
        let response = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()?
            .get(&url)
            .send()
            .await?
            .error_for_status()?;
        response.json::<SoftwareUpdateNewsResponse>().await
    }
    .await
    .map_err(|e| {
        ApiError::new(
            502,
            format!("The release feed at {url} could not be read: {e}"),
        )
    })?;
    Ok(Reply::json(&fetched))
}
