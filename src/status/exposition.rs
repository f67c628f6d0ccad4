//! Reads the Prometheus/OpenMetrics text the gateway itself exposes, so the
//! status page shows exactly the numbers `/metrics` has: one source, no
//! second set of counters to drift from the first.

/// One sample line: `name{label="value",...} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Every sample of `text`; comment lines and lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            rest = rest.trim_start_matches(',');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=')?;
            let key = rest[..eq].trim().to_string();
            let (value, after) = quoted(rest[eq + 1..].strip_prefix('"')?)?;
            labels.push((key, value));
            rest = after;
        }
    }
    // The value, then maybe a timestamp or an exemplar: the first token only.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// A label value after its opening quote, unescaped; and what follows its
/// closing quote.
fn quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_with_and_without_labels() {
        let text = "# HELP x y\n# TYPE altur_gateway_requests counter\n\
            altur_gateway_requests_total{route=\"campaign\",status=\"200\",cache=\"hit\",caller=\"a\\\"b\"} 7\n\
            altur_gateway_queue_depth 0\n\
            altur_gateway_queue_wait_seconds_bucket{le=\"+Inf\"} 3\n\
            process_cpu_seconds_total 1.5e-1\n# EOF\n";
        let s = parse(text);
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "altur_gateway_requests_total");
        assert_eq!(s[0].label("caller"), Some("a\"b"));
        assert_eq!(s[0].label("route"), Some("campaign"));
        assert_eq!(s[0].value, 7.0);
        assert_eq!(s[1].labels, vec![]);
        assert_eq!(s[2].label("le"), Some("+Inf"));
        assert!((s[3].value - 0.15).abs() < 1e-9);
    }

    #[test]
    fn garbage_is_skipped_not_a_panic() {
        for bad in ["x{", "x{a=\"b} 1", "x{a=b} 1", "x 1x", "{} 1", "x{a=\"\\"] {
            assert!(parse(bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn the_gateways_own_exposition_parses() {
        let m = crate::metrics::Metrics::new();
        m.upstream_start(
            crate::routes::RouteId::Campaign,
            &std::sync::Arc::from("billing"),
        );
        let s = parse(&m.encode());
        let starts = s
            .iter()
            .find(|s| s.name == "altur_gateway_upstream_starts_total")
            .expect("starts");
        assert_eq!(starts.label("caller"), Some("billing"));
        assert_eq!(starts.value, 1.0);
    }
}
