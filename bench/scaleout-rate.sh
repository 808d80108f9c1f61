#!/usr/bin/env bash
# Throughput of the roles on this machine, in one sitting (issue 13,
# acceptance 3; BENCHMARKS.md): `candor load` (sharing the cores) against
#   1. the embedded collector (`--role all`): reports committed per second;
#   2. a front alone (`--role front`, no worker): reports queued per second;
#   3. a front and a worker: reports committed per second end to end, from
#      the start of sending until the store holds them all.
#
#   bash bench/scaleout-rate.sh [reports]     # default 100000; needs NATS
# Set CANDOR_BIN to use a built binary (default: build target/release/candor),
# PULLERS to set the worker's `[queue] worker_pullers`, its batches in flight (default 0: four per core),
# ONLY=e2e to measure front + worker only, STORE_URL=postgres://… to give the
# worker the PostgreSQL store (a namespace of its own, dropped after; the
# embedded run stays on SQLite, the default it is compared with).
# Each run also prints the CPU seconds per report of every process involved
# (front, worker, NATS, PostgreSQL, the load generator; /proc/PID/stat), and
# after the front-alone run the stream's bytes per queued envelope.
set -euo pipefail
cd "$(dirname "$0")/.."
reports=${1:-100000}
if [ -z "${CANDOR_BIN:-}" ]; then
  cargo build --release -q -p candor --bin candor
  CANDOR_BIN=target/release/candor
fi
bin=$CANDOR_BIN
work=$(mktemp -d)
pids=()
prefix=rate$$
ns=rate$$
store_url=${STORE_URL:-}
drop_namespace() {
  [ -n "$store_url" ] || return 0
  psql -q "$store_url" -tAc "SELECT string_agg(format('DROP SCHEMA %I CASCADE', nspname), '; ')
    FROM pg_namespace WHERE nspname LIKE '${ns}\_%'" | psql -q "$store_url" >/dev/null 2>&1 || true
}
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; drop_namespace; rm -rf "$work"' EXIT

serve() { # serve ROLE PORT
  printf 'regions = ["eu"]\n[queue]\nstream_prefix = "%s"\nworker_pullers = %s\n' "$prefix" "${PULLERS:-0}" >"$work/collector.toml"
  if [ -n "$store_url" ] && [ "$1" = worker ]; then
    printf '[store]\nbackend = "postgres"\nurl = "%s"\nnamespace = "%s"\n' "$store_url" "$ns" >>"$work/collector.toml"
  fi
  $bin serve --config "$work/collector.toml" --data-dir "$work/data" --role "$1" \
    --listen "127.0.0.1:$2" >>"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return; sleep 0.1; done
  echo "$1 did not become ready" >&2; exit 1
}
stop_all() { for p in "${pids[@]}"; do kill "$p"; wait "$p" || true; done; pids=(); }
stored() {
  if [ -n "$store_url" ]; then
    psql "$store_url" -tAc "SELECT COALESCE(SUM(reports), 0) FROM ${ns}_region_eu.report_counts" 2>/dev/null || echo 0
  else
    sqlite3 "$work/data/eu/aggregates.sqlite" "SELECT COALESCE(SUM(reports), 0) FROM report_counts" 2>/dev/null || echo 0
  fi
}
# cpu PID...: user + system seconds of the processes (every thread).
cpu() {
  python3 - "$@" <<'PY'
import os, sys
t = 0
for pid in sys.argv[1:]:
    try:
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        t += int(f[11]) + int(f[12])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        pass
print(t / os.sysconf("SC_CLK_TCK"))
PY
}
# The processes whose CPU a run counts, by name: NATS and PostgreSQL are
# already running and shared, so their CPU is read before and after.
service_pids() { pgrep -x "$1" | tr '\n' ' '; }
# per_report NAME BEFORE AFTER: µs of CPU per report.
per_report() { python3 -c "import sys; print('%s %.1f µs' % (sys.argv[1], (float(sys.argv[3]) - float(sys.argv[2])) * 1e6 / $reports))" "$@"; }
stream_bytes() { # stream_bytes STREAM: messages and bytes it holds
  python3 - "$1" <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", 4222), timeout=2)
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.rate 1\r\nPUB $JS.API.STREAM.INFO.%s _INBOX.rate 0\r\n\r\n' % sys.argv[1].encode())
buf = b""
while not (b"MSG " in buf and b"\r\n" in buf.split(b"MSG ", 1)[1]):
    buf += s.recv(65536)
head, rest = buf.split(b"MSG ", 1)[1].split(b"\r\n", 1)
size = int(head.split()[-1])
while len(rest) < size:
    rest += s.recv(65536)
state = json.loads(rest[:size])["state"]
print("stream %s: %d messages, %d bytes, %.0f bytes per envelope" % (sys.argv[1], state["messages"], state["bytes"], state["bytes"] / max(state["messages"], 1)))
PY
}
load() { # load PORT: prints the load generator's JSON
  $bin load --url "http://127.0.0.1:$1" --signing-key "$work/data/eu/keys/signing.public.json" --reports "$reports" --batch 100 --connections 16 \
    --no-progress --json
}
rate() { python3 -c 'import json,sys; s=json.load(sys.stdin); a=s["queued"]+s["accepted"]; print("%d acknowledged in %.2f s: %.0f reports/s (errors %s)" % (a, s["elapsed_secs"], a / s["elapsed_secs"], s["http_errors_by_code"]))'; }
fresh() { stop_all; rm -rf "$work/data"; $bin keygen --region eu --out "$work/data/eu/keys" >/dev/null 2>&1; }
delete_stream() {
  exec 3<>/dev/tcp/127.0.0.1/4222 || return 0
  printf 'CONNECT {"verbose":false}\r\nPUB $JS.API.STREAM.DELETE.%s _INBOX.bench 0\r\n\r\nPING\r\n' "$1" >&3
  timeout 1 cat <&3 >/dev/null || true
  exec 3>&-
}

echo "== $reports reports, 100-report requests, 16 connections, as fast as possible"
if [ "${ONLY:-}" != e2e ]; then
  fresh; serve all 8750
  all_pid=${pids[-1]}; a0=$(cpu "$all_pid")
  echo "all (embedded, committed):    $(load 8750 | rate)"
  echo "   CPU per report: $(per_report all "$a0" "$(cpu "$all_pid")")"
  fresh; serve front 8750
  front_pid=${pids[-1]}; f0=$(cpu "$front_pid"); n0=$(cpu $(service_pids nats-server))
  echo "front alone (queued):         $(load 8750 | rate)"
  echo "   CPU per report: $(per_report front "$f0" "$(cpu "$front_pid")"), $(per_report nats "$n0" "$(cpu $(service_pids nats-server))")"
  echo "   $(stream_bytes "${prefix}_EU")"
  delete_stream "${prefix}_EU"
fi
fresh; serve worker 8751; worker_pid=${pids[-1]}; serve front 8750; front_pid=${pids[-1]}
w0=$(cpu "$worker_pid"); f0=$(cpu "$front_pid"); n0=$(cpu $(service_pids nats-server)); p0=$(cpu $(service_pids postgres))
start=$(date +%s.%N)
load 8750 >"$work/e2e.json"
echo "front + worker (queued):      $(rate <"$work/e2e.json")"
while [ "$(stored)" -lt "$reports" ]; do sleep 0.05; done
end=$(date +%s.%N)
if [ -n "$store_url" ]; then echo "   store: PostgreSQL (namespace $ns)"; else echo "   store: SQLite"; fi
echo "   CPU per report: $(per_report front "$f0" "$(cpu "$front_pid")"), $(per_report worker "$w0" "$(cpu "$worker_pid")"), $(per_report nats "$n0" "$(cpu $(service_pids nats-server))"), $(per_report postgres "$p0" "$(cpu $(service_pids postgres))")"
# The load generator seals every report before it sends the first: that
# time is not the collector's.
python3 - "$reports" "$start" "$end" "$work/e2e.json" <<'PY'
import json, sys
n, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
seal = json.load(open(sys.argv[4]))["seal_elapsed_secs"]
t = end - start - seal
print("front + worker (committed):   %d in the store %.2f s after sending began: %.0f reports/s end to end" % (n, t, n / t))
PY
stop_all
delete_stream "${prefix}_EU"
