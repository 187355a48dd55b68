//! External administrator authentication sources: where they are kept, how
//! their secrets are obscured, and what a valid one is.
//!
//! The top level keeps its sources in `cometd.cfg`'s `ExternalAdminUserSources`.
//! A tenant keeps its own under the same key inside its `Organization` entry,
//! whose structure mirrors the top level. The key is left out of a tenant that
//! has no sources, so such an `Organization` reads exactly as before.

use std::collections::BTreeMap;

use halley_api::constants::{
    LDAPSECURITYMETHOD_LDAPS, LDAPSECURITYMETHOD_PLAIN, LDAPSECURITYMETHOD_STARTTLS,
    REMOTESERVER_LDAP, REMOTESERVER_OIDC,
};
use halley_api::types::{
    AdminUserPermissions, ExternalAuthenticationSource, Organization, ServerConfigOptions,
};

use super::OBSCURED;

/// The key of a tenant's sources inside its `Organization`.
pub const TENANT_KEY: &str = "ExternalAdminUserSources";

/// The macros a source's `BindUser`, `BindPassword` and `SearchFilter` may hold.
pub const USER_MACRO: &str = "%{USER}";
pub const PASS_MACRO: &str = "%{PASS}";

pub type Sources = BTreeMap<String, ExternalAuthenticationSource>;

/// A tenant's sources. An entry that no longer parses (a hand edit gone
/// wrong) reads as none, with a warning.
pub fn of_tenant(org: &Organization) -> Sources {
    match org.extra.get(TENANT_KEY) {
        None => Sources::new(),
        Some(value) => serde_json::from_value(value.clone()).unwrap_or_else(|err| {
            tracing::warn!("a tenant's {TENANT_KEY} is not a map of sources: {err}");
            Sources::new()
        }),
    }
}

pub fn set_tenant(org: &mut Organization, sources: Sources) {
    if sources.is_empty() {
        org.extra.remove(TENANT_KEY);
    } else {
        let value = serde_json::to_value(&sources).unwrap_or_default();
        org.extra.insert(TENANT_KEY.to_string(), value);
    }
}

/// The sources of one scope (`""` for the top level); `None` when the tenant
/// does not exist.
pub fn of_scope(config: &ServerConfigOptions, organization: &str) -> Option<Sources> {
    if organization.is_empty() {
        return Some(config.external_admin_user_sources.clone());
    }
    config.organizations.get(organization).map(of_tenant)
}

/// Replaces the sources of one scope; `false` when the tenant does not exist.
pub fn set_scope(config: &mut ServerConfigOptions, organization: &str, sources: Sources) -> bool {
    if organization.is_empty() {
        config.external_admin_user_sources = sources;
        return true;
    }
    match config.organizations.get_mut(organization) {
        Some(org) => {
            set_tenant(org, sources);
            true
        }
        None => false,
    }
}

/// The source an external administrator signs in with.
pub fn find(
    config: &ServerConfigOptions,
    organization: &str,
    id: &str,
) -> Option<ExternalAuthenticationSource> {
    of_scope(config, organization)?.remove(id)
}

/// The sources that may sign in a new administrator on a host name, in the
/// order they are tried, each with its tenant: on a tenant's host name that
/// tenant's, elsewhere the top level's. A tenant's directory only ever sees
/// sign-ins meant for that tenant, so a tenant without host names has no
/// external sign-in (its sources would otherwise receive the passwords of
/// everyone who signs in on the default host).
pub fn for_host(
    config: &ServerConfigOptions,
    host: &str,
) -> Vec<(String, String, ExternalAuthenticationSource)> {
    let scope = super::admins::tenant_for_host(config, host)
        .unwrap_or("")
        .to_string();
    of_scope(config, &scope)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, source)| source.r#type == REMOTESERVER_LDAP)
        .map(|(id, source)| (scope.clone(), id, source))
        .collect()
}

fn obscure_secret(secret: &mut String) {
    if !secret.is_empty() {
        *secret = OBSCURED.to_string();
    }
}

/// A source as shown to administrators: bind password and client secrets obscured.
pub fn obscured(source: &ExternalAuthenticationSource) -> ExternalAuthenticationSource {
    let mut source = source.clone();
    obscure_secret(&mut source.password);
    obscure_secret(&mut source.ldap.bind_password);
    obscure_secret(&mut source.oidc.client_secret);
    source
}

pub fn obscured_all(sources: &Sources) -> Sources {
    sources
        .iter()
        .map(|(id, source)| (id.clone(), obscured(source)))
        .collect()
}

/// Puts back the stored secrets wherever an obscured placeholder came back.
pub fn restore(
    source: &mut ExternalAuthenticationSource,
    stored: Option<&ExternalAuthenticationSource>,
) {
    let keep = |incoming: &mut String, stored: Option<&String>| {
        if incoming == OBSCURED {
            *incoming = stored.cloned().unwrap_or_default();
        }
    };
    keep(&mut source.password, stored.map(|s| &s.password));
    keep(
        &mut source.ldap.bind_password,
        stored.map(|s| &s.ldap.bind_password),
    );
    keep(
        &mut source.oidc.client_secret,
        stored.map(|s| &s.oidc.client_secret),
    );
}

pub fn restore_all(sources: &mut Sources, stored: &Sources) {
    for (id, source) in sources.iter_mut() {
        restore(source, stored.get(id));
    }
}

/// Obscures every source in a configuration shown whole (server config get).
pub fn obscure_config(config: &mut ServerConfigOptions) {
    config.external_admin_user_sources = obscured_all(&config.external_admin_user_sources);
    for org in config.organizations.values_mut() {
        obscure_tenant(org);
    }
}

pub fn obscure_tenant(org: &mut Organization) {
    if org.extra.contains_key(TENANT_KEY) {
        let sources = obscured_all(&of_tenant(org));
        set_tenant(org, sources);
    }
}

/// Prepares a tenant entry that replaces the stored one: obscured secrets are
/// restored, and an entry without the sources key (as written by a client
/// that knows nothing of it) keeps the stored sources. An empty map removes them.
pub fn restore_tenant(org: &mut Organization, stored: Option<&Organization>) {
    let stored_sources = stored.map(of_tenant).unwrap_or_default();
    if org.extra.contains_key(TENANT_KEY) {
        let mut sources = of_tenant(org);
        restore_all(&mut sources, &stored_sources);
        set_tenant(org, sources);
    } else {
        set_tenant(org, stored_sources);
    }
}

/// Restores every obscured secret of a whole configuration from the stored one.
pub fn restore_config(config: &mut ServerConfigOptions, stored: &ServerConfigOptions) {
    restore_all(
        &mut config.external_admin_user_sources,
        &stored.external_admin_user_sources,
    );
    for (id, org) in config.organizations.iter_mut() {
        restore_tenant(org, stored.organizations.get(id));
    }
}

/// The connection defaults of a source, filled in: `plain` security and the
/// usual port of its method.
pub fn normalise(source: &mut ExternalAuthenticationSource) {
    if source.r#type != REMOTESERVER_LDAP {
        return;
    }
    let ldap = &mut source.ldap;
    ldap.hostname = ldap.hostname.trim().to_string();
    if ldap.security_method.is_empty() {
        ldap.security_method = LDAPSECURITYMETHOD_PLAIN.to_string();
    }
    ldap.security_method = ldap.security_method.to_ascii_lowercase();
    for server in &mut ldap.fallback_servers {
        server.hostname = server.hostname.trim().to_string();
        if server.security_method.is_empty() {
            server.security_method = ldap.security_method.clone();
        }
        server.security_method = server.security_method.to_ascii_lowercase();
    }
}

/// The port a connection uses when the source leaves it at 0.
pub fn default_port(security_method: &str) -> i64 {
    if security_method == LDAPSECURITYMETHOD_LDAPS {
        636
    } else {
        389
    }
}

fn check_server(what: &str, hostname: &str, port: i64, method: &str) -> Result<(), String> {
    if hostname.is_empty() {
        return Err(format!(
            "{what} has no Hostname: the LDAP server's address is required"
        ));
    }
    if hostname.contains("://") || hostname.contains('/') {
        return Err(format!(
            "{what} Hostname '{hostname}' must be a host name or address alone; the scheme follows SecurityMethod"
        ));
    }
    if !(0..=65535).contains(&port) {
        return Err(format!("{what} Port {port} is not a TCP port"));
    }
    if ![
        LDAPSECURITYMETHOD_PLAIN,
        LDAPSECURITYMETHOD_LDAPS,
        LDAPSECURITYMETHOD_STARTTLS,
    ]
    .contains(&method)
    {
        return Err(format!(
            "{what} SecurityMethod '{method}' is not one of plain, ldaps, starttls"
        ));
    }
    Ok(())
}

/// Why a source cannot be stored, in words for the administrator. Expects a
/// [`normalise`]d source.
pub fn validate(source: &ExternalAuthenticationSource) -> Result<(), String> {
    match source.r#type.as_str() {
        REMOTESERVER_LDAP => {
            let ldap = &source.ldap;
            check_server("LDAP", &ldap.hostname, ldap.port, &ldap.security_method)?;
            for (index, server) in ldap.fallback_servers.iter().enumerate() {
                check_server(
                    &format!("FallbackServers[{index}]"),
                    &server.hostname,
                    server.port,
                    &server.security_method,
                )?;
            }
            let direct = ldap.bind_user.contains(USER_MACRO);
            if direct
                && !ldap.bind_password.is_empty()
                && !ldap.bind_password.contains(PASS_MACRO)
            {
                return Err(format!(
                    "BindUser names the signing-in user ({USER_MACRO}), so BindPassword must be empty or hold {PASS_MACRO}"
                ));
            }
            if !direct && ldap.search_filter.trim().is_empty() {
                return Err(format!(
                    "SearchFilter is required to find the signing-in user (for example (uid={USER_MACRO})), unless BindUser holds {USER_MACRO}"
                ));
            }
            if !direct && !ldap.search_filter.contains(USER_MACRO) {
                return Err(format!(
                    "SearchFilter must hold {USER_MACRO}, the name the administrator signs in with"
                ));
            }
            if !ldap.search_filter.is_empty() {
                let probe = ldap.search_filter.replace(USER_MACRO, "probe");
                if !(probe.starts_with('(') && probe.ends_with(')')) {
                    return Err(format!(
                        "SearchFilter '{}' is not an LDAP filter in parentheses",
                        ldap.search_filter
                    ));
                }
            }
            Ok(())
        }
        REMOTESERVER_OIDC => {
            if source.oidc.client_id.trim().is_empty() {
                return Err("an OIDC source needs a ClientID".into());
            }
            Ok(())
        }
        "" => Err(format!(
            "Type is required ({REMOTESERVER_LDAP} or {REMOTESERVER_OIDC})"
        )),
        other => Err(format!(
            "Type '{other}' is not an external authentication source type ({REMOTESERVER_LDAP} or {REMOTESERVER_OIDC})"
        )),
    }
}

/// Why `granted` gives more than `holder` has, when it does: a tenant
/// administrator's sources may hand out no permission it lacks itself.
pub fn exceeds(granted: &AdminUserPermissions, holder: &AdminUserPermissions) -> Option<String> {
    let granted = serde_json::to_value(granted).unwrap_or_default();
    let holder = serde_json::to_value(holder).unwrap_or_default();
    let truthy = |value: Option<&serde_json::Value>| value.and_then(|v| v.as_bool()) == Some(true);
    let list = |value: Option<&serde_json::Value>| -> Vec<serde_json::Value> {
        value
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default()
    };
    let names: std::collections::BTreeSet<&String> = granted
        .as_object()
        .into_iter()
        .chain(holder.as_object())
        .flat_map(|map| map.keys())
        .collect();
    for name in names {
        let (given, held) = (granted.get(name), holder.get(name));
        let is_list = given.is_some_and(|v| v.is_array()) || held.is_some_and(|v| v.is_array());
        if is_list {
            let held = list(held);
            if !held.is_empty() {
                let given = list(given);
                if given.is_empty() || given.iter().any(|v| !held.contains(v)) {
                    return Some(format!("{name} beyond this administrator's own"));
                }
            }
        } else if name.starts_with("Allow") {
            if truthy(given) && !truthy(held) {
                return Some(name.clone());
            }
        } else if truthy(held) && !truthy(given) {
            return Some(format!("{name} turned off"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ldap(bind_user: &str, bind_password: &str, filter: &str) -> ExternalAuthenticationSource {
        let mut source = ExternalAuthenticationSource {
            r#type: REMOTESERVER_LDAP.into(),
            ..Default::default()
        };
        source.ldap.hostname = " ldap.example.com ".into();
        source.ldap.bind_user = bind_user.into();
        source.ldap.bind_password = bind_password.into();
        source.ldap.search_filter = filter.into();
        normalise(&mut source);
        source
    }

    #[test]
    fn validation_names_what_is_wrong() {
        assert!(validate(&ldap("cn=reader", "pw", "(uid=%{USER})")).is_ok());
        assert!(validate(&ldap("uid=%{USER},dc=example", "%{PASS}", "")).is_ok());
        assert!(validate(&ldap("uid=%{USER},dc=example", "", "")).is_ok());
        let fixed = validate(&ldap("uid=%{USER},dc=example", "fixed", "")).unwrap_err();
        assert!(fixed.contains("%{PASS}"), "{fixed}");
        let no_filter = validate(&ldap("cn=reader", "pw", "")).unwrap_err();
        assert!(no_filter.contains("SearchFilter"), "{no_filter}");
        let no_user = validate(&ldap("cn=reader", "pw", "(uid=alice)")).unwrap_err();
        assert!(no_user.contains("%{USER}"), "{no_user}");
        let mut url = ldap("cn=reader", "pw", "(uid=%{USER})");
        url.ldap.hostname = "ldap://ldap.example.com".into();
        assert!(validate(&url).unwrap_err().contains("Hostname"));
        let source = ldap("cn=reader", "pw", "(uid=%{USER})");
        assert_eq!(source.ldap.hostname, "ldap.example.com");
        assert_eq!(source.ldap.security_method, LDAPSECURITYMETHOD_PLAIN);
    }

    #[test]
    fn secrets_are_obscured_and_restored() {
        let stored = ldap("cn=reader", "readerpass", "(uid=%{USER})");
        let mut shown = obscured(&stored);
        assert_eq!(shown.ldap.bind_password, OBSCURED);
        restore(&mut shown, Some(&stored));
        assert_eq!(shown.ldap.bind_password, "readerpass");
        let mut fresh = obscured(&stored);
        restore(&mut fresh, None);
        assert_eq!(fresh.ldap.bind_password, "");
    }

    #[test]
    fn a_source_grants_no_more_than_its_editor_holds() {
        let holder = AdminUserPermissions {
            allow_edit_external_auth_sources: true,
            prevent_server_shutdown: true,
            allowed_user_policies: vec!["basic".into()],
            ..Default::default()
        };
        let same = AdminUserPermissions {
            prevent_server_shutdown: true,
            allowed_user_policies: vec!["basic".into()],
            ..Default::default()
        };
        assert_eq!(exceeds(&same, &holder), None);
        let branding = AdminUserPermissions {
            allow_edit_branding: true,
            ..same.clone()
        };
        assert_eq!(
            exceeds(&branding, &holder).as_deref(),
            Some("AllowEditBranding")
        );
        let unrestricted = AdminUserPermissions {
            prevent_server_shutdown: false,
            ..same.clone()
        };
        assert!(exceeds(&unrestricted, &holder)
            .unwrap()
            .contains("PreventServerShutdown"));
        let every_policy = AdminUserPermissions {
            allowed_user_policies: vec![],
            ..same
        };
        assert!(exceeds(&every_policy, &holder)
            .unwrap()
            .contains("AllowedUserPolicies"));
    }
}
