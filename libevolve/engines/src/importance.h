// Permutation importance on held-out data.
//
// For feature j and repeat r, column j of the held-out matrix is shuffled
// with the permutation PermutationFor(seed, j, r) (x'[i][j] = x[perm[i]][j]),
// the model predicts the shuffled matrix, and
//
//   delta[j][r]   = MSE(y, predictions on x') - MSE(y, predictions on x)
//   importance[j] = mean over r of delta[j][r]
//   stdev[j]      = population standard deviation over r (as sklearn)
//
// The value is signed: a feature the model does not use, or uses only to
// fit noise, scores about 0 or below, which is what makes "prune features
// with importance <= 0" meaningful.
//
// Two implementations give the same numbers bit for bit for the same seed:
// ComputePermutationImportance works for any model through a predict
// callback; ForestPermutationImportance is the fast path for RandomForest.
// It bins the held-out rows once, records each row's leaf in every tree,
// and for feature j re-walks only the rows whose path in a tree reaches a
// node that tests j, starting at the first such node; every other
// (row, tree) keeps its leaf. Forest predictions are exact integer sums of
// fixed-point leaf values (see forest.h), so updating a row's sum tree by
// tree equals predicting it afresh.
//
// Thread-safety: the functions are reentrant; the generic one calls
// `predict` from the calling thread only, one call at a time.
#ifndef EVOLVE_ENGINES_SRC_IMPORTANCE_H_
#define EVOLVE_ENGINES_SRC_IMPORTANCE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "dataset.h"
#include "evolve/status.h"
#include "forest.h"

namespace evolve::engines {

struct PermutationOptions {
  int repeats = 5;    // >= 1
  uint64_t seed = 1;  // the permutations depend on (seed, feature, repeat) only
  int threads = 0;    // fast path only; 0 = hardware; never changes results
};

struct PermutationImportance {
  double baseline_mse = 0.0;
  std::vector<double> mean;   // per feature, signed
  std::vector<double> stdev;  // per feature, population stdev over repeats
  // deltas[j][r]: MSE increase of repeat r for feature j.
  std::vector<std::vector<double>> deltas;
  // The model's predictions for the unpermuted rows of x, in row order: the
  // baseline both paths compute anyway, equal bit for bit to predicting x
  // (the walk-forward trainer uses them as its out-of-sample predictions).
  std::vector<double> baseline;
};

// Predictions for every row of `x` into *out (x.rows values).
using PredictFn = std::function<Status(const Matrix& x, std::vector<double>* out)>;

// The permutation of [0, n) used for (feature, repeat): Fisher-Yates driven
// by Rng(Mix(Mix(seed, feature), repeat)).
void PermutationFor(uint64_t seed, size_t feature, int repeat, size_t n, std::vector<uint32_t>* perm);

// Mean squared error, summed in row order. REQUIRES: equal, non-zero sizes.
double MeanSquaredError(const std::vector<double>& y, const std::vector<double>& predictions);

// Permutation importance of any model.
// Errors: kInvalidArgument for repeats < 1, an empty or malformed matrix,
// y.size() != x.rows, non-finite targets, more than 2^32-1 rows, or a
// predict that returns the wrong number of values; any error of `predict`
// is returned as is.
Result<PermutationImportance> ComputePermutationImportance(const PredictFn& predict, const Matrix& x,
                                                           const std::vector<double>& y,
                                                           const PermutationOptions& options);

// The same result for a RandomForest, fast.
// Errors: as above, and kInvalidArgument when x.cols != forest.num_features().
Result<PermutationImportance> ForestPermutationImportance(const RandomForest& forest, const Matrix& x,
                                                          const std::vector<double>& y,
                                                          const PermutationOptions& options);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_IMPORTANCE_H_
