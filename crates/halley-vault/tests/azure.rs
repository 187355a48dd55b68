//! The Azure Blob Storage backend against a real Azure Storage server
//! (Azurite, from npm) on a loopback port. `tests/setup.sh` installs it
//! under /opt/azurite. Without it the test is skipped loudly, except under
//! CI (`CI` set), where it fails.

mod common;

use std::process::{Command, Stdio};

use common::*;
use halley_vault::backend::{open_azure, AzureLocation};

/// Azurite's well-known development account and key.
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An account SAS for the blob service, signed with the account key.
fn account_sas(key: &str) -> String {
    use base64::Engine as _;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let (version, permissions, expiry) = ("2021-08-06", "rwdlac", "2099-01-01T00:00:00Z");
    let string_to_sign = format!("{ACCOUNT}\n{permissions}\nb\nsco\n\n{expiry}\n\n\n{version}\n\n");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &b64.decode(key).unwrap());
    let sig = b64.encode(ring::hmac::sign(&key, string_to_sign.as_bytes()).as_ref());
    let sig = sig
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("sv={version}&ss=b&srt=sco&sp={permissions}&se={expiry}&sig={sig}")
}

fn find_azurite() -> Option<String> {
    ["azurite-blob", "/opt/azurite/bin/azurite-blob"]
        .into_iter()
        .find(|bin| {
            Command::new(bin)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .map(str::to_string)
}

fn start_azurite() -> Option<ServerProcess> {
    let Some(bin) = find_azurite() else {
        missing_server("azurite-blob (Azurite)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(bin)
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .args(["--silent", "--skipApiVersionCheck", "--disableTelemetry"])
        .arg("--location")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, "azurite-blob", &mut child);
    Some(ServerProcess {
        child,
        port,
        _dir: dir,
    })
}

#[test]
fn azure_backend_round_trip_verify_prune_and_cli() {
    let Some(server) = start_azurite() else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{}/{ACCOUNT}", server.port);
    // The container does not exist yet: init creates it.
    let loc = AzureLocation {
        account: ACCOUNT.into(),
        container: "vault".into(),
        prefix: "customers/one".into(),
        access_key: Some(KEY.into()),
        endpoint: endpoint.clone(),
        ..Default::default()
    };
    remote_round_trip(&|| open_azure(&loc).unwrap(), 11);

    let env = [
        ("AZURE_STORAGE_ACCOUNT_KEY", KEY),
        ("AZURE_STORAGE_ENDPOINT", endpoint.as_str()),
    ];
    let repo = format!("azure://{ACCOUNT}/vault/customers/one");
    let cli = vault_cli(&["--repo", &repo, "snapshots", "--json"], &env);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    // init through the binary creates another container.
    let other = format!("azure://{ACCOUNT}/second-vault");
    let cli = vault_cli(&["--repo", &other, "init", "--kdf-memory-kib", "64"], &env);
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let cli = vault_cli(&["--repo", &other, "snapshots", "--json"], &env);
    assert!(cli.status.success());

    // A SAS token instead of the key, for init (which creates the
    // container) and for use.
    let sas = account_sas(KEY);
    let sas_env = [
        ("AZURE_STORAGE_SAS_TOKEN", sas.as_str()),
        ("AZURE_STORAGE_ENDPOINT", endpoint.as_str()),
    ];
    let by_sas = format!("azure://{ACCOUNT}/sas-vault/p");
    for args in [
        &["--repo", &by_sas, "init", "--kdf-memory-kib", "64"][..],
        &["--repo", &by_sas, "snapshots", "--json"][..],
    ] {
        let cli = vault_cli(args, &sas_env);
        assert!(
            cli.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&cli.stderr)
        );
    }

    // Bad inputs, each named in the error.
    let missing = format!("azure://{ACCOUNT}/no-such-container/x");
    vault_cli_fails(
        &["--repo", &missing, "snapshots"],
        &env,
        "container \"no-such-container\"",
    );
    vault_cli_fails(
        &["--repo", &repo, "snapshots"],
        &[("AZURE_STORAGE_ENDPOINT", endpoint.as_str())],
        "AZURE_STORAGE_ACCOUNT_KEY",
    );
    vault_cli_fails(
        &["--repo", "azure://devstoreaccount1", "snapshots"],
        &env,
        "azure://ACCOUNT/CONTAINER",
    );
    vault_cli_fails(
        &["--repo", "azure://devstoreaccount1/Bad_Name", "snapshots"],
        &env,
        "bad container name",
    );
    let wrong_key = "AAAA".repeat(22);
    let out = vault_cli(
        &["--repo", &repo, "snapshots"],
        &[
            ("AZURE_STORAGE_ACCOUNT_KEY", wrong_key.as_str()),
            ("AZURE_STORAGE_ENDPOINT", endpoint.as_str()),
        ],
    );
    assert!(!out.status.success(), "a wrong key was accepted");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("check the credentials"), "{err}");
}
