//! Legacy FIDO U2F keys (the API's `u2f/*` calls and `AuthType=PasswordU2F`),
//! for clients that still speak U2F; browsers use WebAuthn (`webauthn.rs`).
//!
//! The messages are FIDO U2F's raw formats; the signatures (the attestation
//! certificate's over a registration, the key's over a sign-in) are
//! checked with `ring`, the certificate read with `x509-parser`. The
//! application ID is the origin of the registration's `SelfAddress`, and a
//! key is asked for only on that host. Each registration keeps, beside the
//! API's fields, the key handle, the public key and the counter.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use halley_api::types::{
    AdminU2FRegistration, AllowedAdminUser, U2FRegisterRequest, U2FRegisteredKey,
    U2FRegistrationChallengeResponse,
};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};
use serde_json::{json, Value};

use super::webauthn::relying_party;
use crate::http::{ApiError, ApiResult};
use crate::util::now_unix;

pub const VERSION: &str = "U2F_V2";
const KEY_HANDLE_FIELD: &str = "KeyHandle";
const PUBLIC_KEY_FIELD: &str = "PublicKey";
const APP_ID_FIELD: &str = "AppID";
const COUNTER_FIELD: &str = "Counter";

pub enum Pending {
    Registration {
        account: String,
        app_id: String,
        challenge: String,
    },
    SignIn {
        account: String,
        app_id: String,
        challenge: String,
    },
}

/// U2F challenges awaiting their answer.
pub type Challenges = super::challenges::Challenges<Pending>;

fn sha256(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// Web-safe base64, as U2F writes it; padded or standard also read.
fn decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD.decode(text.trim()).ok())
}

fn new_challenge() -> String {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .expect("the system's random numbers");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn app_id_of(self_address: &str) -> ApiResult<String> {
    let origin =
        relying_party(self_address).map_err(|why| ApiError::invalid_param("SelfAddress", why))?;
    Ok(origin.as_str().trim_end_matches('/').to_string())
}

fn field<'a>(registration: &'a AdminU2FRegistration, name: &str) -> &'a str {
    registration
        .extra
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn registered_keys(admin: &AllowedAdminUser, app_id: &str) -> Vec<U2FRegisteredKey> {
    admin
        .u2f_registrations
        .iter()
        .filter(|r| field(r, APP_ID_FIELD) == app_id)
        .map(|r| U2FRegisteredKey {
            app_id: app_id.to_string(),
            key_handle: field(r, KEY_HANDLE_FIELD).to_string(),
            version: VERSION.into(),
            ..Default::default()
        })
        .collect()
}

/// The application ID of `admin`'s U2F keys for `host`, if any.
fn app_id_for_host<'a>(admin: &'a AllowedAdminUser, host: &str) -> Option<&'a str> {
    admin
        .u2f_registrations
        .iter()
        .map(|r| field(r, APP_ID_FIELD))
        .find(|app_id| {
            webauthn_rs::prelude::Url::parse(app_id)
                .ok()
                .and_then(|u| u.host_str().map(|h| h.eq_ignore_ascii_case(host)))
                .unwrap_or(false)
        })
}

/// Whether `admin` has a U2F key for `host`.
pub fn has_key_for_host(admin: &AllowedAdminUser, host: &str) -> bool {
    app_id_for_host(admin, host).is_some()
}

pub fn start_registration(
    challenges: &Challenges,
    account: &str,
    admin: &AllowedAdminUser,
    self_address: &str,
) -> ApiResult<U2FRegistrationChallengeResponse> {
    let app_id = app_id_of(self_address)?;
    let challenge = new_challenge();
    let id = challenges.put(Pending::Registration {
        account: account.to_string(),
        app_id: app_id.clone(),
        challenge: challenge.clone(),
    });
    Ok(U2FRegistrationChallengeResponse {
        status: 200,
        message: "OK".into(),
        challenge_id: id,
        registered_keys: registered_keys(admin, &app_id),
        register_requests: vec![U2FRegisterRequest {
            challenge,
            version: VERSION.into(),
            ..Default::default()
        }],
        app_id,
        ..Default::default()
    })
}

/// Checks a client's `ClientData` (web-safe base64 of its JSON): the type,
/// the challenge and the origin.
fn check_client_data(
    encoded: &str,
    typ: &str,
    challenge: &str,
    app_id: &str,
) -> Result<Vec<u8>, String> {
    let raw = decode(encoded).ok_or("the client data is not base64")?;
    let data: Value =
        serde_json::from_slice(&raw).map_err(|e| format!("the client data is not JSON: {e}"))?;
    if data["typ"] != typ {
        return Err(format!("the client data is not of type {typ}"));
    }
    if data["challenge"] != challenge {
        return Err("the client data answers another challenge".into());
    }
    if data["origin"].as_str().map(|o| o.trim_end_matches('/')) != Some(app_id) {
        return Err(format!(
            "the client data is from another origin than {app_id}"
        ));
    }
    Ok(raw)
}

/// Verifies a registration message; the new registration, named
/// `description`.
pub fn finish_registration(
    challenges: &Challenges,
    account: &str,
    challenge_id: &str,
    client_data: &str,
    registration_data: &str,
    description: &str,
) -> ApiResult<AdminU2FRegistration> {
    let Some(Pending::Registration {
        account: owner,
        app_id,
        challenge,
    }) = challenges.take(challenge_id)
    else {
        return Err(ApiError::invalid_param(
            "U2FChallengeID",
            "no such challenge: it was answered already, expired after 5 minutes, or is another account's",
        ));
    };
    if owner != account {
        return Err(ApiError::invalid_param(
            "U2FChallengeID",
            "no such challenge: it was answered already, expired after 5 minutes, or is another account's",
        ));
    }
    let client = check_client_data(
        client_data,
        "navigator.id.finishEnrollment",
        &challenge,
        &app_id,
    )
    .map_err(|why| ApiError::invalid_param("U2FClientData", why))?;
    let message = decode(registration_data)
        .ok_or_else(|| ApiError::invalid_param("U2FRegistrationData", "not base64"))?;
    let parsed = parse_registration(&message)
        .map_err(|why| ApiError::invalid_param("U2FRegistrationData", why))?;
    let mut signed = vec![0u8];
    signed.extend(sha256(app_id.as_bytes()));
    signed.extend(sha256(&client));
    signed.extend(parsed.key_handle);
    signed.extend(parsed.public_key);
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &parsed.attestation_key)
        .verify(&signed, parsed.signature)
        .map_err(|_| {
            ApiError::invalid_param(
                "U2FRegistrationData",
                "the attestation signature does not verify",
            )
        })?;
    let mut registration = AdminU2FRegistration {
        description: if description.trim().is_empty() {
            "U2F security key".into()
        } else {
            description.trim().to_string()
        },
        register_time: now_unix(),
        registration: message.clone().into(),
        ..Default::default()
    };
    let extra = &mut registration.extra;
    extra.insert(
        KEY_HANDLE_FIELD.into(),
        json!(URL_SAFE_NO_PAD.encode(parsed.key_handle)),
    );
    extra.insert(
        PUBLIC_KEY_FIELD.into(),
        json!(STANDARD.encode(parsed.public_key)),
    );
    extra.insert(APP_ID_FIELD.into(), json!(app_id));
    extra.insert(COUNTER_FIELD.into(), json!(0));
    Ok(registration)
}

struct Registration<'a> {
    public_key: &'a [u8],
    key_handle: &'a [u8],
    attestation_key: Vec<u8>,
    signature: &'a [u8],
}

/// `0x05 | public key (65) | handle length | handle | certificate (DER) |
/// signature`.
fn parse_registration(message: &[u8]) -> Result<Registration<'_>, String> {
    if message.first() != Some(&0x05) || message.len() < 67 {
        return Err("not a U2F registration message".into());
    }
    let public_key = &message[1..66];
    let handle_length = message[66] as usize;
    let rest = message
        .get(67..)
        .filter(|r| r.len() > handle_length)
        .ok_or("the message ends inside the key handle")?;
    let (key_handle, rest) = rest.split_at(handle_length);
    let (remainder, certificate) = x509_parser::parse_x509_certificate(rest)
        .map_err(|e| format!("the attestation certificate cannot be read: {e}"))?;
    let attestation_key = certificate.public_key().subject_public_key.data.to_vec();
    Ok(Registration {
        public_key,
        key_handle,
        attestation_key,
        signature: remainder,
    })
}

/// A sign-in challenge for the U2F keys of `admin` on `host`, as the
/// `X-Comet-U2F-Challenge` header carries it (a `U2FSignRequest`).
pub fn start_sign_in(
    challenges: &Challenges,
    account: &str,
    admin: &AllowedAdminUser,
    host: &str,
) -> Option<String> {
    let app_id = app_id_for_host(admin, host)?.to_string();
    let challenge = new_challenge();
    let id = challenges.put(Pending::SignIn {
        account: account.to_string(),
        app_id: app_id.clone(),
        challenge: challenge.clone(),
    });
    Some(
        json!({"ChallengeID": id, "ChallengeData": challenge, "AppID": app_id,
               "RegisteredKeys": registered_keys(admin, &app_id)})
        .to_string(),
    )
}

/// Verifies `U2FSign` (a `U2FSignResponse`); the registration of the key
/// used, with its new counter.
pub fn finish_sign_in(
    challenges: &Challenges,
    account: &str,
    admin: &AllowedAdminUser,
    sign: &str,
) -> Result<AdminU2FRegistration, String> {
    let answer: Value =
        serde_json::from_str(sign).map_err(|e| format!("U2FSign is not JSON: {e}"))?;
    let text = |name: &str| answer[name].as_str().unwrap_or_default().to_string();
    let Some(Pending::SignIn {
        account: owner,
        app_id,
        challenge,
    }) = challenges.take(&text("ChallengeID"))
    else {
        return Err("U2FSign names no open challenge".into());
    };
    if owner != account {
        return Err("U2FSign answers another account's challenge".into());
    }
    let client = check_client_data(
        &text("ClientData"),
        "navigator.id.getAssertion",
        &challenge,
        &app_id,
    )?;
    let handle = decode(&text("KeyHandle")).ok_or("the key handle is not base64")?;
    let mut registration = admin
        .u2f_registrations
        .iter()
        .find(|r| {
            field(r, APP_ID_FIELD) == app_id
                && decode(field(r, KEY_HANDLE_FIELD)).as_deref() == Some(handle.as_slice())
        })
        .cloned()
        .ok_or("the key used is not registered")?;
    let signature_data = decode(&text("Signature")).ok_or("the signature is not base64")?;
    if signature_data.len() < 6 || signature_data[0] & 0x01 == 0 {
        return Err("the key did not confirm the user's presence".into());
    }
    let counter = u32::from_be_bytes([
        signature_data[1],
        signature_data[2],
        signature_data[3],
        signature_data[4],
    ]);
    let stored = registration
        .extra
        .get(COUNTER_FIELD)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if u64::from(counter) <= stored {
        return Err(format!("the key's counter {counter} is not past {stored}: a replayed signature, or a cloned key"));
    }
    let public_key = STANDARD
        .decode(field(&registration, PUBLIC_KEY_FIELD))
        .map_err(|_| "the key's registration is damaged")?;
    let mut signed = sha256(app_id.as_bytes());
    signed.extend(&signature_data[..5]);
    signed.extend(sha256(&client));
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &public_key)
        .verify(&signed, &signature_data[5..])
        .map_err(|_| "the key's signature does not verify")?;
    registration
        .extra
        .insert(COUNTER_FIELD.into(), json!(counter));
    Ok(registration)
}
