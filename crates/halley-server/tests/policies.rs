//! Policies: CRUD, enforcement on profiles, propagation, defaults.

mod common;

use common::*;
use halley_client::Auth;
use serde_json::{json, Value};

async fn call(server: &Server, path: &str, fields: &[(&str, &str)]) -> Value {
    admin_post(
        &server.url,
        &format!("/api/v1/admin/policies/{path}"),
        fields,
    )
    .await
    .json()
}

/// The policy WHMCS creates, under its own ID.
fn whmcs_policy() -> Value {
    json!({"Description": "WHMCS_abc", "Policy": {"PreventChangeAccountPassword": true, "ModeAdminResetPassword": 3,
        "PreventDeleteStorageVault": true, "PreventAddCustomStorageVault": true, "PreventRequestStorageVault": true,
        "StorageVaultProviders": {"AllowedProvidersWhenRestricted": [1003], "ShouldRestrictProviderList": true},
        "ProtectedItemEngineTypes": {"AllowedEngineTypeWhenRestricted": [], "ShouldRestrictEngineTypeList": false}}})
}

#[tokio::test]
async fn set_creates_under_the_callers_id_then_get_list_delete() {
    let server = Server::start();
    let absent = call(&server, "get", &[("PolicyID", "WHMCS_abc")]).await;
    assert!(absent["Status"].as_i64().unwrap() >= 400);
    assert!(absent.get("PolicyHash").is_none());

    let set = call(
        &server,
        "set",
        &[
            ("PolicyID", "WHMCS_abc"),
            ("Policy", &whmcs_policy().to_string()),
        ],
    )
    .await;
    assert_eq!(set, json!({"Status": 200, "Message": "OK"}));
    let got = call(&server, "get", &[("PolicyID", "WHMCS_abc")]).await;
    assert_eq!(got["Status"], 200);
    assert!(!got["PolicyHash"].as_str().unwrap().is_empty());
    assert_eq!(
        got["Policy"]["Policy"]["StorageVaultProviders"]["AllowedProvidersWhenRestricted"],
        json!([1003])
    );
    assert!(got["Policy"]["CreatedDate"].as_i64().unwrap() > 0);

    let created = call(
        &server,
        "new",
        &[("Policy", &json!({"Description": "Second"}).to_string())],
    )
    .await;
    assert_eq!(created["Status"], 200);
    let second_id = created["PolicyID"].as_str().unwrap().to_string();
    let list = call(&server, "list", &[]).await;
    assert_eq!(
        list,
        json!({"WHMCS_abc": "WHMCS_abc", second_id.clone(): "Second"})
    );
    let full = call(&server, "list-full", &[]).await;
    assert_eq!(full[&second_id]["Description"], "Second");

    assert_eq!(
        call(&server, "delete", &[("PolicyID", &second_id)]).await["Status"],
        200
    );
    assert_eq!(
        call(&server, "list", &[]).await,
        json!({"WHMCS_abc": "WHMCS_abc"})
    );
    assert!(
        call(&server, "delete", &[("PolicyID", &second_id)]).await["Status"]
            .as_i64()
            .unwrap()
            >= 400
    );
}

#[tokio::test]
async fn a_stale_policy_hash_is_refused() {
    let server = Server::start();
    call(
        &server,
        "set",
        &[("PolicyID", "p1"), ("Policy", &whmcs_policy().to_string())],
    )
    .await;
    let hash = call(&server, "get", &[("PolicyID", "p1")]).await["PolicyHash"]
        .as_str()
        .unwrap()
        .to_string();
    let edit = json!({"Description": "edited"}).to_string();
    assert_eq!(
        call(
            &server,
            "set",
            &[
                ("PolicyID", "p1"),
                ("Policy", &edit),
                ("CheckPolicyHash", &hash)
            ]
        )
        .await["Status"],
        200
    );
    let stale = call(
        &server,
        "set",
        &[
            ("PolicyID", "p1"),
            ("Policy", &json!({"Description": "lost"}).to_string()),
            ("CheckPolicyHash", &hash),
        ],
    )
    .await;
    assert_eq!(stale["Status"], 409);
    assert_eq!(
        call(&server, "get", &[("PolicyID", "p1")]).await["Policy"]["Description"],
        "edited"
    );
}

#[tokio::test]
async fn profiles_carry_a_read_only_copy_that_follows_the_policy() {
    let server = Server::start();
    let admin = server.admin();
    call(
        &server,
        "set",
        &[("PolicyID", "p1"), ("Policy", &whmcs_policy().to_string())],
    )
    .await;
    admin
        .admin_add_user("alice", "password1", None, None)
        .await
        .unwrap();
    let mut profile = admin.admin_get_user_profile("alice").await.unwrap();
    profile.policy_id = "p1".into();
    admin
        .admin_set_user_profile("alice", &profile)
        .await
        .unwrap();
    let profile = admin.admin_get_user_profile("alice").await.unwrap();
    assert!(profile.policy.prevent_delete_storage_vault);

    // The copy cannot be changed around the policy.
    let mut tampered = profile.clone();
    tampered.policy.prevent_delete_storage_vault = false;
    admin
        .admin_set_user_profile("alice", &tampered)
        .await
        .unwrap();
    assert!(
        admin
            .admin_get_user_profile("alice")
            .await
            .unwrap()
            .policy
            .prevent_delete_storage_vault
    );

    // Changing the policy rewrites the copy.
    let mut changed = whmcs_policy();
    changed["Policy"]["PreventDeleteStorageVault"] = json!(false);
    changed["Policy"]["PreventOpenWebUI"] = json!(true);
    call(
        &server,
        "set",
        &[("PolicyID", "p1"), ("Policy", &changed.to_string())],
    )
    .await;
    let profile = admin.admin_get_user_profile("alice").await.unwrap();
    assert!(!profile.policy.prevent_delete_storage_vault);
    assert!(profile.policy.prevent_open_web_ui);

    // An unknown policy is refused and changes nothing.
    let mut unknown = profile.clone();
    unknown.policy_id = "nope".into();
    let err = admin
        .admin_set_user_profile("alice", &unknown)
        .await
        .unwrap_err();
    assert_eq!(err.api_status(), Some(400));
    assert_eq!(
        admin
            .admin_get_user_profile("alice")
            .await
            .unwrap()
            .policy_id,
        "p1"
    );

    // End users cannot detach themselves from their policy.
    let user = server.client(Auth::password("alice", "password1"));
    let got = user.user_web_get_user_profile_and_hash().await.unwrap();
    let mut own = got.profile.clone();
    own.policy_id.clear();
    own.policy.prevent_open_web_ui = false;
    own.is_suspended = false;
    own.maximum_devices = 99;
    let saved = user
        .user_web_set_profile_hash(&own, &got.profile_hash)
        .await
        .unwrap();
    assert_eq!(saved.profile.policy_id, "p1");
    assert!(saved.profile.policy.prevent_open_web_ui);
    assert_eq!(saved.profile.maximum_devices, 0);

    // A deleted policy detaches cleanly: the last copy stays, the ID goes.
    call(&server, "delete", &[("PolicyID", "p1")]).await;
    let profile = admin.admin_get_user_profile("alice").await.unwrap();
    assert_eq!(profile.policy_id, "");
    assert!(profile.policy.prevent_open_web_ui);
}

#[tokio::test]
async fn the_default_policy_applies_to_new_users_and_is_unique() {
    let server = Server::start();
    let mut first = whmcs_policy();
    first["DefaultUserPolicy"] = json!(true);
    call(
        &server,
        "set",
        &[("PolicyID", "first"), ("Policy", &first.to_string())],
    )
    .await;
    server
        .admin()
        .admin_add_user("bob", "password1", None, None)
        .await
        .unwrap();
    assert_eq!(
        server
            .admin()
            .admin_get_user_profile("bob")
            .await
            .unwrap()
            .policy_id,
        "first"
    );

    let second = json!({"Description": "second", "DefaultUserPolicy": true});
    call(
        &server,
        "set",
        &[("PolicyID", "second"), ("Policy", &second.to_string())],
    )
    .await;
    let full = call(&server, "list-full", &[]).await;
    assert_eq!(full["first"]["DefaultUserPolicy"], false);
    assert_eq!(full["second"]["DefaultUserPolicy"], true);
    server
        .admin()
        .admin_add_user("carl", "password1", None, None)
        .await
        .unwrap();
    assert_eq!(
        server
            .admin()
            .admin_get_user_profile("carl")
            .await
            .unwrap()
            .policy_id,
        "second"
    );
}

#[tokio::test]
async fn policy_events_are_published() {
    let server = Server::start();
    let (mut socket, _) = open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    next_event(&mut socket).await; // HELLO
    call(
        &server,
        "set",
        &[("PolicyID", "p9"), ("Policy", &whmcs_policy().to_string())],
    )
    .await;
    call(
        &server,
        "set",
        &[("PolicyID", "p9"), ("Policy", &whmcs_policy().to_string())],
    )
    .await;
    call(&server, "delete", &[("PolicyID", "p9")]).await;
    let mut types = Vec::new();
    while types.len() < 3 {
        let event = next_event(&mut socket).await;
        if event["Type"].as_i64().unwrap() / 100 == 46 {
            assert_eq!(event["ResourceID"], "p9");
            types.push(event["Type"].as_i64().unwrap());
        }
    }
    assert_eq!(types, vec![4600, 4602, 4601]);
}

/// An administrator with `AllowedUserPolicies` assigns only those policies.
#[tokio::test]
async fn allowed_user_policies_limit_what_an_administrator_assigns() {
    let server = Server::launch(Launch {
        config: Some(json!({"AdminUsers": [
            {"Username": "admin", "PasswordFormat": 0, "Password": "admin"},
            {"Username": "limited", "PasswordFormat": 0, "Password": "limitedpw", "Permissions": {"AllowedUserPolicies": ["basic"]}}
        ]})),
        ..Default::default()
    });
    for id in ["basic", "premium"] {
        call(
            &server,
            "set",
            &[
                ("PolicyID", id),
                ("Policy", &json!({"Description": id}).to_string()),
            ],
        )
        .await;
    }
    server
        .admin()
        .admin_add_user("dora", "password1", None, None)
        .await
        .unwrap();
    let limited = server.client(Auth::password("limited", "limitedpw"));
    let mut profile = limited.admin_get_user_profile("dora").await.unwrap();
    profile.policy_id = "premium".into();
    assert_eq!(
        limited
            .admin_set_user_profile("dora", &profile)
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );
    profile.policy_id = "basic".into();
    limited
        .admin_set_user_profile("dora", &profile)
        .await
        .unwrap();
    assert_eq!(
        server
            .admin()
            .admin_get_user_profile("dora")
            .await
            .unwrap()
            .policy_id,
        "basic"
    );
}

fn error_message(err: halley_client::Error) -> (Option<i64>, String) {
    (err.api_status(), err.to_string())
}

#[tokio::test]
async fn a_policy_locks_what_the_end_user_may_change_and_enforces_vault_retention() {
    let server = Server::start();
    let admin = server.admin();
    let keep_five = json!({"Mode": 802, "Ranges": [{"Type": 900, "Jobs": 5}]});
    let policy = json!({"Description": "locked", "Policy": {
        "PreventChangeAccountName": true, "PreventChangeEmailSettings": true,
        "PreventChangeAccountPassword": true,
        "StorageVaultProviders": {"ShouldRestrictProviderList": true, "AllowedProvidersWhenRestricted": [1003]},
        "ProtectedItemEngineTypes": {"ShouldRestrictEngineTypeList": true, "AllowedEngineTypeWhenRestricted": ["engine1/file"]},
        "EnforceStorageVaultRetention": true, "DefaultStorageVaultRetention": keep_five}});
    call(
        &server,
        "set",
        &[("PolicyID", "locked"), ("Policy", &policy.to_string())],
    )
    .await;
    admin
        .admin_add_user("dora", "password1", None, None)
        .await
        .unwrap();
    let mut profile = admin.admin_get_user_profile("dora").await.unwrap();
    profile.policy_id = "locked".into();
    profile.destinations.insert(
        "v1".into(),
        serde_json::from_value(json!({"Description": "Vault", "DestinationType": 1003,
            "DefaultRetention": {"Mode": 801, "Ranges": []}}))
        .unwrap(),
    );
    admin
        .admin_set_user_profile("dora", &profile)
        .await
        .unwrap();
    // The wire form of the policy's retention, with every field filled in.
    let keep_five = serde_json::to_value(
        serde_json::from_value::<halley_api::types::RetentionPolicy>(keep_five).unwrap(),
    )
    .unwrap();
    let stored = admin.admin_get_user_profile("dora").await.unwrap();
    assert_eq!(
        serde_json::to_value(&stored.destinations["v1"].default_retention).unwrap(),
        keep_five,
        "the enforced retention replaces the one the administrator sent"
    );

    let user = server.client(Auth::password("dora", "password1"));
    let refused = |edit: fn(&mut halley_api::types::UserProfileConfig)| {
        let user = &user;
        async move {
            let got = user.user_web_get_user_profile_and_hash().await.unwrap();
            let mut own = got.profile.clone();
            edit(&mut own);
            error_message(
                user.user_web_set_profile_hash(&own, &got.profile_hash)
                    .await
                    .expect_err("the policy should refuse this edit"),
            )
        }
    };
    let (status, message) = refused(|p| p.account_name = "Renamed".into()).await;
    assert_eq!(status, Some(403));
    assert!(message.contains("PreventChangeAccountName"), "{message}");
    let (_, message) = refused(|p| p.emails = vec!["d@example.com".into()]).await;
    assert!(message.contains("PreventChangeEmailSettings"), "{message}");
    let (_, message) = refused(|p| {
        p.destinations.insert(
            "s3".into(),
            serde_json::from_value(json!({"Description": "Own bucket", "DestinationType": 1000}))
                .unwrap(),
        );
    })
    .await;
    assert!(
        message.contains("'s3'") && message.contains("StorageVaultProviders"),
        "{message}"
    );
    let (_, message) = refused(|p| {
        p.destinations.get_mut("v1").unwrap().default_retention =
            serde_json::from_value(json!({"Mode": 801})).unwrap();
    })
    .await;
    assert!(
        message.contains("EnforceStorageVaultRetention"),
        "{message}"
    );
    let (_, message) = refused(|p| {
        p.sources.insert(
            "dump".into(),
            serde_json::from_value(json!({"Description": "Dump", "Engine": "engine1/stdout"}))
                .unwrap(),
        );
    })
    .await;
    assert!(message.contains("engine1/stdout"), "{message}");
    let stdout_item = post_form(
        &server.url,
        "/api/v1/user/web/set-protected-item-with-backup-rules",
        &[
            ("Username", "dora"),
            ("AuthType", "Password"),
            ("Password", "password1"),
            ("SourceID", "dump"),
            (
                "Source",
                &json!({"Description": "Dump", "Engine": "engine1/stdout"}).to_string(),
            ),
            ("BackupRules", "{}"),
        ],
    )
    .await
    .json();
    assert_eq!(stdout_item["Status"], 403, "{stdout_item}");
    let hash = user
        .user_web_get_user_profile_and_hash()
        .await
        .unwrap()
        .profile_hash;
    let password = user
        .user_web_account_reset_password(&hash, "password1", "password2")
        .await
        .expect_err("PreventChangeAccountPassword");
    assert_eq!(password.api_status(), Some(403));

    // Nothing refused was stored; what the policy leaves open still saves.
    let got = user.user_web_get_user_profile_and_hash().await.unwrap();
    assert_eq!(got.profile.account_name, "");
    assert!(got.profile.emails.is_empty());
    assert_eq!(
        got.profile.destinations.keys().collect::<Vec<_>>(),
        vec!["v1"]
    );
    assert!(got.profile.sources.is_empty());
    let mut own = got.profile.clone();
    own.destinations.insert(
        "v2".into(),
        serde_json::from_value(json!({"Description": "Second", "DestinationType": 1003})).unwrap(),
    );
    own.sources.insert(
        "docs".into(),
        serde_json::from_value(json!({"Description": "Docs", "Engine": "engine1/file"})).unwrap(),
    );
    let saved = user
        .user_web_set_profile_hash(&own, &got.profile_hash)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&saved.profile.destinations["v2"].default_retention).unwrap(),
        keep_five
    );
    assert!(saved.profile.sources.contains_key("docs"));

    // The administrator is not held to the end user's locks...
    let mut by_admin = admin.admin_get_user_profile("dora").await.unwrap();
    by_admin.account_name = "Dora Ltd".into();
    admin
        .admin_set_user_profile("dora", &by_admin)
        .await
        .unwrap();
    assert_eq!(
        admin
            .admin_get_user_profile("dora")
            .await
            .unwrap()
            .account_name,
        "Dora Ltd"
    );

    // ...and a changed retention in the policy reaches every vault.
    let mut changed = policy.clone();
    changed["Policy"]["DefaultStorageVaultRetention"] =
        json!({"Mode": 802, "Ranges": [{"Type": 902, "Days": 30}]});
    call(
        &server,
        "set",
        &[("PolicyID", "locked"), ("Policy", &changed.to_string())],
    )
    .await;
    let profile = admin.admin_get_user_profile("dora").await.unwrap();
    for vault in profile.destinations.values() {
        assert_eq!(vault.default_retention.ranges[0].days, 30);
    }
}
