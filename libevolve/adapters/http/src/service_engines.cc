#include "evolve/http/service_engines.h"

#include <cstdlib>
#include <utility>

#include "evolve/http/http_feature_source.h"
#include "evolve/http/http_simulator.h"
#include "evolve/http/http_trainer.h"

namespace evolve::http {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

ServiceClientOptions WithUrl(const ServiceClientOptions& http, const std::string& url) {
  ServiceClientOptions out = http;
  out.url = url;
  return out;
}

}  // namespace

ServiceEnginesOptions ServiceEnginesOptionsFromEnvironment() {
  ServiceEnginesOptions options;
  options.feature_url = Env("FEATURE_URL");
  options.training_url = Env("TRAINING_URL");
  options.simulation_url = Env("SIMULATION_URL");
  return options;
}

Result<ServiceEngines> NewServiceEngines(const ServiceEnginesOptions& options) {
  ServiceEngines engines;
  if (!options.feature_url.empty()) {
    auto features = HttpFeatureSource::Create({WithUrl(options.http, options.feature_url)});
    if (!features.ok()) return features.status().WithContext("FEATURE_URL");
    engines.features = std::move(*features);
  }
  if (!options.training_url.empty()) {
    HttpTrainerOptions trainer_options;
    trainer_options.http = WithUrl(options.http, options.training_url);
    trainer_options.poll_interval = options.poll_interval;
    trainer_options.training_timeout = options.training_timeout;
    trainer_options.p_value_threshold = options.p_value_threshold;
    auto trainer = HttpTrainer::Create(trainer_options);
    if (!trainer.ok()) return trainer.status().WithContext("TRAINING_URL");
    engines.trainer = std::move(*trainer);
  }
  if (!options.simulation_url.empty()) {
    HttpSimulatorOptions simulator_options;
    simulator_options.http = WithUrl(options.http, options.simulation_url);
    simulator_options.send_costs = options.send_costs;
    auto simulator = HttpSimulator::Create(simulator_options);
    if (!simulator.ok()) return simulator.status().WithContext("SIMULATION_URL");
    engines.simulator = std::move(*simulator);
  }
  return engines;
}

}  // namespace evolve::http
