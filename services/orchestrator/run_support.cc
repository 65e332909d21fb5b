#include "run_support.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <functional>

#include "args.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#ifdef EVOLVE_HAVE_POSTGRES
#include "evolve/postgres/postgres_store.h"
#endif

namespace evolve::cli {
namespace {

// The prefixes of in-process worker ids (WorkerPool).
const char* const kLocalWorkerPrefixes[] = {"evolve-run", "evolve-serve"};

Status Busy(const std::string& run_id) {
  return FailedPreconditionError("run " + run_id + " is being run by another process; wait for it or stop it");
}

class FileRunLock final : public RunLock {
 public:
  explicit FileRunLock(int fd) : fd_(fd) {}
  ~FileRunLock() override { ::close(fd_); }

 private:
  int fd_;
};

#ifdef EVOLVE_HAVE_POSTGRES
class PostgresRunLock final : public RunLock {
 public:
  explicit PostgresRunLock(std::unique_ptr<postgres::PostgresStore::SessionLock> lock) : lock_(std::move(lock)) {}

 private:
  std::unique_ptr<postgres::PostgresStore::SessionLock> lock_;
};
#endif

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The pid of an in-process worker on `host` whose process is no longer
// running, or 0.
pid_t DeadLocalWorkerPid(const std::string& worker_id, const std::string& host) {
  for (const char* kind : kLocalWorkerPrefixes) {
    const std::string prefix = std::string(kind) + "-" + host + "-";
    if (worker_id.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dash = worker_id.find('-', prefix.size());
    if (dash == std::string::npos) return 0;
    auto pid = ParseInt("worker id", worker_id.substr(prefix.size(), dash - prefix.size()));
    if (!pid.ok() || *pid <= 0 || *pid == ::getpid()) return 0;
    return ::kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH ? static_cast<pid_t>(*pid) : 0;
  }
  return 0;
}

}  // namespace

Result<std::unique_ptr<RunLock>> RunLock::Acquire(const StoreSettings& settings, Store& store,
                                                 const std::string& run_id) {
#ifdef EVOLVE_HAVE_POSTGRES
  if (!settings.url.empty()) {
    // Across hosts: a session advisory lock on the database.
    auto* pg = dynamic_cast<postgres::PostgresStore*>(&store);
    if (pg == nullptr) return InternalError("the PostgreSQL settings opened another kind of store");
    auto lock = pg->TryLock("run/" + run_id);
    if (lock.status().code() == StatusCode::kAborted) return Busy(run_id);
    if (!lock.ok()) return lock.status();
    return std::unique_ptr<RunLock>(new PostgresRunLock(std::move(*lock)));
  }
#endif
  (void)store;
  // One host: an OFD lock on one byte of "<db>-runs.lock" per run.
  const std::string path = settings.sqlite_path + "-runs.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return UnavailableError("cannot open lock file " + path);
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(std::hash<std::string>{}(run_id) % (uint64_t{1} << 40));
  fl.l_len = 1;
  if (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    ::close(fd);
    return Busy(run_id);
  }
  return std::unique_ptr<RunLock>(new FileRunLock(fd));
}

std::string JoinSymbols(const std::vector<std::string>& symbols) {
  std::string list;
  for (const std::string& s : symbols) list += (list.empty() ? "" : ", ") + s;
  return list;
}

std::vector<FieldError> SymbolAndFeatureProblems(const EvolutionConfig& config,
                                                 const std::vector<std::string>& symbols,
                                                 const std::vector<std::string>& columns,
                                                 const std::string& source, const std::string& columns_hint) {
  std::vector<FieldError> problems;
  auto has = [&symbols](const std::string& s) {
    const std::string upper = Upper(s);
    return std::any_of(symbols.begin(), symbols.end(), [&upper](const std::string& k) { return Upper(k) == upper; });
  };
  const std::string list = JoinSymbols(symbols);
  if (!has(config.symbol)) {
    problems.push_back({"symbol", "unknown symbol '" + config.symbol + "': " + source + " has " + list});
  }
  for (size_t i = 0; i < config.reference_symbols.size(); ++i) {
    const std::string& r = config.reference_symbols[i];
    if (!has(r)) {
      problems.push_back({"reference_symbols[" + std::to_string(i) + "]",
                          "unknown symbol '" + r + "': " + source + " has " + list});
    }
  }
  for (size_t i = 0; i < config.seed_features.size(); ++i) {
    const std::string& f = config.seed_features[i];
    if (std::find(columns.begin(), columns.end(), f) == columns.end()) {
      problems.push_back({"seed_features[" + std::to_string(i) + "]",
                          "unknown feature '" + f + "' (" + columns_hint + " shows the columns)"});
    }
  }
  return problems;
}

std::vector<FieldError> DataProblems(const EvolutionConfig& config, const std::vector<std::string>& symbols,
                                     const std::string& data_dir) {
  std::vector<FieldError> problems = SymbolAndFeatureProblems(
      config, symbols, engines::FeatureNames(config.reference_symbols), data_dir,
      "evolve features " + config.symbol + " --data-dir " + data_dir);
  // What the built-in trainer would refuse: "field: message".
  auto refused = [&problems](const Status& status) {
    if (status.ok()) return;
    const std::string& m = status.message();
    const size_t colon = m.find(": ");
    if (colon == std::string::npos) {
      problems.push_back({"algorithm", m});
    } else {
      problems.push_back({m.substr(0, colon), m.substr(colon + 2)});
    }
  };
  const ModelSpec spec = SpecFor(config, config.seed_features);
  refused(engines::ValidateBuiltinSpec(spec));
  // Where the holdout falls: only once the symbol and the scheme are known good.
  if (problems.empty()) {
    engines::BarDirectory directory(data_dir);
    auto bars = directory.Load(config.symbol);
    if (bars.ok()) refused(engines::ValidateBuiltinSplit(spec, (*bars)->time));
  }
  return problems;
}

Result<std::string> TimeframeOfData(const std::string& symbol, engines::BarDirectory& bars) {
  EVOLVE_ASSIGN_OR_RETURN(std::shared_ptr<const engines::Bars> b, bars.Load(symbol));
  return std::string(b->intraday ? "1m" : "1d");
}

int DefaultWorkers() { return std::max(1u, std::thread::hardware_concurrency()); }

WorkerPool::WorkerPool(Store& store, Simulator& simulator, const std::string& prefix, int workers,
                       int max_jobs_per_claim) {
  const std::string host = HostName();
  for (int i = 0; i < workers; ++i) {
    WorkerOptions o;
    o.worker_id = prefix + "-" + host + "-" + std::to_string(::getpid()) + "-" + std::to_string(i + 1);
    o.host = host;
    o.pid = ::getpid();
    o.max_jobs_per_claim = std::max(1, max_jobs_per_claim);
    // In-process workers die with the process; a short lease lets another
    // process take their jobs back soon after a kill -9.
    o.lease = std::chrono::seconds(20);
    o.heartbeat_interval = std::chrono::seconds(5);
    o.poll_interval = std::chrono::seconds(1);
    workers_.push_back(std::make_unique<Worker>(store, &store, simulator, store.clock(), o));
    threads_.emplace_back([w = workers_.back().get()] {
      Status s = w->Run();
      if (!s.ok()) Log(LogLevel::kError, "worker stopped", {{"error", s.ToString()}});
    });
  }
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  for (auto& w : workers_) w->RequestStop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

WorkerStats WorkerPool::stats() const {
  WorkerStats total;
  for (const auto& w : workers_) {
    const WorkerStats s = w->stats();
    total.claimed += s.claimed;
    total.completed += s.completed;
    total.failed += s.failed;
    total.retried += s.retried;
    total.released += s.released;
    total.lost += s.lost;
  }
  return total;
}

int ReleaseJobsOfDeadLocalWorkers(Store& store, const std::string& host) {
  JobFilter running;
  running.status = JobStatus::kRunning;
  auto jobs = store.ListJobs(running);
  if (!jobs.ok()) return 0;  // the leases will do it
  int released = 0;
  for (const Job& job : *jobs) {
    const pid_t pid = DeadLocalWorkerPid(job.worker_id, host);
    if (pid == 0) continue;
    Status s = store.FailJob(job.id, job.worker_id, "the evolve process " + std::to_string(pid) + " died",
                             /*retryable=*/true);
    if (s.ok()) ++released;
  }
  return released;
}

}  // namespace evolve::cli
