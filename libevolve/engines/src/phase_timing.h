// Cumulative wall time of the built-in engines per phase, process-wide: what
// a benchmark or a log needs to say where an evolution spends its time
// without a profiler. Timing costs two steady_clock reads and two relaxed
// atomic adds per timed scope, a handful per walk-forward span, which is
// nothing next to the fits and backtests they time.
//
// Times are summed over all threads: phases that run concurrently (training
// on one thread, backtests on the workers' threads) add up to more than the
// wall time of the run.
//
// Thread-safety: every function is safe for concurrent use.
#ifndef EVOLVE_ENGINES_SRC_PHASE_TIMING_H_
#define EVOLVE_ENGINES_SRC_PHASE_TIMING_H_

#include <chrono>
#include <cstdint>

namespace evolve::engines {

enum class EnginePhase {
  kFeatures,    // trainer: ComputeFeatures (or the cached frame)
  kFit,         // trainer: gathering the training rows and fitting every walk-forward model
  kPredict,     // trainer: out-of-sample predictions
  kImportance,  // trainer: permutation importance on the out-of-sample rows
  kSimData,     // trainer: regimes and the simulation-data artifact
  kModelStore,  // trainer: encoding and storing the model artifact
  kSimLoad,     // simulator: reading a model and its simulation data
  kBacktest,    // simulator: the backtest grids
};
inline constexpr int kEnginePhaseCount = 8;

// "features", "fit", ... (the enumerator without the k, lower case).
const char* EnginePhaseName(EnginePhase phase);

struct EnginePhaseTimes {
  double seconds[kEnginePhaseCount] = {};
  int64_t calls[kEnginePhaseCount] = {};
};

// The totals since the start of the process (or the last reset).
EnginePhaseTimes GetEnginePhaseTimes();
void ResetEnginePhaseTimes();

// Adds `seconds` (one call) to `phase`.
void AddEnginePhaseTime(EnginePhase phase, double seconds);

// Times its own lifetime into `phase`.
class ScopedEnginePhase {
 public:
  explicit ScopedEnginePhase(EnginePhase phase) : phase_(phase), start_(std::chrono::steady_clock::now()) {}
  ~ScopedEnginePhase() {
    AddEnginePhaseTime(phase_,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  }
  ScopedEnginePhase(const ScopedEnginePhase&) = delete;
  ScopedEnginePhase& operator=(const ScopedEnginePhase&) = delete;

 private:
  EnginePhase phase_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_PHASE_TIMING_H_
