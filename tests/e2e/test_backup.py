"""Backups and restores against the real binary: a backup while a terminal
streams events in (mosquitto_pub), restored into a fresh state directory that
`gatehouse serve` then runs, compared row by row and through the API; a
restore with the recovery key alone; kill -9 half-way; a full destination (a
256 KiB tmpfs mounted for the test) and a missing one; pruning; tampered
files; an events backup merged into a restored state; a person erased after
the backup stays erased. docs/backup.md is the contract."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

from harness import (ADMIN_PASSWORD, BUILD, SLOW, Appliance, Session, bootstrap_admin, gatehouse, run)

FIXTURE = os.path.abspath(os.path.join(BUILD, "vault-fixture"))

app = None
root = None
work = None
ids = {}


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def rows(db, sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def gh(*args, state=None, timeout=120):
    """gatehouse with --state-dir (the module's appliance by default)."""
    return gatehouse(*args, "--state-dir", state or app.state, timeout=timeout)


def backups_dir(state=None):
    return os.path.join(state or app.state, "backups")


def backup_files(state=None, kind=""):
    d = backups_dir(state)
    return sorted(f for f in os.listdir(d) if f.endswith(".ghb") and not f.startswith(".") and
                  ("-%s-" % kind in f if kind else True))


def wait_run(name, run_id, session=None, timeout=120):
    s = session or root
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        for r in ok(s.call("GET", "/api/v1/jobs/%s/runs?limit=20" % name))["items"]:
            if r["id"] == run_id and r["status"] != "running":
                return r
        time.sleep(0.1)
    raise AssertionError("run %d of %s did not finish" % (run_id, name))


def run_job(name, session=None):
    doc = ok((session or root).call("POST", "/api/v1/jobs/%s/run" % name), 202)
    return wait_run(name, doc["run_id"], session)


class Terminal:
    """A terminal made as a ready bundle, publishing with mosquitto_pub."""

    def __init__(self, a, session, name):
        doc = ok(session.call("POST", "/api/v1/devices", {"name": name, "enrollment": "bundle"}), 201)
        b = doc["bundle"]
        self.app, self.uid, self.id = a, doc["device"]["uid"], doc["device"]["id"]
        self.dir = tempfile.mkdtemp(prefix="gh-term-", dir=work)
        for f, text in (("key.pem", b["key_pem"]), ("cert.pem", b["cert_pem"]), ("ca.pem", b["ca_pem"])):
            with open(os.path.join(self.dir, f), "w") as fh:
                fh.write(text)
        self.seq = 0
        self.proc = None

    def args(self):
        return ["-h", "127.0.0.1", "-p", str(self.app.mqtt_port), "-V", "mqttv311", "--cafile",
                os.path.join(self.dir, "ca.pem"), "--cert", os.path.join(self.dir, "cert.pem"),
                "--key", os.path.join(self.dir, "key.pem"), "-i", self.uid, "-q", "1",
                "-t", "gh/v1/%s/events" % self.uid]

    def batch(self, n, card):
        now = int(time.time() * 1000)
        evs = []
        for _ in range(n):
            self.seq += 1
            evs.append({"seq": self.seq, "at": now, "kind": "access", "door_id": ids["door"], "card": card,
                        "result": "granted", "reason": "granted"})
        return json.dumps({"events": evs})

    def stream(self, card, stop):
        """Publish batches over one connection until stop is set."""
        p = subprocess.Popen(["mosquitto_pub", *self.args(), "-l"], stdin=subprocess.PIPE, text=True,
                             stderr=subprocess.PIPE)
        try:
            while not stop.is_set():
                p.stdin.write(self.batch(10, card) + "\n")
                p.stdin.flush()
                time.sleep(0.01)
        finally:
            p.stdin.close()
            p.wait(30)


def setup_module():
    global app, root, work
    work = tempfile.mkdtemp(prefix="gh-backup-")
    app = Appliance(sets=["limits.api_per_second=5000", "limits.api_burst=5000"]).start()
    root = bootstrap_admin(app)
    ids["site"] = ok(root.call("POST", "/api/v1/sites", {"name": "HQ", "timezone": "Asia/Tokyo"}), 201)["id"]
    always = [{"day": d, "start": "00:00", "end": "24:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    sched = ok(root.call("POST", "/api/v1/schedules", {"name": "Always", "windows": always}), 201)["id"]
    grp = ok(root.call("POST", "/api/v1/access-groups", {"name": "Staff"}), 201)["id"]
    people = [("山田 太郎", "taro@example.jp", "0450 1234 5678"), ("Ann Example", "ann@example.org", "7777 0001"),
              ("Bob Erased", "bob@example.org", "7777 0002")]
    for name, email, card in people:
        pid = ok(root.call("POST", "/api/v1/people", {"name": name, "email": email, "group_ids": [grp]}), 201)["id"]
        ok(root.call("POST", "/api/v1/people/%d/credentials" % pid, {"kind": "card", "number": card}), 201)
        ids[email] = pid
    ids["door"] = ok(root.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": "Main"}), 201)["id"]
    ok(root.call("POST", "/api/v1/access-levels", {"name": "Staff main", "group_id": grp, "schedule_id": sched,
                                                   "door_ids": [ids["door"]]}), 201)
    ids["terminal"] = Terminal(app, root, "door-a")
    ok(root.call("PATCH", "/api/v1/doors/%d" % ids["door"], {"terminal_id": ids["terminal"].id},
                 headers={"If-Match": '"1"'}))


def teardown_module():
    app.cleanup()
    shutil.rmtree(work, ignore_errors=True)


def people_via_api(session):
    return sorted((p["id"], p["name"], p["email"]) for p in ok(session.call("GET", "/api/v1/people?limit=200"))["items"])


def serve_restored(state):
    """`gatehouse serve` on a restored state directory, logged in as the admin."""
    a = Appliance(state=state).start()
    s = Session(a, "admin", ADMIN_PASSWORD)
    assert s.login()[0] == 200, a.log()[-2000:]
    return a, s


# --- tests ---------------------------------------------------------------------------------

def test_backup_while_events_stream_in_then_restore_and_compare():
    stop = threading.Event()
    t = threading.Thread(target=ids["terminal"].stream, args=("0450 1234 5678", stop))
    t.start()
    try:
        deadline = time.time() + 20 * SLOW
        while rows(app.db(), "SELECT count(*) FROM events")[0][0] < 200 and time.time() < deadline:
            time.sleep(0.05)
        before = rows(app.db(), "SELECT count(*) FROM events")[0][0]
        r = run_job("backup-full")
        after = rows(app.db(), "SELECT count(*) FROM events")[0][0]
    finally:
        stop.set()
        t.join()
    assert r["status"] == "ok", r
    assert after > before, "events kept coming in during the backup (%d, %d)" % (before, after)
    assert r["details"]["rows"] > 0 and r["details"]["bytes"] > 0, r
    name = backup_files(kind="full")[-1]
    listed = ok(root.call("GET", "/api/v1/backups"))["items"]
    assert listed[0]["name"] == name and listed[0]["verified"] and listed[0]["kind"] == "full", listed

    target = os.path.join(work, "restored-stream")
    out = gh("restore", os.path.join(backups_dir(), name), "--to", target)
    assert out.returncode == 0, out.stderr
    assert "every one checked" in out.stdout, out.stdout
    got = rows(os.path.join(target, "gatehouse.db"), "SELECT * FROM events ORDER BY id")
    assert before <= len(got) <= after, (before, len(got), after)
    # One moment of the database: exactly the live rows up to the last one restored.
    live = rows(app.db(), "SELECT * FROM events WHERE id <= ? ORDER BY id", got[-1][0])
    assert got == live
    # The restored appliance runs, and its sealed fields open with its keys.
    a, s = serve_restored(target)
    try:
        assert people_via_api(s) == people_via_api(root)
        assert a.find_line("restored from a backup; recorded in the audit log"), a.log()[-2000:]
        audit = ok(s.call("GET", "/api/v1/audit?action=backup.restore"))["items"]
        assert audit and audit[0]["actor_id"] == "restore", audit
        ev = got[-1]
        fx = run([FIXTURE, "open-field", target, os.path.join(target, "gatehouse.db"), str(ev[1]), "events", "details",
                  str(ev[0])])
        assert fx.returncode == 0, fx.stdout + fx.stderr
    finally:
        a.stop()


def test_events_backup_merges_into_a_restored_state():
    full = backup_files(kind="full")[-1]
    target = os.path.join(work, "restored-merge")
    assert gh("restore", os.path.join(backups_dir(), full), "--to", target).returncode == 0
    t = ids["terminal"]
    out = run(["mosquitto_pub", *t.args(), "-m", t.batch(25, "7777 0001")])
    assert out.returncode == 0, out.stderr
    out = gh("backup", "run", "--kind", "events")
    assert out.returncode == 0, out.stderr
    events = backup_files(kind="events")[-1]
    live_events = rows(app.db(), "SELECT count(*) FROM events")[0][0]
    assert rows(os.path.join(target, "gatehouse.db"), "SELECT count(*) FROM events")[0][0] < live_events
    out = gh("restore", os.path.join(backups_dir(), events), "--into", target)
    assert out.returncode == 0, out.stderr
    assert rows(os.path.join(target, "gatehouse.db"), "SELECT count(*) FROM events")[0][0] == live_events
    # Merging again adds nothing; merging into another appliance's state is refused.
    out = gh("restore", os.path.join(backups_dir(), events), "--into", target)
    assert out.returncode == 0 and "0 rows added" in out.stdout, out.stdout + out.stderr
    other = Appliance().start()
    other.stop()
    out = gh("restore", os.path.join(backups_dir(), events), "--into", other.state)
    assert out.returncode == 1 and "not of the one restored" in out.stderr, out.stderr
    other.cleanup()
    # A full backup cannot be merged, an events backup cannot be restored alone.
    out = gh("restore", os.path.join(backups_dir(), events), "--to", os.path.join(work, "nope"))
    assert out.returncode == 1 and "events backup" in out.stderr, out.stderr
    a, s = serve_restored(target)
    a.stop()


def test_recovery_key_alone_restores_every_row_on_a_fresh_state_dir():
    out = gh("keys", "status")
    assert "NOT EXPORTED" in out.stdout, out.stdout
    key = os.path.join(work, "recovery.txt")
    out = gh("keys", "recovery-export", "--out", key)
    assert out.returncode == 0, out.stderr
    assert not os.path.exists(os.path.join(app.state, "keys", "recovery.key"))
    text = open(key).read()
    assert "secret key:" in text and "check:" in text and "fingerprint:" in text
    out = gh("keys", "recovery-export")
    assert out.returncode == 1 and "no longer on this appliance" in out.stderr, out.stderr
    status = gh("keys", "status").stdout
    assert "exported" in status and "NOT EXPORTED" not in status, status
    audit = ok(root.call("GET", "/api/v1/audit?action=keys.recovery_export"))["items"]
    assert audit and audit[0]["details"]["to"] == key
    assert text.split("secret key:")[1].split()[0] not in json.dumps(audit)

    r = run_job("backup-full")
    assert r["status"] == "ok", r
    name = os.path.join(backups_dir(), backup_files(kind="full")[-1])
    # The appliance is lost: no state, no master key; a typo in the key is caught.
    lost = os.path.join(work, "no-such-state")
    typo = os.path.join(work, "typo.txt")
    group = text.split("secret key:")[1].split()[0]
    with open(typo, "w") as f:
        f.write(text.replace(group, ("1" if group[0] == "0" else "0") + group[1:], 1))
    out = gatehouse("restore", name, "--to", os.path.join(work, "typo"), "--recovery-key", typo, "--state-dir", lost)
    assert out.returncode == 1 and "check digits" in out.stderr, out.stderr
    out = gatehouse("restore", name, "--to", os.path.join(work, "x"), "--state-dir", lost)
    assert out.returncode == 1 and "--recovery-key" in out.stderr, out.stderr
    out = gatehouse("backup", "verify", name, "--recovery-key", key, "--state-dir", lost)
    assert out.returncode == 0 and ": ok: full backup" in out.stdout, out.stdout + out.stderr
    target = os.path.join(work, "restored-recovery")
    out = gatehouse("restore", name, "--to", target, "--recovery-key", key, "--state-dir", lost)
    assert out.returncode == 0, out.stderr
    assert "re-wrapped" in out.stdout and not os.path.exists(lost)
    with open(os.path.join(target, "keys", "master.key"), "rb") as f, \
            open(os.path.join(app.state, "keys", "master.key"), "rb") as g:
        assert f.read() != g.read(), "a new master key"
    # Every row of every table is the backup's: compare with a restore by the master key.
    ref = os.path.join(work, "restored-reference")
    assert gh("restore", name, "--to", ref).returncode == 0
    for db in ("gatehouse.db", "keys/keystore.db"):
        tables = [t for (t,) in rows(os.path.join(ref, db), "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in tables:
            a = sorted(rows(os.path.join(target, db), 'SELECT * FROM "%s"' % t), key=repr)
            b = sorted(rows(os.path.join(ref, db), 'SELECT * FROM "%s"' % t), key=repr)
            if t == "tenant_keys":  # re-wrapped under the new master key: same keys, new wrapping
                a = [r[:5] + r[6:] for r in a]
                b = [r[:5] + r[6:] for r in b]
            if t in ("vault_meta", "meta"):  # the check value of each master key; each restore's own note
                a = [r for r in a if r[0] not in ("master_check", "restored_from")]
                b = [r for r in b if r[0] not in ("master_check", "restored_from")]
            assert a == b, (db, t)
    a, s = serve_restored(target)
    try:
        assert people_via_api(s) == people_via_api(root)
        assert ok(s.call("GET", "/api/v1/audit/verify"))["ok"]
    finally:
        a.stop()


def fingerprint_of(text):
    return text.split("fingerprint:")[1].split()[0]


def escrow_wraps(state):
    return dict(rows(os.path.join(state, "keys", "keystore.db"),
                     "SELECT id, recovery_wrapped FROM tenant_keys WHERE wrapped IS NOT NULL"))


def test_recovery_key_rotated_later_backups_need_the_new_key_earlier_ones_the_old():
    a = Appliance().start()
    try:
        s = bootstrap_admin(a)
        ok(s.call("POST", "/api/v1/people", {"name": "Rotation Person", "email": "rot@example.org"}), 201)
        k1 = os.path.join(work, "rotate-k1.txt")
        assert gh("keys", "recovery-export", "--out", k1, state=a.state).returncode == 0
        f1 = fingerprint_of(open(k1).read())
        assert run_job("backup-full", s)["status"] == "ok"
        b1 = os.path.join(backups_dir(a.state), backup_files(a.state, kind="full")[-1])
        wraps = escrow_wraps(a.state)
        assert wraps and all(wraps.values())

        # Rotated while the service runs: every escrow wrap re-sealed, the new key waiting to be exported.
        out = gh("keys", "recovery-rotate", state=a.state)
        assert out.returncode == 0, out.stderr
        f2 = out.stdout.split("the recovery key is now ")[1].split()[0]
        assert f2 != f1 and ("(was %s)" % f1) in out.stdout, out.stdout
        assert ("still open with the old key %s" % f1) in out.stdout, out.stdout
        after = escrow_wraps(a.state)
        assert after.keys() == wraps.keys() and all(after.values())
        assert all(after[k] != wraps[k] for k in wraps), "every escrow wrap re-sealed"
        status = gh("keys", "status", state=a.state).stdout
        assert ("key %s" % f2) in status and "NOT EXPORTED" in status, status
        k2 = os.path.join(work, "rotate-k2.txt")
        assert gh("keys", "recovery-export", "--out", k2, state=a.state).returncode == 0
        assert fingerprint_of(open(k2).read()) == f2
        audit = ok(s.call("GET", "/api/v1/audit?action=keys.recovery_rotate"))["items"]
        assert audit and audit[0]["details"]["old_fingerprint"] == f1 and audit[0]["details"]["new_fingerprint"] == f2
        assert audit[0]["details"]["old_exported"] is True
        for k in (k1, k2):
            assert open(k).read().split("secret key:")[1].split()[0] not in json.dumps(audit)

        # Later backups are sealed to the new key only; earlier ones still to the old.
        ok(s.call("POST", "/api/v1/people", {"name": "After Rotation", "email": "after@example.org"}), 201)
        made = set(backup_files(a.state, kind="full"))
        assert run_job("backup-full", s)["status"] == "ok"
        (b2,) = set(backup_files(a.state, kind="full")) - made  # may share b1's second: "...Z-2.ghb"
        b2 = os.path.join(backups_dir(a.state), b2)
        lost = os.path.join(work, "rotate-lost")
        for b, good, bad, fp_good in ((b1, k1, k2, f1), (b2, k2, k1, f2)):
            out = gatehouse("backup", "verify", b, "--recovery-key", good, "--state-dir", lost)
            assert out.returncode == 0 and ": ok: full backup" in out.stdout, out.stdout + out.stderr
            out = gatehouse("backup", "verify", b, "--recovery-key", bad, "--state-dir", lost)
            assert out.returncode == 1 and ("sealed to recovery key %s" % fp_good) in out.stderr, out.stderr
        target = os.path.join(work, "rotate-restored")
        out = gatehouse("restore", b2, "--to", target, "--recovery-key", k2, "--state-dir", lost)
        assert out.returncode == 0, out.stderr
        r, rs = serve_restored(target)
        try:
            assert people_via_api(rs) == people_via_api(s)
            assert ok(rs.call("GET", "/api/v1/audit/verify"))["ok"]
        finally:
            r.stop()
    finally:
        a.stop()
    # Usage: no arguments.
    out = gh("keys", "recovery-rotate", "--now", state=a.state)
    assert out.returncode == 2 and "unexpected argument '--now'" in out.stderr, out.stderr


def test_recovery_key_rotation_stopped_before_its_rename_is_finished_by_the_next_command():
    a = Appliance().start()
    a.stop()
    keys = os.path.join(a.state, "keys")
    old = open(os.path.join(keys, "recovery.key")).read()
    out = gh("keys", "recovery-rotate", state=a.state)
    assert out.returncode == 0, out.stderr
    assert "was never exported and is shredded" in out.stdout, out.stdout
    new = open(os.path.join(keys, "recovery.key")).read()
    assert fingerprint_of(new) != fingerprint_of(old)
    # Stopped after the commit, before the rename: the next command puts the new secret in place.
    os.rename(os.path.join(keys, "recovery.key"), os.path.join(keys, "recovery.key.new"))
    assert gh("keys", "status", state=a.state).returncode == 0
    assert open(os.path.join(keys, "recovery.key")).read() == new
    assert not os.path.exists(os.path.join(keys, "recovery.key.new"))
    # Stopped before the commit: the staged secret is not the key in force and is shredded.
    with open(os.path.join(keys, "recovery.key.new"), "w") as f:
        f.write(old)
    assert gh("keys", "status", state=a.state).returncode == 0
    assert not os.path.exists(os.path.join(keys, "recovery.key.new"))
    assert open(os.path.join(keys, "recovery.key")).read() == new
    # A secret that is not the key in force is never handed out.
    with open(os.path.join(keys, "recovery.key"), "w") as f:
        f.write(old)
    out = gh("keys", "recovery-export", state=a.state)
    assert out.returncode == 1 and ("not the key in force %s" % fingerprint_of(new)) in out.stderr, out.stderr
    assert fingerprint_of(old) in out.stderr and "secret key" not in out.stdout


def test_recovery_key_rotated_while_a_backup_copies_the_database_the_backup_keeps_its_snapshots_key():
    """A rotation lands while a 300 MB copy runs (on a fast build it nearly always falls inside the copy;
    on a slow one it may come after): whichever it was, the key the file names restores it whole, and
    the other key is refused by name. A header naming one key over escrow wraps sealed to the other
    (the race this guards) would restore with neither."""
    a = Appliance().start()
    a.stop()
    add_ballast(a.state, 300)
    keys = os.path.join(a.state, "keys")
    k1 = os.path.join(work, "race-k1.txt")
    shutil.copy(os.path.join(keys, "recovery.key"), k1)
    f1 = fingerprint_of(open(k1).read())
    p = subprocess.Popen([os.path.join(BUILD, "gatehouse"), "backup", "run", "--state-dir", a.state],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    work_dir = os.path.join(backups_dir(a.state), ".work")
    deadline = time.time() + 60 * SLOW
    copying = False
    while time.time() < deadline and p.poll() is None and not copying:
        for d, _, files in os.walk(work_dir) if os.path.isdir(work_dir) else ():
            copying = copying or any(os.path.getsize(os.path.join(d, f)) > 4 << 20 for f in files
                                     if os.path.exists(os.path.join(d, f)))
        time.sleep(0.01)
    assert copying, "the snapshot copy was not seen (%s)" % p.poll()
    out = gh("keys", "recovery-rotate", state=a.state)
    assert out.returncode == 0, out.stderr
    k2 = os.path.join(work, "race-k2.txt")
    shutil.copy(os.path.join(keys, "recovery.key"), k2)
    f2 = fingerprint_of(open(k2).read())
    stdout, stderr = p.communicate(timeout=300 * SLOW)
    assert p.returncode == 0, stdout + stderr
    (name,) = backup_files(a.state, kind="full")
    name = os.path.join(backups_dir(a.state), name)
    lost = os.path.join(work, "race-lost")
    outcomes = {}
    for key, fp in ((k1, f1), (k2, f2)):
        target = os.path.join(work, "race-restored-" + fp)
        out = gatehouse("restore", name, "--to", target, "--recovery-key", key, "--state-dir", lost)
        outcomes[fp] = (out.returncode, out.stdout + out.stderr, target)
    restored = [fp for fp, (rc, text, _) in outcomes.items() if rc == 0 and "re-wrapped" in text]
    assert len(restored) == 1, outcomes
    refused = f2 if restored == [f1] else f1
    rc, text, _ = outcomes[refused]
    assert rc == 1 and ("sealed to recovery key %s" % restored[0]) in text, outcomes
    target = outcomes[restored[0]][2]
    assert rows(os.path.join(target, "gatehouse.db"), "SELECT count(*) FROM ballast") == [(300,)]
    status = gh("keys", "status", state=target).stdout
    assert ("key %s" % restored[0]) in status, status


def add_ballast(state, mb):
    """Incompressible rows, so a backup takes a while."""
    con = sqlite3.connect(os.path.join(state, "gatehouse.db"), timeout=30)
    con.execute("CREATE TABLE IF NOT EXISTS ballast (b BLOB)")
    con.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO ballast SELECT randomblob(1048576) FROM n", (mb,))
    con.commit()
    con.close()


def test_kill_9_half_way_leaves_nothing_that_counts():
    a = Appliance().start()
    try:
        bootstrap_admin(a)
        a.stop()
        add_ballast(a.state, 300)
        before = backup_files(a.state) if os.path.isdir(backups_dir(a.state)) else []
        p = subprocess.Popen([os.path.join(BUILD, "gatehouse"), "backup", "run", "--state-dir", a.state],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 60 * SLOW
        partial = None
        while time.time() < deadline and p.poll() is None:
            d = backups_dir(a.state)
            found = [f for f in os.listdir(d) if f.startswith(".partial-")] if os.path.isdir(d) else []
            if found and os.path.getsize(os.path.join(d, found[0])) > 4 << 20:
                partial = os.path.join(d, found[0])
                break
            time.sleep(0.01)
        assert partial, "no partial file seen (%s)" % p.poll()
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        assert os.path.exists(partial)
        assert backup_files(a.state) == before
        out = gh("backup", "list", state=a.state)
        assert out.returncode == 0 and ".partial" not in out.stdout and "ghb" not in out.stdout, out.stdout
        out = gh("backup", "verify", partial, state=a.state)
        assert out.returncode == 1 and "refused" in out.stderr, out.stderr
        # The next run clears what was left, records the killed one, and works.
        out = gh("backup", "run", state=a.state, timeout=300)
        assert out.returncode == 0, out.stderr
        assert not os.path.exists(partial)
        assert len(backup_files(a.state)) == 1
        assert rows(a.db(), "SELECT status FROM job_runs WHERE name = 'backup-full' ORDER BY id") == \
            [("interrupted",), ("ok",)]
        assert not os.listdir(os.path.join(backups_dir(a.state), ".work"))
    finally:
        a.cleanup()


def test_shutdown_during_a_backup_stops_it_cleanly():
    a = Appliance().start()
    try:
        bootstrap_admin(a)
        a.stop()
        add_ballast(a.state, 200)
        a.start()
        s = Session(a, "admin", ADMIN_PASSWORD)
        assert s.login()[0] == 200
        ok(s.call("POST", "/api/v1/jobs/backup-full/run"), 202)
        d = backups_dir(a.state)
        deadline = time.time() + 60 * SLOW
        while time.time() < deadline and not [f for f in os.listdir(d) if f.startswith(".partial-")]:
            time.sleep(0.01)
        t0 = time.time()
        assert a.stop() == 0, a.log()[-2000:]
        assert time.time() - t0 < 20 * SLOW
        assert a.find_line("waiting for backup-full to reach a safe point"), a.log()[-2000:]
        assert rows(a.db(), "SELECT status FROM job_runs WHERE name = 'backup-full'") == [("interrupted",)]
        assert os.listdir(d) == [".work"] and os.listdir(os.path.join(d, ".work")) == []
        assert rows(a.db(), "SELECT count(*) FROM alerts WHERE kind LIKE '%failed'")[0][0] == 0
    finally:
        a.cleanup()


def test_full_and_missing_destinations_fail_with_an_alert_and_the_service_stays_up():
    full = os.path.join(work, "tiny-usb")
    missing = os.path.join(work, "not-mounted", "backup")
    os.makedirs(full)
    out = run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", full])
    assert out.returncode == 0, "mounting a small tmpfs needs root: " + out.stderr
    a = Appliance(sets=["backup.destinations=%s, %s" % (full, missing)]).start()
    try:
        s = bootstrap_admin(a)
        a.stop()
        add_ballast(a.state, 1)
        a.start()
        s = Session(a, "admin", ADMIN_PASSWORD)
        assert s.login()[0] == 200
        r = run_job("backup-full", s)
        assert r["status"] == "failed", r
        assert "No space left on device" in r["error"] and missing in r["error"], r["error"]
        alerts = {json.loads(d)["destination"]: json.loads(d) for k, d in
                  rows(a.db(), "SELECT kind, details FROM alerts WHERE kind = 'backup.failed'")}
        assert "No space left on device" in alerts[full]["reason"], alerts
        assert "No such file or directory" in alerts[missing]["reason"], alerts
        assert rows(a.db(), "SELECT count(*) FROM alerts WHERE kind = 'job.failed'")[0][0] == 1
        assert not os.path.exists(missing), "a missing destination is never created"
        assert os.listdir(full) == [], "nothing that looks like a backup is left: %s" % os.listdir(full)
        # The service answers, and the backup in STATE/backups itself is whole.
        assert a.request("GET", "/healthz")[0] == 200
        assert len(backup_files(a.state)) == 1
        assert ok(s.call("GET", "/api/v1/backups"))["items"][0]["verified"]
    finally:
        a.cleanup()
        run(["umount", full])


def test_pruning_keeps_the_newest_complete_backup_however_old():
    a = Appliance().start()
    try:
        bootstrap_admin(a)
        a.stop()
        assert gh("backup", "run", state=a.state).returncode == 0
        time.sleep(1.1)
        assert gh("backup", "run", state=a.state).returncode == 0
        older, newer = backup_files(a.state, "full")
        # The newer one is damaged: it must not count as "the newest".
        path = os.path.join(backups_dir(a.state), newer)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 10)
        out = gh("backup", "list", state=a.state)
        assert "NOT OK" in out.stdout and "cut short" in out.stdout, out.stdout
        time.sleep(2.5)
        out = gatehouse("backup", "run", "--kind", "events", "--state-dir", a.state, "--set", "backup.retention=1s")
        assert out.returncode == 0, out.stderr
        left = backup_files(a.state)
        assert older in left and newer not in left, left
        assert len(backup_files(a.state, "events")) == 1
    finally:
        a.cleanup()


def test_tampered_files_are_refused_by_verify_and_restore():
    name = os.path.join(backups_dir(), backup_files(kind="full")[-1])
    data = open(name, "rb").read()
    cases = {
        "header": (data[:30] + bytes([data[30] ^ 1]) + data[31:], "header"),
        "middle": (data[:len(data) // 2] + bytes([data[len(data) // 2] ^ 0x40]) + data[len(data) // 2 + 1:],
                   "altered"),
        "truncated": (data[:len(data) * 2 // 3], "truncated"),
        "end": (data[:-16], "trailer"),
        "not a backup": (b"SQLite format 3\x00" + data[16:], "not a Gatehouse backup"),
    }
    for what, (bad, reason) in cases.items():
        path = os.path.join(work, "tampered.ghb")
        with open(path, "wb") as f:
            f.write(bad)
        out = gh("backup", "verify", path)
        assert out.returncode == 1 and "refused" in out.stderr and reason in out.stderr, (what, out.stderr)
        target = os.path.join(work, "restored-tampered")
        out = gh("restore", path, "--to", target)
        assert out.returncode == 1 and reason in out.stderr, (what, out.stderr)
        assert not os.path.exists(target), what
        assert not [f for f in os.listdir(work) if f.startswith(".gatehouse-restore")], what
    # Through the API: a damaged file is answered, with the reason.
    copy = os.path.join(backups_dir(), os.path.basename(name).replace(".ghb", "-9.ghb"))
    with open(copy, "wb") as f:
        f.write(cases["middle"][0])
    doc = ok(root.call("POST", "/api/v1/backups/%s/verify" % os.path.basename(copy)))
    assert doc["ok"] is False and "altered" in doc["error"], doc
    os.unlink(copy)
    # Restore never overwrites.
    occupied = os.path.join(work, "occupied")
    os.makedirs(occupied)
    open(os.path.join(occupied, "something"), "w").close()
    out = gh("restore", name, "--to", occupied)
    assert out.returncode == 1 and "never overwrites" in out.stderr, out.stderr


def test_person_erased_after_the_backup_stays_erased_when_it_is_restored():
    bob = ids["bob@example.org"]
    r = run_job("backup-full")
    assert r["status"] == "ok"
    name = os.path.join(backups_dir(), backup_files(kind="full")[-1])
    assert ok(root.call("DELETE", "/api/v1/people/%d" % bob), 204) is None
    listed = [b for b in ok(root.call("GET", "/api/v1/backups"))["items"] if b["name"] == os.path.basename(name)]
    assert listed[0]["erased_since"] == 1, listed
    out = gh("backup", "verify", name)
    assert "1 people erased since" in out.stdout, out.stdout
    # On the same appliance: the live ledger is replayed.
    target = os.path.join(work, "restored-erasure")
    out = gh("restore", name, "--to", target)
    assert out.returncode == 0 and "1 people erased after the backup" in out.stdout, out.stdout
    assert rows(os.path.join(target, "keys", "keystore.db"),
                "SELECT count(*) FROM person_keys WHERE person_id = ?", bob)[0][0] == 0
    a, s = serve_restored(target)
    try:
        assert s.call("GET", "/api/v1/people/%d" % bob)[0] == 404
        assert [p for p in people_via_api(s) if p[0] == bob] == []
        assert len(people_via_api(s)) == len(people_via_api(root))
    finally:
        a.stop()
    # The honest limit: without any ledger newer than the backup (a lost
    # appliance, no later backup), the person comes back; given one, not.
    master = os.path.join(app.state, "keys", "master.key")
    elsewhere = os.path.join(work, "restored-no-ledger")
    out = gatehouse("restore", name, "--to", elsewhere, "--master-key", master, "--state-dir",
                    os.path.join(work, "no-state"))
    assert out.returncode == 0 and "0 people erased" in out.stdout, out.stdout + out.stderr
    assert rows(os.path.join(elsewhere, "gatehouse.db"), "SELECT count(*) FROM people WHERE id = ?", bob)[0][0] == 1
    out = gh("backup", "run", "--kind", "events")
    assert out.returncode == 0, out.stderr
    later = os.path.join(backups_dir(), backup_files(kind="events")[-1])
    elsewhere = os.path.join(work, "restored-later-ledger")
    out = gatehouse("restore", name, "--to", elsewhere, "--master-key", master, "--erasures-from", later,
                    "--state-dir", os.path.join(work, "no-state"))
    assert out.returncode == 0 and "1 people erased after" in out.stdout, out.stdout + out.stderr
    assert rows(os.path.join(elsewhere, "gatehouse.db"), "SELECT count(*) FROM people WHERE id = ?", bob)[0][0] == 0


def test_backup_api_and_usage_errors():
    assert root.call("GET", "/api/v1/backups/nothing-here.ghb")[0] == 404
    assert root.call("GET", "/api/v1/backups/..%2F..%2Fkeys%2Fmaster.key")[0] in (400, 404)
    status, h, data = root.raw("GET", "/api/v1/backups/" + backup_files(kind="full")[-1])
    assert status == 200 and data[:8] == b"GHBACKUP" and "attachment" in h["content-disposition"]
    audit = ok(root.call("GET", "/api/v1/audit?action=backup.download"))["items"]
    assert audit and audit[0]["outcome"] == "ok"
    for args in (["backup"], ["backup", "run", "--kind", "weekly"], ["backup", "verify"], ["restore", "x"],
                 ["restore", "x", "--to", "a", "--into", "b"]):
        out = gatehouse(*args, "--state-dir", app.state)
        assert out.returncode == 2 and "usage" in out.stderr, (args, out.stderr)
    jobs = {j["name"]: j for j in ok(root.call("GET", "/api/v1/jobs"))["items"]}
    assert jobs["backup-full"]["schedule"] == "cron 0 2 * * 0"
    assert jobs["backup-events"]["schedule"] == "cron 0 1 * * *"
