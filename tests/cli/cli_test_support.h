// What the end-to-end tests of the binaries share: where the binaries and
// the bundled data are, synthetic data, polling, and the "every job ran
// once" check.
#ifndef EVOLVE_TESTS_CLI_CLI_TEST_SUPPORT_H_
#define EVOLVE_TESTS_CLI_CLI_TEST_SUPPORT_H_

#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/synthetic.h"
#include "evolve/store.h"
#include "process.h"

namespace evolve::testing {

inline const std::string kEvolve = EVOLVE_BIN;
inline const std::string kWorker = EVOLVE_WORKER_BIN;
inline const std::string kData = EVOLVE_EXAMPLES_DATA_DIR;

inline std::vector<std::string> Evolve(std::vector<std::string> args) {
  args.insert(args.begin(), kEvolve);
  return args;
}

inline std::string Args(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

inline size_t Lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

inline bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One symbol SYN of `n` daily synthetic bars with the planted mean-reversion
// signal of `strength` (synthetic.h), written to `dir`/SYN.csv.
inline void WriteSynthetic(const std::string& dir, size_t n, double strength, uint64_t seed = 11) {
  engines::SyntheticOptions o;
  o.symbols = {"SYN"};
  o.bars = n;
  o.signal_strength = strength;
  o.seed = seed;
  auto bars = engines::GenerateSyntheticBars(o);
  REQUIRE(engines::WriteBarsCsv(bars.at("SYN"), dir + "/SYN.csv").ok());
}

// "0.00001,0.00002,...": `n` thresholds.
inline std::string Thresholds(int n) {
  std::string out;
  for (int i = 1; i <= n; ++i) out += (i > 1 ? "," : "") + std::to_string(i * 1e-5);
  return out;
}

// Ten regime filters over the two regime columns.
inline constexpr char kTenRegimes[] =
    R"([{}, {"regime_gmm": [0]}, {"regime_gmm": [1]}, {"regime_gmm": [0, 1]}, {"regime_vix": [0]},)"
    R"( {"regime_vix": [1]}, {"regime_vix": [2]}, {"regime_vix": [3]}, {"regime_vix": [0, 1]}, {"regime_vix": [2, 3]}])";

// Polls `done` every 20 ms for up to `limit`; true once it holds.
template <typename Pred>
bool WaitFor(Pred done, std::chrono::seconds limit = std::chrono::seconds(120)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Every job of the run finished once: COMPLETED with a result (a training
// job: with an output), `expected_simulations` of them simulations, and the
// workers' completion counters add up to the number of jobs, so no job was
// completed (and counted) twice.
inline void CheckEveryJobCompletedOnce(Store& store, const std::string& run_id, size_t expected_simulations) {
  JobFilter filter;
  filter.run_id = run_id;
  auto jobs = store.ListJobs(filter);
  REQUIRE(jobs.ok());
  std::set<std::string> ids;
  size_t simulations = 0;
  for (const Job& job : *jobs) {
    CAPTURE(job.id);
    CHECK(ids.insert(job.id).second);
    CHECK(job.status == JobStatus::kCompleted);
    if (job.kind == JobKind::kSimulate) {
      ++simulations;
      CHECK(job.result.has_value());
    } else {
      CHECK_FALSE(job.output.empty());
    }
  }
  CHECK(simulations == expected_simulations);
  int64_t completions = 0;
  for (const WorkerInfo& w : *store.ListWorkers()) completions += w.jobs_completed;
  CHECK(completions == static_cast<int64_t>(jobs->size()));
}

// Stops an evolve-worker with SIGTERM and checks it exits 0 with no lost
// lease in its counters.
inline void StopWorkerCleanly(Process& worker) {
  worker.Signal(SIGTERM);
  const ProcessResult r = worker.Wait();
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "lost=0"));
}

// The fingerprints named by log records with message `msg` in `log`, in
// order, repeats included.
inline std::vector<std::string> LoggedFingerprintList(const std::string& log, const std::string& msg) {
  std::vector<std::string> out;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (!Contains(line, "msg=\"" + msg + "\"")) continue;
    const size_t at = line.find("fingerprint=");
    if (at == std::string::npos) continue;
    const size_t start = at + 12;
    out.push_back(line.substr(start, line.find(' ', start) - start));
  }
  return out;
}

// The same, as a set.
inline std::set<std::string> LoggedFingerprints(const std::string& log, const std::string& msg) {
  const std::vector<std::string> list = LoggedFingerprintList(log, msg);
  return {list.begin(), list.end()};
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_CLI_TEST_SUPPORT_H_
