// Issue 19: training on the workers. Separate evolve-worker processes, each
// with its own worker id, reaching only the test PostgreSQL server (never
// the data directory: they take none, and run in a directory of their
// own), train and simulate a whole run; one is killed during a training
// job. And the same run trained inline, by in-process workers and by
// evolve-worker processes gives the same models, predictions, importances
// and job results.
#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cli_postgres_support.h"
#include "cli_test_support.h"
#include "evolve/engines/builtin.h"
#include "evolve/fingerprint.h"
#include "evolve/json.h"
#include "evolve/postgres/postgres_store.h"
#include "evolve/sqlite/sqlite_store.h"
#include "postgres_test_support.h"
#include "process.h"

namespace evolve::testing {
namespace {

std::vector<Job> JobsOf(Store& store, const std::string& run_id) {
  JobFilter filter;
  filter.run_id = run_id;
  auto jobs = store.ListJobs(filter);
  REQUIRE(jobs.ok());
  return *jobs;
}

// The run options every execution here shares: two generations of a small
// grid on SYN, with walk-forward spans short enough to give every training
// part several of them.
std::vector<std::string> RunOptions(const std::string& data_dir) {
  return {"--data-dir",
          data_dir,
          "--symbol",
          "SYN",
          "--generations",
          "2",
          "--pruning-strategy",
          "keep_top_fraction",
          "--pruning-fraction",
          "0.7",
          "--thresholds",
          "0.0001,0.0005",
          "--regimes",
          R"([{}, {"regime_vix": [0, 1]}])",
          "--data-options",
          R"({"train_window": 400, "test_window": 50})"};
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A worker process of its own "host": its own worker id and working
// directory, the store's URL and nothing else.
Process StartWorker(const std::string& url, const std::string& id, const std::string& home) {
  return Process::Spawn({kWorker, "--store", url, "--worker-id", id, "--lease", "3", "--poll-interval", "0.2"},
                        {{"LOG_LEVEL", "WARNING"}}, home);
}

// What a run computed, as one text per item, free of ids and times: per
// generation its fingerprint and a digest of its model (the spec without
// its parent's id, the predictions bar by bar, the importances), and per
// simulation job its grid cell and result.
std::vector<std::string> RunDigest(Store& store, const std::string& run_id) {
  std::vector<std::string> out;
  auto trainer = engines::NewBuiltinWorkerTrainer(store, engines::BuiltinOptions{});
  auto gens = store.ListGenerations(run_id);
  REQUIRE(gens.ok());
  REQUIRE(gens->size() >= 2);
  for (const Generation& g : *gens) {
    auto spec = trainer->DescribeModel(g.model_id);
    REQUIRE_MESSAGE(spec.ok(), spec.status().ToString());
    spec->parent_model_id.clear();  // a model id: random per run
    auto importance = trainer->Importance(g.model_id);
    REQUIRE(importance.ok());
    std::string imp;
    for (const FeatureImportance& f : importance->importances) {
      imp += f.feature + "=" + std::to_string(f.importance) + ";";
    }
    auto predictions = engines::LoadModelPredictions(store, g.model_id);
    REQUIRE(predictions.ok());
    const std::string bytes(reinterpret_cast<const char*>(predictions->prediction.data()),
                            predictions->prediction.size() * sizeof(double));
    out.push_back("g" + std::to_string(g.generation) + " " + g.fingerprint + " spec " + Sha256Hex(ToJson(*spec)) +
                  " predictions " + Sha256Hex(bytes) + " importances " + Sha256Hex(imp));
  }
  for (const Job& job : JobsOf(store, run_id)) {
    if (job.kind != JobKind::kSimulate) continue;
    REQUIRE(job.result.has_value());
    SimulationParams cell = job.params;
    cell.model_id.clear();
    const std::string suffix = job.id.substr(run_id.size());  // "-g1-0003"
    out.push_back(suffix + " " + ToJson(cell) + " " + ToJson(*job.result));
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("postgres cli: evolve-workers without the data train and simulate a run, one killed mid-training") {
  TestDatabase db;
  TempDir data;
  WriteSynthetic(data.path(), 12000, 0.5);
  REQUIRE(RunProcess(Evolve({"migrate", "--store", db.url()})).exit_code == 0);
  // The stepping process runs no worker: every part, assembly and
  // simulation is a worker process's.
  Process engine = Process::Spawn(
      Evolve(Concat({"run", "--store", db.url(), "--workers", "0", "--training", "workers"},
                    RunOptions(data.path()))),
      {{"LOG_LEVEL", "INFO"}});
  std::map<std::string, std::unique_ptr<TempDir>> homes;
  std::map<std::string, Process> workers;
  auto start = [&](const std::string& id) {
    homes.emplace(id, std::make_unique<TempDir>());
    workers.emplace(id, StartWorker(db.url(), id, homes.at(id)->path()));
  };
  start("host-a");
  auto store = OpenPg(db.url());
  std::string run_id;
  std::string killed_job;
  // Kill host-a while it holds a training part: seen holding one, frozen,
  // read again (what a frozen process holds cannot change), then killed.
  auto held_part = [&]() -> std::string {
    for (const Job& job : JobsOf(*store, run_id)) {
      if (job.kind == JobKind::kTrain && job.status == JobStatus::kRunning && job.worker_id == "host-a") {
        return job.id;
      }
    }
    return "";
  };
  const bool killed = WaitFor([&] {
    auto runs = store->ListRuns({});
    if (!runs.ok() || runs->empty()) return false;
    run_id = runs->front().id;
    if (held_part().empty()) return false;
    workers.at("host-a").Signal(SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    killed_job = held_part();
    if (killed_job.empty()) {
      workers.at("host-a").Signal(SIGCONT);
      return false;
    }
    workers.at("host-a").Signal(SIGKILL);
    return true;
  });
  REQUIRE_MESSAGE(killed, "host-a never held a training part; the engine said: " << engine.ErrSoFar());
  CHECK(workers.at("host-a").Wait().exit_code == 128 + SIGKILL);
  start("host-b");
  start("host-c");

  const ProcessResult run = engine.Wait();
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  for (const char* id : {"host-b", "host-c"}) StopWorkerCleanly(workers.at(id));

  // The killed part: done once, by a live worker, its holder's death
  // counted and its attempt given back.
  auto part = store->GetJob(killed_job);
  REQUIRE(part.ok());
  CHECK(part->status == JobStatus::kCompleted);
  CHECK(part->worker_id != "host-a");
  CHECK(part->deaths == 1);
  CHECK(part->attempts == 1);

  // Everything was trained and simulated on the queue: parts, assemblies
  // and simulations, every one completed once.
  const std::vector<Job> jobs = JobsOf(*store, run_id);
  size_t parts = 0, assemblies = 0, simulations = 0;
  for (const Job& job : jobs) {
    parts += job.kind == JobKind::kTrain;
    assemblies += job.kind == JobKind::kAssemble;
    simulations += job.kind == JobKind::kSimulate;
  }
  auto gens = store->ListGenerations(run_id);
  REQUIRE(gens.ok());
  const size_t trained = static_cast<size_t>(std::count_if(
      gens->begin(), gens->end(), [](const Generation& g) { return !g.reused_model; }));
  CHECK(trained >= 2);
  CHECK(assemblies == trained);
  CHECK(parts == trained * static_cast<size_t>(engines::BuiltinOptions{}.training_parts));
  CHECK(simulations >= 4 * gens->size());
  CheckEveryJobCompletedOnce(*store, run_id, simulations);
  for (const Generation& g : *gens) {
    CAPTURE(g.generation);
    CHECK(engines::LoadModelPredictions(*store, g.model_id).ok());
  }
  // The stepping process trained nothing itself: it logged queueing, never
  // a model of its own.
  CHECK(Contains(run.err, "msg=\"training model\""));
  CHECK_FALSE(Contains(run.err, "msg=\"model trained\""));
}

TEST_CASE("postgres cli: inline, in-process and distributed training give identical models and results") {
  TempDir data;
  WriteSynthetic(data.path(), 5000, 0.5);

  // Inline: the stepping process trains (one worker simulates).
  TempDir inline_dir;
  const std::string inline_db = inline_dir / "evolve.db";
  ProcessResult r = RunProcess(
      Evolve(Concat({"run", "--db", inline_db, "--workers", "1", "--training", "inline", "--json"},
                    RunOptions(data.path()))));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);

  // On the queue, three in-process workers.
  TempDir queued_dir;
  const std::string queued_db = queued_dir / "evolve.db";
  r = RunProcess(Evolve(
      Concat({"run", "--db", queued_db, "--workers", "3", "--training", "workers", "--json"}, RunOptions(data.path()))));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);

  // On the queue, two evolve-worker processes on PostgreSQL.
  TestDatabase db;
  REQUIRE(RunProcess(Evolve({"migrate", "--store", db.url()})).exit_code == 0);
  TempDir home_a, home_b;
  Process a = StartWorker(db.url(), "host-a", home_a.path());
  Process b = StartWorker(db.url(), "host-b", home_b.path());
  r = RunProcess(Evolve(Concat({"run", "--store", db.url(), "--workers", "0", "--training", "workers", "--json"},
                               RunOptions(data.path()))));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  a.Signal(SIGTERM);
  b.Signal(SIGTERM);
  CHECK(a.Wait().exit_code == 0);
  CHECK(b.Wait().exit_code == 0);

  auto only_run = [](Store& store) {
    auto runs = store.ListRuns({});
    REQUIRE(runs.ok());
    REQUIRE(runs->size() == 1);
    return runs->front().id;
  };
  auto inline_store = sqlite::OpenSqliteStore(inline_db);
  auto queued_store = sqlite::OpenSqliteStore(queued_db);
  REQUIRE(inline_store.ok());
  REQUIRE(queued_store.ok());
  auto pg = OpenPg(db.url());
  const std::vector<std::string> inline_digest = RunDigest(**inline_store, only_run(**inline_store));
  const std::vector<std::string> queued_digest = RunDigest(**queued_store, only_run(**queued_store));
  const std::vector<std::string> distributed_digest = RunDigest(*pg, only_run(*pg));
  REQUIRE(inline_digest.size() > 4);
  CHECK(inline_digest == queued_digest);
  CHECK(inline_digest == distributed_digest);
  // Training did happen on the queue in the two: the digests compared
  // models trained differently.
  size_t parts = 0;
  for (const Job& job : JobsOf(*pg, only_run(*pg))) parts += job.kind == JobKind::kTrain;
  CHECK(parts > 0);
}

}  // namespace
}  // namespace evolve::testing
