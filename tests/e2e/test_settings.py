"""Settings changed while the appliance runs (PUT/DELETE /api/v1/settings/{key}):
checked like the configuration file, applied at once (the password rule, a
job's schedule), kept across a restart, audited with webhook URLs masked,
undone back to the file's value; --set and file-only keys refused; system
admins only, and only from a console session."""

import os
import tempfile

from harness import ADMIN_PASSWORD, Appliance, bootstrap_admin, create_admin, gatehouse, gatehouse_input

app = None
root = None
conf = None

SETS = ["limits.api_per_second=5000", "limits.api_burst=5000", "smtp.timeout=7s"]
secret = None


def setup_module():
    global app, root, conf, secret
    fd, secret = tempfile.mkstemp(prefix="gh-settings-secret-")
    os.write(fd, b"settings-webhook-secret\n")
    os.close(fd)
    fd, conf = tempfile.mkstemp(prefix="gh-settings-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write("# the file's values\nretention.audit = 400d\npassword.min_length = 10\n"
                "webhook.secret_file = %s\n" % secret)
    app = Appliance(sets=SETS, config=conf).start()
    root = bootstrap_admin(app)


def teardown_module():
    app.cleanup()
    os.unlink(conf)
    os.unlink(secret)


def ok(status_doc, expect=200):
    status, doc = status_doc
    assert status == expect, (status, doc)
    return doc


def settings():
    return {s["key"]: s for s in ok(root.call("GET", "/api/v1/settings"))["settings"]}


def put(key, value, who=None):
    return (who or root).call("PUT", "/api/v1/settings/%s" % key, {"value": value})


def test_sources_and_what_may_change():
    s = settings()
    assert s["password.min_length"]["value"] == "10" and s["password.min_length"]["source"] == "file"
    assert s["password.min_length"]["editable"] and s["password.min_length"]["type"] == "int"
    assert s["auth.lockout_threshold"]["source"] == "default"
    assert s["smtp.timeout"]["source"] == "command line" and not s["smtp.timeout"]["editable"]
    assert "--set" in s["smtp.timeout"]["why_not_editable"]
    assert not s["web.listen"]["editable"] and "configuration file" in s["web.listen"]["why_not_editable"]
    assert s["alerts.email_min_severity"]["type"] == "enum" and "critical" in s["alerts.email_min_severity"]["choices"]


def test_a_change_applies_at_once_and_is_audited():
    # The password rule: 12 characters from now on, for the API and the command line.
    doc = ok(put("password.min_length", "12"))
    assert doc["value"] == "12" and doc["source"] == "console" and doc["changed_by"].startswith("admin:")
    assert doc["changed_by_username"] == "admin"
    status, doc = root.call("POST", "/api/v1/admins", {"username": "shorty", "role": "system-admin",
                                                       "password": "Sh0rt-Pass!"})
    assert status == 400 and "12" in str(doc), doc
    out = gatehouse_input("Sh0rt-Pass!\n", "admin", "create", "--state-dir", app.state, "--config", conf,
                          "--username", "shorty", "--role", "auditor", "--password-stdin")
    assert out.returncode != 0 and "12" in out.stderr, out.stderr
    entry = ok(root.call("GET", "/api/v1/audit?action=settings.change&limit=1"))["items"][0]
    assert entry["target"] == "password.min_length"
    assert entry["details"] == {"old": "10", "new": "12"}, entry


def test_bad_values_are_refused_with_the_reason_and_change_nothing():
    for key, value, why in [("password.min_length", "3", "8 to 128"), ("password.min_length", "ten", ""),
                            ("alerts.email_min_severity", "loud", ""), ("jobs.backup_full", "cron 99 * * * *", ""),
                            ("retention.audit", "forever", "")]:
        status, doc = put(key, value)
        assert status == 400, (key, value, status, doc)
        fields = doc["error"]["fields"]
        assert fields[0]["field"] == "value" and fields[0]["reason"] and why in fields[0]["reason"], (key, fields)
    assert settings()["password.min_length"]["value"] == "12"
    status, doc = root.call("PUT", "/api/v1/settings/password.min_length", {"value": "12", "extra": 1})
    assert status == 400 and doc["error"]["fields"][0]["field"] == "extra"
    status, doc = root.call("PUT", "/api/v1/settings/password.min_length", {"value": "1\n2"})
    assert status == 400
    assert root.call("PUT", "/api/v1/settings/no.such.key", {"value": "1"})[0] == 404


def test_command_line_and_file_only_keys_are_refused():
    status, doc = put("smtp.timeout", "9s")
    assert status == 409 and doc["error"]["code"] == "not_editable" and "--set" in doc["error"]["message"]
    status, doc = put("web.listen", "127.0.0.1:9")
    assert status == 409 and "configuration file" in doc["error"]["message"]
    assert settings()["smtp.timeout"]["value"] == "7s"


def test_a_job_schedule_changes_its_next_run_at_once():
    ok(put("jobs.audit_verify", "cron 15 5 * * *"))
    jobs = {j["name"]: j for j in ok(root.call("GET", "/api/v1/jobs"))["items"]}
    assert jobs["audit-verify"]["schedule"] == "cron 15 5 * * *"
    assert jobs["audit-verify"]["next_run_at"].endswith(":15:00Z")
    ok(put("jobs.audit_verify", "off"))
    jobs = {j["name"]: j for j in ok(root.call("GET", "/api/v1/jobs"))["items"]}
    assert not jobs["audit-verify"]["enabled"] and jobs["audit-verify"]["next_run_at"] is None


def test_webhook_urls_are_masked_in_answers_and_in_the_audit_log():
    doc = ok(put("webhook.urls", "https://hooks.example/x?token=s3cret, https://other.example/y?key=k3y"))
    assert "s3cret" not in str(doc) and "k3y" not in str(doc) and doc["value"].count("***") == 2
    entry = ok(root.call("GET", "/api/v1/audit?action=settings.change&limit=1"))["items"][0]
    assert entry["target"] == "webhook.urls" and "s3cret" not in str(entry) and "k3y" not in str(entry)
    assert "s3cret" not in app.log()
    ok(root.call("DELETE", "/api/v1/settings/webhook.urls"))


def test_alert_channels_must_hang_together_so_the_next_start_works():
    # A relay without a sender or recipients would stop the next start.
    status, doc = put("smtp.relay", "mail.example.org")
    assert status == 400 and "smtp.from" in doc["error"]["fields"][0]["reason"], doc
    assert settings()["smtp.relay"]["value"] == ""
    ok(put("smtp.from", "gatehouse@example.org"))
    ok(put("smtp.to", "guard@example.org, it@example.org"))
    ok(put("smtp.relay", "mail.example.org"))
    # Now the sender cannot go: the relay needs it.
    status, doc = root.call("DELETE", "/api/v1/settings/smtp.from")
    assert status == 409 and doc["error"]["code"] == "inconsistent", doc
    # Webhook URLs are checked as at start.
    status, doc = put("webhook.urls", "ftp://hooks.example/x")
    assert status == 400 and "webhook.urls" in doc["error"]["fields"][0]["reason"], doc
    for key in ("smtp.relay", "smtp.to", "smtp.from"):
        ok(root.call("DELETE", "/api/v1/settings/%s" % key))


def test_only_system_admins_from_a_session():
    ten = create_admin(app, "tadmin", "tenant-admin", tenant="default")
    assert ten.login()[0] == 200
    assert put("password.min_length", "8", who=ten)[0] == 403
    assert ten.call("DELETE", "/api/v1/settings/password.min_length")[0] == 403
    # An API token cannot change them (console sessions only).
    token = ok(ten.call("POST", "/api/v1/tokens", {"name": "int", "scope": "manage", "expires_in_days": 1}), 201)
    status, _ = app.request("PUT", "/api/v1/settings/password.min_length", body={"value": "8"},
                            headers={"Authorization": "Bearer " + token["token"]})[:2]
    assert status in (401, 403), status
    assert settings()["password.min_length"]["value"] == "12"


def test_kept_across_a_restart_and_undone_back_to_the_file():
    global root
    ok(put("retention.audit", "500d"))
    app.stop()
    app.start()
    assert root.login()[0] == 200
    s = settings()
    assert s["retention.audit"]["value"] == "500d" and s["retention.audit"]["source"] == "console"
    assert s["password.min_length"]["value"] == "12"
    doc = ok(root.call("DELETE", "/api/v1/settings/retention.audit"))
    assert doc["value"] == "400d" and doc["source"] == "file"
    # Undoing what was never changed is no error and changes nothing.
    doc = ok(root.call("DELETE", "/api/v1/settings/auth.lockout_threshold"))
    assert doc["source"] == "default"
    # A key later given with --set wins over the console's change, and says so.
    app.stop()
    app.sets.append("password.min_length=9")
    try:
        app.start()
        assert root.login()[0] == 200
        s = settings()["password.min_length"]
        assert s["value"] == "9" and s["source"] == "command line" and not s["editable"]
    finally:
        app.sets.remove("password.min_length=9")
        app.stop()
        app.start()
        assert root.login()[0] == 200
    assert settings()["password.min_length"]["value"] == "12"
    assert gatehouse("audit", "verify", "--state-dir", app.state).returncode == 0
