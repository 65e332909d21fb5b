#include "evolve/evolution.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>

#include "evolve/criteria.h"
#include "evolve/enum_name.h"
#include "evolve/fingerprint.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "format.h"
#include "selection.h"

namespace evolve {
namespace {

std::string GenTag(int g) { return "generation " + std::to_string(g); }

std::string BatchId(const std::string& run_id, int g) { return run_id + "-g" + std::to_string(g); }

// The holdout confirmation of a generation's finalist is a batch of its own.
std::string HoldoutBatchId(const std::string& batch_id) { return batch_id + "-holdout"; }

// Training on the queue: the parts of generation g's model, then the job
// that assembles it, each a batch of its own.
std::string TrainBatchId(const std::string& run_id, int g) { return BatchId(run_id, g) + "-train"; }
std::string AssembleBatchId(const std::string& run_id, int g) { return BatchId(run_id, g) + "-assemble"; }

// The most parts a trainer may split one model into: each is a job.
constexpr int kMaxTrainingParts = 1000;

// What the grid scores: the research span, or everything when the run has no
// split (the only span a simulator that knows none can honour).
const char* ResearchSpan(const EvolutionConfig& config) {
  return config.split.none() ? kSpanAll : kSpanResearch;
}

// A simulator must score the span it is asked for (one that knows no spans
// reports none, which is right only for kSpanAll) and, for a threshold given
// as a quantile, say what threshold it came to.
bool ScoredAsAsked(const Job& job) {
  const std::string& asked = job.params.span.empty() ? std::string(kSpanAll) : job.params.span;
  const std::string& scored = job.result->span;
  if (job.params.threshold_quantile && !job.result->threshold) return false;
  return scored == asked || (scored.empty() && asked == kSpanAll);
}

std::string JobId(const std::string& batch_id, size_t index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "-%04zu", index);
  return batch_id + buf;
}

// The model a generation uses: trained now, or reused through its fingerprint.
struct ModelChoice {
  std::string model_id;
  std::string fingerprint;
  bool reused = false;
};

}  // namespace

const char* StepOutcomeName(StepOutcome outcome) {
  static constexpr const char* kNames[] = {"progressed", "waiting", "finished", "halted"};
  return EnumName<StepOutcome::kHalted>(outcome, kNames, "unknown");
}

ModelSpec SpecFor(const EvolutionConfig& config, const std::vector<std::string>& features) {
  ModelSpec spec;
  spec.symbol = config.symbol;
  spec.algorithm = config.algorithm;
  spec.target_col = config.target_col;
  spec.target_transform = config.target_transform;
  spec.timeframe = config.timeframe;
  spec.features = features;
  spec.hyperparameters = config.hyperparameters;
  spec.data_options = config.data_options;
  spec.reference_symbols = config.reference_symbols;
  spec.split = config.split;
  return spec;
}

std::string NewId(const std::string& prefix) {
  // Seeded once per thread from the OS; ids need to be unique, not secret.
  thread_local std::mt19937_64 rng = [] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }();
  static const char kHex[] = "0123456789abcdef";
  std::string id = prefix;
  uint64_t a = rng(), b = rng();
  for (int i = 0; i < 16; ++i) id += kHex[(a >> (i * 4)) & 0xf];
  for (int i = 0; i < 8; ++i) id += kHex[(b >> (i * 4)) & 0xf];
  return id;
}

class EvolutionEngine::Impl {
 public:
  Impl(EngineDeps deps, EngineOptions options) : deps_(deps), options_(options) {}

  Store& store() { return deps_.store; }

  Result<Run> CreateRun(const EvolutionConfig& config) {
    EVOLVE_RETURN_IF_ERROR(ValidateEvolutionConfig(config));
    if (deps_.pruning == nullptr) {
      auto strategy = NewPruningStrategy(config.pruning);
      if (!strategy.ok()) return strategy.status();
    }
    // A seed model that does not exist would fail the run at its first
    // step, after it was accepted: refused here, before anything is stored.
    if (!config.seed_model_id.empty()) {
      auto described = deps_.trainer.DescribeModel(config.seed_model_id);
      if (!described.ok()) {
        if (described.status().code() != StatusCode::kNotFound) return described.status();
        return InvalidArgumentError("seed_model_id: no model '" + config.seed_model_id + "'");
      }
    }
    Run run;
    run.id = NewId("run_");
    run.config = config;
    run.status = RunStatus::kPending;
    EVOLVE_RETURN_IF_ERROR(deps_.store.CreateRun(run));
    Log(LogLevel::kInfo, "run created", {{"run_id", run.id}, {"symbol", config.symbol}});
    return deps_.store.GetRun(run.id);
  }

  // One step, and what it showed of the store's writes (store_health()).
  Result<StepOutcome> Step(const std::string& run_id) {
    Result<StepOutcome> stepped = StepOnce(run_id);
    if (!stepped.ok()) {
      if (stepped.status().code() != StatusCode::kNotFound) NoteStoreError(stepped.status());
    } else if (*stepped == StepOutcome::kProgressed || *stepped == StepOutcome::kFinished) {
      NoteStoreWrote();
    }
    return stepped;
  }

  StoreWriteHealth store_health() const {
    std::lock_guard<std::mutex> lock(health_mu_);
    return health_;
  }

  // Re-queues the FAILED jobs of the current generation's batch of a
  // STOPPED or FAILED run (EvolutionEngine::ResumeRun), and sends a
  // generation evaluated on them back to SIMULATING. Before the run's
  // transition: a crash in between leaves the run as it was with its jobs
  // queued, and resuming again finishes the work.
  Status RequeueForResume(const std::string& run_id) {
    EVOLVE_ASSIGN_OR_RETURN(Run run, deps_.store.GetRun(run_id));
    if (run.status != RunStatus::kStopped && run.status != RunStatus::kFailed) return Status::Ok();
    auto gen = deps_.store.GetGeneration(run.id, run.current_generation);
    if (!gen.ok()) {
      if (gen.status().code() != StatusCode::kNotFound) return gen.status();
      // A generation whose model was being trained on the queue: its failed
      // parts, or its failed assembly, run again.
      for (const std::string& batch :
           {TrainBatchId(run.id, run.current_generation), AssembleBatchId(run.id, run.current_generation)}) {
        EVOLVE_ASSIGN_OR_RETURN(int requeued, deps_.store.RequeueFailedJobs(batch));
        if (requeued > 0) {
          Log(LogLevel::kInfo, "failed training jobs queued again",
              {{"run_id", run.id}, {"batch_id", batch}, {"jobs", std::to_string(requeued)}});
        }
      }
      return Status::Ok();
    }
    if (gen->batch_id.empty() || gen->state == GenerationState::kModelReady) return Status::Ok();
    EVOLVE_ASSIGN_OR_RETURN(int requeued, deps_.store.RequeueFailedJobs(gen->batch_id));
    if (requeued == 0) return Status::Ok();
    Log(LogLevel::kInfo, "failed jobs queued again",
        {{"run_id", run.id}, {"batch_id", gen->batch_id}, {"jobs", std::to_string(requeued)}});
    if (gen->state != GenerationState::kEvaluated) return Status::Ok();
    gen->state = GenerationState::kSimulating;
    return deps_.store.SaveGeneration(*gen);
  }

  Result<StepOutcome> StepOnce(const std::string& run_id) {
    EVOLVE_ASSIGN_OR_RETURN(Run run, deps_.store.GetRun(run_id));
    switch (run.status) {
      case RunStatus::kPending:
        return Commit(run, RunStatus::kPending, [&](Run& r) { r.status = RunStatus::kRunning; });
      case RunStatus::kStopped:
        return StepOutcome::kHalted;
      case RunStatus::kRunning:
        break;
      default:
        return StepOutcome::kFinished;
    }
    const int g = run.current_generation;
    auto gen = deps_.store.GetGeneration(run.id, g);
    if (!gen.ok()) {
      if (gen.status().code() != StatusCode::kNotFound) return gen.status();
      return PrepareGeneration(run, g);
    }
    switch (gen->state) {
      case GenerationState::kModelReady:
        return EnqueueGeneration(run, *gen);
      case GenerationState::kSimulating: {
        JobFilter filter;
        filter.batch_id = gen->batch_id;
        EVOLVE_ASSIGN_OR_RETURN(JobCounts counts, deps_.store.CountJobs(filter));
        if (!counts.finished()) {
          if (deps_.observer) deps_.observer->OnBatchProgress(run, *gen, counts);
          return StepOutcome::kWaiting;
        }
        // A finalist on the holdout: nothing to evaluate again until its
        // simulation has finished.
        if (gen->holdout && !gen->holdout->decided) {
          EVOLVE_ASSIGN_OR_RETURN(Job look, deps_.store.GetJob(gen->holdout->job_id));
          if (!IsFinal(look.status)) return StepOutcome::kWaiting;
        }
        return EvaluateGeneration(run, *gen);
      }
      case GenerationState::kEvaluated:
        // A crash between evaluating and moving the run on: evaluation is a
        // pure function of the stored results, so doing it again is safe.
        return EvaluateGeneration(run, *gen);
    }
    return InternalError("unknown generation state");
  }

  Result<Run> RunToEnd(const std::string& run_id, Event* stop) {
    Event wake;
    int64_t handle = deps_.store.Subscribe([&wake, run_id](const QueueEvent& e) {
      if (e.run_id.empty() || e.run_id == run_id) wake.Notify();
    });
    struct Unsubscriber {
      JobQueue& queue;
      int64_t handle;
      ~Unsubscriber() { queue.Unsubscribe(handle); }
    } unsubscriber{deps_.store, handle};

    // A store that is away (a database restarting, a network blip) is
    // waited for: every step is safe to repeat, so the run goes on where it
    // was once the store answers again. Other errors end the call.
    const Duration first_backoff = std::chrono::milliseconds(100);
    const Duration max_backoff = std::max<Duration>(options_.poll_interval, std::chrono::seconds(5));
    Duration backoff = first_backoff;
    auto wait_for_store = [&](const Status& error) {
      Log(LogLevel::kWarning, "store unavailable; retrying",
          {{"run_id", run_id},
           {"error", error.ToString()},
           {"retry_in_ms",
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(backoff).count())}});
      deps_.store.clock().SleepFor(backoff);
      backoff = std::min(backoff * 2, max_backoff);
    };
    while (stop == nullptr || !stop->IsNotified()) {
      // Reset before the step, so an event that arrives while stepping cuts
      // the following wait short instead of being lost.
      wake.Reset();
      Result<StepOutcome> stepped = Step(run_id);
      if (!stepped.ok()) {
        if (!stepped.status().IsRetryable()) return stepped.status();
        wait_for_store(stepped.status());
        continue;
      }
      backoff = first_backoff;
      const StepOutcome outcome = *stepped;
      if (outcome == StepOutcome::kFinished || outcome == StepOutcome::kHalted) break;
      if (outcome == StepOutcome::kWaiting) {
        // While waiting, give back the jobs of workers that died.
        auto reaped = deps_.store.ReapExpiredJobs();
        if (!reaped.ok()) {
          Log(LogLevel::kWarning, "reaping expired jobs failed", {{"error", reaped.status().ToString()}});
        } else if (*reaped > 0) {
          Log(LogLevel::kWarning, "reaped jobs with expired leases", {{"count", std::to_string(*reaped)}});
          continue;
        }
        wake.WaitFor(deps_.store.clock(), options_.poll_interval);
      }
    }
    while (true) {
      Result<Run> run = deps_.store.GetRun(run_id);
      if (run.ok() || !run.status().IsRetryable() || (stop != nullptr && stop->IsNotified())) return run;
      wait_for_store(run.status());
    }
  }

  Status Transition(const std::string& run_id, std::vector<RunStatus> from, RunStatus to,
                    const char* reason) {
    EVOLVE_RETURN_IF_ERROR(deps_.store.TransitionRun(run_id, from, to, reason, ""));
    Log(LogLevel::kInfo, std::string("run ") + RunStatusName(to), {{"run_id", run_id}});
    return Status::Ok();
  }

 private:
  // Writes `mutate(run)` if the run is still `expected`. A lost compare-and-set
  // means the user stopped or cancelled the run meanwhile: not an error, the
  // next step sees the new status.
  template <typename Mutate>
  Result<StepOutcome> Commit(Run& run, RunStatus expected, Mutate mutate) {
    mutate(run);
    Status s = deps_.store.UpdateRun(run, expected);
    if (s.code() == StatusCode::kAborted) return StepOutcome::kProgressed;
    EVOLVE_RETURN_IF_ERROR(s);
    if (IsFinal(run.status)) {
      Log(LogLevel::kInfo, std::string("run ") + RunStatusName(run.status),
          {{"run_id", run.id}, {"reason", run.stop_reason}, {"error", run.error}});
      if (deps_.observer) deps_.observer->OnRunFinished(run);
      return StepOutcome::kFinished;
    }
    return StepOutcome::kProgressed;
  }

  Result<StepOutcome> Finish(Run& run, RunStatus status, const std::string& reason,
                             const std::string& error = "") {
    return Commit(run, RunStatus::kRunning, [&](Run& r) {
      r.status = status;
      r.stop_reason = reason;
      r.error = error;
    });
  }

  // Whether the store can write, by writing the run back as read (a
  // compare-and-set on RUNNING that changes only updated_at). A lost
  // compare-and-set (the user stopped the run) still shows a working store.
  Status ProbeStoreWrite(const Run& run) {
    Status s = deps_.store.UpdateRun(run, RunStatus::kRunning);
    return s.code() == StatusCode::kAborted ? Status::Ok() : s;
  }

  void NoteStoreError(const Status& error) {
    const TimePoint now = deps_.store.clock().Now();
    std::lock_guard<std::mutex> lock(health_mu_);
    if (health_.writable) health_.failing_since = now;
    health_.writable = false;
    health_.error = error.ToString();
    health_.last_error_at = now;
  }

  void NoteStoreWrote() {
    std::lock_guard<std::mutex> lock(health_mu_);
    if (health_.writable) return;
    health_.writable = true;
    health_.error.clear();
    health_.failing_since.reset();
  }

  // A dependency (trainer, feature source, pruning strategy) failed for good.
  Result<StepOutcome> Fail(Run& run, const std::string& error) {
    return Finish(run, RunStatus::kFailed, kStopFailed, error);
  }

  // Calls `f` until it succeeds, fails with a non-retryable status, or the
  // retries are used up, backing off on the store's clock between tries.
  template <typename F>
  auto WithRetry(const std::string& what, F f) -> decltype(f()) {
    Duration backoff = options_.retry_backoff;
    for (int attempt = 0;; ++attempt) {
      auto result = f();
      if (result.ok() || !result.status().IsRetryable() || attempt >= options_.dependency_retries) {
        return result;
      }
      Log(LogLevel::kWarning, what + " failed, retrying",
          {{"error", result.status().ToString()}, {"attempt", std::to_string(attempt + 1)}});
      deps_.store.clock().SleepFor(backoff);
      backoff *= 2;
    }
  }

  // Where the queued training of generation g stands (training_on_queue):
  // read from the store alone, like every other state of a run.
  struct QueuedTraining {
    enum class Stage {
      kNone,       // nothing queued yet
      kWaiting,    // parts or the assembly outstanding
      kPartsDone,  // every part completed; the assembly not queued yet
      kFailed,     // a part or the assembly failed for good (error says which)
      kDone,       // assembled: model_id
    };
    Stage stage = Stage::kNone;
    std::vector<Job> parts;  // in part order
    std::string model_id;
    std::string error;
  };

  Result<QueuedTraining> ReadQueuedTraining(const std::string& run_id, int g) {
    QueuedTraining t;
    JobFilter filter;
    filter.batch_id = TrainBatchId(run_id, g);
    EVOLVE_ASSIGN_OR_RETURN(t.parts, deps_.store.ListJobs(filter));
    if (t.parts.empty()) return t;
    // Job ids number the parts (JobId), so id order is part order.
    std::sort(t.parts.begin(), t.parts.end(), [](const Job& a, const Job& b) { return a.id < b.id; });
    auto failed = [&t](const Job& job, const std::string& what) {
      t.stage = QueuedTraining::Stage::kFailed;
      t.error = what + " " + JobStatusName(job.status) + (job.error.empty() ? "" : ": " + job.error);
    };
    for (const Job& part : t.parts) {
      if (!IsFinal(part.status)) {
        t.stage = QueuedTraining::Stage::kWaiting;
        return t;
      }
    }
    for (const Job& part : t.parts) {
      if (part.status != JobStatus::kCompleted) {
        failed(part, "training job " + part.id);
        return t;
      }
    }
    filter.batch_id = AssembleBatchId(run_id, g);
    EVOLVE_ASSIGN_OR_RETURN(std::vector<Job> assembly, deps_.store.ListJobs(filter));
    if (assembly.empty()) {
      t.stage = QueuedTraining::Stage::kPartsDone;
    } else if (!IsFinal(assembly[0].status)) {
      t.stage = QueuedTraining::Stage::kWaiting;
    } else if (assembly[0].status != JobStatus::kCompleted || assembly[0].output.empty()) {
      failed(assembly[0], "assembly job " + assembly[0].id);
    } else {
      t.stage = QueuedTraining::Stage::kDone;
      t.model_id = assembly[0].output;
    }
    return t;
  }

  // A training step failed with `error`: the store's fault when it cannot
  // write (the run waits, kUnavailable), else the trainer's (the run fails
  // with `error`, or waits when it is retryable and `retryable_waits`).
  Result<StepOutcome> TrainingFailed(Run& run, int g, const Status& error, bool retryable_waits) {
    if (Status writable = ProbeStoreWrite(run); !writable.ok()) {
      Log(LogLevel::kWarning, "training failed while the store cannot write; the run waits for the store",
          {{"run_id", run.id}, {"training_error", error.ToString()}, {"store_error", writable.ToString()}});
      return UnavailableError("the store cannot write (" + writable.ToString() +
                              "); training failed with: " + error.ToString());
    }
    if (retryable_waits && error.IsRetryable()) {
      Log(LogLevel::kWarning, "training unavailable after retries; the run waits",
          {{"run_id", run.id}, {"error", error.ToString()}});
      return UnavailableError("training failed with: " + error.ToString());
    }
    return Fail(run, GenTag(g) + ": training: " +
                         (error.code() == StatusCode::kAborted ? error.message() : error.ToString()));
  }

  // Queues the parts of `spec`'s model as kTrain jobs (TrainingTask per
  // part; the trainer's plan says how many and what they read).
  Result<StepOutcome> QueueTraining(Run& run, int g, const ModelSpec& spec, const std::string& fingerprint,
                                    double priority) {
    auto plan = WithRetry("planning training", [&] { return deps_.trainer.PlanTraining(spec); });
    if (!plan.ok()) return TrainingFailed(run, g, plan.status(), /*retryable_waits=*/true);
    if (plan->parts < 1 || plan->parts > kMaxTrainingParts) {
      return Fail(run, GenTag(g) + ": training: the trainer planned " + std::to_string(plan->parts) +
                           " parts; 1 to " + std::to_string(kMaxTrainingParts) + " are allowed");
    }
    TrainingTask task;
    task.spec = spec;
    task.parts = plan->parts;
    task.inputs = plan->inputs;
    const std::string batch = TrainBatchId(run.id, g);
    std::vector<Job> jobs;
    for (int k = 0; k < plan->parts; ++k) {
      task.part = k;
      jobs.push_back(TrainingJob(run, g, batch, static_cast<size_t>(k), JobKind::kTrain, task, priority));
    }
    // Idempotent: after a crash the batch is not queued twice.
    EVOLVE_RETURN_IF_ERROR(deps_.store.EnqueueBatch(batch, jobs).status());
    // The line an operator looks for when a model starts training, as
    // inline training logs it; the parts are the workers' to run.
    Log(LogLevel::kInfo, "training model",
        {{"run_id", run.id},
         {"generation", std::to_string(g)},
         {"fingerprint", fingerprint},
         {"parts", std::to_string(plan->parts)}});
    if (deps_.observer) deps_.observer->OnModelTraining(run, g, spec);
    return StepOutcome::kProgressed;
  }

  // Queues the job that assembles the model from its completed parts.
  Result<StepOutcome> QueueAssembly(Run& run, int g, const QueuedTraining& t) {
    auto task = TrainingTaskFromJson(t.parts[0].task);
    if (!task.ok()) return InternalError("training job " + t.parts[0].id + ": " + task.status().message());
    task->part = 0;
    task->part_outputs.clear();
    for (const Job& part : t.parts) task->part_outputs.push_back(part.output);
    const std::string batch = AssembleBatchId(run.id, g);
    std::vector<Job> jobs{TrainingJob(run, g, batch, 0, JobKind::kAssemble, *task, t.parts[0].priority)};
    EVOLVE_RETURN_IF_ERROR(deps_.store.EnqueueBatch(batch, jobs).status());
    return StepOutcome::kProgressed;
  }

  Job TrainingJob(const Run& run, int g, const std::string& batch, size_t index, JobKind kind,
                  const TrainingTask& task, double priority) {
    Job job;
    job.id = JobId(batch, index);
    job.batch_id = batch;
    job.run_id = run.id;
    job.generation = g;
    job.priority = priority;
    job.max_attempts = options_.job_max_attempts;
    job.kind = kind;
    job.task = ToJson(task);
    job.params.ticker = task.spec.symbol;
    return job;
  }

  // Records the model the workers trained for `spec` (its fingerprint was
  // unknown when the training was queued).
  Result<ModelChoice> RecordTrainedModel(const std::string& fingerprint, const ModelSpec& spec,
                                         const std::string& trained_id) {
    FingerprintRecord record;
    record.fingerprint = fingerprint;
    record.model_id = trained_id;
    record.spec = spec;
    // If another engine recorded the same fingerprint first, its model wins
    // so that every run agrees on one model per configuration.
    EVOLVE_ASSIGN_OR_RETURN(FingerprintRecord stored, deps_.store.RecordFingerprint(record));
    Log(LogLevel::kInfo, "model recorded",
        {{"fingerprint", fingerprint}, {"model_id", stored.model_id}, {"trained_id", trained_id}});
    return ModelChoice{stored.model_id, fingerprint, stored.model_id != trained_id};
  }

  // Finds the model for `spec`: reused when its fingerprint is known, else
  // trained and recorded. Sets *dependency_error when the trainer failed
  // (the returned status then says why), so the caller can fail the run;
  // other errors are the store's.
  Result<ModelChoice> ObtainModel(const Run& run, int generation, const ModelSpec& spec,
                                  bool* dependency_error) {
    *dependency_error = false;
    auto fingerprint = Fingerprint(spec);
    if (!fingerprint.ok()) return InternalError("fingerprint: " + fingerprint.status().message());
    ModelChoice choice;
    choice.fingerprint = *fingerprint;
    auto known = deps_.store.LookupFingerprint(choice.fingerprint);
    if (known.ok()) {
      choice.model_id = known->model_id;
      choice.reused = true;
      return choice;
    }
    if (known.status().code() != StatusCode::kNotFound) return known.status();
    Log(LogLevel::kInfo, "training model",
        {{"run_id", run.id},
         {"generation", std::to_string(generation)},
         {"fingerprint", choice.fingerprint}});
    if (deps_.observer) deps_.observer->OnModelTraining(run, generation, spec);
    // A trainer that keeps its models in the store (the built-in one) fails
    // when the store cannot write (a full disk): that is the store's error,
    // which leaves the run as it was, to be stepped again with backoff,
    // instead of a trainer's, which fails the run after the retries. So a
    // failed training is blamed on the trainer only once the store has shown
    // it can write, and never for an error that says "not now"
    // (kUnavailable, kDeadlineExceeded: the store's errors of a full or
    // read-only disk, an unreachable training service): a nearly full disk
    // can take the small probe and still refuse a model's blob.
    std::optional<Result<TrainedModel>> trained;
    Duration backoff = options_.retry_backoff;
    for (int attempt = 0;; ++attempt) {
      trained.emplace(deps_.trainer.Train(spec));
      if (trained->ok()) break;
      if (Status writable = ProbeStoreWrite(run); !writable.ok()) {
        Log(LogLevel::kWarning, "training failed while the store cannot write; the run waits for the store",
            {{"run_id", run.id},
             {"training_error", trained->status().ToString()},
             {"store_error", writable.ToString()}});
        return UnavailableError("the store cannot write (" + writable.ToString() +
                                "); training failed with: " + trained->status().ToString());
      }
      if (!trained->status().IsRetryable()) {
        *dependency_error = true;
        return trained->status();
      }
      if (attempt >= options_.dependency_retries) {
        Log(LogLevel::kWarning, "training unavailable after retries; the run waits",
            {{"run_id", run.id}, {"error", trained->status().ToString()}});
        return UnavailableError("training failed with: " + trained->status().ToString());
      }
      Log(LogLevel::kWarning, "training failed, retrying",
          {{"error", trained->status().ToString()}, {"attempt", std::to_string(attempt + 1)}});
      deps_.store.clock().SleepFor(backoff);
      backoff *= 2;
    }
    return RecordTrainedModel(choice.fingerprint, spec, (*trained)->model_id);
  }

  // The model of `spec` when training is on the queue: the one the workers
  // assembled (`queued` is kDone), a known one (its fingerprint), or none
  // yet: the training is queued, and the outcome of that step returned.
  Result<std::pair<std::optional<ModelChoice>, StepOutcome>> QueuedModel(Run& run, int g, const ModelSpec& spec,
                                                                        const QueuedTraining& queued,
                                                                        std::optional<double> parent_sqn) {
    auto fingerprint = Fingerprint(spec);
    if (!fingerprint.ok()) return InternalError("fingerprint: " + fingerprint.status().message());
    if (queued.stage == QueuedTraining::Stage::kDone) {
      // The parts were trained for the spec decided when they were queued;
      // the same stored state decides the same spec, unless the bars changed
      // under the run (their digest is in the spec).
      auto task = TrainingTaskFromJson(queued.parts[0].task);
      if (!task.ok()) return InternalError("training job " + queued.parts[0].id + ": " + task.status().message());
      auto trained_for = Fingerprint(task->spec);
      if (!trained_for.ok() || *trained_for != *fingerprint) {
        EVOLVE_ASSIGN_OR_RETURN(StepOutcome failed,
                                Fail(run, GenTag(g) + ": the model trained on the queue was trained for " +
                                              "another configuration than this step decides (did the bars of " +
                                              spec.symbol + " change during the run?)"));
        return std::make_pair(std::optional<ModelChoice>(), failed);
      }
      EVOLVE_ASSIGN_OR_RETURN(ModelChoice recorded, RecordTrainedModel(*fingerprint, spec, queued.model_id));
      return std::make_pair(std::optional<ModelChoice>(recorded), StepOutcome::kProgressed);
    }
    auto known = deps_.store.LookupFingerprint(*fingerprint);
    if (known.ok()) {
      return std::make_pair(std::optional<ModelChoice>(ModelChoice{known->model_id, *fingerprint, true}),
                            StepOutcome::kProgressed);
    }
    if (known.status().code() != StatusCode::kNotFound) return known.status();
    EVOLVE_ASSIGN_OR_RETURN(StepOutcome queued_outcome,
                            QueueTraining(run, g, spec, *fingerprint, parent_sqn.value_or(0.0)));
    return std::make_pair(std::optional<ModelChoice>(), queued_outcome);
  }

  Result<const PruningStrategy*> Strategy(const Run& run) {
    if (deps_.pruning != nullptr) return deps_.pruning;
    std::lock_guard<std::mutex> lock(strategies_mu_);
    const std::string key = ToJson(run.config.pruning);
    auto it = strategies_.find(key);
    if (it == strategies_.end()) {
      EVOLVE_ASSIGN_OR_RETURN(auto strategy, NewPruningStrategy(run.config.pruning));
      it = strategies_.emplace(key, std::move(strategy)).first;
    }
    return it->second.get();
  }

  Result<StepOutcome> PrepareGeneration(Run& run, int g) {
    const EvolutionConfig& config = run.config;
    Generation gen;
    gen.run_id = run.id;
    gen.generation = g;
    ModelSpec spec;
    std::optional<ModelChoice> choice;

    // Training on the queue: while the workers train, a step only reads the
    // training jobs; once they have assembled the model, the step below
    // decides the generation again (a pure function of the stored state)
    // and records it.
    QueuedTraining queued;
    const bool on_queue = options_.training_on_queue && !(g == 0 && !config.seed_model_id.empty());
    if (on_queue) {
      EVOLVE_ASSIGN_OR_RETURN(queued, ReadQueuedTraining(run.id, g));
      switch (queued.stage) {
        case QueuedTraining::Stage::kWaiting:
          return StepOutcome::kWaiting;
        case QueuedTraining::Stage::kFailed:
          // kAborted: the job's own error says what failed.
          return TrainingFailed(run, g, AbortedError(queued.error), /*retryable_waits=*/false);
        case QueuedTraining::Stage::kPartsDone:
          return QueueAssembly(run, g, queued);
        case QueuedTraining::Stage::kNone:
        case QueuedTraining::Stage::kDone:
          break;
      }
    }

    if (g == 0 && !config.seed_model_id.empty()) {
      auto described = WithRetry("describing the seed model",
                                 [&] { return deps_.trainer.DescribeModel(config.seed_model_id); });
      if (!described.ok()) {
        return Fail(
            run, GenTag(g) + ": seed model " + config.seed_model_id + ": " + described.status().ToString());
      }
      spec = *described;
      if (!config.seed_features.empty() &&
          std::set<std::string>(config.seed_features.begin(), config.seed_features.end()) !=
              std::set<std::string>(spec.features.begin(), spec.features.end())) {
        return Fail(run, GenTag(g) + ": seed_features differ from the features of seed model " +
                             config.seed_model_id);
      }
      auto fingerprint = Fingerprint(spec);
      if (!fingerprint.ok())
        return Fail(run, GenTag(g) + ": seed model spec: " + fingerprint.status().message());
      FingerprintRecord record{*fingerprint, config.seed_model_id, spec, {}};
      EVOLVE_RETURN_IF_ERROR(deps_.store.RecordFingerprint(record).status());
      choice = ModelChoice{config.seed_model_id, *fingerprint, true};
      gen.features = spec.features;
      gen.pruning_reason = "seed";
    } else if (g == 0) {
      std::vector<std::string> features = config.seed_features;
      if (features.empty()) {
        auto listed =
            WithRetry("listing features", [&] { return deps_.features.ListFeatures(config.symbol); });
        if (!listed.ok()) {
          return Fail(
              run, GenTag(g) + ": feature columns of " + config.symbol + ": " + listed.status().ToString());
        }
        features = *listed;
        if (features.empty()) return Fail(run, GenTag(g) + ": " + config.symbol + " has no feature columns");
      }
      spec = SpecFor(config, features);
      gen.features = features;
      gen.pruning_reason = "seed";
    } else {
      auto prev_or = deps_.store.GetGeneration(run.id, g - 1);
      if (!prev_or.ok()) {
        if (prev_or.status().code() == StatusCode::kNotFound) {
          return InternalError("run " + run.id + ": " + GenTag(g - 1) + " is missing");
        }
        return prev_or.status();
      }
      const Generation& prev = *prev_or;
      gen.parent_model_id = prev.model_id;
      gen.parent_sqn = prev.best_sqn;

      auto report = WithRetry("feature importance", [&] { return deps_.trainer.Importance(prev.model_id); });
      if (!report.ok()) {
        return Fail(run,
                    GenTag(g) + ": importance of model " + prev.model_id + ": " + report.status().ToString());
      }
      // Strategies get exactly one finite importance per feature.
      std::map<std::string, double> by_feature;
      for (const auto& fi : report->importances) by_feature.emplace(fi.feature, fi.importance);
      std::vector<FeatureImportance> importances;
      for (const auto& f : prev.features) {
        auto it = by_feature.find(f);
        if (it == by_feature.end() || !std::isfinite(it->second)) {
          return Fail(run, GenTag(g) + ": model " + prev.model_id +
                               " reports no finite importance for feature '" + f + "'");
        }
        importances.push_back({f, it->second});
      }
      auto strategy = Strategy(run);
      if (!strategy.ok()) return Fail(run, GenTag(g) + ": " + strategy.status().message());
      auto decision = (*strategy)->Prune(prev.features, importances);
      if (!decision.ok()) {
        return Fail(run,
                    GenTag(g) + ": pruning (" + (*strategy)->Name() + "): " + decision.status().message());
      }
      std::multiset<std::string> split(decision->kept.begin(), decision->kept.end());
      split.insert(decision->pruned.begin(), decision->pruned.end());
      if (split != std::multiset<std::string>(prev.features.begin(), prev.features.end())) {
        return Fail(run, GenTag(g) + ": pruning strategy '" + (*strategy)->Name() +
                             "' did not split the features into kept and pruned");
      }
      if (decision->pruned.empty()) return Finish(run, RunStatus::kCompleted, kStopNoPruning);
      if (decision->kept.empty()) return Finish(run, RunStatus::kCompleted, kStopAllPruned);
      gen.features = decision->kept;
      gen.pruned_features = decision->pruned;
      gen.pruning_reason = decision->reason;
      spec = SpecFor(config, gen.features);
      spec.parent_model_id = prev.model_id;
    }

    if (!choice) {
      auto digest = WithRetry("digesting the bars",
                              [&] { return deps_.features.DataDigest(spec.symbol, spec.reference_symbols); });
      if (!digest.ok()) {
        return Fail(run, GenTag(g) + ": bars of " + spec.symbol + ": " + digest.status().ToString());
      }
      spec.data_digest = *digest;
      if (on_queue) {
        EVOLVE_ASSIGN_OR_RETURN(auto queued_choice, QueuedModel(run, g, spec, queued, gen.parent_sqn));
        if (!queued_choice.first) return queued_choice.second;
        choice = *queued_choice.first;
      } else {
        bool dependency_error = false;
        auto obtained = ObtainModel(run, g, spec, &dependency_error);
        if (!obtained.ok()) {
          if (dependency_error) return Fail(run, GenTag(g) + ": training: " + obtained.status().ToString());
          return obtained.status();
        }
        choice = *obtained;
      }
    }
    gen.model_id = choice->model_id;
    gen.fingerprint = choice->fingerprint;
    gen.reused_model = choice->reused;
    gen.state = GenerationState::kModelReady;

    LineageEdge edge;
    edge.id = BatchId(run.id, g);
    edge.run_id = run.id;
    edge.parent_model_id = gen.parent_model_id;
    edge.child_model_id = gen.model_id;
    edge.generation = g;
    edge.parent_sqn = gen.parent_sqn;
    edge.pruned_features = gen.pruned_features;
    edge.remaining_features = gen.features;
    edge.pruning_reason = gen.pruning_reason;
    EVOLVE_RETURN_IF_ERROR(deps_.store.AddLineageEdge(edge));
    EVOLVE_RETURN_IF_ERROR(deps_.store.SaveGeneration(gen));
    Log(LogLevel::kInfo, "generation ready",
        {{"run_id", run.id},
         {"generation", std::to_string(g)},
         {"model_id", gen.model_id},
         {"features", std::to_string(gen.features.size())},
         {"pruned", std::to_string(gen.pruned_features.size())},
         {"reused", gen.reused_model ? "true" : "false"}});
    if (deps_.observer) deps_.observer->OnGenerationReady(run, gen);
    if (g == 0 && run.seed_model_id != gen.model_id) {
      return Commit(run, RunStatus::kRunning, [&](Run& r) { r.seed_model_id = gen.model_id; });
    }
    return StepOutcome::kProgressed;
  }

  Result<StepOutcome> EnqueueGeneration(Run& run, Generation& gen) {
    const EvolutionConfig& config = run.config;
    gen.batch_id = BatchId(run.id, gen.generation);
    // The threshold axis: values in return units, then quantiles.
    std::vector<std::pair<double, std::optional<double>>> thresholds;
    for (double t : config.thresholds) thresholds.emplace_back(t, std::nullopt);
    for (double q : config.threshold_quantiles) thresholds.emplace_back(0.0, q);
    std::vector<Job> jobs;
    for (const auto& [threshold, quantile] : thresholds) {
      for (const RegimeFilter& regime : config.regime_configs) {
        Job job;
        job.id = JobId(gen.batch_id, jobs.size());
        job.batch_id = gen.batch_id;
        job.run_id = run.id;
        job.model_id = gen.model_id;
        job.generation = gen.generation;
        job.priority = gen.parent_sqn.value_or(0.0);
        job.max_attempts = options_.job_max_attempts;
        job.params.model_id = gen.model_id;
        job.params.ticker = config.symbol;
        job.params.threshold = threshold;
        job.params.threshold_quantile = quantile;
        job.params.regime = regime;
        job.params.initial_cash = config.initial_cash;
        job.params.fee_bps = config.fee_bps;
        job.params.slippage_bps = config.slippage_bps;
        job.params.span = ResearchSpan(config);
        jobs.push_back(std::move(job));
      }
    }
    // Idempotent: after a crash between these two writes, the batch is not
    // queued twice.
    EVOLVE_RETURN_IF_ERROR(deps_.store.EnqueueBatch(gen.batch_id, jobs).status());
    gen.jobs_total = static_cast<int>(jobs.size());
    gen.state = GenerationState::kSimulating;
    EVOLVE_RETURN_IF_ERROR(deps_.store.SaveGeneration(gen));
    Log(LogLevel::kInfo, "generation queued",
        {{"run_id", run.id},
         {"generation", std::to_string(gen.generation)},
         {"jobs", std::to_string(jobs.size())},
         {"priority", internal::FormatNumber(gen.parent_sqn.value_or(0.0))}});
    return StepOutcome::kProgressed;
  }

  // Evaluates a generation whose batch has finished: ranks its results,
  // computes the run's selection statistics, and decides. A finalist (the
  // best result that meets every criterion) goes to the holdout when the run
  // has one: the frozen cell is simulated there once, and the run waits for
  // it. Everything here is a pure function of the stored results and the
  // stored generation, so a crash anywhere is mended by evaluating again.
  Result<StepOutcome> EvaluateGeneration(Run& run, Generation& gen) {
    const EvolutionConfig& config = run.config;
    const Criteria criteria = CriteriaFrom(config);
    JobFilter filter;
    filter.batch_id = gen.batch_id;
    EVOLVE_ASSIGN_OR_RETURN(std::vector<Job> jobs, deps_.store.ListJobs(filter));

    const Job* best = nullptr;          // highest SQN among results with enough trades
    const Job* best_passing = nullptr;  // highest SQN among results that pass
    std::string first_error;
    gen.jobs_total = static_cast<int>(jobs.size());
    gen.jobs_completed = gen.jobs_failed = gen.jobs_passing = gen.jobs_too_few_trades = 0;
    // Ties keep the earlier job in claim order (ListJobs order), so the
    // choice is deterministic.
    auto better = [](const Job* current, const Job& candidate) {
      return current == nullptr || *candidate.result->sqn > *current->result->sqn;
    };
    for (const Job& job : jobs) {
      if (job.status == JobStatus::kFailed) {
        ++gen.jobs_failed;
        if (first_error.empty()) first_error = job.id + ": " + job.error;
      }
      if (job.status != JobStatus::kCompleted || !job.result) continue;
      if (!ScoredAsAsked(job)) return Fail(run, SpanMismatch(gen, job));
      ++gen.jobs_completed;
      const bool passed = Evaluate(criteria, *job.result).passed;
      if (passed) ++gen.jobs_passing;
      // A result of a handful of trades ranks nowhere: its SQN says nothing.
      if (job.result->trade_count < config.trade_count_min) {
        ++gen.jobs_too_few_trades;
        continue;
      }
      if (!job.result->sqn) continue;  // an undefined SQN cannot pass and ranks below any
      if (better(best, job)) best = &job;
      if (passed && better(best_passing, job)) best_passing = &job;
    }
    if (best != nullptr) {
      gen.best_sqn = best->result->sqn;
      gen.best_profit_factor = best->result->profit_factor;
      gen.best_trade_count = best->result->trade_count;
      gen.best_job_id = best->id;
      gen.verdict = Evaluate(criteria, *best->result).Summary();
    } else {
      gen.best_sqn.reset();
      gen.best_profit_factor.reset();
      gen.best_trade_count = 0;
      gen.best_job_id.clear();
      if (gen.jobs_completed == 0) {
        gen.verdict = "FAIL: no completed simulation";
      } else if (gen.jobs_too_few_trades > 0) {
        gen.verdict = "FAIL: no result has trade_count_min (" + std::to_string(config.trade_count_min) +
                      ") trades and an SQN";
      } else {
        gen.verdict = "FAIL: no result has an SQN";
      }
    }

    // The run's trials so far: every completed result of its research grid.
    EVOLVE_ASSIGN_OR_RETURN(gen.selection,
                            Selection(run, gen, best_passing != nullptr ? best_passing : best));
    std::string gate = SelectionGate(config, *gen.selection);
    const Job* finalist = gate.empty() ? best_passing : nullptr;
    if (best_passing != nullptr && !gate.empty()) gen.verdict = "FAIL: " + gate;

    if (finalist != nullptr && config.split.has_holdout()) {
      auto looked = LookAtHoldout(run, gen, *finalist);
      if (!looked.ok() || *looked != StepOutcome::kFinished) return looked;
      if (run.status != RunStatus::kRunning) return looked;  // failed (or stopped meanwhile)
      // Decided: passed promotes below, failed falls through.
      if (!gen.holdout->passed) finalist = nullptr;
    }

    gen.state = GenerationState::kEvaluated;
    EVOLVE_RETURN_IF_ERROR(deps_.store.SaveGeneration(gen));
    Log(LogLevel::kInfo, "generation evaluated",
        {{"run_id", run.id},
         {"generation", std::to_string(gen.generation)},
         {"completed", std::to_string(gen.jobs_completed)},
         {"failed", std::to_string(gen.jobs_failed)},
         {"best_sqn", gen.best_sqn ? internal::FormatNumber(*gen.best_sqn) : "none"},
         {"verdict", gen.verdict},
         {"holdout", gen.holdout ? gen.holdout->verdict : "none"}});
    if (deps_.observer) deps_.observer->OnGenerationEvaluated(run, gen);

    auto record_best = [&gen](Run& r) {
      if (gen.best_sqn && (!r.best_sqn || *gen.best_sqn > *r.best_sqn)) {
        r.best_sqn = gen.best_sqn;
        r.best_model_id = gen.model_id;
      }
    };

    if (finalist != nullptr) {
      Promotion p;
      p.id = run.id + "-promotion";
      p.model_id = gen.model_id;
      p.run_id = run.id;
      p.generation = gen.generation;
      p.job_id = finalist->id;
      p.sqn = *finalist->result->sqn;
      p.profit_factor = finalist->result->profit_factor;
      p.trade_count = finalist->result->trade_count;
      p.weekly_consistency = finalist->result->weekly_consistency;
      p.ticker = finalist->params.ticker;
      p.regime = finalist->params.regime;
      p.threshold = finalist->result->threshold.value_or(finalist->params.threshold);
      // The spec the model was trained as (with its data digest), from its
      // fingerprint record; the run's config when the record is missing.
      auto trained = deps_.store.LookupFingerprint(gen.fingerprint);
      p.spec = trained.ok() ? trained->spec : SpecFor(run.config, gen.features);
      p.spec.parent_model_id = gen.parent_model_id;
      p.result = *finalist->result;
      p.selection = gen.selection;
      p.holdout = gen.holdout;
      // Saved before the run says PROMOTED: a crash in between re-evaluates
      // and saves the same promotion again (idempotent by id).
      EVOLVE_RETURN_IF_ERROR(deps_.store.SavePromotion(p));
      return Commit(run, RunStatus::kRunning, [&](Run& r) {
        record_best(r);
        r.promoted = true;
        r.promotion_id = p.id;
        r.status = RunStatus::kPromoted;
        r.stop_reason = kStopPromoted;
      });
    }
    if (gen.jobs_completed == 0) {
      return Commit(run, RunStatus::kRunning, [&](Run& r) {
        r.status = RunStatus::kFailed;
        r.stop_reason = kStopFailed;
        r.error = GenTag(gen.generation) + ": all " + std::to_string(gen.jobs_total) +
                  " simulations failed; first error: " + first_error;
      });
    }
    // A rejected finalist spends a look; with none left the run is over.
    if (gen.holdout && gen.holdout->look >= config.holdout_looks) {
      return Commit(run, RunStatus::kRunning, [&](Run& r) {
        record_best(r);
        r.status = RunStatus::kCompleted;
        r.stop_reason = kStopHoldoutRejected;
      });
    }
    if (gen.generation + 1 >= run.config.max_generations) {
      return Commit(run, RunStatus::kRunning, [&](Run& r) {
        record_best(r);
        r.status = RunStatus::kCompleted;
        r.stop_reason = gen.holdout ? kStopHoldoutRejected : kStopMaxGenerations;
      });
    }
    return Commit(run, RunStatus::kRunning, [&](Run& r) {
      record_best(r);
      r.current_generation = gen.generation + 1;
    });
  }

  static std::string SpanMismatch(const Generation& gen, const Job& job) {
    if (job.params.threshold_quantile && !job.result->threshold) {
      return GenTag(gen.generation) + ": job " + job.id +
             " asked the simulator for a threshold at quantile " +
             internal::FormatNumber(*job.params.threshold_quantile) +
             " of the predictions, and its result does not say what threshold it used; a simulator that "
             "knows "
             "no quantiles needs threshold_quantiles empty (docs/validity.md)";
    }
    return GenTag(gen.generation) + ": job " + job.id + " asked the simulator to score the '" +
           (job.params.span.empty() ? std::string(kSpanAll) : job.params.span) + "' span, and it scored '" +
           (job.result->span.empty() ? std::string("(a simulator that knows no spans)") : job.result->span) +
           "'; a simulator that knows no spans needs holdout_fraction 0, no holdout_start and "
           "selection_fraction 0 (docs/validity.md)";
  }

  // The selection statistics of `gen`, whose candidate is `candidate`: the
  // run's completed research results of every generation so far are its
  // trials; what earlier runs spent on the same symbol and research span is
  // found once, at generation 0, and carried on.
  Result<SelectionStats> Selection(const Run& run, const Generation& gen, const Job* candidate) {
    JobFilter filter;
    filter.run_id = run.id;
    filter.status = JobStatus::kCompleted;
    EVOLVE_ASSIGN_OR_RETURN(std::vector<Job> done, deps_.store.ListJobs(filter));
    std::vector<const SimulationResult*> trials;
    std::string research_end;
    for (const Job& job : done) {
      if (!job.result || job.generation > gen.generation || job.params.span == kSpanHoldout) continue;
      trials.push_back(&*job.result);
      if (research_end.empty()) research_end = job.result->end_date;
    }
    internal::PriorSearch prior;
    if (gen.generation > 0) {
      auto previous = deps_.store.GetGeneration(run.id, gen.generation - 1);
      if (!previous.ok()) return previous.status();
      if (previous->selection) {
        prior.trials = previous->selection->prior_trials;
        prior.looks = previous->selection->prior_looks;
      }
    } else if (gen.selection && gen.selection->research_end == research_end) {
      prior.trials = gen.selection->prior_trials;  // evaluated before: keep what was found then
      prior.looks = gen.selection->prior_looks;
    } else {
      EVOLVE_ASSIGN_OR_RETURN(prior, internal::FindPriorSearch(deps_.store, run, research_end));
    }
    return internal::ComputeSelectionStats(trials, candidate != nullptr ? &*candidate->result : nullptr,
                                           prior, research_end);
  }

  // Why the selection statistics stop a finalist ("" when they do not).
  static std::string SelectionGate(const EvolutionConfig& config, const SelectionStats& s) {
    std::string why;
    auto add = [&why](const std::string& reason) { why += (why.empty() ? "" : "; ") + reason; };
    if (config.dsr_min) {
      if (!s.dsr) {
        add("dsr undefined (the simulator reports no trade blocks, or the finalist has too few trades)");
      } else if (*s.dsr < *config.dsr_min) {
        add("dsr " + internal::FormatNumber(*s.dsr) + " < min " + internal::FormatNumber(*config.dsr_min));
      }
    }
    if (config.pbo_max) {
      if (!s.pbo) {
        add("pbo undefined (fewer than two candidates with trade blocks)");
      } else if (*s.pbo > *config.pbo_max) {
        add("pbo " + internal::FormatNumber(*s.pbo) + " > max " + internal::FormatNumber(*config.pbo_max));
      }
    }
    return why;
  }

  // Takes `finalist` to the holdout: queues its frozen cell on the holdout
  // span (once), waits for it, then records the verdict in gen.holdout.
  // kFinished once decided; kProgressed / kWaiting while the simulation is
  // queued or running; a FAILED run when it failed for good.
  Result<StepOutcome> LookAtHoldout(Run& run, Generation& gen, const Job& finalist) {
    if (!gen.holdout) {
      int look = 1;
      for (int g = 0; g < gen.generation; ++g) {
        EVOLVE_ASSIGN_OR_RETURN(Generation earlier, deps_.store.GetGeneration(run.id, g));
        if (earlier.holdout) ++look;
      }
      Job job;
      job.batch_id = HoldoutBatchId(gen.batch_id);
      job.id = JobId(job.batch_id, 0);
      job.run_id = run.id;
      job.model_id = gen.model_id;
      job.generation = gen.generation;
      job.priority = finalist.result->sqn.value_or(0.0);
      job.max_attempts = options_.job_max_attempts;
      job.params = finalist.params;  // frozen: model, threshold, regime filter, costs
      job.params.span = kSpanHoldout;
      // Idempotent: a crash after this write and before the generation's
      // queues nothing twice.
      EVOLVE_RETURN_IF_ERROR(deps_.store.EnqueueBatch(job.batch_id, {job}).status());
      HoldoutCheck check;
      check.candidate_job_id = finalist.id;
      check.job_id = job.id;
      check.look = look;
      gen.holdout = check;
      EVOLVE_RETURN_IF_ERROR(deps_.store.SaveGeneration(gen));
      Log(LogLevel::kInfo, "finalist sent to the holdout",
          {{"run_id", run.id},
           {"generation", std::to_string(gen.generation)},
           {"job_id", finalist.id},
           {"look", std::to_string(look)}});
      return StepOutcome::kProgressed;
    }
    if (gen.holdout->decided) return StepOutcome::kFinished;
    EVOLVE_ASSIGN_OR_RETURN(Job job, deps_.store.GetJob(gen.holdout->job_id));
    if (!IsFinal(job.status)) return StepOutcome::kWaiting;
    if (job.status != JobStatus::kCompleted || !job.result) {
      return Fail(run, GenTag(gen.generation) + ": the holdout simulation " + job.id + " " +
                           JobStatusName(job.status) + ": " + job.error);
    }
    if (!ScoredAsAsked(job)) return Fail(run, SpanMismatch(gen, job));
    const Verdict verdict = EvaluateHoldout(run.config, *job.result);
    gen.holdout->decided = true;
    gen.holdout->passed = verdict.passed;
    gen.holdout->verdict = verdict.Summary();
    gen.holdout->result = job.result;
    Log(LogLevel::kInfo, "holdout verdict",
        {{"run_id", run.id},
         {"generation", std::to_string(gen.generation)},
         {"verdict", gen.holdout->verdict}});
    return StepOutcome::kFinished;
  }

  EngineDeps deps_;
  EngineOptions options_;
  std::mutex strategies_mu_;
  std::map<std::string, std::unique_ptr<PruningStrategy>> strategies_;  // by config JSON
  mutable std::mutex health_mu_;
  StoreWriteHealth health_;  // guarded by health_mu_
};

EvolutionEngine::EvolutionEngine(EngineDeps deps, EngineOptions options)
    : impl_(std::make_shared<Impl>(deps, options)) {}

Result<Run> EvolutionEngine::CreateRun(const EvolutionConfig& config) { return impl_->CreateRun(config); }

Result<StepOutcome> EvolutionEngine::Step(const std::string& run_id) { return impl_->Step(run_id); }

Result<Run> EvolutionEngine::RunToEnd(const std::string& run_id, Event* stop) {
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<RunLock> lock, impl_->store().TryLockRun(run_id));
  return impl_->RunToEnd(run_id, stop);
}

Result<Run> EvolutionEngine::RunToEnd(const RunLock& held, Event* stop) {
  return impl_->RunToEnd(held.run_id(), stop);
}

Status EvolutionEngine::StopRun(const std::string& run_id) {
  return impl_->Transition(run_id, {RunStatus::kPending, RunStatus::kRunning}, RunStatus::kStopped,
                           kStopStopped);
}

Status EvolutionEngine::CancelRun(const std::string& run_id) {
  return impl_->Transition(run_id, {RunStatus::kPending, RunStatus::kRunning, RunStatus::kStopped},
                           RunStatus::kCancelled, kStopCancelled);
}

Status EvolutionEngine::ResumeRun(const std::string& run_id) {
  EVOLVE_RETURN_IF_ERROR(impl_->RequeueForResume(run_id));
  return impl_->Transition(run_id, {RunStatus::kStopped, RunStatus::kFailed}, RunStatus::kRunning, "");
}

StoreWriteHealth EvolutionEngine::store_health() const { return impl_->store_health(); }

}  // namespace evolve
