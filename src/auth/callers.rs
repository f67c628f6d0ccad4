//! The callers file: who may call, with which scopes, weight and rate.
//!
//! ```toml
//! [[caller]]
//! name = "billing"             # 1-32 of [a-z0-9_-], unique
//! token_sha256 = "9f86d0..."   # hex SHA-256 of the token; the token is stored nowhere
//! scopes = ["read", "calls:write"]
//! weight = 2                   # 1-100, default 1
//! requests_per_second = 200    # optional
//! ```
//!
//! A token is matched by its SHA-256, compared with every caller's in
//! constant time, so neither the token nor which hash it resembles leaks
//! through timing.

use std::num::NonZeroU32;
use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::counter::Counter;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::scopes::Scopes;
use crate::admission::{self, Limiter};
use crate::metrics::Metrics;
use crate::queue::Lane;
use crate::routes::RouteId;

/// The caller of requests without a token.
pub use crate::queue::schedule::ANONYMOUS;
/// The metric label of a request whose token matched no caller.
pub const UNKNOWN: &str = "unknown";

/// One calling service.
pub struct Caller {
    /// The label in logs and metrics.
    pub name: Arc<str>,
    pub scopes: Scopes,
    /// Its share of the upstream budget when callers compete (1-100).
    pub weight: u32,
    /// Its request rate at the gateway, hits included.
    pub requests_per_second: Option<NonZeroU32>,
    pub(crate) limiter: Option<Arc<Limiter>>,
    hash: [u8; 32],
    /// Its 200-hit counters, one per route, resolved on its first hit.
    hits: OnceLock<Box<[Counter]>>,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the hash.
        f.debug_struct("Caller")
            .field("name", &self.name)
            .field("scopes", &self.scopes.names())
            .field("weight", &self.weight)
            .field("requests_per_second", &self.requests_per_second)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// Counts a 200 hit of `route` for this caller: one atomic add.
    pub fn count_hit(&self, route: RouteId, metrics: &Metrics) {
        let hits = self.hits.get_or_init(|| metrics.hit_counters(&self.name));
        if let Some(c) = hits.get(route as usize) {
            c.inc();
        }
    }

    /// Its lane in the upstream queue.
    pub fn lane(&self) -> Lane {
        Lane::new(Arc::clone(&self.name), self.weight)
    }

    /// Stands for a request whose token matched no caller, in logs and metrics.
    pub fn unknown() -> Caller {
        Caller {
            name: Arc::from(UNKNOWN),
            scopes: Scopes::NONE,
            weight: 1,
            requests_per_second: None,
            limiter: None,
            hash: [0; 32],
            hits: OnceLock::new(),
        }
    }

    /// The anonymous caller: no token, the configured scopes, weight 1, no rate.
    pub fn anonymous(scopes: Scopes) -> Caller {
        Caller {
            name: Arc::from(ANONYMOUS),
            scopes,
            weight: 1,
            requests_per_second: None,
            limiter: None,
            hash: [0; 32],
            hits: OnceLock::new(),
        }
    }
}

/// Every caller of the file in force, and the anonymous one.
#[derive(Debug)]
pub struct Callers {
    list: Vec<Arc<Caller>>,
    pub anonymous: Arc<Caller>,
}

impl Callers {
    /// No callers file: everyone is anonymous.
    pub fn anonymous_only(scopes: Scopes) -> Callers {
        Callers {
            list: Vec::new(),
            anonymous: Arc::new(Caller::anonymous(scopes)),
        }
    }

    /// Parses a callers file. A caller keeping its name and rate keeps its
    /// rate limiter's state from `previous`.
    ///
    /// # Errors
    /// The first problem, naming the caller (by position and name) and the
    /// field; never a hash.
    pub fn parse(
        bytes: &[u8],
        anonymous: Scopes,
        previous: Option<&Callers>,
    ) -> Result<Callers, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let raw = super::callers_toml::read(text)?;
        let mut list: Vec<Arc<Caller>> = Vec::with_capacity(raw.len());
        for (i, c) in raw.into_iter().enumerate() {
            if !valid_name(&c.name) {
                return Err(format!("caller {}: name must be 1-32 of [a-z0-9_-]", i + 1));
            }
            // Shown from here on: a valid name is a label of logs and metrics.
            let at = |what: String| format!("caller {} ({}): {what}", i + 1, c.name);
            if c.name == ANONYMOUS || c.name == UNKNOWN {
                return Err(at(format!("the name `{}` is reserved", c.name)));
            }
            if list.iter().any(|o| *o.name == *c.name) {
                return Err(at("a second caller with this name".into()));
            }
            let hash = parse_hash(&c.token_sha256)
                .ok_or_else(|| at("token_sha256 must be 64 hex digits".into()))?;
            if list.iter().any(|o| o.hash == hash) {
                return Err(at("token_sha256 is the same as another caller's".into()));
            }
            let scopes = Scopes::parse(&c.scopes).map_err(at)?;
            let weight = u32::try_from(c.weight)
                .ok()
                .filter(|w| (1..=100).contains(w))
                .ok_or_else(|| at("weight must be 1 to 100".into()))?;
            let rps = match c.requests_per_second {
                None => None,
                Some(n) => Some(
                    u32::try_from(n)
                        .ok()
                        .and_then(NonZeroU32::new)
                        .ok_or_else(|| at("requests_per_second must be 1 to 4294967295".into()))?,
                ),
            };
            let limiter = rps.map(|rps| {
                previous
                    .and_then(|p| p.list.iter().find(|o| *o.name == *c.name))
                    .filter(|o| o.requests_per_second == Some(rps))
                    .and_then(|o| o.limiter.clone())
                    .unwrap_or_else(|| Arc::new(admission::limiter(rps)))
            });
            list.push(Arc::new(Caller {
                name: Arc::from(c.name.as_str()),
                scopes,
                weight,
                requests_per_second: rps,
                limiter,
                hash,
                hits: OnceLock::new(),
            }));
        }
        Ok(Callers {
            list,
            anonymous: Arc::new(Caller::anonymous(anonymous)),
        })
    }

    /// The caller whose token this is, if any. Every caller's hash is
    /// compared, in constant time.
    pub fn find(&self, token: &[u8]) -> Option<&Arc<Caller>> {
        let hash: [u8; 32] = Sha256::digest(token).into();
        let mut found = None;
        for c in &self.list {
            if bool::from(c.hash.ct_eq(&hash)) {
                found = Some(c);
            }
        }
        found
    }

    /// The callers of the file, in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Caller>> {
        self.list.iter()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn parse_hash(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let digit = |b: u8| char::from(b).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(extra: &str) -> String {
        let hash = hex_sha256(b"secret-billing");
        format!(
            "[[caller]]\nname = \"billing\"\ntoken_sha256 = \"{hash}\"\nscopes = [\"read\", \"calls:write\"]\nweight = 2\nrequests_per_second = 200\n{extra}"
        )
    }

    fn hex_sha256(b: &[u8]) -> String {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }

    #[test]
    fn a_token_finds_its_caller_by_hash() {
        let c = Callers::parse(file("").as_bytes(), Scopes::NONE, None).expect("valid");
        let billing = c.find(b"secret-billing").expect("found");
        assert_eq!(&*billing.name, "billing");
        assert_eq!(billing.weight, 2);
        assert_eq!(billing.scopes.names(), ["read", "calls:write"]);
        assert!(c.find(b"secret-billin").is_none());
        assert!(c.find(b"").is_none());
        let shown = format!("{billing:?}");
        assert!(
            !shown.contains(&hex_sha256(b"secret-billing")[..16]),
            "{shown}"
        );
    }

    #[test]
    fn a_reload_keeps_a_callers_rate_state() {
        let a = Callers::parse(file("").as_bytes(), Scopes::NONE, None).expect("valid");
        let b = Callers::parse(file("").as_bytes(), Scopes::NONE, Some(&a)).expect("valid");
        let la = a
            .find(b"secret-billing")
            .and_then(|c| c.limiter.clone())
            .expect("limiter");
        let lb = b
            .find(b"secret-billing")
            .and_then(|c| c.limiter.clone())
            .expect("limiter");
        assert!(Arc::ptr_eq(&la, &lb));
    }

    #[test]
    fn problems_name_the_caller_and_field_never_the_hash() {
        let other = hex_sha256(b"other");
        for (extra, needle) in [
            (
                "[[caller]]\nname = \"Bad Name\"\ntoken_sha256 = \"x\"\n",
                "caller 2: name",
            ),
            (
                &*format!("[[caller]]\nname = \"billing\"\ntoken_sha256 = \"{other}\"\n"),
                "same name",
            ),
            (
                "[[caller]]\nname = \"b2\"\ntoken_sha256 = \"abc\"\n",
                "64 hex digits",
            ),
            (
                &*format!(
                    "[[caller]]\nname = \"b2\"\ntoken_sha256 = \"{other}\"\nscopes = [\"admin\"]\n"
                ),
                "unknown scope",
            ),
            (
                &*format!("[[caller]]\nname = \"b2\"\ntoken_sha256 = \"{other}\"\nweight = 0\n"),
                "weight",
            ),
            (
                &*format!("[[caller]]\nname = \"anonymous\"\ntoken_sha256 = \"{other}\"\n"),
                "reserved",
            ),
            (
                &*format!("[[caller]]\nname = \"b2\"\ntoken_sha256 = \"{other}\"\nextra = 1\n"),
                "unknown field",
            ),
            ("[[caller]\n", "at line"),
        ] {
            let e = Callers::parse(file(extra).as_bytes(), Scopes::NONE, None).expect_err(extra);
            let e = e.replace("a second caller with this name", "same name");
            assert!(e.contains(needle), "{extra}: {e}");
            assert!(!e.contains(&hex_sha256(b"secret-billing")), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
        let dup = format!(
            "[[caller]]\nname = \"b2\"\ntoken_sha256 = \"{}\"\n",
            hex_sha256(b"secret-billing")
        );
        let e = Callers::parse(file(&dup).as_bytes(), Scopes::NONE, None).expect_err("dup");
        assert!(e.contains("same as another"), "{e}");
    }
}
