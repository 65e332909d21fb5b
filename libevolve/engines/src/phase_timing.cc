#include "evolve/engines/phase_timing.h"

#include <atomic>

namespace evolve::engines {
namespace {

// Nanoseconds and calls per phase; relaxed: they are statistics, ordered
// with nothing else.
std::atomic<int64_t> g_nanos[kEnginePhaseCount];
std::atomic<int64_t> g_calls[kEnginePhaseCount];

}  // namespace

const char* EnginePhaseName(EnginePhase phase) {
  switch (phase) {
    case EnginePhase::kFeatures:
      return "features";
    case EnginePhase::kFit:
      return "fit";
    case EnginePhase::kPredict:
      return "predict";
    case EnginePhase::kImportance:
      return "importance";
    case EnginePhase::kSimData:
      return "simdata";
    case EnginePhase::kModelStore:
      return "model_store";
    case EnginePhase::kSimLoad:
      return "sim_load";
    case EnginePhase::kBacktest:
      return "backtest";
  }
  return "unknown";
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
