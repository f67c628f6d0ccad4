//! What may be stored, and for how long: a read route's [`Policy`].
//!
//! Stored: a 200 with a JSON body (for the route's `ttl`, then servable
//! stale for `stale_if_error`) and a 404 (for its `negative_ttl`, never
//! served stale). Never: other statuses, a body that is not JSON, an
//! upstream `Cache-Control: no-store`, or any answer of a route that is
//! never stored (`recording`).

use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;

use crate::config::CacheSettings;
use crate::routes::RouteId;

/// One read route's cache policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// False for a route whose answers are relayed and never stored.
    pub store: bool,
    pub ttl: Duration,
    pub negative_ttl: Duration,
    pub stale_if_error: Duration,
    /// How long past expiry a 200 is answered at once while it is refreshed.
    pub stale_while_revalidate: Duration,
    /// Whether entries read steadily are refreshed before they expire.
    pub refresh_ahead: bool,
}

/// Why an answer was not stored: the `reason` of the debug log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoStore {
    Route,
    Status,
    NotJson,
    NoStoreDirective,
    ZeroTtl,
    /// A write or webhook invalidated its group after the request was sent.
    Fenced,
}

impl NoStore {
    pub fn as_str(self) -> &'static str {
        match self {
            NoStore::Route => "route_never_stored",
            NoStore::Status => "status",
            NoStore::NotJson => "not_json",
            NoStore::NoStoreDirective => "no_store",
            NoStore::ZeroTtl => "zero_ttl",
            NoStore::Fenced => "invalidated_in_flight",
        }
    }
}

impl Policy {
    /// The policy of `route` under these settings.
    pub fn for_route(settings: &CacheSettings, route: RouteId) -> Policy {
        let f = settings.freshness(route);
        Policy {
            store: route.spec().stores(),
            ttl: f.ttl,
            negative_ttl: f.negative_ttl,
            stale_if_error: settings.stale_if_error,
            stale_while_revalidate: settings.stale_while_revalidate,
            refresh_ahead: settings.refresh_ahead,
        }
    }

    /// Every route's policy, indexed by `RouteId as usize`.
    pub fn all(settings: &CacheSettings) -> [Policy; RouteId::COUNT] {
        RouteId::ALL.map(|r| Policy::for_route(settings, r))
    }

    /// How long past expiry a 200 may still be answered: the longer of the
    /// stale-if-error and stale-while-revalidate windows.
    pub fn stale_window(&self) -> Duration {
        self.stale_if_error.max(self.stale_while_revalidate)
    }

    /// How long before expiry a steadily read entry is refreshed: a tenth of
    /// its freshness, at least a second (and never all of it).
    pub fn ahead(&self) -> Duration {
        (self.ttl / 10)
            .max(Duration::from_secs(1))
            .min(self.ttl / 2)
    }

    /// How long an answer stays fresh, then servable stale (the longer of
    /// the stale-if-error and stale-while-revalidate windows); or why it is
    /// not stored.
    ///
    /// # Errors
    /// The [`NoStore`] reason.
    pub fn lifetime(
        &self,
        status: StatusCode,
        body: &Bytes,
        no_store: bool,
    ) -> Result<(Duration, Duration), NoStore> {
        if !self.store {
            return Err(NoStore::Route);
        }
        if no_store {
            return Err(NoStore::NoStoreDirective);
        }
        let (ttl, stale) = match status {
            StatusCode::OK => {
                if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_err() {
                    return Err(NoStore::NotJson);
                }
                (
                    self.ttl,
                    self.stale_if_error.max(self.stale_while_revalidate),
                )
            }
            // A stored 404 is never served stale: stale answers are 200s.
            StatusCode::NOT_FOUND => (self.negative_ttl, Duration::ZERO),
            _ => return Err(NoStore::Status),
        };
        if ttl.is_zero() && stale.is_zero() {
            return Err(NoStore::ZeroTtl);
        }
        Ok((ttl, stale))
    }
}
