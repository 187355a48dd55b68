//! Test harness: a real `halley-account serve` process on an ephemeral
//! loopback port with its own temporary data directory, an account and an API
//! token made with the real command line, and helpers to talk to it over HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const EMAIL: &str = "owner@example.com";
pub const PASSWORD: &str = "correct horse battery staple";

pub fn portal_exe() -> &'static str {
    env!("CARGO_BIN_EXE_halley-account")
}

/// The workspace's `halleyd`, built on first use when missing (run the tests
/// with `cargo test --workspace` so that it is current).
pub fn halleyd() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    BUILT
        .get_or_init(|| {
            let _guard = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
            let path = Path::new(portal_exe()).with_file_name("halleyd");
            // `cargo test --workspace` has built it already; a nested build
            // would resolve features differently and rebuild half the tree.
            if !path.is_file() {
                let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "-p", "halley-server", "--bin", "halleyd"])
                    .status()
                    .expect("cargo runs");
                assert!(status.success(), "building halleyd failed");
            }
            assert!(path.is_file(), "no halleyd at {}", path.display());
            path
        })
        .clone()
}

/// Runs the portal's command line; returns (success, stdout, stderr).
pub fn cli(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(portal_exe())
        .args(args)
        .env("HALLEY_LOG", "warn")
        .output()
        .expect("halley-account runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

pub struct Portal {
    child: Option<Child>,
    pub url: String,
    pub data_dir: PathBuf,
    pub token: String,
    pub extra_args: Vec<String>,
    _temp: tempfile::TempDir,
}

impl Portal {
    pub fn start() -> Portal {
        Portal::start_with(&[])
    }

    /// A portal with one account (`EMAIL` / `PASSWORD`) and a token for it;
    /// `args` go to `serve`.
    pub fn start_with(args: &[&str]) -> Portal {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().to_path_buf();
        let dir = data_dir.to_str().unwrap();
        let (ok, _, err) = cli(&[
            "create-account",
            "--data-dir",
            dir,
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
        ]);
        assert!(ok, "create-account: {err}");
        let (ok, out, err) = cli(&["create-token", "--data-dir", dir, "--email", EMAIL]);
        assert!(ok, "create-token: {err}");
        let mut portal = Portal {
            child: None,
            url: String::new(),
            data_dir,
            token: out.trim().to_string(),
            extra_args: args.iter().map(|a| a.to_string()).collect(),
            _temp: temp,
        };
        portal.spawn();
        portal
    }

    /// Starts (again) the `serve` process on this portal's data directory.
    pub fn spawn(&mut self) {
        let mut command = Command::new(portal_exe());
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(&self.extra_args)
            .env("HALLEY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for var in [
            "HALLEY_ACCOUNT_DATA_DIR",
            "HALLEY_ACCOUNT_LISTEN",
            "HALLEY_ACCOUNT_REGIONS",
            "HALLEY_ACCOUNT_CATALOGUE",
        ] {
            command.env_remove(var);
        }
        if !self.extra_args.iter().any(|a| a == "--halleyd") {
            command.arg("--halleyd").arg(halleyd());
        }
        let mut child = command.spawn().expect("halley-account serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("halley-account listening on ") {
                    let _ = sender.send(url.to_string());
                }
            }
        });
        self.url = receiver
            .recv_timeout(Duration::from_secs(60))
            .expect("the portal prints the address it listens on");
        self.child = Some(child);
    }

    /// Stops the portal as an operator would (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Ends the portal at once, as a crash would: its instances are orphaned.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        post_form(&self.url, path, fields).await
    }

    /// POSTs with the token credentials added.
    pub async fn call(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("authType", "apiToken"), ("apiToken", self.token.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// POSTs with the password credentials added.
    pub async fn call_password(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("email", EMAIL), ("password", PASSWORD)];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP answer as a client sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn content_type(&self) -> String {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts the API guide's text/plain error row.
    #[track_caller]
    pub fn assert_text_error(&self, status: u16, starts_with: &str) {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert!(
            self.content_type().starts_with("text/plain"),
            "content type {}",
            self.content_type()
        );
        assert!(
            self.text().starts_with(starts_with),
            "body '{}' should start with '{starts_with}'",
            self.text()
        );
    }
}

/// POSTs a form, as the API guide's curl examples do.
pub async fn post_form(url: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .form(fields)
        .send()
        .await
        .expect("request");
    answer(response).await
}

pub async fn answer(response: reqwest::Response) -> Answer {
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// Polls `check` every 100 ms until it returns Some, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
