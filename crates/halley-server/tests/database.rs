//! The database behind a server: moving an installation into another one
//! with `--copy-database-to`, and what an unreachable one says.

mod common;

use std::process::Command;

use common::postgres::TestDatabase;
use common::*;
use serde_json::json;

fn halleyd() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_halleyd"));
    command
        .env_remove("HALLEY_DATABASE")
        .env_remove("HALLEY_DATA_DIR")
        .env("HALLEY_LOG", "warn");
    command
}

#[tokio::test]
async fn an_installation_moves_into_an_empty_postgres_database_whole() {
    let mut server = Server::start();
    new_account(&server, "amy").await;
    new_account(&server, "bob").await;
    let policy = admin_post(
        &server.url,
        "/api/v1/admin/policies/set",
        &[
            ("PolicyID", "nightly"),
            ("Policy", &json!({"Description": "Nightly"}).to_string()),
        ],
    )
    .await;
    assert_eq!(policy.api_status(), 200, "{}", policy.message());
    let amy = profile(&server, "amy").await;
    let _kept = server.keep_data_dir();
    let dir = server.data_dir.clone();
    server.kill();

    let target = TestDatabase::create().await;
    let copy = |database: &str| {
        halleyd()
            .arg("--data-dir")
            .arg(&dir)
            .args(database_args(&dir))
            .args(["--copy-database-to", database])
            .output()
            .unwrap()
    };
    let first = copy(&target.url);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).starts_with("copied "));
    let again = copy(&target.url);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds accounts"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    use_database(&dir, &target.url);
    let moved = Server::spawn_in(&dir, &Launch::default());
    let users = moved.admin().admin_list_users().await.unwrap();
    assert_eq!(users, ["amy", "bob"]);
    assert_eq!(profile(&moved, "amy").await, amy);
    let policies = admin_post(&moved.url, "/api/v1/admin/policies/list", &[]).await;
    assert_eq!(
        policies.json()["nightly"],
        "Nightly",
        "{:?}",
        policies.json()
    );
}

#[tokio::test]
async fn an_unreachable_database_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = halleyd()
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--listen", "127.0.0.1:0"])
        .args(["--database", "postgres://halley:s3cret@127.0.0.1:1/halley"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("opening the database postgres://halley:***@127.0.0.1:1/halley"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
