"""Sums a shared library's symbol sizes per Rust crate (from the demangled
path's first segment), the largest first: where the bytes go. Data
without a symbol (string literals, unwind tables) is reported apart.

    python3 by_crate.py LIB [TOP]
"""

import collections
import re
import subprocess
import sys


def crate_of(name: str) -> str:
    name = name.strip()
    # <T as trait>::f and <impl ...> forms: take the first path inside.
    name = name.lstrip("<&*").replace("dyn ", "").replace("mut ", "")
    m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)", name)
    return m.group(1) if m else "?"


def main() -> None:
    lib = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    out = subprocess.run(["nm", "-C", "--size-sort", "-S", lib], capture_output=True, text=True, check=True).stdout
    by_crate = collections.Counter()
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if len(parts) < 4:
            continue
        by_crate[crate_of(parts[3])] += int(parts[1], 16)
    sections = subprocess.run(["size", "-A", lib], capture_output=True, text=True, check=True).stdout
    total_symbols = sum(by_crate.values())
    print(f"symbols: {total_symbols} bytes in {len(by_crate)} crates")
    print("| crate | bytes |\n|---|---|")
    for crate, size in by_crate.most_common(top):
        print(f"| {crate} | {size} |")
    print("\nsections (size -A):")
    for line in sections.splitlines():
        if line.startswith((".text", ".rodata", ".data.rel.ro", ".eh_frame", ".gcc_except_table", ".data ")):
            print("  " + line)


if __name__ == "__main__":
    main()
