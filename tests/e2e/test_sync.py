"""Site sync (docs/sync.md) between two real appliances on loopback, each
with its own state directory and ports: a central and a site.

- Pairing over the pinned channel; people, cards, groups, a level, a door
  and a terminal made on the central reach the site and a simulated
  terminal of the site (`gatehouse devsim`), which enrols at the site and
  decides with what it synced; its badge events reach the central with
  their original times; what the central owns cannot be changed at the
  site; the site's audit chain verifies from the central's copy.
- Erasure on the central propagates and shreds on the site (checked with
  build/vault-fixture against the site's own state).
- The link cut in the middle of an exchange (the central killed while
  changesets are in flight), events flowing at the site meanwhile: after
  the central is back, nothing is lost, nothing doubled, cursors agree.
- The same through bundle files only: applied twice, a stale one, a
  tampered one, one for another site and one from a foreign central."""

import base64
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import tempfile
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from harness import (BINARY, BUILD, SLOW, Appliance, bootstrap_admin, check_sanitizer, create_admin, gatehouse, run)

FIXTURE = os.path.abspath(os.path.join(BUILD, "vault-fixture"))
LIMITS = ["limits.api_per_second=10000", "limits.api_burst=10000", "limits.login_per_minute=10000",
          "limits.login_burst=10000"]
CARDS = ["0460 2000 %04d" % i for i in range(1, 31)]

central = site = None
croot = sroot = None
work = None
ids = {}


def setup_module():
    global central, site, croot, sroot, work
    work = tempfile.mkdtemp(prefix="gh-sync-")
    central = Appliance(sets=LIMITS + ["jobs.sync=off"]).start()
    central.pin_ports()
    site = Appliance(sets=LIMITS + ["jobs.sync=off", "jobs.alert_rules=every 1s", "sync.alert_after=5s"]).start()
    site.pin_ports()
    croot = bootstrap_admin(central)
    sroot = bootstrap_admin(site)


def teardown_module():
    for a in (central, site):
        if a:
            a.cleanup()
    shutil.rmtree(work, ignore_errors=True)


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def db(app, sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % app.db(), uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def ks(app, sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % os.path.join(app.state, "keys", "keystore.db"), uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait_for(fn, timeout=30, every=0.2):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return fn()


def sync(session, expect="ok", timeout=120):
    """Run the site's sync job now and wait for its run; returns it."""
    status, doc = session.call("POST", "/api/v1/jobs/sync/run")
    if status == 409:  # a scheduled run is on: wait for it, then ours
        time.sleep(0.5)
        status, doc = session.call("POST", "/api/v1/jobs/sync/run")
    assert status == 202, (status, doc)
    run_id = doc["run_id"]

    def finished():
        runs = ok(session.call("GET", "/api/v1/jobs/sync/runs?limit=5"))["items"]
        mine = [r for r in runs if r["id"] == run_id and r["status"] != "running"]
        return mine[0] if mine else None
    r = wait_for(finished, timeout=timeout)
    assert r, "the sync run did not finish"
    if expect:
        assert r["status"] == expect, r
    return r


def status_of(session):
    return ok(session.call("GET", "/api/v1/sync/status"))


def people_by_id(session, path="/api/v1/people?limit=500"):
    return {p["id"]: p for p in ok(session.call("GET", path))["items"]}


def cmp_people(a, b):
    keys = ("name", "email", "employee_no", "status", "valid_from", "valid_until", "group_ids", "version")
    assert set(a) == set(b), (sorted(a), sorted(b))
    for pid in a:
        for k in keys:
            assert a[pid][k] == b[pid][k], (pid, k, a[pid][k], b[pid][k])
        assert [(c["id"], c["hint"], c["status"]) for c in a[pid]["credentials"]] == \
            [(c["id"], c["hint"], c["status"]) for c in b[pid]["credentials"]], pid


class Devsim:
    def __init__(self, app, name, token_file, *args):
        self.dir = os.path.join(work, name)
        self.cmd = [BINARY, "devsim", "--dir", self.dir, "--mqtt-port", str(app.mqtt_port), "--web-port",
                    str(app.port), "--web-ca", app.cert, "--api-token-file", token_file, "--max-backoff", "500",
                    "--quiet", *args]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def wait(self, timeout=180):
        out, err = self.proc.communicate(timeout=timeout * SLOW)
        check_sanitizer(err)
        assert self.proc.returncode == 0, (self.proc.returncode, err[-3000:])
        return json.loads(out.strip().splitlines()[-1])

    def run(self, timeout=180):
        return self.start().wait(timeout)


def pair(c, s, croot_, sroot_, site_id):
    made = ok(croot_.call("POST", "/api/v1/sync/pairings", {"site_id": site_id}, headers={"X-Tenant": "default"}),
              201)
    assert made["code"].startswith("GHP-") and len(made["fingerprint"]) == 95, made
    done = ok(sroot_.call("POST", "/api/v1/sync/pair", {"central_url": c.url, "fingerprint": made["fingerprint"],
                                                         "code": made["code"]}), 201)
    assert done["role"] == "site" and done["pairing_id"] == made["pairing"]["id"], done
    return made


# --- the network, end to end ---------------------------------------------------------------

def test_pair_people_terminal_events_and_ownership():
    T = {"X-Tenant": "default"}
    branch = ok(croot.call("POST", "/api/v1/sites", {"name": "Branch", "timezone": "Asia/Tokyo"}, headers=T), 201)
    ok(croot.call("POST", "/api/v1/sites", {"name": "Elsewhere", "timezone": "Europe/Paris"}, headers=T), 201)
    ids["site"] = branch["id"]
    always = [{"day": d, "start": "00:00", "end": "24:00"}
              for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")]
    sched = ok(croot.call("POST", "/api/v1/schedules", {"name": "Always", "windows": always}, headers=T), 201)
    staff = ok(croot.call("POST", "/api/v1/access-groups", {"name": "Staff"}, headers=T), 201)
    # The terminal is configured on the central (configuration) and enrolled at the site.
    dev = ok(croot.call("POST", "/api/v1/devices", {"name": "devsim-1", "site_id": branch["id"], "model": "GH-SIM"},
                        headers=T), 201)["device"]
    ids["device"] = dev["id"]
    door = ok(croot.call("POST", "/api/v1/doors", {"site_id": branch["id"], "name": "Front",
                                                    "terminal_id": dev["id"]}, headers=T), 201)
    ok(croot.call("POST", "/api/v1/access-levels", {"name": "Staff always", "group_id": staff["id"],
                                                    "schedule_id": sched["id"], "door_ids": [door["id"]]}, headers=T),
       201)
    ids["people"] = []
    for i, card in enumerate(CARDS):
        p = ok(croot.call("POST", "/api/v1/people", {"name": "Sync 名前 %d" % i, "email": "s%d@example.jp" % i,
                                                     "employee_no": "E-%d" % i, "group_ids": [staff["id"]]},
                          headers=T), 201)
        ok(croot.call("POST", "/api/v1/people/%d/credentials" % p["id"], {"kind": "card", "number": card},
                      headers=T), 201)
        ids["people"].append(p["id"])

    # Pairing: a wrong fingerprint is refused before anything is sent; a wrong code too.
    made = ok(croot.call("POST", "/api/v1/sync/pairings", {"site_id": branch["id"]}, headers=T), 201)
    fp = made["fingerprint"]
    wrong = ("00" if fp[:2] != "00" else "11") + fp[2:]
    status, doc = sroot.call("POST", "/api/v1/sync/pair", {"central_url": central.url, "fingerprint": wrong,
                                                           "code": made["code"]})
    assert status == 502 and "not the pinned one" in doc["error"]["message"], doc
    status, doc = sroot.call("POST", "/api/v1/sync/pair", {"central_url": central.url, "fingerprint": fp,
                                                           "code": "GHP-AAAAA-AAAAA-AAAAA-AAAAA"})
    assert status == 422 and "wrong, expired or revoked" in doc["error"]["message"], doc
    # A second pairing for a paired site is refused on the central.
    status, _ = croot.call("POST", "/api/v1/sync/pairings", {"site_id": branch["id"]}, headers=T)
    assert status == 409
    done = ok(sroot.call("POST", "/api/v1/sync/pair", {"central_url": central.url, "fingerprint": fp,
                                                        "code": made["code"]}), 201)
    ids["pairing"] = made["pairing"]["id"]
    assert done["central"]["url"] == central.url and done["tenant_id"] == 1 and done["site_id"] == branch["id"]
    # The code was for this site: another appliance cannot use it.
    other = Appliance(sets=LIMITS).start()
    try:
        oroot = bootstrap_admin(other)
        status, doc = oroot.call("POST", "/api/v1/sync/pair", {"central_url": central.url, "fingerprint": fp,
                                                               "code": made["code"]})
        assert status == 409 and "used by another site" in doc["error"]["message"], doc
    finally:
        other.cleanup()
    # Pairing twice: this appliance is a site already.
    status, doc = sroot.call("POST", "/api/v1/sync/pair", {"central_url": central.url, "fingerprint": fp,
                                                           "code": made["code"]})
    assert status == 409 and "already" in doc["error"]["message"], doc

    sync(sroot)
    cmp_people(people_by_id(croot, "/api/v1/people?limit=500"), people_by_id(sroot))
    # The site got its own site, its door and terminal, the rules; not the other site.
    assert [s["name"] for s in ok(sroot.call("GET", "/api/v1/sites"))["items"]] == ["Branch"]
    sdoor = ok(sroot.call("GET", "/api/v1/doors/%d" % door["id"]))
    assert sdoor["terminal_id"] == dev["id"] and sdoor["name"] == "Front"
    sdev = ok(sroot.call("GET", "/api/v1/devices/%d" % dev["id"]))
    assert sdev["uid"] == dev["uid"] and sdev["status"] == "pending", sdev
    level = ok(sroot.call("GET", "/api/v1/access-levels"))["items"]
    assert [(lv["name"], lv["door_ids"]) for lv in level] == [("Staff always", [door["id"]])], level
    # Same keys, same ids: a card is found through the blind index at the site.
    found = ok(sroot.call("GET", "/api/v1/people?card=%s" % CARDS[3].replace(" ", "")))["items"]
    assert [p["id"] for p in found] == [ids["people"][3]], found

    # What the central owns is refused at the site, with the central's address; reads are fine.
    for method, path, body in (("POST", "/api/v1/people", {"name": "Local"}),
                               ("PATCH", "/api/v1/doors/%d" % door["id"], {"name": "X"}),
                               ("DELETE", "/api/v1/people/%d" % ids["people"][0], None),
                               ("POST", "/api/v1/devices", {"name": "local"}),
                               ("POST", "/api/v1/access-groups", {"name": "Local"})):
        status, doc = sroot.call(method, path, body, headers={"If-Match": '"1"'})
        assert status == 409 and doc["error"]["code"] == "owned_by_central", (method, path, status, doc)
        assert "change them on the central appliance (%s)" % central.url in doc["error"]["message"], doc
    out = gatehouse("keys", "rotate", "--tenant", "default", "--state-dir", site.state)
    assert out.returncode == 1 and "rotate them on the central" in out.stderr, out.stderr

    # A simulated terminal at the site: found by name, enrolled here, decides with what it synced.
    token = ok(sroot.call("POST", "/api/v1/tokens", {"name": "devsim", "scope": "manage"}, headers=T), 201)["token"]
    ids["token_file"] = os.path.join(work, "token")
    with open(ids["token_file"], "w") as f:
        f.write(token + "\n")
    ids["cards_file"] = os.path.join(work, "cards")
    with open(ids["cards_file"], "w") as f:
        f.write("\n".join(CARDS) + "\n")
    summary = Devsim(site, "sim", ids["token_file"], "--devices", "1", "--events", "40", "--rate", "20",
                     "--cards", ids["cards_file"], "--unknown-cards", "0.2").run()
    assert summary["events_acked"] == 40, summary
    rows = db(site, "SELECT seq, at, result, reason, person_id FROM events WHERE device_id = ? ORDER BY seq", dev["id"])
    assert [r[0] for r in rows] == list(range(1, 41))
    assert any(r[2] == "granted" and r[4] for r in rows) and any(r[3] == "unknown_credential" for r in rows), rows

    sync(sroot)
    crow = db(central, "SELECT seq, at, result, reason, person_id FROM events WHERE device_id = ? ORDER BY seq",
              dev["id"])
    assert crow == rows, "the central has the site's events as they happened, with their original times"
    evs = ok(croot.call("GET", "/api/v1/events?device_id=%d&limit=100" % dev["id"], headers=T))["items"]
    named = [e for e in evs if e.get("person_id")]
    assert named and all(e["person_name"].startswith("Sync 名前") for e in named), named[:2]
    assert all(e["card"].startswith("****") for e in named), "details sealed again under the central's row ids"
    cdev = ok(croot.call("GET", "/api/v1/devices/%d" % dev["id"], headers=T))
    assert cdev["status"] == "active" and cdev["firmware_version"] == "1.0.0", cdev
    # Cursors agree on both sides.
    st = status_of(sroot)
    pr = ok(croot.call("GET", "/api/v1/sync/pairings/%d" % ids["pairing"], headers=T))
    for name in ("status", "audit", "anchors", "events"):
        assert st["streams"][name]["acked"] == pr["streams"][name]["applied"], (name, st, pr)
        assert st["streams"][name]["pending"] == 0, st
    for name in ("keys", "changes"):
        assert st["streams"][name]["applied"] == pr["streams"][name]["acked"], (name, st, pr)
    assert st["minutes_since_sync"] == 0 and st["failures"] == 0


def entry_hash(prev, row):
    def field(b):
        return struct.pack(">I", len(b)) + b

    def i64(v):
        return field(struct.pack(">q", v))
    (id_, uid, at, tenant, actor_type, actor_id, source, action, target, outcome, details, sealed) = row
    c = field(b"gatehouse-audit-v1") + i64(id_) + field(uid.encode()) + i64(at)
    c += i64(tenant) if tenant is not None else field(b"")
    for t in (actor_type, actor_id, source, action, target, outcome, details):
        c += field(t.encode())
    c += field(sealed or b"")
    return hashlib.blake2b(prev + c, digest_size=32).digest()


def test_site_audit_chain_verifies_from_the_central_copy():
    """The site's entries, kept per pairing on the central, link up and its
    signed anchors check with the site's audit key (which the central got
    at pairing): verified here with the documented hash, independently of
    both appliances."""
    # A command that audits signs the chain head when it is done.
    cli(site, "export", "--to", work)
    out = gatehouse("audit", "public-key", "--state-dir", site.state)
    assert out.returncode == 0
    site_pk = bytes.fromhex(out.stdout.strip())
    assert db(central, "SELECT site_audit_pk FROM sync_pairings WHERE id = ?", ids["pairing"]) == [(site_pk,)]
    sync(sroot)
    rows = db(central, "SELECT id, uid, at, tenant_id, actor_type, actor_id, source, action, target, outcome, details, "
              "sealed, prev_hash, hash FROM site_audit_log WHERE pairing_id = ? ORDER BY id", ids["pairing"])
    assert len(rows) > 10
    assert rows == db(site, "SELECT id, uid, at, tenant_id, actor_type, actor_id, source, action, target, outcome, "
                      "details, sealed, prev_hash, hash FROM audit_log WHERE id <= ? ORDER BY id", rows[-1][0])
    prev = b"\0" * 32
    for r in rows:
        assert r[12] == prev and r[13] == entry_hash(prev, r[:12]), r[0]
        prev = r[13]
    anchors = db(central, "SELECT kind, entry_id, hash, signature FROM site_audit_anchors WHERE pairing_id = ?",
                 ids["pairing"])
    assert anchors, "the site's signed anchors travel too"
    key = Ed25519PublicKey.from_public_key_bytes(site_pk) if hasattr(Ed25519PublicKey, "from_public_key_bytes") \
        else Ed25519PublicKey.from_public_bytes(site_pk)
    by_id = {r[0]: r[13] for r in rows}
    for kind, entry, h, sig in anchors:
        tag = b"gatehouse-audit-head-v1" if kind == "head" else b"gatehouse-audit-cut-v1"
        key.verify(sig, tag + struct.pack(">q", entry) + h)
        if kind == "head":
            assert by_id[entry] == h
    try:
        key.verify(anchors[0][3], b"gatehouse-audit-head-v1" + struct.pack(">q", 1) + b"\0" * 32)
        raise AssertionError("a forged message verified")
    except InvalidSignature:
        pass


def copy_db(app, name):
    """A copy of the database as it is now (the WAL holds what is not
    checkpointed yet)."""
    path = os.path.join(work, name)
    shutil.copyfile(app.db(), path)
    if os.path.exists(app.db() + "-wal"):
        shutil.copyfile(app.db() + "-wal", path + "-wal")
    return path


def test_erasure_on_the_central_shreds_on_the_site():
    T = {"X-Tenant": "default"}
    dev = ids["device"]
    victim = db(site, "SELECT person_id FROM events WHERE device_id = ? AND person_id IS NOT NULL "
                "AND details IS NOT NULL LIMIT 1", dev)[0][0]
    ev = db(site, "SELECT id FROM events WHERE person_id = ? AND details IS NOT NULL LIMIT 1", victim)[0][0]
    copy = copy_db(site, "site-copy.db")
    out = run([FIXTURE, "open-field", site.state, copy, "1", "events", "details", str(ev)])
    assert out.returncode == 0 and "card" in out.stdout, out.stdout + out.stderr
    assert ks(site, "SELECT count(*) FROM person_keys WHERE person_id = ?", victim) == [(1,)]
    status, _ = croot.call("DELETE", "/api/v1/people/%d" % victim, headers=T)
    assert status == 204
    sync(sroot)
    assert sroot.call("GET", "/api/v1/people/%d" % victim)[0] == 404
    assert db(site, "SELECT count(*) FROM credentials WHERE person_id = ?", victim) == [(0,)]
    assert db(site, "SELECT count(*) FROM group_members WHERE person_id = ?", victim) == [(0,)]
    assert ks(site, "SELECT count(*) FROM person_keys WHERE person_id = ?", victim) == [(0,)]
    assert ks(site, "SELECT count(*) FROM erasures WHERE person_id = ?", victim) == [(1,)], "in the site's ledger"
    # The site's own copy of the event (and the copy taken before) can no longer be read.
    out = run([FIXTURE, "open-field", site.state, copy, "1", "events", "details", str(ev)])
    assert out.returncode == 1 and "destroyed" in out.stdout, out.stdout + out.stderr
    copy = copy_db(site, "site-copy-after.db")
    out = run([FIXTURE, "open-field", site.state, copy, "1", "events", "details", str(ev)])
    assert out.returncode == 1 and "destroyed" in out.stdout, out.stdout + out.stderr
    cmp_people(people_by_id(croot, "/api/v1/people?limit=500"), people_by_id(sroot))


def test_link_cut_mid_exchange_nothing_lost_nothing_doubled():
    dev = ids["device"]
    # Many events waiting at the site, in small changesets, so the exchange takes a while.
    con = sqlite3.connect(site.db(), timeout=30)
    base = int(time.time() * 1000) - 3600 * 1000
    con.execute("WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 40999) "
                "INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind, door_id) "
                "SELECT 1, ?, i, ? + i * 10, ? + i * 10 + 5, 'door_opened', NULL FROM n", (dev, base, base))
    con.commit()
    con.close()
    site.stop()
    site.sets = [x for x in site.sets if not x.startswith("sync.batch=")] + ["sync.batch=16K"]
    site.start()
    sroot.login()
    # Keep badge events flowing at the site all along.
    sim = Devsim(site, "sim", ids["token_file"], "--devices", "1", "--rate", "5", "--cards", ids["cards_file"],
                 "--duration", "40").start()
    try:
        status, doc = sroot.call("POST", "/api/v1/jobs/sync/run")
        assert status == 202, doc
        # Killed while changesets are in flight: some arrived, not all.
        assert wait_for(lambda: db(central, "SELECT count(*) FROM events WHERE device_id = ?", dev)[0][0] > 3000,
                        timeout=60, every=0.05)
        central.kill()
        at_kill = db(central, "SELECT count(*) FROM events WHERE device_id = ?", dev)[0][0]
        assert at_kill < 40000, "the exchange was over before the link was cut"
        r = wait_for(lambda: [x for x in ok(sroot.call("GET", "/api/v1/jobs/sync/runs?limit=1"))["items"]
                              if x["status"] != "running"], timeout=60)
        assert r and r[0]["status"] == "ok" and r[0]["details"].get("link_down") == 1, r
        st = status_of(sroot)
        assert st["failures"] >= 1 and st["last_error"] and st["next_attempt_at"], st
        assert st["streams"]["events"]["pending"] > 0, st
        # Out of touch for longer than sync.alert_after: an alert.
        alert = wait_for(lambda: ok(sroot.call("GET", "/api/v1/alerts?kind=sync.stale&state=open"))["items"],
                         timeout=30)
        assert alert and "Not synced with the central" in alert[0]["subject"], alert
        time.sleep(2)
        central.start()
        croot.login()
    finally:
        summary = sim.wait(timeout=120)
    assert summary["events_buffered"] == 0, summary
    for _ in range(5):
        sync(sroot)
        if status_of(sroot)["streams"]["events"]["pending"] == 0:
            break
    st = status_of(sroot)
    assert st["failures"] == 0 and st["last_error"] is None and st["minutes_since_sync"] == 0, st
    cseqs = db(central, "SELECT seq, at FROM events WHERE device_id = ? ORDER BY seq", dev)
    sseqs = db(site, "SELECT seq, at FROM events WHERE device_id = ? ORDER BY seq", dev)
    assert len(sseqs) >= 40000 + 40 + 1
    assert cseqs == sseqs, "nothing lost, nothing doubled (%d on the central, %d at the site)" % (len(cseqs),
                                                                                               len(sseqs))
    pr = ok(croot.call("GET", "/api/v1/sync/pairings/%d" % ids["pairing"], headers={"X-Tenant": "default"}))
    for name in ("status", "audit", "anchors", "events"):
        assert st["streams"][name]["acked"] == pr["streams"][name]["applied"], (name, st, pr)
    resolved = ok(sroot.call("GET", "/api/v1/alerts?kind=sync.stale&state=resolved"))["items"]
    assert resolved and resolved[0]["resolution"] == "synced with the central again", resolved
    # And the other way: many changes on the central, the link cut during the pull.
    T = {"X-Tenant": "default"}
    staff = ok(croot.call("GET", "/api/v1/access-groups", headers=T))["items"][0]["id"]
    photo = os.urandom(768 << 10)
    for i in range(40):
        p = ok(croot.call("POST", "/api/v1/people", {"name": "Late %d" % i, "group_ids": [staff]}, headers=T), 201)
        status, _, _ = croot.raw("PUT", "/api/v1/people/%d/photo" % p["id"], b"\xff\xd8\xff" + photo,
                                 headers={"Content-Type": "image/jpeg", **T})
        assert status == 204
    status, doc = sroot.call("POST", "/api/v1/jobs/sync/run")
    assert status == 202, doc
    assert wait_for(lambda: db(site, "SELECT count(*) FROM people WHERE photo IS NOT NULL")[0][0] > 0, timeout=60,
                    every=0.02)
    central.kill()
    wait_for(lambda: ok(sroot.call("GET", "/api/v1/jobs/sync/runs?limit=1"))["items"][0]["status"] != "running")
    partial = db(site, "SELECT count(*) FROM people WHERE photo IS NOT NULL")[0][0]
    assert 0 < partial < 40, partial
    central.start()
    croot.login()
    sync(sroot)
    cmp_people(people_by_id(croot, "/api/v1/people?limit=500"), people_by_id(sroot))
    assert db(site, "SELECT count(*) FROM people WHERE photo IS NOT NULL")[0][0] == 40
    assert db(site, "PRAGMA integrity_check") == [("ok",)]
    assert db(site, "PRAGMA foreign_key_check") == []


# --- bundle files only -----------------------------------------------------------------------

def cli(app, *args, expect=0):
    out = gatehouse("sync", *args, "--state-dir", app.state)
    assert out.returncode == expect, (args, out.returncode, out.stdout, out.stderr)
    return out


def bundle_path(out):
    lines = [line for line in out.stdout.splitlines() if line.endswith(".ghsync")]
    assert lines, out.stdout
    return lines[-1].split(": ")[-1]


def fake_site_claim(c, croot_, site_id):
    """Claim a pairing as an appliance that only has public keys (32 random
    bytes are an X25519 key): the central can seal bundles to it."""
    made = ok(croot_.call("POST", "/api/v1/sync/pairings", {"site_id": site_id}, headers={"X-Tenant": "default"}),
              201)
    b64 = lambda: base64.b64encode(os.urandom(32)).decode()
    status, h, body = c.request("POST", "/api/v1/sync/claim", {
        "code": made["code"], "appliance_id": os.urandom(16).hex(), "sign_pk": b64(), "box_pk": b64(),
        "audit_pk": b64(), "key_range": 12345})
    assert status == 200, body
    return made["pairing"]["id"]


def test_bundles_only_double_stale_tampered_foreign():
    c2 = Appliance(sets=LIMITS + ["jobs.sync=off"]).start()
    s2 = Appliance(sets=LIMITS + ["jobs.sync=off"]).start()
    out_dir, back_dir = os.path.join(work, "usb-to-site"), os.path.join(work, "usb-to-central")
    os.makedirs(out_dir)
    os.makedirs(back_dir)
    T = {"X-Tenant": "default"}
    try:
        c2root, s2root = bootstrap_admin(c2), bootstrap_admin(s2)
        branch = ok(c2root.call("POST", "/api/v1/sites", {"name": "Mine", "timezone": "Asia/Tokyo"}, headers=T), 201)
        other = ok(c2root.call("POST", "/api/v1/sites", {"name": "Other", "timezone": "Asia/Tokyo"}, headers=T), 201)
        dev = ok(c2root.call("POST", "/api/v1/devices", {"name": "t", "site_id": branch["id"]}, headers=T),
                 201)["device"]
        grp = ok(c2root.call("POST", "/api/v1/access-groups", {"name": "G"}, headers=T), 201)
        for i in range(10):
            ok(c2root.call("POST", "/api/v1/people", {"name": "Bundle %d" % i, "group_ids": [grp["id"]]}, headers=T),
               201)
        made = pair(c2, s2, c2root, s2root, branch["id"])
        pid = made["pairing"]["id"]
        assert cli(s2, "status").stdout.startswith("site of the central")

        # The status a tenant's own admins see holds no other tenant's pairing.
        ok(c2root.call("POST", "/api/v1/tenants", {"slug": "acme", "name": "Acme"}), 201)
        acme = create_admin(c2, "acme-admin", "tenant-admin", tenant="acme")
        assert acme.login()[0] == 200
        assert [p["id"] for p in ok(c2root.call("GET", "/api/v1/sync/status"))["pairings"]] == [pid]
        assert ok(acme.call("GET", "/api/v1/sync/status"))["pairings"] == []
        assert ok(acme.call("GET", "/api/v1/sync/pairings"))["items"] == []

        # Central -> site on a USB stick; applied once, then "already applied".
        # A site that syncs by bundles only was last in step a day ago.
        con = sqlite3.connect(s2.db(), timeout=30)
        con.execute("UPDATE sync_central SET last_ok_at = unixepoch() - 86400")
        con.commit()
        con.close()
        assert ok(s2root.call("GET", "/api/v1/sync/status"))["minutes_since_sync"] >= 1439
        b1 = bundle_path(cli(c2, "export", "--to", out_dir, "--pairing", str(pid)))
        out = cli(s2, "import", b1, "--ack-to", back_dir)
        assert "applied" in out.stdout and "acknowledgement bundle" in out.stdout, out.stdout
        # Taking in the central's bundle is being in step with it: "last synced" moves.
        assert ok(s2root.call("GET", "/api/v1/sync/status"))["minutes_since_sync"] < 5
        cmp_people(people_by_id(c2root), people_by_id(s2root))
        before = db(s2, "SELECT count(*) FROM audit_log WHERE action = 'sync.apply'")
        out = cli(s2, "import", b1, "--ack-to", back_dir)
        assert "already applied" in out.stdout, out.stdout
        assert db(s2, "SELECT count(*) FROM audit_log WHERE action = 'sync.apply'") == before, "changed nothing"

        # Site -> central: events and audit, carried back with the acknowledgement.
        con = sqlite3.connect(s2.db(), timeout=30)
        now = int(time.time() * 1000)
        con.executemany("INSERT INTO events (tenant_id, device_id, seq, at, received_at, kind) VALUES "
                        "(1, ?, ?, ?, ?, 'door_opened')", [(dev["id"], i, now - 1000 * i, now) for i in range(1, 501)])
        con.commit()
        con.close()
        a1 = bundle_path(cli(s2, "export", "--to", back_dir))
        out = cli(c2, "import", a1, "--ack-to", out_dir)
        assert db(c2, "SELECT seq, at FROM events WHERE device_id = ? ORDER BY seq", dev["id"]) == \
            db(s2, "SELECT seq, at FROM events WHERE device_id = ? ORDER BY seq", dev["id"])
        a2 = bundle_path(out)
        cli(s2, "import", a2, "--ack-to", back_dir)
        st = json.loads(cli(s2, "status", "--json").stdout)
        assert st["streams"]["events"]["pending"] == 0, st
        # The next export holds nothing the central acknowledged.
        a3 = bundle_path(cli(s2, "export", "--to", back_dir))
        out = cli(c2, "import", a3, "--ack-to", out_dir)
        assert "already applied" in out.stdout or "applied" in out.stdout
        assert db(c2, "SELECT count(*) FROM events WHERE device_id = ?", dev["id"]) == [(500,)]

        # A stale bundle after a newer one changes nothing.
        person = ok(c2root.call("GET", "/api/v1/people?limit=1", headers=T))["items"][0]
        ok(c2root.call("PATCH", "/api/v1/people/%d" % person["id"], {"name": "Renamed once"},
                       headers={"If-Match": '"%d"' % person["version"], **T}))
        old = bundle_path(cli(c2, "export", "--to", out_dir, "--pairing", str(pid)))
        person = ok(c2root.call("GET", "/api/v1/people/%d" % person["id"], headers=T))
        ok(c2root.call("PATCH", "/api/v1/people/%d" % person["id"], {"name": "Renamed twice"},
                       headers={"If-Match": '"%d"' % person["version"], **T}))
        new = bundle_path(cli(c2, "export", "--to", out_dir, "--pairing", str(pid)))
        cli(s2, "import", new, "--ack-to", back_dir)
        out = cli(s2, "import", old, "--ack-to", back_dir)
        assert "already applied" in out.stdout, out.stdout
        assert ok(s2root.call("GET", "/api/v1/people/%d" % person["id"]))["name"] == "Renamed twice"

        # Tampered: refused, nothing applied.
        data = bytearray(open(new, "rb").read())
        data[len(data) // 2] ^= 0x40
        bad = os.path.join(out_dir, "tampered.ghsync")
        open(bad, "wb").write(bytes(data))
        out = cli(s2, "import", bad, expect=1)
        assert "altered or is damaged" in out.stderr, out.stderr
        open(bad, "wb").write(bytes(data[:len(data) - 100]))
        out = cli(s2, "import", bad, expect=1)
        assert "cut short" in out.stderr, out.stderr

        # A bundle of this central for another of its sites.
        fake = fake_site_claim(c2, c2root, other["id"])
        for_other = bundle_path(cli(c2, "export", "--to", out_dir, "--pairing", str(fake)))
        out = cli(s2, "import", for_other, expect=1)
        assert "this bundle is for another site" in out.stderr, out.stderr
        # A bundle of a foreign central (the first test's, for its own site).
        foreign = bundle_path(cli(central, "export", "--to", out_dir, "--pairing", str(ids["pairing"])))
        out = cli(s2, "import", foreign, expect=1)
        assert "from a central this site is not paired with" in out.stderr, out.stderr
        # And a site's bundle is no use to another site.
        out = cli(s2, "import", a1, expect=1)
        assert "made by a site for its central" in out.stderr, out.stderr
        actions = [r[0] for r in db(s2, "SELECT outcome FROM audit_log WHERE action = 'sync.import'")]
        assert actions.count("failed") >= 4, actions
        assert gatehouse("audit", "verify", "--state-dir", s2.state).returncode == 0
    finally:
        c2.cleanup()
        s2.cleanup()
