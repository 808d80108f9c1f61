#!/usr/bin/env python3
"""Prints the medians of the last `cargo bench` run as a Markdown table.

Reads criterion's estimates.json files under $CARGO_TARGET_DIR/criterion
(or ./target/criterion): the median per add with its 95% confidence
interval, and each glean figure's ratio to Candor's median for the same
operation.

    medians.py [GLEAN_BASELINE [CANDOR_BASELINE]]

reads the glean benches from criterion's saved baseline GLEAN_BASELINE
(`cargo bench --bench compare -- --save-baseline NAME`) and Candor's from
CANDOR_BASELINE (default: the same one, else the last run, "new").
Criterion always overwrites "new", so name the runs to compare them.
"""

import json
import os
import sys
from pathlib import Path

ORDER = [
    "candor",
    "glean_caller_idle",
    "glean_caller_burst",
    "glean_drained",
    "glean_get_only",
    "candor_flush",
]


def fmt(ns: float) -> str:
    for unit, scale in (("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def main() -> int:
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    root = target / "criterion"
    if not root.is_dir():
        print(f"no criterion results under {root}", file=sys.stderr)
        return 1
    print("| operation | SDK / what is timed | median | 95% CI | ratio to Candor |")
    print("| --- | --- | ---: | --- | ---: |")
    glean_run = sys.argv[1] if len(sys.argv) > 1 else "new"
    candor_run = sys.argv[2] if len(sys.argv) > 2 else glean_run
    for group in ("counter_add", "labeled_counter_add", "persist"):
        medians = {}
        for bench in ORDER:
            run = glean_run if bench.startswith("glean") else candor_run
            path = root / group / bench / run / "estimates.json"
            if not path.is_file() and not bench.startswith("glean"):
                path = root / group / bench / "new" / "estimates.json"
            if path.is_file():
                medians[bench] = json.loads(path.read_text())["median"]
        candor = medians.get("candor", {}).get("point_estimate")
        for bench, m in medians.items():
            ci = m["confidence_interval"]
            ratio = ""
            if candor and bench != "candor" and group != "persist":
                ratio = f"{m['point_estimate'] / candor:,.0f}×"
            print(
                f"| {group} | {bench} | {fmt(m['point_estimate'])} "
                f"| {fmt(ci['lower_bound'])} – {fmt(ci['upper_bound'])} | {ratio} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
