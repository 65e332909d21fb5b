// HttpTrainer: the Trainer of the original training service (port 8200,
// WIRE-CONTRACT part B; docs/http-adapters.md).
//
// Train(spec) sends POST /train with
//   symbol, algorithm (CanonicalAlgorithm: "RandomForest" ->
//   "random_forest_regressor", ...), target_col, hyperparameters (the spec's
//   JSON object, as an object), target_transform, data_options (the spec's
//   JSON object as a JSON *string*), timeframe, parent_model_id ("" when
//   none), feature_whitelist (spec.features), p_value_threshold and, when
//   the spec has any, reference_symbols;
// then polls GET /models/{id} every poll_interval until its status is
// "completed" (the TrainedModel, with the numeric entries of the reply's
// "metrics" object), "failed" or "error" (kInternal with error_message), or
// until training_timeout has passed since the service accepted the job
// (kDeadlineExceeded; the service may still finish it). Any other status
// ("pending", "preprocessing", "training", ...) means keep polling.
//
// A {"status": "duplicate", "existing_model": {...}} reply is accepted only
// when existing_model's features, as a set, are the requested ones (the
// original service de-duplicates without looking at the features and
// returns the parent's id for a pruned child); it then waits for that model
// like for a new one. Different or missing features: kFailedPrecondition
// naming both feature counts. HTTP 400 (e.g. an unknown algorithm):
// kInvalidArgument with the service's message.
//
// Importance(id): GET /api/model/{id}/importance -> {importance: {feature:
// number}, importance_type}, in the service's order.
// DescribeModel(id): GET /api/model/{id}/config -> the ModelSpec (features,
// hyperparameters, target_transform, symbol, target_col, algorithm,
// data_options as a string or an object, timeframe; reference_symbols and
// parent_model_id when present).
//
// Errors, retries and timeouts of each request: evolve/http/service_options.h.
// A POST /train that is retried after a lost reply may start a second job on
// the service; the service answers it as a duplicate of the first, which is
// then accepted (same features).
//
// Thread-safety: safe for concurrent use by many threads.
#ifndef EVOLVE_HTTP_HTTP_TRAINER_H_
#define EVOLVE_HTTP_HTTP_TRAINER_H_

#include <chrono>
#include <memory>
#include <string>

#include "evolve/http/service_options.h"
#include "evolve/status.h"
#include "evolve/trainer.h"
#include "evolve/types.h"

namespace evolve::http {

struct HttpTrainerOptions {
  ServiceClientOptions http;  // http.url: e.g. TRAINING_URL, http://training-service:8200
  // How often GET /models/{id} is asked while a model trains.
  std::chrono::milliseconds poll_interval{5000};
  // How long a model may train (from the service's acceptance) before Train
  // gives up with kDeadlineExceeded.
  std::chrono::milliseconds training_timeout{600000};
  // Sent as p_value_threshold (the service's feature-selection cut-off).
  double p_value_threshold = 0.05;
};

class HttpTrainer final : public Trainer {
 public:
  // Checks the options; makes no request.
  // Errors: kInvalidArgument for a bad URL, a non-positive poll interval or
  // timeout, a p_value_threshold outside [0, 1], or bad http options.
  static Result<std::unique_ptr<HttpTrainer>> Create(const HttpTrainerOptions& options);

  ~HttpTrainer() override;

  // The service URL, without a trailing '/'.
  const std::string& url() const;

  // The POST /train body Train(spec) sends (exposed for logs and tests).
  // Errors: kInvalidArgument when spec.hyperparameters or spec.data_options
  // is not a JSON object, or the symbol is empty.
  Result<std::string> TrainRequestBody(const ModelSpec& spec) const;

  Result<TrainedModel> Train(const ModelSpec& spec) override;
  Result<ImportanceReport> Importance(const std::string& model_id) override;
  Result<ModelSpec> DescribeModel(const std::string& model_id) override;

 private:
  class Impl;
  explicit HttpTrainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// HttpTrainer::Create, as the interface.
Result<std::unique_ptr<Trainer>> NewHttpTrainer(const HttpTrainerOptions& options);

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_HTTP_TRAINER_H_
