#!/usr/bin/python3
"""Statistical-validity benchmark: how often does `evolve run` PROMOTE a model
on synthetic series whose truth is known?

What it measures
----------------
For every series of every kind below, one `evolve run` (fresh SQLite file,
built-in engines, the run options of RUN_ARGS plus any extra arguments given
after `--`), and whether its final status is PROMOTED. The kinds
(gen_series.py, next to this file, has the exact generator):

  kind     truth                                          a promotion is
  noise    r_t ~ N(0, 1%): no edge                        a false positive
  drift    r_t ~ N(0.06%, 1%): buy and hold wins           a false positive (no timing skill; the
           (~16%/yr), no timing skill                      drift alone can make a long-only rule look good)
  ar1_10   AR(1), phi 0.10: small real edge               a true positive (power)
  ar1_20   AR(1), phi 0.20: real edge                     a true positive (power)
  ar1_45   AR(1), phi 0.45: large real edge               a true positive (power)

The table gives, per kind: series run, promoted, the promotion rate over the
runs that finished (PROMOTED or COMPLETED; FAILED runs are excluded from the
denominator so that failures cannot make a false-positive rate look lower, and
are reported in their own column), its 95% Wilson score interval (E. B.
Wilson, "Probable inference, the law of succession, and statistical
inference", JASA 22 (1927) 209-212), the mean best SQN of the promoted runs,
and how many promoted backtests beat buy and hold over their own span. Nothing is judged: the rates are reported as measured; the exit status
is non-zero only on a real error (the binary missing, bad arguments that make
`evolve run` reject every series, a generator failure).

Seeds: series i (1-based) of a kind has seed base_seed * 10^6 + kind_index *
10^4 + i (gen_series.series_seed; base seed 20240601 unless --base-seed), so
the same arguments generate byte-identical bars. `evolve run` itself is
deterministic (its random forest and permutation importance use the fixed
default seed 1). Default length 4000 daily bars (~16 years, like the 5,550
bars of the bundled TTRC): with the default walk-forward windows (train 1000,
test 250) that leaves ~2,750 out-of-sample bars in ~11 folds, enough for the
100-trade minimum of the criteria below at every threshold, and short enough
for ~0.5-2 s per run.

Outputs, under --out-dir (default build/bench/validity): data/ (the CSVs),
results.jsonl (one line per run: kind, symbol, seed, status, stop_reason,
best_sqn, error, every field whose name contains "holdout" anywhere in the run
document, and the raw `evolve show RUN_ID --json` document under "show", so
later analysis can read fields this script does not know), logs/ (each run's
stdout and stderr) and validity.md; the table also goes to --out (default
build/bench/validity.md) and stdout.

usage:
  tests/bench/validity/validity.py [--evolve PATH] [--counts noise=100,drift=30,...]
      [--bars 4000] [--out-dir DIR] [--out FILE.md] [--jobs 1|2] [--base-seed N]
      [--label TEXT] [--keep-dbs] [--summary] [-- EXTRA evolve run ARGS...]

  e.g. tests/bench/validity/validity.py --evolve /tmp/evolve-before --out-dir /tmp/validity-before/default
       tests/bench/validity/validity.py --evolve /tmp/evolve-before --out-dir /tmp/validity-before/w500 \\
           -- --data-options '{"train_window": 500, "test_window": 250}'

--evolve defaults to $EVOLVE, else build/services/orchestrator/evolve. Only the
Python standard library is used; nothing touches the network.
"""
import argparse
import concurrent.futures
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import gen_series  # noqa: E402

KIND_ORDER = ["noise", "drift", "ar1_10", "ar1_20", "ar1_45"]
DEFAULT_COUNTS = {"noise": 100, "drift": 30, "ar1_10": 50, "ar1_20": 50, "ar1_45": 50}
TRUTH = {
    "noise": "no edge: promotion = false positive",
    "drift": "buy and hold wins, no timing skill: promotion = false positive",
    "ar1_10": "AR(1) phi 0.10: promotion = true positive",
    "ar1_20": "AR(1) phi 0.20: promotion = true positive",
    "ar1_45": "AR(1) phi 0.45: promotion = true positive",
}
REGIMES = ('[{}, {"regime_gmm": [0]}, {"regime_gmm": [1]}, '
           '{"regime_vix": [0, 1]}, {"regime_vix": [2, 3]}]')
RUN_ARGS = [
    "--workers", "2",
    "--sqn-min", "2", "--sqn-max", "100",
    "--profit-factor-min", "1.3", "--profit-factor-max", "100",
    "--trade-count-min", "100", "--trade-count-max", "100000",
    "--weekly-consistency-max", "2",
    "--thresholds", "0.0001,0.0003,0.0005",
    "--generations", "4",
    "--regimes", REGIMES,
]
Z95 = 1.959963984540054


def wilson(k, n, z=Z95):
    """Wilson (1927) score interval for k successes in n trials; (nan, nan) when n = 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def holdout_fields(doc, path=""):
    """Every field whose name contains "holdout", anywhere in the run document, by its path."""
    found = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            p = "%s.%s" % (path, k) if path else k
            if "holdout" in k.lower():
                found[p] = v
            else:
                found.update(holdout_fields(v, p))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found.update(holdout_fields(v, "%s[%d]" % (path, i)))
    return found


def load_avg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def parse_counts(text):
    counts = dict(DEFAULT_COUNTS)
    if not text:
        return counts
    for item in text.split(","):
        kind, _, n = item.partition("=")
        kind = kind.strip()
        if kind not in counts or not n.strip().isdigit():
            raise SystemExit("validity.py: --counts: bad item %r (kinds: %s)" % (item, ", ".join(KIND_ORDER)))
        counts[kind] = int(n)
    return counts


class Rejected(Exception):
    """`evolve run` refused its arguments (exit 2, no run created): a configuration error."""


def run_one(evolve, data_dir, out_dir, kind, symbol, seed, extra, keep_dbs):
    db_dir = os.path.join(out_dir, "dbs") if keep_dbs else tempfile.mkdtemp(prefix="validity-")
    os.makedirs(db_dir, exist_ok=True)
    db = os.path.join(db_dir, symbol + ".db")
    for suffix in ("", "-wal", "-shm", "-runs.lock"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    cmd = [evolve, "run", "--data-dir", data_dir, "--symbol", symbol, "--db", db] + RUN_ARGS + extra
    start = time.time()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    elapsed = time.time() - start
    logs = os.path.join(out_dir, "logs")
    with open(os.path.join(logs, symbol + ".out"), "wb") as f:
        f.write(proc.stdout)
    with open(os.path.join(logs, symbol + ".err"), "wb") as f:
        f.write(proc.stderr)
    rec = {"kind": kind, "symbol": symbol, "seed": seed, "exit_code": proc.returncode,
           "seconds": round(elapsed, 3), "run_id": None, "status": None, "stop_reason": None,
           "best_sqn": None, "error": "", "holdout": {}, "show": None}
    try:
        show = None
        if os.path.exists(db):
            runs = subprocess.run([evolve, "runs", "--db", db, "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, check=True).stdout
            run_list = json.loads(runs)["runs"]
            if len(run_list) == 1:
                rec["run_id"] = run_list[0]["id"]
                out = subprocess.run([evolve, "show", rec["run_id"], "--db", db, "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
                show = json.loads(out)
            elif run_list:
                rec["error"] = "expected one run in %s, found %d" % (db, len(run_list))
        if show is None:
            if proc.returncode == 2:
                raise Rejected(proc.stderr.decode(errors="replace").strip())
            rec["status"] = "FAILED"
            rec["error"] = rec["error"] or ("no run recorded; exit %d: %s" % (
                proc.returncode, proc.stderr.decode(errors="replace").strip()[-500:]))
        else:
            run = show["run"]
            rec.update(status=run.get("status"), stop_reason=run.get("stop_reason"),
                       best_sqn=run.get("best_sqn"), error=run.get("error", ""),
                       holdout=holdout_fields(show), show=show)
    finally:
        if not keep_dbs:
            shutil.rmtree(db_dir, ignore_errors=True)
    return rec


def beat_buy_and_hold(rec):
    """Whether the promoted backtest's total return beat buy and hold over its own span (no costs)."""
    res = ((rec.get("show") or {}).get("promotion") or {}).get("result") or {}
    a, b = res.get("total_return_pct"), res.get("benchmark_return_pct")
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > b


def fmt_pct(x):
    return "n/a" if x != x else "%.1f%%" % (100 * x)


def table(records, counts):
    lines = ["| kind | series | promoted | rate | 95% interval (Wilson) | failed runs | mean best SQN of promoted "
             "| promoted that beat buy and hold |",
             "|---|---|---|---|---|---|---|---|"]
    summary = []
    for kind in KIND_ORDER:
        rs = [r for r in records if r["kind"] == kind]
        if not rs:
            continue
        failed = [r for r in rs if r["status"] not in ("PROMOTED", "COMPLETED")]
        prom = [r for r in rs if r["status"] == "PROMOTED"]
        n = len(rs) - len(failed)
        rate = len(prom) / n if n else float("nan")
        lo, hi = wilson(len(prom), n)
        sqns = [r["best_sqn"] for r in prom if isinstance(r["best_sqn"], (int, float))]
        mean_sqn = "%.2f" % (sum(sqns) / len(sqns)) if sqns else "-"
        beat = sum(1 for r in prom if beat_buy_and_hold(r))
        lines.append("| %s | %d | %d | %s | %s - %s | %d | %s | %s |" % (
            kind, len(rs), len(prom), fmt_pct(rate), fmt_pct(lo), fmt_pct(hi), len(failed), mean_sqn,
            ("%d of %d" % (beat, len(prom))) if prom else "-"))
        summary.append("validity kind=%s series=%d promoted=%d finished=%d rate=%s lo=%s hi=%s failed=%d "
                       "mean_sqn=%s" % (kind, len(rs), len(prom), n, fmt_pct(rate), fmt_pct(lo),
                                        fmt_pct(hi), len(failed), mean_sqn))
    return lines, summary


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description="How often `evolve run` promotes on synthetic series "
                                 "with a known truth (see the header of this file).")
    ap.add_argument("--evolve", default=os.environ.get("EVOLVE", "build/services/orchestrator/evolve"))
    ap.add_argument("--counts", default="", help="series per kind, e.g. noise=100,drift=30,ar1_10=50 "
                    "(defaults %s)" % ",".join("%s=%d" % (k, DEFAULT_COUNTS[k]) for k in KIND_ORDER))
    ap.add_argument("--bars", type=int, default=4000)
    ap.add_argument("--out-dir", default="build/bench/validity")
    ap.add_argument("--out", default="build/bench/validity.md")
    ap.add_argument("--jobs", type=int, default=1, choices=(1, 2), help="runs at once (each has --workers 2)")
    ap.add_argument("--base-seed", type=int, default=20240601)
    ap.add_argument("--label", default="")
    ap.add_argument("--keep-dbs", action="store_true", help="keep each run's SQLite file under OUT-DIR/dbs")
    ap.add_argument("--summary", action="store_true", help="also print one key=value line per kind")
    a = ap.parse_args(argv)
    counts = parse_counts(a.counts)

    evolve = a.evolve
    if os.sep not in evolve:
        evolve = shutil.which(evolve) or evolve
    if not (os.path.isfile(evolve) and os.access(evolve, os.X_OK)):
        print("validity.py: no executable evolve binary at %s (--evolve or $EVOLVE)" % a.evolve, file=sys.stderr)
        return 1
    evolve = os.path.abspath(evolve)

    out_dir = os.path.abspath(a.out_dir)
    data_dir = os.path.join(out_dir, "data")
    for d in (data_dir, os.path.join(out_dir, "logs")):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    results_path = os.path.join(out_dir, "results.jsonl")

    # Generate every series first (deterministic, a few seconds).
    series = []
    for kind in KIND_ORDER:
        for i in range(1, counts[kind] + 1):
            sym = gen_series.symbol_of(kind, i)
            seed = gen_series.series_seed(a.base_seed, kind, i)
            gen_series.write_series(os.path.join(data_dir, sym + ".csv"), kind, seed, a.bars)
            series.append((kind, sym, seed))

    load_before = load_avg()
    started = time.time()
    started_utc = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    records = []
    done = 0
    with open(results_path, "w") as results, \
            concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futures = [pool.submit(run_one, evolve, data_dir, out_dir, kind, sym, seed, extra, a.keep_dbs)
                   for kind, sym, seed in series]
        try:
            for fut in futures:
                rec = fut.result()
                rec["bars"] = a.bars
                rec["extra_args"] = extra
                results.write(json.dumps(rec, sort_keys=True) + "\n")
                results.flush()
                records.append(rec)
                done += 1
                print("validity: %d/%d %s %s %s best SQN %s%s" % (
                    done, len(series), rec["kind"], rec["symbol"], rec["status"],
                    "-" if rec["best_sqn"] is None else "%.2f" % rec["best_sqn"],
                    (" error: " + rec["error"][:200]) if rec["error"] else ""), file=sys.stderr)
        except Rejected as e:
            for f in futures:
                f.cancel()
            print("validity.py: evolve run rejected its arguments (exit 2): %s" % e, file=sys.stderr)
            return 2
    wall = time.time() - started
    load_after = load_avg()

    cmd_shown = " ".join([os.path.relpath(evolve) if not evolve.startswith("/tmp") else evolve, "run",
                          "--data-dir", "D", "--symbol", "S", "--db", "FRESH.db"] +
                         ["'%s'" % x if (" " in x or "{" in x) else x for x in RUN_ARGS + extra])
    lines, summary = table(records, counts)
    holdout_runs = sum(1 for r in records if r["holdout"])
    head = [
        "## Statistical validity of promotion%s" % ((": " + a.label) if a.label else ""),
        "",
        "Measured %s on %d cores with `tests/bench/validity/validity.py`: %d series of %d daily bars "
        "(base seed %d), one `evolve run` each, %d at a time; wall time %.0f s; load average %s before, %s after."
        % (started_utc, os.cpu_count() or 0, len(series), a.bars, a.base_seed, a.jobs, wall, load_before,
           load_after),
        "",
        "Each run: `%s`" % cmd_shown,
        "",
    ]
    foot = [
        "",
        "rate = promoted / finished runs (PROMOTED or COMPLETED); failed runs (FAILED, or no run "
        "recorded) are left out of it and counted on their own. 95% interval: Wilson score interval "
        "(Wilson 1927). Mean best SQN: the run's best_sqn over its promoted runs. Beat buy and hold: "
        "the promoted backtest's total_return_pct above its benchmark_return_pct (buy and hold over the "
        "same out-of-sample span). Truth: " + "; ".join("%s: %s" % (k, TRUTH[k]) for k in KIND_ORDER if counts[k]) + ".",
    ]
    if holdout_runs:
        foot.append("")
        foot.append("%d runs carry fields named holdout (in results.jsonl)." % holdout_runs)
    failures = [r for r in records if r["status"] not in ("PROMOTED", "COMPLETED")]
    if failures:
        foot.append("")
        foot.append("Failed runs:")
        for r in failures:
            foot.append("- %s (%s, seed %d): %s" % (r["symbol"], r["kind"], r["seed"],
                                                    (r["error"] or "no error text").replace("\n", " ")[:300]))
    text = "\n".join(head + lines + foot) + "\n"
    for path in (a.out, os.path.join(out_dir, "validity.md")):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    if a.summary:
        for s in summary:
            print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
