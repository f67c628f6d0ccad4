//! The route table: every Altur endpoint the gateway carries, as data.
//!
//! Routing, the `Allow` header, metric and log labels, configuration
//! (`cache.routes.<route>`), scopes and the README's route table all read
//! this one list. Nothing that is not in it ever reaches upstream.

use http::Method;

use super::query::List;

/// A route's name: the label in logs and metrics, the key in `cache.routes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteId {
    CampaignList,
    Campaign,
    ContactList,
    Contact,
    CallList,
    Call,
    Recording,
    Thread,
    Messages,
    Enduser,
}

impl RouteId {
    /// Every route, in table order; `id as usize` indexes it.
    pub const ALL: [RouteId; 10] = [
        RouteId::CampaignList,
        RouteId::Campaign,
        RouteId::ContactList,
        RouteId::Contact,
        RouteId::CallList,
        RouteId::Call,
        RouteId::Recording,
        RouteId::Thread,
        RouteId::Messages,
        RouteId::Enduser,
    ];
    pub const COUNT: usize = Self::ALL.len();

    pub fn as_str(self) -> &'static str {
        match self {
            RouteId::CampaignList => "campaign_list",
            RouteId::Campaign => "campaign",
            RouteId::ContactList => "contact_list",
            RouteId::Contact => "contact",
            RouteId::CallList => "call_list",
            RouteId::Call => "call",
            RouteId::Recording => "recording",
            RouteId::Thread => "thread",
            RouteId::Messages => "messages",
            RouteId::Enduser => "enduser",
        }
    }

    /// The route of this name (config keys, scopes).
    pub fn from_name(name: &str) -> Option<RouteId> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Its row in [`ROUTES`].
    pub fn spec(self) -> &'static RouteSpec {
        &ROUTES[self as usize]
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
    /// `{contact_id}`: digits fitting an i64, canonicalised; else 400 `invalid_parameter`.
    ContactId,
    /// `{call_id}`, `{thread_id}`, `{enduser_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent.
    CallId,
    ThreadId,
    EndUserId,
}

impl Param {
    /// The name an error message gives it.
    pub fn name(self) -> &'static str {
        match self {
            Param::CampaignId => "id",
            Param::ContactId => "contact_id",
            Param::CallId => "call_id",
            Param::ThreadId => "thread_id",
            Param::EndUserId => "enduser_id",
        }
    }
}

/// Which scopes reach a route: `<group>:read` / `<group>:write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Campaigns,
    Contacts,
    Calls,
    Messages,
    Endusers,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Campaigns => "campaigns",
            Group::Contacts => "contacts",
            Group::Calls => "calls",
            Group::Messages => "messages",
            Group::Endusers => "endusers",
        }
    }
}

/// A read route's freshness when `cache.routes` says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// `cache.ttl_seconds` / `cache.negative_ttl_seconds`.
    Global,
    /// Its own defaults, in seconds.
    Own { ttl: u64, negative: u64 },
}

/// What kind of request a route is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Cached (when `store`), collapsed, retried, served stale. `list`: the
    /// query it accepts (other routes drop the query).
    Read {
        list: Option<List>,
        store: bool,
        freshness: Freshness,
    },
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

    /// Whether it reads or writes, for scopes.
    pub fn access(&self) -> crate::auth::scopes::Access {
        match self.kind {
            Kind::Read { .. } => crate::auth::scopes::Access::Read,
        }
    }

    /// Whether its answers may be stored.
    pub fn stores(&self) -> bool {
        match self.kind {
            Kind::Read { store, .. } => store,
        }
    }

    /// Its freshness when `cache.routes` says nothing.
    pub fn freshness(&self) -> Freshness {
        match self.kind {
            Kind::Read { freshness, .. } => freshness,
        }
    }

    /// The list this route's query belongs to, if it takes one.
    pub fn list(&self) -> Option<List> {
        match self.kind {
            Kind::Read { list, .. } => list,
        }
    }
}

use Param as P;
use Seg::{Lit, Param as Var};

const fn read(
    id: RouteId,
    path: &'static [Seg],
    list: Option<List>,
    freshness: Freshness,
    group: Group,
) -> RouteSpec {
    RouteSpec {
        id,
        method: Method::GET,
        path,
        kind: Kind::Read {
            list,
            store: true,
            freshness,
        },
        group,
    }
}

const fn own(ttl: u64, negative: u64) -> Freshness {
    Freshness::Own { ttl, negative }
}

/// Every route, in [`RouteId::ALL`] order (a test checks it).
pub static ROUTES: [RouteSpec; RouteId::COUNT] = [
    read(
        RouteId::CampaignList,
        &[Lit("campaigns")],
        Some(List::Campaigns),
        own(10, 5),
        Group::Campaigns,
    ),
    read(
        RouteId::Campaign,
        &[Lit("campaigns"), Var(P::CampaignId)],
        None,
        Freshness::Global,
        Group::Campaigns,
    ),
    read(
        RouteId::ContactList,
        &[Lit("campaigns"), Var(P::CampaignId), Lit("contacts")],
        Some(List::Contacts),
        own(10, 5),
        Group::Contacts,
    ),
    read(
        RouteId::Contact,
        &[
            Lit("campaigns"),
            Var(P::CampaignId),
            Lit("contacts"),
            Var(P::ContactId),
        ],
        None,
        Freshness::Global,
        Group::Contacts,
    ),
    read(
        RouteId::CallList,
        &[Lit("campaigns"), Var(P::CampaignId), Lit("calls")],
        Some(List::Calls),
        own(10, 5),
        Group::Calls,
    ),
    read(
        RouteId::Call,
        &[Lit("call"), Var(P::CallId)],
        None,
        own(10, 5),
        Group::Calls,
    ),
    RouteSpec {
        id: RouteId::Recording,
        method: Method::GET,
        path: &[Lit("call"), Var(P::CallId), Lit("recording")],
        kind: Kind::Read {
            list: None,
            store: false,
            freshness: own(0, 0),
        },
        group: Group::Calls,
    },
    read(
        RouteId::Thread,
        &[Lit("thread"), Var(P::ThreadId)],
        None,
        own(5, 5),
        Group::Messages,
    ),
    read(
        RouteId::Messages,
        &[Lit("message"), Var(P::ThreadId)],
        None,
        own(5, 5),
        Group::Messages,
    ),
    read(
        RouteId::Enduser,
        &[Lit("enduser"), Var(P::EndUserId)],
        None,
        own(60, 5),
        Group::Endusers,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_follow_the_ids_and_names_are_unique() {
        for (i, id) in RouteId::ALL.into_iter().enumerate() {
            assert_eq!(ROUTES[i].id, id, "row {i}");
            assert_eq!(id as usize, i);
            assert_eq!(RouteId::from_name(id.as_str()), Some(id));
        }
        assert_eq!(RouteId::from_name("campaigns"), None);
    }
}
