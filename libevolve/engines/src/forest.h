// A random forest regressor with histogram splits.
//
// Fit bins every feature once (Binner: at most 256 quantile levels, fitted on
// the training rows), then grows each tree depth-first on the bin codes:
// per node, histograms of (sum of weighted target, weight, row count) per
// bin and candidate feature give the best split by MSE (variance) reduction
// in one pass over the bins. When every feature is a candidate, only the
// smaller child's histogram is built from its rows; the larger child's is the
// parent's minus the smaller's (sibling subtraction). Bootstrap samples are
// per-row integer weights; `max_features` draws a fresh random subset of
// features at every node. Trees are built in parallel over trees.
//
// Determinism: tree t is grown from a generator seeded with (seed, t) alone,
// and every tree is built by one thread, so a fit is bitwise identical for
// any number of threads. Leaf values are stored as 64-bit fixed-point
// integers (a power-of-two scale per forest), so a prediction is an exact
// integer sum over trees: it does not depend on the order in which trees are
// added, which is what lets the permutation-importance fast path update
// predictions tree by tree and still equal a full prediction bit for bit.
//
// A split stores both its bin ("code <= bin goes left") and the bin's upper
// edge as a raw threshold ("!(x > threshold)" goes left, so NaN goes left
// like its bin 0), so a fitted model predicts on new raw data.
//
// Thread-safety: a fitted RandomForest is immutable; const methods may be
// called concurrently.
#ifndef EVOLVE_ENGINES_SRC_FOREST_H_
#define EVOLVE_ENGINES_SRC_FOREST_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataset.h"
#include "evolve/status.h"

namespace evolve::engines {

// How ForestParams::max_features is read.
enum class MaxFeaturesRule {
  kFraction,  // max(1, floor(max_features * num_features))
  kSqrt,      // max(1, floor(sqrt(num_features)))
  kLog2,      // max(1, floor(log2(num_features)))
};

struct ForestParams {
  int n_estimators = 100;         // [1, 100000]
  int max_depth = 8;              // >= 1; -1 = unlimited (JSON null)
  int min_samples_leaf = 20;      // >= 1: distinct in-bag rows per leaf, as sklearn counts them
  double max_features = 1.0 / 3;  // fraction of features tried per split, (0, 1]; 1 = all
  MaxFeaturesRule max_features_rule = MaxFeaturesRule::kFraction;
  bool bootstrap = true;
  // Rows drawn per tree as a fraction of the training rows, (0, 1]: with
  // replacement when bootstrapping, else a subsample without replacement.
  double max_samples = 1.0;
  uint64_t seed = 1;
  int threads = 0;     // 0 = hardware concurrency; never changes the model
  int max_bins = 256;  // [2, 256]

  // Candidate features per split for `num_features` features.
  size_t FeaturesPerSplit(size_t num_features) const;

  // kInvalidArgument naming the first field out of range.
  Status Validate() const;
};

// Parses the trainer's "hyperparameters" object. Keys (all optional):
//   n_estimators, max_depth (null = unlimited), min_samples_leaf,
//   max_features (number in (0, 1], "sqrt", "log2", "all" or null = all),
//   bootstrap, max_samples (null = 1), random_state or seed (null = 1),
//   n_jobs or threads (null or negative = hardware), max_bins,
//   criterion ("squared_error" only).
// Errors: kInvalidArgument for malformed JSON, a non-object, an unknown key
// (named), a value of the wrong type or out of range (naming the key).
Result<ForestParams> ForestParamsFromJson(std::string_view json_object);

// One node of a tree. Internal nodes have feature >= 0 and children at
// `left` and `left + 1`; leaves have feature == -1 and a value.
struct ForestNode {
  int32_t feature = -1;
  int32_t left = -1;
  // Split: codes <= bin go left; raw values with !(x > threshold) go left.
  // threshold == binner().edges(feature)[bin].
  double threshold = 0.0;
  // Leaf value in fixed-point units: value * RandomForest::leaf_scale().
  int64_t value = 0;
  uint8_t bin = 0;
};

struct ForestTree {
  std::vector<ForestNode> nodes;  // nodes[0] is the root; children follow parents
};

class RandomForest {
 public:
  // Serialisation format version written by Serialize.
  static constexpr uint32_t kFormatVersion = 1;

  RandomForest() = default;

  // Fits a forest on rows of `x` (features in columns) and targets `y`.
  // Errors: kInvalidArgument for bad params, y.size() != x.rows, no rows or
  // no features, more than 2^32-1 rows, a non-finite target.
  static Result<RandomForest> Fit(const Matrix& x, const std::vector<double>& y, const ForestParams& params);

  // Prediction for one row given as row[f], f < num_features().
  double Predict(const double* row) const;

  // Predictions for every row of `x` into *out (resized). `threads` (0 =
  // hardware) splits the rows; the result does not depend on it.
  // Errors: kInvalidArgument when x.cols != num_features().
  Status PredictBatch(const Matrix& x, std::vector<double>* out, int threads = 1) const;

  // Mean decrease of the weighted squared error per feature (each tree's
  // decreases divided by its in-bag weight, averaged over trees), normalised
  // to sum to 1 (all zero when no tree splits). Non-negative by construction.
  const std::vector<double>& ImpurityImportance() const { return importance_; }

  size_t num_features() const { return binner_.num_features(); }
  size_t num_trees() const { return trees_.size(); }
  const ForestParams& params() const { return params_; }
  // Sets params().threads, which Serialize writes: a fit records the
  // threads it ran on, which never change the model; a trainer records the
  // model's own n_jobs instead, so that a model's bytes do not depend on
  // the threads of the process that trained it.
  void set_recorded_threads(int threads) { params_.threads = threads; }
  const std::vector<ForestTree>& trees() const { return trees_; }
  const Binner& binner() const { return binner_; }

  // Fixed-point scale (a power of two): a leaf's value is
  // node.value * leaf_scale().
  double leaf_scale() const { return scale_; }
  // The prediction for an exact sum of fixed-point leaf values over all
  // trees (what Predict computes); for the importance fast path.
  double PredictionFromSum(int64_t leaf_sum) const { return static_cast<double>(leaf_sum) * unit_; }

  // Writes the versioned binary model ("EVRF" envelope, see serialize.h).
  Status Serialize(std::string* out) const;
  // Reads what Serialize wrote. Errors: kInvalidArgument for a wrong magic,
  // an unsupported version, truncated or corrupt bytes, or a structurally
  // invalid model (child index, feature or bin out of range).
  static Result<RandomForest> Deserialize(std::string_view bytes);

 private:
  void SetScale(double scale);

  ForestParams params_;
  Binner binner_;
  std::vector<ForestTree> trees_;
  std::vector<double> importance_;
  double scale_ = 1.0;
  double unit_ = 1.0;  // scale_ / num_trees
};

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_FOREST_H_
