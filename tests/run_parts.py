"""Run the parts of `make test` one after another, print how long each took, fail if any failed.

Every part runs even when an earlier one failed, so one run shows everything that is wrong.
"""

import subprocess
import sys
import time


def main(parts):
    results = []
    for part in parts:
        print("==> make %s" % part, flush=True)
        began = time.monotonic()
        code = subprocess.call(["make", "--no-print-directory", part])
        results.append((part, code, time.monotonic() - began))
        print("<== make %s: %s in %.0f s" % (part, "passed" if code == 0 else "FAILED (exit %d)" % code,
                                             results[-1][2]), flush=True)
    print("\nmake test, part by part:")
    for part, code, seconds in results:
        print("  %-12s %-7s %5.0f s" % (part, "passed" if code == 0 else "FAILED", seconds))
    print("  %-12s %-7s %5.0f s" % ("total", "", sum(r[2] for r in results)))
    return 1 if any(code for _part, code, _seconds in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
