import base64
import json

import numpy as np

from envs import seeding
from envs.acmecorp import metrics
from envs.acmecorp.topology import generate_incident, generate_topology
from envs.http import WorldHttp

URL = metrics.BASE_URL


def _api(seed=5, **kw):
    topo = generate_topology(seeding.rng(seed, "topology"))
    inc = generate_incident(seeding.rng(seed, "incident"), topo)
    series = metrics.generate_series(seeding.rng(seed, "metrics"), topo, inc)
    http = WorldHttp()
    metrics.MetricsApi(http, topo, series, **kw)
    return http, topo, inc, series


def test_payload_format_headers_and_window_semantics():
    http, topo, _inc, series = _api()
    svc = topo.services[0]
    at = topo.t0 + 600 * 60
    r = http.request("GET", f"{URL}/metrics/{svc}", params={"window": "1h", "at": str(at)})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain"
    assert r.headers["x-acme-encoding"] == "acme-metrics-v1" and r.headers["x-acme-service"] == svc
    raw = base64.b64decode(r.text).decode()
    magic, name, ts, payload = raw.split("|", 3)
    data = json.loads(payload)
    assert (magic, name, int(ts)) == ("ACME_METRICS", svc, at)
    assert sorted(data) == sorted(metrics.METRIC_KEYS)
    s = series[svc]
    lo, hi = 540, 600
    assert data["request_count"] == int(s.requests[lo:hi].sum())
    assert data["error_rate"] == round(int(s.errors[lo:hi].sum()) / int(s.requests[lo:hi].sum()), 6)
    w = s.requests[lo:hi] / s.requests[lo:hi].sum()
    assert data["latency_p99"] == round(float((s.p99[lo:hi] * w).sum()), 2)
    assert data["cpu_pct"] == round(float(s.cpu[lo:hi].mean()), 2)


def test_incident_raises_root_error_rate():
    _http, topo, inc, series = _api(9)
    s = series[inc.service]
    i0 = (inc.start_ts - topo.t0) // 60
    i1 = (inc.end_ts - topo.t0) // 60
    during = s.errors[i0:i1].sum() / s.requests[i0:i1].sum()
    before = s.errors[: i0 - 60].sum() / s.requests[: i0 - 60].sum()
    assert during > before + 0.15


def test_errors_are_clear():
    http, topo, *_ = _api()
    assert http.request("GET", f"{URL}/metrics/nope").status_code == 404
    for params, fragment in [
        ({"window": "7x"}, "not a duration"),
        ({"window": "90s"}, "whole number of minutes"),
        ({"at": str(topo.t0 + 30)}, "minute boundary"),
        ({"at": str(topo.now + 600)}, "must be within"),
    ]:
        r = http.request("GET", f"{URL}/metrics/{topo.services[0]}", params=params)
        assert r.status_code == 400 and fragment in r.json()["error"], (params, r.text)


def test_series_pagination_covers_every_minute_once():
    http, topo, _, series = _api()
    svc = topo.services[1]
    params: dict = {}
    points = []
    while True:
        page = http.request("GET", f"{URL}/metrics/{svc}/series", params=params).json()
        assert len(page["points"]) <= metrics.SERIES_PAGE
        points += page["points"]
        if not page["next_cursor"]:
            break
        params = {"cursor": page["next_cursor"]}
    assert [p["ts"] for p in points] == list(range(topo.t0, topo.now, 60))
    assert [p["request_count"] for p in points] == series[svc].requests.tolist()
    ranged = http.request("GET", f"{URL}/metrics/{svc}/series", params={"from": topo.t0 + 61, "to": topo.t0 + 300})
    assert [p["ts"] for p in ranged.json()["points"]] == [topo.t0 + 120, topo.t0 + 180, topo.t0 + 240]


def test_rate_limit_is_counter_based_and_auth_is_enforced():
    http, _topo, *_ = _api(rate_limit_every=3, token="sekret")
    hdr = {"X-Acme-Token": "sekret"}
    codes = [http.request("GET", f"{URL}/services", headers=hdr).status_code for _ in range(6)]
    assert codes == [200, 200, 429, 200, 200, 429]
    r = http.request("GET", f"{URL}/services", headers=hdr)
    assert r.status_code == 200
    r = http.request("GET", f"{URL}/services")
    assert r.status_code == 401
    http.reset_session()
    r429 = [http.request("GET", f"{URL}/services", headers=hdr) for _ in range(3)][-1]
    assert r429.status_code == 429 and r429.headers["retry-after"] == "1"


def test_series_is_deterministic():
    _, _, _, a = _api(3)
    _, _, _, b = _api(3)
    assert all(np.array_equal(a[s].p99, b[s].p99) for s in a)
    assert metrics.series_fingerprint(a) == metrics.series_fingerprint(b)


def test_world_api_serves_identical_bytes_over_loopback(world42):
    import httpx

    base = world42.http.serve(metrics.HOST)
    topo = world42.facts["topology"]
    svc = topo.services[2]
    try:
        with httpx.Client() as real:
            for path, params in [
                ("/services", {}),
                (f"/metrics/{svc}", {"window": "30m", "at": str(topo.t0 + 3600)}),
                (f"/metrics/{svc}/series", {"from": str(topo.t0), "to": str(topo.t0 + 7200)}),
                ("/metrics/nope", {}),
                (f"/metrics/{svc}", {"window": "7q"}),
            ]:
                a = real.get(base + path, params=params)
                b = world42.http.request("GET", URL + path, params=params)
                assert (a.status_code, a.content) == (b.status_code, b.content), path
                assert a.headers.get("x-acme-encoding") == b.headers.get("x-acme-encoding")
    finally:
        world42.http.close()


def test_incident_truths_agree_with_the_generator_record():
    """Truths and the oracle share one detection algorithm, so check it against the generator."""
    from envs.acmecorp import reach
    from envs.acmecorp.tasks_incidents import cause_from_logs
    from envs.tasks import get_suite

    suite = get_suite("acmecorp", "rigorous")
    for seed in range(1, 21):
        world = suite.get_world(seed)
        inc = world.facts["incident"]
        access = suite.access(world)
        view = reach.incident_view(access)
        assert view["root_cause"] == inc.service, seed
        assert abs(view["start_ts"] - inc.start_ts) <= 120, seed
        assert cause_from_logs(access, inc.service, view["start_ts"]) == inc.cause, seed
        assert (
            world.facts["config"]["incident"]["trigger_deploy"]
            == suite.instance(seed, "test", "incidents.trigger_deploy").truth
        )
