"""`make bench`: run every benchmark and print its figures (ratios against baselines of the same run).

Results are also written to .build/bench/results.json; docs/performance.md records them.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_catalog_sync  # noqa: E402
import bench_download  # noqa: E402
import bench_ingest  # noqa: E402
import bench_install  # noqa: E402
import bench_inventory  # noqa: E402
import bench_scan_fleet  # noqa: E402
import bench_stage  # noqa: E402
import bench_wave  # noqa: E402
import bench_windows  # noqa: E402


def main():
    results = {"catalog_sync": bench_catalog_sync.main(), "scan_fleet": bench_scan_fleet.main(),
               "ingest": bench_ingest.main(), "inventory": bench_inventory.main(),
               "download": bench_download.main(),
               "download_at_link_speed": bench_download.main(total_mb=512, rate="50m"),
               "stage": bench_stage.main(), "windows": bench_windows.main(),
               "install_wave": bench_install.main(), "patch_wave": bench_wave.main()}
    out = os.path.join(os.path.dirname(HERE), ".build", "bench", "results.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(json.dumps(results, indent=2))
    print("written to %s" % out)


if __name__ == "__main__":
    main()
