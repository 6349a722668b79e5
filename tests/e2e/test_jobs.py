"""The scheduler in the real binary: jobs listed, run by hand through the
API and the command line, schedules from configuration, a missed run caught
up at start, one run at a time across processes, and a failing job
(a tampered audit chain) recorded and alerted."""

import json
import os
import sqlite3
import subprocess
import time

from harness import SLOW, Appliance, StartError, bootstrap_admin, gatehouse

app = None
root = None


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


def db(sql, *args):
    con = sqlite3.connect(app.db(), timeout=10)
    try:
        with con:
            return con.execute(sql, args).fetchall()
    finally:
        con.close()


def runs(name="audit-verify"):
    return ok(root.call("GET", "/api/v1/jobs/%s/runs?limit=50" % name))["items"]


def wait_run(run_id, timeout=20):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        for r in runs():
            if r["id"] == run_id and r["status"] != "running":
                return r
        time.sleep(0.1)
    raise AssertionError("run %d did not finish" % run_id)


def test_jobs_listed_with_their_schedule_and_next_run():
    jobs = {j["name"]: j for j in ok(root.call("GET", "/api/v1/jobs"))["items"]}
    j = jobs["audit-verify"]
    assert j["schedule"] == "cron 30 4 * * *" and j["enabled"] and j["next_run_at"].endswith(":30:00Z")
    out = gatehouse("jobs", "list", "--state-dir", app.state)
    assert out.returncode == 0 and "audit-verify" in out.stdout and "cron 30 4 * * *" in out.stdout


def test_run_by_hand_is_recorded_and_audited():
    doc = ok(root.call("POST", "/api/v1/jobs/audit-verify/run"), 202)
    r = wait_run(doc["run_id"])
    assert r["status"] == "ok" and r["trigger"] == "manual" and r["started_by"] == "admin:1"
    assert r["details"]["entries"] > 0 and r["duration_ms"] >= 0 and r["progress"] == 1
    audit = ok(root.call("GET", "/api/v1/audit?action=job.run"))["items"]
    assert audit[0]["target"] == "job:audit-verify" and audit[0]["outcome"] == "ok"
    assert root.call("POST", "/api/v1/jobs/no-such-job/run")[0] == 404
    status, doc = root.call("POST", "/api/v1/jobs/audit-verify/run", {"full": 1})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "full"
    # From the command line, while the service runs: the same history.
    out = gatehouse("jobs", "run", "audit-verify", "--state-dir", app.state)
    assert out.returncode == 0, out.stderr
    assert runs()[0]["started_by"].startswith("cli:")


def test_one_run_at_a_time_across_processes():
    # A run held by a live process (this test) blocks both the API and the CLI;
    # once that process is gone, the run is stale and the job runs again.
    holder = subprocess.Popen(["sleep", "600"])
    try:
        db("INSERT INTO job_runs (name, trigger, pid, started_at, status) VALUES ('audit-verify', 'manual', ?, ?, "
           "'running')", holder.pid, int(time.time() * 1000))
        status, doc = root.call("POST", "/api/v1/jobs/audit-verify/run")
        assert status == 409 and "running" in doc["error"]["message"], doc
        out = gatehouse("jobs", "run", "audit-verify", "--state-dir", app.state)
        assert out.returncode == 3 and "is running now" in out.stderr, out
    finally:
        holder.kill()
        holder.wait()
    doc = ok(root.call("POST", "/api/v1/jobs/audit-verify/run"), 202)
    assert wait_run(doc["run_id"])["status"] == "ok"
    stale = [r for r in runs() if r["status"] == "interrupted"]
    assert stale and stale[0]["error"] == "the process running it ended"


def test_schedule_from_config_runs_repeatedly():
    a = Appliance(sets=["jobs.audit_verify=every 1s"]).start()
    try:
        bootstrap_admin(a)
        deadline = time.time() + 15 * SLOW
        while time.time() < deadline:
            con = sqlite3.connect(a.db(), timeout=10)
            n = con.execute("SELECT count(*) FROM job_runs WHERE trigger = 'schedule' AND status = 'ok'").fetchone()[0]
            con.close()
            if n >= 3:
                break
            time.sleep(0.2)
        assert n >= 3, a.log()[-2000:]
    finally:
        a.cleanup()


def test_bad_schedule_stops_the_start_with_the_key_named():
    for bad in ("cron 61 * * * *", "daily", "every 0s"):
        a = Appliance(sets=["jobs.audit_verify=" + bad])
        try:
            a.start()
            raise AssertionError("started with " + bad)
        except StartError as e:
            assert "jobs.audit_verify" in str(e), str(e)
        finally:
            a.cleanup()


def test_missed_run_is_caught_up_once_at_start():
    app.stop()
    # The appliance was off when the job was due (an hour ago).
    db("UPDATE jobs SET next_run_at = ? WHERE name = 'audit-verify'", int(time.time()) - 3600)
    before = db("SELECT count(*) FROM job_runs WHERE trigger = 'catch-up'")[0][0]
    app.start()
    deadline = time.time() + 15 * SLOW
    while time.time() < deadline and db("SELECT count(*) FROM job_runs WHERE trigger = 'catch-up' "
                                        "AND status = 'ok'")[0][0] == before:
        time.sleep(0.1)
    assert db("SELECT count(*) FROM job_runs WHERE trigger = 'catch-up' AND status = 'ok'")[0][0] == before + 1
    assert app.find_line("audit-verify missed its time while the appliance was off")
    global root
    root = bootstrap_session()
    nxt = ok(root.call("GET", "/api/v1/jobs"))["items"][0]["next_run_at"]
    assert nxt > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), nxt
    # A restart that missed nothing runs nothing.
    app.stop()
    app.start()
    time.sleep(1)
    assert db("SELECT count(*) FROM job_runs WHERE trigger = 'catch-up'")[0][0] == before + 1
    root = bootstrap_session()


def bootstrap_session():
    from harness import ADMIN_PASSWORD, Session
    s = Session(app, "admin", ADMIN_PASSWORD)
    assert s.login()[0] == 200
    return s


def test_failing_job_is_recorded_and_raises_alerts():
    # Tamper with one audit entry: the daily check must fail, name it, and alert.
    bad = db("SELECT id, uid FROM audit_log ORDER BY id LIMIT 1 OFFSET 2")[0]
    db("UPDATE audit_log SET action = 'auth.nothing_to_see' WHERE id = ?", bad[0])
    doc = ok(root.call("POST", "/api/v1/jobs/audit-verify/run"), 202)
    r = wait_run(doc["run_id"])
    assert r["status"] == "failed" and bad[1] in r["error"], r
    job = [j for j in ok(root.call("GET", "/api/v1/jobs"))["items"] if j["name"] == "audit-verify"][0]
    assert job["last_status"] == "failed" and bad[1] in job["last_error"]
    kinds = {k: json.loads(d) for k, d in db("SELECT kind, details FROM alerts")}
    assert kinds["audit.chain_broken"]["first_bad_uid"] == bad[1]
    assert kinds["job.failed"]["job"] == "audit-verify"
    out = gatehouse("jobs", "run", "audit-verify", "--state-dir", app.state)
    assert out.returncode == 1 and bad[1] in out.stderr
