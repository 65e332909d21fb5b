// The built-in trainer's algorithms (regressor.h): the random forest and
// ElasticNet adapted to Regressor, and the choice of one for a ModelSpec.
#include "regressor.h"

#include <utility>

#include "evolve/fingerprint.h"
#include "forest.h"
#include "hyperparameters.h"
#include "linear.h"

namespace evolve::engines {
namespace {

constexpr double kDefaultElasticNetAlpha = 1e-5;

class ForestRegressor final : public Regressor {
 public:
  explicit ForestRegressor(RandomForest forest) : forest_(std::move(forest)) {}
  Status Predict(const Matrix& x, std::vector<double>* out) const override {
    return forest_.PredictBatch(x, out);
  }
  Status Serialize(std::string* out) const override { return forest_.Serialize(out); }
  Result<PermutationImportance> Permutation(const Matrix& x, const std::vector<double>& y,
                                            const PermutationOptions& options) const override {
    return ForestPermutationImportance(forest_, x, y, options);
  }

 private:
  RandomForest forest_;
};

class LinearRegressor final : public Regressor {
 public:
  explicit LinearRegressor(ElasticNet model) : model_(std::move(model)) {}
  Status Predict(const Matrix& x, std::vector<double>* out) const override {
    return model_.PredictBatch(x, out);
  }
  Status Serialize(std::string* out) const override { return model_.Serialize(out); }
  Result<PermutationImportance> Permutation(const Matrix& x, const std::vector<double>& y,
                                            const PermutationOptions& options) const override {
    return ComputePermutationImportance(
        [this](const Matrix& m, std::vector<double>* out) { return model_.PredictBatch(m, out); }, x, y,
        options);
  }

 private:
  ElasticNet model_;
};

}  // namespace

Result<Fitter> MakeFitter(const ModelSpec& spec, const BuiltinOptions& options) {
  const std::string algorithm = CanonicalAlgorithm(spec.algorithm);
  if (algorithm == "random_forest_regressor") {
    EVOLVE_ASSIGN_OR_RETURN(ForestParams params, ForestParamsFromJson(spec.hyperparameters));
    const int n_jobs = params.threads;  // the model's own (0: not given), what it records
    if (params.threads == 0) params.threads = options.threads;
    const int threads = params.threads;
    return Fitter{[params, n_jobs](const Matrix& x, const std::vector<double>& y,
                                   int fit_threads) mutable -> Result<std::unique_ptr<Regressor>> {
                    params.threads = fit_threads;
                    EVOLVE_ASSIGN_OR_RETURN(RandomForest forest, RandomForest::Fit(x, y, params));
                    forest.set_recorded_threads(n_jobs);
                    return std::unique_ptr<Regressor>(new ForestRegressor(std::move(forest)));
                  },
                  threads};
  }
  if (algorithm == "elasticnet_regression" || algorithm == "linear_regression") {
    EVOLVE_ASSIGN_OR_RETURN(ElasticNetParams params, ElasticNetParamsFromJson(spec.hyperparameters));
    // sklearn's default alpha (1.0) shrinks every coefficient of a model of
    // next-bar returns (variance ~1e-4) to zero; unless the user chose one,
    // the built-in trainer uses a penalty on the scale of such targets.
    if (!HasHyperparameter(spec.hyperparameters, "alpha")) params.alpha = kDefaultElasticNetAlpha;
    if (algorithm == "linear_regression") params.alpha = 0.0;
    return Fitter{
        [params](const Matrix& x, const std::vector<double>& y, int) -> Result<std::unique_ptr<Regressor>> {
          EVOLVE_ASSIGN_OR_RETURN(ElasticNet model, ElasticNet::Fit(x, y, params));
          return std::unique_ptr<Regressor>(new LinearRegressor(std::move(model)));
        },
        options.threads};
  }
  return InvalidArgumentError("algorithm: unknown algorithm '" + spec.algorithm +
                              "' (built-in: RandomForest / random_forest_regressor, ElasticNet / "
                              "elasticnet_regression, LinearRegression / linear_regression)");
}

}  // namespace evolve::engines
