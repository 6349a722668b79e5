"""The event log and the live view against the real binary: events sent
by terminals (mosquitto_pub over mutual TLS), read back through
GET /api/v1/events with every filter and the cursor (while new events
arrive), exported as CSV and XLSX (read back with Python's csv and
openpyxl), tenant-scoped, with personal fields only for the roles that
may see them; and GET /api/v1/stream read as Server-Sent Events: a new
event within seconds, the tenant's only, authentication required, resume
with Last-Event-ID, 503 beyond web.max_streams."""

import csv
import io
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.parse

from harness import SLOW, Appliance, Session, bootstrap_admin, create_admin, run
from peers import Terminal

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BASE = 1795000000000  # events "at" from here, one second apart

app = root = work = None
ids = {}
seeded = []  # (at, kind, door, person, result) of the seeded events, in publish order


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def q(**params):
    return "/api/v1/events?" + urllib.parse.urlencode(params)


def items(session, **params):
    return ok(session.call("GET", q(**params)))["items"]


def setup_module():
    global app, root, work
    work = tempfile.mkdtemp(prefix="gh-events-")
    app = Appliance(sets=["limits.api_per_second=5000", "limits.api_burst=5000"]).start()
    root = bootstrap_admin(app)
    hq = ok(root.call("POST", "/api/v1/sites", {"name": "HQ", "timezone": "Asia/Tokyo"}), 201)["id"]
    annex = ok(root.call("POST", "/api/v1/sites", {"name": "Annex", "timezone": "Asia/Tokyo"}), 201)["id"]
    ids.update(hq=hq, annex=annex)
    ids["t1"] = Terminal(app, root, work, "hq-reader", site_id=hq)
    ids["t2"] = Terminal(app, root, work, "annex-reader", site_id=annex)
    ids["d1"] = ok(root.call("POST", "/api/v1/doors", {"site_id": hq, "name": "正面玄関",
                                                       "terminal_id": ids["t1"].id}), 201)["id"]
    ids["d2"] = ok(root.call("POST", "/api/v1/doors", {"site_id": annex, "name": "Annex door",
                                                       "terminal_id": ids["t2"].id}), 201)["id"]
    ids["taro"] = ok(root.call("POST", "/api/v1/people", {"name": "山田 太郎"}), 201)["id"]
    ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"], {"kind": "card", "number": "045012345678"}), 201)
    ids["bob"] = ok(root.call("POST", "/api/v1/people", {"name": "Bob Example"}), 201)["id"]
    ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["bob"], {"kind": "card", "number": "11112222"}), 201)
    # 30 events: alternating terminals, people, results; a few door states.
    batches = {"t1": [], "t2": []}
    for i in range(30):
        t = "t1" if i % 2 == 0 else "t2"
        door = ids["d1"] if t == "t1" else ids["d2"]
        at = BASE + i * 1000
        if i % 10 == 9:
            ev = ids[t].event("door_opened", door_id=door, at=at)
            seeded.append((at, "door_opened", door, None, None))
        else:
            card = ["045012345678", "11112222", "99998888"][i % 3]
            person = {0: ids["taro"], 1: ids["bob"], 2: None}[i % 3]
            result = "denied" if card == "99998888" else "granted"
            ev = ids[t].event("access", door_id=door, card=card, result=result, at=at)
            seeded.append((at, "access", door, person, result))
        batches[t].append(ev)
    for t, evs in batches.items():
        ids[t].publish(evs)


def teardown_module():
    if app:
        app.cleanup()
    shutil.rmtree(work, ignore_errors=True)


def ats(rows):
    return [int(time.mktime(time.strptime(r["at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone) * 1000 +
            int(r["at"][20:23]) for r in rows]


# --- the log -----------------------------------------------------------------------------

def test_newest_first_with_names_and_personal_fields():
    rows = items(root, limit=500)
    assert len(rows) == 30, rows
    assert ats(rows) == sorted((s[0] for s in seeded), reverse=True)
    first = [r for r in rows if r["person_id"] == ids["taro"] and r["door_id"] == ids["d1"]][0]
    assert first["person_name"] == "山田 太郎" and first["card"] == "****5678", first
    assert (first["door_name"], first["device_name"], first["site_name"]) == ("正面玄関", "hq-reader", "HQ"), first
    assert first["kind"] == "access" and first["result"] == "granted" and first["tenant_id"] == 1
    unknown = [r for r in rows if r["result"] == "denied"][0]
    assert unknown["person_id"] is None and unknown["person_name"] is None and unknown["card"] == "****8888", unknown


def test_every_filter():
    def expect(rows, pred):
        want = sorted((s[0] for s in seeded if pred(s)), reverse=True)
        assert ats(rows) == want, (ats(rows), want)

    expect(items(root, person_id=ids["taro"]), lambda s: s[3] == ids["taro"])
    expect(items(root, card="1111-2222"), lambda s: s[3] == ids["bob"])  # through the blind index
    assert items(root, card="55556666") == []  # nobody holds it
    expect(items(root, door_id=ids["d2"]), lambda s: s[2] == ids["d2"])
    expect(items(root, device_id=ids["t1"].id), lambda s: s[2] == ids["d1"])
    expect(items(root, site_id=ids["annex"]), lambda s: s[2] == ids["d2"])
    expect(items(root, kind="door_opened"), lambda s: s[1] == "door_opened")
    expect(items(root, result="denied"), lambda s: s[4] == "denied")
    expect(items(root, result="granted", door_id=ids["d1"]), lambda s: s[4] == "granted" and s[2] == ids["d1"])
    # from inclusive, to exclusive; ISO 8601 with an offset, or Unix ms.
    lo, hi = BASE + 5000, BASE + 12000
    iso = time.strftime("%Y-%m-%dT%H:%M:%S+09:00", time.gmtime(lo / 1000 + 9 * 3600))
    expect(items(root, **{"from": iso, "to": hi}), lambda s: lo <= s[0] < hi)
    expect(items(root, **{"from": lo, "to": str(hi)}), lambda s: lo <= s[0] < hi)
    status, doc = root.call("GET", q(**{"from": "yesterday", "to": "2026-13-40", "kind": "party", "result": "maybe",
                                        "door_id": "x", "cursor": "nope"}))
    assert status == 400
    assert {f["field"] for f in doc["error"]["fields"]} == {"from", "to", "kind", "result", "door_id", "cursor"}, doc


def test_access_report_holds_the_persons_events_and_no_one_elses():
    for who in ("taro", "bob"):
        report = ok(root.call("GET", "/api/v1/people/%d/report" % ids[who]))
        want = sorted((s[0] for s in seeded if s[3] == ids[who]), reverse=True)
        assert want and ats(report["events"]) == want, (ats(report["events"]), want)
        assert report["events_complete"] is True
        assert all(e["person_id"] == ids[who] and e["person_name"] == report["name"] for e in report["events"])
        assert {e["door_name"] for e in report["events"]} <= {"正面玄関", "Annex door"}
    audit = ok(root.call("GET", "/api/v1/audit?action=person.access_report"))["items"]
    assert {a["target"] for a in audit} >= {"person:%d" % ids["taro"], "person:%d" % ids["bob"]}


def test_pages_have_no_duplicates_or_gaps_while_events_arrive():
    expected = sorted((s[0] for s in seeded), reverse=True)
    got, cursor, n = [], None, 0
    t = ids["t1"]
    while True:
        params = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = ok(root.call("GET", q(**params)))
        got += page["items"]
        # New events keep arriving (newer than every seeded one).
        t.publish(t.event("access", door_id=ids["d1"], card="045012345678", result="granted"))
        n += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    seeded_at = {s[0] for s in seeded}
    old = [r for r in got if ats([r])[0] in seeded_at]
    new = [r for r in got if r not in old]  # arrived after the first page: none can show
    assert ats(old) == expected, "duplicates or gaps across pages"
    assert len({r["id"] for r in got}) == len(got)
    assert new == [] and n >= 5


def test_auditors_see_no_personal_fields():
    aud = create_admin(app, "ev-auditor", "auditor", tenant="default")
    assert aud.login()[0] == 200
    rows = items(aud, person_id=ids["taro"], limit=5)
    assert rows and all(r["person_id"] == ids["taro"] for r in rows)
    assert all("person_name" not in r and "card" not in r for r in rows), rows[0]
    oper = create_admin(app, "ev-oper", "operator", tenant="default")
    assert oper.login()[0] == 200
    assert items(oper, person_id=ids["taro"], limit=1)[0]["person_name"] == "山田 太郎"
    # Every page with names and cards is audited as a read of personal data,
    # with its size; the auditor's pages hold none and are not (older
    # events, so that the other tests' selections stay as they are).
    t = ids["t1"]
    t.publish([t.event("door_opened", door_id=ids["d1"], at=BASE - 100000 + i) for i in range(80)])

    def actor(session):
        return "admin:%d" % ok(session.call("GET", "/api/v1/session"))["admin"]["id"]

    def reads():
        return [a for a in ok(root.call("GET", "/api/v1/audit?action=events.read&limit=500"))["items"]
                if a["actor_id"] in (actor(aud), actor(oper))]

    before = reads()
    assert len(items(aud, limit=100)) == 100
    assert reads() == before
    assert len(items(oper, limit=100)) == 100
    assert len(items(oper, person_id=ids["taro"], limit=3)) == 3
    new = [a for a in reads() if a not in before]
    assert [a["details"] for a in new] == [{"events": 3, "person_id": ids["taro"]}, {"events": 100}], new
    assert all(a["actor_id"] == actor(oper) and a["target"] == "events" for a in new)


def test_events_are_tenant_scoped():
    ok(root.call("POST", "/api/v1/tenants", {"slug": "acme", "name": "Acme"}), 201)
    other = create_admin(app, "acme-events", "tenant-admin", tenant="acme")
    assert other.login()[0] == 200
    assert items(other) == []
    assert items(other, door_id=ids["d1"]) == []
    assert items(other, card="045012345678") == []
    assert ok(root.call("GET", "/api/v1/events", headers={"X-Tenant": "acme"}))["items"] == []
    status, h, data = other.raw("GET", "/api/v1/events/export?format=csv")
    assert status == 200 and len(data.decode("utf-8-sig").strip().splitlines()) == 1


def test_export_csv_and_xlsx_read_back():
    status, h, data = root.raw("GET", "/api/v1/events/export?format=csv&door_id=%d&from=%d&to=%d" % (ids["d1"], BASE, BASE + 30000))
    assert status == 200 and h["content-type"].startswith("text/csv")
    assert h["content-disposition"] == 'attachment; filename="events.csv"'
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    want = [s for s in seeded if s[2] == ids["d1"]]
    assert len(rows) == len(want) == 15
    assert {r["door_name"] for r in rows} == {"正面玄関"}
    assert any(r["person_name"] == "山田 太郎" and r["card"] == "****5678" for r in rows)
    status, h, data = root.raw("GET", "/api/v1/events/export?format=xlsx&from=%d&to=%d" % (BASE, BASE + 30000))
    assert status == 200 and data[:2] == b"PK"
    path = os.path.join(work, "events.xlsx")
    with open(path, "wb") as f:
        f.write(data)
    out = run(["/usr/bin/python3", os.path.join(TOP, "tests/tools/xlsx_read.py"), path])
    assert out.returncode == 0, out.stderr
    sheet = [json.loads(line) for line in out.stdout.splitlines()]
    assert sheet[0][:3] == ["id", "at", "kind"] and len(sheet) == 31
    assert any("山田 太郎" in r for r in sheet[1:])
    aud = Session(app, "ev-auditor", "Adm1n-Passw0rd!")
    assert aud.login()[0] == 200
    status, h, data = aud.raw("GET", "/api/v1/events/export?format=csv")
    header = data.decode("utf-8-sig").splitlines()[0]
    assert "person_name" not in header and "card" not in header and "person_id" in header
    audit = ok(root.call("GET", "/api/v1/audit?action=events.export"))["items"]
    assert len(audit) >= 3 and audit[0]["outcome"] == "ok"
    assert root.call("GET", "/api/v1/events/export?format=pdf")[0] == 400


# --- the live stream ----------------------------------------------------------------------

class SSE:
    """A Server-Sent Events client on a raw socket read line by line."""

    def __init__(self, session, headers=None, app_=None):
        a = app_ or app
        self.conn = session.connection()
        hdrs = {"Accept": "text/event-stream"}
        if session.cookie:
            hdrs["Cookie"] = "gh_session=" + session.cookie
        hdrs.update(headers or {})
        self.conn.request("GET", "/api/v1/stream", headers=hdrs)
        self.res = self.conn.getresponse()
        self.status = self.res.status
        self.headers = {k.lower(): v for k, v in self.res.getheaders()}
        self.last_id = None
        del a

    def next(self, timeout=10):
        """The next message (event, id, data) or None after timeout."""
        self.conn.sock.settimeout(timeout * SLOW)
        msg = {}
        try:
            while True:
                line = self.res.readline().decode()
                if not line:
                    return None
                line = line.rstrip("\n")
                if line == "":
                    if "data" in msg:
                        self.last_id = msg.get("id", self.last_id)
                        return msg.get("event", "message"), msg.get("id"), json.loads(msg["data"])
                    msg = {}
                    continue
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(": ")
                msg[k] = v
        except (socket.timeout, TimeoutError):
            return None

    def until(self, pred, timeout=10):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            m = self.next(max(0.1, deadline - time.time()))
            if m and pred(m):
                return m
        return None

    def close(self):
        self.conn.close()


def test_stream_delivers_new_events_of_the_tenant_within_seconds():
    s = SSE(root)
    assert s.status == 200 and s.headers["content-type"].startswith("text/event-stream")
    other = Session(app, "acme-events", "Adm1n-Passw0rd!")
    assert other.login()[0] == 200
    o = SSE(other)
    try:
        t = ids["t2"]
        t0 = time.time()
        t.publish(t.event("access", door_id=ids["d2"], card="11112222", result="granted"))
        m = s.until(lambda m: m[0] == "event" and m[2]["door_id"] == ids["d2"] and m[2]["seq"] == t.seq)
        assert m, "no event on the stream"
        print("# live stream: event published -> received on the stream in %.3f s" % (time.time() - t0))
        assert time.time() - t0 < 30 * SLOW
        assert m[2]["person_name"] == "Bob Example" and m[2]["door_name"] == "Annex door"
        # A forced door: the event, then its alert.
        t.publish(t.event("door_forced", door_id=ids["d2"]))
        a = s.until(lambda m: m[0] == "alert" and m[2]["kind"] == "door.forced")
        assert a and a[2]["tenant_id"] == 1
        # The other tenant saw none of it; its own terminal's events it does see.
        acme = Terminal(app, other, work, "acme-reader")
        acme.publish(acme.event("door_opened"))
        got = o.until(lambda m: m[0] == "event")
        assert got and got[2]["device_id"] == acme.id and got[2]["tenant_id"] != 1, got
    finally:
        s.close()
        o.close()


def test_stream_resumes_from_last_event_id():
    s = SSE(root)
    t = ids["t1"]
    t.publish(t.event("door_opened", door_id=ids["d1"]))
    m = s.until(lambda m: m[0] == "event")
    assert m
    s.close()
    missed = [t.event("door_closed", door_id=ids["d1"]) for _ in range(3)]
    t.publish(missed)
    r = SSE(root, headers={"Last-Event-ID": m[1]})
    try:
        got = [r.next(5) for _ in range(3)]
        assert all(g and g[0] == "event" for g in got), got
        assert [g[2]["seq"] for g in got] == [e["seq"] for e in missed]
    finally:
        r.close()


def test_stream_needs_authentication_and_is_bounded():
    anon = Session(app, "", "")
    status, doc = anon.call("GET", "/api/v1/stream")
    assert status == 401
    a = Appliance(sets=["web.max_streams=2"]).start()
    try:
        s = bootstrap_admin(a)
        open_ = [SSE(s), SSE(s)]
        assert all(x.status == 200 for x in open_)
        status, h, data = s.raw("GET", "/api/v1/stream")
        assert status == 503 and h["retry-after"] == "5", (status, data)
        assert json.loads(data)["error"]["code"] == "unavailable"
        # The rest of the API is not starved meanwhile.
        assert s.call("GET", "/api/v1/events")[0] == 200
        # Logging out ends the stream at its next heartbeat at the latest.
        for x in open_:
            x.close()
    finally:
        a.cleanup()
