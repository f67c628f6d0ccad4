//! The canonicaliser through HTTP: every spelling of a valid list query
//! (any order, zero-padding, explicit defaults, percent-encoding, stray
//! `&`s, a zero-padded campaign id) is one upstream request for the
//! canonical target, and one body; any invalid query is 400
//! `invalid_parameter` naming the parameter, and never reaches upstream.
//!
//! The expected canonical form is written here, from the SPEC, independently
//! of the gateway's code.

use std::cell::Cell;
use std::time::Duration;

use proptest::prelude::*;

use super::{advance, paused_runtime, run_cases};

mod defects;
mod model;

use crate::helpers::TestApp;
use defects::*;
use model::Rng;
use model::*;
#[test]
fn every_spelling_of_a_valid_list_query_is_one_upstream_request_and_one_body() {
    let rt = paused_runtime();
    let app = rt.block_on(TestApp::spawn());
    let next_campaign = Cell::new(100i64);
    run_cases(
        24,
        (list_strategy(), any::<u64>(), 2usize..=4),
        |(list, seed, spellings)| {
            let mut rng = Rng::new(seed);
            let params = valid_params(list, &mut rng);
            let campaign = next_campaign.get();
            next_campaign.set(campaign + 1);
            let expected = match canonical_query(list, &params) {
                Some(q) => format!("{}?{q}", list.canonical_path(campaign)),
                None => list.canonical_path(campaign),
            };
            let mut targets: Vec<String> = (0..spellings)
                .map(|_| {
                    let path = list.path(campaign, rng.below(4) as usize);
                    let query = spell_query(list, &params, &mut rng);
                    target(&path, &query, &mut rng)
                })
                .collect();
            // The canonical spelling is one of them.
            targets.push(expected.clone());
            rng.shuffle(&mut targets);
            rt.block_on(async {
                // Past every earlier case's freshness (and any stale window):
                // the campaign list's entries are shared between cases.
                advance(Duration::from_secs(61)).await;
                let before = app.upstream().len();
                let mut bodies = Vec::new();
                for (i, t) in targets.iter().enumerate() {
                    let r = app.get(t).await;
                    prop_assert_eq!(r.status, 200, "{} gave {:?}", t, r.body);
                    let want = if i == 0 {
                        "altur-gateway; fwd=miss; stored"
                    } else {
                        "altur-gateway; hit"
                    };
                    prop_assert_eq!(r.header("cache-status"), Some(want), "{}", t);
                    bodies.push(r.body);
                }
                let up = app.upstream();
                prop_assert_eq!(
                    up.len(),
                    before + 1,
                    "one upstream request for {:?}",
                    targets
                );
                prop_assert_eq!(&up[before].target, &expected, "from {:?}", targets);
                for b in &bodies {
                    prop_assert_eq!(b, &up[before].response);
                }
                Ok(())
            })
        },
    );
    rt.block_on(app.stop());
}

#[test]
fn any_invalid_list_query_is_400_naming_it_and_never_reaches_upstream() {
    let rt = paused_runtime();
    let app = rt.block_on(TestApp::spawn());
    run_cases(
        96,
        (list_strategy(), defect_strategy(), any::<u64>()),
        |(list, defect, seed)| {
            let mut rng = Rng::new(seed);
            let (query, named) = invalid_query(list, defect, &mut rng);
            let t = format!("{}?{query}", list.path(7, rng.below(3) as usize));
            rt.block_on(async {
                let before = app.upstream().len();
                let r = app.get(&t).await;
                prop_assert_eq!(r.status, 400, "{} gave {:?}", t, r.body);
                let body = r.json();
                prop_assert_eq!(&body["error"]["code"], "invalid_parameter", "{}", t);
                let message = body["error"]["message"].as_str().unwrap_or_default();
                prop_assert!(
                    message.contains(&format!("`{named}`")),
                    "{}: {:?} should name `{}`",
                    t,
                    message,
                    named
                );
                prop_assert_eq!(app.upstream().len(), before, "{} reached upstream", t);
                Ok(())
            })
        },
    );
    rt.block_on(app.stop());
}
