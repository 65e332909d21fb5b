#!/usr/bin/env bash
# The seed README's "Manual Start" topology on one machine, with no Python:
# a throwaway PostgreSQL, evolve-engines (the feature 8100, training 8200
# and simulation 8300 services of the original contract), `evolve serve`
# with POSTGRES_URL, FEATURE_URL, TRAINING_URL and SIMULATION_URL set and no
# in-process workers, and two evolve-worker processes with distinct
# WORKER_IDs. Posts the seed's POST /evolve body (symbol TTRC, the bundled
# data), waits for the run, checks the run, lineage, generations and
# promoted endpoints and that both workers completed jobs, and tears
# everything down (also on failure). Free ports throughout.
#
#   scripts/seed-topology.sh [BUILD_DIR]     (default: build; `make` builds it)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD_DIR:-$root/build}}
evolve=$build/services/orchestrator/evolve
worker=$build/services/worker/evolve-worker
engines=$build/services/engines/evolve-engines
for bin in "$evolve" "$worker" "$engines"; do
  [ -x "$bin" ] || { echo "seed-topology: $bin is not built (make, or pass the build directory)" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  "$root/scripts/test-postgres.sh" stop "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "seed-topology: FAILED: $*" >&2
  for log in "$work"/*.err; do echo "--- $log" >&2; tail -5 "$log" >&2; done
  exit 1
}
# wait_line FILE PATTERN: until FILE has a line matching PATTERN (60 s).
wait_line() {
  for _ in $(seq 1 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  fail "no '$2' in $1"
}

echo "== PostgreSQL"
"$root/scripts/test-postgres.sh" start "$work/pg" >/dev/null
export POSTGRES_URL=$(cat "$work/pg/url")

echo "== evolve-engines (features, training, simulation)"
"$engines" --feature-port 0 --training-port 0 --simulation-port 0 --store "$POSTGRES_URL" \
  >"$work/engines.out" 2>"$work/engines.err" &
pids+=($!)
wait_line "$work/engines.out" 'simulation http'
url_of() { grep -o "$1 http://[0-9.]*:[0-9]*" "$work/engines.out" | cut -d' ' -f2; }
export FEATURE_URL=$(url_of features) TRAINING_URL=$(url_of training) SIMULATION_URL=$(url_of simulation)
echo "   FEATURE_URL=$FEATURE_URL TRAINING_URL=$TRAINING_URL SIMULATION_URL=$SIMULATION_URL"

echo "== evolve serve --workers 0"
"$evolve" serve --port 0 --workers 0 --poll-interval 0.2 >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
wait_line "$work/serve.out" 'listening on'
api=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.out" | head -1)
echo "   $api"

echo "== two evolve-workers"
for id in worker_1 worker_2; do
  WORKER_ID=$id POLL_INTERVAL=0.2 "$worker" --max-jobs-per-claim 1 >"$work/$id.out" 2>"$work/$id.err" &
  pids+=($!)
done

echo "== POST /evolve (the seed's body, symbol TTRC)"
reply=$(curl -sf -X POST "$api/evolve" -d '{
  "symbol": "TTRC",
  "algorithm": "RandomForest",
  "target_col": "close",
  "target_transform": "log_return",
  "max_generations": 4,
  "timeframe": "1m",
  "data_options": "{\"train_window\": 30, \"test_window\": 5}",
  "seed_features": ["sma_20", "rsi_14", "macd_line"],
  "thresholds": [0.0001, 0.0003, 0.0005],
  "regime_configs": [{"regime_gmm": [1]}, {"regime_vix": [2, 3]}],
  "sqn_min": 3.0, "sqn_max": 5.0, "profit_factor_min": 2.0, "profit_factor_max": 4.0,
  "trade_count_min": 200, "trade_count_max": 10000
}') || fail "POST /evolve"
run_id=$(grep -o '"run_id":"[^"]*"' <<<"$reply" | cut -d'"' -f4)
echo "   $run_id"

status=
for _ in $(seq 1 3000); do
  status=$(curl -sf "$api/runs/$run_id" | grep -o '"status":"[A-Z]*"' | head -1 | cut -d'"' -f4) || true
  case $status in PENDING|RUNNING|"") sleep 0.2 ;; *) break ;; esac
done
echo "   run $status"
case $status in COMPLETED|PROMOTED) ;; *) fail "the run ended $status" ;; esac

run=$(curl -sf "$api/runs/$run_id")
grep -q '"lineage":\[{' <<<"$run" || fail "no lineage"
grep -q '"failed":0' <<<"$run" || fail "failed jobs: $(grep -o '"jobs":{[^}]*}' <<<"$run")"
curl -sf "$api/runs/$run_id/generations" | grep -q '"generation":0' || fail "no generations"
curl -sf "$api/promoted" | grep -q '"promoted":\[' || fail "GET /promoted"
model=$(grep -o '"model_id":"[^"]*"' <<<"$run" | head -1 | cut -d'"' -f4)
curl -sf "$api/models/$model/lineage" | grep -q '"ancestry":\[{' || fail "no ancestry of $model"
workers=$(curl -sf "$api/workers")
for id in worker_1 worker_2; do
  done_jobs=$(grep -o "\"id\":\"$id\"[^}]*\"jobs_completed\":[0-9]*" <<<"$workers" | grep -o '[0-9]*$')
  echo "   $id completed ${done_jobs:-0} jobs"
  [ "${done_jobs:-0}" -gt 0 ] || fail "$id completed no job"
done
echo "seed-topology: OK"
