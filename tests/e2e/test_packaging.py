"""The systemd unit and the Debian package, checked with systemd-analyze and
dpkg-deb."""

import os
import re
import shutil
import subprocess
import tempfile

from harness import BUILD, SANITIZED, run

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT = os.path.join(TOP, "packaging", "gatehouse.service")


def test_unit_security_exposure_at_most_2():
    out = run(["systemd-analyze", "security", "--offline=yes", UNIT])
    m = re.search(r"Overall exposure level for gatehouse.service: ([0-9.]+)", out.stdout)
    assert m, out.stdout + out.stderr
    print("# exposure: " + m.group(1))
    assert float(m.group(1)) <= 2.0, out.stdout


def test_unit_settings():
    text = open(UNIT).read()
    for line in ("Type=notify", "User=gatehouse", "StateDirectory=gatehouse",
                 "ConfigurationDirectory=gatehouse", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE", "WatchdogSec=", "NoNewPrivileges=yes",
                 "#LoadCredentialEncrypted=master.key:"):
        assert line in text, line


def install_root():
    """make install into a fresh root that also holds systemd's own units,
    so systemd-analyze verify can resolve dependencies and ExecStart."""
    root = tempfile.mkdtemp(prefix="gh-root-")
    shutil.copytree("/lib/systemd/system", os.path.join(root, "lib/systemd/system"), symlinks=True)
    out = run(["make", "--no-print-directory", "-C", TOP, "install", "DESTDIR=" + root,
               "BUILD=" + os.path.abspath(BUILD)], timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return root


def test_make_install_and_unit_verifies():
    root = install_root()
    try:
        for path in ("usr/sbin/gatehouse", "lib/systemd/system/gatehouse.service",
                     "etc/gatehouse/gatehouse.conf", "usr/lib/sysusers.d/gatehouse.conf",
                     "usr/lib/tmpfiles.d/gatehouse.conf"):
            assert os.path.exists(os.path.join(root, path)), path
        out = run(["systemd-analyze", "verify", "--root=" + root, "gatehouse.service"])
        assert out.returncode == 0 and out.stderr.strip() == "", out.stderr
        out = run([os.path.join(root, "usr/sbin/gatehouse"), "config", "check", "--config",
                   os.path.join(root, "etc/gatehouse/gatehouse.conf")])
        assert out.returncode == 0, out.stderr
    finally:
        shutil.rmtree(root)


def test_deb_contents():
    if SANITIZED:
        return  # packages are built from the static binary only
    out = run(["make", "--no-print-directory", "-C", TOP, "deb", "BUILD=" + os.path.abspath(BUILD)],
              timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    deb = re.search(r"deb: (\S+)", out.stdout).group(1)
    listing = run(["dpkg-deb", "-c", deb]).stdout
    for path in ("./usr/sbin/gatehouse", "./lib/systemd/system/gatehouse.service",
                 "./etc/gatehouse/gatehouse.conf", "./usr/lib/sysusers.d/gatehouse.conf",
                 "./usr/lib/tmpfiles.d/gatehouse.conf"):
        assert re.search(r"\s%s$" % re.escape(path), listing, re.M), path
    info = run(["dpkg-deb", "-I", deb]).stdout
    assert "Package: gatehouse" in info and "Depends: systemd" in info
    d = tempfile.mkdtemp(prefix="gh-deb-")
    try:
        subprocess.run(["dpkg-deb", "-e", deb, d], check=True)
        assert open(os.path.join(d, "conffiles")).read().strip() == "/etc/gatehouse/gatehouse.conf"
        assert "systemd-sysusers" in open(os.path.join(d, "postinst")).read()
        x = tempfile.mkdtemp(prefix="gh-debx-")
        subprocess.run(["dpkg-deb", "-x", deb, x], check=True)
        binary = os.path.join(x, "usr/sbin/gatehouse")
        assert "statically linked" in run(["file", binary]).stdout
        assert os.path.getsize(binary) < 8 * 1024 * 1024
        assert run([binary, "version"]).returncode == 0
        shutil.rmtree(x)
    finally:
        shutil.rmtree(d)
