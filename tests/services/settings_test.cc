// The settings of the binaries (services/common) and evolve-worker's
// options (services/worker/worker_options.h): flags over environment
// variables over defaults, and every bad value refused with its name.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "evolve/clock.h"
#include "evolve/log.h"
#include "evolve/service/args.h"
#include "evolve/service/exit.h"
#include "evolve/service/settings.h"
#include "evolve/worker.h"
#include "net_test_support.h"
#include "service_test_support.h"
#include "worker_options.h"

namespace evolve::testing::services {
namespace {

using service::Args;
using service::OptionSpec;

// Every variable the settings read, unset for the test.
struct CleanEnvironment {
  ScopedEnv db{"EVOLVE_DB", std::nullopt};
  ScopedEnv postgres{"POSTGRES_URL", std::nullopt};
  ScopedEnv data{"EVOLVE_DATA_DIR", std::nullopt};
  ScopedEnv token{"EVOLVE_API_TOKEN", std::nullopt};
  ScopedEnv orchestrator{"EVOLVE_ORCHESTRATOR_URL", std::nullopt};
  ScopedEnv worker_id{"WORKER_ID", std::nullopt};
  ScopedEnv poll{"POLL_INTERVAL", std::nullopt};
  ScopedEnv log_level{"LOG_LEVEL", std::nullopt};
};

const std::vector<OptionSpec>& TestSpecs() {
  static const std::vector<OptionSpec> specs = [] {
    std::vector<OptionSpec> s = service::StoreOptions();
    s.push_back(service::DataDirOption());
    s.push_back({"token-file", "PATH", "token"});
    s.push_back({"count", "N", "a number"});
    s.push_back({"flag", "", "a flag"});
    return s;
  }();
  return specs;
}

// The value of a Result that must be OK.
template <typename T>
T Must(Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return std::move(*r);
}

Args MustParse(const std::vector<std::string>& argv, const std::vector<OptionSpec>& specs = TestSpecs()) {
  auto args = Args::Parse("test", argv, specs, 1);
  REQUIRE_MESSAGE(args.ok(), args.status().ToString());
  return *args;
}

// The message of a parse that must fail with kInvalidArgument.
std::string ParseError(const std::vector<std::string>& argv) {
  auto args = Args::Parse("test", argv, TestSpecs(), 1);
  REQUIRE_FALSE(args.ok());
  CHECK(args.status().code() == StatusCode::kInvalidArgument);
  return args.status().message();
}

TEST_CASE("service settings: arguments, and every bad one named") {
  Args args = MustParse({"--count=3", "--flag", "--db", "x.db", "pos"});
  CHECK(args.Get("count") == "3");
  CHECK(args.Has("flag"));
  CHECK(args.Get("db") == "x.db");
  CHECK(args.positional() == std::vector<std::string>{"pos"});
  CHECK(args.given() == std::vector<std::string>{"count", "flag", "db"});
  CHECK(Must(service::IntOption(args, "count", 1, 0, 5)) == 3);
  CHECK(Must(service::IntOption(args, "absent", 7, 0, 5)) == 7);  // the fallback is not range-checked

  CHECK(Contains(ParseError({"--colour", "red"}), "unknown option --colour (see 'evolve test --help')"));
  CHECK(Contains(ParseError({"-x"}), "unknown option -x"));
  CHECK(Contains(ParseError({"--db", "a", "--db", "b"}), "option --db given twice"));
  CHECK(Contains(ParseError({"--db"}), "option --db needs a value (PATH)"));
  CHECK(Contains(ParseError({"--flag=yes"}), "option --flag takes no value"));
  CHECK(Contains(ParseError({"a", "b"}), "unexpected argument 'b'"));
  CHECK(Contains(service::IntOption(MustParse({"--count", "9"}), "count", 1, 0, 5).status().message(),
                 "--count: must be in [0, 5], got 9"));
  CHECK(Contains(service::IntOption(MustParse({"--count", "3x"}), "count", 1, 0, 5).status().message(),
                 "--count: '3x' is not an integer"));
  CHECK(Contains(service::ParseDouble("--lease", "1e999").status().message(),
                 "--lease: '1e999' is not a number"));
  CHECK(Must(service::ParseList("--symbols", " a, b ,c")) == std::vector<std::string>{"a", "b", "c"});
  CHECK(Contains(service::ParseList("--symbols", "a,,b").status().message(), "--symbols: empty item"));
}

TEST_CASE(
    "service settings: the store from --db / --store, else POSTGRES_URL, else EVOLVE_DB, else ./evolve.db") {
  CleanEnvironment clean;
  CHECK(service::ResolveStore(MustParse({}))->sqlite_path == "./evolve.db");
  CHECK(service::ResolveStore(MustParse({}))->flag_text == "--db ./evolve.db");
  {
    ScopedEnv db("EVOLVE_DB", "env.db");
    CHECK(service::ResolveStore(MustParse({}))->sqlite_path == "env.db");
    CHECK(service::ResolveStore(MustParse({"--db", "flag.db"}))->sqlite_path == "flag.db");
    CHECK(service::ResolveStore(MustParse({"--store", "sqlite:store.db"}))->sqlite_path == "store.db");
    CHECK(service::ResolveStore(MustParse({"--store", "sqlite:///abs.db"}))->sqlite_path == "/abs.db");
    ScopedEnv postgres("POSTGRES_URL", "sqlite:pg-env.db");
    CHECK(service::ResolveStore(MustParse({}))->sqlite_path == "pg-env.db");                 // over EVOLVE_DB
    CHECK(service::ResolveStore(MustParse({"--db", "flag.db"}))->sqlite_path == "flag.db");  // flags first
  }
  // Bad values, each named by where it came from.
  CHECK(Contains(service::ResolveStore(MustParse({"--db", "a", "--store", "sqlite:b"})).status().message(),
                 "--db and --store both given"));
  CHECK(
      Contains(service::ResolveStore(MustParse({"--db", ""})).status().message(), "--db: must not be empty"));
  CHECK(Contains(service::ResolveStore(MustParse({"--store", "mysql://h/db"})).status().message(),
                 "--store: 'mysql://h/db' is not a store URL"));
  CHECK(Contains(service::ResolveStore(MustParse({"--store", "sqlite:"})).status().message(),
                 "--store: no path"));
  ScopedEnv postgres("POSTGRES_URL", "redis://h");
  const Status env = service::ResolveStore(MustParse({})).status();
  CHECK(env.code() == StatusCode::kInvalidArgument);
  CHECK(Contains(env.message(), "POSTGRES_URL: 'redis://h' is not a store URL"));
}

TEST_CASE("service settings: the API token, the data directory and the log level") {
  CleanEnvironment clean;
  ScratchDir dir;
  CHECK(Must(service::ResolveApiToken(MustParse({}))) == "");
  {
    ScopedEnv token("EVOLVE_API_TOKEN", "from-env");
    CHECK(Must(service::ResolveApiToken(MustParse({}))) == "from-env");
    const std::string file = dir.Write("token", "from-file \t\r\nsecond line\n");
    CHECK(Must(service::ResolveApiToken(MustParse({"--token-file", file}))) == "from-file");  // the flag first
  }
  CHECK(Contains(service::ResolveApiToken(MustParse({"--token-file", dir / "absent"})).status().message(),
                 "--token-file: cannot read " + (dir / "absent")));
  CHECK(Contains(
      service::ResolveApiToken(MustParse({"--token-file", dir.Write("empty", "\n")})).status().message(),
      "holds no token on its first line"));

  CHECK(Must(service::ResolveDataDir(MustParse({"--data-dir", dir.path()}))) == dir.path());
  CHECK(service::ResolveDataDir(MustParse({"--data-dir", dir / "none"})).status().code() ==
        StatusCode::kNotFound);
  CHECK(Contains(service::ResolveDataDir(MustParse({"--data-dir", dir / "none"})).status().message(),
                 "--data-dir: no directory " + (dir / "none")));
  {
    ScopedEnv data("EVOLVE_DATA_DIR", dir / "gone");
    CHECK(
        Contains(service::ResolveDataDir(MustParse({})).status().message(), "EVOLVE_DATA_DIR: no directory"));
    CHECK(Must(service::ResolveDataDir(MustParse({"--data-dir", dir.path()}))) == dir.path());  // the flag first
  }
  CHECK(service::ResolveDataDir(MustParse({})).ok());  // the bundled data of the source tree

  const LogLevel before = GetLogLevel();
  CHECK(service::SetLogLevelFromEnvironment(LogLevel::kError).ok());
  CHECK(GetLogLevel() == LogLevel::kError);
  {
    ScopedEnv level("LOG_LEVEL", "DEBUG");
    CHECK(service::SetLogLevelFromEnvironment(LogLevel::kError).ok());
    CHECK(GetLogLevel() == LogLevel::kDebug);
  }
  {
    ScopedEnv level("LOG_LEVEL", "LOUD");
    const Status bad = service::SetLogLevelFromEnvironment(LogLevel::kWarning);
    CHECK(bad.code() == StatusCode::kInvalidArgument);
    CHECK(Contains(bad.message(), "LOG_LEVEL: unknown level 'LOUD'"));
    CHECK(GetLogLevel() == LogLevel::kWarning);
  }
  SetLogLevel(before);

  CHECK(service::ExitCodeOf(InvalidArgumentError("x")) == service::kExitUsage);
  CHECK(service::ExitCodeOf(NotFoundError("x")) == service::kExitUsage);
  CHECK(service::ExitCodeOf(UnavailableError("x")) == service::kExitError);
}

// --- evolve-worker ----------------------------------------------------------

Result<worker_service::WorkerSettings> Worker(const std::vector<std::string>& argv) {
  auto args = Args::Parse("worker", argv, worker_service::WorkerOptionSpecs(), 0);
  if (!args.ok()) return args.status();
  return worker_service::ParseWorkerSettings(*args);
}

std::string WorkerError(const std::vector<std::string>& argv) {
  auto settings = Worker(argv);
  REQUIRE_FALSE(settings.ok());
  CHECK(settings.status().code() == StatusCode::kInvalidArgument);
  return settings.status().message();
}

TEST_CASE("worker options: the defaults, and flags over the environment") {
  CleanEnvironment clean;
  auto s = Worker({});
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  const WorkerOptions& o = s->pool.worker;
  CHECK(s->pool.size == 1);
  CHECK(o.host == HostName());
  CHECK(o.worker_id == "worker_" + HostName() + "_" + std::to_string(o.pid));
  CHECK(o.poll_interval == std::chrono::seconds(5));
  CHECK(o.lease == std::chrono::seconds(60));
  CHECK(o.heartbeat_interval == std::chrono::seconds(15));
  CHECK(o.max_jobs_per_claim == 1);
  CHECK(o.max_jobs == 0);
  CHECK_FALSE(o.exit_when_idle);
  CHECK(s->simulator == "builtin");
  CHECK(s->orchestrator.url.empty());
  CHECK(s->store.sqlite_path == "./evolve.db");

  ScopedEnv id("WORKER_ID", "env-id");
  ScopedEnv poll("POLL_INTERVAL", "0.5");
  s = Worker(
      {"--concurrency", "3", "--lease", "8", "--once", "--max-jobs", "7", "--max-jobs-per-claim", "4"});
  REQUIRE(s.ok());
  CHECK(s->pool.size == 3);
  CHECK(s->pool.worker.worker_id == "env-id");
  CHECK(s->pool.worker.poll_interval == std::chrono::milliseconds(500));
  CHECK(s->pool.worker.lease == std::chrono::seconds(8));
  CHECK(s->pool.worker.heartbeat_interval == std::chrono::seconds(2));  // a few beats per lease
  CHECK(s->pool.worker.exit_when_idle);
  CHECK(s->pool.worker.max_jobs == 7);
  CHECK(s->pool.worker.max_jobs_per_claim == 4);
  s = Worker({"--worker-id", "flag-id", "--poll-interval", "2"});
  REQUIRE(s.ok());
  CHECK(s->pool.worker.worker_id == "flag-id");
  CHECK(s->pool.worker.poll_interval == std::chrono::seconds(2));
}

TEST_CASE(
    "worker options: the orchestrator from --orchestrator, else EVOLVE_ORCHESTRATOR_URL without a store "
    "flag") {
  CleanEnvironment clean;
  ScopedEnv url("EVOLVE_ORCHESTRATOR_URL", "http://orch:8400");
  ScopedEnv token("EVOLVE_API_TOKEN", "tok");
  auto s = Worker({});
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  CHECK(s->orchestrator.url == "http://orch:8400");
  CHECK(s->orchestrator.token == "tok");
  CHECK(s->orchestrator_origin == "EVOLVE_ORCHESTRATOR_URL");
  s = Worker({"--db", "x.db"});  // a store flag: the variable is not used
  REQUIRE(s.ok());
  CHECK(s->orchestrator.url.empty());
  CHECK(s->store.sqlite_path == "x.db");
  s = Worker({"--orchestrator", "http://other:1/prefix"});
  REQUIRE(s.ok());
  CHECK(s->orchestrator.url == "http://other:1/prefix");
  CHECK(s->orchestrator_origin == "--orchestrator");
  // What the server refuses is refused here, before anything is reached.
  CHECK(Worker({"--max-jobs-per-claim", "1000"}).ok());
  CHECK(Contains(WorkerError({"--max-jobs-per-claim", "1001"}),
                 "--max-jobs-per-claim: must be <= 1000 with --orchestrator"));
  CHECK(Worker({"--db", "x.db", "--max-jobs-per-claim", "1001"}).ok());  // a store takes more
  CHECK(Contains(WorkerError({"--lease", "7200"}), "--lease: must be <= 3600 seconds with --orchestrator"));
  CHECK(Contains(WorkerError({"--orchestrator", "https://h:1"}), "--orchestrator: "));
  ScopedEnv bad("EVOLVE_ORCHESTRATOR_URL", "h:8400");
  CHECK(Contains(WorkerError({}), "EVOLVE_ORCHESTRATOR_URL: "));
}

TEST_CASE("worker options: every bad value is refused with its name") {
  CleanEnvironment clean;
  CHECK(Contains(WorkerError({"--concurrency", "0"}), "--concurrency: must be >= 1"));
  CHECK(Contains(WorkerError({"--concurrency", "two"}), "--concurrency: 'two' is not an integer"));
  CHECK(Contains(WorkerError({"--max-jobs", "-1"}), "--max-jobs: must be >= 0"));
  CHECK(Contains(WorkerError({"--max-jobs-per-claim", "0"}), "--max-jobs-per-claim: must be >= 1"));
  CHECK(Contains(WorkerError({"--poll-interval", "soon"}), "--poll-interval: 'soon' is not a number"));
  CHECK(Contains(WorkerError({"--poll-interval", "0"}), "poll interval: must be > 0 seconds, got 0"));
  CHECK(Contains(WorkerError({"--lease", "0.5"}), "--lease: must be >= 1 second"));
  CHECK(Contains(WorkerError({"--simulator", "gpu"}),
                 "--simulator: unknown simulator 'gpu' (builtin or noop)"));
  CHECK(Contains(WorkerError({"--worker-id", ""}), "worker_id"));
  CHECK(Contains(WorkerError({"--orchestrator", "http://h:1", "--db", "x.db"}), "--orchestrator and --db"));
  CHECK(Contains(WorkerError({"--orchestrator", "http://h:1", "--store", "sqlite:x"}),
                 "--orchestrator and --store"));
  CHECK(Contains(WorkerError({"--orchestrator", ""}), "--orchestrator: must not be empty"));
  CHECK(Contains(WorkerError({"--token-file", "t"}), "--token-file: only used with --orchestrator"));
  {
    ScopedEnv poll("POLL_INTERVAL", "often");
    CHECK(Contains(WorkerError({}), "POLL_INTERVAL: 'often' is not a number"));
    CHECK(Worker({"--poll-interval", "1"}).ok());  // the flag wins over a bad variable
  }
  ScopedEnv postgres("POSTGRES_URL", "redis://h");
  CHECK(Contains(WorkerError({}), "POSTGRES_URL: "));
}

TEST_CASE("worker setup: waits for an orchestrator that is not up, and a stop ends the wait") {
  CleanEnvironment clean;
  auto s = Worker({"--orchestrator", "http://127.0.0.1:" + std::to_string(UnusedPort())});
  REQUIRE(s.ok());
  Event stop;
  std::thread stopper([&stop] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.Notify();
  });
  const auto start = std::chrono::steady_clock::now();
  auto backend = worker_service::ConnectWorker(*s, stop);
  stopper.join();
  CHECK(backend.status().code() == StatusCode::kCancelled);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("worker setup: a store's queue, the noop simulator and the stats line") {
  CleanEnvironment clean;
  ScratchDir dir;
  auto s = Worker({"--db", dir / "w.db", "--simulator", "noop"});
  REQUIRE(s.ok());
  Event stop;
  auto backend = worker_service::ConnectWorker(*s, stop);
  REQUIRE_MESSAGE(backend.ok(), backend.status().ToString());
  CHECK(backend->store != nullptr);
  CHECK(backend->client == nullptr);
  CHECK(backend->queue == backend->store.get());
  CHECK(backend->clock == &backend->store->clock());
  auto simulator = worker_service::OpenSimulator(*s, *backend->artifacts);
  REQUIRE(simulator.ok());
  auto result = (*simulator)->Simulate(SimulationParams{});
  REQUIRE(result.ok());
  CHECK(*result == SimulationResult{});

  WorkerReport report;
  report.worker_id = "w-2";
  report.stats.claimed = 5;
  report.stats.completed = 3;
  report.stats.failed = 1;
  report.stats.retried = 1;
  CHECK(worker_service::StatsLine(report) ==
        "worker=w-2 claimed=5 completed=3 failed=1 retried=1 released=0 lost=0");
}

}  // namespace
}  // namespace evolve::testing::services
