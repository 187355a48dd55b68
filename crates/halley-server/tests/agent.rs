//! The real agent against a real server: `halley-agent login`, `run` with a
//! schedule that fires within seconds, `backup`, `restore` and `snapshots`,
//! and the failure paths a job can take. Jobs are read back through the
//! API, as integrations read them.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::agent::*;
use common::s3::S3Server;
use common::*;
use halley_api::constants::*;
use serde_json::{json, Value};

fn mysql(args: &[&str], input: Option<&Path>) -> Output {
    let mut command = Command::new("mariadb");
    command.args(["-uroot", "-h127.0.0.1", "-P3306"]).args(args);
    if let Some(file) = input {
        command.stdin(std::fs::File::open(file).unwrap());
    }
    command.output().expect("the MariaDB client runs")
}

/// The reads of the official Prometheus exporter (`api/BEHAVIOR.md` 10.1),
/// field by field: devices online and current, the last backup of each
/// item, the day's jobs.
async fn exporter_reads_real_data(server: &Server, name: &str, device: &str) {
    let version = admin_post(&server.url, "/api/v1/admin/meta/version", &[])
        .await
        .json();
    let users = admin_post(&server.url, "/api/v1/admin/list-users-full", &[])
        .await
        .json();
    let user = &users[name];
    assert_eq!(user["Username"], name);
    assert_eq!(user["Devices"][device]["FriendlyName"], "web-01");
    let last = &user["Sources"]["files"]["Statistics"]["LastBackupJob"];
    assert!(last["StartTime"].as_i64().unwrap() > 0, "{last}");
    assert!(last["EndTime"].as_i64().unwrap() >= last["StartTime"].as_i64().unwrap());
    assert_eq!(last["Status"], 5000);
    assert_eq!(last["TotalFiles"], 2);
    assert!(last["UploadSize"].as_i64().unwrap() > 0);
    assert_eq!(user["Sources"]["files"]["OwnerDevice"], device);
    let vault = &user["Destinations"]["vault"];
    assert_eq!(vault["DestinationType"], 1002);
    assert!(
        vault["Statistics"]["ClientProvidedSize"]["Size"]
            .as_i64()
            .unwrap()
            > 0
    );

    let live = admin_post(&server.url, "/api/v1/admin/dispatcher/list-active", &[])
        .await
        .json();
    let connection = live
        .as_object()
        .and_then(|all| all.values().find(|c| c["DeviceID"] == device))
        .unwrap_or_else(|| panic!("the device is not live: {live}"));
    assert_eq!(connection["Username"], name);
    assert_eq!(
        connection["ReportedVersion"], version["Version"],
        "the device is current"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = admin_post(
        &server.url,
        "/api/v1/admin/get-jobs-for-date-range",
        &[
            ("Start", &(now - 86_400).to_string()),
            ("End", &now.to_string()),
        ],
    )
    .await
    .json();
    let succeeded = day
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["Status"] == 5000)
        .count();
    assert!(succeeded >= 2, "{day}");
}

#[tokio::test]
async fn scheduled_backups_arrive_and_restore_byte_identical() {
    let server = Server::start();
    let mut hooks = WebhookReceiver::start(0).await;
    let hook_options = json!({"main": {"URL": hooks.url, "Level": "full"}});
    admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hook_options.to_string())],
    )
    .await
    .assert_refused(200, "OK");
    let (mut events, answer) =
        open_stream(&server.url, ["admin", "Password", "admin", "", ""]).await;
    assert_eq!(answer, "200 OK");
    new_account(&server, "ada").await;
    let mut agent = Agent::login(&server.url, "ada");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    make_tree(&tree);
    let vault_dir = data.path().join("vault");

    let database = "halley_agent_e2e";
    let created = mysql(
        &[
            "-e",
            &format!(
                "DROP DATABASE IF EXISTS {database}; CREATE DATABASE {database}; \
         CREATE TABLE {database}.notes (id INT PRIMARY KEY, body TEXT); \
         INSERT INTO {database}.notes VALUES (1, 'kept by the dump');"
            ),
        ],
        None,
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let s3 = S3Server::start("halley-e2e").await;
    let db_vault = if let Some(s3) = &s3 {
        json!({"Description": "s3", "DestinationType": 1000, "S3Server": s3.endpoint,
               "S3BucketName": "halley-e2e", "S3Subdir": "ada",
               "S3AccessKey": "test", "S3SecretKey": "test"})
    } else {
        local_vault(&data.path().join("db-vault"))
    };
    let mut p = profile(&server, "ada").await;
    p["Destinations"] = json!({"vault": local_vault(&vault_dir), "s3": db_vault});
    p["Sources"] = json!({
        "files": file_item(&device, &tree),
        "db": {"Engine": "engine1/mysql", "Description": "db", "OwnerDevice": device,
               "EngineProps": {"HOST": "127.0.0.1", "PORT": "3306", "USERNAME": "root",
                               format!("DATABASE-{database}"): database}},
    });
    let every_two_seconds = json!([{"FrequencyType": 8015, "SecondsPast": 2}]);
    p["BackupRules"] = json!({
        "rule-files": {"Description": "files", "Source": "files", "Destination": "vault",
                       "Schedules": every_two_seconds},
        "rule-db": {"Description": "db", "Source": "db", "Destination": "s3",
                    "Schedules": every_two_seconds},
    });
    set_profile(&server, "ada", &p).await;
    agent.start();

    let files_job = job_where(&server, "ada", 60, |j| {
        j["SourceGUID"] == "files" && j["Status"] == 5000
    })
    .await;
    assert_eq!(files_job["Classification"], 4001);
    assert_eq!(files_job["BackupRuleGUID"], "rule-files");
    assert_eq!(files_job["DeviceID"], device.as_str());
    assert_eq!(files_job["TotalFiles"], 2, "{files_job}");
    assert_eq!(files_job["TotalDirectories"], 3, "{files_job}");
    assert_eq!(files_job["TotalSize"], 200 * 1024 + 5);
    assert!(files_job["UploadSize"].as_i64().unwrap() > 0);
    assert!(files_job["DestinationSizeEnd"]["Size"].as_i64().unwrap() > 0);
    assert_eq!(files_job["SnapshotID"].as_str().unwrap().len(), 64);
    let db_job = job_where(&server, "ada", 60, |j| {
        j["SourceGUID"] == "db" && j["Status"] == 5000
    })
    .await;
    assert_eq!(db_job["TotalFiles"], 1, "{db_job}");
    exporter_reads_real_data(&server, "ada", &device).await;
    agent.kill();

    // Announced live, on the websocket and at the webhook.
    let connected = event_where(&mut events, |e| e["Type"] == SEVT_DEVICE_LIVE_CONNECT).await;
    assert_eq!(connected["Data"]["DeviceID"], device.as_str());
    let files_guid = files_job["GUID"].as_str().unwrap();
    event_where(&mut events, |e| {
        e["Type"] == SEVT_JOB_NEW && e["ResourceID"] == files_guid
    })
    .await;
    let completed = event_where(&mut events, |e| {
        e["Type"] == SEVT_JOB_COMPLETED && e["ResourceID"] == files_guid
    })
    .await;
    assert_eq!(completed["Data"]["Status"], 5000);
    assert_eq!(completed["Data"]["TotalFiles"], 2);
    loop {
        let delivery = hooks.until_type(SEVT_JOB_COMPLETED, 30).await;
        if delivery.event["ResourceID"] == files_guid {
            assert_eq!(delivery.event["Data"]["Status"], 5000);
            break;
        }
    }

    let stats = profile(&server, "ada").await;
    assert!(!stats["Destinations"]["vault"]["EncryptedEncryptionKey"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(
        stats["Destinations"]["vault"]["EncryptionKeyEncryptionMethod"],
        100
    );
    assert!(
        stats["Destinations"]["vault"]["Statistics"]["ClientProvidedSize"]["Size"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert!(
        !stats["Sources"]["files"]["Statistics"]["LastSuccessfulBackupJob"]["GUID"]
            .as_str()
            .unwrap()
            .is_empty()
    );

    // Files come back byte-identical, without what was excluded.
    let listed = agent.output(&["snapshots", "--vault", "vault"]);
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.contains(files_job["SnapshotID"].as_str().unwrap()),
        "{listed}"
    );
    let target = data.path().join("restored");
    let out = agent.output(&[
        "restore",
        "--item",
        "files",
        "--vault",
        "vault",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = target.join(tree.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(restored.join("top.txt")).unwrap(), b"hello");
    assert_eq!(
        std::fs::read(restored.join("a/b/deep.bin")).unwrap(),
        vec![7u8; 200 * 1024]
    );
    assert!(!restored.join("a/skip.tmp").exists());
    let restore_job = job_where(&server, "ada", 10, |j| j["Classification"] == 4002).await;
    assert_eq!(restore_job["Status"], 5000);

    // The dump loads back.
    let dump_dir = data.path().join("dump");
    let out = agent.output(&[
        "restore",
        "--item",
        "db",
        "--vault",
        "s3",
        "--target",
        dump_dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    mysql(&["-e", &format!("DROP DATABASE {database}")], None);
    let loaded = mysql(&[], Some(&dump_dir.join(format!("{database}.sql"))));
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let row = mysql(
        &["-N", "-e", &format!("SELECT body FROM {database}.notes")],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&row.stdout).trim(),
        "kept by the dump"
    );
    mysql(&["-e", &format!("DROP DATABASE {database}")], None);

    // status shows the account, the device and the last job of each rule.
    let status = agent.output(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(status.contains("account:    ada"), "{status}");
    assert!(status.contains("rule rule-files: job"), "{status}");
}

#[tokio::test]
async fn failing_jobs_end_with_the_status_that_says_why() {
    let server = Server::start();
    new_account(&server, "bo").await;
    let agent = Agent::login(&server.url, "bo");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    make_tree(&tree);
    let mut big = tree.clone();
    big.push("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("noise.bin"), noise(8 << 20)).unwrap();

    let mut p = profile(&server, "bo").await;
    let mut failing = file_item(&device, &tree);
    failing["PreExec"] = json!(["echo checking the mount; exit 3"]);
    let mut tiny = local_vault(&data.path().join("tiny"));
    tiny["StorageLimitEnabled"] = json!(true);
    tiny["StorageLimitBytes"] = json!(1);
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault")), "tiny": tiny});
    p["Sources"] = json!({
        "files": file_item(&device, &tree),
        "failing": failing,
        "exchange": {"Engine": "engine1/exchangeedb", "OwnerDevice": device},
        "big": file_item(&device, &big),
    });
    p["BackupRules"] = json!({
        "slow": {"Source": "big", "Destination": "vault", "LimitVaultSpeedBps": 400_000},
    });
    set_profile(&server, "bo", &p).await;

    let backup = |args: &[&str]| {
        let mut full = vec!["backup"];
        full.extend_from_slice(args);
        agent.output(&full)
    };

    // A failing pre-command fails the job, with its output in the log.
    let out = backup(&["--item", "failing", "--vault", "vault"]);
    assert_eq!(out.status.code(), Some(1));
    let job = job_where(&server, "bo", 10, |j| j["SourceGUID"] == "failing").await;
    assert_eq!(job["Status"], 7002);
    let log = log_text(&server, job["GUID"].as_str().unwrap()).await;
    assert!(log.contains("checking the mount"), "{log}");
    assert!(log.contains("exit 3"), "{log}");

    // An engine this agent lacks fails at once, naming it.
    let out = backup(&["--item", "exchange", "--vault", "vault"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("engine1/exchangeedb is not available on linux/"));
    let job = job_where(&server, "bo", 10, |j| j["SourceGUID"] == "exchange").await;
    assert_eq!(job["Status"], 7002);

    // A vault over its quota ends the job with 7003.
    let out = backup(&["--item", "files", "--vault", "tiny"]);
    assert_eq!(out.status.code(), Some(1));
    let job = job_where(&server, "bo", 10, |j| j["DestinationGUID"] == "tiny").await;
    assert_eq!(job["Status"], 7003, "{job}");

    // Cancel from the API reaches the agent: 7005.
    let (slow, job_id) = agent.start_rule_backup(&server, "bo", "slow").await;
    admin_post(
        &server.url,
        "/api/v1/admin/job/cancel",
        &[("TargetUser", "bo"), ("JobID", &job_id)],
    )
    .await
    .assert_refused(200, "OK");
    let cancelled = job_where(&server, "bo", 20, |j| {
        j["GUID"] == job_id.as_str() && j["Status"] != 6001
    })
    .await;
    assert_eq!(cancelled["Status"], 7005, "{cancelled}");
    let exit = slow.wait_with_output().unwrap();
    assert_eq!(exit.status.code(), Some(1));
}

/// A TCP relay between an agent and the server that a test can cut and
/// mend, as a network outage would.
struct Relay {
    url: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Relay {
    async fn start(server_url: &str) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = server_url.trim_start_matches("http://").to_string();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (accepting, tracked) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(link.abort_handle());
            }
        });
        Relay { url, open, links }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn mend(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn status_of(server: &Server, name: &str, job_id: &str, seconds: u64, status: i64) -> Value {
    job_where(server, name, seconds, |j| {
        j["GUID"] == job_id && j["Status"] == status
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_goes_away_mid_job_is_abandoned_revived_and_missed() {
    let server = Server::launch(Launch {
        args: vec!["--job-abandon-seconds".into(), "2".into()],
        ..Default::default()
    });
    new_account(&server, "cy").await;
    let relay = Relay::start(&server.url).await;
    let mut agent = Agent::login(&relay.url, "cy");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let big = data.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("noise.bin"), noise(8 << 20)).unwrap();

    let mut p = profile(&server, "cy").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    // Every job stays running a few seconds, even one with nothing new to
    // upload, so that the test sees each one running.
    let mut item = file_item(&device, &big);
    item["PreExec"] = json!(["sleep 5"]);
    p["Sources"] = json!({"big": item});
    p["BackupRules"] = json!({
        "slow": {"Source": "big", "Destination": "vault", "LimitVaultSpeedBps": 300_000,
                 "SkipAlreadyRunning": true,
                 "Schedules": [{"FrequencyType": 8015, "SecondsPast": 4}]},
    });
    set_profile(&server, "cy", &p).await;
    agent.start();

    let running = job_where(&server, "cy", 30, |j| j["Status"] == 6001).await;
    let job_id = running["GUID"].as_str().unwrap().to_string();
    // The next scheduled time finds the job still running: skipped.
    let skipped = job_where(&server, "cy", 30, |j| j["Status"] == 7006).await;
    assert_eq!(skipped["BackupRuleGUID"], "slow");

    // The network goes away: after the grace period the job is abandoned;
    // when the device is back with the job still running, it is revived.
    relay.cut();
    status_of(&server, "cy", &job_id, 30, 7007).await;
    relay.mend();
    status_of(&server, "cy", &job_id, 30, 6002).await;
    let done = status_of(&server, "cy", &job_id, 90, 5000).await;
    assert_eq!(done["TotalFiles"], 1, "{done}");

    // The agent is killed mid-job: abandoned for good; stopped across the
    // next scheduled time, the server writes that job as missed.
    let second = job_where(&server, "cy", 30, |j| {
        j["Status"] == 6001 && j["GUID"] != job_id.as_str()
    })
    .await;
    agent.kill();
    status_of(&server, "cy", second["GUID"].as_str().unwrap(), 30, 7007).await;
    let missed = job_where(&server, "cy", 75, |j| j["Status"] == 7004).await;
    assert_eq!(missed["BackupRuleGUID"], "slow");
    assert_eq!(missed["DeviceID"], device.as_str());
    assert_eq!(missed["StartTime"], missed["EndTime"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_surplus_devices_are_refused() {
    let server = Server::start();
    new_account(&server, "di").await;
    let mut p = profile(&server, "di").await;
    p["MaximumDevices"] = json!(1);
    set_profile(&server, "di", &p).await;

    let mut agent = Agent::login(&server.url, "di");
    let surplus = Agent::new().try_login(&server.url, "di");
    assert!(!surplus.status.success());
    let said = String::from_utf8_lossy(&surplus.stderr).to_string();
    assert!(said.contains("MaximumDevices"), "{said}");

    agent.start();
    let device = agent.device_id();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = admin_post(&server.url, "/api/v1/admin/dispatcher/list-active", &[])
            .await
            .json();
        let online = live
            .as_object()
            .is_some_and(|all| all.values().any(|c| c["DeviceID"] == device.as_str()));
        if online {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the device never came online: {live}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    admin_post(
        &server.url,
        "/api/v1/admin/revoke-device",
        &[("TargetUser", "di"), ("TargetDevice", &device)],
    )
    .await
    .assert_refused(200, "OK");
    let out = agent.output_within(&["snapshots", "--vault", "any"], 20);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(said.contains("refused"), "{said}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = String::from_utf8_lossy(&agent.output(&["status"]).stdout).to_string();
        if status.contains("connection: refused") {
            break;
        }
        assert!(Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Backs up once so the vault exists and its key is wrapped in the profile.
async fn first_backup(server: &Server, name: &str, agent: &Agent, data: &Path) {
    let tree = data.join("tree");
    make_tree(&tree);
    let mut p = profile(server, name).await;
    p["Destinations"] = json!({"vault": local_vault(&data.join("vault"))});
    p["Sources"] = json!({"files": file_item(&agent.device_id(), &tree)});
    set_profile(server, name, &p).await;
    let out = agent.output(&["backup", "--item", "files", "--vault", "vault"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An administrator's password reset to `password2`, answered `status`.
async fn reset_password(server: &Server, name: &str, old: Option<&str>, status: i64, needle: &str) {
    let mut fields = vec![("TargetUser", name), ("NewPassword", "password2")];
    fields.extend(old.map(|old| ("OldPassword", old)));
    admin_post(&server.url, "/api/v1/admin/reset-user-password", &fields)
        .await
        .assert_refused(status, needle);
}

/// A new device of `name`, registered with the password set by the reset.
fn login_after_reset(server: &Server, name: &str) -> Agent {
    let agent = Agent::new();
    let out = agent.output(&[
        "login",
        "--server",
        &server.url,
        "--username",
        name,
        "--password",
        "password2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    agent
}

/// The agent opens the vault `first_backup` wrote and sees its snapshot.
fn reads_the_vault(agent: &Agent) {
    let listed = agent.output_within(&["snapshots", "--vault", "vault"], 30);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(String::from_utf8_lossy(&listed.stdout).contains("files"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_keeps_vaults_readable_only_with_a_recovery_code() {
    let server = Server::start();
    let data = tempfile::tempdir().unwrap();

    // With a recovery code kept by the server: a device registered after
    // an administrator's reset opens the vault written before it.
    admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[
            ("TargetUser", "gus"),
            ("TargetPassword", "password1"),
            ("StoreRecoveryCode", "1"),
        ],
    )
    .await
    .assert_refused(200, "OK");
    let before = Agent::login(&server.url, "gus");
    first_backup(&server, "gus", &before, &data.path().join("gus")).await;
    reset_password(&server, "gus", None, 200, "OK").await;
    reads_the_vault(&login_after_reset(&server, "gus"));

    // Without one, the server holds the key wrapped by the password alone:
    // a reset needs the old password (so the key is wrapped anew), and a
    // device registered after it opens the vault too.
    new_account(&server, "hal").await;
    let before = Agent::login(&server.url, "hal");
    first_backup(&server, "hal", &before, &data.path().join("hal")).await;
    reset_password(&server, "hal", None, 400, "StoreRecoveryCode").await;
    reset_password(&server, "hal", Some("password1"), 200, "OK").await;
    reads_the_vault(&login_after_reset(&server, "hal"));
    // The device registered before keeps its own copy of the key.
    reads_the_vault(&before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_schedule_runs_at_start_and_a_failed_job_is_retried_after_waiting() {
    let server = Server::start();
    new_account(&server, "ivy").await;
    let mut agent = Agent::login(&server.url, "ivy");
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    make_tree(&tree);
    let flag = data.path().join("mounted");
    let mut item = file_item(&agent.device_id(), &tree);
    // Fails the first time only, as a share not mounted yet would.
    item["PreExec"] = json!([format!(
        "test -e {0} || {{ touch {0}; echo not mounted yet; exit 1; }}",
        flag.display()
    )]);
    let mut p = profile(&server, "ivy").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    p["Sources"] = json!({"files": item});
    p["BackupRules"] = json!({"hourly": {"Source": "files", "Destination": "vault",
        "Schedules": [{"FrequencyType": 8015, "SecondsPast": 3600}],
        "EventTriggers": {"OnPCBootIfLastJobMissed": true, "OnLastJobFailDoRetry": true,
                          "LastJobFailDoRetryCount": 2, "LastJobFailDoRetryTime": 3}}});
    set_profile(&server, "ivy", &p).await;
    // The hourly schedule came due before this machine ever ran it: the
    // job runs at start, fails, and its retry waits (6003) before it runs.
    agent.start();
    let failed = job_where(&server, "ivy", 30, |j| j["Status"] == 7002).await;
    let log = log_text(&server, failed["GUID"].as_str().unwrap()).await;
    assert!(log.contains("not mounted yet"), "{log}");
    let waiting = job_where(&server, "ivy", 10, |j| j["Status"] == 6003).await;
    let retried = status_of(&server, "ivy", waiting["GUID"].as_str().unwrap(), 30, 5000).await;
    assert_eq!(retried["BackupRuleGUID"], "hourly");
    assert_eq!(
        jobs(&server, "ivy").await.len(),
        2,
        "no further retry after a success"
    );
}
