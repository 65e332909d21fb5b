// evolve-worker: drains the simulation queue of a store. Any number of them,
// in any number of processes, may share one store; a job is never run by
// two of them (claims are transactions, completions are fenced on the
// lease).
//
//   evolve-worker [--db PATH | --store URL] [--concurrency N] [--max-jobs N] [--once]
//                 [--worker-id ID] [--poll-interval SECONDS]
//
// Environment: EVOLVE_DB / POSTGRES_URL (the store), WORKER_ID (default
// worker_<host>_<pid>), POLL_INTERVAL (seconds, default 5), LOG_LEVEL.
// SIGTERM/SIGINT: jobs in flight finish, claimed ones not started are given
// back, then it exits 0.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "args.h"
#include "evolve/clock.h"
#include "evolve/engines/builtin.h"
#include "evolve/log.h"
#include "evolve/shutdown.h"
#include "evolve/simulator.h"
#include "evolve/worker.h"
#include "output.h"
#include "settings.h"

namespace {

using evolve::cli::Env;
using evolve::cli::Fail;

// Completes every job at once with an empty result: what a queue benchmark
// measures is the queue, not a simulation.
class NoopSimulator final : public evolve::Simulator {
 public:
  evolve::Result<evolve::SimulationResult> Simulate(const evolve::SimulationParams&) override {
    return evolve::SimulationResult{};
  }
};

std::vector<evolve::cli::OptionSpec> Options() {
  std::vector<evolve::cli::OptionSpec> specs = evolve::cli::StoreOptions();
  specs.push_back({"concurrency", "N", "jobs in flight in this process (default 1)"});
  specs.push_back({"max-jobs", "N", "exit after N jobs per worker thread (default: no limit)"});
  specs.push_back({"once", "", "exit when the queue is empty"});
  specs.push_back({"worker-id", "ID", "worker id (default $WORKER_ID or worker_<host>_<pid>)"});
  specs.push_back({"poll-interval", "SECONDS", "idle poll interval (default $POLL_INTERVAL or 5)"});
  specs.push_back({"max-jobs-per-claim", "N", "jobs taken per claim (default 1)"});
  specs.push_back({"lease", "SECONDS", "how long a claim is held without a heartbeat (default 60)"});
  specs.push_back({"simulator", "NAME", "builtin (default), or noop: complete every job at once with an empty "
                                        "result (queue benchmarks and smoke tests)"});
  specs.push_back({"help", "", "show this help"});
  return specs;
}

}  // namespace

int main(int argc, char** argv) {
  evolve::LogLevel level = evolve::LogLevel::kInfo;
  if (!Env("LOG_LEVEL").empty() && !evolve::ParseLogLevel(Env("LOG_LEVEL"), &level)) {
    return Fail(evolve::InvalidArgumentError("LOG_LEVEL: unknown level '" + Env("LOG_LEVEL") + "'"));
  }
  evolve::SetLogLevel(level);
  const auto specs = Options();
  auto args = evolve::cli::Args::Parse("worker", std::vector<std::string>(argv + 1, argv + argc), specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf("usage: evolve-worker [options]\n\nDrains the simulation queue of a store.\n\noptions:\n%s",
                evolve::cli::OptionsHelp(specs).c_str());
    return evolve::cli::kExitOk;
  }
  if (!Env("SIMULATION_URL").empty()) {
    return Fail(evolve::InvalidArgumentError(
        "SIMULATION_URL is set, but this build has no HTTP simulator yet; unset it to use the built-in one"));
  }
  auto int_option = [&](const char* name, const std::string& fallback, int64_t min) -> evolve::Result<int64_t> {
    std::optional<std::string> text = args->Get(name);
    EVOLVE_ASSIGN_OR_RETURN(int64_t v, evolve::cli::ParseInt(std::string("--") + name, text.value_or(fallback)));
    if (v < min) {
      return evolve::InvalidArgumentError(std::string("--") + name + ": must be >= " + std::to_string(min));
    }
    return v;
  };
  auto concurrency = int_option("concurrency", "1", 1);
  if (!concurrency.ok()) return Fail(concurrency.status());
  auto max_jobs = int_option("max-jobs", "0", 0);
  if (!max_jobs.ok()) return Fail(max_jobs.status());
  auto per_claim = int_option("max-jobs-per-claim", "1", 1);
  if (!per_claim.ok()) return Fail(per_claim.status());
  const std::string poll_text = args->Get("poll-interval").value_or(Env("POLL_INTERVAL").empty() ? "5" : Env("POLL_INTERVAL"));
  auto poll = evolve::cli::ParseDouble(args->Has("poll-interval") ? "--poll-interval" : "POLL_INTERVAL", poll_text);
  if (!poll.ok()) return Fail(poll.status());
  if (*poll <= 0) return Fail(evolve::InvalidArgumentError("poll interval: must be > 0 seconds, got " + poll_text));

  auto lease = evolve::cli::ParseDouble("--lease", args->Get("lease").value_or("60"));
  if (!lease.ok()) return Fail(lease.status());
  if (*lease < 1) return Fail(evolve::InvalidArgumentError("--lease: must be >= 1 second"));

  const std::string host = evolve::cli::HostName();
  const std::string base_id = args->Get("worker-id").value_or(
      Env("WORKER_ID").empty() ? "worker_" + host + "_" + std::to_string(::getpid()) : Env("WORKER_ID"));

  const std::string simulator_name = args->Get("simulator").value_or("builtin");
  if (simulator_name != "builtin" && simulator_name != "noop") {
    return Fail(evolve::InvalidArgumentError("--simulator: unknown simulator '" + simulator_name +
                                             "' (builtin or noop)"));
  }

  auto settings = evolve::cli::ResolveStore(*args);
  if (!settings.ok()) return Fail(settings.status());

  // Signals first: the store may be away at start, and SIGTERM must end the
  // wait for it. The signal thread stops whatever workers exist by then.
  evolve::Event stop;
  std::mutex workers_mu;
  std::vector<std::unique_ptr<evolve::Worker>> workers;  // guarded by workers_mu once threads run
  evolve::Status signals = evolve::HandleStopSignals([&](int signo) {
    evolve::Log(evolve::LogLevel::kInfo, "stopping", {{"signal", std::to_string(signo)}});
    stop.Notify();
    std::lock_guard<std::mutex> lock(workers_mu);
    for (auto& w : workers) w->RequestStop();
  });
  if (!signals.ok()) return Fail(signals);

  // A database that is not up yet (or restarting) is waited for, with
  // backoff, rather than exiting: a supervisor restarting a worker that
  // exits at once would only make a crash loop. Bad settings still exit.
  evolve::Result<std::unique_ptr<evolve::Store>> store = evolve::UnavailableError("not opened");
  evolve::Duration backoff = std::chrono::seconds(1);
  while (true) {
    store = evolve::cli::OpenStore(*settings, /*must_exist=*/false);
    if (store.ok() || !store.status().IsRetryable()) break;
    evolve::Log(evolve::LogLevel::kWarning, "store unavailable; retrying",
                {{"error", store.status().message()},
                 {"retry_in_s", std::to_string(std::chrono::duration_cast<std::chrono::seconds>(backoff).count())}});
    if (stop.WaitFor(*evolve::RealClock(), backoff)) return evolve::cli::kExitOk;
    backoff = std::min<evolve::Duration>(backoff * 2, std::chrono::seconds(30));
  }
  if (!store.ok()) return Fail(store.status());
  // Models and their simulation inputs are artifacts of the store: a worker
  // needs no data directory.
  std::unique_ptr<evolve::Simulator> simulator;
  if (simulator_name == "noop") {
    simulator = std::make_unique<NoopSimulator>();
  } else {
    simulator = evolve::engines::NewBuiltinSimulator(**store, evolve::engines::BuiltinOptions{});
  }

  for (int64_t i = 0; i < *concurrency; ++i) {
    evolve::WorkerOptions o;
    o.worker_id = *concurrency == 1 ? base_id : base_id + "-" + std::to_string(i + 1);
    o.host = host;
    o.pid = ::getpid();
    o.max_jobs_per_claim = static_cast<int>(*per_claim);
    o.max_jobs = *max_jobs;
    o.exit_when_idle = args->Has("once");
    o.poll_interval = std::chrono::microseconds(static_cast<int64_t>(*poll * 1e6));
    o.lease = std::chrono::microseconds(static_cast<int64_t>(*lease * 1e6));
    // A few heartbeats per lease, so one late beat does not lose the jobs.
    o.heartbeat_interval = std::min<evolve::Duration>(o.heartbeat_interval, o.lease / 4);
    if (evolve::Status s = evolve::Worker::ValidateOptions(o); !s.ok()) return Fail(s);
    std::lock_guard<std::mutex> lock(workers_mu);
    workers.push_back(std::make_unique<evolve::Worker>(**store, &**store, *simulator, (*store)->clock(), o));
    if (stop.IsNotified()) workers.back()->RequestStop();
  }
  std::vector<std::thread> threads;
  std::vector<evolve::Status> results(workers.size());
  for (size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = workers[i]->Run(); });
  }
  for (auto& t : threads) t.join();
  int exit_code = evolve::cli::kExitOk;
  for (size_t i = 0; i < workers.size(); ++i) {
    const evolve::WorkerStats st = workers[i]->stats();
    std::printf("worker=%s claimed=%lld completed=%lld failed=%lld retried=%lld released=%lld lost=%lld\n",
                (*concurrency == 1 ? base_id : base_id + "-" + std::to_string(i + 1)).c_str(),
                static_cast<long long>(st.claimed), static_cast<long long>(st.completed),
                static_cast<long long>(st.failed), static_cast<long long>(st.retried),
                static_cast<long long>(st.released), static_cast<long long>(st.lost));
    if (!results[i].ok()) exit_code = Fail(results[i]);
  }
  return exit_code;
}
