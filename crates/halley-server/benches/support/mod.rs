//! Shared by the benchmarks: a release `halleyd` on an ephemeral port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Halleyd {
    child: Child,
    pub url: String,
}

impl Halleyd {
    pub fn start(data_dir: &Path, extra_args: &[&str]) -> Halleyd {
        let mut child = Command::new(env!("CARGO_BIN_EXE_halleyd"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .env("HALLEY_LOG", "error")
            .stdout(Stdio::piped())
            .spawn()
            .expect("halleyd starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("halleyd prints its address")
                .expect("a line");
            if let Some(url) = line.strip_prefix("halleyd listening on ") {
                break url.to_string();
            }
        };
        Halleyd { child, url }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of the default `admin` with a session key (no login event
    /// beside each call, unlike password credentials).
    pub async fn admin_session(&self) -> halley_client::Client {
        Halleyd::session_at(&self.url).await
    }

    /// The same, at `url` (a node, or a proxy in front of nodes).
    pub async fn session_at(url: &str) -> halley_client::Client {
        use halley_client::{Auth, Client};
        let key = Client::new(url, Auth::password("admin", "admin"))
            .admin_account_session_start()
            .await
            .unwrap()
            .session_key;
        Client::new(url, Auth::session("admin", key))
    }
}

impl Drop for Halleyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates accounts `user00000` … (`count` of them) with `profile(n)`, on
/// `workers` concurrent clients.
pub async fn load_accounts(
    admin: &halley_client::Client,
    count: usize,
    workers: usize,
    profile: fn(usize) -> halley_api::types::UserProfileConfig,
) {
    let mut loaders = Vec::new();
    for worker in 0..workers {
        let admin = admin.clone();
        loaders.push(tokio::spawn(async move {
            for n in (worker..count).step_by(workers) {
                admin
                    .admin_add_user_from_profile(&format!("user{n:05}"), &profile(n))
                    .await
                    .unwrap();
            }
        }));
    }
    for loader in loaders {
        loader.await.unwrap();
    }
}

pub struct Measurement {
    pub name: &'static str,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Runs `requests` calls of `call` on `concurrency` workers; each worker gets
/// its index, and its own state from `setup`.
pub async fn measure<S, F, Fut>(
    name: &'static str,
    requests: usize,
    concurrency: usize,
    setup: impl Fn(usize) -> S,
    call: F,
) -> Measurement
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = S> + Send,
{
    let call = Arc::new(call);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..concurrency {
        let call = call.clone();
        let mut state = setup(worker);
        let count = requests / concurrency;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            for _ in 0..count {
                let t = Instant::now();
                state = call(state).await;
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Measurement {
        name,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}
