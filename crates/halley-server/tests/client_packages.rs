//! Client packages from the server: the platforms on offer, the Debian
//! package unpacked with `dpkg-deb -x` into a temporary root, whose agent
//! logs in (to the server built into it) and backs up, and the tarball's
//! install script with an install token built in, whose agent registers
//! itself on first start.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::agent::*;
use common::*;
use serde_json::{json, Value};

fn run(program: &Path, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .env("HALLEY_AGENT_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn download(server: &Server, path: &str, fields: &[(&str, &str)]) -> Answer {
    admin_post(
        &server.url,
        &format!("/api/v1/admin/branding/{path}"),
        fields,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deb_unpacked_logs_in_and_backs_up_and_the_tarball_registers_by_token() {
    let built = agent_binary(); // beside halleyd, where the server looks
    assert!(built.is_file());
    let server = Server::start();
    new_account(&server, "flo").await;

    let platforms = download(&server, "available-platforms", &[]).await.json();
    assert_eq!(platforms["5"]["Category"], "Linux");
    assert_eq!(platforms["6"]["Recommended"], true);
    assert!(platforms.get("0").is_none(), "{platforms}");
    download(&server, "generate-client/test", &[("Platform", "6")])
        .await
        .assert_refused(200, "OK");
    download(&server, "generate-client/test", &[("Platform", "0")])
        .await
        .assert_refused(501, "Windows (x86_64, zip)");
    download(&server, "generate-client/windows-x86_64-zip", &[])
        .await
        .assert_refused(501, "windows-x86_64-zip");
    download(&server, "generate-client/linux-deb", &[])
        .await
        .assert_refused(400, "SelfAddress");

    // The .deb: unpacked, its agent knows the server and logs in.
    let work = tempfile::tempdir().unwrap();
    let deb = download(
        &server,
        "generate-client/linux-deb",
        &[("SelfAddress", &format!("{}/", server.url))],
    )
    .await;
    assert_eq!(deb.status, 200);
    let deb_path = work.path().join("halley-agent.deb");
    std::fs::write(&deb_path, &deb.body).unwrap();
    let info = run(Path::new("dpkg-deb"), &["-f", deb_path.to_str().unwrap()]);
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    assert!(info.contains("Package: halley-agent"), "{info}");
    assert!(info.contains("Description: Halley Backup"), "{info}");
    let root = work.path().join("root");
    run(
        Path::new("dpkg-deb"),
        &["-x", deb_path.to_str().unwrap(), root.to_str().unwrap()],
    );
    let unit =
        std::fs::read_to_string(root.join("lib/systemd/system/halley-agent.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/bin/halley-agent"), "{unit}");
    let defaults: Value = serde_json::from_slice(
        &std::fs::read(root.join("etc/halley-agent/defaults.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(defaults["Server"], server.url.as_str());

    let agent = root.join("usr/bin/halley-agent");
    let state = work.path().join("state");
    let state = state.to_str().unwrap();
    run(
        &agent,
        &[
            "--state-dir",
            state,
            "login",
            "--username",
            "flo",
            "--password",
            "password1",
        ],
    );
    let saved: Value =
        serde_json::from_slice(&std::fs::read(Path::new(state).join("agent.json")).unwrap())
            .unwrap();
    let device = saved["device_id"].as_str().unwrap().to_string();
    let tree = work.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("file.txt"), b"from the package").unwrap();
    let mut p = profile(&server, "flo").await;
    p["Destinations"] = json!({"vault": local_vault(&work.path().join("vault"))});
    p["Sources"] = json!({"files": file_item(&device, &tree)});
    set_profile(&server, "flo", &p).await;
    run(
        &agent,
        &[
            "--state-dir",
            state,
            "backup",
            "--item",
            "files",
            "--vault",
            "vault",
        ],
    );
    let job = job_where(&server, "flo", 10, |j| j["SourceGUID"] == "files").await;
    assert_eq!(job["Status"], 5000, "{job}");
    assert_eq!(job["TotalFiles"], 1);

    // The tarball with an install token: installed into a root by its
    // script, the service registers the machine by itself.
    let token = admin_post(
        &server.url,
        "/api/v1/admin/create-install-token",
        &[("TargetUser", "flo"), ("TargetPassword", "password1")],
    )
    .await
    .json()["InstallToken"]["Token"]
        .as_str()
        .unwrap()
        .to_string();
    let tarball = download(
        &server,
        "generate-client/by-platform",
        &[
            ("Platform", "5"),
            ("SelfAddress", &server.url),
            ("InstallToken", &token),
        ],
    )
    .await;
    assert_eq!(tarball.status, 200);
    let unpacked = work.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let tarball_path = work.path().join("halley-agent.tar.gz");
    std::fs::write(&tarball_path, &tarball.body).unwrap();
    run(
        Path::new("tar"),
        &[
            "-xzf",
            tarball_path.to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ],
    );
    let root = work.path().join("root2");
    let installed = Command::new("sh")
        .arg(unpacked.join("halley-agent/install.sh"))
        .env("DESTDIR", &root)
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );
    let defaults = root.join("etc/halley-agent/defaults.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&defaults).unwrap().permissions().mode() & 0o777,
        0o600,
        "a token makes the defaults a secret"
    );
    let state = work.path().join("state2");
    let mut service = Command::new(root.join("usr/bin/halley-agent"))
        .arg("--state-dir")
        .arg(&state)
        .args(["run", "--device-name", "by-token"])
        .env("HALLEY_AGENT_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let devices = profile(&server, "flo").await["Devices"].clone();
        let named = devices
            .as_object()
            .is_some_and(|all| all.values().any(|d| d["FriendlyName"] == "by-token"));
        if named {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not registered by token: {devices}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = service.kill();
    let _ = service.wait();
}

#[tokio::test]
async fn downloads_need_an_administrator_unless_opened() {
    let server = Server::start();
    let anonymous = post_form(
        &server.url,
        "/api/v1/admin/branding/available-platforms",
        &[],
    )
    .await;
    assert_eq!(anonymous.api_status(), 403, "{}", anonymous.message());
    admin_post(
        &server.url,
        "/api/v1/admin/meta/build-config/set",
        &[(
            "SoftwareBuildRoleConfig",
            &json!({"RoleEnabled": true, "AllowUnauthenticatedDownloads": true}).to_string(),
        )],
    )
    .await
    .assert_refused(200, "OK");
    let open = post_form(
        &server.url,
        "/api/v1/admin/branding/available-platforms",
        &[],
    )
    .await;
    assert_eq!(open.status, 200);
    assert!(open.json().is_object(), "{}", open.message());
    let unknown = admin_post(
        &server.url,
        "/api/v1/admin/branding/generate-client/test",
        &[("Platform", "42")],
    )
    .await;
    unknown.assert_refused(400, "42 is no platform");
}
