"""Alerts end to end with real peers: door terminals (mosquitto_pub over
mutual TLS) report a forced door; Debian's aiosmtpd receives the mail over
STARTTLS with AUTH, and an HTTPS receiver checks each webhook's HMAC
signature, both trusting a test CA made with openssl. The time from the
fault to each delivery is measured and printed (bounded only by "seconds,
not minutes"). Also: retries while a receiver is down, the deliveries
visible through the API, conditions that clear resolving their alerts,
acknowledge/resolve, tenant scoping, a relay without STARTTLS refused, and
the console's synchronous test of a channel."""

import json
import os
import shutil
import sqlite3
import tempfile
import time

from harness import SLOW, Appliance, StartError, bootstrap_admin, create_admin, gatehouse
from peers import SmtpServer, Terminal, TestCA, WebhookReceiver, free_port, secret_file

SECRET = "whsec-test-0123456789abcdef"
SMTP_USER, SMTP_PASSWORD = "gatehouse", "Relay-Passw0rd!"
BOUND = 30  # "seconds, not minutes"

app = root = work = ca = smtp = hook = None
ids = {}


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def wait_for(fn, timeout=20):
    deadline = time.time() + timeout * SLOW
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


def alert_sets(smtp_port, hook_port, **extra):
    sets = {"smtp.relay": "localhost", "smtp.port": smtp_port, "smtp.ca_file": ca.ca,
            "smtp.from": "gatehouse@example.org", "smtp.to": "security@example.org, facilities@example.org",
            "smtp.username": SMTP_USER, "smtp.password_file": secret_file(work, "smtp-password", SMTP_PASSWORD),
            "smtp.timeout": "5s", "alerts.email_min_severity": "warning",
            "webhook.urls": "https://localhost:%d/hooks/gatehouse" % hook_port,
            "webhook.secret_file": secret_file(work, "webhook-secret", SECRET), "webhook.ca_file": ca.ca,
            "webhook.timeout": "5s"}
    sets.update(extra)
    return ["%s=%s" % kv for kv in sets.items()]


def setup_module():
    global app, root, work, ca, smtp, hook
    work = tempfile.mkdtemp(prefix="gh-alerts-")
    ca = TestCA(work)
    smtp = SmtpServer(ca=ca, auth=(SMTP_USER, SMTP_PASSWORD))
    hook = WebhookReceiver(ca, SECRET).start()
    app = Appliance(sets=alert_sets(smtp.port, hook.port, **{
        "alerts.terminal_offline": "2s", "jobs.alert_rules": "every 1s",
        "limits.api_per_second": "5000", "limits.api_burst": "5000"})).start()
    root = bootstrap_admin(app)
    site = ok(root.call("POST", "/api/v1/sites", {"name": "本社", "timezone": "Asia/Tokyo"}), 201)
    ids["site"] = site["id"]
    t = Terminal(app, root, work, "front", site_id=site["id"])
    ids["term"] = t
    for name in ("正面玄関", "Loading dock"):
        door = ok(root.call("POST", "/api/v1/doors", {"site_id": site["id"], "name": name, "terminal_id": t.id}), 201)
        ids[name] = door["id"]


def teardown_module():
    if app:
        app.cleanup()
    for peer in (smtp, hook):
        if peer:
            peer.stop()
    shutil.rmtree(work, ignore_errors=True)


def alerts(session=None, query=""):
    return ok((session or root).call("GET", "/api/v1/alerts" + query))["items"]


# --- delivery ----------------------------------------------------------------------------

def test_forced_door_reaches_mail_and_webhook_within_seconds():
    t = ids["term"]
    mails, hooks = len(smtp.messages), len(hook.requests)
    t0 = time.time()
    t.publish(t.event("door_forced", door_id=ids["正面玄関"]))
    acked = time.time()
    got_mail = smtp.wait(mails + 1)[mails:]
    got_hook = hook.wait(hooks + 1)[hooks:]
    assert got_mail and got_hook, app.log()[-3000:]
    mail_s, hook_s = got_mail[0]["time"] - t0, got_hook[0]["time"] - t0
    print("# alert latency, door_forced published -> delivered: e-mail %.2f s, webhook %.2f s "
          "(publish acknowledged after %.2f s)" % (mail_s, hook_s, acked - t0))
    assert mail_s < BOUND * SLOW and hook_s < BOUND * SLOW

    m = got_mail[0]
    msg = m["msg"]
    assert m["tls"], "the mail must travel inside STARTTLS"
    assert ("PLAIN", True, True) in smtp.auth_seen, smtp.auth_seen
    assert m["from"] == "gatehouse@example.org"
    assert sorted(m["to"]) == ["facilities@example.org", "security@example.org"]
    assert msg["Subject"] == "[Gatehouse] CRITICAL: Door 正面玄関 forced open (terminal front)", msg["Subject"]
    assert b"=?UTF-8?B?" in m["raw"], "non-ASCII subject must be RFC 2047 encoded"
    assert msg["Message-ID"].endswith("@example.org>") and msg["Date"]
    body = msg.get_content()
    assert "door.forced" in body and "critical" in body and "Tenant:    default" in body, body

    r = got_hook[0]
    assert r["verified"], r["headers"]
    assert r["path"] == "/hooks/gatehouse"
    assert r["headers"]["Content-Type"] == "application/json"
    assert r["headers"]["X-Gatehouse-Event"] == "alert"
    doc = json.loads(r["body"])
    assert {"id", "kind", "severity", "subject", "tenant", "created_at", "details"} <= set(doc), doc
    assert doc["kind"] == "door.forced" and doc["tenant"] == "default" and doc["details"]["door_id"] == ids["正面玄関"]
    assert r["headers"]["X-Gatehouse-Delivery"].isdigit()

    # Visible per channel in the API.
    a = alerts(query="?kind=door.forced")[0]
    assert a["id"] == doc["id"] and a["state"] == "open" and a["tenant_id"] == 1
    def deliveries():
        return {d["channel"]: d for d in ok(root.call("GET", "/api/v1/alerts/%d/deliveries" % a["id"]))["items"]}
    wait_for(lambda: all(d["state"] == "sent" for d in deliveries().values()))
    ds = deliveries()
    assert set(ds) == {"email", "webhook:1"}, ds
    assert all(d["state"] == "sent" and d["attempts"] == 1 and d["sent_at"] for d in ds.values()), ds


def test_the_same_door_forced_again_counts_instead_of_alerting_twice():
    t = ids["term"]
    before = alerts(query="?kind=door.forced&state=open")
    assert len(before) == 1
    mails = len(smtp.messages)
    t.publish([t.event("door_forced", door_id=ids["正面玄関"]) for _ in range(3)])
    after = wait_for(lambda: [a for a in alerts(query="?kind=door.forced&state=open") if a["occurrences"] == 4])
    assert len(after) == 1 and after[0]["id"] == before[0]["id"], alerts(query="?kind=door.forced")
    time.sleep(1)
    assert len(smtp.messages) == mails


def test_receiver_down_then_up_is_retried_and_visible():
    hook.stop()
    hooks = len(hook.requests)
    t = ids["term"]
    t.publish(t.event("door_held", door_id=ids["Loading dock"]))
    a = wait_for(lambda: alerts(query="?kind=door.held&state=open"))[0]

    def webhook_row():
        rows = ok(root.call("GET", "/api/v1/alerts/%d/deliveries" % a["id"]))["items"]
        return [d for d in rows if d["channel"] == "webhook:1"][0]
    d = wait_for(lambda: webhook_row()["attempts"] >= 1 and webhook_row())
    assert d["state"] == "pending" and d["last_error"] and d["next_attempt_at"], d
    assert "cannot connect" in d["last_error"], d
    hook.start()
    t0 = time.time()
    d = wait_for(lambda: webhook_row()["state"] == "sent" and webhook_row(), timeout=40)
    assert d, webhook_row()
    assert d["attempts"] >= 2, d
    print("# webhook retried after the receiver came back: sent %.1f s later, attempt %d" % (time.time() - t0, d["attempts"]))
    assert hook.wait(hooks + 1)[hooks:]

    # The door closes: the held-open alert resolves itself, and the
    # channels that heard of it hear that it is over.
    t.publish(t.event("door_closed", door_id=ids["Loading dock"]))
    done = wait_for(lambda: ok(root.call("GET", "/api/v1/alerts/%d" % a["id"]))["state"] == "resolved")
    assert done
    got = ok(root.call("GET", "/api/v1/alerts/%d" % a["id"]))
    assert got["resolved_by"] == "system" and got["resolution"] == "the door was closed", got
    resolved = wait_for(lambda: [r for r in hook.requests if r["headers"].get("X-Gatehouse-Event") == "alert.resolved"])
    assert resolved and resolved[0]["verified"]
    assert json.loads(resolved[0]["body"])["notice"] == "resolved"


def test_terminal_offline_alert_raised_and_resolved_when_back():
    t = Terminal(app, root, work, "side-door", site_id=ids["site"])
    mails = len(smtp.messages)
    proc = t.connect()
    assert wait_for(lambda: ok(root.call("GET", "/api/v1/devices/%d" % t.id))["online"])
    proc.kill()
    proc.wait()
    t0 = time.time()
    key = "device:%d" % t.id
    a = wait_for(lambda: [x for x in alerts(query="?kind=device.offline&state=open") if x["key"] == key])
    assert a, alerts(query="?kind=device.offline")
    got = [m for m in smtp.wait(mails + 1)[mails:] if "side-door" in m["msg"]["Subject"]]
    assert got, [m["msg"]["Subject"] for m in smtp.messages]
    print("# alert latency, terminal disconnected -> offline e-mail delivered: %.2f s "
          "(alerts.terminal_offline = 2 s, rules every 1 s)" % (got[0]["time"] - t0))
    assert got[0]["time"] - t0 < BOUND * SLOW
    proc = t.connect()
    try:
        back = wait_for(lambda: ok(root.call("GET", "/api/v1/alerts/%d" % a[0]["id"]))["state"] == "resolved")
        assert back
        assert ok(root.call("GET", "/api/v1/alerts/%d" % a[0]["id"]))["resolution"] == "the terminal is back online"
    finally:
        proc.kill()
        proc.wait()


# --- portal notices -------------------------------------------------------------------

def test_acknowledge_and_resolve_by_role_and_audited():
    oper = create_admin(app, "alerts-oper", "operator", tenant="default")
    aud = create_admin(app, "alerts-aud", "auditor", tenant="default")
    assert oper.login()[0] == 200 and aud.login()[0] == 200
    t = ids["term"]
    t.publish(t.event("tamper"))
    a = wait_for(lambda: alerts(oper, "?kind=device.tamper"))[0]
    assert a["severity"] == "critical" and a["state"] == "open"
    status, doc = aud.call("POST", "/api/v1/alerts/%d/acknowledge" % a["id"])
    assert status == 403, doc
    got = ok(oper.call("POST", "/api/v1/alerts/%d/acknowledge" % a["id"]))
    assert got["state"] == "acknowledged" and got["acknowledged_at"], got
    assert oper.call("POST", "/api/v1/alerts/%d/acknowledge" % a["id"])[0] == 409
    assert [x["id"] for x in alerts(oper, "?state=acknowledged")] == [a["id"]]
    status, doc = oper.call("POST", "/api/v1/alerts/%d/resolve" % a["id"], {"note": "x" * 501})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "note"
    got = ok(oper.call("POST", "/api/v1/alerts/%d/resolve" % a["id"], {"note": "cover screwed back on"}))
    assert got["state"] == "resolved" and got["resolution"] == "cover screwed back on"
    assert got["resolved_by"].startswith("admin:")
    assert oper.call("POST", "/api/v1/alerts/%d/resolve" % a["id"])[0] == 409
    audit = ok(root.call("GET", "/api/v1/audit?action=alert.&target=alert:%d" % a["id"]))["items"]
    assert sorted(e["action"] for e in audit) == ["alert.acknowledge", "alert.resolve"], audit
    # Filters.
    assert all(x["severity"] == "critical" for x in alerts(query="?severity=critical"))
    assert {x["kind"] for x in alerts(query="?kind=door.")} <= {"door.forced", "door.held"}
    status, doc = root.call("GET", "/api/v1/alerts?state=done&severity=loud")
    assert status == 400 and {f["field"] for f in doc["error"]["fields"]} == {"state", "severity"}


def test_alerts_are_tenant_scoped():
    ok(root.call("POST", "/api/v1/tenants", {"slug": "acme", "name": "Acme"}), 201)
    other = create_admin(app, "acme-admin", "tenant-admin", tenant="acme")
    assert other.login()[0] == 200
    oper = create_admin(app, "default-oper", "operator", tenant="default")
    assert oper.login()[0] == 200
    # An appliance-wide alert, as a failed job would raise it.
    con = sqlite3.connect(app.db(), timeout=10)
    con.execute("INSERT INTO alerts (kind, severity, subject, created_at) VALUES ('job.failed', 'critical', "
                "'Job backup-full failed: disk full', unixepoch())")
    con.commit()
    con.close()
    mine = alerts(oper)
    assert mine and all(a["tenant_id"] == 1 for a in mine), mine
    assert alerts(other) == []
    one = mine[0]["id"]
    assert other.call("GET", "/api/v1/alerts/%d" % one)[0] == 404
    assert other.call("GET", "/api/v1/alerts/%d/deliveries" % one)[0] == 404
    assert other.call("POST", "/api/v1/alerts/%d/acknowledge" % one)[0] == 404
    every = alerts(root)
    assert any(a["tenant_id"] is None and a["kind"] == "job.failed" for a in every)
    scoped = ok(root.call("GET", "/api/v1/alerts?limit=500", headers={"X-Tenant": "acme"}))["items"]
    assert scoped == []


# --- the console's test, and relays that must be refused ---------------------------------

def test_send_a_test_notice_on_each_channel():
    hooks = len(hook.requests)
    mails = len(smtp.messages)
    doc = ok(root.call("POST", "/api/v1/alerts/test", {"channel": "webhook"}))
    assert doc["ok"] and doc["results"][0]["channel"] == "webhook:1", doc
    r = hook.wait(hooks + 1)[hooks]
    assert r["verified"] and r["headers"]["X-Gatehouse-Delivery"].startswith("test-")
    doc = ok(root.call("POST", "/api/v1/alerts/test", {"channel": "email"}))
    assert doc["ok"], doc
    assert "Test notice" in smtp.wait(mails + 1)[mails]["msg"]["Subject"]
    status, doc = root.call("POST", "/api/v1/alerts/test", {"channel": "pager"})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "channel"
    audit = ok(root.call("GET", "/api/v1/audit?action=alert.test"))["items"]
    assert len(audit) >= 2


def test_relay_without_starttls_refused_unless_configured_and_untrusted_certificates_refused():
    plain = SmtpServer()  # no TLS at all
    redirect = WebhookReceiver(ca, SECRET, status=302, location="https://elsewhere.example/").start()
    apps = []
    try:
        strict = Appliance(sets=alert_sets(plain.port, redirect.port, **{"smtp.username": ""})).start()
        apps.append(strict)
        s = bootstrap_admin(strict)
        doc = ok(s.call("POST", "/api/v1/alerts/test", {"channel": "email"}))
        assert not doc["ok"] and "does not offer STARTTLS" in doc["results"][0]["error"], doc
        assert plain.messages == []
        doc = ok(s.call("POST", "/api/v1/alerts/test", {"channel": "webhook"}))
        assert not doc["ok"] and "redirect" in doc["results"][0]["error"] and "not followed" in doc["results"][0]["error"]
        assert len(redirect.requests) == 1

        lax = Appliance(sets=alert_sets(plain.port, hook.port, **{"smtp.username": "", "smtp.tls": "none"})).start()
        apps.append(lax)
        doc = ok(bootstrap_admin(lax).call("POST", "/api/v1/alerts/test", {"channel": "email"}))
        assert doc["ok"], doc
        assert len(plain.wait(1)) == 1 and not plain.messages[0]["tls"]

        # A relay whose certificate the configured CAs do not vouch for.
        untrusted = Appliance(sets=alert_sets(smtp.port, hook.port, **{
            "smtp.ca_file": "/etc/ssl/certs/ca-certificates.crt",
            "webhook.ca_file": "/etc/ssl/certs/ca-certificates.crt"})).start()
        apps.append(untrusted)
        u = bootstrap_admin(untrusted)
        doc = ok(u.call("POST", "/api/v1/alerts/test", {"channel": "email"}))
        assert not doc["ok"] and "not trusted" in doc["results"][0]["error"], doc
        doc = ok(u.call("POST", "/api/v1/alerts/test", {"channel": "webhook"}))
        assert not doc["ok"] and "not trusted" in doc["results"][0]["error"], doc
        for a in apps:
            assert SMTP_PASSWORD not in a.log() and SECRET not in a.log()
    finally:
        for a in apps:
            a.cleanup()
        plain.stop()
        redirect.stop()


def test_channels_that_cannot_work_stop_the_start():
    loose = os.path.join(work, "loose-secret")
    with open(loose, "w") as f:
        f.write("s3cret\n")
    os.chmod(loose, 0o644)
    for sets, why in ((["webhook.urls=https://localhost:1/x", "webhook.secret_file=" + loose], "mode 0600"),
                      (["webhook.urls=http://localhost:1/x", "webhook.secret_file=" + loose], "https://"),
                      (["smtp.relay=localhost", "smtp.from=gatehouse@example.org"], "smtp.to"),
                      (["smtp.relay=localhost", "smtp.from=a@b", "smtp.to=x@y", "smtp.username=u",
                        "smtp.password_file=/nonexistent"], "smtp.password_file")):
        a = Appliance(sets=sets)
        try:
            a.start(timeout=5)
            raise AssertionError("started with %s" % sets)
        except StartError as e:
            assert why in str(e), (why, str(e)[-500:])
        finally:
            a.cleanup()
        args = sum((["--set", x] for x in sets), [])
        out = gatehouse("config", "check", "--state-dir", work, *args)
        assert out.returncode == 1 and why in out.stderr, (out.returncode, out.stderr)
