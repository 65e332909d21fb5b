// ElasticNet (and ordinary least squares) on standardised features.
//
// Features are standardised on the training rows (mean, population
// standard deviation) and the target is centred; the coefficients w on that
// scale minimise sklearn's ElasticNet objective
//
//   1/(2n) ||y_c - Z w||^2 + alpha * l1_ratio * ||w||_1
//                          + 0.5 * alpha * (1 - l1_ratio) * ||w||^2
//
// by cyclic coordinate descent, stopped as sklearn stops it: when the
// largest coefficient change of a sweep is below tol * max|w| and the
// duality gap is below tol * ||y_c||^2 (or after max_iter sweeps). alpha = 0
// is ordinary least squares, solved exactly from the normal equations
// (Cholesky, with a 1e-10 ridge so collinear features stay solvable). A
// constant feature gets coefficient 0. The intercept makes the prediction
// of the mean feature row the mean target.
//
// Features must be finite (no NaN) for fitting; a NaN in a row to predict
// gives a NaN prediction.
//
// Thread-safety: a fitted ElasticNet is immutable; const methods may be
// called concurrently.
#ifndef EVOLVE_ENGINES_SRC_LINEAR_H_
#define EVOLVE_ENGINES_SRC_LINEAR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dataset.h"
#include "evolve/status.h"

namespace evolve::engines {

struct ElasticNetParams {
  double alpha = 1.0;     // >= 0; 0 = ordinary least squares
  double l1_ratio = 0.5;  // [0, 1]; 1 = lasso, 0 = ridge
  int max_iter = 1000;    // coordinate descent sweeps, >= 1
  double tol = 1e-4;      // > 0

  // kInvalidArgument naming the first field out of range.
  Status Validate() const;
};

// Parses the trainer's "hyperparameters" object: alpha, l1_ratio, max_iter,
// tol (all optional). Errors: kInvalidArgument for malformed JSON, a
// non-object, an unknown key (named) or a bad value (naming the key).
Result<ElasticNetParams> ElasticNetParamsFromJson(std::string_view json_object);

class ElasticNet {
 public:
  // Serialisation format version written by Serialize.
  static constexpr uint32_t kFormatVersion = 1;

  ElasticNet() = default;

  // Errors: kInvalidArgument for bad params, y.size() != x.rows, no rows or
  // no features, a non-finite feature value or target.
  static Result<ElasticNet> Fit(const Matrix& x, const std::vector<double>& y,
                                const ElasticNetParams& params);

  // Prediction for one row given as row[f], f < num_features().
  double Predict(const double* row) const;
  // Errors: kInvalidArgument when x.cols != num_features().
  Status PredictBatch(const Matrix& x, std::vector<double>* out) const;

  size_t num_features() const { return coef_.size(); }
  // Coefficients on the raw feature scale, and the intercept.
  const std::vector<double>& coefficients() const { return coef_; }
  double intercept() const { return intercept_; }
  // Coefficients on the standardised scale (what the penalty acts on).
  const std::vector<double>& standardized_coefficients() const { return std_coef_; }
  // |standardised coefficient| per feature: comparable across features.
  std::vector<double> CoefficientImportance() const;
  const ElasticNetParams& params() const { return params_; }
  // Coordinate descent sweeps run (0 for alpha = 0) and whether the
  // stopping rule was met within max_iter.
  int iterations() const { return iterations_; }
  bool converged() const { return converged_; }

  // Writes the versioned binary model ("EVEN" envelope, see serialize.h).
  Status Serialize(std::string* out) const;
  // Errors: kInvalidArgument for a wrong magic, an unsupported version,
  // truncated or corrupt bytes.
  static Result<ElasticNet> Deserialize(std::string_view bytes);

 private:
  void DeriveRawCoefficients();

  ElasticNetParams params_;
  std::vector<double> means_;
  std::vector<double> scales_;  // 0 for a constant feature
  std::vector<double> std_coef_;
  double y_mean_ = 0.0;
  std::vector<double> coef_;
  double intercept_ = 0.0;
  int iterations_ = 0;
  bool converged_ = true;
};

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_LINEAR_H_
