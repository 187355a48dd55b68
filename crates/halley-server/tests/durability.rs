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
