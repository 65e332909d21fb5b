// Links the installed evolve::evolve, evolve::engines, evolve::sqlite,
// evolve::testing (and evolve::postgres, evolve::http when built) and uses
// them: a fingerprint, a verdict, the built-in feature names and a date (with
// every public header of the engines included), a SQLite store
// at argv[1], a PostgreSQL store that cannot connect, and HTTP adapters
// that refuse a bad URL.
#include <cstdio>

#include "evolve/criteria.h"
// Every public header of the engines: each must compile from the install.
#include "evolve/engines/backtest.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/calendar.h"
#include "evolve/engines/features.h"
#include "evolve/engines/regimes.h"
#include "evolve/engines/synthetic.h"
#include "evolve/fingerprint.h"
#ifdef EVOLVE_CONSUMER_HAS_HTTP
#include "evolve/http/service_engines.h"
#endif
#include "evolve/sqlite/sqlite_store.h"
#ifdef EVOLVE_CONSUMER_HAS_POSTGRES
#include "evolve/postgres/postgres_store.h"
#endif
#include "evolve/testing/fake_engines.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  evolve::ModelSpec spec;
  spec.symbol = "TTRC";
  spec.features = {"sma_20", "rsi_14"};
  auto fingerprint = evolve::Fingerprint(spec);
  auto verdict = evolve::Evaluate(evolve::Criteria{}, evolve::testing::FakeSimulator::PassingResult(3.5));
  if (!fingerprint.ok() || fingerprint->size() != 64 || !verdict.passed) return 1;
  if (evolve::engines::FeatureNames({}).size() != evolve::engines::OwnFeatureNames().size()) return 1;
  if (evolve::engines::UtcDate(0) != "1970-01-01") return 1;
  auto store = evolve::sqlite::OpenSqliteStore(argv[1]);
  if (!store.ok() || evolve::sqlite::LatestSchemaVersion() < 1 || !(*store)->CountRuns().ok()) return 1;
#ifdef EVOLVE_CONSUMER_HAS_POSTGRES
  // Nothing listens on port 1: the store must say so, not crash.
  auto pg = evolve::postgres::OpenPostgresStore("postgresql://evolve@127.0.0.1:1/none");
  if (pg.ok() || pg.status().code() != evolve::StatusCode::kUnavailable) return 1;
#endif
#ifdef EVOLVE_CONSUMER_HAS_HTTP
  evolve::http::ServiceEnginesOptions remote;
  remote.training_url = "ftp://nowhere";
  auto adapters = evolve::http::NewServiceEngines(remote);
  if (adapters.ok() || adapters.status().code() != evolve::StatusCode::kInvalidArgument) return 1;
#endif
  std::printf("consumer ok: %s\n", fingerprint->c_str());
  return 0;
}
