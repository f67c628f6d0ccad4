//! The canonicaliser rule by rule, against the SPEC's table.

use super::super::tables::*;
use super::super::*;

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
fn integers() {
    for list in [List::Contacts, List::Calls] {
        same(list, "pageSize=1", "pageSize=1");
        same(list, "pageSize=001", "pageSize=1");
        same(list, "pageSize=100", "pageSize=100");
        same(list, "pageSize=0000100", "pageSize=100");
        same(list, "pageSize=%31%30", "pageSize=10");
        same(list, "pageIndex=25000", "pageIndex=25000");
        same(list, "pageIndex=07", "pageIndex=7");
        assert_eq!(ok(list, "pageSize=50"), None);
        assert_eq!(ok(list, "pageSize=0050&pageIndex=000"), None);
        for v in [
            "0",
            "101",
            "-1",
            "+1",
            "1.0",
            "1e2",
            " 1",
            "1 ",
            "%201",
            "0x1",
            "١",
            "abc",
            "99999999999999999999999999",
            "4294967296",
            "4294967345",
        ] {
            assert_eq!(err(list, &format!("pageSize={v}")), "pageSize", "{v:?}");
        }
        for v in ["-1", "25001", "+0", "99999999999999999999"] {
            assert_eq!(err(list, &format!("pageIndex={v}")), "pageIndex", "{v:?}");
        }
    }
    // The campaign list documents no default page size: always kept.
    same(List::Campaigns, "pageSize=050", "pageSize=50");
    same(List::Campaigns, "pageSize=1", "pageSize=1");
    assert_eq!(err(List::Campaigns, "pageSize=0"), "pageSize");
    assert_eq!(err(List::Campaigns, "pageSize=101"), "pageSize");
}

#[test]
fn agent_ids() {
    same(
        List::Campaigns,
        &format!("agentId={UUID}"),
        &format!("agentId={UUID}"),
    );
    same(
        List::Campaigns,
        "agentId=123E4567-E89B-12D3-A456-42661417400F",
        "agentId=123e4567-e89b-12d3-a456-42661417400f",
    );
    same(
        List::Campaigns,
        "agentId=123e4567%2De89b-12d3-a456-42661417400%46",
        "agentId=123e4567-e89b-12d3-a456-42661417400f",
    );
    for v in [
        "123e4567e89b12d3a456426614174000",
        "123e4567-e89b-12d3-a456-42661417400",
        "123e4567-e89b-12d3-a456-4266141740000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a456_426614174000",
        "123e456-7e89b-12d3-a456-426614174000",
        "123e4567-e89b-12d3-a456-42661417400g",
        "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
        " 123e4567-e89b-12d3-a456-42661417400",
        "x",
    ] {
        assert_eq!(
            err(List::Campaigns, &format!("agentId={v}")),
            "agentId",
            "{v}"
        );
    }
}

fn dates(list: List, start: &str, end: &str) -> Result<Option<String>, InvalidParam> {
    canonical(list, Some(&format!("startDate={start}&endDate={end}")))
}

#[test]
fn valid_dates() {
    let cases = [
        ("2024-02-29", "2024-02-29"),
        ("2000-02-29", "2000-02-29"),
        ("2023-12-31", "2023-12-31"),
        ("0000-01-01", "0000-01-01"),
        ("0000-02-29", "0000-02-29"),
        ("2400-02-29", "2400-02-29"),
        ("9999-12-31", "9999-12-31"),
        ("2024-01-01T10:00:00Z", "2024-01-01T10:00:00Z"),
        ("2024-01-01t10:00:00z", "2024-01-01T10:00:00Z"),
        ("2024-01-01T23:59:60Z", "2024-01-01T23:59:60Z"),
        ("2024-01-01T00:00:00.5Z", "2024-01-01T00:00:00.5Z"),
        (
            "2024-01-01T00:00:00.123456789012z",
            "2024-01-01T00:00:00.123456789012Z",
        ),
        ("2024-01-01T00:00:00+05:30", "2024-01-01T00:00:00%2B05:30"),
        ("2024-01-01T00:00:00%2b05:30", "2024-01-01T00:00:00%2B05:30"),
        (
            "2024-01-01T00:00:00%2B05%3A30",
            "2024-01-01T00:00:00%2B05:30",
        ),
        ("2024-01-01T00:00:00-00:00", "2024-01-01T00:00:00-00:00"),
        (
            "2024-01-01T00:00:00.25-23:59",
            "2024-01-01T00:00:00.25-23:59",
        ),
        ("%32024-01-01%54%30%30:00:00%5a", "2024-01-01T00:00:00Z"),
    ];
    for list in [List::Campaigns, List::Calls] {
        for (raw, canon) in cases {
            assert_eq!(
                dates(list, raw, raw),
                Ok(Some(format!("endDate={canon}&startDate={canon}"))),
                "{raw}"
            );
        }
    }
    // No order between the two is imposed, nor one form for both.
    assert_eq!(
        dates(List::Calls, "2024-02-01T00:00:00Z", "2024-01-01"),
        Ok(Some(
            "endDate=2024-01-01&startDate=2024-02-01T00:00:00Z".into()
        ))
    );
}

#[test]
fn invalid_dates() {
    for v in [
        "2023-02-29",
        "1900-02-29",
        "2100-02-29",
        "2023-06-31",
        "2024-13-01",
        "2024-00-10",
        "2024-04-31",
        "2024-01-00",
        "2024-01-32",
        "2024-1-01",
        "24-01-01",
        "20240101",
        "2024/01/01",
        "-2024-01-01",
        "12024-01-01",
        "2024-01-01T",
        "2024-01-01Z",
        "2024-01-01T10:00Z",
        "2024-01-01T10:00:00",
        "2024-01-01T24:00:00Z",
        "2024-01-01T12:60:00Z",
        "2024-01-01T12:00:61Z",
        "2024-01-01T12:00:00.Z",
        "2024-01-01T12:00:00.1",
        "2024-01-01T12:00:00,5Z",
        "2024-01-01T12:00:00+0530",
        "2024-01-01T12:00:00+05",
        "2024-01-01T12:00:00+24:00",
        "2024-01-01T12:00:00+05:60",
        "2024-01-01T12:00:00Z ",
        "2024-01-01T12:00:00ZZ",
        "2024-01-01T12:00:00+05:30x",
        "2024-01-01 12:00:00Z",
        "2024-01-01%2012:00:00Z",
        "2024-01-01x12:00:00Z",
        "２０２４-01-01",
        "today",
    ] {
        for list in [List::Campaigns, List::Calls] {
            assert_eq!(
                dates(list, v, "2024-01-01"),
                Err(InvalidParam::known("startDate")),
                "{v}"
            );
            assert_eq!(
                dates(list, "2024-01-01", v),
                Err(InvalidParam::known("endDate")),
                "{v}"
            );
        }
    }
}

#[test]
fn dates_come_in_pairs() {
    for list in [List::Campaigns, List::Calls] {
        assert_eq!(err(list, "startDate=2024-01-01"), "endDate");
        assert_eq!(err(list, "endDate=2024-01-01"), "startDate");
        assert_eq!(err(list, "pageSize=5&endDate=2024-01-01"), "startDate");
        // An invalid parameter is named before the missing half of the pair.
        assert_eq!(err(list, "startDate=2024-01-01&bogus=1"), "bogus");
        assert_eq!(err(list, "startDate=2024-01-01&pageSize=0"), "pageSize");
    }
}

#[test]
fn cursors() {
    same(List::Campaigns, "cursor=abc", "cursor=abc");
    // RFC 3986: a raw '+' is a plus, and every spelling of it is one key.
    same(List::Campaigns, "cursor=ab%2bc", "cursor=ab%2Bc");
    same(List::Campaigns, "cursor=ab%2Bc", "cursor=ab%2Bc");
    same(List::Campaigns, "cursor=ab+c", "cursor=ab%2Bc");
    same(
        List::Campaigns,
        "cursor=AZaz09._~+/=-",
        "cursor=AZaz09._~%2B%2F%3D-",
    );
    same(List::Campaigns, "cursor=%41%2e%7E%2f", "cursor=A.~%2F");
    let max = "a".repeat(MAX_CURSOR_LEN);
    same(
        List::Campaigns,
        &format!("cursor={max}"),
        &format!("cursor={max}"),
    );
    // The limit counts decoded bytes.
    let encoded = "%61".repeat(MAX_CURSOR_LEN);
    same(
        List::Campaigns,
        &format!("cursor={encoded}"),
        &format!("cursor={max}"),
    );
    for v in [
        "a".repeat(MAX_CURSOR_LEN + 1),
        "%61".repeat(MAX_CURSOR_LEN + 1),
        "a%20b".into(),
        "a%26b".into(),
        "a%25b".into(),
        "a%00b".into(),
        "a,b".into(),
        "a*b".into(),
        "a:b".into(),
        "é".into(),
        "%C3%A9".into(),
        "a b".into(),
    ] {
        assert_eq!(
            err(List::Campaigns, &format!("cursor={v}")),
            "cursor",
            "{v}"
        );
    }
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
