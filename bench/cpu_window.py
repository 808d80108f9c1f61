#!/usr/bin/env python3
"""CPU seconds a running server and a load generator spend while it sends.

Usage: python3 bench/cpu_window.py SERVER_PID REPORTS -- LOADER_CMD...

Runs LOADER_CMD (a `candor load` run of REPORTS reports against the server
SERVER_PID), passes its output through, and samples both processes'
user + system CPU time (/proc/PID/stat, every thread) every 50 ms. The
window starts at the first sample where the server's CPU time grows (the
loader's pre-sealing before that is not part of the run) and ends at the
loader's last sample. It prints the CPU seconds of each side in that window
and the rate two fully used cores would sustain at that cost per report:
on a machine shared with other work, a figure that does not depend on how
much of the two cores the run got (BENCHMARKS.md says which figures are
wall-clock rates and which are this projection).
"""

import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    """User + system seconds of every thread of pid, or None once it exited."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields 14 and 15 (utime, stime); the split starts at field 3.
    return (int(fields[11]) + int(fields[12])) / TICK


def main():
    server, reports = int(sys.argv[1]), int(sys.argv[2])
    cmd = sys.argv[sys.argv.index("--") + 1 :]
    loader = subprocess.Popen(cmd)
    server_start = cpu(server)
    start = None  # (time, server cpu, loader cpu) when the server got busy
    last = None
    while loader.poll() is None:
        now, s, l = time.monotonic(), cpu(server), cpu(loader.pid)
        if s is not None and l is not None:
            if start is None and s > server_start + 0.02:
                start = (now, s, l)
            last = (now, s, l)
        time.sleep(0.05)
    if loader.returncode != 0 or start is None or last is None:
        sys.exit(f"the load run failed or never reached the server ({loader.returncode})")
    wall = last[0] - start[0]
    server_cpu = last[1] - server_start
    loader_cpu = last[2] - start[2]
    total = server_cpu + loader_cpu
    print(
        f"cpu     server {server_cpu:.2f} s + load generator {loader_cpu:.2f} s "
        f"over {wall:.2f} s of wall time: {total * 1e6 / reports:.1f} µs of CPU per report, "
        f"{2 * reports / total:.0f} reports/s on two fully used cores"
    )


if __name__ == "__main__":
    main()
