"""Retention in the real binary, with periods of seconds so time can pass in
a test: events published by a terminal (mosquitto_pub) and audit entries
age out exactly when their period says, the audit chain still verifies
after the cut, a tenant on legal hold keeps everything, ended sessions and
revoked tokens go at once, and nothing deleted stays readable in the
database file or its WAL."""

import os
import shutil
import sqlite3
import tempfile
import time

from harness import (SLOW, Appliance, Terminal, bootstrap_admin, bundle_terminal, create_admin, gatehouse)

app = None
root = None
work = None
term = {}

PERSONAL_S = 6
SYSTEM_S = 14


def setup_module():
    global app, root, work
    work = tempfile.mkdtemp(prefix="gh-retention-")
    app = Appliance(sets=["limits.api_per_second=5000", "limits.api_burst=5000",
                          "retention.events_personal=%ds" % PERSONAL_S, "retention.events_system=%ds" % SYSTEM_S,
                          "retention.audit=%ds" % PERSONAL_S, "retention.batch=10"]).start()
    root = bootstrap_admin(app)


def teardown_module():
    app.cleanup()
    shutil.rmtree(work, ignore_errors=True)


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def db(sql, *args):
    con = sqlite3.connect(app.db(), timeout=10)
    try:
        with con:
            return con.execute(sql, args).fetchall()
    finally:
        con.close()


def publish(t, first_seq, n, card=None):
    now = int(time.time() * 1000)
    evs = []
    for i in range(n):
        e = {"seq": first_seq + i, "at": now, "kind": "access" if card else "door_opened"}
        if card:
            e.update(card=card, result="denied", reason="unknown_credential")
        evs.append(e)
    for i in range(0, n, 200):
        out = t.pub("events", {"events": evs[i:i + 200]})
        assert out.returncode == 0, out.stderr


def retention():
    doc = ok(root.call("POST", "/api/v1/jobs/retention/run"), 202)
    deadline = time.time() + 60 * SLOW
    while time.time() < deadline:
        for r in ok(root.call("GET", "/api/v1/jobs/retention/runs"))["items"]:
            if r["id"] == doc["run_id"] and r["status"] != "running":
                assert r["status"] == "ok", r
                return r["details"]
        time.sleep(0.1)
    raise AssertionError("retention did not finish")


def test_old_rows_go_new_rows_stay_and_nothing_readable_remains():
    t = term["a"] = bundle_terminal(app, root, os.path.join(work, "a"), "door-a")
    # A second tenant on legal hold, with its own terminal and events.
    ok(root.call("POST", "/api/v1/tenants", {"slug": "held", "name": "Held"}), 201)
    held = [x for x in ok(root.call("GET", "/api/v1/tenants"))["items"] if x["slug"] == "held"][0]
    h = ok(root.call("PATCH", "/api/v1/tenants/%d" % held["id"], {"legal_hold": True}))
    assert h["legal_hold"] is True
    hs = ok(root.call("POST", "/api/v1/devices", {"name": "held-door", "enrollment": "bundle"},
                      headers={"X-Tenant": "held"}), 201)
    t_held = Terminal(app, os.path.join(work, "h"), hs["device"]["uid"], hs["device"]["id"], hs["bundle"]["key_pem"],
                      hs["bundle"]["cert_pem"], hs["bundle"]["ca_pem"])
    # Old: 120 personal (a card) and 30 system events; more than the batch of 10.
    publish(t, 1, 120, card="0450 9999 0001")
    publish(t, 121, 30)
    publish(t_held, 1, 20, card="0450 9999 0002")
    old_sealed = db("SELECT details FROM events WHERE device_id = ? AND seq = 1", t.id)[0][0]
    assert old_sealed and len(old_sealed) > 40
    old_audit = db("SELECT max(id) FROM audit_log")[0][0]
    time.sleep(PERSONAL_S + 1)
    # New: within every period.
    publish(t, 151, 10, card="0450 9999 0001")
    details = retention()
    left = db("SELECT seq FROM events WHERE device_id = ? ORDER BY seq", t.id)
    assert [s for (s,) in left] == list(range(121, 161)), left  # old personal gone, old system kept (14 s)
    assert db("SELECT count(*) FROM events WHERE device_id = ?", t_held.id) == [(20,)]
    assert details["events_personal_deleted"] == 120 and details["tenants_on_hold"] == 1, details
    # The audit log was not cut past the held tenant's oldest entry, and still verifies.
    first_held = db("SELECT min(id) FROM audit_log WHERE tenant_id = ?", held["id"])[0][0]
    assert db("SELECT min(id) FROM audit_log")[0][0] <= first_held
    out = gatehouse("audit", "verify", "--state-dir", app.state)
    assert out.returncode == 0, out.stdout + out.stderr
    # Nothing of the deleted rows is left in the files: not in the database
    # (secure_delete), not in the WAL (truncated).
    wal = app.db() + "-wal"
    assert not os.path.exists(wal) or os.path.getsize(wal) == 0
    with open(app.db(), "rb") as f:
        assert old_sealed not in f.read()
    # After the system period the old system events go too (and the second
    # batch, past its personal period by now); a fresh one stays.
    time.sleep(SYSTEM_S - PERSONAL_S)
    publish(t, 161, 5)
    retention()
    left = db("SELECT seq FROM events WHERE device_id = ? ORDER BY seq", t.id)
    assert [s for (s,) in left] == list(range(161, 166)), left
    # Lifting the hold lets the held tenant's old data go.
    ok(root.call("PATCH", "/api/v1/tenants/%d" % held["id"], {"legal_hold": False}))
    details = retention()
    assert db("SELECT count(*) FROM events WHERE device_id = ?", t_held.id) == [(0,)]
    assert db("SELECT min(id) FROM audit_log")[0][0] > old_audit, "old audit entries are gone"
    assert db("SELECT count(*) FROM audit_anchors WHERE kind = 'cut'") == [(1,)]
    out = gatehouse("audit", "verify", "--state-dir", app.state)
    assert out.returncode == 0, out.stdout + out.stderr
    # Setting the hold was audited long enough ago to be cut by now; lifting it is there.
    actions = [e["action"] for e in ok(root.call("GET", "/api/v1/audit?action=tenant."))["items"]]
    assert "tenant.legal_hold_lifted" in actions and "tenant.legal_hold_set" not in actions, actions


def test_events_older_than_their_period_are_not_stored_on_arrival():
    t = term["a"]
    old = int(time.time() * 1000) - (PERSONAL_S + 5) * 1000
    out = t.pub("events", {"seq": 500, "at": old, "kind": "access", "card": "0450 9999 0001", "result": "denied"})
    assert out.returncode == 0, out.stderr  # acknowledged: the terminal may forget it
    assert db("SELECT count(*) FROM events WHERE device_id = ? AND seq = 500", t.id) == [(0,)]


def test_ended_sessions_and_revoked_tokens_go_at_once():
    op = create_admin(app, "shortlived", "tenant-admin")
    assert op.login()[0] == 200
    assert op.call("DELETE", "/api/v1/session")[0] == 204
    tok = ok(root.call("POST", "/api/v1/tokens", {"name": "gone", "scope": "read"}, headers={"X-Tenant": "default"}),
             201)
    ok(root.call("DELETE", "/api/v1/tokens/%d" % tok["id"], headers={"X-Tenant": "default"}), 204)
    assert db("SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL")[0][0] >= 1
    details = retention()
    assert details["sessions_deleted"] >= 1 and details["tokens_deleted"] == 1, details
    assert db("SELECT count(*) FROM sessions WHERE ended_at IS NOT NULL") == [(0,)]
    assert db("SELECT count(*) FROM api_tokens WHERE id = ?", tok["id"]) == [(0,)]
    # The live session of the admin running this test is untouched.
    assert root.call("GET", "/api/v1/session")[0] == 200


def test_short_audit_retention_is_warned_about_and_bad_values_refused():
    assert app.find_line("retention.audit is %ds" % PERSONAL_S)
    out = gatehouse("config", "check", "--set", "retention.audit=0s")
    assert out.returncode != 0 and "retention.audit" in out.stderr, out
