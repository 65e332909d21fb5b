// Driving a run against PostgreSQL: the same engine and workers as with
// SQLite, on evolve::postgres::OpenPostgresStore. Opening the store creates or
// migrates the schema; the built-in engines keep their trained models in the
// database (artifacts), so an evolve-worker on any other host with the same
// URL could simulate them: this process runs the engine and two workers,
// `evolve-worker --store URL` processes elsewhere would simply share the queue.
//
//   POSTGRES_URL=postgresql://user@host:5432/db build/examples/postgres_run
//   build/examples/postgres_run postgresql://user@host:5432/db [DATA_DIR]
//
// No server at hand? A throwaway one (trust auth, a free port of 127.0.0.1):
//   scripts/test-postgres.sh start /tmp/evolve-pg
//   build/examples/postgres_run "$(cat /tmp/evolve-pg/url)"
//   scripts/test-postgres.sh stop /tmp/evolve-pg
// CTest runs it on the test server of the `evolve_postgres` fixture, in a
// fresh database (examples/with_test_postgres.sh). Every run has a new random
// id, so running it again on the same database adds a run and collides with
// nothing.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "evolve/engines/builtin.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/postgres/postgres_store.h"
#include "evolve/worker_pool.h"

#ifndef EVOLVE_EXAMPLES_DATA_DIR
#define EVOLVE_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace {

class Printer final : public evolve::EngineObserver {
 public:
  void OnGenerationEvaluated(const evolve::Run&, const evolve::Generation& g) override {
    std::printf("gen %d  %s  features %2zu  pruned %2zu  jobs %d/%d  best SQN %5.2f\n", g.generation,
                g.model_id.c_str(), g.features.size(), g.pruned_features.size(), g.jobs_completed, g.jobs_total,
                g.best_sqn.value_or(0.0));
    std::fflush(stdout);
  }
};

int Fail(const evolve::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kWarning;
  if (const char* env = std::getenv("LOG_LEVEL")) evolve::ParseLogLevel(env, &level);
  evolve::SetLogLevel(level);
  const char* env_url = std::getenv("POSTGRES_URL");
  const std::string url = argc > 1 ? argv[1] : (env_url != nullptr ? env_url : "");
  const std::string data_dir = argc > 2 ? argv[2] : EVOLVE_EXAMPLES_DATA_DIR;
  if (url.empty()) {
    std::fprintf(stderr,
                 "usage: postgres_run [URL [DATA_DIR]]   (or POSTGRES_URL=URL postgres_run)\n"
                 "No PostgreSQL URL given. For a throwaway server:\n"
                 "  scripts/test-postgres.sh start /tmp/evolve-pg\n"
                 "  POSTGRES_URL=$(cat /tmp/evolve-pg/url) %s\n"
                 "  scripts/test-postgres.sh stop /tmp/evolve-pg\n",
                 argv[0]);
    return 2;
  }

  // Connects, and creates or migrates the schema (under an advisory lock, so
  // processes starting together are safe). A newer schema is refused.
  auto store = evolve::postgres::OpenPostgresStore(url);
  if (!store.ok()) return Fail(store.status());
  evolve::Store& db = **store;
  std::printf("connected, schema version %d\n", evolve::postgres::LatestSchemaVersion());

  evolve::engines::BuiltinOptions options;
  options.data_dir = data_dir;
  auto engines = evolve::engines::NewBuiltinEngines(db, options);  // models go to the database
  if (!engines.ok()) return Fail(engines.status());
  Printer printer;
  evolve::EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(100);  // queue events wake it sooner
  evolve::EvolutionEngine engine({*engines->features, *engines->trainer, db, nullptr, &printer}, engine_options);

  evolve::EvolutionConfig config;
  config.symbol = "TTRC";
  config.timeframe = "1d";
  config.max_generations = 2;
  config.regime_configs = {{}, {"regime_vix", {2, 3}}};
  auto run = engine.CreateRun(config);
  if (!run.ok()) return Fail(run.status());
  std::printf("run %s: TTRC, %d generations, %zu jobs per generation\n", run->id.c_str(), config.max_generations,
              config.thresholds.size() * config.regime_configs.size());

  // Workers claim with FOR UPDATE SKIP LOCKED and wake on LISTEN/NOTIFY.
  evolve::WorkerPoolOptions pool_options;
  pool_options.size = 2;
  pool_options.worker.worker_id = evolve::NewId("pg-example-worker-");  // unique among the database's workers
  pool_options.worker.max_jobs_per_claim = 3;
  evolve::WorkerPool pool(db, *engines->simulator, pool_options);
  if (evolve::Status s = pool.Start(); !s.ok()) return Fail(s);
  auto done = engine.RunToEnd(run->id);  // holds the run's lock: no other process steps it meanwhile
  pool.Stop();
  if (!done.ok()) return Fail(done.status());
  std::printf("run ended %s (%s), best SQN %.2f\n", evolve::RunStatusName(done->status), done->stop_reason.c_str(),
              done->best_sqn.value_or(0.0));

  // Everything is in the database: any process with the URL reads it back
  // (`evolve runs --store URL`, `evolve show RUN_ID --store URL`).
  auto counts = db.CountRuns();
  auto jobs = db.CountJobs(evolve::JobFilter{});
  if (!counts.ok() || !jobs.ok()) return Fail(counts.ok() ? jobs.status() : counts.status());
  std::printf("runs in the database: %lld (%lld COMPLETED, %lld PROMOTED); completed jobs: %lld\n",
              static_cast<long long>(counts->total()), static_cast<long long>(counts->Of(evolve::RunStatus::kCompleted)),
              static_cast<long long>(counts->Of(evolve::RunStatus::kPromoted)),
              static_cast<long long>(jobs->completed));
  return done->status == evolve::RunStatus::kFailed ? 1 : 0;
}
