//! Devices of an account, through the wire: revoking one removes it with the
//! Protected Items it owns, within the caller's tenant only.

mod common;

use common::*;
use serde_json::json;

const SEVT_DEVICE_REMOVED: i64 = 4701;

/// An account with two devices, each owning one Protected Item with a rule.
async fn account_with_devices(server: &Server, name: &str) {
    admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[("TargetUser", name), ("TargetPassword", "password1")],
    )
    .await
    .assert_refused(200, "OK");
    let mut profile = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", name)],
    )
    .await
    .json();
    profile["Devices"] = json!({
        "laptop": {"FriendlyName": "Laptop", "RegistrationTime": 1},
        "server": {"FriendlyName": "Server", "RegistrationTime": 2},
    });
    profile["Sources"] = json!({
        "docs": {"Engine": "engine1/file", "OwnerDevice": "laptop", "Description": "Documents"},
        "db": {"Engine": "engine1/mysql", "OwnerDevice": "server", "Description": "Database"},
    });
    profile["BackupRules"] = json!({
        "nightly-docs": {"Source": "docs", "Destination": "vault"},
        "nightly-db": {"Source": "db", "Destination": "vault"},
    });
    profile["Destinations"] = json!({"vault": {"Description": "Vault", "DestinationType": 1002}});
    admin_post(
        &server.url,
        "/api/v1/admin/set-user-profile",
        &[("TargetUser", name), ("ProfileData", &profile.to_string())],
    )
    .await
    .assert_refused(200, "OK");
}

#[tokio::test]
async fn revoking_a_device_removes_it_and_its_protected_items() {
    let server = Server::start();
    account_with_devices(&server, "carol").await;
    let (mut stream, greeting) =
        open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(greeting, "200 OK");

    let answer = admin_post(
        &server.url,
        "/api/v1/admin/revoke-device",
        &[("TargetUser", "carol"), ("TargetDevice", "laptop")],
    )
    .await;
    answer.assert_refused(200, "OK");
    let profile = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "carol")],
    )
    .await
    .json();
    let keys = |field: &str| -> Vec<String> {
        profile[field]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys("Devices"), ["server"]);
    assert_eq!(keys("Sources"), ["db"]);
    assert_eq!(keys("BackupRules"), ["nightly-db"]);
    assert_eq!(keys("Destinations"), ["vault"], "vaults are the account's");
    loop {
        let event = next_event(&mut stream).await;
        if event["Type"] == SEVT_DEVICE_REMOVED {
            assert_eq!(event["ResourceID"], "laptop");
            assert_eq!(event["Data"]["Username"], "carol");
            break;
        }
    }

    // A device the account does not have is named in the refusal.
    admin_post(
        &server.url,
        "/api/v1/admin/revoke-device",
        &[("TargetUser", "carol"), ("TargetDevice", "laptop")],
    )
    .await
    .assert_refused(400, "'TargetDevice'");

    // Another tenant's administrator gets what a missing account gets, and
    // changes nothing.
    let tenant = create_tenant(&server, "Reseller").await;
    create_tenant_admin(&server, &tenant, "reseller", "reseller-pass-1").await;
    let outsider = post_form(
        &server.url,
        "/api/v1/admin/revoke-device",
        &[
            ("Username", "reseller"),
            ("AuthType", "Password"),
            ("Password", "reseller-pass-1"),
            ("TargetUser", "carol"),
            ("TargetDevice", "server"),
        ],
    )
    .await;
    let missing = post_form(
        &server.url,
        "/api/v1/admin/revoke-device",
        &[
            ("Username", "reseller"),
            ("AuthType", "Password"),
            ("Password", "reseller-pass-1"),
            ("TargetUser", "nobody-here"),
            ("TargetDevice", "server"),
        ],
    )
    .await;
    assert_eq!(outsider.json(), missing.json());
    let profile = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "carol")],
    )
    .await
    .json();
    assert!(profile["Devices"]["server"].is_object());
}
