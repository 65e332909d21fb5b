#!/usr/bin/env bash
# Runs every benchmark of issue 3 side by side with its peer, on the same
# generated data, in one run, and the whole-evolution benchmark of issue 4
# (no peer), and prints a Markdown table of the results.
#
#   tests/bench/run.sh [--only NAME] [--no-build] [OUT.md]   (default: build/bench/results.md)
#
# NAME: features, forest, importance, backtest, gmm or evolution (a
# comma-separated list runs several); --no-build uses the binaries already in
# $BUILD_DIR (default build) instead of running `make build`.
#
# Installs the peers (Debian's python3-pandas, python3-sklearn,
# python3-xgboost) when missing, builds with `make build`, and uses
# /usr/bin/python3 (Debian's numpy/pandas/sklearn, not a pyenv python).
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

need=()
for p in python3-pandas python3-sklearn python3-xgboost; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "$only" = evolution ]; then need=(); fi  # the only benchmark without a peer
if [ ${#need[@]} -gt 0 ]; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
[ "$build" -eq 0 ] || make build BUILD_DIR="$build_dir" >/dev/null

bin=$build_dir/tests/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"

# value KEY TEXT: the value of key=value in TEXT.
value() { grep -o "$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
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

{
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -m), with \`tests/bench/run.sh\`."
  echo
  echo "| work | libevolve | peer | ratio | target |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out"
