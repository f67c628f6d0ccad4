#!/usr/bin/env python3
"""The gateway's metrics against what deploy/ expects of them (run by deploy/check).

Usage:
       check_metrics.py --smoke PORT
against a gateway serving on 127.0.0.1:PORT: the probes and /status answer.

       check_metrics.py --metrics PORT ALERTS.yml DASHBOARD.json
against a gateway serving on 127.0.0.1:PORT in front of a working upstream
(the demo's simulator) with cache.ttl_seconds = 1: sends traffic that makes
every metric family appear (misses, hits, a refusal, a stale answer and its
background refresh, a burst that queues), scrapes /metrics meanwhile, and
checks that every metric the alert rules and the Grafana dashboard's queries
use is in a scrape (a labelled family appears only at its first sample).

       check_metrics.py --dashboard-rules DASHBOARD.json OUT.yml
checks the dashboard's structure and writes its queries as recording rules,
for `promtool check rules` to parse every PromQL expression.

Needs PyYAML (for --dashboard-rules); the standard library otherwise.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

errors: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        errors.append(message)


def http_get(port: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_serving(port: str) -> bool:
    import time

    deadline = time.monotonic() + 10
    while True:
        try:
            http_get(port, "/healthz")
            return True
        except OSError:
            if time.monotonic() > deadline:
                print("the gateway did not start serving within 10 s", file=sys.stderr)
                return False
            time.sleep(0.1)


def smoke(port: str) -> int:
    """Against a gateway serving on 127.0.0.1:port: the probe paths and the
    status page answer 200."""
    if not wait_serving(port):
        return 1
    for path in ("/healthz", "/readyz", "/metrics", "/status", "/status.json"):
        status, body = http_get(port, path)
        print(f"GET {path}: {status}")
        check(status == 200, f"[smoke] GET {path} answered {status}: {body[:200]}")
    for e in errors:
        print(f"check_metrics: {e}", file=sys.stderr)
    return 1 if errors else 0


def metric_names(promql: str) -> set[str]:
    """The gateway's metric names a query or rule uses (ours and process_*)."""
    return set(re.findall(r"\b(?:altur_gateway|process)_[a-z0-9_]+\b", promql))


def dashboard_queries(path: str) -> list[tuple[str, str]]:
    """(panel title, expr) of every query of the dashboard, checking its
    structure on the way: unique panel ids, a datasource and a refId on every
    query, a non-empty expr that uses one of our metrics."""
    import json

    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    check(bool(dash.get("uid")) and bool(dash.get("title")), "[grafana] uid and title")
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    check("datasource" in variables, "[grafana] no datasource variable: the dashboard would name one Prometheus")
    ids = [p.get("id") for p in dash["panels"]]
    check(len(ids) == len(set(ids)), f"[grafana] duplicate panel ids {ids}")
    queries = []
    for p in dash["panels"]:
        if p.get("type") == "row":
            continue
        check("gridPos" in p, f"[grafana] {p.get('title')}: no gridPos")
        check(bool(p.get("targets")), f"[grafana] {p.get('title')}: no query")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            check(bool(t.get("refId")), f"[grafana] {p.get('title')}: a query without refId")
            check(bool(metric_names(expr)), f"[grafana] {p.get('title')}: {expr!r} uses no gateway metric")
            check(t.get("datasource", {}).get("uid") == "${datasource}",
                  f"[grafana] {p.get('title')}: a query not on the $datasource variable")
            queries.append((p["title"], expr))
    return queries


def dashboard_rules(dashboard: str, out: str) -> int:
    """Writes the dashboard's queries as recording rules (Grafana's variables
    replaced by what they stand for), for promtool to parse."""
    queries = dashboard_queries(dashboard)
    rules = []
    for i, (title, expr) in enumerate(queries):
        expr = (expr.replace("$__rate_interval", "5m").replace("$instance", ".*"))
        check("$" not in expr, f"[grafana] {title}: an unknown variable in {expr!r}")
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    import yaml

    with open(out, "w", encoding="utf-8") as f:
        yaml.safe_dump({"groups": [{"name": "grafana-dashboard", "rules": rules}]}, f, sort_keys=False)
    for e in errors:
        print(f"check_metrics: {e}", file=sys.stderr)
    if not errors:
        print(f"check_metrics: {len(queries)} dashboard queries written to {out}")
    return 1 if errors else 0


def exposed(text: str) -> set[str]:
    """The sample names of a scrape (name before `{` or the value)."""
    return {re.split(r"[{ ]", line, maxsplit=1)[0] for line in text.splitlines()
            if line and not line.startswith("#")}


def traffic_and_scrapes(port: str) -> set[str]:
    """Traffic that makes every family appear, against a gateway in front of
    a working upstream with cache.ttl_seconds = 1; returns every sample name
    seen in the scrapes taken meanwhile. Bounded: about 10 s."""
    import threading
    import time

    seen: set[str] = set()

    def scrape() -> None:
        status, body = http_get(port, "/metrics")
        check(status == 200, f"[metrics] GET /metrics answered {status}")
        seen.update(exposed(body))

    api = "/api/v1.0/campaigns"
    for path in (f"{api}/1", f"{api}/1", f"{api}/2", f"{api}?status=active"):
        status, _ = http_get(port, path)
        check(status == 200, f"[metrics] GET {path} answered {status}")
    # Refused: a token no caller has.
    status, _ = http_get(port, f"{api}/1", {"Authorization": "Bearer no-such-caller"})
    check(status == 401, f"[metrics] an unknown token got {status}, not 401")
    # Past its 1 s TTL: answered stale while one background refresh runs.
    time.sleep(1.3)
    http_get(port, f"{api}/1")
    # A burst beyond the budget: requests queue, by caller; scraped while they wait.
    burst = [threading.Thread(target=http_get, args=(port, f"{api}/{100 + i}")) for i in range(30)]
    for t in burst:
        t.start()
    deadline = time.monotonic() + 8
    while any(t.is_alive() for t in burst) and time.monotonic() < deadline:
        scrape()
        time.sleep(0.1)
    for t in burst:
        t.join(timeout=max(0.1, deadline - time.monotonic()))
    scrape()
    return seen


def metrics_check(port: str, rules_path: str, dashboard: str) -> int:
    """Every metric the alert rules and the dashboard use is exported."""
    if not wait_serving(port):
        return 1
    seen = traffic_and_scrapes(port)
    print(f"scraped {len(seen)} sample names after traffic")
    uses = {name: "alerts.yml" for name in metric_names(Path(rules_path).read_text(encoding="utf-8"))}
    for title, expr in dashboard_queries(dashboard):
        for name in metric_names(expr):
            uses.setdefault(name, f"the dashboard's {title!r}")
    for name, where in sorted(uses.items()):
        if name in seen:
            continue
        family = re.sub(r"_(total|bucket|sum|count)$", "", name)
        like = sorted(n for n in seen if n.startswith(family))
        check(False, f"[metrics] {where} uses {name}, which /metrics does not export"
              + (f" (it has {', '.join(like)})" if like else ""))
    for e in errors:
        print(f"check_metrics: {e}", file=sys.stderr)
    if not errors:
        print(f"check_metrics: all {len(uses)} metrics of alerts.yml and the dashboard are exported")
    return 1 if errors else 0


def main() -> int:
    if sys.argv[1] == "--smoke":
        return smoke(sys.argv[2])
    if sys.argv[1] == "--metrics":
        return metrics_check(sys.argv[2], sys.argv[3], sys.argv[4])
    if sys.argv[1] == "--dashboard-rules":
        return dashboard_rules(sys.argv[2], sys.argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
