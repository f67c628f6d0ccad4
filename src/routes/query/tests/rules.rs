//! The canonicaliser rule by rule, against the SPEC's table.

use super::super::tables::*;
use super::super::*;

mod values;

fn ok(list: List, raw: &str) -> Option<String> {
    match canonical(list, Some(raw)) {
        Ok(c) => c,
        Err(e) => panic!("{list:?} {raw:?}: {e}"),
    }
}

fn err(list: List, raw: &str) -> String {
    match canonical(list, Some(raw)) {
        Err(InvalidParam(name)) => name,
        Ok(c) => panic!("{list:?} {raw:?}: accepted as {c:?}"),
    }
}

fn same(list: List, raw: &str, expected: &str) {
    assert_eq!(ok(list, raw).as_deref(), Some(expected), "{list:?} {raw:?}");
}

const UUID: &str = "123e4567-e89b-12d3-a456-426614174000";

#[test]
fn spec_example() {
    same(
        List::Contacts,
        "pageIndex=00&status=queue&pageSize=50",
        "status=queue",
    );
}

#[test]
fn nothing_left_is_none() {
    for list in [List::Campaigns, List::Contacts, List::Calls] {
        assert_eq!(canonical(list, None), Ok(None));
        for raw in ["", "&", "&&&"] {
            assert_eq!(canonical(list, Some(raw)), Ok(None), "{raw:?}");
        }
    }
    assert_eq!(ok(List::Contacts, "pageIndex=0"), None);
    assert_eq!(ok(List::Contacts, "pageSize=050&pageIndex=0000"), None);
    assert_eq!(ok(List::Calls, "pageSize=50&&pageIndex=0&"), None);
}

#[test]
fn tables_are_sorted_and_fit() {
    for list in [List::Campaigns, List::Contacts, List::Calls] {
        let names: Vec<&str> = list.params().iter().map(|p| p.name).collect();
        assert!(names.len() <= MAX_PARAMS);
        assert!(
            names.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
            "{names:?}"
        );
        assert!(names.iter().all(|n| n.len() <= WORD_BUF));
        for p in list.params() {
            if let Kind::OneOf(words) = p.kind {
                assert!(words.iter().all(|w| w.len() <= WORD_BUF));
            }
        }
    }
}

#[test]
fn sorted_by_name() {
    same(
        List::Campaigns,
        &format!(
            "status=active&startDate=2024-01-01&pageSize=10&integration=whatsapp\
             &endDate=2024-02-01&cursor=abc&agentId={UUID}"
        ),
        &format!(
            "agentId={UUID}&cursor=abc&endDate=2024-02-01&integration=whatsapp\
             &pageSize=10&startDate=2024-01-01&status=active"
        ),
    );
    same(
        List::Calls,
        "status=ended&startDate=2024-01-01&pageSize=10&pageIndex=3&endDate=2024-01-02&answeredBy=human",
        "answeredBy=human&endDate=2024-01-02&pageIndex=3&pageSize=10&startDate=2024-01-01&status=ended",
    );
    same(
        List::Contacts,
        "status=sent&pageSize=10&pageIndex=3",
        "pageIndex=3&pageSize=10&status=sent",
    );
}

#[test]
fn every_documented_word() {
    let cases: [(List, &str, &[&str]); 5] = [
        (List::Campaigns, "status", CAMPAIGN_STATUS),
        (List::Campaigns, "integration", INTEGRATION),
        (List::Contacts, "status", CONTACT_STATUS),
        (List::Calls, "status", CALL_STATUS),
        (List::Calls, "answeredBy", ANSWERED_BY),
    ];
    for (list, name, words) in cases {
        for w in words {
            same(list, &format!("{name}={w}"), &format!("{name}={w}"));
            assert_eq!(err(list, &format!("{name}={}", w.to_uppercase())), name);
            assert_eq!(err(list, &format!("{name}={w}x")), name);
            assert_eq!(err(list, &format!("{name}={w}%20")), name);
        }
    }
    assert_eq!(CONTACT_STATUS.len(), 15);
    // A word of another list is outside the table.
    assert_eq!(err(List::Campaigns, "status=queue"), "status");
    assert_eq!(err(List::Contacts, "status=active"), "status");
    assert_eq!(err(List::Calls, "status=queue"), "status");
    assert_eq!(err(List::Calls, "status=no_answer"), "status");
    assert_eq!(err(List::Contacts, "status=no+answer"), "status");
    // Only the campaign list filters by integration, only calls by answeredBy.
    assert_eq!(err(List::Contacts, "integration=whatsapp"), "integration");
    assert_eq!(err(List::Campaigns, "answeredBy=human"), "answeredBy");
    assert_eq!(
        err(List::Contacts, "startDate=2024-01-01&endDate=2024-01-01"),
        "startDate"
    );
    assert_eq!(err(List::Contacts, &format!("agentId={UUID}")), "agentId");
    assert_eq!(err(List::Calls, "cursor=abc"), "cursor");
    assert_eq!(err(List::Campaigns, "pageIndex=1"), "pageIndex");
}

#[test]
fn names_are_case_sensitive_and_decoded() {
    assert_eq!(err(List::Contacts, "Status=queue"), "Status");
    assert_eq!(err(List::Contacts, "pagesize=10"), "pagesize");
    assert_eq!(err(List::Contacts, "status =queue"), "status ");
    same(List::Contacts, "%73tatus=queue", "status=queue");
    same(List::Contacts, "%73%74%61%74%75%73=%71ueue", "status=queue");
    same(List::Contacts, "page%53ize=10", "pageSize=10");
    same(List::Contacts, "page%53ize=10", "pageSize=10");
    assert_eq!(err(List::Contacts, "%53tatus=queue"), "Status");
}

#[test]
fn unknown_repeated_and_empty() {
    assert_eq!(err(List::Contacts, "foo=1"), "foo");
    assert_eq!(err(List::Contacts, "status=queue&foo"), "foo");
    assert_eq!(err(List::Contacts, "=1"), "");
    assert_eq!(err(List::Contacts, "="), "");
    assert_eq!(err(List::Contacts, "status=queue&status=queue"), "status");
    assert_eq!(err(List::Contacts, "status=queue&%73tatus=sent"), "status");
    assert_eq!(err(List::Contacts, "pageSize=10&pageSize=10"), "pageSize");
    // A default given twice is still repeated.
    assert_eq!(err(List::Contacts, "pageIndex=0&pageIndex=0"), "pageIndex");
    assert_eq!(err(List::Contacts, "status="), "status");
    assert_eq!(err(List::Contacts, "status"), "status");
    assert_eq!(
        err(List::Contacts, "pageSize=10&status&pageIndex=1"),
        "status"
    );
    assert_eq!(err(List::Campaigns, "cursor="), "cursor");
    // The first bad parameter, left to right, is the one named.
    assert_eq!(err(List::Contacts, "a=1&b=2"), "a");
    assert_eq!(err(List::Contacts, "status=bogus&a=1"), "status");
    // Empty segments are ignored, a value may hold '='.
    same(
        List::Contacts,
        "&&status=queue&&&pageSize=10&",
        "pageSize=10&status=queue",
    );
    same(List::Campaigns, "cursor=ab==", "cursor=ab%3D%3D");
}

#[test]
fn invalid_escapes() {
    for v in ["%", "%4", "%zz", "%G1", "queue%", "que%2", "%%71ueue"] {
        assert_eq!(err(List::Contacts, &format!("status={v}")), "status", "{v}");
    }
    assert_eq!(err(List::Campaigns, "cursor=ab%2"), "cursor");
    // An undecodable name is echoed with what could be decoded.
    assert_eq!(err(List::Contacts, "%zz=1"), "%zz");
    assert_eq!(err(List::Contacts, "%73tat%us=queue"), "stat%us");
    assert_eq!(err(List::Contacts, "status%=queue"), "status%");
}

#[test]
fn error_names_are_safe_to_echo() {
    assert_eq!(err(List::Contacts, "a%00b=1"), "a?b");
    assert_eq!(err(List::Contacts, "a%0Ab=1"), "a?b");
    assert_eq!(err(List::Contacts, "a%7Fb=1"), "a?b");
    assert_eq!(err(List::Contacts, "a%FFb=1"), "a?b");
    assert_eq!(err(List::Contacts, "caf%C3%A9=1"), "caf?");
    assert_eq!(err(List::Contacts, "café=1"), "caf?");
    assert_eq!(err(List::Contacts, "a%20b=1"), "a b");
    assert_eq!(err(List::Contacts, "%22%3C%3E=1"), "\"<>");
    let long = "x".repeat(300);
    assert_eq!(err(List::Contacts, &format!("{long}=1")), "x".repeat(64));
    let long = "é".repeat(100);
    assert_eq!(err(List::Contacts, &format!("{long}=1")), "?".repeat(64));
    let long = "%E9".repeat(100);
    assert_eq!(err(List::Contacts, &format!("{long}=1")), "?".repeat(64));
    assert_eq!(
        InvalidParam("status".into()).to_string(),
        "invalid query parameter 'status'"
    );
}

#[test]
fn output_is_allocated_once_at_its_size() {
    let c = ok(
        List::Campaigns,
        &format!(
            "cursor=a+b&agentId={UUID}&startDate=2024-01-01t00:00:00%2B01:00&endDate=2024-01-02"
        ),
    );
    let c = c.expect("something left");
    assert_eq!(c.capacity(), c.len());
}
