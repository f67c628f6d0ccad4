//! Each kind of value against the SPEC's table: integers and their
//! defaults, agent ids, dates and their pairing, cursors.

use super::*;

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
