// End to end: `evolve serve` with no in-process workers, and evolve-worker
// processes that reach its queue over HTTP (--orchestrator) instead of the
// database. The run is started with POST /evolve; the models the service
// trains reach the workers through GET /artifacts.
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <signal.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "net_test_support.h"
#include "cli_test_support.h"
#include "evolve/json.h"
#include "evolve/sqlite/sqlite_store.h"
#include "process.h"

namespace evolve::testing {
namespace {

// `evolve serve` on port 0, its stdout in a file of ours so the URL it
// prints can be read while it runs.
class Service {
 public:
  Service(const TempDir& dir, const std::string& db, const std::map<std::string, std::string>& env = {})
      : out_(dir / "serve.out"),
        process_(Process::Spawn({"/bin/sh", "-c", "exec \"$0\" \"$@\" >\"$EVOLVE_TEST_SERVE_OUT\"", kEvolve,
                                 "serve", "--port", "0", "--workers", "0", "--db", db, "--data-dir", dir.path(),
                                 "--poll-interval", "0.05"},
                                With(env, "EVOLVE_TEST_SERVE_OUT", out_))) {
    const std::string marker = "listening on http://";
    REQUIRE_MESSAGE(WaitFor([&] { return Contains(ReadFile(out_), marker); }), process_.ErrSoFar());
    const std::string text = ReadFile(out_);
    const size_t start = text.find(marker) + marker.size() - 7;
    url_ = text.substr(start, text.find(' ', start) - start);
    const size_t colon = url_.rfind(':');
    port_ = std::stoi(url_.substr(colon + 1));
  }

  const std::string& url() const { return url_; }

  httplib::Result Post(const std::string& path, const std::string& body, const std::string& token = "") const {
    httplib::Client client("127.0.0.1", port_);
    if (!token.empty()) client.set_bearer_token_auth(token);
    return client.Post(path.c_str(), body, "application/json");
  }

  // SIGTERM, and the exit status.
  ProcessResult Stop() {
    process_.Signal(SIGTERM);
    return process_.Wait();
  }

 private:
  static std::map<std::string, std::string> With(std::map<std::string, std::string> env, const std::string& key,
                                                 const std::string& value) {
    env[key] = value;
    return env;
  }

  std::string out_;
  Process process_;
  std::string url_;
  int port_ = 0;
};

// Two generations of a 4 x 3 grid on the synthetic symbol; the criteria are
// out of reach, so the run ends COMPLETED after both.
constexpr char kEvolveBody[] =
    R"({"symbol": "SYN", "max_generations": 2, "thresholds": [0.0001, 0.0002, 0.0003, 0.0004],)"
    R"( "regime_configs": [{}, {"regime_gmm": [0]}, {"regime_vix": [2, 3]}], "sqn_min": 100, "sqn_max": 200,)"
    R"( "pruning": {"strategy": "keep_top_fraction", "fraction": 0.7},)"
    R"( "data_options": {"train_window": 500, "test_window": 100}})";

// Starts the run; returns its id.
std::string StartRun(const Service& service, const std::string& token = "") {
  auto res = service.Post("/evolve", kEvolveBody, token);
  REQUIRE(res);
  INFO(res->body);
  REQUIRE(res->status == 202);
  const std::string key = "\"run_id\":\"";
  const size_t at = res->body.find(key);
  REQUIRE(at != std::string::npos);
  const size_t start = at + key.size();
  return res->body.substr(start, res->body.find('"', start) - start);
}

// The run once it is final.
Run WaitForFinalRun(const std::string& db, const std::string& run_id) {
  std::optional<Run> run;
  const bool done = WaitFor(
      [&] {
        auto store = sqlite::OpenSqliteStore(db);
        if (!store.ok()) return false;
        auto got = (*store)->GetRun(run_id);
        if (!got.ok()) return false;
        run = *got;
        return IsFinal(run->status);
      },
      std::chrono::seconds(600));
  REQUIRE_MESSAGE(done, "the run did not finish");
  return *run;
}

// Stops the workers, and checks that between them they completed every
// job of the run once, all through the orchestrator.
void CheckDrainedOverHttp(std::vector<Process>& workers, const std::string& db, const std::string& run_id,
                          const std::set<std::string>& worker_ids) {
  int64_t completed = 0;
  for (Process& w : workers) {
    w.Signal(SIGTERM);
    const ProcessResult r = w.Wait();
    INFO(r.err);
    CHECK(r.exit_code == 0);
    CHECK(Contains(r.err, "using the orchestrator's worker protocol"));
    const size_t at = r.out.find("completed=");
    REQUIRE(at != std::string::npos);
    completed += std::stoll(r.out.substr(at + 10));
    CHECK(Contains(r.out, "lost=0"));
  }
  auto store = sqlite::OpenSqliteStore(db);
  REQUIRE(store.ok());
  auto generations = (*store)->ListGenerations(run_id);
  REQUIRE(generations.ok());
  REQUIRE(generations->size() == 2);
  size_t expected = 0;
  for (const Generation& g : *generations) expected += static_cast<size_t>(g.jobs_total);
  CHECK(expected == 2 * 12);
  JobFilter filter;
  filter.run_id = run_id;
  for (const Job& job : *(*store)->ListJobs(filter)) {
    CAPTURE(job.id);
    CHECK(job.attempts == 1);
    CHECK(worker_ids.count(job.worker_id) == 1);
  }
  CHECK(completed == static_cast<int64_t>(expected));
  CheckEveryJobCompletedOnce(**store, run_id, expected);
}

TEST_CASE("orchestrator cli: two evolve-worker --orchestrator processes drain a run started with POST /evolve") {
  TempDir dir;
  WriteSynthetic(dir.path(), 1500, 0.5);
  const std::string db = dir / "evolve.db";
  Service service(dir, db);
  std::vector<Process> workers;
  for (const char* id : {"remote-1", "remote-2"}) {
    // The store's variables are ignored: the orchestrator is the way in.
    workers.push_back(Process::Spawn({kWorker, "--worker-id", id, "--poll-interval", "0.05"},
                                     {{"EVOLVE_ORCHESTRATOR_URL", service.url()},
                                      {"EVOLVE_DB", dir / "never-created.db"},
                                      {"LOG_LEVEL", "INFO"}}));
  }
  const std::string run_id = StartRun(service);
  const Run run = WaitForFinalRun(db, run_id);
  CHECK(run.status == RunStatus::kCompleted);
  CHECK(run.stop_reason == kStopMaxGenerations);
  CheckDrainedOverHttp(workers, db, run_id, {"remote-1", "remote-2"});
  CHECK_FALSE(FileExists(dir / "never-created.db"));
  const ProcessResult served = service.Stop();
  INFO(served.err);
  CHECK(served.exit_code == 0);
}

TEST_CASE("orchestrator cli: with an API token, workers that hold it drain the run and a wrong one exits clearly") {
  TempDir dir;
  WriteSynthetic(dir.path(), 1500, 0.5);
  const std::string db = dir / "evolve.db";
  const std::string token = "tok-7f3a9c";
  Service service(dir, db, {{"EVOLVE_API_TOKEN", token}});
  WriteFile(dir / "token", token + "\n");

  // A wrong token: one line saying so, exit 1, before any work.
  const ProcessResult wrong =
      RunProcess({kWorker, "--orchestrator", service.url(), "--worker-id", "intruder"},
                 {{"EVOLVE_API_TOKEN", "not-" + token}});
  CHECK(wrong.exit_code == 1);
  CHECK(Lines(wrong.err) == 1);
  CHECK_MESSAGE(Contains(wrong.err, "the orchestrator refused the API token"), wrong.err);
  // No token at all is refused the same way.
  const ProcessResult none = RunProcess({kWorker, "--orchestrator", service.url()}, {{"EVOLVE_API_TOKEN", ""}});
  CHECK(none.exit_code == 1);
  CHECK_MESSAGE(Contains(none.err, "refused the API token"), none.err);
  // POST /evolve needs it too.
  auto refused = service.Post("/evolve", kEvolveBody);
  REQUIRE(refused);
  CHECK(refused->status == 401);

  std::vector<Process> workers;
  workers.push_back(Process::Spawn(
      {kWorker, "--orchestrator", service.url(), "--worker-id", "env-token", "--poll-interval", "0.05"},
      {{"EVOLVE_API_TOKEN", token}, {"LOG_LEVEL", "INFO"}}));
  workers.push_back(Process::Spawn({kWorker, "--orchestrator", service.url(), "--token-file", dir / "token",
                                    "--worker-id", "file-token", "--poll-interval", "0.05",
                                    "--max-jobs-per-claim", "4"},
                                   {{"EVOLVE_API_TOKEN", ""}, {"LOG_LEVEL", "INFO"}}));
  const std::string run_id = StartRun(service, token);
  const Run run = WaitForFinalRun(db, run_id);
  CHECK(run.status == RunStatus::kCompleted);
  CheckDrainedOverHttp(workers, db, run_id, {"env-token", "file-token"});
  auto store = sqlite::OpenSqliteStore(db);
  REQUIRE(store.ok());
  for (const WorkerInfo& w : *(*store)->ListWorkers()) {
    CAPTURE(w.id);
    CHECK(w.id != "intruder");  // refused before it was registered
  }
  CHECK(service.Stop().exit_code == 0);
}

TEST_CASE("orchestrator cli: evolve-worker refuses --orchestrator with a store, and bad orchestrator settings") {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {{"--orchestrator", "http://127.0.0.1:1", "--db", dir / "x.db"}, "--orchestrator and --db"},
      {{"--orchestrator", "http://127.0.0.1:1", "--store", "sqlite:" + (dir / "x.db")}, "--orchestrator and --store"},
      {{"--orchestrator", "https://127.0.0.1:1"}, "https is not supported"},
      {{"--orchestrator", "127.0.0.1:8400"}, "must be http://host[:port][/path]"},
      {{"--orchestrator", "http://127.0.0.1:1", "--max-jobs-per-claim", "1001"}, "--max-jobs-per-claim"},
      {{"--orchestrator", "http://127.0.0.1:1", "--lease", "7200"}, "--lease"},
      {{"--orchestrator", "http://127.0.0.1:1", "--token-file", dir / "absent"}, "--token-file: cannot read"},
      {{"--db", dir / "x.db", "--token-file", dir / "absent"}, "--token-file: only used with --orchestrator"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = c.args;
    argv.insert(argv.begin(), kWorker);
    CAPTURE(Args(argv));
    const ProcessResult r = RunProcess(argv);
    CHECK(r.exit_code == 2);
    CHECK(Lines(r.err) == 1);
    CHECK_MESSAGE(Contains(r.err, c.expected), r.err);
    CHECK_FALSE(FileExists(dir / "x.db"));
  }
}

TEST_CASE("orchestrator cli: a worker waits for an orchestrator that is not up, and SIGTERM ends the wait") {
  const int port = UnusedPort();
  Process worker = Process::Spawn({kWorker, "--orchestrator", "http://127.0.0.1:" + std::to_string(port)},
                                  {{"LOG_LEVEL", "INFO"}});
  REQUIRE(WaitFor([&] { return Contains(worker.ErrSoFar(), "orchestrator unavailable; retrying"); }));
  worker.Signal(SIGTERM);
  const ProcessResult r = worker.Wait();
  INFO(r.err);
  CHECK(r.exit_code == 0);
}

}  // namespace
}  // namespace evolve::testing
