//! Test harness: a real `halleyd` process on an ephemeral loopback port with
//! its own temporary data directory, and helpers to talk to it over HTTP.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use halley_client::{Auth, Client};

pub mod agent;
pub mod postgres;
pub mod s3;

pub struct Server {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    /// How many times a run of the process has said where it listens: one
    /// more run at each restart.
    listening: Arc<AtomicUsize>,
    _temp: Option<tempfile::TempDir>,
    _database: Option<postgres::TestDatabase>,
}

/// A data directory (and PostgreSQL database) kept past its server's handle.
pub struct KeptData {
    _dir: Option<tempfile::TempDir>,
    _database: Option<postgres::TestDatabase>,
}

/// Where a data directory's server keeps its store, when not in its
/// `halley.db`: written at first start, read at every start after.
const DATABASE_URL_FILE: &str = "test-database-url";

/// Whether the servers of this run use PostgreSQL: `HALLEY_TEST_DATABASE`
/// is `postgres`, or SQLite, the default.
pub fn on_postgres() -> bool {
    match std::env::var("HALLEY_TEST_DATABASE").as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Ok("") | Err(_) => false,
        Ok(other) => panic!("HALLEY_TEST_DATABASE is postgres or sqlite, not {other}"),
    }
}

/// The `--database` a server of this data directory starts with, if any.
pub fn database_args(data_dir: &Path) -> Vec<String> {
    match std::fs::read_to_string(data_dir.join(DATABASE_URL_FILE)) {
        Ok(url) => vec!["--database".into(), url],
        Err(_) => vec![],
    }
}

/// Makes the servers of this data directory start on `url` from now on.
pub fn use_database(data_dir: &Path, url: &str) {
    std::fs::write(data_dir.join(DATABASE_URL_FILE), url).unwrap();
}

/// The store of a server's data directory, opened beside the server.
pub async fn open_store(data_dir: &Path) -> std::sync::Arc<dyn halley_server::store::Store> {
    use halley_server::store::Database;
    let database = match std::fs::read_to_string(data_dir.join(DATABASE_URL_FILE)) {
        Ok(url) => Database::Postgres(url),
        Err(_) => Database::Sqlite(data_dir.join(halley_server::server::DATABASE_FILE)),
    };
    database.open().await.expect("the server's store opens")
}

/// Everything the store holds as bytes, for tests that look for what must
/// never be stored: SQLite's files, or a dump of the PostgreSQL database.
pub fn stored_bytes(data_dir: &Path) -> Vec<u8> {
    match std::fs::read_to_string(data_dir.join(DATABASE_URL_FILE)) {
        Ok(url) => {
            let dump = Command::new("pg_dump")
                .args(["--data-only", &url])
                .output()
                .expect("pg_dump runs");
            assert!(
                dump.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&dump.stderr)
            );
            dump.stdout
        }
        Err(_) => ["halley.db", "halley.db-wal"]
            .iter()
            .flat_map(|file| std::fs::read(data_dir.join(file)).unwrap_or_default())
            .collect(),
    }
}

pub struct Launch {
    pub listen: Vec<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Written as `cometd.cfg` before the first start.
    pub config: Option<serde_json::Value>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            listen: vec!["127.0.0.1:0".into()],
            args: vec![],
            env: vec![],
            config: None,
        }
    }
}

impl Server {
    pub fn start() -> Server {
        Server::launch(Launch::default())
    }

    pub fn launch(launch: Launch) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let data_dir = temp.path().to_path_buf();
        if let Some(config) = &launch.config {
            std::fs::write(
                data_dir.join("cometd.cfg"),
                serde_json::to_vec_pretty(config).unwrap(),
            )
            .unwrap();
        }
        let database = on_postgres().then(postgres::TestDatabase::create_blocking);
        if let Some(database) = &database {
            std::fs::write(data_dir.join(DATABASE_URL_FILE), &database.url).unwrap();
        }
        let mut server = Server::spawn_in(&data_dir, &launch);
        server._temp = Some(temp);
        server._database = database;
        server
    }

    /// Starts `halleyd` on an existing data directory (after a restart, say).
    pub fn spawn_in(data_dir: &Path, launch: &Launch) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_halleyd"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(database_args(data_dir));
        for listen in &launch.listen {
            command.arg("--listen").arg(listen);
        }
        command
            .args(&launch.args)
            .env_remove("HALLEY_LISTEN")
            .env_remove("HALLEY_DATA_DIR")
            .env_remove("HALLEY_DATABASE")
            .env_remove("HALLEY_INITIAL_ADMIN_PASSWORD")
            .env("HALLEY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("halleyd starts");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, receiver) = mpsc::channel();
        let listening = Arc::new(AtomicUsize::new(0));
        let counted = listening.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("halleyd listening on ") {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let _ = sender.send(url.to_string());
                }
            }
        });
        let url = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("halleyd prints the address it listens on");
        Server {
            child,
            url,
            data_dir: data_dir.to_path_buf(),
            listening,
            _temp: None,
            _database: None,
        }
    }

    pub fn client(&self, auth: Auth) -> Client {
        Client::new(&self.url, auth)
    }

    /// The administrator created at first start on loopback.
    pub fn admin(&self) -> Client {
        self.client(Auth::password("admin", "admin"))
    }

    /// A session key of the default `admin`.
    pub async fn admin_session_key(&self) -> String {
        self.admin()
            .admin_account_session_start()
            .await
            .expect("admin session")
            .session_key
    }

    pub fn anonymous(&self) -> Client {
        self.client(Auth::None)
    }

    /// Makes `call` (one that restarts the server when it succeeds, as
    /// `meta/server-config/set` does) and waits for the next run to listen.
    pub async fn restarting(&self, call: impl std::future::Future<Output = Answer>) -> Answer {
        let before = self.listening.load(Ordering::SeqCst);
        let answer = call.await;
        if answer.api_status() == 200 {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while self.listening.load(Ordering::SeqCst) == before {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the server never restarted"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        answer
    }

    /// Saves the whole configuration as `admin`, and waits for the restart.
    pub async fn set_config(&self, config: &serde_json::Value) -> Answer {
        let config = config.to_string();
        let path = "/api/v1/admin/meta/server-config/set";
        self.restarting(admin_post(&self.url, path, &[("Config", &config)]))
            .await
    }

    /// Ends the process at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `seconds` for the process to end by itself.
    pub fn wait_exit(&mut self, seconds: u64) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Takes the data directory (and database) away from this handle so it
    /// outlives the process.
    pub fn keep_data_dir(&mut self) -> KeptData {
        KeptData {
            _dir: self._temp.take(),
            _database: self._database.take(),
        }
    }

    pub fn config(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.data_dir.join("cometd.cfg")).unwrap()).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP answer as a client sees it.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The CARM `Status` of the body.
    pub fn api_status(&self) -> i64 {
        self.json()["Status"].as_i64().expect("an integer Status")
    }

    pub fn message(&self) -> String {
        self.json()["Message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Asserts a refusal with `status` whose message names `needle`.
    pub fn assert_refused(&self, status: i64, needle: &str) {
        assert_eq!(self.api_status(), status, "{}", self.message());
        assert!(self.message().contains(needle), "{}", self.message());
    }
}

/// POSTs a form, exactly as the API guide's examples do.
pub async fn post_form(url: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .form(fields)
        .send()
        .await
        .expect("request");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// POSTs a form with the `admin` / `admin` credentials added.
pub async fn admin_post(url: &str, path: &str, fields: &[(&str, &str)]) -> Answer {
    let mut all = vec![
        ("Username", "admin"),
        ("AuthType", "Password"),
        ("Password", "admin"),
    ];
    all.extend_from_slice(fields);
    post_form(url, path, &all).await
}

/// The current TOTP code of a base32 secret, `steps` 30-second steps from now.
/// An account with the password `password1`.
pub async fn new_account(server: &Server, name: &str) {
    admin_post(
        &server.url,
        "/api/v1/admin/add-user",
        &[("TargetUser", name), ("TargetPassword", "password1")],
    )
    .await
    .assert_refused(200, "OK");
}

pub async fn profile(server: &Server, name: &str) -> serde_json::Value {
    admin_post(
        &server.url,
        "/api/v1/admin/get-user-profile",
        &[("TargetUser", name)],
    )
    .await
    .json()
}

pub async fn set_profile(server: &Server, name: &str, profile: &serde_json::Value) {
    admin_post(
        &server.url,
        "/api/v1/admin/set-user-profile",
        &[("TargetUser", name), ("ProfileData", &profile.to_string())],
    )
    .await
    .assert_refused(200, "OK");
}

/// POSTs a multipart `form` as `admin` with `password`, the credentials in
/// headers as the SDKs send them with a multipart body; gives the JSON answer.
pub async fn admin_multipart(
    url: &str,
    path: &str,
    password: &str,
    form: reqwest::multipart::Form,
) -> serde_json::Value {
    reqwest::Client::new()
        .post(format!("{url}{path}"))
        .header("X-Comet-Admin-Username", "admin")
        .header("X-Comet-Admin-AuthType", "Password")
        .header("X-Comet-Admin-Password", password)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Uploads `bytes` as `meta/resource/new` does (multipart part `upload`) as
/// the default `admin`; gives the JSON answer.
pub async fn upload_resource(url: &str, bytes: Vec<u8>) -> serde_json::Value {
    let form = reqwest::multipart::Form::new().part(
        "upload",
        reqwest::multipart::Part::bytes(bytes).file_name("upload.bin"),
    );
    admin_multipart(url, "/api/v1/admin/meta/resource/new", "admin", form).await
}

/// Turns TOTP on for the default `admin`; gives its secret.
pub async fn enrol_admin_totp(server: &Server) -> String {
    let admin = server.admin();
    let totp = admin.admin_account_regenerate_totp().await.unwrap();
    let secret = secret_from_url(&totp.url);
    admin
        .admin_account_validate_totp(&totp_code(&secret, -1))
        .await
        .unwrap();
    secret
}

/// The fields of an `admin` sign-in with its password and this TOTP code.
pub fn admin_with_code(code: &str) -> [(&'static str, &str); 4] {
    [
        ("Username", "admin"),
        ("AuthType", "PasswordTOTP"),
        ("Password", "admin"),
        ("TOTP", code),
    ]
}

pub fn totp_code(secret: &str, steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_string())
        .to_bytes()
        .unwrap();
    let totp =
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp.generate((now + steps * 30) as u64)
}

/// Reads the secret out of an `otpauth://` URL.
pub fn secret_from_url(url: &str) -> String {
    url.split(['?', '&'])
        .find_map(|part| part.strip_prefix("secret="))
        .expect("secret in otpauth URL")
        .to_string()
}

/// One request a webhook receiver got.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: axum::http::HeaderMap,
    pub event: serde_json::Value,
}

/// A real HTTP server on loopback that records webhook deliveries; it answers
/// 500 to the first `fail_first` requests, then 200.
pub struct WebhookReceiver {
    pub url: String,
    pub deliveries: tokio::sync::mpsc::UnboundedReceiver<Delivery>,
    pub requests: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl WebhookReceiver {
    pub async fn start(fail_first: usize) -> WebhookReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        WebhookReceiver::serve(listener, fail_first)
    }

    pub fn serve(listener: tokio::net::TcpListener, fail_first: usize) -> WebhookReceiver {
        use std::sync::atomic::Ordering;
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (sender, deliveries) = tokio::sync::mpsc::unbounded_channel();
        let requests = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = requests.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let sender = sender.clone();
                    let counter = counter.clone();
                    async move {
                        if counter.fetch_add(1, Ordering::SeqCst) < fail_first {
                            return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        let event = serde_json::from_slice(&body).expect("a JSON event");
                        let _ = sender.send(Delivery { headers, event });
                        axum::http::StatusCode::OK
                    }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebhookReceiver {
            url,
            deliveries,
            requests,
        }
    }

    /// The next delivery, within `seconds`.
    pub async fn next(&mut self, seconds: u64) -> Delivery {
        tokio::time::timeout(Duration::from_secs(seconds), self.deliveries.recv())
            .await
            .expect("a webhook delivery in time")
            .expect("receiver open")
    }

    /// Deliveries until one of type `event_type` arrives; returns it.
    pub async fn until_type(&mut self, event_type: i64, seconds: u64) -> Delivery {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let delivery = tokio::time::timeout(left, self.deliveries.recv())
                .await
                .unwrap_or_else(|_| panic!("no event of type {event_type} in time"))
                .unwrap();
            if delivery.event["Type"] == event_type {
                return delivery;
            }
        }
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the event stream and sends the five credential frames.
pub async fn open_stream(url: &str, frames: [&str; 5]) -> (Socket, String) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let ws_url = format!("{}/api/v1/events/stream", url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket connects");
    for frame in frames {
        socket.send(Message::Text(frame.into())).await.unwrap();
    }
    let first = match socket.next().await {
        Some(Ok(Message::Text(text))) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    };
    (socket, first)
}

/// The next event frame, as JSON.
pub async fn next_event(socket: &mut Socket) -> serde_json::Value {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("frame");
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).expect("JSON event");
        }
    }
}

/// Records jobs in the server's job history, as devices report them.
pub async fn record_jobs(server: &Server, jobs: &[serde_json::Value]) {
    use halley_server::store::{JobRecord, TenantScope};
    let store = open_store(&server.data_dir).await;
    for job in jobs {
        store
            .job_put(
                &TenantScope::server_wide(),
                &JobRecord {
                    guid: job["GUID"].as_str().unwrap().into(),
                    username: job["Username"].as_str().unwrap().into(),
                    organization_id: job["OrganizationID"].as_str().unwrap_or("").into(),
                    start_time: job["StartTime"].as_i64().unwrap(),
                    end_time: job["EndTime"].as_i64().unwrap_or(0),
                    status: job["Status"].as_i64().unwrap_or(0),
                    detail_json: job.to_string(),
                },
            )
            .await
            .unwrap();
    }
}

/// A backup job of `user` that started `hours_ago` and took 90 seconds.
pub fn job(guid: &str, user: &str, hours_ago: i64, status: u64) -> serde_json::Value {
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - hours_ago * 3600;
    serde_json::json!({"GUID": guid, "Username": user, "Classification": 4001, "Status": status,
           "StartTime": start, "EndTime": start + 90, "SourceGUID": "docs", "DestinationGUID": "v1",
           "TotalSize": 5 << 20})
}

/// Creates a tenant named `name` through the API and returns its ID.
pub async fn create_tenant(server: &Server, name: &str) -> String {
    let created = admin_post(
        &server.url,
        "/api/v1/admin/organization/set",
        &[(
            "Organization",
            &serde_json::json!({"Name": name}).to_string(),
        )],
    )
    .await
    .json();
    assert_eq!(created["Status"], 200, "{created}");
    created["ID"].as_str().unwrap().to_string()
}

/// Creates an administrator of the tenant `org`.
pub async fn create_tenant_admin(server: &Server, org: &str, username: &str, password: &str) {
    let new = admin_post(
        &server.url,
        "/api/v1/admin/admin-user/new",
        &[
            ("TargetUser", username),
            ("TargetPassword", password),
            ("TargetOrgID", org),
        ],
    )
    .await;
    assert_eq!(new.api_status(), 200, "{}", new.message());
}

/// Restores the newest snapshot of the vault at `vault` and returns the
/// restored data directory.
pub fn restore_self_backup(vault: &Path, key: &str, into: &Path) -> PathBuf {
    let repo = halley_vault::Repository::open(
        std::sync::Arc::new(halley_vault::backend::LocalBackend::new(vault)),
        key,
    )
    .unwrap();
    let snapshots = repo.snapshots().unwrap();
    let newest = snapshots.last().expect("a snapshot");
    halley_vault::restore(&repo, newest, into, &[], &halley_vault::no_progress).unwrap();
    find_file(into, "cometd.cfg")
        .expect("cometd.cfg in the snapshot")
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir() {
            if let Some(found) = find_file(&path, name) {
                return Some(found);
            }
        }
    }
    None
}
