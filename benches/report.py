#!/usr/bin/env python3
"""Helpers of benches/run: measuring, summarising, and writing results.

Standard library only. Subcommands:

  free-port                       print a free loopback TCP port
  rss PID                         print VmRSS and VmHWM of PID in bytes (JSON)
  measure --out F [--pids P,..] -- CMD...
                                  run CMD (wrk), keep its last JSON stdout line,
                                  add CPU accounting of the round (JSON to F)
  hits --raw DIR --out F          summarise the hit rounds (medians, ratios)
  simlog --log F --ttl-ms N --limit N [--window-ms 1000]
                                  analyse a simulator log (/_sim/log)
  efficiency --raw DIR --out F    summarise the upstream-efficiency runs
  memory --raw DIR --out F        summarise the memory run
  assemble --raw DIR --results DIR --readme F --mode full|quick
                                  merge section results into latest.json,
                                  draw hits.svg, rewrite the README table
  render --results DIR [--readme F]
                                  redraw hits.svg and the README table from
                                  DIR/latest.json (after changing a renderer)

Each section of benches/run writes DIR/<section>.json; `assemble` merges
whatever sections exist into latest.json (sections not run this time are
kept from the previous latest.json) and renders the known ones. A new
section only needs a renderer in RENDERERS; without one it is shown as a
flat table of its numbers.
"""

import argparse
import datetime
import html
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import time

TARGETS = ["gateway", "nginx", "nginx-tuned", "bare-hyper", "gateway-alt"]
GOALS = {
    "gateway_over_nginx_rps": 1.5,
    "gateway_over_bare_rps": 0.85,
}


def load(path):
    with open(path) as f:
        return json.load(f)


def dump(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


# --------------------------------------------------------------- measuring


def cmd_free_port(_args):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def read_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def cmd_rss(args):
    print(json.dumps(read_status(args.pid)))


def proc_stat_cpu():
    """Jiffies per field, summed over all CPUs, and the number of CPUs."""
    with open("/proc/stat") as f:
        lines = f.read().splitlines()
    total = [int(x) for x in lines[0].split()[1:]]
    ncpu = sum(1 for l in lines if re.match(r"cpu\d+ ", l))
    return total, ncpu


def pid_tree(root):
    """root and its descendants (nginx: master, workers, cache processes)."""
    parents = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rfind(")") + 2 :].split()[1])
            parents.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def pid_jiffies(pid, children=False):
    """utime + stime (+ cutime + cstime: children that ended and were waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        fields = s[s.rfind(")") + 2 :].split()
        j = int(fields[11]) + int(fields[12])
        if children:
            j += int(fields[13]) + int(fields[14])
        return j
    except (OSError, ValueError, IndexError):
        return 0


def all_jiffies():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            out[int(d)] = pid_jiffies(int(d), children=True)
    return out


def ancestors(pid):
    out = set()
    while pid > 1:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            pid = int(s[s.rfind(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def cmd_measure(args):
    hz = os.sysconf("SC_CLK_TCK")
    roots = [int(p) for p in args.pids.split(",") if p] if args.pids else []
    pids = sorted({p for r in roots for p in pid_tree(r)})
    ours = set(pids) | ancestors(os.getpid())
    cpu0, ncpu = proc_stat_cpu()
    srv0 = sum(pid_jiffies(p) for p in pids)
    all0 = all_jiffies()
    ru0 = os.times()
    t0 = time.monotonic()
    proc = subprocess.run(args.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - t0
    ru1 = os.times()
    all1 = all_jiffies()
    cpu1, _ = proc_stat_cpu()
    srv1 = sum(pid_jiffies(p) for p in pids)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"measure: {args.command[0]} exited {proc.returncode}")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        sys.stderr.write(proc.stdout + proc.stderr)
        sys.exit("measure: no JSON line in the output")
    result = json.loads(lines[-1])
    d = [b - a for a, b in zip(cpu0, cpu1)]
    # /proc/stat: user nice system idle iowait irq softirq steal ...
    idle = d[3] + d[4]
    irq = d[5] + d[6]
    server = srv1 - srv0
    load = ((ru1.children_user - ru0.children_user) + (ru1.children_system - ru0.children_system)) * hz
    # Every other process: its CPU time in the round (a process that started
    # during the round counts whole; one that ended counts in its parent's
    # children time). That is other builds on a shared machine.
    other = sum(max(0, j - all0.get(p, 0)) for p, j in all1.items() if p not in ours)
    # A process that ended during the round now counts in its parent's
    # children time with its whole life: take off what it had used before.
    other = max(0, other - sum(j for p, j in all0.items() if p not in all1 and p not in ours))
    span = elapsed * hz  # jiffies of one CPU over the round
    result["cpu"] = {
        "elapsed_s": round(elapsed, 3),
        "server_cores": round(server / span, 3),
        "loadgen_cores": round(load / span, 3),
        "irq_cores": round(irq / span, 3),
        "other_cores": round(other / span, 3),
        "idle_cores": round(idle / span, 3),
        # Time the hypervisor gave this VM's CPUs to someone else.
        "steal_cores": round(d[7] / span, 3) if len(d) > 7 else 0.0,
        "ncpu": ncpu,
    }
    dump(result, args.out)


# --------------------------------------------------------------- hits


def median(xs):
    return statistics.median(xs) if xs else None


def summarise_hits(raw, prefix, meta):
    """Medians, ratios and goals of one route's hit rounds (files PREFIX-roundN-TARGET.json)."""
    rounds = []
    for name in sorted(os.listdir(raw)):
        m = re.match(re.escape(prefix) + r"-round(\d+)-(.+)\.json$", name)
        if m:
            r = load(os.path.join(raw, name))
            r["round"] = int(m.group(1))
            r["target"] = m.group(2)
            rounds.append(r)
    per = {}
    for t in TARGETS:
        rs = sorted((r for r in rounds if r["target"] == t), key=lambda r: r["round"])
        if not rs:
            continue
        rps = [r["requests"] / (r["duration_us"] / 1e6) for r in rs]
        p50 = [r["latency_us"]["p50"] / 1000 for r in rs]
        p99 = [r["latency_us"]["p99"] / 1000 for r in rs]
        errors = sum(sum(r["errors"].values()) for r in rs)
        per[t] = {
            "rps_median": round(median(rps)),
            "p50_ms_median": round(median(p50), 3),
            "p99_ms_median": round(median(p99), 3),
            "errors": errors,
            "rounds": [
                {
                    "round": r["round"],
                    "rps": round(x),
                    "p50_ms": round(a, 3),
                    "p99_ms": round(b, 3),
                    "p999_ms": round(r["latency_us"]["p999"] / 1000, 3),
                    "errors": r["errors"],
                    "attempts": r.get("attempts", 1),
                    "cpu": r.get("cpu"),
                }
                for r, x, a, b in zip(rs, rps, p50, p99)
            ],
        }
    out = {"config": meta, "targets": per}
    g, n, b = per.get("gateway"), per.get("nginx"), per.get("bare-hyper")
    ratios = {}
    if g and n:
        ratios["gateway_over_nginx_rps"] = round(g["rps_median"] / n["rps_median"], 3)
        ratios["gateway_over_nginx_p99"] = round(g["p99_ms_median"] / n["p99_ms_median"], 3)
    if g and b:
        ratios["gateway_over_bare_rps"] = round(g["rps_median"] / b["rps_median"], 3)
    # Ratios within each round (targets measured back to back) cancel drift.
    by_round = {}
    for r in rounds:
        by_round.setdefault(r["round"], {})[r["target"]] = r["requests"] / (r["duration_us"] / 1e6)
    gn = [v["gateway"] / v["nginx"] for v in by_round.values() if "gateway" in v and "nginx" in v]
    gb = [v["gateway"] / v["bare-hyper"] for v in by_round.values() if "gateway" in v and "bare-hyper" in v]
    nt = per.get("nginx-tuned")
    if g and nt:
        ratios["gateway_over_nginx_tuned_rps"] = round(g["rps_median"] / nt["rps_median"], 3)
        ratios["gateway_over_nginx_tuned_p99"] = round(g["p99_ms_median"] / nt["p99_ms_median"], 3)
    gt = [v["gateway"] / v["nginx-tuned"] for v in by_round.values() if "gateway" in v and "nginx-tuned" in v]
    if gt:
        ratios["gateway_over_nginx_tuned_rps_per_round_median"] = round(median(gt), 3)
    ga = [v["gateway-alt"] / v["gateway"] for v in by_round.values() if "gateway" in v and "gateway-alt" in v]
    if ga:
        ratios["gateway_alt_over_gateway_rps_per_round_median"] = round(median(ga), 3)
    a = per.get("gateway-alt")
    if g and a:
        ratios["gateway_alt_over_gateway_rps"] = round(a["rps_median"] / g["rps_median"], 3)
        ratios["gateway_alt_over_gateway_p99"] = round(a["p99_ms_median"] / g["p99_ms_median"], 3)
    if a and n:
        ratios["gateway_alt_over_nginx_rps"] = round(a["rps_median"] / n["rps_median"], 3)
    if a and b:
        ratios["gateway_alt_over_bare_rps"] = round(a["rps_median"] / b["rps_median"], 3)
    if gn:
        ratios["gateway_over_nginx_rps_per_round_median"] = round(median(gn), 3)
    if gb:
        ratios["gateway_over_bare_rps_per_round_median"] = round(median(gb), 3)
    out["ratios"] = ratios
    if g and n and b:
        out["goals"] = {
            f"rps >= {GOALS['gateway_over_nginx_rps']}x nginx": ratios["gateway_over_nginx_rps"]
            >= GOALS["gateway_over_nginx_rps"],
            "p99 <= nginx": g["p99_ms_median"] <= n["p99_ms_median"],
            f"rps >= {GOALS['gateway_over_bare_rps']}x bare hyper": ratios["gateway_over_bare_rps"]
            >= GOALS["gateway_over_bare_rps"],
        }
    others = [r["cpu"]["other_cores"] for r in rounds if r.get("cpu")]
    if others:
        out["interference_other_cores"] = {"median": median(others), "max": max(others)}
    return out


def cmd_hits(args):
    meta = load(os.path.join(args.raw, "hits-meta.json"))
    # The campaign route at the top level (as before); other routes beside it.
    out = summarise_hits(args.raw, "hits", meta)
    print_hits(out)
    lst = summarise_hits(args.raw, "hits-list", meta)
    if lst["targets"]:
        lst.pop("config")
        out["list"] = lst
        print("list route (/campaigns/{id}/contacts?status=queue):")
        print_hits({**lst, "config": meta})
    dump(out, args.out)


def print_hits(h):
    print(f"{'target':<12} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}  (medians of {h['config']['rounds']} rounds)")
    for t, v in h["targets"].items():
        print(f"{t:<12} {v['rps_median']:>10} {v['p50_ms_median']:>8.3f} {v['p99_ms_median']:>8.3f}")
    for k, v in h["ratios"].items():
        print(f"  {k} = {v}")
    for k, v in h.get("goals", {}).items():
        print(f"  goal {k}: {'met' if v else 'NOT met'}")


# --------------------------------------------------------------- efficiency


def ahead_ms(ttl_ms):
    """The gateway's refresh-ahead lead (cache::Policy::ahead): a tenth of the
    TTL, at least 1 s, at most half of it."""
    return min(max(ttl_ms / 10, 1000), ttl_ms / 2)


def analyse_simlog(log, ttl_ms, limit, window_ms):
    reqs = sorted(
        (r for r in log if "/campaigns/" in r["path"]),
        key=lambda r: r["t_ms"],
    )
    times = [r["t_ms"] for r in reqs]

    def max_window(ts):
        best, j = 0, 0
        for i in range(len(ts)):
            while ts[i] - ts[j] >= window_ms:
                j += 1
            best = max(best, i - j + 1)
        return best

    statuses = {}
    for r in reqs:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    # A duplicate: the same id fetched again while its last successful fetch
    # is still fresh and not yet due for refresh-ahead (TTL less the lead):
    # that answer should have come from the cache. (A refresh-ahead fetch,
    # in the last tenth of the TTL, is what the gateway is meant to do.)
    due_ms = ttl_ms - ahead_ms(ttl_ms)
    last_ok, dups, examples = {}, 0, []
    fetches = {}
    for r in reqs:
        p = r["path"].split("?")[0]
        prev = last_ok.get(p)
        if prev is not None and r["t_ms"] - prev < due_ms:
            dups += 1
            if len(examples) < 5:
                examples.append({"path": p, "previous_ms": round(prev, 1), "again_ms": round(r["t_ms"], 1)})
        if r["status"] == 200:
            last_ok[p] = r["t_ms"]
            fetches[p] = fetches.get(p, 0) + 1
    span_s = (times[-1] - times[0]) / 1000 if len(times) > 1 else 0
    windows = [int(t // 1000) for t in times]
    per_second = {}
    for w in windows:
        per_second[w] = per_second.get(w, 0) + 1
    return {
        "upstream_requests": len(reqs),
        "upstream_statuses": statuses,
        "upstream_429": statuses.get("429", 0),
        "max_in_any_1s_window": max_window(times),
        "max_in_any_1s_window_answered_200": max_window([r["t_ms"] for r in reqs if r["status"] == 200]),
        "mean_upstream_rps": round(len(reqs) / span_s, 2) if span_s else None,
        "duplicate_fetches_within_ttl": dups,
        "duplicate_rule_ms": due_ms,
        "duplicate_examples": examples,
        "distinct_ids_fetched": len({r["path"] for r in reqs}),
        "max_fetches_of_one_id": max(fetches.values()) if fetches else 0,
        "per_second": [per_second.get(s, 0) for s in range(0, (max(windows) + 1) if windows else 0)],
    }


def cmd_simlog(args):
    print(json.dumps(analyse_simlog(load(args.log), args.ttl_ms, args.limit, args.window_ms), indent=2))


def efficiency_row(lg, sim):
    c = lg["cache"]
    n = lg["requests"] or 1
    ok_fetches = int(sim["upstream_statuses"].get("200", 0))
    return {
        "caller_requests": lg["requests"],
        "caller_rps": round(lg["rps"], 1),
        "caller_statuses": lg["statuses"],
        "transport_errors": lg["transport_errors"],
        "timeouts": lg["timeouts"],
        "hit": c["hit"],
        "miss": c["miss"],
        "collapsed": c["collapsed"],
        "stale": c["stale"],
        "stale_revalidate": c.get("stale_revalidate", 0),
        "stale_error": c["stale"] - c.get("stale_revalidate", 0),
        "refused": c["refused"],
        "unclassified": c["none"],
        "caller_other_errors": sum(v for k, v in lg["statuses"].items() if k not in ("200", "503"))
        + lg["transport_errors"]
        + lg["timeouts"],
        "hit_ratio": round(c["hit"] / n, 4),
        "served_without_own_fetch_ratio": round((c["hit"] + c["collapsed"] + c["stale"]) / n, 4),
        "p50_ms": lg["latency_ms"]["p50"],
        "p99_ms": lg["latency_ms"]["p99"],
        "p999_ms": lg["latency_ms"]["p999"],
        "max_ms": lg["latency_ms"]["max"],
        "with_entry_requests": lg["with_entry"]["latency_ms"]["count"],
        "with_entry_p50_ms": lg["with_entry"]["latency_ms"]["p50"],
        "with_entry_p99_ms": lg["with_entry"]["latency_ms"]["p99"],
        "with_entry_refused": lg["with_entry"]["refused"],
        "without_entry_requests": lg["without_entry"]["latency_ms"]["count"],
        "without_entry_p99_ms": lg["without_entry"]["latency_ms"]["p99"],
        "without_entry_refused": lg["without_entry"]["refused"],
        "mean_age_s": round(lg["age_s"]["mean"], 2),
        "p99_age_s": lg["age_s"]["p99"],
        "age_from": lg["age_s"]["from"],
        "after_first_answer": lg.get("after_first_answer", {}),
        "caller_requests_per_upstream_200": round(lg["requests"] / ok_fetches, 1) if ok_fetches else None,
        **{k: v for k, v in sim.items() if k != "per_second"},
        "upstream_per_second": sim["per_second"],
    }


def cmd_efficiency(args):
    meta = load(os.path.join(args.raw, "efficiency-meta.json"))
    out = {"config": meta, "targets": {}, "spare": {}}
    for t in meta["targets"]:
        path = os.path.join(args.raw, f"eff-{t}-loadgen.json")
        if os.path.exists(path):
            sim = analyse_simlog(
                load(os.path.join(args.raw, f"eff-{t}-simlog.json")), meta["ttl_s"] * 1000, meta["rate_limit"], 1000
            )
            out["targets"][t] = efficiency_row(load(path), sim)
        path = os.path.join(args.raw, f"spare-{t}-loadgen.json")
        if os.path.exists(path):
            sp = meta["spare"]
            sim = analyse_simlog(
                load(os.path.join(args.raw, f"spare-{t}-simlog.json")), sp["ttl_s"] * 1000, meta["rate_limit"], 1000
            )
            row = efficiency_row(load(path), sim)
            after = row["after_first_answer"]
            row["after_first_not_hit"] = sum(v for k, v in after.items() if k != "hit")
            row["after_first_hit"] = after.get("hit", 0)
            ok = int(sim["upstream_statuses"].get("200", 0))
            row["upstream_200_per_ttl"] = round(ok / (sp["duration_s"] / sp["ttl_s"]), 1)
            out["spare"][t] = row
    g = out["targets"].get("gateway")
    checks = {}
    if g:
        checks.update({
            "gateway max upstream in any 1 s <= limit": g["max_in_any_1s_window"] <= meta["rate_limit"],
            "gateway duplicate fetches == 0": g["duplicate_fetches_within_ttl"] == 0,
            "gateway upstream 429s == 0": g["upstream_429"] == 0,
            "gateway p99 < 50 ms for keys with an entry within the SWR window": g["with_entry_p99_ms"] < 50,
            "gateway refusals only for keys with no entry": g["with_entry_refused"] == 0,
        })
        n = out["targets"].get("nginx")
        if n:
            checks["gateway mean age <= nginx's"] = g["mean_age_s"] <= n["mean_age_s"]
    sg = out["spare"].get("gateway")
    if sg:
        checks["spare: every answer after an id's first is a hit"] = sg["after_first_not_hit"] == 0
        checks["spare: gateway max upstream in any 1 s <= limit"] = sg["max_in_any_1s_window"] <= meta["rate_limit"]
    out["checks"] = checks
    dump(out, args.out)
    print_efficiency(out)


EFF_ROWS = [
    ("caller requests", "caller_requests"),
    ("caller req/s", "caller_rps"),
    ("hit", "hit"),
    ("miss (own fetch)", "miss"),
    ("collapsed", "collapsed"),
    ("stale while revalidating", "stale_revalidate"),
    ("stale on error / full queue (fwd=stale)", "stale_error"),
    ("refused (503)", "refused"),
    ("other errors (429 relayed, timeouts...)", "caller_other_errors"),
    ("caller p50 ms", "p50_ms"),
    ("caller p99 ms", "p99_ms"),
    ("requests whose key had an entry within TTL + SWR", "with_entry_requests"),
    ("... their p99 ms", "with_entry_p99_ms"),
    ("... their refusals", "with_entry_refused"),
    ("requests for keys with no entry", "without_entry_requests"),
    ("... their refusals", "without_entry_refused"),
    ("mean age of the data served, s", "mean_age_s"),
    ("p99 age, s", "p99_age_s"),
    ("upstream requests", "upstream_requests"),
    ("max upstream in any 1 s", "max_in_any_1s_window"),
    ("mean upstream req/s", "mean_upstream_rps"),
    ("upstream 429s", "upstream_429"),
    ("duplicate fetches", "duplicate_fetches_within_ttl"),
    ("distinct ids fetched", "distinct_ids_fetched"),
]

SPARE_ROWS = [
    ("caller requests", "caller_requests"),
    ("hit", "hit"),
    ("miss (own fetch)", "miss"),
    ("collapsed", "collapsed"),
    ("stale while revalidating", "stale_revalidate"),
    ("refused (503)", "refused"),
    ("answers after an id's first answer", "after_first_hit"),
    ("... of which not a hit", "after_first_not_hit"),
    ("caller p99 ms", "p99_ms"),
    ("mean age of the data served, s", "mean_age_s"),
    ("upstream requests (200s) per TTL", "upstream_200_per_ttl"),
    ("max fetches of one id", "max_fetches_of_one_id"),
    ("max upstream in any 1 s", "max_in_any_1s_window"),
    ("duplicate fetches", "duplicate_fetches_within_ttl"),
]


# --------------------------------------------------------------- neighbour


def metric_values(text, name):
    """{labels-string: value} of every sample of metric NAME."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, _, value = line.rpartition(" ")
            try:
                out[key[len(name):]] = float(value)
            except ValueError:
                pass
    return out


def label(labels, key):
    m = re.search(key + r'="([^"]*)"', labels)
    return m.group(1) if m else None


def cmd_neighbour(args):
    meta = load(os.path.join(args.raw, "neighbour-meta.json"))
    out = {"config": meta, "modes": {}}
    first_a = meta["a_first_id"]
    for mode in ("fair", "one-caller"):
        pa = os.path.join(args.raw, f"nb-{mode}-a.json")
        if not os.path.exists(pa):
            continue
        a, b = load(pa), load(os.path.join(args.raw, f"nb-{mode}-b.json"))
        bn = load(os.path.join(args.raw, f"nb-{mode}-bnew.json"))
        log = load(os.path.join(args.raw, f"nb-{mode}-simlog.json"))
        # Upstream starts while B ran, split by whose ids they were.
        t0 = meta["b_delay_s"] * 1000
        t1 = t0 + b["elapsed_s"] * 1000
        ups = {"a": 0, "b": 0}
        for r in log:
            if t0 <= r["t_ms"] <= t1:
                m = re.search(r"/campaigns/(\d+)", r["path"])
                if m:
                    ups["a" if int(m.group(1)) >= first_a else "b"] += 1
        total = sum(ups.values()) or 1
        errors = lambda d: sum(v for k, v in d["statuses"].items() if k not in ("200", "503")) + d[  # noqa: E731
            "transport_errors"
        ] + d["timeouts"]
        row = {
            "b_requests": b["requests"],
            "b_p50_ms": b["latency_ms"]["p50"],
            "b_p99_ms": b["latency_ms"]["p99"],
            "b_max_ms": b["latency_ms"]["max"],
            "b_refused": b["cache"]["refused"],
            "b_stale": b["cache"]["stale"],
            "b_hit": b["cache"]["hit"],
            "b_miss": b["cache"]["miss"] + b["cache"]["collapsed"],
            "b_other_errors": errors(b),
            "bnew_requests": bn["requests"],
            "bnew_p50_ms": bn["latency_ms"]["p50"],
            "bnew_p99_ms": bn["latency_ms"]["p99"],
            "bnew_max_ms": bn["latency_ms"]["max"],
            "bnew_refused": bn["cache"]["refused"],
            "bnew_other_errors": errors(bn),
            "a_requests": a["requests"],
            "a_refused": a["cache"]["refused"],
            "a_answered_200": a["statuses"].get("200", 0),
            "a_p50_ms": a["latency_ms"]["p50"],
            "upstream_while_b_ran": ups,
            "b_share_of_upstream": round(ups["b"] / total, 3),
            "a_share_of_upstream": round(ups["a"] / total, 3),
        }
        mp = os.path.join(args.raw, f"nb-{mode}-metrics.txt")
        if os.path.exists(mp):
            with open(mp) as f:
                end = metric_values(f.read(), "altur_gateway_upstream_starts_total")
            with open(os.path.join(args.raw, f"nb-{mode}-metrics-b-start.txt")) as f:
                start = metric_values(f.read(), "altur_gateway_upstream_starts_total")
            by_caller = {}
            for k, v in end.items():
                c = label(k, "caller")
                by_caller[c] = by_caller.get(c, 0) + v - start.get(k, 0)
            tot = sum(by_caller.values()) or 1
            row["metric_upstream_starts_while_b_ran"] = {c: int(v) for c, v in by_caller.items()}
            row["metric_share"] = {c: round(v / tot, 3) for c, v in by_caller.items()}
        out["modes"][mode] = row
    f = out["modes"].get("fair")
    if f:
        out["checks"] = {
            "fair: B refused 0 times": f["b_refused"] + f["bnew_refused"] == 0,
            "fair: B p99 < 1.5 s (its Zipf mix and its new ids)": max(f["b_p99_ms"], f["bnew_p99_ms"]) < 1500,
            "fair: A's backlog past max_wait (A refused)": f["a_refused"] > 0,
        }
    dump(out, args.out)
    print(json.dumps(out["modes"], indent=1))
    for k, v in out.get("checks", {}).items():
        print(f"  check {k}: {'ok' if v else 'FAILED'}")


def print_efficiency(e):
    for key, rows in (("targets", EFF_ROWS), ("spare", SPARE_ROWS)):
        ts = list(e.get(key, {}))
        print(f"{key:<52}" + "".join(f"{t:>14}" for t in ts))
        for name, k in rows:
            print(f"{name:<52}" + "".join(f"{fmt(e[key][t].get(k)):>14}" for t in ts))
    for k, v in e.get("checks", {}).items():
        print(f"  check {k}: {'ok' if v else 'FAILED'}")


# --------------------------------------------------------------- memory


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def cmd_memory(args):
    meta = load(os.path.join(args.raw, "memory-meta.json"))
    out = {"config": meta, "builds": {}}
    for b in meta["builds"]:
        with open(os.path.join(args.raw, f"memory-{b}-metrics.txt")) as f:
            m = parse_metrics(f.read())
        lg = load(os.path.join(args.raw, f"memory-{b}-loadgen.json"))
        start = load(os.path.join(args.raw, f"memory-{b}-rss-start.json"))
        full = load(os.path.join(args.raw, f"memory-{b}-rss-full.json"))
        settled = load(os.path.join(args.raw, f"memory-{b}-rss-settled.json"))
        entries = int(m.get("altur_gateway_cache_entries", 0))
        weighed = int(m.get("altur_gateway_cache_bytes", 0))
        grown = full["VmRSS"] - start["VmRSS"]
        # Key + body of what is held: the fill's mean body (ids next to each
        # other have bodies within a few bytes) plus the key "/campaigns/N".
        mean_body = lg["body_bytes"] / lg["requests"] if lg["requests"] else 0
        mean_key = len("/campaigns/") + len(str(meta["entries_requested"] // 2))
        stored = int(entries * (mean_body + mean_key))
        out["builds"][b] = {
            "fill_requests": lg["requests"],
            "fill_statuses": lg["statuses"],
            "fill_seconds": round(lg["elapsed_s"], 2),
            "asked_key_body_bytes": int(lg["requests"] * (mean_body + mean_key)),
            "cache_entries": entries,
            "cache_weighed_bytes": weighed,
            "key_body_bytes_held": stored,
            "key_body_per_entry": round(stored / entries, 1) if entries else None,
            "weighed_per_entry": round(weighed / entries, 1) if entries else None,
            "rss_start_bytes": start["VmRSS"],
            "rss_full_bytes": full["VmRSS"],
            "rss_peak_bytes": full["VmHWM"],
            "rss_growth_bytes": grown,
            "rss_growth_per_entry": round(grown / entries, 1) if entries else None,
            "overhead_per_entry_bytes": round((grown - stored) / entries, 1) if entries else None,
            "rss_growth_over_key_body": round(grown / stored, 3) if stored else None,
            "rss_growth_over_max_bytes": round(grown / meta["max_bytes"], 3),
            "rss_settled_bytes": settled["VmRSS"],
            "rss_settled_growth_over_max_bytes": round((settled["VmRSS"] - start["VmRSS"]) / meta["max_bytes"], 3),
            "overhead_per_entry_settled_bytes": round((settled["VmRSS"] - start["VmRSS"] - stored) / entries, 1)
            if entries
            else None,
            "rss_peak_growth_over_max_bytes": round((full["VmHWM"] - start["VmRSS"]) / meta["max_bytes"], 3),
            "weighed_over_max_bytes": round(weighed / meta["max_bytes"], 3),
        }
    dump(out, args.out)
    for b, v in out["builds"].items():
        print(b)
        for k, x in v.items():
            print(f"  {k}: {x}")


# --------------------------------------------------------------- assemble


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    if isinstance(v, int) and abs(v) >= 1000:
        return f"{v:,}"
    return str(v)


def mib(b):
    return f"{b / 1024 / 1024:.1f} MiB"


def render_hits_route(h, title):
    lines = [
        title,
        "",
        "| target | req/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for t, v in h["targets"].items():
        lines.append(
            f"| {t} | {v['rps_median']:,} | {v['p50_ms_median']:.3f} | {v['p99_ms_median']:.3f} | {v['errors']} |"
        )
    r = h["ratios"]
    goals = h.get("goals", {})
    gn, gb = GOALS["gateway_over_nginx_rps"], GOALS["gateway_over_bare_rps"]
    met = lambda k: "met" if goals.get(k) else "not met"  # noqa: E731
    lines += ["", "| ratio | value | goal |", "| --- | ---: | --- |"]
    if "gateway_over_nginx_rps" in r:
        lines.append(
            f"| gateway / nginx req/s | {r['gateway_over_nginx_rps']:.2f} "
            f"(per-round median {r.get('gateway_over_nginx_rps_per_round_median', 0):.2f}) "
            f"| >= {gn}: {met(f'rps >= {gn}x nginx')} |"
        )
        lines.append(
            f"| gateway / nginx p99 | {r['gateway_over_nginx_p99']:.2f} | <= 1.0: {met('p99 <= nginx')} |"
        )
    if "gateway_over_nginx_tuned_rps" in r:
        lines.append(
            f"| gateway / nginx-tuned req/s | {r['gateway_over_nginx_tuned_rps']:.2f} "
            f"(per-round median {r.get('gateway_over_nginx_tuned_rps_per_round_median', 0):.2f}) | (information) |"
        )
        lines.append(f"| gateway / nginx-tuned p99 | {r['gateway_over_nginx_tuned_p99']:.2f} | (information) |")
    if "gateway_over_bare_rps" in r:
        lines.append(
            f"| gateway / bare hyper req/s | {r['gateway_over_bare_rps']:.2f} "
            f"(per-round median {r.get('gateway_over_bare_rps_per_round_median', 0):.2f}) "
            f"| >= {gb}: {met(f'rps >= {gb}x bare hyper')} |"
        )
    if "gateway_alt_over_gateway_rps" in r:
        lines.append(
            f"| gateway-alt / gateway req/s | {r['gateway_alt_over_gateway_rps']:.2f} "
            f"(per-round median {r.get('gateway_alt_over_gateway_rps_per_round_median', 0):.2f}) | (A/B) |"
        )
    inter = h.get("interference_other_cores")
    if inter:
        lines.append("")
        lines.append(
            f"CPU used by other processes during the rounds: median {inter['median']:.2f} cores, "
            f"max {inter['max']:.2f} (shared machine; see `rounds` in latest.json)."
        )
    return lines


def render_hits(h):
    c = h["config"]
    lines = [
        "### Cache hits: gateway vs nginx proxy_cache vs bare hyper",
        "",
        f"wrk {c['wrk_threads']} thread, {c['connections']} keep-alive connections, "
        f"{c['hit_ids']} warmed ids round-robin, {c['rounds']} rounds x {c['round_s']} s per target and route, "
        f"targets alternating; server on CPU {c['server_cpu']}, wrk on CPU {c['load_cpu']}"
        f"{', nice ' + str(c['nice']) if c.get('nice') else ''}. Medians over rounds. "
        "`nginx` is the configuration issue 4 specifies (`worker_processes auto`: 2 workers on the one CPU); "
        "`nginx-tuned` adds `sendfile`, `tcp_nopush`, `open_file_cache` and 1 worker for its 1 CPU. "
        "The goals are judged against `nginx`.",
        "",
    ]
    lines += render_hits_route(h, "#### Campaign hits: `GET /api/v1.0/campaigns/{id}`")
    if "list" in h:
        lines += [""]
        lines += render_hits_route(
            h["list"],
            "#### List hits: `GET /api/v1.0/campaigns/{id}/contacts?status=queue` "
            f"(list pages of about {fmt(c.get('list_body_bytes'))} bytes)",
        )
    up = c.get("upstream_requests_during_rounds")
    if up is not None:
        lines += ["", f"Upstream requests during the measured rounds: {up}" + (" (every answer was a cache hit)." if up == 0 else ".")]
    lines += ["", "![hits](../benches/results/hits.svg)"]
    return lines


def render_efficiency(e):
    c = e["config"]
    ts = list(e["targets"])
    lines = [
        "### Upstream efficiency and freshness: Zipf mix through the 12 req/s budget",
        "",
        f"{c['ids']} campaign ids, Zipf s={c['zipf_s']}, {c['callers']} concurrent callers "
        f"(closed loops, random pause of 0-{2 * c['think_ms']} ms between requests) for {c['duration_s']} s; "
        f"TTL {c['ttl_s']} s; simulator latency {c['sim_latency_ms']} ms, strict {c['rate_limit']} req/s "
        f"sliding window. Gateway: its defaults (stale-while-revalidate {c.get('swr_s', 30)} s, refresh-ahead on, "
        f"max wait {c['max_wait_s']} s). nginx: proxy_cache with proxy_cache_lock, "
        "`proxy_cache_use_stale updating error timeout ...`, `proxy_cache_background_update on`, and "
        f"`limit_req rate={c['rate_limit']}r/s burst={c['nginx_burst']}` in front of the simulator. "
        "\"Had an entry\": an earlier answer for the id proves an entry stored less than TTL + SWR before the "
        "request was sent. Age: from `Age` (gateway) or from the upstream's `Date` that nginx relays, both "
        "whole-second readings (mean unbiased to about 0.1 s). A duplicate: an id fetched again less than "
        "TTL - refresh-ahead lead (27 s) after its previous successful fetch.",
        "",
        "| | " + " | ".join(ts) + " |",
        "| --- |" + " ---: |" * len(ts),
    ]
    for name, k in EFF_ROWS:
        lines.append(f"| {name} | " + " | ".join(fmt(e["targets"][t].get(k)) for t in ts) + " |")
    sp = e.get("spare") or {}
    if sp:
        sc = c["spare"]
        ss = list(sp)
        lines += [
            "",
            f"#### Spare budget: {sc['ids']} hot keys",
            "",
            f"{sc['ids']} ids read uniformly by {sc['callers']} callers (pause 0-{2 * sc['think_ms']} ms) for "
            f"{sc['duration_s']} s, TTL {sc['ttl_s']} s, same targets. \"After an id's first answer\": requests "
            "sent once the id had been answered once.",
            "",
            "| | " + " | ".join(ss) + " |",
            "| --- |" + " ---: |" * len(ss),
        ]
        for name, k in SPARE_ROWS:
            lines.append(f"| {name} | " + " | ".join(fmt(sp[t].get(k)) for t in ss) + " |")
    checks = e.get("checks", {})
    if checks:
        lines.append("")
        lines.append("Checks: " + "; ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in checks.items()) + ".")
    return lines


def render_neighbour(d):
    c = d["config"]
    ms = d["modes"]
    names = {"fair": "two callers (fair shares)", "one-caller": "one caller (no tokens)"}
    rows = [
        ("B's Zipf mix: requests", lambda v: fmt(v["b_requests"])),
        ("B's Zipf mix: p50 ms", lambda v: fmt(v["b_p50_ms"])),
        ("B's Zipf mix: p99 ms", lambda v: fmt(v["b_p99_ms"])),
        ("B's Zipf mix: refused (503)", lambda v: fmt(v["b_refused"])),
        ("B's Zipf mix: stale answers", lambda v: fmt(v["b_stale"])),
        ("B's Zipf mix: misses (own fetch or collapsed)", lambda v: fmt(v["b_miss"])),
        ("B's new ids: requests", lambda v: fmt(v["bnew_requests"])),
        ("B's new ids: p50 ms", lambda v: fmt(v["bnew_p50_ms"])),
        ("B's new ids: p99 ms", lambda v: fmt(v["bnew_p99_ms"])),
        ("B's new ids: refused (503)", lambda v: fmt(v["bnew_refused"])),
        ("A requests", lambda v: fmt(v["a_requests"])),
        ("A refused (503)", lambda v: fmt(v["a_refused"])),
        ("upstream starts while B ran: A / B", lambda v: f"{v['upstream_while_b_ran']['a']} / {v['upstream_while_b_ran']['b']}"),
        ("B's share of upstream starts (simulator's log)", lambda v: fmt(v["b_share_of_upstream"])),
        (
            "shares by `upstream_starts_total{caller}`",
            lambda v: ", ".join(f"{k} {x}" for k, x in sorted(v.get("metric_share", {}).items())) or "-",
        ),
    ]
    lines = [
        "### Noisy neighbour: one caller floods, another reads",
        "",
        f"Caller A floods distinct campaign ids (from {fmt(c['a_first_id'])} on, each once: all misses) on "
        f"{c['a_connections']} connections for {c['duration_s']} s; caller B starts {c['b_delay_s']} s later, once "
        f"A's backlog is past `max_wait_ms` ({c['max_wait_s']} s), and reads a Zipf mix of {c['b_ids']} ids of its own "
        f"(cached before the flood) on {c['b_connections']} connections (pause 0-{2 * c['b_think_ms']} ms), plus "
        f"new ids of its own (its misses) on {c.get('b_new_connections', '-')} connections (pause "
        f"0-{2 * c.get('b_new_think_ms', 0)} ms, a few per second: below its fair share). Budget {c['rate_limit']} req/s, "
        f"simulator latency {c['sim_latency_ms']} ms. Each mode on fresh processes.",
        "",
        "| | " + " | ".join(names.get(m, m) for m in ms) + " |",
        "| --- |" + " ---: |" * len(ms),
    ]
    for name, f in rows:
        lines.append(f"| {name} | " + " | ".join(f(ms[m]) for m in ms) + " |")
    checks = d.get("checks", {})
    if checks:
        lines.append("")
        lines.append("Checks: " + "; ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in checks.items()) + ".")
    return lines


def render_memory(m):
    c = m["config"]
    if "builds" not in m:
        return render_generic("memory", m)
    bs = list(m["builds"])
    names = {}
    rows = [
        ("RSS right after start", lambda v: mib(v["rss_start_bytes"])),
        ("RSS after the fill", lambda v: mib(v["rss_full_bytes"])),
        ("RSS peak (VmHWM)", lambda v: mib(v["rss_peak_bytes"])),
        ("entries held at the end", lambda v: fmt(v["cache_entries"])),
        ("bytes weighed (`altur_gateway_cache_bytes`)", lambda v: mib(v["cache_weighed_bytes"])),
        ("key + body held", lambda v: f"{mib(v['key_body_bytes_held'])} ({fmt(v['key_body_per_entry'])} B/entry)"),
        ("weighed per entry", lambda v: f"{fmt(v['weighed_per_entry'])} B"),
        ("RSS growth per entry held", lambda v: f"{fmt(v['rss_growth_per_entry'])} B"),
        ("overhead per entry (growth - key - body)", lambda v: f"{fmt(v['overhead_per_entry_bytes'])} B"),
        ("RSS growth / key + body held", lambda v: fmt(v["rss_growth_over_key_body"])),
        ("**RSS growth / `max_bytes`**", lambda v: f"**{fmt(v['rss_growth_over_max_bytes'])}**"),
        (
            f"RSS {c.get('settle_s', 15)} s later",
            lambda v: mib(v["rss_settled_bytes"]) if "rss_settled_bytes" in v else "-",
        ),
        (
            "... its growth / `max_bytes`",
            lambda v: fmt(v.get("rss_settled_growth_over_max_bytes")),
        ),
        (
            "... overhead per entry",
            lambda v: f"{fmt(v.get('overhead_per_entry_settled_bytes'))} B",
        ),
        ("RSS peak growth / `max_bytes`", lambda v: fmt(v["rss_peak_growth_over_max_bytes"])),
    ]
    first = m["builds"][bs[0]]
    lines = [
        "### Memory: the cache filled past its bound",
        "",
        f"`cache.max_bytes` = {mib(c['max_bytes'])}; {fmt(c['entries_requested'])} campaigns asked once each "
        f"(sequential ids, {c['fill_factor']}x max_bytes of key + body: eviction runs for the second half of the "
        f"fill, in {first['fill_seconds']} s, budget raised to {fmt(c['requests_per_second'])} req/s, simulator unlimited).",
        "",
        "| | " + " | ".join(names.get(b, b) for b in bs) + " |",
        "| --- |" + " ---: |" * len(bs),
    ]
    for label_, f in rows:
        lines.append(f"| {label_} | " + " | ".join(f(m["builds"][b]) for b in bs) + " |")
    return lines


def render_generic(name, d):
    lines = [f"### {name}", "", "| key | value |", "| --- | ---: |"]
    for k, v in d.items():
        if isinstance(v, (int, float, str, bool)):
            lines.append(f"| {k} | {fmt(v)} |")
    return lines


def render_redis_miss_cost(d):
    return [
        "### Redis shared limiter: cost added to a cache miss",
        "",
        f"`cargo run --release --example redis_miss_cost -- {d['iterations']}` (benches/redis_miss_cost.rs):",
        "",
        "```",
        d["text"],
        "```",
    ]


RENDERERS = {
    "hits": render_hits,
    "neighbour": render_neighbour,
    "efficiency": render_efficiency,
    "memory": render_memory,
    "redis_miss_cost": render_redis_miss_cost,
}
ORDER = ["hits", "neighbour", "efficiency", "memory", "redis_miss_cost"]


def svg_hits(h, path):
    ts = [t for t in TARGETS if t in h["targets"]]
    colors = {
        "gateway": "#2f7ed8",
        "nginx": "#8bbc21",
        "nginx-tuned": "#5c8a0f",
        "bare-hyper": "#910000",
        "gateway-alt": "#77a1e5",
    }
    panels = [
        ("Cache-hit throughput (req/s, median; higher is better)", "rps_median", lambda v: f"{v:,.0f}"),
        ("Cache-hit p99 latency (ms, median; lower is better)", "p99_ms_median", lambda v: f"{v:.2f}"),
    ]
    w, top, gap = 760, 40, 20
    ph = 34 + len(ts) * 56 + 6
    height = top + len(panels) * (ph + gap) + 10
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" '
        f'viewBox="0 0 {w} {height}" font-family="sans-serif" font-size="13">',
        f'<rect width="{w}" height="{height}" fill="white"/>',
        f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
        f"altur-gateway vs nginx proxy_cache vs bare hyper: cache hits</text>",
    ]
    for i, (title, key, label) in enumerate(panels):
        y0 = top + i * (ph + gap)
        vals = [h["targets"][t][key] for t in ts]
        vmax = max(vals) or 1
        out.append(f'<text x="20" y="{y0 + 16}" font-weight="bold">{html.escape(title)}</text>')
        bar_h, left, right = 40, 120, w - 140
        for j, t in enumerate(ts):
            y = y0 + 34 + j * (bar_h + 16)
            bw = max(1, (right - left) * vals[j] / vmax)
            out.append(f'<text x="{left - 10}" y="{y + bar_h / 2 + 5}" text-anchor="end">{t}</text>')
            out.append(f'<rect x="{left}" y="{y}" width="{bw:.1f}" height="{bar_h}" fill="{colors[t]}"/>')
            out.append(f'<text x="{left + bw + 8:.1f}" y="{y + bar_h / 2 + 5}">{label(vals[j])}</text>')
    c = h["config"]
    out.append(
        f'<text x="20" y="{height - 8}" font-size="11" fill="#555">{html.escape(c.get("machine_line", ""))}</text>'
    )
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_outputs(latest, results, readme):
    mach, sections = latest["machine"], latest["sections"]
    mode = latest.get("mode", "full")
    machine_line = (
        f"{mach['nproc']} x {mach['cpu_model']}, {mach['memory']}, Linux {mach['kernel']}, {mach['date']}"
    )
    if "hits" in sections:
        sections["hits"]["config"]["machine_line"] = machine_line
        svg_hits(sections["hits"], os.path.join(results, "hits.svg"))
    if not readme:
        return
    body = [
        f"Measured by `benches/run` ({mode}) on {mach['nproc']} x {mach['cpu_model']}, "
        f"{mach['memory']}, Linux {mach['kernel']}, {mach['date']}. Generated; do not edit by hand.",
        "",
    ]
    names = [n for n in ORDER if n in sections] + sorted(n for n in sections if n not in ORDER)
    for n in names:
        d = sections[n]
        render = RENDERERS.get(n)
        body += render(d) if render else render_generic(n, d)
        if d.get("measured_at") and d["measured_at"] != mach["date"]:
            body.append(f"\n(This section was measured at {d['measured_at']}.)")
        body.append("")
    with open(readme) as f:
        text = f.read()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        sys.exit(f"{readme} lacks the {start} / {end} markers")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = head + start + "\n" + "\n".join(body).rstrip() + "\n" + end + tail
    with open(readme + ".tmp", "w") as f:
        f.write(new)
    os.replace(readme + ".tmp", readme)


def cmd_assemble(args):
    os.makedirs(args.results, exist_ok=True)
    latest_path = os.path.join(args.results, "latest.json")
    prev = {}
    if args.mode == "full" and os.path.exists(latest_path):
        try:
            prev = load(latest_path).get("sections", {})
        except (OSError, ValueError):
            prev = {}
    mach = machine()
    sections = dict(prev)
    for name in os.listdir(args.raw):
        m = re.match(r"section-(.+)\.json$", name)
        if m:
            d = load(os.path.join(args.raw, name))
            d["measured_at"] = mach["date"]
            d["mode"] = args.mode
            sections[m.group(1)] = d
    result = {"machine": mach, "mode": args.mode, "sections": sections}
    dump(result, latest_path)
    write_outputs(result, args.results, args.readme)
    print(f"wrote {latest_path}")


def cmd_render(args):
    """Redraws hits.svg and the README table from latest.json, numbers untouched."""
    latest = load(os.path.join(args.results, "latest.json"))
    write_outputs(latest, args.results, args.readme)
    print(f"rendered {os.path.join(args.results, 'latest.json')}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("free-port").set_defaults(fn=cmd_free_port)
    s = sub.add_parser("rss")
    s.add_argument("pid", type=int)
    s.set_defaults(fn=cmd_rss)
    s = sub.add_parser("measure")
    s.add_argument("--out", required=True)
    s.add_argument("--pids", default="")
    s.add_argument("command", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_measure)
    s = sub.add_parser("hits")
    s.add_argument("--raw", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_hits)
    s = sub.add_parser("simlog")
    s.add_argument("--log", required=True)
    s.add_argument("--ttl-ms", type=float, default=30000)
    s.add_argument("--limit", type=int, default=12)
    s.add_argument("--window-ms", type=float, default=1000)
    s.set_defaults(fn=cmd_simlog)
    s = sub.add_parser("efficiency")
    s.add_argument("--raw", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_efficiency)
    s = sub.add_parser("neighbour")
    s.add_argument("--raw", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_neighbour)
    s = sub.add_parser("memory")
    s.add_argument("--raw", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_memory)
    s = sub.add_parser("assemble")
    s.add_argument("--raw", required=True)
    s.add_argument("--results", required=True)
    s.add_argument("--readme", default="")
    s.add_argument("--mode", choices=["full", "quick"], default="full")
    s.set_defaults(fn=cmd_assemble)
    s = sub.add_parser("render")
    s.add_argument("--results", required=True)
    s.add_argument("--readme", default="")
    s.set_defaults(fn=cmd_render)
    args = p.parse_args()
    if args.cmd == "measure" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    args.fn(args)


if __name__ == "__main__":
    main()
