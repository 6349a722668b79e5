"""HTTP behaviour of the real binary over real HTTPS: health, readiness,
errors, security headers, body limits, static assets."""

import gzip
import json
import socket
import ssl

from harness import Appliance

app = None

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=63072000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def setup_module():
    global app
    app = Appliance(sets=["web.max_body=4K"]).start()


def teardown_module():
    app.cleanup()


def check_security_headers(h, api=True):
    for k, v in SECURITY_HEADERS.items():
        assert h.get(k) == v, (k, h.get(k))
    csp = h["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp
    if api:
        assert h.get("cache-control") == "no-store", h.get("cache-control")


def test_healthz():
    status, h, body = app.request("GET", "/healthz")
    assert status == 200
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["version"], doc
    assert h["content-type"] == "application/json"
    check_security_headers(h)


def test_readyz_reports_schema():
    status, doc = app.get_json("/readyz")
    assert status == 200, doc
    assert doc["status"] == "ready" and doc["database"] == "open"
    assert doc["schema_version"] == doc["schema_latest"] >= 1


def test_not_found_is_json_with_headers():
    status, h, body = app.request("GET", "/api/v1/nothing-here")
    assert status == 404
    err = json.loads(body)["error"]
    assert err["code"] == "not_found" and "/api/v1/nothing-here" in err["message"]
    check_security_headers(h)


def test_method_not_allowed_lists_allowed():
    status, h, body = app.request("DELETE", "/healthz")
    assert status == 405
    assert h["allow"] == "GET, HEAD"
    assert json.loads(body)["error"]["code"] == "method_not_allowed"
    check_security_headers(h)


def test_options_and_head():
    status, h, body = app.request("OPTIONS", "/healthz")
    assert status == 204 and h["allow"] == "GET, HEAD" and body == b""
    status, h, body = app.request("HEAD", "/healthz")
    assert status == 200 and body == b"" and int(h["content-length"]) > 0


def test_body_over_limit_gets_413():
    status, h, body = app.request("POST", "/healthz", body=b"x" * 5000,
                                  headers={"Content-Type": "application/json"})
    assert status == 413, status
    assert json.loads(body)["error"]["code"] == "payload_too_large"
    assert h.get("connection") == "close"
    check_security_headers(h)
    # Within the limit the same request reaches routing (405: no POST here).
    status, _, _ = app.request("POST", "/healthz", body=b"x" * 100)
    assert status == 405


def raw_request(data):
    ctx = app.ssl_context()
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(data)
            out = b""
            while True:
                chunk = t.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out


def test_bad_paths_are_rejected():
    for path, reason in [(b"/a%2Fb", b"encoded '/'"), (b"/x/%2e%2e/healthz", b"'..'"),
                         (b"/a%00", b"control character"), (b"/a%zz", b"invalid percent")]:
        out = raw_request(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400"), head
        assert reason in body, body
        assert b"X-Content-Type-Options: nosniff" in head


def test_malformed_request_line_gets_json_error():
    out = raw_request(b"GARBAGE\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 4"), out[:100]
    assert b'"error"' in out and b"Strict-Transport-Security" in out


def test_shell_page_and_assets():
    status, h, body = app.request("GET", "/", headers={"Accept-Encoding": "identity"})
    assert status == 200 and h["content-type"].startswith("text/html")
    check_security_headers(h, api=False)
    assert b"/assets/app.js" in body
    # The CSP forbids inline script: the page has none.
    assert b"<script>" not in body and b"<script type=\"module\" src=" in body
    status, h, gz = app.request("GET", "/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and h["content-encoding"] == "gzip"
    assert h["content-type"].startswith("text/javascript")
    js = gzip.decompress(gz)
    status, h2, plain = app.request("GET", "/assets/app.js")
    assert status == 200 and "content-encoding" not in h2 and plain == js
    etag = h["etag"]
    status, h3, body = app.request("GET", "/assets/app.js", headers={"If-None-Match": etag})
    assert status == 304 and body == b"" and h3["etag"] == etag
    status, _, _ = app.request("GET", "/assets/missing.js")
    assert status == 404


def test_translations_served():
    for lang in ("en", "ja"):
        status, doc = app.get_json("/assets/i18n/%s.json" % lang)
        assert status == 200 and doc["app.title"] == "Gatehouse"
    status, doc = app.get_json("/assets/i18n/ja.json")
    assert doc["status.title"] == "アプライアンスの状態"


def test_keepalive_serves_several_requests():
    conn = app.connection()
    try:
        for _ in range(5):
            status, _, _ = app.request("GET", "/healthz", conn=conn)
            assert status == 200
    finally:
        conn.close()
