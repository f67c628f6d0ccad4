#!/usr/bin/env python3
"""Cross-file rules of deploy/ that no schema checks (run by deploy/check).

Schemas say each manifest is well formed; this says they agree with each other
and with the gateway: the fleet stays within Altur's 12 requests/s, the grace
period covers preStop + drain, the key is mounted so that it can rotate, the
cache fits in the memory limit, ports, paths and selectors line up, every
config key exists, and the Docker build context holds what the Dockerfile
copies.

Usage: check_policy.py REPO_ROOT BASE.yaml REDIS.yaml MONITORING.yaml
(the YAML files are `kubectl kustomize` output for the base, and for the base
with the redis and with the monitoring component). kubernetes-validate has no
schema for the Prometheus Operator's ServiceMonitor (it only warns), so its
fields are checked here. Needs PyYAML; Python 3.11+ for tomllib.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

import yaml

# Altur's documented limit: requests per second per organisation key.
ALTUR_BUDGET_PER_SECOND = 12
# The gateway drains in-flight requests for up to this long after SIGTERM.
DRAIN_SECONDS = 30
CONFIG_PATH = "/etc/altur-gateway/config.toml"
SECRET_NAME = "altur-gateway-api-key"
SECRET_KEY = "api-key"
NAME = "altur-gateway"

errors: list[str] = []


def check(ok: bool, message: str) -> None:
    if not ok:
        errors.append(message)


def load(path: str) -> dict[tuple[str, str], dict]:
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def memory_bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"(\d+)([KMG]i?)?", quantity)
    if not m:
        raise ValueError(f"unsupported memory quantity {quantity!r}")
    return int(m.group(1)) * units.get(m.group(2) or "", 1)


def selects(selector: dict, labels: dict) -> bool:
    """A matchLabels-only label selector matches these labels."""
    match = selector.get("matchLabels", {})
    check(set(selector) <= {"matchLabels"}, f"selector {selector} uses more than matchLabels")
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def documented_keys(default_toml: Path) -> set[str]:
    """Dotted keys of config/default.toml, commented-out ones (`# key = ...`,
    the keys without a default) included."""
    keys: set[str] = set()
    section = ""
    for line in default_toml.read_text(encoding="utf-8").splitlines():
        if m := re.fullmatch(r"\s*\[([a-z_]+)\]\s*", line):
            section = m.group(1)
        elif m := re.fullmatch(r"\s*#?\s*([a-z_]+)\s*=.*", line):
            keys.add(f"{section}.{m.group(1)}" if section else m.group(1))
    return keys


def flatten(table: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_map(objects: dict, where: str) -> dict:
    """The gateway's ConfigMap, made by kustomize's configMapGenerator: its
    name carries a hash of its contents, so a config change renames it and
    rolls the pods."""
    cms = [d for (kind, name), d in objects.items()
           if kind == "ConfigMap" and re.fullmatch(rf"{NAME}-config-[a-z0-9]{{10}}", name)]
    check(len(cms) == 1, f"{where} expected one generated ConfigMap {NAME}-config-<hash>, "
          f"found {[n for k, n in objects if k == 'ConfigMap']}")
    return cms[0] if cms else {"metadata": {"name": "?"}, "data": {"config.toml": ""}}


def effective_config(objects: dict, container: dict, where: str) -> dict[str, object]:
    """The ConfigMap's TOML with the container's ALTUR_GATEWAY__ variables on
    top, as the gateway layers them."""
    cm = config_map(objects, where)
    config = flatten(tomllib.loads(cm["data"]["config.toml"]))
    for env in container.get("env", []):
        name = env["name"]
        if name.startswith("ALTUR_GATEWAY__"):
            key = ".".join(part.lower() for part in name[len("ALTUR_GATEWAY__"):].split("__"))
            check("value" in env, f"{name}: only literal values are checked")
            value = env.get("value", "")
            config[key] = int(value) if value.isdigit() else value
    return config


def check_fleet(objects: dict, variant: str, doc_keys: set[str]) -> None:
    dep = objects[("Deployment", NAME)]
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    (container,) = [c for c in pod["containers"] if c["name"] == NAME]
    where = f"[{variant}]"
    config = effective_config(objects, container, where)

    for key in config:
        check(key in doc_keys, f"{where} config key {key!r} is not in config/default.toml")

    # The rate budget.
    replicas = spec["replicas"]
    surge = spec["strategy"].get("rollingUpdate", {}).get("maxSurge", "25%")
    check(isinstance(surge, int), f"{where} maxSurge must be a number of pods, not {surge!r}")
    surge = surge if isinstance(surge, int) else replicas
    backend = config.get("rate_limit.backend", "local")
    rps = config.get("rate_limit.requests_per_second", 12)
    fallback = config.get("rate_limit.fallback_requests_per_second", 4)
    if backend == "local":
        check(
            (replicas + surge) * rps <= ALTUR_BUDGET_PER_SECOND,
            f"{where} local limiter: ({replicas} replicas + {surge} surge) x {rps}/s "
            f"exceeds Altur's {ALTUR_BUDGET_PER_SECOND}/s",
        )
    else:
        check(backend == "redis", f"{where} unknown rate_limit.backend {backend!r}")
        check(
            rps <= ALTUR_BUDGET_PER_SECOND,
            f"{where} shared limiter: {rps}/s exceeds Altur's {ALTUR_BUDGET_PER_SECOND}/s",
        )
        check(bool(config.get("rate_limit.redis_url")), f"{where} redis backend without redis_url")
    check(
        (replicas + surge) * fallback <= ALTUR_BUDGET_PER_SECOND,
        f"{where} fallback limiter: ({replicas} + {surge}) x {fallback}/s exceeds "
        f"Altur's {ALTUR_BUDGET_PER_SECOND}/s",
    )
    check(("HorizontalPodAutoscaler", NAME) not in objects, f"{where} an HPA would break the budget")

    # Shutdown: preStop sleep, then SIGTERM and up to 30 s of drain.
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    sleep = pre_stop.get("sleep", {}).get("seconds", 0)
    check(sleep > 0, f"{where} no preStop sleep: endpoints may still route to a draining pod")
    check("exec" not in pre_stop, f"{where} preStop exec: the distroless image has no shell")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(
        grace > sleep + DRAIN_SECONDS,
        f"{where} terminationGracePeriodSeconds {grace} <= preStop {sleep} + drain {DRAIN_SECONDS}",
    )

    # The key: a directory mount of the Secret, where api_key_file points.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    secret_vols = [n for n, v in volumes.items() if v.get("secret", {}).get("secretName") == SECRET_NAME]
    check(len(secret_vols) == 1, f"{where} expected one volume of Secret {SECRET_NAME}")
    if secret_vols:
        vol, mount = volumes[secret_vols[0]], mounts.get(secret_vols[0], {})
        check("subPath" not in mount, f"{where} the key is mounted with subPath: rotation would need a restart")
        items = {i["key"]: i["path"] for i in vol["secret"].get("items", [])} or {SECRET_KEY: SECRET_KEY}
        check(SECRET_KEY in items, f"{where} Secret key {SECRET_KEY!r} is not projected")
        key_file = f"{mount.get('mountPath', '?')}/{items.get(SECRET_KEY, '?')}"
        check(
            config.get("upstream.api_key_file") == key_file,
            f"{where} upstream.api_key_file is {config.get('upstream.api_key_file')!r}, the key is at {key_file!r}",
        )
        check(mount.get("readOnly") is True, f"{where} key mount not readOnly")
    check(
        not any(e["name"] == "ALTUR_API_KEY" for e in container.get("env", [])),
        f"{where} ALTUR_API_KEY and api_key_file are exclusive",
    )

    # The config file.
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    check(env.get("ALTUR_GATEWAY_CONFIG") == CONFIG_PATH, f"{where} ALTUR_GATEWAY_CONFIG is not {CONFIG_PATH}")
    config_mounts = [m for m in container["volumeMounts"] if m["mountPath"] == CONFIG_PATH]
    check(len(config_mounts) == 1, f"{where} nothing mounted at {CONFIG_PATH}")
    if config_mounts:
        vol = volumes[config_mounts[0]["name"]]
        check(
            vol.get("configMap", {}).get("name") == config_map(objects, where)["metadata"]["name"]
            and config_mounts[0].get("subPath") == "config.toml",
            f"{where} {CONFIG_PATH} is not the generated ConfigMap's config.toml",
        )

    # Memory: the cache bound at most half the limit (see kubernetes/config.toml).
    limit = memory_bytes(container["resources"]["limits"]["memory"])
    max_bytes = config.get("cache.max_bytes", 268435456)
    check(
        2 * max_bytes <= limit,
        f"{where} cache.max_bytes {max_bytes} is more than half the memory limit {limit}",
    )
    check("cpu" in container["resources"]["requests"], f"{where} no CPU request")

    # Ports and probes.
    listen_port = int(str(config.get("listen", "0.0.0.0:8080")).rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(ports.get("http") == listen_port, f"{where} container port http != listen port {listen_port}")
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path, f"{where} {probe} is not GET {path}")
        check(get.get("port") in ("http", listen_port), f"{where} {probe} port")

    # Hardening.
    psc, csc = pod.get("securityContext", {}), container.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == 65532, f"{where} pod must run as 65532")
    check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{where} seccomp RuntimeDefault")
    check(csc.get("readOnlyRootFilesystem") is True, f"{where} readOnlyRootFilesystem")
    check(csc.get("allowPrivilegeEscalation") is False, f"{where} allowPrivilegeEscalation")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{where} capabilities drop ALL")
    check(pod.get("automountServiceAccountToken") is False, f"{where} automountServiceAccountToken")
    check(
        pod.get("enableServiceLinks") is False,
        f"{where} enableServiceLinks: ALTUR_GATEWAY_SERVICE_* variables share the config prefix",
    )

    # Service, PDB and NetworkPolicy select these pods and agree on ports.
    svc = objects[("Service", NAME)]
    check(svc["spec"]["selector"] == spec["selector"]["matchLabels"], f"{where} Service selector")
    check(
        [(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]] == [(80, "http")],
        f"{where} Service must map 80 -> http",
    )
    check(selects(spec["selector"], pod_labels), f"{where} Deployment selector does not match its pods")
    pdb = objects[("PodDisruptionBudget", NAME)]
    check(selects(pdb["spec"]["selector"], pod_labels), f"{where} PDB selector")
    check(pdb["spec"].get("minAvailable") == 1, f"{where} PDB minAvailable 1")
    check(replicas > pdb["spec"].get("minAvailable", 0), f"{where} PDB would block every drain")
    netpol = objects[("NetworkPolicy", NAME)]
    check(selects(netpol["spec"]["podSelector"], pod_labels), f"{where} NetworkPolicy podSelector")
    ingress_ports = {p["port"] for r in netpol["spec"]["ingress"] for p in r.get("ports", [])}
    check(ingress_ports == {listen_port}, f"{where} NetworkPolicy ingress ports {ingress_ports}")
    egress_ports = {p["port"] for r in netpol["spec"]["egress"] for p in r.get("ports", [])}
    wanted = {53, 443} | ({6379} if backend == "redis" else set())
    check(egress_ports == wanted, f"{where} NetworkPolicy egress ports {egress_ports}, want {wanted}")

    if backend == "redis":
        for key in ("rate_limit.redis_url", "cache.redis_url"):
            url = str(config.get(key, ""))
            host = re.sub(r"^redis://([^:/]+).*", r"\1", url)
            check(("Service", host) in objects, f"{where} {key} {url!r}: no Service {host!r}")
        redis = objects.get(("Deployment", f"{NAME}-redis"))
        check(redis is not None and redis["spec"]["replicas"] == 1, f"{where} one Redis replica")
        if redis:
            check(
                not selects(spec["selector"], redis["spec"]["template"]["metadata"]["labels"]),
                f"{where} the gateway's selector also matches Redis pods",
            )


SERVICE_MONITOR_SPEC = {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels", "sampleLimit"}
ENDPOINT_KEYS = {"port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels", "relabelings", "metricRelabelings"}


def seconds(duration: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    check(m is not None, f"[monitoring] duration {duration!r} is not like 15s")
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)] if m else 0


def check_monitoring(objects: dict) -> None:
    """The ServiceMonitor scrapes /metrics on a port of the gateway's Service."""
    sm = objects.get(("ServiceMonitor", NAME))
    check(sm is not None, "[monitoring] no ServiceMonitor altur-gateway")
    if sm is None:
        return
    check(sm.get("apiVersion") == "monitoring.coreos.com/v1", "[monitoring] apiVersion monitoring.coreos.com/v1")
    spec = sm["spec"]
    check(set(spec) <= SERVICE_MONITOR_SPEC, f"[monitoring] unknown ServiceMonitor fields {set(spec) - SERVICE_MONITOR_SPEC}")
    svc = objects[("Service", NAME)]
    check(selects(spec["selector"], svc["metadata"]["labels"]), "[monitoring] the selector does not match the gateway's Service")
    for other, obj in objects.items():
        if other[0] == "Service" and other != ("Service", NAME):
            check(not selects(spec["selector"], obj["metadata"].get("labels", {})), f"[monitoring] also selects {other}")
    ports = {p.get("name") for p in svc["spec"]["ports"]}
    check(bool(spec.get("endpoints")), "[monitoring] no endpoints")
    for ep in spec.get("endpoints", []):
        check(set(ep) <= ENDPOINT_KEYS, f"[monitoring] unknown endpoint fields {set(ep) - ENDPOINT_KEYS}")
        check(ep.get("port") in ports, f"[monitoring] endpoint port {ep.get('port')!r} is not a Service port {ports}")
        check(ep.get("path", "/metrics") == "/metrics", "[monitoring] path must be /metrics")
        check(ep.get("scheme", "http") == "http", "[monitoring] the gateway serves plain HTTP")
        interval, timeout = seconds(ep.get("interval", "30s")), seconds(ep.get("scrapeTimeout", "10s"))
        check(timeout < interval, f"[monitoring] scrapeTimeout {timeout}s must be below interval {interval}s")


def dockerignore_included(patterns: list[str], path: str) -> bool:
    """Whether `path` reaches the build context (Docker's rules: last matching
    pattern wins, `!` re-includes, a pattern also matches every path below a
    directory it matches)."""

    def regex(pattern: str) -> re.Pattern[str]:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out)

    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    included = True
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = os.path.normpath(raw.lstrip("!").strip().lstrip("/"))
        if any(regex(pattern).fullmatch(p) for p in prefixes):
            included = negate
    return included


def check_docker(root: Path) -> None:
    dockerfile = (root / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    patterns = [
        line.strip()
        for line in (root / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = re.findall(r"(?m)^FROM\s+(\S+)", dockerfile)
    check(froms[:1] == ["rust:1.95-slim-bookworm"], f"[docker] build stage is {froms[:1]}")
    check(froms[-1:] == ["gcr.io/distroless/cc-debian12:nonroot"], f"[docker] runtime stage is {froms[-1:]}")
    for line in re.findall(r"(?m)^COPY\s+(?!--from)(.+)$", dockerfile):
        *sources, _dest = line.split()
        for source in sources:
            path = root / source
            check(path.exists(), f"[docker] COPY {source}: not in the repository")
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            for f in files:
                rel = f.relative_to(root).as_posix()
                if f.suffix in (".key", ".orig", ".rej") or f.name.endswith("~") or f.name == ".env":
                    continue
                check(dockerignore_included(patterns, rel), f"[docker] COPY {source}: {rel} is excluded by .dockerignore")
    for never in ("target/release/altur-gateway", ".git/config", "docs/benchmarks.md", ".env", "deploy/Dockerfile"):
        check(not dockerignore_included(patterns, never), f"[docker] {never} would be in the build context")
    check(re.search(r"(?m)^USER\s+65532", dockerfile) is not None, "[docker] not USER 65532")
    check(
        re.search(r"(?im)^(ENV|ARG)\s+\S*(KEY|SECRET|TOKEN|PASSWORD)", dockerfile) is None,
        "[docker] a secret-looking ENV/ARG",
    )


def check_systemd(root: Path) -> None:
    unit = (root / "deploy" / "systemd" / "altur-gateway.service").read_text(encoding="utf-8")
    lines = {line.strip() for line in unit.splitlines() if line.strip() and not line.startswith("#")}
    for wanted in (
        "ExecStart=/usr/local/bin/altur-gateway --config /etc/altur-gateway/config.toml",
        # SIGHUP re-reads the watched files; `systemctl reload` must send it.
        "ExecReload=/bin/kill -HUP $MAINPID",
        "LoadCredential=api-key:/etc/altur-gateway/api-key",
        "Environment=ALTUR_GATEWAY__UPSTREAM__API_KEY_FILE=%d/api-key",
        "DynamicUser=yes",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "KillSignal=SIGTERM",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=",
    ):
        check(wanted in lines, f"[systemd] missing {wanted!r}")
    stop = re.search(r"(?m)^TimeoutStopSec=(\d+)s?$", unit)
    check(stop is not None and int(stop.group(1)) > DRAIN_SECONDS, f"[systemd] TimeoutStopSec must exceed the {DRAIN_SECONDS} s drain")
    check(not re.search(r"(?m)^Environment=ALTUR_API_KEY", unit), "[systemd] the key belongs in LoadCredential")


def main() -> int:
    root, base, redis, monitoring = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    default_toml = root / "config" / "default.toml"
    if not default_toml.is_file():
        print(f"check_policy: {default_toml} is missing (the image copies it)", file=sys.stderr)
        return 1
    doc_keys = documented_keys(default_toml)
    check_fleet(load(base), "base", doc_keys)
    check_fleet(load(redis), "redis", doc_keys)
    check_fleet(load(monitoring), "monitoring", doc_keys)
    check_monitoring(load(monitoring))
    check_docker(root)
    check_systemd(root)
    for e in errors:
        print(f"check_policy: {e}", file=sys.stderr)
    if not errors:
        print("check_policy: all cross-file rules hold")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
