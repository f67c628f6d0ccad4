//! Scopes: what a caller may do, as a small bit set.
//!
//! `read` and `write` reach every read or write route; `<group>:read` and
//! `<group>:write` reach the routes of one group (the route table gives each
//! route's group).

use crate::routes::RouteSpec;
use crate::routes::table::Group;

/// Read or write access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

const GROUPS: [Group; 5] = [
    Group::Campaigns,
    Group::Contacts,
    Group::Calls,
    Group::Messages,
    Group::Endusers,
];

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u16);

fn bit(group: Group, access: Access) -> u16 {
    let g = GROUPS.iter().position(|x| *x == group).unwrap_or(0);
    1 << (g * 2 + usize::from(access == Access::Write))
}

fn all(access: Access) -> u16 {
    GROUPS.iter().fold(0, |acc, g| acc | bit(*g, access))
}

impl Scopes {
    pub const NONE: Scopes = Scopes(0);

    /// Parses scope names.
    ///
    /// # Errors
    /// The first unknown name, by its place in the list: the names come from
    /// files and variables, and an error never repeats what they hold.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Scopes, String> {
        let mut bits = 0;
        for (i, name) in names.iter().enumerate() {
            bits |= Self::one(name.as_ref()).ok_or_else(|| {
                format!(
                    "unknown scope (entry {} of the list): expected read, write, or <group>:read / <group>:write with group campaigns, contacts, calls, messages or endusers",
                    i + 1
                )
            })?;
        }
        Ok(Scopes(bits))
    }

    fn one(name: &str) -> Option<u16> {
        match name {
            "read" => return Some(all(Access::Read)),
            "write" => return Some(all(Access::Write)),
            _ => {}
        }
        let (group, access) = name.split_once(':')?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return None,
        };
        let group = GROUPS.into_iter().find(|g| g.as_str() == group)?;
        Some(bit(group, access))
    }

    /// Whether these scopes reach `route`.
    pub fn allows(self, route: &RouteSpec) -> bool {
        self.0 & bit(route.group, route.access()) != 0
    }

    /// The narrowest scope that reaches `route`, for a 403's message.
    pub fn needed(route: &RouteSpec) -> String {
        format!("{}:{}", route.group.as_str(), route.access().as_str())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The scopes as their shortest names, for `check-config`.
    pub fn names(self) -> Vec<String> {
        let mut out = Vec::new();
        for access in [Access::Read, Access::Write] {
            if self.0 & all(access) == all(access) {
                out.push(access.as_str().to_string());
                continue;
            }
            for g in GROUPS {
                if self.0 & bit(g, access) != 0 {
                    out.push(format!("{}:{}", g.as_str(), access.as_str()));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::RouteId;

    #[test]
    fn group_scopes_reach_their_group_and_the_broad_ones_every_route() {
        let contacts = Scopes::parse(&["contacts:read"]).expect("valid");
        assert!(contacts.allows(RouteId::ContactList.spec()));
        assert!(contacts.allows(RouteId::Contact.spec()));
        assert!(!contacts.allows(RouteId::Campaign.spec()));
        let read = Scopes::parse(&["read"]).expect("valid");
        let (reads, writes): (Vec<RouteId>, Vec<RouteId>) =
            RouteId::ALL.iter().partition(|r| r.spec().is_read());
        assert!(reads.iter().all(|r| read.allows(r.spec())));
        assert!(!writes.iter().any(|r| read.allows(r.spec())));
        let write = Scopes::parse(&["write"]).expect("valid");
        assert!(writes.iter().all(|r| write.allows(r.spec())));
        let calls = Scopes::parse(&["calls:write"]).expect("valid");
        assert!(calls.allows(RouteId::CallStart.spec()));
        assert!(!calls.allows(RouteId::MessageSend.spec()));
        assert!(!calls.allows(RouteId::Call.spec()));
        assert_eq!(
            Scopes::needed(RouteId::CampaignUpdate.spec()),
            "campaigns:write"
        );
        assert!(!Scopes::NONE.allows(RouteId::Campaign.spec()));
        assert_eq!(Scopes::needed(RouteId::CallList.spec()), "calls:read");
        assert_eq!(read.names(), ["read"]);
        assert_eq!(contacts.names(), ["contacts:read"]);
        assert!(Scopes::parse(&["admin"]).is_err());
        assert!(Scopes::parse(&["contacts:delete"]).is_err());
        assert!(Scopes::parse(&["people:read"]).is_err());
    }
}
