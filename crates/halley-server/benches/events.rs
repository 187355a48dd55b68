//! Live-event throughput: events per second from API action to websocket
//! receipt with 1, 100 and 1,000 subscribers, and webhook deliveries per
//! second from a queued backlog to a loopback receiver, beside what that
//! receiver takes from a client posting to it directly.
//!
//! `cargo bench -p halley-server --bench events [ACTIONS]`

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use halley_api::types::UserProfileConfig;
use halley_client::{Auth, Client};
use tokio_tungstenite::tungstenite::Message;

/// Concurrent API clients creating accounts.
const WRITERS: usize = 8;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(url: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "{}/api/v1/events/stream",
        url.replacen("http", "ws", 1)
    ))
    .await
    .expect("connects");
    for frame in ["admin", "Password", "admin", "", ""] {
        socket.send(Message::Text(frame.into())).await.unwrap();
    }
    // "200 OK", then HELLO.
    for _ in 0..2 {
        socket.next().await.unwrap().unwrap();
    }
    socket
}

/// Creates `actions` accounts with session credentials (one event each) and
/// waits until every subscriber has seen the last one.
async fn websocket_run(
    url: &str,
    admin: &Client,
    subscribers: usize,
    actions: usize,
    round: usize,
) -> (f64, Duration) {
    let mut sockets = Vec::new();
    for _ in 0..subscribers {
        sockets.push(subscribe(url).await);
    }
    let mut readers = Vec::new();
    for mut socket in sockets {
        readers.push(tokio::spawn(async move {
            let mut seen = 0;
            while seen < actions {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) if text.contains("\"Type\":4100") => seen += 1,
                    Some(Ok(_)) => {}
                    _ => panic!("the stream ended after {seen} events"),
                }
            }
        }));
    }
    let started = Instant::now();
    create_accounts(admin, &format!("r{round}"), actions).await;
    let api_time = started.elapsed();
    for reader in readers {
        reader.await.unwrap();
    }
    let elapsed = started.elapsed();
    (
        (actions * subscribers) as f64 / elapsed.as_secs_f64(),
        elapsed.saturating_sub(api_time),
    )
}

/// Creates `count` accounts from [`WRITERS`] concurrent clients.
async fn create_accounts(admin: &Client, prefix: &str, count: usize) {
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let admin = admin.clone();
        let prefix = prefix.to_string();
        writers.push(tokio::spawn(async move {
            for n in (writer..count).step_by(WRITERS) {
                admin
                    .admin_add_user_from_profile(
                        &format!("{prefix}-{n}"),
                        &UserProfileConfig::default(),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
}

/// A loopback webhook receiver that counts the events of one type; it holds
/// its answers until `open` is set, so that a backlog builds up first.
async fn gated_receiver(
    event_type: &'static str,
) -> (String, Arc<AtomicUsize>, tokio::sync::watch::Sender<bool>) {
    let received = Arc::new(AtomicUsize::new(0));
    let (open, gate) = tokio::sync::watch::channel(false);
    let counter = received.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let needle = format!("\"Type\":{event_type}");
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (counter, mut gate, needle) = (counter.clone(), gate.clone(), needle.clone());
            async move {
                let _ = gate.wait_for(|open| *open).await;
                if body.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received, open)
}

/// Webhook deliveries per second: `events` login events (each
/// password-authenticated call emits one, as in Comet) are queued while the
/// receiver holds its answers, then the backlog drains to it.
async fn webhook_drain_rate(url: &str, admin: &Client, events: usize) -> f64 {
    let (hook_url, received, open) = gated_receiver("4153").await;
    let hooks = serde_json::json!({"bench": {"URL": hook_url, "WhiteListedEventTypes": [4153]}});
    admin
        .call_ok(
            "/api/v1/admin/meta/webhook-options/set",
            &[("WebhookOptions", hooks.to_string())],
        )
        .await
        .unwrap();
    let password = Client::new(url, Auth::password("admin", "admin"));
    let mut callers = Vec::new();
    for caller in 0..WRITERS {
        let password = password.clone();
        callers.push(tokio::spawn(async move {
            for _ in (caller..events).step_by(WRITERS) {
                password.admin_meta_version().await.unwrap();
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let started = Instant::now();
    open.send(true).unwrap();
    while received.load(Ordering::SeqCst) < events {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// What the receiver itself takes: the same number of posts from one client
/// with as many in flight as a hook's worker keeps.
async fn receiver_ceiling(posts: usize) -> f64 {
    let (hook_url, received, open) = gated_receiver("4153").await;
    open.send(true).unwrap();
    let client = reqwest::Client::new();
    let body = r#"{"Type":4153}"#;
    let started = Instant::now();
    futures::stream::iter(0..posts)
        .map(|_| client.post(&hook_url).body(body).send())
        .buffer_unordered(64)
        .for_each(|response| async move {
            response.unwrap();
        })
        .await;
    assert_eq!(received.load(Ordering::SeqCst), posts);
    posts as f64 / started.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let actions: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let data_dir = tempfile::tempdir().unwrap();
    let server = support::Halleyd::start(data_dir.path(), &[]);
    // Session credentials: no login event beside each account event.
    let admin = server.admin_session().await;

    println!("{actions} accounts created per run by {WRITERS} concurrent clients; each is one SEVT_ACCOUNT_NEW event");
    println!(
        "{:<34} {:>16} {:>22}",
        "sink", "events/s", "drain after last call"
    );
    for (round, subscribers) in [1, 100, 1000].into_iter().enumerate() {
        let (rate, drain) = websocket_run(&server.url, &admin, subscribers, actions, round).await;
        println!(
            "{:<34} {:>16.0} {:>22.2?}",
            format!("websocket, {subscribers} subscribers"),
            rate,
            drain
        );
    }
    let backlog = actions * 40;
    let rate = webhook_drain_rate(&server.url, &admin, backlog).await;
    let ceiling = receiver_ceiling(backlog).await;
    println!();
    println!("webhook: {backlog} queued events drained to one loopback receiver");
    println!("{:<34} {:>16}", "", "deliveries/s");
    println!("{:<34} {:>16.0}", "halleyd webhook delivery", rate);
    println!(
        "{:<34} {:>16.0}",
        "receiver ceiling (direct posts)", ceiling
    );
}
