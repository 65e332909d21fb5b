// Benchmark (issue 5): no-op jobs claimed and completed per second by
// `evolve-worker` processes draining one PostgreSQL queue.
//
//   bench_queue --url URL [--database NAME] [--jobs N] [--processes P] [--concurrency C]
//               [--per-claim M] [--jobs-per-model K] [--worker PATH]
//
// URL is any database of the server; NAME (default evolve_bench_queue) is
// dropped and created afresh, and OpenPostgresStore gives it libevolve's
// schema. N no-op jobs (default 100,000) are enqueued with EnqueueBatch in
// batches of 5,000, untimed (the peers add theirs untimed too). Then P
// processes `evolve-worker --simulator noop --once --concurrency C
// --max-jobs-per-claim M` drain the queue; the time is the wall time from
// starting them until every one has exited. As for graphile-worker (whose
// own perfTest does this), the wall time of the same processes on an empty
// queue is measured first and subtracted: the rate is of the queue, not of a
// process start.
//
// The jobs of one model go to the simulator, and so to FinishJobs, together
// (libevolve/src/worker.cc): K (default 5,000, one model per enqueued batch,
// as an evolution's generation has) sets how many consecutive jobs share a
// model, so a small K shows the cost of one completion transaction per group.
//
// Then it verifies through the store: every job COMPLETED with attempts == 1
// (none handed out twice), the workers' completed= counters add up to N (no
// job completed twice), and no worker lost a lease.
//
// Prints key=value lines: jobs, seconds, jobs_per_second, wall_seconds,
// startup_seconds, wall_jobs_per_second, worker_cpu_seconds,
// server_cpu_seconds, processes, concurrency, per_claim,
// jobs_per_model, claimed, completed, lost, doubled, not_completed,
// verified=yes/no. Exits 1 when not verified.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <pqxx/pqxx>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "evolve/postgres/postgres_store.h"
#include "evolve/store.h"

extern char** environ;

namespace {

using SteadyClock = std::chrono::steady_clock;

struct Options {
  std::string url;
  std::string database = "evolve_bench_queue";
  int64_t jobs = 100000;
  int processes = 2;
  int concurrency = 4;
  int per_claim = 100;
  int64_t jobs_per_model = 5000;
  std::string worker;
};

constexpr int64_t kEnqueueBatch = 5000;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "bench_queue: %s\n", message.c_str());
  std::exit(2);
}

void Check(const evolve::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Die("missing value for " + flag);
    const std::string value = argv[++i];
    auto number = [&]() -> int64_t {
      char* end = nullptr;
      const long long v = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0' || v < 1)
        Die(flag + ": want a positive integer, got " + value);
      return v;
    };
    if (flag == "--url") {
      o.url = value;
    } else if (flag == "--database") {
      o.database = value;
    } else if (flag == "--jobs") {
      o.jobs = number();
    } else if (flag == "--processes") {
      o.processes = static_cast<int>(number());
    } else if (flag == "--concurrency") {
      o.concurrency = static_cast<int>(number());
    } else if (flag == "--per-claim") {
      o.per_claim = static_cast<int>(number());
    } else if (flag == "--jobs-per-model") {
      o.jobs_per_model = number();
    } else if (flag == "--worker") {
      o.worker = value;
    } else {
      Die("unknown option " + flag);
    }
  }
  if (o.url.empty()) Die("--url is required");
  if (o.worker.empty()) {
    // The build tree's: build/tests/bench/bench_queue -> build/services/worker/evolve-worker.
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
    o.worker = (self.parent_path() / "../../services/worker/evolve-worker").lexically_normal().string();
  }
  return o;
}

// The URL of database `name` on the server of `url` (postgresql://user@host:port/db?query).
std::string DatabaseUrl(const std::string& url, const std::string& name) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) Die("--url: want postgresql://..., got " + url);
  const size_t path = url.find('/', scheme + 3);
  const size_t query = url.find('?', scheme + 3);
  const std::string authority = url.substr(0, std::min(path, query));
  return authority + "/" + name + (query == std::string::npos ? "" : url.substr(query));
}

void RecreateDatabase(const std::string& url, const std::string& name) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name) + " WITH (FORCE)");
  tx.exec("CREATE DATABASE " + tx.quote_name(name));
}

void Enqueue(evolve::JobQueue& queue, const Options& o) {
  for (int64_t first = 0, batch = 0; first < o.jobs; first += kEnqueueBatch, ++batch) {
    const std::string batch_id = "bench-batch-" + std::to_string(batch);
    std::vector<evolve::Job> jobs;
    for (int64_t i = first; i < std::min(o.jobs, first + kEnqueueBatch); ++i) {
      evolve::Job job;
      char id[32];
      std::snprintf(id, sizeof id, "bench-job-%08" PRId64, i);
      job.id = id;
      job.batch_id = batch_id;
      job.run_id = "bench-run";
      job.model_id = "bench-model-" + std::to_string(i / o.jobs_per_model);
      job.generation = static_cast<int>(batch);
      job.params.model_id = job.model_id;
      job.params.ticker = "BENCH";
      job.params.threshold = 0.0001 * static_cast<double>(i % 3 + 1);
      jobs.push_back(std::move(job));
    }
    evolve::Result<int> n = queue.EnqueueBatch(batch_id, jobs);
    Check(n.status(), "EnqueueBatch");
    if (*n != static_cast<int>(jobs.size())) Die("EnqueueBatch inserted " + std::to_string(*n) + " jobs");
  }
}

struct Counters {
  int64_t claimed = 0;
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t lost = 0;
  double cpu_seconds = 0;  // of the worker processes, user + system
};

// Adds the counters of every `worker=... claimed=N completed=N ...` line of `text`.
void AddCounters(const std::string& text, Counters* c) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("worker=", 0) != 0) continue;
    std::istringstream fields(line);
    std::string field;
    while (fields >> field) {
      const size_t eq = field.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = field.substr(0, eq);
      const int64_t v = std::strtoll(field.c_str() + eq + 1, nullptr, 10);
      if (key == "claimed") c->claimed += v;
      if (key == "completed") c->completed += v;
      if (key == "failed") c->failed += v;
      if (key == "lost") c->lost += v;
    }
  }
}

// User + system CPU seconds of the waited-for children so far.
double ChildrenCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_CHILDREN, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Starts the P worker processes at once and waits for all of them; returns
// their wall seconds and adds up their counters and CPU time.
double RunWorkers(const Options& o, const std::string& db_url, const std::filesystem::path& out_dir,
                  Counters* counters) {
  const double cpu_before = ChildrenCpuSeconds();
  std::vector<pid_t> pids;
  std::vector<std::filesystem::path> outs;
  const SteadyClock::time_point start = SteadyClock::now();
  for (int p = 0; p < o.processes; ++p) {
    outs.push_back(out_dir / ("worker-" + std::to_string(p) + ".out"));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, outs.back().c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const std::vector<std::string> args = {o.worker,
                                           "--store",
                                           db_url,
                                           "--simulator",
                                           "noop",
                                           "--once",
                                           "--concurrency",
                                           std::to_string(o.concurrency),
                                           "--max-jobs-per-claim",
                                           std::to_string(o.per_claim),
                                           "--worker-id",
                                           "bench-" + std::to_string(p),
                                           "--poll-interval",
                                           "1"};
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, o.worker.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) Die("cannot start " + o.worker + ": " + std::strerror(rc));
    pids.push_back(pid);
  }
  bool failed = false;
  for (pid_t pid : pids) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = true;
  }
  const double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  counters->cpu_seconds = ChildrenCpuSeconds() - cpu_before;
  for (const auto& path : outs) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    AddCounters(text.str(), counters);
  }
  if (failed) Die("an evolve-worker process failed (its stderr is above)");
  return seconds;
}

// CPU seconds (user + system) used so far by the PostgreSQL server whose
// postmaster is `postmaster`: its own, its live children's and those of the
// children it has reaped (backends of connections that closed). 0 when /proc
// does not show it (a server on another host).
double ServerCpuSeconds(long postmaster) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  // Fields 14-17 of /proc/PID/stat: utime stime cutime cstime; 4 is the parent.
  auto read_stat = [](const std::filesystem::path& path, long* parent, double* own, double* reaped) {
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos) return false;
    std::istringstream fields(text.substr(paren + 2));
    std::vector<std::string> f;
    std::string field;
    while (fields >> field) f.push_back(field);
    if (f.size() < 15) return false;
    *parent = std::strtol(f[1].c_str(), nullptr, 10);
    *own = std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr);
    *reaped = std::strtod(f[13].c_str(), nullptr) + std::strtod(f[14].c_str(), nullptr);
    return true;
  };
  long parent = 0;
  double own = 0, reaped = 0;
  if (postmaster <= 0 || !read_stat("/proc/" + std::to_string(postmaster) + "/stat", &parent, &own, &reaped))
    return 0;
  double total = own + reaped;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    double child = 0, child_reaped = 0;
    if (read_stat(entry.path() / "stat", &parent, &child, &child_reaped) && parent == postmaster) {
      total += child;
    }
  }
  return total / ticks;
}

// The postmaster's pid: the parent of a backend of ours (0 when unknown).
long PostmasterPid(const std::string& url) {
  try {
    pqxx::connection c(url);
    pqxx::nontransaction tx(c);
    const long backend = tx.exec("SELECT pg_backend_pid()")[0][0].as<long>();
    std::ifstream in("/proc/" + std::to_string(backend) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = text.rfind(')');
    if (paren == std::string::npos) return 0;
    std::istringstream fields(text.substr(paren + 2));
    std::string state;
    long parent = 0;
    fields >> state >> parent;
    return parent;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = ParseOptions(argc, argv);
  // The workers log at warning and above only: a line per claim would be
  // part of what is timed.
  setenv("LOG_LEVEL", "warning", 0);
  const std::string db_url = DatabaseUrl(o.url, o.database);
  try {
    RecreateDatabase(o.url, o.database);
  } catch (const std::exception& e) {
    Die(std::string("creating database ") + o.database + ": " + e.what());
  }
  auto store = evolve::postgres::OpenPostgresStore(db_url);
  Check(store.status(), "OpenPostgresStore");

  char dir_template[] = "/tmp/bench_queue.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) Die("mkdtemp failed");
  const std::filesystem::path out_dir = dir_template;

  Counters idle;
  const double startup = RunWorkers(o, db_url, out_dir, &idle);

  Enqueue(**store, o);
  try {
    // As for the peer: after the bulk insert, statistics and hint bits are
    // settled and dirty pages written, so that neither an autovacuum of the
    // new rows nor a checkpoint lands inside the timed run.
    pqxx::connection c(db_url);
    pqxx::nontransaction tx(c);
    tx.exec("VACUUM ANALYZE job_queue, priority_jobs");
    tx.exec("CHECKPOINT");
  } catch (const std::exception& e) {
    Die(std::string("VACUUM ANALYZE / CHECKPOINT: ") + e.what());
  }

  const long postmaster = PostmasterPid(db_url);
  const double server_cpu_before = ServerCpuSeconds(postmaster);
  Counters counters;
  const double wall = RunWorkers(o, db_url, out_dir, &counters);
  // Untimed: the workers' backends are gone once the postmaster reaped them.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const double server_cpu = ServerCpuSeconds(postmaster) - server_cpu_before;
  std::filesystem::remove_all(out_dir);

  // Verification, untimed, through the store.
  evolve::Result<evolve::JobCounts> counts = (*store)->CountJobs(evolve::JobFilter{});
  Check(counts.status(), "CountJobs");
  evolve::Result<std::vector<evolve::Job>> all = (*store)->ListJobs(evolve::JobFilter{});
  Check(all.status(), "ListJobs");
  int64_t handed_out_twice = 0;
  for (const evolve::Job& job : *all) {
    if (job.attempts != 1) ++handed_out_twice;
  }
  const int64_t not_completed = o.jobs - counts->completed;
  const int64_t completed_twice = std::max<int64_t>(0, counters.completed - o.jobs);
  const int64_t doubled = handed_out_twice + completed_twice;
  const bool verified = counts->completed == o.jobs && counts->total() == o.jobs &&
                        static_cast<int64_t>(all->size()) == o.jobs && counters.completed == o.jobs &&
                        counters.claimed == o.jobs && counters.lost == 0 && counters.failed == 0 &&
                        doubled == 0;

  const double seconds = wall - startup;
  std::printf("jobs=%" PRId64 "\n", o.jobs);
  std::printf("seconds=%.3f\n", seconds);
  std::printf("jobs_per_second=%.0f\n", static_cast<double>(o.jobs) / seconds);
  std::printf("wall_seconds=%.3f\n", wall);
  std::printf("startup_seconds=%.3f\n", startup);
  std::printf("wall_jobs_per_second=%.0f\n", static_cast<double>(o.jobs) / wall);
  // The client side's share of the cost (the server's CPU is not in it).
  std::printf("worker_cpu_seconds=%.3f\n", counters.cpu_seconds);
  // The server's (0 when it is not on this host): with the workers', where the cost per job goes.
  std::printf("server_cpu_seconds=%.3f\n", server_cpu);
  std::printf("processes=%d\n", o.processes);
  std::printf("concurrency=%d\n", o.concurrency);
  std::printf("per_claim=%d\n", o.per_claim);
  std::printf("jobs_per_model=%" PRId64 "\n", o.jobs_per_model);
  std::printf("claimed=%" PRId64 "\n", counters.claimed);
  std::printf("completed=%" PRId64 "\n", counters.completed);
  std::printf("lost=%" PRId64 "\n", counters.lost);
  std::printf("doubled=%" PRId64 "\n", doubled);
  std::printf("not_completed=%" PRId64 "\n", not_completed);
  std::printf("verified=%s\n", verified ? "yes" : "no");
  return verified ? 0 : 1;
}
