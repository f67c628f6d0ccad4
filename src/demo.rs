//! `altur-gateway demo`: the gateway in front of the simulated Altur API, on
//! loopback, with a generated key: something a newcomer can curl with no key
//! and no network.

use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Settings;
use crate::secret::ApiKey;
use crate::sim::{SimConfig, Simulator};

/// Simulated upstream latency in the demo, so misses visibly cost something.
const DEMO_LATENCY: Duration = Duration::from_millis(80);
/// The variable that moves the demo, and the gateway, to another address.
const LISTEN_VAR: &str = "ALTUR_GATEWAY__LISTEN";

/// Where the demo listens: loopback, unless `listen` was moved (the
/// variable, or a configuration file naming another address). The compiled
/// default, every interface, would put a gateway anyone can call on the
/// network for a command meant to be tried on one machine.
fn demo_listen(configured: SocketAddr, variable_set: bool) -> SocketAddr {
    let default = SocketAddr::from(([0, 0, 0, 0], 8080));
    if configured == default && !variable_set {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    } else {
        configured
    }
}

/// Runs until SIGTERM/SIGINT.
///
/// # Errors
/// When a port cannot be bound.
pub async fn run(mut settings: Settings) -> Result<(), crate::StartError> {
    let key = generated_key();
    let sim = Simulator::start(SimConfig {
        key: key.clone(),
        latency: DEMO_LATENCY,
        rate_limit: Some(12),
    })
    .await
    .map_err(crate::StartError::Bind)?;
    settings.upstream.base_url = sim.base_url();
    settings.listen = demo_listen(settings.listen, std::env::var_os(LISTEN_VAR).is_some());
    let api_key = Arc::new(ApiKey::fixed(&key).map_err(crate::StartError::Secret)?);
    let listener = crate::listen(settings.listen).await?;
    let addr = listener.local_addr().map_err(crate::StartError::Bind)?;
    println!("{}", banner(addr, sim.addr()));
    let result = crate::run(
        listener,
        settings,
        api_key,
        crate::server::shutdown_signal(),
    )
    .await;
    drop(sim);
    result
}

fn banner(addr: SocketAddr, sim: SocketAddr) -> String {
    let (host, reach) = if addr.ip().is_unspecified() {
        let host = SocketAddr::from(([127, 0, 0, 1], addr.port()));
        (host, format!("listening on {addr}: every interface"))
    } else if addr.ip().is_loopback() {
        (
            addr,
            format!(
                "loopback only; {LISTEN_VAR}=0.0.0.0:{} to expose it",
                addr.port()
            ),
        )
    } else {
        (addr, format!("listening on {addr}"))
    };
    format!(
        "altur-gateway demo: gateway on http://{host} ({reach}), simulated Altur API on http://{sim} (12 req/s, 80 ms)\n\
         Try:\n  \
         curl -i http://{host}/api/v1.0/campaigns/42     # first call: Cache-Status: fwd=miss; stored\n  \
         curl -i http://{host}/api/v1.0/campaigns/42     # again: Cache-Status: hit, Age\n  \
         curl -s 'http://{host}/api/v1.0/campaigns/42/contacts?status=queue&pageSize=5'\n  \
         curl -s http://{host}/api/v1.0/call/0000002a-ca11-4000-8000-000000000001   # a call of campaign 42\n  \
         curl -s http://{host}/api/v1.0/message/demo     # the messages of thread demo, oldest first\n  \
         curl -i http://{host}/api/v1.0/campaigns/abc    # 400 invalid_campaign_id, never sent upstream\n  \
         curl -s http://{host}/metrics | grep altur_gateway_upstream\n\
         Stop with Ctrl-C."
    )
}

/// A throwaway key; the demo's simulator accepts only it.
fn generated_key() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    format!("demo-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_stays_on_loopback_unless_moved() {
        let any = SocketAddr::from(([0, 0, 0, 0], 8080));
        let own = SocketAddr::from(([0, 0, 0, 0], 9000));
        assert_eq!(
            demo_listen(any, false),
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert_eq!(demo_listen(any, true), any, "the variable moves it");
        assert_eq!(demo_listen(own, false), own, "so does a configuration file");
    }

    /// Every upstream path the banner suggests is one the simulator serves.
    #[tokio::test]
    async fn the_banners_paths_are_served_by_the_simulator() {
        let sim = Simulator::start(SimConfig::default()).await.expect("sim");
        let gw = SocketAddr::from(([127, 0, 0, 1], 8080));
        let text = banner(gw, sim.addr());
        let paths: Vec<&str> = text
            .split_whitespace()
            .filter_map(|w| w.trim_matches('\'').strip_prefix("http://127.0.0.1:8080"))
            .filter(|p| p.starts_with("/api/v1.0/"))
            .collect();
        assert!(paths.len() >= 5, "{text}");
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        for path in paths {
            let req = http::Request::get(format!("http://{}{path}", sim.addr()))
                .header("authorization", "api-key sim-key")
                .body(http_body_util::Empty::new())
                .expect("request");
            let status = client.request(req).await.expect("answer").status();
            let expected = if path.ends_with("/abc") { 404 } else { 200 };
            assert_eq!(status.as_u16(), expected, "{path}");
        }
    }
}
