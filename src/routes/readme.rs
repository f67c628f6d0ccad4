//! The README's route table, rendered from the code's: `README.md` holds it
//! between `<!-- routes:begin -->` and `<!-- routes:end -->`, and a test
//! fails when the two differ.

use http::Method;

use super::spec::{Freshness, Kind, Seg};
use super::table::ROUTES;

/// The README's route table and the lists' query table, in Markdown, from
/// [`ROUTES`] and the query rules: what `README.md` holds between
/// `<!-- routes:begin -->` and `<!-- routes:end -->` (a test compares them).
///
/// `ttl` and `negative_ttl` are the defaults of `cache.ttl_seconds` and
/// `cache.negative_ttl_seconds`, which routes without their own freshness
/// follow.
pub fn markdown_table(ttl: u64, negative_ttl: u64) -> String {
    use std::fmt::Write as _;

    let mut out = String::from(
        "| route | method and path | parameters | fresh for (s): 200 / 404 | scopes |\n\
         | --- | --- | --- | --- | --- |\n",
    );
    for spec in &ROUTES {
        let methods = if spec.method == Method::GET {
            "GET, HEAD".to_owned()
        } else {
            spec.method.as_str().to_owned()
        };
        let mut params: Vec<String> = spec
            .path
            .iter()
            .filter_map(|s| match s {
                Seg::Param(p) => Some(format!("`{{{}}}`: {}", p.name(), p.describe())),
                Seg::Lit(_) => None,
            })
            .collect();
        if let Kind::Write { body, .. } = spec.kind {
            params.push(
                if body {
                    "JSON body"
                } else {
                    "JSON body, optional"
                }
                .to_owned(),
            );
        }
        match spec.list() {
            Some(list) => params.push(format!(
                "query: {}",
                list.names()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => params.push("query dropped".to_owned()),
        }
        let fresh = match (spec.stores(), spec.freshness()) {
            _ if !spec.is_read() => "write: never stored".to_owned(),
            (false, _) => "never stored".to_owned(),
            (true, Freshness::Own { ttl, negative }) => format!("{ttl} / {negative}"),
            (true, Freshness::Global) => format!(
                "{ttl} / {negative_ttl} (`cache.ttl_seconds` / `cache.negative_ttl_seconds`)"
            ),
        };
        let access = spec.access().as_str();
        let _ = writeln!(
            out,
            "| `{}` | {methods} `{}` | {} | {fresh} | `{access}` or `{}:{access}` |",
            spec.name(),
            spec.pattern(),
            params.join("; "),
            spec.group.as_str(),
        );
    }
    out.push_str(
        "\n| route | query parameter | values |\n\
         | --- | --- | --- |\n",
    );
    for spec in ROUTES.iter() {
        let Some(list) = spec.list() else { continue };
        for (i, (name, values)) in list.describe().enumerate() {
            let route = if i == 0 {
                format!(" `{}` ", spec.name())
            } else {
                " ".to_owned()
            };
            let _ = writeln!(out, "|{route}| `{name}` | {values} |");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEGIN: &str = "<!-- routes:begin -->\n";
    const END: &str = "<!-- routes:end -->";

    /// The README's route table is [`markdown_table`] with the compiled
    /// defaults. `UPDATE_README=1 cargo test --lib readme` rewrites it.
    #[test]
    fn the_readme_route_table_is_rendered_from_the_code() {
        let settings = crate::config::Settings::load_from(None, Vec::new())
            .expect("the compiled defaults are valid");
        let rendered = markdown_table(
            settings.cache.ttl.as_secs(),
            settings.cache.negative_ttl.as_secs(),
        );
        let readme = include_str!("../../README.md");
        let (head, rest) = readme
            .split_once(BEGIN)
            .expect("README.md has <!-- routes:begin -->");
        let (current, tail) = rest
            .split_once(END)
            .expect("README.md has <!-- routes:end --> after the begin marker");
        if current == rendered {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
            std::fs::write(path, format!("{head}{BEGIN}{rendered}{END}{tail}"))
                .expect("README.md is writable");
            return;
        }
        panic!(
            "README.md's route table differs from the code's; run \
             `UPDATE_README=1 cargo test --lib readme` to rewrite it. Expected:\n{rendered}"
        );
    }

    #[test]
    fn the_table_has_a_row_per_route_and_the_spec_s_cells() {
        let t = markdown_table(30, 5);
        for spec in &ROUTES {
            assert!(
                t.contains(&format!("| `{}` |", spec.name())),
                "{}",
                spec.name()
            );
        }
        for row in [
            "| `campaign` | GET, HEAD `/campaigns/{id}` | `{id}`: digits fitting an i64, leading zeros dropped; query dropped | 30 / 5 (`cache.ttl_seconds` / `cache.negative_ttl_seconds`) | `read` or `campaigns:read` |",
            "| `contact_list` | GET, HEAD `/campaigns/{id}/contacts` | `{id}`: digits fitting an i64, leading zeros dropped; query: `pageIndex`, `pageSize`, `status` | 10 / 5 | `read` or `contacts:read` |",
            "| `recording` | GET, HEAD `/call/{call_id}/recording` | `{call_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent; query dropped | never stored | `read` or `calls:read` |",
            "| `thread` | GET, HEAD `/thread/{thread_id}` | `{thread_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent; query dropped | 5 / 5 | `read` or `messages:read` |",
            "| `enduser` | GET, HEAD `/enduser/{enduser_id}` | `{enduser_id}`: 1 to 64 of `[A-Za-z0-9_-]`, kept as sent; query dropped | 60 / 5 | `read` or `endusers:read` |",
            "| | `pageSize` | 1 to 100, default 50 (left out of the key) |",
            "| `campaign_list` | `agentId` | a UUID (any case; written lower-case) |",
        ] {
            assert!(t.lines().any(|l| l == row), "no row {row}\nin\n{t}");
        }
    }
}
