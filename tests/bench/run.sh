#!/usr/bin/env bash
# Runs every benchmark of issue 3 side by side with its peer, on the same
# generated data, in one run, and prints a Markdown table of the results.
#
#   tests/bench/run.sh [OUT.md]      (default: build/bench/results.md)
#
# Installs the peers (Debian's python3-pandas, python3-sklearn,
# python3-xgboost) when missing, builds with `make build`, and uses
# /usr/bin/python3 (Debian's numpy/pandas/sklearn, not a pyenv python).
# Timings are best-of-N wall-clock seconds on this machine; both sides run
# back to back so the load on the machine is as similar as it can be.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-build/bench/results.md}
py=/usr/bin/python3

need=()
for p in python3-pandas python3-sklearn python3-xgboost; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=(); [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
make build >/dev/null

bin=build/tests/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"

# value KEY TEXT: the value of key=value in TEXT.
value() { grep -o "$1=[^ ]*" <<<"$2" | head -1 | cut -d= -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
rows=()

echo "== features: 1M one-minute bars" >&2
ours=$("$bin/bench_features" "$work/bars.csv")
peer=$("$py" tests/bench/peers/features_pandas.py "$work/bars.csv")
a=$(value features_1m_bars_seconds "$ours"); b=$(value pandas_seconds "$peer")
rows+=("| $(value feature_columns "$ours") indicators on 1M one-minute bars | $a s | pandas $b s | $(ratio "$b" "$a")x faster | >= 8x |")

echo "== random forest: 100k x 30, 100 trees, depth 10, min leaf 5, 2 threads" >&2
ours=$("$bin/bench_forest" --train "$work/train.csv" --holdout "$work/holdout.csv" --threads 2)
xgb=$("$py" tests/bench/peers/forest_xgboost.py "$work/train.csv" "$work/holdout.csv" --threads 2)
skl=$("$py" tests/bench/peers/forest_sklearn.py "$work/train.csv" "$work/holdout.csv" --threads 2 \
        --model-out "$work/sklearn_forest.pkl")
a=$(value forest_fit_seconds "$ours"); b=$(value xgboost_fit_seconds "$xgb"); c=$(value sklearn_fit_seconds "$skl")
r2=$(value forest_holdout_r2 "$ours"); r2x=$(value xgboost_holdout_r2 "$xgb"); r2s=$(value sklearn_holdout_r2 "$skl")
rows+=("| forest fit (holdout R2: ours $r2, xgboost $r2x, sklearn $r2s) | $a s | xgboost $b s, sklearn $c s | $(ratio "$b" "$a")x vs xgboost | faster than xgboost, R2 within 0.002 of sklearn |")

echo "== permutation importance: 30 features x 5 repeats, 20k holdout" >&2
ours=$("$bin/bench_importance" --train "$work/train.csv" --holdout "$work/holdout.csv" --threads 2)
peer=$("$py" tests/bench/peers/importance_sklearn.py "$work/train.csv" "$work/holdout.csv" --threads 2 \
         --model "$work/sklearn_forest.pkl")
a=$(value importance_seconds "$ours"); b=$(value sklearn_importance_seconds "$peer")
rows+=("| permutation importance | $a s | sklearn $b s | $(ratio "$b" "$a")x faster | under 0.5 s |")

echo "== backtest: 1M bars x 4 thresholds x 3 regime filters" >&2
ours=$("$bin/bench_backtest" "$work/backtest.bin")
peer=$("$py" tests/bench/peers/backtest_numpy.py "$work/backtest.bin")
a=$(value backtest_seconds "$ours"); r=$(value read_inputs_seconds "$ours"); b=$(grep -o "numpy_seconds=[^ ]*" <<<"$peer" | cut -d= -f2)
rows+=("| backtest grid (reading the inputs once: $r s) | $a s | numpy $b s | $(ratio "$a" "$r")x the read | within 2x of the read |")

echo "== GMM: EM on 1M x 2" >&2
ours=$("$bin/bench_gmm" "$work/gmm.bin")
peer=$("$py" tests/bench/peers/gmm_sklearn.py "$work/gmm.bin")
a=$(value gmm_seconds "$ours"); b=$(grep -o "sklearn_seconds=[^ ]*" <<<"$peer" | cut -d= -f2)
rows+=("| two-state GMM by EM | $a s | sklearn $b s | $(ratio "$b" "$a")x faster | >= 10x |")

{
  echo "Measured $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -m), with \`tests/bench/run.sh\`."
  echo
  echo "| work | libevolve | peer | ratio | target |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$out"
