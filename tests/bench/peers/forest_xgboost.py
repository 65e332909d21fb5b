#!/usr/bin/python3
"""Peer of bench_forest: xgboost's histogram random forest on the same data.

    forest_xgboost.py TRAIN.csv HOLDOUT.csv [--threads 2]

XGBRFRegressor(n_estimators=100, max_depth=10, min_child_weight=5,
subsample=0.632, colsample_bynode=1, tree_method="hist", n_jobs=threads),
i.e. one boosting round of 100 parallel trees with learning rate 1.

The mapping to our forest (100 trees, depth 10, min leaf 5, all features,
bootstrap):
  - min_child_weight=5: for squared error every row has hessian 1, so a
    child must hold at least 5 (sampled) rows, as min_samples_leaf=5 asks.
  - subsample=0.632: xgboost samples rows without replacement; a bootstrap
    sample of n draws contains 1 - 1/e = 63.2% distinct rows on average.
  - colsample_bynode=1: every feature is a split candidate at every node.
  - max_bin stays at its default, 256, as our max_bins.
Prints
    xgboost_fit_seconds=<s> xgboost_holdout_r2=<r2>
Only the fit is timed (the DMatrix construction and quantile sketch are
inside fit, as they are inside ours).
"""
import argparse
import time

import numpy as np
from sklearn.metrics import r2_score
from xgboost import XGBRFRegressor


def load(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("holdout")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    x, y = load(args.train)
    xh, yh = load(args.holdout)
    model = XGBRFRegressor(n_estimators=100, max_depth=10, min_child_weight=5, subsample=0.632,
                           colsample_bynode=1.0, tree_method="hist", n_jobs=args.threads, random_state=0)
    start = time.perf_counter()
    model.fit(x, y)
    seconds = time.perf_counter() - start
    r2 = r2_score(yh, model.predict(xh))
    print(f"xgboost_fit_seconds={seconds:.3f} xgboost_holdout_r2={r2:.5f}", flush=True)


if __name__ == "__main__":
    main()
