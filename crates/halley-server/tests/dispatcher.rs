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

/// A call as `who` (password `password1`) to `path` below `/api/v1/`.
async fn call_as(server: &Server, who: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
    let mut all = vec![
        ("Username", who),
        ("AuthType", "Password"),
        ("Password", "password1"),
    ];
    all.extend_from_slice(fields);
    post_form(&server.url, &format!("/api/v1/{path}"), &all).await
}

async fn stored_objects(
    server: &Server,
    target: &str,
    snapshot: &str,
    tree: &str,
) -> Vec<serde_json::Value> {
    let answer = dispatch(
        server,
        "request-stored-objects",
        &[
            ("TargetID", target),
            ("Destination", "vault"),
            ("SnapshotID", snapshot),
            ("TreeID", tree),
        ],
    )
    .await
    .json();
    answer["StoredObjects"]
        .as_array()
        .cloned()
        .unwrap_or_else(|| panic!("{answer}"))
}

fn unpack(file: &std::path::Path, extension: &str, into: &std::path::Path) {
    let reader = std::fs::File::open(file).unwrap();
    match extension {
        "tar" => tar::Archive::new(reader).unpack(into).unwrap(),
        "tar.gz" => tar::Archive::new(flate2::read::GzDecoder::new(reader))
            .unpack(into)
            .unwrap(),
        "tar.zst" => tar::Archive::new(zstd::Decoder::new(reader).unwrap())
            .unpack(into)
            .unwrap(),
        _ => {
            let unzipped = std::process::Command::new("python3")
                .args(["-m", "zipfile", "-e"])
                .arg(file)
                .arg(into)
                .status()
                .unwrap();
            assert!(unzipped.success());
        }
    }
}

/// Flips a byte in the middle of the largest pack of a local vault: the
/// one holding the big file's data.
fn damage_a_pack(vault: &std::path::Path) {
    let packs = std::fs::read_dir(vault.join("data"))
        .unwrap()
        .flat_map(|group| std::fs::read_dir(group.unwrap().path()).unwrap())
        .map(|pack| pack.unwrap().path());
    let largest = packs
        .max_by_key(|path| std::fs::metadata(path).unwrap().len())
        .unwrap();
    let mut bytes = std::fs::read(&largest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&largest, bytes).unwrap();
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Writes a lock file into a local vault as a holder on this host would:
/// `pid` and the time it was last refreshed.
fn plant_lock(vault: &std::path::Path, pid: u32, time: i64) -> std::path::PathBuf {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let lock = json!({"exclusive": false, "hostname": host.trim(), "pid": pid,
        "operation": "backup", "time": time});
    let path = vault.join("locks").join(format!("{pid:0>64}"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, lock.to_string()).unwrap();
    path
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
    // Big enough that its data fills a pack of its own.
    std::fs::write(tree.join("big.bin"), noise(256 << 10)).unwrap();
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
    let own = call_as(
        &server,
        "jo",
        "user/web/dispatcher/run-backup-custom",
        &[
            ("TargetID", target.as_str()),
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
    unknown.assert_refused(403, "Unauthorised");
    assert_eq!(unknown.message(), "Unauthorised", "word for word as Comet");
    let by_rule = [("TargetID", target.as_str()), ("BackupRule", "r1")];
    let other_user = call_as(&server, "kim", "user/web/dispatcher/run-backup", &by_rule).await;
    other_user.assert_refused(403, "Unauthorised");
    let org = create_tenant(&server, "other").await;
    create_tenant_admin(&server, &org, "otheradmin", "password1").await;
    let other_tenant = call_as(
        &server,
        "otheradmin",
        "admin/dispatcher/run-backup",
        &by_rule,
    )
    .await;
    other_tenant.assert_refused(403, "Unauthorised");
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

    // Each archive format, unpacked, holds the same bytes.
    let archives = data.path().join("archives");
    for (format, extension) in [(0, "tar"), (1, "tar.gz"), (2, "zip"), (4, "tar.zst")] {
        let options = json!({"Type": 5, "DestPath": archives, "ArchiveFormat": format});
        let started = dispatch(
            &server,
            "run-restore-custom",
            &[
                ("TargetID", &again),
                ("Source", "files"),
                ("Destination", "vault"),
                ("Options", &options.to_string()),
            ],
        )
        .await;
        started.assert_refused(200, "OK");
        let id = started.json()["JobID"].as_str().unwrap().to_string();
        let job = job_where(&server, "jo", 30, |j| {
            j["GUID"] == id.as_str() && j["Status"] != 6001
        })
        .await;
        assert_eq!(job["Status"], 5000, "{extension}: {job}");
        let file = std::fs::read_dir(&archives)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(&format!(".{extension}")))
            .unwrap_or_else(|| panic!("no .{extension} in {}", archives.display()));
        let into = data.path().join(format!("unpacked-{format}"));
        unpack(&file, extension, &into);
        let inside = into.join(tree.strip_prefix("/").unwrap());
        assert_eq!(
            std::fs::read(inside.join("a.txt")).unwrap(),
            b"now",
            "{extension}"
        );
        assert_eq!(
            std::fs::read(inside.join("big.bin")).unwrap(),
            noise(256 << 10),
            "{extension}"
        );
    }
    // Downloaded: the answer is the archive itself, made on the device
    // while it is sent, and the restore is a job like the others.
    let restores_before = jobs(&server, "jo")
        .await
        .iter()
        .filter(|j| j["Classification"] == 4002)
        .count();
    let zip = json!({"Type": 5, "ArchiveFormat": 2});
    let downloaded = dispatch(
        &server,
        "run-restore-custom",
        &[
            ("TargetID", &again),
            ("Source", "files"),
            ("Destination", "vault"),
            ("Options", &zip.to_string()),
            ("DownloadArchive", "1"),
        ],
    )
    .await;
    let file = data.path().join("downloaded.zip");
    std::fs::write(&file, &downloaded.body).unwrap();
    let into = data.path().join("unpacked-download");
    unpack(&file, "zip", &into);
    let inside = into.join(tree.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read(inside.join("big.bin")).unwrap(),
        noise(256 << 10)
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while jobs(&server, "jo")
        .await
        .iter()
        .filter(|j| j["Classification"] == 4002 && j["Status"] == 5000)
        .count()
        <= restores_before
    {
        assert!(Instant::now() < deadline, "the download's job ends 5000");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files_only = json!({"Type": 0, "DestPath": "/tmp"});
    dispatch(
        &server,
        "run-restore-custom",
        &[
            ("TargetID", &again),
            ("Source", "files"),
            ("Destination", "vault"),
            ("Options", &files_only.to_string()),
            ("DownloadArchive", "1"),
        ],
    )
    .await
    .assert_refused(400, "only an archive");

    let squashfs = json!({"Type": 5, "DestPath": archives, "ArchiveFormat": 3});
    dispatch(
        &server,
        "run-restore-custom",
        &[
            ("TargetID", &again),
            ("Source", "files"),
            ("Destination", "vault"),
            ("Options", &squashfs.to_string()),
        ],
    )
    .await
    .assert_refused(400, "ArchiveFormat 3");

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

    // The device's own files, and a snapshot's tree walked down to the file.
    let here = dispatch(
        &server,
        "request-filesystem-objects",
        &[("TargetID", &again), ("Path", tree.to_str().unwrap())],
    )
    .await
    .json();
    assert_eq!(here["StoredObjects"][0]["name"], "a.txt", "{here}");
    assert_eq!(here["StoredObjects"][0]["type"], "file");
    let snapshot = left[0]["Snapshot"].as_str().unwrap().to_string();
    let mut tree_id = String::new();
    for part in tree.strip_prefix("/").unwrap().iter() {
        let level = stored_objects(&server, &again, &snapshot, &tree_id).await;
        let dir = level
            .iter()
            .find(|o| o["name"] == part.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {part:?} in {level:?}"));
        assert_eq!(dir["type"], "dir");
        tree_id = dir["subtree"].as_str().unwrap().to_string();
    }
    let files = stored_objects(&server, &again, &snapshot, &tree_id).await;
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["name"], "a.txt");
    assert_eq!(files[0]["size"], 3);
    assert_eq!(files[1]["size"], 256 << 10);

    // Search: the entries of a snapshot that match a filter.
    let filter = json!({"RuleField": "SearchResultFileInfo.name", "RuleOperator": "str_eq", "RuleValue": "big.bin"});
    let found = dispatch(
        &server,
        "search-snapshots",
        &[
            ("TargetID", &again),
            ("DestinationID", "vault"),
            ("SnapshotIDs", &json!([snapshot]).to_string()),
            ("Filter", &filter.to_string()),
        ],
    )
    .await
    .json();
    let hits = found["SnapshotFiles"][&snapshot]
        .as_array()
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["size"], 256 << 10);
    assert!(
        hits[0]["path"].as_str().unwrap().ends_with("/big.bin"),
        "{found}"
    );
    let bad = json!({"RuleField": "Nope.name", "RuleOperator": "str_eq", "RuleValue": "x"});
    dispatch(
        &server,
        "search-snapshots",
        &[
            ("TargetID", &again),
            ("DestinationID", "vault"),
            ("SnapshotIDs", &json!([snapshot]).to_string()),
            ("Filter", &bad.to_string()),
        ],
    )
    .await
    .assert_refused(400, "RuleField");

    // Retention, deep verify, reindex and unlock run as jobs of their own;
    // unlock removes stale locks (and, with AllowUnsafe, live ones); a
    // damaged pack makes deep verify fail, naming the file it holds.
    let vault = data.path().join("vault");
    let mut live_lock = None;
    let mut stale_lock = None;
    for (call, classification) in [
        ("apply-retention-rules", 4003),
        ("deepverify-storage-vault", 4010),
        ("reindex-storage-vault", 4009),
        ("unlock", 4004),
    ] {
        if call == "unlock" {
            live_lock = Some(plant_lock(&vault, std::process::id(), now()));
            stale_lock = Some(plant_lock(&vault, 1, now() - 3600));
        }
        dispatch(
            &server,
            call,
            &[("TargetID", &again), ("Destination", "vault")],
        )
        .await
        .assert_refused(200, "OK");
        let job = job_where(&server, "jo", 30, |j| {
            j["Classification"] == classification && j["Status"] != 6001
        })
        .await;
        assert_eq!(job["Status"], 5000, "{call}: {job}");
    }
    let (live_lock, stale_lock) = (live_lock.unwrap(), stale_lock.unwrap());
    assert!(!stale_lock.exists(), "unlock removes a stale lock");
    assert!(
        live_lock.exists(),
        "unlock keeps a running operation's lock"
    );
    dispatch(
        &server,
        "unlock",
        &[
            ("TargetID", &again),
            ("Destination", "vault"),
            ("AllowUnsafe", "1"),
        ],
    )
    .await
    .assert_refused(200, "OK");
    let deadline = Instant::now() + Duration::from_secs(30);
    while live_lock.exists() {
        assert!(Instant::now() < deadline, "AllowUnsafe removes every lock");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    damage_a_pack(&vault);
    dispatch(
        &server,
        "deepverify-storage-vault",
        &[("TargetID", &again), ("Destination", "vault")],
    )
    .await
    .assert_refused(200, "OK");
    let failed = job_where(&server, "jo", 30, |j| {
        j["Classification"] == 4010 && j["Status"] == 7002
    })
    .await;
    let log = admin_post(
        &server.url,
        "/api/v1/admin/get-job-log",
        &[("JobID", failed["GUID"].as_str().unwrap())],
    )
    .await;
    let log = String::from_utf8_lossy(&log.body).to_string();
    assert!(log.contains("big.bin"), "{log}");

    // The databases the device sees on a MariaDB server.
    let mariadb = |sql: &str| {
        std::process::Command::new("mariadb")
            .args(["-uroot", "-h127.0.0.1", "-P3306", "-e", sql])
            .status()
            .expect("the MariaDB client runs")
    };
    assert!(mariadb("CREATE DATABASE IF NOT EXISTS halley_dispatch_browse").success());
    let credentials =
        json!({"Host": "127.0.0.1", "Port": "3306", "Username": "root", "Password": ""});
    let browsed = dispatch(
        &server,
        "request-browse-mysql",
        &[
            ("TargetID", &again),
            ("Credentials", &credentials.to_string()),
        ],
    )
    .await
    .json();
    mariadb("DROP DATABASE halley_dispatch_browse");
    assert_eq!(
        browsed["Objects"]["halley_dispatch_browse"], "halley_dispatch_browse",
        "{browsed}"
    );
    let wrong = json!({"Host": "127.0.0.1", "Port": "3306", "Username": "nobody", "Password": "x"});
    dispatch(
        &server,
        "request-browse-mysql",
        &[("TargetID", &again), ("Credentials", &wrong.to_string())],
    )
    .await
    .assert_refused(500, "cannot list the databases");

    // Whether the device reaches a vault location.
    let reachable = json!({"DestinationType": 1002, "LocalcopyPath": data.path().join("vault")});
    dispatch(
        &server,
        "ping-destination",
        &[("TargetID", &again), ("ExtraData", &reachable.to_string())],
    )
    .await
    .assert_refused(200, "OK");
    let empty = json!({"DestinationType": 1002, "LocalcopyPath": ""});
    dispatch(
        &server,
        "ping-destination",
        &[("TargetID", &again), ("ExtraData", &empty.to_string())],
    )
    .await
    .assert_refused(500, "LocalcopyPath is empty");

    // A new login URL: kept by the device, which reconnects there.
    let login_url = dispatch(&server, "get-default-login-url", &[("OrganizationID", "")])
        .await
        .json();
    assert_eq!(login_url["LoginURL"], "", "{login_url}");
    dispatch(
        &server,
        "update-login-url",
        &[
            ("TargetID", &again),
            ("NewURL", &format!("{}/", server.url)),
        ],
    )
    .await
    .assert_refused(200, "OK");
    let again = connection_of(&server, &device, Some(&again)).await;
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(agent.state_dir.path().join("agent.json")).unwrap())
            .unwrap();
    assert_eq!(saved["server"], server.url.as_str());

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
        if refused.api_status() == 403 {
            assert_eq!(refused.message(), "Unauthorised");
            break;
        }
        assert!(Instant::now() < deadline, "{}", refused.message());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The agent's `agent.json`.
fn saved_state(agent: &Agent) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(agent.state_dir.path().join("agent.json")).unwrap())
        .unwrap()
}

/// Waits until `device` has no live connection.
async fn offline(server: &Server, device: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = dispatch(server, "list-active", &[]).await.json();
        let online = live
            .as_object()
            .is_some_and(|all| all.values().any(|c| c["DeviceID"] == device));
        if !online {
            return;
        }
        assert!(Instant::now() < deadline, "{device} stays live: {live}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_credentials_and_removal_from_the_dispatcher() {
    let server = Server::start();
    new_account(&server, "ana").await;
    // The agent runs from a copy laid out as the tarball installs it, so
    // that it can remove itself.
    let root = tempfile::tempdir().unwrap();
    let exe = root.path().join("usr/bin/halley-agent");
    let unit = root.path().join("lib/systemd/system/halley-agent.service");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    std::fs::copy(agent_binary(), &exe).unwrap();
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Unit]\n").unwrap();
    let mut agent = Agent::with_binary(exe.clone());
    assert!(agent.try_login(&server.url, "ana").status.success());
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), b"mine").unwrap();
    let empty = data.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut p = profile(&server, "ana").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    p["Sources"] =
        json!({"files": file_item(&device, &tree), "nothing": file_item(&device, &empty)});
    p["Policy"]["ModeAdminViewFilenames"] = json!(4);
    p["Policy"]["PreventDeleteSingleSnapshots"] = json!(true);
    set_profile(&server, "ana", &p).await;
    agent.start();
    let target = connection_of(&server, &device, None).await;

    // The policy hides file names from administrators, not from the
    // account holder, and keeps the account holder from deleting snapshots.
    let browse = [
        ("TargetID", target.as_str()),
        ("Path", tree.to_str().unwrap()),
    ];
    dispatch(&server, "request-filesystem-objects", &browse)
        .await
        .assert_refused(403, "ModeAdminViewFilenames");
    let own = call_as(
        &server,
        "ana",
        "user/web/request-filesystem-objects",
        &browse,
    )
    .await
    .json();
    assert_eq!(own["StoredObjects"][0]["name"], "a.txt", "{own}");
    let delete = [
        ("TargetID", target.as_str()),
        ("DestinationID", "vault"),
        ("SnapshotID", "0123abcd"),
    ];
    call_as(
        &server,
        "ana",
        "user/web/dispatcher/delete-snapshot",
        &delete,
    )
    .await
    .assert_refused(403, "PreventDeleteSingleSnapshots");

    // A custom backup's options apply as a rule's would: no files is an
    // error, unless AllowZeroFilesSuccess.
    for (options, status) in [("{}", 7002), (r#"{"AllowZeroFilesSuccess": true}"#, 5000)] {
        let started = dispatch(
            &server,
            "run-backup-custom",
            &[
                ("TargetID", &target),
                ("Source", "nothing"),
                ("Destination", "vault"),
                ("Options", options),
            ],
        )
        .await;
        started.assert_refused(200, "OK");
        let id = started.json()["JobID"].as_str().unwrap().to_string();
        let job = job_where(&server, "ana", 30, |j| {
            j["GUID"] == id.as_str() && j["Status"] != 6001
        })
        .await;
        assert_eq!(job["Status"], status, "{options}: {job}");
    }

    // update-login-password: a wrong password changes nothing; the right one
    // gives the device a new key, and the old key stops working.
    let before = saved_state(&agent);
    dispatch(
        &server,
        "update-login-password",
        &[("TargetID", &target), ("NewPassword", "wrong")],
    )
    .await
    .assert_refused(400, "NewPassword");
    dispatch(
        &server,
        "update-login-password",
        &[("TargetID", &target), ("NewPassword", "password1")],
    )
    .await
    .assert_refused(200, "OK");
    let renewed = connection_of(&server, &device, Some(&target)).await;
    assert_ne!(saved_state(&agent)["device_key"], before["device_key"]);
    let stale = Agent::new();
    std::fs::write(
        stale.state_dir.path().join("agent.json"),
        before.to_string(),
    )
    .unwrap();
    let refused = stale.output_within(&["snapshots", "--vault", "vault"], 60);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("not valid"), "{said}");

    // force-login: signed out, the device waits to be logged in again, and
    // comes back as the same device.
    dispatch(&server, "force-login", &[("TargetID", &renewed)])
        .await
        .assert_refused(200, "OK");
    offline(&server, &device).await;
    let status = String::from_utf8_lossy(&agent.output(&["status"]).stdout).to_string();
    assert!(status.contains("force-login"), "{status}");
    assert!(agent.try_login(&server.url, "ana").status.success());
    assert_eq!(agent.device_id(), device);
    let back = connection_of(&server, &device, Some(&renewed)).await;
    let p = profile(&server, "ana").await;
    assert_eq!(p["Sources"]["files"]["OwnerDevice"], device.as_str());

    // uninstall-software: the agent removes itself, its unit and its state,
    // and stops for good.
    dispatch(
        &server,
        "uninstall-software",
        &[("TargetID", &back), ("RemoveConfigFile", "1")],
    )
    .await
    .assert_refused(200, "OK");
    let exit = agent.exit_status(20).expect("the agent stopped");
    assert_eq!(exit.code(), Some(3));
    assert!(!exe.exists() && !unit.exists(), "the software is gone");
    assert!(!agent.state_dir.path().exists(), "and its state");
    offline(&server, &device).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_does_not_answer_times_out_naming_it() {
    let server = Server::start();
    new_account(&server, "sam").await;
    let mut agent = Agent::login(&server.url, "sam");
    let device = agent.device_id();
    agent.start();
    let target = connection_of(&server, &device, None).await;
    let pid = agent.pid().unwrap().to_string();
    let signal = |name: &str| {
        std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap()
    };
    assert!(signal("-STOP").success());
    let stalled = dispatch(
        &server,
        "request-filesystem-objects",
        &[("TargetID", &target), ("Path", "/")],
    )
    .await;
    signal("-CONT");
    stalled.assert_refused(504, "did not answer within 30 seconds");
    assert!(stalled.message().contains(&device), "{}", stalled.message());
}

/// A copy of the agent build, in a directory of its own, whose version
/// stamp says `version` (same length as the one it replaces, or shorter).
fn agent_build_claiming(version: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let mut bytes = std::fs::read(agent_binary()).unwrap();
    let marker = b"halley-agent-version:";
    let at = bytes
        .windows(marker.len() + 1)
        .position(|w| w.starts_with(marker) && w[marker.len()].is_ascii_digit())
        .expect("the build carries a version stamp")
        + marker.len();
    let end = at + bytes[at..].iter().position(|b| *b == 0).unwrap();
    assert!(version.len() <= end - at);
    bytes[at..end].fill(0);
    bytes[at..at + version.len()].copy_from_slice(version.as_bytes());
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("halley-agent");
    std::fs::write(&path, bytes).unwrap();
    let mut mode = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut mode, 0o755);
    std::fs::set_permissions(&path, mode).unwrap();
    path
}

/// The version `device` reports on its live connection, once it is
/// `expected`.
async fn reports_version(server: &Server, device: &str, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live = dispatch(server, "list-active", &[]).await.json();
        let found = live.as_object().and_then(|all| {
            all.iter()
                .find(|(_, c)| c["DeviceID"] == device && c["ReportedVersion"] == expected)
                .map(|(id, _)| id.clone())
        });
        if let Some(id) = found {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "{device} never reports {expected}: {live}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn campaign_entry(server: &Server, device: &str) -> serde_json::Value {
    let status = admin_post(&server.url, "/api/v1/admin/update-campaign/status", &[])
        .await
        .json();
    status["Devices"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["DeviceID"] == device).cloned())
        .unwrap_or_else(|| panic!("{device} not in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_update_to_the_offered_build_one_by_one_and_by_campaign() {
    let server = Server::start();
    new_account(&server, "lee").await;
    let builds = tempfile::tempdir().unwrap();
    let offered = std::fs::read(agent_binary()).unwrap();
    let current = String::from_utf8_lossy(
        &std::process::Command::new(agent_binary())
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .trim_start_matches("halley-agent ")
    .to_string();
    let mut agents = Vec::new();
    for name in ["one", "two"] {
        let exe = agent_build_claiming("1.0.0", &builds.path().join(name));
        let mut agent = Agent::with_binary(exe.clone());
        assert!(agent.try_login(&server.url, "lee").status.success());
        agent.start();
        let device = agent.device_id();
        reports_version(&server, &device, "1.0.0").await;
        agents.push((agent, device, exe));
    }

    // Updates are the Software Build Role's: off, they are refused.
    let (one, two) = (agents[0].1.clone(), agents[1].1.clone());
    let target = connection_of(&server, &one, None).await;
    let build_role = |on: bool| {
        let url = server.url.clone();
        async move {
            admin_post(
                &url,
                "/api/v1/admin/meta/build-config/set",
                &[(
                    "SoftwareBuildRoleConfig",
                    &json!({"RoleEnabled": on}).to_string(),
                )],
            )
            .await
            .assert_refused(200, "OK");
        }
    };
    build_role(false).await;
    dispatch(&server, "update-software", &[("TargetID", &target)])
        .await
        .assert_refused(403, "Software Build");
    build_role(true).await;

    // One device at once: it installs the offered build and comes back
    // reporting its version, running from the same place.
    dispatch(&server, "update-software", &[("TargetID", &target)])
        .await
        .assert_refused(200, "OK");
    reports_version(&server, &one, &current).await;
    assert!(std::fs::read(&agents[0].2).unwrap() == offered);
    let pid = agents[0].0.pid();
    assert!(
        agents[0].0.exit_status(0).is_none() && pid.is_some(),
        "restarted in place"
    );

    // A campaign: the older device is asked and confirmed; the current one
    // is not eligible.
    assert_eq!(campaign_entry(&server, &two).await["Status"], 0);
    let options = json!({"Active": true, "UpgradeOlder": true});
    admin_post(
        &server.url,
        "/api/v1/admin/update-campaign/start",
        &[("Options", &options.to_string())],
    )
    .await
    .assert_refused(200, "OK");
    reports_version(&server, &two, &current).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while campaign_entry(&server, &two).await["Status"] != 5 {
        assert!(
            Instant::now() < deadline,
            "{}",
            campaign_entry(&server, &two).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(campaign_entry(&server, &one).await["Status"], 1);
    let status = admin_post(&server.url, "/api/v1/admin/update-campaign/status", &[])
        .await
        .json();
    assert_eq!(status["Active"], true, "{status}");
    assert_eq!(status["TargetVersion"], current.as_str(), "{status}");
    assert!(std::fs::read(&agents[1].2).unwrap() == offered);
}
