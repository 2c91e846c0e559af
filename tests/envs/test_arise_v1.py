"""Protocol arise_v1 (the ARISE paper's AcmeCorp task set): world, tools, checks, oracle, blob, env."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from collections import Counter
from typing import Any

import gymnasium
import numpy as np
import pytest

import envs  # registers the Gymnasium ids
from envs import toolkit
from envs.access import WorldAccess
from envs.acmecorp.arise_v1 import (
    CONSTANT_BLOB,
    PAPER_TOOLS,
    AcmePaperCheck,
    arise_v1_suite,
    build_arise_v1_world,
    count_acme_errors,
    diff_acmeconf,
    fetch_acme_metrics,
    filter_acme_logs,
    parse_acme_log,
    parse_acmeconf,
    validate_acmeconf,
)
from envs.acmecorp.arise_v1.analyses import argmax, count_entries, error_counts, fatal_services
from envs.acmecorp.arise_v1.log_context import (
    DURATION_MS,
    ERROR_CODES,
    FATAL_CODES,
    HOSTS,
    REGIONS,
    log_context,
)
from envs.acmecorp.arise_v1.prompts import shown_logs
from envs.acmecorp.arise_v1.world import (
    LOG_LINE_RE,
    METRICS_URL,
    SERVICES,
    SEVERITIES,
    SEVERITY_WEIGHTS,
    T_END,
    T_START,
    V1Data,
    generate_logs,
    parse_log_text,
)
from envs.grading import grade_answer
from envs.oracle import run_oracle
from envs.tasks import Suite, TaskInstance, get_suite
from envs.tools import InProcessRunner, tool_spec
from envs.world import World

SEEDS = (42, 123, 456)


@pytest.fixture(scope="module")
def suite() -> Suite:
    return get_suite("acmecorp", "arise_v1")


@pytest.fixture(scope="module")
def world(suite: Suite) -> World:
    return suite.get_world(42)


def instances(suite: Suite, seed: int) -> list[TaskInstance]:
    # One instance per family in the paper's order (Suite.instances is not used: see report).
    return [suite.instance(seed, "test", f.name) for f in suite.families]


def get(world: World, path: str) -> tuple[int, dict[str, str], str]:
    resp = world.http.request("GET", f"{METRICS_URL}{path}")
    return resp.status_code, dict(resp.headers), resp.text


# =================================================================================
# World
# =================================================================================
def test_world_is_deterministic_and_seed_dependent() -> None:
    a, b = build_arise_v1_world(42, {}), build_arise_v1_world(42, {})
    assert a.world_hash() == b.world_hash()
    assert a.files == b.files and a.api_fingerprint == b.api_fingerprint
    hashes = {build_arise_v1_world(s, {}).world_hash() for s in (42, 123, 456, 7)}
    assert len(hashes) == 4
    assert (a.name, a.protocol, a.now) == ("acmecorp", "arise_v1", T_END)


def test_world_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="no options"):
        build_arise_v1_world(42, {"log_lines": 5000})
    with pytest.raises(ValueError, match="non-negative"):
        build_arise_v1_world(-1, {})


def test_log_file_facts(world: World) -> None:
    lines = world.files["logs/acme.log"].splitlines()
    assert len(lines) == 500
    ts = []
    for line in lines:
        m = LOG_LINE_RE.match(line)
        assert m, line
        assert m["severity"] in SEVERITIES and m["service"] in SERVICES
        ts.append(int(m["ts"]))
        ctx = json.loads(m["ctx"])
        assert json.dumps(ctx, separators=(",", ":")) == m["ctx"], "ctx must be compact JSON"
        severity, service = m["severity"], m["service"]
        # the reference's ctx layout (benchmarks/acmecorp/logs.py, _make_ctx): host and region first, always
        assert list(ctx)[:2] == ["host", "region"] and ctx["host"] in HOSTS and ctx["region"] in REGIONS
        assert ("request_id" in ctx) == (severity in ("INFO", "WARN", "ERROR"))
        if "request_id" in ctx:
            assert re.fullmatch(r"[0-9a-f]{12}", ctx["request_id"])
        codes = {"ERROR": ERROR_CODES, "FATAL": FATAL_CODES}.get(severity, ())
        assert ctx.get("error_code") in (codes or (None,))
        assert ("user_id" in ctx) == (severity == "INFO" and service == "auth")
        assert ("amount" in ctx) == (severity == "INFO" and service == "payments")
        if "amount" in ctx:  # payments INFO carries both amount and duration_ms
            assert 1 <= ctx["amount"] <= 9999.99 and ctx["amount"] == round(ctx["amount"], 2)
            assert ctx["currency"] in ("USD", "EUR", "GBP") and "duration_ms" in ctx
        assert ("duration_ms" in ctx) == (severity in DURATION_MS)
        if "duration_ms" in ctx:
            lo, hi = DURATION_MS[severity]
            assert lo <= ctx["duration_ms"] <= hi
    assert ts == sorted(ts)
    assert min(ts) >= T_START and max(ts) <= T_END
    assert {LOG_LINE_RE.match(x)["service"] for x in lines} == set(SERVICES)  # type: ignore[index]


def test_log_distribution_matches_the_paper() -> None:
    lines = generate_logs(7, n_lines=20_000)
    entries = parse_log_text("\n".join(lines))
    sev = Counter(e["severity"] for e in entries)
    for name, weight in zip(SEVERITIES, SEVERITY_WEIGHTS, strict=True):
        assert abs(sev[name] / 20_000 - weight / 100) < 0.015, (name, sev[name])
    svc = Counter(e["service"] for e in entries)
    assert all(abs(svc[s] / 20_000 - 1 / 6) < 0.015 for s in SERVICES)
    ts = [e["timestamp"] for e in entries]
    assert ts == sorted(ts) and ts[0] >= T_START and ts[-1] <= T_END
    # uniform over the day: each quarter holds about a quarter of the lines
    quarters = Counter((t - T_START) * 4 // (T_END - T_START + 1) for t in ts)
    assert all(abs(quarters[q] / 20_000 - 0.25) < 0.02 for q in range(4))
    # ERROR entries never carry a user_id (log task 7 is always empty in the paper)
    assert not any("user_id" in e["ctx"] for e in entries if e["severity"] == "ERROR")


def test_log_context_matches_the_reference_distribution() -> None:
    """ctx as the reference generates it; figures measured on its generate_logs over seeds 0-49 (25,000 lines,
    docs/arise_v1.md): host/region 100%, user_id 7.46%, amount 7.44% (max 9,998.04, mean 5,036), amount and
    duration_ms together 7.44%, duration_ms 68.3%, log task 14's truth 143.5 per 500 lines."""
    entries = parse_log_text("\n".join(generate_logs(7, n_lines=20_000)))
    n = len(entries)

    def share(pred: Any) -> float:
        return sum(1 for e in entries if pred(e["ctx"])) / n

    assert share(lambda c: "host" in c and "region" in c) == 1.0
    assert abs(share(lambda c: "user_id" in c) - 0.45 / 6) < 0.006
    assert abs(share(lambda c: "amount" in c and "duration_ms" in c) - 0.45 / 6) < 0.006
    assert abs(share(lambda c: "duration_ms" in c) - (0.45 + 0.14 + 0.09)) < 0.015
    amounts = [e["ctx"]["amount"] for e in entries if "amount" in e["ctx"]]
    assert max(amounts) > 9_900 and abs(sum(a > 500 for a in amounts) / len(amounts) - 0.95) < 0.02
    # log task 14 (amount > 500 or duration_ms > 1000): ~28.3% of lines, 141.5 per 500 expected
    hits = share(lambda c: c.get("amount", 0) > 500 or c.get("duration_ms", 0) > 1000)
    assert abs(hits - 0.283) < 0.012, hits
    assert not any(c.get("amount", 0) > 500 and c.get("duration_ms", 0) > 1000 for c in (e["ctx"] for e in entries))
    with pytest.raises(ValueError, match="unknown severity 'TRACE'"):
        log_context(np.random.default_rng(0), "TRACE", "auth")


def test_metrics_api(world: World) -> None:
    status, headers, body = get(world, "/services")
    assert status == 200 and json.loads(body) == list(SERVICES)
    for service in SERVICES:
        status, headers, body = get(world, f"/metrics/{service}?window=1h")
        assert status == 200
        assert headers["x-acme-encoding"] == "acme-metrics-v1"
        assert headers["x-acme-service"] == service
        assert headers["content-type"].startswith("text/plain")
        raw = base64.b64decode(body, validate=True).decode()
        magic, svc, ts, payload = raw.split("|", 3)
        assert (magic, svc, int(ts)) == ("ACME_METRICS", service, world.now)
        assert payload == json.dumps(json.loads(payload), separators=(",", ":"))
        m = json.loads(payload)
        assert list(m) == [
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "error_rate",
            "request_count",
            "cpu_pct",
            "memory_pct",
        ]
        assert 5 <= m["latency_p50"] <= 200
        assert 1.5 - 1e-3 <= m["latency_p95"] / m["latency_p50"] <= 4 + 1e-3
        assert 1.1 - 1e-3 <= m["latency_p99"] / m["latency_p95"] <= 2.5 + 1e-3
        for key, dp in (("latency_p50", 3), ("latency_p95", 3), ("latency_p99", 3), ("error_rate", 6)):
            assert m[key] == round(m[key], dp)
        assert 0 <= m["error_rate"] <= 1
        assert isinstance(m["request_count"], int) and 100 <= m["request_count"] <= 1_000_000
        for key in ("cpu_pct", "memory_pct"):
            assert 0 <= m[key] <= 100 and m[key] == round(m[key], 2)
    status, headers, body = get(world, "/metrics/billing")
    assert status == 404 and headers["content-type"] == "application/json"
    assert "billing" in json.loads(body)["error"] and json.loads(body)["services"] == list(SERVICES)
    assert world.http.request("POST", f"{METRICS_URL}/metrics/payments").status_code == 404


def test_metrics_api_over_loopback() -> None:
    w = build_arise_v1_world(42, {})
    try:
        base = w.http.serve("metrics.acme.internal")
        with urllib.request.urlopen(f"{base}/metrics/auth", timeout=5) as resp:
            body = resp.read().decode()
            assert resp.headers["X-Acme-Service"] == "auth"
        assert body == get(w, "/metrics/auth")[2]
    finally:
        w.http.close()


def test_acmeconf_files() -> None:
    seen_payments = False
    for seed in range(12):
        w = build_arise_v1_world(seed, {})
        picked = w.facts["config_services"]
        assert 3 <= len(picked) <= 4 and len(set(picked)) == len(picked)
        assert w.facts["config_order"] == ["base.acme", *(f"{s}.acme" for s in picked)]
        base = w.files["config/base.acme"]
        assert "@include" not in base and "defaults {" in base
        for svc in picked:
            text = w.files[f"config/{svc}.acme"]
            assert '@include "base.acme"' in text and f"service {svc} {{" in text
            rep = re.search(r"replicas = (\S+)", text)[1]  # type: ignore[index]
            if svc == "payments":
                seen_payments = True
                assert re.fullmatch(r"\$\{PAYMENTS_REPLICAS:-[235]\}", rep)
            else:
                assert rep in ("2", "3", "5")
            assert re.search(r"timeout = (15s|30s|1m|2m)\n", text)
            assert f"deps = [{', '.join(s for s in picked if s != svc)}]" in text
            assert 'health_check = "/healthz"' in text
        first = picked[0]
        v2 = w.files[f"config/v2/{first}.acme"]
        if first == "payments":
            assert v2 == w.files["config/payments.acme"]  # the paper's replace misses ${...}
        else:
            assert v2 != w.files[f"config/{first}.acme"] and re.search(r"replicas = [468]\n", v2)
    assert seen_payments


def test_world_metadata(world: World) -> None:
    assert set(SERVICES) <= set(world.entities)
    assert {"logging", "metrics-api", "acmeconf"} <= set(world.docs)
    assert b"latency_p99" in world.api_fingerprint


# =================================================================================
# Tools
# =================================================================================
SAMPLE_LOG = "\n".join(
    [
        '[ACME:INFO:payments:1710000001] Refund issued | ctx={"request_id":"req-1","amount":600.5}',
        "not a log line",
        '[ACME:ERROR:gateway:1710000002] Upstream timeout | ctx={"request_id":"req-2","duration_ms":1500}',
        '[ACME:FATAL:payments:1710000003] Disk full | ctx={"request_id":"req-3"}',
        '[ACME:ERROR:payments:1710000004] Card tokenization failed | ctx={"request_id":"req-4"}',
        "",
    ]
)

CONF_A = """# test
@include "base.acme"

service payments {
  replicas = ${PAYMENTS_REPLICAS:-3}
  timeout = 2m
  deps = [gateway, auth]
  health_check = "/healthz"
  canary = true
}
"""


def test_parse_acme_log() -> None:
    entries = parse_acme_log(SAMPLE_LOG)
    assert len(entries) == 4
    assert entries[0] == {
        "severity": "INFO",
        "service": "payments",
        "timestamp": 1710000001,
        "message": "Refund issued",
        "ctx": {"request_id": "req-1", "amount": 600.5},
    }
    assert [e["severity"] for e in entries] == ["INFO", "ERROR", "FATAL", "ERROR"]
    with pytest.raises(ValueError, match="no ACME log entries"):
        parse_acme_log("hello\nworld")
    assert parse_acme_log("") == []


def test_filter_and_count() -> None:
    assert filter_acme_logs(SAMPLE_LOG, service="payments", severity="error").count("\n") == 0
    assert "Card tokenization" in filter_acme_logs(SAMPLE_LOG, service="payments", severity="ERROR")
    assert len(filter_acme_logs(SAMPLE_LOG, service="payments").splitlines()) == 3
    assert len(filter_acme_logs(SAMPLE_LOG).splitlines()) == 4
    assert filter_acme_logs(SAMPLE_LOG, service="auth") == ""
    with pytest.raises(ValueError, match="DEBUG, INFO, WARN, ERROR, FATAL"):
        filter_acme_logs(SAMPLE_LOG, severity="WARNING")
    counts = count_acme_errors(SAMPLE_LOG)
    assert counts == {"gateway": 1, "payments": 2} and list(counts) == ["gateway", "payments"]


def test_fetch_acme_metrics(world: World) -> None:
    with toolkit.bound(WorldAccess(world)):
        out = fetch_acme_metrics(f"{METRICS_URL}/metrics/gateway")
        assert out["service"] == "gateway" and out["timestamp"] == world.now
        assert out["data"] == V1Data.load(WorldAccess(world)).metrics["gateway"]
        with pytest.raises(ValueError, match="HTTP 404"):
            fetch_acme_metrics(f"{METRICS_URL}/metrics/nope")
        with pytest.raises(ValueError, match="is not base64 text"):
            fetch_acme_metrics(f"{METRICS_URL}/services")
    with pytest.raises(toolkit.NoWorldBound):
        fetch_acme_metrics(f"{METRICS_URL}/metrics/gateway")


def test_acmeconf_tools() -> None:
    parsed = parse_acmeconf(CONF_A)
    assert parsed == {
        "includes": ["base.acme"],
        "services": {
            "payments": {
                "replicas": "${PAYMENTS_REPLICAS:-3}",
                "timeout": 120,
                "deps": ["gateway", "auth"],
                "health_check": "/healthz",
                "canary": True,
            }
        },
    }
    base = parse_acmeconf('defaults {\n  timeout = 1h\n  log_level = "info"\n}\n')
    assert base["services"] == {"defaults": {"timeout": 3600, "log_level": "info"}}
    with pytest.raises(ValueError, match="not closed"):
        parse_acmeconf("service a {\n  replicas = 2\n")
    with pytest.raises(ValueError, match="line 1: field outside a block"):
        parse_acmeconf("replicas = 2\n")
    assert validate_acmeconf(CONF_A) == []
    broken = CONF_A.replace("  timeout = 2m\n", "")
    assert validate_acmeconf(broken) == [
        {"service": "payments", "field": "timeout", "issue": "missing required field 'timeout'"}
    ]
    assert validate_acmeconf("defaults {\n}\n") == []  # the defaults block is not checked
    b = CONF_A.replace("timeout = 2m", "timeout = 30s").replace("  canary = true\n", "")
    assert diff_acmeconf(CONF_A, b) == [
        {"service": "payments", "field": "timeout", "old": 120, "new": 30},
        {"service": "payments", "field": "canary", "old": True, "new": None},
    ]
    assert diff_acmeconf(CONF_A, CONF_A) == []


def test_tool_specs_and_runner(world: World) -> None:
    names = [f.__name__ for f in PAPER_TOOLS]
    assert names == [
        "parse_acme_log",
        "filter_acme_logs",
        "count_acme_errors",
        "fetch_acme_metrics",
        "parse_acmeconf",
        "validate_acmeconf",
        "diff_acmeconf",
    ]
    for fn in PAPER_TOOLS:
        spec = tool_spec(fn)
        assert spec.description and all(p.get("description") for p in spec.parameters["properties"].values())
    assert tool_spec(filter_acme_logs).parameters["required"] == ["log_text"]
    runner = InProcessRunner.of(PAPER_TOOLS)
    access = WorldAccess(world)
    ok = runner.call("count_acme_errors", {"log_text": SAMPLE_LOG}, access)
    assert ok.ok and json.loads(ok.output) == {"gateway": 1, "payments": 2}
    bad = runner.call("fetch_acme_metrics", {"url": f"{METRICS_URL}/metrics/nope"}, access)
    assert not bad.ok and bad.error and "HTTP 404" in bad.error


# =================================================================================
# Tasks and checks
# =================================================================================
def test_sixty_tasks_in_the_paper_order(suite: Suite) -> None:
    assert (suite.world, suite.protocol, suite.affordances) == ("acmecorp", "arise_v1", ("http_get",))
    names = [f.name for f in suite.families]
    assert names == [f"v1.{p}.{n:02d}" for p in ("logs", "metrics", "config", "incidents") for n in range(1, 16)]
    assert suite.phases() == ("logs", "metrics", "config", "incidents")
    for f in suite.families:
        n = int(f.name[-2:])
        assert f.difficulty == ("easy", "medium", "hard")[(n - 1) // 5]
    assert suite.reference_tools() == PAPER_TOOLS
    assert arise_v1_suite().families[0].name == "v1.logs.01"


def test_prompts_carry_the_inline_data(suite: Suite, world: World) -> None:
    by_name = {i.family: i for i in instances(suite, 42)}
    n_lines = {k: len(re.findall(r"^\[ACME:", i.prompt, re.M)) for k, i in by_name.items()}
    for n in range(1, 6):
        assert n_lines[f"v1.logs.{n:02d}"] == 100  # shown: the first 100 ...
    assert by_name["v1.logs.04"].truth == 500  # ... graded: all 500
    for n in range(6, 16):
        assert n_lines[f"v1.logs.{n:02d}"] == 500
    for n in (1, 4, 6, 7, 9, 11, 12, 13, 14, 15):
        assert n_lines[f"v1.incidents.{n:02d}"] == 500
    for n in range(1, 16):
        p = by_name[f"v1.metrics.{n:02d}"].prompt
        assert METRICS_URL in p and (n == 1 or "ACME_METRICS|service|timestamp|json" in p)
    for n in range(3, 16):
        if n in (4, 5, 10, 11):
            continue
        assert all(
            f"Config file ({name})" in by_name[f"v1.config.{n:02d}"].prompt for name in world.facts["config_order"]
        )
    for inst in by_name.values():
        assert "schema" not in inst.prompt.lower() and "Grading:" not in inst.prompt
        assert inst.answer_schema == {"type": "string", "description": "free text"}
        json.dumps(inst.to_json())  # truths are JSON-serialisable


# Prompt texts of the reference harness, github.com/abekek/arise at 54de0da2e7ec6896469ce454520deba0e8e85a61:
# benchmarks/tasks/phase2_metrics.py (metrics-03), phase3_config.py (config-02) and phase4_incident.py
# (incident-03, -06, -10). Only the metrics base URL is ours (a virtual host, not localhost:<port>).
REF_METRICS_HINT_PHASE2 = (
    "The API returns base64-encoded data. Decode the base64 string to get the format: "
    "ACME_METRICS|service|timestamp|json. Parse the JSON portion to get metrics."
)
REF_METRICS_HINT_PHASE4 = (
    "The metrics API returns base64-encoded data. Decode the base64 string to get format: "
    "ACME_METRICS|service|timestamp|json. Parse the JSON for metrics."
)
REF_LOG_HINT = "The format is [ACME:severity:service:unix_timestamp] message | ctx={json}."


def test_prompts_match_the_reference_harness_verbatim(suite: Suite, world: World) -> None:
    assert world.facts["config_services"] == ["gateway", "auth", "worker"]  # seed 42's pick, pinned below
    prompt = {i.family: i.prompt for i in instances(suite, 42)}
    log = "\n".join(ln for ln in world.files["logs/acme.log"].splitlines() if ln)
    assert prompt["v1.metrics.03"] == (
        "Fetch metrics for the 'gateway' service from http://metrics.acme.internal/metrics/gateway. "
        f"{REF_METRICS_HINT_PHASE2} Return the error_rate value."
    )
    assert prompt["v1.config.02"] == (
        "Parse the following AcmeConf config and return the timeout value (in seconds) for the 'auth' service.\n\n"
        f"Config file (auth.acme):\n```\n{world.files['config/auth.acme']}```\n\n"
        "Note: Durations like '30s' = 30, '5m' = 300, '1h' = 3600."
    )
    assert prompt["v1.incidents.03"] == (
        "INCIDENT: Someone changed the auth config. Parse the following config and tell me the current replicas "
        f"count.\n\nConfig (auth.acme):\n```\n{world.files['config/auth.acme']}```\n\n"
        "Note: If replicas uses a variable like ${VAR:-N}, return the default value N."
    )
    assert prompt["v1.incidents.06"] == (
        "INCIDENT: Payments has errors. Check BOTH the logs below for ERROR/FATAL entries for 'payments', and the "
        f"metrics API at http://metrics.acme.internal/metrics/payments. {REF_METRICS_HINT_PHASE4}\n\n"
        f"Logs ({REF_LOG_HINT}):\n{log}\n\n"
        "Are errors reflected in both the logs and the metrics? Report the error count from logs and the "
        "error_rate from metrics."
    )
    # database is not configured at seed 42: the reference's fallback pastes every file in one fence
    files = "\n".join(
        f"{n}:\n{world.files['config/' + n]}" for n in ("base.acme", "gateway.acme", "auth.acme", "worker.acme")
    )
    assert prompt["v1.incidents.10"] == (
        "INCIDENT: Check if the database service dependencies in the config are all healthy in metrics. \n\n"
        f"The database service config is:\n```\n{files}```\n\n"
        "For each dependency, check its metrics at http://metrics.acme.internal/metrics/{service}. "
        f"{REF_METRICS_HINT_PHASE4} Report whether each dependency is healthy (error_rate < 0.05)."
    )
    # no prompt names a file: under arise_v1 the agent has http_get only
    assert not any("logs/acme.log" in p or "config/" in p for p in prompt.values())


def test_flawed_checks_pass_on_the_flawed_inputs(suite: Suite) -> None:
    for seed in SEEDS:
        by_name = {i.family: i for i in instances(suite, seed)}
        # log 7: the expected user_id list is always empty, so anything passes
        assert by_name["v1.logs.07"].truth == [] and by_name["v1.logs.07"].grade("").success
        # config 12: deps are all-to-all, so a cycle always exists and the check is always true
        assert by_name["v1.config.12"].truth and by_name["v1.config.12"].grade("").success
        # config 6: nothing is missing, and all() over an empty list passes any answer
        assert by_name["v1.config.06"].truth == [] and by_name["v1.config.06"].grade("xyz").success
        # config 13: nothing is wrong; 'valid'/'all '/'no ' passes
        assert by_name["v1.config.13"].grade("valid").success and not by_name["v1.config.13"].grade("x").success
        # config 11: only 'replicas' is checked
        assert by_name["v1.config.11"].grade("REPLICAS?").success
        # metrics 8: either name passes, whichever is higher
        assert by_name["v1.metrics.08"].grade("gateway").success and by_name["v1.metrics.08"].grade("payments").success
        # incidents 9: either winner passes; 10: any of three words; 11: payments + error/cause
        inc9 = by_name["v1.incidents.09"]
        assert inc9.grade(inc9.truth["worst_by_metrics"]).success and inc9.grade(inc9.truth["worst_by_logs"]).success
        assert by_name["v1.incidents.10"].grade("rate").success
        assert by_name["v1.incidents.11"].grade("Payments ERROR").success
        assert not by_name["v1.incidents.11"].grade("payments is fine").success
        # incidents 14: any three service names
        assert by_name["v1.incidents.14"].grade("payments gateway worker").success
    # vacuous passes on an empty expectation, as in the paper's all()
    assert AcmePaperCheck("none_or_all_present").compare("payments", [])[0]
    assert AcmePaperCheck("all_present").compare("", [])[0]
    assert AcmePaperCheck("any_group").compare("", {})[0]


def test_checks_reject_wrong_answers() -> None:
    assert not AcmePaperCheck("contains").compare("8", 9)[0] and AcmePaperCheck("contains").compare("about 9", 9)[0]
    assert AcmePaperCheck("contains").compare("690.819 ms", 690.819)[0]
    assert not AcmePaperCheck("contains").compare("690.82", 690.819)[0]
    assert not AcmePaperCheck("contains").compare("anything", None)[0]
    assert AcmePaperCheck("contains_unless_none").compare("anything", None)[0]
    pairs = AcmePaperCheck("pairs")
    assert pairs.compare("payments 3, auth 5", {"payments": 3, "auth": 5})[0]
    assert not pairs.compare("payments 3, auth 4", {"payments": 3, "auth": 5})[0]
    order = AcmePaperCheck("first_before_last")
    assert order.compare("gateway, auth, payments", ["gateway", "auth", "payments"])[0]
    assert not order.compare("payments, auth, gateway", ["gateway", "auth", "payments"])[0]
    assert not order.compare("gateway, auth", ["gateway", "auth", "payments"])[0]
    assert not AcmePaperCheck("none_or_all_present").compare("auth", ["auth", "worker"])[0]
    assert not AcmePaperCheck("total_and_names").compare("1234 auth", {"total_requests": 1234, "attention": ["db"]})[0]
    assert not AcmePaperCheck("affected_two").compare("auth", {"auth": 1, "db": 2})[0]
    assert AcmePaperCheck("affected_two").compare("auth", {"auth": 1})[0]
    assert not AcmePaperCheck("winner_and_three").compare("gateway auth worker", {"worst_by_logs": "payments"})[0]
    assert AcmePaperCheck("winner_and_three").compare("payments auth worker", {"worst_by_logs": "payments"})[0]
    assert "substring" in AcmePaperCheck("contains").describe()
    with pytest.raises(ValueError, match="unknown paper check"):
        AcmePaperCheck("exact")


def test_free_text_grading_path(suite: Suite) -> None:
    inst = suite.instance(42, "test", "v1.logs.01")
    check = inst.comparator
    assert getattr(check, "free_text", False) is True
    # a JSON answer is graded as its JSON text, not parsed
    assert grade_answer({"count": inst.truth}, inst.truth, check).success
    assert not grade_answer({"count": "none"}, inst.truth, check).success
    # substring semantics: any number containing the digits passes (the paper's checks did the same)
    assert grade_answer({"count": 1000 + inst.truth}, inst.truth, check).success


# =================================================================================
# Oracle and the constant blob
# =================================================================================
def _shown_truth(inst: TaskInstance, world: World) -> Any:
    """What tasks 1-5 would expect if they were graded on the 100 lines they show."""
    entries = parse_log_text(shown_logs(world, "sample"))
    return {
        "v1.logs.01": lambda: count_entries(entries, "payments", "ERROR"),
        "v1.logs.02": lambda: count_entries(entries, "gateway", "ERROR"),
        "v1.logs.03": lambda: fatal_services(entries),
        "v1.logs.04": lambda: len(entries),
        "v1.logs.05": lambda: argmax(error_counts(entries)),
    }[inst.family]()


@pytest.mark.parametrize("seed", SEEDS)
def test_oracle_scores(suite: Suite, seed: int) -> None:
    world = suite.get_world(seed)
    failed = []
    for inst in instances(suite, seed):
        answer, calls = run_oracle(suite, inst)
        assert calls, f"{inst.family}: the oracle must use the tools"
        if not inst.grade(answer).success:
            failed.append(inst.family)
        if inst.family in {f"v1.logs.{n:02d}" for n in range(1, 6)}:
            # right about what the prompt shows, whatever the 500-line grader says
            assert inst.comparator.compare(answer, _shown_truth(inst, world))[0], inst.family
    unreachable = {f"v1.logs.{n:02d}" for n in range(1, 6)}
    if world.facts["config_services"][0] == "payments":
        unreachable.add("v1.config.11")  # both versions identical, yet 'replicas' is required
    assert "v1.logs.04" in failed  # 100 shown, 500 expected
    assert set(failed) <= unreachable, f"seed {seed}: oracle failed {sorted(set(failed) - unreachable)}"
    assert ("v1.config.11" in failed) == (world.facts["config_services"][0] == "payments")
    print(f"seed {seed}: oracle {60 - len(failed)}/60, failed {failed}")


@pytest.mark.parametrize("seed", SEEDS)
def test_constant_blob_passes_most_checks(suite: Suite, seed: int) -> None:
    assert "payments" in CONSTANT_BLOB and " 999" in CONSTANT_BLOB and "no " in CONSTANT_BLOB
    results = {i.family: i.grade(CONSTANT_BLOB).success for i in instances(suite, seed)}
    passed = sum(results.values())
    print(f"seed {seed}: constant blob {passed}/60, fails {[k for k, v in results.items() if not v]}")
    assert passed >= 45
    # what it cannot contain: 3-decimal floats and six-digit request counts
    assert not results["v1.metrics.02"] and not results["v1.metrics.10"]


# =================================================================================
# Gymnasium
# =================================================================================
def make_env(**kwargs: Any) -> gymnasium.Env[str, str]:
    # Under pytest's default import mode, the directory tests/envs/ (no __init__.py) can
    # shadow the envs package as a namespace package, so envs/__init__.py (which registers
    # the ids) never runs. Say so instead of failing with NamespaceNotFound.
    assert envs.__file__ is not None, (
        "`import envs` resolved to a namespace package (tests/envs shadows the envs package), so the "
        "Gymnasium ids are not registered; add pythonpath = ['.'] to [tool.pytest.ini_options] or run "
        "`python -m pytest`"
    )
    return gymnasium.make("arise_gym/AcmeCorp-v0", protocol="arise_v1", tools="reference", **kwargs)


def test_gymnasium_episode_as_in_the_brief() -> None:
    env = make_env()
    obs, info = env.reset(seed=42, options={"task": "v1.logs.01"})
    assert obs.startswith("You are an SRE onboarding at AcmeCorp") and "How many ERROR entries" in obs
    assert [t["name"] for t in info["tools"]] == ["http_get", *(f.__name__ for f in PAPER_TOOLS)]
    assert info["task"]["truth"] is None
    truth = env.unwrapped.instance.truth  # type: ignore[attr-defined]
    obs, reward, terminated, truncated, info = env.step(json.dumps({"answer": f"There are {truth}."}))
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)
    env.reset(seed=42, options={"task": "v1.logs.01"})
    assert env.step('{"answer": "none"}')[1] == 0.0
    env.close()


@pytest.mark.parametrize("task", ["v1.logs.06", "v1.metrics.15", "v1.config.08", "v1.incidents.14"])
def test_gymnasium_oracle_episode(task: str) -> None:
    # 500 inline log lines need a larger observation limit than the env default (see docs/arise_v1.md)
    env = make_env(max_observation_chars=400_000)
    obs, _ = env.reset(seed=123, options={"task": task})
    u = env.unwrapped
    inst = u.instance  # type: ignore[attr-defined]
    assert obs.endswith(inst.prompt)
    world = u.suite.get_world(inst.world_seed)  # type: ignore[attr-defined]
    gen = u.suite.family(task).solve(world, inst.params)  # type: ignore[attr-defined]
    steps = 0
    try:
        call = next(gen)
        while True:
            obs, reward, terminated, _, info = env.step(json.dumps({"tool": call.tool, "args": call.args}))
            assert info["kind"] == "tool" and info["ok"], obs
            steps += 1
            call = gen.send(obs)
    except StopIteration as stop:
        answer = stop.value
    obs, reward, terminated, _, info = env.step(json.dumps({"answer": answer}))
    assert terminated and reward == 1.0, (task, answer, info)
    assert steps >= 1
    env.close()
