#!/usr/bin/env python3
"""xlsx_read.py FILE: open FILE with openpyxl, an independent reader of
.xlsx files, and print each row of the first sheet as a JSON list on its
own line (text as strings, numbers as numbers, empty cells as null).

Exit status: 0 when openpyxl read the file, 1 when it could not, 77 when
openpyxl is not installed (Debian: python3-openpyxl), so that callers can
tell "skip" from "fail".

Debian's python3-openpyxl is installed for /usr/bin/python3; when the
python3 first on PATH is another interpreter (pyenv, a virtualenv) that
cannot import it, the script runs itself again under /usr/bin/python3.
"""
import json
import os
import sys

SKIP = 77


def main():
    if len(sys.argv) != 2:
        print("usage: xlsx_read.py FILE", file=sys.stderr)
        return 2
    try:
        import openpyxl
    except ImportError:
        system = "/usr/bin/python3"
        if os.path.exists(system) and os.path.realpath(sys.executable) != os.path.realpath(system):
            os.execv(system, [system] + sys.argv)
        print("# openpyxl not installed", file=sys.stderr)
        return SKIP
    try:
        wb = openpyxl.load_workbook(sys.argv[1])
        ws = wb.worksheets[0]
        out = open(sys.stdout.fileno(), "w", encoding="utf-8", closefd=False)
        for row in ws.iter_rows(values_only=True):
            out.write(json.dumps(list(row), ensure_ascii=False) + "\n")
        out.flush()
    except Exception as e:  # any failure to read is the answer "cannot open"
        print(f"xlsx_read: {sys.argv[1]}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
