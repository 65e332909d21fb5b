// WorkerPool, the liveness rule and the hand-back of a dead process's jobs,
// over the fake store: ids and registration, a stop that loses no job, a
// stop before the start, options, and dead workers told by host and pid.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker_pool.h"
#include "job_fixtures.h"

namespace evolve {
namespace {

using testing::FakeSimulator;

using testing::Eventually;

// `n` jobs, each of its own model: one simulation per job.
std::vector<Job> MakeJobs(const std::string& batch, int n) {
  return testing::MakeJobs(batch, n, /*max_attempts=*/3, /*distinct_models=*/true);
}

WorkerPoolOptions PoolOptions(int size) {
  WorkerPoolOptions o;
  o.size = size;
  o.worker.worker_id = "pool";
  o.worker.poll_interval = std::chrono::milliseconds(5);
  o.worker.error_backoff = std::chrono::milliseconds(1);
  o.worker.exit_when_idle = true;
  return o;
}

// A pid that names no running process: a child that has exited and been
// reaped.
int64_t DeadPid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return child;
}

TEST_CASE("worker pool: N workers drain the queue, registered with this host and process") {
  Clock& clock = *RealClock();
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 30)).ok());
  WorkerPool pool(store, sim, PoolOptions(3));
  REQUIRE(pool.Start().ok());
  CHECK(pool.Wait().ok());  // exit_when_idle: each returns once the queue is empty

  CHECK(store.CountJobs({})->completed == 30);
  CHECK(pool.size() == 3);
  CHECK(pool.stats().completed == 30);
  const std::vector<WorkerReport> reports = pool.reports();
  REQUIRE(reports.size() == 3);
  CHECK(reports[0].worker_id == "pool-1");
  CHECK(reports[2].worker_id == "pool-3");
  auto workers = store.ListWorkers();
  REQUIRE(workers.ok());
  REQUIRE(workers->size() == 3);
  for (const WorkerInfo& w : *workers) {
    CHECK(w.host == HostName());
    CHECK(w.pid == ::getpid());
    CHECK(w.status == "STOPPED");  // deregistered on the way out
  }
  CHECK(pool.Start().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("worker pool: one worker keeps the id it was given") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  WorkerPool pool(store, &store, sim, clock, PoolOptions(1));
  REQUIRE(pool.Start().ok());
  CHECK(pool.Wait().ok());
  REQUIRE(pool.reports().size() == 1);
  CHECK(pool.reports()[0].worker_id == "pool");
}

TEST_CASE("worker pool: a stop finishes the simulations in flight and gives back the claimed rest") {
  Clock& clock = *RealClock();
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 10)).ok());
  std::atomic<int> started{0};
  std::atomic<bool> go{false};
  sim.SetScript([&](const SimulationParams&) -> Result<SimulationResult> {
    ++started;
    while (!go.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return FakeSimulator::PassingResult(3.0);
  });
  WorkerPoolOptions options = PoolOptions(2);
  options.worker.exit_when_idle = false;
  options.worker.max_jobs_per_claim = 5;  // each worker holds 5 and simulates 1
  WorkerPool pool(store, sim, options);
  REQUIRE(pool.Start().ok());
  REQUIRE(Eventually([&] { return started.load() == 2; }));
  pool.RequestStop();
  go = true;
  CHECK(pool.Wait().ok());

  const JobCounts counts = *store.CountJobs({});
  CHECK(counts.completed == 2);
  CHECK(counts.pending == 8);
  CHECK(counts.running == 0);
  CHECK(pool.stats().released == 8);
}

TEST_CASE("worker pool: a stop before the start starts nothing") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 3)).ok());
  WorkerPool pool(store, sim, PoolOptions(2));
  pool.RequestStop();
  REQUIRE(pool.Start().ok());
  CHECK(pool.Wait().ok());
  CHECK(pool.reports().empty());
  CHECK(store.CountJobs({})->pending == 3);
}

TEST_CASE("worker pool: options are checked before anything starts, naming the option") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  WorkerPoolOptions o = PoolOptions(-1);
  CHECK(WorkerPool::ValidateOptions(o).message().find("size") == 0);
  o = PoolOptions(12);
  o.worker.worker_id = std::string(62, 'w');  // "<62>-12" is 65 characters
  CHECK(WorkerPool::ValidateOptions(o).message().find("worker_id") == 0);
  WorkerPool pool(store, sim, o);
  CHECK(pool.Start().code() == StatusCode::kInvalidArgument);
  CHECK(pool.reports().empty());
}

TEST_CASE("worker pool: a pool of no workers runs nothing: other processes drain the queue") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 2)).ok());
  WorkerPoolOptions o = PoolOptions(0);
  o.worker.worker_id = "";  // not checked: there is no worker to name
  WorkerPool pool(store, sim, o);
  REQUIRE(pool.Start().ok());
  CHECK(pool.Wait().ok());
  CHECK(pool.reports().empty());
  CHECK(store.CountJobs({})->pending == 2);
}

TEST_CASE("in-process pools: short leases and ids naming the host and process") {
  const WorkerPoolOptions o = InProcessWorkerPoolOptions("evolve-run", 4, 0);
  CHECK(o.size == 4);
  CHECK(o.worker.worker_id == "evolve-run-" + HostName() + "-" + std::to_string(::getpid()));
  CHECK(o.worker.max_jobs_per_claim == 1);
  CHECK(o.worker.lease == std::chrono::seconds(20));
  CHECK(WorkerPool::ValidateOptions(o).ok());
}

TEST_CASE("liveness: ACTIVE and a heartbeat within kWorkerLiveness, heartbeats at most half of it apart") {
  WorkerInfo w;
  w.status = "ACTIVE";
  w.last_heartbeat = TimePoint{} + std::chrono::hours(1);
  CHECK(IsWorkerLive(w, w.last_heartbeat + kWorkerLiveness));
  CHECK_FALSE(IsWorkerLive(w, w.last_heartbeat + kWorkerLiveness + std::chrono::seconds(1)));
  w.status = "STOPPED";
  CHECK_FALSE(IsWorkerLive(w, w.last_heartbeat));

  WorkerOptions o;
  o.worker_id = "w";
  o.lease = std::chrono::hours(1);
  o.heartbeat_interval = kWorkerLiveness / 2;
  CHECK(Worker::ValidateOptions(o).ok());
  o.heartbeat_interval = kWorkerLiveness / 2 + std::chrono::seconds(1);
  CHECK(Worker::ValidateOptions(o).message().find("heartbeat_interval") == 0);
}

TEST_CASE("dead workers: the jobs of a dead process on this host go back, told by registered host and pid") {
  ManualClock clock;
  testing::FakeStore store(clock);
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 3)).ok());
  const int64_t dead_pid = DeadPid();
  auto hold = [&](const std::string& id, const std::string& host, int64_t pid) {
    WorkerInfo w;
    w.id = id;
    w.host = host;
    w.pid = pid;
    REQUIRE(store.RegisterWorker(w).ok());
    auto claimed = store.ClaimJobs(id, 1, std::chrono::minutes(10));
    REQUIRE(claimed.ok());
    REQUIRE(claimed->size() == 1);
    return claimed->front().id;
  };
  // Ids say nothing: only the registry's host and pid count.
  const std::string dead_job = hold("anything-at-all", "this-host", dead_pid);
  const std::string live_job = hold("evolve-run-this-host-1-1", "this-host", ::getpid());
  const std::string remote_job = hold("remote", "other-host", dead_pid);

  auto released = ReleaseJobsOfDeadWorkers(store, store, "this-host");
  REQUIRE(released.ok());
  CHECK(*released == 1);
  const Job dead = *store.GetJob(dead_job);
  CHECK(dead.status == JobStatus::kPending);
  CHECK(dead.attempts == 0);  // a death is not a failed attempt (store.h, kJobDeathLimit)
  CHECK(dead.deaths == 1);
  CHECK(dead.error.find(std::to_string(dead_pid)) != std::string::npos);
  CHECK(store.GetJob(live_job)->status == JobStatus::kRunning);
  CHECK(store.GetJob(remote_job)->status == JobStatus::kRunning);
  for (const WorkerInfo& w : *store.ListWorkers()) {
    CHECK(w.status == (w.id == "anything-at-all" ? "STOPPED" : "ACTIVE"));
  }
  // Nothing left to do: a second call hands back nothing.
  CHECK(*ReleaseJobsOfDeadWorkers(store, store, "this-host") == 0);
}

}  // namespace
}  // namespace evolve
