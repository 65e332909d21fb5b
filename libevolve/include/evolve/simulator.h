// Simulator: backtests one trained model under one set of parameters.
//
// Implementations: the built-in walk-forward backtester, the HTTP adapter for
// the original simulation service (port 8300), fakes in evolve/testing.
//
// Thread-safety: implementations must be safe for concurrent calls; workers
// run several simulations at once.
#ifndef EVOLVE_SIMULATOR_H_
#define EVOLVE_SIMULATOR_H_

#include <vector>

#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve {

class Simulator {
 public:
  Simulator() = default;
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;
  virtual ~Simulator() = default;

  // Runs the simulation and returns its metrics.
  // Errors: kInvalidArgument / kNotFound for parameters that can never
  // succeed (unknown model, unknown regime column): the job fails for good;
  // kUnavailable / kDeadlineExceeded when the simulator could not be reached
  // or timed out: the job is retried (up to its max_attempts);
  // kInternal when the simulation itself failed: the job fails for good.
  virtual Result<SimulationResult> Simulate(const SimulationParams& params) = 0;

  // Simulates several parameter sets at once, typically the threshold x
  // regime grid of one model, and returns one result per entry, in order.
  // The default calls Simulate for each; engines that can share the work
  // (one pass over the bars for the whole grid) override it. Workers call
  // it with the consecutive jobs of one claim that share a model.
  virtual std::vector<Result<SimulationResult>> SimulateMany(const std::vector<SimulationParams>& params);
};

}  // namespace evolve

#endif  // EVOLVE_SIMULATOR_H_
