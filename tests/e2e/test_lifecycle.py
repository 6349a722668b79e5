"""The program's life: command line, configuration errors, first start,
restart, SIGTERM, systemd notifications, refusal of foreign databases."""

import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time

from harness import BINARY, SANITIZED, SLOW, Appliance, StartError, gatehouse, run

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_version_and_help():
    out = gatehouse("version")
    assert out.returncode == 0 and out.stdout.startswith("gatehouse ")
    out = gatehouse("help")
    assert out.returncode == 0
    for word in ("serve", "config check", "--state-dir", "--set KEY=VALUE"):
        assert word in out.stdout, word
    out = gatehouse("frobnicate")
    assert out.returncode == 2 and "unknown command 'frobnicate'" in out.stderr


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_bad_config_stops_with_file_and_line():
    d = tempfile.mkdtemp(prefix="gh-conf-")
    try:
        cases = [
            ("# ok\nweb.threads = 4\nweb.lisen = 1.2.3.4:1\n", ":3: unknown key 'web.lisen'"),
            ("web.max_body = lots\n", ":1: web.max_body: 'lots' is not a valid size"),
            ("web.listen = gate.example:443\n", ":1: web.listen: 'gate.example:443': host must be"),
            ("log.level = chatty\n", ":1: log.level: 'chatty' is not one of"),
        ]
        for text, msg in cases:
            path = write(os.path.join(d, "g.conf"), text)
            for cmd in (["serve"], ["config", "check"]):
                out = gatehouse(*cmd, "--config", path, "--state-dir", os.path.join(d, "s"))
                assert out.returncode == 1, (cmd, out)
                assert (path + msg) in out.stderr, (msg, out.stderr)
            # Nothing was created for a configuration that was refused.
            assert not os.path.exists(os.path.join(d, "s"))
        out = gatehouse("serve", "--config", os.path.join(d, "missing.conf"))
        assert out.returncode == 1 and "missing.conf: cannot read: No such file" in out.stderr
        os.chmod(path, 0)
        if os.geteuid() != 0:
            out = gatehouse("serve", "--config", path)
            assert out.returncode == 1 and "cannot read" in out.stderr
        out = gatehouse("serve", "--set", "web.threads=zero", "--state-dir", os.path.join(d, "s"))
        assert out.returncode == 1 and "--set: web.threads: 'zero' is not a valid integer" in out.stderr
        out = gatehouse("serve", "--set", "nonsense")
        assert out.returncode == 1 and "--set: expected 'key = value'" in out.stderr
    finally:
        shutil.rmtree(d)


def test_config_check_and_show():
    out = gatehouse("config", "check", "--config", os.path.join(TOP, "packaging/gatehouse.conf"))
    assert out.returncode == 0 and "configuration OK" in out.stdout
    out = gatehouse("config", "show", "--set", "web.threads=7", "--config", "/dev/null")
    assert "web.threads = 7\n" in out.stdout and "web.listen = 0.0.0.0:8443\n" in out.stdout


def test_packaged_config_documents_every_key():
    defaults = gatehouse("config", "defaults", "--config", "/dev/null").stdout
    with open(os.path.join(TOP, "packaging/gatehouse.conf")) as f:
        packaged = f.read()
    assert packaged.startswith(defaults), "packaging/gatehouse.conf is stale: run make update-conf"
    rest = packaged[len(defaults):]
    assert "web.listen = 0.0.0.0:443" in rest
    # Every key in `config show` is documented in the file, and vice versa.
    keys = [l.split(" = ")[0] for l in gatehouse("config", "show", "--config", "/dev/null").stdout.splitlines()]
    assert len(keys) >= 10
    for k in keys:
        assert "\n#%s = " % k in packaged, k
    readme = open(os.path.join(TOP, "README.md")).read()
    for k in keys:
        assert "`%s`" % k in readme, "README does not document " + k


def test_first_start_and_restart_reuse_state():
    app = Appliance()
    try:
        app.start()
        st = os.stat(app.state)
        assert stat.S_IMODE(st.st_mode) == 0o700
        for name in ("gatehouse.db", "tls/server.key"):
            assert stat.S_IMODE(os.stat(os.path.join(app.state, name)).st_mode) == 0o600, name
        fp1 = app.find_line(r"certificate SHA-256 ([0-9A-F:]+)").group(1)
        cert1 = open(app.cert).read()
        ident1 = sqlite3.connect(app.db()).execute(
            "SELECT value FROM meta WHERE key='appliance_id'").fetchone()[0]
        status, _, _ = app.request("GET", "/healthz")
        assert status == 200
        assert app.stop() == 0
        assert app.find_line("stopped")

        app.start()
        fp2 = app.find_line(r"certificate SHA-256 ([0-9A-F:]+)").group(1)
        assert fp1 == fp2 and open(app.cert).read() == cert1
        assert not app.find_line("created a self-signed certificate")
        ident2 = sqlite3.connect(app.db()).execute(
            "SELECT value FROM meta WHERE key='appliance_id'").fetchone()[0]
        assert ident1 == ident2
        status, doc = app.get_json("/readyz")
        assert status == 200
    finally:
        app.cleanup()


def test_sigterm_finishes_and_leaves_intact_database():
    app = Appliance()
    try:
        app.start()
        conn = app.connection()
        status, _, _ = app.request("GET", "/readyz", conn=conn)
        assert status == 200
        assert app.stop(signal.SIGTERM) == 0
        conn.close()
        assert app.find_line("SIGTERM received, stopping")
        out = run(["sqlite3", app.db(), "PRAGMA integrity_check;"])
        assert out.stdout.strip() == "ok", out
        # The WAL was checkpointed into the main file at exit.
        wal = app.db() + "-wal"
        assert not os.path.exists(wal) or os.path.getsize(wal) == 0
        out = run(["sqlite3", app.db(), "SELECT max(version) FROM schema_migrations;"])
        assert int(out.stdout) >= 1
        assert app.stop() is not None
        # SIGINT (Ctrl-C under make run) behaves the same.
        app.start()
        assert app.stop(signal.SIGINT) == 0
    finally:
        app.cleanup()


def test_second_instance_on_same_state_refused():
    a = Appliance().start()
    try:
        b = Appliance(state=a.state)
        try:
            b.start(timeout=5)
            assert False, "second instance started"
        except StartError:
            pass
        assert "another 'gatehouse serve' is running" in b.log()
    finally:
        a.cleanup()


def test_newer_database_refused():
    a = Appliance().start()
    try:
        a.stop()
        db = sqlite3.connect(a.db())
        db.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', 0)")
        db.commit()
        db.close()
        try:
            a.start(timeout=5)
            assert False, "started on a newer database"
        except StartError:
            pass
        assert "database schema version 999 is newer than this program" in a.log()
        assert a.proc.returncode == 1
    finally:
        a.cleanup()


def test_bad_listen_address_reported():
    # Port in use: a clear error and exit 1, not a hang.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        a = Appliance(sets=["web.listen=127.0.0.1:%d" % port])
        try:
            a.start(timeout=5)
            assert False, "started on a busy port"
        except StartError:
            pass
        finally:
            a.cleanup()
        assert "cannot start the web server on 127.0.0.1:%d" % port in a.log()


def test_admin_certificate_used_and_missing_one_refused():
    d = tempfile.mkdtemp(prefix="gh-cert-")
    try:
        key, crt = os.path.join(d, "my.key"), os.path.join(d, "my.crt")
        out = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384",
                   "-nodes", "-keyout", key, "-out", crt, "-subj", "/CN=localhost", "-days", "2",
                   "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        assert out.returncode == 0, out.stderr
        a = Appliance(sets=["web.tls_cert=" + crt, "web.tls_key=" + key]).start()
        try:
            import ssl
            ctx = ssl.create_default_context(cafile=crt)
            with socket.create_connection(("127.0.0.1", a.port)) as s:
                with ctx.wrap_socket(s, server_hostname="localhost") as t:
                    assert t.getpeercert()["subject"][0][0][1] == "localhost"
            assert not os.path.exists(os.path.join(a.state, "tls", "server.crt"))
        finally:
            a.cleanup()
        b = Appliance(sets=["web.tls_cert=" + crt, "web.tls_key=" + key + ".missing"])
        try:
            b.start(timeout=5)
            assert False, "started without its key"
        except StartError:
            pass
        finally:
            b.cleanup()
        assert "cannot read" in b.log()
    finally:
        shutil.rmtree(d)


def test_sd_notify_ready_watchdog_stopping():
    d = tempfile.mkdtemp(prefix="gh-notify-")
    path = os.path.join(d, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10 * SLOW)
    a = Appliance(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
    try:
        a.start()
        msgs = []
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline and msgs.count("WATCHDOG=1") < 2:
            msgs.append(sock.recv(256).decode())
        assert msgs[0] == "READY=1", msgs
        assert msgs.count("WATCHDOG=1") >= 2, msgs
        assert a.stop() == 0
        rest = []
        sock.settimeout(0.5)
        try:
            while True:
                rest.append(sock.recv(256).decode())
        except socket.timeout:
            pass
        assert "STOPPING=1" in rest, rest
    finally:
        a.cleanup()
        sock.close()
        shutil.rmtree(d)


def test_binary_is_static_and_small():
    if SANITIZED:
        return  # the sanitizer build is dynamic by design
    out = run(["file", BINARY])
    assert "statically linked" in out.stdout, out.stdout
    d = tempfile.mkdtemp(prefix="gh-strip-")
    try:
        stripped = os.path.join(d, "gatehouse")
        shutil.copy(BINARY, stripped)
        subprocess.run(["strip", stripped], check=True)
        size = os.path.getsize(stripped)
        assert size < 8 * 1024 * 1024, size
        print("# stripped size: %.2f MB" % (size / 1048576))
    finally:
        shutil.rmtree(d)


def owned_by_others(root, uid):
    """Paths under root (files and directories) not owned by uid."""
    bad = []
    for d, dirs, files in os.walk(root):
        for name in [d] + [os.path.join(d, f) for f in files]:
            if os.lstat(name).st_uid != uid:
                bad.append(name)
    return bad


def test_root_on_the_service_users_state_directory_runs_commands_as_that_user_and_will_not_serve():
    """The packaged /var/lib/gatehouse belongs to the `gatehouse` user: files root's commands leave there
    must stay the service's. Here uid/gid 65534 stands for the service's user."""
    if os.geteuid() != 0:
        return  # only root can hand the directory to another user; CI runs as root
    parent = tempfile.mkdtemp(prefix="gh-owner-")
    os.chmod(parent, 0o755)
    state = os.path.join(parent, "state")
    try:
        out = gatehouse("admin", "list", "--state-dir", state)
        assert out.returncode == 0, out.stderr
        for d, dirs, files in os.walk(state):
            for name in [d] + [os.path.join(d, f) for f in files]:
                os.lchown(name, 65534, 65534)
        out = gatehouse("backup", "run", "--state-dir", state, timeout=120)
        assert out.returncode == 0, out.stderr
        out = gatehouse("keys", "recovery-rotate", "--state-dir", state)
        assert out.returncode == 0, out.stderr
        assert owned_by_others(state, 65534) == []
        backups = [f for f in os.listdir(os.path.join(state, "backups")) if f.endswith(".ghb")]
        assert backups, os.listdir(os.path.join(state, "backups"))
        # The audit log names who ran them, not the user they ran as.
        con = sqlite3.connect("file:%s?mode=ro" % os.path.join(state, "gatehouse.db"), uri=True)
        try:
            actors = dict(con.execute("SELECT action, actor_id FROM audit_log WHERE source = 'cli'").fetchall())
        finally:
            con.close()
        assert actors.get("keys.recovery_rotate") == "cli:root", actors
        assert set(actors.values()) == {"cli:root"}, actors
        out = gatehouse("audit", "verify", "--state-dir", state)
        assert out.returncode == 0, out.stdout + out.stderr
        # serve as root on it: refused before anything is written.
        before = sorted(os.listdir(state))
        out = gatehouse("serve", "--state-dir", state, "--set", "web.listen=127.0.0.1:0",
                        "--set", "devices.listen=127.0.0.1:0", timeout=30)
        assert out.returncode == 1 and "belongs to uid 65534, not root" in out.stderr, out.stderr
        assert sorted(os.listdir(state)) == before and owned_by_others(state, 65534) == []
    finally:
        shutil.rmtree(parent, ignore_errors=True)
