//! What a write's 2xx drops from the cache, from its canonical target and
//! (for a message) its answer: the groups of the SPEC's invalidation table.

use super::params;
use super::spec::Invalidates;

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
                    .filter(|t| params::token(t));
                match thread {
                    Some(t) => vec![format!("/message/{t}"), format!("/thread/{t}")],
                    None => Vec::new(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::spec::{Kind, RouteId};

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
}
