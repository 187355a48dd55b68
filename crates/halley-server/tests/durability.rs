//! A `kill -9` at any moment loses no acknowledged write.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use halley_api::types::UserProfileConfig;

#[tokio::test]
async fn sigkill_during_writes_loses_no_acknowledged_write() {
    let mut server = Server::start();
    let admin = server.admin();
    admin
        .admin_add_user("target", "password1", None, None)
        .await
        .unwrap();

    let created = Arc::new(Mutex::new(Vec::<String>::new()));
    let last_edit = Arc::new(Mutex::new(0u64));
    let mut writers = Vec::new();
    for writer in 0..3 {
        let admin = admin.clone();
        let created = created.clone();
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let name = format!("w{writer}-{n}");
                match admin
                    .admin_add_user_from_profile(&name, &UserProfileConfig::default())
                    .await
                {
                    Ok(_) => created.lock().unwrap().push(name),
                    Err(_) => break,
                }
            }
        }));
    }
    {
        let admin = admin.clone();
        let last_edit = last_edit.clone();
        writers.push(tokio::spawn(async move {
            let mut profile = admin.admin_get_user_profile("target").await.unwrap();
            for n in 1u64.. {
                profile.account_name = format!("edit {n}");
                match admin.admin_set_user_profile("target", &profile).await {
                    Ok(_) => *last_edit.lock().unwrap() = n,
                    Err(_) => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let temp = server.keep_data_dir();
    server.kill();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = created.lock().unwrap().clone();
    let last_edit = *last_edit.lock().unwrap();
    assert!(
        acknowledged.len() > 10,
        "writes were flowing: {}",
        acknowledged.len()
    );
    assert!(last_edit > 5, "edits were flowing: {last_edit}");

    let restarted = Server::spawn_in(&server.data_dir.clone(), &Launch::default());
    let users = restarted.admin().admin_list_users().await.unwrap();
    for name in &acknowledged {
        assert!(users.contains(name), "acknowledged user {name} was lost");
    }
    let profile = restarted
        .admin()
        .admin_get_user_profile("target")
        .await
        .unwrap();
    let stored: u64 = profile
        .account_name
        .trim_start_matches("edit ")
        .parse()
        .unwrap();
    assert!(
        stored >= last_edit,
        "edit {last_edit} was acknowledged but {stored} is stored"
    );
    drop(temp);
}

const SEVT_ACCOUNT_NEW: i64 = 4100;

/// Five rounds of writers cut off by `kill -9`: every account acknowledged
/// to a writer reaches the webhook as `SEVT_ACCOUNT_NEW`, and an event
/// delivered twice carries the same event ID both times.
#[tokio::test]
async fn sigkill_loses_no_acknowledged_webhook_event() {
    let mut receiver = WebhookReceiver::start(0).await;
    let mut server = Server::start();
    let temp = server.keep_data_dir();
    let data_dir = server.data_dir.clone();
    let hooks = serde_json::json!({"audit": {"URL": receiver.url, "WhiteListedEventTypes": [SEVT_ACCOUNT_NEW]}});
    admin_post(
        &server.url,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await
    .assert_refused(200, "OK");

    let mut acknowledged = Vec::new();
    for round in 0..5 {
        let created = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut writers = Vec::new();
        for writer in 0..4 {
            let admin = server.admin();
            let created = created.clone();
            writers.push(tokio::spawn(async move {
                for n in 0.. {
                    let name = format!("r{round}-w{writer}-{n}");
                    match admin
                        .admin_add_user_from_profile(&name, &UserProfileConfig::default())
                        .await
                    {
                        Ok(_) => created.lock().unwrap().push(name),
                        Err(_) => break,
                    }
                }
            }));
        }
        // Let writes flow, then cut the server off in the middle of them.
        while created.lock().unwrap().len() < 20 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill();
        for writer in writers {
            writer.await.unwrap();
        }
        acknowledged.extend(created.lock().unwrap().drain(..));
        server = Server::spawn_in(&data_dir, &Launch::default());
    }

    let mut ids_by_account = std::collections::HashMap::<String, String>::new();
    let mut missing: std::collections::HashSet<String> = acknowledged.iter().cloned().collect();
    while !missing.is_empty() {
        let delivery = receiver.next(60).await;
        if delivery.event["Type"] != SEVT_ACCOUNT_NEW {
            continue;
        }
        let account = delivery.event["ResourceID"].as_str().unwrap().to_string();
        let id = delivery.headers["X-Halley-Event-Id"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(!id.is_empty());
        let first = ids_by_account.entry(account.clone()).or_insert(id.clone());
        assert_eq!(*first, id, "{account} came twice with different event IDs");
        missing.remove(&account);
    }
    drop(server);
    drop(temp);
}
