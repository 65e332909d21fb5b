#include "evolve/simulator.h"

namespace evolve {

std::vector<Result<SimulationResult>> Simulator::SimulateMany(const std::vector<SimulationParams>& params) {
  std::vector<Result<SimulationResult>> results;
  results.reserve(params.size());
  for (const auto& p : params) results.push_back(Simulate(p));
  return results;
}

}  // namespace evolve
