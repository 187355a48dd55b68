//! End-user accounts managed by an administrator, and by the users themselves.

mod common;

use common::*;
use halley_client::{Auth, Error};

#[tokio::test]
async fn add_list_get_delete() {
    let server = Server::start();
    let admin = server.admin();
    let ok = admin
        .admin_add_user("alice", "password1", Some(true), None)
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    admin
        .admin_add_user("bob", "password2", None, Some(true))
        .await
        .unwrap();
    assert_eq!(
        admin.admin_list_users().await.unwrap(),
        vec!["alice", "bob"]
    );

    let alice = admin.admin_get_user_profile("alice").await.unwrap();
    assert_eq!(alice.username, "alice");
    assert!(
        !alice.password_recovery.is_empty(),
        "StoreRecoveryCode keeps a recovery code"
    );
    assert!(alice.create_time > 0);
    assert!(!alice.creation_guid.is_empty());
    let bob = admin.admin_get_user_profile("bob").await.unwrap();
    assert!(bob.require_password_change);
    assert!(bob.password_recovery.is_empty());

    let full = admin.admin_list_users_full().await.unwrap();
    assert_eq!(full.len(), 2);
    assert_eq!(full["bob"].username, "bob");

    admin.admin_delete_user("alice").await.unwrap();
    assert_eq!(admin.admin_list_users().await.unwrap(), vec!["bob"]);
    let gone = admin.admin_delete_user("alice").await.unwrap_err();
    assert_eq!(gone.api_status(), Some(400));
}

#[tokio::test]
async fn unknown_user_answers_a_message_without_username() {
    let server = Server::start();
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "ghost")],
    )
    .await;
    assert_eq!(
        answer.json(),
        serde_json::json!({"Status": 400, "Message": "User not found"})
    );
}

#[tokio::test]
async fn bad_usernames_and_passwords_are_refused_clearly() {
    let server = Server::start();
    let admin = server.admin();
    for (user, password, needle) in [
        ("has space", "password1", "username"),
        ("", "password1", "TargetUser"),
        ("dave", "short", "at least 8"),
        ("dave", "two\nlines!", "one line"),
    ] {
        let err = admin
            .admin_add_user(user, password, None, None)
            .await
            .unwrap_err();
        match err {
            Error::Api {
                status: 400,
                message,
            } => assert!(message.contains(needle), "{message}"),
            other => panic!("{other:?}"),
        }
    }
    admin
        .admin_add_user("dave", "password1", None, None)
        .await
        .unwrap();
    let err = admin
        .admin_add_user("dave", "password1", None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api { status: 400, ref message } if message.contains("already exists"))
    );
    // Usernames are case-sensitive.
    admin
        .admin_add_user("Dave", "password1", None, None)
        .await
        .unwrap();
    assert_eq!(
        admin.admin_list_users().await.unwrap(),
        vec!["Dave", "dave"]
    );
}

#[tokio::test]
async fn set_profile_keeps_secrets_and_username() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("erin", "password1", Some(true), None)
        .await
        .unwrap();
    let before = admin.admin_get_user_profile("erin").await.unwrap();
    let mut edited = before.clone();
    edited.account_name = "Erin E.".into();
    edited.password_hash = "tampered".into();
    edited.password_recovery = String::new();
    admin.admin_set_user_profile("erin", &edited).await.unwrap();
    let after = admin.admin_get_user_profile("erin").await.unwrap();
    assert_eq!(after.account_name, "Erin E.");
    assert_eq!(after.password_hash, before.password_hash);
    assert_eq!(after.password_recovery, before.password_recovery);
    // The user still logs in with the old password.
    let user = server.client(Auth::password("erin", "password1"));
    user.user_web_get_user_profile_and_hash().await.unwrap();

    let mut renamed = after.clone();
    renamed.username = "frank".into();
    let err = admin
        .admin_set_user_profile("erin", &renamed)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { status: 400, ref message } if message.contains("Username")));
}

#[tokio::test]
async fn unknown_fields_survive_a_round_trip() {
    let server = Server::start();
    admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[("TargetUser", "gina"), ("TargetPassword", "password1")],
    )
    .await;
    let mut profile = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "gina")],
    )
    .await
    .json();
    profile["FieldFromTheFuture"] = serde_json::json!({"nested": [1, 2, 3]});
    profile["Destinations"] = serde_json::json!({"vault-1": {"Description": "Vault", "DestinationType": 1003, "FutureVaultField": true}});
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/set-user-profile",
        &[
            ("TargetUser", "gina"),
            ("ProfileData", &profile.to_string()),
        ],
    )
    .await;
    assert_eq!(answer.api_status(), 200);
    let back = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "gina")],
    )
    .await
    .json();
    assert_eq!(
        back["FieldFromTheFuture"],
        serde_json::json!({"nested": [1, 2, 3]})
    );
    assert_eq!(back["Destinations"]["vault-1"]["FutureVaultField"], true);
}

#[tokio::test]
async fn profile_hash_makes_edits_atomic() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("hank", "password1", None, None)
        .await
        .unwrap();
    let got = admin.admin_get_user_profile_and_hash("hank").await.unwrap();
    assert_eq!(got.status, 200);
    let only_hash = admin.admin_get_user_profile_hash("hank").await.unwrap();
    assert_eq!(only_hash.profile_hash, got.profile_hash);

    let mut profile = got.profile.clone();
    profile.is_suspended = true;
    let saved = admin
        .admin_set_user_profile_hash("hank", &profile, &got.profile_hash)
        .await
        .unwrap();
    assert_eq!(saved.status, 200);
    assert!(saved.profile.is_suspended);
    assert_ne!(saved.profile_hash, got.profile_hash);

    // A stale hash is refused and changes nothing.
    profile.is_suspended = false;
    profile.account_name = "stale".into();
    let err = admin
        .admin_set_user_profile_hash("hank", &profile, &got.profile_hash)
        .await
        .unwrap_err();
    assert!(err.api_status().unwrap() >= 400);
    let now = admin.admin_get_user_profile_and_hash("hank").await.unwrap();
    assert!(now.profile.is_suspended);
    assert_eq!(now.profile.account_name, "");
    assert_eq!(now.profile_hash, saved.profile_hash);
}

#[tokio::test]
async fn of_two_concurrent_hash_writes_exactly_one_wins() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("ivy", "password1", None, None)
        .await
        .unwrap();
    for round in 0..5 {
        let got = admin.admin_get_user_profile_and_hash("ivy").await.unwrap();
        let mut writers = Vec::new();
        for writer in 0..8 {
            let admin = admin.clone();
            let hash = got.profile_hash.clone();
            let mut profile = got.profile.clone();
            profile.account_name = format!("round {round} writer {writer}");
            writers.push(tokio::spawn(async move {
                admin
                    .admin_set_user_profile_hash("ivy", &profile, &hash)
                    .await
                    .map(|r| r.profile.account_name)
            }));
        }
        let mut winners = Vec::new();
        for writer in writers {
            if let Ok(name) = writer.await.unwrap() {
                winners.push(name);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let stored = admin.admin_get_user_profile("ivy").await.unwrap();
        assert_eq!(stored.account_name, winners[0]);
    }
}

/// WHMCS reads a profile with PHP's json_decode($x, true) and writes it back
/// with json_encode: empty objects come back as `[]`, integers may become floats.
#[tokio::test]
async fn profile_reencoded_by_php_is_accepted() {
    let server = Server::start();
    admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[("TargetUser", "jack"), ("TargetPassword", "password1")],
    )
    .await;
    let got = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile-and-hash",
        &[("TargetUser", "jack")],
    )
    .await
    .json();
    let mut profile = got["Profile"].clone();
    php_reencode(&mut profile);
    profile["MaximumDevices"] = serde_json::json!(5.0);
    profile["AllProtectedItemsQuotaEnabled"] = serde_json::json!(true);
    profile["AllProtectedItemsQuotaBytes"] = serde_json::json!(1073741824.0);
    let text = profile.to_string();
    assert!(text.contains("\"Sources\":[]"), "{text}");
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/set-user-profile-hash",
        &[
            ("TargetUser", "jack"),
            ("ProfileData", &text),
            ("RequireHash", got["ProfileHash"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(answer.api_status(), 200, "{}", answer.message());
    let saved = answer.json();
    assert_eq!(saved["Profile"]["MaximumDevices"], 5);
    assert_eq!(saved["Profile"]["Sources"], serde_json::json!({}));
}

fn php_reencode(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) if map.is_empty() => *value = serde_json::json!([]),
        serde_json::Value::Object(map) => map.values_mut().for_each(php_reencode),
        serde_json::Value::Array(items) => items.iter_mut().for_each(php_reencode),
        _ => {}
    }
}

#[tokio::test]
async fn reset_password_needs_recovery_code_or_old_password() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("kim", "password1", Some(true), None)
        .await
        .unwrap();
    admin
        .admin_add_user("lee", "password1", None, None)
        .await
        .unwrap();
    let kim_before = admin.admin_get_user_profile("kim").await.unwrap();

    admin
        .admin_reset_user_password("kim", "newpassword", None)
        .await
        .unwrap();
    let kim_after = admin.admin_get_user_profile("kim").await.unwrap();
    assert_ne!(
        kim_after.password_recovery, kim_before.password_recovery,
        "a fresh recovery code"
    );
    assert!(server
        .client(Auth::password("kim", "newpassword"))
        .user_web_get_user_profile_and_hash()
        .await
        .is_ok());
    let old = server
        .client(Auth::password("kim", "password1"))
        .user_web_get_user_profile_and_hash()
        .await
        .unwrap_err();
    assert_eq!(old.api_status(), Some(403));

    let err = admin
        .admin_reset_user_password("lee", "newpassword", None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api { status: 400, ref message } if message.contains("OldPassword"))
    );
    let err = admin
        .admin_reset_user_password("lee", "newpassword", Some("wrongpass"))
        .await
        .unwrap_err();
    assert_eq!(err.api_status(), Some(400));
    admin
        .admin_reset_user_password("lee", "newpassword", Some("password1"))
        .await
        .unwrap();
    assert!(server
        .client(Auth::password("lee", "newpassword"))
        .user_web_get_user_profile_and_hash()
        .await
        .is_ok());
}

#[tokio::test]
async fn end_users_cannot_reach_admin_endpoints() {
    let server = Server::start();
    server
        .admin()
        .admin_add_user("mia", "password1", None, None)
        .await
        .unwrap();
    let user = server.client(Auth::password("mia", "password1"));
    let err = user.admin_list_users().await.unwrap_err();
    assert!(matches!(err, Error::Api { status: 403, ref message } if message == "Unauthorised"));
    let session = user.user_web_session_start().await.unwrap();
    assert_eq!(session.session_type, "user");
    let with_session = server.client(Auth::session("mia", &session.session_key));
    assert_eq!(
        with_session
            .admin_list_users()
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );
}

#[tokio::test]
async fn users_edit_their_own_profile_with_its_hash() {
    let server = Server::start();
    server
        .admin()
        .admin_add_user("noah", "password1", None, None)
        .await
        .unwrap();
    let user = server.client(Auth::password("noah", "password1"));
    let got = user.user_web_get_user_profile_and_hash().await.unwrap();
    let mut profile = got.profile.clone();
    profile.emails = vec!["noah@example.com".into()];
    let saved = user
        .user_web_set_profile_hash(&profile, &got.profile_hash)
        .await
        .unwrap();
    assert_eq!(saved.profile.emails, vec!["noah@example.com"]);
    let err = user
        .user_web_set_profile_hash(&profile, &got.profile_hash)
        .await
        .unwrap_err();
    assert!(err.api_status().unwrap() >= 400, "stale hash refused");

    let err = user
        .user_web_account_reset_password(&saved.profile_hash, "wrongpass", "password2")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Api { status: 400, ref message } if message.contains("OldPassword"))
    );
    user.user_web_account_reset_password(&saved.profile_hash, "password1", "password2")
        .await
        .unwrap();
    let user = server.client(Auth::password("noah", "password2"));
    assert!(user.user_web_get_user_profile_and_hash().await.is_ok());
}

#[tokio::test]
async fn user_totp_enrolment_and_admin_disable() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("olga", "password1", None, None)
        .await
        .unwrap();
    let user = server.client(Auth::password("olga", "password1"));
    let hash = user
        .user_web_get_user_profile_and_hash()
        .await
        .unwrap()
        .profile_hash;
    let totp = user.user_web_account_regenerate_totp(&hash).await.unwrap();
    assert!(totp.image.starts_with("data:image/png;base64,"));
    let secret = secret_from_url(&totp.url);
    let err = user
        .user_web_account_validate_totp(&totp.profile_hash, "000000")
        .await;
    if let Err(err) = err {
        assert_eq!(err.api_status(), Some(400));
    }
    user.user_web_account_validate_totp(&totp.profile_hash, &totp_code(&secret, 0))
        .await
        .unwrap();

    // Password alone is no longer enough: HTTP 449 asks for the code.
    let answer = post_form(
        &server.url,
        "/api/v1/user/web/get-user-profile-and-hash",
        &[
            ("Username", "olga"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await;
    assert_eq!(answer.status, 449);
    assert_eq!(answer.headers["X-Comet-TOTP-Requested"], "1");
    let with_code = server.client(Auth::PasswordTotp {
        username: "olga".into(),
        password: "password1".into(),
        totp: totp_code(&secret, 1),
    });
    with_code
        .user_web_get_user_profile_and_hash()
        .await
        .unwrap();

    admin.admin_disable_user_totp("olga").await.unwrap();
    user.user_web_get_user_profile_and_hash().await.unwrap();
}

#[tokio::test]
async fn suspended_users_cannot_log_in() {
    let server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("pia", "password1", None, None)
        .await
        .unwrap();
    let mut profile = admin.admin_get_user_profile("pia").await.unwrap();
    profile.is_suspended = true;
    admin.admin_set_user_profile("pia", &profile).await.unwrap();
    let err = server
        .client(Auth::password("pia", "password1"))
        .user_web_session_start()
        .await
        .unwrap_err();
    assert_eq!(err.api_status(), Some(403));
}

#[tokio::test]
async fn meta_version_reports_major_minor_patch() {
    let server = Server::start();
    let version = server.admin().admin_meta_version().await.unwrap();
    let parts: Vec<u32> = version
        .version
        .split('.')
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(parts.len(), 3);
    assert!(version.authentication_role);
    assert!(version.server_start_time > 0);
    let bad = admin_post(
        &server.url,
        "/api/v1/admin/meta/version",
        &[("Password", "nope")],
    )
    .await;
    let _ = bad;
    let wrong = post_form(
        &server.url,
        "/api/v1/admin/meta/version",
        &[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "wrong"),
        ],
    )
    .await;
    assert_eq!(wrong.status, 200);
    assert_eq!(
        wrong.json(),
        serde_json::json!({"Status": 403, "Message": "Unauthorised"})
    );
}
