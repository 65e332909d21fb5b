#include "evolve/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "evolve/log.h"

namespace evolve {
namespace {

std::string Millis(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

}  // namespace

class RunScheduler::Impl {
 public:
  Impl(EvolutionEngine& engine, Store& store, SchedulerOptions options)
      : engine_(engine), store_(store), clock_(store.clock()), options_(options) {}

  ~Impl() { Shutdown(); }

  Status Start() {
    if (options_.threads < 1) return InvalidArgumentError("scheduler threads: must be >= 1");
    if (options_.steps_per_turn < 1) return InvalidArgumentError("scheduler steps_per_turn: must be >= 1");
    if (options_.poll_interval <= Duration::zero()) return InvalidArgumentError("scheduler poll_interval: must be > 0");
    if (options_.max_runs < 0) return InvalidArgumentError("scheduler max_runs: must be >= 0 (0: no limit)");
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (started_) return FailedPreconditionError("the scheduler was already started");
      started_ = true;
    }
    subscription_ = store_.Subscribe([this](const QueueEvent& e) {
      if (e.kind == QueueEvent::Kind::kJobFinished && !e.run_id.empty()) OnJobEvent(e.run_id);
    });
    Status adopted = Adopt();
    for (int i = 0; i < options_.threads; ++i) steppers_.emplace_back([this] { StepLoop(); });
    timer_ = std::thread([this] { TimerLoop(); });
    return adopted;
  }

  Status Submit(const std::string& run_id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!started_ || stopping_) return FailedPreconditionError("the run scheduler is not running");
      auto it = runs_.find(run_id);
      if (it != runs_.end()) {
        MakeReadyLocked(run_id, it->second);
        return Status::Ok();
      }
      if (FullLocked()) return AtCapacity(run_id);
    }
    // The store's run lock: one stepper per run across every process that
    // shares the store. Taking it may wait on the database: not under mu_.
    Result<std::unique_ptr<RunLock>> acquired = store_.TryLockRun(run_id);
    // Refused because a concurrent Submit here (adoption, a resume) took
    // the run meanwhile: it is scheduled, which is what was asked.
    if (!acquired.ok() && IsScheduled(run_id)) return Status::Ok();
    EVOLVE_RETURN_IF_ERROR(acquired.status());
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return FailedPreconditionError("the run scheduler is shutting down");
    // Filled by a concurrent Submit meanwhile: the lock is released.
    if (runs_.count(run_id) == 0 && FullLocked()) return AtCapacity(run_id);
    // A Submit that raced with this one keeps its lock; this one is released.
    auto [it, inserted] = runs_.emplace(run_id, Slot{});
    if (inserted) it->second.lock = std::move(*acquired);
    MakeReadyLocked(run_id, it->second);
    Log(LogLevel::kDebug, "run scheduled", {{"run_id", run_id}});
    return Status::Ok();
  }

  void Wake(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(run_id);
    if (it != runs_.end()) MakeReadyLocked(run_id, it->second);
  }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
    }
    work_cv_.notify_all();
    timer_cv_.notify_all();
    for (std::thread& t : steppers_) t.join();
    if (timer_.joinable()) timer_.join();
    store_.Unsubscribe(subscription_);
    std::map<std::string, Slot> held;
    {
      std::lock_guard<std::mutex> lock(mu_);
      held.swap(runs_);
      ready_.clear();
    }
    held.clear();  // releases the run locks
  }

  bool IsScheduled(const std::string& run_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_.count(run_id) > 0;
  }

  SchedulerStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    SchedulerStats s = stats_;
    s.scheduled = static_cast<int>(runs_.size());
    s.waiting = 0;
    for (const auto& entry : runs_) s.waiting += entry.second.state == State::kWaiting ? 1 : 0;
    return s;
  }

 private:
  enum class State { kReady, kStepping, kWaiting };
  struct Slot {
    State state = State::kReady;
    TimePoint due{};            // when a waiting run is stepped again
    TimePoint last_step{};      // end of its last turn
    bool wake_pending = false;  // woken while stepping: step again at once
    Duration backoff{};         // after retryable errors
    std::unique_ptr<RunLock> lock;  // the store's lock of the run, held while scheduled
  };

  // Caller holds mu_.
  bool FullLocked() const { return options_.max_runs > 0 && static_cast<int>(runs_.size()) >= options_.max_runs; }

  Status AtCapacity(const std::string& run_id) const {
    return ResourceExhaustedError("run " + run_id + ": this scheduler holds its maximum of " +
                                  std::to_string(options_.max_runs) +
                                  " runs; the run stays as stored for a scheduler with room");
  }

  // Caller holds mu_. A waiting run that is woken goes to the front of the
  // ready line: its batch has finished, and evaluating it is short work
  // that should not wait for every other run's turn.
  void MakeReadyLocked(const std::string& run_id, Slot& slot) {
    if (slot.state == State::kStepping) {
      slot.wake_pending = true;
    } else if (slot.state == State::kWaiting) {
      slot.state = State::kReady;
      ready_.push_front(run_id);
      work_cv_.notify_one();
    } else if (std::find(ready_.begin(), ready_.end(), run_id) == ready_.end()) {
      ready_.push_back(run_id);
      work_cv_.notify_one();
    }
  }

  // A job of the run finished: check its batch soon, but not more often than
  // min_recheck.
  void OnJobEvent(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return;
    Slot& slot = it->second;
    if (slot.state == State::kStepping) {
      slot.wake_pending = true;
    } else if (slot.state == State::kWaiting) {
      const TimePoint soon = std::max(clock_.Now(), slot.last_step + options_.min_recheck);
      if (soon < slot.due) {
        slot.due = soon;
        timer_cv_.notify_one();
      }
    }
  }

  void StepLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      work_cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      if (stopping_) return;
      const std::string run_id = ready_.front();
      ready_.pop_front();
      auto it = runs_.find(run_id);
      if (it == runs_.end()) continue;
      it->second.state = State::kStepping;
      it->second.wake_pending = false;
      lock.unlock();
      Result<StepOutcome> outcome = StepOutcome::kProgressed;
      int64_t steps = 0;
      for (int i = 0; i < options_.steps_per_turn; ++i) {
        outcome = engine_.Step(run_id);
        ++steps;
        if (!outcome.ok() || *outcome != StepOutcome::kProgressed) break;
        if (IsStopping()) break;
      }
      lock.lock();
      stats_.steps += steps;
      AfterTurnLocked(run_id, outcome);
    }
  }

  bool IsStopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopping_;
  }

  // Caller holds mu_.
  void AfterTurnLocked(const std::string& run_id, const Result<StepOutcome>& outcome) {
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return;
    Slot& slot = it->second;
    const TimePoint now = clock_.Now();
    slot.last_step = now;
    if (!outcome.ok()) {
      ++stats_.step_errors;
      const Status& error = outcome.status();
      if (error.code() == StatusCode::kNotFound) {
        Log(LogLevel::kWarning, "run vanished from the store; unscheduled", {{"run_id", run_id}});
        DropLocked(it);
        return;
      }
      Duration wait = options_.error_backoff;
      if (error.IsRetryable()) {
        slot.backoff = slot.backoff == Duration::zero() ? std::chrono::milliseconds(100)
                                                        : std::min(slot.backoff * 2, options_.error_backoff);
        wait = slot.backoff;
      }
      Log(error.IsRetryable() ? LogLevel::kWarning : LogLevel::kError, "step failed; will retry",
          {{"run_id", run_id}, {"error", error.ToString()}, {"retry_in_ms", Millis(wait)}});
      WaitLocked(slot, now + wait);
      return;
    }
    slot.backoff = Duration::zero();
    switch (*outcome) {
      case StepOutcome::kFinished:
      case StepOutcome::kHalted:
        Log(LogLevel::kDebug, "run unscheduled", {{"run_id", run_id}, {"outcome", StepOutcomeName(*outcome)}});
        DropLocked(it);
        return;
      case StepOutcome::kProgressed:  // its turn is over; to the back of the line
        slot.state = State::kReady;
        ready_.push_back(run_id);
        work_cv_.notify_one();
        return;
      case StepOutcome::kWaiting:
        WaitLocked(slot, now + (slot.wake_pending ? options_.min_recheck : options_.poll_interval));
        return;
    }
  }

  // Caller holds mu_.
  void WaitLocked(Slot& slot, TimePoint due) {
    slot.state = State::kWaiting;
    slot.wake_pending = false;
    slot.due = due;
    timer_cv_.notify_one();
  }

  // Caller holds mu_. A scheduler that was full adopts soon after: runs
  // may be waiting in the store for its room.
  void DropLocked(std::map<std::string, Slot>::iterator it) {
    const bool was_full = FullLocked();
    runs_.erase(it);  // releases the run lock
    if (was_full) {
      adopt_soon_ = true;
      timer_cv_.notify_one();
    }
  }

  // Moves due waiting runs to the ready line; reaps and adopts on schedule.
  void TimerLoop() {
    TimePoint next_reap = clock_.Now() + options_.reap_interval;
    TimePoint next_adopt = clock_.Now() + options_.adopt_interval;
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      const TimePoint now = clock_.Now();
      TimePoint next = now + options_.poll_interval;
      for (auto& entry : runs_) {
        Slot& slot = entry.second;
        if (slot.state != State::kWaiting) continue;
        if (slot.due <= now) {
          // Woken: to the front of the line (MakeReadyLocked).
          slot.state = State::kReady;
          ready_.push_front(entry.first);
          work_cv_.notify_one();
        } else {
          next = std::min(next, slot.due);
        }
      }
      const bool reap = options_.reap_interval > Duration::zero() && now >= next_reap;
      const bool adopt = (options_.adopt_interval > Duration::zero() && now >= next_adopt) || adopt_soon_;
      adopt_soon_ = false;
      if (reap || adopt) {
        lock.unlock();
        if (reap) {
          Reap();
          next_reap = clock_.Now() + options_.reap_interval;
        }
        if (adopt) {
          Status s = Adopt();
          if (!s.ok()) Log(LogLevel::kWarning, "adopting runs failed", {{"error", s.ToString()}});
          next_adopt = clock_.Now() + options_.adopt_interval;
        }
        lock.lock();
        continue;
      }
      if (options_.reap_interval > Duration::zero()) next = std::min(next, next_reap);
      if (options_.adopt_interval > Duration::zero()) next = std::min(next, next_adopt);
      clock_.WaitUntil(lock, timer_cv_, next);
    }
  }

  void Reap() {
    auto reaped = store_.ReapExpiredJobs();
    if (!reaped.ok()) {
      Log(LogLevel::kWarning, "reaping expired jobs failed", {{"error", reaped.status().ToString()}});
    } else if (*reaped > 0) {
      Log(LogLevel::kWarning, "reaped jobs with expired leases", {{"count", std::to_string(*reaped)}});
      std::lock_guard<std::mutex> lock(mu_);
      stats_.reaped += *reaped;
    }
  }

  // Schedules every PENDING and RUNNING run of the store not held here.
  Status Adopt() {
    for (RunStatus status : {RunStatus::kRunning, RunStatus::kPending}) {
      RunFilter filter;
      filter.status = status;
      filter.limit = 500;
      for (filter.offset = 0;; filter.offset += filter.limit) {
        EVOLVE_ASSIGN_OR_RETURN(std::vector<Run> runs, store_.ListRuns(filter));
        for (const Run& run : runs) {
          if (IsScheduled(run.id)) continue;
          Status s = Submit(run.id);
          if (s.ok()) {
            Log(LogLevel::kInfo, "adopted run", {{"run_id", run.id}, {"status", RunStatusName(run.status)}});
          } else if (s.code() == StatusCode::kResourceExhausted) {
            return Status::Ok();  // full: the rest are left to schedulers with room
          } else if (s.code() != StatusCode::kFailedPrecondition) {
            return s;
          }
        }
        if (static_cast<int>(runs.size()) < filter.limit) break;
      }
    }
    return Status::Ok();
  }

  EvolutionEngine& engine_;
  Store& store_;
  Clock& clock_;
  const SchedulerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // ready_ gained a run, or stopping
  std::condition_variable timer_cv_;  // a due time moved earlier, or stopping
  bool started_ = false;              // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  bool adopt_soon_ = false;           // a full scheduler dropped a run; guarded by mu_
  std::map<std::string, Slot> runs_;  // guarded by mu_
  std::deque<std::string> ready_;     // guarded by mu_
  SchedulerStats stats_;              // guarded by mu_
  int64_t subscription_ = 0;
  std::vector<std::thread> steppers_;
  std::thread timer_;
};

RunScheduler::RunScheduler(EvolutionEngine& engine, Store& store, SchedulerOptions options)
    : impl_(std::make_unique<Impl>(engine, store, options)) {}
RunScheduler::~RunScheduler() = default;
Status RunScheduler::Start() { return impl_->Start(); }
Status RunScheduler::Submit(const std::string& run_id) { return impl_->Submit(run_id); }
void RunScheduler::Wake(const std::string& run_id) { impl_->Wake(run_id); }
void RunScheduler::Shutdown() { impl_->Shutdown(); }
bool RunScheduler::IsScheduled(const std::string& run_id) const { return impl_->IsScheduled(run_id); }
SchedulerStats RunScheduler::stats() const { return impl_->stats(); }

}  // namespace evolve
