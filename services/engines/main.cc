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
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engines_api.h"
#include "engines_service.h"
#include "evolve/log.h"
#include "evolve/service/exit.h"
#include "evolve/shutdown.h"

namespace {

constexpr size_t kMaxQueuedTrainings = 1000;

int Fail(const evolve::Status& status) { return evolve::service::FailAs("evolve-engines", status); }

}  // namespace

int main(int argc, char** argv) {
  namespace es = evolve::engines_service;
  namespace svc = evolve::service;
  using evolve::Log;
  using evolve::LogLevel;
  if (evolve::Status s = svc::SetLogLevelFromEnvironment(LogLevel::kInfo); !s.ok()) return Fail(s);
  const auto specs = es::EnginesOptionSpecs();
  auto args = svc::Args::Parse("engines", std::vector<std::string>(argv + 1, argv + argc), specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf("%s", es::EnginesHelp(specs).c_str());
    return svc::kExitOk;
  }
  auto settings = es::ParseEnginesSettings(*args);
  if (!settings.ok()) return Fail(settings.status());

  es::EngineServers servers(settings->max_body);
  // Signals are taken by one thread from here on; must precede every thread.
  std::atomic<int> signals{0};
  evolve::Status handled = evolve::HandleStopSignals([&servers, &signals](int) {
    if (signals.fetch_add(1) > 0) {
      Log(LogLevel::kWarning, "second stop signal; exiting now");
      std::_Exit(svc::kExitInterrupted);
    }
    Log(LogLevel::kInfo, "stopping: no new requests; finishing the trainings in flight");
    servers.Stop();
  });
  if (!handled.ok()) return Fail(handled);

  auto store = svc::OpenStore(settings->store, /*must_exist=*/false);
  if (!store.ok()) return Fail(store.status());
  auto engines = evolve::engines::NewBuiltinEngines(**store, es::BuiltinOptionsOf(*settings));
  if (!engines.ok()) return Fail(engines.status());
  auto models = es::ModelTable::Open(**store, *evolve::RealClock());
  if (!models.ok()) return Fail(models.status().WithContext(settings->store_text));
  es::TrainingPool training(**models, *engines->trainer, settings->training_threads, kMaxQueuedTrainings);
  es::EnginesContext ctx{engines->bars, *engines, **models, training};
  es::RegisterFeatureRoutes(servers.features(), ctx);
  es::RegisterTrainingRoutes(servers.training(), ctx);
  es::RegisterSimulationRoutes(servers.simulation(), ctx);
  if (evolve::Status s = servers.Bind(*settings); !s.ok()) {
    training.Stop();
    return Fail(s);
  }
  servers.Announce(*settings, (*models)->CountByState().completed);
  const bool served = servers.Serve();  // each on a thread; one that fails stops the others
  training.Stop();
  Log(LogLevel::kInfo, "stopped");
  if (!served) return Fail(evolve::InternalError("an HTTP server stopped unexpectedly"));
  return svc::kExitOk;
}
