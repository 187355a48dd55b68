//! the API guide's quick-start clients, run as written against a real halleyd: the
//! curl line, the Python 3 class, the PHP cURL script, and the three
//! PowerShell workflows re-expressed as the same form posts.

mod common;

use std::process::Command;

use common::*;
use serde_json::{json, Value};

/// A tool the quick start needs; CI installs it, a developer may not have it.
fn tool(name: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{name} is required in CI");
        eprintln!("SKIPPED: {name} is not installed");
    }
    found
}

async fn server_with_users(names: &[&str]) -> Server {
    let server = Server::start();
    for name in names {
        server
            .admin()
            .admin_add_user(name, "password1", None, None)
            .await
            .unwrap();
    }
    server
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn curl_line() {
    if !tool("curl") {
        return;
    }
    let server = server_with_users(&["alice", "bob"]).await;
    let out = run(Command::new("curl").args([
        "-s",
        "-X",
        "POST",
        "-d",
        "Username=admin&AuthType=Password&Password=admin",
        &format!("{}/api/v1/admin/list-users", server.url),
    ]));
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!(["alice", "bob"])
    );
}

const PYTHON_CLIENT: &str = r#"
import json
import urllib.parse
import urllib.request

class CometServer(object):
    def __init__(self, url, adminuser, adminpass):
        self.url = url
        self.adminuser = adminuser
        self.adminpass = adminpass

    def AdminListUsers(self):
        """List all usernames on the Comet Server"""
        return self._request("api/v1/admin/list-users", {})

    def _request(self, endpoint, extraparams):
        """Make API request to Comet Server and parse response JSON"""
        apiRequest = urllib.request.Request(
            url = self.url + endpoint,
            data = urllib.parse.urlencode({
                "Username": self.adminuser,
                "AuthType": "Password",
                "Password": self.adminpass,
                **extraparams
            }).encode('utf-8')
        )

        ret = None
        with urllib.request.urlopen(apiRequest) as apiResponse:
            ret = json.loads( apiResponse.read() )

        return ret

def main():
    cs = CometServer("SERVER_URL/", "admin", "admin")
    print( cs.AdminListUsers() )

if __name__ == "__main__":
    main()
"#;

#[tokio::test]
async fn python3_class() {
    if !tool("python3") {
        return;
    }
    let server = server_with_users(&["alice", "bob"]).await;
    let script = PYTHON_CLIENT.replace("SERVER_URL", &server.url);
    let out = run(Command::new("python3").arg("-c").arg(script));
    assert_eq!(out.trim(), "['alice', 'bob']");
}

const PHP_CURL_CLIENT: &str = r#"<?php
$ch = curl_init();
curl_setopt($ch, CURLOPT_URL,  'SERVER_URL/api/v1/admin/list-users');
curl_setopt($ch, CURLOPT_POST, 1);
curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query([
    'Username' => 'admin',
    'AuthType' => 'Password',
    'Password' => 'admin',
]));
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);

$response = curl_exec($ch);

curl_close($ch);

var_export($response);
"#;

#[tokio::test]
async fn php_curl_script() {
    if !tool("php") {
        return;
    }
    let server = server_with_users(&["alice"]).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.php");
    std::fs::write(&path, PHP_CURL_CLIENT.replace("SERVER_URL", &server.url)).unwrap();
    let out = run(Command::new("php").arg(&path));
    assert_eq!(out.trim(), "'[\"alice\"]'");
}

/// What WHMCS does: PHP decodes the profile to arrays, edits it and encodes it
/// back for `set-user-profile-hash`.
#[tokio::test]
async fn profile_round_tripped_through_real_php() {
    if !tool("php") {
        return;
    }
    let server = server_with_users(&["alice"]).await;
    let got = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile-and-hash",
        &[("TargetUser", "alice")],
    )
    .await
    .json();
    let reencode = r#"$p = json_decode(stream_get_contents(STDIN), true);
$p['IsSuspended'] = true; $p['MaximumDevices'] = 3; $p['AllProtectedItemsQuotaBytes'] = 5 * pow(1024, 3);
echo json_encode($p);"#;
    let mut child = Command::new("php")
        .args(["-r", reencode])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        got["Profile"].to_string().as_bytes(),
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    let php_json = String::from_utf8(output.stdout).unwrap();
    assert!(
        php_json.contains("\"Sources\":[]"),
        "PHP turns empty objects into []: {php_json}"
    );
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/set-user-profile-hash",
        &[
            ("TargetUser", "alice"),
            ("ProfileData", &php_json),
            ("RequireHash", got["ProfileHash"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(answer.json()["Status"], 200, "{}", answer.message());
    let profile = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "alice")],
    )
    .await
    .json();
    assert_eq!(profile["IsSuspended"], true);
    assert_eq!(profile["MaximumDevices"], 3);
    assert_eq!(profile["AllProtectedItemsQuotaBytes"], 5_368_709_120i64);
    assert_eq!(profile["Sources"], json!({}));
}

/// Creates a policy under a chosen ID, as billing modules do.
async fn create_policy(server: &Server, id: &str) {
    let policy = json!({"Description": "Standard", "Policy": {"PreventDeleteStorageVault": true}});
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/policies/set",
        &[("PolicyID", id), ("Policy", &policy.to_string())],
    )
    .await;
    assert_eq!(answer.api_status(), 200, "{}", answer.message());
}

/// "Modifying an account": get-user-profile, change PolicyID, set-user-profile.
#[tokio::test]
async fn powershell_modify_an_account() {
    let server = server_with_users(&["testuser"]).await;
    create_policy(&server, "8876b0d8-8f26-4fab-9ac9-9274ae030cfc").await;
    let mut profile = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "testuser")],
    )
    .await
    .json();
    profile["PolicyID"] = json!("8876b0d8-8f26-4fab-9ac9-9274ae030cfc");
    let updated_json = serde_json::to_string_pretty(&profile).unwrap();
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/set-user-profile",
        &[("TargetUser", "testuser"), ("ProfileData", &updated_json)],
    )
    .await;
    assert_eq!(answer.json(), json!({"Status": 200, "Message": "OK"}));
    let back = admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", "testuser")],
    )
    .await
    .json();
    assert_eq!(back["PolicyID"], "8876b0d8-8f26-4fab-9ac9-9274ae030cfc");
    assert_eq!(
        back["Policy"]["PreventDeleteStorageVault"], true,
        "the policy is applied"
    );
}

/// "Find all Comet-type Storage Vault URLs": list-users-full, then every
/// Destinations entry with DestinationType 1003.
#[tokio::test]
async fn powershell_list_comet_storage_vaults() {
    let server = server_with_users(&["alice", "bob"]).await;
    for (user, vaults) in [
        (
            "alice",
            json!({"v1": {"Description": "Offsite", "DestinationType": 1003, "CometServer": "https://vault.example.com/"},
                          "v2": {"Description": "USB", "DestinationType": 1001}}),
        ),
        (
            "bob",
            json!({"v3": {"Description": "Cloud", "DestinationType": 1003, "CometServer": "https://other.example.com/"}}),
        ),
    ] {
        let mut profile = admin_post(
            &server.url,
            "/api/v1/admin/get-user-profile",
            &[("TargetUser", user)],
        )
        .await
        .json();
        profile["Destinations"] = vaults;
        let answer = admin_post(
            &server.url,
            "/api/v1/admin/set-user-profile",
            &[("TargetUser", user), ("ProfileData", &profile.to_string())],
        )
        .await;
        assert_eq!(answer.api_status(), 200);
    }
    let all_users = admin_post(&server.url, "/api/v1/admin/list-users-full", &[])
        .await
        .json();
    let mut csv = vec!["Username,Storage Vault Description,Comet Server URL".to_string()];
    for (user, profile) in all_users.as_object().unwrap() {
        for vault in profile["Destinations"].as_object().unwrap().values() {
            if vault["DestinationType"] == 1003 {
                csv.push(format!(
                    "{},{},{}",
                    user,
                    vault["Description"].as_str().unwrap(),
                    vault["CometServer"].as_str().unwrap()
                ));
            }
        }
    }
    assert_eq!(
        csv,
        vec![
            "Username,Storage Vault Description,Comet Server URL",
            "alice,Offsite,https://vault.example.com/",
            "bob,Cloud,https://other.example.com/",
        ]
    );
}

/// "Set policies for all user accounts": list-users, then get and set each.
#[tokio::test]
async fn powershell_set_policy_for_all_users() {
    let server = server_with_users(&["alice", "bob", "carol"]).await;
    create_policy(&server, "00000000-0000-4a00-0000-000000000000").await;
    let all_users = admin_post(&server.url, "/api/v1/admin/list-users", &[])
        .await
        .json();
    for username in all_users.as_array().unwrap() {
        let username = username.as_str().unwrap();
        let mut profile = admin_post(
            &server.url,
            "/api/v1/admin/get-user-profile",
            &[("TargetUser", username)],
        )
        .await
        .json();
        profile["PolicyID"] = json!("00000000-0000-4a00-0000-000000000000");
        let answer = admin_post(
            &server.url,
            "/api/v1/admin/set-user-profile",
            &[
                ("TargetUser", username),
                (
                    "ProfileData",
                    &serde_json::to_string_pretty(&profile).unwrap(),
                ),
            ],
        )
        .await;
        assert_eq!(answer.api_status(), 200);
    }
    let full = admin_post(&server.url, "/api/v1/admin/list-users-full", &[])
        .await
        .json();
    for profile in full.as_object().unwrap().values() {
        assert_eq!(profile["PolicyID"], "00000000-0000-4a00-0000-000000000000");
    }
}
