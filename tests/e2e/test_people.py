"""People, credentials and access rules through the REST API of the real
binary: a whole site set up as an admin would, decisions, validation,
ETags, tenant isolation, photos, import and export (read back by openpyxl),
the access report and erasure (checked against a copy of the database file
with the real key store)."""

import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time

from harness import BUILD, Appliance, Session, bootstrap_admin, create_admin, run

FIXTURE = os.path.abspath(os.path.join(BUILD, "vault-fixture"))
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

app = None
root = None
ids = {}


def setup_module():
    global app, root
    app = Appliance(sets=["limits.api_per_second=5000", "limits.api_burst=5000"]).start()
    root = bootstrap_admin(app)


def teardown_module():
    app.cleanup()


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def test_build_a_site_and_decide():
    ids["site"] = ok(root.call("POST", "/api/v1/sites", {"name": "Tokyo HQ", "timezone": "Asia/Tokyo"}), 201)["id"]
    ids["main"] = ok(root.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": "Main entrance",
                                                         "unlock_seconds": 5}), 201)["id"]
    ids["lab"] = ok(root.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": "Lab"}), 201)["id"]
    ids["hols"] = ok(root.call("POST", "/api/v1/holidays", {"name": "Japan 2026", "dates": [
        {"date": "2026-11-23", "name": "勤労感謝の日"}, {"date": "2026-12-31", "name": "大晦日"}]}), 201)["id"]
    weekdays = [{"day": d, "start": "08:00", "end": "19:00"} for d in ("mon", "tue", "wed", "thu", "fri")]
    ids["office"] = ok(root.call("POST", "/api/v1/schedules", {
        "name": "Office hours", "holiday_set_id": ids["hols"],
        "windows": weekdays + [{"day": "holiday", "start": "10:00", "end": "12:00"}]}), 201)["id"]
    ids["night"] = ok(root.call("POST", "/api/v1/schedules", {
        "name": "Night shift", "windows": [{"day": "fri", "start": "22:00", "end": "06:00"}]}), 201)["id"]
    ids["staff"] = ok(root.call("POST", "/api/v1/access-groups", {"name": "Staff"}), 201)["id"]
    ids["guards"] = ok(root.call("POST", "/api/v1/access-groups", {"name": "Guards"}), 201)["id"]
    ok(root.call("POST", "/api/v1/access-levels", {"name": "Staff main", "group_id": ids["staff"],
                                                   "schedule_id": ids["office"], "door_ids": [ids["main"]]}), 201)
    ok(root.call("POST", "/api/v1/access-levels", {"name": "Guards nights", "group_id": ids["guards"],
                                                   "schedule_id": ids["night"],
                                                   "door_ids": [ids["main"], ids["lab"]]}), 201)
    taro = ok(root.call("POST", "/api/v1/people", {"name": "山田 太郎", "email": "taro.yamada@example.jp",
                                                   "employee_no": "E-1001", "group_ids": [ids["staff"]]}), 201)
    ids["taro"] = taro["id"]
    ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"], {"kind": "card", "number": "0450 1234 5678"}), 201)
    ids["hanako"] = ok(root.call("POST", "/api/v1/people", {"name": "鈴木 花子", "group_ids": [ids["guards"]],
                                                            "valid_until": "2026-12-01T00:00:00"}), 201)["id"]
    ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["hanako"], {"kind": "card", "number": "777000111"}), 201)

    def decide(card, door, at):
        return ok(root.call("POST", "/api/v1/decisions", {"card": card, "door_id": door, "at": at}))

    # Thursday 2026-11-26 10:00 in Tokyo: office hours.
    d = decide("045012345678", ids["main"], "2026-11-26T10:00:00+09:00")
    assert d["grant"] and d["reason"] == "granted" and d["person_id"] == ids["taro"]
    assert decide("045012345678", ids["main"], "2026-11-26T19:00:00+09:00")["reason"] == "outside_schedule"
    assert decide("045012345678", ids["lab"], "2026-11-26T10:00:00+09:00")["reason"] == "no_access_level"
    # A holiday replaces the weekday: only its own 10:00-12:00 window.
    assert decide("045012345678", ids["main"], "2026-11-23T09:00:00+09:00")["reason"] == "holiday"
    assert decide("045012345678", ids["main"], "2026-11-23T11:00:00+09:00")["grant"]
    # Friday night into Saturday morning, across midnight; then her validity ends.
    assert decide("777000111", ids["lab"], "2026-11-27T23:30:00+09:00")["grant"]
    assert decide("777000111", ids["lab"], "2026-11-28T05:59:59+09:00")["grant"]
    assert decide("777000111", ids["lab"], "2026-11-28T06:00:00+09:00")["reason"] == "outside_schedule"
    assert decide("777000111", ids["lab"], "2026-12-04T23:30:00+09:00")["reason"] == "person_expired"
    assert decide("1111", ids["main"], "2026-11-26T10:00:00+09:00")["reason"] == "unknown_credential"
    # Suspending the person denies at once.
    p = ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))
    ok(root.call("PATCH", "/api/v1/people/%d" % ids["taro"], {"status": "suspended"},
                 headers={"If-Match": '"%d"' % p["version"]}))
    assert decide("045012345678", ids["main"], "2026-11-26T10:00:00+09:00")["reason"] == "person_suspended"
    p = ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))
    ok(root.call("PATCH", "/api/v1/people/%d" % ids["taro"], {"status": "active"},
                 headers={"If-Match": '"%d"' % p["version"]}))


def test_validation_lists_every_field():
    status, doc = root.call("POST", "/api/v1/people", {"email": "not-an-email", "status": "retired",
                                                       "valid_from": "2026-02-30", "shoe_size": 43})
    assert status == 400 and doc["error"]["code"] == "invalid"
    fields = {f["field"]: f["reason"] for f in doc["error"]["fields"]}
    assert set(fields) == {"name", "email", "status", "valid_from", "shoe_size"}, fields
    assert fields["shoe_size"] == "is not a known field"
    status, doc = root.call("POST", "/api/v1/sites", {"name": "X", "timezone": "Mars/Olympus"})
    assert status == 400 and "tz database" in doc["error"]["fields"][0]["reason"]
    status, doc = root.call("POST", "/api/v1/schedules", {"name": "bad", "windows": [
        {"day": "funday", "start": "08:00", "end": "09:00"}, {"day": "mon", "start": "25:00", "end": "09:00"}]})
    assert status == 400 and {f["field"] for f in doc["error"]["fields"]} == {"windows[0]", "windows[1]"}
    status, doc = root.call("POST", "/api/v1/doors", {"site_id": 99999, "name": "Nowhere"})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "site_id"
    status, doc = root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"], {"kind": "card", "number": "12"})
    assert status == 400 and doc["error"]["fields"][0]["reason"] == "must have 4 to 32 digits"
    status, h, body = root.raw("POST", "/api/v1/people", b"{not json", {"Content-Type": "application/json"})
    assert status == 400 and b"bad_json" in body
    status, h, body = root.raw("POST", "/api/v1/people", b"name=x", {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415

    # Found by fuzzing: a run of choices is not a choice, null is not a value
    # for a column that must have one, a time is exactly HH:MM.
    for body, field in (({"kind": "card|pin"}, "kind"), ({"kind": "fingerprint|mobile"}, "kind")):
        status, doc = root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"], body)
        assert status == 400 and field in [f["field"] for f in doc["error"]["fields"]], doc
    status, doc = root.call("POST", "/api/v1/people", {"name": "X", "status": "active|suspended"})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "status"
    status, doc = root.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": "Back", "unlock_seconds": None})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "unlock_seconds", doc
    status, doc = root.call("POST", "/api/v1/access-groups", {"name": "Nulls", "description": None})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "description", doc
    status, doc = root.call("PATCH", "/api/v1/sites/%d" % ids["site"], {"name": None, "timezone": None},
                            headers={"If-Match": '"1"'})
    assert status == 400 and {f["field"] for f in doc["error"]["fields"]} == {"name", "timezone"}, doc
    p = ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))
    status, doc = root.call("PATCH", "/api/v1/people/%d" % ids["taro"], {"status": None},
                            headers={"If-Match": '"%d"' % p["version"]})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "status", doc
    c = p["credentials"][0]
    status, doc = root.call("PATCH", "/api/v1/people/%d/credentials/%d" % (ids["taro"], c["id"]),
                            {"label": None, "status": None}, headers={"If-Match": '"%d"' % c["version"]})
    assert status == 400 and {f["field"] for f in doc["error"]["fields"]} == {"label", "status"}, doc
    # Query filters: a NUL or a value too long matches no one (never "no filter");
    # ids are whole numbers.
    for q in ("email=%00", "email=" + "a" * 400 + "%40example.org", "card=1%002"):
        assert ok(root.call("GET", "/api/v1/people?" + q))["items"] == [], q
    for q in ("group=1abc", "cursor=0", "cursor=x"):
        status, doc = root.call("GET", "/api/v1/people?" + q)
        assert status == 400, (q, doc)
    for bad in (" 9:00", "09:+5", "1: 00", "+9:00", "0900"):
        status, doc = root.call("POST", "/api/v1/schedules", {"name": "odd", "windows": [
            {"day": "mon", "start": bad, "end": "10:00"}]})
        assert status == 400, (bad, doc)


def test_etag_and_if_match():
    status, h, body = root.raw("GET", "/api/v1/sites/%d" % ids["site"])
    etag = h["etag"]
    assert status == 200 and etag == '"1"'
    status, doc = root.call("PATCH", "/api/v1/sites/%d" % ids["site"], {"name": "Tokyo head office"})
    assert status == 428 and doc["error"]["code"] == "precondition_required"
    status, doc = root.call("PATCH", "/api/v1/sites/%d" % ids["site"], {"name": "Tokyo head office"},
                            headers={"If-Match": etag})
    assert status == 200 and doc["version"] == 2 and doc["name"] == "Tokyo head office"
    # A second admin still holding the old ETag is refused, not silently overwriting.
    status, doc = root.call("PATCH", "/api/v1/sites/%d" % ids["site"], {"name": "Stale write"},
                            headers={"If-Match": etag})
    assert status == 412 and doc["error"]["code"] == "precondition_failed"
    assert ok(root.call("GET", "/api/v1/sites/%d" % ids["site"]))["name"] == "Tokyo head office"
    # A site with doors cannot be deleted.
    status, doc = root.call("DELETE", "/api/v1/sites/%d" % ids["site"])
    assert status == 409 and "doors" in doc["error"]["message"]


def test_duplicate_card_and_other_credentials():
    status, doc = root.call("POST", "/api/v1/people/%d/credentials" % ids["hanako"], {"kind": "card", "number": "0450-1234-5678"})
    assert status == 409, doc
    pin = ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["hanako"], {"kind": "pin", "pin": "4711"}), 201)
    assert pin["hint"] == "PIN"
    mobile = ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["hanako"], {"kind": "mobile", "label": "phone"}), 201)
    assert mobile["token"].startswith("ghm_")
    face = ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["hanako"], {"kind": "face",
                                                                                 "template": "AAECAwQFBgcICQ=="}), 201)
    assert face["hint"] == "template 10 bytes"
    creds = ok(root.call("GET", "/api/v1/people/%d/credentials" % ids["hanako"]))["items"]
    assert [c["kind"] for c in creds] == ["card", "pin", "mobile", "face"]
    assert all("token" not in c and "number" not in c for c in creds)
    # Nothing of these is in the database in clear.
    db = open(app.db(), "rb").read() + open(app.db() + "-wal", "rb").read()
    assert mobile["token"].encode() not in db and b"4711" not in db
    status, doc = root.call("PATCH", "/api/v1/people/%d/credentials/%d" % (ids["hanako"], pin["id"]),
                            {"status": "lost"}, headers={"If-Match": '"1"'})
    assert status == 200 and doc["status"] == "lost"


def test_filters_and_pagination():
    for i in range(120):
        ok(root.call("POST", "/api/v1/people", {"name": "Person %03d" % i, "email": "p%03d@example.com" % i,
                                                "employee_no": "B-%03d" % i,
                                                "status": "suspended" if i % 10 == 0 else "active"}), 201)
    seen, cursor = [], None
    while True:
        doc = ok(root.call("GET", "/api/v1/people?limit=50" + ("&cursor=" + cursor if cursor else "")))
        seen += [p["id"] for p in doc["items"]]
        cursor = doc["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) >= 122 and seen == sorted(seen)
    one = ok(root.call("GET", "/api/v1/people?email=P042@EXAMPLE.COM"))["items"]
    assert [p["name"] for p in one] == ["Person 042"]
    assert [p["name"] for p in ok(root.call("GET", "/api/v1/people?employee_no=B-007"))["items"]] == ["Person 007"]
    assert [p["id"] for p in ok(root.call("GET", "/api/v1/people?card=0450-1234-5678"))["items"]] == [ids["taro"]]
    assert len(ok(root.call("GET", "/api/v1/people?status=suspended&limit=500"))["items"]) == 12
    assert [p["id"] for p in ok(root.call("GET", "/api/v1/people?group=%d" % ids["staff"]))["items"]] == [ids["taro"]]
    status, doc = root.call("GET", "/api/v1/people?status=gone")
    assert status == 400 and doc["error"]["fields"][0]["field"] == "status"


def test_tenants_are_isolated():
    ok(root.call("POST", "/api/v1/tenants", {"slug": "branch", "name": "Branch office"}), 201)
    other = {"X-Tenant": "branch"}
    site = ok(root.call("POST", "/api/v1/sites", {"name": "Osaka", "timezone": "Asia/Tokyo"}, headers=other), 201)
    person = ok(root.call("POST", "/api/v1/people", {"name": "大阪 一郎"}, headers=other), 201)
    admin = create_admin(app, "branch-admin", "tenant-admin", tenant="branch")
    assert admin.login()[0] == 200
    # Their own tenant only: ids of the default tenant answer 404.
    assert admin.call("GET", "/api/v1/people/%d" % person["id"])[0] == 200
    assert admin.call("GET", "/api/v1/people/%d" % ids["taro"])[0] == 404
    assert admin.call("GET", "/api/v1/sites/%d" % ids["site"])[0] == 404
    assert admin.call("GET", "/api/v1/sites/%d" % site["id"])[0] == 200
    assert admin.call("PATCH", "/api/v1/people/%d" % ids["taro"], {"name": "x"}, headers={"If-Match": '"1"'})[0] == 404
    assert admin.call("DELETE", "/api/v1/people/%d" % ids["taro"])[0] == 404
    assert admin.call("GET", "/api/v1/people", headers={"X-Tenant": "default"})[0] == 404
    names = [p["name"] for p in ok(admin.call("GET", "/api/v1/people?limit=500"))["items"]]
    assert names == ["大阪 一郎"]
    # A card of one tenant is unknown in the other; the same number may exist in both.
    status, doc = admin.call("POST", "/api/v1/decisions", {"card": "045012345678", "door_id": ids["main"]})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "door_id"
    ok(admin.call("POST", "/api/v1/people/%d/credentials" % person["id"], {"kind": "card", "number": "045012345678"}), 201)
    # Referencing another tenant's rows is refused.
    status, doc = admin.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": "sneaky"})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "site_id"


def test_photo_upload_and_read():
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201e26c8f7a0000000049454e44ae426082")
    status, h, body = root.raw("PUT", "/api/v1/people/%d/photo" % ids["taro"], png, {"Content-Type": "image/png"})
    assert status == 204
    status, h, body = root.raw("GET", "/api/v1/people/%d/photo" % ids["taro"])
    assert status == 200 and body == png and h["content-type"] == "image/png"
    assert ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))["has_photo"] is True
    status, h, body = root.raw("PUT", "/api/v1/people/%d/photo" % ids["taro"], b"GIF89a....", {"Content-Type": "image/gif"})
    assert status == 400
    assert png not in open(app.db(), "rb").read()


def audit_since(mark, action):
    return [a for a in ok(root.call("GET", "/api/v1/audit?action=%s&limit=500" % action))["items"] if a["id"] > mark]


def test_every_read_of_personal_data_is_audited_without_the_values():
    mark = max(a["id"] for a in ok(root.call("GET", "/api/v1/audit?limit=1"))["items"])
    ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))
    ok(root.call("GET", "/api/v1/people/%d/credentials" % ids["taro"]))
    status, h, body = root.raw("GET", "/api/v1/people/%d/photo" % ids["taro"])
    assert status == 200
    assert [a["target"] for a in audit_since(mark, "person.read")] == ["person:%d" % ids["taro"]] * 2
    assert [a["target"] for a in audit_since(mark, "person.photo_read")] == ["person:%d" % ids["taro"]]
    page = ok(root.call("GET", "/api/v1/people?limit=7"))["items"]
    ok(root.call("GET", "/api/v1/people?email=P042@EXAMPLE.COM"))
    assert ok(root.call("GET", "/api/v1/people?email=nobody@example.org"))["items"] == []  # nothing shown, nothing read
    reads = audit_since(mark, "people.read")
    assert [a["details"] for a in reads] == [{"people": 1, "by": "email"}, {"people": len(page)}], reads
    assert "P042" not in json.dumps(reads).upper() and "EXAMPLE.COM" not in json.dumps(reads).upper()
    # The entries name the reader.
    me = ok(root.call("GET", "/api/v1/session"))["admin"]["id"]
    assert {a["actor_id"] for a in reads} == {"admin:%d" % me}


def test_export_csv_and_xlsx_read_back():
    status, h, body = root.raw("GET", "/api/v1/people/export?format=csv")
    assert status == 200 and h["content-type"].startswith("text/csv")
    text = body.decode("utf-8-sig")
    assert text.startswith("id,name,email,phone,employee_no,status")
    assert "山田 太郎" in text and "****5678" in text and "045012345678" not in text
    status, h, body = root.raw("GET", "/api/v1/people/export?format=xlsx")
    assert status == 200 and "spreadsheetml" in h["content-type"]
    d = tempfile.mkdtemp(prefix="gh-xlsx-")
    try:
        path = os.path.join(d, "people.xlsx")
        open(path, "wb").write(body)
        out = run(["/usr/bin/python3", os.path.join(TOP, "tests/tools/xlsx_read.py"), path])
        assert out.returncode == 0, out.stderr
        rows = [json.loads(l) for l in out.stdout.splitlines()]
        assert rows[0][:3] == ["id", "name", "email"]
        names = [r[1] for r in rows[1:]]
        assert "山田 太郎" in names and "鈴木 花子" in names and len(rows) >= 123
    finally:
        shutil.rmtree(d)
    actions = [r[0] for r in sqlite3.connect(app.db()).execute("SELECT action FROM audit_log")]
    assert actions.count("people.export") >= 2


def csv_body(rows):
    return ("\ufeffname,email,employee_no,card,groups\r\n" + "".join(rows)).encode()


def test_import_dry_run_reports_and_apply_is_all_or_nothing():
    rows = ["新井 一,arai@example.jp,C-1,90001,Staff\r\n",
            ",nobody@example.jp,C-2,90002,\r\n",                    # line 3: no name
            "Bad Card,bad@example.jp,C-3,12,\r\n",                  # line 4: card too short
            "Twice,t1@example.jp,C-4,90001,\r\n",                   # line 5: card twice in file
            "Taken,t2@example.jp,E-1001,90005,\r\n",                # line 6: employee_no exists
            "\"Quoted, Name\",q@example.jp,C-6,90006,Nope\r\n"]     # line 7: unknown group
    status, doc = root.call("POST", "/api/v1/people/import?dry_run=true", csv_body(rows), {"Content-Type": "text/csv"})
    assert status == 200 and doc["dry_run"] and doc["rows"] == 6 and doc["valid"] == 1, doc
    errs = {(e["line"], e["field"]) for e in doc["errors"]}
    assert errs == {(3, "name"), (4, "card"), (5, "card"), (6, "employee_no"), (7, "groups")}, errs
    before = len(ok(root.call("GET", "/api/v1/people?limit=500"))["items"])
    status, doc = root.call("POST", "/api/v1/people/import", csv_body(rows), {"Content-Type": "text/csv"})
    assert status == 400 and doc["imported"] == 0
    assert len(ok(root.call("GET", "/api/v1/people?limit=500"))["items"]) == before
    status, doc = root.call("POST", "/api/v1/people/import", csv_body([rows[0], rows[5].replace("Nope", "Staff")]),
                            {"Content-Type": "text/csv"})
    assert status == 200 and doc["imported"] == 2, doc
    found = ok(root.call("GET", "/api/v1/people?card=90001"))["items"]
    assert [p["name"] for p in found] == ["新井 一"] and found[0]["group_ids"] == [ids["staff"]], (found, ids)
    status, doc = root.call("POST", "/api/v1/people/import", b"name,email,Name\r\nA,a@example.org,B\r\n",
                            {"Content-Type": "text/csv"})
    assert status == 400 and "appears twice" in json.dumps(doc), doc
    status, doc = root.call("POST", "/api/v1/people/import", b"firstname,last\r\nA,B\r\n", {"Content-Type": "text/csv"})
    assert status == 400 and doc["errors"][0]["line"] == 1 and "unknown column" in doc["errors"][0]["reason"]


def test_import_ten_thousand_rows():
    rows = ["Bulk Person %05d,bulk%05d@example.org,K-%05d,5%08d,\r\n" % (i, i, i, i) for i in range(10000)]
    t0 = time.time()
    status, doc = root.call("POST", "/api/v1/people/import", csv_body(rows), {"Content-Type": "text/csv"})
    took = time.time() - t0
    assert status == 200 and doc["imported"] == 10000, doc
    print("# imported 10,000 rows in %.1f s" % took)
    assert ok(root.call("GET", "/api/v1/people?card=500009999"))["items"][0]["name"] == "Bulk Person 09999"


def test_access_report_and_erasure_leave_nothing_readable():
    report = ok(root.call("GET", "/api/v1/people/%d/report" % ids["taro"]))
    assert report["name"] == "山田 太郎" and report["email"] == "taro.yamada@example.jp"
    assert report["credentials"][0]["number"] == "045012345678" and report["photo"]["type"] == "image/png"
    assert "events" in report
    # Correct the name: the audit keeps before/after, sealed under the person's key.
    p = ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))
    ok(root.call("PATCH", "/api/v1/people/%d" % ids["taro"], {"name": "山田 太朗"}, headers={"If-Match": '"%d"' % p["version"]}))
    db = sqlite3.connect(app.db())
    audit_row = db.execute("SELECT id FROM audit_log WHERE action='person.update' AND target=? ORDER BY id DESC",
                           ("person:%d" % ids["taro"],)).fetchone()[0]
    out = run([FIXTURE, "open-field", app.state, app.db(), "1", "audit_log", "sealed", str(audit_row)])
    assert out.returncode == 0 and "山田 太郎" in out.stdout and "山田 太朗" in out.stdout, out

    d = tempfile.mkdtemp(prefix="gh-erase-")
    try:
        # A copy of the database file taken before the erasure.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        copy = os.path.join(d, "before.db")
        shutil.copy(app.db(), copy)
        out = run([FIXTURE, "open-field", app.state, copy, "1", "people", "name", str(ids["taro"])])
        assert out.returncode == 0 and out.stdout.strip() == "山田 太朗", out

        status, h, body = root.raw("DELETE", "/api/v1/people/%d" % ids["taro"])
        assert status == 204
        assert root.call("GET", "/api/v1/people/%d" % ids["taro"])[0] == 404
        status, doc = root.call("POST", "/api/v1/decisions", {"card": "045012345678", "door_id": ids["main"]})
        assert doc["reason"] == "unknown_credential"
        # Neither the old copy nor the audit's sealed before/after can be opened any more.
        for args in ([copy, "1", "people", "name", str(ids["taro"])],
                     [copy, "1", "people", "email", str(ids["taro"])],
                     [app.db(), "1", "audit_log", "sealed", str(audit_row)]):
            out = run([FIXTURE, "open-field", app.state, *args])
            assert out.returncode == 1 and "destroyed" in out.stdout, (args, out.stdout, out.stderr)
        # The live files hold none of it, in the database, its WAL, or anywhere in the state.
        for root_dir, _, files in os.walk(app.state):
            for f in files:
                data = open(os.path.join(root_dir, f), "rb").read()
                for probe in ("山田 太", "taro.yamada", "045012345678"):
                    assert probe.encode() not in data, (f, probe)
        erased = db.execute("SELECT count(*) FROM audit_log WHERE action='person.erase'").fetchone()[0]
        assert erased == 1
        assert gatehouse_ok("audit", "verify")
    finally:
        shutil.rmtree(d)


def gatehouse_ok(*args):
    out = run([os.path.join(BUILD, "gatehouse"), *args, "--state-dir", app.state])
    return out.returncode == 0
