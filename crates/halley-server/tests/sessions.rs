//! What ends a session or an event stream, seen from the client: suspension
//! of the account or its tenant, a password change, and the limits on the
//! checks that guard them.

mod common;

use std::time::Duration;

use common::*;
use halley_client::{Auth, Client};
use serde_json::json;

async fn user_session(server: &Server, username: &str) -> Client {
    let key = server
        .admin()
        .admin_account_session_start_as_user(username)
        .await
        .unwrap()
        .session_key;
    server.client(Auth::session(username, &key))
}

async fn works(client: &Client) -> bool {
    client.user_web_get_user_profile_and_hash().await.is_ok()
}

async fn set_suspended(server: &Server, username: &str, suspended: bool) {
    let admin = server.admin();
    let mut profile = admin.admin_get_user_profile(username).await.unwrap();
    profile.is_suspended = suspended;
    admin
        .admin_set_user_profile(username, &profile)
        .await
        .unwrap();
}

#[tokio::test]
async fn suspension_and_password_changes_end_user_sessions() {
    let server = Server::start();
    let admin = server.admin();
    for name in ["sam", "pat"] {
        admin
            .admin_add_user(name, "password1", Some(true), None)
            .await
            .unwrap();
    }

    // Suspension: existing keys stop at once, and no new one is issued.
    let sam = user_session(&server, "sam").await;
    assert!(works(&sam).await);
    set_suspended(&server, "sam", true).await;
    assert!(!works(&sam).await, "a suspended user's key still works");
    let refused = admin
        .admin_account_session_start_as_user("sam")
        .await
        .unwrap_err();
    assert_eq!(refused.api_status(), Some(403), "{refused:?}");
    set_suspended(&server, "sam", false).await;
    assert!(!works(&sam).await, "the key ended, it did not just pause");

    // The user's own password change ends every key, the one used included.
    let pat = user_session(&server, "pat").await;
    let other = user_session(&server, "pat").await;
    let hash = pat
        .user_web_get_user_profile_and_hash()
        .await
        .unwrap()
        .profile_hash;
    pat.user_web_account_reset_password(&hash, "password1", "password2")
        .await
        .unwrap();
    assert!(!works(&pat).await);
    assert!(!works(&other).await);

    // So does a reset by an administrator.
    let again = user_session(&server, "pat").await;
    assert!(works(&again).await);
    admin
        .admin_reset_user_password("pat", "password3", Some("password2"))
        .await
        .unwrap();
    assert!(!works(&again).await);
    let fresh = server.client(Auth::password("pat", "password3"));
    assert!(works(&fresh).await);
}

#[tokio::test]
async fn an_administrators_password_change_ends_its_sessions() {
    let server = Server::start();
    let key = server.admin_session_key().await;
    let session = server.client(Auth::session("admin", &key));
    session.admin_list_users().await.unwrap();
    let properties = admin_post(&server.url, "/api/v1/admin/account/properties", &[])
        .await
        .json();
    let mut security = json!({
        "Password": "new-admin-pass",
        "AllowPasswordLogin": true,
        "AllowPasswordAndTOTPLogin": false,
        "IPWhitelist": "",
    });
    security["RequirePasswordChange"] = properties["RequirePasswordChange"].clone();
    let changed = admin_post(
        &server.url,
        "/api/v1/admin/account/set-properties",
        &[("Security", &security.to_string())],
    )
    .await;
    assert_eq!(changed.api_status(), 200, "{}", changed.message());
    assert_eq!(
        session.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );

    // A password written through server-config/set ends them too.
    let admin = server.client(Auth::password("admin", "new-admin-pass"));
    let key = admin
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key;
    let session = server.client(Auth::session("admin", &key));
    session.admin_list_users().await.unwrap();
    let credentials = [
        ("Username", "admin"),
        ("AuthType", "Password"),
        ("Password", "new-admin-pass"),
    ];
    let mut config = post_form(
        &server.url,
        "/api/v1/admin/meta/server-config/get",
        &credentials,
    )
    .await
    .json();
    config["AdminUsers"][0]["PasswordFormat"] = json!(0);
    config["AdminUsers"][0]["Password"] = json!("third-admin-pass");
    let config = config.to_string();
    let mut fields = credentials.to_vec();
    fields.push(("Config", &config));
    let set = server
        .restarting(post_form(
            &server.url,
            "/api/v1/admin/meta/server-config/set",
            &fields,
        ))
        .await;
    assert_eq!(set.api_status(), 200, "{}", set.message());
    assert_eq!(
        session.admin_list_users().await.unwrap_err().api_status(),
        Some(403)
    );
}

#[tokio::test]
async fn a_suspended_tenants_administrator_loses_the_event_stream() {
    let server = Server::start();
    let tenant = create_tenant(&server, "Tenant S").await;
    create_tenant_admin(&server, &tenant, "sboss", "sbosspass").await;
    let (mut socket, answer) =
        open_stream(&server.url, ["sboss", "Password", "sbosspass", "", ""]).await;
    assert_eq!(answer, "200 OK");
    let _hello = next_event(&mut socket).await;

    let suspended = admin_post(
        &server.url,
        "/api/v1/admin/organization/set",
        &[
            ("OrganizationID", &tenant),
            (
                "Organization",
                &json!({"Name": "Tenant S", "IsSuspended": true}).to_string(),
            ),
        ],
    )
    .await;
    assert_eq!(suspended.api_status(), 200, "{}", suspended.message());
    assert!(
        stream_ends(&mut socket).await,
        "the open stream was not closed"
    );

    let (_, answer) = open_stream(&server.url, ["sboss", "Password", "sbosspass", "", ""]).await;
    assert_eq!(answer, "403 Unauth");
}

/// True when the server closes the stream (events before the close are fine).
async fn stream_ends(socket: &mut Socket) -> bool {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[tokio::test]
async fn guessing_the_old_password_is_throttled() {
    let server = Server::launch(Launch {
        config: Some(
            json!({"LoginProtection": {"Enabled": true, "FailureThreshold": 3, "CooldownSeconds": 300}}),
        ),
        ..Default::default()
    });
    server
        .admin()
        .admin_add_user("gus", "password1", None, None)
        .await
        .unwrap();
    let gus = user_session(&server, "gus").await;
    let hash = gus
        .user_web_get_user_profile_and_hash()
        .await
        .unwrap()
        .profile_hash;
    for guess in ["guess-one", "guess-two", "guess-three"] {
        let wrong = gus
            .user_web_account_reset_password(&hash, guess, "password9")
            .await
            .unwrap_err();
        assert_eq!(wrong.api_status(), Some(400), "{wrong:?}");
    }
    let locked = gus
        .user_web_account_reset_password(&hash, "password1", "password9")
        .await
        .unwrap_err();
    assert_eq!(locked.api_status(), Some(429), "{locked:?}");
}

#[tokio::test]
async fn a_totp_code_works_once_even_across_a_restart() {
    let mut server = Server::start();
    let secret = enrol_admin_totp(&server).await;
    let code = totp_code(&secret, 0);
    let with_code = admin_with_code(&code);
    let path = "/api/v1/admin/account/properties";
    let first = post_form(&server.url, path, &with_code).await;
    assert!(first.json()["Status"].is_null(), "{}", first.message());

    let data = server.keep_data_dir();
    let dir = server.data_dir.clone();
    server.kill();
    let server = Server::spawn_in(&dir, &Launch::default());
    let replay = post_form(&server.url, path, &with_code).await;
    assert_eq!(replay.api_status(), 403, "a used code was accepted again");
    drop(data);
}

#[tokio::test]
async fn short_sessions_slide_with_use() {
    let server = Server::launch(Launch {
        config: Some(json!({"SessionSettings": {"ExpiredInSeconds": 4}})),
        ..Default::default()
    });
    let key = server.admin_session_key().await;
    let session = server.client(Auth::session("admin", &key));
    // Used every 1.5 s for 9 s, more than twice its idle lifetime.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        session.admin_list_users().await.expect("the session slid");
    }
}

#[tokio::test]
async fn a_bad_or_incomplete_stream_handshake_is_answered_403_unauth() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = Server::start();
    let ws_url = format!(
        "{}/api/v1/events/stream",
        server.url.replacen("http", "ws", 1)
    );
    let first_text = |frame: Option<Result<Message, _>>| match frame {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => format!("{other:?}"),
    };

    let (mut binary, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    binary
        .send(Message::Binary(b"admin".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(first_text(binary.next().await), "403 Unauth");

    let (mut partial, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    for frame in ["admin", "Password"] {
        partial.send(Message::Text(frame.into())).await.unwrap();
    }
    let answer = tokio::time::timeout(Duration::from_secs(20), partial.next())
        .await
        .expect("an answer to an incomplete handshake");
    assert_eq!(first_text(answer), "403 Unauth");
}
