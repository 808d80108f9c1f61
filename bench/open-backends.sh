#!/usr/bin/env bash
# The collector's HPKE opener, with and without the `fast-open` feature
# (BENCHMARKS.md, "HPKE open per backend"): the raw open rate of each
# backend, then `candor serve` + `candor load` end to end (as
# bench/collector.sh measures it: both on the same two cores) with each
# build, 100-report requests, alternating builds so that both see the same
# machine. Each end-to-end run also prints the CPU seconds the server and
# the load generator spent (bench/cpu_window.py), and the rate two fully
# used cores would sustain at that cost: on a shared machine the wall-clock
# rate says how much of the cores the run got, that line what it needed.
#
#   bash bench/open-backends.sh [rounds]     # needs an otherwise idle machine
#   SKIP_BUILD=1 bash bench/open-backends.sh # reuse the binaries built last time
#
# Builds two release binaries: the default one (fast-open on) and one with
# --no-default-features (the `hpke` crate only), each kept in its own
# directory under the target dir so rebuilding one does not replace the other.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
target=${CARGO_TARGET_DIR:-target}
port=${PORT:-8752}
url=http://127.0.0.1:$port
work=$(mktemp -d)
server=
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

build() { # $1: variant name, then cargo flags
  local name=$1; shift
  cargo build --release -q -p candor --bin candor -p candor-sim --example open_rate "$@"
  mkdir -p "$target/open-backends/$name"
  cp "$target/release/candor" "$target/release/examples/open_rate" "$target/open-backends/$name/"
}
if [ -z "${SKIP_BUILD:-}" ]; then
  build fast-open
  build hpke-only --no-default-features
fi

echo "== raw HPKE open, both cores, each backend (the fast-open build has both)"
for backend in hpke aws-lc hpke aws-lc; do
  "$target/open-backends/fast-open/open_rate" 100000 2 $backend
done

start() {
  rm -rf "$work/data"
  "$1" serve --data-dir "$work/data" --listen 127.0.0.1:$port >"$work/log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf $url/readyz >/dev/null && return; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
for round in $(seq "$rounds"); do
  for name in hpke-only fast-open; do
    bin=$target/open-backends/$name/candor
    echo "== round $round, $name: end to end, 100-report requests, 16 connections"
    start "$bin"
    python3 bench/cpu_window.py "$server" 200000 -- \
      "$bin" load --url $url --no-progress --batch 100 --connections 16 --reports 200000 \
      | grep -E "accepted|latency|HTTP errors|cpu"
    kill $server; wait $server || true
  done
done
