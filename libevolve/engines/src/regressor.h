// The built-in trainer's algorithms behind one interface: a fitted
// Regressor (random forest or ElasticNet) predicts, serialises itself and
// measures permutation importance; MakeFitter picks the algorithm of a
// ModelSpec and parses its hyperparameters.
//
// Thread-safety: a fitted Regressor is immutable; its const methods may be
// called from several threads. A FitFn may be called concurrently.
#ifndef EVOLVE_ENGINES_SRC_REGRESSOR_H_
#define EVOLVE_ENGINES_SRC_REGRESSOR_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataset.h"
#include "evolve/engines/builtin.h"
#include "evolve/status.h"
#include "evolve/types.h"
#include "importance.h"

namespace evolve::engines {

// One fitted model of any built-in algorithm.
class Regressor {
 public:
  virtual ~Regressor() = default;
  virtual Status Predict(const Matrix& x, std::vector<double>* out) const = 0;
  virtual Status Serialize(std::string* out) const = 0;
  // Permutation importance on (x, y), with the predictions of x it is based on.
  virtual Result<PermutationImportance> Permutation(const Matrix& x, const std::vector<double>& y,
                                                    const PermutationOptions& options) const = 0;
};

// Fits one model of `algorithm` on (x, y) with `threads` threads (0: all
// cores); no model depends on the number of threads.
using FitFn = std::function<Result<std::unique_ptr<Regressor>>(const Matrix& x, const std::vector<double>& y,
                                                               int threads)>;

struct Fitter {
  FitFn fit;
  int threads = 0;  // for the whole walk-forward (0: all cores): the model's n_jobs, else the trainer's
};

// The fitter of `spec`'s algorithm (random_forest_regressor,
// elasticnet_regression, linear_regression, or an alias CanonicalAlgorithm
// knows) with its hyperparameters, fitting with options.threads unless the
// model's own n_jobs says otherwise. Errors: kInvalidArgument naming the
// field ("algorithm: ...", "hyperparameters...: ...").
Result<Fitter> MakeFitter(const ModelSpec& spec, const BuiltinOptions& options);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_REGRESSOR_H_
