#!/usr/bin/env bash
# Remote vs in-process workers (issue 18, item 6): the wall time of one
# 3-generation run of `evolve serve` (POST /evolve until the run ends) with
#   in-process: evolve serve --workers 1
#   remote:     evolve serve --workers 0 + one `evolve-worker --orchestrator URL`
# Same store kind (a fresh SQLite file each time), same bundled data, same
# run config. Each mode runs RUNS times (default 3), alternating, and the
# medians are compared: the remote run must take no longer than 1.5x the
# in-process one. Not a test: it prints one line per run and a summary line
#   remote_worker in_process_s=X remote_s=Y ratio=R load_before=... load_after=...
#
#   tests/bench/remote_worker.sh [BUILD_DIR]   (default: build; RUNS=3 GENERATIONS=3)
set -euo pipefail
cd "$(dirname "$0")/../.."
build_dir=${1:-${BUILD_DIR:-build}}
runs=${RUNS:-3}
generations=${GENERATIONS:-3}
evolve=$build_dir/services/orchestrator/evolve
worker=$build_dir/services/worker/evolve-worker
for bin in "$evolve" "$worker"; do
  [ -x "$bin" ] || { echo "remote_worker.sh: $bin not built (make build)" >&2; exit 1; }
done
work=$(mktemp -d /tmp/evolve-remote-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
config='{"symbol": "TTRC", "max_generations": '"$generations"', "sqn_min": 1000, "sqn_max": 2000,
         "profit_factor_min": 0, "trade_count_min": 1, "weekly_consistency_max": 1000000}'

# run_once MODE: seconds from POST /evolve to the run's end, on stdout.
run_once() {
  local mode=$1 port db log
  port=$(free_port)
  db=$work/$mode-$RANDOM.db
  log=$work/$mode.log
  local serve_workers=1
  [ "$mode" = remote ] && serve_workers=0
  "$evolve" serve --port "$port" --db "$db" --workers "$serve_workers" >>"$log" 2>&1 &
  local serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
  local worker_pid=
  if [ "$mode" = remote ]; then
    "$worker" --orchestrator "http://127.0.0.1:$port" --max-jobs-per-claim 16 >>"$log" 2>&1 &
    worker_pid=$!
    pids+=("$worker_pid")
    # Registered and waiting in its first claim before the run starts.
    for _ in $(seq 100); do
      curl -sf "http://127.0.0.1:$port/workers" | grep -q '"count":1' && break
      sleep 0.1
    done
  fi
  local start end run_id status
  start=$(date +%s.%N)
  run_id=$(curl -sf -X POST "http://127.0.0.1:$port/evolve" -H 'Content-Type: application/json' -d "$config" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["run_id"])')
  while true; do
    status=$(curl -sf "http://127.0.0.1:$port/runs/$run_id" |
      python3 -c 'import json, sys; d = json.load(sys.stdin); print((d.get("run") or d)["status"])')
    case $status in PENDING | RUNNING) sleep 0.02 ;; *) break ;; esac
  done
  end=$(date +%s.%N)
  [ -n "$worker_pid" ] && kill "$worker_pid" 2>/dev/null
  kill "$serve_pid" 2>/dev/null
  wait "$serve_pid" 2>/dev/null || true
  [ -n "$worker_pid" ] && { wait "$worker_pid" 2>/dev/null || true; }
  echo "remote_worker run mode=$mode status=$status seconds=$(python3 -c "print(round($end - $start, 3))")" >&2
  python3 -c "print($end - $start)"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
in_process=()
remote=()
for _ in $(seq "$runs"); do
  in_process+=("$(run_once in_process)")
  remote+=("$(run_once remote)")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$load_before" "$load_after" "${in_process[*]}" "${remote[*]}" <<'EOF'
import statistics, sys
before, after, a, b = sys.argv[1:]
a = [float(x) for x in a.split()]
b = [float(x) for x in b.split()]
ma, mb = statistics.median(a), statistics.median(b)
print("remote_worker in_process_s=%.3f remote_s=%.3f ratio=%.2f runs=%d in_process_all=%s remote_all=%s "
      "load_before=%s load_after=%s" % (ma, mb, mb / ma, len(a), ",".join("%.2f" % x for x in a),
                                       ",".join("%.2f" % x for x in b), before.replace(" ", "/"),
                                       after.replace(" ", "/")))
EOF
