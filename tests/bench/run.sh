#!/usr/bin/env bash
# Runs every benchmark of issue 3 side by side with its peer, on the same
# generated data, in one run, the whole-evolution benchmark of issue 4 (no
# peer), the queue benchmark of issue 5 (evolve-worker, graphile-worker
# and a pgbench baseline on one PostgreSQL) and the REST API load test of
# issue 6 (wrk against `evolve serve` on SQLite and PostgreSQL, no peer),
# the statistical-validity benchmark (how often `evolve run` promotes on
# synthetic series with a known truth, tests/bench/validity/; no peer), the
# bar-file benchmark (1M one-minute bars loaded from DuckDB's Parquet and
# from CSV), and prints a Markdown table of the results.
#
#   tests/bench/run.sh [--only NAME] [--no-build] [OUT.md]   (default: build/bench/results.md)
#
# NAME: features, forest, importance, backtest, gmm, barfiles, evolution, queue, api, validity, remote,
# distributed or many, and long, which runs only when named (50M one-minute bars on both
# stores, tests/bench/long_series.py: 30-40 minutes on 2 cores)
# (a comma-separated list runs several); --no-build uses the binaries already in
# $BUILD_DIR (default build) instead of running `make build`.
#
# Installs the peers (Debian's python3-pandas, python3-sklearn,
# python3-xgboost) when missing, builds with `make build`, and uses
# /usr/bin/python3 (Debian's numpy/pandas/sklearn, not a pyenv python). The
# queue benchmark needs Debian's postgresql-15 (server and pgbench) and
# Node.js with npm, installed when missing; graphile-worker itself is
# installed from npm into a temporary directory outside the repository.
# The API load test needs Debian's wrk, curl and postgresql-15, installed when
# missing; API_SECONDS (default 20) sets the length of each wrk run.
# Timings are best-of-N wall-clock seconds on this machine; both sides run
# back to back so the load on the machine is as similar as it can be.
set -euo pipefail
cd "$(dirname "$0")/../.."
only=all
build=1
out=
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) out=$1; shift ;;
  esac
done
build_dir=${BUILD_DIR:-build}
out=${out:-$build_dir/bench/results.md}
py=/usr/bin/python3
# wanted NAME: whether the benchmark NAME is part of this run.
wanted() { [ "$only" = all ] || [[ ",$only," == *",$1,"* ]]; }
# named NAME: NAME is in --only (a benchmark too long to be part of all).
named() { [[ ",$only," == *",$1,"* ]]; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
need=()
if wanted features || wanted forest || wanted importance || wanted backtest || wanted gmm; then
  for p in python3-pandas python3-sklearn python3-xgboost; do
    installed "$p" || need+=("$p")
  done
fi
if wanted queue; then
  installed postgresql-15 || need+=(postgresql-15)
  # Any Node.js >= 14 with npm will do (graphile-worker 0.17's floor): keep one installed otherwise.
  command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
fi
if wanted barfiles; then
  # DuckDB (@duckdb/node-api, Node >= 18) writes the Parquet file.
  command -v node >/dev/null && command -v npm >/dev/null || need+=(nodejs npm)
fi
if wanted distributed || named long; then
  installed postgresql-15 || need+=(postgresql-15)
fi
if wanted api; then
  installed wrk || need+=(wrk)
  installed curl || need+=(curl)
  installed postgresql-15 || need+=(postgresql-15)
fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ "$build" -eq 0 ] || make build BUILD_DIR="$build_dir" >/dev/null

bin=$build_dir/tests/bench
work=$(mktemp -d)
pg_dir=
serve_pid=
# Stops the API benchmark's `evolve serve` and the PostgreSQL of the queue or
# API benchmark (if one was started), even when a step failed.
cleanup() {
  if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
  if [ -n "$pg_dir" ]; then scripts/test-postgres.sh stop "$pg_dir" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$(dirname "$out")"

# value KEY TEXT: the value of key=value in TEXT.
value() { grep -o "$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
ratio2() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
rows=()

if wanted features; then
  echo "== features: 1M one-minute bars" >&2
  ours=$("$bin/bench_features" "$work/bars.csv")
  peer=$("$py" tests/bench/peers/features_pandas.py "$work/bars.csv")
  a=$(value features_1m_bars_seconds "$ours"); b=$(value pandas_seconds "$peer")
  rows+=("| $(value feature_columns "$ours") indicators on 1M one-minute bars | $a s | pandas $b s | $(ratio "$b" "$a")x faster | >= 8x |")
fi

if wanted forest || wanted importance; then  # importance uses the forest's data and sklearn model
  echo "== random forest: 100k x 30, 100 trees, depth 10, min leaf 5, 2 threads" >&2
  ours=$("$bin/bench_forest" --train "$work/train.csv" --holdout "$work/holdout.csv" --threads 2)
  xgb=$("$py" tests/bench/peers/forest_xgboost.py "$work/train.csv" "$work/holdout.csv" --threads 2)
  skl=$("$py" tests/bench/peers/forest_sklearn.py "$work/train.csv" "$work/holdout.csv" --threads 2 \
          --model-out "$work/sklearn_forest.pkl")
  a=$(value forest_fit_seconds "$ours"); b=$(value xgboost_fit_seconds "$xgb"); c=$(value sklearn_fit_seconds "$skl")
  r2=$(value forest_holdout_r2 "$ours"); r2x=$(value xgboost_holdout_r2 "$xgb"); r2s=$(value sklearn_holdout_r2 "$skl")
  rows+=("| forest fit (holdout R2: ours $r2, xgboost $r2x, sklearn $r2s) | $a s | xgboost $b s, sklearn $c s | $(ratio "$b" "$a")x vs xgboost | faster than xgboost, R2 within 0.002 of sklearn |")
fi

if wanted importance; then
  echo "== permutation importance: 30 features x 5 repeats, 20k holdout" >&2
  ours=$("$bin/bench_importance" --train "$work/train.csv" --holdout "$work/holdout.csv" --threads 2)
  peer=$("$py" tests/bench/peers/importance_sklearn.py "$work/train.csv" "$work/holdout.csv" --threads 2 \
           --model "$work/sklearn_forest.pkl")
  a=$(value importance_seconds "$ours"); b=$(value sklearn_importance_seconds "$peer")
  rows+=("| permutation importance | $a s | sklearn $b s | $(ratio "$b" "$a")x faster | under 0.5 s |")
fi

if wanted backtest; then
  echo "== backtest: 1M bars x 4 thresholds x 3 regime filters" >&2
  ours=$("$bin/bench_backtest" "$work/backtest.bin")
  peer=$("$py" tests/bench/peers/backtest_numpy.py "$work/backtest.bin")
  a=$(value backtest_seconds "$ours"); r=$(value read_inputs_seconds "$ours"); b=$(grep -o "numpy_seconds=[^ ]*" <<<"$peer" | cut -d= -f2)
  rows+=("| backtest grid (reading the inputs once: $r s) | $a s | numpy $b s | $(ratio "$a" "$r")x the read | within 2x of the read |")
fi

if wanted gmm; then
  echo "== GMM: EM on 1M x 2" >&2
  ours=$("$bin/bench_gmm" "$work/gmm.bin")
  peer=$("$py" tests/bench/peers/gmm_sklearn.py "$work/gmm.bin")
  a=$(value gmm_seconds "$ours"); b=$(grep -o "sklearn_seconds=[^ ]*" <<<"$peer" | cut -d= -f2)
  rows+=("| two-state GMM by EM | $a s | sklearn $b s | $(ratio "$b" "$a")x faster | >= 10x |")
fi

if wanted barfiles; then
  # 1M one-minute bars as CSV (WriteBarsCsv) and as the Parquet file DuckDB
  # writes from it (snappy, its default encodings; 7 columns: symbol, ts,
  # OHLC, volume): LoadBarsCsv against reading the file + ReadParquet,
  # medians of 7, interleaved (tests/bench/bench_bar_files.cc). DuckDB comes
  # from npm, installed once into $build_dir/bench/barfiles (never into the
  # repository).
  echo "== barfiles: 1M one-minute bars from Parquet (DuckDB) and from CSV" >&2
  "$bin/bench_bar_files" --write-csv "$work/barfiles.csv" >/dev/null
  duck=$build_dir/bench/barfiles
  mkdir -p "$duck"
  cp tests/bench/barfiles/package.json tests/bench/barfiles/write_parquet.mjs "$duck/"
  [ -d "$duck/node_modules/@duckdb/node-api" ] ||
    npm install --prefix "$duck" --no-audit --no-fund --loglevel=error >/dev/null
  node "$duck/write_parquet.mjs" "$work/barfiles.csv" "$work/barfiles.parquet" >&2
  load=$(cut -d' ' -f1 /proc/loadavg)
  ours=$("$bin/bench_bar_files" --csv "$work/barfiles.csv" --parquet "$work/barfiles.parquet")
  echo "$ours" | grep '^|' >&2
  a=$(value parquet_seconds "$ours"); b=$(value csv_seconds "$ours"); c=$(value convert_seconds "$ours")
  rows+=("| load 1M one-minute bars: read + ReadParquet of DuckDB's snappy file (7 columns; the BarTable -> Bars \
step approximated: $c s more; CPU $(value parquet_cpu_seconds "$ours") s vs $(value csv_cpu_seconds "$ours") s), \
load average $load | $a s | LoadBarsCsv $b s | $(ratio "$b" "$a")x faster | faster than CSV |")
  rm -f "$work/barfiles.csv" "$work/barfiles.parquet"
fi

if wanted evolution; then
  # Issue 4: the wall time of the default demo evolution (`evolve run` with
  # its defaults: TTRC daily bars, 4 generations, the POST /evolve defaults,
  # in-process workers, the SQLite store) and of the same run on 1,000,000
  # generated one-minute bars; then the same two runs in bench_evolution,
  # on an in-memory store with per-phase engine timers. The bars are
  # generated by a separate process, so a run's peak RSS is its own. One run
  # each: a run is long enough that best-of-N would only add minutes.
  evolution_row() {  # evolution_row LABEL OUTPUT
    local o=$2 v
    v() { value "$1" "$o"; }
    rows+=("| $1: features $(v features_seconds) s, fit $(v fit_seconds) s, importance \
$(v importance_seconds) s, simulation $(v simulate_seconds) s (engine time summed over threads), \
CPU $(v cpu_seconds) s, peak RSS $(v peak_rss_mb) MB, $(v generations) generations, \
$(v status) | $(v evolution_seconds) s | none | n/a | reported |")
  }
  evolve_bin=$build_dir/services/orchestrator/evolve
  # evolve_run LABEL ARGS...: one timed `evolve run` on a fresh SQLite file.
  evolve_run() {
    local label=$1 start end secs; shift
    rm -f "$work/bench.db"*
    start=$(date +%s.%N)
    "$evolve_bin" run --db "$work/bench.db" "$@" >"$work/evolve_run.out" 2>"$work/evolve_run.err"
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    rows+=("| \`evolve run\` $label ($(grep -o 'run run_[0-9a-f]* [A-Z]* ([a-z_]*)' "$work/evolve_run.out" | cut -d' ' -f3-), SQLite file $(du -m "$work/bench.db" | cut -f1) MB) | $secs s | none | n/a | reported |")
  }
  echo "== evolution: evolve run, default demo (TTRC daily bars)" >&2
  evolve_run "with its defaults: TTRC, 5,550 daily bars" --data-dir examples/data
  echo "== evolution: evolve run, 1,000,000 one-minute bars" >&2
  "$bin/bench_evolution" --generate-bars 1000000 --out-dir "$work/evolution" --symbol SYN >/dev/null
  evolve_run "on 1,000,000 generated one-minute bars" --data-dir "$work/evolution" --symbol SYN

  run=("$bin/bench_evolution" --generations 4 --threads 2 --workers 2)
  echo "== evolution: default demo (TTRC daily bars)" >&2
  ours=$("${run[@]}" --data-dir examples/data --symbol TTRC --timeframe 1d)
  evolution_row "bench_evolution, the same on an in-memory store, TTRC" "$ours"
  echo "== evolution: 1,000,000 one-minute bars" >&2
  ours=$("${run[@]}" --data-dir "$work/evolution" --symbol SYN --timeframe 1m)
  evolution_row "bench_evolution, the same on an in-memory store, 1,000,000 one-minute bars" "$ours"
fi

if wanted queue; then
  # Issue 5: no-op jobs claimed and completed per second, on one throwaway
  # PostgreSQL 15 (fsync and synchronous_commit on), each side on a fresh
  # database of it, back to back. Every side's jobs are added untimed, and
  # every side's time excludes the start-up of its worker processes (timed
  # on an empty queue and subtracted, as graphile-worker's own perfTest does).
  # Best of 3 rounds, the sides interleaved, each round verified: one run
  # is 1-3 s, short enough for another session's compile to swing it.
  # The settings are the best of those tried on 2 cores (docs/benchmarks.md).
  queue_jobs=100000
  queue_rounds=3
  ours_args=(--processes 2 --concurrency 1 --per-claim 2000)
  graphile_args=(--processes 2 --concurrency 24)
  pgbench_clients=2
  # qvalue KEY TEXT: the value of the line KEY=value of TEXT (the queue programs print one per line).
  qvalue() { grep -m1 "^$1=" <<<"$2" | cut -d= -f2-; }
  # better A B: whether rate A beats rate B (B empty: no result yet).
  better() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }
  echo "== queue: $queue_jobs no-op jobs: evolve-worker, graphile-worker, bare SKIP LOCKED claims" >&2
  # The rates depend on what else runs: the table says how busy the machine was.
  load=$(cut -d' ' -f1 /proc/loadavg)
  if [ ! -x "$bin/bench_queue" ]; then
    echo "run.sh: no $bin/bench_queue (it is built only with the PostgreSQL store)" >&2
    exit 1
  fi
  pg_dir=$work/pg
  scripts/test-postgres.sh start "$pg_dir"
  pg_url=$(cat "$pg_dir/url")
  sync=$(psql "$pg_url" -Atc 'SHOW synchronous_commit')
  [ "$sync" = on ] || { echo "run.sh: synchronous_commit is $sync, want on" >&2; exit 1; }

  # graphile-worker from npm, into $work: never a node_modules in the repository.
  mkdir -p "$work/graphile"
  cp -r tests/bench/queue/graphile/. "$work/graphile/"
  npm install --prefix "$work/graphile" --no-audit --no-fund --loglevel=error >/dev/null

  # The bare claim: libevolve's priority_jobs (every migration of sql/postgres/) with the same number of
  # PENDING rows, claimed 10 at a time; 90% of them, so that no client finds the queue empty.
  pg_db=${pg_url%/*}/evolve_bench_pgbench
  per_client=$((queue_jobs * 9 / 10 / 10 / pgbench_clients))
  bare_claims() {
    psql -q -v ON_ERROR_STOP=1 "$pg_url" -c "SET client_min_messages = warning" \
      -c "DROP DATABASE IF EXISTS evolve_bench_pgbench WITH (FORCE)" -c "CREATE DATABASE evolve_bench_pgbench"
    for migration in sql/postgres/*.sql; do psql -q -v ON_ERROR_STOP=1 "$pg_db" -f "$migration"; done
    psql -q -v ON_ERROR_STOP=1 -v jobs="$queue_jobs" "$pg_db" -f tests/bench/queue/pgbench_setup.sql
    local out tps claimed twice
    out=$(pgbench -n -f tests/bench/queue/pgbench_claim.sql -D claim=10 -c "$pgbench_clients" \
            -j "$pgbench_clients" -t "$per_client" "$pg_db")
    tps=$(grep -o 'tps = [0-9.]*' <<<"$out" | head -1 | cut -d' ' -f3)
    # Every transaction claimed 10 rows, and no row was claimed twice.
    claimed=$(psql -Atc "SELECT count(*) FROM priority_jobs WHERE status = 'RUNNING' AND attempts = 1" \
                "$pg_db")
    twice=$(psql -Atc "SELECT count(*) FROM priority_jobs WHERE attempts > 1" "$pg_db")
    if [ "$claimed" -ne $((per_client * pgbench_clients * 10)) ] || [ "$twice" -ne 0 ]; then
      echo "run.sh: pgbench claimed $claimed rows once and $twice more than once" >&2
      return 1
    fi
    echo "claim_rows_per_second=$(awk -v t="$tps" 'BEGIN { printf "%.0f", 10 * t }')"
    echo "claimed=$claimed"
  }

  ours='' peer='' bare=''
  for round in $(seq 1 "$queue_rounds"); do
    echo "   round $round of $queue_rounds" >&2
    # Both exit non-zero when their check fails; the check here says why.
    o=$("$bin/bench_queue" --url "$pg_url" --jobs "$queue_jobs" "${ours_args[@]}") || true
    [ "$(qvalue verified "$o")" = yes ] || { echo "run.sh: bench_queue did not verify: $o" >&2; exit 1; }
    better "$(qvalue jobs_per_second "$o")" "$(qvalue jobs_per_second "$ours")" && ours=$o
    o=$(node "$work/graphile/bench_graphile.js" --url "$pg_url" --jobs "$queue_jobs" \
          "${graphile_args[@]}") || true
    [ "$(qvalue graphile_verified "$o")" = yes ] || { echo "run.sh: graphile-worker: $o" >&2; exit 1; }
    better "$(qvalue graphile_jobs_per_second "$o")" "$(qvalue graphile_jobs_per_second "$peer")" && peer=$o
    o=$(bare_claims)
    better "$(qvalue claim_rows_per_second "$o")" "$(qvalue claim_rows_per_second "$bare")" && bare=$o
  done

  a=$(qvalue jobs_per_second "$ours"); b=$(qvalue graphile_jobs_per_second "$peer")
  c=$(qvalue claim_rows_per_second "$bare")
  rows+=("| no-op jobs claimed and completed per second, $queue_jobs jobs, best of $queue_rounds, \
PostgreSQL 15 (synchronous_commit on; load average $load before): evolve-worker \
$(qvalue processes "$ours") processes x $(qvalue concurrency "$ours") threads x $(qvalue per_claim "$ours") \
jobs per claim (lost $(qvalue lost "$ours"), doubled $(qvalue doubled "$ours"), verified \
$(qvalue verified "$ours")); graphile-worker \
$(qvalue graphile_version "$peer") $(qvalue graphile_processes "$peer") processes x \
$(qvalue graphile_concurrency "$peer") jobs, localQueue.size 500, completeJobBatchDelay 0 (left \
$(qvalue graphile_left "$peer"), task runs $(qvalue graphile_task_runs "$peer")) | $a jobs/s \
| graphile-worker $b jobs/s | $(ratio2 "$a" "$b")x | >= 1.2x graphile-worker |")
  rows+=("| bare SKIP LOCKED claim of 10 rows of priority_jobs (pgbench, $pgbench_clients clients, \
claim only, $(qvalue claimed "$bare") rows claimed once) | evolve-worker (claim + complete) $a jobs/s \
| pgbench $c rows/s | $(ratio2 "$a" "$c")x | baseline |")
  scripts/test-postgres.sh stop "$pg_dir"
  pg_dir=
fi

if wanted api; then
  # Issue 6: requests per second and latency of GET /api/stats and GET /runs
  # (and a deep page of /runs) of `evolve serve` over a store of 1,000 runs,
  # on a SQLite file and on PostgreSQL 15, with wrk. bench_api_seed fills
  # each store through the Store API (runs of every status, their
  # generations, jobs, lineage and promotions); the service runs with no
  # in-process workers (--workers 0), as with remote workers. wrk shares the
  # machine's cores with the service (and PostgreSQL): -t2 -c16 keeps 16
  # requests in flight for the service's 8 HTTP threads. Each endpoint gets
  # a 2 s warm-up, then API_SECONDS (default 20) measured. Fails unless every
  # response was a 2xx and wrk saw no socket error; the service's own
  # /metrics must agree (no status but 200 on those routes).
  # A failed command says where (set -e alone would end the run silently).
  set -E
  trap 'echo "run.sh: line $LINENO: a command failed (exit $?)" >&2' ERR
  api_seconds=${API_SECONDS:-20}
  wrk_args=(-t2 -c16 --latency)
  api_paths=(/api/stats /runs '/runs?limit=50&offset=500')
  evolve_bin=$build_dir/services/orchestrator/evolve
  [ -x "$bin/bench_api_seed" ] || { echo "run.sh: no $bin/bench_api_seed" >&2; exit 1; }
  # wrk_field KEY TEXT: the value after KEY in wrk's output (e.g. 99% of the latency distribution).
  wrk_field() { awk -v key="$1" '$1 == key { print $2; exit }' <<<"$2"; }
  # ms VALUE: a wrk latency (e.g. 812.00us, 4.21ms, 1.02s) in milliseconds.
  ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
                                  else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'; }
  # api_failed: ends the run after a failed check, with the service's log.
  api_failed() {
    echo "run.sh: evolve serve's log (tail):" >&2
    tail -20 "$work/serve.err" >&2
    exit 1
  }
  # api_store KIND: seeds with seed_args, serves with serve_args (both set by the caller), loads each path.
  api_store() {
    local kind=$1 seed_out load path url out reqs rps p50 p99 non2xx sockerr bad overflows
    echo "== api: seeding 1,000 runs ($kind)" >&2
    seed_out=$("$bin/bench_api_seed" "${seed_args[@]}")
    echo "   $(tr '\n' ' ' <<<"$seed_out")" >&2
    if declare -F api_after_seed >/dev/null; then api_after_seed; fi
    "$evolve_bin" serve --port 0 --workers 0 "${serve_args[@]}" >"$work/serve.out" 2>"$work/serve.err" &
    serve_pid=$!
    for _ in $(seq 1 300); do
      grep -q 'listening on' "$work/serve.out" 2>/dev/null && break
      kill -0 "$serve_pid" 2>/dev/null || { echo "run.sh: evolve serve exited: $(cat "$work/serve.err")" >&2; exit 1; }
      sleep 0.1
    done
    url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/serve.out" | head -1)
    [ -n "$url" ] || { echo "run.sh: evolve serve did not start" >&2; exit 1; }
    for path in "${api_paths[@]}"; do
      curl -sf -o /dev/null "$url$path" || { echo "run.sh: GET $path failed" >&2; api_failed; }
      wrk "${wrk_args[@]}" -d2s "$url$path" >"$work/wrk.out" 2>&1 ||
        { echo "run.sh: wrk (warm-up) failed: $(cat "$work/wrk.out")" >&2; api_failed; }
      load=$(cut -d' ' -f1 /proc/loadavg)
      echo "== api: wrk ${wrk_args[*]} -d${api_seconds}s GET $path ($kind; load average $load)" >&2
      # Listen-queue overflows of the whole host during the run (the service's
      # HTTP library listens with a backlog of 5): nstat, when there is one.
      nstat -n 2>/dev/null || true
      out=$(wrk "${wrk_args[@]}" -d"${api_seconds}s" "$url$path" 2>&1) ||
        { echo "run.sh: wrk failed: $out" >&2; api_failed; }
      overflows=$( (nstat -z TcpExtListenOverflows 2>/dev/null || true) | awk '$1 == "TcpExtListenOverflows" { print $2 }')
      reqs=$(awk '/ requests in / { print $1; exit }' <<<"$out")
      rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
      p50=$(ms "$(wrk_field 50% "$out")"); p99=$(ms "$(wrk_field 99% "$out")")
      non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out"); non2xx=${non2xx:-0}
      sockerr=$(grep -o 'Socket errors:.*' <<<"$out" || true)
      echo "   $reqs requests, $rps req/s, p50 $p50 ms, p99 $p99 ms, non-2xx $non2xx${sockerr:+, $sockerr}, listen overflows ${overflows:-n/a}" >&2
      if [ "$non2xx" != 0 ] || [ -n "$sockerr" ]; then
        echo "run.sh: GET $path on $kind: errors: non-2xx $non2xx, ${sockerr:-no socket errors}" >&2
        echo "$out" >&2
        api_failed
      fi
      rows+=("| REST API GET $path, $kind store of 1,000 runs ($(value jobs "$(tr '\n' ' ' <<<"$seed_out")") jobs), \
wrk ${wrk_args[*]} ${api_seconds} s, evolve serve --workers 0 (load average $load before): $reqs requests, \
p50 $p50 ms, p99 $p99 ms, errors 0, listen-queue overflows ${overflows:-n/a} | $rps req/s | none | n/a | reported |")
    done
    # The service's count agrees: every request on these routes answered 200.
    bad=$(curl -sf "$url/metrics" | grep '^evolve_http_requests_total' | grep -v 'status="200"' || true)
    if [ -n "$bad" ]; then echo "run.sh: evolve serve answered errors: $bad" >&2; api_failed; fi
    kill -TERM "$serve_pid"
    wait "$serve_pid" || { echo "run.sh: evolve serve did not stop cleanly: $(tail -5 "$work/serve.err")" >&2; exit 1; }
    serve_pid=
  }

  rm -f "$work/api.db"*
  seed_args=(--db "$work/api.db"); serve_args=(--db "$work/api.db")
  api_store SQLite

  pg_dir=$work/pg_api
  scripts/test-postgres.sh start "$pg_dir"
  pg_url=$(cat "$pg_dir/url")
  psql -q -v ON_ERROR_STOP=1 "$pg_url" -c "SET client_min_messages = warning" \
    -c "DROP DATABASE IF EXISTS evolve_bench_api WITH (FORCE)" -c "CREATE DATABASE evolve_bench_api"
  api_url=${pg_url%/*}/evolve_bench_api
  seed_args=(--store "$api_url"); serve_args=(--store "$api_url")
  # Seeding moves ~15,000 jobs through job_queue in seconds, leaving as many
  # dead rows there, and nothing is analyzed yet; a store that grew to 1,000
  # runs has been vacuumed by autovacuum many times, so vacuum it once
  # (untimed) before the load. Without it /api/stats is 2-3x slower
  # (docs/benchmarks.md).
  api_after_seed() { psql -q -v ON_ERROR_STOP=1 "$api_url" -c "VACUUM ANALYZE"; }
  api_store PostgreSQL
  scripts/test-postgres.sh stop "$pg_dir"
  pg_dir=
fi

if wanted validity; then
  # Statistical validity: one `evolve run` (the Holy Grail grid of
  # tests/bench/validity/validity.py) on each of 280 generated series with a
  # known truth (100 noise, 30 drift, 50 each of AR(1) phi 0.10, 0.20, 0.45;
  # fixed seeds), and how often it PROMOTES: on noise and drift a promotion is
  # a false positive, on AR(1) a true one. Twice: 4,000 and 5,000 daily bars,
  # because the power of the one look at the holdout (20% of the bars) grows
  # with its length (docs/validity.md). The full tables (Wilson 95% intervals,
  # failed runs, mean SQN) go to $build_dir/bench/validity-BARS.md, the raw run
  # documents to $build_dir/bench/validity-BARS/results.jsonl. Rates are
  # reported, not judged.
  for bars in 4000 5000; do
    echo "== validity: evolve run on 280 synthetic series of $bars bars (noise, drift, AR(1))" >&2
    "$py" tests/bench/validity/validity.py --evolve "$build_dir/services/orchestrator/evolve" --bars "$bars" \
      --out-dir "$build_dir/bench/validity-$bars" --out "$build_dir/bench/validity-$bars.md" --summary \
      >"$work/validity.out"
    while read -r line; do
      v() { value "$1" "$line"; }
      rows+=("| \`evolve run\` promotion rate on $(v series) synthetic $(v kind) series of $bars daily bars \
(a promotion is a $(case $(v kind) in noise|drift) echo false ;; *) echo true ;; esac) positive; \
$build_dir/bench/validity-$bars.md) | $(v promoted) of $(v finished) promoted, $(v rate) (95% $(v lo) - $(v hi)), \
$(v failed) failed | none | n/a | reported |")
    done < <(grep '^validity kind=' "$work/validity.out")
  done
fi

if wanted remote; then
  # Issue 18: a 3-generation run of `evolve serve` with one remote
  # `evolve-worker --orchestrator` (long-poll claims) against the same run
  # with an in-process worker; medians of 3 each (tests/bench/remote_worker.sh).
  echo "== remote: evolve serve + evolve-worker --orchestrator vs in-process workers" >&2
  o=$(tests/bench/remote_worker.sh "$build_dir" | grep '^remote_worker ')
  rows+=("| 3-generation run, one \`evolve-worker --orchestrator\` vs one in-process worker (median of 3; \
load $(value load_before "$o") before) | $(value remote_s "$o") s | in-process $(value in_process_s "$o") s | \
$(value ratio "$o") | <= 1.5 |")
fi

if wanted distributed; then
  # Issue 19: one 1M-bar run on PostgreSQL, the stepping process plus 2
  # evolve-worker processes training and simulating, against the same run
  # with in-process workers (tests/bench/distributed_training.py).
  echo "== distributed: 1M-bar run, training on 2 evolve-worker processes vs in-process" >&2
  o=$(/usr/bin/python3 tests/bench/distributed_training.py --build "$build_dir" --runs 1 \
        --setups before,distributed,in-process | grep '^distributed / in-process')
  wall=$(grep -o 'wall: [0-9.]*x' <<<"$o" | grep -o '[0-9.]*')
  share=$(grep -o 'share [0-9.]*%' <<<"$o" | grep -o '[0-9.]*')
  rows+=("| 1M-bar run on PostgreSQL, training and simulating on 2 \`evolve-worker\` (wall vs in-process; \
stepping process's share of the CPU ${share}%, target < 10%) | distributed | in-process | ${wall}x | <= 1.2x |")
fi

if wanted many; then
  # Issue 19: 20 symbols x 200k bars through one `evolve serve`
  # (tests/bench/serve_many_symbols.py): the first and the last run to end.
  echo "== many: 20 symbols x 200,000 bars through evolve serve" >&2
  o=$(/usr/bin/python3 tests/bench/serve_many_symbols.py --build "$build_dir" | grep '^serve_many_symbols ')
  rows+=("| 20 symbols x 200,000 bars through \`evolve serve\`: first / last run finished | \
$(value first_finished_s "$o") s / $(value last_finished_s "$o") s | none | n/a | reported |")
fi

if named long; then
  # Issue 19: 50M one-minute bars of one symbol run to the end on both stores
  # (tests/bench/long_series.py; its full output has every process's peak RSS).
  echo "== long: 50M one-minute bars, one generation, SQLite then PostgreSQL" >&2
  o=$(/usr/bin/python3 tests/bench/long_series.py --build "$build_dir" 2>&1 | grep '^long_series store=')
  s=$(grep 'store=sqlite' <<<"$o")
  p=$(grep 'store=postgresql' <<<"$o")
  rows+=("| 50M one-minute bars, one generation: SQLite / PostgreSQL (2 evolve-worker) | \
$(value status "$s") in $(value wall_s "$s") s, store $(value store_gb "$s") GB / \
$(value status "$p") in $(value wall_s "$p") s, store $(value store_gb "$p") GB | none | n/a | runs to the end on both |")
fi

{
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -m), with \`tests/bench/run.sh\`."
  echo
  echo "| work | libevolve | peer | ratio | target |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out"
