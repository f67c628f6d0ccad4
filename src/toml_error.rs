//! A TOML file that does not parse, described without echoing it.
//!
//! The configuration and callers files are named by operators, who make
//! mistakes (`--config /etc/shadow`): the error must say where the problem is
//! (line, column, and a key when it is one of ours) and never repeat what the
//! file holds. The parser's own words are kept, but anything it quotes is
//! dropped unless it is punctuation (an expected token such as `=`).

/// One line: where `err` is in `text`, and what the parser expected.
/// `known_keys` are key names that may be named when the failing line sets one.
pub fn describe(text: &str, err: &toml::de::Error, known_keys: &[&str]) -> String {
    let words = sanitize(err.message().lines().next().unwrap_or("invalid TOML"));
    let Some(span) = err.span() else {
        return format!("not valid TOML: {words}");
    };
    let (line, column) = position(text, span.start);
    let key = line_key(text, span.start)
        .filter(|k| known_keys.contains(k))
        .map(|k| format!(" (key `{k}`)"))
        .unwrap_or_default();
    format!("not valid TOML at line {line}, column {column}{key}: {words}")
}

/// One segment of a key from a file, as it may appear in a message. A key
/// of a file is the file's text, so only one shaped like our keys is
/// repeated (a typo such as `ttl_secs` must be named to be found); anything
/// else, such as a line of a file given by mistake, is shown as `…`.
pub fn key_segment(s: &str) -> &str {
    let shaped = (1..=40).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if shaped { s } else { "…" }
}

/// 1-based line and column (in bytes) of byte offset `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let bytes = text.as_bytes();
    let at = at.min(bytes.len());
    let before = &bytes[..at];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line, at - start + 1)
}

/// The bare key a line sets (`ttl_seconds = ...`), if it looks like one.
fn line_key(text: &str, at: usize) -> Option<&str> {
    let bytes = text.as_bytes();
    let at = at.min(bytes.len());
    let start = bytes[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let end = bytes[start..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(bytes.len(), |i| start + i);
    let line = text.get(start..end)?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    bare.then_some(key)
}

/// The message with every quoted part that is not pure punctuation replaced by `…`.
fn sanitize(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(open) = rest.find(['`', '"', '\'']) {
        out.push_str(&rest[..open]);
        let quote = &rest[open..=open];
        let after = &rest[open + 1..];
        match after.find(quote) {
            Some(close) => {
                let inner = &after[..close];
                let safe = !inner.is_empty()
                    && inner.len() <= 3
                    && inner.bytes().all(|b| b.is_ascii_punctuation());
                out.push_str(quote);
                out.push_str(if safe { inner } else { "…" });
                out.push_str(quote);
                rest = &after[close + 1..];
            }
            None => {
                // An unpaired quote: what follows may be from the file.
                out.push_str(quote);
                out.push('…');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        let e = toml::from_str::<toml::Table>(text).expect_err("invalid");
        describe(text, &e, &["ttl_seconds"])
    }

    #[test]
    fn a_password_file_is_placed_not_echoed() {
        let text = "root:$6$SECRET-HASH-c0ffee:19000:0:99999:7:::\n";
        let e = err(text);
        assert!(e.starts_with("not valid TOML at line 1, column "), "{e}");
        assert!(!e.contains("SECRET") && !e.contains("root"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn the_line_and_a_known_key_are_named() {
        let e = err("[cache]\n\nttl_seconds = 18446744073709551615\n");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("(key `ttl_seconds`)"), "{e}");
        let e = err("[cache]\nsecret_word_xyz = 18446744073709551615\n");
        assert!(
            !e.contains("secret_word_xyz"),
            "unknown names stay out: {e}"
        );
    }

    #[test]
    fn quoted_parts_are_dropped_unless_punctuation() {
        assert_eq!(
            sanitize("expected `.`, `=`, found `hunter2`"),
            "expected `.`, `=`, found `…`"
        );
        assert_eq!(sanitize("unterminated \"abc"), "unterminated \"…");
        assert_eq!(sanitize("duplicate key 'pw'"), "duplicate key '…'");
    }

    proptest::proptest! {
        #[test]
        fn fuzz_describe_never_panics_or_spans_lines(text in "(?s:.{0,80})", at in 0usize..100) {
            if let Err(e) = toml::from_str::<toml::Table>(&text) {
                let d = describe(&text, &e, &["ttl_seconds"]);
                proptest::prop_assert!(!d.contains('\n'));
            }
            let _ = position(&text, at);
            let _ = line_key(&text, at);
            let _ = sanitize(&text);
        }
    }
}
