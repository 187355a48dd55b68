//! The halleyd side of licence activation, run against a real portal: two
//! servers with their own data directories compete for one serial, through
//! the library and through the `halleyd` binary itself.

mod common;

use common::{halleyd, Portal};
use halley_server::licensing::{activate_at_startup, server_id, ActivationError};

#[tokio::test]
async fn a_second_server_is_refused_until_the_serial_is_relaxed() {
    let portal = Portal::start();
    let serial = portal.call("/api/v1/license/create", &[]).await.text();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    let id_a = activate_at_startup(a.path(), &portal.url, &serial)
        .await
        .expect("the first server activates");
    assert_eq!(server_id(a.path()).unwrap(), id_a, "the identity is kept");
    // A restart of the same server activates again.
    activate_at_startup(a.path(), &format!("{}/", portal.url), &serial)
        .await
        .expect("the same server again");
    let refused = activate_at_startup(b.path(), &portal.url, &serial).await;
    assert!(
        matches!(refused, Err(ActivationError::BoundElsewhere(_))),
        "{refused:?}"
    );

    portal
        .call("/api/v1/license/relax", &[("serial", &serial)])
        .await;
    activate_at_startup(b.path(), &portal.url, &serial)
        .await
        .expect("the second server takes the relaxed serial");
    assert!(matches!(
        activate_at_startup(a.path(), &portal.url, &serial).await,
        Err(ActivationError::BoundElsewhere(_))
    ));

    portal
        .call("/api/v1/license/archive", &[("serial", &serial)])
        .await;
    assert!(matches!(
        activate_at_startup(b.path(), &portal.url, &serial).await,
        Err(ActivationError::Archived(_))
    ));
    assert!(matches!(
        activate_at_startup(b.path(), &portal.url, "NO-SUCH-SERIAL").await,
        Err(ActivationError::UnknownSerial(_))
    ));
    // Nothing listens on port 9 of loopback (discard, unused).
    assert!(matches!(
        activate_at_startup(b.path(), "http://127.0.0.1:9", &serial).await,
        Err(ActivationError::Unreachable(_))
    ));
}

/// `halleyd --serial … --license-portal …` runs only on a serial it may bind.
#[tokio::test]
async fn halleyd_refuses_to_start_on_a_serial_bound_elsewhere() {
    let portal = Portal::start();
    let serial = portal.call("/api/v1/license/create", &[]).await.text();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let start = |dir: &std::path::Path| {
        std::process::Command::new(halleyd())
            .arg("--data-dir")
            .arg(dir)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--serial",
                &serial,
                "--license-portal",
                &portal.url,
            ])
            .env("HALLEY_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = start(a.path());
    let stdout = first.stdout.take().unwrap();
    let line = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .next()
        .unwrap()
        .unwrap();
    assert!(line.starts_with("halleyd listening on "), "{line}");
    // The portal is also the server's release feed.
    let url = line.trim_start_matches("halleyd listening on ").to_string();
    let news: serde_json::Value = reqwest::Client::new()
        .post(format!("{url}/api/v1/admin/meta/software-update-news"))
        .form(&[
            ("Username", "admin"),
            ("AuthType", "Password"),
            ("Password", "admin"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(news.get("latest_stable").is_some(), "{news}");
    assert!(news.get("Status").is_none(), "{news}");
    // The activated serial shows in the configuration, as in Comet's.
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a.path().join("cometd.cfg")).unwrap()).unwrap();
    assert_eq!(config["License"]["SerialNumber"], serial.as_str());

    let second = start(b.path()).wait_with_output().unwrap();
    assert!(!second.status.success(), "a second server is refused");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("in use by another server"), "{stderr}");
    first.kill().unwrap();
    first.wait().unwrap();
}
