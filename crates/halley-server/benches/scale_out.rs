//! Requests per second of the common calls, side by side: one node on
//! SQLite, one node on PostgreSQL, and three nodes on PostgreSQL behind
//! HAProxy (`docs/haproxy.cfg`), all on this machine, with the same accounts
//! and the same load. The figures `docs/scaling.md` reasons from.
//!
//! `cargo bench -p halley-server --bench scale_out` (optionally
//! `-- ACCOUNTS REQUESTS CONCURRENCY`). Needs the PostgreSQL server at
//! `HALLEY_BENCH_POSTGRES` (default `postgres://127.0.0.1:5432/test`), where
//! it makes and drops databases of its own, and `haproxy`.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use halley_api::types::UserProfileConfig;
use halley_client::Client;
use sqlx::Connection;
use support::{load_accounts, measure, Halleyd, Measurement};

/// The server's URL with the database `name` in place of its own.
fn postgres_url(name: &str) -> String {
    let base = std::env::var("HALLEY_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into());
    let mut url = reqwest::Url::parse(&base).expect("HALLEY_BENCH_POSTGRES is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

async fn on_postgres_server(sql: &str) {
    let mut connection = sqlx::PgConnection::connect(&postgres_url("test"))
        .await
        .expect("the PostgreSQL server answers");
    sqlx::raw_sql(sql).execute(&mut connection).await.unwrap();
}

/// One setup under measurement: its processes, and the URL clients use.
struct Setup {
    name: &'static str,
    nodes: Vec<Halleyd>,
    proxy: Option<Child>,
    url: String,
    database: Option<String>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Setup {
    async fn start(name: &'static str, nodes: usize, postgres: bool) -> Setup {
        let database = postgres.then(|| format!("halley_bench_{}", uuid::Uuid::new_v4().simple()));
        if let Some(database) = &database {
            on_postgres_server(&format!("CREATE DATABASE {database}")).await;
        }
        let mut dirs = Vec::new();
        let mut started = Vec::new();
        for _ in 0..nodes {
            let dir = tempfile::tempdir().unwrap();
            let mut args = Vec::new();
            let url = database.as_deref().map(postgres_url);
            if let Some(url) = &url {
                args.extend(["--database", url.as_str()]);
            }
            started.push(Halleyd::start(dir.path(), &args));
            dirs.push(dir);
        }
        let (proxy, url) = if nodes > 1 {
            let (child, url) = haproxy(&started, dirs[0].path());
            (Some(child), url)
        } else {
            (None, started[0].url.clone())
        };
        Setup {
            name,
            nodes: started,
            proxy,
            url,
            database,
            _dirs: dirs,
        }
    }

    async fn stop(mut self) {
        if let Some(mut proxy) = self.proxy.take() {
            let _ = proxy.kill();
            let _ = proxy.wait();
        }
        self.nodes.clear();
        if let Some(database) = &self.database {
            on_postgres_server(&format!("DROP DATABASE {database} WITH (FORCE)")).await;
        }
    }
}

/// HAProxy with the documented configuration, in front of `nodes`.
fn haproxy(nodes: &[Halleyd], dir: &std::path::Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = String::new();
    for line in include_str!("../../../docs/haproxy.cfg").lines() {
        let setting = line.trim_start();
        if setting.starts_with("bind ") {
            config += &format!("    bind 127.0.0.1:{port}\n");
        } else if !setting.starts_with("server ") {
            config += line;
            config.push('\n');
        }
    }
    for (n, node) in nodes.iter().enumerate() {
        let address = node.url.trim_start_matches("http://");
        config += &format!("    server node{n} {address} check\n");
    }
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "haproxy never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}"))
}

/// CPU seconds (user and system) used so far by the processes `pids`.
fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // Fields after the command name, which may hold spaces.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    ticks as f64 / 100.0
}

/// The PostgreSQL server's processes on this machine.
fn postgres_pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim() == "postgres").then_some(pid)
        })
        .collect()
}

/// A measurement with the CPU time it cost, per request, in `halleyd` and in
/// PostgreSQL.
struct Costed {
    measured: Measurement,
    halleyd_ms: f64,
    database_ms: f64,
}

/// Measures `requests` calls of `call` (each worker with its own handle on
/// `admin` and its index) with their CPU cost.
async fn costed<F, Fut>(
    setup: &Setup,
    (name, requests, concurrency): (&'static str, usize, usize),
    admin: &Client,
    call: F,
) -> Costed
where
    F: Fn((Client, usize)) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Client, usize)> + Send,
{
    let nodes: Vec<u32> = setup.nodes.iter().map(Halleyd::pid).collect();
    let database = postgres_pids();
    let (nodes_before, database_before) = (cpu_seconds(&nodes), cpu_seconds(&database));
    let admin = admin.clone();
    let measured = measure(name, requests, concurrency, |w| (admin.clone(), w), call).await;
    let per_request = |seconds: f64| seconds * 1e3 / requests as f64;
    Costed {
        measured,
        halleyd_ms: per_request(cpu_seconds(&nodes) - nodes_before),
        database_ms: per_request(cpu_seconds(&database) - database_before),
    }
}

/// The same four calls on a setup: a trivial one, two reads, one write.
async fn measure_setup(
    setup: &Setup,
    accounts: usize,
    requests: usize,
    concurrency: usize,
) -> Vec<Costed> {
    let admin = Halleyd::session_at(&setup.url).await;
    load_accounts(&admin, accounts, 8, |n| UserProfileConfig {
        account_name: format!("Customer {n}"),
        ..Default::default()
    })
    .await;
    let profile = admin.admin_get_user_profile("user00000").await.unwrap();
    vec![
        costed(
            setup,
            ("meta/version", requests, concurrency),
            &admin,
            |(admin, w)| async move {
                admin.admin_meta_version().await.unwrap();
                (admin, w)
            },
        )
        .await,
        costed(
            setup,
            ("get-user-profile", requests, concurrency),
            &admin,
            move |(admin, w)| async move {
                admin
                    .admin_get_user_profile(&format!("user{:05}", w % accounts))
                    .await
                    .unwrap();
                (admin, w)
            },
        )
        .await,
        costed(
            setup,
            ("list-users", requests / 4, concurrency),
            &admin,
            |(admin, w)| async move {
                admin.admin_list_users().await.unwrap();
                (admin, w)
            },
        )
        .await,
        costed(
            setup,
            ("set-user-profile", requests, concurrency),
            &admin,
            move |(admin, w)| {
                let mut profile = profile.clone();
                async move {
                    let name = format!("user{:05}", w % accounts);
                    profile.username = name.clone();
                    profile.account_name = format!("Edited by {w}");
                    admin.admin_set_user_profile(&name, &profile).await.unwrap();
                    (admin, w)
                }
            },
        )
        .await,
    ]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let accounts = args.first().copied().unwrap_or(1_000);
    let requests = args.get(1).copied().unwrap_or(4_000);
    let concurrency = args.get(2).copied().unwrap_or(32);
    println!(
        "{accounts} accounts, {requests} requests per call ({} for list-users), {concurrency} concurrent clients, on {} cores",
        requests / 4,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let mut columns = Vec::new();
    for (name, nodes, postgres) in [
        ("1 node, SQLite", 1, false),
        ("1 node, PostgreSQL", 1, true),
        ("3 nodes, PostgreSQL, HAProxy", 3, true),
    ] {
        let setup = Setup::start(name, nodes, postgres).await;
        let measured = measure_setup(&setup, accounts, requests, concurrency).await;
        columns.push((setup.name, measured));
        setup.stop().await;
    }

    print!("{:<20}", "call");
    for (name, _) in &columns {
        print!(" | {name:>30}");
    }
    println!();
    for row in 0..columns[0].1.len() {
        print!("{:<20}", columns[0].1[row].measured.name);
        for (_, measured) in &columns {
            let m = &measured[row].measured;
            let cell = format!(
                "{:.0}/s p50 {:.1}ms p99 {:.1}ms",
                m.per_second,
                m.p50.as_secs_f64() * 1e3,
                m.p99.as_secs_f64() * 1e3
            );
            print!(" | {cell:>30}");
        }
        println!();
    }
    println!("\nCPU per request, halleyd + PostgreSQL (ms):");
    for row in 0..columns[0].1.len() {
        print!("{:<20}", columns[0].1[row].measured.name);
        for (_, measured) in &columns {
            let c = &measured[row];
            let cell = format!("{:.2} + {:.2}", c.halleyd_ms, c.database_ms);
            print!(" | {cell:>30}");
        }
        println!();
    }
}
