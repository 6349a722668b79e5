"""The OpenAPI description (web/openapi.json, served at /api/v1/openapi.json)
against the real binary, in both directions:

- every route that `gatehouse routes` prints is described, with the same
  method, path template, summary and roles (x-roles), and public routes
  and console-only routes say so in `security`;
- every described operation answers: called as a system admin with a
  harmless request, the router knows it (no 405, no 404 "no such
  resource"), the status is one the operation documents, and a JSON answer
  matches its documented schema;
- a walk through every operation with real data gets a documented success
  answer from each, and every JSON request and answer on the way matches
  the document (answers may not carry undocumented fields).

Independent checker: Redocly's CLI (npm, pinned in tests/tools/npm/) lints
the served document with tests/tools/npm/redocly.yaml."""

import base64
import json
import os
import re
import shutil
import sqlite3
import struct
import tempfile
import time
import zlib

from harness import BINARY, Appliance, Session, bootstrap_admin, gatehouse, run

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NPM_SRC = os.path.join(TOP, "tests", "tools", "npm")
# The Makefile installs the npm tooling here; without it this test does.
NPM_DIR = os.environ.get("GH_NPM", os.path.join(TOP, "build", "npm"))

app = None
root = None
doc = None
seen = {}  # (method, template) -> set of statuses answered

METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")


def setup_module():
    global app, root, doc
    app = Appliance(sets=["limits.api_per_second=1000", "limits.api_burst=1000",
                          "limits.login_per_minute=6000", "limits.login_burst=1000",
                          "abuse.fail_threshold=1000", "abuse.probe_threshold=3",
                          # A webhook nobody listens on: the channel test answers its failure.
                          "webhook.urls=https://localhost:1/hook",
                          "webhook.secret_file=" + secret_file()]).start()
    root = bootstrap_admin(app)
    status, h, body = app.request("GET", "/api/v1/openapi.json")
    assert status == 200 and h["content-type"] == "application/json", (status, h)
    doc = json.loads(body)


def secret_file():
    fd, path = tempfile.mkstemp(prefix="gh-openapi-secret-")
    os.write(fd, b"openapi-webhook-secret\n")
    os.close(fd)
    return path


def teardown_module():
    app.cleanup()


# --- a small JSON Schema (2020-12 subset) validator --------------------------------
# The document uses: $ref, type, properties, required, additionalProperties,
# items, enum, const, min/maxLength, pattern, minimum/maximum, min/maxItems,
# allOf, anyOf, oneOf. Anything else is an annotation here.

def resolve(schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**node, **extra} if extra else node
    return schema


TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def errors(schema, v, at="$"):
    """Every way v fails schema, as 'path: reason' strings."""
    s = resolve(schema)
    out = []
    if s is True or s == {}:
        return out
    if s is False:
        return [at + ": nothing is allowed here"]
    t = s.get("type")
    if t is not None:
        ts = t if isinstance(t, list) else [t]
        if not any(TYPES[x](v) for x in ts):
            return [at + ": %r is not of type %s" % (v, t)]
    if "const" in s and v != s["const"]:
        out.append(at + ": %r is not %r" % (v, s["const"]))
    if "enum" in s and v not in s["enum"]:
        out.append(at + ": %r is not one of %s" % (v, s["enum"]))
    if isinstance(v, str):
        if len(v) < s.get("minLength", 0):
            out.append(at + ": shorter than %d" % s["minLength"])
        if "maxLength" in s and len(v) > s["maxLength"]:
            out.append(at + ": longer than %d" % s["maxLength"])
        if "pattern" in s and not re.search(s["pattern"], v):
            out.append(at + ": %r does not match %s" % (v, s["pattern"]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            out.append(at + ": %r < %r" % (v, s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            out.append(at + ": %r > %r" % (v, s["maximum"]))
    if isinstance(v, list):
        if len(v) < s.get("minItems", 0):
            out.append(at + ": fewer than %d items" % s["minItems"])
        if "maxItems" in s and len(v) > s["maxItems"]:
            out.append(at + ": more than %d items" % s["maxItems"])
        if "items" in s:
            for i, x in enumerate(v):
                out += errors(s["items"], x, "%s[%d]" % (at, i))
    if isinstance(v, dict):
        props = s.get("properties", {})
        for r in s.get("required", []):
            if r not in v:
                out.append(at + ": '%s' is required" % r)
        for k, x in v.items():
            if k in props:
                out += errors(props[k], x, at + "." + k)
            elif s.get("additionalProperties") is False:
                out.append(at + ": '%s' is not allowed" % k)
            elif isinstance(s.get("additionalProperties"), dict):
                out += errors(s["additionalProperties"], x, at + "." + k)
    for sub in s.get("allOf", []):
        out += errors(sub, v, at)
    if "anyOf" in s and all(errors(sub, v, at) for sub in s["anyOf"]):
        out.append(at + ": matches none of anyOf: " + "; ".join(sum((errors(x, v, at) for x in s["anyOf"]), [])))
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if not errors(sub, v, at))
        if n != 1:
            out.append(at + ": matches %d of oneOf, not exactly 1" % n)
    return out


def documented(schema, v, at="$"):
    """Members of answers that the schema does not describe (answers are
    open to additions for clients, but the document must name them all)."""
    s = resolve(schema)
    if not isinstance(s, dict):
        return []
    branches = [resolve(b) for b in s.get("allOf", [])]
    for key in ("oneOf", "anyOf"):
        if key in s:
            fits = [resolve(b) for b in s[key] if not errors(b, v, at)]
            branches += fits[:1]
    props = {}
    for b in [s] + branches:
        for k, sub in (b.get("properties") or {}).items():
            props.setdefault(k, []).append(sub)
        for b2 in b.get("allOf", []):
            for k, sub in (resolve(b2).get("properties") or {}).items():
                props.setdefault(k, []).append(sub)
    out = []
    if isinstance(v, dict) and props:  # an object without properties is free-form
        for k, x in v.items():
            if k not in props:
                out.append(at + "." + k)
            else:  # described by any of the schemas that apply is enough
                out += set.intersection(*(set(documented(sub, x, at + "." + k)) for sub in props[k]))
    elif isinstance(v, list):
        items = [b.get("items") for b in [s] + branches if b.get("items")]
        for i, x in enumerate(v):
            if items:
                out += set.intersection(*(set(documented(it, x, "%s[%d]" % (at, i))) for it in items))
    return sorted(set(out))


# --- the document and the route table ----------------------------------------------

def table():
    out = gatehouse("routes")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split("\t") == ["method", "path", "roles", "flags", "summary"], lines[0]
    return [dict(zip(("method", "pattern", "roles", "flags", "summary"), l.split("\t"))) for l in lines[1:]]


def template(pattern):
    """The route table's '/assets/*' is OpenAPI's '/assets/{path}'."""
    return pattern[:-1] + "{path}" if pattern.endswith("/*") else pattern


def operations():
    for path, item in doc["paths"].items():
        for method, o in item.items():
            if method in METHODS:
                yield method.upper(), path, o


def params_of(o, where):
    return [p for p in map(resolve, o.get("parameters", [])) if p["in"] == where]


def find_operation(method, path):
    """The described operation a concrete path is served by: literal
    segments win over {params}, as in the router's table order."""
    best = None
    for m, tpl, o in operations():
        if m != method:
            continue
        rx = "^" + re.sub(r"\{[^}]+\}", lambda g: ".+" if g.group(0) == "{path}" else "[^/]+", tpl) + "$"
        if re.match(rx, path):
            literal = len(re.sub(r"\{[^}]+\}", "", tpl))
            if not best or literal > best[0]:
                best = (literal, tpl, o)
    assert best, "no described operation for %s %s" % (method, path)
    return best[1], best[2]


def check(session, method, path, body=None, headers=None, want=None):
    """One request, checked against the document. Returns (status, headers, parsed body)."""
    tpl, o = find_operation(method, path.split("?")[0])
    hdrs = dict(headers or {})
    if body is not None and want and 200 <= want < 300 and isinstance(body, dict):
        schema = o["requestBody"]["content"]["application/json"]["schema"]
        bad = errors(schema, body)
        assert not bad, ("request the server takes but the document refuses", method, path, bad)
    status, h, data = session.raw(method, path, body, hdrs)
    seen.setdefault((method, tpl), set()).add(status)
    if want is not None:
        assert status == want, (method, path, status, data[:500])
    r = o["responses"].get(str(status))
    assert r, ("undocumented status", method, tpl, status, data[:300], sorted(o["responses"]))
    r = resolve(r)
    ctype = h.get("content-type", "").split(";")[0].strip()
    content = r.get("content")
    if not content:
        assert not data, ("a body where none is documented", method, tpl, status, data[:200])
        return status, h, None
    assert ctype in content or "*/*" in content, ("undocumented content type", method, tpl, status, ctype,
                                                  list(content))
    for name in r.get("headers", {}):
        if name.lower() in ("etag", "location", "set-cookie", "content-disposition"):
            assert name.lower() in h, ("documented header missing", method, tpl, status, name)
    if ctype != "application/json" or "application/json" not in content:
        return status, h, data
    parsed = json.loads(data)
    schema = content["application/json"]["schema"]
    bad = errors(schema, parsed)
    assert not bad, ("answer does not match its schema", method, path, status, bad, parsed)
    extra = documented(schema, parsed)
    assert not extra, ("answer carries undocumented members", method, path, status, extra)
    return status, h, parsed


# --- tests ------------------------------------------------------------------------

def test_served_document_is_the_source_file():
    with open(os.path.join(TOP, "web", "openapi.json"), "rb") as f:
        source = json.load(f)
    assert doc == source, "the binary serves another web/openapi.json: rebuild (make)"
    assert doc["openapi"] == "3.1.0" and doc["info"]["title"]
    status, h, body = app.request("GET", "/api/v1/openapi.json")
    assert h.get("cache-control") == "no-store"


def test_every_route_is_described_with_its_roles():
    routes = table()
    assert len(routes) > 60
    described = {(m, p): o for m, p, o in operations()}
    in_table = set()
    for r in routes:
        key = (r["method"], template(r["pattern"]))
        in_table.add(key)
        assert key in described, "route not described: %s %s" % key
        o = described[key]
        roles = [] if r["roles"] == "public" else r["roles"].split(",")
        assert o.get("x-roles") == roles, (key, o.get("x-roles"), roles)
        assert o.get("summary") == r["summary"], (key, o.get("summary"), r["summary"])
        flags = r["flags"].split(",")
        if r["roles"] == "public":
            assert o.get("security") == [], (key, "public routes say security: []")
        elif r["roles"] == "site":
            # A paired site's credential, and nothing else (docs/sync.md).
            assert o.get("security") == [{"siteCredential": []}], (key, o.get("security"))
        else:
            schemes = {name for req in o.get("security", doc.get("security", [])) for name in req}
            assert "session" in schemes, key
            assert ("apiToken" in schemes) == ("session-only" not in flags), (key, schemes, flags)
            if r["method"] not in ("GET", "HEAD"):
                for req in o["security"]:
                    assert "apiToken" in req or "csrf" in req, (key, "cookie writes need X-CSRF-Token")
        # Path parameters: exactly the template's, required.
        names = re.findall(r"\{([^}]+)\}", key[1])
        got = [p["name"] for p in params_of(o, "path")]
        assert sorted(got) == sorted(names), (key, got, names)
        assert all(p["required"] for p in params_of(o, "path")), key
    extra = set(described) - in_table
    assert not extra, "described but not in the route table: %s" % sorted(extra)
    ids = [o["operationId"] for _, _, o in operations()]
    assert len(ids) == len(set(ids))


def harmless(method, tpl, o):
    """A request that changes nothing: unknown ids, empty bodies."""
    path = tpl
    for name, value in (("{id}", "999999"), ("{person_id}", "999999"), ("{credential_id}", "999999"),
                        ("{address}", "192.0.2.1"), ("{path}", "app.js"), ("{name}", "no-such-job")):
        path = path.replace(name, value)
    headers, body = {}, None
    if any(p["name"] == "If-Match" for p in params_of(o, "header")):
        headers["If-Match"] = '"1"'
    content = o.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        body = {}
    elif "text/csv" in content:
        body, headers["Content-Type"], path = b"", "text/csv", path + "?dry_run=true"
    elif content:
        body, headers["Content-Type"] = b"", next(iter(content))
    return path, body, headers


def test_every_described_operation_answers():
    global root
    checked = 0
    for method, tpl, o in sorted(operations(), key=lambda x: (x[1], x[0])):
        path, body, headers = harmless(method, tpl, o)
        status, h, data = root.raw(method, path, body, headers)
        seen.setdefault((method, tpl), set()).add(status)
        try:
            err = json.loads(data).get("error", {}) if h.get("content-type") == "application/json" else {}
        except (ValueError, AttributeError):
            err = {}
        assert status != 405, (method, path, "the router does not know this method here", data)
        assert not (status == 404 and err.get("message", "").startswith("no such resource")), \
            (method, path, "the router does not know this path", data)
        assert str(status) in o["responses"], ("undocumented status", method, tpl, status, data[:300])
        r = resolve(o["responses"][str(status)])
        if h.get("content-type") == "application/json":
            schema = r["content"]["application/json"]["schema"]
            parsed = json.loads(data)
            assert not errors(schema, parsed), (method, tpl, status, errors(schema, parsed))
            assert not documented(schema, parsed), (method, tpl, status, documented(schema, parsed))
        if isinstance(body, dict) and "application/json" in o.get("requestBody", {}).get("content", {}):
            # An empty object the document accepts is not "invalid" to the server either.
            schema = o["requestBody"]["content"]["application/json"]["schema"]
            if not errors(schema, body):
                assert err.get("code") != "invalid", (method, tpl, "the document accepts {}", data)
            elif status < 300:
                raise AssertionError((method, tpl, "the server takes {} but the document refuses it"))
        if (method, tpl) == ("DELETE", "/api/v1/session"):
            root = Session(app, "admin", root.password)  # that call logged out
            assert root.login()[0] == 200
        checked += 1
    assert checked == len(table())


def tiny_png():
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def csr():
    """A certificate signing request for a new P-256 key, made by openssl."""
    key = os.path.join(app.state, "terminal.key")
    out = run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key])
    assert out.returncode == 0, out.stderr
    out = run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=front-reader"])
    assert out.returncode == 0 and "CERTIFICATE REQUEST" in out.stdout, out.stderr
    return out.stdout


def oathtool(secret):
    out = run(["oathtool", "--totp", "-b", secret])
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_every_operation_succeeds_as_documented():
    """Real data through every operation; every answer checked."""
    T = {"X-Tenant": "default"}

    def c(method, path, body=None, want=200, headers=None, who=None):
        return check(who or root, method, path, body, {**T, **(headers or {})}, want)

    def etag(h):
        assert re.match(r'^"[0-9]+"$', h["etag"]), h.get("etag")
        return h["etag"]

    # Health, console, this document.
    anon = Session(app, "", "")
    c("GET", "/healthz", who=anon)
    c("GET", "/readyz", who=anon)
    c("GET", "/api/v1/openapi.json", who=anon)
    _, h, _ = c("GET", "/", who=anon)
    c("GET", "/", headers={"If-None-Match": h["etag"]}, want=304, who=anon)
    c("GET", "/assets/app.js", who=anon)
    c("GET", "/assets/i18n/en.json", who=anon)

    # Access rules.
    _, h, site = c("POST", "/api/v1/sites", {"name": "HQ", "timezone": "Europe/Paris"}, 201)
    assert h["location"] == "/api/v1/sites/%d" % site["id"]
    s = "/api/v1/sites/%d" % site["id"]
    _, h, _ = c("GET", s)
    c("PATCH", s, {"name": "Head office"}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/sites?limit=1&cursor=0")
    _, _, door = c("POST", "/api/v1/doors", {"site_id": site["id"], "name": "Main entrance", "unlock_seconds": 7,
                                             "held_open_seconds": 60, "output": 2}, 201)
    d = "/api/v1/doors/%d" % door["id"]
    _, h, _ = c("GET", d)
    c("PATCH", d, {"output": None, "name": "Front"}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/doors?site_id=%d" % site["id"])
    _, _, hs = c("POST", "/api/v1/holidays", {"name": "Public holidays", "dates": [
        {"date": "2026-12-25", "name": "Christmas"}, {"date": "2027-01-01", "name": "New year"}]}, 201)
    hp = "/api/v1/holidays/%d" % hs["id"]
    _, h, _ = c("GET", hp)
    c("PATCH", hp, {"dates": [{"date": "2026-12-25", "name": "Noël"}]}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/holidays")
    _, _, sch = c("POST", "/api/v1/schedules", {"name": "Office hours", "holiday_set_id": hs["id"], "windows": [
        {"day": "mon", "start": "08:00", "end": "18:00"}, {"day": "sun", "start": "22:00", "end": "06:00"},
        {"day": "holiday", "start": "10:00", "end": "24:00"}]}, 201)
    sp = "/api/v1/schedules/%d" % sch["id"]
    _, h, _ = c("GET", sp)
    c("PATCH", sp, {"holiday_set_id": None}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/schedules?holiday_set_id=%d" % hs["id"])
    _, _, grp = c("POST", "/api/v1/access-groups", {"name": "Staff", "description": "Everyone"}, 201)
    gp = "/api/v1/access-groups/%d" % grp["id"]
    _, h, _ = c("GET", gp)
    c("PATCH", gp, {"description": ""}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/access-groups")
    _, _, lvl = c("POST", "/api/v1/access-levels", {"name": "Staff in office hours", "group_id": grp["id"],
                                                    "schedule_id": sch["id"], "door_ids": [door["id"]]}, 201)
    lp = "/api/v1/access-levels/%d" % lvl["id"]
    _, h, _ = c("GET", lp)
    c("PATCH", lp, {"door_ids": [door["id"]]}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/access-levels?group_id=%d&schedule_id=%d" % (grp["id"], sch["id"]))
    c("DELETE", s, want=409)  # the door still uses the site

    # Terminals: one enrolled with a token and a CSR, one made as a bundle.
    _, h, made = c("POST", "/api/v1/devices", {"name": "Front reader", "model": "GH-1", "site_id": site["id"]}, 201)
    dev = made["device"]
    dv = "/api/v1/devices/%d" % dev["id"]
    assert h["location"] == dv
    _, _, bundled = c("POST", "/api/v1/devices", {"name": "Spare", "enrollment": "bundle"}, 201)
    assert "BEGIN" in bundled["bundle"]["key_pem"]
    c("GET", "/api/v1/devices?limit=1")
    _, h, _ = c("GET", dv)
    c("PATCH", dv, {"model": "GH-2", "site_id": None}, headers={"If-Match": etag(h)})
    _, h, _ = c("GET", d)
    c("PATCH", d, {"terminal_id": dev["id"]}, headers={"If-Match": etag(h)})
    c("GET", "/api/v1/doors?terminal_id=%d" % dev["id"])
    c("POST", dv + "/enable")  # not enrolled yet: stays pending
    c("POST", "/api/v1/devices/enroll", {"token": made["enroll_token"], "csr": csr()}, who=anon)
    c("POST", dv + "/disable")
    c("POST", dv + "/enable")
    c("POST", dv + "/enroll-token")
    _, _, cmd = c("POST", dv + "/commands", {"kind": "unlock", "params": {"door_id": door["id"], "seconds": 5},
                                             "ttl_seconds": 60}, 201)
    c("POST", dv + "/commands", {"kind": "lockdown", "params": {"on": False}}, 201)
    c("GET", dv + "/commands")
    c("GET", "/api/v1/commands/%d" % cmd["id"])
    _, _, fw = c("POST", "/api/v1/firmware?model=GH-2&version=1.0.0", b"\x7fELF firmware image", 201,
                 {"Content-Type": "application/octet-stream"})
    c("GET", "/api/v1/firmware")
    c("POST", "/api/v1/firmware/%d/rollouts" % fw["id"], {"device_ids": [dev["id"]]})
    c("GET", "/api/v1/firmware/%d/rollouts" % fw["id"])

    # The event log: an event as the device link stores it (the device
    # link itself is tested with real terminals in test_devices/test_events).
    con = sqlite3.connect(app.db(), timeout=10)
    con.execute("INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id, result, reason) "
                "VALUES (1, ?, 1, 1795662292006, 1795662292100, 'access', ?, 'denied', 'unknown_credential')",
                (dev["id"], door["id"]))
    con.commit()
    con.close()
    con = sqlite3.connect(app.db(), timeout=10)
    con.execute("INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id) "
                "VALUES (1, ?, 2, 1795662293000, 1795662293100, 'door_opened', ?)", (dev["id"], door["id"]))
    con.execute("INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, reason) "
                "VALUES (1, ?, 3, 1795662294000, 1795662294100, 'lockdown', 'on')", (dev["id"],))
    con.commit()
    con.close()
    _, _, ds = c("GET", "/api/v1/doors/status?limit=10")
    mine = [x for x in ds["items"] if x["door_id"] == door["id"]][0]
    assert mine["state"] == "open" and mine["lockdown"] and mine["last_event"]["kind"] == "door_opened", mine
    _, _, evs = c("GET", "/api/v1/events?door_id=%d&from=2026-01-01T00:00:00%%2B09:00&to=%d&kind=access&result=denied"
                  "&limit=1" % (door["id"], int(time.time() * 1000) + 60000))
    assert len(evs["items"]) == 1 and evs["items"][0]["door_name"] == "Front", evs
    c("GET", "/api/v1/events?cursor=1795662292006:1&site_id=%d&device_id=%d" % (site["id"], dev["id"]))
    _, h, _ = c("GET", "/api/v1/events/export?format=csv&card=12345678")
    assert h["content-type"].startswith("text/csv")
    _, _, data = c("GET", "/api/v1/events/export?format=xlsx&person_id=1")
    assert data[:2] == b"PK"
    _, h, data = c("GET", "/api/v1/stream")
    assert h["content-type"].startswith("text/event-stream") and b"retry:" in data
    c("DELETE", "/api/v1/devices/%d" % bundled["device"]["id"], want=204)

    # People and credentials.
    _, h, p = c("POST", "/api/v1/people", {"name": "Ann Example", "email": "ann@example.org", "phone": "+33 1",
                                           "employee_no": "E-1", "notes": "", "status": "active",
                                           "valid_from": "2026-01-01", "valid_until": "2030-01-01T00:00:00",
                                           "group_ids": [grp["id"]]}, 201)
    assert h["location"] == "/api/v1/people/%d" % p["id"]
    pp = "/api/v1/people/%d" % p["id"]
    _, h, _ = c("GET", pp)
    c("PATCH", pp, {"phone": None, "status": "active", "valid_until": ""}, headers={"If-Match": etag(h)})
    c("PATCH", pp, {"name": "x"}, headers={"If-Match": '"1"'}, want=412)
    c("PATCH", pp, {"name": "x"}, want=428)
    _, _, found = c("GET", "/api/v1/people?status=active&group=%d&email=ANN@example.org&employee_no=E-1&limit=10"
                    % grp["id"])
    assert [x["id"] for x in found["items"]] == [p["id"]], found
    _, _, bob = c("POST", "/api/v1/people", {"name": "Bob"}, 201)
    c("PUT", "%s/members/%d" % (gp, bob["id"]), want=204)
    _, _, card = c("POST", pp + "/credentials", {"kind": "card", "number": "1234 5678", "label": "blue",
                                                 "valid_from": "2026-01-01"}, 201)
    c("POST", "/api/v1/people/%d/credentials" % bob["id"], {"kind": "card", "number": "12345678"}, 409)
    c("POST", pp + "/credentials", {"kind": "pin", "pin": "4321"}, 201)
    _, _, mobile = c("POST", pp + "/credentials", {"kind": "mobile", "status": "suspended"}, 201)
    assert mobile["token"].startswith("ghm_")
    c("POST", pp + "/credentials", {"kind": "fingerprint", "template": base64.b64encode(b"minutiae").decode()}, 201)
    cp = "%s/credentials/%d" % (pp, card["id"])
    c("PATCH", cp, {"status": "lost", "label": "lost in the lift", "valid_until": "2027-01-01"},
      headers={"If-Match": '"%d"' % card["version"]})
    c("GET", pp + "/credentials")
    _, _, found = c("GET", "/api/v1/people?card=12345678")
    assert [x["id"] for x in found["items"]] == [p["id"]], found
    c("POST", "/api/v1/decisions", {"card": "1234-5678", "door_id": door["id"], "at": "2026-11-30T09:00:00+01:00"})
    c("POST", "/api/v1/decisions", {"credential_id": card["id"], "door_id": door["id"]})
    c("PUT", pp + "/photo", tiny_png(), want=204, headers={"Content-Type": "image/png"})
    _, h, img = c("GET", pp + "/photo")
    assert h["content-type"] == "image/png" and img == tiny_png()
    _, _, report = c("GET", pp + "/report")
    assert report["photo"]["type"] == "image/png"
    assert any(x.get("number") == "12345678" for x in report["credentials"]), report["credentials"]
    c("DELETE", pp + "/photo", want=204)
    _, h, _ = c("GET", "/api/v1/people/export")
    assert h["content-type"].startswith("text/csv")
    _, h, data = c("GET", "/api/v1/people/export?format=xlsx")
    assert data[:2] == b"PK"
    csv = b"name,email,card,groups\nCy,cy@example.org,99887766,Staff\n"
    c("POST", "/api/v1/people/import?dry_run=true", csv, headers={"Content-Type": "text/csv"})
    c("POST", "/api/v1/people/import", csv + b"Dee,not-an-address,,\n", 400, {"Content-Type": "text/csv"})
    c("POST", "/api/v1/people/import", csv, headers={"Content-Type": "text/csv"})
    c("DELETE", "%s/members/%d" % (gp, bob["id"]), want=204)
    c("DELETE", cp, want=204)
    c("DELETE", pp, want=204)
    c("GET", pp, want=404)
    for path in (lp, d, dv, sp, hp, gp, s):
        c("DELETE", path, want=204)

    # Tenants, admins, tokens, allow-list.
    _, _, acme = c("POST", "/api/v1/tenants", {"slug": "acme", "name": "Acme"}, 201)
    c("GET", "/api/v1/tenants")
    c("PATCH", "/api/v1/tenants/%d" % acme["id"], {"legal_hold": True})
    c("PATCH", "/api/v1/tenants/%d" % acme["id"], {"name": "Acme Corp", "legal_hold": False})
    _, _, adm = c("POST", "/api/v1/admins", {"username": "op.one", "role": "operator",
                                             "password": "Op-Passw0rd!", "tenant_id": 1}, 201)
    ap = "/api/v1/admins/%d" % adm["id"]
    c("GET", "/api/v1/admins")
    c("GET", ap)
    c("PATCH", ap, {"language": "ja", "status": "active", "role": "auditor"})
    c("POST", ap + "/unlock", want=204)
    c("POST", ap + "/reset-password", {"password": "Temp-Passw0rd!"}, 204)
    _, _, tok = c("POST", "/api/v1/tokens", {"name": "door sync", "scope": "read", "expires_in_days": 7}, 201)
    c("GET", "/api/v1/tokens")
    bearer = Session(app, "", "")
    bearer.token = tok["token"]
    c("GET", "/api/v1/session", who=bearer)
    c("DELETE", "/api/v1/tokens/%d" % tok["id"], want=204)
    _, _, entry = c("POST", "/api/v1/allowlist", {"cidr": "198.51.100.0/24", "note": "branch"}, 201)
    c("GET", "/api/v1/allowlist")
    c("DELETE", "/api/v1/allowlist/%d" % entry["id"], want=204)

    # Blocks: a scanner from another loopback address gets itself blocked.
    scanner = Session(app, "", "", source="127.0.0.2")
    for i in range(3):
        scanner.raw("GET", "/no/such/page/%d" % i)
    _, _, blocks = c("GET", "/api/v1/blocks")
    assert [b["address"] for b in blocks["items"]] == ["127.0.0.2"], blocks
    c("GET", "/healthz", want=403, who=scanner)
    c("DELETE", "/api/v1/blocks/127.0.0.2", want=204)

    # Alerts: the block raised one (an appliance alert: no X-Tenant here).
    A = {"X-Tenant": ""}
    _, _, found = c("GET", "/api/v1/alerts?state=open&severity=warning&kind=address_blocked&limit=5", headers=A)
    alert = found["items"][0]
    ap = "/api/v1/alerts/%d" % alert["id"]
    c("GET", ap, headers=A)
    c("POST", ap + "/acknowledge", headers=A)
    c("POST", ap + "/resolve", {"note": "the scanner was ours"}, headers=A)
    _, _, dl = c("GET", ap + "/deliveries", headers=A)
    assert [d["channel"] for d in dl["items"]] == ["webhook:1"], dl
    _, _, res = c("POST", "/api/v1/alerts/test", {"channel": "webhook"})
    assert not res["ok"] and res["results"][0]["error"], res

    # The appliance: settings, state, its web certificate (stored again as
    # it is, so the connections of this test keep trusting it).
    _, _, st = c("GET", "/api/v1/settings")
    keys = {x["key"]: x for x in st["settings"]}
    assert keys["webhook.urls"]["value"] == "https://localhost:1/hook", keys["webhook.urls"]
    assert [o["key"] for o in st["omitted"]] == ["smtp.password_file", "webhook.secret_file"], st["omitted"]
    assert "openapi-webhook-secret" not in json.dumps(st)
    _, _, changed = c("PUT", "/api/v1/settings/alerts.disk_min_free", {"value": "2G"})
    assert changed["value"] == "2G" and changed["source"] == "console", changed
    _, _, undone = c("DELETE", "/api/v1/settings/alerts.disk_min_free")
    assert undone["source"] in ("default", "file") and undone["value"] != "2G", undone
    _, _, system = c("GET", "/api/v1/system")
    assert system["disk"]["total_bytes"] > 0 and system["recovery_key"]["present"], system
    web = system["certificates"]["web"]
    with open(os.path.join(app.state, "tls", "server.crt")) as f:
        cert_pem = f.read()
    with open(os.path.join(app.state, "tls", "server.key")) as f:
        key_pem = f.read()
    _, _, stored = c("PUT", "/api/v1/certificates/web", {"cert_pem": cert_pem, "key_pem": key_pem})
    assert stored["restart_required"] and stored["sha256"] == web["sha256"], (stored, web)
    c("PATCH", "/api/v1/session", {"language": "ja"})
    _, _, me = c("PATCH", "/api/v1/session", {"language": "en"})
    assert me["admin"]["language"] == "en" and me["remote_address"] == "127.0.0.1", me

    # Audit.
    c("GET", "/api/v1/audit?action=person.&limit=5&from=2020-01-01&to=%d" % (time.time() + 60))
    c("GET", "/api/v1/audit/verify")

    # Jobs: start one by hand, then read it back.
    c("POST", "/api/v1/jobs/audit-verify/run", want=202)
    c("GET", "/api/v1/jobs")
    c("GET", "/api/v1/jobs/audit-verify/runs?limit=5")

    # Backups: one made by hand, listed, downloaded, verified.
    _, _, started = c("POST", "/api/v1/jobs/backup-full/run", want=202)
    deadline = time.time() + 60
    while time.time() < deadline:
        _, _, runs = c("GET", "/api/v1/jobs/backup-full/runs?limit=1")
        if runs["items"] and runs["items"][0]["id"] == started["run_id"] and runs["items"][0]["status"] != "running":
            break
        time.sleep(0.2)
    assert runs["items"][0]["status"] == "ok", runs
    _, _, backups = c("GET", "/api/v1/backups")
    assert backups["items"] and backups["items"][0]["verified"], backups
    name = backups["items"][0]["name"]
    _, h, data = c("GET", "/api/v1/backups/" + name)
    assert h["content-type"] == "application/octet-stream" and data[:8] == b"GHBACKUP"
    _, _, result = c("POST", "/api/v1/backups/%s/verify" % name)
    assert result["ok"] and result["kind"] == "full", result

    # The caller's own account: TOTP on and off, password change, logout.
    user = Session(app, "op.one", "Temp-Passw0rd!")
    status, body = user.login()
    assert status == 200 and body["must_change_password"]
    c("POST", "/api/v1/session/password", {"current_password": "Temp-Passw0rd!", "new_password": "New-Passw0rd!"},
      204, who=user, headers={"X-Tenant": "1"})
    user = Session(app, "op.one", "New-Passw0rd!")
    check(user, "POST", "/api/v1/session", {"username": "op.one", "password": "New-Passw0rd!"}, want=200)
    user.login()
    c("GET", "/api/v1/session", who=user)
    _, _, enrol = c("POST", "/api/v1/session/totp", want=200, who=user, headers={"X-Tenant": "default"})
    code = oathtool(enrol["secret"])
    c("POST", "/api/v1/session/totp/confirm", {"code": code}, 200, who=user)
    c("POST", "/api/v1/session/totp", want=409, who=user)
    c("DELETE", "/api/v1/session/totp", {"password": "New-Passw0rd!"}, 204, who=user)
    check(user, "POST", "/api/v1/session", {"username": "op.one", "password": "wrong"}, want=401)
    c("DELETE", "/api/v1/session", want=204, who=user)
    c("GET", "/api/v1/session", want=401, who=user)

    sync_walk(c, check)

    # Every described operation answered a success at least once.
    missing = []
    for method, tpl, o in operations():
        ok = {int(k) for k in o["responses"] if k[0] in "23"}
        if not (seen.get((method, tpl), set()) & ok):
            missing.append((method, tpl, sorted(seen.get((method, tpl), ()))))
    assert not missing, "operations never answered with a documented success: %s" % missing


def sync_walk(c, check):
    """Site sync: this appliance is the central; a second one becomes its
    site over loopback. The exchange endpoints are called here with the
    site's own credential (opened from its state with vault-fixture, as
    tests/e2e/test_sync.py does for events) and a changeset the site
    itself wrote; a pairing claimed with bare public keys gives the claim
    its success, and is then revoked."""
    T = {"X-Tenant": "default"}
    _, _, branch = c("POST", "/api/v1/sites", {"name": "Branch for sync", "timezone": "Asia/Tokyo"}, 201)
    _, _, spare = c("POST", "/api/v1/sites", {"name": "Spare for sync", "timezone": "Asia/Tokyo"}, 201)
    c("POST", "/api/v1/people", {"name": "Synced person"}, 201)
    site = Appliance(sets=["jobs.sync=off"]).start()
    try:
        sroot = bootstrap_admin(site)
        _, _, made = c("POST", "/api/v1/sync/pairings", {"site_id": branch["id"]}, 201)
        check(sroot, "POST", "/api/v1/sync/pair", {"central_url": app.url, "fingerprint": made["fingerprint"],
                                                   "code": made["code"]}, want=201)
        check(sroot, "GET", "/api/v1/sync/status", want=200)
        c("GET", "/api/v1/sync/status")
        # The site's credential, from its own state, for the site's endpoints.
        out = run([os.path.join(os.path.dirname(BINARY), "vault-fixture"), "open-field", site.state, site.db(), "0",
                   "sync_central", "credential", "1"])
        assert out.returncode == 0 and out.stdout.startswith("ghs_"), out.stderr
        as_site = Session(app, "", "")
        as_site.token = out.stdout.strip()
        _, h, cs = check(as_site, "POST", "/api/v1/sync/pull", {"cursors": {"keys": 0, "changes": 0}}, want=200)
        assert cs[:6] == b"GHSYNC" and h["x-gatehouse-sync-more"] in ("0", "1")
        # A bundle the site writes for its central: one of its changesets is pushed, then the whole is imported.
        _, h, bundle = check(sroot, "GET", "/api/v1/sync/export", want=200)
        assert bundle[:8] == b"GHBUNDLE" and "attachment" in h["content-disposition"]
        length = struct.unpack(">Q", bundle[10:18])[0]
        check(as_site, "POST", "/api/v1/sync/push", bundle[18:18 + length],
              headers={"Content-Type": "application/octet-stream"}, want=200)
        c("POST", "/api/v1/sync/import", bundle, headers={"Content-Type": "application/octet-stream"})
        _, _, back = c("GET", "/api/v1/sync/export?pairing=%d" % made["pairing"]["id"])
        check(sroot, "POST", "/api/v1/sync/import", back, headers={"Content-Type": "application/octet-stream"},
              want=200)
        _, _, pairings = c("GET", "/api/v1/sync/pairings")
        assert [p["state"] for p in pairings["items"]] == ["active"], pairings
        c("GET", "/api/v1/sync/pairings/%d" % made["pairing"]["id"])
        # A claim answered (and a pairing revoked).
        _, _, other = c("POST", "/api/v1/sync/pairings", {"site_id": spare["id"]}, 201)
        b64 = lambda: base64.b64encode(os.urandom(32)).decode()
        check(Session(app, "", ""), "POST", "/api/v1/sync/claim",
              {"code": other["code"], "appliance_id": os.urandom(16).hex(), "sign_pk": b64(), "box_pk": b64(),
               "audit_pk": b64(), "key_range": 7}, want=200)
        c("DELETE", "/api/v1/sync/pairings/%d" % other["pairing"]["id"], want=204)
        check(sroot, "POST", "/api/v1/people", {"name": "x"}, want=409, headers=T)
    finally:
        site.cleanup()


# --- the independent linter ----------------------------------------------------------

def npm_tooling():
    """Redocly's CLI installed from the pinned lock file (the Makefile's
    build/npm, or installed here when that is missing or stale)."""
    bin_path = os.path.join(NPM_DIR, "node_modules", ".bin", "redocly")
    lock = os.path.join(NPM_SRC, "package-lock.json")
    copy = os.path.join(NPM_DIR, "package-lock.json")
    fresh = (os.path.exists(bin_path) and os.path.exists(copy) and
             open(copy, "rb").read() == open(lock, "rb").read())
    if not fresh:
        assert shutil.which("npm"), "npm is needed (Debian: apt-get install nodejs npm)"
        os.makedirs(NPM_DIR, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(os.path.join(NPM_SRC, name), os.path.join(NPM_DIR, name))
        out = run(["npm", "ci", "--prefix", NPM_DIR, "--ignore-scripts", "--no-audit", "--no-fund"],
                  timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
    return bin_path


def test_redocly_lint_passes():
    redocly = npm_tooling()
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_COLOR="1")
    version = run([redocly, "--version"], env=env)
    pinned = json.load(open(os.path.join(NPM_SRC, "package.json")))["dependencies"]["@redocly/cli"]
    assert version.stdout.strip() == pinned, (version.stdout, version.stderr, pinned)
    status, h, body = app.request("GET", "/api/v1/openapi.json")
    path = os.path.join(app.state, "openapi.json")  # lint exactly what is served
    with open(path, "wb") as f:
        f.write(body)
    out = run([redocly, "lint", "--config", os.path.join(NPM_SRC, "redocly.yaml"), "--format", "stylish", path],
              env=env, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 0 and "valid" in text, text
    assert not re.search(r"\b(error|warning)\b", text.split("validated in")[0]), text
