//! Who is calling. Every request carries its credentials (`Username`,
//! `AuthType`, then `Password`, `SessionKey`, `TOTP`); this module turns them
//! into a [`Principal`] or an error that says nothing about whether the
//! account exists.
//!
//! An administrator name that is not a local administrator is tried against
//! the external authentication sources of the host's tenant ([`ldap`]); the
//! first that vouches for it gets an administrator entry of its own (no
//! password, tied to the source, with the source's `NewUserPermissions`), and
//! that source alone decides that administrator's later sign-ins. Second
//! factors, address allowlists, throttling and login events apply as to
//! local administrators.

pub mod challenges;
pub mod client_address;
pub mod ldap;
pub mod password;
pub mod password_check;
pub mod scope;
pub mod session_cache;
pub mod sessions;
pub mod standing;
pub mod throttle;
pub mod totp;
pub mod u2f;
pub mod verify_pool;
pub mod webauthn;

pub use scope::TenantScope;

use halley_api::constants::{
    REMOTESERVER_LDAP, SEVT_ACCOUNT_ADMIN_LOGIN, SEVT_ACCOUNT_ADMIN_LOGIN_FAILED,
    SEVT_ACCOUNT_ADMIN_NEW, SEVT_ACCOUNT_LOGIN, SEVT_ACCOUNT_LOGIN_FAILED,
};
use halley_api::types::{AllowedAdminUser, ExternalAuthenticationSource, UserProfileConfig};

use crate::http::{ApiError, ApiResult, Params};
use crate::service::external_auth;
use crate::state::AppState;
use crate::store::SessionKind;

pub use standing::{
    admin_still_signed_in, confirm_user_password, refuse_suspended_tenant, session_account_allowed,
};

/// An authenticated caller of kind `K` (an administrator or an end user).
/// Its fields are private and only this module makes one, so a principal
/// (and the [`TenantScope`] it gives) always comes from authentication and
/// cannot be changed to speak for someone else.
#[derive(Debug, Clone)]
pub struct Signed<K> {
    username: String,
    organization_id: String,
    session_key_hash: Option<String>,
    kind: std::marker::PhantomData<K>,
}

/// What distinguishes the kinds of principal.
pub trait PrincipalKind {
    /// The `Actor` prefix of the events a principal of this kind causes.
    const ACTOR: &'static str;
}

#[derive(Debug, Clone)]
pub struct AdminKind;
impl PrincipalKind for AdminKind {
    const ACTOR: &'static str = "admin";
}

#[derive(Debug, Clone)]
pub struct UserKind;
impl PrincipalKind for UserKind {
    const ACTOR: &'static str = "user";
}

pub type AdminPrincipal = Signed<AdminKind>;
pub type UserPrincipal = Signed<UserKind>;

impl<K: PrincipalKind> Signed<K> {
    fn new(username: String, organization_id: String, session_key_hash: Option<String>) -> Self {
        Signed {
            username,
            organization_id,
            session_key_hash,
            kind: std::marker::PhantomData,
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The caller's tenant; empty for the top level.
    pub fn organization_id(&self) -> &str {
        &self.organization_id
    }

    /// The hash of the session key this call came with, if it came with one.
    pub fn session_key_hash(&self) -> Option<&str> {
        self.session_key_hash.as_deref()
    }

    pub fn actor(&self) -> String {
        format!("{}:{}", K::ACTOR, self.username)
    }
}

#[derive(Debug, Clone)]
pub enum Principal {
    Anonymous,
    Admin(AdminPrincipal),
    User(UserPrincipal),
}

/// Where a request came from, for throttling, allowlists and login events.
#[derive(Debug, Clone)]
pub struct Origin {
    pub client_ip: String,
    pub path: String,
    /// The host name the client asked for (no port, lower case): it selects
    /// the tenant.
    pub host: String,
}

impl Origin {
    pub fn host_from(headers: &axum::http::HeaderMap) -> String {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let without_port = match host.rsplit_once(':') {
            Some((name, port))
                if !name.ends_with(']') || port.chars().all(|c| c.is_ascii_digit()) =>
            {
                if host.starts_with('[') {
                    host.split(']').next().unwrap_or("").trim_start_matches('[')
                } else {
                    name
                }
            }
            _ => host,
        };
        without_port.to_ascii_lowercase()
    }
}

enum Method<'a> {
    Session(&'a str),
    Password {
        password: &'a str,
        second: Second<'a>,
    },
}

/// The second factor a call carries.
#[derive(Clone, Copy)]
enum Second<'a> {
    None,
    Totp(&'a str),
    /// `WebAuthnSign`, a `WebAuthnSignResponse` as JSON.
    WebAuthn(&'a str),
    /// `U2FSign`, a `U2FSignResponse` as JSON.
    U2f(&'a str),
}

struct Credentials<'a> {
    username: &'a str,
    method: Method<'a>,
}

fn credentials(params: &Params) -> ApiResult<Credentials<'_>> {
    let username = params.opt_str("Username").unwrap_or("");
    if username.is_empty() {
        return Err(ApiError::unauthorised());
    }
    let password = params.opt_str("Password").unwrap_or("");
    let method = match params.opt_str("AuthType").unwrap_or("Password") {
        "SessionKey" => Method::Session(params.opt_str("SessionKey").unwrap_or("")),
        "Password" | "" => Method::Password {
            password,
            second: Second::None,
        },
        "PasswordTOTP" | "TOTP" => Method::Password {
            password,
            second: Second::Totp(params.opt_str("TOTP").unwrap_or("")),
        },
        "PasswordWebAuthn" => Method::Password {
            password,
            second: Second::WebAuthn(params.opt_str("WebAuthnSign").unwrap_or("")),
        },
        "PasswordU2F" => Method::Password {
            password,
            second: Second::U2f(params.opt_str("U2FSign").unwrap_or("")),
        },
        other => {
            return Err(ApiError::invalid_param(
                "AuthType",
                format!("unknown authentication type '{other}'"),
            ))
        }
    };
    Ok(Credentials { username, method })
}

/// The login switches shared by administrators and end users.
struct LoginPolicy<'a> {
    allow_password: bool,
    allow_password_and_totp: bool,
    /// Administrators only: a security key (WebAuthn or U2F) after the
    /// password.
    allow_password_and_key: bool,
    totp_key: &'a str,
}

impl LoginPolicy<'_> {
    /// An account that enables no login method at all (as a hand-written
    /// `cometd.cfg` entry often does) keeps plain password login.
    fn password_alone_suffices(&self) -> bool {
        self.allow_password || !(self.allow_password_and_totp || self.allow_password_and_key)
    }

    fn totp_ready(&self) -> bool {
        self.allow_password_and_totp && !self.totp_key.is_empty()
    }

    /// Decides the second factor once the password is known to be right.
    async fn second_factor(
        &self,
        state: &AppState,
        account: &str,
        totp: Option<&str>,
    ) -> Result<(), ApiError> {
        let totp_ready = self.totp_ready();
        match totp {
            Some(code) if totp_ready => {
                if totp::check(state.store.as_ref(), account, self.totp_key, code).await? {
                    Ok(())
                } else {
                    Err(ApiError::unauthorised())
                }
            }
            _ if self.password_alone_suffices() => Ok(()),
            _ if totp_ready => Err(ApiError::TotpRequired),
            _ => Err(ApiError::unauthorised()),
        }
    }
}

fn throttled(seconds: u64) -> ApiError {
    ApiError::new(
        429,
        format!("Too many failed login attempts; try again in {seconds} seconds"),
    )
}

/// Authenticates an administrator.
pub async fn admin(
    state: &AppState,
    params: &Params,
    origin: &Origin,
) -> ApiResult<AdminPrincipal> {
    let creds = credentials(params)?;
    match creds.method {
        Method::Session(key) => {
            let session = sessions::resolve(state, key, SessionKind::Admin, creds.username)
                .await?
                .ok_or_else(ApiError::unauthorised)?;
            Ok(AdminPrincipal::new(
                session.username,
                session.organization_id,
                Some(session.key_hash),
            ))
        }
        Method::Password { password, second } => {
            admin_password(state, creds.username, password, second, origin).await
        }
    }
}

async fn admin_password(
    state: &AppState,
    username: &str,
    password: &str,
    second: Second<'_>,
    origin: &Origin,
) -> ApiResult<AdminPrincipal> {
    let config = state.config.get();
    let account_key = format!("admin:{username}");
    let address = origin.client_ip.as_str();
    state
        .throttle
        .check(&account_key, address, &config.login_protection)
        .await
        .map_err(throttled)?;
    let fail = async |organization_id: &str, err: ApiError| {
        state
            .throttle
            .record_failure(&account_key, address, &config.login_protection)
            .await;
        state.events.emit(
            SEVT_ACCOUNT_ADMIN_LOGIN_FAILED,
            &format!("admin:{username}"),
            organization_id,
            &origin.path,
            None,
        );
        err
    };
    let admin: AllowedAdminUser =
        match crate::service::admins::find_for_login(&config, username, &origin.host) {
            Some(admin) if admin.external_authentication_source.is_empty() => {
                if !password_check::verify(
                    state,
                    &account_key,
                    admin.password_format,
                    &admin.password,
                    password,
                )
                .await?
                {
                    return Err(fail(&admin.organization_id, ApiError::unauthorised()).await);
                }
                admin.clone()
            }
            // Signed in through a source before: that source alone decides.
            Some(admin) => {
                let outcome = match external_auth::find(
                    &config,
                    &admin.organization_id,
                    &admin.external_authentication_source,
                ) {
                    Some(source) if source.r#type == REMOTESERVER_LDAP => {
                        ldap::verify(&source.ldap, username, password).await
                    }
                    // Its source is gone (removed by hand or through
                    // server-config/set): nothing vouches for it any more.
                    _ => ldap::Outcome::Refused(format!(
                        "its external authentication source '{}' is no LDAP source of its tenant",
                        admin.external_authentication_source
                    )),
                };
                if let Some(err) =
                    external_refusal(username, &admin.external_authentication_source, &outcome)
                {
                    return Err(fail(&admin.organization_id, err).await);
                }
                admin.clone()
            }
            None => {
                let sources = external_auth::for_host(&config, &origin.host);
                if sources.is_empty() {
                    password_check::spend(state, password).await?;
                    state
                        .throttle
                        .record_failure(&account_key, address, &config.login_protection)
                        .await;
                    return Err(ApiError::unauthorised());
                }
                // A refusal outweighs a source that could not be asked.
                let mut refused: Option<String> = None;
                let mut unavailable: Option<(String, ApiError)> = None;
                let mut accepted = None;
                for (organization_id, id, source) in sources {
                    let outcome = ldap::verify(&source.ldap, username, password).await;
                    match external_refusal(username, &id, &outcome) {
                        None => {
                            accepted = Some((organization_id, id, source));
                            break;
                        }
                        Some(_) if matches!(outcome, ldap::Outcome::Refused(_)) => {
                            refused.get_or_insert(organization_id);
                        }
                        Some(err) => {
                            unavailable.get_or_insert((organization_id, err));
                        }
                    }
                }
                match (accepted, refused, unavailable) {
                    (Some((organization_id, id, source)), _, _) => {
                        external_admin(state, username, &organization_id, &id, &source).await?
                    }
                    (None, Some(organization_id), _) => {
                        return Err(fail(&organization_id, ApiError::unauthorised()).await)
                    }
                    (None, None, Some((organization_id, err))) => {
                        return Err(fail(&organization_id, err).await)
                    }
                    (None, None, None) => return Err(fail("", ApiError::unauthorised()).await),
                }
            }
        };
    if !ip_allowed(&admin.ip_whitelist, &origin.client_ip) {
        return Err(fail(
            &admin.organization_id,
            ApiError::forbidden("Unauthorised: this address is not allowed for this account"),
        )
        .await);
    }
    let factor =
        match admin_second_factor(state, &admin, &account_key, second, &origin.host).await? {
            Factor::Passed(factor) => factor,
            Factor::Ask(question) => return Err(question),
            Factor::Refused(err) => return Err(fail(&admin.organization_id, err).await),
        };
    state.throttle.record_success(&account_key, address).await;
    refuse_suspended_tenant(&config, &admin.organization_id)?;
    if admin.external_authentication_source.is_empty()
        && admin.password_format == halley_api::constants::PASSWORD_FORMAT_PLAINTEXT
    {
        upgrade_plaintext_admin_password(state, username, &admin.organization_id, password).await?;
    }
    state.events.emit(
        SEVT_ACCOUNT_ADMIN_LOGIN,
        &format!("admin:{username}"),
        &admin.organization_id,
        &origin.path,
        factor.map(|f| serde_json::json!({ "SecondFactor": f })),
    );
    Ok(AdminPrincipal::new(
        username.to_string(),
        admin.organization_id.clone(),
        None,
    ))
}

/// What an administrator's second factor decided, once the password was
/// right.
enum Factor {
    /// In: with the factor used, if one was needed.
    Passed(Option<&'static str>),
    /// The factor is asked for (HTTP 449); not a failure.
    Ask(ApiError),
    /// A wrong factor, or none that can be given here: a failure.
    Refused(ApiError),
}

/// Checks the second factor `second` of `admin` signing in on `host`, or
/// asks for one: a security key registered for this host (WebAuthn, else
/// legacy U2F), or a TOTP code.
async fn admin_second_factor(
    state: &AppState,
    admin: &AllowedAdminUser,
    account_key: &str,
    second: Second<'_>,
    host: &str,
) -> ApiResult<Factor> {
    let keys_here = admin.allow_password_and_web_authn_login
        && !webauthn::keys_for_host(admin, host).is_empty();
    let u2f_here = admin.allow_password_and_u2f_login && u2f::has_key_for_host(admin, host);
    let policy = LoginPolicy {
        allow_password: admin.allow_password_login,
        allow_password_and_totp: admin.allow_password_and_totp_login,
        allow_password_and_key: admin.allow_password_and_web_authn_login
            || admin.allow_password_and_u2f_login,
        totp_key: &admin.totp_key,
    };
    let username = &admin.username;
    Ok(match second {
        Second::WebAuthn(sign) if keys_here => {
            match webauthn::finish_sign_in(&state.webauthn, account_key, admin, sign) {
                Ok(used) => {
                    crate::service::admins::record_key_use(state, admin, used).await?;
                    Factor::Passed(Some("WebAuthn"))
                }
                Err(why) => {
                    tracing::info!("security key sign-in of administrator '{username}' refused: {why}");
                    Factor::Refused(ApiError::unauthorised())
                }
            }
        }
        Second::U2f(sign) if u2f_here => {
            match u2f::finish_sign_in(&state.u2f, account_key, admin, sign) {
                Ok(used) => {
                    crate::service::admins::record_u2f_use(state, admin, used).await?;
                    Factor::Passed(Some("U2F"))
                }
                Err(why) => {
                    tracing::info!("U2F sign-in of administrator '{username}' refused: {why}");
                    Factor::Refused(ApiError::unauthorised())
                }
            }
        }
        Second::Totp(code) if policy.totp_ready() || !policy.password_alone_suffices() => {
            match policy.second_factor(state, account_key, Some(code)).await {
                Ok(()) => Factor::Passed(policy.totp_ready().then_some("TOTP")),
                Err(err) => Factor::Refused(err),
            }
        }
        _ if policy.password_alone_suffices() => Factor::Passed(None),
        _ if keys_here => Factor::Ask(ApiError::SecurityKeyRequired {
            challenge: webauthn::start_sign_in(&state.webauthn, account_key, admin, host)?
                .ok_or_else(ApiError::unauthorised)?,
            totp_too: policy.totp_ready(),
        }),
        _ if u2f_here => Factor::Ask(ApiError::SecurityKeyRequired {
            challenge: u2f::start_sign_in(&state.u2f, account_key, admin, host)
                .ok_or_else(ApiError::unauthorised)?,
            totp_too: policy.totp_ready(),
        }),
        _ if policy.totp_ready() => Factor::Ask(ApiError::TotpRequired),
        _ => Factor::Refused(ApiError::forbidden(
            "Unauthorised: this account needs a second factor that it cannot give on this address (no security key is registered for this host, and TOTP is off)",
        )),
    })
}

/// The error a source's answer means for the caller, if it is not a yes.
/// The details go to the log only; the caller learns no more than that the
/// credentials were refused, or that the directory could not be asked.
fn external_refusal(username: &str, source_id: &str, outcome: &ldap::Outcome) -> Option<ApiError> {
    match outcome {
        ldap::Outcome::Accepted => None,
        ldap::Outcome::Refused(why) => {
            tracing::info!(
                "LDAP sign-in of administrator '{username}' refused by source '{source_id}': {why}"
            );
            Some(ApiError::unauthorised())
        }
        ldap::Outcome::Unavailable(why) => {
            tracing::warn!(
                "LDAP sign-in of administrator '{username}' through source '{source_id}' failed: {why}"
            );
            Some(ApiError::new(
                503,
                "Unauthorised: the external authentication server could not be reached; try again later",
            ))
        }
    }
}

/// The administrator entry of someone a source has just vouched for: the one
/// that exists, or a new one with no password of its own, tied to the source
/// and holding the permissions the source gives new administrators.
async fn external_admin(
    state: &AppState,
    username: &str,
    organization_id: &str,
    source_id: &str,
    source: &ExternalAuthenticationSource,
) -> ApiResult<AllowedAdminUser> {
    let entry = AllowedAdminUser {
        username: username.to_string(),
        organization_id: organization_id.to_string(),
        external_authentication_source: source_id.to_string(),
        password_format: password::PASSWORD_FORMAT_ARGON2ID,
        allow_password_login: true,
        permissions: source.new_user_permissions.clone(),
        ..Default::default()
    };
    let new = entry.clone();
    let (admin, created) = state
        .config
        .update(move |config| -> ApiResult<(AllowedAdminUser, bool)> {
            let existing = config
                .admin_users
                .iter()
                .find(|a| a.username == new.username && a.organization_id == new.organization_id);
            match existing {
                Some(a)
                    if a.external_authentication_source == new.external_authentication_source =>
                {
                    Ok((a.clone(), false))
                }
                Some(_) => Err(ApiError::unauthorised()),
                None => {
                    config.admin_users.push(new.clone());
                    Ok((new, true))
                }
            }
        })
        .await?;
    if created {
        state.events.emit(
            SEVT_ACCOUNT_ADMIN_NEW,
            "system",
            organization_id,
            username,
            None,
        );
    }
    Ok(admin)
}

/// A plaintext password typed into `cometd.cfg` is replaced by its hash at the
/// first successful login.
async fn upgrade_plaintext_admin_password(
    state: &AppState,
    username: &str,
    organization_id: &str,
    password: &str,
) -> ApiResult<()> {
    let owned = password.to_string();
    let hash = state
        .verify_pool
        .run(move || password::hash_password(&owned))
        .await?;
    state
        .config
        .update(|config| -> ApiResult<()> {
            if let Some(admin) = config.admin_users.iter_mut().find(|a| {
                a.username == username
                    && a.organization_id == organization_id
                    && a.password_format == halley_api::constants::PASSWORD_FORMAT_PLAINTEXT
            }) {
                admin.password = hash;
                admin.password_format = password::PASSWORD_FORMAT_ARGON2ID;
            }
            Ok(())
        })
        .await
}

/// `IPWhitelist` is a regular expression matched against the client address;
/// empty allows every address, and an invalid one allows none.
fn ip_allowed(whitelist: &str, client_ip: &str) -> bool {
    if whitelist.is_empty() {
        return true;
    }
    regex::Regex::new(whitelist).is_ok_and(|re| re.is_match(client_ip))
}

/// Authenticates an end user; returns the principal and the stored profile.
pub async fn user(state: &AppState, params: &Params, origin: &Origin) -> ApiResult<UserPrincipal> {
    let creds = credentials(params)?;
    match creds.method {
        Method::Session(key) => {
            let session = sessions::resolve(state, key, SessionKind::User, creds.username)
                .await?
                .ok_or_else(ApiError::unauthorised)?;
            Ok(UserPrincipal::new(
                session.username,
                session.organization_id,
                Some(session.key_hash),
            ))
        }
        Method::Password { password, second } => {
            let totp = match second {
                Second::None => None,
                Second::Totp(code) => Some(code),
                Second::WebAuthn(_) | Second::U2f(_) => {
                    return Err(ApiError::bad_request(
                        "Account holders sign in with a password and TOTP; security keys (PasswordWebAuthn) are for administrators",
                    ))
                }
            };
            user_password(state, creds.username, password, totp, origin).await
        }
    }
}

async fn user_password(
    state: &AppState,
    username: &str,
    password: &str,
    totp: Option<&str>,
    origin: &Origin,
) -> ApiResult<UserPrincipal> {
    let config = state.config.get();
    let account_key = format!("user:{username}");
    let address = origin.client_ip.as_str();
    state
        .throttle
        .check(&account_key, address, &config.login_protection)
        .await
        .map_err(throttled)?;
    let record = state
        .store
        .user_get(&TenantScope::server_wide(), username)
        .await?;
    let profile: Option<UserProfileConfig> = record
        .as_ref()
        .and_then(|r| serde_json::from_str(&r.profile_json).ok());
    let Some(profile) = profile else {
        password_check::spend(state, password).await?;
        state
            .throttle
            .record_failure(&account_key, address, &config.login_protection)
            .await;
        return Err(ApiError::unauthorised());
    };
    let fail = async |err: ApiError| {
        state
            .throttle
            .record_failure(&account_key, address, &config.login_protection)
            .await;
        state.events.emit(
            SEVT_ACCOUNT_LOGIN_FAILED,
            &format!("user:{username}"),
            &profile.organization_id,
            &origin.path,
            None,
        );
        err
    };
    if !password_check::verify(
        state,
        &account_key,
        profile.password_format,
        &profile.password_hash,
        password,
    )
    .await?
    {
        return Err(fail(ApiError::unauthorised()).await);
    }
    let policy = LoginPolicy {
        allow_password: profile.allow_password_login,
        allow_password_and_totp: profile.allow_password_and_totp_login,
        allow_password_and_key: false,
        totp_key: &profile.totp_key,
    };
    match policy.second_factor(state, &account_key, totp).await {
        Ok(()) => {}
        Err(ApiError::TotpRequired) => return Err(ApiError::TotpRequired),
        Err(err) => return Err(fail(err).await),
    }
    if profile.is_suspended {
        return Err(ApiError::forbidden("This account is suspended"));
    }
    state.throttle.record_success(&account_key, address).await;
    refuse_suspended_tenant(&config, &profile.organization_id)?;
    if profile.password_format == halley_api::constants::PASSWORD_FORMAT_PLAINTEXT {
        crate::service::users::set_password(
            state,
            &TenantScope::server_wide(),
            username,
            password,
            Some(password),
            false,
        )
        .await?;
    }
    state.events.emit(
        SEVT_ACCOUNT_LOGIN,
        &format!("user:{username}"),
        &profile.organization_id,
        &origin.path,
        None,
    );
    Ok(UserPrincipal::new(
        username.to_string(),
        profile.organization_id,
        None,
    ))
}

/// `HybridSessionStart`: administrator credentials when the name is an
/// administrator's and they check out, end-user credentials otherwise. A name
/// that is neither is tried against the host's external authentication
/// sources, as an administrator.
pub async fn hybrid(state: &AppState, params: &Params, origin: &Origin) -> ApiResult<Principal> {
    let creds = credentials(params)?;
    let config = state.config.get();
    let admin_named =
        crate::service::admins::find_for_login(&config, creds.username, &origin.host).is_some();
    let external_candidate = !admin_named
        && !external_auth::for_host(&config, &origin.host).is_empty()
        && state
            .store
            .user_get(&TenantScope::server_wide(), creds.username)
            .await?
            .is_none();
    if external_candidate {
        return admin(state, params, origin).await.map(Principal::Admin);
    }
    if admin_named {
        match admin(state, params, origin).await {
            Ok(admin) => return Ok(Principal::Admin(admin)),
            Err(err @ (ApiError::TotpRequired | ApiError::SecurityKeyRequired { .. })) => {
                return Err(err)
            }
            Err(_) => {}
        }
    } else if let Method::Password { password, .. } = creds.method {
        // An administrator's name costs the administrator check before the
        // end-user one; every other name spends the same time, so that the
        // answer's delay does not tell administrator names apart.
        password_check::spend(state, password).await?;
    }
    user(state, params, origin).await.map(Principal::User)
}
