//! Server configuration, scoped settings, restart and shutdown.

mod common;

use std::time::Duration;

use common::*;
use halley_client::Auth;
use serde_json::{json, Value};

async fn meta(server: &Server, path: &str, fields: &[(&str, &str)]) -> Value {
    admin_post(&server.url, &format!("/api/v1/admin/meta/{path}"), fields)
        .await
        .json()
}

#[tokio::test]
async fn scoped_settings_round_trip() {
    let server = Server::start();
    let branding = json!({"BrandName": "Acme Backup", "TopColor": "#123456"});
    assert_eq!(
        meta(
            &server,
            "branding-config/set",
            &[("BrandingConfig", &branding.to_string())]
        )
        .await["Status"],
        200
    );
    assert_eq!(
        meta(&server, "branding-config/get", &[]).await["Branding"]["BrandName"],
        "Acme Backup"
    );
    assert_eq!(
        server.anonymous().branding_props().await.unwrap().top_color,
        "#123456"
    );

    let email = json!({"Mode": "smtp", "SMTPHost": "127.0.0.1", "SMTPPort": 2525, "FromEmail": "backup@example.com"});
    meta(
        &server,
        "email-options/set",
        &[("EmailOptions", &email.to_string())],
    )
    .await;
    assert_eq!(
        meta(&server, "email-options/get", &[]).await["SMTPPort"],
        2525
    );

    let vaults = json!([{"Type": "comet", "Description": "Main storage"}]);
    meta(
        &server,
        "remote-storage-vault/set",
        &[("RemoteStorageOptions", &vaults.to_string())],
    )
    .await;
    assert_eq!(
        meta(&server, "remote-storage-vault/get", &[]).await[0]["Description"],
        "Main storage"
    );

    meta(
        &server,
        "psa-config-list/set",
        &[("PSAConfigList", &json!([{"PartnerKey": "k"}]).to_string())],
    )
    .await;
    assert_eq!(
        meta(&server, "psa-config-list/get", &[]).await[0]["PartnerKey"],
        "k"
    );
    meta(
        &server,
        "constellation/config/set",
        &[(
            "ConstellationRoleOptions",
            &json!({"RoleEnabled": true}).to_string(),
        )],
    )
    .await;
    assert_eq!(
        meta(&server, "constellation/config/get", &[]).await["RoleEnabled"],
        true
    );
    meta(
        &server,
        "build-config/set",
        &[(
            "SoftwareBuildRoleConfig",
            &json!({"RoleEnabled": true, "AllowUnauthenticatedDownloads": true}).to_string(),
        )],
    )
    .await;
    assert_eq!(
        meta(&server, "build-config/get", &[]).await["SoftwareBuildRole"]
            ["AllowUnauthenticatedDownloads"],
        true
    );

    let bad = meta(&server, "email-options/set", &[("EmailOptions", "[1,2")]).await;
    assert_eq!(bad["Status"], 400);
    assert_eq!(
        meta(&server, "email-options/get", &[]).await["SMTPPort"],
        2525,
        "unchanged"
    );
}

#[tokio::test]
async fn tenant_settings_need_their_permission() {
    let server = Server::launch(Launch {
        config: Some(json!({
            "Organizations": {"org-a": {"Name": "A"}},
            "AdminUsers": [
                {"Username": "admin", "PasswordFormat": 0, "Password": "admin"},
                {"Username": "plain", "OrganizationID": "org-a", "PasswordFormat": 0, "Password": "plainpw"},
                {"Username": "brander", "OrganizationID": "org-a", "PasswordFormat": 0, "Password": "branderpw",
                 "Permissions": {"AllowEditBranding": true}}
            ]
        })),
        ..Default::default()
    });
    let set = |user: &'static str, password: &'static str| {
        let url = server.url.clone();
        async move {
            post_form(
                &url,
                "/api/v1/admin/meta/branding-config/set",
                &[
                    ("Username", user),
                    ("AuthType", "Password"),
                    ("Password", password),
                    ("BrandingConfig", r#"{"BrandName":"Tenant A"}"#),
                ],
            )
            .await
            .json()
        }
    };
    assert_eq!(set("plain", "plainpw").await["Status"], 403);
    assert_eq!(set("brander", "branderpw").await["Status"], 200);
    let config = server.config();
    assert_eq!(
        config["Organizations"]["org-a"]["Branding"]["BrandName"],
        "Tenant A"
    );
    assert_ne!(
        config["Branding"]["BrandName"], "Tenant A",
        "the top level is untouched"
    );
    let server_config = post_form(
        &server.url,
        "/api/v1/admin/meta/server-config/get",
        &[
            ("Username", "brander"),
            ("AuthType", "Password"),
            ("Password", "branderpw"),
        ],
    )
    .await
    .json();
    assert_eq!(server_config["Status"], 403, "top-level only");
}

#[tokio::test]
async fn whole_configuration_get_and_set() {
    let server = Server::start();
    let mut config = meta(&server, "server-config/get", &[]).await;
    assert!(
        !config["AdminUsers"][0]["Password"]
            .as_str()
            .unwrap()
            .starts_with("$argon2"),
        "secrets are obscured"
    );
    config["SessionSettings"]["ExpiredInSeconds"] = json!(600);
    let before = meta(&server, "version", &[]).await;
    // Saving restarts the server, as a Comet Server does, on the same port.
    let saved = server.set_config(&config).await;
    assert_eq!(saved.json(), json!({"Status": 200, "Message": "OK"}));
    let after = meta(&server, "version", &[]).await;
    assert_ne!(after["ServerStartHash"], before["ServerStartHash"]);
    assert_eq!(server.config()["SessionSettings"]["ExpiredInSeconds"], 600);
    assert!(
        server.config()["AdminUsers"][0]["Password"]
            .as_str()
            .unwrap()
            .starts_with("$argon2"),
        "kept"
    );
    server.admin().admin_list_users().await.unwrap();
    assert_eq!(
        server
            .anonymous()
            .branding_props()
            .await
            .unwrap()
            .expired_in_seconds,
        600,
        "live"
    );

    // `--listen` outranks the configuration's listeners, across restarts.
    config["ListenAddresses"] = json!([{"ListenAddress": "127.0.0.1:18060"}]);
    assert_eq!(server.set_config(&config).await.api_status(), 200);
    assert_eq!(
        server.config()["ListenAddresses"][0]["ListenAddress"],
        "127.0.0.1:18060"
    );

    let mut no_admin = config.clone();
    no_admin["AdminUsers"] = json!([]);
    let refused = meta(
        &server,
        "server-config/set",
        &[("Config", &no_admin.to_string())],
    )
    .await;
    assert_eq!(refused["Status"], 400);
    server.admin().admin_list_users().await.unwrap();

    let interfaces = meta(&server, "server-config/network-interfaces", &[]).await;
    assert!(
        interfaces.as_array().unwrap().contains(&json!("127.0.0.1")),
        "{interfaces}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn restart_service_restarts_and_shutdown_service_stops() {
    let port = free_port();
    let launch = Launch {
        listen: vec![format!("127.0.0.1:{port}")],
        ..Default::default()
    };
    let mut server = Server::launch(launch);
    let admin = server.admin();
    admin
        .admin_add_user("kept", "password1", None, None)
        .await
        .unwrap();
    let before = admin.admin_meta_version().await.unwrap().server_start_hash;
    assert_eq!(meta(&server, "restart-service", &[]).await["Status"], 200);
    let mut after = before.clone();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(version) = admin.admin_meta_version().await {
            after = version.server_start_hash;
            if after != before {
                break;
            }
        }
    }
    assert_ne!(after, before, "a new start");
    assert_eq!(admin.admin_list_users().await.unwrap(), vec!["kept"]);

    assert_eq!(meta(&server, "shutdown-service", &[]).await["Status"], 200);
    let status = server.wait_exit(20).expect("the process ends");
    assert!(status.success());
    let _ = server.client(Auth::None);
}
