//! Fuzz properties of routing (`cargo test fuzz`; longer: `benches/fuzz`):
//! every request line a caller can send is routed without a panic and
//! classified as the SPEC says, and a target routing accepts is canonical.
//!
//! "A refused input never reaches upstream" is the integration tests' part
//! (they count the simulator's requests); here a refusal carries no target,
//! and an accepted target is one of the table's shapes in canonical form.

use std::borrow::Cow;

use http::{Method, Request, Version};
use proptest::prelude::*;

use super::*;

/// Segments Altur paths are made of, and near misses.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "campaigns",
            "contacts",
            "calls",
            "call",
            "recording",
            "thread",
            "message",
            "enduser",
            "activate",
            "pause",
            "archive",
            "resume",
            "Campaigns",
            "..",
            ".",
            "%2e%2e",
            "%31",
            "",
            "-1",
            "+1",
            "1.5",
            "healthz",
        ])
        .prop_map(str::to_string),
        "[0-9]{1,25}",
        "0{1,4}[0-9]{1,19}",
        "[A-Za-z0-9_-]{1,70}",
        "(?s:.{0,12})",
    ]
}

/// Query parameters the lists know, and others, with values in and out of range.
fn query() -> impl Strategy<Value = Option<String>> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "status",
            "pageSize",
            "pageIndex",
            "agentId",
            "integration",
            "startDate",
            "endDate",
            "cursor",
            "answeredBy",
            "%73tatus",
            "page%5Fsize",
            "",
        ])
        .prop_map(str::to_string),
        "[A-Za-z%0-9]{0,10}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "active",
            "queue",
            "ended",
            "human",
            "phone_call",
            "whatsapp",
            "no-answer",
            "2024-02-29",
            "2023-02-29",
            "2024-01-01T10:00:00Z",
            "2024-01-01T25:00:00Z",
            "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "00050",
            "100",
            "101",
            "0",
            "25000",
            "25001",
            "%zz",
            "%41%42",
            "a+b",
            "",
        ])
        .prop_map(str::to_string),
        "[0-9]{0,8}",
        "[A-Za-z0-9._~+/=%-]{0,40}",
    ];
    let pair = (name, value, any::<bool>()).prop_map(|(n, v, eq)| {
        if eq || !v.is_empty() {
            format!("{n}={v}")
        } else {
            n
        }
    });
    prop_oneof![
        1 => Just(None),
        4 => prop::collection::vec(pair, 0..6).prop_map(|p| Some(p.join("&"))),
        1 => "(?s:.{0,40})".prop_map(Some),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (prop::collection::vec(segment(), 0..7), any::<bool>()).prop_map(|(segs, slash)| {
            let mut p = format!("{API_PREFIX}/{}", segs.join("/"));
            if slash {
                p.push('/');
            }
            p
        }),
        1 => "(?s:.{0,80})",
        1 => prop::sample::select(vec!["/healthz", "/readyz", "/metrics", "/status", "/status.json", "/api/v1.0", "/"])
            .prop_map(str::to_string),
    ]
}

fn method() -> impl Strategy<Value = Method> {
    prop::sample::select(vec![
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PATCH,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
    ])
}

/// What a canonical path may hold: the table's literals, digits, tokens.
fn canonical_path_chars(p: &str) -> bool {
    p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'_' || b == b'-')
}

proptest! {
    #![proptest_config(crate::fuzzing::cases(2048))]

    #[test]
    fn fuzz_route_target_classifies_every_request_line(
        method in method(),
        path in path(),
        query in query(),
    ) {
        match route_target(&method, &path, query.as_deref()) {
            Ok(Routed::Api(m)) => {
                let wanted = if m.head { Method::GET } else { method.clone() };
                prop_assert_eq!(&m.spec.method, &wanted);
                prop_assert_eq!(m.head, method == Method::HEAD);
                let target: &str = &m.target;
                let (p, q) = target.split_once('?').map_or((target, None), |(p, q)| (p, Some(q)));
                prop_assert!(p.starts_with('/') && !p.contains("//"), "{}", target);
                prop_assert!(canonical_path_chars(p), "{}", target);
                prop_assert!(q.is_none() || m.spec.list().is_some(), "{}", target);
                prop_assert!(q.is_none_or(|q| !q.is_empty()), "{}", target);
                // A canonical target is a fixed point: the cache key of
                // what it names, whichever spelling a caller used.
                let again_path = format!("{API_PREFIX}{p}");
                match route_target(&wanted, &again_path, q) {
                    Ok(Routed::Api(again)) => {
                        prop_assert_eq!(again.spec.id, m.spec.id);
                        prop_assert_eq!(&*again.target, target);
                    }
                    other => prop_assert!(false, "{} re-routed to {:?}", target, other),
                }
            }
            Ok(Routed::Local(l)) => {
                prop_assert_eq!(path.as_str(), match l {
                    Local::Healthz => "/healthz",
                    Local::Readyz => "/readyz",
                    Local::Metrics => "/metrics",
                    Local::Status => "/status",
                    Local::StatusJson => "/status.json",
                    Local::Webhook => "/webhooks/altur",
                });
                prop_assert!(
                    method == Method::GET
                        || method == Method::HEAD
                        || (l == Local::Webhook && method == Method::POST)
                );
            }
            Err(Refusal::NotFound | Refusal::InvalidCampaignId) => {}
            Err(Refusal::MethodNotAllowed(allow)) => prop_assert!(!allow.is_empty()),
            Err(Refusal::InvalidParameter(name)) => {
                prop_assert!(name.chars().count() <= query::MAX_ECHOED_NAME);
                prop_assert!(name.chars().all(|c| (' '..='~').contains(&c)), "{:?}", name);
            }
            Err(other) => prop_assert!(false, "routing never refuses with {:?}", other),
        }
    }

    #[test]
    fn fuzz_check_limits_holds_http11_to_one_host(
        version in prop::sample::select(vec![Version::HTTP_10, Version::HTTP_11, Version::HTTP_2]),
        hosts in prop::collection::vec("[a-z0-9.:-]{0,20}", 0..3),
        target in "/[a-z0-9/?=&]{0,40}",
    ) {
        let mut b = Request::builder().version(version).uri(target.as_str());
        for h in &hosts {
            b = b.header(http::header::HOST, h.as_str());
        }
        let Ok(req) = b.body(()) else { return Ok(()) };
        let r = check_limits(&req);
        if version == Version::HTTP_11 && hosts.len() != 1 {
            prop_assert_eq!(r, Err(Refusal::MissingHost));
        } else {
            prop_assert_eq!(r, Ok(()));
        }
    }
}

#[test]
fn a_borrowed_target_is_already_canonical() {
    // The fast path hands back the caller's own text; it must equal what
    // the slow path would write.
    match route_target(&Method::GET, "/api/v1.0/campaigns/7/contacts/12", None) {
        Ok(Routed::Api(m)) => assert!(matches!(
            m.target,
            Cow::Borrowed("/campaigns/7/contacts/12")
        )),
        other => panic!("{other:?}"),
    }
}
