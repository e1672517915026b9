"""Collects criterion's estimates into one CSV on stdout (bench/report.sh).

usage: criterion_csv.py CRITERION_DIR [SINCE]   (usually target/criterion)

For every benchmark criterion measured (`<dir>/**/new/estimates.json`, with its name from the
`benchmark.json` beside it) one row:

    id,median_ns,median_low_ns,median_high_ns,mean_ns

median_low/high are the bounds of criterion's confidence interval of the median (95 % unless
the bench changed it). Rows are sorted by id. With SINCE (seconds since the epoch) only estimates
written at or after it count, so that benchmarks of earlier runs do not pass for this one.
"""

import json
import sys
from pathlib import Path


def main():
    root = Path(sys.argv[1])
    since = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    rows = []
    for estimates in root.glob("**/new/estimates.json"):
        if estimates.stat().st_mtime < since:
            continue
        meta = json.loads((estimates.parent / "benchmark.json").read_text())
        est = json.loads(estimates.read_text())
        median = est["median"]
        interval = median["confidence_interval"]
        rows.append((meta["full_id"], median["point_estimate"], interval["lower_bound"],
                     interval["upper_bound"], est["mean"]["point_estimate"]))
    if not rows:
        sys.exit(f"criterion_csv.py: no estimates under {root} written since {since:.0f}")
    print("id,median_ns,median_low_ns,median_high_ns,mean_ns")
    for row in sorted(rows):
        print(f"{row[0]},{row[1]:.1f},{row[2]:.1f},{row[3]:.1f},{row[4]:.1f}")


if __name__ == "__main__":
    main()
