//! `IPRateLimit`: the first rule whose `MatchRegex` matches a client's
//! address puts the client in that rule's bandwidth domain, shared by every
//! client the rule matches; what they send and what they are sent are each
//! held to `BytesPerSecond` (separately). Bodies are slowed, never cut.
//! Websocket traffic after the upgrade is not counted.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use halley_api::types::RatelimitRule;
use http_body::Frame;

use crate::state::AppState;

/// A token bucket of `rate` bytes per second, holding at most one second.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl Bucket {
    fn new(rate: u64) -> Self {
        Bucket {
            rate: rate as f64,
            state: Mutex::new((rate as f64, Instant::now())),
        }
    }

    /// Takes `bytes` and says how long to wait before they may pass: a
    /// taker that runs the bucket into debt waits the debt out.
    fn take(&self, bytes: usize) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let (tokens, last) = *state;
        let refilled = (tokens + self.rate * now.duration_since(last).as_secs_f64()).min(self.rate);
        let left = refilled - bytes as f64;
        *state = (left, now);
        if left >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-left / self.rate)
        }
    }
}

/// One rule's domain: its two directions.
#[derive(Debug)]
struct Domain {
    ingress: Arc<Bucket>,
    egress: Arc<Bucket>,
}

/// The rules' domains, in rule order, each with its address pattern.
type Domains = Arc<Vec<(regex::Regex, Arc<Domain>)>>;

/// The rules the domains were made from: (`MatchRegex`, `BytesPerSecond`).
type RuleKey = Vec<(String, u64)>;

/// The domains of the rules now configured, made again when they change.
#[derive(Default)]
pub struct RateLimits {
    built: Mutex<Option<(RuleKey, Domains)>>,
}

impl RateLimits {
    fn domains(&self, rules: &[RatelimitRule]) -> Domains {
        let key: RuleKey = rules
            .iter()
            .map(|r| (r.match_regex.clone(), r.bytes_per_second))
            .collect();
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((seen, domains)) = built.as_ref() {
            if *seen == key {
                return domains.clone();
            }
        }
        let domains: Vec<(regex::Regex, Arc<Domain>)> = rules
            .iter()
            .filter_map(|rule| {
                let pattern = regex::Regex::new(&rule.match_regex)
                    .map_err(|why| {
                        tracing::warn!(
                            "IPRateLimit: MatchRegex '{}' ignored: {why}",
                            rule.match_regex
                        )
                    })
                    .ok()?;
                // A rule of 0 bytes per second matches and limits nothing.
                let domain = (rule.bytes_per_second > 0).then(|| {
                    Arc::new(Domain {
                        ingress: Arc::new(Bucket::new(rule.bytes_per_second)),
                        egress: Arc::new(Bucket::new(rule.bytes_per_second)),
                    })
                });
                Some((pattern, domain?))
            })
            .collect();
        let domains = Arc::new(domains);
        *built = Some((key, domains.clone()));
        domains
    }
}

/// The middleware: bodies to and from a matching client go through its
/// domain's buckets.
pub async fn limit(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let config = state.config.get();
    if config.ip_rate_limit.rules.is_empty() {
        return next.run(request).await;
    }
    let address = crate::auth::client_address::client_ip(&config, peer.ip(), request.headers());
    let domains = state.rate_limits.domains(&config.ip_rate_limit.rules);
    let Some((_, domain)) = domains
        .iter()
        .find(|(pattern, _)| pattern.is_match(&address))
    else {
        return next.run(request).await;
    };
    let ingress = domain.ingress.clone();
    let request = request.map(|body| Body::new(Throttled::new(body, ingress)));
    let response = next.run(request).await;
    let egress = domain.egress.clone();
    response.map(|body| Body::new(Throttled::new(body, egress)))
}

/// A body whose data frames pass no faster than its bucket allows.
struct Throttled {
    inner: Body,
    bucket: Arc<Bucket>,
    held: Option<Frame<Bytes>>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Throttled {
    fn new(inner: Body, bucket: Arc<Bucket>) -> Self {
        Throttled {
            inner,
            bucket,
            held: None,
            wait: None,
        }
    }
}

impl HttpBody for Throttled {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Some(wait) = this.wait.as_mut() {
            ready!(wait.as_mut().poll(cx));
            this.wait = None;
            return Poll::Ready(this.held.take().map(Ok));
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                let delay = frame
                    .data_ref()
                    .map_or(Duration::ZERO, |data| this.bucket.take(data.len()));
                if delay.is_zero() {
                    return Poll::Ready(Some(Ok(frame)));
                }
                this.held = Some(frame);
                let mut wait = Box::pin(tokio::time::sleep(delay));
                // Registers the waker with the timer.
                if wait.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(this.held.take().map(Ok));
                }
                this.wait = Some(wait);
                Poll::Pending
            }
            other => Poll::Ready(other),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_second_through_then_makes_takers_wait_out_their_debt() {
        let bucket = Bucket::new(1000);
        assert_eq!(bucket.take(1000), Duration::ZERO);
        let wait = bucket.take(500);
        assert!(
            wait >= Duration::from_millis(450) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
    }
}
