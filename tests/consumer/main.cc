// Links the installed evolve::evolve, evolve::sqlite and evolve::testing and
// uses them: a fingerprint, a verdict, and a SQLite store at argv[1].
#include <cstdio>

#include "evolve/criteria.h"
#include "evolve/fingerprint.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/testing/fake_engines.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  evolve::ModelSpec spec;
  spec.symbol = "TTRC";
  spec.features = {"sma_20", "rsi_14"};
  auto fingerprint = evolve::Fingerprint(spec);
  auto verdict = evolve::Evaluate(evolve::Criteria{}, evolve::testing::FakeSimulator::PassingResult(3.5));
  if (!fingerprint.ok() || fingerprint->size() != 64 || !verdict.passed) return 1;
  auto store = evolve::sqlite::SqliteStore::Open(argv[1]);
  if (!store.ok() || (*store)->schema_version() != evolve::sqlite::LatestSchemaVersion()) return 1;
  std::printf("consumer ok: %s\n", fingerprint->c_str());
  return 0;
}
