//! Hosted instances over HTTP: a real `halleyd` launched by the portal,
//! reached over its own API with the credentials the status call returns,
//! restarted when it dies, carried across a portal restart, and terminated.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{eventually, Portal, EMAIL};
use serde_json::Value;

const CREATE: &str = "/api/v1/hosted/create";
const STATUS: &str = "/api/v1/hosted/status";
const TERMINATE: &str = "/api/v1/hosted/terminate";
const LIST: &str = "/api/v1/hosted/list";
/// A debug `halleyd` on a busy 2-core machine can take a while to come up.
const START_LIMIT: Duration = Duration::from_secs(90);

async fn create(portal: &Portal, subdomain: &str, region: &str) -> String {
    let answer = portal
        .call(
            CREATE,
            &[
                ("region", region),
                ("subdomain", subdomain),
                ("server_name", "Neat Backup Company"),
            ],
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    assert!(answer.content_type().starts_with("application/json"));
    let body = answer.json();
    assert_eq!(body["status"], "OK");
    body["hosted_server_id"].as_str().unwrap().to_string()
}

async fn status(portal: &Portal, id: &str) -> Value {
    let answer = portal.call(STATUS, &[("hosted_server_id", id)]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["status"], "OK");
    body["data"].clone()
}

async fn wait_running(portal: &Portal, id: &str) -> Value {
    eventually(START_LIMIT, || async {
        let data = status(portal, id).await;
        (data["install_status"] == "Running").then_some(data)
    })
    .await
}

/// `POST /api/v1/admin/meta/version` on the instance with its credentials.
async fn instance_version(data: &Value) -> Result<Value, reqwest::Error> {
    let url = data["url"].as_str().expect("a url");
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v1/admin/meta/version"))
        .form(&[
            ("Username", data["admin_username"].as_str().unwrap()),
            ("AuthType", "Password"),
            ("Password", data["admin_password"].as_str().unwrap()),
        ])
        .timeout(Duration::from_secs(20))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    response.json().await
}

fn instance_dir(portal: &Portal, id: &str, subdomain: &str) -> PathBuf {
    portal
        .data_dir
        .join("instances")
        .join(format!("{id}-{subdomain}"))
}

/// The pid of the `halleyd` serving `dir`, read from /proc.
fn halleyd_pid(dir: &std::path::Path) -> Option<i32> {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains("halleyd") && cmdline.contains(&needle)).then_some(pid)
        })
}

fn assert_error(answer: &common::Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.text());
    assert!(answer.content_type().starts_with("application/json"));
    assert_eq!(answer.json()["status"], "error");
}

#[tokio::test]
async fn an_instance_is_created_reached_restarted_and_terminated() {
    let portal = Portal::start();
    let id = create(&portal, "Neat-Backup-3", "local").await;
    let first = status(&portal, &id).await;
    assert_eq!(first["hosted_server_id"], id.as_str());
    assert_eq!(first["region_name"], "local");
    assert_eq!(first["user_dns"], "neat-backup-3.hosted.localhost");
    assert_eq!(first["server_name"], "Neat Backup Company");
    assert_eq!(first["admin_username"], "admin");
    assert_eq!(first["admin_password"].as_str().unwrap().len(), 24);
    assert_eq!(first["created_at"].as_str().unwrap().len(), 19);
    assert!(first["date_deleted"].is_null());

    let data = wait_running(&portal, &id).await;
    assert_eq!(data["aws_status"], "running");
    let url = data["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let version = instance_version(&data).await.expect("the instance answers");
    assert!(version["Version"].is_string(), "{version}");

    // The subdomain is taken while the instance lives.
    let taken = portal
        .call(
            CREATE,
            &[
                ("region", "local"),
                ("subdomain", "neat-backup-3"),
                ("server_name", "x"),
            ],
        )
        .await;
    assert_error(&taken, 400);

    // It is an active service, billed per day.
    let active = portal
        .call("/api/v1/report/active_services", &[("format", "json")])
        .await
        .json();
    assert!(active
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["service_type"] == "hosted_server" && s["service_id"] == id.as_str()));

    // A crashed instance is started again, on the same address.
    let dir = instance_dir(&portal, &id, "neat-backup-3");
    let pid = halleyd_pid(&dir).expect("halleyd runs for the instance");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let again = eventually(START_LIMIT, || async {
        let data = status(&portal, &id).await;
        let new_pid = halleyd_pid(&dir);
        (data["install_status"] == "Running" && new_pid.is_some() && new_pid != Some(pid))
            .then_some(data)
    })
    .await;
    assert_eq!(again["url"], url.as_str());
    instance_version(&again)
        .await
        .expect("answers after the restart");

    // Terminate: 202 at once, then the process really stops and the data goes.
    let answer = portal.call(TERMINATE, &[("hosted_server_id", &id)]).await;
    assert_eq!(answer.status, 202, "{}", answer.text());
    assert_eq!(answer.json()["status"], "OK");
    let gone = eventually(Duration::from_secs(60), || async {
        let data = status(&portal, &id).await;
        (data["install_status"] == "Deleted").then_some(data)
    })
    .await;
    assert_eq!(gone["aws_status"], "terminated");
    assert_eq!(gone["date_deleted"].as_str().unwrap().len(), 19);
    assert!(gone["url"].is_null());
    assert!(halleyd_pid(&dir).is_none(), "the process is gone");
    assert!(
        instance_version(&again).await.is_err(),
        "nothing answers any more"
    );
    assert!(!dir.exists(), "the instance's data is removed");
    // Terminating again is accepted and changes nothing.
    let twice = portal.call(TERMINATE, &[("hosted_server_id", &id)]).await;
    assert_eq!(twice.status, 202);
    // The subdomain is free again.
    let reused = create(&portal, "neat-backup-3", "local").await;
    assert_ne!(reused, id);
    portal
        .call(TERMINATE, &[("hosted_server_id", &reused)])
        .await;
    // Billing history has the instance's day.
    let billing = portal
        .call("/api/v1/report/billing_history", &[("format", "json")])
        .await
        .json();
    assert!(billing
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["service_type"] == "hosted_server" && d["service_id"] == id.as_str()));
    eventually(Duration::from_secs(60), || async {
        (status(&portal, &reused).await["install_status"] == "Deleted").then_some(())
    })
    .await;
}

#[tokio::test]
async fn instances_come_back_after_a_portal_restart() {
    let second_root = tempfile::tempdir().unwrap();
    let region = format!("second={}", second_root.path().display());
    let mut portal = Portal::start_with(&["--region", &region]);
    // Configured regions replace the default one.
    let local = portal
        .call(
            CREATE,
            &[
                ("region", "local"),
                ("subdomain", "x"),
                ("server_name", "x"),
            ],
        )
        .await;
    assert_error(&local, 400);
    let id = create(&portal, "survivor", "second").await;
    let before = wait_running(&portal, &id).await;
    let dir = second_root.path().join(format!("{id}-survivor"));
    assert!(
        dir.join("halley.db").exists(),
        "the region's root holds the instance"
    );

    portal.stop();
    assert!(
        halleyd_pid(&dir).is_none(),
        "a stopped portal stops its instances"
    );
    portal.spawn();
    let after = wait_running(&portal, &id).await;
    assert_eq!(after["url"], before["url"]);
    assert_eq!(after["admin_password"], before["admin_password"]);
    instance_version(&after)
        .await
        .expect("the same credentials work after the restart");

    // Listing: offset and limit over this account's instances.
    let other = create(&portal, "second-one", "second").await;
    let all = portal.call(LIST, &[]).await;
    assert_eq!(all.status, 200);
    let all = all.json();
    assert_eq!(all["status"], "OK");
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["hosted_server_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id.as_str(), other.as_str()]);
    let page = portal
        .call(LIST, &[("offset", "1"), ("limit", "1")])
        .await
        .json();
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    assert_eq!(page["data"][0]["hosted_server_id"], other.as_str());
    let empty = portal.call(LIST, &[("offset", "5")]).await.json();
    assert_eq!(empty["data"], serde_json::json!([]));

    for instance in [&id, &other] {
        let answer = portal
            .call(TERMINATE, &[("hosted_server_id", instance)])
            .await;
        assert_eq!(answer.status, 202);
    }
    for instance in [&id, &other] {
        eventually(Duration::from_secs(60), || async {
            (status(&portal, instance).await["install_status"] == "Deleted").then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn hosted_calls_answer_their_error_rows() {
    let portal = Portal::start();
    let dir = portal.data_dir.to_str().unwrap().to_string();
    let (ok, _, err) = common::cli(&[
        "create-account",
        "--data-dir",
        &dir,
        "--email",
        "other@example.com",
        "--password",
        "other password",
    ]);
    assert!(ok, "{err}");
    // Bad credentials: 403 with {"status": "error"} on all four.
    for path in [CREATE, STATUS, TERMINATE, LIST] {
        assert_error(
            &portal
                .post(
                    path,
                    &[
                        ("email", EMAIL),
                        ("password", "wrong"),
                        ("hosted_server_id", "1"),
                    ],
                )
                .await,
            403,
        );
        assert_error(
            &portal
                .post(path, &[("authType", "apiToken"), ("apiToken", "hat_bad")])
                .await,
            403,
        );
        assert_error(&portal.post(path, &[]).await, 400);
    }
    // Invalid or missing parameters of create.
    let create_with = |fields: &'static [(&'static str, &'static str)]| {
        let portal = &portal;
        async move { portal.call(CREATE, fields).await }
    };
    assert_error(
        &create_with(&[("subdomain", "a"), ("server_name", "x")]).await,
        400,
    );
    assert_error(
        &create_with(&[("region", "local"), ("server_name", "x")]).await,
        400,
    );
    assert_error(
        &create_with(&[("region", "local"), ("subdomain", "a")]).await,
        400,
    );
    assert_error(
        &create_with(&[
            ("region", "mars-1"),
            ("subdomain", "a"),
            ("server_name", "x"),
        ])
        .await,
        400,
    );
    for bad in ["-a", "a-", "a.b", "a_b", "ä"] {
        let answer = portal
            .call(
                CREATE,
                &[
                    ("region", "local"),
                    ("subdomain", bad),
                    ("server_name", "x"),
                ],
            )
            .await;
        assert_error(&answer, 400);
    }
    // Unknown ids and another account's instance look the same: 403.
    for path in [STATUS, TERMINATE] {
        assert_error(
            &portal.call(path, &[("hosted_server_id", "999")]).await,
            403,
        );
        assert_error(
            &portal.call(path, &[("hosted_server_id", "abc")]).await,
            400,
        );
        assert_error(&portal.call(path, &[]).await, 400);
    }
    assert_error(&portal.call(LIST, &[("limit", "-1")]).await, 400);
    assert_error(&portal.call(LIST, &[("offset", "x")]).await, 400);
    let empty = portal.call(LIST, &[]).await;
    assert_eq!(
        empty.json(),
        serde_json::json!({"status": "OK", "data": []})
    );

    let id = create(&portal, "private", "local").await;
    for path in [STATUS, TERMINATE] {
        let answer = portal
            .post(
                path,
                &[
                    ("email", "other@example.com"),
                    ("password", "other password"),
                    ("hosted_server_id", &id),
                ],
            )
            .await;
        assert_error(&answer, 403);
    }
    let others = portal
        .post(
            LIST,
            &[
                ("email", "other@example.com"),
                ("password", "other password"),
            ],
        )
        .await
        .json();
    assert_eq!(others["data"], serde_json::json!([]));
    // Terminated right away, even before it finished starting.
    assert_eq!(
        portal
            .call(TERMINATE, &[("hosted_server_id", &id)])
            .await
            .status,
        202
    );
    eventually(Duration::from_secs(60), || async {
        (status(&portal, &id).await["install_status"] == "Deleted").then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_crashed_portal_takes_its_orphaned_instance_back() {
    let mut portal = Portal::start();
    let id = create(&portal, "orphan", "local").await;
    let before = wait_running(&portal, &id).await;
    let dir = instance_dir(&portal, &id, "orphan");
    let orphan = halleyd_pid(&dir).expect("halleyd runs");

    portal.crash();
    assert_eq!(
        halleyd_pid(&dir),
        Some(orphan),
        "the instance outlives the crash"
    );
    portal.spawn();
    let after = eventually(START_LIMIT, || async {
        let data = status(&portal, &id).await;
        let pid = halleyd_pid(&dir);
        (data["install_status"] == "Running" && pid.is_some() && pid != Some(orphan))
            .then_some(data)
    })
    .await;
    assert_eq!(after["url"], before["url"], "the same address again");
    instance_version(&after)
        .await
        .expect("answers under the new portal");

    portal.call(TERMINATE, &[("hosted_server_id", &id)]).await;
    eventually(Duration::from_secs(60), || async {
        (status(&portal, &id).await["install_status"] == "Deleted").then_some(())
    })
    .await;
    assert!(halleyd_pid(&dir).is_none());
}

#[tokio::test]
async fn an_instance_that_cannot_start_says_so_and_can_be_terminated() {
    let portal = Portal::start_with(&["--halleyd", "/nonexistent/halleyd"]);
    let id = create(&portal, "doomed", "local").await;
    eventually(Duration::from_secs(30), || async {
        let data = status(&portal, &id).await;
        (data["install_status"] == "Start failed, retrying...").then_some(())
    })
    .await;
    assert_eq!(
        portal
            .call(TERMINATE, &[("hosted_server_id", &id)])
            .await
            .status,
        202
    );
    let gone = eventually(Duration::from_secs(30), || async {
        let data = status(&portal, &id).await;
        (data["install_status"] == "Deleted").then_some(data)
    })
    .await;
    assert!(gone["date_deleted"].is_string());
}
