//! The route table: every Altur endpoint the gateway carries, as data.
//!
//! Routing, the `Allow` header, metric and log labels, configuration
//! (`cache.routes.<route>`), scopes and the README's route table all read
//! this one list. Nothing that is not in it ever reaches upstream.

use http::Method;

/// A route's name: the label in logs and metrics, the key in `cache.routes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteId {
    Campaign,
}

impl RouteId {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteId::Campaign => "campaign",
        }
    }
}

/// One segment of a path pattern below `/api/v1.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    Lit(&'static str),
    Param(Param),
}

/// A path parameter and how it is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `{id}`: digits fitting an i64, canonicalised; else 400 `invalid_campaign_id`.
    CampaignId,
}

/// Which scopes reach a route: `<group>:read` / `<group>:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Campaigns,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Campaigns => "campaigns",
        }
    }
}

/// Where a read route's freshness comes from when `cache.routes` says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// `cache.ttl_seconds` / `cache.negative_ttl_seconds`.
    Global,
}

/// What kind of request a route is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Cached (when `store`), collapsed, retried, served stale.
    Read { store: bool, freshness: Freshness },
}

/// One Altur endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub id: RouteId,
    /// GET for reads (HEAD is served wherever GET is).
    pub method: Method,
    pub path: &'static [Seg],
    pub kind: Kind,
    pub group: Group,
}

impl RouteSpec {
    pub fn name(&self) -> &'static str {
        self.id.as_str()
    }
}

use Param as P;
use Seg::{Lit, Param as Var};

/// Every route, in the order the README lists them.
pub static ROUTES: &[RouteSpec] = &[RouteSpec {
    id: RouteId::Campaign,
    method: Method::GET,
    path: &[Lit("campaigns"), Var(P::CampaignId)],
    kind: Kind::Read {
        store: true,
        freshness: Freshness::Global,
    },
    group: Group::Campaigns,
}];
