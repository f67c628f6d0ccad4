//! The status page's HTML: one document with its style sheet, its script and
//! the first snapshot inline, and a Content-Security-Policy that allows
//! exactly those two inline blocks (by hash) and `status.json`, nothing else.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

const HTML: &str = include_str!("page.html");
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// The page, with `initial` (the snapshot) as its first data.
pub fn render(initial: &serde_json::Value) -> String {
    // `<` escaped: no data can close the script element it sits in.
    let data = initial.to_string().replace('<', "\\u003c");
    HTML.replace("{{STYLE}}", STYLE)
        .replace("{{SCRIPT}}", SCRIPT)
        .replace("{{INITIAL}}", &data)
}

/// The page's Content-Security-Policy.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = |s: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(s.as_bytes())));
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            hash(SCRIPT),
            hash(STYLE)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_contained_and_data_cannot_break_out() {
        let page = render(&serde_json::json!({"x": "</script><script>alert(1)</script>"}));
        assert!(!page.contains("</script><script>alert"));
        assert!(!page.contains("{{"), "every placeholder filled");
        for external in ["src=\"http", "href=\"http", "@import", "url(", "<link"] {
            assert!(!page.contains(external), "{external}");
        }
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; script-src 'sha256-"));
    }
}
