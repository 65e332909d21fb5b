#!/usr/bin/python3
"""Peer of tests/bench/bench_gmm.cc: scikit-learn's GaussianMixture on the
same 1M x 2 points (the file bench_gmm wrote), with the same algorithm:
standardised data, start from the median split of dimension 1 (median of at
most 65,536 evenly spaced points), n_components=2, covariance_type="full",
max_iter=100, tol=1e-3, reg_covar=1e-6. The standardisation and the start
are inside the timed region, as they are in Gmm2::Fit.

Also times scikit-learn's default start (k-means) for reference.

Usage: gmm_sklearn.py DATA_FILE [REPEATS]
Prints sklearn_seconds=<best> (same start), sklearn_kmeans_seconds=<best>.
"""
import sys
import time

import numpy as np
from sklearn.mixture import GaussianMixture


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] != b"EVGM0001":
        raise SystemExit("not a bench_gmm file: " + path)
    n = int(np.frombuffer(raw, dtype="<i8", count=1, offset=8)[0])
    x0 = np.frombuffer(raw, dtype="<f8", count=n, offset=16)
    x1 = np.frombuffer(raw, dtype="<f8", count=n, offset=16 + 8 * n)
    return np.column_stack([x0, x1])


def fit_same_start(x, reg=1e-6):
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    n = len(z)
    stride = -(-n // 65536)
    sample = z[::stride, 1]
    median = np.partition(sample, (len(sample) - 1) // 2)[(len(sample) - 1) // 2]
    high = z[:, 1] > median
    weights, means, precisions = [], [], []
    for mask in (~high, high):
        part = z[mask]
        nk = len(part) + 10 * np.finfo(float).eps
        mean = part.sum(axis=0) / nk
        cov = part.T @ part / nk - np.outer(mean, mean) + reg * np.eye(2)
        weights.append(nk / n)
        means.append(mean)
        precisions.append(np.linalg.inv(cov))
    gm = GaussianMixture(n_components=2, covariance_type="full", max_iter=100, tol=1e-3, reg_covar=reg,
                         weights_init=np.array(weights), means_init=np.array(means),
                         precisions_init=np.array(precisions))
    gm.fit(z)
    return gm


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    x = read(path)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        gm = fit_same_start(x)
        best = min(best, time.perf_counter() - t0)
    print("points=%d repeats=%d" % (len(x), repeats))
    print("sklearn_seconds=%.6f" % best)
    scale = x.std(axis=0)
    centre = x.mean(axis=0)
    print("iterations=%d converged=%d mean_log_likelihood_standardised=%.10f"
          % (gm.n_iter_, gm.converged_, gm.lower_bound_))
    order = np.argsort(gm.means_[:, 1])
    for k, c in enumerate(order):
        mean = gm.means_[c] * scale + centre
        cov = gm.covariances_[c] * np.outer(scale, scale)
        print("component %d weight=%.6f mean=(%.6g, %.6g) cov=(%.6g, %.6g, %.6g)"
              % (k, gm.weights_[c], mean[0], mean[1], cov[0, 0], cov[0, 1], cov[1, 1]))
    best_km = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        GaussianMixture(n_components=2, covariance_type="full", max_iter=100, tol=1e-3,
                        random_state=0).fit(x)
        best_km = min(best_km, time.perf_counter() - t0)
    print("sklearn_kmeans_seconds=%.6f" % best_km)


if __name__ == "__main__":
    main()
