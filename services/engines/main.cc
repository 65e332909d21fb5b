// evolve-engines: the built-in engines behind the original services' wire
// contract (WIRE-CONTRACT.md part B), so the seed's "Manual Start" topology
// runs on one machine with no Python: a feature service (default port
// 8100), a training service (8200) and a simulation service (8300), in one
// process, each on its own HTTP server.
//
//   evolve-engines [--host ADDR] [--feature-port N] [--training-port N]
//                  [--simulation-port N] [--data-dir DIR] [--db PATH]
//                  [--training-threads N] [--max-body BYTES]
//
// Trained models are artifacts in the SQLite file --db (default
// ./evolve-engines.db), with a log of finished trainings next to them, so a
// restarted service still serves every model it trained before.
// docs/engines-service.md documents every endpoint.
//
// Environment: EVOLVE_DATA_DIR (the bars), LOG_LEVEL (default INFO).
// SIGTERM/SIGINT: stop accepting requests, let the trainings in flight
// finish (queued ones are dropped), exit 0; a second signal exits at once.

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "engines_api.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/log.h"
#include "evolve/shutdown.h"
#include "http_support.h"
#include "metrics.h"
#include "model_table.h"
#include "output.h"
#include "settings.h"

namespace {

using evolve::cli::Args;
using evolve::cli::OptionSpec;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;
constexpr size_t kDefaultMaxBody = 1 << 20;
constexpr size_t kMaxQueuedTrainings = 1000;

int Fail(const evolve::Status& status) {
  std::fprintf(stderr, "evolve-engines: error: %s\n", status.message().c_str());
  const evolve::StatusCode code = status.code();
  return code == evolve::StatusCode::kInvalidArgument || code == evolve::StatusCode::kNotFound ? kExitUsage
                                                                                                 : kExitError;
}

std::vector<OptionSpec> Options() {
  return {
      {"host", "ADDR", "address the three services listen on (default 127.0.0.1)"},
      {"feature-port", "N", "port of the feature service (default 8100; 0 picks a free one)"},
      {"training-port", "N", "port of the training service (default 8200; 0 picks a free one)"},
      {"simulation-port", "N", "port of the simulation service (default 8300; 0 picks a free one)"},
      evolve::cli::DataDirOption(),
      {"db", "PATH", "SQLite file holding the trained models (default ./evolve-engines.db)"},
      {"store", "URL", "postgresql://... : keep the models in that database instead, so that several "
                       "evolve-engines (a simulation cluster) share them"},
      {"training-threads", "N", "trainings run at once (default 1); more wait in a queue"},
      {"max-body", "BYTES", "largest request body accepted (default 1048576); larger gets 413"},
      {"help", "", "show this help"},
  };
}

evolve::Result<int> IntOption(const Args& args, const char* name, int fallback, int min, int max) {
  std::optional<std::string> text = args.Get(name);
  if (!text.has_value()) return fallback;
  EVOLVE_ASSIGN_OR_RETURN(int64_t n, evolve::cli::ParseInt(std::string("--") + name, *text));
  if (n < min || n > max) {
    return evolve::InvalidArgumentError("--" + std::string(name) + ": must be in [" + std::to_string(min) + ", " +
                                        std::to_string(max) + "], got " + *text);
  }
  return static_cast<int>(n);
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.compare(0, 4, "127.") == 0;
}

// One of the three services.
struct Service {
  const char* name;
  const char* flag;
  int port = 0;
  evolve::cli::HttpServer server;
  evolve::cli::Metrics metrics;  // required by the router; not exposed
};

}  // namespace

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kInfo;
  const std::string level_text = evolve::cli::Env("LOG_LEVEL");
  if (!level_text.empty() && !evolve::ParseLogLevel(level_text, &level)) {
    return Fail(evolve::InvalidArgumentError("LOG_LEVEL: unknown level '" + level_text + "'"));
  }
  evolve::SetLogLevel(level);
  const std::vector<OptionSpec> specs = Options();
  auto args = Args::Parse("engines", std::vector<std::string>(argv + 1, argv + argc), specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf(
        "usage: evolve-engines [options]\n\n"
        "Serves the built-in engines over the original services' wire contract: a feature service\n"
        "(GET /symbols, /options, /features_sample), a training service (POST /train, GET /models,\n"
        "/api/model/{id}/importance|config) and a simulation service (POST /api/simulate), each with\n"
        "GET /health. docs/engines-service.md has the details. SIGTERM or Ctrl-C stops it.\n\n"
        "options:\n%s",
        evolve::cli::OptionsHelp(specs).c_str());
    return kExitOk;
  }

  std::string host = args->Get("host").value_or("127.0.0.1");
  if (host.empty()) return Fail(evolve::InvalidArgumentError("--host: must not be empty"));
  auto feature_port = IntOption(*args, "feature-port", 8100, 0, 65535);
  if (!feature_port.ok()) return Fail(feature_port.status());
  auto training_port = IntOption(*args, "training-port", 8200, 0, 65535);
  if (!training_port.ok()) return Fail(training_port.status());
  auto simulation_port = IntOption(*args, "simulation-port", 8300, 0, 65535);
  if (!simulation_port.ok()) return Fail(simulation_port.status());
  auto training_threads = IntOption(*args, "training-threads", 1, 1, 64);
  if (!training_threads.ok()) return Fail(training_threads.status());
  auto max_body = IntOption(*args, "max-body", static_cast<int>(kDefaultMaxBody), 1024, 1 << 30);
  if (!max_body.ok()) return Fail(max_body.status());
  const std::string db = args->Get("db").value_or("./evolve-engines.db");
  if (db.empty()) return Fail(evolve::InvalidArgumentError("--db: must not be empty"));
  evolve::cli::StoreSettings store_settings;
  store_settings.sqlite_path = db;
  if (std::optional<std::string> url = args->Get("store")) {
    if (args->Has("db")) return Fail(evolve::InvalidArgumentError("--db and --store: give one of them"));
    if (url->rfind("postgresql://", 0) != 0 && url->rfind("postgres://", 0) != 0) {
      return Fail(evolve::InvalidArgumentError("--store: must be a postgresql:// URL, got '" + *url + "'"));
    }
    store_settings.sqlite_path.clear();
    store_settings.url = *url;
  }
  auto data_dir = evolve::cli::ResolveDataDir(*args);
  if (!data_dir.ok()) return Fail(data_dir.status());

  Service services[3];
  services[0].name = "features";
  services[0].flag = "--feature-port";
  services[0].port = *feature_port;
  services[1].name = "training";
  services[1].flag = "--training-port";
  services[1].port = *training_port;
  services[2].name = "simulation";
  services[2].flag = "--simulation-port";
  services[2].port = *simulation_port;

  // Signals are taken by one thread from here on; must precede every thread.
  std::atomic<int> signals{0};
  evolve::Status handled = evolve::HandleStopSignals([&services, &signals](int) {
    if (signals.fetch_add(1) > 0) {
      evolve::Log(evolve::LogLevel::kWarning, "second stop signal; exiting now");
      std::_Exit(kExitInterrupted);
    }
    evolve::Log(evolve::LogLevel::kInfo, "stopping: no new requests; finishing the trainings in flight");
    for (Service& s : services) s.server.stop();
  });
  if (!handled.ok()) return Fail(handled);

  auto store = evolve::cli::OpenStore(store_settings, /*must_exist=*/false);
  if (!store.ok()) return Fail(store.status());
  evolve::engines::BuiltinOptions engine_options;
  engine_options.data_dir = *data_dir;
  // Concurrent trainings share the cores.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  engine_options.threads = *training_threads == 1 ? 0 : std::max(1, cores / *training_threads);
  auto engines = evolve::engines::NewBuiltinEngines(**store, engine_options);
  if (!engines.ok()) return Fail(engines.status());
  auto models = evolve::engines_service::ModelTable::Open(**store, *evolve::RealClock());
  if (!models.ok()) return Fail(models.status().WithContext(store_settings.url.empty() ? db : "--store"));
  evolve::engines_service::TrainingPool training(**models, *engines->trainer, *training_threads,
                                                 kMaxQueuedTrainings);
  evolve::engines_service::EnginesContext ctx{engines->bars, *engines, **models, training};

  for (Service& s : services) {
    evolve::cli::ApplyServerPolicies(s.server, evolve::cli::ServerPolicies{static_cast<size_t>(*max_body), 8});
  }
  evolve::engines_service::Router feature_router(services[0].server, "", services[0].metrics);
  evolve::engines_service::Router training_router(services[1].server, "", services[1].metrics);
  evolve::engines_service::Router simulation_router(services[2].server, "", services[2].metrics);
  evolve::engines_service::RegisterFeatureRoutes(feature_router, ctx);
  evolve::engines_service::RegisterTrainingRoutes(training_router, ctx);
  evolve::engines_service::RegisterSimulationRoutes(simulation_router, ctx);

  for (Service& s : services) {
    const int wanted = s.port;
    int bound = wanted == 0 ? s.server.bind_to_any_port(host) : (s.server.bind_to_port(host, wanted) ? wanted : -1);
    if (bound <= 0) {
      training.Stop();
      return Fail(evolve::UnavailableError(std::string("cannot listen on ") + host + ":" + std::to_string(wanted) +
                                           " for the " + s.name + " service (" + s.flag +
                                           "; address in use, or not an address of this host)"));
    }
    s.port = bound;
    if (!s.server.WidenListenBacklog(128)) evolve::Log(evolve::LogLevel::kWarning, "could not widen the listen backlog");
  }
  if (!IsLoopback(host)) {
    evolve::Log(evolve::LogLevel::kWarning,
                "listening on a non-loopback address: the original services' contract has no authentication",
                {{"host", host}});
  }
  const std::string base = "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":";
  std::printf("evolve-engines: features %s%d training %s%d simulation %s%d\n", base.c_str(), services[0].port,
              base.c_str(), services[1].port, base.c_str(), services[2].port);
  std::fflush(stdout);
  const auto counts = (*models)->CountByState();
  evolve::Log(evolve::LogLevel::kInfo, "listening",
              {{"features", base + std::to_string(services[0].port)},
               {"training", base + std::to_string(services[1].port)},
               {"simulation", base + std::to_string(services[2].port)},
               {"data_dir", *data_dir},
               {"store", store_settings.url.empty() ? db : "postgresql"},
               {"models", std::to_string(counts.completed)}});

  // Each server on its own thread; when any stops (a signal stops all),
  // the others are stopped too.
  std::atomic<bool> unexpected{false};
  std::vector<std::thread> listeners;
  for (Service& s : services) {
    listeners.emplace_back([&s, &services, &signals, &unexpected] {
      const bool ok = s.server.listen_after_bind();
      if (signals.load() == 0) {
        unexpected = true;
        evolve::Log(evolve::LogLevel::kError, "an HTTP server stopped unexpectedly",
                    {{"service", s.name}, {"ok", ok ? "true" : "false"}});
        for (Service& other : services) other.server.stop();
      }
    });
  }
  for (std::thread& t : listeners) t.join();
  training.Stop();
  evolve::Log(evolve::LogLevel::kInfo, "stopped");
  if (unexpected.load()) return Fail(evolve::InternalError("an HTTP server stopped unexpectedly"));
  return kExitOk;
}
