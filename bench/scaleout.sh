#!/usr/bin/env bash
# Scale-out under faults (issue 13, acceptance 2): `candor serve --role
# front` and `--role worker` on one region over the local NATS JetStream,
# driven by `candor load`, with a fault injected during each run. After
# each run the script waits for the workers to drain the stream and
# compares what the store holds with what the fronts acknowledged: every
# acknowledged report counted, none twice.
#
#   bash bench/scaleout.sh [reports]          # default 20000 per scenario
#
# Scenarios (each with its own data directory and stream prefix):
#   kill-worker    1 front + 1 worker; kill -9 the worker mid-load, restart it
#   restart-nats   1 front + 1 worker; restart NATS while the front accepts
#   two-by-two     2 fronts + 2 workers on the PostgreSQL store, a load per
#                  front; kill -9 one worker mid-load, restart it
#   restart-pg     1 front + 1 worker on PostgreSQL; restart PostgreSQL while
#                  the front accepts
# Every scenario uses the PostgreSQL store at $CANDOR_TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/test), each in a namespace of
# its own that is dropped afterwards; STORE=sqlite runs the first two on
# SQLite instead (the last two need a shared store).
# Set CANDOR_BIN to use a built binary (default: build target/release/candor),
# KEEP=1 to keep the processes' logs.
# NATS and PostgreSQL are left running whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
reports=${1:-20000}
if [ -z "${CANDOR_BIN:-}" ]; then
  cargo build --release -q -p candor --bin candor
  CANDOR_BIN=target/release/candor
fi
bin=$CANDOR_BIN
nats_url=${CANDOR_QUEUE_URL:-nats://127.0.0.1:4222}
pg_url=${CANDOR_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
store=${STORE:-postgres}   # the scenario's store: sqlite, or postgres in namespace $ns
ns=
work=$(mktemp -d)
pids=()

nats_start() {
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && return; sleep 0.1; done
  echo "NATS did not come back" >&2; exit 1
}
# delete_stream NAME: the JetStream API over the plain NATS protocol (no
# client needed): the bench leaves no stream behind.
delete_stream() {
  exec 3<>/dev/tcp/127.0.0.1/4222 || return 0
  printf 'CONNECT {"verbose":false}\r\nPUB $JS.API.STREAM.DELETE.%s _INBOX.bench 0\r\n\r\nPING\r\n' "$1" >&3
  timeout 1 cat <&3 >/dev/null || true
  exec 3>&-
}
pg_start() {
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start >/dev/null 2>&1 || true
}
# drop_namespace NS: every schema of a PostgreSQL namespace.
drop_namespace() {
  psql -q "$pg_url" -tAc "SELECT string_agg(format('DROP SCHEMA %I CASCADE', nspname), '; ')
    FROM pg_namespace WHERE nspname LIKE '$1\_%'" | psql -q "$pg_url" >/dev/null 2>&1 || true
}
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  nats_start >/dev/null 2>&1 || true
  pg_start
  [ -n "$ns" ] && drop_namespace "$ns"
  if [ -n "${KEEP:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# serve_config DIR PREFIX: the scenario's configuration file.
serve_config() {
  local dir=$1 prefix=$2
  local store_section=""
  [ "$store" = postgres ] &&
    store_section=$(printf '[store]\nbackend = "postgres"\nurl = "%s"\nnamespace = "%s"\n' "$pg_url" "$ns")
  cat >"$dir/collector.toml" <<EOF
regions = ["eu"]
$store_section
[ingest]
retry_after_seconds = 1

[queue]
stream_prefix = "$prefix"
ack_wait_seconds = 5
nak_delay_seconds = 1
EOF
}

# serve ROLE PORT DIR PREFIX: starts a process, waits until it is ready.
serve() {
  local role=$1 port=$2 dir=$3 prefix=$4
  serve_config "$dir" "$prefix"
  CANDOR_QUEUE_URL=$nats_url $bin serve --config "$dir/collector.toml" --data-dir "$dir/data" \
    --role "$role" --listen "127.0.0.1:$port" >>"$dir/$role-$port.log" 2>&1 &
  pids+=($!)
  last=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "$role on $port did not become ready" >&2; tail "$dir/$role-$port.log" >&2; exit 1
}

# stored DIR: reports counted in region eu's store.
stored() {
  if [ "$store" = postgres ]; then
    psql "$pg_url" -tAc "SELECT COALESCE(SUM(reports), 0) FROM ${ns}_region_eu.report_counts" 2>/dev/null || echo 0
  else
    sqlite3 "$1/data/eu/aggregates.sqlite" "SELECT COALESCE(SUM(reports), 0) FROM report_counts" 2>/dev/null || echo 0
  fi
}

# drain DIR EXPECTED: waits until the store holds EXPECTED reports, or
# until nothing changed for 20 s.
drain() {
  local dir=$1 expected=$2 last=-1 still=0
  while :; do
    local now; now=$(stored "$dir")
    [ "$now" -ge "$expected" ] && sleep 2 && return
    if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 40 ] && return
    last=$now; sleep 0.5
  done
}

# acknowledged JSON: reports the fronts acknowledged (queued, or accepted).
acknowledged() {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["queued"]+s["accepted"]+s["duplicate"])' "$1"
}

# check NAME DIR LOADS...: prints and checks one scenario's result.
check() {
  local name=$1 dir=$2; shift 2
  local acked=0
  for f in "$@"; do acked=$((acked + $(acknowledged "$f"))); done
  drain "$dir" "$acked"
  local got; got=$(stored "$dir")
  local verdict=OK; [ "$got" = "$acked" ] || verdict=MISMATCH
  printf '%-13s acknowledged %7d  stored %7d  %s\n' "$name" "$acked" "$got" "$verdict"
  for f in "$@"; do
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); a=s["queued"]+s["accepted"]+s["duplicate"]; print("              load: %d sent, %d acknowledged in %.1f s, %d requests resent after 503, errors on the way %s" % (s["sent"], a, s["elapsed_secs"], s["retries"], s["http_errors_by_code"]))' "$f"
  done
  [ "$verdict" = OK ]
}

# metric PORT NAME [LABEL]: the sum of a Prometheus series of a process.
metric() {
  curl -s -H "authorization: Bearer $token" "http://127.0.0.1:$1/metrics" |
    awk -v n="$2" -v l="${3:-}" 'index($0, n) == 1 && index($0, l) { s += $NF } END { print s + 0 }'
}

# setup DIR: keys and an admin token (for /metrics), as an operator would,
# in the scenario's store ($prefix set).
setup() {
  mkdir -p "$1"
  $bin keygen --region eu --out "$1/data/eu/keys" >/dev/null 2>&1
  serve_config "$1" "$prefix"
  token=$($bin token create --name bench --role admin --regions eu --config "$1/collector.toml" \
    --data-dir "$1/data" 2>/dev/null)
}

# sending PORT: waits until the front at PORT has queued a quarter of the
# run (the load generator seals everything before it sends).
sending() {
  for _ in $(seq 1200); do
    [ "$(metric "$1" candor_reports_total 'outcome="queued"')" -ge $((reports / 4)) ] && return
    sleep 0.05
  done
  echo "the load did not start" >&2; exit 1
}

load() { # load PORT OUT: spread over about 10 s (faults land mid-load), resending 503s
  $bin load --url "http://127.0.0.1:$1" --signing-key "$dir/data/eu/keys/signing.public.json" --reports "$reports" --rate $((reports / 10)) --batch 100 \
    --connections 8 --retry 100 --timeout 10 --no-progress --json >"$2"
}

stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }

status=0
echo "== $reports reports per scenario, 100-report requests; NATS at $nats_url"

# 1 front + 1 worker; kill -9 the worker mid-load, restart it.
ns=bench$$kill
dir=$work/kill-worker; prefix=bench$$kill; setup "$dir"
serve worker 8761 "$dir" $prefix; worker=$last
serve front 8760 "$dir" $prefix
load 8760 "$dir/load.json" & loader=$!
sending 8760; kill -9 "$worker"; wait "$worker" 2>/dev/null || true
echo "   killed the worker (kill -9) mid-load; restarting it in 2 s"
sleep 2; serve worker 8761 "$dir" $prefix
wait $loader
check kill-worker "$dir" "$dir/load.json" || status=1
echo "              restarted worker: $(metric 8761 candor_queue_redeliveries_total) redelivered, $(metric 8761 candor_reports_total 'outcome="duplicate"') of them already committed (duplicate)"
stop_all; delete_stream "${prefix}_EU"; drop_namespace "$ns"

# 1 front + 1 worker; restart NATS while the front accepts.
ns=bench$$nats
dir=$work/restart-nats; prefix=bench$$nats; setup "$dir"
serve worker 8771 "$dir" $prefix
serve front 8770 "$dir" $prefix
load 8770 "$dir/load.json" & loader=$!
sending 8770
# Down longer than the front's publish timeout (5 s): uploads get 503.
start-stop-daemon --stop --exec /usr/sbin/nats-server >/dev/null; echo "   stopped NATS mid-load; starting it again in 7 s"
sleep 7; nats_start
wait $loader
check restart-nats "$dir" "$dir/load.json" || status=1
echo "              front: $(metric 8770 candor_reports_total 'code="queue_unavailable"') requests answered 503 queue_unavailable; worker: $(metric 8771 candor_queue_redeliveries_total) redelivered"
stop_all; delete_stream "${prefix}_EU"; drop_namespace "$ns"

# 2 fronts + 2 workers on one region, sharing the PostgreSQL store.
store=postgres; ns=bench$$two
dir=$work/two-by-two; prefix=bench$$two; setup "$dir"
serve worker 8781 "$dir" $prefix; worker=$last; serve worker 8782 "$dir" $prefix
serve front 8780 "$dir" $prefix; serve front 8783 "$dir" $prefix
load 8780 "$dir/load-a.json" & a=$!; load 8783 "$dir/load-b.json" & b=$!
sending 8780; kill -9 "$worker"; wait "$worker" 2>/dev/null || true
echo "   killed one of the two workers (kill -9) mid-load; restarting it in 2 s"
sleep 2; serve worker 8781 "$dir" $prefix
wait $a $b
check two-by-two "$dir" "$dir/load-a.json" "$dir/load-b.json" || status=1
echo "              workers: $(( $(metric 8781 candor_queue_redeliveries_total) + $(metric 8782 candor_queue_redeliveries_total) )) redelivered, $(( $(metric 8781 candor_reports_total 'outcome="duplicate"') + $(metric 8782 candor_reports_total 'outcome="duplicate"') )) duplicate"
stop_all; delete_stream "${prefix}_EU"; drop_namespace "$ns"

# 1 front + 1 worker on PostgreSQL; restart PostgreSQL while the front accepts.
ns=bench$$pg
dir=$work/restart-pg; prefix=bench$$pg; setup "$dir"
serve worker 8791 "$dir" $prefix
serve front 8790 "$dir" $prefix
load 8790 "$dir/load.json" & loader=$!
sending 8790
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main stop
echo "   stopped PostgreSQL mid-load; starting it again in 5 s"
sleep 5; pg_start
wait $loader
check restart-pg "$dir" "$dir/load.json" || status=1
echo "              worker: $(metric 8791 candor_queue_naks_total) batches left for redelivery while the store was down, $(metric 8791 candor_queue_redeliveries_total) redelivered"
stop_all; delete_stream "${prefix}_EU"; drop_namespace "$ns"; ns=
exit $status
