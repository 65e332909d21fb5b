#include "evolve/worker_pool.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <thread>

#include "evolve/log.h"

namespace evolve {
namespace {

WorkerStats Sum(WorkerStats total, const WorkerStats& s) {
  total.claimed += s.claimed;
  total.completed += s.completed;
  total.failed += s.failed;
  total.retried += s.retried;
  total.released += s.released;
  total.lost += s.lost;
  return total;
}

std::string WorkerIdAt(const WorkerPoolOptions& options, int i) {
  return options.size == 1 ? options.worker.worker_id
                           : options.worker.worker_id + "-" + std::to_string(i + 1);
}

// True when `pid` names no running process of this host.
bool ProcessIsGone(int64_t pid) { return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

WorkerPoolOptions InProcessWorkerPoolOptions(const std::string& id_prefix, int size, int max_jobs_per_claim) {
  WorkerPoolOptions o;
  o.size = size;
  o.worker.host = HostName();
  o.worker.pid = ::getpid();
  o.worker.worker_id = id_prefix + "-" + o.worker.host + "-" + std::to_string(o.worker.pid);
  o.worker.max_jobs_per_claim = std::max(1, max_jobs_per_claim);
  o.worker.lease = std::chrono::seconds(20);
  o.worker.heartbeat_interval = std::chrono::seconds(5);
  o.worker.poll_interval = std::chrono::seconds(1);
  return o;
}

class WorkerPool::Impl {
 public:
  Impl(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Trainer* trainer, Clock& clock,
       WorkerPoolOptions options)
      : queue_(queue),
        registry_(registry),
        simulator_(simulator),
        trainer_(trainer),
        clock_(clock),
        options_(std::move(options)) {
    if (options_.worker.host.empty()) options_.worker.host = HostName();
    if (options_.worker.pid == 0) options_.worker.pid = ::getpid();
  }

  ~Impl() {
    RequestStop();
    (void)Wait();
  }

  Status Start() {
    EVOLVE_RETURN_IF_ERROR(ValidateOptions(options_));
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return FailedPreconditionError("the worker pool was started already");
    started_ = true;
    if (stop_requested_) return Status::Ok();
    results_.assign(static_cast<size_t>(options_.size), Status::Ok());
    for (int i = 0; i < options_.size; ++i) {
      WorkerOptions o = options_.worker;
      o.worker_id = WorkerIdAt(options_, i);
      workers_.push_back(std::make_unique<Worker>(queue_, registry_, simulator_, trainer_, clock_, o));
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      threads_.emplace_back([this, i] {
        Status s = workers_[i]->Run();
        if (!s.ok()) {
          Log(LogLevel::kError, "worker stopped",
              {{"worker_id", WorkerIdAt(options_, static_cast<int>(i))}, {"error", s.ToString()}});
        }
        std::lock_guard<std::mutex> guard(mu_);
        results_[i] = s;
      });
    }
    return Status::Ok();
  }

  void RequestStop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
    for (auto& w : workers_) w->RequestStop();
  }

  Status Wait() {
    // Only Start() adds threads, and it is called from this thread.
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const Status& s : results_) {
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  int size() const { return options_.size; }

  std::vector<WorkerReport> Reports() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<WorkerReport> reports;
    for (size_t i = 0; i < workers_.size(); ++i) {
      reports.push_back({WorkerIdAt(options_, static_cast<int>(i)), workers_[i]->stats(), results_[i]});
    }
    return reports;
  }

 private:
  WorkerQueue& queue_;
  WorkerRegistry* registry_;
  Simulator& simulator_;
  Trainer* trainer_;
  Clock& clock_;
  WorkerPoolOptions options_;
  mutable std::mutex mu_;
  bool started_ = false;                          // guarded by mu_
  bool stop_requested_ = false;                   // guarded by mu_
  std::vector<std::unique_ptr<Worker>> workers_;  // fixed once Start() returns; guarded by mu_ before
  std::vector<Status> results_;                   // guarded by mu_
  std::vector<std::thread> threads_;              // Start() and Wait() only
};

WorkerPool::WorkerPool(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Clock& clock,
                       WorkerPoolOptions options)
    : WorkerPool(queue, registry, simulator, nullptr, clock, std::move(options)) {}

WorkerPool::WorkerPool(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Trainer* trainer,
                       Clock& clock, WorkerPoolOptions options)
    : impl_(std::make_unique<Impl>(queue, registry, simulator, trainer, clock, std::move(options))) {}

WorkerPool::WorkerPool(Store& store, Simulator& simulator, WorkerPoolOptions options)
    : WorkerPool(store, &store, simulator, store.clock(), std::move(options)) {}

WorkerPool::~WorkerPool() = default;

Status WorkerPool::ValidateOptions(const WorkerPoolOptions& options) {
  if (options.size < 0) return InvalidArgumentError("size: must be >= 0");
  if (options.size == 0) return Status::Ok();  // nothing to run: the jobs are other processes'
  WorkerOptions last = options.worker;
  last.worker_id = WorkerIdAt(options, options.size - 1);  // the longest id
  return Worker::ValidateOptions(last);
}

Status WorkerPool::Start() { return impl_->Start(); }
void WorkerPool::RequestStop() { impl_->RequestStop(); }
Status WorkerPool::Wait() { return impl_->Wait(); }

void WorkerPool::Stop() {
  impl_->RequestStop();
  (void)impl_->Wait();
}

int WorkerPool::size() const { return impl_->size(); }

WorkerStats WorkerPool::stats() const {
  WorkerStats total;
  for (const WorkerReport& r : impl_->Reports()) total = Sum(total, r.stats);
  return total;
}

std::vector<WorkerReport> WorkerPool::reports() const { return impl_->Reports(); }

Result<int> ReleaseJobsOfDeadWorkers(JobQueue& queue, WorkerRegistry& registry, const std::string& host) {
  EVOLVE_ASSIGN_OR_RETURN(std::vector<WorkerInfo> workers, registry.ListWorkers());
  std::map<std::string, int64_t> dead;  // worker id -> pid
  for (const WorkerInfo& w : workers) {
    if (w.status != "ACTIVE" || w.host != host || w.pid <= 0 || w.pid == ::getpid()) continue;
    if (ProcessIsGone(w.pid)) dead[w.id] = w.pid;
  }
  if (dead.empty()) return 0;
  // Holder deaths, not failures (JobQueue's rule): the claims' attempts come
  // back, and a job is quarantined only after kJobDeathLimit deaths.
  int released = 0;
  for (const auto& [worker_id, pid] : dead) {
    EVOLVE_ASSIGN_OR_RETURN(int n, queue.ReclaimJobsOfWorker(worker_id, "the process " + std::to_string(pid) +
                                                                            " on " + host + " died"));
    released += n;
  }
  for (const auto& entry : dead) (void)registry.DeregisterWorker(entry.first);
  return released;
}

}  // namespace evolve
