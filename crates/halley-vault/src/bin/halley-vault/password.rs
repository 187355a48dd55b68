//! Where the vault password comes from: the environment, else a prompt.

use anyhow::{bail, Context, Result};

/// The password from `HALLEY_VAULT_PASSWORD`, else asked on the terminal
/// (twice when `confirm`, for `init`).
pub fn get(confirm: bool) -> Result<String> {
    if let Ok(pw) = std::env::var("HALLEY_VAULT_PASSWORD") {
        return Ok(pw);
    }
    let pw = rpassword::prompt_password("vault password: ")
        .context("reading the password (set HALLEY_VAULT_PASSWORD when there is no terminal)")?;
    if confirm {
        let again = rpassword::prompt_password("again: ").context("reading the password")?;
        if again != pw {
            bail!("the passwords differ");
        }
    }
    if pw.is_empty() {
        bail!("empty password");
    }
    Ok(pw)
}
