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
    "gateway_over_bare_rps": 0.8,
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


def cmd_hits(args):
    rounds = []
    for name in sorted(os.listdir(args.raw)):
        m = re.match(r"hits-round(\d+)-(.+)\.json$", name)
        if m:
            r = load(os.path.join(args.raw, name))
            r["round"] = int(m.group(1))
            r["target"] = m.group(2)
            rounds.append(r)
    meta = load(os.path.join(args.raw, "hits-meta.json"))
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
            "rps >= 1.5x nginx": ratios["gateway_over_nginx_rps"] >= 1.5,
            "p99 <= nginx": g["p99_ms_median"] <= n["p99_ms_median"],
            "rps >= 0.8x bare hyper": ratios["gateway_over_bare_rps"] >= 0.8,
        }
    others = [r["cpu"]["other_cores"] for r in rounds if r.get("cpu")]
    if others:
        out["interference_other_cores"] = {"median": median(others), "max": max(others)}
    dump(out, args.out)
    print_hits(out)


def print_hits(h):
    print(f"{'target':<12} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}  (medians of {h['config']['rounds']} rounds)")
    for t, v in h["targets"].items():
        print(f"{t:<12} {v['rps_median']:>10} {v['p50_ms_median']:>8.3f} {v['p99_ms_median']:>8.3f}")
    for k, v in h["ratios"].items():
        print(f"  {k} = {v}")
    for k, v in h.get("goals", {}).items():
        print(f"  goal {k}: {'met' if v else 'NOT met'}")


# --------------------------------------------------------------- efficiency


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
    # is still within the TTL (the answer should have come from the cache).
    last_ok, dups, examples = {}, 0, []
    for r in reqs:
        p = r["path"].split("?")[0]
        prev = last_ok.get(p)
        if prev is not None and r["t_ms"] - prev < ttl_ms:
            dups += 1
            if len(examples) < 5:
                examples.append({"path": p, "previous_ms": round(prev, 1), "again_ms": round(r["t_ms"], 1)})
        if r["status"] == 200:
            last_ok[p] = r["t_ms"]
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
        "duplicate_examples": examples,
        "distinct_ids_fetched": len({r["path"] for r in reqs}),
        "per_second": [per_second.get(s, 0) for s in range(0, (max(windows) + 1) if windows else 0)],
    }


def cmd_simlog(args):
    print(json.dumps(analyse_simlog(load(args.log), args.ttl_ms, args.limit, args.window_ms), indent=2))


def cmd_efficiency(args):
    meta = load(os.path.join(args.raw, "efficiency-meta.json"))
    out = {"config": meta, "targets": {}}
    for t in meta["targets"]:
        lg = load(os.path.join(args.raw, f"eff-{t}-loadgen.json"))
        sim = analyse_simlog(
            load(os.path.join(args.raw, f"eff-{t}-simlog.json")),
            meta["ttl_s"] * 1000,
            meta["rate_limit"],
            1000,
        )
        c = lg["cache"]
        n = lg["requests"] or 1
        ok_fetches = int(sim["upstream_statuses"].get("200", 0))
        out["targets"][t] = {
            "caller_requests": lg["requests"],
            "caller_rps": round(lg["rps"], 1),
            "caller_statuses": lg["statuses"],
            "transport_errors": lg["transport_errors"],
            "timeouts": lg["timeouts"],
            "hit": c["hit"],
            "miss": c["miss"],
            "collapsed": c["collapsed"],
            "stale": c["stale"],
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
            "caller_requests_per_upstream_200": round(lg["requests"] / ok_fetches, 1) if ok_fetches else None,
            **{k: v for k, v in sim.items() if k != "per_second"},
            "upstream_per_second": sim["per_second"],
        }
    g = out["targets"].get("gateway")
    if g:
        out["checks"] = {
            "gateway max upstream in any 1 s <= limit": g["max_in_any_1s_window"] <= meta["rate_limit"],
            "gateway duplicate fetches == 0": g["duplicate_fetches_within_ttl"] == 0,
            "gateway upstream 429s == 0": g["upstream_429"] == 0,
        }
    dump(out, args.out)
    print_efficiency(out)


EFF_ROWS = [
    ("caller requests", "caller_requests"),
    ("caller req/s", "caller_rps"),
    ("hit ratio", "hit_ratio"),
    ("hit", "hit"),
    ("miss (own fetch)", "miss"),
    ("collapsed", "collapsed"),
    ("stale (fwd=stale)", "stale"),
    ("refused (503)", "refused"),
    ("served without own fetch (hit+collapsed+stale)", "served_without_own_fetch_ratio"),
    ("other errors (429 relayed, timeouts...)", "caller_other_errors"),
    ("caller p50 ms", "p50_ms"),
    ("caller p99 ms", "p99_ms"),
    ("upstream requests", "upstream_requests"),
    ("max upstream in any 1 s", "max_in_any_1s_window"),
    ("mean upstream req/s", "mean_upstream_rps"),
    ("upstream 429s", "upstream_429"),
    ("duplicate fetches within TTL", "duplicate_fetches_within_ttl"),
    ("distinct ids fetched", "distinct_ids_fetched"),
    ("caller requests per upstream 200", "caller_requests_per_upstream_200"),
]


def print_efficiency(e):
    ts = list(e["targets"])
    print(f"{'':<48}" + "".join(f"{t:>14}" for t in ts))
    for label, k in EFF_ROWS:
        print(f"{label:<48}" + "".join(f"{fmt(e['targets'][t].get(k)):>14}" for t in ts))
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
    with open(os.path.join(args.raw, "memory-metrics.txt")) as f:
        m = parse_metrics(f.read())
    lg = load(os.path.join(args.raw, "memory-loadgen.json"))
    start = load(os.path.join(args.raw, "memory-rss-start.json"))
    full = load(os.path.join(args.raw, "memory-rss-full.json"))
    entries = int(m.get("altur_gateway_cache_entries", 0))
    stored = int(m.get("altur_gateway_cache_bytes", 0))
    grown = full["VmRSS"] - start["VmRSS"]
    out = {
        "config": meta,
        "fill_requests": lg["requests"],
        "fill_statuses": lg["statuses"],
        "fill_seconds": round(lg["elapsed_s"], 2),
        "cache_entries": entries,
        "cache_bytes": stored,
        "bytes_stored_per_entry": round(stored / entries, 1) if entries else None,
        "rss_start_bytes": start["VmRSS"],
        "rss_full_bytes": full["VmRSS"],
        "rss_peak_bytes": full["VmHWM"],
        "rss_growth_bytes": grown,
        "rss_growth_per_entry": round(grown / entries, 1) if entries else None,
        "overhead_per_entry_bytes": round((grown - stored) / entries, 1) if entries else None,
        "rss_growth_over_stored": round(grown / stored, 3) if stored else None,
    }
    dump(out, args.out)
    for k, v in out.items():
        if k != "config":
            print(f"  {k}: {v}")


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


def render_hits(h):
    c = h["config"]
    lines = [
        "### Cache hits: gateway vs nginx proxy_cache vs bare hyper",
        "",
        f"wrk {c['wrk_threads']} thread, {c['connections']} keep-alive connections, "
        f"{c['hit_ids']} warmed ids round-robin, {c['rounds']} rounds x {c['round_s']} s per target, "
        f"targets alternating; server on CPU {c['server_cpu']}, wrk on CPU {c['load_cpu']}"
        f"{', nice ' + str(c['nice']) if c.get('nice') else ''}. Medians over rounds. "
        "`nginx` is the configuration issue 4 specifies (`worker_processes auto`: 2 workers on the one CPU); "
        "`nginx-tuned` adds `sendfile`, `tcp_nopush`, `open_file_cache` and 1 worker for its 1 CPU. "
        "The goals are judged against `nginx`.",
        "",
        "| target | req/s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for t, v in h["targets"].items():
        lines.append(
            f"| {t} | {v['rps_median']:,} | {v['p50_ms_median']:.3f} | {v['p99_ms_median']:.3f} | {v['errors']} |"
        )
    r = h["ratios"]
    lines += ["", "| ratio | value | goal |", "| --- | ---: | --- |"]
    goals = h.get("goals", {})
    if "gateway_over_nginx_rps" in r:
        lines.append(
            f"| gateway / nginx req/s | {r['gateway_over_nginx_rps']:.2f} "
            f"(per-round median {r.get('gateway_over_nginx_rps_per_round_median', 0):.2f}) "
            f"| >= 1.5: {'met' if goals.get('rps >= 1.5x nginx') else 'not met'} |"
        )
        lines.append(
            f"| gateway / nginx p99 | {r['gateway_over_nginx_p99']:.2f} "
            f"| <= 1.0: {'met' if goals.get('p99 <= nginx') else 'not met'} |"
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
            f"| >= 0.8: {'met' if goals.get('rps >= 0.8x bare hyper') else 'not met'} |"
        )
    up = c.get("upstream_requests_during_rounds")
    if up is not None:
        lines += ["", f"Upstream requests during the measured rounds: {up} (every answer was a cache hit)."]
    inter = h.get("interference_other_cores")
    if inter:
        lines.append(
            f"CPU used by other processes during the rounds: median {inter['median']:.2f} cores, "
            f"max {inter['max']:.2f} (shared machine; see `rounds` in latest.json)."
        )
    lines += ["", "![hits](results/hits.svg)"]
    return lines


def render_efficiency(e):
    c = e["config"]
    ts = list(e["targets"])
    lines = [
        "### Upstream efficiency: Zipf mix through the 12 req/s budget",
        "",
        f"{c['ids']} campaign ids, Zipf s={c['zipf_s']}, {c['callers']} concurrent callers "
        f"(closed loops, random pause of 0-{2 * c['think_ms']} ms between requests) for {c['duration_s']} s; "
        f"TTL {c['ttl_s']} s; simulator latency {c['sim_latency_ms']} ms, strict {c['rate_limit']} req/s "
        f"sliding window. Gateway: its defaults (max wait {c['max_wait_s']} s). nginx: proxy_cache with "
        f"proxy_cache_lock, stale on error, and `limit_req rate={c['rate_limit']}r/s burst={c['nginx_burst']}` "
        "in front of the simulator. "
        "A duplicate is an id fetched again while its previous successful fetch is within the TTL.",
        "",
        "| | " + " | ".join(ts) + " |",
        "| --- |" + " ---: |" * len(ts),
    ]
    for label, k in EFF_ROWS:
        lines.append(f"| {label} | " + " | ".join(fmt(e["targets"][t].get(k)) for t in ts) + " |")
    checks = e.get("checks", {})
    if checks:
        lines.append("")
        lines.append("Checks: " + "; ".join(f"{k}: {'ok' if v else 'FAILED'}" for k, v in checks.items()) + ".")
    return lines


def render_memory(m):
    c = m["config"]
    return [
        "### Memory: gateway RSS with the cache full",
        "",
        f"{fmt(m['cache_entries'])} campaigns cached (sequential ids, filled in {m['fill_seconds']} s with "
        f"the upstream budget raised to {fmt(c['requests_per_second'])} req/s and an unlimited simulator).",
        "",
        "| | value |",
        "| --- | ---: |",
        f"| RSS right after start | {mib(m['rss_start_bytes'])} |",
        f"| RSS with the cache full | {mib(m['rss_full_bytes'])} |",
        f"| RSS peak (VmHWM) | {mib(m['rss_peak_bytes'])} |",
        f"| bytes stored (`altur_gateway_cache_bytes`) | {mib(m['cache_bytes'])} ({fmt(m['bytes_stored_per_entry'])} B/entry) |",
        f"| RSS growth per entry | {fmt(m['rss_growth_per_entry'])} B |",
        f"| overhead per entry (growth - stored) | {fmt(m['overhead_per_entry_bytes'])} B |",
        f"| RSS growth / bytes stored | {fmt(m['rss_growth_over_stored'])} |",
    ]


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
    "efficiency": render_efficiency,
    "memory": render_memory,
    "redis_miss_cost": render_redis_miss_cost,
}
ORDER = ["hits", "efficiency", "memory", "redis_miss_cost"]


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
