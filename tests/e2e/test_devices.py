"""The device link against independent clients: terminals enrolled through
the REST API (openssl makes the key and CSR), then Debian's mosquitto_pub,
mosquitto_sub and mosquitto_rr speak MQTT 3.1.1 over mutual TLS to the real
binary, and raw TLS sockets send malformed packets. Results are read back
through the API and from the SQLite file.

The contract being tested is docs/device-protocol.md."""

import base64
import hashlib
import json
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time

from harness import BUILD, SLOW, Appliance, bootstrap_admin, run
from harness import Terminal as _Terminal

FIXTURE = os.path.abspath(os.path.join(BUILD, "vault-fixture"))

app = None
root = None
work = None
ids = {}
terms = {}


def Terminal(name, uid, device_id, key_pem, cert_pem, ca_pem):
    return _Terminal(app, os.path.join(work, name), uid, device_id, key_pem, cert_pem, ca_pem)


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def make_csr(name, curve="prime256v1", rsa=False):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    key = os.path.join(d, "key.pem")
    if rsa:
        run(["openssl", "genrsa", "-out", key, "2048"])
    else:
        run(["openssl", "ecparam", "-name", curve, "-genkey", "-noout", "-out", key])
    out = run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=whatever-the-terminal-says"])
    assert out.returncode == 0, out.stderr
    with open(key) as f:
        return f.read(), out.stdout


def enrol(name, site=None):
    """Create a terminal and enrol it the preferred way: token + CSR."""
    body = {"name": name, "model": "GH-R100"}
    if site:
        body["site_id"] = site
    doc = ok(root.call("POST", "/api/v1/devices", body), 201)
    assert doc["device"]["status"] == "pending" and doc["enroll_token"].startswith("ghe_")
    key, csr = make_csr(name)
    status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": doc["enroll_token"], "csr": csr})
    assert status == 200, (status, data)
    got = json.loads(data)
    assert got["uid"] == doc["device"]["uid"]
    t = Terminal(name, got["uid"], got["device_id"], key, got["cert_pem"], got["ca_pem"])
    t.token = doc["enroll_token"]
    return t


def db_rows(sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % app.db(), uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def wait_for(fn, timeout=10):
    deadline = time.time() + timeout * SLOW
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.1)


def setup_module():
    global app, root, work
    work = tempfile.mkdtemp(prefix="gh-devices-")
    app = Appliance(sets=["limits.api_per_second=5000", "limits.api_burst=5000", "devices.max_packet=8K",
                          "devices.handshake_timeout=2s"]).start()
    root = bootstrap_admin(app)
    ids["site"] = ok(root.call("POST", "/api/v1/sites", {"name": "HQ", "timezone": "Asia/Tokyo"}), 201)["id"]
    always = [{"day": d, "start": "00:00", "end": "24:00"} for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    ids["always"] = ok(root.call("POST", "/api/v1/schedules", {"name": "Always", "windows": always}), 201)["id"]
    ids["staff"] = ok(root.call("POST", "/api/v1/access-groups", {"name": "Staff"}), 201)["id"]
    ids["taro"] = ok(root.call("POST", "/api/v1/people", {"name": "山田 太郎", "group_ids": [ids["staff"]]}), 201)["id"]
    ids["card"] = ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"],
                               {"kind": "card", "number": "0450 1234 5678"}), 201)["id"]
    terms["a"] = enrol("door-a", ids["site"])
    door = ok(root.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": "Main",
                                                  "terminal_id": terms["a"].id}), 201)
    ids["door"] = door["id"]
    ok(root.call("POST", "/api/v1/access-levels", {"name": "Staff main", "group_id": ids["staff"],
                                                   "schedule_id": ids["always"], "door_ids": [ids["door"]]}), 201)


def teardown_module():
    app.cleanup()
    shutil.rmtree(work, ignore_errors=True)


# --- enrolment -----------------------------------------------------------------------------

def test_enrolled_certificate_names_the_terminal_and_chains_to_the_device_ca():
    t = terms["a"]
    subject = run(["openssl", "x509", "-in", t.cert, "-noout", "-subject"]).stdout
    assert "CN = %s" % t.uid in subject and "whatever" not in subject
    out = run(["openssl", "verify", "-CAfile", t.ca, "-purpose", "sslclient", t.cert])
    assert out.returncode == 0, out.stdout + out.stderr
    dev = ok(root.call("GET", "/api/v1/devices/%d" % t.id))
    assert dev["status"] == "active" and dev["certificate_serial"]
    # The token worked once.
    _, csr = make_csr("again")
    status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": t.token, "csr": csr})
    assert status == 400 and json.loads(data)["error"]["fields"][0]["field"] == "token"
    audit = ok(root.call("GET", "/api/v1/audit?action=device.enroll"))
    assert any(e["target"] == "device:%d" % t.id for e in audit["items"]), audit


def test_enrolment_refuses_bad_csrs_and_keeps_the_token():
    doc = ok(root.call("POST", "/api/v1/devices", {"name": "picky"}), 201)
    token = doc["enroll_token"]
    _, rsa_csr = make_csr("rsa", rsa=True)
    _, p384_csr = make_csr("p384", curve="secp384r1")
    for csr in (rsa_csr, p384_csr, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"):
        status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": token, "csr": csr})
        assert status == 400, (status, data)
        assert json.loads(data)["error"]["fields"][0]["field"] == "csr"
    _, csr = make_csr("picky")
    status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": token, "csr": csr})
    assert status == 200, data
    status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": "ghe_" + "A" * 32, "csr": csr})
    assert status == 400
    status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": token})
    assert status == 400 and b"csr" in data


def test_bundle_terminal_publishes_with_mosquitto():
    doc = ok(root.call("POST", "/api/v1/devices", {"name": "bundle", "enrollment": "bundle"}), 201)
    b = doc["bundle"]
    t = Terminal("bundle", doc["device"]["uid"], doc["device"]["id"], b["key_pem"], b["cert_pem"], b["ca_pem"])
    terms["b"] = t
    assert doc["device"]["status"] == "active"
    # The key was shown once and is not in the database.
    key_body = "".join(b["key_pem"].strip().splitlines()[1:-1])
    with open(app.db(), "rb") as f:
        assert key_body[:40].encode() not in f.read()
    out = t.pub("events", {"seq": 1, "at": int(time.time() * 1000), "kind": "door_opened"})
    assert out.returncode == 0, out.stderr
    assert db_rows("SELECT kind FROM events WHERE device_id = ?", t.id) == [("door_opened",)]


# --- events --------------------------------------------------------------------------------

def test_events_stored_once_in_order_with_the_card_sealed():
    t = terms["a"]
    now = int(time.time() * 1000)
    evs = [{"seq": s, "at": now - 10000 + s, "kind": "access", "door_id": ids["door"], "card": "045012345678",
            "result": "granted", "reason": "granted"} for s in range(1, 6)]
    assert t.pub("events", {"events": evs}).returncode == 0
    # An outage's resend overlaps what was stored: 3..5 again, then 6..7.
    more = evs[2:] + [dict(evs[0], seq=s, at=now - 10000 + s) for s in (6, 7)]
    assert t.pub("events", more).returncode == 0
    assert t.pub("events", more[-1]).returncode == 0
    rows = db_rows("SELECT seq, at, person_id, credential_id, result, details FROM events WHERE device_id = ? "
                   "ORDER BY id", t.id)
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert [r[1] for r in rows] == [now - 10000 + s for s in range(1, 8)]
    assert all(r[2] == ids["taro"] and r[3] == ids["card"] and r[4] == "granted" for r in rows)
    with open(app.db(), "rb") as f:
        assert b"045012345678" not in f.read()
    row = db_rows("SELECT id FROM events WHERE device_id = ? AND seq = 1", t.id)[0][0]
    out = run([FIXTURE, "open-field", app.state, app.db(), "1", "events", "details", str(row)])
    assert out.returncode == 0 and json.loads(out.stdout) == {"card": "045012345678"}, out


def test_bad_event_payload_closes_the_connection_with_a_logged_reason():
    t = terms["b"]
    for payload, reason in (('{"seq": 0, "at": 1795662292006, "kind": "access"}', "seq must be a positive integer"),
                            ('{"seq": 9, "at": 5, "kind": "access"}', "at must be a Unix time"),
                            ('{"seq": 9, "at": 1795662292006, "kind": "party"}', "unknown event kind"),
                            ('not json', "events payload is not JSON")):
        out = t.pub("events", payload)
        assert out.returncode != 0, payload
        assert app.wait_line(r"%s .*closed: .*%s" % (t.uid, reason)), (reason, app.log()[-2000:])
    assert db_rows("SELECT count(*) FROM events WHERE device_id = ? AND seq = 9", t.id) == [(0,)]


# --- who may connect -----------------------------------------------------------------------

def test_another_terminals_topic_or_id_is_refused():
    a, b = terms["a"], terms["b"]
    out = a.pub(None, {"seq": 1, "at": int(time.time() * 1000), "kind": "tamper"}, topic=b.topic("events"))
    assert out.returncode != 0
    assert app.wait_line(r"%s .*closed: publish outside the terminal's namespace" % a.uid)
    out = run(["mosquitto_sub", *a.args(), "-t", b.topic("commands"), "-C", "1", "-W", "3"], timeout=20)
    assert out.returncode != 0
    assert app.wait_line(r"%s .*closed: subscription outside the terminal's namespace" % a.uid)
    # a's certificate with b's client id: CONNACK refuses the identifier.
    out = a.pub("events", "{}", client_id=b.uid)
    assert out.returncode != 0 and "identifier rejected" in out.stderr, out.stderr
    assert app.wait_line(r"closed: client id differs from the certificate's terminal")
    assert db_rows("SELECT count(*) FROM events WHERE device_id = ? AND kind = 'tamper'", b.id) == [(0,)]


def test_no_certificate_or_a_foreign_one_fails_the_handshake():
    t = terms["a"]
    out = run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(app.mqtt_port), "--cafile", t.ca, "-i", t.uid,
               "-t", t.topic("events"), "-m", "{}"], timeout=20)
    assert out.returncode != 0
    # A self-made certificate with the right CN, not from the device CA.
    d = os.path.join(work, "forger")
    os.makedirs(d, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", d + "/key.pem", "-out", d + "/cert.pem", "-subj", "/CN=" + t.uid, "-days", "1"])
    out = t.pub("events", "{}", cert=d + "/cert.pem", key=d + "/key.pem")
    assert out.returncode != 0
    # Nothing of it reached the database.
    assert db_rows("SELECT count(*) FROM events WHERE device_id = ? AND seq > 7", t.id) == [(0,)]


def test_disabled_terminal_is_cut_at_once_and_refused_then_enabled_again():
    doc = ok(root.call("POST", "/api/v1/devices", {"name": "to-disable", "enrollment": "bundle"}), 201)
    b = doc["bundle"]
    t = Terminal("to-disable", doc["device"]["uid"], doc["device"]["id"], b["key_pem"], b["cert_pem"], b["ca_pem"])
    listener = t.sub("commands", wait=30)
    assert wait_for(lambda: ok(root.call("GET", "/api/v1/devices/%d" % t.id))["online"])
    started = time.time()
    ok(root.call("POST", "/api/v1/devices/%d/disable" % t.id))
    listener.wait(timeout=10 * SLOW)
    assert time.time() - started < 5 * SLOW, "a disabled terminal must be cut at once"
    assert app.wait_line(r"%s .*closed" % t.uid)
    assert t.pub("events", {"seq": 1, "at": int(time.time() * 1000), "kind": "tamper"}).returncode != 0
    assert wait_for(lambda: not ok(root.call("GET", "/api/v1/devices/%d" % t.id))["online"])
    ok(root.call("POST", "/api/v1/devices/%d/enable" % t.id))
    assert t.pub("events", {"seq": 1, "at": int(time.time() * 1000), "kind": "tamper"}).returncode == 0
    # Deleted: gone for good.
    assert root.call("DELETE", "/api/v1/devices/%d" % t.id)[0] == 204
    assert t.pub("events", {"seq": 2, "at": int(time.time() * 1000), "kind": "tamper"}).returncode != 0


# --- commands ------------------------------------------------------------------------------

def test_command_delivered_acked_and_visible_in_the_api():
    t = terms["a"]
    listener = t.sub("commands", wait=20)
    assert wait_for(lambda: ok(root.call("GET", "/api/v1/devices/%d" % t.id))["online"])
    cmd = ok(root.call("POST", "/api/v1/devices/%d/commands" % t.id,
                       {"kind": "unlock", "params": {"door_id": ids["door"], "seconds": 8}}), 201)
    assert cmd["state"] in ("queued", "sent")
    out, err = listener.communicate(timeout=30 * SLOW)
    got = json.loads(out.strip())
    assert got["id"] == cmd["id"] and got["kind"] == "unlock" and got["params"] == {"door_id": ids["door"], "seconds": 8}
    assert got["expires_at"] > time.time() * 1000
    assert t.pub("commands/ack", {"id": cmd["id"], "state": "done"}).returncode == 0
    doc = ok(root.call("GET", "/api/v1/commands/%d" % cmd["id"]))
    assert doc["state"] == "done", doc
    listing = ok(root.call("GET", "/api/v1/devices/%d/commands" % t.id))
    assert any(c["id"] == cmd["id"] and c["state"] == "done" for c in listing["items"])


def test_queued_while_offline_delivered_on_return_but_expired_unlock_never():
    t = terms["a"]
    unlock = ok(root.call("POST", "/api/v1/devices/%d/commands" % t.id,
                          {"kind": "unlock", "params": {"door_id": ids["door"]}, "ttl_seconds": 1}), 201)
    reboot = ok(root.call("POST", "/api/v1/devices/%d/commands" % t.id, {"kind": "reboot"}), 201)
    time.sleep(1.5)
    listener = t.sub("commands", count=2, wait=4)
    out, _ = listener.communicate(timeout=30 * SLOW)
    got = [json.loads(line) for line in out.strip().splitlines()]
    assert [c["id"] for c in got] == [reboot["id"]], got
    assert ok(root.call("GET", "/api/v1/commands/%d" % unlock["id"]))["state"] == "expired"
    # Not acked: sent again on the next connection, until acked.
    listener = t.sub("commands", count=1, wait=10)
    out, _ = listener.communicate(timeout=30 * SLOW)
    assert json.loads(out)["id"] == reboot["id"]
    assert t.pub("commands/ack", {"id": reboot["id"], "state": "failed", "result": "x" * 1000}).returncode == 0
    doc = ok(root.call("GET", "/api/v1/commands/%d" % reboot["id"]))
    assert doc["state"] == "failed" and len(doc["result"]) < 300


def test_device_api_edges():
    t = terms["a"]
    dev = ok(root.call("GET", "/api/v1/devices/%d" % t.id))
    status, doc = root.call("PATCH", "/api/v1/devices/%d" % t.id, {"name": None},
                            headers={"If-Match": '"%d"' % dev["version"]})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "name", doc
    assert root.call("GET", "/api/v1/devices?cursor=1x")[0] == 400
    assert root.call("GET", "/api/v1/devices/%d/commands?cursor=-1" % t.id)[0] == 400
    assert root.call("GET", "/api/v1/firmware/999999/rollouts")[0] == 404
    # Disabled before it ever enrolled: enabling makes it pending, and it can enrol.
    doc = ok(root.call("POST", "/api/v1/devices", {"name": "late"}), 201)
    ok(root.call("POST", "/api/v1/devices/%d/disable" % doc["device"]["id"]))
    assert ok(root.call("POST", "/api/v1/devices/%d/enable" % doc["device"]["id"]))["status"] == "pending"
    _, csr = make_csr("late")
    status, _, data = app.request("POST", "/api/v1/devices/enroll", {"token": doc["enroll_token"], "csr": csr})
    assert status == 200, data


def test_command_validation():
    t = terms["a"]
    for body, field in (({"kind": "unlock"}, "params.door_id"), ({"kind": "dance"}, "kind"),
                        ({"kind": "lockdown", "params": {}}, "params.on"),
                        ({"kind": "reboot", "ttl_seconds": 0}, "ttl_seconds"),
                        ({"kind": "reboot", "colour": "red"}, "colour")):
        status, doc = root.call("POST", "/api/v1/devices/%d/commands" % t.id, body)
        assert status == 400 and field in [f["field"] for f in doc["error"]["fields"]], (body, doc)
    assert root.call("POST", "/api/v1/devices/999999/commands", {"kind": "reboot"})[0] == 404


# --- sync ----------------------------------------------------------------------------------

def card_hash(key_b64, number):
    digits = "".join(c for c in number if c.isdigit())
    return base64.b64encode(hashlib.blake2b(digits.encode(), digest_size=32,
                                            key=base64.b64decode(key_b64)).digest()).decode()


def test_sync_full_then_delta_with_keyed_card_hashes():
    t = terms["a"]
    full = t.rr("sync/req", {"cursor": 0}, "sync")
    assert full["full"] and full["done"] and full["cursor"] > 0
    by = {(c["type"], c["id"]): c for c in full["changes"]}
    assert by[("door", ids["door"])]["data"]["timezone"] == "Asia/Tokyo"
    assert by[("person", ids["taro"])]["data"]["group_ids"] == [ids["staff"]]
    assert "name" not in by[("person", ids["taro"])]["data"]
    cred = by[("credential", ids["card"])]["data"]
    assert cred["card_hash"] == card_hash(full["terminal_key"], "0450-1234-5678")
    assert "0450" not in json.dumps(full)
    # Terminal b has no door: it learns nothing about people.
    other = terms["b"].rr("sync/req", {"cursor": 0}, "sync")
    assert other["full"] and other["changes"] == []
    # A change: the card is suspended; online terminals get a hint, then a delta.
    hint = t.sub("sync/hint", wait=10)
    assert wait_for(lambda: ok(root.call("GET", "/api/v1/devices/%d" % t.id))["online"])
    c = ok(root.call("GET", "/api/v1/people/%d" % ids["taro"]))["credentials"][0]
    ok(root.call("PATCH", "/api/v1/people/%d/credentials/%d" % (ids["taro"], ids["card"]), {"status": "suspended"},
                 headers={"If-Match": '"%d"' % c["version"]}))
    out, _ = hint.communicate(timeout=30 * SLOW)
    assert json.loads(out)["head"] > full["cursor"]
    delta = t.rr("sync/req", {"cursor": full["cursor"]}, "sync")
    assert not delta["full"] and "terminal_key" not in delta
    assert [(c["type"], c["id"], c["data"]["status"]) for c in delta["changes"]] == \
        [("credential", ids["card"], "suspended")]
    # Nothing new since: an empty delta. Its cursor may have moved past
    # what terminals never see (a terminal's status, logged for site sync).
    again = t.rr("sync/req", {"cursor": delta["cursor"]}, "sync")
    assert again["changes"] == [] and again["cursor"] >= delta["cursor"]
    ok(root.call("PATCH", "/api/v1/people/%d/credentials/%d" % (ids["taro"], ids["card"]), {"status": "active"},
                 headers={"If-Match": '"%d"' % (c["version"] + 1)}))


def read_packet(sock):
    """One MQTT packet: (first byte, body)."""
    def exact(n):
        buf = b""
        while len(buf) < n:
            got = sock.recv(n - len(buf))
            assert got, "connection closed"
            buf += got
        return buf
    first = exact(1)[0]
    n, shift = 0, 0
    while True:
        b = exact(1)[0]
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
    return first, exact(n)


def sync_answer(t, cursor):
    """Every message of one sync answer, read as a terminal does (a raw MQTT client: mosquitto_rr
    stops at the first message)."""
    sock = t.tls_socket()
    sock.settimeout(30 * SLOW)
    try:
        sock.sendall(connect_packet(t.uid))
        assert read_packet(sock)[0] == 0x20
        sub = (1).to_bytes(2, "big") + mstr(t.topic("sync")) + b"\x01"
        sock.sendall(b"\x82" + rl(len(sub)) + sub)
        assert read_packet(sock)[0] == 0x90
        sock.sendall(publish_packet(t.topic("sync/req"), json.dumps({"cursor": cursor}).encode(), qos=0))
        msgs = []
        while not msgs or not msgs[-1]["done"]:
            first, body = read_packet(sock)
            if first >> 4 != 3:
                continue
            tlen = int.from_bytes(body[:2], "big")
            rest = body[2 + tlen:]
            if (first >> 1) & 3:
                pid, rest = rest[:2], rest[2:]
                sock.sendall(b"\x40\x02" + pid)
            if body[2:2 + tlen].decode().endswith("/sync"):
                msgs.append(json.loads(rest))
        return msgs
    finally:
        sock.close()


def test_sync_carries_every_credential_kind_and_splits_large_templates():
    t = terms["a"]
    face = base64.b64encode(os.urandom(900)).decode()
    made = {
        "face": ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"],
                             {"kind": "face", "template": face}), 201),
        "pin": ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"], {"kind": "pin", "pin": "482913"}), 201),
        "mobile": ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"], {"kind": "mobile"}), 201),
    }
    full = t.rr("sync/req", {"cursor": 0}, "sync")
    assert full["done"]
    creds = {c["id"]: c["data"] for c in full["changes"] if c["type"] == "credential"}
    assert creds[ids["card"]]["kind"] == "card"
    got = creds[made["face"]["id"]]
    assert got["kind"] == "face" and got["template"] == face and got["person_id"] == ids["taro"], got
    pin = creds[made["pin"]["id"]]
    assert pin["kind"] == "pin" and pin["pin_hash"].startswith("$argon2id$") and "482913" not in json.dumps(full)
    mobile = creds[made["mobile"]["id"]]
    want = hashlib.blake2b(made["mobile"]["token"].encode(), digest_size=32,
                           key=base64.b64decode(full["terminal_key"])).digest()
    assert mobile["kind"] == "mobile" and base64.b64decode(mobile["token_hash"]) == want
    assert made["mobile"]["token"] not in json.dumps(full)
    # A terminal with no door learns none of them.
    assert terms["b"].rr("sync/req", {"cursor": 0}, "sync")["changes"] == []
    # Templates of 300 KiB each: every message stays near 256 KiB, and the answer still ends with done.
    big = [ok(root.call("POST", "/api/v1/people/%d/credentials" % ids["taro"],
                        {"kind": "fingerprint", "template": base64.b64encode(os.urandom(300 << 10)).decode()}),
              201)["id"] for _ in range(3)]
    msgs = sync_answer(t, 0)
    assert msgs[0]["full"] and all(not m["full"] for m in msgs[1:]) and len(msgs) >= 3, [len(m["changes"]) for m in msgs]
    assert [m["done"] for m in msgs] == [False] * (len(msgs) - 1) + [True]
    sent = {c["id"] for m in msgs for c in m["changes"] if c["type"] == "credential"}
    assert set(big) | {made[k]["id"] for k in made} | {ids["card"]} <= sent
    for m in msgs:
        templates = [c for c in m["changes"] if c.get("data", {}).get("kind") == "fingerprint"]
        assert len(templates) <= 1, "a message holds one 300 KiB template at most"
    # Removed: the terminal is told to forget them.
    cursor = msgs[-1]["cursor"]
    for cid in big + [made["face"]["id"]]:
        assert root.call("DELETE", "/api/v1/people/%d/credentials/%d" % (ids["taro"], cid))[0] == 204
    delta = sync_answer(t, cursor)
    gone = {(c["type"], c["id"], c["op"]) for m in delta for c in m["changes"]}
    assert {("credential", cid, "delete") for cid in big + [made["face"]["id"]]} <= gone, gone
    for k in ("pin", "mobile"):
        assert root.call("DELETE", "/api/v1/people/%d/credentials/%d" % (ids["taro"], made[k]["id"]))[0] == 204


def test_status_records_firmware_and_corrects_a_drifting_clock():
    t = terms["b"]
    behind = int(time.time() * 1000) - 60000
    assert t.pub("status", {"firmware": "2.4.1", "time": behind}).returncode == 0
    dev = ok(root.call("GET", "/api/v1/devices/%d" % t.id))
    assert dev["firmware_version"] == "2.4.1" and 59000 < dev["clock_offset_ms"] < 70000 * SLOW, dev
    cmds = ok(root.call("GET", "/api/v1/devices/%d/commands" % t.id))["items"]
    assert any(c["kind"] == "set_time" and c["state"] == "queued" for c in cmds), cmds
    listener = t.sub("commands", wait=10)
    out, _ = listener.communicate(timeout=30 * SLOW)
    got = json.loads(out)
    assert got["kind"] == "set_time" and abs(got["params"]["time"] - time.time() * 1000) < 5000 * SLOW
    assert t.pub("commands/ack", {"id": got["id"], "state": "done"}).returncode == 0
    # Not a paired site: terminals' status is nobody's business but ours, and
    # is not logged for site sync (a message every few minutes per terminal).
    assert db_rows("SELECT count(*) FROM sync_log WHERE entity = 'device_status'") == [(0,)]


# --- malformed packets ---------------------------------------------------------------------

def rl(n):
    out = b""
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def mstr(s):
    s = s.encode() if isinstance(s, str) else s
    return len(s).to_bytes(2, "big") + s


def connect_packet(uid, keepalive=30):
    body = mstr("MQTT") + bytes([4, 0x02]) + keepalive.to_bytes(2, "big") + mstr(uid)
    return b"\x10" + rl(len(body)) + body


def publish_packet(topic, payload, qos=1, pid=1, flags=None):
    body = mstr(topic) + (pid.to_bytes(2, "big") if qos else b"") + payload
    first = 0x30 | (qos << 1) if flags is None else flags
    return bytes([first]) + rl(len(body)) + body


def closed_within(sock, seconds):
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_malformed_packets_close_the_connection_and_nothing_breaks():
    t = terms["b"]
    uid = t.uid
    cases = [
        ("truncated CONNECT, then silence", connect_packet(uid)[:9], None, "no CONNECT in time"),
        ("PUBLISH before CONNECT", publish_packet(t.topic("events"), b"{}"), None, "first packet must be CONNECT"),
        ("remaining length of five bytes", b"\x10\xff\xff\xff\xff\x01", None, ""),
        ("CONNECT with bad protocol level", connect_packet(uid).replace(b"MQTT\x04", b"MQTT\x03"), None, ""),
        ("oversized PUBLISH", None, publish_packet(t.topic("events"), b"x" * 9000), "larger than the maximum"),
        ("QoS 2 PUBLISH", None, publish_packet(t.topic("events"), b"{}", qos=2), "QoS"),
        ("PUBLISH with both QoS bits", None, publish_packet(t.topic("events"), b"{}", flags=0x36), ""),
        ("CONNACK from a client", None, b"\x20\x02\x00\x00", ""),
        ("second CONNECT", None, connect_packet(uid), ""),
        ("SUBSCRIBE with wrong reserved flags", None, b"\x80\x08\x00\x01" + mstr("gh/#")[:4], ""),
        ("SUBSCRIBE with no filter", None, b"\x82\x02\x00\x01", ""),
        ("PUBLISH topic with a wildcard", None, publish_packet("gh/v1/%s/#" % uid, b"{}"), ""),
        ("PUBLISH topic with NUL", None, publish_packet("gh/v1/%s/ev\x00ents" % uid, b"{}"), ""),
        ("truncated PUBLISH then silence", None, publish_packet(t.topic("events"), b"{}")[:5], None),
        ("PINGRESP from a client", None, b"\xd0\x00", ""),
        ("reserved packet type 15", None, b"\xf0\x00", ""),
    ]
    for name, before, after, reason in cases:
        s = t.tls_socket()
        try:
            if before is not None:
                s.sendall(before)
            else:
                # Keep-alive 1 s: a silent connection is closed after 1.5 s.
                s.sendall(connect_packet(uid, keepalive=1))
                assert s.recv(4) == b"\x20\x02\x00\x00", name
                s.sendall(after)
            assert closed_within(s, 5 * SLOW), name
        finally:
            s.close()
        if reason:
            assert app.wait_line(r"%s .*closed: .*%s" % (uid, reason)), (name, app.log()[-3000:])
    # Still serving: HTTPS and a proper terminal.
    assert app.request("GET", "/healthz")[0] == 200
    out = t.pub("events", {"seq": 100, "at": int(time.time() * 1000), "kind": "door_closed"})
    assert out.returncode == 0, out.stderr
    assert db_rows("SELECT count(*) FROM events WHERE device_id = ? AND seq = 100", t.id) == [(1,)]


# --- firmware API --------------------------------------------------------------------------

def test_firmware_upload_and_rollout_validation():
    image = os.urandom(40000)
    status, _, data = root.raw("POST", "/api/v1/firmware?version=1.0", image,
                               headers={"Content-Type": "application/octet-stream"})
    assert status == 400 and b"model" in data
    status, _, data = root.raw("POST", "/api/v1/firmware?model=GH-R100&version=1.0", image,
                               headers={"Content-Type": "application/octet-stream"})
    assert status == 201, data
    fw = json.loads(data)
    assert fw["sha256"] == hashlib.sha256(image).hexdigest() and fw["size"] == len(image)
    status, _, data = root.raw("POST", "/api/v1/firmware?model=GH-R100&version=1.0", image,
                               headers={"Content-Type": "application/octet-stream"})
    assert status == 400, data
    for body in ({"device_ids": []}, {"device_ids": ["x"]}, {"device_ids": [999999]}, {}):
        status, doc = root.call("POST", "/api/v1/firmware/%d/rollouts" % fw["id"], body)
        assert status == 400, (body, status, doc)
    rolled = ok(root.call("POST", "/api/v1/firmware/%d/rollouts" % fw["id"], {"device_ids": [terms["b"].id]}))
    assert [(r["device_id"], r["state"], r["size"]) for r in rolled["items"]] == [(terms["b"].id, "pending", len(image))]
    # The terminal downloads two chunks by hand and reports a wrong hash: failed.
    listener = terms["b"].sub("commands", wait=10)
    out, _ = listener.communicate(timeout=30 * SLOW)
    cmd = json.loads(out)
    assert cmd["kind"] == "firmware" and cmd["params"]["sha256"] == fw["sha256"]
    chunk = terms["b"].rr("firmware/req", {"image_id": fw["id"], "offset": 16384}, "firmware")
    assert base64.b64decode(chunk["data"]) == image[16384:32768] and not chunk["last"]
    last = terms["b"].rr("firmware/req", {"image_id": fw["id"], "offset": 32768}, "firmware")
    assert base64.b64decode(last["data"]) == image[32768:] and last["last"]
    bad = terms["b"].rr("firmware/req", {"image_id": fw["id"], "offset": len(image) + 1}, "firmware")
    assert "error" in bad
    assert terms["b"].pub("commands/ack", {"id": cmd["id"], "state": "done", "sha256": "00" * 32}).returncode == 0
    roll = ok(root.call("GET", "/api/v1/firmware/%d/rollouts" % fw["id"]))["items"][0]
    assert roll["state"] == "failed" and roll["bytes_sent"] == len(image)
    assert ok(root.call("GET", "/api/v1/commands/%d" % cmd["id"]))["state"] == "failed"
