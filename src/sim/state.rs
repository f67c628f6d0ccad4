//! The mutable world behind the simulated API: what writes changed or
//! created, layered over the generated data of [`super::bodies`], and the
//! answers kept for idempotent replays.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::clock::SIM_EPOCH;
use super::reply::Reply;

/// Where created campaigns' ids start (below [`super::FIRST_MISSING_ID`]).
pub(super) const FIRST_CREATED_CAMPAIGN: i64 = 900_000_000;
/// Where created contacts' ids start (above every generated contact id).
const FIRST_CREATED_CONTACT: i64 = 2_000_000_000_000;
/// Idempotent answers kept; the oldest is forgotten past this (Altur's
/// "dedup window" is not documented; a bound keeps garbage from growing it).
const MAX_REPLAYS: usize = 10_000;

/// A campaign a write touched.
#[derive(Debug, Clone)]
pub(super) enum CampaignState {
    /// A generated campaign with these fields changed (merged over it).
    Changed(Map<String, Value>),
    /// Made by `POST /campaigns`: its whole `campaign` object.
    Created(Value),
}

/// One campaign's contacts, as writes left them.
#[derive(Debug, Default)]
pub(super) struct ContactBook {
    /// Generated contacts that were deleted.
    pub deleted: HashSet<i64>,
    /// Generated contacts that `if_duplicate: update` rewrote.
    pub edited: HashMap<i64, Value>,
    /// Contacts added with `POST /campaigns/{id}/contacts`, by id.
    pub created: BTreeMap<i64, Value>,
}

/// Same method, same path, same `Idempotency-Key`.
type ReplayKey = (String, String, String);

#[derive(Debug)]
pub(crate) struct World {
    writes: i64,
    serial: u64,
    next_campaign: i64,
    next_contact: i64,
    pub campaigns: BTreeMap<i64, CampaignState>,
    pub contacts: HashMap<i64, ContactBook>,
    /// Calls started with `POST /call`, by id.
    pub calls: HashMap<String, Value>,
    /// Threads that a call or a message created or touched, by id.
    pub threads: HashMap<String, Value>,
    /// Messages sent into a thread, oldest first, by thread id.
    pub messages: HashMap<String, Vec<Value>>,
    /// End users created or updated, by id.
    pub end_users: HashMap<String, Value>,
    replays: HashMap<ReplayKey, Reply>,
    replay_order: VecDeque<ReplayKey>,
}

impl Default for World {
    fn default() -> Self {
        World {
            writes: 0,
            serial: 0,
            next_campaign: FIRST_CREATED_CAMPAIGN,
            next_contact: FIRST_CREATED_CONTACT,
            campaigns: BTreeMap::new(),
            contacts: HashMap::new(),
            calls: HashMap::new(),
            threads: HashMap::new(),
            messages: HashMap::new(),
            end_users: HashMap::new(),
            replays: HashMap::new(),
            replay_order: VecDeque::new(),
        }
    }
}

impl World {
    /// The simulated time of a write: one second after the previous one.
    pub fn tick(&mut self) -> i64 {
        self.writes += 1;
        SIM_EPOCH + self.writes - 1
    }

    /// A fresh number for ids of created things.
    pub fn serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// The next created campaign's id, none once the range is spent.
    pub fn new_campaign_id(&mut self) -> Option<i64> {
        let id = self.next_campaign;
        (id < super::FIRST_MISSING_ID).then(|| {
            self.next_campaign += 1;
            id
        })
    }

    pub fn new_contact_id(&mut self) -> i64 {
        self.next_contact += 1;
        self.next_contact - 1
    }

    /// Whether `POST /campaigns` made this campaign (it has no generated
    /// contacts or calls).
    pub fn created(&self, campaign: i64) -> bool {
        matches!(
            self.campaigns.get(&campaign),
            Some(CampaignState::Created(_))
        )
    }

    pub fn book(&mut self, campaign: i64) -> &mut ContactBook {
        self.contacts.entry(campaign).or_default()
    }

    /// The answer first given to this write, if it is a replay.
    pub fn replay(&self, method: &str, path: &str, key: &str) -> Option<Reply> {
        self.replays
            .get(&(method.to_string(), path.to_string(), key.to_string()))
            .cloned()
    }

    /// Keeps the answer to a write sent with an `Idempotency-Key`.
    pub fn remember(&mut self, method: &str, path: &str, key: &str, reply: &Reply) {
        let k = (method.to_string(), path.to_string(), key.to_string());
        if self.replays.insert(k.clone(), reply.clone()).is_none() {
            self.replay_order.push_back(k);
        }
        while self.replay_order.len() > MAX_REPLAYS {
            if let Some(old) = self.replay_order.pop_front() {
                self.replays.remove(&old);
            }
        }
    }
}

/// Merges `patch` into `target`: objects field by field, anything else replaced.
pub(super) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep_for_objects_only() {
        let mut a =
            json!({"name": "a", "cycles": {"max_iterations": 7, "enabled": true}, "tags": [1]});
        merge(
            &mut a,
            &json!({"cycles": {"max_iterations": 3}, "tags": [2], "new": null}),
        );
        assert_eq!(
            a,
            json!({"name": "a", "cycles": {"max_iterations": 3, "enabled": true}, "tags": [2], "new": null})
        );
    }

    #[test]
    fn replays_are_bounded() {
        let mut w = World::default();
        let r = Reply::ok(&json!({}));
        for i in 0..MAX_REPLAYS + 5 {
            w.remember("POST", "/call", &i.to_string(), &r);
        }
        assert!(w.replay("POST", "/call", "0").is_none(), "oldest forgotten");
        assert!(
            w.replay("POST", "/call", &(MAX_REPLAYS + 4).to_string())
                .is_some()
        );
        assert!(
            w.replay("PUT", "/call", "7").is_none(),
            "method is part of the key"
        );
        assert_eq!(w.tick(), SIM_EPOCH);
        assert_eq!(w.tick(), SIM_EPOCH + 1);
    }
}
