#include "phase_timing.h"

#include <atomic>

#include "evolve/enum_name.h"

namespace evolve::engines {
namespace {

// Nanoseconds and calls per phase; relaxed: they are statistics, ordered
// with nothing else.
std::atomic<int64_t> g_nanos[kEnginePhaseCount];
std::atomic<int64_t> g_calls[kEnginePhaseCount];

}  // namespace

const char* EnginePhaseName(EnginePhase phase) {
  static constexpr const char* kNames[] = {"features",    "fit",      "predict", "importance", "simdata",
                                           "model_store", "sim_load", "backtest"};
  return EnumName<EnginePhase::kBacktest>(phase, kNames, "unknown");
}

EnginePhaseTimes GetEnginePhaseTimes() {
  EnginePhaseTimes t;
  for (int i = 0; i < kEnginePhaseCount; ++i) {
    t.seconds[i] = static_cast<double>(g_nanos[i].load(std::memory_order_relaxed)) * 1e-9;
    t.calls[i] = g_calls[i].load(std::memory_order_relaxed);
  }
  return t;
}

void ResetEnginePhaseTimes() {
  for (int i = 0; i < kEnginePhaseCount; ++i) {
    g_nanos[i].store(0, std::memory_order_relaxed);
    g_calls[i].store(0, std::memory_order_relaxed);
  }
}

void AddEnginePhaseTime(EnginePhase phase, double seconds) {
  const int i = static_cast<int>(phase);
  g_nanos[i].fetch_add(static_cast<int64_t>(seconds * 1e9), std::memory_order_relaxed);
  g_calls[i].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace evolve::engines
