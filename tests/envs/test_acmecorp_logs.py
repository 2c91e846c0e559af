import json

import numpy as np
import pytest

from envs import seeding
from envs.acmecorp import logs, metrics
from envs.acmecorp.topology import generate_incident, generate_topology


def _parts(seed: int, **opts):
    topo = generate_topology(seeding.rng(seed, "topology"))
    inc = generate_incident(seeding.rng(seed, "incident"), topo)
    series = metrics.generate_series(seeding.rng(seed, "metrics"), topo, inc)
    act = {s: v.requests.astype(float) for s, v in series.items()}
    share = {s: np.clip(0.06 + 2.0 * v.errors / np.maximum(v.requests, 1), 0, 0.8) for s, v in series.items()}
    files = logs.generate_logs(seeding.rng(seed, "logs"), topo, inc, act, share, logs.LogOptions(**opts))
    return topo, inc, files


def _parse(files):
    return logs.parse_log_files([(p, files[p]) for p in logs.rotated_paths(list(files))])


def test_parser_rules_on_handwritten_lines():
    text = "\n".join(
        [
            '[ACME:ERROR:payments:1710000000] request failed: E-X boom \\| retry scheduled | ctx={"error_code":"E-X"}',
            "  Traceback (most recent call last):",
            "  ValueError: boom",
            '[ACME:WARNING:payments:1710000001] wrong severity | ctx={"a":1}',
            "  continuation of a malformed line",
            '[ACME:INFO:auth:1710000002] truncated | ctx={"a":',
            '[ACME:INFO:auth:1710000003] José paid 5 € | ctx={"customer":"José"}',
            "garbage line",
        ]
    )
    parsed = logs.parse_text(text, "f")
    assert parsed.malformed == 3
    assert [e.ts for e in parsed.entries] == [1710000000, 1710000003]
    first = parsed.entries[0]
    assert first.message == "request failed: E-X boom | retry scheduled"
    assert first.stack == ("  Traceback (most recent call last):", "  ValueError: boom")
    assert first.line == 1 and parsed.entries[1].line == 7
    assert parsed.entries[1].ctx == {"customer": "José"}


def test_round_trip_recovers_every_well_formed_entry():
    _, _, files = _parts(7, malformed_rate=0.0)
    parsed = _parse(files)
    assert parsed.malformed == 0
    rendered = "\n".join(logs.render_entry(e) for e in parsed.entries) + "\n"
    assert rendered == "".join(files[p] for p in logs.rotated_paths(list(files)))


def test_generated_logs_have_the_promised_defects_and_consistency():
    topo, inc, files = _parts(11)
    assert set(files) == {"logs/acme.log", *(f"logs/acme.log.{i}" for i in range(1, len(files)))}
    parsed = _parse(files)
    assert 10_000 < len(parsed.entries) < 14_000
    assert parsed.malformed > 0
    assert any(e.stack for e in parsed.entries)
    assert any(" | " in e.message for e in parsed.entries)
    assert any(any(ord(c) > 127 for c in json.dumps(e.ctx, ensure_ascii=False)) for e in parsed.entries)
    ts = [e.ts for e in parsed.entries]
    assert ts == sorted(ts) and topo.t0 <= ts[0] and ts[-1] < topo.now
    for e in parsed.entries:
        assert e.ctx.get("host", e.service + "-").startswith(e.service + "-")
        if "amount" in e.ctx:
            assert f"{e.ctx['amount']:.2f} {e.ctx['currency']}" in e.message
    # The incident leaves its error code in the root cause's logs, only while it is active.
    codes = [e for e in parsed.entries if e.ctx.get("error_code") == inc.error_code]
    assert len(codes) >= 5 and all(e.service == inc.service and inc.active(e.ts) for e in codes)


def test_log_options_are_validated():
    with pytest.raises(ValueError, match="log_lines"):
        logs.LogOptions.from_options({"log_lines": 5})
    with pytest.raises(ValueError, match="log_malformed_rate"):
        logs.LogOptions.from_options({"log_malformed_rate": 0.9})
    big = logs.LogOptions.from_options({"log_lines": 40_000, "log_lines_per_file": 10_000})
    assert big.lines == 40_000
