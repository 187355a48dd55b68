//! The device protocol through the wire, with a simulated device speaking
//! `docs/device-protocol.md`: registration, the live connection, profile
//! push, job reports, job logs, cancel, revocation and the device limit.

mod common;

use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// A device's side of the protocol, as plain JSON frames.
struct SimDevice {
    socket: Socket,
    next_id: u64,
}

impl SimDevice {
    async fn connect(url: &str, registration: &Value) -> SimDevice {
        let ws_url = format!("{}/api/v1/device/live", url.replacen("http", "ws", 1));
        let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
        let mut device = SimDevice { socket, next_id: 1 };
        device
            .send(json!({"type": "hello",
                "device_id": registration["DeviceID"], "device_key": registration["DeviceKey"],
                "info": {"friendly_name": "sim", "client_version": "25.9.6",
                         "platform": "linux/amd64", "timezone": "Etc/UTC",
                         "platform_version": {"os": "linux", "arch": "amd64"}}}))
            .await;
        device
    }

    async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    /// The next frame of `kind`, skipping others.
    async fn until(&mut self, kind: &str) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no {kind} frame in time"))
                .expect("connection open")
                .expect("frame");
            if let Message::Text(text) = frame {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == kind {
                    return value;
                }
            }
        }
    }

    async fn call(&mut self, name: &str, args: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"type": "request", "id": id, "call": {"name": name, "args": args}}))
            .await;
        let reply = self.until("reply").await;
        assert_eq!(reply["id"], id);
        reply
    }
}

async fn register(url: &str, fields: &[(&str, &str)]) -> Value {
    post_form(url, "/api/v1/device/register", fields)
        .await
        .json()
}

#[tokio::test]
async fn a_device_registers_connects_reports_jobs_and_is_revoked() {
    let server = Server::start();
    new_account(&server, "dora").await;

    let refused = register(
        &server.url,
        &[
            ("Username", "dora"),
            ("AuthType", "Password"),
            ("Password", "wrong-password"),
        ],
    )
    .await;
    assert_eq!(refused["Status"], 403, "{refused}");

    let registration = register(
        &server.url,
        &[
            ("Username", "dora"),
            ("AuthType", "Password"),
            ("Password", "password1"),
            ("FriendlyName", "web-01"),
            ("ClientVersion", "25.9.6"),
            ("DeviceTimezone", "Europe/Paris"),
            (
                "PlatformVersion",
                r#"{"os":"linux","arch":"amd64","distribution":"debian"}"#,
            ),
        ],
    )
    .await;
    assert_eq!(registration["Status"], 200, "{registration}");
    let device_id = registration["DeviceID"].as_str().unwrap().to_string();
    assert_eq!(registration["DeviceKey"].as_str().unwrap().len(), 64);
    assert!(!registration["AccountKey"].as_str().unwrap().is_empty());
    let stored = profile(&server, "dora").await;
    let device = &stored["Devices"][&device_id];
    assert_eq!(device["FriendlyName"], "web-01");
    assert_eq!(device["DeviceTimezone"], "Europe/Paris");
    assert_eq!(device["PlatformVersion"]["distribution"], "debian");
    assert!(device["RegistrationTime"].as_i64().unwrap() > 0);
    // The key is the device's own: it is stored nowhere in the profile.
    assert!(!stored
        .to_string()
        .contains(registration["DeviceKey"].as_str().unwrap()));

    let mut sim = SimDevice::connect(&server.url, &registration).await;
    let welcome = sim.until("welcome").await;
    assert_eq!(welcome["username"], "dora");
    let pushed = sim.until("profile").await;
    assert!(pushed["profile"]["Devices"].get(&device_id).is_some());
    assert_eq!(pushed["profile"]["PasswordHash"].as_str().unwrap_or(""), "");

    let live = admin_post(&server.url, "/api/v1/admin/dispatcher/list-active", &[])
        .await
        .json();
    let connection = live.as_object().unwrap().values().next().unwrap();
    assert_eq!(connection["Username"], "dora");
    assert_eq!(connection["DeviceID"], device_id.as_str());
    assert_eq!(connection["ReportedVersion"], "25.9.6");
    assert_eq!(connection["ReportedPlatform"], "linux/amd64");
    assert_eq!(connection["IPAddress"], "127.0.0.1");

    // An administrator's edit reaches the device within seconds.
    let mut edited = profile(&server, "dora").await;
    edited["Destinations"] = json!({"vault": {"Description": "Vault", "DestinationType": 1002, "LocalcopyPath": "/tmp/v"}});
    edited["Sources"] = json!({"docs": {"Description": "Docs", "Engine": "engine1/file", "OwnerDevice": device_id}});
    set_profile(&server, "dora", &edited).await;
    let pushed = sim.until("profile").await;
    assert_eq!(pushed["profile"]["Sources"]["docs"]["Description"], "Docs");

    // The first vault key offered is kept; a later one gets the first back.
    let kept = sim
        .call(
            "vault_key",
            json!({"destination_id": "vault", "encrypted_encryption_key": "first",
            "encryption_key_encryption_method": 100, "repo_init_timestamp": 7}),
        )
        .await;
    assert_eq!(kept["body"]["encrypted_encryption_key"], "first", "{kept}");
    let second = sim
        .call(
            "vault_key",
            json!({"destination_id": "vault", "encrypted_encryption_key": "second",
            "encryption_key_encryption_method": 100, "repo_init_timestamp": 8}),
        )
        .await;
    assert_eq!(second["body"]["encrypted_encryption_key"], "first");

    // A job: started, progressing, logged, finished with its totals.
    let started = sim
        .call(
            "job_start",
            json!({"detail": {"Classification": 4001, "SourceGUID": "docs",
            "DestinationGUID": "vault", "BackupRuleGUID": "rule"}}),
        )
        .await;
    let job_id = started["body"]["job_id"].as_str().unwrap().to_string();
    let running = admin_post(
        &server.url,
        "/api/v1/admin/get-job-properties",
        &[("JobID", &job_id)],
    )
    .await
    .json();
    assert_eq!(running["Status"], 6001);
    assert_eq!(running["DeviceID"], device_id.as_str());
    assert!(!running["CancellationID"].as_str().unwrap().is_empty());
    sim.send(json!({"type": "progress", "job_id": job_id,
        "progress": {"Counter": 1, "SentTime": 5, "BytesDone": 100, "ItemsDone": 1, "ItemsTotal": 2}}))
        .await;
    sim.send(json!({"type": "log", "job_id": job_id, "entries": [
        {"Time": 1796083200, "Severity": "I", "Message": "Starting backup"},
        {"Time": 1796083201, "Severity": "W", "Message": "unreadable: /etc/shadow"}]}))
        .await;

    // Cancel reaches the device, which confirms it.
    let cancel = {
        let url = server.url.clone();
        let job_id = job_id.clone();
        tokio::spawn(async move {
            admin_post(
                &url,
                "/api/v1/admin/job/cancel",
                &[("TargetUser", "dora"), ("JobID", &job_id)],
            )
            .await
        })
    };
    let asked = sim.until("request").await;
    assert_eq!(asked["call"]["name"], "job_cancel");
    assert_eq!(asked["call"]["args"]["job_id"], job_id.as_str());
    sim.send(json!({"type": "reply", "id": asked["id"], "ok": true}))
        .await;
    cancel.await.unwrap().assert_refused(200, "OK");

    let finished = sim
        .call("job_finish", json!({"job_id": job_id, "detail": {"Status": 7005,
            "TotalFiles": 3, "TotalDirectories": 1, "TotalSize": 300, "UploadSize": 120,
            "SnapshotID": "snap"}, "destination_size": {"Size": 4096, "MeasureStarted": 1, "MeasureCompleted": 2}}))
        .await;
    assert_eq!(finished["ok"], true, "{finished}");
    let done = admin_post(
        &server.url,
        "/api/v1/admin/get-job-properties",
        &[("JobID", &job_id)],
    )
    .await
    .json();
    assert_eq!(done["Status"], 7005);
    assert_eq!(done["TotalFiles"], 3);
    assert_eq!(done["Progress"]["BytesDone"], 100);
    assert!(done["Progress"]["RecievedTime"].as_i64().unwrap() > 0);
    assert!(done["EndTime"].as_i64().unwrap() >= done["StartTime"].as_i64().unwrap());
    let stats = profile(&server, "dora").await;
    assert_eq!(
        stats["Sources"]["docs"]["Statistics"]["LastBackupJob"]["GUID"],
        job_id.as_str()
    );
    assert_eq!(
        stats["Destinations"]["vault"]["Statistics"]["ClientProvidedSize"]["Size"],
        4096
    );
    let warnings = admin_post(
        &server.url,
        "/api/v1/admin/get-job-log-entries",
        &[("JobID", &job_id), ("MinSeverity", "W")],
    )
    .await
    .json();
    assert_eq!(warnings.as_array().unwrap().len(), 1);
    assert_eq!(warnings[0]["Message"], "unreadable: /etc/shadow");
    let text = post_form(
        &server.url,
        "/api/v1/admin/get-job-log",
        &[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "admin"),
            ("JobID", &job_id),
        ],
    )
    .await;
    let text = String::from_utf8_lossy(&text.body);
    assert!(text.contains("I Starting backup"), "{text}");

    // Beyond MaximumDevices a registration is refused, saying why.
    let mut limited = profile(&server, "dora").await;
    limited["MaximumDevices"] = json!(1);
    set_profile(&server, "dora", &limited).await;
    let _ = sim.until("profile").await;
    let second_device = register(
        &server.url,
        &[
            ("Username", "dora"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await;
    assert_eq!(second_device["Status"], 400);
    assert!(
        second_device["Message"]
            .as_str()
            .unwrap()
            .contains("MaximumDevices"),
        "{second_device}"
    );

    // Revoked: the connection ends at once and the key stops working.
    admin_post(
        &server.url,
        "/api/v1/admin/revoke-device",
        &[("TargetUser", "dora"), ("TargetDevice", &device_id)],
    )
    .await
    .assert_refused(200, "OK");
    let bye = sim.until("bye").await;
    assert_eq!(bye["reconnect"], false);
    let mut again = SimDevice::connect(&server.url, &registration).await;
    let refused = again.until("bye").await;
    assert_eq!(refused["reconnect"], false);
    let live = admin_post(&server.url, "/api/v1/admin/dispatcher/list-active", &[])
        .await
        .json();
    assert_eq!(live, json!({}));
}

#[tokio::test]
async fn install_tokens_register_once_and_lobby_devices_are_registered_by_an_admin() {
    let server = Server::start();
    new_account(&server, "eve").await;
    let token = admin_post(
        &server.url,
        "/api/v1/admin/create-install-token",
        &[("TargetUser", "eve"), ("TargetPassword", "password1")],
    )
    .await
    .json()["InstallToken"]["Token"]
        .as_str()
        .unwrap()
        .to_string();
    let by_password = register(
        &server.url,
        &[
            ("Username", "eve"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await;
    let by_token = register(&server.url, &[("InstallToken", &token)]).await;
    assert_eq!(by_token["Status"], 200, "{by_token}");
    assert_eq!(by_token["Username"], "eve");
    // Both devices of the account get the same account key.
    assert_eq!(by_token["AccountKey"], by_password["AccountKey"]);
    let reused = register(&server.url, &[("InstallToken", &token)]).await;
    assert_eq!(reused["Status"], 400);
    assert!(reused["Message"].as_str().unwrap().contains("InstallToken"));

    // A device without credentials waits in the lobby.
    let ws_url = format!(
        "{}/api/v1/device/live",
        server.url.replacen("http", "ws", 1)
    );
    let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let mut lobby = SimDevice { socket, next_id: 1 };
    lobby
        .send(json!({"type": "lobby", "device_id": "new-laptop",
            "info": {"friendly_name": "New laptop", "client_version": "25.9.6", "platform": "linux/amd64"}}))
        .await;
    lobby.until("welcome").await;
    let waiting = admin_post(&server.url, "/api/v1/admin/installation/list-active", &[])
        .await
        .json();
    let entry = waiting.as_object().unwrap().values().next().unwrap();
    assert_eq!(entry["DeviceID"], "new-laptop");
    assert_eq!(entry["FriendlyName"], "New laptop");
    admin_post(
        &server.url,
        "/api/v1/admin/installation/dispatch/register-device",
        &[
            ("DeviceID", "new-laptop"),
            ("TargetUser", "eve"),
            ("TargetPassword", "password1"),
        ],
    )
    .await
    .assert_refused(200, "OK");
    let registered = lobby.until("registered").await;
    let credentials = &registered["registration"];
    assert_eq!(credentials["DeviceID"], "new-laptop");
    let mut device = SimDevice::connect(&server.url, credentials).await;
    assert_eq!(device.until("welcome").await["username"], "eve");
    assert_eq!(
        profile(&server, "eve").await["Devices"]["new-laptop"]["FriendlyName"],
        "New laptop"
    );
}

#[tokio::test]
async fn a_job_whose_device_goes_away_is_abandoned_and_revived_when_it_returns() {
    let server = Server::launch(Launch {
        args: vec!["--job-abandon-seconds".into(), "1".into()],
        ..Default::default()
    });
    new_account(&server, "fay").await;
    let registration = register(
        &server.url,
        &[
            ("Username", "fay"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await;
    let mut sim = SimDevice::connect(&server.url, &registration).await;
    sim.until("profile").await;
    let started = sim
        .call("job_start", json!({"detail": {"Classification": 4001}}))
        .await;
    let job_id = started["body"]["job_id"].as_str().unwrap().to_string();
    drop(sim);
    let status = || async {
        admin_post(
            &server.url,
            "/api/v1/admin/get-job-properties",
            &[("JobID", &job_id)],
        )
        .await
        .json()["Status"]
            .as_u64()
            .unwrap()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while status().await != 7007 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not abandoned in time"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ws_url = format!(
        "{}/api/v1/device/live",
        server.url.replacen("http", "ws", 1)
    );
    let (socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let mut back = SimDevice { socket, next_id: 1 };
    back.send(
        json!({"type": "hello", "device_id": registration["DeviceID"],
        "device_key": registration["DeviceKey"], "info": {}, "running_jobs": [job_id]}),
    )
    .await;
    back.until("profile").await;
    assert_eq!(status().await, 6002);
}
