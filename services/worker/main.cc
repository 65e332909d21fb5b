// evolve-worker: drains the simulation queue of a store. Any number of them,
// in any number of processes, may share one store; a job is never run by
// two of them (claims are transactions, completions are fenced on the
// lease).
//
//   evolve-worker [--db PATH | --store URL | --orchestrator URL [--token-file PATH]]
//                 [--concurrency N] [--max-jobs N] [--once]
//                 [--worker-id ID] [--poll-interval SECONDS]
//
// With --orchestrator the worker reaches the queue, the worker registry and
// the artifacts through an `evolve serve`'s worker protocol over HTTP
// (docs/api-worker-protocol.md) instead of opening the database.
//
// Environment: EVOLVE_DB / POSTGRES_URL (the store), EVOLVE_ORCHESTRATOR_URL
// (the orchestrator, when neither --db nor --store is given),
// EVOLVE_API_TOKEN (its bearer token), WORKER_ID (default
// worker_<host>_<pid>), POLL_INTERVAL (seconds, default 5), LOG_LEVEL.
// SIGTERM/SIGINT: jobs in flight finish, claimed ones not started are given
// back, then it exits 0.
#include <malloc.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "evolve/log.h"
#include "evolve/service/exit.h"
#include "evolve/shutdown.h"
#include "evolve/worker_pool.h"
#include "worker_options.h"

int main(int argc, char** argv) {
  using evolve::service::Fail;
  namespace ws = evolve::worker_service;
  // Every claim allocates and frees the same few megabytes (the claimed
  // rows, the jobs, the results to write). With glibc's adaptive defaults
  // those blocks go back to the kernel after each claim and are faulted in
  // page by page on the next: 34,000 page faults and about a sixth of the
  // worker's CPU per 100,000 jobs at 2,000 jobs per claim. Keep them.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  if (evolve::Status s = evolve::service::SetLogLevelFromEnvironment(evolve::LogLevel::kInfo); !s.ok())
    return Fail(s);
  const auto specs = ws::WorkerOptionSpecs();
  auto args =
      evolve::service::Args::Parse("worker", std::vector<std::string>(argv + 1, argv + argc), specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf("%s", ws::WorkerHelp(specs).c_str());
    return evolve::service::kExitOk;
  }
  auto settings = ws::ParseWorkerSettings(*args);
  if (!settings.ok()) return Fail(settings.status());

  // Signals first: the store may be away at start, and SIGTERM must end the
  // wait for it. The signal thread stops the pool once there is one.
  evolve::Event stop;
  std::mutex mu;
  evolve::WorkerPool* running = nullptr;  // guarded by mu
  evolve::Status signals = evolve::HandleStopSignals([&](int signo) {
    evolve::Log(evolve::LogLevel::kInfo, "stopping", {{"signal", std::to_string(signo)}});
    stop.Notify();
    std::lock_guard<std::mutex> lock(mu);
    if (running != nullptr) running->RequestStop();
  });
  if (!signals.ok()) return Fail(signals);

  auto backend = ws::ConnectWorker(*settings, stop);
  if (backend.status().code() == evolve::StatusCode::kCancelled) return evolve::service::kExitOk;
  if (!backend.ok()) return Fail(backend.status());
  // Models and their simulation inputs are artifacts of the store (read
  // through the orchestrator with --orchestrator), so a worker needs no data
  // directory.
  auto simulator = ws::OpenSimulator(*settings, *backend->artifacts);
  if (!simulator.ok()) return Fail(simulator.status());
  // Training jobs too, when the store itself is reached (their parts and
  // models are artifacts it writes); null: simulations only.
  auto trainer = ws::OpenTrainer(*settings, *backend);
  if (!trainer.ok()) return Fail(trainer.status());

  evolve::WorkerPool pool(*backend->queue, backend->registry, **simulator, trainer->get(), *backend->clock,
                          settings->pool);
  {
    std::lock_guard<std::mutex> lock(mu);
    running = &pool;
  }
  if (stop.IsNotified()) pool.RequestStop();  // a stop that came before the pool: Start() starts nothing
  evolve::Status started = pool.Start();
  if (started.ok()) (void)pool.Wait();  // each worker's result is in its report
  {
    std::lock_guard<std::mutex> lock(mu);
    running = nullptr;
  }
  if (!started.ok()) return Fail(started);
  int exit_code = evolve::service::kExitOk;
  for (const evolve::WorkerReport& report : pool.reports()) {
    std::printf("%s\n", ws::StatsLine(report).c_str());
    if (!report.result.ok()) exit_code = Fail(report.result);
  }
  return exit_code;
}
