// The three services of evolve-engines, each on its own HttpServer:
// the feature service (8100), the training service (8200) and the
// simulation service (8300) of WIRE-CONTRACT.md part B, answered by the
// built-in engines. docs/engines-service.md documents every endpoint.
#ifndef EVOLVE_SERVICES_ENGINES_ENGINES_API_H_
#define EVOLVE_SERVICES_ENGINES_ENGINES_API_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/http/http_server.h"
#include "evolve/http/json_body.h"
#include "evolve/store.h"
#include "model_table.h"

namespace evolve::engines_service {

// Trains the pending records of a ModelTable on `threads` threads, oldest
// first. Stop() lets the trainings in flight finish and drops the queued
// ones (their records are forgotten, as after a restart).
class TrainingPool {
 public:
  TrainingPool(ModelTable& table, Trainer& trainer, int threads, size_t max_queued);
  ~TrainingPool();
  TrainingPool(const TrainingPool&) = delete;
  TrainingPool& operator=(const TrainingPool&) = delete;

  // Queues the pending record `id`. Errors: kUnavailable when the queue is
  // full or the pool is stopping.
  Status Submit(const std::string& id);
  void Stop();

  size_t queued() const;

 private:
  void Loop();

  ModelTable& table_;
  Trainer& trainer_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::vector<std::thread> threads_;
};

struct EnginesContext {
  std::shared_ptr<engines::BarSource> bars;
  engines::BuiltinEngines& engines;
  ModelTable& models;
  TrainingPool& training;
};

// What every handler file uses (SendJson, SendError and SendStatus come
// with Response, by argument-dependent lookup).
using http::Access;
using http::JsonBody;
using http::Method;
using http::Request;
using http::Response;

void RegisterFeatureRoutes(http::HttpServer& server, EnginesContext& ctx);
void RegisterTrainingRoutes(http::HttpServer& server, EnginesContext& ctx);
void RegisterSimulationRoutes(http::HttpServer& server, EnginesContext& ctx);

}  // namespace evolve::engines_service

#endif  // EVOLVE_SERVICES_ENGINES_ENGINES_API_H_
