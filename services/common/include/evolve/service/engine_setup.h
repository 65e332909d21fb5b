// Which engines a binary runs on (ARCHITECTURE.md section 5): the original
// feature, training and simulation services over HTTP (evolve::http) when
// FEATURE_URL, TRAINING_URL and SIMULATION_URL are set, else the built-in
// ones over the store's artifacts.
#ifndef EVOLVE_SERVICE_ENGINE_SETUP_H_
#define EVOLVE_SERVICE_ENGINE_SETUP_H_

#include <memory>

#include "evolve/http/service_engines.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/trainer.h"

namespace evolve::service {

// The services' URLs from the environment: all three or none.
// Errors: kInvalidArgument naming what is missing or malformed.
Result<http::ServiceEnginesOptions> RemoteEngineOptions();

// The simulator of a worker: the simulation service at SIMULATION_URL when
// it is set, else the built-in simulator over `artifacts` (which must
// outlive it).
Result<std::unique_ptr<Simulator>> OpenWorkerSimulator(ArtifactStore& artifacts);

// The trainer of a worker's training jobs: the training service at
// TRAINING_URL when it is set, else the built-in trainer of a worker (no
// data directory: the bars come from `artifacts`, which must outlive it).
Result<std::unique_ptr<Trainer>> OpenWorkerTrainer(ArtifactStore& artifacts);

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_ENGINE_SETUP_H_
