//! Live events through a real websocket client and a real webhook receiver.

mod common;

use std::time::Duration;

use common::*;
use halley_client::Auth;
use serde_json::json;

const HELLO: i64 = 4000;
const ACCOUNT_NEW: i64 = 4100;
const ACCOUNT_REMOVED: i64 = 4101;
const ACCOUNT_UPDATED: i64 = 4102;
const ACCOUNT_LOGIN: i64 = 4103;
const SESSION_START: i64 = 4105;
const SESSION_REVOKE: i64 = 4106;
const ADMIN_LOGIN: i64 = 4153;
const ADMIN_LOGIN_FAILED: i64 = 4154;

#[tokio::test]
async fn stream_handshake_hello_then_every_action_in_order() {
    let server = Server::start();
    let (mut socket, answer) =
        open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(answer, "200 OK");
    let hello = next_event(&mut socket).await;
    assert_eq!(hello["Type"], HELLO);
    assert_eq!(hello["TypeString"], "SEVT_META_HELLO");
    assert_eq!(hello["Data"]["Version"], "25.9.6");

    let admin = server.admin();
    admin
        .admin_add_user("alice", "password1", None, None)
        .await
        .unwrap();
    let mut profile = admin.admin_get_user_profile("alice").await.unwrap();
    profile.account_name = "Alice".into();
    admin
        .admin_set_user_profile("alice", &profile)
        .await
        .unwrap();
    let user = server.client(Auth::password("alice", "password1"));
    let key = user.user_web_session_start().await.unwrap().session_key;
    server
        .client(Auth::session("alice", &key))
        .user_web_session_revoke()
        .await
        .unwrap();
    admin.admin_delete_user("alice").await.unwrap();
    let _ = server
        .client(Auth::password("admin", "wrong"))
        .admin_list_users()
        .await;

    let expected = [
        (ADMIN_LOGIN, ""),
        (ACCOUNT_NEW, "alice"),
        (ADMIN_LOGIN, ""), // get-user-profile
        (ADMIN_LOGIN, ""),
        (ACCOUNT_UPDATED, "alice"),
        (ACCOUNT_LOGIN, ""),
        (SESSION_START, "alice"),
        (SESSION_REVOKE, "alice"),
        (ADMIN_LOGIN, ""),
        (ACCOUNT_REMOVED, "alice"),
        (ADMIN_LOGIN_FAILED, ""),
    ];
    for (event_type, resource) in expected {
        let event = next_event(&mut socket).await;
        assert_eq!(event["Type"], event_type, "{event}");
        if !resource.is_empty() {
            assert_eq!(event["ResourceID"], resource, "{event}");
        }
        if event_type == ACCOUNT_UPDATED {
            assert_eq!(
                event["Data"]["AccountName"], "Alice",
                "UPDATED carries the new profile"
            );
            assert_eq!(event["Actor"], "admin:admin");
        }
        if event_type == ACCOUNT_LOGIN {
            assert_eq!(event["ResourceID"], "/api/v1/user/web/session/start");
        }
    }
}

#[tokio::test]
async fn stream_refuses_wrong_credentials() {
    let server = Server::start();
    let (mut socket, answer) =
        open_stream(&server.url, ["admin", "Password", "wrong", "", ""]).await;
    assert_eq!(answer, "403 Unauth");
    use futures::StreamExt;
    let next = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap();
    assert!(
        matches!(
            next,
            None | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | Some(Err(_))
        ),
        "{next:?}"
    );
    // End users have no event stream.
    server
        .admin()
        .admin_add_user("bob", "password1", None, None)
        .await
        .unwrap();
    let (_, answer) = open_stream(&server.url, ["bob", "Password", "password1", "", ""]).await;
    assert_eq!(answer, "403 Unauth");
}

#[tokio::test]
async fn stream_accepts_session_keys_and_totp() {
    let server = Server::start();
    let admin = server.admin();
    let key = admin
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key;
    let (_, answer) = open_stream(&server.url, ["admin", "SessionKey", "", &key, ""]).await;
    assert_eq!(answer, "200 OK");

    let totp = admin.admin_account_regenerate_totp().await.unwrap();
    let secret = secret_from_url(&totp.url);
    admin
        .admin_account_validate_totp(&totp_code(&secret, 0))
        .await
        .unwrap();
    let (_, answer) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(
        answer, "403 Unauth",
        "password alone is not enough any more"
    );
    let code = totp_code(&secret, 1);
    let (mut socket, answer) =
        open_stream(&server.url, ["admin", "PasswordTOTP", "admin", "", &code]).await;
    assert_eq!(answer, "200 OK");
    assert_eq!(next_event(&mut socket).await["Type"], HELLO);
}

/// A tenant administrator (configured in cometd.cfg) sees only its tenant's events.
#[tokio::test]
async fn tenant_subscribers_see_only_their_tenant() {
    let server = Server::launch(Launch {
        config: Some(json!({
            "Organizations": {"org-a": {"Name": "Tenant A"}},
            "AdminUsers": [
                {"Username": "admin", "PasswordFormat": 0, "Password": "admin", "AllowPasswordLogin": true},
                {"Username": "tenant", "OrganizationID": "org-a", "PasswordFormat": 0, "Password": "tenantpw", "AllowPasswordLogin": true}
            ]
        })),
        ..Default::default()
    });
    let tenant = server.client(Auth::password("tenant", "tenantpw"));
    tenant.admin_list_users().await.unwrap();
    let (mut tenant_socket, answer) =
        open_stream(&server.url, ["tenant", "Password", "tenantpw", "", ""]).await;
    assert_eq!(answer, "200 OK");
    assert_eq!(next_event(&mut tenant_socket).await["Type"], HELLO);
    let (mut top_socket, _) =
        open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(next_event(&mut top_socket).await["Type"], HELLO);

    server
        .admin()
        .admin_add_user("top-user", "password1", None, None)
        .await
        .unwrap();
    tenant
        .admin_add_user("tenant-user", "password1", None, None)
        .await
        .unwrap();

    let mut tenant_seen = Vec::new();
    while tenant_seen
        .last()
        .map(|e: &serde_json::Value| e["Type"] != ACCOUNT_NEW)
        .unwrap_or(true)
    {
        tenant_seen.push(next_event(&mut tenant_socket).await);
    }
    for event in &tenant_seen {
        assert_eq!(event["OwnerOrganizationID"], "org-a", "{event}");
    }
    assert_eq!(tenant_seen.last().unwrap()["ResourceID"], "tenant-user");

    let mut top_new = Vec::new();
    while top_new.len() < 2 {
        let event = next_event(&mut top_socket).await;
        if event["Type"] == ACCOUNT_NEW {
            top_new.push(event["ResourceID"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(top_new, vec!["top-user", "tenant-user"]);
    // A tenant administrator sees only its tenant's accounts.
    assert_eq!(
        tenant.admin_list_users().await.unwrap(),
        vec!["tenant-user"]
    );
}

#[tokio::test]
async fn a_stalled_client_is_dropped_and_only_it() {
    let server = Server::launch(Launch {
        args: vec!["--event-queue-limit".into(), "8".into()],
        ..Default::default()
    });
    let admin = server.admin();
    admin
        .admin_add_user("big", "password1", None, None)
        .await
        .unwrap();
    let (mut stalled, _) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    let (mut healthy, _) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    let healthy_task = tokio::spawn(async move {
        let mut updates = 0;
        while updates < 60 {
            if next_event(&mut healthy).await["Type"] == ACCOUNT_UPDATED {
                updates += 1;
            }
        }
        updates
    });

    // Large events fill the stalled client's socket buffers, then its queue.
    let mut profile = admin.admin_get_user_profile("big").await.unwrap();
    profile
        .extra
        .insert("Padding".into(), json!("x".repeat(256 * 1024)));
    for n in 0..60 {
        profile.account_name = format!("update {n}");
        admin.admin_set_user_profile("big", &profile).await.unwrap();
    }
    assert_eq!(
        healthy_task.await.unwrap(),
        60,
        "the healthy client got every event"
    );

    use futures::StreamExt;
    let mut received_updates = 0;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(Ok(frame)) = stalled.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                if text.contains("\"Type\":4102") {
                    received_updates += 1;
                }
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stalled client's connection was closed");
    assert!(
        received_updates < 60,
        "the stalled client was dropped before the end ({received_updates})"
    );
}

async fn set_webhooks(server: &Server, hooks: serde_json::Value) {
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await;
    assert_eq!(answer.json(), json!({"Status": 200, "Message": "OK"}));
}

#[tokio::test]
async fn webhooks_receive_hello_then_events_with_headers() {
    let server = Server::start();
    let mut receiver = WebhookReceiver::start(0).await;
    set_webhooks(&server, json!({"main": {"URL": receiver.url, "CustomHeaders": {"X-Token": "s3cret"}, "Level": "full"}})).await;
    let got = admin_post(&server.url, "/api/v1/admin/meta/webhook-options/get", &[])
        .await
        .json();
    assert_eq!(got["main"]["URL"], receiver.url.as_str());
    assert_eq!(got["main"]["WhiteListedEventTypes"], json!([]));

    // Deliveries run in parallel: HELLO may cross the `get` call's login event.
    let hello = receiver.until_type(HELLO, 10).await;
    assert_eq!(hello.headers["x-token"], "s3cret");
    server
        .admin()
        .admin_add_user("carol", "password1", None, None)
        .await
        .unwrap();
    let new = receiver.until_type(ACCOUNT_NEW, 10).await;
    assert_eq!(new.event["ResourceID"], "carol");
    assert_eq!(new.event["Data"]["Username"], "carol");
    assert_eq!(new.headers["x-token"], "s3cret");
    let first = hello.headers["x-comet-tracing-id"]
        .to_str()
        .unwrap()
        .to_string();
    let second = new.headers["x-comet-tracing-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        !first.is_empty() && first != second,
        "tracing ids are unique"
    );

    let invalid = admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[(
            "WebhookOptions",
            &json!({"bad": {"URL": "not a url"}}).to_string(),
        )],
    )
    .await;
    assert_eq!(invalid.api_status(), 400);
    assert!(invalid.message().contains("WebhookOptions"));
}

#[tokio::test]
async fn webhook_level_and_white_list_filter() {
    let server = Server::start();
    let mut only_new = WebhookReceiver::start(0).await;
    let mut envelope_only = WebhookReceiver::start(0).await;
    set_webhooks(
        &server,
        json!({
            "only-new": {"URL": only_new.url, "Level": "full", "WhiteListedEventTypes": [ACCOUNT_NEW]},
            "envelope": {"URL": envelope_only.url, "Level": "none"}
        }),
    )
    .await;
    assert_eq!(
        only_new.next(10).await.event["Type"],
        HELLO,
        "HELLO passes any white list"
    );
    assert_eq!(envelope_only.next(10).await.event.get("Data"), None);
    server
        .admin()
        .admin_add_user("dana", "password1", None, None)
        .await
        .unwrap();
    let new = only_new.next(10).await;
    assert_eq!(
        new.event["Type"], ACCOUNT_NEW,
        "login events are filtered out"
    );
    let new = envelope_only.until_type(ACCOUNT_NEW, 10).await;
    assert_eq!(new.event["ResourceID"], "dana");
    assert_eq!(new.event.get("Data"), None, "Level none sends no Data");
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_once_it_recovers() {
    let server = Server::start();
    let mut receiver = WebhookReceiver::start(2).await;
    set_webhooks(
        &server,
        json!({"flaky": {"URL": receiver.url, "WhiteListedEventTypes": [ACCOUNT_NEW]}}),
    )
    .await;
    let hello = receiver.next(20).await;
    assert_eq!(hello.event["Type"], HELLO);
    assert!(
        receiver.requests.load(std::sync::atomic::Ordering::SeqCst) >= 3,
        "two failures before"
    );
    server
        .admin()
        .admin_add_user("erin", "password1", None, None)
        .await
        .unwrap();
    assert_eq!(receiver.next(10).await.event["ResourceID"], "erin");
}

#[tokio::test]
async fn undelivered_events_survive_a_restart() {
    // A port where nothing listens yet.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut server = Server::start();
    set_webhooks(
        &server,
        json!({"later": {"URL": url, "WhiteListedEventTypes": [ACCOUNT_NEW]}}),
    )
    .await;
    server
        .admin()
        .admin_add_user("fred", "password1", None, None)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let temp = server.keep_data_dir();
    server.kill();

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let mut receiver = WebhookReceiver::serve(listener, 0);
    let _restarted = Server::spawn_in(&server.data_dir.clone(), &Launch::default());
    let mut seen = Vec::new();
    while !seen.contains(&json!("fred")) {
        let delivery = receiver.next(30).await;
        seen.push(delivery.event["ResourceID"].clone());
        assert!(delivery.event["Type"] == HELLO || delivery.event["Type"] == ACCOUNT_NEW);
    }
    drop(temp);
}

#[tokio::test]
async fn hooks_written_into_cometd_cfg_take_effect_at_start() {
    let mut receiver = WebhookReceiver::start(0).await;
    let _server = Server::launch(Launch {
        config: Some(json!({"WebhookOptions": {"by-hand": {"URL": receiver.url}}})),
        ..Default::default()
    });
    // Deliveries run in parallel, so the greeting may overtake or trail the
    // events queued at start (such as the initial administrator's creation).
    let mut types = Vec::new();
    while !(types.contains(&json!(HELLO)) && types.contains(&json!("SEVT_SERVER_STARTED"))) {
        let delivery = receiver.next(10).await;
        types.push(delivery.event["Type"].clone());
        types.push(delivery.event["TypeString"].clone());
    }
}

#[tokio::test]
async fn audit_files_record_filtered_events() {
    let server = Server::launch(Launch {
        config: Some(
            json!({"AuditFileOptions": {"a": {"Filename": "audit", "AllowEventTypes": [ACCOUNT_NEW]}}}),
        ),
        ..Default::default()
    });
    server
        .admin()
        .admin_add_user("gail", "password1", None, None)
        .await
        .unwrap();
    let logs = server.data_dir.join("logs");
    let mut lines = Vec::new();
    for _ in 0..50 {
        let audit_file = std::fs::read_dir(&logs)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with("audit."));
        if let Some(entry) = audit_file {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            lines = text
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                .collect();
            if !lines.is_empty() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["Type"], ACCOUNT_NEW);
    assert_eq!(lines[0]["ResourceID"], "gail");
}

/// A tenant administrator's webhooks live in its `Organization` and receive
/// only that tenant's events.
#[tokio::test]
async fn tenant_webhooks_receive_only_their_events() {
    let server = Server::launch(Launch {
        config: Some(json!({
            "Organizations": {"org-a": {"Name": "Tenant A"}},
            "AdminUsers": [
                {"Username": "admin", "PasswordFormat": 0, "Password": "admin", "AllowPasswordLogin": true},
                {"Username": "tenant", "OrganizationID": "org-a", "PasswordFormat": 0, "Password": "tenantpw", "AllowPasswordLogin": true,
                 "Permissions": {"AllowEditWebhooks": true}}
            ]
        })),
        ..Default::default()
    });
    let mut receiver = WebhookReceiver::start(0).await;
    let tenant = server.client(Auth::password("tenant", "tenantpw"));
    let hooks =
        json!({"tenant-hook": {"URL": receiver.url, "WhiteListedEventTypes": [ACCOUNT_NEW]}});
    tenant
        .call_ok(
            "/api/v1/admin/meta/webhook-options/set",
            &[("WebhookOptions", hooks.to_string())],
        )
        .await
        .unwrap();
    let config = server.config();
    assert_eq!(
        config["Organizations"]["org-a"]["WebhookOptions"]["tenant-hook"]["URL"],
        receiver.url.as_str()
    );
    assert_eq!(
        config["WebhookOptions"],
        json!({}),
        "the top level is untouched"
    );
    let top_view = admin_post(&server.url, "/api/v1/admin/meta/webhook-options/get", &[])
        .await
        .json();
    assert_eq!(top_view, json!({}));

    assert_eq!(receiver.next(10).await.event["Type"], HELLO);
    server
        .admin()
        .admin_add_user("top-user", "password1", None, None)
        .await
        .unwrap();
    tenant
        .admin_add_user("tenant-user", "password1", None, None)
        .await
        .unwrap();
    let delivery = receiver.next(10).await;
    assert_eq!(delivery.event["ResourceID"], "tenant-user");
    assert_eq!(delivery.event["OwnerOrganizationID"], "org-a");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        receiver.deliveries.try_recv().is_err(),
        "no other tenant's event"
    );
}
