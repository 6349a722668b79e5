"""Admin accounts, login hardening, sessions, tokens, allow-lists, rate
limits, blocking and the audit trail, through the real binary over HTTPS.
Independent peers: oathtool (TOTP codes), sqlite3 (alert rows, tampering)."""

import os
import re
import sqlite3
import stat
import subprocess
import time

from harness import (ADMIN_PASSWORD, SLOW, Appliance, Session, bootstrap_admin, create_admin,
                     gatehouse, gatehouse_input, run)

app = None
root = None


def setup_module():
    global app, root
    # Generous abuse limits here: this module's tests fail logins on purpose.
    app = Appliance(sets=["abuse.fail_threshold=1000", "limits.login_per_minute=10000",
                          "limits.login_burst=1000"]).start()
    root = bootstrap_admin(app)


def teardown_module():
    app.cleanup()


def audit_actions():
    return [r[0] for r in sqlite3.connect(app.db()).execute("SELECT action FROM audit_log ORDER BY id")]


def test_bootstrap_admin_and_forced_password_change():
    a = Appliance().start()
    try:
        path = os.path.join(a.state, "bootstrap-password")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        one_time = open(path).read().strip()
        assert one_time not in a.log()  # not in the journal
        s = Session(a, "admin", one_time)
        status, doc = s.login()
        assert status == 200 and doc["must_change_password"] and doc["admin"]["role"] == "system-admin"
        status, doc = s.call("GET", "/api/v1/admins")
        assert status == 403 and doc["error"]["code"] == "password_change_required"
        status, doc = s.call("POST", "/api/v1/session/password",
                             {"current_password": one_time, "new_password": "abc"})
        assert status == 400
        reason = doc["error"]["fields"][0]["reason"]
        assert reason == ("must be at least 8 characters long and contain an upper-case letter, "
                          "a digit and a symbol"), reason
        status, doc = s.call("POST", "/api/v1/session/password",
                             {"current_password": one_time, "new_password": "admin"})
        assert status == 400 and "same as the username" in doc["error"]["fields"][0]["reason"]
        status, _ = s.call("POST", "/api/v1/session/password",
                           {"current_password": one_time, "new_password": ADMIN_PASSWORD})
        assert status == 204
        assert not os.path.exists(path)
        status, _ = s.call("GET", "/api/v1/admins")
        assert status == 200
    finally:
        a.cleanup()


def test_password_rule_in_cli_and_api():
    out = gatehouse_input("short\n", "admin", "create", "--state-dir", app.state, "--username", "weak",
                          "--role", "operator", "--password-stdin")
    assert out.returncode == 1 and "password must be at least 8 characters" in out.stderr, out.stderr
    out = gatehouse_input("longenoughbutplain\n", "admin", "create", "--state-dir", app.state,
                          "--username", "weak", "--role", "operator", "--password-stdin",
                          "--set", "password.min_length=20")
    assert "at least 20 characters" in out.stderr and "upper-case letter" in out.stderr, out.stderr
    status, doc = root.call("POST", "/api/v1/admins", {"username": "weak2", "role": "operator",
                                                      "password": "Password1", "tenant_id": 1})
    assert status == 400
    f = doc["error"]["fields"][0]
    assert f["field"] == "password" and f["reason"] == "must contain a symbol", f
    status, doc = root.call("POST", "/api/v1/admins", {"username": "x", "role": "boss", "password": "y",
                                                      "shoe_size": 42})
    fields = {e["field"] for e in doc["error"]["fields"]}
    assert status == 400 and {"role", "shoe_size"} <= fields, doc


def test_lockout_after_three_failures_and_unlock():
    create_admin(app, "lockme", "operator")
    wrong = Session(app, "lockme", "Wrong-Passw0rd!")
    bodies = []
    for _ in range(3):
        status, doc = wrong.login()
        assert status == 401
        bodies.append(doc)
    right = Session(app, "lockme", ADMIN_PASSWORD)
    status, doc = right.login()
    # Locked: the same answer as a wrong password.
    assert status == 401 and doc == bodies[0], doc
    status, nobody = Session(app, "nobody-here", "Whatever-1!").login()
    assert status == 401 and nobody == bodies[0]
    db = sqlite3.connect(app.db())
    assert "auth.account_locked" in audit_actions()
    assert db.execute("SELECT count(*) FROM alerts WHERE kind='admin_locked' AND subject LIKE '%lockme%'").fetchone()[0] == 1
    # Unlocked by an admin through the API.
    aid = [a["id"] for a in root.call("GET", "/api/v1/admins")[1]["items"] if a["username"] == "lockme"][0]
    status, _ = root.call("POST", "/api/v1/admins/%d/unlock" % aid)
    assert status == 204
    assert right.login()[0] == 200
    # And through the command line.
    for _ in range(3):
        wrong.login()
    assert right.login()[0] == 401
    out = gatehouse("admin", "unlock", "--state-dir", app.state, "--username", "lockme")
    assert out.returncode == 0, out.stderr
    assert right.login()[0] == 200
    assert "admin.unlock" in audit_actions()


def test_idle_session_expires():
    a = Appliance(sets=["session.idle_timeout=3s"]).start()
    try:
        s = bootstrap_admin(a)
        for _ in range(4):  # active: kept alive past the timeout
            time.sleep(1)
            assert s.call("GET", "/api/v1/session")[0] == 200
        time.sleep(3.5)
        status, doc = s.call("GET", "/api/v1/session")
        assert status == 401 and doc["error"]["code"] == "session_expired", doc
        end = sqlite3.connect(a.db()).execute("SELECT end_reason FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
        assert end == ("idle",)
    finally:
        a.cleanup()


def test_lock_expires_by_time():
    a = Appliance(sets=["auth.lockout_duration=2s"]).start()
    try:
        bootstrap_admin(a)
        create_admin(a, "timed", "auditor")
        for _ in range(3):
            Session(a, "timed", "Nope-Nope-1!").login()
        assert Session(a, "timed", ADMIN_PASSWORD).login()[0] == 401
        time.sleep(2.5)
        assert Session(a, "timed", ADMIN_PASSWORD).login()[0] == 200
    finally:
        a.cleanup()


def oathtool(secret, offset=0):
    out = run(["oathtool", "--totp", "-b", "--now", time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                  time.gmtime(time.time() + offset)),
               secret])
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_totp_enrolment_login_replay_and_recovery():
    create_admin(app, "totpuser", "tenant-admin")
    s = Session(app, "totpuser", ADMIN_PASSWORD)
    assert s.login()[0] == 200
    status, doc = s.call("POST", "/api/v1/session/totp")
    assert status == 200
    uri = doc["otpauth_uri"]
    secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
    assert uri.startswith("otpauth://totp/Gatehouse:totpuser?") and "algorithm=SHA1&digits=6&period=30" in uri
    assert doc["secret"] == secret
    status, doc = s.call("POST", "/api/v1/session/totp/confirm", {"code": "000000"})
    assert status == 400
    status, doc = s.call("POST", "/api/v1/session/totp/confirm", {"code": oathtool(secret)})
    assert status == 200, doc
    codes = doc["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # The secret is sealed in the database.
    row = sqlite3.connect(app.db()).execute("SELECT totp_secret FROM admins WHERE username='totpuser'").fetchone()[0]
    assert row[0] == 1 and secret.encode() not in row

    status, doc = Session(app, "totpuser", ADMIN_PASSWORD).login()
    assert status == 401 and doc["error"]["code"] == "totp_required"
    # Wait for a fresh time step so the code is not the one used to confirm.
    step = int(time.time()) // 30
    while int(time.time()) // 30 == step:
        time.sleep(0.2)
    code = oathtool(secret)
    status, doc = Session(app, "totpuser", ADMIN_PASSWORD, totp_code=code).login()
    assert status == 200, doc
    # The same code again is refused (and counts as a failure).
    status, doc = Session(app, "totpuser", ADMIN_PASSWORD, totp_code=code).login()
    assert status == 401 and doc["error"]["code"] == "login_failed"
    # A recovery code works once.
    status, doc = Session(app, "totpuser", ADMIN_PASSWORD).login(recovery_code=codes[0].upper())
    assert status == 200, doc
    status, doc = Session(app, "totpuser", ADMIN_PASSWORD).login(recovery_code=codes[0])
    assert status == 401
    out = gatehouse("admin", "unlock", "--state-dir", app.state, "--username", "totpuser")
    assert out.returncode == 0
    assert "auth.recovery_code_used" in audit_actions() and "auth.totp_enabled" in audit_actions()


def test_required_totp_leaves_an_admin_without_it_nothing_but_enrolment():
    a = Appliance(sets=["auth.require_totp=yes"]).start()
    try:
        s = bootstrap_admin(a)  # the password change comes first, as ever
        status, doc = s.call("GET", "/api/v1/session")
        assert status == 200 and doc["must_enrol_totp"] is True and doc["must_change_password"] is False, doc
        for method, path in (("GET", "/api/v1/people"), ("GET", "/api/v1/admins"), ("GET", "/api/v1/audit")):
            status, doc = s.call(method, path)
            assert status == 403 and doc["error"]["code"] == "totp_enrolment_required", (path, doc)
        status, doc = s.call("POST", "/api/v1/session/totp")
        assert status == 200, doc
        secret = doc["secret"]
        status, doc = s.call("POST", "/api/v1/session/totp/confirm", {"code": oathtool(secret)})
        assert status == 200 and len(doc["recovery_codes"]) == 10, doc
        # At once, in the same session.
        assert s.call("GET", "/api/v1/people")[0] == 200
        assert s.call("GET", "/api/v1/session")[1]["must_enrol_totp"] is False
        # Nobody turns it off while it is required; it is set on the command line, so not in the console either.
        status, doc = s.call("DELETE", "/api/v1/session/totp", {"password": ADMIN_PASSWORD})
        assert status == 409 and "auth.require_totp" in doc["error"]["message"], doc
        setting = [x for x in s.call("GET", "/api/v1/settings")[1]["settings"] if x["key"] == "auth.require_totp"][0]
        assert setting["value"] == "yes" and not setting["editable"], setting
        # Another admin made on the command line meets the same rule at its first login.
        create_admin(a, "second", "auditor")
        other = Session(a, "second", ADMIN_PASSWORD)
        status, doc = other.login()
        assert status == 200 and doc["must_enrol_totp"] is True, doc
        assert other.call("GET", "/api/v1/audit")[1]["error"]["code"] == "totp_enrolment_required"
    finally:
        a.cleanup()


def test_second_login_ends_first_and_logout():
    create_admin(app, "twice", "auditor")
    one = Session(app, "twice", ADMIN_PASSWORD)
    two = Session(app, "twice", ADMIN_PASSWORD)
    assert one.login()[0] == 200
    assert one.call("GET", "/api/v1/session")[0] == 200
    assert two.login()[0] == 200
    assert one.call("GET", "/api/v1/session")[0] == 401
    assert two.call("GET", "/api/v1/session")[0] == 200
    status, h, _ = two.raw("DELETE", "/api/v1/session")
    assert status == 204 and "Max-Age=0" in h["set-cookie"]
    # An ended session's cookie is stale, not a guess: said so, and not
    # counted towards blocking the address, however often it comes back.
    for _ in range(15):
        status, doc = two.call("GET", "/api/v1/session")
        assert status == 401 and doc["error"]["code"] == "session_expired", doc
    assert two.call("GET", "/healthz")[0] == 200


def test_cookie_flags_and_csrf():
    s = Session(app, "admin", ADMIN_PASSWORD)
    status, h, _ = s.raw("POST", "/api/v1/session", {"username": "admin", "password": ADMIN_PASSWORD})
    assert status == 200
    cookie = h["set-cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
        assert flag in cookie, cookie
    s.cookie = re.search(r"gh_session=([^;]+)", cookie).group(1)
    global root
    root = s  # this login ended the module's earlier admin session
    status, doc = s.call("POST", "/api/v1/allowlist", {"cidr": "192.0.2.0/24"})
    assert status == 403 and doc["error"]["code"] == "csrf"
    s.csrf = "wrong"
    status, doc = s.call("POST", "/api/v1/allowlist", {"cidr": "192.0.2.0/24"})
    assert status == 403 and doc["error"]["code"] == "csrf"
    s.csrf = s.call("GET", "/api/v1/session")[1]["csrf_token"]
    status, doc = s.call("POST", "/api/v1/allowlist", {"cidr": "192.0.2.0/24"}, headers={"X-Tenant": "default"})
    assert status == 201, doc
    status, _ = s.call("DELETE", "/api/v1/allowlist/%d" % doc["id"], headers={"X-Tenant": "default"})
    assert status == 204


def test_api_token_scopes():
    tadm = create_admin(app, "tokenboss", "tenant-admin")
    assert tadm.login()[0] == 200
    made = {}
    for scope in ("read", "operate", "manage"):
        status, doc = tadm.call("POST", "/api/v1/tokens", {"name": "integration " + scope, "scope": scope,
                                                           "expires_in_days": 30})
        assert status == 201 and doc["token"].startswith("ght_"), doc
        made[scope] = doc
    status, doc = tadm.call("GET", "/api/v1/tokens")
    assert status == 200 and len(doc["items"]) >= 3
    assert all("token" not in t for t in doc["items"])  # shown once only
    db = sqlite3.connect(app.db()).execute("SELECT group_concat(hex(token_digest)) FROM api_tokens").fetchone()[0]
    assert made["read"]["token"].encode().hex().upper() not in db

    def as_token(scope):
        t = Session(app, "", "")
        t.token = made[scope]["token"]
        return t

    read, operate, manage = as_token("read"), as_token("operate"), as_token("manage")
    assert read.call("GET", "/api/v1/audit")[0] == 200
    status, doc = read.call("POST", "/api/v1/allowlist", {"cidr": "192.0.2.0/24"})
    assert status == 403 and "only read" in doc["error"]["message"]
    assert operate.call("GET", "/api/v1/audit")[0] == 403           # operators cannot read the audit log
    assert manage.call("GET", "/api/v1/audit")[0] == 200
    assert manage.call("GET", "/api/v1/admins")[0] == 403            # console sessions only
    assert manage.call("POST", "/api/v1/tokens", {"name": "x", "scope": "read"})[0] == 403
    status, doc = manage.call("GET", "/api/v1/session")
    assert status == 200 and doc["role"] == "tenant-admin" and doc["tenant_id"] == 1
    # Revoked and garbage tokens are refused.
    assert tadm.call("DELETE", "/api/v1/tokens/%d" % made["read"]["id"])[0] == 204
    assert read.call("GET", "/api/v1/audit")[0] == 401
    bogus = Session(app, "", "")
    bogus.token = "ght_" + "A" * 43
    assert bogus.call("GET", "/api/v1/audit")[0] == 401
    actions = audit_actions()
    assert "token.create" in actions and "token.revoke" in actions


def test_allowlist_refuses_before_password_check():
    tadm = create_admin(app, "fenced", "tenant-admin")
    assert tadm.login()[0] == 200
    status, doc = root.call("POST", "/api/v1/allowlist", {"cidr": "127.0.0.1/32", "note": "console PC"},
                            headers={"X-Tenant": "default"})
    assert status == 201, doc
    entry = doc["id"]
    try:
        far = Session(app, "fenced", ADMIN_PASSWORD, source="127.0.0.2")
        status, doc = far.login()
        assert status == 401 and doc["error"]["code"] == "login_failed"
        # Refused even with a wrong password: no lockout count, nothing learned.
        denied = sqlite3.connect(app.db()).execute(
            "SELECT count(*) FROM audit_log WHERE action='auth.login_failed' AND outcome='denied'").fetchone()[0]
        assert denied >= 1
        # The session opened from the allowed address cannot be used from elsewhere.
        tadm.source = "127.0.0.2"
        status, doc = tadm.call("GET", "/api/v1/session")
        assert status == 403 and doc["error"]["code"] == "address_not_allowed"
        tadm.source = None
        assert tadm.call("GET", "/api/v1/session")[0] == 200
        # System admins have their own list.
        status, doc = root.call("POST", "/api/v1/allowlist", {"cidr": "127.0.0.1/32"})
        assert status == 201
        far_root = Session(app, "admin", ADMIN_PASSWORD, source="127.0.0.3")
        assert far_root.login()[0] == 401
        assert root.call("DELETE", "/api/v1/allowlist/%d" % doc["id"])[0] == 204
    finally:
        assert root.call("DELETE", "/api/v1/allowlist/%d" % entry, headers={"X-Tenant": "default"})[0] == 204
    status, doc = root.call("POST", "/api/v1/allowlist", {"cidr": "10.1.2.3/8"})
    assert status == 400 and "host bits" in doc["error"]["fields"][0]["reason"], doc


def test_allowlist_never_locks_out_its_own_admin_and_the_cli_gets_back_in():
    # A range that does not cover the caller's own address is refused ...
    status, doc = root.call("POST", "/api/v1/allowlist", {"cidr": "192.0.2.0/24"})
    assert status == 409 and "127.0.0.1" in doc["error"]["message"], doc
    assert root.call("GET", "/api/v1/allowlist")[1]["items"] == []
    # ... one that does is fine, stored canonical, and not twice.
    status, own = root.call("POST", "/api/v1/allowlist", {"cidr": "127.0.0.0/8"})
    assert status == 201
    status, v6 = root.call("POST", "/api/v1/allowlist", {"cidr": "2001:DB8::/32"})
    assert status == 201 and v6["cidr"] == "2001:db8::/32", v6
    status, doc = root.call("POST", "/api/v1/allowlist", {"cidr": "2001:db8:0::/32"})
    assert status == 400 and "already on the list" in doc["error"]["fields"][0]["reason"], doc
    # Removing the range that covers the caller, while another stays, is refused too.
    status, doc = root.call("DELETE", "/api/v1/allowlist/%d" % own["id"])
    assert status == 409, doc
    # A tenant's list edited by a system admin does not lock the system admin out.
    status, t = root.call("POST", "/api/v1/allowlist", {"cidr": "192.0.2.0/24"}, headers={"X-Tenant": "default"})
    assert status == 201
    # The appliance's command line lists, removes and clears (audited).
    out = gatehouse("allowlist", "list", "--state-dir", app.state)
    assert out.returncode == 0 and "127.0.0.0/8" in out.stdout and "2001:db8::/32" in out.stdout, out
    out = gatehouse("allowlist", "remove", str(v6["id"]), "--state-dir", app.state)
    assert out.returncode == 0, out.stderr
    out = gatehouse("allowlist", "clear", "--tenant", "default", "--state-dir", app.state)
    assert out.returncode == 0 and "removed 1 entry" in out.stdout, out
    out = gatehouse("allowlist", "clear", "--state-dir", app.state)
    assert out.returncode == 0 and "removed 1 entry" in out.stdout, out
    assert gatehouse("allowlist", "remove", "x", "--state-dir", app.state).returncode == 2
    assert gatehouse("allowlist", "list", "--tenant", "nope", "--state-dir", app.state).returncode == 1
    actions = [e["action"] for e in root.call("GET", "/api/v1/audit?action=allowlist.")[1]["items"]]
    assert "allowlist.clear" in actions and "allowlist.remove" in actions


def test_no_route_without_authentication():
    out = gatehouse("routes")
    assert out.returncode == 0
    anon = Session(app, "", "")
    for line in out.stdout.splitlines()[1:]:
        method, pattern, roles, flags, _ = line.split("\t")
        path = pattern.replace("{id}", "1").replace("{address}", "192.0.2.1").replace("*", "app.js")
        status, _ = anon.call(method, path, {} if method in ("POST", "PATCH") else None)
        if roles == "public":
            assert status != 401, (method, path, status)
            assert path in ("/healthz", "/readyz", "/", "/assets/app.js", "/api/v1/session",
                            "/api/v1/openapi.json", "/api/v1/devices/enroll", "/api/v1/sync/claim"), path
        else:
            assert status == 401, (method, path, status)


def test_every_role_against_every_route():
    out = gatehouse("routes")
    routes = [l.split("\t") for l in out.stdout.splitlines()[1:]]
    users = {}
    for role in ("tenant-admin", "operator", "auditor"):
        users[role] = create_admin(app, "role-" + role, role, tenant=1)
    users["system-admin"] = create_admin(app, "role-system", "system-admin")
    checked = 0
    for method, pattern, roles, flags, _ in routes:
        if roles == "public":
            continue
        allowed = roles.split(",")
        path = pattern.replace("{id}", "999999").replace("{address}", "192.0.2.1")
        for role, s in users.items():
            assert s.login()[0] == 200  # fresh session: a previous call may have ended it
            status, doc = s.call(method, path, {} if method in ("POST", "PATCH") else None)
            if role in allowed:
                assert status not in (401, 403), (role, method, path, status, doc)
            else:
                assert status == 403 and doc["error"]["code"] == "forbidden", (role, method, path, status, doc)
            checked += 1
    assert checked >= 4 * 20, checked


def test_admin_cli_and_audit_trail():
    out = gatehouse_input(ADMIN_PASSWORD + "\n", "admin", "create", "--state-dir", app.state, "--username",
                          "cli-made", "--role", "auditor", "--tenant", "default", "--password-stdin")
    assert out.returncode == 0 and "created auditor 'cli-made'" in out.stdout, out
    out = gatehouse("admin", "list", "--state-dir", app.state)
    assert re.search(r"cli-made\s+auditor\s+1\s+active", out.stdout), out.stdout
    s = Session(app, "cli-made", ADMIN_PASSWORD)
    assert s.login()[0] == 200
    out = gatehouse("admin", "disable", "--state-dir", app.state, "--username", "cli-made")
    assert out.returncode == 0
    assert s.call("GET", "/api/v1/session")[0] == 401    # its session ended
    assert s.login()[0] == 401
    out = gatehouse("admin", "enable", "--state-dir", app.state, "--username", "cli-made")
    out = gatehouse_input("Temp-Passw0rd!\n", "admin", "reset-password", "--state-dir", app.state,
                          "--username", "cli-made", "--password-stdin")
    assert out.returncode == 0 and "must change it at next login" in out.stdout
    status, doc = Session(app, "cli-made", "Temp-Passw0rd!").login()
    assert status == 200 and doc["must_change_password"]
    out = gatehouse("admin", "frobnicate")
    assert out.returncode == 2 and "usage: gatehouse admin" in out.stderr
    out = gatehouse("admin", "create", "--username", "x", "--role", "auditor")
    assert out.returncode == 2 and "--password-stdin is required" in out.stderr

    db = sqlite3.connect(app.db())
    rows = db.execute("SELECT actor_id, action FROM audit_log WHERE target LIKE 'admin:%' AND actor_id LIKE 'cli:%'").fetchall()
    assert ("cli:root", "admin.create") in rows or any(a.startswith("cli:") for a, _ in rows), rows
    assert {"admin.disable", "admin.reset_password"} <= {a for _, a in rows}
    # Reading the log through the API, filtered and paged.
    status, doc = root.call("GET", "/api/v1/audit?action=admin.&limit=3")
    assert status == 200 and len(doc["items"]) == 3 and doc["next_cursor"]
    assert all(e["action"].startswith("admin.") for e in doc["items"])
    status, doc2 = root.call("GET", "/api/v1/audit?action=admin.&limit=3&cursor=" + doc["next_cursor"])
    assert status == 200 and doc2["items"][0]["id"] < doc["items"][-1]["id"]
    status, doc = root.call("GET", "/api/v1/audit?from=yesterday")
    assert status == 400 and doc["error"]["fields"][0]["field"] == "from"
    # The chain verifies, through the API and offline; one edited row is caught.
    assert gatehouse("audit", "verify", "--state-dir", app.state).returncode == 0
    status, doc = root.call("GET", "/api/v1/audit/verify")
    assert status == 200 and doc["ok"] and doc["entries"] > 20
    victim = db.execute("SELECT id, uid FROM audit_log WHERE action='admin.disable'").fetchone()
    db.execute("UPDATE audit_log SET outcome='failed' WHERE id=?", (victim[0],))
    db.commit()
    out = gatehouse("audit", "verify", "--state-dir", app.state)
    assert out.returncode == 1 and ("entry %d" % victim[0]) in out.stdout + out.stderr and victim[1] in out.stdout + out.stderr, out
    status, doc = root.call("GET", "/api/v1/audit/verify")
    assert not doc["ok"] and doc["first_bad"]["id"] == victim[0]
    db.execute("UPDATE audit_log SET outcome='ok' WHERE id=?", (victim[0],))
    db.commit()
    assert gatehouse("audit", "verify", "--state-dir", app.state).returncode == 0


def test_rate_limits_answer_429():
    a = Appliance(sets=["limits.login_per_minute=6", "limits.login_burst=3",
                        "limits.api_per_second=1", "limits.api_burst=5",
                        "abuse.fail_threshold=1000"]).start()
    try:
        s = Session(a, "nobody", "X-x1111111")
        codes = [s.login()[0] for _ in range(5)]
        assert codes[:3] == [401, 401, 401] and codes[3] == 429, codes
        status, h, _ = s.raw("POST", "/api/v1/session", {"username": "a", "password": "b"})
        assert status == 429 and int(h["retry-after"]) >= 1
        # The API bucket, per address, for authenticated routes.
        t = Session(a, "", "")
        t.token = "ght_" + "B" * 43
        codes = [t.call("GET", "/api/v1/audit")[0] for _ in range(8)]
        assert 429 in codes and codes[0] == 401, codes
        # Health checks are never limited.
        assert all(a.request("GET", "/healthz")[0] == 200 for _ in range(20))
    finally:
        a.cleanup()


def test_repeated_failures_and_probes_block_the_address():
    a = Appliance(sets=["abuse.fail_threshold=5", "abuse.probe_threshold=8",
                        "limits.login_per_minute=10000", "limits.login_burst=1000"]).start()
    try:
        admin = bootstrap_admin(a)
        # Guessing at an account that does not exist: no lockout involved.
        attacker = Session(a, "ghost", "Guess-1234!", source="127.0.0.2")
        codes = [attacker.login()[0] for _ in range(6)]
        assert codes[-1] == 403, codes
        status, h, body = attacker.raw("GET", "/healthz")
        assert status == 403 and b'"blocked"' in body and int(h["retry-after"]) > 60
        # The real admin, elsewhere, is unaffected, sees the block, and lifts it.
        status, doc = admin.call("GET", "/api/v1/blocks")
        assert status == 200 and [b["address"] for b in doc["items"]] == ["127.0.0.2"], doc
        assert sqlite3.connect(a.db()).execute("SELECT count(*) FROM alerts WHERE kind='address_blocked'").fetchone()[0] == 1
        # Scanners probing unknown URLs are blocked too, and blocks survive a restart.
        scanner = Session(a, "", "", source="127.0.0.3")
        for i in range(8):
            scanner.raw("GET", "/wp-admin/%d.php" % i)
        assert scanner.raw("GET", "/healthz")[0] == 403
        a.stop()
        a.start()
        assert scanner.raw("GET", "/healthz")[0] == 403
        admin = Session(a, "admin", ADMIN_PASSWORD)
        assert admin.login()[0] == 200
        assert admin.call("DELETE", "/api/v1/blocks/127.0.0.2")[0] == 204
        assert attacker.raw("GET", "/healthz")[0] == 200
        assert admin.call("DELETE", "/api/v1/blocks/127.0.0.2")[0] == 404
        assert "abuse.block" in [r[0] for r in sqlite3.connect(a.db()).execute("SELECT action FROM audit_log")]
    finally:
        a.cleanup()
