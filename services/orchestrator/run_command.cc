// evolve run: one evolution to its end, in this process, with N in-process
// workers draining the queue; or --resume RUN_ID to continue one.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/evolution.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/worker_pool.h"
#ifdef EVOLVE_HAVE_POSTGRES
#include "evolve/postgres/postgres_store.h"
#endif
#include "evolve/service/args.h"
#include "evolve/service/bar_settings.h"
#include "evolve/service/exit.h"
#include "evolve/service/settings.h"
#include "evolve/shutdown.h"
#include "evolve/worker.h"
#include "output.h"
#include "run_config.h"
#include "run_support.h"

namespace evolve::cli {
namespace {

using service::Args;
using service::Fail;
using service::kExitError;
using service::kExitInterrupted;
using service::kExitOk;
using service::OpenStore;
using service::OptionsHelp;
using service::OptionSpec;
using service::ParseInt;
using service::ProgramName;
using service::ResolveStore;
using service::StoreOptions;

constexpr char kDefaultSymbol[] = "TTRC";

// `evolve run` always uses the built-in engines: TRAINING_URL,
// SIMULATION_URL or FEATURE_URL (the original services, which evolve serve
// and evolve-worker use) fail loudly there instead of being ignored.
Status CheckUnsupportedEnvironment() {
  for (const char* name : {"TRAINING_URL", "SIMULATION_URL", "FEATURE_URL"}) {
    if (!service::Env(name).empty()) {
      return InvalidArgumentError(std::string(name) +
                                  " is set, but evolve run always uses the built-in engines; the original "
                                  "services are used by evolve serve and evolve-worker. Unset it here");
    }
  }
  return Status::Ok();
}

std::vector<OptionSpec> RunOptions() {
  std::vector<OptionSpec> specs = {
      {"resume", "RUN_ID", "continue a stopped, failed or interrupted run (takes no run options)"},
      {"workers", "N", "in-process workers draining the queue (default: number of cores)"},
      TrainingOption(),
      {"json", "", "print the final run document as JSON instead of the tables"},
      {"help", "", "show this help"},
  };
  for (const OptionSpec& s : StoreOptions()) specs.push_back(s);
  for (const OptionSpec& s : service::BarsOptions()) specs.push_back(s);
  for (const OptionSpec& s : RunConfigOptions()) specs.push_back(s);
  return specs;
}

void PrintRunHelp() {
  std::printf(
      "usage: evolve run [options]\n"
      "       evolve run --resume RUN_ID [--workers N] [--db PATH] [--json]\n\n"
      "Runs one evolution (train, prune, simulate, evolve, promote) to its end with the built-in\n"
      "engines, keeping everything in the store. Ctrl-C stops it cleanly; --resume continues it.\n\n"
      "options:\n%s",
      OptionsHelp(RunOptions()).c_str());
}

// Stops a run on SIGINT/SIGTERM: the first signal asks everything to stop
// after the step in flight; a second one exits at once (the store stays
// consistent either way: every write is a transaction).
struct Interrupt {
  Event stop;
  std::atomic<int> signals{0};
};

Interrupt& TheInterrupt() {
  static Interrupt* interrupt = new Interrupt();  // lives until exit: the signal thread uses it
  return *interrupt;
}

// Live progress: on a terminal, one progress bar per generation redrawn in
// place; otherwise plain lines (one per change), so logs stay readable.
class Progress final : public EngineObserver {
 public:
  Progress(Store& store, bool tty) : store_(store), tty_(tty) {}

  void OnModelTraining(const Run&, int generation, const ModelSpec& spec) override {
    Print("gen " + std::to_string(generation) + ": training " + spec.algorithm + " on " +
          std::to_string(spec.features.size()) + " features...");
  }

  void OnGenerationReady(const Run&, const Generation& g) override {
    std::string line = "gen " + std::to_string(g.generation) + ": model " + g.model_id +
                       (g.reused_model ? " (reused, not retrained)" : "") + ", " +
                       std::to_string(g.features.size()) + " features";
    if (g.generation > 0) line += ", " + std::to_string(g.pruned_features.size()) + " pruned";
    Print(line);
    last_done_ = -1;
  }

  void OnBatchProgress(const Run&, const Generation& g, const JobCounts&) override {
    // One read for both numbers, so "done" and "best so far" agree.
    JobFilter filter;
    filter.batch_id = g.batch_id;
    auto jobs = store_.ListJobs(filter);
    if (!jobs.ok()) return;
    int done = 0;
    std::optional<double> best;
    for (const Job& job : *jobs) {
      if (IsFinal(job.status)) ++done;
      if (job.result.has_value() && job.result->sqn.has_value() && (!best || *job.result->sqn > *best)) {
        best = job.result->sqn;
      }
    }
    if (done == last_done_) return;
    last_done_ = done;
    Draw(g, done, static_cast<int>(jobs->size()), best);
  }

  void OnGenerationEvaluated(const Run&, const Generation& g) override {
    Draw(g, g.jobs_completed + g.jobs_failed, g.jobs_total, g.best_sqn);
    if (tty_) std::fputc('\n', stderr);
    Print("  verdict: " + g.verdict);
    last_done_ = -1;
  }

 private:
  void Draw(const Generation& g, int done, int total, std::optional<double> best) {
    const std::string tail =
        " " + std::to_string(done) + "/" + std::to_string(total) + " jobs, best SQN " + Num(best);
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = total > 0 ? done * kWidth / total : 0;
      std::fprintf(stderr, "\r\033[Kgen %d [%s%s]%s", g.generation, std::string(filled, '#').c_str(),
                   std::string(kWidth - filled, '.').c_str(), tail.c_str());
      std::fflush(stderr);
    } else {
      Print("gen " + std::to_string(g.generation) + ":" + tail);
    }
  }

  void Print(const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

  Store& store_;
  const bool tty_;
  int last_done_ = -1;
};

// "A, B, C", for messages that list the data's symbols.
// The symbol when none is given: TTRC when the data has it (the bundled
// data), else the data directory's only symbol.
Result<std::string> DefaultSymbol(const std::vector<std::string>& symbols, const std::string& source) {
  if (std::find(symbols.begin(), symbols.end(), kDefaultSymbol) != symbols.end())
    return std::string(kDefaultSymbol);
  if (symbols.size() == 1) return symbols[0];
  return InvalidArgumentError("--symbol is required: " + source + " has " + JoinSymbols(symbols));
}

// Builds and validates the config of a new run; changes nothing.
Result<EvolutionConfig> NewRunConfig(const Args& args, const service::BarsSettings& settings,
                                     engines::BarSource& bars) {
  EVOLVE_ASSIGN_OR_RETURN(int default_generations, DefaultMaxGenerations());
  EVOLVE_ASSIGN_OR_RETURN(std::vector<std::string> symbols, bars.Symbols());
  const std::string& source = bars.describe();
  if (symbols.empty()) return NotFoundError("no bars in " + source + " (no symbol)");
  auto default_symbol = [&symbols, &source] { return DefaultSymbol(symbols, source); };
  bool timeframe_given = false;
  EVOLVE_ASSIGN_OR_RETURN(EvolutionConfig config,
                          RunConfigFromArgs(args, default_symbol, default_generations, &timeframe_given));
  const std::vector<FieldError> problems =
      DataProblems(config, symbols, bars,
                   {source, "evolve features " + config.symbol + " " + settings.flag_text}, timeframe_given);
  if (!problems.empty()) {
    // Every problem, each with the option that sets its field
    // ("seed_features[2] (--seed-features)"); a field no option sets comes
    // from --config.
    std::string text;
    for (const FieldError& p : problems) {
      std::string option = OptionForField(p.field);
      if (option.empty()) option = "config";
      text += (text.empty() ? "" : "; ") + p.field + " (--" + option + "): " + p.message;
    }
    return InvalidArgumentError(text);
  }
  if (!timeframe_given) {
    EVOLVE_ASSIGN_OR_RETURN(config.timeframe, TimeframeOfData(config.symbol, bars));
  }
  EVOLVE_RETURN_IF_ERROR(RecordBarsOfRun(config, bars));
  return config;
}

}  // namespace

int RunCommand(const Argv& argv) {
  auto parsed = Args::Parse("run", argv, RunOptions(), 0);
  if (!parsed.ok()) return Fail(parsed.status());
  const Args& args = *parsed;
  if (args.Has("help")) {
    PrintRunHelp();
    return kExitOk;
  }
  if (Status s = CheckUnsupportedEnvironment(); !s.ok()) return Fail(s);

  int workers = DefaultWorkers();
  if (std::optional<std::string> w = args.Get("workers")) {
    auto n = ParseInt("--workers", *w);
    if (!n.ok()) return Fail(n.status());
    if (*n < 0 || *n > 256) return Fail(InvalidArgumentError("--workers: must be in [0, 256], got " + *w));
    workers = static_cast<int>(*n);
  }
  const Result<bool> training_on_queue = TrainingOnQueue(args.Get("training"), workers);
  if (!training_on_queue.ok()) return Fail(training_on_queue.status());
  const std::optional<std::string> resume = args.Get("resume");
  if (resume.has_value()) {
    for (const std::string& name : args.given()) {
      if (IsRunConfigOption(name)) {
        return Fail(InvalidArgumentError("--resume continues a run with its stored configuration; --" + name +
                                         " cannot be given with it"));
      }
    }
  }
  auto store_settings = ResolveStore(args);
  if (!store_settings.ok()) return Fail(store_settings.status());
  auto bars_settings = service::ResolveBars(args);
  if (!bars_settings.ok()) return Fail(bars_settings.status());
  auto opened_bars = service::OpenBarSource(*bars_settings);
  if (!opened_bars.ok()) return Fail(opened_bars.status());
  std::shared_ptr<engines::BarSource> bars = *opened_bars;

  // Everything a new run needs is checked before the store is opened, so bad
  // input leaves the database untouched (not even created).
  EvolutionConfig config;
  if (!resume.has_value()) {
    auto c = NewRunConfig(args, *bars_settings, *bars);
    if (!c.ok()) return Fail(c.status());
    config = *c;
  }

  // Signals are taken by one thread from here on; must precede every thread.
  Interrupt& interrupt = TheInterrupt();
  Status signals = HandleStopSignals([&interrupt](int) {
    if (interrupt.signals.fetch_add(1) > 0) {
      std::fprintf(stderr, "\nevolve: interrupted again; exiting now (the store is consistent)\n");
      std::_Exit(kExitInterrupted);
    }
    std::fprintf(stderr, "\nevolve: stopping after the current step (Ctrl-C again to quit at once)\n");
    interrupt.stop.Notify();
  });
  if (!signals.ok()) return Fail(signals);

  auto opened = OpenStore(*store_settings, resume.has_value());
  if (!opened.ok()) return Fail(opened.status());
  Store& store = **opened;

  engines::BuiltinOptions engine_options;
  engine_options.bars = bars;
  auto engines = engines::NewBuiltinEngines(store, engine_options);
  if (!engines.ok()) return Fail(engines.status());

  const bool json = args.Has("json");
  Progress progress(store, ::isatty(STDERR_FILENO) != 0);
  EngineOptions options;
  options.poll_interval = std::chrono::milliseconds(200);
  options.training_on_queue = *training_on_queue;
  EvolutionEngine engine({*engines->features, *engines->trainer, store, nullptr, &progress}, options);

  std::string run_id;
  std::unique_ptr<RunLock> lock;
  if (resume.has_value()) {
    run_id = *resume;
    // Taken before the run is touched: another live process may be running it.
    auto locked = store.TryLockRun(run_id);
    if (!locked.ok()) return Fail(locked.status());
    lock = std::move(*locked);
    if (store_settings->url.empty()) {
      // One host shares a SQLite file: a dead process's workers are known by pid.
      auto released = ReleaseJobsOfDeadWorkers(store, store, HostName());
      if (released.ok() && *released > 0) {
        std::fprintf(stderr, "handed back %d job(s) held by workers of a dead evolve process\n", *released);
      }
    }
    auto run = store.GetRun(run_id);
    if (!run.ok()) return Fail(run.status());
    if (run->status == RunStatus::kStopped || run->status == RunStatus::kFailed) {
      if (Status s = engine.ResumeRun(run_id); !s.ok()) return Fail(s);
    } else if (run->status != RunStatus::kRunning && run->status != RunStatus::kPending) {
      return Fail(InvalidArgumentError("run " + run_id + " has ended " + RunStatusName(run->status) +
                                       "; nothing to resume (evolve show " + run_id + ")"));
    }
    config = run->config;
    std::fprintf(stderr, "resuming run %s: %s, generation %d of at most %d\n", run_id.c_str(),
                 config.symbol.c_str(), run->current_generation, config.max_generations);
  } else {
    auto run = engine.CreateRun(config);
    if (!run.ok()) return Fail(run.status());
    run_id = run->id;
    std::fprintf(stderr,
                 "run %s: %s %s bars, up to %d generations, %zu thresholds x %zu regime filters, store %s\n",
                 run_id.c_str(), config.symbol.c_str(), config.timeframe.c_str(), config.max_generations,
                 config.thresholds.size(), config.regime_configs.size(), store_settings->sqlite_path.c_str());
  }
  if (lock == nullptr) {
    auto locked = store.TryLockRun(run_id);
    if (!locked.ok()) return Fail(locked.status());
    lock = std::move(*locked);
  }

  // The workers: one claim takes a fair share of a generation's grid, so the
  // simulator runs each share in one pass over the bars.
  const int grid = static_cast<int>(config.thresholds.size() * config.regime_configs.size());
  WorkerPool pool(
      store, &store, *engines->simulator, engines->trainer.get(), store.clock(),
      InProcessWorkerPoolOptions("evolve-run", workers, (grid + workers - 1) / std::max(1, workers)));
  // --workers 0: no pool to start (evolve-worker processes simulate).
  if (Status s = pool.size() > 0 ? pool.Start() : Status::Ok(); !s.ok()) return Fail(s);
  auto finished = engine.RunToEnd(*lock, &interrupt.stop);
  pool.Stop();
  if (!finished.ok()) {
    std::fprintf(stderr, "evolve: resume with: %s run --resume %s %s\n", ProgramName().c_str(),
                 run_id.c_str(), store_settings->flag_text.c_str());
    return Fail(finished.status());
  }
  Run run = *finished;
  if (interrupt.stop.IsNotified() &&
      (run.status == RunStatus::kRunning || run.status == RunStatus::kPending)) {
    if (Status s = engine.StopRun(run_id); !s.ok()) return Fail(s);
    std::fprintf(stderr, "run %s stopped at generation %d; resume with: %s run --resume %s %s\n",
                 run_id.c_str(), run.current_generation, ProgramName().c_str(), run_id.c_str(),
                 store_settings->flag_text.c_str());
    return kExitInterrupted;
  }

  if (json) {
    auto doc = RunDocumentJson(store, run_id);
    if (!doc.ok()) return Fail(doc.status());
    std::printf("%s\n", doc->c_str());
  } else {
    auto generations = store.ListGenerations(run_id);
    if (!generations.ok()) return Fail(generations.status());
    auto outcome = RunOutcomeText(store, run);
    if (!outcome.ok()) return Fail(outcome.status());
    std::printf("\n%s\n%s", GenerationsTable(*generations).c_str(), outcome->c_str());
    const char* prog = ProgramName().c_str();
    const char* store_flag = store_settings->flag_text.c_str();
    std::printf(
        "\nresults are in %s; look at them with:\n"
        "  %s show %s %s\n"
        "  %s runs %s\n"
        "  %s promoted %s\n"
        "  %s lineage %s %s\n",
        store_settings->sqlite_path.c_str(), prog, run_id.c_str(), store_flag, prog, store_flag, prog,
        store_flag, prog, (run.best_model_id.empty() ? "MODEL_ID" : run.best_model_id).c_str(), store_flag);
  }
  return run.status == RunStatus::kFailed ? kExitError : kExitOk;
}

}  // namespace evolve::cli
