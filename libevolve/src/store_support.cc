#include "evolve/store_support.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace evolve {

int64_t QueueListeners::Subscribe(std::function<void(const QueueEvent&)> listener) {
  auto entry = std::make_shared<Listener>();
  entry->fn = std::move(listener);
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t handle = next_handle_++;
  listeners_.emplace(handle, std::move(entry));
  return handle;
}

void QueueListeners::Unsubscribe(int64_t handle) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = listeners_.find(handle);
  if (it == listeners_.end()) return;
  std::shared_ptr<Listener> listener = it->second;
  listeners_.erase(it);
  listener->removed = true;
  // Once Unsubscribe returns, the owner may destroy what the listener uses,
  // so wait for calls in flight on other threads. A listener that
  // unsubscribes itself is in flight on this thread: do not wait for it.
  const std::thread::id self = std::this_thread::get_id();
  cv_.wait(lock, [&listener, self] { return listener->callers.size() == listener->callers.count(self); });
}

void QueueListeners::Notify(const std::vector<QueueEvent>& events) {
  if (events.empty()) return;
  std::vector<std::shared_ptr<Listener>> snapshot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& entry : listeners_) snapshot.push_back(entry.second);
  }
  const std::thread::id self = std::this_thread::get_id();
  for (const std::shared_ptr<Listener>& listener : snapshot) {
    for (const QueueEvent& event : events) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        // Unsubscribed since the snapshot: its owner may be gone.
        if (listener->removed) break;
        listener->callers.insert(self);
      }
      try {
        listener->fn(event);
      } catch (...) {
        // A listener is a wake-up hint; its failure must not fail the store
        // call that already committed.
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        listener->callers.erase(listener->callers.find(self));
      }
      cv_.notify_all();
    }
  }
}

void AddEvent(std::vector<QueueEvent>* events, QueueEvent::Kind kind, const std::string& run_id,
              const std::string& batch_id) {
  for (const QueueEvent& e : *events) {
    if (e.kind == kind && e.batch_id == batch_id && e.run_id == run_id) return;
  }
  events->push_back(QueueEvent{kind, run_id, batch_id});
}

void AddEvent(std::vector<QueueEvent>* events, QueueEvent::Kind kind, const Job& job) {
  AddEvent(events, kind, job.run_id, job.batch_id);
}

Status CheckPage(int limit, int offset) {
  if (limit < 0) return InvalidArgumentError("limit: must be >= 0, got " + std::to_string(limit));
  if (offset < 0) return InvalidArgumentError("offset: must be >= 0, got " + std::to_string(offset));
  return Status::Ok();
}

Status ValidateBatch(const std::string& batch_id, const std::vector<Job>& jobs) {
  if (batch_id.empty()) return InvalidArgumentError("batch_id: must not be empty");
  std::set<std::string> ids;
  for (const Job& job : jobs) {
    if (job.id.empty()) return InvalidArgumentError("job id: must not be empty");
    if (job.batch_id != batch_id) {
      return InvalidArgumentError("job " + job.id + ": batch_id is '" + job.batch_id + "', expected '" +
                                  batch_id + "'");
    }
    if (!ids.insert(job.id).second) {
      return InvalidArgumentError("job id " + job.id + " repeats in batch " + batch_id);
    }
    if (!std::isfinite(job.priority)) {
      return InvalidArgumentError("job " + job.id + ": priority must be finite");
    }
    if (job.max_attempts < 1) {
      return InvalidArgumentError("job " + job.id + ": max_attempts must be >= 1");
    }
    // A training job is its task; a simulation is its params.
    const bool training = job.kind != JobKind::kSimulate;
    if (training == job.task.empty()) {
      return InvalidArgumentError("job " + job.id + ": task: must " + (training ? "not " : "") +
                                  "be empty for a " + JobKindName(job.kind) + " job");
    }
  }
  return Status::Ok();
}

Status ValidateClaim(const ClaimHolder& holder, int max_jobs, Duration lease) {
  if (holder.worker_id.empty()) return InvalidArgumentError("worker_id: must not be empty");
  const std::string& token = holder.claim_token;
  if (!token.empty()) {
    const bool well_formed =
        token.size() >= 32 && token.size() <= 128 && std::all_of(token.begin(), token.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 c == '-';
        });
    if (!well_formed) return InvalidArgumentError("claim_token: must be 32-128 characters of [0-9A-Za-z_-]");
  }
  if (max_jobs < 1) return InvalidArgumentError("max_jobs: must be >= 1, got " + std::to_string(max_jobs));
  if (lease <= Duration::zero()) return InvalidArgumentError("lease: must be positive");
  return Status::Ok();
}

Status CheckLeaseHolder(const std::string& job_id, const ClaimHolder& claimant, JobStatus status,
                        const std::string& holder, const std::string& claim_token) {
  const std::string& worker_id = claimant.worker_id;
  if (status != JobStatus::kRunning) {
    return AbortedError("job " + job_id + " is " + JobStatusName(status) + ", not RUNNING for worker " +
                        worker_id);
  }
  if (holder != worker_id) {
    return AbortedError("job " + job_id + " is held by other worker " + holder + ", not " + worker_id);
  }
  // Compared in time independent of where they differ: a caller must not
  // learn a token a prefix at a time.
  const std::string& given = claimant.claim_token;
  unsigned char diff = given.size() == claim_token.size() ? 0 : 1;
  for (size_t i = 0; i < given.size() && i < claim_token.size(); ++i) {
    diff |= static_cast<unsigned char>(given[i] ^ claim_token[i]);
  }
  if (diff != 0) {
    return AbortedError("job " + job_id + " is held by worker " + worker_id + " under " +
                        (claim_token.empty() ? "a claim without a claim token"
                         : given.empty()     ? "a claim token, which was not presented"
                                             : "another claim token"));
  }
  return Status::Ok();
}

std::string NewClaimToken() {
  unsigned char bytes[16];
  size_t filled = 0;
  while (filled < sizeof(bytes)) {
    const ssize_t n = getrandom(bytes + filled, sizeof(bytes) - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::fprintf(stderr, "evolve: getrandom failed (errno %d): cannot make a claim token\n", errno);
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(2 * sizeof(bytes));
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  return token;
}

std::string LeaseExpiredMessage(const std::string& worker_id) {
  return "lease expired (worker " + worker_id + ")";
}

std::string LeaseExhaustedMessage(int attempts, const std::string& worker_id) {
  return "lease expired after " + std::to_string(attempts) + " attempts (last worker " + worker_id + ")";
}

std::string HolderDeathError(const std::string& previous, int deaths_before, const std::string& death) {
  std::string evidence = deaths_before > 0 && !previous.empty() ? previous + "; " + death : death;
  if (deaths_before + 1 < kJobDeathLimit) return evidence;
  return "quarantined after " + std::to_string(deaths_before + 1) + " holder deaths: " + evidence;
}

std::string JoinRunStatuses(const std::vector<RunStatus>& statuses) {
  std::string out;
  for (RunStatus s : statuses) {
    if (!out.empty()) out += ", ";
    out += RunStatusName(s);
  }
  return out.empty() ? "(none)" : out;
}

Result<std::vector<Status>> JobQueue::FinishJobs(const std::string& worker_id,
                                                 const std::vector<JobOutcome>& outcomes) {
  std::vector<Status> statuses;
  statuses.reserve(outcomes.size());
  bool any_written = false;
  for (const JobOutcome& o : outcomes) {
    const ClaimHolder holder(worker_id, o.claim_token);
    // CompleteJob has no output to write: a training job's outcome needs a
    // backend's own FinishJobs (all of libevolve's have one), and is refused
    // here rather than written without it.
    Status s = !o.output.empty() ? FailedPreconditionError("job " + o.job_id +
                                                           ": this store cannot keep a training job's output "
                                                           "(its JobQueue does not override FinishJobs)")
               : o.result.has_value() ? CompleteJob(o.job_id, holder, *o.result)
                                      : FailJob(o.job_id, holder, o.error, o.retryable);
    any_written = any_written || s.ok();
    statuses.push_back(std::move(s));
  }
  // Nothing written because the store is away: one error for the call, as
  // a backend that writes the batch in one transaction would give.
  if (!any_written && !statuses.empty() && statuses.front().IsRetryable()) return statuses.front();
  return statuses;
}

struct InProcessRunLocks::Table {
  std::mutex mu;
  std::set<std::string> held;  // guarded by mu
};

namespace {

class InProcessRunLock final : public RunLock {
 public:
  InProcessRunLock(std::string run_id, std::shared_ptr<InProcessRunLocks::Table> table,
                   std::function<void()> release)
      : RunLock(std::move(run_id)), table_(std::move(table)), release_(std::move(release)) {}

  ~InProcessRunLock() override {
    if (release_) release_();
    std::lock_guard<std::mutex> lock(table_->mu);
    table_->held.erase(run_id());
  }

 private:
  std::shared_ptr<InProcessRunLocks::Table> table_;
  std::function<void()> release_;
};

}  // namespace

InProcessRunLocks::InProcessRunLocks() : table_(std::make_shared<Table>()) {}

Result<std::unique_ptr<RunLock>> InProcessRunLocks::TryLock(const std::string& run_id,
                                                            std::function<void()> release) {
  {
    std::lock_guard<std::mutex> lock(table_->mu);
    if (!table_->held.insert(run_id).second) return RunBusyError(run_id);
  }
  return std::unique_ptr<RunLock>(new InProcessRunLock(run_id, table_, std::move(release)));
}

Status RunBusyError(const std::string& run_id) {
  return FailedPreconditionError("run " + run_id +
                                 " is being run by another process; wait for it or stop it");
}

}  // namespace evolve
