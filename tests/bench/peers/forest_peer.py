"""What the sklearn peers of bench_forest and bench_importance share: the
CSV files bench_forest writes, the command line, and the forest itself
(RandomForestRegressor with the settings of our forest in the benchmark).
"""
import argparse

import numpy as np
from sklearn.ensemble import RandomForestRegressor


def load(path):
    """(X, y) of a CSV with header x0..x29,y; the last column is the target."""
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    return data[:, :-1], data[:, -1]


def arguments(model_flag, model_help):
    """TRAIN.csv HOLDOUT.csv [--threads N] [model_flag PATH], parsed."""
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("holdout")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(model_flag, help=model_help)
    return ap.parse_args()


def forest(threads):
    """The forest both peers time: 100 trees, depth 10, leaves of 5, all features, bootstrap."""
    return RandomForestRegressor(n_estimators=100, max_depth=10, min_samples_leaf=5, max_features=1.0,
                                 bootstrap=True, n_jobs=threads, random_state=0)
