//! libFuzzer target: routing a request line (method, path, query), as
//! `routes::route_target` sees it after hyper has parsed the target.
//! Properties: no panic; an accepted target is canonical (routing it again
//! gives the same route and target); a refusal is one routing gives.
#![no_main]

use altur_gateway::error::Refusal;
use altur_gateway::routes::{API_PREFIX, Routed, route_target};
use http::Method;
use libfuzzer_sys::fuzz_target;

const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PATCH,
    Method::PUT,
    Method::DELETE,
    Method::OPTIONS,
];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let method = &METHODS[usize::from(first) % METHODS.len()];
    // Half the inputs below the API prefix, so the routes are reached.
    let target = if first & 0x80 == 0 {
        format!("{API_PREFIX}{text}")
    } else {
        text.to_string()
    };
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target.as_str(), None),
    };
    match route_target(method, path, query) {
        Ok(Routed::Api(m)) => {
            let wanted = if m.head { Method::GET } else { method.clone() };
            assert_eq!(m.spec.method, wanted);
            let canonical: &str = &m.target;
            assert!(canonical.starts_with('/'), "{canonical}");
            let (p, q) = match canonical.split_once('?') {
                Some((p, q)) => (p, Some(q)),
                None => (canonical, None),
            };
            assert!(q.is_none() || m.spec.list().is_some(), "{canonical}");
            let again = format!("{API_PREFIX}{p}");
            match route_target(&wanted, &again, q) {
                Ok(Routed::Api(a)) => {
                    assert_eq!(a.spec.id, m.spec.id);
                    assert_eq!(&*a.target, canonical);
                }
                other => panic!("{canonical} re-routed to {other:?}"),
            }
        }
        Ok(Routed::Local(_)) => {
            assert!(matches!(
                path,
                "/healthz"
                    | "/readyz"
                    | "/metrics"
                    | "/status"
                    | "/status.json"
                    | "/webhooks/altur"
            ));
        }
        Err(
            Refusal::NotFound
            | Refusal::MethodNotAllowed(_)
            | Refusal::InvalidCampaignId
            | Refusal::InvalidParameter(_),
        ) => {}
        Err(other) => panic!("routing refused with {other:?}"),
    }
});
