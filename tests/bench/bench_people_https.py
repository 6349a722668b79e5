#!/usr/bin/python3
"""bench_people_https: the HTTPS half of bench-people (run by build/bench-people
with /usr/bin/python3, standard library only).

Logs in to a running `gatehouse serve` as a tenant admin (password in the
environment variable BENCH_PEOPLE_PASSWORD), then, on one keep-alive
connection, times GET /api/v1/people?limit=PAGE:
  first  the first page (no cursor), again and again;
  deep   pages after a cursor drawn at random in [--deep-from, --deep-to].
Each is timed from sending the request to the last byte of the body; each
runs for --seconds (at least 100 pages) after a warm-up of 10 pages. Every
page is checked outside the timing: status 200, PAGE items with ids after
the cursor, decrypted names, and a next_cursor.

Prints one line per kind on stdout, tab-separated, for bench_people.c to
turn into rows: kind, pages, median us, p99 us, pages per second (pages
divided by the time inside requests), then the CPU time per page of the
server (all its threads, from /proc/PID/task/*/schedstat; -1 without
--server-pid) and of this client, in us. Diagnostics go to stderr; exit
status 1 when a request fails or a page is wrong."""

import argparse
import glob
import http.client
import json
import os
import random
import re
import ssl
import sys
import time

MIN_PAGES = 100


def fail(msg):
    print("bench_people_https: " + msg, file=sys.stderr)
    sys.exit(1)


class Client:
    def __init__(self, port, cert):
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = True
        self.conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=ctx)
        self.cookie = None
        self.connects = 0

    def request(self, method, path, body=None):
        """(status, headers, body bytes, seconds from request to last byte)."""
        headers = {}
        if body is not None:
            body = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = "gh_session=" + self.cookie
        if self.conn.sock is None:
            self.connects += 1
            self.conn.connect()  # the handshake is not part of a page's time
        t0 = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        res = self.conn.getresponse()
        data = res.read()
        t1 = time.perf_counter()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, data, t1 - t0

    def login(self, user, password):
        status, headers, data, _ = self.request("POST", "/api/v1/session",
                                                {"username": user, "password": password})
        if status != 200:
            fail("login as %s: HTTP %d %s" % (user, status, data[:300]))
        m = re.search(r"gh_session=([^;]+)", headers.get("set-cookie", ""))
        if not m:
            fail("login: no session cookie")
        self.cookie = m.group(1)


def check_page(data, cursor, page):
    doc = json.loads(data)
    items = doc.get("items")
    if not isinstance(items, list) or len(items) != page:
        fail("page after %s: %s items, expected %d" % (cursor, len(items or []), page))
    ids = [p["id"] for p in items]
    if ids != sorted(ids) or ids[0] <= (cursor or 0):
        fail("page after %s: ids out of order or not after the cursor: %s..." % (cursor, ids[:3]))
    if not all(isinstance(p.get("name"), str) and p["name"].startswith("Person ") for p in items):
        fail("page after %s: a name was not decrypted" % cursor)
    if not all(p.get("credentials") and p["credentials"][0]["kind"] == "card" for p in items):
        fail("page after %s: a person without a card" % cursor)
    if doc.get("next_cursor") is None:
        fail("page after %s: no next_cursor" % cursor)


def cpu_ns(pid):
    """CPU time of all threads of process pid so far, in ns; None if unknown."""
    if not pid:
        return None
    total = 0
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    return total


def run(client, cursors, seconds, page, server_pid):
    """Time pages after the cursors cursors() gives; (times in s, bytes,
    server CPU us per page or -1, client CPU us per page)."""
    times, size = [], 0
    for i in range(10):  # warm-up
        c = cursors()
        status, _, data, _ = client.request("GET", path(c, page))
        if status != 200:
            fail("GET %s: HTTP %d %s" % (path(c, page), status, data[:300]))
        check_page(data, c, page)
    server0, client0 = cpu_ns(server_pid), time.process_time()
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < MIN_PAGES:
        c = cursors()
        status, _, data, t = client.request("GET", path(c, page))
        if status != 200:
            fail("GET %s: HTTP %d %s" % (path(c, page), status, data[:300]))
        times.append(t)
        size = len(data)
        check_page(data, c, page)
    server1, client1 = cpu_ns(server_pid), time.process_time()
    # the checks outside the timing are in the client's CPU time too
    server = (server1 - server0) / 1e3 / len(times) if server0 is not None else -1
    return times, size, server, (client1 - client0) * 1e6 / len(times)


def path(cursor, page):
    return "/api/v1/people?limit=%d%s" % (page, "&cursor=%d" % cursor if cursor else "")


def report(kind, times, size, server_cpu, client_cpu):
    times = sorted(times)
    n = len(times)
    median = times[n // 2] * 1e6
    p99 = times[(n - 1) * 99 // 100] * 1e6
    rate = n / sum(times)
    print("%s\t%d\t%.1f\t%.1f\t%.2f\t%.1f\t%.1f" % (kind, n, median, p99, rate, server_cpu, client_cpu),
          flush=True)
    print("bench_people_https: %s: %d pages of %d bytes" % (kind, n, size), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--deep-from", type=int, required=True)
    ap.add_argument("--deep-to", type=int, required=True)
    ap.add_argument("--page", type=int, default=50)
    ap.add_argument("--server-pid", type=int, default=0)
    a = ap.parse_args()
    password = os.environ.get("BENCH_PEOPLE_PASSWORD")
    if not password:
        fail("BENCH_PEOPLE_PASSWORD is not set")
    client = Client(a.port, a.cert)
    client.login(a.user, password)
    report("first", *run(client, lambda: 0, a.seconds, a.page, a.server_pid))
    report("deep", *run(client, lambda: random.randint(a.deep_from, a.deep_to), a.seconds, a.page,
                        a.server_pid))
    if client.connects != 1:
        print("bench_people_https: the connection was opened %d times (keep-alive broken?)"
              % client.connects, file=sys.stderr)
    client.conn.close()


if __name__ == "__main__":
    main()
