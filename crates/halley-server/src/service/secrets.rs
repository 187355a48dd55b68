//! Secrets kept in the configuration that answers never carry: each is shown
//! as [`OBSCURED`], and an obscured value sent back keeps the stored secret.
//! Covers the SMTP password of every scope and, through
//! [`external_auth`], the external authentication sources' secrets.

use halley_api::types::{EmailOptions, Organization, ServerConfigOptions};

use super::{external_auth, OBSCURED};

pub fn obscure_email(email: &mut EmailOptions) {
    if !email.smtp_password.is_empty() {
        email.smtp_password = OBSCURED.to_string();
    }
}

/// An obscured SMTP password sent back means "keep the stored one".
pub fn restore_email(email: &mut EmailOptions, stored: &EmailOptions) {
    if email.smtp_password == OBSCURED {
        email.smtp_password = stored.smtp_password.clone();
    }
}

pub fn obscure_tenant(org: &mut Organization) {
    external_auth::obscure_tenant(org);
    obscure_email(&mut org.email);
}

pub fn restore_tenant(org: &mut Organization, stored: Option<&Organization>) {
    external_auth::restore_tenant(org, stored);
    match stored {
        Some(stored) => restore_email(&mut org.email, &stored.email),
        None => restore_email(&mut org.email, &EmailOptions::default()),
    }
}

/// Every secret of a whole configuration except the administrators' own
/// (`api::account::obscured` covers those).
pub fn obscure_config(config: &mut ServerConfigOptions) {
    external_auth::obscure_config(config);
    obscure_email(&mut config.email);
    for org in config.organizations.values_mut() {
        obscure_email(&mut org.email);
    }
}

pub fn restore_config(config: &mut ServerConfigOptions, stored: &ServerConfigOptions) {
    external_auth::restore_config(config, stored);
    restore_email(&mut config.email, &stored.email);
    let none = EmailOptions::default();
    for (id, org) in config.organizations.iter_mut() {
        let stored_email = stored.organizations.get(id).map_or(&none, |o| &o.email);
        restore_email(&mut org.email, stored_email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_obscured_smtp_password_keeps_the_stored_one() {
        let stored = EmailOptions {
            smtp_password: "hunter22".into(),
            ..Default::default()
        };
        let mut shown = stored.clone();
        obscure_email(&mut shown);
        assert_eq!(shown.smtp_password, OBSCURED);
        restore_email(&mut shown, &stored);
        assert_eq!(shown.smtp_password, "hunter22");
        let mut changed = EmailOptions {
            smtp_password: "new-one".into(),
            ..Default::default()
        };
        restore_email(&mut changed, &stored);
        assert_eq!(changed.smtp_password, "new-one");
    }
}
