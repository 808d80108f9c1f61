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
# PULLERS to set the worker's `[queue] worker_pullers` (default 0: one per core),
# ONLY=e2e to measure front + worker only.
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
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

serve() { # serve ROLE PORT
  printf 'regions = ["eu"]\n[queue]\nstream_prefix = "%s"\nworker_pullers = %s\n' "$prefix" "${PULLERS:-0}" >"$work/collector.toml"
  $bin serve --config "$work/collector.toml" --data-dir "$work/data" --role "$1" \
    --listen "127.0.0.1:$2" >>"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return; sleep 0.1; done
  echo "$1 did not become ready" >&2; exit 1
}
stop_all() { for p in "${pids[@]}"; do kill "$p"; wait "$p" || true; done; pids=(); }
stored() { sqlite3 "$work/data/eu/aggregates.sqlite" "SELECT COALESCE(SUM(reports), 0) FROM report_counts" 2>/dev/null || echo 0; }
load() { # load PORT: prints the load generator's JSON
  $bin load --url "http://127.0.0.1:$1" --reports "$reports" --batch 100 --connections 16 \
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
  echo "all (embedded, committed):    $(load 8750 | rate)"
  fresh; serve front 8750
  echo "front alone (queued):         $(load 8750 | rate)"
  delete_stream "${prefix}_EU"
fi
fresh; serve worker 8751; serve front 8750
start=$(date +%s.%N)
load 8750 >"$work/e2e.json"
echo "front + worker (queued):      $(rate <"$work/e2e.json")"
while [ "$(stored)" -lt "$reports" ]; do sleep 0.05; done
end=$(date +%s.%N)
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
