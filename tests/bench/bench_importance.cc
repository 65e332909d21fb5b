// Benchmark: permutation importance, 30 features x 5 repeats on a 20k-row
// holdout, with the 100-tree depth-10 forest of bench_forest (issue 3),
// against sklearn.inspection.permutation_importance (peers/importance_sklearn.py).
//
//   bench_importance --train PATH --holdout PATH [--threads N] [--check 1]
//
// Reads the CSV files bench_forest writes (header x0..,y), fits the same
// forest as bench_forest (not timed), times the fast path and prints
//   importance_seconds=<s> ...
// With --check 1 it also times the generic path (predict callback) and
// verifies that both give bit-identical results.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dataset.h"
#include "forest.h"
#include "importance.h"

namespace {

using evolve::engines::ForestParams;
using evolve::engines::Matrix;
using evolve::engines::PermutationImportance;
using evolve::engines::PermutationOptions;
using evolve::engines::RandomForest;

// Reads a numeric CSV with a header; the last column is the target.
bool ReadCsv(const std::string& path, Matrix* x, std::vector<double>* y) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t cols = 0;
  for (char c : line) cols += c == ',' ? 1 : 0;
  std::vector<double> values;
  size_t rows = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const char* p = line.c_str();
    for (size_t j = 0; j <= cols; ++j) {
      char* end = nullptr;
      const double v = std::strtod(p, &end);
      if (end == p) return false;
      values.push_back(v);
      p = *end == ',' ? end + 1 : end;
    }
    ++rows;
  }
  *x = Matrix(rows, cols);
  y->resize(rows);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) x->at(i, j) = values[i * (cols + 1) + j];
    (*y)[i] = values[i * (cols + 1) + cols];
  }
  return rows > 0;
}

bool SameBits(const PermutationImportance& a, const PermutationImportance& b) {
  if (a.baseline_mse != b.baseline_mse || a.deltas.size() != b.deltas.size()) return false;
  for (size_t j = 0; j < a.deltas.size(); ++j) {
    if (std::memcmp(a.deltas[j].data(), b.deltas[j].data(), a.deltas[j].size() * sizeof(double)) != 0)
      return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string train_path;
  std::string holdout_path;
  int threads = 2;
  bool check = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--train") {
      train_path = value;
    } else if (flag == "--holdout") {
      holdout_path = value;
    } else if (flag == "--threads") {
      threads = std::atoi(value);
    } else if (flag == "--check") {
      check = std::atoi(value) != 0;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  Matrix x_train;
  Matrix x_hold;
  std::vector<double> y_train;
  std::vector<double> y_hold;
  if (!ReadCsv(train_path, &x_train, &y_train) || !ReadCsv(holdout_path, &x_hold, &y_hold)) {
    std::fprintf(stderr,
                 "usage: bench_importance --train train.csv --holdout holdout.csv (from bench_forest)\n");
    return 2;
  }
  ForestParams params;
  params.n_estimators = 100;
  params.max_depth = 10;
  params.min_samples_leaf = 5;
  params.max_features = 1.0;
  params.seed = 7;
  params.threads = threads;
  auto forest = RandomForest::Fit(x_train, y_train, params);
  if (!forest.ok()) {
    std::fprintf(stderr, "fit failed: %s\n", forest.status().ToString().c_str());
    return 1;
  }
  PermutationOptions options;
  options.repeats = 5;
  options.seed = 11;
  options.threads = threads;
  const auto start = std::chrono::steady_clock::now();
  auto fast = evolve::engines::ForestPermutationImportance(*forest, x_hold, y_hold, options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!fast.ok()) {
    std::fprintf(stderr, "importance failed: %s\n", fast.status().ToString().c_str());
    return 1;
  }
  std::printf("importance_seconds=%.3f rows=%zu features=%zu repeats=%d threads=%d baseline_mse=%.5f\n",
              seconds, x_hold.rows, x_hold.cols, options.repeats, threads, fast->baseline_mse);
  std::printf("importance:");
  for (size_t j = 0; j < fast->mean.size(); ++j) std::printf(" x%zu=%.4f", j, fast->mean[j]);
  std::printf("\n");
  if (check) {
    const RandomForest& model = *forest;
    auto predict = [&](const Matrix& m, std::vector<double>* out) {
      return model.PredictBatch(m, out, threads);
    };
    const auto g_start = std::chrono::steady_clock::now();
    auto generic = evolve::engines::ComputePermutationImportance(predict, x_hold, y_hold, options);
    const double g_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
    if (!generic.ok()) return 1;
    const bool same = SameBits(*fast, *generic);
    std::printf("importance_generic_seconds=%.3f fast_equals_generic=%d\n", g_seconds, same ? 1 : 0);
    if (!same) return 1;
  }
  return 0;
}
