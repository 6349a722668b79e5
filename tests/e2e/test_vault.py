"""The vault through the real binary: key files and refusals at start, the
systemd credential, `keys status|rotate|rewrap-master` while the service
runs, kill-and-resume of a rotation, and a byte-by-byte search of the
state directory for plaintext personal data.

Sealed data is seeded by build/vault-fixture, a client of the same vault
library (like any CLI command), running beside the service."""

import os
import re
import shutil
import signal
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time

from harness import BUILD, SLOW, Appliance, StartError, gatehouse, run

FIXTURE = os.path.abspath(os.path.join(BUILD, "vault-fixture"))


def fixture(*args, check=True):
    out = run([FIXTURE, *args], timeout=300)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


def start_fails(app, text):
    try:
        app.start(timeout=5)
        assert False, "started when it should not have"
    except StartError:
        pass
    assert app.proc.returncode == 1
    assert text in app.log(), app.log()


def test_first_start_creates_key_files_outside_the_database():
    app = Appliance().start()
    try:
        keys = os.path.join(app.state, "keys")
        assert stat.S_IMODE(os.stat(keys).st_mode) == 0o700
        mk = os.path.join(keys, "master.key")
        assert stat.S_IMODE(os.stat(mk).st_mode) == 0o600
        key = open(mk, "rb").read()
        assert len(key) == 32
        assert os.path.exists(os.path.join(keys, "keystore.db"))
        # The master key is in no database file and no log line.
        for root, _, files in os.walk(app.state):
            for f in files:
                if f != "master.key":
                    assert key not in open(os.path.join(root, f), "rb").read(), f
        assert key.hex() not in app.log()
        # The main database holds no keys at all.
        db = sqlite3.connect(app.db())
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "tenants" in tables and not any("key" in t for t in tables), tables
        assert db.execute("SELECT slug FROM tenants").fetchall() == [("default",)]
    finally:
        app.cleanup()


def test_start_refused_without_the_right_master_key():
    app = Appliance().start()
    try:
        app.stop()
        mk = os.path.join(app.state, "keys", "master.key")
        saved = open(mk, "rb").read()
        os.chmod(mk, 0o644)
        start_fails(app, "is accessible to other users (mode 0644)")
        os.unlink(mk)
        start_fails(app, "is initialised but its master key")
        with open(mk, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(mk, 0o600)
        start_fails(app, "does not match this database")
        with open(mk, "wb") as f:
            f.write(saved)
        app.start()
        status, _, _ = app.request("GET", "/readyz")
        assert status == 200
    finally:
        app.cleanup()


def test_key_store_missing_is_refused():
    app = Appliance().start()
    try:
        app.stop()
        for suffix in ("", "-wal", "-shm"):
            p = os.path.join(app.state, "keys", "keystore.db" + suffix)
            if os.path.exists(p):
                os.unlink(p)
        try:
            app.start(timeout=5)
            assert False, "started without its key store"
        except StartError:
            pass
        assert "key store" in app.log() or "no such table" in app.log(), app.log()
    finally:
        app.cleanup()


def test_master_key_from_systemd_credential():
    app = Appliance().start()
    creds = tempfile.mkdtemp(prefix="gh-creds-")
    try:
        app.stop()
        mk = os.path.join(app.state, "keys", "master.key")
        shutil.move(mk, os.path.join(creds, "master.key"))
        os.chmod(creds, 0o700)
        app.env["CREDENTIALS_DIRECTORY"] = creds
        app.start()
        assert not os.path.exists(mk)
        out = gatehouse("keys", "status", "--state-dir", app.state, env=app.env)
        assert out.returncode == 0 and "(systemd credential)" in out.stdout, out.stdout
    finally:
        app.cleanup()
        shutil.rmtree(creds)


PLAINTEXTS_PREFIX = "Zq7LeakProbe"


def test_no_plaintext_anywhere_in_the_state_directory():
    app = Appliance().start()
    try:
        fixture("seed", app.state, "300", PLAINTEXTS_PREFIX)
        # Keep the service busy while the data sits in the WAL.
        for _ in range(5):
            assert app.request("GET", "/readyz")[0] == 200
        probes = [b"%s-note-%d" % (PLAINTEXTS_PREFIX.encode(), i) for i in range(1, 301)]
        probes += [("%s-名前-%d" % (PLAINTEXTS_PREFIX, i)).encode() for i in range(1, 301)]
        probes += [b"%s-%d@example.jp" % (PLAINTEXTS_PREFIX.lower().encode(), i) for i in range(1, 301)]
        probes += [b"%s-%d@example.jp" % (PLAINTEXTS_PREFIX.encode(), i) for i in range(1, 301)]
        probes.append(PLAINTEXTS_PREFIX.encode())

        def scan():
            seen = 0
            for root, _, files in os.walk(app.state):
                for f in files:
                    data = open(os.path.join(root, f), "rb").read()
                    seen += 1
                    for p in probes:
                        assert p not in data, (f, p)
            return seen

        # While running (database, -wal, -shm all present) and after stopping.
        assert os.path.exists(app.db() + "-wal")
        assert scan() >= 6
        assert app.stop() == 0
        scan()
        fixture("verify", app.state, PLAINTEXTS_PREFIX)
    finally:
        app.cleanup()


def test_rotate_while_serving_and_writing():
    app = Appliance().start()
    try:
        fixture("seed", app.state, "3000", "rot")
        errors = []
        stop = threading.Event()

        def hammer():
            conn = app.connection()
            while not stop.is_set():
                status, _, _ = app.request("GET", "/readyz", conn=conn)
                if status != 200:
                    errors.append(status)
            conn.close()

        t = threading.Thread(target=hammer)
        t.start()
        # Writers seal new rows in another process during the rotation.
        writer = subprocess.Popen([FIXTURE, "seed", app.state, "3000", "rot", "100001"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = gatehouse("keys", "rotate", "--state-dir", app.state, "--batch", "100", timeout=300)
        w_out, w_err = writer.communicate(timeout=300 * SLOW)
        stop.set()
        t.join()
        assert out.returncode == 0, out.stdout + out.stderr
        assert writer.returncode == 0, w_err
        assert "default: done" in out.stdout and "old data key retired" in out.stdout, out.stdout
        assert not errors, errors[:5]
        # An admin action like any other: in the audit log, by cli:<user>.
        rows = sqlite3.connect(app.db()).execute(
            "SELECT actor_id, target, outcome FROM audit_log WHERE action = 'keys.rotate'").fetchall()
        assert rows and rows[0][0].startswith("cli:") and rows[0][2] == "ok", rows
        # Everything written before, during and after reads back.
        v = fixture("verify", app.state, "rot")
        assert "verified 6000, shredded 0, failed 0" in v.stdout, v.stdout
        # Finish anything the writer sealed with the old key before the switch
        # was visible to it, then all is on one version.
        gatehouse("keys", "rotate", "--state-dir", app.state, timeout=300)
        st = gatehouse("keys", "status", "--state-dir", app.state)
        m = re.search(r"default\s+data key v(\d+)\s+current\s+person keys 6000 \(0 under an old version\), "
                      r"tenant-sealed fields under an old version 0, retired versions (\d+)", st.stdout)
        assert m, st.stdout
        ks = sqlite3.connect(os.path.join(app.state, "keys", "keystore.db"))
        assert ks.execute("SELECT count(*) FROM tenant_keys WHERE state='retired' AND wrapped IS NOT NULL").fetchone()[0] == 0
        assert app.request("GET", "/readyz")[0] == 200
    finally:
        app.cleanup()


def test_rotation_killed_half_way_resumes():
    state = tempfile.mkdtemp(prefix="gh-rot-")
    try:
        fixture("seed", state, "40000", "kill")
        proc = subprocess.Popen([os.path.join(BUILD, "gatehouse"), "keys", "rotate", "--state-dir", state,
                                 "--tenant", "default", "--batch", "20"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Kill it once it has committed some batches but long before the end.
        deadline = time.time() + 60 * SLOW
        ks = sqlite3.connect(os.path.join(state, "keys", "keystore.db"), timeout=30)
        done = 0
        while time.time() < deadline:
            row = ks.execute("SELECT person_keys_done FROM rotations").fetchone()
            done = row[0] if row else 0
            if done >= 2000:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert 2000 <= done < 40000, done
        ks.close()
        st = gatehouse("keys", "status", "--state-dir", state)
        assert re.search(r"default\s+data key v2\s+rotating", st.stdout), st.stdout
        # Values are readable in the middle of a rotation.
        v = fixture("verify", state, "kill")
        assert "verified 40000, shredded 0, failed 0" in v.stdout, v.stdout
        out = gatehouse("keys", "rotate", "--state-dir", state, "--tenant", "default", timeout=300)
        assert out.returncode == 0 and "resuming the rotation in progress" in out.stdout, out.stdout
        st = gatehouse("keys", "status", "--state-dir", state)
        assert re.search(r"default\s+data key v2\s+current\s+person keys 40000 \(0 under an old version\), "
                         r"tenant-sealed fields under an old version 0, retired versions 1", st.stdout), st.stdout
        v = fixture("verify", state, "kill")
        assert "verified 40000, shredded 0, failed 0" in v.stdout, v.stdout
    finally:
        shutil.rmtree(state)


def test_rewrap_master_while_serving():
    app = Appliance().start()
    d = tempfile.mkdtemp(prefix="gh-mk-")
    try:
        fixture("seed", app.state, "50", "mk")
        mk = os.path.join(app.state, "keys", "master.key")
        old = os.path.join(d, "old.key")
        shutil.copy(mk, old)
        new = os.path.join(d, "new.key")
        out = gatehouse("keys", "rewrap-master", "--state-dir", app.state, "--old", old, "--new", new)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "created a new master key" in out.stdout and "installed the new master key" in out.stdout
        rows = sqlite3.connect(app.db()).execute(
            "SELECT actor_id, outcome, details FROM audit_log WHERE action = 'keys.rewrap_master'").fetchall()
        assert len(rows) == 1 and rows[0][0].startswith("cli:") and rows[0][1] == "ok", rows
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o600
        assert open(mk, "rb").read() == open(new, "rb").read()
        # Ciphertexts were not touched, and everything opens with the new key.
        assert "verified 50" in fixture("verify", app.state, "mk").stdout
        assert app.request("GET", "/readyz")[0] == 200
        # The running service picks the new key up when it next needs it.
        fixture("seed", app.state, "10", "mk", "51")
        assert "verified 60" in fixture("verify", app.state, "mk").stdout
        app.stop()
        app.start()
        # The old key is refused now; wrong --old is refused before any change.
        shutil.copy(old, mk)
        out = gatehouse("keys", "status", "--state-dir", app.state)
        assert out.returncode == 1 and "does not match this database" in out.stderr
        shutil.copy(new, mk)
        out = gatehouse("keys", "rewrap-master", "--state-dir", app.state, "--old", old, "--new", old)
        assert out.returncode == 1 and "the same" in out.stderr
        out = gatehouse("keys", "rewrap-master", "--state-dir", app.state, "--old", old, "--new",
                        os.path.join(d, "third.key"))
        assert out.returncode == 1 and "old master key does not match" in out.stderr
    finally:
        app.cleanup()
        shutil.rmtree(d)


def test_keys_usage_errors():
    out = gatehouse("keys")
    assert out.returncode == 2 and "usage: gatehouse keys status" in out.stderr
    never = os.path.join(tempfile.gettempdir(), "gh-never-created")
    out = gatehouse("keys", "rotate", "--batch", "0", "--state-dir", never)
    assert out.returncode == 2 and "--batch must be 1-100000" in out.stderr
    assert not os.path.exists(never)
    out = gatehouse("keys", "rewrap-master", "--old", "x")
    assert out.returncode == 2 and "--new FILE" in out.stderr
