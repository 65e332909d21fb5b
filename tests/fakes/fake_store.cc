// FakeStore: the in-memory reference implementation of the Store contract.
//
// One mutex guards all data, so every method is trivially atomic. The job
// queue keeps ordered indexes beside the job map (PENDING jobs of each kind,
// RUNNING jobs by lease end), so that claims and reaping touch only the jobs
// they change: finished jobs never slow a claim, which is the property the
// real backends get from partial indexes.
//
// Listeners are called after the data mutex is released, so a listener may
// call back into the store (e.g. claim the jobs it was told about).
#include "evolve/testing/fake_store.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "evolve/store_support.h"

namespace evolve::testing {
namespace {

// Position of a PENDING job in claim order: priority DESC, created_at ASC,
// id ASC. Negating the priority lets std::set's ascending order be claim
// order.
struct ClaimKey {
  double neg_priority;
  TimePoint created_at;
  std::string id;

  bool operator<(const ClaimKey& other) const {
    return std::tie(neg_priority, created_at, id) < std::tie(other.neg_priority, other.created_at, other.id);
  }
};

ClaimKey ClaimKeyOf(const Job& job) { return ClaimKey{-job.priority, job.created_at, job.id}; }

bool InClaimOrder(const Job& a, const Job& b) { return ClaimKeyOf(a) < ClaimKeyOf(b); }

// Applies offset/limit (limit 0: everything after offset) in place.
template <typename T>
void Page(std::vector<T>* items, int limit, int offset) {
  const size_t start = std::min(items->size(), static_cast<size_t>(offset));
  items->erase(items->begin(), items->begin() + static_cast<std::ptrdiff_t>(start));
  if (limit > 0 && items->size() > static_cast<size_t>(limit)) {
    items->resize(static_cast<size_t>(limit));
  }
}

}  // namespace

struct FakeStore::State {
  explicit State(Clock& c) : clock(c) {}

  Clock& clock;
  FaultInjector faults;

  std::mutex mu;
  // Everything below up to the listeners is guarded by mu.
  std::map<std::string, Run> runs;
  std::map<std::pair<std::string, int>, Generation> generations;
  std::map<std::string, FingerprintRecord> fingerprints;
  std::map<std::string, LineageEdge> edges;  // by edge id
  // child_model_id -> (created_at, edge id), so the oldest edge is first.
  std::map<std::string, std::set<std::pair<TimePoint, std::string>>> edges_by_child;
  std::map<std::string, Job> jobs;
  std::map<std::string, std::vector<std::string>> jobs_by_batch;
  std::map<std::string, std::vector<std::string>> jobs_by_run;
  // PENDING jobs of each kind (by JobKind), each in claim order: a claim
  // merges the kinds it takes and never visits the others.
  std::array<std::set<ClaimKey>, static_cast<size_t>(JobKind::kAssemble) + 1> pending;
  std::set<std::pair<TimePoint, std::string>> running;  // RUNNING jobs by lease_until
  std::map<std::string, Promotion> promotions;
  std::map<std::string, std::string> artifacts;
  std::map<std::string, WorkerInfo> workers;
  InProcessRunLocks run_locks;  // not under mu: it has its own

  QueueListeners listeners;  // called with mu released

  // REQUIRES: mu held. The PENDING jobs of `kind`.
  std::set<ClaimKey>& PendingOf(JobKind kind) { return pending.at(static_cast<size_t>(kind)); }

  // REQUIRES: mu held. Moves a job out of the RUNNING state's index.
  void ForgetLease(const Job& job) {
    if (job.status == JobStatus::kRunning && job.lease_until.has_value()) {
      running.erase({*job.lease_until, job.id});
    }
  }

  // REQUIRES: mu held. The common gate of heartbeat/complete/fail/release:
  // the job exists and `worker_id` holds it (CheckLeaseHolder).
  Status Fence(const std::string& job_id, const ClaimHolder& holder, Job** out) {
    auto it = jobs.find(job_id);
    if (it == jobs.end()) return NotFoundError("job " + job_id + " not found");
    EVOLVE_RETURN_IF_ERROR(
        CheckLeaseHolder(job_id, holder, it->second.status, it->second.worker_id, it->second.claim_token));
    *out = &it->second;
    return Status::Ok();
  }

  // REQUIRES: mu held. CompleteJob's change, fenced: a simulation keeps
  // `result`, a training job `output` and no result.
  Status Complete(const std::string& job_id, const ClaimHolder& holder, const SimulationResult& result,
                  const std::string& output, TimePoint now, std::vector<QueueEvent>* events) {
    const std::string& worker_id = holder.worker_id;
    Job* job = nullptr;
    EVOLVE_RETURN_IF_ERROR(Fence(job_id, holder, &job));
    Finish(*job, JobStatus::kCompleted, now);
    if (job->kind == JobKind::kSimulate) {
      job->result = result;
    } else {
      job->output = output;
    }
    job->error.clear();
    auto worker = workers.find(worker_id);
    if (worker != workers.end()) ++worker->second.jobs_completed;
    AddEvent(events, QueueEvent::Kind::kJobFinished, *job);
    return Status::Ok();
  }

  // REQUIRES: mu held. FailJob's change, fenced.
  Status Fail(const std::string& job_id, const ClaimHolder& holder, const std::string& error, bool retryable,
              TimePoint now, std::vector<QueueEvent>* events) {
    const std::string& worker_id = holder.worker_id;
    Job* job = nullptr;
    EVOLVE_RETURN_IF_ERROR(Fence(job_id, holder, &job));
    job->error = error;
    if (retryable && job->attempts < job->max_attempts) {
      ReturnToPending(*job, now);
      AddEvent(events, QueueEvent::Kind::kJobsAvailable, *job);
    } else {
      Finish(*job, JobStatus::kFailed, now);
      auto worker = workers.find(worker_id);
      if (worker != workers.end()) ++worker->second.jobs_failed;
      AddEvent(events, QueueEvent::Kind::kJobFinished, *job);
    }
    return Status::Ok();
  }

  // REQUIRES: mu held. RUNNING -> PENDING, back at its place in claim order.
  void ReturnToPending(Job& job, TimePoint now) {
    ForgetLease(job);
    job.status = JobStatus::kPending;
    job.worker_id.clear();
    job.claim_token.clear();
    job.lease_until.reset();
    job.updated_at = now;
    PendingOf(job.kind).insert(ClaimKeyOf(job));
  }

  // REQUIRES: mu held. RUNNING -> a final status.
  void Finish(Job& job, JobStatus status, TimePoint now) {
    ForgetLease(job);
    job.status = status;
    job.claim_token.clear();
    job.lease_until.reset();
    job.updated_at = now;
  }
};

FakeStore::FakeStore(Clock& clock) : state_(std::make_unique<State>(clock)) {}

FakeStore::~FakeStore() = default;

FaultInjector& FakeStore::faults() { return state_->faults; }

Clock& FakeStore::clock() { return state_->clock; }

Result<std::unique_ptr<RunLock>> FakeStore::TryLockRun(const std::string& run_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("TryLockRun"));
  return state_->run_locks.TryLock(run_id);
}

// ---------------------------------------------------------------- RunStore

Status FakeStore::CreateRun(const Run& run) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("CreateRun", true));
  if (run.id.empty()) return InvalidArgumentError("run id: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->runs.count(run.id) != 0) return AlreadyExistsError("run " + run.id + " exists");
  Run stored = run;
  stored.created_at = now;
  stored.updated_at = now;
  state_->runs.emplace(run.id, std::move(stored));
  return Status::Ok();
}

Result<Run> FakeStore::GetRun(const std::string& run_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("GetRun", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->runs.find(run_id);
  if (it == state_->runs.end()) return NotFoundError("run " + run_id + " not found");
  return it->second;
}

Result<RunCounts> FakeStore::CountRuns() {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("CountRuns", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  RunCounts counts;
  for (const auto& entry : state_->runs) ++counts.by_status[entry.second.status];
  return counts;
}

Result<std::vector<Run>> FakeStore::ListRuns(const RunFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ListRuns", false));
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  std::vector<Run> out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& entry : state_->runs) {
      if (filter.status.has_value() && entry.second.status != *filter.status) continue;
      out.push_back(entry.second);
    }
  }
  std::sort(out.begin(), out.end(), [](const Run& a, const Run& b) {
    return std::tie(b.created_at, b.id) < std::tie(a.created_at, a.id);
  });
  Page(&out, filter.limit, filter.offset);
  return out;
}

Status FakeStore::UpdateRun(const Run& run, RunStatus expected) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("UpdateRun", true));
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->runs.find(run.id);
  if (it == state_->runs.end()) return NotFoundError("run " + run.id + " not found");
  if (it->second.status != expected) {
    return AbortedError("run " + run.id + " is " + RunStatusName(it->second.status) + ", expected " +
                        RunStatusName(expected));
  }
  const TimePoint created_at = it->second.created_at;
  it->second = run;
  it->second.created_at = created_at;
  it->second.updated_at = now;
  return Status::Ok();
}

Status FakeStore::TransitionRun(const std::string& run_id, const std::vector<RunStatus>& from, RunStatus to,
                                const std::string& stop_reason, const std::string& error) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("TransitionRun", true));
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto it = state_->runs.find(run_id);
    if (it == state_->runs.end()) return NotFoundError("run " + run_id + " not found");
    Run& run = it->second;
    if (std::find(from.begin(), from.end(), run.status) == from.end()) {
      return FailedPreconditionError("run " + run_id + " is " + RunStatusName(run.status) +
                                     "; cannot move to " + RunStatusName(to) + " (allowed from " +
                                     JoinRunStatuses(from) + ")");
    }
    run.status = to;
    run.stop_reason = stop_reason;
    run.error = error;
    run.updated_at = now;
    if (to == RunStatus::kCancelled) {
      auto ids = state_->jobs_by_run.find(run_id);
      if (ids != state_->jobs_by_run.end()) {
        for (const std::string& job_id : ids->second) {
          Job& job = state_->jobs.at(job_id);
          if (job.status != JobStatus::kPending) continue;
          state_->PendingOf(job.kind).erase(ClaimKeyOf(job));
          job.status = JobStatus::kCancelled;
          job.updated_at = now;
          // Whoever waits for the batch must learn that it can finish.
          AddEvent(&events, QueueEvent::Kind::kJobFinished, job);
        }
      }
    }
  }
  state_->listeners.Notify(events);
  return Status::Ok();
}

Status FakeStore::SaveGeneration(const Generation& generation) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("SaveGeneration", true));
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->runs.count(generation.run_id) == 0) {
    return NotFoundError("run " + generation.run_id + " not found");
  }
  Generation stored = generation;
  stored.updated_at = now;
  state_->generations[{generation.run_id, generation.generation}] = std::move(stored);
  return Status::Ok();
}

Result<Generation> FakeStore::GetGeneration(const std::string& run_id, int generation) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("GetGeneration", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->generations.find({run_id, generation});
  if (it == state_->generations.end()) {
    return NotFoundError("run " + run_id + " has no generation " + std::to_string(generation));
  }
  return it->second;
}

Result<std::vector<Generation>> FakeStore::ListGenerations(const std::string& run_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ListGenerations", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<Generation> out;
  // Keys are (run_id, generation), so one run's generations are adjacent and
  // already in generation order.
  for (auto it = state_->generations.lower_bound({run_id, std::numeric_limits<int>::min()});
       it != state_->generations.end() && it->first.first == run_id; ++it) {
    out.push_back(it->second);
  }
  return out;
}

// ------------------------------------------------------------ ModelRegistry

Result<FingerprintRecord> FakeStore::LookupFingerprint(const std::string& fingerprint) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("LookupFingerprint", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->fingerprints.find(fingerprint);
  if (it == state_->fingerprints.end()) {
    return NotFoundError("fingerprint " + fingerprint + " not found");
  }
  return it->second;
}

Result<FingerprintRecord> FakeStore::RecordFingerprint(const FingerprintRecord& record) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("RecordFingerprint", true));
  if (record.fingerprint.empty()) return InvalidArgumentError("fingerprint: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->fingerprints.find(record.fingerprint);
  if (it != state_->fingerprints.end()) return it->second;  // first writer wins
  FingerprintRecord stored = record;
  stored.created_at = now;
  state_->fingerprints.emplace(record.fingerprint, stored);
  return stored;
}

Status FakeStore::AddLineageEdge(const LineageEdge& edge) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("AddLineageEdge", true));
  if (edge.id.empty()) return InvalidArgumentError("lineage edge id: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->edges.count(edge.id) != 0) return Status::Ok();
  LineageEdge stored = edge;
  stored.created_at = now;
  state_->edges_by_child[stored.child_model_id].insert({now, stored.id});
  state_->edges.emplace(edge.id, std::move(stored));
  return Status::Ok();
}

Result<std::vector<LineageEdge>> FakeStore::ListLineage(const std::string& run_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ListLineage", false));
  std::vector<LineageEdge> out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& entry : state_->edges) {
      if (entry.second.run_id == run_id) out.push_back(entry.second);
    }
  }
  std::sort(out.begin(), out.end(), [](const LineageEdge& a, const LineageEdge& b) {
    return std::tie(a.generation, a.created_at, a.id) < std::tie(b.generation, b.created_at, b.id);
  });
  return out;
}

Result<std::vector<LineageEdge>> FakeStore::Ancestry(const std::string& model_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("Ancestry", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  std::vector<LineageEdge> out;
  std::set<std::string> seen;
  std::string model = model_id;
  while (true) {
    auto children = state_->edges_by_child.find(model);
    if (children == state_->edges_by_child.end() || children->second.empty()) break;
    if (!seen.insert(model).second) {
      // Pruning only ever shrinks a feature set, so a cycle means corrupt
      // data; following it would never end.
      return InternalError("lineage of model " + model_id + " has a cycle through model " + model);
    }
    const LineageEdge& edge = state_->edges.at(children->second.begin()->second);  // oldest
    out.push_back(edge);
    if (edge.parent_model_id.empty()) break;  // the seed
    model = edge.parent_model_id;
  }
  return out;
}

// ----------------------------------------------------------------- JobQueue

Result<int> FakeStore::EnqueueBatch(const std::string& batch_id, const std::vector<Job>& jobs) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("EnqueueBatch", true));
  EVOLVE_RETURN_IF_ERROR(ValidateBatch(batch_id, jobs));
  if (jobs.empty()) return 0;
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    // Checked before id collisions: re-enqueueing the same batch collides
    // with itself by design and must be a quiet no-op.
    if (state_->jobs_by_batch.count(batch_id) != 0) return 0;
    for (const Job& job : jobs) {
      if (state_->jobs.count(job.id) != 0) {
        return AlreadyExistsError("job " + job.id + " exists already (in batch " +
                                  state_->jobs.at(job.id).batch_id + ")");
      }
    }
    std::vector<std::string>& batch_ids = state_->jobs_by_batch[batch_id];
    for (const Job& job : jobs) {
      Job stored = job;
      stored.status = JobStatus::kPending;
      stored.result.reset();
      stored.output.clear();
      stored.error.clear();
      stored.worker_id.clear();
      stored.attempts = 0;
      stored.deaths = 0;
      stored.claim_token.clear();
      stored.lease_until.reset();
      stored.created_at = now;
      stored.updated_at = now;
      state_->PendingOf(stored.kind).insert(ClaimKeyOf(stored));
      batch_ids.push_back(stored.id);
      state_->jobs_by_run[stored.run_id].push_back(stored.id);
      AddEvent(&events, QueueEvent::Kind::kJobsAvailable, stored);
      state_->jobs.emplace(stored.id, std::move(stored));
    }
  }
  state_->listeners.Notify(events);
  return static_cast<int>(jobs.size());
}

Result<std::vector<Job>> FakeStore::ClaimJobs(const ClaimHolder& holder, int max_jobs, Duration lease,
                                              JobKinds kinds) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ClaimJobs", true));
  EVOLVE_RETURN_IF_ERROR(ValidateClaim(holder, max_jobs, lease));
  const TimePoint now = state_->clock.Now();
  std::vector<Job> claimed;
  std::lock_guard<std::mutex> lock(state_->mu);
  while (static_cast<int>(claimed.size()) < max_jobs) {
    // The first in claim order among the first PENDING job of each kind taken.
    std::set<ClaimKey>* from = nullptr;
    for (JobKind kind : kinds.List()) {
      std::set<ClaimKey>& of_kind = state_->PendingOf(kind);
      if (!of_kind.empty() && (from == nullptr || *of_kind.begin() < *from->begin())) from = &of_kind;
    }
    if (from == nullptr) break;
    Job& job = state_->jobs.at(from->begin()->id);
    from->erase(from->begin());
    job.status = JobStatus::kRunning;
    job.worker_id = holder.worker_id;
    job.claim_token = holder.claim_token;
    job.attempts += 1;
    job.lease_until = now + lease;
    job.updated_at = now;
    state_->running.insert({*job.lease_until, job.id});
    claimed.push_back(job);
  }
  return claimed;
}

Status FakeStore::HeartbeatJob(const std::string& job_id, const ClaimHolder& holder, Duration lease) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("HeartbeatJob", true));
  if (lease <= Duration::zero()) return InvalidArgumentError("lease: must be positive");
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  Job* job = nullptr;
  EVOLVE_RETURN_IF_ERROR(state_->Fence(job_id, holder, &job));
  state_->ForgetLease(*job);
  job->lease_until = now + lease;
  job->updated_at = now;
  state_->running.insert({*job->lease_until, job->id});
  return Status::Ok();
}

Status FakeStore::CompleteJob(const std::string& job_id, const ClaimHolder& holder,
                              const SimulationResult& result) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("CompleteJob", true));
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVOLVE_RETURN_IF_ERROR(state_->Complete(job_id, holder, result, "", now, &events));
  }
  state_->listeners.Notify(events);
  return Status::Ok();
}

Status FakeStore::FailJob(const std::string& job_id, const ClaimHolder& holder, const std::string& error,
                          bool retryable) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("FailJob", true));
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    EVOLVE_RETURN_IF_ERROR(state_->Fail(job_id, holder, error, retryable, now, &events));
  }
  state_->listeners.Notify(events);
  return Status::Ok();
}

Result<std::vector<Status>> FakeStore::FinishJobs(const std::string& worker_id,
                                                  const std::vector<JobOutcome>& outcomes) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("FinishJobs", true));
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  std::vector<Status> statuses;
  {
    // One lock for the batch: atomic, as a backend's one transaction.
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const JobOutcome& o : outcomes) {
      statuses.push_back(
          o.result.has_value()
              ? state_->Complete(o.job_id, {worker_id, o.claim_token}, *o.result, o.output, now, &events)
              : state_->Fail(o.job_id, {worker_id, o.claim_token}, o.error, o.retryable, now, &events));
    }
  }
  state_->listeners.Notify(events);
  return statuses;
}

Status FakeStore::ReleaseJob(const std::string& job_id, const ClaimHolder& holder) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ReleaseJob", true));
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    Job* job = nullptr;
    EVOLVE_RETURN_IF_ERROR(state_->Fence(job_id, holder, &job));
    // The worker never ran it, so the claim must not eat into max_attempts.
    job->attempts = std::max(0, job->attempts - 1);
    state_->ReturnToPending(*job, now);
    AddEvent(&events, QueueEvent::Kind::kJobsAvailable, *job);
  }
  state_->listeners.Notify(events);
  return Status::Ok();
}

Result<int> FakeStore::ReapExpiredJobs() {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ReapExpiredJobs", true));
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  int changed = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    // `running` is ordered by lease_until, so only expired leases are visited.
    while (!state_->running.empty() && state_->running.begin()->first < now) {
      Job& job = state_->jobs.at(state_->running.begin()->second);
      TakeBackFromDeadHolder(job, LeaseExpiredMessage(job.worker_id), now, &events);
      ++changed;
    }
  }
  state_->listeners.Notify(events);
  return changed;
}

// REQUIRES: state_->mu held; `job` RUNNING. JobQueue's rule for a holder
// death: deaths + 1, the claim's attempt given back, PENDING again or, at
// kJobDeathLimit deaths, quarantined (FAILED) with the evidence.
void FakeStore::TakeBackFromDeadHolder(Job& job, const std::string& death, TimePoint now,
                                       std::vector<QueueEvent>* events) {
  job.error = HolderDeathError(job.error, job.deaths, death);
  job.attempts = std::max(0, job.attempts - 1);
  ++job.deaths;
  if (job.deaths < kJobDeathLimit) {
    state_->ReturnToPending(job, now);
    AddEvent(events, QueueEvent::Kind::kJobsAvailable, job);
  } else {
    state_->Finish(job, JobStatus::kFailed, now);
    AddEvent(events, QueueEvent::Kind::kJobFinished, job);
  }
}

Result<int> FakeStore::ReclaimJobsOfWorker(const std::string& worker_id, const std::string& cause) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ReclaimJobsOfWorker", true));
  if (worker_id.empty()) return InvalidArgumentError("worker_id: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  int changed = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    std::vector<Job*> held;
    for (const auto& entry : state_->running) {
      Job& job = state_->jobs.at(entry.second);
      if (job.worker_id == worker_id) held.push_back(&job);
    }
    for (Job* job : held) {
      TakeBackFromDeadHolder(*job, cause + " (worker " + worker_id + ")", now, &events);
      ++changed;
    }
  }
  state_->listeners.Notify(events);
  return changed;
}

Result<int> FakeStore::RequeueFailedJobs(const std::string& batch_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("RequeueFailedJobs", true));
  if (batch_id.empty()) return InvalidArgumentError("batch_id: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::vector<QueueEvent> events;
  int changed = 0;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto batch = state_->jobs_by_batch.find(batch_id);
    if (batch != state_->jobs_by_batch.end()) {
      for (const std::string& id : batch->second) {
        Job& job = state_->jobs.at(id);
        if (job.status != JobStatus::kFailed) continue;
        job.attempts = 0;
        job.deaths = 0;
        job.error.clear();
        job.result.reset();
        job.output.clear();
        state_->ReturnToPending(job, now);
        if (changed++ == 0) AddEvent(&events, QueueEvent::Kind::kJobsAvailable, job);
      }
    }
  }
  state_->listeners.Notify(events);
  return changed;
}

Result<Job> FakeStore::GetJob(const std::string& job_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("GetJob", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->jobs.find(job_id);
  if (it == state_->jobs.end()) return NotFoundError("job " + job_id + " not found");
  return it->second;
}

Result<std::vector<Job>> FakeStore::ListJobs(const JobFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ListJobs", false));
  EVOLVE_RETURN_IF_ERROR(CheckPage(filter.limit, filter.offset));
  std::vector<Job> out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    auto matches = [&filter](const Job& job) {
      return (filter.run_id.empty() || job.run_id == filter.run_id) &&
             (filter.batch_id.empty() || job.batch_id == filter.batch_id) &&
             (!filter.status.has_value() || job.status == *filter.status) &&
             (!filter.kind.has_value() || job.kind == *filter.kind);
    };
    // Start from the narrowest index the filter allows.
    const std::vector<std::string>* ids = nullptr;
    if (!filter.batch_id.empty() || !filter.run_id.empty()) {
      const auto& index = filter.batch_id.empty() ? state_->jobs_by_run : state_->jobs_by_batch;
      auto it = index.find(filter.batch_id.empty() ? filter.run_id : filter.batch_id);
      if (it == index.end()) return out;
      ids = &it->second;
    }
    if (ids != nullptr) {
      for (const std::string& id : *ids) {
        const Job& job = state_->jobs.at(id);
        if (matches(job)) out.push_back(job);
      }
    } else {
      for (const auto& entry : state_->jobs) {
        if (matches(entry.second)) out.push_back(entry.second);
      }
    }
  }
  std::sort(out.begin(), out.end(), InClaimOrder);
  Page(&out, filter.limit, filter.offset);
  return out;
}

Result<JobCounts> FakeStore::CountJobs(const JobFilter& filter) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("CountJobs", false));
  JobCounts counts;
  std::lock_guard<std::mutex> lock(state_->mu);
  auto count = [&counts, &filter](const Job& job) {
    if (!filter.run_id.empty() && job.run_id != filter.run_id) return;
    if (!filter.batch_id.empty() && job.batch_id != filter.batch_id) return;
    if (filter.kind.has_value() && job.kind != *filter.kind) return;
    counts.Add(job.status);
  };
  if (!filter.batch_id.empty() || !filter.run_id.empty()) {
    const auto& index = filter.batch_id.empty() ? state_->jobs_by_run : state_->jobs_by_batch;
    auto it = index.find(filter.batch_id.empty() ? filter.run_id : filter.batch_id);
    if (it != index.end()) {
      for (const std::string& id : it->second) count(state_->jobs.at(id));
    }
  } else {
    for (const auto& entry : state_->jobs) count(entry.second);
  }
  return counts;
}

int64_t FakeStore::Subscribe(std::function<void(const QueueEvent&)> listener) {
  // Recorded like every call; it cannot fail, so a scripted failure is moot.
  (void)state_->faults.Enter("Subscribe", false);
  return state_->listeners.Subscribe(std::move(listener));
}

void FakeStore::Unsubscribe(int64_t handle) {
  (void)state_->faults.Enter("Unsubscribe", false);
  state_->listeners.Unsubscribe(handle);
}

// ----------------------------------------------------------- PromotionStore

Status FakeStore::SavePromotion(const Promotion& promotion) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("SavePromotion", true));
  if (promotion.id.empty()) return InvalidArgumentError("promotion id: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->promotions.count(promotion.id) != 0) return Status::Ok();
  Promotion stored = promotion;
  stored.created_at = now;
  state_->promotions.emplace(promotion.id, std::move(stored));
  return Status::Ok();
}

Result<Promotion> FakeStore::GetPromotion(const std::string& promotion_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("GetPromotion", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->promotions.find(promotion_id);
  if (it == state_->promotions.end()) {
    return NotFoundError("promotion " + promotion_id + " not found");
  }
  return it->second;
}

Result<std::vector<Promotion>> FakeStore::ListPromotions(int limit, int offset) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ListPromotions", false));
  EVOLVE_RETURN_IF_ERROR(CheckPage(limit, offset));
  std::vector<Promotion> out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& entry : state_->promotions) out.push_back(entry.second);
  }
  // Highest SQN first; among equal SQNs the earliest win comes first.
  std::sort(out.begin(), out.end(), [](const Promotion& a, const Promotion& b) {
    if (a.sqn != b.sqn) return a.sqn > b.sqn;
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
  Page(&out, limit, offset);
  return out;
}

// ----------------------------------------------------------- ArtifactStore

Status FakeStore::PutArtifact(const std::string& key, const std::string& bytes) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("PutArtifact", true));
  if (key.empty()) return InvalidArgumentError("artifact key: must not be empty");
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->artifacts.emplace(key, bytes);  // keeps the first: keys name immutable content
  return Status::Ok();
}

Result<std::string> FakeStore::GetArtifact(const std::string& key) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("GetArtifact", false));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->artifacts.find(key);
  if (it == state_->artifacts.end()) return NotFoundError("artifact " + key + " not found");
  return it->second;
}

// ----------------------------------------------------------- WorkerRegistry

Status FakeStore::RegisterWorker(const WorkerInfo& worker) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("RegisterWorker", true));
  if (worker.id.empty()) return InvalidArgumentError("worker id: must not be empty");
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  WorkerInfo stored = worker;
  stored.status = "ACTIVE";
  stored.started_at = now;
  stored.last_heartbeat = now;
  // The counters are the store's to keep: a restarted worker continues them,
  // and a new one starts from zero whatever it claims.
  auto it = state_->workers.find(worker.id);
  stored.jobs_completed = it == state_->workers.end() ? 0 : it->second.jobs_completed;
  stored.jobs_failed = it == state_->workers.end() ? 0 : it->second.jobs_failed;
  state_->workers[worker.id] = std::move(stored);
  return Status::Ok();
}

Status FakeStore::WorkerHeartbeat(const std::string& worker_id,
                                  const std::vector<std::string>& current_jobs) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("WorkerHeartbeat", true));
  const TimePoint now = state_->clock.Now();
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->workers.find(worker_id);
  if (it == state_->workers.end()) return NotFoundError("worker " + worker_id + " not registered");
  it->second.last_heartbeat = now;
  it->second.current_jobs = current_jobs;
  return Status::Ok();
}

Status FakeStore::DeregisterWorker(const std::string& worker_id) {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("DeregisterWorker", true));
  std::lock_guard<std::mutex> lock(state_->mu);
  auto it = state_->workers.find(worker_id);
  if (it == state_->workers.end()) return NotFoundError("worker " + worker_id + " not registered");
  it->second.status = "STOPPED";
  it->second.current_jobs.clear();
  return Status::Ok();
}

Result<std::vector<WorkerInfo>> FakeStore::ListWorkers() {
  EVOLVE_RETURN_IF_ERROR(state_->faults.Enter("ListWorkers", false));
  std::vector<WorkerInfo> out;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    for (const auto& entry : state_->workers) out.push_back(entry.second);
  }
  std::sort(out.begin(), out.end(), [](const WorkerInfo& a, const WorkerInfo& b) {
    if (a.last_heartbeat != b.last_heartbeat) return a.last_heartbeat > b.last_heartbeat;
    return a.id < b.id;
  });
  return out;
}

}  // namespace evolve::testing
