//! Protected Items with backup rules, and news.

mod common;

use common::*;
use serde_json::{json, Value};

fn item() -> String {
    json!({"Description": "Documents", "Engine": "engine1/file", "EngineProps": {"INCLUDE1": "/home"}}).to_string()
}

fn rules() -> String {
    json!({"rule-1": {"Description": "Nightly", "Destination": "vault-1",
        "Schedules": [{"FrequencyType": 8011, "SecondsPast": 7200}]}})
    .to_string()
}

#[tokio::test]
async fn administrators_edit_protected_items_atomically() {
    let server = Server::start();
    server
        .admin()
        .admin_add_user("ann", "password1", None, None)
        .await
        .unwrap();
    let set = admin_post(
        &server.url,
        "/api/v1/admin/set-protected-item-with-backup-rules",
        &[
            ("TargetUser", "ann"),
            ("SourceID", "src-1"),
            ("Source", &item()),
            ("BackupRules", &rules()),
        ],
    )
    .await;
    assert_eq!(set.json(), json!({"Status": 200, "Message": "OK"}));
    let got = admin_post(
        &server.url,
        "/api/v1/admin/get-protected-item-with-backup-rules",
        &[("TargetUser", "ann"), ("SourceID", "src-1")],
    )
    .await
    .json();
    assert_eq!(got["Source"]["Description"], "Documents");
    assert_eq!(
        got["BackupRules"]["rule-1"]["Source"], "src-1",
        "rules point to their item"
    );
    let hash = got["ProfileHash"].as_str().unwrap().to_string();

    // Rules only, conditional on the hash; a stale hash changes nothing.
    let fewer = json!({}).to_string();
    let ok = admin_post(
        &server.url,
        "/api/v1/admin/set-protected-item-with-backup-rules",
        &[
            ("TargetUser", "ann"),
            ("SourceID", "src-1"),
            ("BackupRules", &fewer),
            ("RequireHash", &hash),
        ],
    )
    .await;
    assert_eq!(ok.api_status(), 200);
    let stale = admin_post(
        &server.url,
        "/api/v1/admin/set-protected-item-with-backup-rules",
        &[
            ("TargetUser", "ann"),
            ("SourceID", "src-1"),
            ("BackupRules", &rules()),
            ("RequireHash", &hash),
        ],
    )
    .await;
    assert_eq!(stale.api_status(), 409);
    let profile = server.admin().admin_get_user_profile("ann").await.unwrap();
    assert!(profile.backup_rules.is_empty());
    assert!(profile.sources.contains_key("src-1"));

    let missing = admin_post(
        &server.url,
        "/api/v1/admin/get-protected-item-with-backup-rules",
        &[("TargetUser", "ann"), ("SourceID", "nope")],
    )
    .await;
    assert_eq!(missing.api_status(), 400);
    assert!(missing.message().contains("SourceID"));
    let deleted = admin_post(
        &server.url,
        "/api/v1/admin/delete-protected-item",
        &[("TargetUser", "ann"), ("SourceID", "src-1")],
    )
    .await;
    assert_eq!(deleted.api_status(), 200);
    assert!(server
        .admin()
        .admin_get_user_profile("ann")
        .await
        .unwrap()
        .sources
        .is_empty());
}

#[tokio::test]
async fn end_users_edit_their_own_items_within_their_policy() {
    let server = Server::start();
    server
        .admin()
        .admin_add_user("ben", "password1", None, None)
        .await
        .unwrap();
    let as_user = |path: &'static str, extra: Vec<(&'static str, String)>| {
        let url = server.url.clone();
        async move {
            let mut fields: Vec<(&str, &str)> = vec![
                ("Username", "ben"),
                ("AuthType", "Password"),
                ("Password", "password1"),
            ];
            fields.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
            post_form(&url, path, &fields).await.json()
        }
    };
    let set = as_user(
        "/api/v1/user/web/set-protected-item-with-backup-rules",
        vec![
            ("SourceID", "s".into()),
            ("Source", item()),
            ("BackupRules", rules()),
        ],
    )
    .await;
    assert_eq!(set["Status"], 200);
    let got: Value = as_user(
        "/api/v1/user/web/get-protected-item-with-backup-rules",
        vec![("SourceID", "s".into())],
    )
    .await;
    assert_eq!(got["Source"]["Engine"], "engine1/file");

    let policy = json!({"Description": "locked", "Policy": {"PreventDeleteProtectedItem": true, "PreventNewProtectedItem": true}});
    admin_post(
        &server.url,
        "/api/v1/admin/policies/set",
        &[("PolicyID", "locked"), ("Policy", &policy.to_string())],
    )
    .await;
    let mut profile = server.admin().admin_get_user_profile("ben").await.unwrap();
    profile.policy_id = "locked".into();
    server
        .admin()
        .admin_set_user_profile("ben", &profile)
        .await
        .unwrap();
    let refused = as_user(
        "/api/v1/user/web/delete-protected-item",
        vec![("SourceID", "s".into())],
    )
    .await;
    assert_eq!(refused["Status"], 403);
    let refused = as_user(
        "/api/v1/user/web/set-protected-item-with-backup-rules",
        vec![
            ("SourceID", "new".into()),
            ("Source", item()),
            ("BackupRules", "{}".into()),
        ],
    )
    .await;
    assert_eq!(refused["Status"], 403);
    // Editing an existing item is still allowed.
    let edit = as_user(
        "/api/v1/user/web/set-protected-item-with-backup-rules",
        vec![("SourceID", "s".into()), ("BackupRules", "{}".into())],
    )
    .await;
    assert_eq!(edit["Status"], 200);
    // The administrator is not bound by the user's policy.
    let admin_delete = admin_post(
        &server.url,
        "/api/v1/admin/delete-protected-item",
        &[("TargetUser", "ben"), ("SourceID", "s")],
    )
    .await;
    assert_eq!(admin_delete.api_status(), 200);
}

#[tokio::test]
async fn news_reaches_administrators_and_users() {
    let server = Server::start();
    server
        .admin()
        .admin_add_user("cal", "password1", None, None)
        .await
        .unwrap();
    let submitted = admin_post(
        &server.url,
        "/api/v1/admin/news/submit",
        &[("NewsContent", "Maintenance on Sunday")],
    )
    .await;
    assert_eq!(submitted.api_status(), 200);
    let all = admin_post(&server.url, "/api/v1/admin/news/get-all", &[])
        .await
        .json();
    let (id, entry) = all.as_object().unwrap().iter().next().unwrap();
    assert_eq!(entry["TextContent"], "Maintenance on Sunday");
    assert!(entry["DateTime"].as_i64().unwrap() > 0);
    let user_view = post_form(
        &server.url,
        "/api/v1/user/web/news/get-all",
        &[
            ("Username", "cal"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await
    .json();
    assert_eq!(user_view[id]["TextContent"], "Maintenance on Sunday");
    assert_eq!(
        admin_post(
            &server.url,
            "/api/v1/admin/news/remove",
            &[("NewsItem", id)]
        )
        .await
        .api_status(),
        200
    );
    assert_eq!(
        admin_post(&server.url, "/api/v1/admin/news/get-all", &[])
            .await
            .json(),
        json!({})
    );
    assert_eq!(
        admin_post(
            &server.url,
            "/api/v1/admin/news/remove",
            &[("NewsItem", id)]
        )
        .await
        .api_status(),
        400
    );
}
