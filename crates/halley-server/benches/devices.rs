//! Many devices on one server: simulated devices (the device protocol of
//! `docs/device-protocol.md`, spoken with `halley-protocol`'s own types)
//! stay connected, each running back-to-back jobs that report progress every
//! second. Prints the CPU and memory of `halleyd` while they run, and the
//! time from a device's `job_start` and `job_finish` to the matching event
//! on an administrator's websocket, beside the time from an API call to its
//! event on the same stream.
//!
//! `cargo bench -p halley-server --bench devices [DEVICES SECONDS]`

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use halley_api::types::{BackupJobDetail, BackupJobProgress};
use halley_protocol::device::{Call, DeviceInfo, Message, Registration, REGISTER_PATH};
use tokio_tungstenite::tungstenite::Message as Frame;

const ACCOUNTS: usize = 20;
const REPORTS_PER_JOB: i64 = 5;

/// When each event of interest reached the subscriber, by (type, resource).
type Arrivals = Arc<Mutex<HashMap<(i64, String), Instant>>>;
/// When each job's start or finish was sent, by (event type, job ID).
type Sent = Arc<Mutex<Vec<((i64, String), Instant)>>>;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let devices = args.first().copied().unwrap_or(200);
    let seconds = args.get(1).copied().unwrap_or(30) as u64;
    let data = tempfile::tempdir().unwrap();
    let server = support::Halleyd::start(data.path(), &[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(run(&server, devices, seconds));
}

async fn run(server: &support::Halleyd, devices: usize, seconds: u64) {
    let admin = server.admin_session().await;
    for account in 0..ACCOUNTS {
        admin
            .admin_add_user(&format!("acct{account}"), "password1", None, None)
            .await
            .unwrap();
    }
    let registrations: Vec<Registration> = futures::stream::iter(0..devices)
        .map(|n| register(&server.url, n))
        .buffer_unordered(8)
        .collect()
        .await;
    println!("{devices} devices registered to {ACCOUNTS} accounts");

    let arrivals: Arrivals = Arc::default();
    let _subscriber = tokio::spawn(subscribe(server.url.clone(), arrivals.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The baseline: an API call and its event, on the same stream.
    let mut baseline = Vec::new();
    for n in 0..100 {
        let name = format!("baseline{n}");
        let sent = Instant::now();
        admin
            .admin_add_user(&name, "password1", None, None)
            .await
            .unwrap();
        baseline.push(wait_for(&arrivals, (4100, name)).await - sent);
    }

    let sent: Sent = Arc::default();
    let cpu_before = cpu_ticks(server.pid());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = registrations
        .into_iter()
        .map(|r| tokio::spawn(device(server.url.clone(), r, deadline, sent.clone())))
        .collect();
    let mut jobs = 0;
    for task in tasks {
        jobs += task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let cpu = (cpu_ticks(server.pid()) - cpu_before) as f64 / ticks_per_second();
    let (rss, peak) = memory_kib(server.pid());

    let mut start_latency = Vec::new();
    let mut finish_latency = Vec::new();
    let sent = sent.lock().unwrap().clone();
    for (key, at) in sent {
        let arrived = wait_for(&arrivals, key.clone()).await;
        let latency = arrived.saturating_duration_since(at);
        if key.0 == 4200 {
            start_latency.push(latency);
        } else {
            finish_latency.push(latency);
        }
    }
    println!(
        "{jobs} jobs, {} progress reports in {:.1} s ({:.0} reports/s)",
        jobs as i64 * REPORTS_PER_JOB,
        elapsed.as_secs_f64(),
        (jobs as i64 * REPORTS_PER_JOB) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "halleyd: {:.1}% of one core, RSS {} MiB (peak {} MiB)",
        100.0 * cpu / elapsed.as_secs_f64(),
        rss / 1024,
        peak / 1024
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9}",
        "to the websocket event", "p50 ms", "p99 ms", "max ms"
    );
    for (what, mut samples) in [
        ("API add-user, argon2 included (baseline)", baseline),
        ("device job_start (SEVT_JOB_NEW)", start_latency),
        ("device job_finish (SEVT_JOB_COMPLETED)", finish_latency),
    ] {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
        println!(
            "{what:<42} {:>9.2} {:>9.2} {:>9.2}",
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

fn info(n: usize) -> DeviceInfo {
    DeviceInfo {
        friendly_name: format!("sim-{n}"),
        client_version: halley_api::constants::APPLICATION_VERSION.into(),
        platform: "linux/amd64".into(),
        timezone: "Etc/UTC".into(),
        ..Default::default()
    }
}

async fn register(url: &str, n: usize) -> Registration {
    let info = info(n);
    let form = [
        ("Username", format!("acct{}", n % ACCOUNTS)),
        ("AuthType", "Password".into()),
        ("Password", "password1".into()),
        ("DeviceID", format!("device-{n}")),
        ("FriendlyName", info.friendly_name),
        ("ClientVersion", info.client_version),
        ("Platform", info.platform),
        ("DeviceTimezone", info.timezone),
    ];
    let registration: Registration = reqwest::Client::new()
        .post(format!("{url}{REGISTER_PATH}"))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registration.status, 200, "{}", registration.message);
    registration
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(socket: &mut Socket, message: &Message) {
    let text = serde_json::to_string(message).unwrap();
    socket.send(Frame::Text(text.into())).await.unwrap();
}

/// The next frame that is a reply, skipping profile pushes.
async fn reply(socket: &mut Socket) -> serde_json::Value {
    loop {
        match socket.next().await {
            Some(Ok(Frame::Text(text))) => {
                let message: Message = serde_json::from_str(&text).unwrap();
                if let Message::Reply {
                    ok, error, body, ..
                } = message
                {
                    assert!(ok, "{error}");
                    return body;
                }
            }
            // Heartbeats; tungstenite answers pings itself.
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
            other => panic!("the device's connection closed: {other:?}"),
        }
    }
}

/// One device: connected, then jobs until `deadline`; returns its job count.
async fn device(url: String, registration: Registration, deadline: Instant, sent: Sent) -> usize {
    let live = format!("{}/api/v1/device/live", url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(live).await.unwrap();
    let n: usize = registration
        .device_id
        .trim_start_matches("device-")
        .parse()
        .unwrap();
    let hello = Message::Hello {
        device_id: registration.device_id.clone(),
        device_key: registration.device_key.clone(),
        info: info(n),
        running_jobs: vec![],
    };
    send(&mut socket, &hello).await;
    // Spread the devices' first jobs over the first second.
    tokio::time::sleep(Duration::from_millis((n as u64 * 997) % 1000)).await;
    let mut id = 0;
    let mut jobs = 0;
    while Instant::now() < deadline {
        id += 1;
        let start = Message::Request {
            id,
            call: Call::JobStart {
                detail: BackupJobDetail {
                    classification: 4001,
                    source_guid: "files".into(),
                    destination_guid: "vault".into(),
                    ..Default::default()
                },
            },
        };
        let at = Instant::now();
        send(&mut socket, &start).await;
        let job_id = reply(&mut socket).await["job_id"]
            .as_str()
            .unwrap()
            .to_string();
        sent.lock().unwrap().push(((4200, job_id.clone()), at));
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        for counter in 1..=REPORTS_PER_JOB {
            ticks.tick().await;
            let progress = Message::Progress {
                job_id: job_id.clone(),
                progress: BackupJobProgress {
                    counter,
                    bytes_done: counter * 1_000_000,
                    items_done: counter * 10,
                    items_total: REPORTS_PER_JOB * 10,
                    ..Default::default()
                },
            };
            send(&mut socket, &progress).await;
        }
        id += 1;
        let finish = Message::Request {
            id,
            call: Call::JobFinish {
                job_id: job_id.clone(),
                detail: BackupJobDetail {
                    status: 5000,
                    total_files: 50,
                    total_size: 5_000_000,
                    ..Default::default()
                },
                destination_size: None,
            },
        };
        let at = Instant::now();
        send(&mut socket, &finish).await;
        reply(&mut socket).await;
        sent.lock().unwrap().push(((4201, job_id), at));
        jobs += 1;
    }
    jobs
}

async fn subscribe(url: String, arrivals: Arrivals) {
    let stream = format!("{}/api/v1/events/stream", url.replacen("http", "ws", 1));
    let (mut socket, _) = tokio_tungstenite::connect_async(stream).await.unwrap();
    for frame in ["admin", "Password", "admin", "", ""] {
        socket.send(Frame::Text(frame.into())).await.unwrap();
    }
    while let Some(Ok(frame)) = socket.next().await {
        let Frame::Text(text) = frame else { continue };
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let kind = event["Type"].as_i64().unwrap_or_default();
        if matches!(kind, 4100 | 4200 | 4201) {
            let resource = event["ResourceID"].as_str().unwrap_or_default().to_string();
            arrivals
                .lock()
                .unwrap()
                .insert((kind, resource), Instant::now());
        }
    }
}

async fn wait_for(arrivals: &Arrivals, key: (i64, String)) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(at) = arrivals.lock().unwrap().get(&key) {
            return *at;
        }
        assert!(Instant::now() < deadline, "no event {key:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// User plus system CPU time of `pid`, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Resident and peak resident memory of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
