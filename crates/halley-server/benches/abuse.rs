//! What unauthenticated abuse costs a running server: its resident memory
//! while strangers send large bodies (credentials first, or last), and the
//! latency of a signed-in caller's calls during a wrong-password flood,
//! each beside the same figure without the abuse.
//!
//! `cargo bench -p halley-server --bench abuse`

mod support;

use std::time::{Duration, Instant};

use halley_client::{Auth, Client};

const BODY_BYTES: usize = 60 * 1024 * 1024;
const SENDERS: usize = 8;
const FLOOD_PER_SECOND: u64 = 100;
/// How long after a burst the memory is read again.
const SETTLE: Duration = Duration::from_secs(2);

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// `SENDERS` concurrent bodies of `BODY_BYTES` to `set-user-profile`, with
/// wrong credentials at the start or at the end; returns the peak RSS seen.
async fn large_bodies(url: &str, pid: u32, credentials_first: bool) -> f64 {
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let url = format!("{url}/api/v1/admin/set-user-profile");
        senders.push(tokio::spawn(async move {
            let credentials = "Username=admin&AuthType=Password&Password=wrong";
            let filler = "a".repeat(BODY_BYTES);
            let body = if credentials_first {
                format!("{credentials}&ProfileData={filler}")
            } else {
                format!("ProfileData={filler}&{credentials}")
            };
            let _ = reqwest::Client::new()
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
        }));
    }
    let mut peak: f64 = 0.0;
    for sender in senders {
        while !sender.is_finished() {
            peak = peak.max(rss_mib(pid));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    peak
}

/// Median latency of `meta/version` with a session key, over `calls` calls.
async fn median_latency(client: &Client, calls: usize) -> Duration {
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        client.admin_meta_version().await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

#[tokio::main]
async fn main() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = support::Halleyd::start(data_dir.path(), &[]);
    let pid = server.pid();
    let session = server.admin_session().await;
    median_latency(&session, 200).await;

    println!(
        "{SENDERS} concurrent bodies of {} MiB with a wrong password",
        BODY_BYTES >> 20
    );
    println!("{:<40} {:>12}", "", "RSS MiB");
    println!("{:<40} {:>12.0}", "before", rss_mib(pid));
    for (first, label) in [(true, "credentials first"), (false, "credentials last")] {
        let peak = large_bodies(&server.url, pid, first).await;
        println!("{:<40} {:>12.0}", format!("peak, {label}"), peak);
        tokio::time::sleep(SETTLE).await;
        println!("{:<40} {:>12.0}", format!("{SETTLE:?} after"), rss_mib(pid));
    }

    let quiet = median_latency(&session, 500).await;
    let flood_url = server.url.clone();
    let flood = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / FLOOD_PER_SECOND));
        for n in 0u64.. {
            tick.tick().await;
            // Unknown names: each costs the server a full password check.
            let stranger = Client::new(&flood_url, Auth::password(format!("nobody{n}"), "guess"));
            tokio::spawn(async move {
                let _ = stranger.admin_meta_version().await;
            });
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let flooded = median_latency(&session, 500).await;
    flood.abort();
    println!();
    println!("session-key meta/version, median of 500 calls");
    println!("{:<40} {:>12.2?}", "quiet", quiet);
    println!(
        "{:<40} {:>12.2?}",
        format!("{FLOOD_PER_SECOND} wrong passwords/s"),
        flooded
    );
}
