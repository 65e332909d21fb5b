// Dense feature matrices and the quantile binner the forest trains on.
//
// Matrix is the raw input of every model: double values, column-major (one
// feature column is contiguous, as features are computed column by column).
// NaN is allowed in features (a missing value); targets must be finite.
//
// Binner maps each feature to at most 256 ordered levels ("bins") using
// quantile edges fitted on training rows only, so a model never sees the
// distribution of the data it is evaluated on. Bin b of feature f holds the
// values in (edges[b-1], edges[b]]; the last bin is unbounded above. A split
// "bin <= b" is therefore exactly the raw test "value <= edges[b]", which is
// how fitted models predict on new, unbinned data.
//
// Missing values (NaN) are sent left: they get bin 0, together with the
// smallest values, and the raw test used at prediction, `!(x > threshold)`,
// sends NaN left as well, so binned and raw predictions always agree.
//
// Thread-safety: all types are values; const methods may be called from any
// number of threads.
#ifndef EVOLVE_ENGINES_SRC_DATASET_H_
#define EVOLVE_ENGINES_SRC_DATASET_H_

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include "serialize.h"
#include "evolve/status.h"

namespace evolve::engines {

// A dense rows x cols matrix of doubles, column-major: data[j * rows + i].
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> data;

  Matrix() = default;
  Matrix(size_t r, size_t c) : rows(r), cols(c), data(r * c, 0.0) {}

  // From row-major values (values[i * cols + j]).
  // REQUIRES: values.size() == r * c.
  static Matrix FromRowMajor(size_t r, size_t c, const std::vector<double>& values);

  double at(size_t i, size_t j) const { return data[j * rows + i]; }
  double& at(size_t i, size_t j) { return data[j * rows + i]; }
  const double* column(size_t j) const { return data.data() + j * rows; }
  double* column(size_t j) { return data.data() + j * rows; }

  // The rows listed in `row_ids`, in that order.
  Matrix SelectRows(const std::vector<size_t>& row_ids) const;

  // kInvalidArgument unless data.size() == rows * cols.
  Status Validate() const;
};

// Bin codes of a matrix, row-major: codes[i * cols + j]. Row-major because
// tree building and traversal visit one row's features together (one cache
// line per row), while they visit the rows of a node in scattered order.
struct BinnedMatrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<uint8_t> codes;

  uint8_t at(size_t i, size_t j) const { return codes[i * cols + j]; }
  const uint8_t* row(size_t i) const { return codes.data() + i * cols; }
};

// Per-feature quantile bin edges.
class Binner {
 public:
  static constexpr int kMaxBins = 256;
  // Edges are computed from at most this many rows (an evenly strided
  // subsample beyond it); binning itself uses every row.
  static constexpr size_t kMaxSampleRows = 200000;

  Binner() = default;

  // Fits edges on `train` (training rows only). A feature with at most
  // `max_bins` distinct non-NaN values gets one bin per value, split at the
  // midpoints between consecutive values (the thresholds an exact tree would
  // use); otherwise the edges are the midpoints at the k/max_bins quantiles,
  // de-duplicated. A constant or all-NaN feature gets a single bin.
  // `threads` (0 = hardware) parallelises over features; the result does not
  // depend on it.
  // Errors: kInvalidArgument for max_bins outside [2, 256], an empty or
  // malformed matrix.
  static Result<Binner> Fit(const Matrix& train, int max_bins, int threads = 1);

  size_t num_features() const { return edges_.size(); }
  // Number of bins of `feature` (edges + 1), in [1, max_bins].
  int num_bins(size_t feature) const { return static_cast<int>(edges_[feature].size()) + 1; }
  // Upper edges of the bins of `feature`, strictly increasing.
  const std::vector<double>& edges(size_t feature) const { return edges_[feature]; }

  // The bin of `value` for `feature`: the first b with value <= edges[b]
  // (the last bin if none); NaN -> 0.
  uint8_t Bin(size_t feature, double value) const;

  // Bins every value of `x`.
  // REQUIRES: x.cols == num_features().
  BinnedMatrix Transform(const Matrix& x, int threads = 1) const;

  // Serialisation as part of a model payload.
  void Write(BinaryWriter* w) const;
  static Result<Binner> Read(BinaryReader* r);

 private:
  std::vector<std::vector<double>> edges_;
  // edges_ padded with +infinity to 256 entries (fixed-step search).
  std::vector<std::vector<double>> padded_;
};

// Number of worker threads for a `threads` parameter: 0 = hardware
// concurrency (at least 1), capped at `work_items` (and at least 1).
int ResolveThreads(int threads, size_t work_items);

// Runs fn(i, worker) for every i in [0, n) on `workers` threads (from
// ResolveThreads), handing out indices dynamically; `worker` in
// [0, workers) lets fn use per-thread scratch. Callers keep results
// independent of which worker runs which index.
template <typename Fn>
void ParallelFor(size_t n, int workers, Fn&& fn) {
  if (workers <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&](int worker) {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i, worker);
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers - 1));
  for (int k = 1; k < workers; ++k) {
    // If a thread cannot be started, the others (and this one) take its
    // share: no exception leaves the library.
    try {
      pool.emplace_back(work, k);
    } catch (...) {
      break;
    }
  }
  work(0);
  for (auto& th : pool) th.join();
}

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_DATASET_H_
