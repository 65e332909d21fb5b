// Benchmark: the two-state, two-dimensional Gaussian mixture (EM, full
// covariances) on 1M points, as regime_gmm fits it.
//
// Usage: bench_gmm DATA_FILE [REPEATS] [POINTS] [THREADS]
// Writes the deterministic points to DATA_FILE for tests/bench/peers/
// gmm_sklearn.py (which fits scikit-learn's GaussianMixture on the SAME data
// with the same start, max_iter and tol), then prints
//   gmm_seconds=<best of REPEATS>
// and the fitted parameters, to compare with the peer.
//
// DATA_FILE layout (little-endian): "EVGM0001", int64 n, float64 x0[n],
// float64 x1[n].
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "../engines/test_data.h"
#include "evolve/engines/regimes.h"

using evolve::engines::MtNormal;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_FILE [REPEATS] [POINTS]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  const size_t n = argc > 3 ? static_cast<size_t>(std::atoll(argv[3])) : 1000000;

  // (one-minute log return, its 20-bar volatility): 75 % calm, 25 % stressed.
  MtNormal normal(7);
  std::vector<double> x0(n), x1(n);
  for (size_t i = 0; i < n; ++i) {
    const bool stressed = normal.Raw() % 4 == 0;
    x0[i] = normal() * (stressed ? 0.0015 : 0.0005);
    x1[i] = stressed ? 0.0015 * std::exp(0.2 * normal()) : 0.0005 * std::exp(0.2 * normal());
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  const int64_t count = static_cast<int64_t>(n);
  bool ok =
      f != nullptr && std::fwrite("EVGM0001", 1, 8, f) == 8 && std::fwrite(&count, sizeof count, 1, f) == 1 &&
      std::fwrite(x0.data(), sizeof(double), n, f) == n && std::fwrite(x1.data(), sizeof(double), n, f) == n;
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (!ok) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 1;
  }

  evolve::engines::GmmOptions options;  // max_iter 100, tol 1e-3, reg_covar 1e-6: sklearn's defaults
  options.threads = argc > 4 ? std::atoi(argv[4]) : 0;  // 0: all cores
  double best = 1e300;
  std::optional<evolve::engines::Gmm2> model;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    auto fit = evolve::engines::Gmm2::Fit(x0.data(), x1.data(), n, options);
    const auto t1 = std::chrono::steady_clock::now();
    if (!fit.ok()) {
      std::fprintf(stderr, "gmm: %s\n", fit.status().ToString().c_str());
      return 1;
    }
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
    model = std::move(fit).value();
  }
  std::printf("points=%zu repeats=%d threads=%d (0 = all cores)\n", n, repeats, options.threads);
  std::printf("gmm_seconds=%.6f\n", best);
  std::printf("iterations=%d converged=%d mean_log_likelihood_standardised=%.10f\n", model->iterations(),
              model->converged() ? 1 : 0, model->log_likelihood());
  for (int k = 0; k < 2; ++k) {
    std::printf("component %d weight=%.6f mean=(%.6g, %.6g) cov=(%.6g, %.6g, %.6g)\n", k, model->weight(k),
                model->mean(k)[0], model->mean(k)[1], model->covariance(k)[0], model->covariance(k)[1],
                model->covariance(k)[2]);
  }
  return 0;
}
