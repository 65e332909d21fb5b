#!/usr/bin/python3
"""Peer of bench_importance: sklearn's permutation importance on the same data.

    importance_sklearn.py TRAIN.csv HOLDOUT.csv [--threads 2] [--model PATH]

Uses the forest pickled by forest_sklearn.py --model-out (else fits the same
RandomForestRegressor, untimed), then times
    sklearn.inspection.permutation_importance(model, X_holdout, y_holdout,
        scoring="neg_mean_squared_error", n_repeats=5, n_jobs=threads)
on the 20k-row holdout (30 features x 5 repeats) and prints
    sklearn_importance_seconds=<s>
"""
import pickle
import time

import numpy as np
from sklearn.inspection import permutation_importance

from forest_peer import arguments, forest, load


def main():
    args = arguments("--model", "the forest pickled by forest_sklearn.py --model-out")
    xh, yh = load(args.holdout)
    if args.model:
        with open(args.model, "rb") as f:
            model = pickle.load(f)
    else:
        x, y = load(args.train)
        model = forest(args.threads).fit(x, y)
    model.set_params(n_jobs=1)  # permutation_importance parallelises over features itself
    start = time.perf_counter()
    result = permutation_importance(model, xh, yh, scoring="neg_mean_squared_error", n_repeats=5,
                                    n_jobs=args.threads, random_state=0)
    seconds = time.perf_counter() - start
    top = np.argsort(-result.importances_mean)[:5]
    print(f"sklearn_importance_seconds={seconds:.3f} top=" +
          ",".join(f"x{j}:{result.importances_mean[j]:.4f}" for j in top), flush=True)


if __name__ == "__main__":
    main()
