//! The caller's address, which throttling, allowlists and login events key
//! on. Behind a reverse proxy the peer is the proxy, so with
//! `TrustXForwardedFor` the address comes from `X-Forwarded-For`, but only
//! when the peer is one of the `TrustedProxies` (IP addresses or CIDR
//! ranges in `cometd.cfg`), and then it is the right-most hop that is not a
//! trusted proxy: every hop left of it was written by the client and proves
//! nothing. Without `TrustedProxies` the header is never honoured.

use std::net::IpAddr;

use axum::http::HeaderMap;
use halley_api::types::ServerConfigOptions;
use ipnet::IpNet;

/// The `cometd.cfg` field (kept among `ServerConfigOptions`' unknown fields,
/// which survive every rewrite of the file).
pub const TRUSTED_PROXIES_KEY: &str = "TrustedProxies";

/// The configured proxies; an entry that is neither an address nor a range
/// is left out with a warning.
pub fn trusted_proxies(config: &ServerConfigOptions) -> Vec<IpNet> {
    let Some(entries) = config
        .extra
        .get(TRUSTED_PROXIES_KEY)
        .and_then(|v| v.as_array())
    else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| {
            let text = entry.as_str().unwrap_or_default().trim();
            let parsed = text
                .parse::<IpNet>()
                .ok()
                .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from));
            if parsed.is_none() {
                tracing::warn!("{TRUSTED_PROXIES_KEY}: '{entry}' is not an address or range");
            }
            parsed
        })
        .collect()
}

pub fn client_ip(config: &ServerConfigOptions, peer: IpAddr, headers: &HeaderMap) -> String {
    let peer = peer.to_canonical();
    if !config.trust_x_forwarded_for {
        return peer.to_string();
    }
    let proxies = trusted_proxies(config);
    let trusted = |ip: &IpAddr| proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer.to_string();
    }
    // Several headers count as one list, in order.
    let hops: Vec<&str> = headers
        .get_all("X-Forwarded-For")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if trusted(&ip.to_canonical()) => nearest = ip.to_canonical(),
            Ok(ip) => return ip.to_canonical().to_string(),
            // Not an address: the hop that passed it on is the last we know.
            Err(_) => break,
        }
    }
    nearest.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(trust: bool, proxies: &[&str]) -> ServerConfigOptions {
        let mut config = ServerConfigOptions {
            trust_x_forwarded_for: trust,
            ..Default::default()
        };
        config
            .extra
            .insert(TRUSTED_PROXIES_KEY.into(), serde_json::json!(proxies));
        config
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("X-Forwarded-For", value.parse().unwrap());
        headers
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let config = config(true, &["10.0.0.0/8", "192.0.2.1"]);
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let headers = forwarded("1.1.1.1, 203.0.113.9, 192.0.2.1");
        assert_eq!(client_ip(&config, proxy, &headers), "203.0.113.9");
        assert_eq!(
            client_ip(&config, proxy, &forwarded("10.0.0.7")),
            "10.0.0.7"
        );
        assert_eq!(
            client_ip(&config, proxy, &forwarded("junk, 10.0.0.7")),
            "10.0.0.7"
        );
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy_with_trust_on() {
        let peer: IpAddr = "198.51.100.4".parse().unwrap();
        let headers = forwarded("203.0.113.9");
        assert_eq!(
            client_ip(&config(true, &["10.0.0.0/8"]), peer, &headers),
            "198.51.100.4"
        );
        assert_eq!(
            client_ip(&config(true, &[]), peer, &headers),
            "198.51.100.4"
        );
        assert_eq!(
            client_ip(&config(false, &["198.51.100.4"]), peer, &headers),
            "198.51.100.4"
        );
        assert_eq!(
            client_ip(&config(true, &["198.51.100.4"]), peer, &headers),
            "203.0.113.9"
        );
    }
}
