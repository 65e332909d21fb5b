// What `evolve run` and `evolve serve` share: the per-run lock, the checks
// of a new run's config against the data, and the pool of in-process
// workers (with the hand-back of jobs that a killed process's workers held).
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/json.h"
#include "evolve/simulator.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/worker.h"
#include "settings.h"

namespace evolve::cli {

// Refuses to step a run that another live process is stepping: one engine
// per run (evolution.h). The lock is released when its holder dies, even by
// kill -9, so a killed run can be resumed at once.
class RunLock {
 public:
  virtual ~RunLock() = default;

  // Errors: kFailedPrecondition when another process holds the run.
  static Result<std::unique_ptr<RunLock>> Acquire(const StoreSettings& settings, Store& store,
                                                  const std::string& run_id);
};

// "A, B, C".
std::string JoinSymbols(const std::vector<std::string>& symbols);

// The symbol, reference symbols and seed features of `config` against the
// `symbols` (any case) and feature `columns` a data source has: each
// problem names its field ("symbol", "reference_symbols[1]",
// "seed_features[0]"); `source` names the data in the message ("DIR has
// A, B"), `columns_hint` says what lists the columns.
std::vector<FieldError> SymbolAndFeatureProblems(const EvolutionConfig& config,
                                                 const std::vector<std::string>& symbols,
                                                 const std::vector<std::string>& columns,
                                                 const std::string& source, const std::string& columns_hint);

// What is wrong with `config` given the data and the built-in engines: an
// unknown symbol or reference symbol, a seed feature that is not a column,
// an algorithm, hyperparameters or data options the built-in trainer does
// not take. Each problem names its field ("symbol", "reference_symbols[1]",
// "seed_features[0]", "hyperparameters", "data_options.train_window").
std::vector<FieldError> DataProblems(const EvolutionConfig& config, const std::vector<std::string>& symbols,
                                     const std::string& data_dir);

// "1m" for intraday bars of the run's symbol, else "1d": the timeframe of a
// run whose request named none.
Result<std::string> TimeframeOfData(const std::string& symbol, engines::BarDirectory& bars);

int DefaultWorkers();  // the number of cores, at least 1

// N workers draining the store's queue on threads of this process, with ids
// "<prefix>-<host>-<pid>-<n>" so that a later process on this host can tell
// the workers of a dead process from live ones. Their leases are short
// (20 s, heartbeat 5 s): they die with the process.
class WorkerPool {
 public:
  WorkerPool(Store& store, Simulator& simulator, const std::string& prefix, int workers, int max_jobs_per_claim);
  ~WorkerPool();  // Stop()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Stops every worker after its simulation in flight (claimed jobs not
  // started are released) and joins the threads.
  void Stop();
  // The sum of every worker's stats.
  WorkerStats stats() const;
  int size() const { return static_cast<int>(workers_.size()); }

 private:
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

// Hands back at once, as a failed attempt, the jobs that in-process workers
// of a dead `evolve run` or `evolve serve` on this host still hold (it was
// killed): otherwise they would wait for their lease to run out. The attempt
// counts, so a job that kills its process fails for good after
// max_attempts. Only for a SQLite store, whose users share one host; on
// PostgreSQL, leases do this for every host alike. Returns how many jobs it
// handed back.
int ReleaseJobsOfDeadLocalWorkers(Store& store, const std::string& host);

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_RUN_SUPPORT_H_
