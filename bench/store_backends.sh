#!/usr/bin/env bash
# End-to-end through `candor serve` on each store backend, in one sitting
# (BENCHMARKS.md, "PostgreSQL store"): `candor load` sends N reports in
# 100-report requests to a collector on SQLite, then to one on PostgreSQL
# (a namespace of its own, dropped afterwards), and checks that the
# PostgreSQL store holds exactly the reports accepted.
#
#   bash bench/store_backends.sh [reports]     # default 20000
#   STORE_URL=postgres://user@host/db bash bench/store_backends.sh
set -euo pipefail
cd "$(dirname "$0")/.."
reports=${1:-20000}
store_url=${STORE_URL:-postgres://postgres@127.0.0.1:5432/test}
namespace=bench$$
cargo build --release -q -p candor --bin candor
bin=${CARGO_TARGET_DIR:-target}/release/candor
port=${PORT:-8752}
url=http://127.0.0.1:$port
work=$(mktemp -d)
server=
drop_namespace() {
  for schema in $(psql "$store_url" -Atc "select nspname from pg_namespace where nspname like '${namespace}\_%'"); do
    psql "$store_url" -qc "set client_min_messages = warning; drop schema $schema cascade"
  done
}
trap 'kill $server 2>/dev/null || true; rm -rf "$work"; drop_namespace' EXIT

run() {
  local name=$1 config=$2
  rm -rf "$work/data"
  $bin serve --config "$config" --data-dir "$work/data" --listen 127.0.0.1:$port >"$work/log" 2>&1 &
  server=$!
  for _ in $(seq 100); do curl -sf $url/readyz >/dev/null && break; sleep 0.1; done
  echo "== $name"
  $bin load --url $url --signing-key "$work/data/eu/keys/signing.public.json" --reports "$reports" --batch 100 --no-progress | grep -E "accepted|rejected|unanswered|latency"
  kill -TERM $server
  wait $server || true
}

printf '' >"$work/sqlite.toml"
printf '[store]\nbackend = "postgres"\nurl = "%s"\nnamespace = "%s"\n' "$store_url" "$namespace" >"$work/postgres.toml"
run sqlite "$work/sqlite.toml"
run postgres "$work/postgres.toml"
stored=$(psql "$store_url" -Atc "select coalesce(sum(reports), 0) from ${namespace}_region_eu.report_counts")
echo "PostgreSQL holds $stored reports for eu"
