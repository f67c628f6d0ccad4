//! The route table: every Altur endpoint the gateway carries, as data.
//!
//! Routing, the `Allow` header, metric and log labels, configuration
//! (`cache.routes.<route>`), scopes and the README's route table all read
//! this one list. Nothing that is not in it ever reaches upstream.

pub use super::spec::*;

use http::Method;

use super::query::List;

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
    fn rows_follow_the_ids_and_names_are_unique() {
        for (i, id) in RouteId::ALL.into_iter().enumerate() {
            assert_eq!(ROUTES[i].id, id, "row {i}");
            assert_eq!(id as usize, i);
            assert_eq!(RouteId::from_name(id.as_str()), Some(id));
        }
        assert_eq!(RouteId::from_name("campaigns"), None);
    }
}
