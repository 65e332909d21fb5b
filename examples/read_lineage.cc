// Reading lineage: where did the best model come from? A short evolution of
// the bundled TTRC daily bars with the built-in engines, stored in a SQLite
// file; then Store::Ancestry() of the run's best model, walked back to the
// seed and printed as a tree, with the features each step pruned and the
// best SQN each model reached. `evolve lineage MODEL_ID` prints the same from
// the command line, GET /promoted/{id} has it as JSON.
//
//   build/examples/read_lineage [DATA_DIR] [DB_PATH]
//     DATA_DIR: bars as SYMBOL.csv (default: the bundled examples/data)
//     DB_PATH:  the SQLite file (default: a temporary file, removed at the end)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "evolve/engines/builtin.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/worker.h"

#ifndef EVOLVE_EXAMPLES_DATA_DIR
#define EVOLVE_EXAMPLES_DATA_DIR "examples/data"
#endif

namespace {

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// Runs a 3-generation evolution of TTRC and returns the run as stored.
evolve::Result<evolve::Run> Evolve(evolve::Store& store, const std::string& data_dir) {
  evolve::engines::BuiltinOptions options;
  options.data_dir = data_dir;
  EVOLVE_ASSIGN_OR_RETURN(evolve::engines::BuiltinEngines engines, evolve::engines::NewBuiltinEngines(store, options));
  evolve::EngineOptions engine_options;
  engine_options.poll_interval = std::chrono::milliseconds(50);
  evolve::EvolutionEngine engine({*engines.features, *engines.trainer, store}, engine_options);
  evolve::EvolutionConfig config;
  config.symbol = "TTRC";
  config.timeframe = "1d";
  config.max_generations = 3;
  EVOLVE_ASSIGN_OR_RETURN(evolve::Run run, engine.CreateRun(config));
  std::printf("run %s: TTRC, %d generations, built-in engines\n", run.id.c_str(), config.max_generations);

  evolve::WorkerOptions o;
  o.worker_id = "lineage-example-worker";
  o.max_jobs_per_claim = 9;
  o.poll_interval = std::chrono::milliseconds(50);
  evolve::Worker worker(store, &store, *engines.simulator, store.clock(), o);
  std::thread thread([&worker] { (void)worker.Run(); });
  auto done = engine.RunToEnd(run.id);
  worker.RequestStop();
  thread.join();
  return done;
}

int Main(evolve::Store& store, const std::string& data_dir) {
  auto run = Evolve(store, data_dir);
  if (!run.ok()) {
    std::fprintf(stderr, "error: %s\n", run.status().ToString().c_str());
    return 1;
  }
  std::printf("run ended %s (%s); best model %s, best SQN %.2f\n\n", evolve::RunStatusName(run->status),
              run->stop_reason.c_str(), run->best_model_id.c_str(), run->best_sqn.value_or(0.0));
  if (run->best_model_id.empty()) return 1;

  // The best SQN of each model, from the run's generations.
  std::map<std::string, double> sqn_of;
  for (const auto& g : *store.ListGenerations(run->id)) sqn_of[g.model_id] = g.best_sqn.value_or(0.0);

  // Ancestry: the edge whose child is the model, then its parent's edge, ...
  // down to the seed's edge (no parent). Printed seed first.
  auto ancestry = store.Ancestry(run->best_model_id);
  if (!ancestry.ok() || ancestry->empty()) {
    std::fprintf(stderr, "error: no lineage for %s\n", run->best_model_id.c_str());
    return 1;
  }
  std::printf("lineage of %s (%zu steps back to the seed):\n", run->best_model_id.c_str(), ancestry->size() - 1);
  std::string indent;
  for (auto it = ancestry->rbegin(); it != ancestry->rend(); ++it) {
    const evolve::LineageEdge& e = *it;
    if (e.parent_model_id.empty()) {
      std::printf("%s%s  (seed, gen %d: %zu features, best SQN %.2f)\n", indent.c_str(), e.child_model_id.c_str(),
                  e.generation, e.remaining_features.size(), sqn_of[e.child_model_id]);
    } else {
      std::printf("%s`- %s  (gen %d: %zu features, best SQN %.2f)\n", indent.c_str(), e.child_model_id.c_str(),
                  e.generation, e.remaining_features.size(), sqn_of[e.child_model_id]);
      std::printf("%s     pruned %zu (%s, parent SQN %.2f): %s\n", indent.c_str(), e.pruned_features.size(),
                  e.pruning_reason.c_str(), e.parent_sqn.value_or(0.0), Join(e.pruned_features).c_str());
      indent += "   ";
    }
  }
  std::printf("%s   kept: %s\n", indent.c_str(), Join(ancestry->front().remaining_features).c_str());
  // The walk must end at the seed, whose model is the run's seed model.
  return ancestry->back().parent_model_id.empty() && ancestry->back().child_model_id == run->seed_model_id ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kWarning;
  if (const char* env = std::getenv("LOG_LEVEL")) evolve::ParseLogLevel(env, &level);
  evolve::SetLogLevel(level);
  const std::string data_dir = argc > 1 ? argv[1] : EVOLVE_EXAMPLES_DATA_DIR;
  const bool temporary = argc < 3;
  const std::string db =
      temporary ? (std::filesystem::temp_directory_path() / ("read_lineage_" + evolve::NewId("") + ".db")).string()
                : argv[2];
  int exit_code = 1;
  {
    auto store = evolve::sqlite::OpenSqliteStore(db);
    if (!store.ok()) {
      std::fprintf(stderr, "error: %s\n", store.status().ToString().c_str());
      return 1;
    }
    exit_code = Main(**store, data_dir);
  }
  if (temporary) {
    for (const char* suffix : {"", "-wal", "-shm", "-runs.lock"}) std::filesystem::remove(db + suffix);
  }
  return exit_code;
}
