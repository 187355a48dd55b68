//! Session keys: 256 random bits handed to the client once; the store keeps
//! only their BLAKE3 hash. A session ends when revoked or after
//! `SessionSettings.ExpiredInSeconds` without use (sliding expiry).

use halley_api::constants::{
    SEVT_ACCOUNT_ADMIN_SESSION_EXPIRE, SEVT_ACCOUNT_ADMIN_SESSION_START,
    SEVT_ACCOUNT_SESSION_EXPIRE, SEVT_ACCOUNT_SESSION_START,
};

use crate::http::ApiResult;
use crate::state::AppState;
use crate::store::{SessionKind, SessionRecord};
use crate::util::{now_unix, random_hex};

/// Writing `last_used_at` on every call would turn reads into writes; a
/// session's use is recorded at most this often.
const TOUCH_INTERVAL_SECONDS: i64 = 30;

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

/// The live session behind `key`, if it belongs to `username` and is of `kind`.
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
    let Some(session) = state.store.session_get(&hash).await? else {
        return Ok(None);
    };
    if session.kind != kind || session.username != username {
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
    if now - session.last_used_at >= TOUCH_INTERVAL_SECONDS {
        state.store.session_touch(&hash, now).await?;
    }
    Ok(Some(session))
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
