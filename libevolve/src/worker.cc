#include "evolve/worker.h"

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "evolve/json.h"
#include "evolve/log.h"

namespace evolve {

class Worker::Impl {
 public:
  Impl(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Trainer* trainer, Clock& clock,
       WorkerOptions options)
      : queue_(queue),
        registry_(registry),
        simulator_(simulator),
        trainer_(trainer),
        clock_(clock),
        options_(std::move(options)) {}

  Result<int> RunOnce(int max_jobs) {
    // Each claim has a secret of its own: with it, and only with it, this
    // worker may heartbeat, finish or release the claim's jobs. A remote
    // queue makes it on the server instead; the jobs carry whichever.
    // A worker with a trainer runs training jobs too (Trainer::TrainPart,
    // AssembleModel); one without claims simulations only.
    const JobKinds kinds = trainer_ != nullptr ? JobKinds::All() : JobKinds::Simulation();
    auto claimed =
        queue_.ClaimJobs(ClaimHolder(options_.worker_id, NewClaimToken()), max_jobs, options_.lease, kinds);
    if (!claimed.ok()) return claimed.status();
    std::vector<Job>& jobs = *claimed;
    if (jobs.empty()) return 0;
    Bump(&WorkerStats::claimed, static_cast<int64_t>(jobs.size()));
    // At most one training job per claim: a part takes seconds to minutes
    // and uses every core, so the others go back at once for other workers
    // (a host that claimed all of a model's parts would train them one
    // after the other while the rest idled).
    bool training = false;
    for (auto it = jobs.begin(); it != jobs.end();) {
      if (it->kind == JobKind::kSimulate || !training) {
        training = training || it->kind != JobKind::kSimulate;
        ++it;
        continue;
      }
      Release(*it);
      it = jobs.erase(it);
    }
    {
      std::lock_guard<std::mutex> lock(held_mu_);
      for (const Job& job : jobs) held_[job.id] = Held{false, job.claim_token};
    }
    Event done;
    // The first beat is due one interval after the claim, whenever the
    // thread gets to run.
    const TimePoint first_beat = clock_.Now() + options_.heartbeat_interval;
    std::thread heartbeat([this, &done, first_beat] { HeartbeatLoop(done, first_beat); });
    size_t next = 0;
    while (next < jobs.size()) {
      const Job& first = jobs[next];
      if (stop_.load()) {
        Release(first);
        Drop(first.id);
        ++next;
        continue;
      }
      if (IsLost(first.id)) {
        // The lease went before we started: someone else may run it now.
        Bump(&WorkerStats::lost, 1);
        Log(LogLevel::kWarning, "lease lost before start; skipping job", {{"job_id", first.id}});
        Drop(first.id);
        ++next;
        continue;
      }
      if (first.kind != JobKind::kSimulate) {
        RunTrainingJob(first);
        Drop(first.id);
        ++next;
        continue;
      }
      // The consecutive simulations of one model go to the simulator
      // together, so an engine can simulate a whole grid in one pass.
      size_t end = next + 1;
      while (end < jobs.size() && jobs[end].kind == JobKind::kSimulate && jobs[end].model_id == first.model_id &&
             !IsLost(jobs[end].id)) {
        ++end;
      }
      // Nothing reads a job's params after this: they move to the simulator.
      std::vector<SimulationParams> params;
      params.reserve(end - next);
      for (size_t i = next; i < end; ++i) params.push_back(std::move(jobs[i].params));
      std::vector<Result<SimulationResult>> results;
      if (params.size() == 1) {
        results.push_back(simulator_.Simulate(params[0]));
      } else {
        results = simulator_.SimulateMany(params);
      }
      while (results.size() < params.size()) {
        results.push_back(InternalError("simulator returned too few results"));
      }
      std::vector<JobOutcome> outcomes(end - next);
      for (size_t i = 0; i < outcomes.size(); ++i) {
        if (results[i].ok()) {
          outcomes[i].result = std::move(*results[i]);
        } else {
          outcomes[i].error = results[i].status().ToString();
          outcomes[i].retryable = results[i].status().IsRetryable();
        }
      }
      Report(&jobs[next], std::move(outcomes));
      for (size_t i = next; i < end; ++i) Drop(jobs[i].id);
      next = end;
    }
    done.Notify();
    heartbeat.join();
    // The registry's entry listed these jobs (the heartbeats above): it now
    // says they are done. After the join, so no heartbeat of the batch can
    // come later. (An orchestrator that listed them when it handed them out
    // clears them at this worker's next claim.)
    if (registry_lists_jobs_.exchange(false)) {
      BeatRegistry({});
      last_registry_beat_ = clock_.Now();
    }
    return static_cast<int>(jobs.size());
  }

  Status Run() {
    EVOLVE_RETURN_IF_ERROR(ValidateOptions(options_));
    if (registry_ != nullptr) {
      // The registry is bookkeeping: a worker that cannot register yet still
      // drains the queue, and retries registering with its heartbeats.
      Status s = registry_->RegisterWorker(Info());
      registered_ = s.ok();
      if (!s.ok()) Log(LogLevel::kWarning, "worker registration failed", {{"error", s.ToString()}});
    }
    int64_t handle = queue_.Subscribe([this](const QueueEvent& e) {
      if (e.kind == QueueEvent::Kind::kJobsAvailable) wake_.Notify();
    });
    Log(LogLevel::kInfo, "worker started", {{"worker_id", options_.worker_id}});

    Duration backoff = options_.error_backoff;
    int64_t done_jobs = 0;
    last_registry_beat_ = clock_.Now();
    while (!stop_.load() && (options_.max_jobs == 0 || done_jobs < options_.max_jobs)) {
      wake_.Reset();
      int want = options_.max_jobs_per_claim;
      if (options_.max_jobs > 0)
        want = static_cast<int>(std::min<int64_t>(want, options_.max_jobs - done_jobs));
      auto got = RunOnce(want);
      if (!got.ok()) {
        Log(LogLevel::kWarning, "claiming jobs failed; backing off",
            {{"error", got.status().ToString()}, {"backoff_ms", std::to_string(Millis(backoff))}});
        wake_.WaitFor(clock_, backoff);
        backoff = std::min<Duration>(backoff * 2, options_.poll_interval);
        continue;
      }
      backoff = options_.error_backoff;
      done_jobs += *got;
      if (Duration pause = TakeTrainingPause(); pause.count() > 0) {
        // A training job said "not now" (its trainer or the store it writes
        // to is unavailable) and went back to the queue: wait before taking
        // it, or another, again. Only a stop cuts the pause short: the
        // released job itself wakes `wake_`.
        stop_wake_.WaitFor(clock_, pause);
        continue;
      }
      if (*got > 0) continue;
      if (options_.exit_when_idle) break;
      if (clock_.Now() - last_registry_beat_ >= options_.heartbeat_interval) {
        BeatRegistry({});
        last_registry_beat_ = clock_.Now();
      }
      wake_.WaitFor(clock_, options_.claims_wait ? std::min(options_.poll_interval, kClaimWaitPause)
                                                 : options_.poll_interval);
    }
    queue_.Unsubscribe(handle);
    if (registry_ != nullptr && registered_) {
      Status s = registry_->DeregisterWorker(options_.worker_id);
      if (!s.ok()) Log(LogLevel::kWarning, "worker deregistration failed", {{"error", s.ToString()}});
    }
    WorkerStats st = stats();
    Log(LogLevel::kInfo, "worker stopped",
        {{"worker_id", options_.worker_id},
         {"completed", std::to_string(st.completed)},
         {"failed", std::to_string(st.failed)},
         {"released", std::to_string(st.released)}});
    return Status::Ok();
  }

  void RequestStop() {
    stop_.store(true);
    wake_.Notify();
    stop_wake_.Notify();
  }

  bool stop_requested() const { return stop_.load(); }

  WorkerStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

  const WorkerOptions& options() const { return options_; }

 private:
  static int64_t Millis(Duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }

  void Bump(int64_t WorkerStats::*field, int64_t by) {
    std::lock_guard<std::mutex> lock(stats_mu_);
    stats_.*field += by;
  }

  bool IsLost(const std::string& job_id) {
    std::lock_guard<std::mutex> lock(held_mu_);
    auto it = held_.find(job_id);
    return it != held_.end() && it->second.lost;
  }

  // Retries a queue write that failed with a retryable status a few times;
  // past that the lease runs out and the reaper gives the job to another
  // worker, so nothing is lost either way.
  template <typename F>
  Status WriteWithRetry(F f) {
    Duration backoff = options_.error_backoff;
    Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s = f();
      if (s.ok() || !s.IsRetryable()) return s;
      clock_.SleepFor(backoff);
      backoff *= 2;
    }
    return s;
  }

  void Drop(const std::string& job_id) {
    std::lock_guard<std::mutex> lock(held_mu_);
    held_.erase(job_id);
  }

  // Runs a training job (JobKind::kTrain or kAssemble) with the trainer
  // and reports its output. A retryable failure (the trainer or the store
  // it writes to unavailable: a full disk, a service away) is not the job's
  // fault: the job goes back to the queue with its attempt not counted, and
  // this worker pauses before claiming again (TakeTrainingPause), so the run
  // waits for the dependency instead of failing, as training inline does.
  void RunTrainingJob(const Job& job) {
    Result<std::string> output = InternalError("not run");
    if (trainer_ == nullptr) {
      output = FailedPreconditionError("this worker has no trainer");
    } else if (auto task = TrainingTaskFromJson(job.task); !task.ok()) {
      output = InvalidArgumentError("the job's task does not parse: " + task.status().message());
    } else if (job.kind == JobKind::kTrain) {
      output = trainer_->TrainPart(*task);
    } else {
      auto model = trainer_->AssembleModel(*task);
      output = model.ok() ? Result<std::string>(model->model_id) : Result<std::string>(model.status());
    }
    if (!output.ok() && output.status().IsRetryable()) {
      Log(LogLevel::kWarning, "training unavailable; the job goes back to the queue",
          {{"job_id", job.id}, {"error", output.status().ToString()}});
      Release(job);
      training_pause_ = training_pause_.count() == 0
                            ? options_.error_backoff
                            : std::min<Duration>(training_pause_ * 2, options_.poll_interval);
      pending_pause_ = true;
      return;
    }
    training_pause_ = Duration::zero();
    std::vector<JobOutcome> outcomes(1);
    if (output.ok()) {
      outcomes[0].result = SimulationResult{};
      outcomes[0].output = std::move(*output);
    } else {
      outcomes[0].error = output.status().ToString();
    }
    Report(&job, std::move(outcomes));
  }

  // The pause a retryable training failure asked for (zero when none),
  // once.
  Duration TakeTrainingPause() {
    if (!pending_pause_) return Duration::zero();
    pending_pause_ = false;
    return training_pause_;
  }

  // Writes the outcomes of a group of jobs in one FinishJobs call (one
  // transaction), each fenced on this worker's lease. outcomes[i] is jobs[i]'s
  // (its id and claim token are set here): completed when it has a result.
  void Report(const Job* jobs, std::vector<JobOutcome> outcomes) {
    const size_t count = outcomes.size();
    for (size_t i = 0; i < count; ++i) {
      outcomes[i].job_id = jobs[i].id;
      outcomes[i].claim_token = jobs[i].claim_token;
    }
    Result<std::vector<Status>> written = InternalError("not written");
    // `written` keeps the last attempt's answer, which is what matters.
    (void)WriteWithRetry([&] {
      written = queue_.FinishJobs(options_.worker_id, outcomes);
      return written.status();
    });
    if (!written.ok()) {
      Log(LogLevel::kError, "could not report jobs; their leases will expire and they will be retried",
          {{"jobs", std::to_string(count)}, {"error", written.status().ToString()}});
      return;
    }
    for (size_t i = 0; i < count; ++i) {
      const Job& job = jobs[i];
      const Status& s = i < written->size() ? (*written)[i] : written.status();
      if (s.code() == StatusCode::kAborted) {
        // Fenced: the lease was lost (reaped, cancelled); our result is not
        // written, and whoever holds the job now will report it.
        Bump(&WorkerStats::lost, 1);
        Log(LogLevel::kWarning, "job no longer held; result discarded",
            {{"job_id", job.id}, {"reason", s.message()}});
      } else if (!s.ok()) {
        Log(LogLevel::kError, "could not report job; its lease will expire and it will be retried",
            {{"job_id", job.id}, {"error", s.ToString()}});
      } else if (outcomes[i].result) {
        Bump(&WorkerStats::completed, 1);
      } else {
        const bool will_retry = outcomes[i].retryable && job.attempts < job.max_attempts;
        Bump(will_retry ? &WorkerStats::retried : &WorkerStats::failed, 1);
        Log(LogLevel::kWarning, will_retry ? "job failed; it will be retried" : "job failed",
            {{"job_id", job.id}, {"kind", JobKindName(job.kind)}, {"error", outcomes[i].error}});
      }
    }
  }

  void Release(const Job& job) {
    Status s = WriteWithRetry([&] {
      return queue_.ReleaseJob(job.id, {options_.worker_id, job.claim_token});
    });
    if (s.ok()) {
      Bump(&WorkerStats::released, 1);
    } else {
      Log(LogLevel::kWarning, "could not release job; its lease will expire",
          {{"job_id", job.id}, {"error", s.ToString()}});
    }
  }

  void HeartbeatLoop(Event& done, TimePoint next_beat) {
    while (!done.WaitUntil(clock_, next_beat)) {
      next_beat = clock_.Now() + options_.heartbeat_interval;
      std::vector<std::string> held;
      std::vector<std::string> tokens;
      {
        std::lock_guard<std::mutex> lock(held_mu_);
        for (const auto& [id, h] : held_) {
          if (h.lost) continue;
          held.push_back(id);
          tokens.push_back(h.claim_token);
        }
      }
      for (size_t i = 0; i < held.size(); ++i) {
        const std::string& id = held[i];
        Status s = queue_.HeartbeatJob(id, {options_.worker_id, tokens[i]}, options_.lease);
        if (s.code() == StatusCode::kAborted || s.code() == StatusCode::kNotFound) {
          std::lock_guard<std::mutex> lock(held_mu_);
          auto it = held_.find(id);
          if (it != held_.end()) it->second.lost = true;
          Log(LogLevel::kWarning, "lease lost", {{"job_id", id}, {"reason", s.message()}});
        } else if (!s.ok()) {
          Log(LogLevel::kWarning, "heartbeat failed", {{"job_id", id}, {"error", s.ToString()}});
        }
      }
      BeatRegistry(held);
    }
  }

  WorkerInfo Info() const {
    WorkerInfo info;
    info.id = options_.worker_id;
    info.host = options_.host;
    info.pid = options_.pid;
    return info;
  }

  // Refreshes the registry entry; registers first if that failed earlier.
  void BeatRegistry(const std::vector<std::string>& jobs) {
    if (registry_ == nullptr) return;
    if (!jobs.empty()) registry_lists_jobs_.store(true);
    Status s = registered_ ? registry_->WorkerHeartbeat(options_.worker_id, jobs)
                           : registry_->RegisterWorker(Info());
    if (!registered_ && s.ok()) registered_ = true;
    if (!s.ok()) Log(LogLevel::kWarning, "worker heartbeat failed", {{"error", s.ToString()}});
  }

  WorkerQueue& queue_;
  WorkerRegistry* registry_;
  Simulator& simulator_;
  Trainer* trainer_;  // null: simulations only
  Clock& clock_;
  const WorkerOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> registered_{false};
  Event wake_;       // stop requested or work may be available
  Event stop_wake_;  // stop requested

  Duration training_pause_{};   // the current pause after "not now"; RunOnce's thread only
  bool pending_pause_ = false;  // Run() is to pause; RunOnce's thread only

  struct Held {
    bool lost = false;        // the lease was lost
    std::string claim_token;  // of the claim that got the job
  };
  std::mutex held_mu_;
  std::unordered_map<std::string, Held> held_;    // claimed job id -> its state; guarded by held_mu_
  TimePoint last_registry_beat_{};                // Run's thread only
  std::atomic<bool> registry_lists_jobs_{false};  // the last beat may have listed jobs

  mutable std::mutex stats_mu_;
  WorkerStats stats_;  // guarded by stats_mu_
};

Worker::Worker(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Clock& clock,
               WorkerOptions options)
    : Worker(queue, registry, simulator, nullptr, clock, std::move(options)) {}

Worker::Worker(WorkerQueue& queue, WorkerRegistry* registry, Simulator& simulator, Trainer* trainer,
               Clock& clock, WorkerOptions options)
    : impl_(std::make_unique<Impl>(queue, registry, simulator, trainer, clock, std::move(options))) {}

Worker::~Worker() = default;

bool IsWorkerLive(const WorkerInfo& worker, TimePoint now) {
  return worker.status == "ACTIVE" && now - worker.last_heartbeat <= kWorkerLiveness;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

Status Worker::ValidateOptions(const WorkerOptions& o) {
  if (o.worker_id.empty()) return InvalidArgumentError("worker_id: must not be empty");
  if (o.worker_id.size() > 64) return InvalidArgumentError("worker_id: at most 64 characters");
  if (o.max_jobs_per_claim < 1) return InvalidArgumentError("max_jobs_per_claim: must be >= 1");
  if (o.lease.count() <= 0) return InvalidArgumentError("lease: must be positive");
  if (o.heartbeat_interval.count() <= 0 || o.heartbeat_interval >= o.lease) {
    return InvalidArgumentError("heartbeat_interval: must be positive and shorter than the lease");
  }
  if (o.heartbeat_interval > kWorkerLiveness / 2) {
    return InvalidArgumentError(
        "heartbeat_interval: must be at most " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kWorkerLiveness / 2).count()) +
        " s, or the worker would look dead between two heartbeats");
  }
  if (o.poll_interval.count() <= 0) return InvalidArgumentError("poll_interval: must be positive");
  if (o.error_backoff.count() <= 0) return InvalidArgumentError("error_backoff: must be positive");
  if (o.max_jobs < 0) return InvalidArgumentError("max_jobs: must be >= 0");
  return Status::Ok();
}

Result<int> Worker::RunOnce() {
  EVOLVE_RETURN_IF_ERROR(ValidateOptions(impl_->options()));
  return impl_->RunOnce(impl_->options().max_jobs_per_claim);
}

Status Worker::Run() { return impl_->Run(); }
void Worker::RequestStop() { impl_->RequestStop(); }
bool Worker::stop_requested() const { return impl_->stop_requested(); }
WorkerStats Worker::stats() const { return impl_->stats(); }

}  // namespace evolve
