//! Session keys: 256 random bits handed to the client once; the store keeps
//! only their BLAKE3 hash. A session ends when revoked, when its account's
//! password changes, or after `SessionSettings.ExpiredInSeconds` without use
//! (sliding expiry); it answers nothing while its account or tenant is
//! suspended or gone. Resolved sessions are cached for a moment
//! ([`super::session_cache`]); everything that ends sessions goes through
//! [`revoke`] and [`end_all`] here, which also empty that cache.

use halley_api::constants::{
    SEVT_ACCOUNT_ADMIN_SESSION_EXPIRE, SEVT_ACCOUNT_ADMIN_SESSION_START,
    SEVT_ACCOUNT_SESSION_EXPIRE, SEVT_ACCOUNT_SESSION_START,
};

use crate::http::ApiResult;
use crate::state::AppState;
use crate::store::{SessionKind, SessionRecord};
use crate::util::{now_unix, random_hex};

/// Writing `last_used_at` on every call would turn reads into writes; a
/// session's use is recorded at most every quarter of its idle lifetime
/// (30 s at most, 1 s at least), so expiry stays sliding however short it is.
pub fn touch_interval(idle_limit: i64) -> i64 {
    (idle_limit / 4).clamp(1, 30)
}

pub fn key_hash(key: &str) -> String {
    blake3::hash(key.as_bytes()).to_hex().to_string()
}

/// Opens a session and returns its key.
pub async fn start(
    state: &AppState,
    kind: SessionKind,
    username: &str,
    organization_id: &str,
    actor: &str,
) -> ApiResult<String> {
    let key = random_hex(32);
    let now = now_unix();
    let record = SessionRecord {
        key_hash: key_hash(&key),
        kind,
        username: username.to_string(),
        organization_id: organization_id.to_string(),
        created_at: now,
        last_used_at: now,
    };
    state.store.session_create(&record).await?;
    let event = match kind {
        SessionKind::Admin => SEVT_ACCOUNT_ADMIN_SESSION_START,
        SessionKind::User => SEVT_ACCOUNT_SESSION_START,
    };
    state.events.emit(
        event,
        actor,
        organization_id,
        username,
        Some(serde_json::json!({"Username": username, "SessionType": kind.as_str(), "CreatedAt": now})),
    );
    Ok(key)
}

/// The live session behind `key`, if it belongs to `username`, is of
/// `kind`, and its account may use it now.
pub async fn resolve(
    state: &AppState,
    key: &str,
    kind: SessionKind,
    username: &str,
) -> ApiResult<Option<SessionRecord>> {
    if key.is_empty() {
        return Ok(None);
    }
    let hash = key_hash(key);
    let matches = |s: &SessionRecord| s.kind == kind && s.username == username;
    // Read before the lookup: a revocation meanwhile makes the entry stale.
    let epoch = state.session_cache.epoch();
    let generation = state.config.generation();
    if let Some(session) = state.session_cache.get(&hash, generation) {
        return Ok(matches(&session).then_some(session));
    }
    let Some(mut session) = state.store.session_get(&hash).await? else {
        return Ok(None);
    };
    if !matches(&session) {
        return Ok(None);
    }
    let now = now_unix();
    let idle_limit = state.config.session_idle_seconds() as i64;
    if now - session.last_used_at > idle_limit {
        if state.store.session_delete(&hash).await? {
            emit_expired(state, &session);
        }
        return Ok(None);
    }
    let touch_every = touch_interval(idle_limit);
    if now - session.last_used_at >= touch_every {
        state.store.session_touch(&hash, now).await?;
        session.last_used_at = now;
    }
    if !super::session_account_allowed(state, &session).await? {
        return Ok(None);
    }
    // Trusted no longer than until the next touch is due.
    let lifetime = std::time::Duration::from_secs(touch_every as u64);
    state
        .session_cache
        .put(session.clone(), epoch, generation, lifetime);
    Ok(Some(session))
}

/// Ends one session. False when there was none.
pub async fn revoke(state: &AppState, key_hash: &str) -> ApiResult<bool> {
    let deleted = state.store.session_delete(key_hash).await?;
    state.session_cache.revoke();
    Ok(deleted)
}

/// Ends every session of an account (a password change, a suspension, a
/// deleted administrator).
pub async fn end_all(state: &AppState, kind: SessionKind, username: &str) -> ApiResult<u64> {
    let ended = state.store.sessions_delete_for(kind, username).await?;
    state.session_cache.revoke();
    Ok(ended)
}

/// Removes every idle session; run periodically.
pub async fn expire_idle(state: &AppState) -> ApiResult<()> {
    let idle_limit = state.config.session_idle_seconds() as i64;
    for session in state.store.sessions_expire(now_unix() - idle_limit).await? {
        emit_expired(state, &session);
    }
    Ok(())
}

fn emit_expired(state: &AppState, session: &SessionRecord) {
    let event = match session.kind {
        SessionKind::Admin => SEVT_ACCOUNT_ADMIN_SESSION_EXPIRE,
        SessionKind::User => SEVT_ACCOUNT_SESSION_EXPIRE,
    };
    state.events.emit(
        event,
        "system",
        &session.organization_id,
        &session.username,
        None,
    );
}
