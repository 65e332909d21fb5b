// The worker loop over the fake store and simulator: multi-job claims,
// heartbeats, fencing, retries, graceful stop, queue outages.
#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <thread>

#include "evolve/log.h"
#include "evolve/shutdown.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"
#include "job_fixtures.h"

namespace evolve {
namespace {

using testing::FakeSimulator;

using testing::Eventually;
using testing::MakeJobs;

WorkerOptions Options(const std::string& id) {
  WorkerOptions o;
  o.worker_id = id;
  o.host = "testhost";
  o.pid = 42;
  o.poll_interval = std::chrono::milliseconds(5);
  o.error_backoff = std::chrono::milliseconds(1);
  return o;
}

TEST_CASE("worker: claims several jobs at once and completes each") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(*store.EnqueueBatch("b", MakeJobs("b", 5)) == 5);
  WorkerOptions o = Options("w1");
  o.max_jobs_per_claim = 3;
  Worker worker(store, &store, sim, clock, o);
  CHECK(*worker.RunOnce() == 3);
  CHECK(*worker.RunOnce() == 2);
  CHECK(*worker.RunOnce() == 0);
  CHECK(store.CountJobs({})->completed == 5);
  CHECK(sim.calls().size() == 5);
  CHECK(worker.stats().claimed == 5);
  CHECK(worker.stats().completed == 5);
  auto job = *store.GetJob("b-0");
  REQUIRE(job.result.has_value());
  CHECK(*job.result->sqn == 1.0);
  CHECK(job.worker_id == "w1");
}

TEST_CASE("worker: the jobs of one model in a claim are simulated as one grid") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  std::vector<Job> jobs = MakeJobs("b", 4);
  jobs[3].model_id = jobs[3].params.model_id = "model-2";
  REQUIRE(store.EnqueueBatch("b", jobs).ok());
  WorkerOptions o = Options("w1");
  o.max_jobs_per_claim = 4;
  Worker worker(store, nullptr, sim, clock, o);
  CHECK(*worker.RunOnce() == 4);
  CHECK(sim.many_batch_sizes() == std::vector<size_t>{3});  // model-2's single job goes alone
  CHECK(sim.calls().size() == 4);
  CHECK(store.CountJobs({})->completed == 4);
}

TEST_CASE("worker: heartbeats keep the lease of a long simulation") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 1)).ok());
  WorkerOptions o = Options("w1");
  o.lease = std::chrono::seconds(60);
  o.heartbeat_interval = std::chrono::seconds(15);
  int reaped = 0;
  sim.SetScript([&](const SimulationParams&) -> Result<SimulationResult> {
    // Four times the heartbeat interval passes: 80 s, longer than the lease.
    for (int i = 1; i <= 4; ++i) {
      int before = store.faults().CallCount("HeartbeatJob");
      clock.Advance(std::chrono::seconds(20));
      if (!Eventually([&] { return store.faults().CallCount("HeartbeatJob") > before; })) {
        return InternalError("no heartbeat");
      }
      reaped += *store.ReapExpiredJobs();
    }
    return FakeSimulator::PassingResult(3.3);
  });
  Worker worker(store, nullptr, sim, clock, o);
  CHECK(*worker.RunOnce() == 1);
  CHECK(reaped == 0);
  Job job = *store.GetJob("b-0");
  CHECK(job.status == JobStatus::kCompleted);
  CHECK(*job.result->sqn == 3.3);
  CHECK(job.attempts == 1);
}

TEST_CASE("worker: a result for a job it no longer holds is discarded") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 1)).ok());
  sim.SetScript([&](const SimulationParams&) -> Result<SimulationResult> {
    // Meanwhile the job is taken away (as the reaper would) and claimed by w2.
    REQUIRE(store.ReleaseJob("b-0", {"w1", store.GetJob("b-0")->claim_token}).ok());
    REQUIRE(store.ClaimJobs("w2", 1, std::chrono::minutes(1))->size() == 1);
    return FakeSimulator::PassingResult(4.0);
  });
  Worker worker(store, nullptr, sim, clock, Options("w1"));
  SetLogSink([](LogLevel, const std::string&) {});
  CHECK(*worker.RunOnce() == 1);
  SetLogSink(nullptr);
  CHECK(worker.stats().lost == 1);
  CHECK(worker.stats().completed == 0);
  Job job = *store.GetJob("b-0");
  CHECK(job.status == JobStatus::kRunning);
  CHECK(job.worker_id == "w2");
  CHECK_FALSE(job.result.has_value());
}

TEST_CASE("worker: transient simulation errors are retried up to max_attempts") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  sim.faults().FailNext("Simulate", UnavailableError("simulator restarting"), 0, 3);
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 1, 3)).ok());
  Worker worker(store, nullptr, sim, clock, Options("w1"));
  SetLogSink([](LogLevel, const std::string&) {});
  for (int i = 0; i < 3; ++i) CHECK(*worker.RunOnce() == 1);
  SetLogSink(nullptr);
  CHECK(*worker.RunOnce() == 0);
  Job job = *store.GetJob("b-0");
  CHECK(job.status == JobStatus::kFailed);
  CHECK(job.attempts == 3);
  CHECK(job.error == "UNAVAILABLE: simulator restarting");
  CHECK(worker.stats().retried == 2);
  CHECK(worker.stats().failed == 1);
}

TEST_CASE("worker: a permanent simulation error fails the job at once, error kept") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  sim.faults().FailNext("Simulate", InternalError("model file corrupt"));
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 2)).ok());
  WorkerOptions o = Options("w1");
  o.exit_when_idle = true;
  Worker worker(store, &store, sim, *RealClock(), o);
  SetLogSink([](LogLevel, const std::string&) {});
  REQUIRE(worker.Run().ok());
  SetLogSink(nullptr);
  Job failed = *store.GetJob("b-0");
  CHECK(failed.status == JobStatus::kFailed);
  CHECK(failed.error == "INTERNAL: model file corrupt");
  CHECK(failed.attempts == 1);
  CHECK(store.GetJob("b-1")->status == JobStatus::kCompleted);
  auto workers = *store.ListWorkers();
  REQUIRE(workers.size() == 1);
  CHECK(workers[0].id == "w1");
  CHECK(workers[0].host == "testhost");
  CHECK(workers[0].status == "STOPPED");
  CHECK(workers[0].jobs_completed == 1);
  CHECK(workers[0].jobs_failed == 1);
}

TEST_CASE("worker: a stop request finishes the job in flight and releases the rest") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 3, 3, /*distinct_models=*/true)).ok());
  WorkerOptions o = Options("w1");
  o.max_jobs_per_claim = 3;
  Worker worker(store, nullptr, sim, clock, o);
  sim.SetScript([&](const SimulationParams&) -> Result<SimulationResult> {
    worker.RequestStop();
    return FakeSimulator::PassingResult(3.1);
  });
  CHECK(*worker.RunOnce() == 3);
  CHECK(sim.calls().size() == 1);
  CHECK(store.GetJob("b-0")->status == JobStatus::kCompleted);
  for (const char* id : {"b-1", "b-2"}) {
    Job j = *store.GetJob(id);
    CHECK(j.status == JobStatus::kPending);
    CHECK(j.attempts == 0);  // a released claim is not an attempt
    CHECK(j.worker_id.empty());
  }
  CHECK(worker.stats().released == 2);
  CHECK(worker.Run().ok());  // a stopped worker's Run returns at once
  CHECK(sim.calls().size() == 1);
}

TEST_CASE("worker: SIGTERM stops the worker gracefully") {
  testing::FakeStore store(*RealClock());
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 3, 3, /*distinct_models=*/true)).ok());
  WorkerOptions o = Options("w1");
  o.max_jobs_per_claim = 2;
  Worker worker(store, &store, sim, *RealClock(), o);
  REQUIRE(HandleStopSignals([&worker](int) { worker.RequestStop(); }).ok());
  CHECK(HandleStopSignals([](int) {}).code() == StatusCode::kFailedPrecondition);
  sim.SetScript([&](const SimulationParams&) -> Result<SimulationResult> {
    REQUIRE(kill(getpid(), SIGTERM) == 0);
    REQUIRE(Eventually([&] { return worker.stop_requested(); }));
    return FakeSimulator::PassingResult(3.1);
  });
  Status status;
  std::thread t([&] { status = worker.Run(); });
  t.join();
  CHECK(status.ok());
  JobCounts counts = *store.CountJobs({});
  CHECK(counts.completed == 1);
  CHECK(counts.pending == 2);  // one released from the claim, one never claimed
  CHECK(store.ListWorkers()->at(0).status == "STOPPED");
}

TEST_CASE("worker: queue outages are waited out, not fatal") {
  testing::FakeStore store(*RealClock());
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 2)).ok());
  store.faults().FailNext("ClaimJobs", UnavailableError("connection refused"), 0, 4);
  WorkerOptions o = Options("w1");
  o.exit_when_idle = true;
  Worker worker(store, &store, sim, *RealClock(), o);
  SetLogSink([](LogLevel, const std::string&) {});
  Status status = worker.Run();
  SetLogSink(nullptr);
  CHECK(status.ok());
  CHECK(store.CountJobs({})->completed == 2);
  CHECK(store.faults().CallCount("ClaimJobs") == 4 + 2 + 1);  // failures, two claims, the idle one
}

TEST_CASE("worker: max_jobs bounds the work of Run") {
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  REQUIRE(store.EnqueueBatch("b", MakeJobs("b", 5)).ok());
  WorkerOptions o = Options("w1");
  o.max_jobs = 2;
  o.max_jobs_per_claim = 4;
  Worker worker(store, nullptr, sim, clock, o);
  REQUIRE(worker.Run().ok());
  JobCounts counts = *store.CountJobs({});
  CHECK(counts.completed == 2);
  CHECK(counts.pending == 3);
}

TEST_CASE("worker: options are validated, naming the option") {
  WorkerOptions o = Options("");
  CHECK(Worker::ValidateOptions(o).message() == "worker_id: must not be empty");
  o = Options("w");
  o.heartbeat_interval = o.lease;
  CHECK(Worker::ValidateOptions(o).message().find("heartbeat_interval") == 0);
  o = Options("w");
  o.max_jobs_per_claim = 0;
  CHECK(Worker::ValidateOptions(o).code() == StatusCode::kInvalidArgument);
  ManualClock clock;
  testing::FakeStore store(clock);
  FakeSimulator sim;
  Worker worker(store, nullptr, sim, clock, o);
  CHECK(worker.Run().code() == StatusCode::kInvalidArgument);
  CHECK(worker.RunOnce().status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace evolve
