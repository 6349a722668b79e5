"""Runs the end-to-end tests: every function named test_* in tests/e2e/test_*.py,
in file order. Prints one TAP line per test, with the failure's traceback as
'#' comments. A module may define setup_module()/teardown_module() for a
shared appliance. Usage: run.py [FILTER]  (runs tests whose name contains FILTER)."""

import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    flt = sys.argv[1] if len(sys.argv) > 1 else ""
    n = failed = 0
    files = sorted(f for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    for f in files:
        mod = load(os.path.join(HERE, f))
        tests = [(k, v) for k, v in vars(mod).items() if k.startswith("test_") and callable(v)]
        tests = [(k, v) for k, v in tests if flt in k or flt in f]
        if not tests:
            continue
        try:
            if hasattr(mod, "setup_module"):
                mod.setup_module()
        except Exception:
            for name, _ in tests:
                n += 1
                failed += 1
                print("not ok %d - %s: %s (setup failed)" % (n, f, name))
            for line in traceback.format_exc().splitlines():
                print("#   " + line)
            continue
        for name, fn in tests:
            n += 1
            t0 = time.time()
            try:
                fn()
                print("ok %d - %s: %s (%.1fs)" % (n, f, name, time.time() - t0), flush=True)
            except Exception:
                failed += 1
                print("not ok %d - %s: %s" % (n, f, name), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("#   " + line, flush=True)
        if hasattr(mod, "teardown_module"):
            try:
                mod.teardown_module()
            except Exception:
                traceback.print_exc()
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
