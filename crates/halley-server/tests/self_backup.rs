//! Self-backup and tenant export into real Halley vaults on local paths,
//! restored with the vault library and read back.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use halley_server::store::{SqliteStore, Store, TenantScope};
use halley_vault::backend::LocalBackend;
use halley_vault::Repository;
use serde_json::{json, Value};

const KEY: &str = "self-backup key";

async fn accounts_in(data_dir: &Path) -> Vec<String> {
    let store = SqliteStore::open(&data_dir.join(halley_server::server::DATABASE_FILE))
        .await
        .unwrap();
    store.user_list(&TenantScope::server_wide()).await.unwrap()
}

fn local(path: &Path) -> Value {
    json!({"DestinationType": 1002, "LocalcopyPath": path})
}

#[tokio::test]
async fn self_backup_targets_run_and_restore() {
    let vaults = tempfile::tempdir().unwrap();
    let server = Server::launch(Launch {
        config: Some(json!({"SelfBackup": {"Targets": [{
            "Location": local(&vaults.path().join("all")), "EncryptionKey": KEY,
            "RetentionPolicy": {"Mode": 802, "Ranges": [{"Type": 900, "Jobs": 1}]}}]}})),
        ..Default::default()
    });
    let admin = server.admin();
    admin
        .admin_add_user("alice", "password1", None, None)
        .await
        .unwrap();
    let mut previous_start = 0;
    for round in 1..=2 {
        // Runs are told apart by their start second.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let started = admin_post(&server.url, "/api/v1/admin/self-backup/start", &[]).await;
        assert_eq!(started.api_status(), 200, "{}", started.message());
        let mut status = Value::Null;
        for _ in 0..600 {
            let version = admin_post(&server.url, "/api/v1/admin/meta/version", &[])
                .await
                .json();
            status = version["SelfBackup"][0].clone();
            let run_start = status["LastRunStart"].as_i64().unwrap_or(0);
            if run_start > previous_start && status["CurrentRunStart"] == 0 {
                previous_start = run_start;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status["LastRunSuccess"], true, "round {round}: {status}");
        assert!(status["LastRunSize"].as_i64().unwrap() > 0);
        if round == 1 {
            admin
                .admin_add_user("bob", "password1", None, None)
                .await
                .unwrap();
        }
    }
    let repo =
        Repository::open(Arc::new(LocalBackend::new(vaults.path().join("all"))), KEY).unwrap();
    assert_eq!(repo.snapshots().unwrap().len(), 1, "retention keeps one");
    let restored = tempfile::tempdir().unwrap();
    let data = restore_self_backup(&vaults.path().join("all"), KEY, restored.path());
    assert_eq!(accounts_in(&data).await, ["alice", "bob"]);
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(data.join("cometd.cfg")).unwrap()).unwrap();
    assert_eq!(cfg["SelfBackup"]["Targets"][0]["EncryptionKey"], KEY);
    assert!(
        Repository::open(
            Arc::new(LocalBackend::new(vaults.path().join("all"))),
            "wrong"
        )
        .is_err(),
        "the vault is encrypted with the key"
    );
}

#[tokio::test]
async fn a_tenant_export_holds_only_that_tenant() {
    let vaults = tempfile::tempdir().unwrap();
    let server = Server::start();
    let admin = server.admin();
    let org = create_tenant(&server, "Tenant A").await;
    admin
        .admin_add_user("top-user", "password1", None, None)
        .await
        .unwrap();
    let added = admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[
            ("TargetUser", "tenant-user"),
            ("TargetPassword", "password1"),
            ("TargetOrganization", &org),
        ],
    )
    .await;
    assert_eq!(added.api_status(), 200, "{}", added.message());

    let export = |options: Value| {
        let url = server.url.clone();
        async move {
            admin_post(
                &url,
                "/api/v1/admin/organization/export",
                &[("Options", &options.to_string())],
            )
            .await
        }
    };
    let vault = vaults.path().join("tenant");
    let done = export(json!({"Location": local(&vault), "EncryptionKey": KEY,
        "RestrictToSingleOrgID": org}))
    .await;
    assert_eq!(done.api_status(), 200, "{}", done.message());
    assert!(done.message().contains("snapshot"));
    let restored = tempfile::tempdir().unwrap();
    let data = restore_self_backup(&vault, KEY, restored.path());
    assert_eq!(accounts_in(&data).await, ["tenant-user"]);
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(data.join("cometd.cfg")).unwrap()).unwrap();
    let orgs: Vec<&String> = cfg["Organizations"].as_object().unwrap().keys().collect();
    assert_eq!(orgs, [&org]);

    for (options, status, named) in [
        (
            json!({"Location": local(&vault), "EncryptionKey": KEY}),
            400,
            "RestrictToSingleOrgID",
        ),
        (
            json!({"Location": local(&vault), "EncryptionKey": KEY, "RestrictToSingleOrgID": "nope"}),
            400,
            "'nope'",
        ),
        (
            json!({"Location": local(&vault), "RestrictToSingleOrgID": org}),
            500,
            "EncryptionKey",
        ),
        (
            json!({"Location": local(&vault), "EncryptionKey": "not the key", "RestrictToSingleOrgID": org}),
            500,
            "password",
        ),
        (
            json!({"Location": {"DestinationType": 1004}, "EncryptionKey": KEY, "RestrictToSingleOrgID": org}),
            500,
            "DestinationType 1004",
        ),
    ] {
        let refused = export(options).await;
        assert_eq!(refused.api_status(), status, "{}", refused.message());
        assert!(refused.message().contains(named), "{}", refused.message());
    }
    let none = admin_post(&server.url, "/api/v1/admin/self-backup/start", &[]).await;
    assert_eq!(none.api_status(), 400);
    assert!(none.message().contains("SelfBackup.Targets"));
}
