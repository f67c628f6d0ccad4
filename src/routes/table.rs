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

impl Invalidates {
    /// The groups (paths of cached reads) a 2xx of this write changed, from
    /// its canonical `target` and, for a message, the thread its `answer`
    /// names. Nothing the answer says is used unless it is a valid id.
    pub fn groups(self, target: &str, answer: &[u8]) -> Vec<String> {
        let mut segs = target.trim_start_matches('/').split('/');
        let id = segs.nth(1).unwrap_or_default();
        let campaign = format!("/campaigns/{id}");
        match self {
            Invalidates::Nothing => Vec::new(),
            Invalidates::CampaignList => vec!["/campaigns".into()],
            Invalidates::CampaignAndList => vec![campaign, "/campaigns".into()],
            Invalidates::ContactsAndCampaign => vec![format!("{campaign}/contacts"), campaign],
            Invalidates::ContactContactsAndCampaign => {
                vec![target.to_string(), format!("{campaign}/contacts"), campaign]
            }
            Invalidates::Enduser => vec![target.to_string()],
            Invalidates::ThreadOfAnswer => {
                let thread = serde_json::from_slice::<serde_json::Value>(answer)
                    .ok()
                    .and_then(|v| v["thread"]["id"].as_str().map(str::to_string))
                    .filter(|t| super::params::token(t));
                match thread {
                    Some(t) => vec![format!("/message/{t}"), format!("/thread/{t}")],
                    None => Vec::new(),
                }
            }
        }
    }
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

/// The README's route table and the lists' query table, in Markdown, from
/// [`ROUTES`] and the query rules: what `README.md` holds between
/// `<!-- routes:begin -->` and `<!-- routes:end -->` (a test compares them).
///
/// `ttl` and `negative_ttl` are the defaults of `cache.ttl_seconds` and
/// `cache.negative_ttl_seconds`, which routes without their own freshness
/// follow.
pub fn markdown_table(ttl: u64, negative_ttl: u64) -> String {
    use std::fmt::Write as _;

    let mut out = String::from(
        "| route | method and path | parameters | fresh for (s): 200 / 404 | scopes |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for spec in &ROUTES {
        let methods = if spec.method == Method::GET {
            "GET, HEAD".to_owned()
        } else {
            spec.method.as_str().to_owned()
        };
        let mut params: Vec<String> = spec
            .path
            .iter()
            .filter_map(|s| match s {
                Seg::Param(p) => Some(format!("`{{{}}}`: {}", p.name(), p.describe())),
                Seg::Lit(_) => None,
            })
            .collect();
        if let Kind::Write { body, .. } = spec.kind {
            params.push(
                if body {
                    "JSON body"
                } else {
                    "JSON body, optional"
                }
                .to_owned(),
            );
        }
        match spec.list() {
            Some(list) => params.push(format!(
                "query: {}",
                list.names()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => params.push("query dropped".to_owned()),
        }
        let fresh = match (spec.stores(), spec.freshness()) {
            _ if !spec.is_read() => "write: never stored".to_owned(),
            (false, _) => "never stored".to_owned(),
            (true, Freshness::Own { ttl, negative }) => format!("{ttl} / {negative}"),
            (true, Freshness::Global) => format!(
                "{ttl} / {negative_ttl} (`cache.ttl_seconds` / `cache.negative_ttl_seconds`)"
            ),
        };
        let access = spec.access().as_str();
        let _ = writeln!(
            out,
            "| `{}` | {methods} `{}` | {} | {fresh} | `{access}` or `{}:{access}` |",
            spec.name(),
            spec.pattern(),
            params.join("; "),
            spec.group.as_str(),
        );
    }
    out.push_str(
        "\n| route | query parameter | values |\n\
         | --- | --- | --- |\n",
    );
    for spec in ROUTES.iter() {
        let Some(list) = spec.list() else { continue };
        for (i, (name, values)) in list.describe().enumerate() {
            let route = if i == 0 {
                format!(" `{}` ", spec.name())
            } else {
                " ".to_owned()
            };
            let _ = writeln!(out, "|{route}| `{name}` | {values} |");
        }
    }
    out
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

const fn write(
    id: RouteId,
    method: Method,
    path: &'static [Seg],
    body: bool,
    invalidates: Invalidates,
    group: Group,
) -> RouteSpec {
    RouteSpec {
        id,
        method,
        path,
        kind: Kind::Write { body, invalidates },
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
    write(
        RouteId::CampaignCreate,
        Method::POST,
        &[Lit("campaigns")],
        true,
        Invalidates::CampaignList,
        Group::Campaigns,
    ),
    write(
        RouteId::CampaignUpdate,
        Method::PATCH,
        &[Lit("campaigns"), Var(P::CampaignId)],
        true,
        Invalidates::CampaignAndList,
        Group::Campaigns,
    ),
    write(
        RouteId::CampaignAction,
        Method::POST,
        &[Lit("campaigns"), Var(P::CampaignId), Var(P::Action)],
        false,
        Invalidates::CampaignAndList,
        Group::Campaigns,
    ),
    write(
        RouteId::ContactCreate,
        Method::POST,
        &[Lit("campaigns"), Var(P::CampaignId), Lit("contacts")],
        true,
        Invalidates::ContactsAndCampaign,
        Group::Contacts,
    ),
    write(
        RouteId::ContactDelete,
        Method::DELETE,
        &[
            Lit("campaigns"),
            Var(P::CampaignId),
            Lit("contacts"),
            Var(P::ContactId),
        ],
        false,
        Invalidates::ContactContactsAndCampaign,
        Group::Contacts,
    ),
    write(
        RouteId::CallStart,
        Method::POST,
        &[Lit("call")],
        true,
        Invalidates::Nothing,
        Group::Calls,
    ),
    write(
        RouteId::MessageSend,
        Method::POST,
        &[Lit("message")],
        true,
        Invalidates::ThreadOfAnswer,
        Group::Messages,
    ),
    write(
        RouteId::EnduserCreate,
        Method::POST,
        &[Lit("enduser")],
        true,
        Invalidates::Nothing,
        Group::Endusers,
    ),
    write(
        RouteId::EnduserUpdate,
        Method::PUT,
        &[Lit("enduser"), Var(P::EndUserId)],
        true,
        Invalidates::Enduser,
        Group::Endusers,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_write_drops_what_the_spec_says() {
        let g = |id: RouteId, target: &str, answer: &str| match id.spec().kind {
            Kind::Write { invalidates, .. } => invalidates.groups(target, answer.as_bytes()),
            Kind::Read { .. } => panic!("{id:?} is a read"),
        };
        assert_eq!(
            g(RouteId::CampaignCreate, "/campaigns", "{}"),
            ["/campaigns"]
        );
        assert_eq!(
            g(RouteId::CampaignUpdate, "/campaigns/7", "{}"),
            ["/campaigns/7", "/campaigns"]
        );
        assert_eq!(
            g(RouteId::CampaignAction, "/campaigns/7/pause", "{}"),
            ["/campaigns/7", "/campaigns"]
        );
        assert_eq!(
            g(RouteId::ContactCreate, "/campaigns/7/contacts", "{}"),
            ["/campaigns/7/contacts", "/campaigns/7"]
        );
        assert_eq!(
            g(RouteId::ContactDelete, "/campaigns/7/contacts/9", "{}"),
            [
                "/campaigns/7/contacts/9",
                "/campaigns/7/contacts",
                "/campaigns/7"
            ]
        );
        assert_eq!(
            g(
                RouteId::MessageSend,
                "/message",
                r#"{"thread": {"id": "thr_1"}}"#
            ),
            ["/message/thr_1", "/thread/thr_1"]
        );
        assert!(
            g(
                RouteId::MessageSend,
                "/message",
                r#"{"thread": {"id": "../x"}}"#
            )
            .is_empty()
        );
        assert!(g(RouteId::MessageSend, "/message", "not json").is_empty());
        assert_eq!(
            g(RouteId::EnduserUpdate, "/enduser/u1", "{}"),
            ["/enduser/u1"]
        );
        assert!(g(RouteId::CallStart, "/call", "{}").is_empty());
        assert!(g(RouteId::EnduserCreate, "/enduser", "{}").is_empty());
    }

    #[test]
    fn rows_follow_the_ids_and_names_are_unique() {
        for (i, id) in RouteId::ALL.into_iter().enumerate() {
            assert_eq!(ROUTES[i].id, id, "row {i}");
            assert_eq!(id as usize, i);
            assert_eq!(RouteId::from_name(id.as_str()), Some(id));
        }
        assert_eq!(RouteId::from_name("campaigns"), None);
    }

    const BEGIN: &str = "<!-- routes:begin -->\n";
    const END: &str = "<!-- routes:end -->";

    /// The README's route table is [`markdown_table`] with the compiled
    /// defaults. `UPDATE_README=1 cargo test --lib readme` rewrites it.
    #[test]
    fn the_readme_route_table_is_rendered_from_the_code() {
        let settings = crate::config::Settings::load_from(None, Vec::new())
            .expect("the compiled defaults are valid");
        let rendered = markdown_table(
            settings.cache.ttl.as_secs(),
            settings.cache.negative_ttl.as_secs(),
        );
        let readme = include_str!("../../README.md");
        let (head, rest) = readme
            .split_once(BEGIN)
            .expect("README.md has <!-- routes:begin -->");
        let (current, tail) = rest
            .split_once(END)
            .expect("README.md has <!-- routes:end --> after the begin marker");
        if current == rendered {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
            std::fs::write(path, format!("{head}{BEGIN}{rendered}{END}{tail}"))
                .expect("README.md is writable");
            return;
        }
        panic!(
            "README.md's route table differs from the code's; run \
             `UPDATE_README=1 cargo test --lib readme` to rewrite it. Expected:\n{rendered}"
        );
    }

    #[test]
    fn the_table_has_a_row_per_route_and_the_spec_s_cells() {
        let t = markdown_table(30, 5);
        for spec in &ROUTES {
            assert!(
                t.contains(&format!("| `{}` |", spec.name())),
                "{}",
                spec.name()
            );
        }
        for row in [
            "| `campaign` | GET, HEAD `/campaigns/{id}` | `{id}`: digits fitting an i64, leading zeros dropped; query dropped | 30 / 5 (`cache.ttl_seconds` / `cache.negative_ttl_seconds`) | `read` or `campaigns:read` |",
            "| `contact_list` | GET, HEAD `/campaigns/{id}/contacts` | `{id}`: digits fitting an i64, leading zeros dropped; query: `pageIndex`, `pageSize`, `status` | 10 / 5 | `read` or `contacts:read` |",
            "| `recording` | GET, HEAD `/call/{call_id}/recording` | `{call_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent; query dropped | never stored | `read` or `calls:read` |",
            "| `thread` | GET, HEAD `/thread/{thread_id}` | `{thread_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent; query dropped | 5 / 5 | `read` or `messages:read` |",
            "| `enduser` | GET, HEAD `/enduser/{enduser_id}` | `{enduser_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent; query dropped | 60 / 5 | `read` or `endusers:read` |",
            "| | `pageSize` | 1 to 100, default 50 (left out of the key) |",
            "| `campaign_list` | `agentId` | a UUID (any case; written lower-case) |",
        ] {
            assert!(t.lines().any(|l| l == row), "no row {row}\nin\n{t}");
        }
    }
}
