// The three HTTP adapters of the original services, built at once from the
// services' URLs (TRAINING_URL, SIMULATION_URL, FEATURE_URL), for the shells
// to use instead of the built-in engines.
//
// Thread-safety: the functions are safe to call concurrently; the adapters
// are safe for concurrent use.
#ifndef EVOLVE_HTTP_SERVICE_ENGINES_H_
#define EVOLVE_HTTP_SERVICE_ENGINES_H_

#include <chrono>
#include <memory>
#include <string>

#include "evolve/feature_source.h"
#include "evolve/http/service_options.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/trainer.h"

namespace evolve::http {

struct ServiceEnginesOptions {
  // An empty URL leaves that adapter out (null), so a shell may mix the
  // built-in engines with remote services.
  std::string feature_url;
  std::string training_url;
  std::string simulation_url;
  // Timeouts, retries, pool and clock for all three (its url is ignored).
  ServiceClientOptions http;
  // HttpTrainerOptions.
  std::chrono::milliseconds poll_interval{5000};
  std::chrono::milliseconds training_timeout{600000};
  double p_value_threshold = 0.05;
  // HttpSimulatorOptions.
  bool send_costs = true;
};

// The URLs from the environment: FEATURE_URL, TRAINING_URL, SIMULATION_URL
// (unset or empty: ""); everything else at its default.
ServiceEnginesOptions ServiceEnginesOptionsFromEnvironment();

struct ServiceEngines {
  std::unique_ptr<FeatureSource> features;  // null when feature_url is empty
  std::unique_ptr<Trainer> trainer;         // null when training_url is empty
  std::unique_ptr<Simulator> simulator;     // null when simulation_url is empty
};

// Builds the adapters whose URL is set; makes no request.
// Errors: kInvalidArgument naming the variable (FEATURE_URL, TRAINING_URL,
// SIMULATION_URL) whose URL or options are bad.
Result<ServiceEngines> NewServiceEngines(const ServiceEnginesOptions& options);

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_SERVICE_ENGINES_H_
