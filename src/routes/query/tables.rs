//! The parameters of each list route, sorted by name (the canonical
//! order), with the values each accepts (SPEC, "Query parameters and the
//! cache key"; ALTUR-API.md for the enums).

use super::{Kind, Param};

pub(super) const CAMPAIGN_STATUS: &[&str] = &[
    "pending", "ready", "active", "inactive", "cooldown", "finished",
];
pub(super) const INTEGRATION: &[&str] = &["phone_call", "whatsapp"];
pub(super) const CONTACT_STATUS: &[&str] = &[
    "queue",
    "sending",
    "sent",
    "delivered",
    "voicemail",
    "read",
    "failed",
    "no-answer",
    "busy",
    "retrying",
    "converted",
    "acepted",
    "accepted",
    "rejected",
    "unreachable",
];
pub(super) const CALL_STATUS: &[&str] = &["ended", "failed", "busy", "no-answer", "in-progress"];
pub(super) const ANSWERED_BY: &[&str] = &["human", "machine", "unknown"];

pub(super) const PAGE_SIZE: Kind = Kind::Int {
    min: 1,
    max: 100,
    default: Some(50),
};
pub(super) const PAGE_INDEX: Kind = Kind::Int {
    min: 0,
    max: 25_000,
    default: Some(0),
};

pub(super) const CAMPAIGNS: &[Param] = &[
    Param {
        name: "agentId",
        kind: Kind::Uuid,
    },
    Param {
        name: "cursor",
        kind: Kind::Cursor,
    },
    Param {
        name: "endDate",
        kind: Kind::Date,
    },
    Param {
        name: "integration",
        kind: Kind::OneOf(INTEGRATION),
    },
    Param {
        name: "pageSize",
        // Cursor-paged: the SPEC documents no default, so it is always kept.
        kind: Kind::Int {
            min: 1,
            max: 100,
            default: None,
        },
    },
    Param {
        name: "startDate",
        kind: Kind::Date,
    },
    Param {
        name: "status",
        kind: Kind::OneOf(CAMPAIGN_STATUS),
    },
];

pub(super) const CONTACTS: &[Param] = &[
    Param {
        name: "pageIndex",
        kind: PAGE_INDEX,
    },
    Param {
        name: "pageSize",
        kind: PAGE_SIZE,
    },
    Param {
        name: "status",
        kind: Kind::OneOf(CONTACT_STATUS),
    },
];

pub(super) const CALLS: &[Param] = &[
    Param {
        name: "answeredBy",
        kind: Kind::OneOf(ANSWERED_BY),
    },
    Param {
        name: "endDate",
        kind: Kind::Date,
    },
    Param {
        name: "pageIndex",
        kind: PAGE_INDEX,
    },
    Param {
        name: "pageSize",
        kind: PAGE_SIZE,
    },
    Param {
        name: "startDate",
        kind: Kind::Date,
    },
    Param {
        name: "status",
        kind: Kind::OneOf(CALL_STATUS),
    },
];
