"""The content the download and staging benchmarks move (issue 11): one mix, one place.

At 1024 MB: three large files (200, 300 and 400 MB, 900 MB) and 248 small ones of 128 KB to 1 MB
(about 124 MB), as update payloads come beside their small express and metadata files.
"""

import os
import shutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LARGE_MB = (200, 300, 400)
SMALL_COUNT = 248
SMALL_KB = (128, 256, 512, 1024)
FULL_MB = 1024


def work_root(need_bytes):
    """tmpfs when it has room (the point is to measure the code, not this machine's disk), else .build/bench."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and shutil.disk_usage(shm).free > need_bytes + (4 << 30):
        return shm
    return os.path.join(REPO, ".build", "bench")


def plan(total_mb):
    """``[(name, bytes)]``: the mix scaled to ``total_mb``."""
    scale = total_mb / float(FULL_MB)
    files = [("windows10.0-kb50%04d-x64.msu" % i, max(1, int(mb * scale * (1 << 20)))) for i, mb in enumerate(LARGE_MB)]
    count = max(4, int(SMALL_COUNT * min(1.0, scale * 4)))  # fewer small files when tiny, never none
    small_bytes = int((total_mb << 20) - sum(size for _name, size in files))
    weights = [SMALL_KB[i % len(SMALL_KB)] for i in range(count)]
    unit = max(1, small_bytes // count) * count / float(sum(weights))
    files += [("kb50%04d-x64-express-%03d.cab" % (i, i), max(1, int(w * unit))) for i, w in enumerate(weights)]
    return files
