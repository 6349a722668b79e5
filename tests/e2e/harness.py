"""End-to-end test harness: starts the real gatehouse binary on a loopback
port with a temporary state directory and talks real HTTPS to it.

Nothing of ours is mocked: requests go through TLS to the binary, the
database is the SQLite file it writes, and peers are real programs
(openssl, curl, sslscan, wrk, sqlite3)."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("GH_BUILD", "build")
BINARY = os.path.abspath(os.path.join(BUILD, "gatehouse"))
SANITIZED = os.environ.get("GH_SANITIZED") == "1"
# Sanitizer builds run several times slower; waits scale with this.
SLOW = 4 if SANITIZED else 1


class StartError(Exception):
    pass


class Appliance:
    """One running `gatehouse serve`."""

    def __init__(self, state=None, sets=(), config=None, env=None, args=()):
        self.own_state = state is None
        self.state = state or tempfile.mkdtemp(prefix="gh-e2e-")
        self.sets = ["web.listen=127.0.0.1:0", "devices.listen=127.0.0.1:0", "log.level=debug", *sets]
        self.config = config
        self.env = dict(os.environ, **(env or {}))
        self.args = list(args)
        self.proc = None
        self.lines = []
        self.port = None
        self._lock = threading.Lock()

    # --- process ---------------------------------------------------------
    def command(self, *extra):
        cmd = [BINARY, "serve", "--state-dir", self.state]
        if self.config:
            cmd += ["--config", self.config]
        for s in self.sets:
            cmd += ["--set", s]
        return cmd + self.args + list(extra)

    def start(self, timeout=15):
        self.lines = []
        self.proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=self.env, text=True)
        threading.Thread(target=self._reader, daemon=True).start()
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            m = self.find_line(r"listening on https://[^ ]+:(\d+)")
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                time.sleep(0.1)
                raise StartError("gatehouse exited %s:\n%s" % (self.proc.returncode, self.log()))
            time.sleep(0.02)
        self.kill()
        raise StartError("gatehouse did not start:\n" + self.log())

    def _reader(self):
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def log(self):
        with self._lock:
            return "\n".join(self.lines)

    def find_line(self, pattern):
        with self._lock:
            for line in self.lines:
                m = re.search(pattern, line)
                if m:
                    return m
        return None

    def wait_line(self, pattern, timeout=10):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            m = self.find_line(pattern)
            if m:
                return m
            time.sleep(0.05)
        return None

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        time.sleep(0.05)  # let the reader drain
        check_sanitizer(self.log())
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if self.own_state:
            shutil.rmtree(self.state, ignore_errors=True)

    @property
    def pid(self):
        return self.proc.pid

    # --- HTTPS -----------------------------------------------------------
    @property
    def cert(self):
        return os.path.join(self.state, "tls", "server.crt")

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.check_hostname = True
        return ctx

    def connection(self, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout * SLOW,
                                           context=self.ssl_context())

    def request(self, method, path, body=None, headers=None, conn=None):
        """One request; returns (status, headers dict lower-cased, body bytes)."""
        own = conn is None
        conn = conn or self.connection()
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            data = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, data
        finally:
            if own:
                conn.close()

    def get_json(self, path, **kw):
        status, headers, body = self.request("GET", path, **kw)
        return status, json.loads(body) if body else None

    def db(self):
        return os.path.join(self.state, "gatehouse.db")

    def pin_ports(self):
        """Restart on the same ports from now on (terminals and devsim keep
        the addresses they were given, as after a real restart)."""
        mqtt = self.mqtt_port
        self.sets = [x for x in self.sets if not x.startswith(("web.listen=", "devices.listen="))]
        self.sets += ["web.listen=127.0.0.1:%d" % self.port, "devices.listen=127.0.0.1:%d" % mqtt]
        return self

    # --- device link -------------------------------------------------------
    @property
    def mqtt_port(self):
        """The MQTT-over-TLS port terminals connect to (logged at start)."""
        m = self.wait_line(r"terminals on mqtts://[^ ]+:(\d+)")
        if not m:
            raise AssertionError("no device link listening:\n" + self.log())
        return int(m.group(1))


def run(cmd, timeout=60, **kw):
    """Run a command; returns CompletedProcess with text output."""
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * SLOW, **kw)


def gatehouse(*args, timeout=60, **kw):
    out = run([BINARY, *args], timeout=timeout, **kw)
    check_sanitizer(out.stderr)
    return out


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def check_sanitizer(text):
    """A sanitizer report in the binary's output fails the test that saw it."""
    for mark in SANITIZER_MARKS:
        if mark in text:
            at = text.index(mark)
            raise AssertionError("sanitizer report:\n" + text[max(0, at - 200):at + 3000])


def cpu_seconds(pid):
    """User + system CPU time a process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def silent_connections(port, n):
    """TCP connections that never send a byte."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        socks.append(s)
    return socks


def closed_by_peer(sock, timeout):
    """True if the peer closes sock (EOF or reset) within timeout seconds."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


ADMIN_PASSWORD = "Adm1n-Passw0rd!"


class Session:
    """A logged-in console session: the cookie and CSRF token of one admin,
    optionally from another loopback source address (127.0.0.2 ...)."""

    def __init__(self, app, username, password, totp_code=None, source=None):
        self.app = app
        self.username = username
        self.password = password
        self.source = source
        self.cookie = None
        self.csrf = None
        self.totp_code = totp_code
        self.token = None  # an API token instead of a cookie

    def connection(self):
        kw = {"source_address": (self.source, 0)} if self.source else {}
        return http.client.HTTPSConnection("127.0.0.1", self.app.port, timeout=30 * SLOW,
                                           context=self.app.ssl_context(), **kw)

    def raw(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if self.cookie:
            hdrs.setdefault("Cookie", "gh_session=" + self.cookie)
        if self.csrf and method not in ("GET", "HEAD", "OPTIONS"):
            hdrs.setdefault("X-CSRF-Token", self.csrf)
        if self.token:
            hdrs.setdefault("Authorization", "Bearer " + self.token)
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            if res.getheader("Content-Type", "").startswith("text/event-stream"):
                # A live stream never ends: its first block is the answer.
                data = read_sse_block(res)
            else:
                data = res.read()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, data
        finally:
            conn.close()

    def call(self, method, path, body=None, headers=None):
        """(status, parsed JSON or None)"""
        status, h, data = self.raw(method, path, body, headers)
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data
        return status, doc

    def login(self, **extra):
        body = {"username": self.username, "password": self.password}
        if self.totp_code:
            body["totp_code"] = self.totp_code
        body.update(extra)
        status, h, data = self.raw("POST", "/api/v1/session", body)
        doc = json.loads(data) if data else None
        if status == 200:
            m = re.search(r"gh_session=([^;]+)", h.get("set-cookie", ""))
            self.cookie = m.group(1)
            self.csrf = doc["csrf_token"]
        return status, doc


def read_sse_block(res):
    """Lines of a Server-Sent Events stream up to the first blank line."""
    lines = []
    while True:
        line = res.readline()
        if not line or line in (b"\n", b"\r\n"):
            return b"".join(lines)
        lines.append(line)


def gatehouse_input(text, *args, **kw):
    """Run the binary with text on standard input."""
    out = subprocess.run([BINARY, *args], input=text, capture_output=True, text=True,
                         timeout=60 * SLOW, **kw)
    check_sanitizer(out.stderr)
    return out


def bootstrap_admin(app, password=ADMIN_PASSWORD):
    """Log in as the bootstrap admin with its one-time password, change it
    to `password` and return a fresh session."""
    with open(os.path.join(app.state, "bootstrap-password")) as f:
        one_time = f.read().strip()
    s = Session(app, "admin", one_time)
    status, doc = s.login()
    assert status == 200 and doc["must_change_password"], (status, doc)
    status, _ = s.call("POST", "/api/v1/session/password",
                       {"current_password": one_time, "new_password": password})
    assert status == 204, status
    s = Session(app, "admin", password)
    status, doc = s.login()
    assert status == 200 and not doc["must_change_password"], (status, doc)
    return s


def create_admin(app, username, role, password=ADMIN_PASSWORD, tenant=None):
    args = ["admin", "create", "--state-dir", app.state, "--username", username, "--role", role,
            "--password-stdin"]
    if tenant:
        args += ["--tenant", str(tenant)]
    out = gatehouse_input(password + "\n", *args)
    assert out.returncode == 0, out.stderr
    return Session(app, username, password)


# --- terminals -----------------------------------------------------------------

class Terminal:
    """A terminal's identity on disk (uid, key, certificate, device CA) and
    Debian's mosquitto clients speaking for it."""

    def __init__(self, app, directory, uid, device_id, key_pem, cert_pem, ca_pem):
        self.app, self.uid, self.id = app, uid, device_id
        self.dir = directory
        os.makedirs(self.dir, exist_ok=True)
        self.key = self._write("key.pem", key_pem)
        self.cert = self._write("cert.pem", cert_pem)
        self.ca = self._write("ca.pem", ca_pem)

    def _write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def topic(self, suffix):
        return "gh/v1/%s/%s" % (self.uid, suffix)

    def args(self, client_id=None, cert=None, key=None):
        return ["-h", "127.0.0.1", "-p", str(self.app.mqtt_port), "-V", "mqttv311", "--cafile", self.ca,
                "--cert", cert or self.cert, "--key", key or self.key, "-i", client_id or self.uid]

    def pub(self, suffix, payload, topic=None, **kw):
        if not isinstance(payload, str):
            payload = json.dumps(payload)
        return run(["mosquitto_pub", *self.args(**kw), "-q", "1", "-t", topic or self.topic(suffix),
                    "-m", payload], timeout=20)

    def sub(self, suffix, count=1, wait=10, **kw):
        """Start mosquitto_sub; returns the process (read .communicate())."""
        return subprocess.Popen(["mosquitto_sub", *self.args(**kw), "-q", "1", "-t", self.topic(suffix),
                                 "-C", str(count), "-W", str(int(wait * SLOW))],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def rr(self, suffix, payload, response, wait=10):
        """mosquitto_rr: subscribe to the response topic, publish, print the first answer."""
        out = run(["mosquitto_rr", *self.args(), "-q", "1", "-t", self.topic(suffix), "-e", self.topic(response),
                   "-m", json.dumps(payload), "-W", str(int(wait * SLOW))], timeout=wait + 10)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[0])

    def tls_socket(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(self.cert, self.key)
        raw = socket.create_connection(("127.0.0.1", self.app.mqtt_port), timeout=5 * SLOW)
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def bundle_terminal(app, session, directory, name, **body):
    """Create a terminal with a ready bundle through the API; returns a Terminal."""
    status, doc = session.call("POST", "/api/v1/devices", dict(body, name=name, enrollment="bundle"))
    assert status == 201, (status, doc)
    b = doc["bundle"]
    return Terminal(app, directory, doc["device"]["uid"], doc["device"]["id"], b["key_pem"], b["cert_pem"],
                    b["ca_pem"])
