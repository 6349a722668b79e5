"""Terminals simulated by `gatehouse devsim` against the real appliance:
local decisions that agree with the appliance's, commands carried out,
outages survived with every event stored exactly once and in order, kill -9
of the appliance under load losing nothing that was acknowledged (checked
with an independent mosquitto_pub terminal too), and a firmware rollout to
ten terminals interrupted half-way that resumes and completes with verified
hashes."""

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time

from harness import (BINARY, SLOW, Appliance, bootstrap_admin, bundle_terminal, check_sanitizer)

app = None
root = None
work = None
ids = {}
CARDS = ["0450 1000 %04d" % i for i in range(1, 21)]


def setup_module():
    global app, root, work
    work = tempfile.mkdtemp(prefix="gh-devsim-")
    app = Appliance(sets=["limits.api_per_second=10000", "limits.api_burst=10000",
                          "limits.login_per_minute=10000", "limits.login_burst=10000"]).start()
    app.pin_ports()
    root = bootstrap_admin(app)
    token = ok(root.call("POST", "/api/v1/tokens", {"name": "devsim", "scope": "manage"},
                         headers={"X-Tenant": "default"}), 201)["token"]
    ids["token_file"] = os.path.join(work, "token")
    with open(ids["token_file"], "w") as f:
        f.write(token + "\n")
    ids["cards_file"] = os.path.join(work, "cards")
    with open(ids["cards_file"], "w") as f:
        f.write("\n".join(CARDS) + "\n")
    ids["site"] = ok(root.call("POST", "/api/v1/sites", {"name": "HQ", "timezone": "Asia/Tokyo"}), 201)["id"]
    always = [{"day": d, "start": "00:00", "end": "24:00"}
              for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday")]
    ids["always"] = ok(root.call("POST", "/api/v1/schedules", {"name": "Always", "windows": always}), 201)["id"]
    ids["staff"] = ok(root.call("POST", "/api/v1/access-groups", {"name": "Staff"}), 201)["id"]
    for i, card in enumerate(CARDS):
        p = ok(root.call("POST", "/api/v1/people", {"name": "Person %d" % i, "group_ids": [ids["staff"]]}), 201)
        ok(root.call("POST", "/api/v1/people/%d/credentials" % p["id"], {"kind": "card", "number": card}), 201)


def teardown_module():
    app.cleanup()
    shutil.rmtree(work, ignore_errors=True)


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def db(sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % app.db(), uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class Devsim:
    """One `gatehouse devsim` process."""

    def __init__(self, name, *args):
        self.dir = os.path.join(work, name)
        self.cmd = [BINARY, "devsim", "--dir", self.dir, "--mqtt-port", str(app.mqtt_port),
                    "--web-port", str(app.port), "--web-ca", app.cert, "--api-token-file", ids["token_file"],
                    "--max-backoff", "500", "--quiet", *args]
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return self

    def wait(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout * SLOW)
        check_sanitizer(err)
        assert self.proc.returncode == 0, (self.proc.returncode, err[-3000:])
        return json.loads(out.strip().splitlines()[-1])

    def run(self, timeout=120):
        return self.start().wait(timeout)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def device_ids(self):
        """The appliance's ids of this devsim's terminals, from their state files."""
        out = []
        for d in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else ():
            path = os.path.join(self.dir, d, "state")
            if d.startswith("devsim-") and os.path.exists(path):
                kv = dict(line.split("=", 1) for line in open(path).read().splitlines() if "=" in line)
                out.append(int(kv["device_id"]))
        return sorted(out)


def assign_door(device_id, name):
    return ok(root.call("POST", "/api/v1/doors", {"site_id": ids["site"], "name": name, "terminal_id": device_id}),
              201)["id"]


def seqs_by_device(devices):
    rows = db("SELECT device_id, seq, at, received_at FROM events WHERE device_id IN (%s) ORDER BY device_id, seq"
              % ",".join(str(d) for d in devices))
    out = {d: [] for d in devices}
    for d, s, at, rcv in rows:
        out[d].append((s, at, rcv))
    return out


def wait_for(fn, timeout=30, every=0.2):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return fn()


def test_local_decisions_agree_with_the_appliance_and_commands_complete():
    # First run: create and enrol three terminals (token + own key + CSR), nothing read yet.
    sim = Devsim("decide", "--devices", "3", "--events", "0")
    summary = sim.run()
    assert summary["devices"] == 3, summary
    ids["decide"] = sim.device_ids()
    assert len(ids["decide"]) == 3
    doors = {dev: assign_door(dev, "Door of %d" % dev) for dev in ids["decide"]}
    ok(root.call("POST", "/api/v1/access-levels", {"name": "Staff everywhere", "group_id": ids["staff"],
                                                   "schedule_id": ids["always"], "door_ids": list(doors.values())}),
       201)
    summary = Devsim("decide", "--devices", "3", "--events", "40", "--rate", "20", "--cards", ids["cards_file"],
                     "--unknown-cards", "0.25").run()
    assert summary["events_acked"] == 120 and summary["events_buffered"] == 0, summary
    rows = db("SELECT device_id, seq, door_id, person_id, result, reason, at FROM events WHERE device_id IN (?,?,?) "
              "ORDER BY device_id, seq", *ids["decide"])
    assert len(rows) == 120
    for dev in ids["decide"]:
        assert [r[1] for r in rows if r[0] == dev] == list(range(1, 41))
    known = [r for r in rows if r[3]]
    unknown = [r for r in rows if not r[3]]
    assert known and unknown, (len(known), len(unknown))
    assert all(r[2] == doors[r[0]] and r[4] == "granted" and r[5] == "granted" for r in known), known[:3]
    assert all(r[4] == "denied" and r[5] == "unknown_credential" for r in unknown), unknown[:3]
    # The appliance's own what-if check agrees with the terminals' decisions.
    for dev, seq, door, person, result, reason, at in known[:3] + unknown[:3]:
        card = CARDS[person_index(person)] if person else "9999 0000 0001"
        d = ok(root.call("POST", "/api/v1/decisions", {"card": card, "door_id": door or doors[dev],
                                                       "at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                           time.gmtime(at / 1000))}))
        assert d["reason"] == (reason if person else "unknown_credential"), (d, reason)
    # Commands, while the terminals run: unlock completes, lockdown denies every badge.
    sim = Devsim("decide", "--devices", "3", "--rate", "5", "--cards", ids["cards_file"], "--unknown-cards", "0",
                 "--duration", "25").start()
    try:
        dev = ids["decide"][0]
        assert wait_for(lambda: ok(root.call("GET", "/api/v1/devices/%d" % dev))["online"])
        cmd = ok(root.call("POST", "/api/v1/devices/%d/commands" % dev,
                           {"kind": "unlock", "params": {"door_id": doors[dev], "seconds": 3}}), 201)
        assert wait_for(lambda: ok(root.call("GET", "/api/v1/commands/%d" % cmd["id"]))["state"] == "done")
        lock = ok(root.call("POST", "/api/v1/devices/%d/commands" % dev, {"kind": "lockdown", "params": {"on": True}}),
                  201)
        assert wait_for(lambda: ok(root.call("GET", "/api/v1/commands/%d" % lock["id"]))["state"] == "done")
        seq0 = db("SELECT coalesce(max(seq), 0) FROM events WHERE device_id = ?", dev)[0][0]
        assert wait_for(lambda: db("SELECT count(*) FROM events WHERE device_id = ? AND seq > ? AND kind = 'access'",
                                   dev, seq0)[0][0] >= 3)
        during = db("SELECT result, reason FROM events WHERE device_id = ? AND seq > ? AND kind = 'access'", dev, seq0)
        assert all(r == ("denied", "lockdown") for r in during), during
        ok(root.call("POST", "/api/v1/devices/%d/commands" % dev, {"kind": "lockdown", "params": {"on": False}}), 201)
    finally:
        summary = sim.wait()
    assert summary["commands_done"] >= 3, summary


def person_index(person_id):
    name = ok(root.call("GET", "/api/v1/people/%d" % person_id))["name"]
    return int(name.split()[-1])


def test_appliance_outage_every_event_once_in_order_with_original_times():
    sim = Devsim("outage", "--devices", "5", "--events", "150", "--rate", "10").start()
    # Stop the appliance once the terminals are well under way (not before
    # they synced, not after they finished: a sanitizer build is slow).
    assert wait_for(lambda: len(sim.device_ids()) == 5 and
                    db("SELECT count(*) FROM events WHERE device_id IN (%s)" %
                       ",".join(str(d) for d in sim.device_ids()))[0][0] >= 100, timeout=120, every=0.1)
    app.stop()
    outage_from = time.time()
    time.sleep(4)
    app.start()
    summary = sim.wait(timeout=180)
    outage_to = time.time()
    assert summary["events_generated"] == 750 and summary["events_buffered"] == 0, summary
    devs = sim.device_ids()
    got = seqs_by_device(devs)
    assert len(devs) == 5
    late = 0
    for dev, rows in got.items():
        assert [s for s, _, _ in rows] == list(range(1, 151)), (dev, [s for s, _, _ in rows][:20])
        ats = [at for _, at, _ in rows]
        assert ats == sorted(ats), "events keep their original time and order"
        # Those read during the outage were stored after it, with the time they happened.
        late += sum(1 for _, at, rcv in rows if outage_from * 1000 <= at <= outage_to * 1000 and rcv - at > 1500)
    assert late > 0, "no event was buffered through the outage"


def root_session():
    global root
    if root.call("GET", "/api/v1/session")[0] != 200:
        from harness import ADMIN_PASSWORD, Session
        root = Session(app, "admin", ADMIN_PASSWORD)
        assert root.login()[0] == 200
    return root


def test_kill_9_under_load_loses_nothing_acknowledged():
    root_session()
    # An independent terminal: each mosquitto_pub returns 0 only after PUBACK.
    t = bundle_terminal(app, root, os.path.join(work, "independent"), "independent")
    acked = []
    stop = threading.Event()

    def publish():
        seq = 1
        while not stop.is_set():
            try:
                out = t.pub("events", {"seq": seq, "at": int(time.time() * 1000), "kind": "door_opened"})
            except subprocess.TimeoutExpired:
                continue  # no PUBACK: not acknowledged, sent again
            if out.returncode == 0:
                acked.append(seq)
                seq += 1
            else:
                time.sleep(0.2)

    sim = Devsim("heavy", "--devices", "20", "--bundle", "--events", "200", "--rate", "50", "--batch", "32").start()
    pub = threading.Thread(target=publish)
    pub.start()
    try:
        assert wait_for(lambda: len(acked) >= 10, timeout=60), "the independent terminal got no acknowledgement"
        time.sleep(1.5)
        app.kill()
        last_acked = acked[-1] if acked else 0
        time.sleep(2)
        app.start()
    finally:
        time.sleep(2)
        stop.set()
        pub.join()
    summary = sim.wait(timeout=240)
    assert summary["events_generated"] == 4000 and summary["events_buffered"] == 0, summary
    stored = {s for (s,) in db("SELECT seq FROM events WHERE device_id = ?", t.id)}
    missing = [s for s in range(1, last_acked + 1) if s not in stored]
    assert not missing, "acknowledged before the kill but not stored: %s" % missing[:20]
    assert set(acked) <= stored
    heavy = sim.device_ids()
    got = seqs_by_device(heavy)
    assert len(heavy) == 20
    for dev, rows in got.items():
        assert [s for s, _, _ in rows] == list(range(1, 201)), dev
    assert db("PRAGMA integrity_check") == [("ok",)]


def test_firmware_to_ten_terminals_interrupted_half_way_resumes_and_completes():
    root_session()
    sim = Devsim("fw", "--devices", "10", "--bundle", "--rate", "0", "--duration", "300").start()
    try:
        assert wait_for(lambda: len(sim.device_ids()) == 10, timeout=60)
        fw_devs = sim.device_ids()
        assert wait_for(lambda: all(ok(root.call("GET", "/api/v1/devices/%d" % d))["online"] for d in fw_devs),
                        timeout=60)
        image = os.urandom(3 << 20)
        status, _, data = root.raw("POST", "/api/v1/firmware?model=GH-SIM&version=2.0.0", image,
                                   headers={"Content-Type": "application/octet-stream"})
        assert status == 201, data
        fw = json.loads(data)
        assert fw["sha256"] == hashlib.sha256(image).hexdigest()
        ok(root.call("POST", "/api/v1/firmware/%d/rollouts" % fw["id"], {"device_ids": fw_devs}))

        def progress():
            return ok(root.call("GET", "/api/v1/firmware/%d/rollouts" % fw["id"]))["items"]

        # Half-way: the appliance goes down, then comes back.
        assert wait_for(lambda: sum(r["bytes_sent"] for r in progress()) > 10 * len(image) * 0.3, timeout=120), \
            progress()
        before = {r["device_id"]: r["bytes_sent"] for r in progress()}
        assert any(0 < b < len(image) for b in before.values()), before
        app.stop()
        time.sleep(2)
        app.start()
        root_session()
        # Resumed, not restarted: no terminal asks for a chunk before where it was.
        lowest = dict(before)

        def all_done():
            rows = progress()
            for r in rows:
                lowest[r["device_id"]] = min(lowest[r["device_id"]], r["bytes_sent"])
            return all(r["state"] == "done" for r in rows)

        assert wait_for(all_done, timeout=240, every=0.2), progress()
        for d, b in before.items():
            assert lowest[d] >= b - 2 * 16384, ("download started over", d, b, lowest[d])
        for r in progress():
            assert r["bytes_sent"] == len(image) and r["command_state"] == "done", r
        for d in fw_devs:
            assert ok(root.call("GET", "/api/v1/devices/%d" % d))["firmware_version"] == "2.0.0"
    finally:
        sim.proc.send_signal(signal.SIGTERM)
        sim.wait()
    # A terminal that installs a damaged image is recorded as failed.
    bad = Devsim("fw-bad", "--devices", "1", "--bundle", "--rate", "0", "--duration", "120", "--fail-firmware-hash")
    bad.start()
    try:
        assert wait_for(lambda: len(bad.device_ids()) == 1, timeout=60)
        dev = bad.device_ids()
        assert wait_for(lambda: ok(root.call("GET", "/api/v1/devices/%d" % dev[0]))["online"], timeout=60)
        ok(root.call("POST", "/api/v1/firmware/%d/rollouts" % fw["id"], {"device_ids": dev}))
        assert wait_for(lambda: [r for r in progress() if r["device_id"] == dev[0]][0]["state"] == "failed",
                        timeout=120, every=1), progress()
    finally:
        bad.proc.send_signal(signal.SIGTERM)
        bad.wait()
