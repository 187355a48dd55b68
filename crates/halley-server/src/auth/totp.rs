//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s steps), the
//! second factor of both administrators and end users.

use std::collections::HashMap;
use std::sync::Mutex;

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

/// Remembers the last accepted time step per account so a code works once.
#[derive(Default)]
pub struct TotpGuard {
    last_step: Mutex<HashMap<String, u64>>,
}

impl TotpGuard {
    /// True when `code` is valid now (one step of clock skew either way) and
    /// was not already used for this account.
    pub fn check(&self, account: &str, secret: &str, code: &str) -> bool {
        // The label plays no part in the code; `account` may hold a ':' that
        // the otpauth label format forbids.
        let Some(totp) = totp(secret, "Halley", "account") else {
            return false;
        };
        let code = code.trim();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let step = now / 30;
        let mut last = self.last_step.lock().unwrap_or_else(|p| p.into_inner());
        for candidate in [step.saturating_sub(1), step, step + 1] {
            if totp.generate(candidate * 30) == code {
                if last.get(account).is_some_and(|used| *used >= candidate) {
                    return false;
                }
                last.insert(account.to_string(), candidate);
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_accepted_once() {
        let secret = new_secret();
        let code = totp(&secret, "x", "a").unwrap().generate_current().unwrap();
        let guard = TotpGuard::default();
        assert!(guard.check("a", &secret, &code));
        assert!(!guard.check("a", &secret, &code));
        assert!(!guard.check("b", &secret, "000000") || code == "000000");
    }

    #[test]
    fn enrolment_gives_url_and_png_data_uri() {
        let (url, image) = enrolment(&new_secret(), "Halley", "admin").unwrap();
        assert!(url.starts_with("otpauth://totp/"));
        assert!(image.starts_with("data:image/png;base64,"));
    }
}
