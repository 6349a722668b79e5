"""`gatehouse audit verify|public-key` through the real binary, on a state
directory made by the real service.

The service writes the first entries (the bootstrap admin) and signs the
head when it stops. Further rows here are written with sqlite3: rows made
by hand following docs/audit.md's canonical form (which checks that the
documented form is the one the binary verifies), and hand edits that
simulate tampering. Commands that write audit entries (admin ...) are
tested in their own files."""

import hashlib
import os
import re
import shutil
import sqlite3
import struct
import tempfile

from harness import Appliance, gatehouse

state = None


def setup_module():
    global state
    app = Appliance()
    app.start()
    app.stop()
    state = app.state


def teardown_module():
    if state:
        shutil.rmtree(state, ignore_errors=True)


def audit(*args, **kw):
    return gatehouse("audit", *args, "--state-dir", kw.pop("state_dir", state), **kw)


# --- the canonical form, as documented in docs/audit.md -------------------

def field(b):
    return struct.pack(">I", len(b)) + b


def i64(v):
    return field(struct.pack(">q", v))


def entry_hash(prev, e):
    c = field(b"gatehouse-audit-v1") + i64(e["id"]) + field(e["uid"].encode()) + i64(e["at"])
    c += i64(e["tenant_id"]) if e["tenant_id"] is not None else field(b"")
    for k in ("actor_type", "actor_id", "source", "action", "target", "outcome", "details"):
        c += field(e[k].encode())
    c += field(e["sealed"] or b"")
    return hashlib.blake2b(prev + c, digest_size=32).digest()


def insert(db, e, prev, digest=None):
    db.execute(
        "INSERT INTO audit_log (id, uid, at, tenant_id, actor_type, actor_id, source, action, "
        "target, outcome, details, sealed, prev_hash, hash) "
        "VALUES (:id, :uid, :at, :tenant_id, :actor_type, :actor_id, :source, :action, :target, "
        ":outcome, :details, :sealed, :prev, :hash)",
        dict(e, prev=prev, hash=digest if digest is not None else entry_hash(prev, e)))
    db.commit()


def entry(id, uid, **kw):
    e = dict(id=id, uid=uid, at=1717000000000 + id, tenant_id=1, actor_type="admin",
             actor_id="admin:1", source="192.0.2.7", action="admin.update", target="admin:2",
             outcome="ok", details='{"fields":"role"}', sealed=None)
    e.update(kw)
    return e


# --- tests ------------------------------------------------------------------

OK_LINE = re.compile(r"audit chain OK: (\d+) entr(?:y|ies), (\d+) signed anchors?, "
                     r"(\d+) entr(?:y|ies) after the last signature\n")


def verify_ok(*args):
    """Run verify, expect OK; returns (entries, anchors, unsigned tail)."""
    out = audit("verify", *args)
    assert out.returncode == 0, out.stdout + out.stderr
    m = OK_LINE.match(out.stdout)
    assert m, out.stdout
    return tuple(int(g) for g in m.groups())


def chain_end(db):
    row = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    return row if row else (0, bytes(32))


def test_verify_empty_chain():
    fresh = tempfile.mkdtemp(prefix="gh-audit-")
    try:
        out = audit("verify", state_dir=fresh)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.startswith("audit chain OK: 0 entries, 0 signed anchors, "
                                     "0 entries after the last signature\n"), out.stdout
        assert "key store's public key" in out.stdout
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


def test_verify_what_the_service_wrote():
    # The service signs the head when it stops: nothing is left unsigned.
    entries, anchors, tail = verify_ok()
    assert tail == 0 and (entries == 0 or anchors >= 1), (entries, anchors, tail)
    if entries == 0:
        return
    # An entry made by our code, edited by hand, is named.
    db = sqlite3.connect(os.path.join(state, "gatehouse.db"))
    try:
        id, uid, source = db.execute("SELECT id, uid, source FROM audit_log ORDER BY id LIMIT 1").fetchone()
        db.execute("UPDATE audit_log SET source = '203.0.113.9' WHERE id = ?", (id,))
        db.commit()
        out = audit("verify")
        assert out.returncode == 1, out.stdout + out.stderr
        assert out.stdout == ("audit chain BROKEN at entry %d (uid %s): "
                              "hash does not match its content (entry altered)\n" % (id, uid)), out.stdout
    finally:
        db.execute("UPDATE audit_log SET source = ? WHERE id = ?", (source, id))
        db.commit()
        db.close()
    assert verify_ok() == (entries, anchors, tail)


def test_public_key_is_stable_and_checks_out():
    a = audit("public-key")
    b = audit("public-key")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert re.fullmatch(r"[0-9a-f]{64}\n", a.stdout), a.stdout
    assert a.stdout == b.stdout
    key = bytes.fromhex(a.stdout.strip())
    assert open(os.path.join(state, "keys", "master.key"), "rb").read() != key
    entries, anchors, _ = verify_ok()
    # Given back as hex (blanks around ignored) or as raw bytes.
    tmp = tempfile.mkdtemp(prefix="gh-pk-")
    try:
        hexfile = os.path.join(tmp, "audit.pub")
        with open(hexfile, "w") as f:
            f.write("  " + a.stdout + "\n")
        out = audit("verify", "--public-key", hexfile)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "checked against the public key in " + hexfile in out.stdout
        rawfile = os.path.join(tmp, "audit.raw")
        with open(rawfile, "wb") as f:
            f.write(key)
        assert verify_ok("--public-key=" + rawfile)[1] == anchors
        # Another key: every signature fails.
        other = os.path.join(tmp, "other.pub")
        with open(other, "w") as f:
            f.write(bytes([key[0] ^ 1]).hex() + a.stdout[2:])
        out = audit("verify", "--public-key", other)
        if anchors:
            assert out.returncode == 1, out.stdout + out.stderr
            assert re.match(r"audit chain BROKEN at entry \d+ .*: signature of head anchor \d+ is invalid\n",
                            out.stdout), out.stdout
        # Not a key.
        bad = os.path.join(tmp, "bad.pub")
        with open(bad, "w") as f:
            f.write(a.stdout.strip()[:-1] + "\n")
        out = audit("verify", "--public-key", bad)
        assert out.returncode == 2 and "not a public key" in out.stderr, out.stderr
        out = audit("verify", "--public-key", os.path.join(tmp, "missing"))
        assert out.returncode == 2 and "No such file" in out.stderr, out.stderr
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_hand_written_rows_and_tampering():
    entries, anchors, _ = verify_ok()
    db = sqlite3.connect(os.path.join(state, "gatehouse.db"))
    base, h0 = chain_end(db)
    max_anchor = db.execute("SELECT coalesce(max(id), 0) FROM audit_anchors").fetchone()[0]
    try:
        # A row written by hand with the documented hash is accepted (the
        # form is the one the binary checks), and counts as unsigned.
        e1 = entry(base + 1, "a" * 32)
        insert(db, e1, h0)
        assert verify_ok() == (entries + 1, anchors, 1)
        h1 = entry_hash(h0, e1)
        e2 = entry(base + 2, "b" * 32, tenant_id=None, actor_type="system", actor_id="cli:root",
                   source="cli", action="keys.rotate", target="", details="{}",
                   sealed=b"\x01T" + bytes(60))
        insert(db, e2, h1)
        h2 = entry_hash(h1, e2)
        assert verify_ok() == (entries + 2, anchors, 2)

        # A row with a wrong hash: BROKEN at it, named by id and uid.
        e3 = entry(base + 3, "c" * 32)
        insert(db, e3, h2, digest=bytes(32))
        out = audit("verify")
        assert out.returncode == 1, out.stdout + out.stderr
        assert out.stdout == ("audit chain BROKEN at entry %d (uid %s): "
                              "hash does not match its content (entry altered)\n" % (base + 3, "c" * 32)), out.stdout
        db.execute("DELETE FROM audit_log WHERE id = ?", (base + 3,))
        db.commit()

        # An edited row.
        db.execute("UPDATE audit_log SET outcome = 'denied' WHERE id = ?", (base + 1,))
        db.commit()
        out = audit("verify")
        assert out.returncode == 1
        assert out.stdout.startswith("audit chain BROKEN at entry %d (uid %s): " % (base + 1, "a" * 32)), out.stdout
        assert "entry altered" in out.stdout
        db.execute("UPDATE audit_log SET outcome = 'ok' WHERE id = ?", (base + 1,))
        db.commit()
        verify_ok()

        # A row removed from the middle: the next one is named.
        insert(db, entry(base + 3, "d" * 32), h2)
        db.execute("DELETE FROM audit_log WHERE id = ?", (base + 2,))
        db.commit()
        out = audit("verify")
        assert out.returncode == 1
        assert out.stdout == ("audit chain BROKEN at entry %d (uid %s): does not link to entry %d: "
                              "entry %d is missing (entry removed)\n"
                              % (base + 3, "d" * 32, base + 1, base + 2)), out.stdout
        db.execute("DELETE FROM audit_log WHERE id = ?", (base + 3,))
        db.commit()

        # A forged anchor.
        cur = db.execute("INSERT INTO audit_anchors (kind, entry_id, hash, signature, signed_at) "
                         "VALUES ('head', ?, ?, ?, 0)", (base + 1, h1, os.urandom(64)))
        db.commit()
        out = audit("verify")
        assert out.returncode == 1
        assert out.stdout == ("audit chain BROKEN at entry %d (uid %s): "
                              "signature of head anchor %d is invalid\n"
                              % (base + 1, "a" * 32, cur.lastrowid)), out.stdout
    finally:
        db.execute("DELETE FROM audit_anchors WHERE id > ?", (max_anchor,))
        db.execute("DELETE FROM audit_log WHERE id > ?", (base,))
        db.commit()
        db.close()
    assert verify_ok() == (entries, anchors, 0)


def test_verify_while_the_service_runs():
    app = Appliance(state=state).start()
    try:
        verify_ok()
        out = audit("public-key")
        assert out.returncode == 0 and len(out.stdout.strip()) == 64
    finally:
        app.stop()
    assert verify_ok()[2] == 0


def test_audit_usage_errors():
    never = os.path.join(tempfile.gettempdir(), "gh-audit-never-created")
    for args in (("audit",), ("audit", "nonsense"), ("audit", "verify", "--bogus"),
                 ("audit", "verify", "--public-key"), ("audit", "public-key", "extra")):
        out = gatehouse(*args, "--state-dir", never)
        assert out.returncode == 2, (args, out.returncode, out.stderr)
        assert "usage: gatehouse audit" in out.stderr or "unexpected argument" in out.stderr, out.stderr
    assert not os.path.exists(never)
    out = gatehouse("help")
    assert "audit verify [--public-key FILE]" in out.stdout and "audit public-key" in out.stdout
