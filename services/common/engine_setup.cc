#include "evolve/service/engine_setup.h"

#include <string>
#include <utility>
#include <vector>

#include "evolve/engines/builtin.h"

namespace evolve::service {

Result<http::ServiceEnginesOptions> RemoteEngineOptions() {
  http::ServiceEnginesOptions options = http::ServiceEnginesOptionsFromEnvironment();
  std::vector<std::string> set, missing;
  for (const auto& [name, url] : {std::pair<const char*, const std::string*>{"FEATURE_URL", &options.feature_url},
                                  {"TRAINING_URL", &options.training_url},
                                  {"SIMULATION_URL", &options.simulation_url}}) {
    (url->empty() ? missing : set).push_back(name);
  }
  if (!set.empty() && !missing.empty()) {
    std::string have, lack;
    for (const std::string& s : set) have += (have.empty() ? "" : ", ") + s;
    for (const std::string& s : missing) lack += (lack.empty() ? "" : ", ") + s;
    return InvalidArgumentError(have + " set but " + lack +
                                " not: the original services work as a set (a model trained by the training "
                                "service is simulated by its simulation service); set all three, or none for "
                                "the built-in engines");
  }
  return options;
}

Result<std::unique_ptr<Simulator>> OpenWorkerSimulator(ArtifactStore& artifacts) {
  http::ServiceEnginesOptions options = http::ServiceEnginesOptionsFromEnvironment();
  if (!options.simulation_url.empty()) {
    options.feature_url.clear();
    options.training_url.clear();
    EVOLVE_ASSIGN_OR_RETURN(http::ServiceEngines remote, http::NewServiceEngines(options));
    return std::move(remote.simulator);
  }
  return engines::NewBuiltinSimulator(artifacts, engines::BuiltinOptions{});
}

Result<std::unique_ptr<Trainer>> OpenWorkerTrainer(ArtifactStore& artifacts) {
  http::ServiceEnginesOptions options = http::ServiceEnginesOptionsFromEnvironment();
  if (!options.training_url.empty()) {
    options.feature_url.clear();
    options.simulation_url.clear();
    EVOLVE_ASSIGN_OR_RETURN(http::ServiceEngines remote, http::NewServiceEngines(options));
    return std::move(remote.trainer);
  }
  return engines::NewBuiltinWorkerTrainer(artifacts, engines::BuiltinOptions{});
}

}  // namespace evolve::service
