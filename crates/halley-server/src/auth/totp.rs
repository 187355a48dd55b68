//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s steps), the
//! second factor of both administrators and end users.

use totp_rs::{Algorithm, Secret, TOTP};

/// A new random secret, base32-encoded as stored in `TOTPKey`.
pub fn new_secret() -> String {
    Secret::generate_secret().to_encoded().to_string()
}

fn totp(secret: &str, issuer: &str, account: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret.to_string()).to_bytes().ok()?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        Some(issuer.to_string()),
        account.to_string(),
    )
    .ok()
}

/// The `otpauth://` URL and a QR code of it as a `data:` URI of a PNG.
pub fn enrolment(secret: &str, issuer: &str, account: &str) -> Option<(String, String)> {
    let totp = totp(secret, issuer, account)?;
    let image = totp.get_qr_base64().ok()?;
    Some((totp.get_url(), format!("data:image/png;base64,{image}")))
}

/// The time step `code` belongs to, if it is valid now (one step of clock
/// skew either way). The caller claims the step in the store
/// ([`crate::store::Store::totp_claim_step`]) so that a code works once,
/// across restarts and nodes.
pub fn matching_step(secret: &str, code: &str) -> Option<u64> {
    // The label plays no part in the code; an account name may hold a ':'
    // that the otpauth label format forbids.
    let totp = totp(secret, "Halley", "account")?;
    let code = code.trim();
    if code.is_empty() {
        return None;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let step = now / 30;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|candidate| totp.generate(candidate * 30) == code)
}

/// True when `code` is valid now for `secret` and was not used by `account`
/// before (nor any later code).
pub async fn check(
    store: &dyn crate::store::Store,
    account: &str,
    secret: &str,
    code: &str,
) -> crate::http::ApiResult<bool> {
    let Some(step) = matching_step(secret, code) else {
        return Ok(false);
    };
    // The table names no account: a copy of the database (a tenant's
    // self-backup, say) shows no other scope's account names.
    let account = blake3::hash(account.as_bytes()).to_hex();
    Ok(store.totp_claim_step(&account, step as i64).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_code_matches_its_step_and_others_do_not() {
        let secret = new_secret();
        let code = totp(&secret, "x", "a").unwrap().generate_current().unwrap();
        assert!(matching_step(&secret, &code).is_some());
        assert_eq!(matching_step(&secret, ""), None);
        assert_eq!(matching_step("not base32!", &code), None);
    }

    #[test]
    fn enrolment_gives_url_and_png_data_uri() {
        let (url, image) = enrolment(&new_secret(), "Halley", "admin").unwrap();
        assert!(url.starts_with("otpauth://totp/"));
        assert!(image.starts_with("data:image/png;base64,"));
    }
}
