//! Checking an administrator's name and password against an LDAP directory
//! (`ExternalLDAPAuthenticationSourceSettings`).
//!
//! Two ways, chosen by `BindUser`:
//!
//! - **search, then bind** (`BindUser` is a service account, or empty for an
//!   anonymous search): bind as the service account, look the administrator up
//!   under `SearchDN` with `SearchFilter` (`%{USER}` stands for the name typed),
//!   which must find exactly one entry, then bind as that entry with the
//!   password typed;
//! - **direct bind** (`BindUser` holds `%{USER}`, say
//!   `uid=%{USER},ou=people,dc=example,dc=com` or `%{USER}@example.com`): bind
//!   as that name with `BindPassword` (`%{PASS}` stands for the password typed;
//!   empty means the password typed); a `SearchFilter`, when given, must then
//!   find at least one entry under `SearchDN`.
//!
//! Group membership is a condition of the filter, e.g.
//! `(&(uid=%{USER})(memberOf=cn=backup-admins,ou=groups,dc=example,dc=com))`.
//! The primary server is tried first, then `FallbackServers` in order, each
//! only while the ones before it cannot be reached.

use std::time::Duration;

use halley_api::constants::{LDAPSECURITYMETHOD_LDAPS, LDAPSECURITYMETHOD_STARTTLS};
use halley_api::types::ExternalLDAPAuthenticationSourceSettings;
use ldap3::{
    dn_escape, ldap_escape, LdapConnAsync, LdapConnSettings, LdapError, Scope, SearchEntry,
};

use crate::service::external_auth::{default_port, PASS_MACRO, USER_MACRO};

/// How long one server has to accept a connection, and to answer one request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// LDAP's result code for wrong credentials.
const INVALID_CREDENTIALS: u32 = 49;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The directory vouches for the name and password.
    Accepted,
    /// The directory answered, and the answer is no; why, for the log.
    Refused(String),
    /// No answer to go by: no server could be reached, or the source's own
    /// settings (service account, search base) are refused; why, for the log.
    Unavailable(String),
}

struct Server<'a> {
    hostname: &'a str,
    port: i64,
    security_method: &'a str,
    accept_invalid_ssl: bool,
}

impl Server<'_> {
    fn url(&self) -> String {
        let scheme = if self.security_method == LDAPSECURITYMETHOD_LDAPS {
            "ldaps"
        } else {
            "ldap"
        };
        let port = if self.port == 0 {
            default_port(self.security_method)
        } else {
            self.port
        };
        let host = if self.hostname.contains(':') && !self.hostname.starts_with('[') {
            format!("[{}]", self.hostname)
        } else {
            self.hostname.to_string()
        };
        format!("{scheme}://{host}:{port}")
    }
}

/// Checks `username` and `password` against the directory `settings` names.
pub async fn verify(
    settings: &ExternalLDAPAuthenticationSourceSettings,
    username: &str,
    password: &str,
) -> Outcome {
    // An empty password makes a simple bind anonymous, which servers accept:
    // it would prove nothing.
    if password.is_empty() {
        return Outcome::Refused("empty password".into());
    }
    let servers = std::iter::once(Server {
        hostname: &settings.hostname,
        port: settings.port,
        security_method: &settings.security_method,
        accept_invalid_ssl: settings.accept_invalid_ssl,
    })
    .chain(settings.fallback_servers.iter().map(|s| Server {
        hostname: &s.hostname,
        port: s.port,
        security_method: &s.security_method,
        accept_invalid_ssl: s.accept_invalid_ssl,
    }));
    let mut unreachable = Vec::new();
    for server in servers {
        let url = server.url();
        let connected = tokio::time::timeout(CONNECT_TIMEOUT * 2, connect(&server)).await;
        let mut ldap = match connected {
            Ok(Ok(ldap)) => ldap,
            Ok(Err(err)) => {
                unreachable.push(format!("{url}: {err}"));
                continue;
            }
            Err(_) => {
                unreachable.push(format!("{url}: no answer in time"));
                continue;
            }
        };
        let outcome = match tokio::time::timeout(
            REQUEST_TIMEOUT * 3,
            check(&mut ldap, settings, username, password),
        )
        .await
        {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(err)) => Outcome::Unavailable(format!("{url}: {err}")),
            Err(_) => Outcome::Unavailable(format!("{url}: no answer in time")),
        };
        let _ = ldap.unbind().await;
        return outcome;
    }
    Outcome::Unavailable(format!(
        "no LDAP server could be reached ({})",
        unreachable.join("; ")
    ))
}

async fn connect(server: &Server<'_>) -> Result<ldap3::Ldap, LdapError> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(CONNECT_TIMEOUT)
        .set_starttls(server.security_method == LDAPSECURITYMETHOD_STARTTLS)
        .set_no_tls_verify(server.accept_invalid_ssl);
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &server.url()).await?;
    tokio::spawn(async move {
        if let Err(err) = conn.drive().await {
            tracing::debug!("LDAP connection ended: {err}");
        }
    });
    Ok(ldap)
}

fn invalid_credentials(err: &LdapError) -> bool {
    matches!(err, LdapError::LdapResult { result } if result.rc == INVALID_CREDENTIALS)
}

async fn bind(ldap: &mut ldap3::Ldap, dn: &str, password: &str) -> Result<(), LdapError> {
    ldap.with_timeout(REQUEST_TIMEOUT)
        .simple_bind(dn, password)
        .await?
        .success()
        .map(|_| ())
}

/// The DNs `filter` finds under `base`.
async fn search(
    ldap: &mut ldap3::Ldap,
    base: &str,
    filter: &str,
) -> Result<Vec<String>, LdapError> {
    let (entries, _) = ldap
        .with_timeout(REQUEST_TIMEOUT)
        .search(base, Scope::Subtree, filter, vec!["1.1"])
        .await?
        .success()?;
    Ok(entries
        .into_iter()
        .map(|entry| SearchEntry::construct(entry).dn)
        .collect())
}

async fn check(
    ldap: &mut ldap3::Ldap,
    settings: &ExternalLDAPAuthenticationSourceSettings,
    username: &str,
    password: &str,
) -> Result<Outcome, LdapError> {
    let filter = settings
        .search_filter
        .replace(USER_MACRO, &ldap_escape(username));
    if settings.bind_user.contains(USER_MACRO) {
        let dn = settings.bind_user.replace(USER_MACRO, &dn_escape(username));
        let bind_password = if settings.bind_password.is_empty() {
            password.to_string()
        } else if settings.bind_password.contains(PASS_MACRO) {
            settings.bind_password.replace(PASS_MACRO, password)
        } else {
            return Ok(Outcome::Unavailable(format!(
                "BindUser holds {USER_MACRO} but BindPassword does not hold {PASS_MACRO}"
            )));
        };
        match bind(ldap, &dn, &bind_password).await {
            Ok(()) => {}
            Err(err) if invalid_credentials(&err) => {
                return Ok(Outcome::Refused(format!("bind as '{dn}' refused")))
            }
            Err(err) => return Err(err),
        }
        if filter.trim().is_empty() {
            return Ok(Outcome::Accepted);
        }
        return Ok(
            match search(ldap, &settings.search_dn, &filter).await?.len() {
                0 => Outcome::Refused(format!("'{dn}' is not matched by the SearchFilter")),
                _ => Outcome::Accepted,
            },
        );
    }
    if !settings.bind_user.is_empty() {
        let service_password = settings.bind_password.replace(PASS_MACRO, password);
        match bind(ldap, &settings.bind_user, &service_password).await {
            Ok(()) => {}
            Err(err) if invalid_credentials(&err) => {
                return Ok(Outcome::Unavailable(format!(
                    "the directory refuses the source's BindUser '{}'",
                    settings.bind_user
                )))
            }
            Err(err) => return Err(err),
        }
    }
    if filter.trim().is_empty() {
        return Ok(Outcome::Unavailable(
            "the source has neither a SearchFilter nor a BindUser holding %{USER}".into(),
        ));
    }
    let found = search(ldap, &settings.search_dn, &filter).await?;
    let dn = match found.as_slice() {
        [dn] => dn.clone(),
        [] => return Ok(Outcome::Refused("no entry matches the SearchFilter".into())),
        _ => {
            return Ok(Outcome::Refused(format!(
                "{} entries match the SearchFilter; it must find one",
                found.len()
            )))
        }
    };
    Ok(match bind(ldap, &dn, password).await {
        Ok(()) => Outcome::Accepted,
        Err(err) if invalid_credentials(&err) => {
            Outcome::Refused(format!("bind as '{dn}' refused"))
        }
        Err(err) => return Err(err),
    })
}
