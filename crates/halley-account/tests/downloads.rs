//! The release catalogue over HTTP: `GET /latestversion`, the version list,
//! streamed downloads, and their error rows.

mod common;

use common::{Portal, EMAIL, PASSWORD};
use serde_json::json;

/// Writes a catalogue with two releases (the newer one a prerelease) under
/// `DATA_DIR/releases`, the default catalogue location.
fn write_catalogue(portal: &Portal) -> Vec<u8> {
    let root = portal.data_dir.join("releases");
    std::fs::create_dir_all(root.join("25.9.6")).unwrap();
    std::fs::create_dir_all(root.join("25.10.1")).unwrap();
    let deb: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("25.9.6/halley-server_25.9.6_amd64.deb"), &deb).unwrap();
    std::fs::write(root.join("25.9.6/halley-server-25.9.6.tar.gz"), b"tarball").unwrap();
    std::fs::write(root.join("25.10.1/halley-server-25.10.1-setup.exe"), b"exe").unwrap();
    let manifest = json!({
        "downloads_url": "https://portal.example.com/downloads",
        "updates_info": ["25.9.6 now available"],
        // Listed oldest first on purpose: the portal sorts.
        "releases": [
            {
                "version_key": "25.9.6",
                "version": "25.9.6 \"Voyager\"",
                "files": {
                    "download_linux_deb": "25.9.6/halley-server_25.9.6_amd64.deb",
                    "download_linux_tar": "25.9.6/halley-server-25.9.6.tar.gz"
                }
            },
            {
                "version_key": "25.10.1",
                "prerelease": true,
                "files": {
                    "download_windows": "25.10.1/halley-server-25.10.1-setup.exe",
                    "download_linux_rpm": "25.10.1/missing.rpm"
                }
            }
        ]
    });
    std::fs::write(
        root.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    deb
}

#[tokio::test]
async fn latest_version_list_and_download() {
    let portal = Portal::start();
    // Without a catalogue: empty but well-formed.
    let empty = common::answer(
        reqwest::get(format!("{}/latestversion", portal.url))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["latest_stable"], "");
    assert_eq!(empty.json()["updates_info"], json!([]));

    let deb = write_catalogue(&portal);
    let latest = common::answer(
        reqwest::get(format!("{}/latestversion", portal.url))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(latest.status, 200);
    assert!(latest.content_type().starts_with("application/json"));
    assert_eq!(
        latest.json(),
        json!({
            "latest_stable": "25.9.6",
            "latest_prerelease": "25.10.1",
            "downloads_url": "https://portal.example.com/downloads",
            "updates_info": ["25.9.6 now available"]
        })
    );

    // the API guide's example call: token, authType and format=json.
    let list = portal
        .call("/api/v1/downloads/list", &[("format", "json")])
        .await;
    assert_eq!(list.status, 200, "{}", list.text());
    assert!(list.content_type().starts_with("application/json"));
    let list = list.json();
    assert_eq!(list[0]["version_key"], "25.10.1");
    assert_eq!(list[0]["Version"], "25.10.1");
    assert_eq!(list[0]["Download"], "Download for Windows 0.00 MB");
    assert_eq!(list[1]["version_key"], "25.9.6");
    assert_eq!(list[1]["Name"], "Halley Server Release Notes");
    assert_eq!(list[1]["Version"], "25.9.6 \"Voyager\"");
    assert_eq!(
        list[1]["Download"],
        "Download for Linux (.deb) 3.00 MB Download for Linux (other) 0.00 MB"
    );

    // the API guide's wget example: email, password, platform, version_key.
    let got = portal
        .post(
            "/api/v1/downloads/get",
            &[
                ("email", EMAIL),
                ("password", PASSWORD),
                ("platform", "download_linux_deb"),
                ("version_key", "25.9.6"),
            ],
        )
        .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.content_type(), "application/octet-stream");
    assert_eq!(
        got.headers["content-disposition"],
        "attachment; filename=\"halley-server_25.9.6_amd64.deb\""
    );
    assert_eq!(got.body.len(), deb.len());
    assert!(
        got.body == deb,
        "the download is the artifact, byte for byte"
    );
}

#[tokio::test]
async fn downloads_answer_their_error_rows() {
    let portal = Portal::start();
    write_catalogue(&portal);
    let get = |fields: &'static [(&'static str, &'static str)]| {
        let portal = &portal;
        async move { portal.call("/api/v1/downloads/get", fields).await }
    };
    get(&[("platform", "download_windows")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: version_key");
    get(&[("version_key", "25.9.6")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: platform");
    get(&[("version_key", "25.9.6"), ("platform", "download_amiga")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: platform");
    get(&[("version_key", "1.0"), ("platform", "download_windows")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: version_key");
    // A platform this release does not ship.
    get(&[("version_key", "25.9.6"), ("platform", "download_windows")])
        .await
        .assert_text_error(400, "Invalid or missing parameter: platform");
    // Named by the manifest but absent on disk: the catalogue is broken.
    get(&[
        ("version_key", "25.10.1"),
        ("platform", "download_linux_rpm"),
    ])
    .await
    .assert_text_error(500, "Internal error");
    for path in ["/api/v1/downloads/list", "/api/v1/downloads/get"] {
        portal
            .post(path, &[("email", EMAIL), ("password", "wrong")])
            .await
            .assert_text_error(403, "Invalid credentials");
        portal
            .post(path, &[("authType", "apiToken"), ("apiToken", "hat_x")])
            .await
            .assert_text_error(403, "Invalid credentials");
        portal
            .post(path, &[])
            .await
            .assert_text_error(400, "Invalid or missing parameter");
    }
    // A manifest that does not parse: 500 everywhere it is read.
    std::fs::write(portal.data_dir.join("releases/manifest.json"), b"{ broken").unwrap();
    let latest = common::answer(
        reqwest::get(format!("{}/latestversion", portal.url))
            .await
            .unwrap(),
    )
    .await;
    latest.assert_text_error(500, "Internal error");
    portal
        .call("/api/v1/downloads/list", &[])
        .await
        .assert_text_error(500, "Internal error");
}
