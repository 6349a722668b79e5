#!/usr/bin/python3
"""bench_alerts.py BUILD: alert latency, from the fault to its delivery.

Starts BUILD/gatehouse with the mail relay (Debian's aiosmtpd, STARTTLS
and AUTH) and an HTTPS webhook receiver on loopback, both trusting a test
CA made with openssl (the peers of tests/e2e/peers.py). Then, ROUNDS
times (BENCH_ALERT_ROUNDS, default 20), a terminal publishes door_forced
for a door of its own with mosquitto_pub, and the time from just before
the publish to the mail's and the webhook's arrival is measured. Also one
terminal-offline round: the time from a terminal's disconnect to the
mail, with alerts.terminal_offline = 2 s and the rules every 1 s (so at
least 2 s of it is the configured wait). Prints tab-separated rows
(benchmark, figure, unit, ratio) like the C benchmarks; judges nothing."""

import os
import shutil
import statistics
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
os.environ["GH_BUILD"] = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")

from harness import Appliance, bootstrap_admin  # noqa: E402
from peers import SmtpServer, Terminal, TestCA, WebhookReceiver, secret_file  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ALERT_ROUNDS", "20"))


def row(name, figure, unit, ratio=""):
    print("%s\t%s\t%s\t%s" % (name, figure, unit, ratio), flush=True)


def main():
    work = tempfile.mkdtemp(prefix="gh-bench-alerts-")
    ca = TestCA(work)
    smtp = SmtpServer(ca=ca, auth=("bench", "Bench-Passw0rd!"))
    hook = WebhookReceiver(ca, "bench-secret").start()
    sets = ["smtp.relay=localhost", "smtp.port=%d" % smtp.port, "smtp.ca_file=" + ca.ca,
            "smtp.from=gatehouse@example.org", "smtp.to=security@example.org", "smtp.username=bench",
            "smtp.password_file=" + secret_file(work, "pw", "Bench-Passw0rd!"),
            "webhook.urls=https://localhost:%d/hook" % hook.port,
            "webhook.secret_file=" + secret_file(work, "whsec", "bench-secret"), "webhook.ca_file=" + ca.ca,
            "alerts.terminal_offline=2s", "jobs.alert_rules=every 1s",
            "limits.api_per_second=5000", "limits.api_burst=5000", "log.level=notice"]
    app = Appliance(sets=sets)
    try:
        app.start()
        root = bootstrap_admin(app)
        site = root.call("POST", "/api/v1/sites", {"name": "HQ", "timezone": "Asia/Tokyo"})[1]["id"]
        t = Terminal(app, root, work, "bench-reader", site_id=site)
        doors = [root.call("POST", "/api/v1/doors", {"site_id": site, "name": "door %d" % i,
                                                      "terminal_id": t.id})[1]["id"] for i in range(ROUNDS)]
        mail, web, pub = [], [], []
        for door in doors:  # a door each: every round is a new alert, not an occurrence
            m, w = len(smtp.messages), len(hook.requests)
            t0 = time.time()
            t.publish(t.event("door_forced", door_id=door))
            pub.append(time.time() - t0)
            got_m, got_w = smtp.wait(m + 1)[m:], hook.wait(w + 1)[w:]
            if not got_m or not got_w:
                print("bench_alerts: round for door %d not delivered" % door, file=sys.stderr)
                return 1
            mail.append(got_m[0]["time"] - t0)
            web.append(got_w[0]["time"] - t0)

        def report(name, xs):
            xs = sorted(xs)
            row("alert latency, %s: median" % name, "%.1f" % (statistics.median(xs) * 1000), "ms",
                "%d rounds" % len(xs))
            row("alert latency, %s: max" % name, "%.1f" % (xs[-1] * 1000), "ms")
        report("door_forced -> e-mail (STARTTLS, AUTH)", mail)
        report("door_forced -> webhook (HTTPS, signed)", web)
        row("mosquitto_pub of the event, until PUBACK: median", "%.1f" % (statistics.median(pub) * 1000), "ms",
            "includes its TLS handshake")

        side = Terminal(app, root, work, "bench-offline", site_id=site)
        proc = side.connect()
        deadline = time.time() + 10
        while not root.call("GET", "/api/v1/devices/%d" % side.id)[1]["online"] and time.time() < deadline:
            time.sleep(0.05)
        m = len(smtp.messages)
        proc.kill()
        proc.wait()
        t0 = time.time()
        deadline = t0 + 30
        while time.time() < deadline and not [x for x in smtp.messages[m:] if "bench-offline" in x["msg"]["Subject"]]:
            time.sleep(0.02)
        got = [x for x in smtp.messages[m:] if "bench-offline" in x["msg"]["Subject"]]
        if not got:
            print("bench_alerts: no offline alert mail", file=sys.stderr)
            return 1
        row("alert latency, terminal disconnect -> e-mail", "%.2f" % (got[0]["time"] - t0), "s",
            "alerts.terminal_offline = 2 s, rules every 1 s")
        return 0
    finally:
        app.cleanup()
        smtp.stop()
        hook.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
