//! Security keys (WebAuthn) as administrators' second factor; `webauthn-rs`
//! does the verification.
//!
//! The relying party is the address the browser is on: its host is the RP
//! ID and its scheme, host and port the origin (`https://`, or
//! `http://localhost`). A key is registered for the address of the
//! registration's `SelfAddress`, and asked for only on that host, so a
//! tenant's host has keys of its own. Challenges live in memory for five
//! minutes and answer once (`challenges.rs`). Each registration keeps the verified key (the
//! library's `SecurityKey`, with its signature counter) in the
//! administrator's `WebAuthnRegistrations` entry, beside the API's fields.

use base64::Engine as _;
use halley_api::constants::WEBAUTHN_DEVICE_TYPE__HARDWARE_TOKEN;
use halley_api::types::{AdminWebAuthnRegistration, AllowedAdminUser, WebAuthnCredential};
use serde_json::{json, Value};
use webauthn_rs::prelude::*;

use crate::http::{ApiError, ApiResult};
use crate::util::now_unix;

/// Fields Halley adds to an `AdminWebAuthnRegistration`.
const KEY_FIELD: &str = "SecurityKey";
const ORIGIN_FIELD: &str = "Origin";

pub enum Pending {
    Registration {
        account: String,
        origin: Url,
        state: SecurityKeyRegistration,
    },
    SignIn {
        account: String,
        origin: Url,
        state: SecurityKeyAuthentication,
    },
}

/// WebAuthn challenges awaiting their answer.
pub type Challenges = super::challenges::Challenges<Pending>;

/// The origin of the address a browser signs in on, checked to be one
/// WebAuthn works on.
pub fn relying_party(self_address: &str) -> Result<Url, String> {
    let url = Url::parse(self_address.trim())
        .map_err(|e| format!("'{self_address}' is not an address: {e}"))?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let secure = url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
    if !secure || host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "security keys work on an https:// address with a host name (or http://localhost), not '{self_address}'"
        ));
    }
    let origin = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default())
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default();
    Url::parse(&origin).map_err(|e| e.to_string())
}

fn relying_party_of(origin: &Url) -> ApiResult<Webauthn> {
    let rp_id = origin.host_str().unwrap_or_default();
    // The key is a second factor after the password, as U2F keys were:
    // touching it suffices, no PIN (user verification) is asked for.
    WebauthnBuilder::new(rp_id, origin)
        .and_then(|builder| {
            builder
                .rp_name("Halley")
                .danger_set_user_presence_only_security_keys(true)
                .build()
        })
        .map_err(|e| {
            ApiError::bad_request(format!("Security keys cannot be used on {origin}: {e}"))
        })
}

/// A registration's verified key and the origin it belongs to.
fn stored_key(registration: &AdminWebAuthnRegistration) -> Option<(SecurityKey, Url)> {
    let key = serde_json::from_value(registration.extra.get(KEY_FIELD)?.clone()).ok()?;
    let origin = Url::parse(registration.extra.get(ORIGIN_FIELD)?.as_str()?).ok()?;
    Some((key, origin))
}

/// The keys of `admin` registered for `host`.
pub fn keys_for_host(admin: &AllowedAdminUser, host: &str) -> Vec<(SecurityKey, Url)> {
    admin
        .web_authn_registrations
        .iter()
        .filter_map(stored_key)
        .filter(|(_, origin)| {
            origin
                .host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case(host))
        })
        .collect()
}

/// Starts registering a key for `admin` on `self_address`: the challenge's
/// ID and the options for `navigator.credentials.create`.
pub fn start_registration(
    challenges: &Challenges,
    account: &str,
    admin: &AllowedAdminUser,
    self_address: &str,
) -> ApiResult<(String, Value)> {
    let origin =
        relying_party(self_address).map_err(|why| ApiError::invalid_param("SelfAddress", why))?;
    let existing: Vec<CredentialID> = admin
        .web_authn_registrations
        .iter()
        .filter_map(stored_key)
        .map(|(key, _)| key.cred_id().clone())
        .collect();
    let (options, state) = relying_party_of(&origin)?
        .start_securitykey_registration(
            Uuid::new_v4(),
            &admin.username,
            &admin.username,
            Some(existing),
            None,
            None,
        )
        .map_err(|e| ApiError::internal(format!("starting a WebAuthn registration: {e}")))?;
    let id = challenges.put(Pending::Registration {
        account: account.to_string(),
        origin,
        state,
    });
    let options = serde_json::to_value(options.public_key).map_err(ApiError::internal)?;
    Ok((id, go_bytes(options)))
}

/// Verifies the browser's answer to a registration challenge: the new
/// registration, named `description`.
pub fn finish_registration(
    challenges: &Challenges,
    account: &str,
    challenge_id: &str,
    self_address: &str,
    credential: &str,
    description: &str,
) -> ApiResult<AdminWebAuthnRegistration> {
    let Some(Pending::Registration {
        account: owner,
        origin,
        state,
    }) = challenges.take(challenge_id)
    else {
        return Err(unknown_challenge());
    };
    if owner != account {
        return Err(unknown_challenge());
    }
    let address =
        relying_party(self_address).map_err(|why| ApiError::invalid_param("SelfAddress", why))?;
    if address != origin {
        return Err(ApiError::invalid_param(
            "SelfAddress",
            format!("the challenge was made for {origin}, not {address}"),
        ));
    }
    let answer: RegisterPublicKeyCredential = serde_json::from_str(credential).map_err(|e| {
        ApiError::invalid_param("Credential", format!("not a WebAuthn credential: {e}"))
    })?;
    let key = relying_party_of(&origin)?
        .finish_securitykey_registration(&answer, &state)
        .map_err(|e| {
            ApiError::invalid_param(
                "Credential",
                format!("the security key's answer was refused: {e}"),
            )
        })?;
    let mut registration = AdminWebAuthnRegistration {
        description: if description.trim().is_empty() {
            format!("Security key for {}", origin.host_str().unwrap_or_default())
        } else {
            description.trim().to_string()
        },
        register_time: now_unix(),
        r#type: WEBAUTHN_DEVICE_TYPE__HARDWARE_TOKEN,
        id: key.cred_id().as_slice().to_vec().into(),
        ..Default::default()
    };
    store_key(&mut registration, &key, &origin)?;
    Ok(registration)
}

/// Keeps `key` (and its counter) in `registration`.
fn store_key(
    registration: &mut AdminWebAuthnRegistration,
    key: &SecurityKey,
    origin: &Url,
) -> ApiResult<()> {
    let stored = serde_json::to_value(key).map_err(ApiError::internal)?;
    registration.credential = WebAuthnCredential {
        attestation_type: "none".into(),
        sign_count: stored["cred"]["counter"].as_u64().unwrap_or(0) as u32,
        ..Default::default()
    };
    registration.extra.insert(KEY_FIELD.into(), stored);
    registration
        .extra
        .insert(ORIGIN_FIELD.into(), Value::String(origin.to_string()));
    Ok(())
}

fn unknown_challenge() -> ApiError {
    ApiError::invalid_param(
        "ChallengeID",
        "no such challenge: it was answered already, expired after 5 minutes, or is another account's",
    )
}

/// A sign-in challenge for the keys of `admin` on `host`, as the
/// `X-Comet-U2F-Challenge` header carries it (a `WebAuthnSignRequest`);
/// `None` when no key is registered for that host.
pub fn start_sign_in(
    challenges: &Challenges,
    account: &str,
    admin: &AllowedAdminUser,
    host: &str,
) -> ApiResult<Option<String>> {
    let keys = keys_for_host(admin, host);
    let Some((_, origin)) = keys.first() else {
        return Ok(None);
    };
    let origin = origin.clone();
    let keys: Vec<SecurityKey> = keys.into_iter().map(|(key, _)| key).collect();
    let (options, state) = relying_party_of(&origin)?
        .start_securitykey_authentication(&keys)
        .map_err(|e| ApiError::internal(format!("starting a WebAuthn sign-in: {e}")))?;
    let id = challenges.put(Pending::SignIn {
        account: account.to_string(),
        origin,
        state,
    });
    let options = serde_json::to_value(options.public_key).map_err(ApiError::internal)?;
    Ok(Some(
        json!({"ChallengeID": id, "Assertion": {"publicKey": go_bytes(options)}}).to_string(),
    ))
}

/// Verifies `WebAuthnSign` (a `WebAuthnSignResponse`) for `account`; the
/// ID of the key used and its registration with the new counter.
pub fn finish_sign_in(
    challenges: &Challenges,
    account: &str,
    admin: &AllowedAdminUser,
    sign: &str,
) -> Result<AdminWebAuthnRegistration, String> {
    let answer: Value =
        serde_json::from_str(sign).map_err(|e| format!("WebAuthnSign is not JSON: {e}"))?;
    let challenge_id = answer["ChallengeID"].as_str().unwrap_or_default();
    let Some(Pending::SignIn {
        account: owner,
        origin,
        state,
    }) = challenges.take(challenge_id)
    else {
        return Err("WebAuthnSign names no open challenge".into());
    };
    if owner != account {
        return Err("WebAuthnSign answers another account's challenge".into());
    }
    let credential: PublicKeyCredential =
        serde_json::from_str(answer["CredentialJSON"].as_str().unwrap_or_default())
            .map_err(|e| format!("CredentialJSON is not a WebAuthn credential: {e}"))?;
    let result = relying_party_of(&origin)
        .map_err(|e| e.message())?
        .finish_securitykey_authentication(&credential, &state)
        .map_err(|e| format!("the security key's signature was refused: {e}"))?;
    let mut registration = admin
        .web_authn_registrations
        .iter()
        .find(|r| r.id.as_slice() == result.cred_id().as_slice())
        .cloned()
        .ok_or("the key used is not registered")?;
    let (mut key, origin) = stored_key(&registration).ok_or("the key's registration is damaged")?;
    key.update_credential(&result);
    store_key(&mut registration, &key, &origin).map_err(|e| e.message())?;
    Ok(registration)
}

/// The options with their binary fields (challenge, user ID, credential
/// IDs) in standard base64, as the SDKs' `[]byte` fields are written.
fn go_bytes(mut options: Value) -> Value {
    fn convert(value: Option<&mut Value>) {
        let Some(value) = value else { return };
        if let Some(text) = value.as_str() {
            if let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text) {
                *value = Value::String(base64::engine::general_purpose::STANDARD.encode(raw));
            }
        }
    }
    convert(options.pointer_mut("/challenge"));
    convert(options.pointer_mut("/user/id"));
    for list in ["/excludeCredentials", "/allowCredentials"] {
        if let Some(items) = options.pointer_mut(list).and_then(Value::as_array_mut) {
            for item in items {
                convert(item.get_mut("id"));
            }
        }
    }
    if let Some(fields) = options.as_object_mut() {
        fields.retain(|_, v| !v.is_null());
    }
    options
}
