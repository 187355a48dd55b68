//! The Custom Remote Bucket (`Type` `custom`): an HTTP POST to the
//! provider's own URL, with its `CustomHeaders` and its `CustomBody` in its
//! `CustomBodyType`, whose 2xx answer is the new vault's
//! `DestinationLocation`.

use halley_api::constants::*;
use halley_api::types::{DestinationLocation, RemoteStorageOption};

use super::{excerpt, known_type, PROVIDER_TIMEOUT};
use crate::http::{quoted, ApiError, ApiResult};

/// The Custom Remote Bucket: what the provider's URL answers.
pub async fn request(option: &RemoteStorageOption) -> ApiResult<DestinationLocation> {
    let settings = &option.custom;
    let failed = |why: String| {
        ApiError::new(
            502,
            format!(
                "the Storage Vault provider {} ({}) {why}",
                quoted(&option.description),
                settings.url
            ),
        )
    };
    let client = reqwest::Client::builder()
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(ApiError::internal)?;
    let mut request = client.post(&settings.url);
    for (name, value) in &settings.custom_headers {
        request = request.header(name.as_str(), value.as_str());
    }
    request = match settings.custom_body_type.as_str() {
        "" | CUSTOMREMOTEBUCKET_CUSTOMBODY_NONE => request,
        CUSTOMREMOTEBUCKET_CUSTOMBODY_JSON => request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(settings.custom_body.clone()),
        CUSTOMREMOTEBUCKET_CUSTOMBODY_URLENC => request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(settings.custom_body.clone()),
        CUSTOMREMOTEBUCKET_CUSTOMBODY_FORM => {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in form_urlencoded::parse(settings.custom_body.as_bytes()) {
                form = form.text(name.into_owned(), value.into_owned());
            }
            request.multipart(form)
        }
        other => {
            return Err(ApiError::bad_configuration(format!(
            "the Storage Vault provider {} has CustomBodyType {}: none, form, json or urlencoded",
            quoted(&option.description),
            quoted(other)
        )))
        }
    };
    let answer = request.send().await.map_err(|err| {
        if err.is_timeout() {
            failed(format!(
                "did not answer within {} s",
                PROVIDER_TIMEOUT.as_secs()
            ))
        } else {
            failed(format!("could not be reached: {err}"))
        }
    })?;
    let status = answer.status();
    let body = answer
        .text()
        .await
        .map_err(|err| failed(format!("broke off its answer: {err}")))?;
    if !status.is_success() {
        return Err(failed(format!(
            "answered HTTP {status}: {}",
            excerpt(&body)
        )));
    }
    let location: DestinationLocation = serde_json::from_str(&body).map_err(|err| {
        failed(format!(
            "answered with something that is not a DestinationLocation ({err}): {}",
            excerpt(&body)
        ))
    })?;
    if !known_type(location.destination_type) {
        return Err(failed(format!(
            "answered a location of unknown DestinationType {}",
            location.destination_type
        )));
    }
    Ok(location)
}
