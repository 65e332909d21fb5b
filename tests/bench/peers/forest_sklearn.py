#!/usr/bin/python3
"""Peer of bench_forest: sklearn RandomForestRegressor on the same data.

    forest_sklearn.py TRAIN.csv HOLDOUT.csv [--threads 2] [--model-out PATH]

Reads the CSV files bench_forest writes (header x0..x29,y; last column is the
target), fits RandomForestRegressor(n_estimators=100, max_depth=10,
min_samples_leaf=5, max_features=1.0, bootstrap=True, n_jobs=threads) and
prints
    sklearn_fit_seconds=<s> sklearn_holdout_r2=<r2>
Only the fit is timed. --model-out pickles the fitted model for
importance_sklearn.py (so that it does not refit for ~90 s).
"""
import pickle
import time

from sklearn.metrics import r2_score

from forest_peer import arguments, forest, load


def main():
    args = arguments("--model-out", "pickle the fitted forest here")
    x, y = load(args.train)
    xh, yh = load(args.holdout)
    model = forest(args.threads)
    start = time.perf_counter()
    model.fit(x, y)
    seconds = time.perf_counter() - start
    r2 = r2_score(yh, model.predict(xh))
    print(f"sklearn_fit_seconds={seconds:.3f} sklearn_holdout_r2={r2:.5f}", flush=True)
    if args.model_out:
        with open(args.model_out, "wb") as f:
            pickle.dump(model, f)


if __name__ == "__main__":
    main()
