//! The campaign list: every listed campaign through the filters, paged by
//! an opaque cursor.
//!
//! The list holds ids 1..=60 and every created campaign, ascending by id.
//! Its cursor is base64 of `after:<id>` or `before:<id>` (keyset paging, so
//! a campaign created mid-way does not shift pages; the alphabet includes
//! `+`, `/` and `=`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::bodies::campaign_list_item;
use super::campaigns::record;
use super::endpoints::Req;
use super::input::{self, Params};
use super::reply::Reply;
use super::state::{CampaignState, World};

/// Generated campaigns that the list shows.
const LISTED: std::ops::RangeInclusive<i64> = 1..=60;
const DEFAULT_PAGE_SIZE: usize = 20;
const STATUSES: [&str; 6] = [
    "pending", "ready", "active", "inactive", "cooldown", "finished",
];

pub(super) fn list(world: &mut World, req: &Req<'_>) -> Reply {
    match try_list(world, &req.query) {
        Ok(body) => Reply::ok(&body),
        Err(r) => r,
    }
}

enum Cursor {
    After(i64),
    Before(i64),
}

fn encode(c: &Cursor) -> String {
    STANDARD.encode(match c {
        Cursor::After(id) => format!("after:{id}"),
        Cursor::Before(id) => format!("before:{id}"),
    })
}

fn decode(raw: &str) -> Option<Cursor> {
    let text = String::from_utf8(STANDARD.decode(raw).ok()?).ok()?;
    let (kind, id) = text.split_once(':')?;
    let id = id.parse().ok()?;
    match kind {
        "after" => Some(Cursor::After(id)),
        "before" => Some(Cursor::Before(id)),
        _ => None,
    }
}

fn try_list(world: &World, q: &Params) -> Result<Value, Reply> {
    let status = q.one_of("status", &STATUSES)?;
    let integration = q.one_of("integration", &["phone_call", "whatsapp"])?;
    let agent = q.get("agentId");
    let dates = q.dates()?;
    let size = q.int("pageSize", DEFAULT_PAGE_SIZE, 1, 100)?;
    let cursor = match q.get("cursor") {
        None => None,
        Some(raw) => Some(decode(raw).ok_or_else(|| Reply::invalid("cursor", "invalid cursor"))?),
    };
    let created = world
        .campaigns
        .iter()
        .filter(|(_, c)| matches!(c, CampaignState::Created(_)))
        .map(|(id, _)| *id);
    let all: Vec<(i64, Value)> = LISTED
        .chain(created)
        .filter_map(|id| Some((id, campaign_list_item(id, &record(world, id)?))))
        .filter(|(_, c)| status.is_none_or(|s| c["status"] == s))
        .filter(|(_, c)| integration.is_none_or(|t| c["integration"]["type"] == t))
        .filter(|(_, c)| agent.is_none_or(|a| c["agent"]["id"] == a))
        .filter(|(_, c)| input::in_range(dates, c["created_at"].as_str()))
        .collect();
    let (from, to) = match cursor {
        None => (0, size.min(all.len())),
        Some(Cursor::After(x)) => {
            let from = all.partition_point(|(id, _)| *id <= x);
            (from, from.saturating_add(size).min(all.len()))
        }
        Some(Cursor::Before(x)) => {
            let to = all.partition_point(|(id, _)| *id < x);
            (to.saturating_sub(size), to)
        }
    };
    let id_at = |i: usize| all.get(i).map_or(i64::MAX, |(id, _)| *id);
    let has_next = to < all.len();
    let has_previous = from > 0;
    // Keyset cursors: after the page's last id, before its first. An empty
    // page (a cursor past either end) points at the items on its other side.
    let next_cursor = has_next.then(|| {
        let after = if to > from {
            id_at(to - 1)
        } else {
            id_at(to).saturating_sub(1)
        };
        encode(&Cursor::After(after))
    });
    let previous_cursor = has_previous.then(|| {
        let before = if from < all.len() {
            id_at(from)
        } else {
            id_at(from - 1).saturating_add(1)
        };
        encode(&Cursor::Before(before))
    });
    let page: Vec<Value> = all
        .get(from..to)
        .unwrap_or(&[])
        .iter()
        .map(|(_, c)| c.clone())
        .collect();
    Ok(json!({
        "total_count": all.len(),
        "campaigns": page,
        "pagination": {
            "has_next": has_next,
            "has_previous": has_previous,
            "next_cursor": next_cursor,
            "previous_cursor": previous_cursor,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode(&Cursor::After(20));
        assert!(matches!(decode(&c), Some(Cursor::After(20))));
        for bad in ["", "!!", "YWZ0ZXI6", "Zm9vOjE=", "YWZ0ZXI6eA=="] {
            assert!(decode(bad).is_none(), "{bad}");
        }
    }
}
