"""TLS of the web server, checked with independent clients: OpenSSL's
s_client, Python's ssl, sslscan and wrk. Also the defences against silent
and slow clients that CivetWeb 1.15 lacks out of the box."""

import os
import re
import socket
import ssl
import struct
import time

from harness import Appliance, SLOW, closed_by_peer, cpu_seconds, run, silent_connections

app = None


def setup_module():
    global app
    app = Appliance(sets=["web.handshake_timeout=2s", "web.request_timeout=2s",
                          "web.keepalive_timeout=1s", "web.threads=8"]).start()


def teardown_module():
    app.cleanup()


def s_client(*args, data=b""):
    cmd = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % app.port,
           "-servername", "localhost", *args]
    return run(cmd, input=data.decode(), timeout=20)


def test_tls12_with_forward_secret_aead():
    out = s_client("-tls1_2", "-CAfile", app.cert, "-verify_return_error")
    text = out.stdout + out.stderr
    assert "Protocol  : TLSv1.2" in text, text
    assert "Verify return code: 0 (ok)" in text, text
    cipher = re.search(r"Cipher is (\S+)", text).group(1)
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher


def test_tls13_capable_client_gets_tls12():
    ctx = app.ssl_context()  # Python's default: offers TLS 1.3 and 1.2
    with socket.create_connection(("127.0.0.1", app.port)) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            assert t.version() == "TLSv1.2"
            name, _, bits = t.cipher()
            assert name.startswith("ECDHE-") and bits >= 128


def test_old_protocols_refused():
    for flag in ("-tls1", "-tls1_1"):
        # SECLEVEL=0 so that the client really offers the old protocol.
        out = s_client(flag, "-cipher", "ALL:@SECLEVEL=0")
        text = out.stdout + out.stderr
        assert out.returncode != 0, text
        assert "Cipher is (NONE)" in text or "alert protocol version" in text, text


def client_hello(version):
    """A minimal ClientHello of the given (major, minor) version offering
    CBC suites a TLS 1.0/1.1 server would pick."""
    suites = [0xC009, 0xC013, 0x002F, 0x0035]
    body = bytes(version) + os.urandom(32) + b"\x00"
    body += struct.pack(">H", 2 * len(suites)) + b"".join(struct.pack(">H", c) for c in suites)
    body += b"\x01\x00"
    # supported_groups and ec_point_formats, so ECDHE is possible
    ext = struct.pack(">HHH", 10, 4, 2) + struct.pack(">H", 23)
    ext += struct.pack(">HHB", 11, 2, 1) + b"\x00"
    body += struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16" + bytes(version) + struct.pack(">H", len(hs)) + hs


def test_raw_tls10_and_tls11_hellos_get_no_server_hello():
    for version in ((3, 1), (3, 2)):
        with socket.create_connection(("127.0.0.1", app.port), timeout=5) as s:
            s.sendall(client_hello(version))
            reply = s.recv(7)
            # Either an alert record (21) or a closed connection; never a
            # handshake record (22) carrying a ServerHello.
            assert reply == b"" or reply[0] == 21, (version, reply)


def test_weak_ciphers_refused():
    for cipher in ("AES128-SHA", "AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA",
                   "ECDHE-ECDSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256"):
        out = s_client("-tls1_2", "-cipher", cipher + ":@SECLEVEL=0")
        assert "Cipher is (NONE)" in out.stdout + out.stderr or out.returncode != 0, cipher


def test_sslscan_finds_nothing_weak():
    out = run(["sslscan", "--no-colour", "127.0.0.1:%d" % app.port], timeout=120)
    text = out.stdout
    for proto in ("SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"):
        assert re.search(r"^%s\s+disabled" % re.escape(proto), text, re.M), (proto, text)
    assert re.search(r"^TLSv1\.2\s+enabled", text, re.M), text
    accepted = re.findall(r"^(?:Preferred|Accepted)\s+(\S+)\s+(\d+) bits\s+(\S+)", text, re.M)
    assert accepted, text
    for proto, bits, cipher in accepted:
        assert proto == "TLSv1.2" and int(bits) >= 128, (proto, bits, cipher)
        assert cipher.startswith("ECDHE-"), cipher
        assert "GCM" in cipher or "CHACHA20" in cipher, cipher
    assert "Session renegotiation not supported" in text or "renegotiation" not in text.lower()


def test_session_resumption():
    sess = os.path.join(app.state, "sess.pem")
    first = s_client("-tls1_2", "-sess_out", sess)
    assert "Protocol  : TLSv1.2" in first.stdout
    again = s_client("-tls1_2", "-sess_in", sess)
    assert "Reused, TLSv1.2" in again.stdout, again.stdout
    os.unlink(sess)


def timed_health():
    t0 = time.time()
    status, _, _ = app.request("GET", "/healthz")
    return status, time.time() - t0


def test_silent_connections_hold_no_worker_and_no_cpu():
    # More silent connections than worker threads (8): without the gate, real
    # clients would wait for the handshake timeout; with it they do not wait.
    socks = silent_connections(app.port, 50)
    try:
        time.sleep(0.3)
        cpu0 = cpu_seconds(app.pid)
        worst = 0
        for _ in range(20):
            status, took = timed_health()
            assert status == 200
            worst = max(worst, took)
        # "Promptly": far below the 2 s handshake timeout a starved client waits.
        assert worst < 1.0 * SLOW, worst
        time.sleep(1.0)
        used = cpu_seconds(app.pid) - cpu0
        # 20 requests cost a few milliseconds; spinning workers would burn
        # seconds of CPU over this interval.
        assert used < 0.5 * SLOW, used
    finally:
        for s in socks:
            s.close()


def test_silent_connection_closed_after_handshake_timeout():
    (s,) = silent_connections(app.port, 1)
    t0 = time.time()
    assert closed_by_peer(s, 10 * SLOW)
    assert 1.5 <= time.time() - t0, time.time() - t0
    s.close()


def test_stalled_handshake_closed():
    with socket.create_connection(("127.0.0.1", app.port)) as s:
        s.sendall(client_hello((3, 3))[:20])  # part of a ClientHello, then nothing
        assert closed_by_peer(s, 10 * SLOW)


def test_slow_request_cut_after_timeout():
    ctx = app.ssl_context()
    with socket.create_connection(("127.0.0.1", app.port)) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never end
            t0 = time.time()
            t.settimeout(10 * SLOW)
            data = t.recv(1024)
            assert time.time() - t0 < 9 * SLOW
            # Cut with an error response or a plain close, never served.
            assert data == b"" or data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 5"), data


def test_idle_keepalive_closed():
    ctx = app.ssl_context()
    with socket.create_connection(("127.0.0.1", app.port)) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            t.settimeout(5 * SLOW)
            first = t.recv(4096)
            assert first.startswith(b"HTTP/1.1 200")
            rest = b""
            t0 = time.time()
            try:
                while True:
                    chunk = t.recv(4096)
                    if not chunk:
                        break
                    rest += chunk
            except (ssl.SSLError, ConnectionResetError):
                pass
            assert time.time() - t0 < 5 * SLOW


def test_wrk_load_has_no_errors():
    out = run(["wrk", "-t4", "-c32", "-d3s", "--timeout", "5s", app.url + "/healthz"], timeout=60)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    m = re.search(r"(\d+) requests in", text)
    assert m and int(m.group(1)) > 100, text
    assert "Non-2xx or 3xx responses" not in text, text
    assert "Socket errors" not in text, text
    status, _, _ = app.request("GET", "/readyz")
    assert status == 200
