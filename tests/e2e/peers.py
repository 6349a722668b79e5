"""Real local peers for the alert and event tests: a test CA made with
openssl, Debian's aiosmtpd as the mail relay (STARTTLS, AUTH), an HTTPS
webhook receiver (python ssl + http.server) that checks the signature,
and door terminals enrolled as ready bundles that publish with
mosquitto_pub."""

import email
import email.policy
import hashlib
import hmac
import http.server
import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
import warnings

from harness import SLOW, run

# aiosmtpd reports refused handshakes (which some tests cause on purpose)
# with tracebacks, and warns about its own deprecated API on every AUTH.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", message="Session.login_data")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TestCA:
    """A CA and a server certificate for localhost (and 127.0.0.1)."""

    def __init__(self, work, name="test-ca"):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.ca = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "server.pem")
        self.key = os.path.join(self.dir, "server.key")
        ext = os.path.join(self.dir, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=CA:FALSE\n")
        for cmd in (["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.ca_key],
                    ["openssl", "req", "-x509", "-new", "-key", self.ca_key, "-days", "30", "-subj", "/CN=" + name,
                     "-out", self.ca],
                    ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.key],
                    ["openssl", "req", "-new", "-key", self.key, "-subj", "/CN=localhost",
                     "-out", self.cert + ".csr"],
                    ["openssl", "x509", "-req", "-in", self.cert + ".csr", "-CA", self.ca, "-CAkey", self.ca_key,
                     "-CAcreateserial", "-days", "30", "-extfile", ext, "-out", self.cert]):
            out = run(cmd)
            assert out.returncode == 0, (cmd, out.stderr)

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx


def secret_file(work, name, text):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, 0o600)
    return path


# --- mail ----------------------------------------------------------------------------

class SmtpServer:
    """aiosmtpd on a free loopback port. starttls: offer (and require)
    STARTTLS with the CA's certificate; auth: (user, password) required."""

    def __init__(self, ca=None, auth=None):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages = []
        self.port = free_port()
        self.auth_seen = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
                outer.messages.append({"time": time.time(), "from": envelope.mail_from,
                                       "to": list(envelope.rcpt_tos), "msg": msg,
                                       "tls": session.ssl is not None, "raw": envelope.original_content})
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth is not None and (auth_data.login.decode(), auth_data.password.decode()) == auth
            outer.auth_seen.append((mechanism, ok, session.ssl is not None))
            return AuthResult(success=ok)

        kw = {}
        if ca:
            kw.update(tls_context=ca.server_context(), require_starttls=True)
        if auth:
            kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kw)
        self.controller.start()

    def wait(self, n=1, timeout=20):
        deadline = time.time() + timeout * SLOW
        while len(self.messages) < n and time.time() < deadline:
            time.sleep(0.02)
        return self.messages

    def stop(self):
        self.controller.stop()


# --- webhooks -------------------------------------------------------------------------

class WebhookReceiver:
    """HTTPS on a free loopback port; records each POST with its arrival
    time and whether its X-Gatehouse-Signature verifies with secret."""

    def __init__(self, ca, secret, port=None, status=204, location=None):
        self.ca, self.secret, self.status, self.location = ca, secret, status, location
        self.port = port or free_port()
        self.requests = []
        self.server = None

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append({"time": time.time(), "path": self.path, "headers": dict(self.headers),
                                       "body": body, "verified": outer.verify(self.headers, body)})
                self.send_response(outer.status)
                if outer.location:
                    self.send_header("Location", outer.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.socket = self.ca.server_context().wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def verify(self, headers, body):
        """The receiver side, as the README shows it."""
        sig = headers.get("X-Gatehouse-Signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts or abs(time.time() - int(parts["t"])) > 300:
            return False
        want = hmac.new(self.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, parts["v1"])

    def wait(self, n=1, timeout=20):
        deadline = time.time() + timeout * SLOW
        while len(self.requests) < n and time.time() < deadline:
            time.sleep(0.02)
        return self.requests

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# --- terminals --------------------------------------------------------------------------

class Terminal:
    """A terminal enrolled as a ready bundle; publishes with mosquitto_pub."""

    def __init__(self, app, session, work, name, site_id=None, tenant_headers=None):
        body = {"name": name, "model": "GH-R100", "enrollment": "bundle"}
        if site_id:
            body["site_id"] = site_id
        status, doc = session.call("POST", "/api/v1/devices", body, headers=tenant_headers)
        assert status == 201, (status, doc)
        self.app, self.id, self.uid = app, doc["device"]["id"], doc["device"]["uid"]
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        self.seq = 0
        for part, key in (("key", "key_pem"), ("cert", "cert_pem"), ("ca", "ca_pem")):
            path = os.path.join(self.dir, part + ".pem")
            with open(path, "w") as f:
                f.write(doc["bundle"][key])
            os.chmod(path, 0o600)
            setattr(self, part, path)

    def args(self):
        return ["-h", "127.0.0.1", "-p", str(self.app.mqtt_port), "-V", "mqttv311", "--cafile", self.ca,
                "--cert", self.cert, "--key", self.key, "-i", self.uid]

    def event(self, kind, door_id=None, card=None, result=None, at=None):
        self.seq += 1
        ev = {"seq": self.seq, "at": at or int(time.time() * 1000), "kind": kind}
        if door_id:
            ev["door_id"] = door_id
        if card:
            ev["card"] = card
        if result:
            ev["result"] = result
            ev["reason"] = "granted" if result == "granted" else "no_access_level"
        return ev

    def publish(self, events):
        """Publish one event or a batch; returns when the appliance acknowledged it."""
        payload = {"events": events} if isinstance(events, list) else events
        out = run(["mosquitto_pub", *self.args(), "-q", "1", "-t", "gh/v1/%s/events" % self.uid,
                   "-m", json.dumps(payload)], timeout=20)
        assert out.returncode == 0, out.stderr
        return out

    def connect(self):
        """Stay connected (mosquitto_sub) until the process is killed."""
        return subprocess.Popen(["mosquitto_sub", *self.args(), "-q", "1", "-t", "gh/v1/%s/commands" % self.uid],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
