//! Calls that reach a live device (`dispatcher/*`, `user/web/dispatcher/*`),
//! against a real connected agent: back up now (by rule and custom), the
//! vault's snapshots, the profile again, dropping the connection; and the
//! refusals: unknown, another tenant's, another account's, offline.

mod common;

use std::time::{Duration, Instant};

use common::agent::*;
use common::*;
use serde_json::json;

async fn dispatch(server: &Server, call: &str, fields: &[(&str, &str)]) -> Answer {
    admin_post(
        &server.url,
        &format!("/api/v1/admin/dispatcher/{call}"),
        fields,
    )
    .await
}

/// The live connection of `device`, waiting for it (and for it to differ
/// from `not`, after a reconnection).
async fn connection_of(server: &Server, device: &str, not: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = dispatch(server, "list-active", &[]).await.json();
        let found = live.as_object().and_then(|all| {
            all.iter()
                .find(|(id, c)| c["DeviceID"] == device && Some(id.as_str()) != not)
                .map(|(id, _)| id.clone())
        });
        if let Some(id) = found {
            return id;
        }
        assert!(Instant::now() < deadline, "{device} is not live: {live}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_start_from_the_dispatcher_and_snapshots_are_listed() {
    let server = Server::start();
    new_account(&server, "jo").await;
    new_account(&server, "kim").await;
    let mut agent = Agent::login(&server.url, "jo");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), b"now").unwrap();
    let mut p = profile(&server, "jo").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    p["Sources"] = json!({"files": file_item(&device, &tree)});
    p["BackupRules"] = json!({"r1": {"Source": "files", "Destination": "vault"}});
    set_profile(&server, "jo", &p).await;
    agent.start();
    let target = connection_of(&server, &device, None).await;

    // Back up now, by rule: the answer names the job, which a portal follows.
    let started = dispatch(
        &server,
        "run-backup",
        &[("TargetID", &target), ("BackupRule", "r1")],
    )
    .await;
    started.assert_refused(200, "OK");
    let job_id = started.json()["JobID"].as_str().unwrap().to_string();
    let done = job_where(&server, "jo", 30, |j| {
        j["GUID"] == job_id.as_str() && j["Status"] == 5000
    })
    .await;
    assert_eq!(done["BackupRuleGUID"], "r1");

    let listed = dispatch(
        &server,
        "request-vault-snapshots",
        &[("TargetID", &target), ("Destination", "vault")],
    )
    .await
    .json();
    assert_eq!(listed["Status"], 200, "{listed}");
    let snapshots = listed["Snapshots"].as_array().unwrap();
    assert_eq!(snapshots.len(), 1, "{listed}");
    assert_eq!(snapshots[0]["Snapshot"], done["SnapshotID"]);
    assert_eq!(snapshots[0]["Source"], "files");
    assert_eq!(snapshots[0]["EngineType"], "engine1/file");

    // Custom, by the account holder on their own device.
    let own = post_form(
        &server.url,
        "/api/v1/user/web/dispatcher/run-backup-custom",
        &[
            ("Username", "jo"),
            ("AuthType", "Password"),
            ("Password", "password1"),
            ("TargetID", &target),
            ("Source", "files"),
            ("Destination", "vault"),
            ("Options", "{}"),
        ],
    )
    .await;
    own.assert_refused(200, "OK");
    job_where(&server, "jo", 30, |j| {
        j["GUID"] != job_id.as_str() && j["Status"] == 5000
    })
    .await;

    // What the device cannot do, it says; a malformed option never reaches it.
    dispatch(
        &server,
        "run-backup",
        &[("TargetID", &target), ("BackupRule", "nope")],
    )
    .await
    .assert_refused(500, "no backup rule 'nope'");
    dispatch(
        &server,
        "run-backup-custom",
        &[
            ("TargetID", &target),
            ("Source", "files"),
            ("Destination", "vault"),
            ("Options", "[1"),
        ],
    )
    .await
    .assert_refused(400, "Options");

    // Another account, another tenant, an unknown ID: all answer alike.
    let unknown = dispatch(
        &server,
        "run-backup",
        &[("TargetID", "nope"), ("BackupRule", "r1")],
    )
    .await;
    unknown.assert_refused(400, "no device is connected as");
    let other_user = post_form(
        &server.url,
        "/api/v1/user/web/dispatcher/run-backup",
        &[
            ("Username", "kim"),
            ("AuthType", "Password"),
            ("Password", "password1"),
            ("TargetID", &target),
            ("BackupRule", "r1"),
        ],
    )
    .await;
    other_user.assert_refused(400, "no device is connected as");
    let org = create_tenant(&server, "other").await;
    create_tenant_admin(&server, &org, "otheradmin", "password1").await;
    let other_tenant = post_form(
        &server.url,
        "/api/v1/admin/dispatcher/run-backup",
        &[
            ("Username", "otheradmin"),
            ("AuthType", "Password"),
            ("Password", "password1"),
            ("TargetID", &target),
            ("BackupRule", "r1"),
        ],
    )
    .await;
    other_tenant.assert_refused(400, "no device is connected as");
    let count = jobs(&server, "jo").await.len();
    assert_eq!(count, 2, "nothing was done for the refused calls");

    // The profile again, then a dropped connection the device redials.
    dispatch(&server, "refetch-profile", &[("TargetID", &target)])
        .await
        .assert_refused(200, "OK");
    dispatch(&server, "drop-connection", &[("TargetID", &target)])
        .await
        .assert_refused(200, "OK");
    let again = connection_of(&server, &device, Some(&target)).await;
    assert_ne!(again, target);

    // A restore into another directory, then one path of it again.
    let restored = data.path().join("restored");
    let restore = dispatch(
        &server,
        "run-restore",
        &[
            ("TargetID", &again),
            ("Path", restored.to_str().unwrap()),
            ("Source", "files"),
            ("Destination", "vault"),
        ],
    )
    .await;
    restore.assert_refused(200, "OK");
    let restore_id = restore.json()["JobID"].as_str().unwrap().to_string();
    let restore_job = job_where(&server, "jo", 30, |j| {
        j["GUID"] == restore_id.as_str() && j["Status"] != 6001
    })
    .await;
    assert_eq!(restore_job["Status"], 5000, "{restore_job}");
    assert_eq!(restore_job["Classification"], 4002);
    let inside = restored.join(tree.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(inside.join("a.txt")).unwrap(), b"now");
    dispatch(
        &server,
        "run-restore",
        &[
            ("TargetID", &again),
            ("Path", "relative/dir"),
            ("Source", "files"),
            ("Destination", "vault"),
        ],
    )
    .await
    .assert_refused(400, "absolute");

    // Deleting the first snapshot leaves the second.
    dispatch(
        &server,
        "delete-snapshot",
        &[
            ("TargetID", &again),
            ("DestinationID", "vault"),
            ("SnapshotID", done["SnapshotID"].as_str().unwrap()),
        ],
    )
    .await
    .assert_refused(200, "OK");
    let left = dispatch(
        &server,
        "request-vault-snapshots",
        &[("TargetID", &again), ("Destination", "vault")],
    )
    .await
    .json();
    let left = left["Snapshots"].as_array().unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0]["Snapshot"], done["SnapshotID"]);

    // An engine a Linux agent lacks is refused at once, naming it.
    dispatch(&server, "request-browse-hyperv", &[("TargetID", &again)])
        .await
        .assert_refused(501, "no Hyper-V engine");

    // kill-process: the agent stops and stays stopped.
    dispatch(&server, "kill-process", &[("TargetID", &again)])
        .await
        .assert_refused(200, "OK");
    let exit = agent.exit_status(20).expect("the agent stopped");
    assert_eq!(exit.code(), Some(3));

    // Offline: refused at once, nothing queued.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let refused = dispatch(
            &server,
            "run-backup",
            &[("TargetID", &again), ("BackupRule", "r1")],
        )
        .await;
        if refused.api_status() == 400 {
            assert!(refused.message().contains("no device is connected as"));
            break;
        }
        assert!(Instant::now() < deadline, "{}", refused.message());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
