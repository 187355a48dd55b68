//! Three `halleyd` nodes on one PostgreSQL database behind HAProxy: a stream
//! of writes spread over the nodes while one is killed with SIGKILL. No
//! acknowledged write is lost; subscribers on the surviving nodes get every
//! event once, in the same order; webhooks deliver every event; login
//! throttling, the TOTP replay guard and background work hold across nodes.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::agent::*;
use common::postgres::TestDatabase;
use common::*;
use halley_api::constants::{SEVT_ACCOUNT_NEW, SEVT_META_HELLO};
use serde_json::{json, Value};

/// HAProxy in front of the nodes, as the README's configuration has it.
struct Proxy {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn haproxy_missing() -> bool {
    if Command::new("haproxy").arg("-v").output().is_ok() {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "haproxy is required in CI (apt-get install haproxy)"
    );
    eprintln!("SKIPPED the cluster test: haproxy is not installed");
    true
}

fn start_proxy(nodes: &[&Server]) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The documented configuration, with this test's addresses.
    let documented = include_str!("../../../docs/haproxy.cfg");
    let mut config: String = documented
        .lines()
        .filter(|line| !line.trim_start().starts_with("server "))
        .map(|line| match line.trim_start().starts_with("bind ") {
            true => format!("    bind 127.0.0.1:{port}\n"),
            false => format!("{line}\n"),
        })
        .collect();
    for (n, node) in nodes.iter().enumerate() {
        let address = node.url.trim_start_matches("http://");
        config.push_str(&format!(
            "    server node{n} {address} check inter 200ms fall 1 rise 2\n"
        ));
    }
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    Proxy {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// A node of the cluster on `database`, with a data directory of its own.
fn start_node(database: &TestDatabase, config: &Value) -> (Server, tempfile::TempDir) {
    start_node_with(database, config, &[])
}

fn start_node_with(
    database: &TestDatabase,
    config: &Value,
    args: &[&str],
) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cometd.cfg"), config.to_string()).unwrap();
    use_database(dir.path(), &database.url);
    let launch = Launch {
        args: args.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    };
    (Server::spawn_in(dir.path(), &launch), dir)
}

/// Which of `nodes` holds the live connection of `device`.
async fn holder_of(database: &TestDatabase, nodes: &[Server], device: &str) -> usize {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&database.url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let node: Option<String> = sqlx::query_scalar(
            "SELECT node FROM device_presence WHERE (snapshot::jsonb) ->> 'device_id' = $1",
        )
        .bind(device)
        .fetch_optional(&mut db)
        .await
        .unwrap();
        if let Some(node) = node {
            return nodes
                .iter()
                .position(|n| std::fs::read_to_string(n.data_dir.join("node-id")).unwrap() == node)
                .expect("the holder is one of the nodes");
        }
        assert!(Instant::now() < deadline, "{device} never connected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `SEVT_ACCOUNT_NEW` resources a subscriber receives, until it has
/// seen `count` of them.
async fn accounts_announced(socket: &mut Socket, count: usize) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < count {
        let event = next_event(socket).await;
        if event["Type"] == SEVT_ACCOUNT_NEW {
            seen.push(event["ResourceID"].as_str().unwrap().to_string());
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_haproxy_lose_nothing_when_one_is_killed() {
    if haproxy_missing() {
        return;
    }
    let database = TestDatabase::create().await;
    let config = json!({
        "TrustXForwardedFor": true, "TrustedProxies": ["127.0.0.1"],
        "LoginProtection": {"Enabled": true, "FailureThreshold": 10, "CooldownSeconds": 300},
    });
    let mut nodes = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..3 {
        let (node, dir) = start_node(&database, &config);
        nodes.push(node);
        dirs.push(dir);
    }
    let proxy = start_proxy(&nodes.iter().collect::<Vec<_>>());

    // Background work runs on one node: one statistics sample at start,
    // not one per node.
    let stats = admin_post(&proxy.url, "/api/v1/admin/meta/stats", &[("Simple", "0")]).await;
    assert_eq!(
        stats.json().as_object().unwrap().len(),
        1,
        "{:?}",
        stats.json()
    );

    // A webhook set through any node reaches every node.
    let mut receiver = WebhookReceiver::start(0).await;
    let hooks =
        json!({"audit": {"URL": receiver.url, "WhiteListedEventTypes": [SEVT_ACCOUNT_NEW]}});
    admin_post(
        &proxy.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await
    .assert_refused(200, "OK");
    for node in &nodes {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = admin_post(&node.url, "/api/v1/admin/meta/webhook-options/get", &[]).await;
            if got.json()["audit"]["URL"] == receiver.url.as_str() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never saw the webhook",
                node.url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // Subscribers on the two nodes that survive.
    let mut subscribers = Vec::new();
    for node in &nodes[1..] {
        let (mut socket, answer) =
            open_stream(&node.url, ["admin", "Password", "admin", "", ""]).await;
        assert_eq!(answer, "200 OK");
        assert_eq!(next_event(&mut socket).await["Type"], SEVT_META_HELLO);
        subscribers.push(socket);
    }

    // The stream of writes, round robin over the nodes; node 0 dies halfway.
    let mut acknowledged = Vec::new();
    for n in 0..30 {
        if n == 15 {
            nodes[0].kill();
        }
        let name = format!("user{n:02}");
        let added = admin_post(
            &proxy.url,
            "/api/v1/admin/add-user",
            &[("TargetUser", &name), ("TargetPassword", "password1")],
        )
        .await;
        if added.status == 200 && added.api_status() == 200 {
            acknowledged.push(name);
        }
    }
    assert!(
        acknowledged.len() >= 28,
        "most writes are acknowledged: {acknowledged:?}"
    );

    let listed = admin_post(&proxy.url, "/api/v1/admin/list-users", &[])
        .await
        .json();
    for name in &acknowledged {
        assert!(
            listed.as_array().unwrap().contains(&json!(name)),
            "{name} was lost: {listed}"
        );
    }
    for socket in &mut subscribers {
        let seen = accounts_announced(socket, acknowledged.len()).await;
        assert_eq!(
            seen, acknowledged,
            "every event once, in the order of the writes"
        );
    }

    // Every event reaches the webhook, the dead node's claims included
    // once they run out.
    let mut delivered: std::collections::BTreeMap<String, usize> = Default::default();
    while !acknowledged.iter().all(|name| delivered.contains_key(name)) {
        let delivery = receiver.next(60).await;
        if delivery.event["Type"] != SEVT_ACCOUNT_NEW {
            continue; // the greeting each node sends a hook
        }
        *delivered
            .entry(delivery.event["ResourceID"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert!(delivered.values().all(|times| *times <= 2), "{delivered:?}");

    // Ten failures on any mix of nodes lock the pair out on all of them.
    for _ in 0..10 {
        let answer = post_form(
            &proxy.url,
            "/api/v1/admin/list-users",
            &[
                ("Username", "admin"),
                ("AuthType", "Password"),
                ("Password", "wrong"),
            ],
        )
        .await;
        assert_eq!(answer.api_status(), 403);
    }
    for node in &nodes[1..] {
        let locked = post_form(
            &node.url,
            "/api/v1/admin/list-users",
            &[
                ("Username", "admin"),
                ("AuthType", "Password"),
                ("Password", "admin"),
            ],
        )
        .await;
        assert_eq!(locked.api_status(), 429, "{}", node.url);
    }
}

#[tokio::test]
async fn a_resource_uploaded_to_one_node_is_served_by_another_and_a_totp_code_works_once() {
    let database = TestDatabase::create().await;
    let (first, _first_dir) = start_node(&database, &json!({}));
    let (second, _second_dir) = start_node(&database, &json!({}));

    let logo = b"\x89PNG a logo".to_vec();
    let uploaded = upload_resource(&first.url, logo.clone()).await;
    let hash = uploaded["ResourceHash"].as_str().unwrap();
    let fetched = admin_post(
        &second.url,
        "/api/v1/admin/meta/resource/get",
        &[("Hash", hash)],
    )
    .await;
    assert_eq!(fetched.body, logo);

    let secret = enrol_admin_totp(&first).await;
    let code = totp_code(&secret, 0);
    let with_code = admin_with_code(&code);
    let path = "/api/v1/admin/account/properties";
    // The second node learns of the enrolment from the shared configuration.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let plain = post_form(
            &second.url,
            path,
            &[
                ("Username", "admin"),
                ("AuthType", "Password"),
                ("Password", "admin"),
            ],
        )
        .await;
        if plain.json()["Status"].as_i64().is_some_and(|s| s != 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second node never asked for the code"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let used = post_form(&first.url, path, &with_code).await;
    assert!(used.json()["Status"].is_null(), "{}", used.message());
    let replay = post_form(&second.url, path, &with_code).await;
    assert_eq!(
        replay.api_status(),
        403,
        "a code used on the first node worked on the second"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_on_one_node_answers_calls_through_another_and_keeps_its_job_when_its_node_dies() {
    if haproxy_missing() {
        return;
    }
    let database = TestDatabase::create().await;
    // A short grace, so that a job wrongly thought abandoned would show.
    let args = ["--job-abandon-seconds", "5"];
    let mut nodes = Vec::new();
    let mut dirs = Vec::new();
    for _ in 0..2 {
        let (node, dir) = start_node_with(&database, &json!({}), &args);
        nodes.push(node);
        dirs.push(dir);
    }
    let proxy = start_proxy(&nodes.iter().collect::<Vec<_>>());
    new_account(&nodes[0], "cy").await;
    let mut agent = Agent::login(&proxy.url, "cy");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let big = data.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("noise.bin"), noise(4 << 20)).unwrap();
    let mut p = profile(&nodes[0], "cy").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    p["Sources"] = json!({"big": file_item(&device, &big)});
    p["BackupRules"] =
        json!({"slow": {"Source": "big", "Destination": "vault", "LimitVaultSpeedBps": 400_000}});
    set_profile(&nodes[0], "cy", &p).await;
    agent.start();

    let holder = holder_of(&database, &nodes, &device).await;
    let other = 1 - holder;
    // The other node lists the device and relays a call to it.
    let live = admin_post(
        &nodes[other].url,
        "/api/v1/admin/dispatcher/list-active",
        &[],
    )
    .await;
    let target = live
        .json()
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, c)| c["DeviceID"] == device.as_str())
        .map(|(id, _)| id.clone())
        .expect("the other node lists the device");
    let started = admin_post(
        &nodes[other].url,
        "/api/v1/admin/dispatcher/run-backup",
        &[("TargetID", &target), ("BackupRule", "slow")],
    )
    .await;
    started.assert_refused(200, "OK");
    let job_id = started.json()["JobID"].as_str().unwrap().to_string();
    job_where(&nodes[other], "cy", 30, |j| {
        j["GUID"] == job_id.as_str() && j["Status"] == 6001
    })
    .await;

    // Its node dies mid-job: the device comes back through the proxy to
    // the other node, and the job runs to its end, never abandoned.
    nodes[holder].kill();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let all = jobs(&nodes[other], "cy").await;
        let job = all.iter().find(|j| j["GUID"] == job_id.as_str()).unwrap();
        assert_ne!(job["Status"], 7007, "the job was marked abandoned: {job}");
        if job["Status"] == 5000 {
            break;
        }
        assert!(Instant::now() < deadline, "the job never ended: {job}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // It is connected anew, to the node that lives.
    let live = admin_post(
        &nodes[other].url,
        "/api/v1/admin/dispatcher/list-active",
        &[],
    )
    .await;
    let json = live.json();
    let reconnected = json
        .as_object()
        .unwrap()
        .iter()
        .any(|(id, c)| c["DeviceID"] == device.as_str() && *id != target);
    assert!(reconnected, "{json}");
}

#[tokio::test]
async fn a_self_backup_on_one_node_holds_every_node_s_resources_and_every_node_reports_it() {
    const KEY: &str = "cluster self-backup key";
    let database = TestDatabase::create().await;
    let vault = tempfile::tempdir().unwrap();
    let config = json!({"SelfBackup": {"Targets": [{
        "Location": {"DestinationType": 1002, "LocalcopyPath": vault.path()},
        "EncryptionKey": KEY}]}});
    let (first, _first_dir) = start_node(&database, &config);
    let (second, _second_dir) = start_node(&database, &config);

    let logo = b"\x89PNG uploaded to the second node".to_vec();
    let uploaded = upload_resource(&second.url, logo.clone()).await;
    let hash = uploaded["ResourceHash"].as_str().unwrap();
    let started = admin_post(&first.url, "/api/v1/admin/self-backup/start", &[]).await;
    assert_eq!(started.api_status(), 200, "{}", started.message());

    // The second node reports the run the first one made.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let version = admin_post(&second.url, "/api/v1/admin/meta/version", &[])
            .await
            .json();
        let status = version["SelfBackup"][0].clone();
        if status["LastRunEnd"].as_i64().unwrap_or(0) > 0 {
            break status;
        }
        assert!(Instant::now() < deadline, "no run reported: {version}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["LastRunSuccess"], true, "{status}");
    assert_eq!(status["CurrentRunStart"], 0);

    let restored = tempfile::tempdir().unwrap();
    let data = restore_self_backup(vault.path(), KEY, restored.path());
    assert_eq!(
        std::fs::read(data.join("resources").join(hash)).unwrap(),
        logo,
        "the snapshot lacks the resource uploaded to the other node"
    );
}

#[tokio::test]
async fn a_device_waiting_in_one_node_s_lobby_is_registered_through_another() {
    let database = TestDatabase::create().await;
    let (first, _first_dir) = start_node(&database, &json!({}));
    let (second, _second_dir) = start_node(&database, &json!({}));
    new_account(&first, "dee").await;
    let mut agent = Agent::new();
    agent.start_in_lobby(&first.url, "lobby-laptop");

    // The second node lists the device the first one holds.
    let deadline = Instant::now() + Duration::from_secs(30);
    let device = loop {
        let waiting = admin_post(&second.url, "/api/v1/admin/installation/list-active", &[])
            .await
            .json();
        if let Some(entry) = waiting.as_object().unwrap().values().next() {
            assert_eq!(entry["FriendlyName"], "lobby-laptop", "{waiting}");
            break entry["DeviceID"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "the lobby stayed empty");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    admin_post(
        &second.url,
        "/api/v1/admin/installation/dispatch/register-device",
        &[
            ("DeviceID", &device),
            ("TargetUser", "dee"),
            ("TargetPassword", "password1"),
        ],
    )
    .await
    .assert_refused(200, "OK");

    // The credentials reach the agent through the first node: it leaves the
    // lobby and comes back as the account's device.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = admin_post(&second.url, "/api/v1/admin/dispatcher/list-active", &[])
            .await
            .json();
        let lobby = admin_post(&second.url, "/api/v1/admin/installation/list-active", &[])
            .await
            .json();
        let online = live
            .as_object()
            .unwrap()
            .values()
            .any(|c| c["DeviceID"] == device.as_str() && c["Username"] == "dee");
        if online && lobby.as_object().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "{live} {lobby}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        profile(&first, "dee").await["Devices"][&device]["FriendlyName"],
        "lobby-laptop"
    );
}
