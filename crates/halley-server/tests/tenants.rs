//! Tenants and administrators: CRUD, host-name selection, and isolation of a
//! tenant administrator on every endpoint built so far.

mod common;

use common::*;
use halley_client::{Auth, Client};
use serde_json::{json, Value};

async fn post(client_url: &str, auth: (&str, &str), path: &str, fields: &[(&str, &str)]) -> Value {
    let mut all = vec![
        ("Username", auth.0),
        ("AuthType", "Password"),
        ("Password", auth.1),
    ];
    all.extend_from_slice(fields);
    post_form(client_url, path, &all).await.json()
}

/// A server with tenant A (no host names) and its administrator `boss`.
async fn with_tenant() -> (Server, String) {
    let server = Server::start();
    let org = create_tenant(&server, "Tenant A").await;
    create_tenant_admin(&server, &org, "boss", "bosspass").await;
    (server, org)
}

#[tokio::test]
async fn tenants_are_created_listed_updated_and_deleted_with_their_data() {
    let (server, org) = with_tenant().await;
    let list = admin_post(&server.url, "/api/v1/admin/organization/list", &[])
        .await
        .json();
    assert_eq!(list[&org]["Name"], "Tenant A");
    let updated = admin_post(
        &server.url,
        "/api/v1/admin/organization/set",
        &[
            ("OrganizationID", &org),
            (
                "Organization",
                &json!({"Name": "Tenant A2", "Hosts": ["A.example.com"]}).to_string(),
            ),
        ],
    )
    .await
    .json();
    assert_eq!(updated["Organization"]["Hosts"], json!(["a.example.com"]));
    let clash = admin_post(
        &server.url,
        "/api/v1/admin/organization/set",
        &[(
            "Organization",
            &json!({"Name": "B", "Hosts": ["a.example.com"]}).to_string(),
        )],
    )
    .await;
    assert_eq!(clash.api_status(), 400);
    // Without host names of its own, the tenant's administrators sign in anywhere.
    admin_post(
        &server.url,
        "/api/v1/admin/organization/set",
        &[
            ("OrganizationID", &org),
            ("Organization", &json!({"Name": "Tenant A2"}).to_string()),
        ],
    )
    .await;

    let boss = server.client(Auth::password("boss", "bosspass"));
    boss.admin_add_user("tenant-user", "password1", None, None)
        .await
        .unwrap();
    server
        .admin()
        .admin_add_user("top-user", "password1", None, None)
        .await
        .unwrap();
    post(
        &server.url,
        ("boss", "bosspass"),
        "/api/v1/admin/policies/set",
        &[
            ("PolicyID", "tp"),
            ("Policy", &json!({"Description": "t"}).to_string()),
        ],
    )
    .await;

    let deleted = admin_post(
        &server.url,
        "/api/v1/admin/organization/delete",
        &[("OrganizationID", &org)],
    )
    .await;
    assert_eq!(deleted.api_status(), 200);
    assert_eq!(
        server.admin().admin_list_users().await.unwrap(),
        vec!["top-user"]
    );
    assert_eq!(
        admin_post(&server.url, "/api/v1/admin/policies/list", &[])
            .await
            .json(),
        json!({})
    );
    assert_eq!(
        boss.admin_list_users().await.unwrap_err().api_status(),
        Some(403),
        "its administrators are gone"
    );
    let again = admin_post(
        &server.url,
        "/api/v1/admin/organization/delete",
        &[("OrganizationID", &org)],
    )
    .await;
    assert_eq!(again.api_status(), 400);
}

#[tokio::test]
async fn administrators_are_created_listed_and_deleted() {
    let (server, _org) = with_tenant().await;
    let admin = server.admin();
    admin_post(
        &server.url,
        "/api/v1/admin/admin-user/new",
        &[("TargetUser", "second"), ("TargetPassword", "secondpw")],
    )
    .await;
    let dup = admin_post(
        &server.url,
        "/api/v1/admin/admin-user/new",
        &[("TargetUser", "second"), ("TargetPassword", "x")],
    )
    .await;
    assert_eq!(dup.api_status(), 400);
    let bad_org = admin_post(
        &server.url,
        "/api/v1/admin/admin-user/new",
        &[
            ("TargetUser", "x"),
            ("TargetPassword", "x"),
            ("TargetOrgID", "nope"),
        ],
    )
    .await;
    assert_eq!(bad_org.api_status(), 400);
    let list = admin_post(&server.url, "/api/v1/admin/admin-user/list", &[])
        .await
        .json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["admin", "boss", "second"]);
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|a| !a["Password"].as_str().unwrap().starts_with("$argon2")));

    let second = server.client(Auth::password("second", "secondpw"));
    let key = second
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key;
    admin_post(
        &server.url,
        "/api/v1/admin/admin-user/delete",
        &[("TargetUser", "second")],
    )
    .await;
    assert_eq!(
        server
            .client(Auth::session("second", &key))
            .admin_list_users()
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );

    let last = admin_post(
        &server.url,
        "/api/v1/admin/admin-user/delete",
        &[("TargetUser", "admin")],
    )
    .await;
    assert_eq!(last.api_status(), 400);
    assert!(last.message().contains("last top-level"));
    admin.admin_list_users().await.unwrap();
}

#[tokio::test]
async fn host_names_select_the_tenant() {
    let (server, org) = with_tenant().await;
    admin_post(
        &server.url,
        "/api/v1/admin/organization/set",
        &[("OrganizationID", &org), ("Organization", &json!({"Name": "Tenant A", "Hosts": ["localhost"], "Branding": {"BrandName": "Acme Backup"}}).to_string())],
    )
    .await;
    let tenant_url = server.url.replace("127.0.0.1", "localhost");
    // On the tenant's host name, only its administrators sign in, with its branding.
    Client::new(&tenant_url, Auth::password("boss", "bosspass"))
        .admin_list_users()
        .await
        .unwrap();
    assert_eq!(
        Client::new(&tenant_url, Auth::password("admin", "admin"))
            .admin_list_users()
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );
    assert_eq!(
        Client::new(&tenant_url, Auth::None)
            .branding_props()
            .await
            .unwrap()
            .brand_name,
        "Acme Backup"
    );
    // Elsewhere, the top level.
    assert_eq!(
        server
            .client(Auth::password("boss", "bosspass"))
            .admin_list_users()
            .await
            .unwrap_err()
            .api_status(),
        Some(403)
    );
    assert_eq!(
        server
            .anonymous()
            .branding_props()
            .await
            .unwrap()
            .brand_name,
        "Halley"
    );
}

/// A tenant administrator reaches nothing outside its tenant, on every
/// endpoint built so far.
#[tokio::test]
async fn a_tenant_administrator_is_confined_to_its_tenant() {
    let (server, org) = with_tenant().await;
    let top = server.admin();
    top.admin_add_user("outsider", "password1", Some(true), None)
        .await
        .unwrap();
    admin_post(
        &server.url,
        "/api/v1/admin/policies/set",
        &[
            ("PolicyID", "top-policy"),
            ("Policy", &json!({"Description": "top"}).to_string()),
        ],
    )
    .await;
    let group = admin_post(
        &server.url,
        "/api/v1/admin/user-groups/new",
        &[("Name", "top group")],
    )
    .await
    .json();
    let group_id = group["UserGroupID"].as_str().unwrap().to_string();

    let boss = ("boss", "bosspass");
    let url = server.url.clone();
    let call = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let url = url.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(&url, boss, path, &fields).await
        }
    };
    let profile = json!({"Username": "outsider", "AccountName": "hijacked"}).to_string();
    let not_found = [
        (
            "/api/v1/admin/get-user-profile",
            vec![("TargetUser", "outsider".to_string())],
        ),
        (
            "/api/v1/admin/get-user-profile-hash",
            vec![("TargetUser", "outsider".to_string())],
        ),
        (
            "/api/v1/admin/get-user-profile-and-hash",
            vec![("TargetUser", "outsider".to_string())],
        ),
        (
            "/api/v1/admin/set-user-profile",
            vec![
                ("TargetUser", "outsider".to_string()),
                ("ProfileData", profile.clone()),
            ],
        ),
        (
            "/api/v1/admin/set-user-profile-hash",
            vec![
                ("TargetUser", "outsider".to_string()),
                ("ProfileData", profile.clone()),
                ("RequireHash", "x".to_string()),
            ],
        ),
        (
            "/api/v1/admin/delete-user",
            vec![("TargetUser", "outsider".to_string())],
        ),
        (
            "/api/v1/admin/reset-user-password",
            vec![
                ("TargetUser", "outsider".to_string()),
                ("NewPassword", "newpassword".to_string()),
            ],
        ),
        (
            "/api/v1/admin/disable-user-totp",
            vec![("TargetUser", "outsider".to_string())],
        ),
        (
            "/api/v1/admin/account/session-start-as-user",
            vec![("TargetUser", "outsider".to_string())],
        ),
        (
            "/api/v1/admin/policies/get",
            vec![("PolicyID", "top-policy".to_string())],
        ),
        (
            "/api/v1/admin/policies/set",
            vec![
                ("PolicyID", "top-policy".to_string()),
                ("Policy", json!({"Description": "x"}).to_string()),
            ],
        ),
        (
            "/api/v1/admin/policies/delete",
            vec![("PolicyID", "top-policy".to_string())],
        ),
        (
            "/api/v1/admin/user-groups/get",
            vec![("GroupID", group_id.clone())],
        ),
        (
            "/api/v1/admin/user-groups/set",
            vec![
                ("GroupID", group_id.clone()),
                ("Group", json!({"Name": "x"}).to_string()),
            ],
        ),
        (
            "/api/v1/admin/user-groups/set-users-for-group",
            vec![("GroupID", group_id.clone()), ("Users", "[]".to_string())],
        ),
        (
            "/api/v1/admin/user-groups/delete",
            vec![("GroupID", group_id.clone())],
        ),
        (
            "/api/v1/admin/preview-user-email-report",
            vec![
                ("TargetUser", "outsider".to_string()),
                ("EmailReportConfig", json!({"ReportType": 1}).to_string()),
            ],
        ),
    ];
    for (path, fields) in not_found {
        let answer = call(path, fields).await;
        assert_eq!(answer["Status"], 400, "{path}: {answer}");
    }
    let forbidden = [
        ("/api/v1/admin/organization/list", vec![]),
        (
            "/api/v1/admin/organization/set",
            vec![("Organization", json!({"Name": "mine"}).to_string())],
        ),
        (
            "/api/v1/admin/organization/delete",
            vec![("OrganizationID", org.clone())],
        ),
        ("/api/v1/admin/admin-user/list", vec![]),
        (
            "/api/v1/admin/admin-user/new",
            vec![
                ("TargetUser", "x".to_string()),
                ("TargetPassword", "y".to_string()),
            ],
        ),
        (
            "/api/v1/admin/admin-user/delete",
            vec![("TargetUser", "admin".to_string())],
        ),
        ("/api/v1/admin/meta/webhook-options/get", vec![]),
        (
            "/api/v1/admin/meta/webhook-options/set",
            vec![("WebhookOptions", "{}".to_string())],
        ),
        (
            "/api/v1/admin/add-user",
            vec![
                ("TargetUser", "x".to_string()),
                ("TargetPassword", "password1".to_string()),
                ("TargetOrganization", "".to_string() + "other"),
            ],
        ),
    ];
    for (path, fields) in forbidden {
        let answer = call(path, fields).await;
        assert_eq!(answer["Status"], 403, "{path}: {answer}");
    }
    // Lists show only the tenant's own objects.
    for path in [
        "/api/v1/admin/list-users",
        "/api/v1/admin/policies/list",
        "/api/v1/admin/user-groups/list",
    ] {
        let answer = call(path, vec![]).await;
        assert!(
            answer == json!([]) || answer == json!({}),
            "{path}: {answer}"
        );
    }
    assert_eq!(
        call("/api/v1/admin/list-users-full", vec![]).await,
        json!({})
    );
    // Nothing changed for the top level.
    let outsider = top.admin_get_user_profile("outsider").await.unwrap();
    assert_eq!(outsider.account_name, "");
    assert_eq!(
        admin_post(&server.url, "/api/v1/admin/policies/list", &[])
            .await
            .json()["top-policy"],
        "top"
    );
    // Its own objects work and land in its tenant.
    let boss_client = server.client(Auth::password("boss", "bosspass"));
    boss_client
        .admin_add_user("insider", "password1", None, None)
        .await
        .unwrap();
    assert_eq!(
        top.admin_get_user_profile("insider")
            .await
            .unwrap()
            .organization_id,
        org
    );
}

/// The newest sample of `meta/stats` as seen by `auth`, once it counts `users`.
async fn newest_stats_sample(url: &str, auth: (&str, &str), users: i64) -> Value {
    for _ in 0..300 {
        let stats = post(url, auth, "/api/v1/admin/meta/stats", &[("Simple", "0")]).await;
        let newest = stats
            .as_object()
            .and_then(|samples| samples.values().next_back().cloned());
        if let Some(sample) = newest.filter(|s| s["Users"] == users) {
            return sample;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no stats sample counting {users} users for {}", auth.0);
}

#[tokio::test]
async fn a_tenant_administrator_sees_its_own_share_of_the_stats() {
    let (mut server, _) = with_tenant().await;
    server
        .admin()
        .admin_add_user("top-user", "password1", None, None)
        .await
        .unwrap();
    for name in ["tenant-1", "tenant-2"] {
        let added = post(
            &server.url,
            ("boss", "bosspass"),
            "/api/v1/admin/add-user",
            &[("TargetUser", name), ("TargetPassword", "password1")],
        )
        .await;
        assert_eq!(added["Status"], 200, "{added}");
    }
    // Samples are taken at start and then hourly: a restart takes one now.
    let _kept = server.keep_data_dir();
    server.kill();
    let restarted = Server::spawn_in(&server.data_dir.clone(), &Launch::default());
    newest_stats_sample(&restarted.url, ("admin", "admin"), 3).await;
    newest_stats_sample(&restarted.url, ("boss", "bosspass"), 2).await;
}

#[tokio::test]
async fn a_suspended_tenant_signs_nobody_in_until_resumed() {
    let (server, org) = with_tenant().await;
    let added = post(
        &server.url,
        ("boss", "bosspass"),
        "/api/v1/admin/add-user",
        &[("TargetUser", "worker"), ("TargetPassword", "password1")],
    )
    .await;
    assert_eq!(added["Status"], 200, "{added}");
    let set_suspended = |suspended: bool| {
        let url = server.url.clone();
        let org = org.clone();
        async move {
            let organization = json!({"Name": "Tenant A", "IsSuspended": suspended});
            let answer = admin_post(
                &url,
                "/api/v1/admin/organization/set",
                &[
                    ("OrganizationID", org.as_str()),
                    ("Organization", &organization.to_string()),
                ],
            )
            .await;
            assert_eq!(answer.api_status(), 200, "{}", answer.message());
        }
    };
    let admin_call = || {
        post(
            &server.url,
            ("boss", "bosspass"),
            "/api/v1/admin/list-users",
            &[],
        )
    };
    let user_call = || {
        post(
            &server.url,
            ("worker", "password1"),
            "/api/v1/user/web/get-user-profile-and-hash",
            &[],
        )
    };
    set_suspended(true).await;
    let refused = admin_call().await;
    assert_eq!(refused["Status"], 403, "{refused}");
    assert!(refused["Message"].as_str().unwrap().contains("suspended"));
    assert_eq!(user_call().await["Status"], 403);
    // The top level is untouched, and resuming lets the tenant back in.
    assert!(server.admin().admin_list_users().await.is_ok());
    set_suspended(false).await;
    assert!(admin_call().await.is_array());
    assert!(user_call().await["ProfileHash"].is_string());
}
