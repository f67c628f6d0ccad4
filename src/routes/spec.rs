//! The types of the route table: a route's id, path pattern, parameters,
//! kind (read or write) and scope group. [`super::table::ROUTES`] is the
//! table itself.

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
    CampaignCreate,
    CampaignUpdate,
    CampaignAction,
    ContactCreate,
    ContactDelete,
    CallStart,
    MessageSend,
    EnduserCreate,
    EnduserUpdate,
}

impl RouteId {
    /// Every route, in table order; `id as usize` indexes it.
    pub const ALL: [RouteId; 19] = [
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
        RouteId::CampaignCreate,
        RouteId::CampaignUpdate,
        RouteId::CampaignAction,
        RouteId::ContactCreate,
        RouteId::ContactDelete,
        RouteId::CallStart,
        RouteId::MessageSend,
        RouteId::EnduserCreate,
        RouteId::EnduserUpdate,
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
            RouteId::CampaignCreate => "campaign_create",
            RouteId::CampaignUpdate => "campaign_update",
            RouteId::CampaignAction => "campaign_action",
            RouteId::ContactCreate => "contact_create",
            RouteId::ContactDelete => "contact_delete",
            RouteId::CallStart => "call_start",
            RouteId::MessageSend => "message_send",
            RouteId::EnduserCreate => "enduser_create",
            RouteId::EnduserUpdate => "enduser_update",
        }
    }

    /// The route of this name (config keys, scopes).
    pub fn from_name(name: &str) -> Option<RouteId> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Its row in [`ROUTES`].
    pub fn spec(self) -> &'static RouteSpec {
        &super::table::ROUTES[self as usize]
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
    /// `{action}`: one of [`ACTIONS`]; anything else is another path (404).
    Action,
}

/// The campaign lifecycle actions Altur documents.
pub const ACTIONS: [&str; 4] = ["activate", "pause", "archive", "resume"];

impl Param {
    /// The name an error message gives it.
    pub fn name(self) -> &'static str {
        match self {
            Param::CampaignId => "id",
            Param::ContactId => "contact_id",
            Param::CallId => "call_id",
            Param::ThreadId => "thread_id",
            Param::EndUserId => "enduser_id",
            Param::Action => "action",
        }
    }

    /// What it accepts, in words (Markdown): the README's route table.
    pub fn describe(self) -> &'static str {
        match self {
            Param::CampaignId | Param::ContactId => "digits fitting an i64, leading zeros dropped",
            Param::CallId | Param::ThreadId | Param::EndUserId => {
                "1 to 64 of `[A-Za-z0-9_-]`, kept as sent"
            }
            Param::Action => "`activate`, `pause`, `archive` or `resume`",
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
    /// Sent once (see the SPEC's Retries), never stored, collapsed or
    /// answered stale; after a 2xx, drops the cached reads it changed.
    Write {
        /// Whether a JSON body is required (`false`: it may be absent).
        body: bool,
        invalidates: Invalidates,
    },
}

/// What a write's 2xx drops from the cache: groups of cached reads named by
/// their path (a detail entry, or every entry of a list whatever its query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalidates {
    Nothing,
    /// Every `campaign_list` entry.
    CampaignList,
    /// `campaign` {id}; every `campaign_list` entry.
    CampaignAndList,
    /// Every `contact_list` entry of {id}; `campaign` {id}.
    ContactsAndCampaign,
    /// `contact` {id}/{contact_id}; every `contact_list` entry of {id}; `campaign` {id}.
    ContactContactsAndCampaign,
    /// `messages` and `thread` of the thread the answer names (`thread.id`).
    ThreadOfAnswer,
    /// `enduser` {enduser_id}.
    Enduser,
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
            Kind::Write { .. } => crate::auth::scopes::Access::Write,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self.kind, Kind::Read { .. })
    }

    /// Whether its answers may be stored.
    pub fn stores(&self) -> bool {
        match self.kind {
            Kind::Read { store, .. } => store,
            Kind::Write { .. } => false,
        }
    }

    /// Its freshness when `cache.routes` says nothing (none for a write).
    pub fn freshness(&self) -> Freshness {
        match self.kind {
            Kind::Read { freshness, .. } => freshness,
            Kind::Write { .. } => Freshness::Own {
                ttl: 0,
                negative: 0,
            },
        }
    }

    /// The list this route's query belongs to, if it takes one.
    pub fn list(&self) -> Option<List> {
        match self.kind {
            Kind::Read { list, .. } => list,
            Kind::Write { .. } => None,
        }
    }

    /// Its path pattern below `/api/v1.0`, e.g. `/campaigns/{id}/contacts`.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for seg in self.path {
            out.push('/');
            match seg {
                Seg::Lit(l) => out.push_str(l),
                Seg::Param(p) => {
                    out.push('{');
                    out.push_str(p.name());
                    out.push('}');
                }
            }
        }
        out
    }
}
