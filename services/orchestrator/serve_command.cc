// evolve serve: the orchestrator service. The REST API on 127.0.0.1:8400,
// a scheduler stepping every run concurrently, in-process workers, and
// recovery of the runs a killed service left RUNNING.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "api.h"
#include "commands.h"
#include "engine_setup.h"
#include "evolve/evolution.h"
#include "evolve/log.h"
#include "evolve/scheduler.h"
#include "evolve/service/args.h"
#include "evolve/service/bar_settings.h"
#include "evolve/service/engine_setup.h"
#include "evolve/service/exit.h"
#include "evolve/service/settings.h"
#include "evolve/shutdown.h"
#include "evolve/worker_pool.h"
#include "run_config.h"
#include "run_support.h"

namespace evolve::cli {
namespace {

using service::Args;
using service::Fail;
using service::IntOption;
using service::kExitInterrupted;
using service::kExitOk;
using service::MetricHeader;
using service::MetricLine;
using service::OpenStore;
using service::OptionSpec;

constexpr int kDefaultPort = 8400;
constexpr size_t kDefaultMaxBody = 1 << 20;  // 1 MiB

std::vector<OptionSpec> ServeOptions() {
  std::vector<OptionSpec> specs = {
      {"host", "ADDR", "address to listen on (default 127.0.0.1; others need a token or --insecure)"},
      {"port", "N", "port to listen on (default 8400; 0 picks a free one, printed at start)"},
      {"workers", "N",
       "in-process workers (default: number of cores; 0 when evolve-worker processes simulate)"},
      {"max-jobs-per-claim", "N", "jobs an in-process worker claims at once (default 16)"},
      TrainingOption(),
      {"run-threads", "N",
       "runs stepped at once (default 2); with --training inline also the models trained at once"},
      {"max-runs", "N",
       "the most runs this service steps at once (default 0: no limit); more stay PENDING in the store for "
       "a service with room (several services can share one database)"},
      {"http-threads", "N",
       "threads kept to serve requests; more start on demand (a connection holds one while open), up to 512 "
       "(default 32)"},
      {"token-file", "PATH", "file holding the API token (default: EVOLVE_API_TOKEN)"},
      {"insecure", "", "allow a non-loopback --host without a token"},
      {"max-body", "BYTES", "largest request body accepted (default 1048576); larger gets 413"},
      {"bars-cache-mb", "MB",
       "parsed bars kept in memory; the least recently used symbols' are dropped past it (default 2048)"},
      {"poll-interval", "SECONDS", "how often a waiting run is re-checked without a queue event (default 1)"},
      {"require-claim-tokens", "",
       "refuse workers of protocol 1 (no claim token; evolve-worker before claim tokens) with 400"},
      {"help", "", "show this help"},
  };
  for (const OptionSpec& s : service::StoreOptions()) specs.push_back(s);
  for (const OptionSpec& s : service::BarsOptions()) specs.push_back(s);
  return specs;
}

void PrintServeHelp() {
  std::printf(
      "usage: evolve serve [options]\n\n"
      "Serves the orchestrator's REST API (docs/api.md): POST /evolve starts runs, which are stepped\n"
      "concurrently; GET /runs, /promoted, /api/stats and the rest read the store; /jobs/* lets\n"
      "evolve-worker --orchestrator processes drain the queue over HTTP. Runs that were RUNNING when\n"
      "a previous service died are resumed at start. SIGTERM or Ctrl-C stops it gracefully.\n\n"
      "environment: EVOLVE_API_TOKEN (bearer token for every mutating and /jobs endpoint),\n"
      "POSTGRES_URL / EVOLVE_DB, EVOLVE_BARS / EVOLVE_DATA_DIR, DEFAULT_MAX_GENERATIONS, LOG_LEVEL (default "
      "INFO).\n\n"
      "options:\n%s",
      service::OptionsHelp(ServeOptions()).c_str());
}

struct ServeSettings {
  std::string host = "127.0.0.1";
  int port = kDefaultPort;
  int workers = 1;
  bool training_on_queue = false;
  int max_jobs_per_claim = 16;
  int run_threads = 2;
  int max_runs = 0;
  int http_threads = 32;
  size_t max_body = kDefaultMaxBody;
  size_t bars_cache_bytes = engines::BarSource::kDefaultCacheBytes;
  Duration poll_interval = std::chrono::seconds(1);
  std::string token;
  bool require_claim_tokens = false;
};

Result<ServeSettings> ParseServeSettings(const Args& args) {
  ServeSettings s;
  if (std::optional<std::string> host = args.Get("host")) {
    if (host->empty()) return InvalidArgumentError("--host: must not be empty");
    s.host = *host;
  }
  EVOLVE_ASSIGN_OR_RETURN(s.port, IntOption(args, "port", kDefaultPort, 0, 65535));
  EVOLVE_ASSIGN_OR_RETURN(s.workers, IntOption(args, "workers", DefaultWorkers(), 0, 256));
  EVOLVE_ASSIGN_OR_RETURN(s.training_on_queue, TrainingOnQueue(args.Get("training"), s.workers));
  EVOLVE_ASSIGN_OR_RETURN(s.max_jobs_per_claim, IntOption(args, "max-jobs-per-claim", 16, 1, 10000));
  EVOLVE_ASSIGN_OR_RETURN(s.run_threads, IntOption(args, "run-threads", 2, 1, 64));
  EVOLVE_ASSIGN_OR_RETURN(s.max_runs, IntOption(args, "max-runs", 0, 0, 1000000));
  EVOLVE_ASSIGN_OR_RETURN(s.http_threads, IntOption(args, "http-threads", 32, 1, 1024));
  EVOLVE_ASSIGN_OR_RETURN(int max_body, IntOption(args, "max-body", kDefaultMaxBody, 1024, 1 << 30));
  s.max_body = static_cast<size_t>(max_body);
  EVOLVE_ASSIGN_OR_RETURN(
      int bars_cache_mb,
      IntOption(args, "bars-cache-mb", static_cast<int>(engines::BarSource::kDefaultCacheBytes >> 20), 1,
                1 << 20));
  s.bars_cache_bytes = static_cast<size_t>(bars_cache_mb) << 20;
  if (std::optional<std::string> poll = args.Get("poll-interval")) {
    EVOLVE_ASSIGN_OR_RETURN(double seconds, service::ParseDouble("--poll-interval", *poll));
    if (!(seconds >= 0.01 && seconds <= 3600)) {
      return InvalidArgumentError("--poll-interval: must be in [0.01, 3600] seconds, got " + *poll);
    }
    s.poll_interval = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
  }
  EVOLVE_ASSIGN_OR_RETURN(s.token, service::ResolveApiToken(args));
  s.require_claim_tokens = args.Has("require-claim-tokens");
  if (!service::IsLoopback(s.host) && s.token.empty() && !args.Has("insecure")) {
    return InvalidArgumentError("--host " + s.host +
                                ": refusing to serve a non-loopback address without a token; set "
                                "EVOLVE_API_TOKEN or --token-file (or pass --insecure)");
  }
  return s;
}

// Metric text of the in-process workers and the scheduler.
std::string ProcessMetrics(const WorkerPool& pool, const RunScheduler& scheduler, const Metrics& metrics) {
  const WorkerStats w = pool.stats();
  const SchedulerStats s = scheduler.stats();
  std::string out;
  auto counter = [&out](const char* name, const char* help, double value) {
    out += MetricHeader(name, "counter", help) + MetricLine(name, {}, value);
  };
  counter("evolve_jobs_claimed_total",
          "Jobs claimed through this service (in-process workers and /jobs/claim).",
          static_cast<double>(w.claimed + metrics.Get(kJobsClaimedOverHttp)));
  counter("evolve_jobs_completed_total", "Jobs completed through this service.",
          static_cast<double>(w.completed + metrics.Get(kJobsCompletedOverHttp)));
  counter("evolve_jobs_failed_total", "Job attempts that failed through this service (for good or retried).",
          static_cast<double>(w.failed + w.retried + metrics.Get(kJobsFailedOverHttp)));
  counter("evolve_jobs_lost_total", "Completions refused because the worker no longer held the lease.",
          static_cast<double>(w.lost + metrics.Get(kJobsLostOverHttp)));
  counter("evolve_job_leases_expired_total", "Expired job leases reaped by this service.",
          static_cast<double>(s.reaped));
  counter("evolve_scheduler_steps_total", "Evolution steps taken by the run scheduler.",
          static_cast<double>(s.steps));
  counter("evolve_scheduler_step_errors_total", "Evolution steps that failed (and were retried).",
          static_cast<double>(s.step_errors));
  out += MetricHeader("evolve_scheduler_runs", "gauge", "Runs held by this service's scheduler, by state.");
  out += MetricLine("evolve_scheduler_runs", {{"state", "waiting"}}, s.waiting);
  out += MetricLine("evolve_scheduler_runs", {{"state", "active"}}, s.scheduled - s.waiting);
  out += MetricHeader("evolve_inprocess_workers", "gauge", "Workers running inside this service.");
  out += MetricLine("evolve_inprocess_workers", {}, pool.size());
  return out;
}

}  // namespace

int ServeCommand(const Argv& argv) {
  auto parsed = Args::Parse("serve", argv, ServeOptions(), 0);
  if (!parsed.ok()) return Fail(parsed.status());
  const Args& args = *parsed;
  if (args.Has("help")) {
    PrintServeHelp();
    return kExitOk;
  }
  if (service::Env("LOG_LEVEL").empty()) SetLogLevel(LogLevel::kInfo);
  if (auto remote = service::RemoteEngineOptions(); !remote.ok()) return Fail(remote.status());
  auto settings = ParseServeSettings(args);
  if (!settings.ok()) return Fail(settings.status());
  auto store_settings = service::ResolveStore(args);
  if (!store_settings.ok()) return Fail(store_settings.status());
  auto bars = service::ResolveBars(args);
  if (!bars.ok()) return Fail(bars.status());
  auto default_generations = DefaultMaxGenerations();
  if (!default_generations.ok()) return Fail(default_generations.status());

  Metrics metrics;
  http::HttpServer server(
      service::CountedServerOptions(settings->max_body, settings->http_threads, settings->token, metrics));
  // Signals are taken by one thread from here on; must precede every thread.
  std::atomic<int> signals{0};
  Status handled = HandleStopSignals([&server, &signals](int) {
    if (signals.fetch_add(1) > 0) {
      Log(LogLevel::kWarning, "second stop signal; exiting now (the store is consistent)");
      std::_Exit(kExitInterrupted);
    }
    Log(LogLevel::kInfo, "stopping: no new requests; finishing the steps and simulations in flight");
    server.Stop();
  });
  if (!handled.ok()) return Fail(handled);

  auto opened = OpenStore(*store_settings, /*must_exist=*/false);
  if (!opened.ok()) return Fail(opened.status());
  Store& store = **opened;
  auto engines = OpenEngines(store, *bars, settings->bars_cache_bytes);
  if (!engines.ok()) return Fail(engines.status());

  EngineOptions options;
  options.poll_interval = settings->poll_interval;
  options.training_on_queue = settings->training_on_queue;
  EvolutionEngine engine({*engines->features, *engines->trainer, store, nullptr, nullptr}, options);

  if (store_settings->url.empty()) {
    // One host shares a SQLite file: a dead process's workers are known by pid.
    auto released = ReleaseJobsOfDeadWorkers(store, store, HostName());
    if (released.ok() && *released > 0) {
      Log(LogLevel::kWarning, "handed back jobs held by workers of a dead evolve process on this host",
          {{"count", std::to_string(*released)}});
    }
  }
  SchedulerOptions scheduler_options;
  scheduler_options.threads = settings->run_threads;
  scheduler_options.max_runs = settings->max_runs;
  scheduler_options.poll_interval = settings->poll_interval;
  RunScheduler scheduler(engine, store, scheduler_options);
  WorkerPool pool(
      store, &store, *engines->simulator, engines->trainer, store.clock(),
      InProcessWorkerPoolOptions("evolve-serve", settings->workers, settings->max_jobs_per_claim));
  // --workers 0: no pool to start (evolve-worker processes simulate).
  if (Status s = pool.size() > 0 ? pool.Start() : Status::Ok(); !s.ok()) return Fail(s);

  ApiContext ctx{store,
                 engine,
                 scheduler,
                 *engines->features,
                 metrics,
                 *default_generations,
                 store_settings->url.empty() ? "sqlite" : "postgresql",
                 engines->kind,
                 engines->prepare_config,
                 [&pool, &scheduler, &metrics] { return ProcessMetrics(pool, scheduler, metrics); }};
  ctx.require_claim_tokens = settings->require_claim_tokens;

  RegisterRunRoutes(server, ctx);
  RegisterJobRoutes(server, ctx);
  RegisterInfoRoutes(server, ctx);
  RegisterDashboardRoutes(server, ctx);

  auto port = server.Bind(settings->host, settings->port);
  if (!port.ok()) return Fail(port.status());
  if (Status s = scheduler.Start(); !s.ok()) {
    Log(LogLevel::kWarning, "resuming the store's runs failed; will retry", {{"error", s.ToString()}});
  }
  const std::string url = service::ListenUrl(settings->host, *port);
  std::printf("evolve serve: listening on %s (store %s, %d in-process workers%s)\n", url.c_str(),
              store_settings->flag_text.c_str(), settings->workers,
              settings->token.empty() ? ", no API token" : ", API token required");
  std::fflush(stdout);
  Log(LogLevel::kInfo, "listening", {{"url", url}, {"store", ctx.store_kind}, {"engines", ctx.engines_kind}});

  const bool served = server.Serve();
  scheduler.Shutdown();
  pool.Stop();
  Log(LogLevel::kInfo, "stopped");
  if (!served && signals.load() == 0) return Fail(InternalError("the HTTP server stopped unexpectedly"));
  return kExitOk;
}

}  // namespace evolve::cli
