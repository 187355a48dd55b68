//! The real `halley-agent` driven from tests: its binary, a state directory
//! per agent, its `run` service, and reading the jobs it reports.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{admin_post, next_event, Server, Socket};

/// The agent binary, built beside `halleyd`: built once per run, so a test
/// never drives a stale one.
pub fn agent_binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let built = Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "halley-agent", "--bin", "halley-agent"])
                .status()
                .expect("cargo runs");
            assert!(built.success(), "halley-agent builds");
            Path::new(env!("CARGO_BIN_EXE_halleyd")).with_file_name("halley-agent")
        })
        .clone()
}

pub struct Agent {
    pub state_dir: tempfile::TempDir,
    binary: PathBuf,
    service: Option<Child>,
}

impl Agent {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("--state-dir")
            .arg(self.state_dir.path())
            .args(args)
            .env("HALLEY_AGENT_LOG", "warn");
        command
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("halley-agent runs")
    }

    pub fn login(server_url: &str, username: &str) -> Agent {
        let agent = Agent::new();
        let out = agent.try_login(server_url, username);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        agent
    }

    pub fn new() -> Agent {
        Agent::with_binary(agent_binary())
    }

    /// An agent that runs another copy of the binary (one a test may
    /// replace or remove).
    pub fn with_binary(binary: PathBuf) -> Agent {
        Agent {
            state_dir: tempfile::tempdir().unwrap(),
            binary,
            service: None,
        }
    }

    pub fn try_login(&self, server_url: &str, username: &str) -> Output {
        self.output(&[
            "login",
            "--server",
            server_url,
            "--username",
            username,
            "--password",
            "password1",
            "--device-name",
            "web-01",
        ])
    }

    /// Runs a one-off command, failing the test if it takes over `seconds`.
    pub fn output_within(&self, args: &[&str], seconds: u64) -> Output {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("halley-agent {args:?} took over {seconds} s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().unwrap()
    }

    pub fn device_id(&self) -> String {
        let state: Value = serde_json::from_slice(
            &std::fs::read(self.state_dir.path().join("agent.json")).unwrap(),
        )
        .unwrap();
        state["device_id"].as_str().unwrap().to_string()
    }

    pub fn start(&mut self) {
        let child = self
            .command(&["run"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.service = Some(child);
    }

    /// The `run` service of an agent without credentials: it waits in the
    /// server's registration lobby as `device_name`.
    pub fn start_in_lobby(&mut self, server_url: &str, device_name: &str) {
        let child = self
            .command(&["run", "--server", server_url, "--device-name", device_name])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.service = Some(child);
    }

    /// The process ID of the `run` service, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.service.as_ref().map(Child::id)
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts `backup --rule RULE` (a slow one, for a test to act on while it
    /// runs) and waits until its job of account `name` is running; gives
    /// the command and the job's ID.
    pub async fn start_rule_backup(
        &self,
        server: &Server,
        name: &str,
        rule: &str,
    ) -> (Child, String) {
        let command = self
            .command(&["backup", "--rule", rule])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let running = job_where(server, name, 20, |j| {
            j["BackupRuleGUID"] == rule && j["Status"] == 6001
        })
        .await;
        (command, running["GUID"].as_str().unwrap().to_string())
    }

    /// How the `run` service exited by itself, within `seconds`.
    pub fn exit_status(&mut self, seconds: u64) -> Option<std::process::ExitStatus> {
        let child = self.service.as_mut()?;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                self.service = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn jobs(server: &Server, name: &str) -> Vec<Value> {
    admin_post(
        &server.url,
        "/api/v1/admin/get-jobs-for-user",
        &[("TargetUser", name)],
    )
    .await
    .json()
    .as_array()
    .cloned()
    .unwrap_or_default()
}

/// Waits for a job of `name` that `matches`.
pub async fn job_where(
    server: &Server,
    name: &str,
    seconds: u64,
    matches: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let all = jobs(server, name).await;
        if let Some(found) = all.iter().find(|job| matches(job)) {
            return found.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no such job in {seconds} s; jobs: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads the event stream until an event `matches`.
pub async fn event_where(socket: &mut Socket, matches: impl Fn(&Value) -> bool) -> Value {
    loop {
        let event = next_event(socket).await;
        if matches(&event) {
            return event;
        }
    }
}

pub async fn log_text(server: &Server, job_id: &str) -> String {
    let answer = admin_post(
        &server.url,
        "/api/v1/admin/get-job-log",
        &[("JobID", job_id)],
    )
    .await;
    String::from_utf8_lossy(&answer.body).to_string()
}

pub fn local_vault(path: &Path) -> Value {
    json!({"Description": "local", "DestinationType": 1002,
           "LocalcopyPath": path.to_str().unwrap()})
}

pub fn file_item(device: &str, path: &Path) -> Value {
    json!({"Engine": "engine1/file", "Description": "files", "OwnerDevice": device,
           "EngineProps": {"INCLUDE1": path.to_str().unwrap(), "EXCLUDE1": "*.tmp"}})
}

/// A tree with nested directories, an excluded file and 200 KiB of data.
pub fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("top.txt"), b"hello").unwrap();
    std::fs::write(root.join("a/b/deep.bin"), vec![7u8; 200 * 1024]).unwrap();
    std::fs::write(root.join("a/skip.tmp"), b"left out").unwrap();
}

/// Incompressible bytes, so a speed limit holds a job back for a while.
pub fn noise(len: usize) -> Vec<u8> {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}
