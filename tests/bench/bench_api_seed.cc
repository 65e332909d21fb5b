// Benchmark support (issue 6): fills a store with a realistic history for
// the REST API load test (tests/bench/run.sh --only api), through the public
// Store API only (no engine, no training).
//
//   bench_api_seed (--db PATH | --store URL) [--runs N] [--seed S]
//
// PATH is a SQLite file (created; it must not hold runs yet); URL is a
// PostgreSQL database (postgresql://...; its schema is created or upgraded).
// N runs (default 1,000) in this mix, by share of N:
//
//   COMPLETED 48%  1-4 evaluated generations; stop_reason max_generations / no_pruning
//   PROMOTED  15%  1-4 generations, the last with a passing result and a Promotion
//   STOPPED   15%  paused by the user between two generations
//   FAILED    10%  the last generation's every simulation failed (jobs FAILED)
//   CANCELLED  7%  cancelled mid-generation: some jobs COMPLETED, the rest CANCELLED
//   RUNNING    5%  waiting on the current generation's batch: jobs PENDING, RUNNING
//                  (held by remote workers with a 1 h lease) and COMPLETED
//
// No run is PENDING: `evolve serve` adopts PENDING runs at start and would
// train their seed models during the load test. The RUNNING runs are adopted
// too, and wait for their batches (with --workers 0 nobody simulates).
//
// Every generation has a fingerprint record, a lineage edge (generation 0's
// has no parent), and a batch of 3 (the POST /evolve default grid) or 12 (4
// thresholds x 3 regime filters) jobs, completed with results of plausible
// metrics through ClaimJobs / FinishJobs, so every status count and every
// result is as the engine and the workers would have written them. Four
// remote workers are registered (and heartbeat) so /api/stats and GET
// /workers have some.
//
// Prints key=value lines: runs, generations, jobs, lineage_edges,
// promotions, workers, runs_<status> for each status, jobs_<status> for each
// job status, seconds. Exits 1 on any store error.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "evolve/evolution.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/store.h"
#include "evolve/types.h"
#ifdef EVOLVE_BENCH_HAVE_POSTGRES
#include "evolve/postgres/postgres_store.h"
#endif

namespace {

using evolve::Duration;
using evolve::Job;
using evolve::JobStatus;
using evolve::RunStatus;
using evolve::Status;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench_api_seed: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.ToString());
}

template <typename T>
T Take(evolve::Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().ToString());
  return std::move(*r);
}

const char* const kSymbols[] = {"TTRC", "SPY", "QQQ", "IWM", "AAPL", "MSFT", "NVDA", "TLT"};
const char* const kFeatures[] = {
    "rsi_14",   "rsi_2",      "ibs",          "sma_ratio_10", "sma_ratio_50", "ema_ratio_20", "macd",
    "macd_sig", "atr_14",     "natr_14",      "bb_pct_20",    "bb_width_20",  "roc_5",        "roc_20",
    "cci_20",   "willr_14",   "stoch_k",      "stoch_d",      "adx_14",       "obv_z",        "vol_z_20",
    "ret_1",    "ret_5",      "ret_20",       "hl_range",     "gap",          "close_z_20",   "mfi_14",
    "cmf_20",   "donchian_20", "regime_gmm",  "regime_vix"};
constexpr int kFeatureCount = sizeof(kFeatures) / sizeof(kFeatures[0]);

class Seeder {
 public:
  Seeder(evolve::Store& store, uint64_t seed) : store_(store), rng_(seed) {}

  void Run(int n) {
    for (int i = 0; i < 4; ++i) {
      evolve::WorkerInfo w;
      w.id = "worker-" + std::string(1, static_cast<char>('a' + i));
      w.host = "sim-host-" + std::to_string(i / 2 + 1);
      w.pid = 4000 + i;
      Check(store_.RegisterWorker(w), "RegisterWorker");
      workers_.push_back(w.id);
    }
    // The plan: finished runs first (they leave nothing pending), the
    // RUNNING runs last.
    struct Share {
      RunStatus status;
      int per_mille;
    };
    const Share mix[] = {{RunStatus::kCompleted, 480}, {RunStatus::kPromoted, 150}, {RunStatus::kStopped, 150},
                         {RunStatus::kFailed, 100},    {RunStatus::kCancelled, 70}, {RunStatus::kRunning, 50}};
    std::vector<RunStatus> plan;
    for (const Share& s : mix) {
      for (int i = 0; i < n * s.per_mille / 1000; ++i) plan.push_back(s.status);
    }
    while (static_cast<int>(plan.size()) < n) plan.push_back(RunStatus::kCompleted);
    // Interleave the finished ones so the newest-first pages mix statuses.
    const size_t finished = plan.size() - static_cast<size_t>(n * 50 / 1000);
    std::shuffle(plan.begin(), plan.begin() + static_cast<std::ptrdiff_t>(finished), rng_);
    for (RunStatus status : plan) SeedRun(status);
    // Jobs of RUNNING runs that nobody has started yet go back to PENDING.
    for (const auto& [job_id, worker] : to_release_) {
      Check(store_.ReleaseJob(job_id, worker), "ReleaseJob " + job_id);
    }
    for (const std::string& w : workers_) {
      std::vector<std::string> current;
      for (const auto& [job_id, holder] : held_) {
        if (holder == w) current.push_back(job_id);
      }
      Check(store_.WorkerHeartbeat(w, current), "WorkerHeartbeat");
    }
  }

  int generations = 0, jobs = 0, edges = 0, promotions = 0;

 private:
  double Uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  int Between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  evolve::SimulationResult MakeResult(bool passing) {
    evolve::SimulationResult r;
    r.trade_count = passing ? Between(220, 900) : Between(20, 1500);
    r.total_trades = 2 * r.trade_count;
    r.sqn = passing ? Uniform(3.05, 4.6) : Uniform(-1.5, 2.9);
    r.sqn_100 = *r.sqn * 0.8;
    r.profit_factor = passing ? Uniform(2.05, 3.5) : Uniform(0.6, 1.95);  // others never pass
    r.weekly_consistency = passing ? Uniform(0.2, 0.45) : Uniform(0.3, 1.4);
    r.win_rate = Uniform(0.38, 0.62);
    r.expectancy = Uniform(-0.002, 0.004);
    r.gross_profit = Uniform(0.5, 3.0);
    r.gross_loss = r.gross_profit / *r.profit_factor;
    r.total_return_pct = Uniform(-20, 80);
    r.benchmark_return_pct = Uniform(-10, 40);
    r.max_drawdown_pct = Uniform(3, 35);
    r.sharpe = Uniform(-0.5, 2.5);
    r.exposure = Uniform(0.1, 0.7);
    r.trades_per_week = Uniform(0.5, 6);
    r.weeks_traded = Between(50, 1100);
    r.start_date = "1985-01-02";
    r.end_date = "2006-12-29";
    return r;
  }

  evolve::EvolutionConfig MakeConfig(bool big_grid) {
    evolve::EvolutionConfig c;
    c.symbol = kSymbols[Between(0, static_cast<int>(sizeof(kSymbols) / sizeof(kSymbols[0])) - 1)];
    c.timeframe = c.symbol == "TTRC" ? "1d" : "1m";
    c.max_generations = 4;
    if (big_grid) {
      c.thresholds = {0.0001, 0.0003, 0.0005, 0.001};
      evolve::RegimeFilter gmm{"regime_gmm", {0}}, vix{"regime_vix", {2, 3}};
      c.regime_configs = {evolve::RegimeFilter{}, gmm, vix};
      c.sqn_min = 2.5;
    }
    c.hyperparameters = R"({"n_estimators": 100, "max_depth": 10, "min_samples_leaf": 5})";
    return c;
  }

  // What a generation's jobs end as.
  enum class BatchEnd { kCompleted, kPassing, kAllFailed, kCancelled, kWaiting };

  // Enqueues, claims and finishes one generation's batch; returns the jobs.
  std::vector<Job> SeedBatch(const evolve::Run& run, evolve::Generation& gen, BatchEnd end) {
    const evolve::EvolutionConfig& c = run.config;
    gen.batch_id = run.id + "_g" + std::to_string(gen.generation);
    std::vector<Job> batch;
    for (double threshold : c.thresholds) {
      for (const evolve::RegimeFilter& regime : c.regime_configs) {
        Job job;
        job.id = gen.batch_id + "_j" + std::to_string(batch.size());
        job.batch_id = gen.batch_id;
        job.run_id = run.id;
        job.model_id = gen.model_id;
        job.generation = gen.generation;
        job.priority = gen.parent_sqn.value_or(0.0);
        job.params.model_id = gen.model_id;
        job.params.ticker = c.symbol;
        job.params.threshold = threshold;
        job.params.regime = regime;
        batch.push_back(job);
      }
    }
    Take(store_.EnqueueBatch(gen.batch_id, batch), "EnqueueBatch");
    jobs += static_cast<int>(batch.size());
    const std::string& worker = workers_[static_cast<size_t>(Between(0, static_cast<int>(workers_.size()) - 1))];
    // Only this batch is pending now (earlier ones were all claimed), so the
    // claim takes exactly its jobs.
    std::vector<Job> claimed = Take(
        store_.ClaimJobs(worker, static_cast<int>(batch.size()),
                         std::chrono::duration_cast<Duration>(std::chrono::hours(1))),
        "ClaimJobs");
    if (claimed.size() != batch.size()) Die("claimed " + std::to_string(claimed.size()) + " jobs of a new batch");
    std::vector<evolve::JobOutcome> outcomes;
    size_t finish = claimed.size();
    if (end == BatchEnd::kCancelled) finish = claimed.size() / 2;
    if (end == BatchEnd::kWaiting) finish = claimed.size() / 3;
    // The passing result: never one of the odd failed jobs (every 11th).
    const size_t passing = end == BatchEnd::kPassing
                               ? static_cast<size_t>(Between(0, std::min(static_cast<int>(finish), 10) - 1))
                               : claimed.size();
    for (size_t i = 0; i < finish; ++i) {
      evolve::JobOutcome o;
      o.job_id = claimed[i].id;
      if (end == BatchEnd::kAllFailed) {
        o.error = "simulation: no bars for " + c.symbol + " in the test window";
      } else if (i % 11 == 10) {
        o.error = "simulation: model artifact unreadable";  // the odd failed job
      } else {
        o.result = MakeResult(i == passing);
      }
      outcomes.push_back(o);
    }
    if (!outcomes.empty()) {
      std::vector<Status> written = Take(store_.FinishJobs(worker, outcomes), "FinishJobs");
      for (const Status& s : written) Check(s, "FinishJobs outcome");
    }
    for (size_t i = finish; i < claimed.size(); ++i) {
      // Cancelled runs: back to PENDING now, cancelled with the run. Waiting
      // runs: one job in three keeps running, the rest are released at the end.
      if (end == BatchEnd::kWaiting && i % 3 == 0) {
        held_.emplace_back(claimed[i].id, worker);
      } else if (end == BatchEnd::kWaiting) {
        to_release_.emplace_back(claimed[i].id, worker);
      } else {
        Check(store_.ReleaseJob(claimed[i].id, worker), "ReleaseJob");
      }
    }
    gen.jobs_total = static_cast<int>(batch.size());
    evolve::JobFilter filter;
    filter.batch_id = gen.batch_id;
    return Take(store_.ListJobs(filter), "ListJobs");
  }

  // Fills the generation's summary as the engine's evaluation does.
  void Evaluate(const evolve::Run& run, evolve::Generation& gen, const std::vector<Job>& batch) {
    const Job* best = nullptr;
    gen.jobs_completed = gen.jobs_failed = gen.jobs_passing = 0;
    for (const Job& j : batch) {
      if (j.status == JobStatus::kFailed) ++gen.jobs_failed;
      if (j.status != JobStatus::kCompleted || !j.result) continue;
      ++gen.jobs_completed;
      if (*j.result->sqn >= run.config.sqn_min && j.result->trade_count >= run.config.trade_count_min &&
          *j.result->profit_factor >= run.config.profit_factor_min &&
          *j.result->weekly_consistency < run.config.weekly_consistency_max) {
        ++gen.jobs_passing;
      }
      if (best == nullptr || *j.result->sqn > *best->result->sqn) best = &j;
    }
    if (best != nullptr) {
      gen.best_sqn = best->result->sqn;
      gen.best_profit_factor = best->result->profit_factor;
      gen.best_trade_count = best->result->trade_count;
      gen.best_job_id = best->id;
      gen.verdict = gen.jobs_passing > 0 ? "PASS" : "FAIL: sqn below 3";
    } else {
      gen.verdict = "FAIL: no completed simulation";
    }
    gen.state = evolve::GenerationState::kEvaluated;
  }

  void SeedRun(RunStatus final_status) {
    evolve::Run run;
    run.id = evolve::NewId("run_");
    run.config = MakeConfig(Between(0, 2) == 0);
    // Created RUNNING (cancelled ones are cancelled through the store at the end).
    const bool active = final_status == RunStatus::kRunning || final_status == RunStatus::kCancelled;
    run.status = active ? RunStatus::kRunning : final_status;
    int gens = Between(1, run.config.max_generations);
    if (final_status == RunStatus::kStopped) gens = Between(1, 3);

    std::vector<std::string> features(kFeatures, kFeatures + kFeatureCount);
    std::string parent;
    std::optional<double> parent_sqn;
    std::vector<evolve::Generation> saved;
    for (int g = 0; g < gens; ++g) {
      evolve::Generation gen;
      gen.run_id = run.id;
      gen.generation = g;
      gen.model_id = evolve::NewId("model_");
      gen.parent_model_id = parent;
      gen.parent_sqn = parent_sqn;
      std::vector<std::string> pruned;
      if (g > 0) {
        const int cut = Between(1, std::max(1, static_cast<int>(features.size()) / 3));
        pruned.assign(features.end() - cut, features.end());
        features.resize(features.size() - static_cast<size_t>(cut));
        gen.pruning_reason = "importance <= 0: " + std::to_string(cut) + " features";
      }
      gen.features = features;
      gen.pruned_features = pruned;
      evolve::FingerprintRecord fp;
      fp.fingerprint = evolve::NewId("fp_") + evolve::NewId("");
      fp.model_id = gen.model_id;
      fp.spec.symbol = run.config.symbol;
      fp.spec.timeframe = run.config.timeframe;
      fp.spec.features = features;
      fp.spec.hyperparameters = run.config.hyperparameters;
      fp.spec.parent_model_id = parent;
      gen.fingerprint = fp.fingerprint;
      saved.push_back(gen);
      parent = gen.model_id;
      parent_sqn = Uniform(0.2, 2.9);
      fingerprints_.push_back(fp);
    }
    run.current_generation = gens - 1;
    run.seed_model_id = saved.front().model_id;
    Check(store_.CreateRun(run), "CreateRun");

    std::optional<double> best_sqn;
    std::string best_model;
    for (int g = 0; g < gens; ++g) {
      evolve::Generation& gen = saved[static_cast<size_t>(g)];
      const bool last = g == gens - 1;
      Take(store_.RecordFingerprint(fingerprints_[static_cast<size_t>(g)]), "RecordFingerprint");
      evolve::LineageEdge edge;
      edge.id = run.id + "_e" + std::to_string(g);
      edge.run_id = run.id;
      edge.parent_model_id = gen.parent_model_id;
      edge.child_model_id = gen.model_id;
      edge.generation = g;
      edge.parent_sqn = gen.parent_sqn;
      edge.pruned_features = gen.pruned_features;
      edge.remaining_features = gen.features;
      edge.pruning_reason = g == 0 ? "seed" : gen.pruning_reason;
      Check(store_.AddLineageEdge(edge), "AddLineageEdge");
      ++edges;
      BatchEnd end = BatchEnd::kCompleted;
      if (last && final_status == RunStatus::kPromoted) end = BatchEnd::kPassing;
      if (last && final_status == RunStatus::kFailed) end = BatchEnd::kAllFailed;
      if (last && final_status == RunStatus::kCancelled) end = BatchEnd::kCancelled;
      if (last && final_status == RunStatus::kRunning) end = BatchEnd::kWaiting;
      std::vector<Job> batch = SeedBatch(run, gen, end);
      if (end == BatchEnd::kWaiting || end == BatchEnd::kCancelled) {
        gen.state = evolve::GenerationState::kSimulating;
      } else {
        Evaluate(run, gen, batch);
        if (gen.best_sqn && (!best_sqn || *gen.best_sqn > *best_sqn)) {
          best_sqn = gen.best_sqn;
          best_model = gen.model_id;
        }
      }
      Check(store_.SaveGeneration(gen), "SaveGeneration");
      ++generations;
      if (end == BatchEnd::kPassing) {
        const Job* win = nullptr;
        for (const Job& j : batch) {
          if (j.id == gen.best_job_id) win = &j;
        }
        if (win == nullptr) Die("no best job in a promoted generation");
        evolve::Promotion p;
        p.id = evolve::NewId("promo_");
        p.model_id = gen.model_id;
        p.run_id = run.id;
        p.generation = g;
        p.job_id = win->id;
        p.sqn = *win->result->sqn;
        p.profit_factor = win->result->profit_factor;
        p.trade_count = win->result->trade_count;
        p.weekly_consistency = win->result->weekly_consistency;
        p.ticker = run.config.symbol;
        p.regime = win->params.regime;
        p.threshold = win->params.threshold;
        p.spec = fingerprints_[static_cast<size_t>(g)].spec;
        p.result = *win->result;
        Check(store_.SavePromotion(p), "SavePromotion");
        ++promotions;
        run.promoted = true;
        run.promotion_id = p.id;
      }
    }
    fingerprints_.clear();
    run.best_sqn = best_sqn;
    run.best_model_id = best_model;
    switch (final_status) {
      case RunStatus::kCompleted:
        run.stop_reason = gens == run.config.max_generations ? evolve::kStopMaxGenerations : evolve::kStopNoPruning;
        break;
      case RunStatus::kPromoted:
        run.stop_reason = evolve::kStopPromoted;
        break;
      case RunStatus::kStopped:
        run.stop_reason = evolve::kStopStopped;
        break;
      case RunStatus::kFailed:
        run.stop_reason = evolve::kStopFailed;
        run.error = "generation " + std::to_string(gens - 1) + ": every simulation failed";
        break;
      default:
        break;
    }
    Check(store_.UpdateRun(run, run.status), "UpdateRun");
    if (final_status == RunStatus::kCancelled) {
      Check(store_.TransitionRun(run.id, {RunStatus::kRunning}, RunStatus::kCancelled, evolve::kStopCancelled, ""),
            "TransitionRun");
    }
  }

  evolve::Store& store_;
  std::mt19937_64 rng_;
  std::vector<std::string> workers_;
  std::vector<evolve::FingerprintRecord> fingerprints_;
  std::vector<std::pair<std::string, std::string>> held_;        // (job, worker): stays RUNNING
  std::vector<std::pair<std::string, std::string>> to_release_;  // (job, worker): PENDING at the end
};

}  // namespace

int main(int argc, char** argv) {
  std::string db, url;
  int runs = 1000;
  uint64_t seed = 42;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--db") {
      db = next();
    } else if (a == "--store") {
      url = next();
    } else if (a == "--runs") {
      runs = std::atoi(next().c_str());
    } else if (a == "--seed") {
      seed = std::strtoull(next().c_str(), nullptr, 10);
    } else {
      Die("usage: bench_api_seed (--db PATH | --store URL) [--runs N] [--seed S]");
    }
  }
  if (db.empty() == url.empty()) Die("give one of --db PATH and --store URL");
  if (runs < 20) Die("--runs: at least 20");

  std::unique_ptr<evolve::Store> store;
  if (!db.empty()) {
    store = Take(evolve::sqlite::OpenSqliteStore(db), "open " + db);
  } else {
#ifdef EVOLVE_BENCH_HAVE_POSTGRES
    store = Take(evolve::postgres::OpenPostgresStore(url), "open PostgreSQL store");
#else
    Die("this build has no PostgreSQL store");
#endif
  }
  if (Take(store->CountRuns(), "CountRuns").total() != 0) Die("the store holds runs already; give an empty one");

  const auto start = std::chrono::steady_clock::now();
  Seeder seeder(*store, seed);
  seeder.Run(runs);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const evolve::RunCounts rc = Take(store->CountRuns(), "CountRuns");
  const evolve::JobCounts jc = Take(store->CountJobs(evolve::JobFilter{}), "CountJobs");
  std::printf("runs=%lld\ngenerations=%d\njobs=%d\nlineage_edges=%d\npromotions=%d\nworkers=4\n",
              static_cast<long long>(rc.total()), seeder.generations, jc.total(), seeder.edges,
              seeder.promotions);
  for (RunStatus s : {RunStatus::kPending, RunStatus::kRunning, RunStatus::kPromoted, RunStatus::kCompleted,
                      RunStatus::kStopped, RunStatus::kCancelled, RunStatus::kFailed}) {
    std::string name = evolve::RunStatusName(s);
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::printf("runs_%s=%lld\n", name.c_str(), static_cast<long long>(rc.Of(s)));
  }
  std::printf("jobs_pending=%d\njobs_running=%d\njobs_completed=%d\njobs_failed=%d\njobs_cancelled=%d\n",
              jc.pending, jc.running, jc.completed, jc.failed, jc.cancelled);
  std::printf("seconds=%.2f\n", seconds);
  if (rc.total() != runs || seeder.jobs != jc.total()) Die("the store does not hold what was seeded");
  return 0;
}
