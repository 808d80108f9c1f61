#!/usr/bin/env bash
# Collector throughput on this machine (BENCHMARKS.md): the raw HPKE-open
# rate, then end-to-end accepted reports/s through `candor serve` (HTTP,
# group commit, SQLite) with `candor load` on the same machine, for
# 100-report and 3-report requests, then latency at half of each peak.
#
#   bash bench/collector.sh            # needs an otherwise idle machine
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p candor --bin candor -p candor-sim --example open_rate
bin=target/release/candor
port=${PORT:-8751}
url=http://127.0.0.1:$port
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== raw HPKE open, all cores"
target/release/examples/open_rate 100000

start() {
  rm -rf "$work/data"
  $bin serve --data-dir "$work/data" --listen 127.0.0.1:$port >"$work/log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf $url/readyz >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
load() { $bin load --url $url --signing-key "$work/data/eu/keys/signing.public.json" --no-progress "$@" | grep -E "accepted|latency|HTTP errors"; }

for spec in "100 16 200000" "3 128 90000"; do
  set -- $spec
  echo "== end to end, $1-report requests, $2 connections, as fast as possible"
  start; load --batch $1 --connections $2 --reports $3; kill $server; wait $server || true
done
for spec in "100 16 100000 7700" "3 64 60000 6100"; do
  set -- $spec
  echo "== latency at about half the peak: $1-report requests at $4 reports/s"
  start; load --batch $1 --connections $2 --reports $3 --rate $4; kill $server; wait $server || true
done
