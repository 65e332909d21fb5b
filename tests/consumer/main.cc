// Links the installed evolve::evolve and evolve::testing and uses both.
#include <cstdio>

#include "evolve/criteria.h"
#include "evolve/fingerprint.h"
#include "evolve/testing/fake_engines.h"

int main() {
  evolve::ModelSpec spec;
  spec.symbol = "TTRC";
  spec.features = {"sma_20", "rsi_14"};
  auto fingerprint = evolve::Fingerprint(spec);
  auto verdict = evolve::Evaluate(evolve::Criteria{}, evolve::testing::FakeSimulator::PassingResult(3.5));
  if (!fingerprint.ok() || fingerprint->size() != 64 || !verdict.passed) return 1;
  std::printf("consumer ok: %s\n", fingerprint->c_str());
  return 0;
}
