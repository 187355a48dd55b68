//! The web interface in a real browser: Debian's Chromium, headless, driven
//! through chromedriver against a real `halleyd`. Without Chromium the tests
//! print SKIPPED and pass, unless `CI` is set (then they fail).
//!
//! `cargo test -p halley-server --test web_ui -- --ignored screenshots`
//! refreshes `docs/screenshots/`.

mod common;

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::agent::{file_item, job_where, local_vault, make_tree, noise, Agent};
use common::{new_account, profile, secret_from_url, set_profile, totp_code, Launch, Server};
use fantoccini::{Client, ClientBuilder, Locator};
use halley_client::Auth;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WAIT: Duration = Duration::from_secs(20);

/// One browser at a time: the machine has two cores.
static BROWSER_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn browser_missing(test: &str) -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return false;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {CHROMIUM} and {CHROMEDRIVER} are required in CI (apt-get install chromium chromium-driver)");
    }
    println!("SKIPPED {test}: {CHROMIUM} or {CHROMEDRIVER} is not installed");
    true
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver plus one headless Chromium session with a fresh profile.
struct Browser {
    client: Client,
    /// chromedriver's own address, for the commands fantoccini lacks.
    webdriver: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{webdriver}/status")).await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not answer");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            webdriver,
            driver,
            _profile: profile,
        }
    }

    /// A WebAuthn virtual authenticator in this browser (a USB security
    /// key that consents and verifies by itself).
    async fn add_virtual_authenticator(&self) {
        let session = self.client.session_id().await.unwrap().unwrap();
        let answer = reqwest::Client::new()
            .post(format!("{}/session/{session}/webauthn/authenticator", self.webdriver))
            .json(&json!({"protocol": "ctap2", "transport": "usb", "hasResidentKey": false,
                          "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{:?}", answer.text().await);
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("page loads");
    }

    async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Waits until the element's text contains `expected`.
    async fn wait_text(&self, css: &str, expected: &str) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = element.text().await {
                    if text.contains(expected) {
                        return text;
                    }
                    last = text;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{css} never contained {expected:?}; last text: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn fill(&self, css: &str, value: &str) {
        let element = self.wait(css).await;
        element.clear().await.unwrap();
        element.send_keys(value).await.unwrap();
    }

    /// Clicks the element; pages that redraw live (a running job's
    /// progress) may replace it between finding and clicking, so a stale
    /// element is found again.
    async fn click(&self, css: &str) {
        for _ in 0..5 {
            match self.wait(css).await.click().await {
                Err(fantoccini::error::CmdError::Standard(e))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
                outcome => return outcome.unwrap(),
            }
        }
        self.wait(css).await.click().await.unwrap();
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("script runs")
    }

    async fn is_present(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    async fn sign_in(&self, server: &Server, username: &str, password: &str) {
        self.goto(&format!("{}/", server.url)).await;
        self.fill("#signin-username", username).await;
        self.fill("#signin-password", password).await;
        self.click("#signin-submit").await;
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn stop(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
}

/// A page on another origin (another loopback port) that embeds the web
/// interface in an iframe, or opens it in a window, as a provider's portal
/// would, and records the messages it gets back.
struct Portal {
    origin: String,
}

const PORTAL_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Portal</title></head>
<body>
<h1>Provider portal</h1>
<div id="slot"></div>
<script>
window.received = [];
window.addEventListener("message", (event) => {
  window.received.push({ origin: event.origin, msg: event.data && event.data.msg });
});
const params = new URLSearchParams(location.search);
window.target = null;
window.halleyOrigin = new URL(params.get("halley")).origin;
if (params.get("mode") === "window") {
  window.target = window.open(params.get("halley"), "halley");
} else {
  const frame = document.createElement("iframe");
  frame.id = "halley";
  frame.src = params.get("halley");
  frame.width = "1100";
  frame.height = "700";
  document.getElementById("slot").append(frame);
  window.target = frame.contentWindow;
}
window.loaded = () => window.received.some((m) => m.msg === "app_loaded");
window.send = (msg, username, sessionkey) =>
  window.target.postMessage({ msg, username, sessionkey }, window.halleyOrigin);
</script>
</body></html>"#;

impl Portal {
    async fn start() -> Portal {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/portal",
            axum::routing::get(|| async { axum::response::Html(PORTAL_PAGE) }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Portal { origin }
    }

    fn url(&self, server: &Server, mode: &str) -> String {
        let halley: String =
            form_urlencoded::byte_serialize(format!("{}/", server.url).as_bytes()).collect();
        format!("{}/portal?mode={mode}&halley={halley}", self.origin)
    }
}

async fn wait_app_loaded(browser: &Browser) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if browser.js("return window.loaded();", vec![]).await == json!(true) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Whether this server builds the endpoint yet (anything but `Status` 501).
async fn endpoint_built(server: &Server, path: &str) -> bool {
    common::admin_post(&server.url, path, &[]).await.json()["Status"] != 501
}

async fn admin_session_key(server: &Server) -> String {
    server
        .admin()
        .admin_account_session_start()
        .await
        .unwrap()
        .session_key
}

async fn add_user(server: &Server, username: &str) {
    server
        .admin()
        .admin_add_user(username, "a-long-password-1", None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn sign_in_with_password_and_reach_the_dashboard() {
    if browser_missing("sign_in_with_password_and_reach_the_dashboard") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "existing").await;
    let browser = Browser::start(1280, 800).await;

    // A wrong password shows an error where it happened.
    browser.sign_in(&server, "admin", "wrong").await;
    browser
        .wait_text("#signin-error", "username or password is not right")
        .await;
    assert!(!browser.is_present("#signed-in-user").await);

    browser.sign_in(&server, "admin", "admin").await;
    browser.wait_text("#signed-in-user", "admin").await;
    browser.wait_text("#stat-accounts", "1").await;
    // Areas whose endpoints are not built say so.
    if !endpoint_built(&server, "/api/v1/admin/dispatcher/list-active").await {
        browser
            .wait_text("#card-devices", "Not available on this server yet")
            .await;
    }
    // Every area shows its list, or says its endpoint is not built yet.
    for (view, path) in [
        ("jobs", "/api/v1/admin/get-jobs-recent"),
        ("devices", "/api/v1/admin/dispatcher/list-active"),
        ("policies", "/api/v1/admin/policies/list-full"),
        ("groups", "/api/v1/admin/user-groups/list-full"),
        ("tenants", "/api/v1/admin/organization/list"),
        ("admins", "/api/v1/admin/admin-user/list"),
    ] {
        browser.goto(&format!("{}/#/{view}", server.url)).await;
        if endpoint_built(&server, path).await {
            browser
                .wait("#area-body .table-wrap, #area-body .empty-state")
                .await;
            assert!(!browser.is_present("#area-body .not-built").await, "{view}");
        } else {
            browser
                .wait_text("#area-body", "not available on this server yet")
                .await;
        }
    }

    browser.click("#sign-out").await;
    browser.wait("#signin-username").await;
    browser.stop().await;
}

#[tokio::test]
async fn sign_in_with_totp() {
    if browser_missing("sign_in_with_totp") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let admin = server.admin();
    let totp = admin.admin_account_regenerate_totp().await.unwrap();
    let secret = secret_from_url(&totp.url);
    admin
        .admin_account_validate_totp(&totp_code(&secret, 0))
        .await
        .unwrap();
    let browser = Browser::start(1280, 800).await;

    browser.sign_in(&server, "admin", "admin").await;
    browser.wait("#signin-totp").await;
    browser.fill("#signin-totp", "000000").await;
    browser.click("#signin-verify").await;
    browser.wait_text("#signin-error", "not accepted").await;
    assert!(!browser.is_present("#signed-in-user").await);

    browser.fill("#signin-totp", &totp_code(&secret, 1)).await;
    browser.click("#signin-verify").await;
    browser.wait_text("#signed-in-user", "admin").await;
    browser.stop().await;
}

#[tokio::test]
async fn create_a_user_and_edit_its_profile() {
    if browser_missing("create_a_user_and_edit_its_profile") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let browser = Browser::start(1280, 800).await;
    browser.sign_in(&server, "admin", "admin").await;
    browser.wait("#signed-in-user").await;

    browser.goto(&format!("{}/#/accounts", server.url)).await;
    browser.click("#new-account").await;
    // A refused creation keeps the dialog and what was typed.
    browser.fill("#new-username", "alice").await;
    browser.fill("#new-password", "x").await;
    browser.click("#new-submit").await;
    browser.wait(".dialog .notice-error").await;
    browser.fill("#new-password", "a-long-password-1").await;
    browser.click("#new-submit").await;
    browser.wait_text("#account-list", "alice").await;
    let profile = server
        .admin()
        .admin_get_user_profile("alice")
        .await
        .unwrap();
    assert_eq!(profile.username, "alice");

    // Edit and save: the change is visible through the API.
    browser.click("a.account-link").await;
    browser.fill("#profile-account-name", "Alice Ltd").await;
    browser.fill("#profile-emails", "ops@alice.example").await;
    browser.click("#profile-save").await;
    browser
        .wait_text("#profile-state", "All changes saved")
        .await;
    let profile = server
        .admin()
        .admin_get_user_profile("alice")
        .await
        .unwrap();
    assert_eq!(profile.account_name, "Alice Ltd");
    assert_eq!(profile.emails, vec!["ops@alice.example".to_string()]);

    // Someone else saves meanwhile: our save is refused, our edit kept, theirs intact.
    let mut theirs = profile.clone();
    theirs.account_name = "Changed by a script".into();
    server
        .admin()
        .admin_set_user_profile("alice", &theirs)
        .await
        .unwrap();
    browser.fill("#profile-account-name", "Alice Limited").await;
    browser.click("#profile-save").await;
    browser
        .wait_text("#profile-banner", "someone else changed this account")
        .await;
    let kept = browser
        .js(
            "return document.getElementById('profile-account-name').value;",
            vec![],
        )
        .await;
    assert_eq!(kept, json!("Alice Limited"));
    let stored = server
        .admin()
        .admin_get_user_profile("alice")
        .await
        .unwrap();
    assert_eq!(stored.account_name, "Changed by a script");
    browser.stop().await;
}

#[tokio::test]
async fn revoking_a_device_in_the_profile_editor() {
    if browser_missing("revoking_a_device_in_the_profile_editor") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "dora").await;
    let admin = server.admin();
    let mut profile =
        serde_json::to_value(admin.admin_get_user_profile("dora").await.unwrap()).unwrap();
    profile["Devices"] = json!({"pc": {"FriendlyName": "Front-PC", "RegistrationTime": 1}});
    profile["Sources"] =
        json!({"files": {"Description": "Files", "Engine": "engine1/file", "OwnerDevice": "pc"}});
    admin
        .admin_set_user_profile("dora", &serde_json::from_value(profile).unwrap())
        .await
        .unwrap();
    let browser = signed_in_admin(&server, 1280).await;
    browser
        .goto(&format!("{}/#/accounts/dora", server.url))
        .await;
    browser.click("#tab-devices").await;
    // The name is an editable field; its Revoke button names it.
    browser.wait("button[aria-label='Revoke Front-PC']").await;
    browser.click("button[aria-label='Revoke Front-PC']").await;
    browser.click("#confirm-submit").await;
    browser.wait_text("main", "No devices registered yet").await;
    let stored = admin.admin_get_user_profile("dora").await.unwrap();
    assert!(stored.devices.is_empty());
    assert!(
        stored.sources.is_empty(),
        "its Protected Items went with it"
    );
    browser.stop().await;
}

#[tokio::test]
async fn account_actions_and_the_end_user_view() {
    if browser_missing("account_actions_and_the_end_user_view") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "erin").await;
    let browser = Browser::start(1280, 800).await;
    browser.sign_in(&server, "admin", "admin").await;
    browser.wait("#signed-in-user").await;
    browser.goto(&format!("{}/#/accounts", server.url)).await;
    browser.wait_text("#account-list", "erin").await;

    // Suspend from the row's menu: the API sees it.
    browser.click("details.menu summary").await;
    browser
        .click("details.menu[open] .menu-item:nth-child(2)")
        .await;
    browser.wait_text("#account-list", "Suspended").await;
    let profile = server.admin().admin_get_user_profile("erin").await.unwrap();
    assert!(profile.is_suspended);
    browser.click("details.menu summary").await;
    browser
        .click("details.menu[open] .menu-item:nth-child(2)")
        .await;
    browser.wait_text("#account-list", "Active").await;
    let profile = server.admin().admin_get_user_profile("erin").await.unwrap();
    assert!(!profile.is_suspended);

    // "Sign in as this user" opens the end-user view in a new tab.
    let admin_window = browser.client.window().await.unwrap();
    browser.click("details.menu summary").await;
    browser
        .click("details.menu[open] .menu-item:nth-child(1)")
        .await;
    let deadline = Instant::now() + WAIT;
    let tab = loop {
        let windows = browser.client.windows().await.unwrap();
        if let Some(tab) = windows.into_iter().find(|w| *w != admin_window) {
            break tab;
        }
        assert!(Instant::now() < deadline, "no new tab");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    browser.client.switch_to_window(tab).await.unwrap();
    browser.wait_text("#signed-in-user", "erin").await;
    browser.wait_text("#user-account-name", "erin").await;

    // The end user changes the password; a wrong current one is refused.
    let url = browser.client.current_url().await.unwrap();
    let mut security = url.clone();
    security.set_fragment(Some("/me/security"));
    browser.goto(security.as_str()).await;
    browser.fill("#pw-old", "not-the-password").await;
    browser.fill("#pw-new", "a-new-password-2").await;
    browser.fill("#pw-again", "a-new-password-2").await;
    browser.click("form button[type=submit]").await;
    browser.wait_text("section.card", "OldPassword").await;
    browser.fill("#pw-old", "a-long-password-1").await;
    browser.click("form button[type=submit]").await;
    browser.wait_text("section.card", "Password changed").await;
    let answer = server
        .client(Auth::password("erin", "a-new-password-2"))
        .hybrid_session_start()
        .await
        .unwrap();
    assert_eq!(answer.session_type, "user");

    // The administrator's tab is still the administrator's.
    browser.client.close_window().await.unwrap();
    browser.client.switch_to_window(admin_window).await.unwrap();
    browser.wait_text("#signed-in-user", "admin").await;
    browser.stop().await;
}

#[tokio::test]
async fn live_events_reach_the_dashboard_without_reload() {
    if browser_missing("live_events_reach_the_dashboard_without_reload") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let browser = Browser::start(1280, 800).await;
    browser.sign_in(&server, "admin", "admin").await;
    browser.wait_text("#live-state", "Live").await;
    browser.wait_text("#stat-accounts", "0").await;
    browser.js("window.__sameDocument = 42;", vec![]).await;

    add_user(&server, "bob").await;
    let feed = browser.wait_text("#live-events", "bob").await;
    assert!(feed.contains("Account created"), "{feed}");
    browser.wait_text("#stat-accounts", "1").await;
    assert_eq!(
        browser.js("return window.__sameDocument;", vec![]).await,
        json!(42)
    );
    browser.stop().await;
}

#[tokio::test]
async fn portal_signs_in_an_administrator_and_a_user_by_post_message() {
    if browser_missing("portal_signs_in_an_administrator_and_a_user_by_post_message") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "carol").await;
    let portal = Portal::start().await;
    let browser = Browser::start(1280, 900).await;

    // A window opened by the portal (window.open) works the same way.
    browser.goto(&portal.url(&server, "window")).await;
    assert!(
        wait_app_loaded(&browser).await,
        "no app_loaded from the window"
    );
    let key = admin_session_key(&server).await;
    browser
        .js(
            "window.send('session_login', 'admin', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    let main_window = browser.client.window().await.unwrap();
    let popup = browser
        .client
        .windows()
        .await
        .unwrap()
        .into_iter()
        .find(|w| *w != main_window)
        .expect("the window opened");
    browser.client.switch_to_window(popup).await.unwrap();
    browser.wait_text("#signed-in-user", "admin").await;
    browser.client.close_window().await.unwrap();
    browser.client.switch_to_window(main_window).await.unwrap();

    // Administrator, with a key from AdminAccountSessionStart.
    browser.goto(&portal.url(&server, "frame")).await;
    assert!(wait_app_loaded(&browser).await, "no app_loaded");
    let origins = browser
        .js("return window.received[0].origin;", vec![])
        .await;
    assert_eq!(origins, json!(server.url));
    let key = admin_session_key(&server).await;
    browser
        .js(
            "window.send('session_login', 'admin', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    browser.client.enter_frame(0).await.unwrap();
    browser.wait_text("#signed-in-user", "admin").await;
    browser.wait("#stat-accounts").await;
    browser.client.enter_parent_frame().await.unwrap();

    // End user, with a key from AdminAccountSessionStartAsUser.
    browser.goto(&portal.url(&server, "frame")).await;
    assert!(wait_app_loaded(&browser).await, "no app_loaded");
    let key = server
        .admin()
        .admin_account_session_start_as_user("carol")
        .await
        .unwrap()
        .session_key;
    browser
        .js(
            "window.send('user_session_login', 'carol', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    browser.client.enter_frame(0).await.unwrap();
    browser.wait_text("#signed-in-user", "carol").await;
    browser.wait_text("#user-account-name", "carol").await;
    browser.client.enter_parent_frame().await.unwrap();
    browser.stop().await;
}

#[tokio::test]
async fn a_forged_session_key_signs_nobody_in() {
    if browser_missing("a_forged_session_key_signs_nobody_in") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "dave").await;
    let portal = Portal::start().await;
    let browser = Browser::start(1280, 900).await;

    for (msg, username) in [("session_login", "admin"), ("user_session_login", "dave")] {
        browser.goto(&portal.url(&server, "frame")).await;
        assert!(wait_app_loaded(&browser).await, "no app_loaded");
        let forged = "f".repeat(64);
        browser
            .js(
                "window.send(arguments[0], arguments[1], arguments[2]);",
                vec![json!(msg), json!(username), json!(forged)],
            )
            .await;
        browser.client.enter_frame(0).await.unwrap();
        browser
            .wait_text("#signin-error", "Single sign-on failed")
            .await;
        assert!(!browser.is_present("#signed-in-user").await);
        browser.client.enter_parent_frame().await.unwrap();
    }
    // A valid administrator key given as an end user's is refused too.
    browser.goto(&portal.url(&server, "frame")).await;
    assert!(wait_app_loaded(&browser).await, "no app_loaded");
    let key = admin_session_key(&server).await;
    browser
        .js(
            "window.send('user_session_login', 'admin', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    browser.client.enter_frame(0).await.unwrap();
    browser
        .wait_text("#signin-error", "Single sign-on failed")
        .await;
    assert!(!browser.is_present("#signed-in-user").await);
    browser.client.enter_parent_frame().await.unwrap();
    browser.stop().await;
}

#[tokio::test]
async fn the_origin_allowlist_refuses_other_origins() {
    if browser_missing("the_origin_allowlist_refuses_other_origins") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let allowed = Portal::start().await;
    let other = Portal::start().await;
    let server = Server::launch(Launch {
        args: vec!["--web-allowed-origins".into(), allowed.origin.clone()],
        ..Default::default()
    });

    // The page says who may frame it.
    let page = reqwest::get(format!("{}/", server.url)).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains(&format!("frame-ancestors 'self' {}", allowed.origin)),
        "{csp}"
    );
    // API paths keep their JSON 404.
    let missing = reqwest::get(format!("{}/api/v1/no/such", server.url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("\"Status\":404"));

    let browser = Browser::start(1280, 900).await;

    // Another origin may not frame it: the browser refuses to load it.
    browser.goto(&other.url(&server, "frame")).await;
    assert!(
        !wait_app_loaded(&browser).await,
        "framed by a refused origin"
    );

    // Opened as a window from another origin, it neither announces itself
    // there nor accepts that origin's sign-in.
    browser.goto(&other.url(&server, "window")).await;
    let main_window = browser.client.window().await.unwrap();
    let deadline = Instant::now() + WAIT;
    let popup = loop {
        let windows = browser.client.windows().await.unwrap();
        if let Some(popup) = windows.into_iter().find(|w| *w != main_window) {
            break popup;
        }
        assert!(Instant::now() < deadline, "the window did not open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    browser
        .client
        .switch_to_window(popup.clone())
        .await
        .unwrap();
    browser.wait("#signin-username").await;
    browser
        .client
        .switch_to_window(main_window.clone())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        browser.js("return window.loaded();", vec![]).await,
        json!(false)
    );
    let key = admin_session_key(&server).await;
    browser
        .js(
            "window.send('session_login', 'admin', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    browser.client.switch_to_window(popup).await.unwrap();
    assert!(browser.is_present("#signin-username").await);
    assert!(!browser.is_present("#signed-in-user").await);
    browser.client.close_window().await.unwrap();
    browser
        .client
        .switch_to_window(main_window.clone())
        .await
        .unwrap();

    // An allowed portal frames it and signs in.
    browser.goto(&allowed.url(&server, "frame")).await;
    assert!(wait_app_loaded(&browser).await, "no app_loaded");
    let key = admin_session_key(&server).await;
    browser
        .js(
            "window.send('session_login', 'admin', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    browser.client.enter_frame(0).await.unwrap();
    browser.wait_text("#signed-in-user", "admin").await;
    browser.client.enter_parent_frame().await.unwrap();

    browser.stop().await;
}

/// Calls an administrator endpoint with `admin`/`admin` and returns its JSON.
async fn admin_json(server: &Server, path: &str, fields: &[(&str, &str)]) -> Value {
    common::admin_post(&server.url, path, fields).await.json()
}

/// The value of a form control.
async fn value_of(browser: &Browser, css: &str) -> Value {
    browser
        .js(
            "return document.querySelector(arguments[0]).value;",
            vec![json!(css)],
        )
        .await
}

/// Waits until the page's address holds `part`, but not `/new`.
async fn wait_url(browser: &Browser, part: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = browser.client.current_url().await.unwrap().to_string();
        if url.contains(part) && !url.ends_with("/new") {
            return url;
        }
        assert!(Instant::now() < deadline, "never reached {part}: {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn signed_in_admin(server: &Server, width: u32) -> Browser {
    let browser = Browser::start(width, 900).await;
    browser.sign_in(server, "admin", "admin").await;
    browser.wait("#signed-in-user").await;
    browser
}

#[tokio::test]
async fn create_a_policy_and_keep_edits_when_someone_else_saved() {
    if browser_missing("create_a_policy_and_keep_edits_when_someone_else_saved") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let browser = signed_in_admin(&server, 1280).await;

    browser.goto(&format!("{}/#/policies", server.url)).await;
    browser.wait_text("#area-body", "No policies yet").await;
    browser.click("#new-policy").await;
    browser.fill("#policy-description", "Locked down").await;
    browser.click("#policy-PreventChangeAccountPassword").await;
    browser.click("#policy-PreventRequestStorageVault").await;
    browser.click("#policy-restrict-providers").await;
    browser.click("#policy-provider-1003").await;
    browser.click("#policy-default").await;
    browser.click("#policy-save").await;
    let url = wait_url(&browser, "#/policies/").await;
    let id = url.rsplit('/').next().unwrap().to_string();
    assert_ne!(id, "new");
    browser
        .wait_text("#policy-state", "All changes saved")
        .await;

    // The API sees what the form set.
    let all = admin_json(&server, "/api/v1/admin/policies/list-full", &[]).await;
    let policy = &all[&id];
    assert_eq!(policy["Description"], "Locked down");
    assert_eq!(policy["DefaultUserPolicy"], true);
    assert_eq!(policy["Policy"]["PreventChangeAccountPassword"], true);
    assert_eq!(policy["Policy"]["PreventRequestStorageVault"], true);
    assert_eq!(
        policy["Policy"]["StorageVaultProviders"],
        json!({"ShouldRestrictProviderList": true, "AllowedProvidersWhenRestricted": [1003]})
    );

    // Someone else saves meanwhile: our save is refused, our edits kept,
    // theirs intact.
    let mut theirs = policy.clone();
    theirs["Description"] = json!("Changed by a script");
    let answer = admin_json(
        &server,
        "/api/v1/admin/policies/set",
        &[("PolicyID", &id), ("Policy", &theirs.to_string())],
    )
    .await;
    assert_eq!(answer["Status"], 200, "{answer}");
    browser.fill("#policy-description", "Locked down v2").await;
    browser.click("#policy-PreventNewProtectedItem").await;
    browser.click("#policy-save").await;
    browser
        .wait_text("#policy-banner", "someone else changed this policy")
        .await;
    assert_eq!(
        value_of(&browser, "#policy-description").await,
        json!("Locked down v2")
    );
    assert_eq!(
        browser
            .js(
                "return document.getElementById('policy-PreventNewProtectedItem').checked;",
                vec![]
            )
            .await,
        json!(true)
    );
    let stored = admin_json(&server, "/api/v1/admin/policies/get", &[("PolicyID", &id)]).await;
    assert_eq!(stored["Policy"]["Description"], "Changed by a script");
    assert_ne!(stored["Policy"]["Policy"]["PreventNewProtectedItem"], true);

    // Loading their version, then saving, works.
    browser.click("#policy-reload").await;
    browser
        .wait_text("#policy-state", "All changes saved")
        .await;
    assert_eq!(
        value_of(&browser, "#policy-description").await,
        json!("Changed by a script")
    );
    browser.click("#policy-PreventNewProtectedItem").await;
    browser.click("#policy-save").await;
    browser.wait_text("#policy-banner", "Changes saved").await;
    let stored = admin_json(&server, "/api/v1/admin/policies/get", &[("PolicyID", &id)]).await;
    assert_eq!(stored["Policy"]["Policy"]["PreventNewProtectedItem"], true);
    assert_eq!(stored["Policy"]["Description"], "Changed by a script");
    browser.stop().await;
}

#[tokio::test]
async fn create_a_tenant_in_a_narrow_window() {
    if browser_missing("create_a_tenant_in_a_narrow_window") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let browser = signed_in_admin(&server, 400).await;

    browser.goto(&format!("{}/#/tenants", server.url)).await;
    browser.wait_text("#area-body", "No tenants yet").await;
    browser.click("#new-tenant").await;
    browser.fill("#tenant-name", "Reseller One").await;
    browser
        .fill("#tenant-hosts", "Backup.Reseller.example\n\n")
        .await;
    browser.click("#tenant-submit").await;
    browser.wait_text("#area-body", "Reseller One").await;
    assert!(!browser.is_present("dialog[open]").await);

    let tenants = admin_json(&server, "/api/v1/admin/organization/list", &[]).await;
    let (_, tenant) = tenants
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, o)| o["Name"] == "Reseller One")
        .expect("the tenant");
    assert_eq!(tenant["Hosts"], json!(["backup.reseller.example"]));
    assert_eq!(tenant["IsSuspended"], false);

    // A second tenant claiming the same host is refused next to the form,
    // and what was typed stays.
    browser.click("#new-tenant").await;
    browser.fill("#tenant-name", "Reseller Two").await;
    browser
        .fill("#tenant-hosts", "backup.reseller.example")
        .await;
    browser.click("#tenant-submit").await;
    browser
        .wait_text("dialog .notice-error", "backup.reseller.example")
        .await;
    assert_eq!(
        value_of(&browser, "#tenant-name").await,
        json!("Reseller Two")
    );
    // The dialog and the page fit the window.
    let fits = browser
        .js(
            "const w = window.innerWidth; return [w, document.querySelector('dialog[open]').getBoundingClientRect().right, document.documentElement.scrollWidth];",
            vec![],
        )
        .await;
    let [inner, right, scroll] = [0, 1, 2].map(|i| fits[i].as_f64().unwrap());
    assert!(
        inner <= 500.0 && right <= inner && scroll <= inner,
        "{fits}"
    );
    browser.stop().await;
}

#[tokio::test]
async fn create_an_administrator_with_a_tenant_and_permissions() {
    if browser_missing("create_an_administrator_with_a_tenant_and_permissions") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let org = json!({"Name": "Reseller One", "Hosts": []}).to_string();
    let created = admin_json(
        &server,
        "/api/v1/admin/organization/set",
        &[("Organization", &org)],
    )
    .await;
    let org_id = created["ID"].as_str().unwrap().to_string();
    let browser = signed_in_admin(&server, 1280).await;

    browser.goto(&format!("{}/#/admins", server.url)).await;
    browser.wait_text("#area-body", "admin").await;
    browser.click("#new-admin").await;
    // A refused creation keeps the dialog and what was typed.
    browser.fill("#admin-username", "admin").await;
    browser.fill("#admin-password", "a-long-password-1").await;
    browser.click("#admin-submit").await;
    browser
        .wait_text("dialog .notice-error", "already exists")
        .await;
    browser.fill("#admin-username", "ops").await;
    browser
        .js(
            "const s = document.getElementById('admin-tenant'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
            vec![json!(org_id)],
        )
        .await;
    browser.click("#admin-permissions-toggle").await;
    browser.click("#perm-AllowEditWebhooks").await;
    browser.click("#perm-PreventChangePassword").await;
    browser.click("#admin-submit").await;
    browser.wait_text("#area-body", "2 set").await;
    assert!(!browser.is_present("dialog[open]").await);

    let admins = admin_json(&server, "/api/v1/admin/admin-user/list", &[]).await;
    let ops = admins
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["Username"] == "ops")
        .expect("ops is listed");
    assert_eq!(ops["OrganizationID"], org_id);
    assert_eq!(ops["Permissions"]["AllowEditWebhooks"], true);
    assert_eq!(ops["Permissions"]["PreventChangePassword"], true);
    assert_ne!(ops["Permissions"]["PreventEditServerSettings"], true);
    // The other administrators' secrets survived the configuration round trip.
    let answer = common::admin_post(&server.url, "/api/v1/admin/account/properties", &[]).await;
    assert_eq!(answer.json()["OrganizationID"], "", "{}", answer.json());
    browser.stop().await;
}

#[tokio::test]
async fn a_webhook_added_in_the_interface_receives_deliveries() {
    if browser_missing("a_webhook_added_in_the_interface_receives_deliveries") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let mut receiver = common::WebhookReceiver::start(0).await;
    let server = Server::start();
    let browser = signed_in_admin(&server, 1280).await;

    browser.goto(&format!("{}/#/settings", server.url)).await;
    browser.wait_text("#webhooks", "No webhooks").await;
    browser.click("#add-webhook").await;
    browser.fill("#hook-name", "audit").await;
    browser.fill("#hook-url", &receiver.url).await;
    browser.click("#hook-all-events").await;
    browser.click("#hook-type-4100").await;
    browser.click("#hook-add-header").await;
    browser.fill(".hook-header-name", "X-Halley-Test").await;
    browser.fill(".hook-header-value", "from-the-form").await;
    browser.click("#hook-submit").await;
    browser.wait_text("#webhooks", "audit").await;
    browser.wait_text("#webhooks", "1 types").await;

    let hooks = admin_json(&server, "/api/v1/admin/meta/webhook-options/get", &[]).await;
    assert_eq!(hooks["audit"]["URL"], receiver.url);
    assert_eq!(hooks["audit"]["WhiteListedEventTypes"], json!([4100]));
    assert_eq!(
        hooks["audit"]["CustomHeaders"],
        json!({"X-Halley-Test": "from-the-form"})
    );

    add_user(&server, "hooked").await;
    let delivery = receiver.until_type(4100, 20).await;
    assert_eq!(delivery.event["ResourceID"], "hooked");
    assert_eq!(delivery.headers["x-halley-test"], "from-the-form");

    // Removing it from the interface removes it from the server.
    browser
        .click("button[aria-label='Remove webhook audit']")
        .await;
    browser.click("#confirm-submit").await;
    browser.wait_text("#webhooks", "No webhooks").await;
    let hooks = admin_json(&server, "/api/v1/admin/meta/webhook-options/get", &[]).await;
    assert_eq!(hooks, json!({}));
    browser.stop().await;
}

#[tokio::test]
async fn an_administrator_changes_password_and_turns_on_totp() {
    if browser_missing("an_administrator_changes_password_and_turns_on_totp") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    let browser = signed_in_admin(&server, 1280).await;
    browser.goto(&format!("{}/#/account", server.url)).await;

    // A wrong current password is refused next to the form.
    browser.fill("#admin-pw-old", "not-the-password").await;
    browser.fill("#admin-pw-new", "a-new-password-2").await;
    browser.fill("#admin-pw-again", "a-new-password-2").await;
    browser.click("#admin-pw-submit").await;
    browser
        .wait_text("#admin-pw-result", "current password is not right")
        .await;
    assert_eq!(
        value_of(&browser, "#admin-pw-new").await,
        json!("a-new-password-2")
    );
    browser.fill("#admin-pw-old", "admin").await;
    browser.click("#admin-pw-submit").await;
    browser
        .wait_text("#admin-pw-result", "Password changed")
        .await;
    let old = common::admin_post(&server.url, "/api/v1/admin/account/properties", &[]).await;
    assert_eq!(old.api_status(), 403);

    // TOTP: the secret is on the page; a code from it turns TOTP on. Three
    // codes are used below, each once and in order: start early enough in a
    // 30-second step that they stay valid.
    browser.click("#totp-start").await;
    let secret_el = browser.wait("#totp-secret").await;
    let url = secret_el.attr("data-url").await.unwrap().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    let secret = common::secret_from_url(&url);
    assert_eq!(secret_el.text().await.unwrap(), secret);
    let into_step = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 30;
    if into_step >= 27 {
        tokio::time::sleep(Duration::from_secs(31 - into_step)).await;
    }
    browser.fill("#totp-code", &totp_code(&secret, -1)).await;
    browser.click("#totp-confirm").await;
    browser
        .wait_text("#totp-card", "Two-factor authentication is on")
        .await;
    browser
        .wait_text("#account-signin-mode", "authenticator code")
        .await;

    // Now a password change asks for a code too.
    browser.fill("#admin-pw-old", "a-new-password-2").await;
    browser.fill("#admin-pw-new", "a-new-password-3").await;
    browser.fill("#admin-pw-again", "a-new-password-3").await;
    browser.click("#admin-pw-submit").await;
    browser
        .wait_text("#admin-pw-result", "Enter the code")
        .await;
    browser.fill("#admin-pw-totp", &totp_code(&secret, 0)).await;
    browser.click("#admin-pw-submit").await;
    browser
        .wait_text("#admin-pw-result", "Password changed")
        .await;

    // Signing in takes the new password and a code.
    browser.click("#sign-out").await;
    browser.wait("#signin-username").await;
    browser.sign_in(&server, "admin", "a-new-password-3").await;
    browser.wait("#signin-totp").await;
    browser.fill("#signin-totp", &totp_code(&secret, 1)).await;
    browser.click("#signin-verify").await;
    browser.wait_text("#signed-in-user", "admin").await;
    browser.stop().await;
}

#[tokio::test]
async fn a_user_group_with_a_policy_and_members() {
    if browser_missing("a_user_group_with_a_policy_and_members") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "ann").await;
    add_user(&server, "ben").await;
    let policy = json!({"Description": "Clinics", "Policy": {"PreventDeleteStorageVault": true}});
    let created = admin_json(
        &server,
        "/api/v1/admin/policies/new",
        &[("Policy", &policy.to_string())],
    )
    .await;
    let policy_id = created["PolicyID"].as_str().unwrap().to_string();
    let browser = signed_in_admin(&server, 1280).await;

    browser.goto(&format!("{}/#/groups", server.url)).await;
    browser.click("#new-group").await;
    browser.fill("#group-new-name", "Dental clinics").await;
    browser.click("#group-new-submit").await;
    let url = wait_url(&browser, "#/groups/").await;
    let group_id = url.rsplit('/').next().unwrap().to_string();
    browser.wait_text("#group-members", "ben").await;
    browser
        .js(
            "const s = document.getElementById('group-policy'); s.value = arguments[0]; s.dispatchEvent(new Event('change'));",
            vec![json!(policy_id)],
        )
        .await;
    browser.click("#member-ann").await;
    browser.click("#group-save").await;
    browser.wait_text("#group-banner", "Changes saved").await;

    let group = admin_json(
        &server,
        "/api/v1/admin/user-groups/get",
        &[("GroupID", &group_id), ("IncludeUsers", "1")],
    )
    .await;
    assert_eq!(group["UserGroup"]["Name"], "Dental clinics");
    assert_eq!(group["UserGroup"]["PolicyID"], policy_id);
    let members: Vec<&String> = group["Users"].as_object().unwrap().keys().collect();
    assert_eq!(members, ["ann"]);
    let ann = server.admin().admin_get_user_profile("ann").await.unwrap();
    let ann = serde_json::to_value(&ann).unwrap();
    assert_eq!(ann["PolicyID"], policy_id);
    assert_eq!(ann["Policy"]["PreventDeleteStorageVault"], true);
    let ben =
        serde_json::to_value(server.admin().admin_get_user_profile("ben").await.unwrap()).unwrap();
    assert_ne!(ben["PolicyID"], policy_id);

    // The list shows the group with its policy and one member.
    browser.goto(&format!("{}/#/groups", server.url)).await;
    let row = browser.wait_text("#area-body", "Dental clinics").await;
    assert!(row.contains("Clinics"), "{row}");
    browser.stop().await;
}

/// Fills a server with a few realistic accounts for the screenshots.
#[tokio::test]
async fn jobs_are_listed_filtered_and_abandoned() {
    if browser_missing("jobs_are_listed_filtered_and_abandoned") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    add_user(&server, "erin").await;
    add_user(&server, "frank").await;
    let mut running = common::job("job-running", "frank", 1, 6001);
    running["EndTime"] = json!(0);
    common::record_jobs(
        &server,
        &[
            common::job("job-ok", "erin", 2, 5000),
            common::job("job-failed", "erin", 5, 7002),
            common::job("job-frank", "frank", 3, 5000),
            running,
        ],
    )
    .await;
    let browser = signed_in_admin(&server, 1280).await;

    // The dashboard counts the running job and lists recent ones in words.
    browser.wait_text("#stat-running-jobs", "1").await;
    browser.wait_text("#recent-jobs", "Backup").await;
    browser.wait_text("#recent-jobs", "Running").await;

    browser.goto(&format!("{}/#/jobs", server.url)).await;
    let text = browser.wait_text("#area-body", "Error").await;
    assert!(text.contains("Backup") && text.contains("Running") && text.contains("Success"));
    browser.wait_text("#jobs-count", "4 of 4").await;

    // Only the failed job is left when filtering by status.
    let select = |css: &str, value: &str| {
        format!(
            "const s = document.querySelector('{css}'); s.value = '{value}'; s.dispatchEvent(new Event('change'));"
        )
    };
    browser.js(&select("#jobs-status", "error"), vec![]).await;
    let text = browser.wait_text("#jobs-count", "1 of 4").await;
    assert!(text.contains("1 of 4"));
    let list = browser.wait_text("#area-body", "Error").await;
    assert!(!list.contains("Success") && !list.contains("Running"));
    browser.js(&select("#jobs-status", ""), vec![]).await;
    browser.js(&select("#jobs-account", "frank"), vec![]).await;
    browser.wait_text("#jobs-count", "2 of 4").await;

    // The details of one job.
    browser.click("button[data-details='job-running']").await;
    browser.wait_text("#job-details", "still running").await;
    browser.click("dialog .icon-btn").await;

    // Abandon the running job: it becomes "Abandoned", in the API too.
    browser.click("button[data-abandon='job-running']").await;
    browser.wait_text("#area-body", "Abandoned").await;
    assert!(!browser.is_present("button[data-abandon]").await);
    let job = admin_json(
        &server,
        "/api/v1/admin/get-job-properties",
        &[("JobID", "job-running")],
    )
    .await;
    assert_eq!(job["Status"], json!(7007));

    // An end user sees their own jobs only.
    browser.click("#sign-out").await;
    browser.wait("#signin-username").await;
    browser.sign_in(&server, "erin", "a-long-password-1").await;
    let text = browser.wait_text("#user-jobs", "Error").await;
    assert!(text.contains("Success") && !text.contains("Abandoned"));
    let rows = browser
        .js(
            "return document.querySelectorAll('#user-jobs tbody tr').length;",
            vec![],
        )
        .await;
    assert_eq!(rows, json!(2));
    browser.stop().await;
}

/// Selects `value` in the `<select>` matched by `css`, as a person would.
async fn choose(browser: &Browser, css: &str, value: &str) {
    browser
        .js(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change'));",
            vec![json!(css), json!(value)],
        )
        .await;
}

/// Waits until `script` returns true.
async fn wait_until(browser: &Browser, script: &str, what: &str) {
    let deadline = Instant::now() + WAIT;
    while browser.js(script, vec![]).await != json!(true) {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_devices_page_follows_an_agent_online_and_offline_and_revokes_it() {
    if browser_missing("the_devices_page_follows_an_agent_online_and_offline_and_revokes_it") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    new_account(&server, "dora").await;
    let mut agent = Agent::login(&server.url, "dora");
    let device = agent.device_id();
    let browser = signed_in_admin(&server, 1280).await;
    browser.goto(&format!("{}/#/devices", server.url)).await;
    let state = format!("[data-state-of='{device}']");

    // Registered by `login`, not connected yet.
    browser.wait_text(&state, "Offline").await;
    let list = browser.wait_text("#area-body", "web-01").await;
    assert!(
        list.contains("dora") && list.contains("Registered"),
        "{list}"
    );
    browser
        .wait_text("#devices-count", "1 device, 0 online")
        .await;
    browser.js("window.__sameDocument = 7;", vec![]).await;

    // The service connects, then dies: the row follows without a reload.
    agent.start();
    browser.wait_text(&state, "Online").await;
    let list = browser.wait_text("#area-body", "Connected since").await;
    assert!(list.contains("linux/"), "the reported platform: {list}");
    browser
        .wait_text("#devices-count", "1 device, 1 online")
        .await;
    agent.kill();
    browser.wait_text(&state, "Offline").await;
    browser.wait_text("#area-body", "Last seen").await;
    assert_eq!(
        browser.js("return window.__sameDocument;", vec![]).await,
        json!(7)
    );

    // Revoke, after a confirmation: the row goes, and the device with it.
    browser
        .click(&format!("button[data-revoke='{device}']"))
        .await;
    browser.wait_text("dialog", "Revoke web-01 of dora?").await;
    browser.click("#confirm-submit").await;
    browser
        .wait_text("#area-body", "No devices registered yet")
        .await;
    let stored = profile(&server, "dora").await;
    assert!(
        stored["Devices"].as_object().is_none_or(|d| d.is_empty()),
        "{stored}"
    );
    browser.stop().await;
}

#[tokio::test]
async fn a_running_job_shows_live_progress_and_its_log_and_is_cancelled() {
    if browser_missing("a_running_job_shows_live_progress_and_its_log_and_is_cancelled") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    new_account(&server, "bo").await;
    let agent = Agent::login(&server.url, "bo");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let big = data.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("noise.bin"), noise(8 << 20)).unwrap();
    let mut p = profile(&server, "bo").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    p["Sources"] = json!({"big": file_item(&device, &big)});
    p["BackupRules"] = json!({
        "slow": {"Source": "big", "Destination": "vault", "LimitVaultSpeedBps": 400_000},
    });
    set_profile(&server, "bo", &p).await;
    // A running job whose device is not connected.
    let mut stray = common::job("job-stray", "bo", 0, 6001);
    stray["EndTime"] = json!(0);
    stray["DeviceID"] = json!("gone-device");
    stray["CancellationID"] = json!("cancel-stray");
    common::record_jobs(&server, &[stray]).await;
    let browser = signed_in_admin(&server, 1280).await;
    browser.goto(&format!("{}/#/jobs", server.url)).await;

    // Its cancel is refused, and the server's reason is shown beside it.
    browser.click("button[data-cancel='job-stray']").await;
    browser
        .wait_text(
            "#area-body",
            "is not connected, so it cannot be told to stop",
        )
        .await;

    // A slow backup appears by itself and its progress moves while the page
    // stays open.
    let (slow, job_id) = agent.start_rule_backup(&server, "bo", "slow").await;
    let progress = format!("#area-body [data-progress='{job_id}']");
    browser.wait(&progress).await;
    browser.wait_text(&progress, "MiB").await;

    // Its details show the progress and the log as it grows.
    browser
        .click(&format!("button[data-details='{job_id}']"))
        .await;
    browser.wait_text("#job-details", "still running").await;
    browser
        .wait(&format!("#job-details [data-progress='{job_id}']"))
        .await;
    browser.wait_text("#job-log", "backing up big").await;
    browser.click("dialog .icon-btn").await;

    // Cancel: the device stops the job, which ends as cancelled (7005).
    browser
        .click(&format!("button[data-cancel='{job_id}']"))
        .await;
    let cancelled = job_where(&server, "bo", 20, |j| {
        j["GUID"] == job_id.as_str() && j["Status"] != 6001
    })
    .await;
    assert_eq!(cancelled["Status"], 7005, "{cancelled}");
    browser.wait_text("#area-body", "Cancelled").await;
    assert!(
        !browser
            .is_present(&format!("button[data-cancel='{job_id}']"))
            .await
    );
    let exit = slow.wait_with_output().unwrap();
    assert_eq!(exit.status.code(), Some(1));

    // The ended job's log, all of it and by severity.
    browser
        .click(&format!("button[data-details='{job_id}']"))
        .await;
    browser.wait_text("#job-details", "Cancelled").await;
    let log = browser.wait_text("#job-log", "backing up big").await;
    assert!(log.contains("Info"), "{log}");
    choose(&browser, "#job-log-severity", "E").await;
    wait_until(
        &browser,
        "return !document.getElementById('job-log').textContent.includes('backing up big');",
        "the Info lines left the log",
    )
    .await;
    browser.stop().await;
}

#[tokio::test]
async fn a_lobby_agent_is_registered_to_an_account_from_the_devices_page() {
    if browser_missing("a_lobby_agent_is_registered_to_an_account_from_the_devices_page") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    new_account(&server, "lea").await;
    let browser = signed_in_admin(&server, 1280).await;
    browser.goto(&format!("{}/#/devices", server.url)).await;
    browser
        .wait_text("#lobby-list", "No devices are waiting")
        .await;

    // An agent with only a server URL waits in the lobby.
    let mut agent = Agent::new();
    agent.start_in_lobby(&server.url, "lobby-01");
    browser.wait_text("#lobby-list", "lobby-01").await;
    let device = agent.device_id();

    // A wrong password is refused in the dialog, which keeps the choice.
    browser
        .click("button[aria-label='Register lobby-01 to an account']")
        .await;
    choose(&browser, "#register-account", "lea").await;
    browser.fill("#register-password", "not-the-password").await;
    browser.click("#register-submit").await;
    browser
        .wait_text("dialog .notice-error", "not the account's password")
        .await;
    assert_eq!(value_of(&browser, "#register-account").await, json!("lea"));
    browser.fill("#register-password", "password1").await;
    browser.click("#register-submit").await;

    // It leaves the lobby and comes back as the account's device.
    browser
        .wait_text("#lobby-list", "No devices are waiting")
        .await;
    browser
        .wait_text(&format!("[data-state-of='{device}']"), "Online")
        .await;
    let list = browser.wait_text("#area-body", "lobby-01").await;
    assert!(list.contains("lea"), "{list}");
    let stored = profile(&server, "lea").await;
    assert_eq!(stored["Devices"][&device]["FriendlyName"], "lobby-01");
    browser.stop().await;
}

#[tokio::test]
async fn the_device_view_backs_up_now_browses_a_snapshot_and_restores_a_file() {
    if browser_missing("the_device_view_backs_up_now_browses_a_snapshot_and_restores_a_file") {
        return;
    }
    device_view_scenario(false).await;
}

#[tokio::test]
#[ignore = "refreshes docs/screenshots; run with --ignored"]
async fn screenshots_of_the_device_view() {
    if browser_missing("screenshots_of_the_device_view") {
        return;
    }
    device_view_scenario(true).await;
}

/// A real agent and its device view: "Back up now", the snapshot browser
/// walked down to a file, that file restored into another directory, and
/// the account holder's own view of the same device.
async fn device_view_scenario(screenshot: bool) {
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    new_account(&server, "vic").await;
    let mut agent = Agent::login(&server.url, "vic");
    let device = agent.device_id();
    let data = tempfile::tempdir().unwrap();
    let tree = data.path().join("tree");
    make_tree(&tree);
    let photo = noise(96 << 10);
    std::fs::write(tree.join("a/b/photo.raw"), &photo).unwrap();
    let mut p = profile(&server, "vic").await;
    p["Destinations"] = json!({"vault": local_vault(&data.path().join("vault"))});
    p["Sources"] = json!({"files": file_item(&device, &tree)});
    p["BackupRules"] = json!({
        "nightly": {"Description": "Nightly files", "Source": "files", "Destination": "vault"},
    });
    set_profile(&server, "vic", &p).await;
    agent.start();

    // From the Devices page to the device, online.
    let browser = signed_in_admin(&server, 1280).await;
    browser.goto(&format!("{}/#/devices", server.url)).await;
    browser
        .wait_text(&format!("[data-state-of='{device}']"), "Online")
        .await;
    browser
        .click(&format!("a[data-device-link='{device}']"))
        .await;
    browser.wait_text("#device-state", "Online").await;

    // "Back up now": the started job is followed until it succeeds.
    browser.click("button[data-run-rule='nightly']").await;
    browser.wait_text("#device-jobs", "Nightly files").await;
    browser.wait_text("#device-jobs", "Success").await;

    // The new snapshot, listed when the job ended, searched by name, then
    // walked one folder at a time.
    browser.click("button[data-browse]").await;
    browser.fill("#snapshot-search", "PHOTO").await;
    browser.click("#snapshot-search-submit").await;
    let found = browser.wait_text("#snapshot-entries", "photo.raw").await;
    assert!(!found.contains("top.txt"), "{found}");
    browser.click("#search-clear").await;
    for part in tree.strip_prefix("/").unwrap().join("a/b").iter() {
        let name = part.to_str().unwrap();
        browser
            .click(&format!("button[data-open-dir='{name}']"))
            .await;
        browser.wait_text("#snapshot-path strong", name).await;
    }
    let file = tree.join("a/b/photo.raw");
    browser
        .click(&format!(
            "input[data-select-path='{}']",
            file.to_str().unwrap()
        ))
        .await;
    browser.wait_text("#restore-selection", "1 selected").await;
    if screenshot {
        browser
            .js(
                "document.getElementById('device-rules').scrollIntoView(); window.scrollBy(0, -72);",
                vec![],
            )
            .await;
        browser.screenshot("device-snapshots").await;
        browser.js("window.scrollTo(0, 0);", vec![]).await;
    }

    // Restored into another directory, where it is the same bytes.
    let restored = data.path().join("restored");
    browser.click("#restore-open").await;
    browser.click("#restore-directory").await;
    browser
        .fill("#restore-path", restored.to_str().unwrap())
        .await;
    browser.click("#restore-submit").await;
    browser
        .wait_text("#device-jobs li:first-child", "Restore")
        .await;
    browser
        .wait_text("#device-jobs li:first-child", "Success")
        .await;
    let copy = restored.join(file.strip_prefix("/").unwrap());
    assert_eq!(std::fs::read(&copy).unwrap(), photo);

    // Downloaded to this browser: a tar archive made on the device while
    // it is sent, holding the same bytes.
    browser
        .js(
            "window.downloaded = []; const make = URL.createObjectURL; URL.createObjectURL = (blob) => { window.downloaded.push(blob); return make(blob); };",
            vec![],
        )
        .await;
    browser.click("#restore-open").await;
    browser.click("#restore-download").await;
    browser.click("#restore-submit").await;
    wait_until(
        &browser,
        "return window.downloaded.length === 1",
        "a download",
    )
    .await;
    let read = "const done = arguments[arguments.length - 1]; window.downloaded[0].arrayBuffer().then((b) => { const u = new Uint8Array(b); let s = ''; for (let i = 0; i < u.length; i++) s += String.fromCharCode(u[i]); done(btoa(s)); });";
    let encoded = browser.client.execute_async(read, vec![]).await.unwrap();
    let tar_bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_str().unwrap())
        .unwrap();
    let mut archive = tar::Archive::new(tar_bytes.as_slice());
    let inside = archive
        .entries()
        .unwrap()
        .map(|entry| entry.unwrap())
        .find(|entry| entry.path().unwrap().ends_with("photo.raw"))
        .map(|mut entry| {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            bytes
        })
        .expect("photo.raw is in the archive");
    assert_eq!(inside, photo);

    // The job's link opens its details on the Jobs page.
    browser.click("#device-jobs li:first-child a").await;
    browser.wait_text("#job-details", "Restore").await;
    browser.stop().await;

    // The account holder reaches the same device and its snapshots.
    let browser = Browser::start(1280, 900).await;
    browser.sign_in(&server, "vic", "password1").await;
    browser.wait("#signed-in-user").await;
    browser.goto(&format!("{}/#/me/devices", server.url)).await;
    browser
        .click(&format!("a[data-device-link='{device}']"))
        .await;
    browser.wait("button[data-browse]").await;
    browser.stop().await;
}

async fn demo_data(server: &Server) {
    let admin = server.admin();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let accounts = [
        (
            "acme-corp",
            "Acme Corporation",
            "it@acme.example",
            412_000_000_000_i64,
            false,
        ),
        (
            "bluebird-dental",
            "Bluebird Dental",
            "office@bluebird.example",
            86_500_000_000,
            false,
        ),
        (
            "harbor-legal",
            "Harbor Legal LLP",
            "admin@harborlegal.example",
            230_100_000_000,
            true,
        ),
        (
            "northwind",
            "Northwind Traders",
            "ops@northwind.example",
            1_250_000_000_000,
            false,
        ),
    ];
    for (index, (name, display, email, bytes, suspended)) in accounts.into_iter().enumerate() {
        add_user(server, name).await;
        let mut profile = admin.admin_get_user_profile(name).await.unwrap();
        let mut value = serde_json::to_value(&profile).unwrap();
        value["AccountName"] = json!(display);
        value["Emails"] = json!([email]);
        value["IsSuspended"] = json!(suspended);
        value["Devices"] = json!({
            format!("dev-{name}-1"): {
                "FriendlyName": format!("{}-SRV01", name.split('-').next().unwrap().to_uppercase()),
                "RegistrationTime": now - 86_400 * (40 + index as i64 * 9),
                "PlatformVersion": {"distribution": "Windows Server", "version": "2022"},
                "ClientVersion": "25.9.6"
            },
            format!("dev-{name}-2"): {
                "FriendlyName": "Reception-PC",
                "RegistrationTime": now - 86_400 * 12,
                "PlatformVersion": {"distribution": "Windows", "version": "11"},
                "ClientVersion": "25.9.6"
            }
        });
        value["Destinations"] = json!({
            "vault-1": {
                "Description": "Primary cloud vault",
                "DestinationType": 1000,
                "S3BucketName": format!("{name}-backups"),
                "StorageLimitEnabled": true,
                "StorageLimitBytes": 2_000_000_000_000_i64,
                "Statistics": {"ClientProvidedSize": {"Size": bytes}}
            },
            "vault-2": {
                "Description": "On-site NAS",
                "DestinationType": 1002,
                "LocalcopyPath": "\\\\nas01\\backups",
                "Statistics": {"ClientProvidedSize": {"Size": bytes / 3}}
            }
        });
        value["Sources"] = json!({
            "item-1": {"Description": "Company files", "Engine": "engine1/file", "OwnerDevice": format!("dev-{name}-1"), "ModifyTime": now - 3600 * 5},
            "item-2": {"Description": "SQL Server databases", "Engine": "engine1/mssql", "OwnerDevice": format!("dev-{name}-1"), "ModifyTime": now - 86_400 * 3},
            "item-3": {"Description": "Disk image", "Engine": "engine1/windisk", "OwnerDevice": format!("dev-{name}-2"), "ModifyTime": now - 86_400 * 8}
        });
        value["BackupRules"] = json!({
            "rule-1": {"Description": "Nightly files", "Source": "item-1", "Destination": "vault-1", "Schedules": [{"FrequencyType": 8011, "SecondsPast": 79200}]},
            "rule-2": {"Description": "Databases to NAS", "Source": "item-2", "Destination": "vault-2", "Schedules": [{"FrequencyType": 8011, "SecondsPast": 3600}]}
        });
        profile = serde_json::from_value(value).unwrap();
        admin.admin_set_user_profile(name, &profile).await.unwrap();
    }
}

/// A day of jobs on the demo accounts' devices, one still running.
async fn demo_jobs(server: &Server) {
    let plan = [
        (
            "acme-corp",
            1,
            "item-1",
            "vault-1",
            4001,
            5000,
            1,
            1_840,
            48_200_000_000_i64,
        ),
        (
            "acme-corp",
            1,
            "item-2",
            "vault-2",
            4001,
            7001,
            3,
            610,
            12_900_000_000,
        ),
        (
            "bluebird-dental",
            2,
            "item-3",
            "vault-1",
            4001,
            6001,
            0,
            0,
            3_100_000_000,
        ),
        (
            "bluebird-dental",
            1,
            "item-1",
            "vault-1",
            4002,
            5000,
            5,
            95,
            1_400_000_000,
        ),
        ("northwind", 1, "item-2", "vault-2", 4001, 7002, 7, 42, 0),
        (
            "northwind",
            1,
            "item-1",
            "vault-1",
            4003,
            5000,
            9,
            320,
            880_000_000_000,
        ),
        ("harbor-legal", 2, "item-3", "vault-1", 4001, 7004, 14, 0, 0),
        (
            "northwind",
            2,
            "item-3",
            "vault-2",
            4001,
            5000,
            20,
            2_900,
            212_000_000_000,
        ),
    ];
    let jobs: Vec<Value> = plan
        .iter()
        .enumerate()
        .map(
            |(index, (user, device, item, vault, class, status, hours, took, size))| {
                let mut job = common::job(&format!("demo-job-{index}"), user, *hours, *status);
                let start = job["StartTime"].as_i64().unwrap() - 1_500;
                job["StartTime"] = json!(start);
                job["EndTime"] = json!(if *status == 6001 { 0 } else { start + took });
                if *status == 6001 {
                    job["Progress"] = json!({"Counter": 40, "BytesDone": size * 2 / 5,
                        "ItemsDone": 41_200, "ItemsTotal": 68_000});
                    job["CancellationID"] = json!(format!("cancel-{index}"));
                }
                job["Classification"] = json!(class);
                job["DeviceID"] = json!(format!("dev-{user}-{device}"));
                job["SourceGUID"] = json!(item);
                job["DestinationGUID"] = json!(vault);
                job["TotalSize"] = json!(size);
                job["UploadSize"] = json!(size / 40);
                job
            },
        )
        .collect();
    common::record_jobs(server, &jobs).await;
}

/// A policy, a group, a tenant with its administrator and a webhook, for the
/// screenshots; returns the policy's ID.
async fn demo_admin_data(server: &Server) -> String {
    let policy = json!({
        "Description": "Managed clients",
        "DefaultUserPolicy": true,
        "Policy": {
            "PreventChangeAccountPassword": true,
            "PreventAddCustomStorageVault": true,
            "PreventDeleteStorageVault": true,
            "ModeAdminResetPassword": 3,
            "StorageVaultProviders": {"ShouldRestrictProviderList": true, "AllowedProvidersWhenRestricted": [1003, 1000]}
        }
    });
    let created = admin_json(
        server,
        "/api/v1/admin/policies/new",
        &[("Policy", &policy.to_string())],
    )
    .await;
    let policy_id = created["PolicyID"].as_str().unwrap().to_string();
    let group = admin_json(
        server,
        "/api/v1/admin/user-groups/new",
        &[("Name", "Healthcare")],
    )
    .await;
    let group_id = group["UserGroupID"].as_str().unwrap().to_string();
    admin_json(
        server,
        "/api/v1/admin/user-groups/set-users-for-group",
        &[("GroupID", &group_id), ("Users", r#"["bluebird-dental"]"#)],
    )
    .await;
    let org = json!({"Name": "Harbor IT Reseller", "Hosts": ["backup.harbor-it.example"]});
    let tenant = admin_json(
        server,
        "/api/v1/admin/organization/set",
        &[("Organization", &org.to_string())],
    )
    .await;
    let tenant_id = tenant["ID"].as_str().unwrap().to_string();
    admin_json(
        server,
        "/api/v1/admin/admin-user/new",
        &[
            ("TargetUser", "harbor-ops"),
            ("TargetPassword", "a-long-password-1"),
            ("TargetOrgID", &tenant_id),
        ],
    )
    .await;
    let hooks = json!({"psa": {
        "URL": "https://psa.example.com/halley/events",
        "Level": "full",
        "WhiteListedEventTypes": [4100, 4101, 4201],
        "CustomHeaders": {"Authorization": "Bearer 3f9c…"}
    }});
    admin_json(
        server,
        "/api/v1/admin/meta/webhook-options/set",
        &[("WebhookOptions", &hooks.to_string())],
    )
    .await;
    policy_id
}

#[tokio::test]
#[ignore = "refreshes docs/screenshots; run with --ignored"]
async fn screenshots() {
    if browser_missing("screenshots") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    // The demo's running job started a while ago: it stays running.
    let server = Server::launch(Launch {
        args: vec!["--job-abandon-seconds".into(), "86400".into()],
        ..Default::default()
    });
    demo_data(&server).await;
    demo_jobs(&server).await;
    let browser = Browser::start(1200, 760).await;

    browser.goto(&format!("{}/", server.url)).await;
    browser.wait("#signin-username").await;
    browser.screenshot("sign-in").await;

    browser.sign_in(&server, "admin", "admin").await;
    browser.wait_text("#stat-accounts", "4").await;
    browser.wait_text("#live-state", "Live").await;
    let user = server.client(Auth::password("northwind", "a-long-password-1"));
    let _ = user.hybrid_session_start().await;
    add_user(&server, "summit-clinic").await;
    browser.wait_text("#live-events", "summit-clinic").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    browser.screenshot("dashboard").await;

    browser.goto(&format!("{}/#/jobs", server.url)).await;
    browser.wait_text("#area-body", "Abandon").await;
    browser.screenshot("jobs").await;

    browser.goto(&format!("{}/#/accounts", server.url)).await;
    browser.wait_text("#account-list", "northwind").await;
    browser.screenshot("accounts").await;

    browser
        .goto(&format!("{}/#/accounts/northwind", server.url))
        .await;
    browser.wait("#profile-account-name").await;
    browser.click("#tab-vaults").await;
    browser.wait_text(".tab-body", "northwind-backups").await;
    browser.screenshot("profile-editor").await;

    // The administration forms.
    let policy = demo_admin_data(&server).await;
    browser
        .goto(&format!("{}/#/policies/{policy}", server.url))
        .await;
    browser.wait("#policy-description").await;
    browser
        .fill("#policy-description", "Managed clients (no custom vaults)")
        .await;
    browser.screenshot("policy-editor").await;
    browser.goto(&format!("{}/#/settings", server.url)).await;
    browser.wait_text("#webhooks", "psa").await;
    browser.click("button[aria-label='Edit webhook psa']").await;
    browser.wait("#hook-url").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    browser.screenshot("webhook-form").await;

    // The Devices page, with real agents: one online, one in the lobby.
    let mut online = Agent::new();
    let login = online.output(&[
        "login",
        "--server",
        &server.url,
        "--username",
        "acme-corp",
        "--password",
        "a-long-password-1",
        "--device-name",
        "ACME-WS07",
    ]);
    assert!(login.status.success());
    online.start();
    let mut waiting = Agent::new();
    waiting.start_in_lobby(&server.url, "FRONTDESK-LT04");
    browser.goto(&format!("{}/#/devices", server.url)).await;
    browser.wait_text("#lobby-list", "FRONTDESK-LT04").await;
    browser
        .wait_text(
            &format!("[data-state-of='{}']", online.device_id()),
            "Online",
        )
        .await;
    browser.screenshot("devices").await;

    if !endpoint_built(&server, "/api/v1/admin/dispatcher/list-active").await {
        browser.goto(&format!("{}/#/devices", server.url)).await;
        browser.wait_text("#area-body", "not available").await;
        browser.screenshot("not-available").await;
    }

    let key = server
        .admin()
        .admin_account_session_start_as_user("northwind")
        .await
        .unwrap()
        .session_key;
    let portal = Portal::start().await;
    browser.client.set_window_size(1200, 760).await.unwrap();
    browser.goto(&portal.url(&server, "frame")).await;
    assert!(wait_app_loaded(&browser).await);
    browser
        .js(
            "window.send('user_session_login', 'northwind', arguments[0]);",
            vec![json!(key)],
        )
        .await;
    browser.client.enter_frame(0).await.unwrap();
    browser.wait_text("#user-account-name", "Northwind").await;
    // Show the end-user view alone, as a portal's full-size frame would.
    let key = server
        .admin()
        .admin_account_session_start_as_user("northwind")
        .await
        .unwrap()
        .session_key;
    browser.client.enter_parent_frame().await.unwrap();
    browser.goto(&format!("{}/", server.url)).await;
    browser.wait("#signed-in-user").await;
    browser.click("#sign-out").await;
    browser.wait("#signin-username").await;
    browser
        .js(
            "window.postMessage({msg: 'user_session_login', username: 'northwind', sessionkey: arguments[0]}, location.origin);",
            vec![json!(key)],
        )
        .await;
    browser.wait_text("#user-account-name", "Northwind").await;
    browser.screenshot("end-user").await;

    // More views, for review only (not committed).
    if let Some(dir) = std::env::var_os("HALLEY_REVIEW_SHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let shot = |name: &'static str| {
            let dir = dir.clone();
            let client = browser.client.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let png = client.screenshot().await.unwrap();
                std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
            }
        };
        browser.goto(&format!("{}/#/me/items", server.url)).await;
        shot("user-items").await;
        browser.click("#sign-out").await;
        browser.sign_in(&server, "admin", "admin").await;
        browser.wait("#signed-in-user").await;
        for view in [
            "settings", "account", "policies", "admins", "tenants", "groups",
        ] {
            browser.goto(&format!("{}/#/{view}", server.url)).await;
            shot(view).await;
        }
        browser
            .goto(&format!("{}/#/accounts/northwind", server.url))
            .await;
        browser.wait("#profile-account-name").await;
        shot("profile-general").await;
        for tab in ["items", "schedules", "devices", "quotas", "json"] {
            browser.click(&format!("#tab-{tab}")).await;
            shot(tab).await;
        }
        browser.goto(&format!("{}/#/accounts", server.url)).await;
        browser.wait_text("#account-list", "northwind").await;
        browser.click("details.menu summary").await;
        shot("accounts-menu").await;
        browser.click("#new-account").await;
        shot("accounts-new").await;
        browser.goto(&format!("{}/#/admins", server.url)).await;
        browser.click("#new-admin").await;
        browser.click("#admin-permissions-toggle").await;
        shot("admins-new").await;
        browser.goto(&format!("{}/#/tenants", server.url)).await;
        browser.click("#new-tenant").await;
        shot("tenants-new").await;
        browser.goto(&format!("{}/#/groups", server.url)).await;
        browser.wait_text("#area-body", "Healthcare").await;
        browser.click("a.group-link").await;
        browser.wait("#group-name").await;
        shot("group-editor").await;
        browser.goto(&format!("{}/#/settings", server.url)).await;
        browser.wait("#email-mode").await;
        shot("settings-full").await;
        browser.client.set_window_size(420, 860).await.unwrap();
        browser
            .goto(&format!("{}/#/policies/{policy}", server.url))
            .await;
        browser.wait("#policy-description").await;
        shot("narrow-policy").await;
        browser.goto(&format!("{}/#/settings", server.url)).await;
        browser.click("button[aria-label='Edit webhook psa']").await;
        shot("narrow-webhook").await;
        browser.goto(&format!("{}/#/account", server.url)).await;
        browser.wait("#admin-pw-old").await;
        shot("narrow-account").await;
        browser.goto(&format!("{}/#/dashboard", server.url)).await;
        shot("narrow-dashboard").await;
        browser.goto(&format!("{}/#/accounts", server.url)).await;
        shot("narrow-accounts").await;
        browser.click(".menu-toggle").await;
        shot("narrow-menu").await;
        browser.click("#sign-out").await;
        browser
            .sign_in(&server, "northwind", "a-long-password-1")
            .await;
        browser.wait("#signed-in-user").await;
    }
    browser.client.set_window_size(420, 860).await.unwrap();
    browser.goto(&format!("{}/#/me/security", server.url)).await;
    browser.wait("#pw-old").await;
    browser.screenshot("end-user-narrow").await;
    browser.stop().await;
}

#[tokio::test]
async fn a_storage_vault_is_requested_from_a_provider_in_the_profile_editor() {
    if browser_missing("a_storage_vault_is_requested_from_a_provider_in_the_profile_editor") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    new_account(&server, "rita").await;
    // The provider's own endpoint answers the new vault's location.
    let app = axum::Router::new().fallback(|| async {
        json!({"DestinationType": 1002, "LocalcopyPath": "/srv/vaults/rita"}).to_string()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let provider_url = format!("http://{}/allocate", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let options = json!([{"ID": "house", "Type": "custom", "Description": "House storage",
        "Custom": {"URL": provider_url, "CustomBodyType": "none"}}]);
    admin_json(
        &server,
        "/api/v1/admin/meta/remote-storage-vault/set",
        &[("RemoteStorageOptions", &options.to_string())],
    )
    .await;

    let browser = signed_in_admin(&server, 1280).await;
    browser
        .goto(&format!("{}/#/accounts/rita", server.url))
        .await;
    browser.click("#tab-vaults").await;
    browser.click("#request-vault").await;
    browser
        .wait_text("#request-vault-provider", "House storage")
        .await;
    browser.click("#request-vault-submit").await;
    browser.wait_text(".tab-body", "Local path").await;
    let vaults = profile(&server, "rita").await["Destinations"].clone();
    let added = vaults.as_object().unwrap().values().next().unwrap().clone();
    assert_eq!(added["Description"], "House storage", "{vaults}");
    assert_eq!(added["LocalcopyPath"], "/srv/vaults/rita");
    let shown = value_of(&browser, "input[aria-label='Storage Vault name']").await;
    assert_eq!(shown, "House storage");
    browser.stop().await;
}

#[tokio::test]
async fn the_storage_page_hosts_buckets_and_an_account_holder_requests_one() {
    if browser_missing("the_storage_page_hosts_buckets_and_an_account_holder_requests_one") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    new_account(&server, "sam").await;
    let browser = signed_in_admin(&server, 1280).await;

    // The role is off until it is turned on here.
    browser.goto(&format!("{}/#/storage", server.url)).await;
    browser.wait_text("#buckets", "Storage Role").await;
    browser.click("#storage-role-enabled").await;
    browser.click("#storage-role-save").await;
    browser.wait_text("#buckets", "No buckets yet").await;

    // A new bucket shows its key once, then is listed, then deleted.
    browser.click("#new-bucket").await;
    browser.fill("#bucket-quota", "1").await;
    browser.click("#bucket-submit").await;
    browser.wait("#new-bucket-key").await;
    let id = value_of(&browser, "#new-bucket-id").await;
    let id = id.as_str().unwrap().to_string();
    assert_eq!(
        value_of(&browser, "#new-bucket-key")
            .await
            .as_str()
            .unwrap()
            .len(),
        32
    );
    browser.click("#bucket-done").await;
    browser.wait_text("#buckets", &id).await;
    browser
        .click(&format!("button[aria-label='Delete bucket {id}']"))
        .await;
    browser.fill("#confirm-text", &id[..8]).await;
    browser.click("#confirm-submit").await;
    browser.wait_text("#buckets", "No buckets yet").await;

    // A provider of this server's own buckets, tested, then saved.
    browser.click("#add-provider").await;
    choose(&browser, "#provider-type", "comet").await;
    browser.fill("#provider-name", "House buckets").await;
    browser.click("#provider-test").await;
    browser
        .wait_text("#provider-test-result", "usable Storage Vault")
        .await;
    browser.click("#provider-submit").await;
    browser.wait_text("#providers", "House buckets").await;

    // The account holder requests a vault from it.
    browser.click("#sign-out").await;
    browser.sign_in(&server, "sam", "password1").await;
    browser.wait("#signed-in-user").await;
    browser.goto(&format!("{}/#/me/vaults", server.url)).await;
    browser.click("#user-request-vault").await;
    browser
        .wait_text("#request-vault-provider", "House buckets")
        .await;
    browser.click("#request-vault-submit").await;
    browser.wait_text("#main", "House buckets").await;
    let vaults = profile(&server, "sam").await["Destinations"].clone();
    let vault = vaults.as_object().unwrap().values().next().unwrap().clone();
    assert_eq!(vault["DestinationType"], 1003, "{vaults}");
    assert_eq!(vault["CometServer"], format!("{}/", server.url));
    let buckets = admin_json(&server, "/api/v1/admin/storage/list-buckets", &[]).await;
    assert!(buckets
        .get(vault["CometBucket"].as_str().unwrap())
        .is_some());
    browser.stop().await;
}

#[tokio::test]
async fn an_administrator_adds_a_security_key_and_signs_in_with_it() {
    if browser_missing("an_administrator_adds_a_security_key_and_signs_in_with_it") {
        return;
    }
    let _lock = BROWSER_LOCK.lock().await;
    let server = Server::start();
    // Another administrator reads the configuration at the end.
    admin_json(
        &server,
        "/api/v1/admin/admin-user/new",
        &[("TargetUser", "auditor"), ("TargetPassword", "password1")],
    )
    .await;
    // Security keys need a host name: the browser uses localhost.
    let named = server.url.replace("127.0.0.1", "localhost");
    let browser = Browser::start(1280, 900).await;
    browser.add_virtual_authenticator().await;
    let sign_in = || async {
        browser.goto(&format!("{named}/")).await;
        browser.fill("#signin-username", "admin").await;
        browser.fill("#signin-password", "admin").await;
        browser.click("#signin-submit").await;
    };
    sign_in().await;
    browser.wait("#signed-in-user").await;

    browser.goto(&format!("{named}/#/account")).await;
    browser.fill("#key-description", "Desk key").await;
    browser.click("#add-security-key").await;
    browser.wait_text("#main", "Desk key").await;
    browser.click("#require-security-key").await;
    browser
        .wait_text("#security-key-status", "asks for one of these keys")
        .await;

    // Signing in again takes the password, then the key.
    browser.click("#sign-out").await;
    sign_in().await;
    browser.click("#signin-use-key").await;
    browser.wait("#signed-in-user").await;
    let config = common::post_form(
        &server.url,
        "/api/v1/admin/meta/server-config/get",
        &[
            ("Username", "auditor"),
            ("AuthType", "Password"),
            ("Password", "password1"),
        ],
    )
    .await
    .json();
    let admin = &config["AdminUsers"][0];
    assert_ne!(admin["AllowPasswordLogin"], true, "{admin}");
    assert_eq!(
        admin["WebAuthnRegistrations"][0]["Description"], "Desk key",
        "{config}"
    );
    browser.stop().await;
}
