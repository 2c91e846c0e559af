import httpx

from envs.http import WorldHttp, json_response


def make_http() -> WorldHttp:
    http = WorldHttp()
    vh = http.add_host("api.test.internal")
    vh.route("GET", path="/hello").mock(side_effect=lambda req: json_response(200, {"q": req.url.params.get("q")}))
    vh.route("POST", path="/echo").mock(side_effect=lambda req: httpx.Response(201, content=req.content))
    return http


def test_in_process_and_loopback_serve_the_same_bytes():
    http = make_http()
    try:
        base = http.serve("api.test.internal")
        assert base.startswith("http://127.0.0.1:")
        with httpx.Client() as real, http.client() as fake:
            for method, path, kw in [
                ("GET", "/hello", {"params": {"q": "héllo wörld"}}),
                ("POST", "/echo", {"content": b'{"x": [1, 2]}'}),
                ("GET", "/missing", {}),
            ]:
                a = real.request(method, base + path, **kw)
                b = fake.request(method, "http://api.test.internal" + path, **kw)
                assert a.status_code == b.status_code
                assert a.content == b.content
                assert a.headers.get("content-type") == b.headers.get("content-type")
    finally:
        http.close()


def test_unknown_host_and_route_are_clear_errors():
    http = make_http()
    r = http.request("GET", "http://nowhere.internal/x")
    assert r.status_code == 502 and "api.test.internal" in r.text
    r = http.request("GET", "http://api.test.internal/nope")
    assert r.status_code == 404 and "no route for GET /nope" in r.text


def test_session_counters_reset():
    http = make_http()
    assert http.count_request("k") == 1
    assert http.count_request("k") == 2
    http.reset_session()
    assert http.count_request("k") == 1
