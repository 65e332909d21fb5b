// FakeStore: the Store contract suite (on a manual clock, and once on real
// time to prove the suite works for real-time backends), plus what only the
// fake has: injected failures, call recording, and its listener guarantees.
#include "evolve/testing/fake_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "evolve/clock.h"
#include "evolve/status.h"
#include "evolve/store.h"
#include "store_contract.h"

namespace evolve::testing {
namespace {

using store_contract::Enqueue;
using store_contract::kLongLease;
using store_contract::MakeJob;
using store_contract::MakeRun;
using store_contract::MustGetJob;
using store_contract::MustGetRun;

std::unique_ptr<StoreHarness> MakeManualFakeHarness() {
  return std::make_unique<ManualClockHarness>(
      [](Clock& clock) -> std::unique_ptr<Store> { return std::make_unique<FakeStore>(clock); });
}

// The fake on the real clock: the same cases with sleeping instead of
// advancing a manual clock, as a PostgreSQL store will run them.
std::unique_ptr<StoreHarness> MakeRealTimeFakeHarness() {
  return std::make_unique<RealTimeHarness>(std::make_unique<FakeStore>(*RealClock()));
}

}  // namespace

EVOLVE_STORE_CONTRACT_TESTS("fake", MakeManualFakeHarness())
EVOLVE_STORE_CONTRACT_TESTS("fake (real time)", MakeRealTimeFakeHarness())

namespace {

// A FakeStore on a ManualClock, for the fake-only cases.
struct Fixture {
  ManualClock clock;
  FakeStore store{clock};
};

std::vector<QueueEvent::Kind> Kinds(const std::vector<QueueEvent>& events) {
  std::vector<QueueEvent::Kind> kinds;
  for (const QueueEvent& e : events) kinds.push_back(e.kind);
  return kinds;
}

TEST_CASE("fake store: an injected failure changes nothing") {
  Fixture f;
  REQUIRE(f.store.CreateRun(MakeRun("run-1", RunStatus::kRunning)).ok());
  const Run before = MustGetRun(f.store, "run-1");

  f.clock.Advance(std::chrono::seconds(1));
  f.store.faults().FailNext("UpdateRun", UnavailableError("x"));
  Run changed = before;
  changed.current_generation = 5;
  const Status failed = f.store.UpdateRun(changed, RunStatus::kRunning);
  CHECK(failed == UnavailableError("x"));  // returned unchanged
  CHECK(MustGetRun(f.store, "run-1") == before);
  // Only the next call was scripted to fail.
  CHECK(f.store.UpdateRun(changed, RunStatus::kRunning).ok());
  CHECK(MustGetRun(f.store, "run-1").current_generation == 5);

  // The same for the queue: a failed enqueue, claim, completion or cancel
  // leaves every job as it was.
  f.store.faults().FailNext("EnqueueBatch", UnavailableError("enqueue"));
  CHECK(f.store.EnqueueBatch("batch-1", {MakeJob("j-1", "batch-1", "run-1", 1)}).status() ==
        UnavailableError("enqueue"));
  CHECK(f.store.GetJob("j-1").status().code() == StatusCode::kNotFound);
  Enqueue(f.store, "run-1", "batch-1",
          {MakeJob("j-1", "batch-1", "run-1", 2), MakeJob("j-2", "batch-1", "run-1", 1)});

  f.store.faults().FailNext("ClaimJobs", UnavailableError("claim"));
  CHECK(f.store.ClaimJobs("worker-1", 2, kLongLease).status().code() == StatusCode::kUnavailable);
  CHECK(MustGetJob(f.store, "j-1").status == JobStatus::kPending);
  CHECK(MustGetJob(f.store, "j-1").attempts == 0);

  Result<std::vector<Job>> claimed = f.store.ClaimJobs("worker-1", 1, kLongLease);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  const Job running = MustGetJob(f.store, "j-1");
  f.store.faults().FailNext("CompleteJob", UnavailableError("complete"));
  CHECK_FALSE(f.store.CompleteJob("j-1", "worker-1", store_contract::MakeResult(1.0)).ok());
  CHECK(MustGetJob(f.store, "j-1") == running);

  f.store.faults().FailNext("TransitionRun", UnavailableError("cancel"));
  CHECK_FALSE(
      f.store.TransitionRun("run-1", {RunStatus::kRunning}, RunStatus::kCancelled, kStopCancelled, "").ok());
  CHECK(MustGetRun(f.store, "run-1").status == RunStatus::kRunning);
  CHECK(MustGetJob(f.store, "j-2").status == JobStatus::kPending);

  f.clock.Advance(2 * kLongLease);
  f.store.faults().FailNext("ReapExpiredJobs", UnavailableError("reap"));
  CHECK_FALSE(f.store.ReapExpiredJobs().ok());
  CHECK(MustGetJob(f.store, "j-1") == running);
}

TEST_CASE("fake store: FailMutationsAfter(n) makes writes fail after n") {
  Fixture f;
  REQUIRE(f.store.CreateRun(MakeRun("run-1")).ok());
  f.store.faults().FailMutationsAfter(2, UnavailableError("crashed"));
  CHECK(f.store.CreateRun(MakeRun("run-2")).ok());
  CHECK(f.store.TransitionRun("run-1", {RunStatus::kPending}, RunStatus::kRunning, "", "").ok());
  // The third write and every one after it fail, and change nothing.
  CHECK(f.store.CreateRun(MakeRun("run-3")) == UnavailableError("crashed"));
  CHECK(f.store.TransitionRun("run-2", {RunStatus::kPending}, RunStatus::kRunning, "", "") ==
        UnavailableError("crashed"));
  CHECK(f.store.RecordFingerprint(FingerprintRecord{"fp", "model", {}, {}}).status() ==
        UnavailableError("crashed"));
  CHECK(f.store.GetRun("run-3").status().code() == StatusCode::kNotFound);
  CHECK(MustGetRun(f.store, "run-2").status == RunStatus::kPending);
  CHECK(f.store.LookupFingerprint("fp").status().code() == StatusCode::kNotFound);
  // Reads still work: the "crash" is of the writer.
  Result<std::vector<Run>> runs = f.store.ListRuns(RunFilter{});
  REQUIRE(runs.ok());
  CHECK(runs->size() == 2);
  CHECK(MustGetRun(f.store, "run-1").status == RunStatus::kRunning);

  f.store.faults().ClearFailures();
  CHECK(f.store.CreateRun(MakeRun("run-3")).ok());
}

TEST_CASE("fake store: every call is recorded") {
  Fixture f;
  REQUIRE(f.store.CreateRun(MakeRun("run-1")).ok());
  CHECK(f.store.GetRun("run-1").ok());
  CHECK_FALSE(f.store.GetRun("run-2").ok());
  CHECK(f.store.ListLineage("run-1").ok());
  const std::vector<std::string> expected = {"CreateRun", "GetRun", "GetRun", "ListLineage"};
  CHECK(f.store.faults().calls() == expected);
  CHECK(f.store.faults().CallCount("GetRun") == 2);
  CHECK(f.store.faults().mutation_count() == 1);
}

TEST_CASE("fake store: malformed input is rejected before anything is written") {
  Fixture f;
  CHECK(f.store.CreateRun(MakeRun("")).code() == StatusCode::kInvalidArgument);
  REQUIRE(f.store.CreateRun(MakeRun("run-1", RunStatus::kRunning)).ok());

  CHECK(f.store.EnqueueBatch("", {}).status().code() == StatusCode::kInvalidArgument);
  Job no_id = MakeJob("", "batch-1", "run-1", 1);
  CHECK(f.store.EnqueueBatch("batch-1", {MakeJob("j-1", "batch-1", "run-1", 1), no_id}).status().code() ==
        StatusCode::kInvalidArgument);
  Job nan_priority = MakeJob("j-2", "batch-1", "run-1", std::nan(""));
  CHECK(f.store.EnqueueBatch("batch-1", {nan_priority}).status().code() == StatusCode::kInvalidArgument);
  Job infinite = MakeJob("j-2", "batch-1", "run-1", std::numeric_limits<double>::infinity());
  CHECK(f.store.EnqueueBatch("batch-1", {infinite}).status().code() == StatusCode::kInvalidArgument);
  Job no_attempts = MakeJob("j-2", "batch-1", "run-1", 1, /*max_attempts=*/0);
  CHECK(f.store.EnqueueBatch("batch-1", {no_attempts}).status().code() == StatusCode::kInvalidArgument);
  CHECK(f.store.GetJob("j-1").status().code() == StatusCode::kNotFound);

  Result<int> empty = f.store.EnqueueBatch("batch-empty", {});
  REQUIRE(empty.ok());
  CHECK(*empty == 0);

  CHECK(f.store.RecordFingerprint(FingerprintRecord{}).status().code() == StatusCode::kInvalidArgument);
  CHECK(f.store.AddLineageEdge(LineageEdge{}).code() == StatusCode::kInvalidArgument);
  CHECK(f.store.SavePromotion(Promotion{}).code() == StatusCode::kInvalidArgument);
  CHECK(f.store.RegisterWorker(WorkerInfo{}).code() == StatusCode::kInvalidArgument);
  CHECK(f.store.ListPromotions(-1, 0).status().code() == StatusCode::kInvalidArgument);
  RunFilter bad_page;
  bad_page.offset = -1;
  CHECK(f.store.ListRuns(bad_page).status().code() == StatusCode::kInvalidArgument);
  CHECK(f.store.HeartbeatJob("j-1", "worker-1", Duration::zero()).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("fake store: a lineage cycle is reported, not followed") {
  Fixture f;
  REQUIRE(f.store.CreateRun(MakeRun("run-1")).ok());
  REQUIRE(f.store.AddLineageEdge(store_contract::MakeEdge("edge-1", "run-1", "model-a", "model-b", 1)).ok());
  REQUIRE(f.store.AddLineageEdge(store_contract::MakeEdge("edge-2", "run-1", "model-b", "model-a", 2)).ok());
  Result<std::vector<LineageEdge>> ancestry = f.store.Ancestry("model-b");
  CHECK(ancestry.status().code() == StatusCode::kInternal);
}

TEST_CASE("fake store: promotions with equal SQN list the earliest first") {
  Fixture f;
  REQUIRE(f.store.SavePromotion(store_contract::MakePromotion("promo-b", 3.0)).ok());
  f.clock.Advance(std::chrono::seconds(1));
  REQUIRE(f.store.SavePromotion(store_contract::MakePromotion("promo-a", 3.0)).ok());
  Result<std::vector<Promotion>> list = f.store.ListPromotions(0, 0);  // 0: no limit
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].id == "promo-b");
  CHECK((*list)[1].id == "promo-a");
}

TEST_CASE("fake store: queue events, one per batch and change") {
  Fixture f;
  std::vector<QueueEvent> events;  // the fake calls listeners synchronously
  const int64_t handle = f.store.Subscribe([&events](const QueueEvent& e) { events.push_back(e); });

  Enqueue(f.store, "run-1", "batch-1",
          {MakeJob("j-1", "batch-1", "run-1", 3, 1), MakeJob("j-2", "batch-1", "run-1", 2),
           MakeJob("j-3", "batch-1", "run-1", 1)});
  REQUIRE(events.size() == 1);  // one wake-up for the whole batch
  CHECK(events[0].kind == QueueEvent::Kind::kJobsAvailable);
  CHECK(events[0].run_id == "run-1");
  CHECK(events[0].batch_id == "batch-1");

  events.clear();
  Result<std::vector<Job>> claimed = f.store.ClaimJobs("worker-1", 3, std::chrono::seconds(10));
  REQUIRE(claimed.ok());
  CHECK(events.empty());  // a claim is nothing to wake anybody for

  // Released and retried jobs are work again; reaped jobs, too, unless they
  // failed for good.
  REQUIRE(f.store.ReleaseJob("j-3", "worker-1").ok());
  REQUIRE(f.store.FailJob("j-2", "worker-1", "flaky", true).ok());
  CHECK(Kinds(events) ==
        std::vector<QueueEvent::Kind>{QueueEvent::Kind::kJobsAvailable, QueueEvent::Kind::kJobsAvailable});
  events.clear();
  f.clock.Advance(std::chrono::seconds(11));
  Result<int> reaped = f.store.ReapExpiredJobs();
  REQUIRE(reaped.ok());
  CHECK(*reaped == 1);  // j-1: a holder death, not a failure: work again
  CHECK(MustGetJob(f.store, "j-1").status == JobStatus::kPending);
  CHECK(Kinds(events) == std::vector<QueueEvent::Kind>{QueueEvent::Kind::kJobsAvailable});

  // Cancelling the run finishes its pending jobs: the batch's waiter wakes.
  events.clear();
  REQUIRE(
      f.store.TransitionRun("run-1", {RunStatus::kRunning}, RunStatus::kCancelled, kStopCancelled, "").ok());
  CHECK(Kinds(events) == std::vector<QueueEvent::Kind>{QueueEvent::Kind::kJobFinished});
  f.store.Unsubscribe(handle);
}

TEST_CASE("fake store: a listener may call back into the store and unsubscribe itself") {
  Fixture f;
  std::vector<std::string> claimed_ids;
  int64_t handle = 0;
  int calls = 0;
  // Claiming from inside the listener would deadlock if listeners were
  // called with the store's mutex held.
  handle = f.store.Subscribe([&](const QueueEvent& e) {
    ++calls;
    if (e.kind != QueueEvent::Kind::kJobsAvailable) return;
    Result<std::vector<Job>> claimed = f.store.ClaimJobs("worker-1", 10, kLongLease);
    if (claimed.ok()) {
      for (const Job& job : *claimed) claimed_ids.push_back(job.id);
    }
    f.store.Unsubscribe(handle);
  });
  Enqueue(f.store, "run-1", "batch-1", {MakeJob("j-1", "batch-1", "run-1", 1)});
  CHECK(claimed_ids == std::vector<std::string>{"j-1"});
  Enqueue(f.store, "run-1", "batch-2", {MakeJob("j-2", "batch-2", "run-1", 1)});
  CHECK(calls == 1);  // unsubscribed
  CHECK(MustGetJob(f.store, "j-2").status == JobStatus::kPending);
}

TEST_CASE("fake store: Unsubscribe waits for a call in flight on another thread") {
  Fixture f;
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  std::atomic<bool> exited{false};
  const int64_t handle = f.store.Subscribe([&](const QueueEvent&) {
    entered = true;
    while (!release) std::this_thread::yield();
    exited = true;
  });
  REQUIRE(f.store.CreateRun(MakeRun("run-1", RunStatus::kRunning)).ok());
  std::thread enqueuer(
      [&f] { (void)f.store.EnqueueBatch("batch-1", {MakeJob("j-1", "batch-1", "run-1", 1)}); });
  while (!entered) std::this_thread::yield();

  std::atomic<bool> exited_when_unsubscribed{false};
  std::thread unsubscriber([&] {
    f.store.Unsubscribe(handle);
    exited_when_unsubscribed = exited.load();
  });
  // Give a wrong Unsubscribe the chance to return early; a right one cannot
  // return before the release, whatever the scheduling.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release = true;
  unsubscriber.join();
  enqueuer.join();
  CHECK(exited_when_unsubscribed);
}

TEST_CASE("fake store: claims skip finished jobs at any scale") {
  // Thousands of finished jobs of the highest priority ahead of one pending
  // job: each claim still takes exactly the pending work.
  Fixture f;
  std::vector<Job> done;
  for (int i = 0; i < 5000; ++i) {
    done.push_back(MakeJob("d-" + std::to_string(i), "batch-done", "run-1", 100, 1));
  }
  Enqueue(f.store, "run-1", "batch-done", done);
  Result<std::vector<Job>> all = f.store.ClaimJobs("worker-1", 5000, kLongLease);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5000);
  for (const Job& job : *all) {
    REQUIRE(f.store.CompleteJob(job.id, "worker-1", store_contract::MakeResult(1.0)).ok());
  }
  Enqueue(f.store, "run-1", "batch-todo", {MakeJob("t-1", "batch-todo", "run-1", 0)});
  Result<std::vector<Job>> claimed = f.store.ClaimJobs("worker-2", 10, kLongLease);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  CHECK(claimed->front().id == "t-1");
}

TEST_CASE("JobQueue::FinishJobs by default reports each outcome through CompleteJob and FailJob") {
  Fixture f;
  Enqueue(f.store, "run-1", "batch-1",
          {MakeJob("a", "batch-1", "run-1", 3), MakeJob("b", "batch-1", "run-1", 2),
           MakeJob("c", "batch-1", "run-1", 1)});
  REQUIRE(f.store.ClaimJobs("worker-1", 2, kLongLease)->size() == 2);
  std::vector<JobOutcome> outcomes(3);
  outcomes[0].job_id = "a";
  outcomes[0].result = store_contract::MakeResult(2.0);
  outcomes[1].job_id = "b";
  outcomes[1].error = "bad parameters";
  outcomes[2].job_id = "c";  // never claimed
  outcomes[2].result = store_contract::MakeResult(2.0);
  // The qualified call runs the base class's default, not the fake's override.
  Result<std::vector<Status>> statuses = f.store.JobQueue::FinishJobs("worker-1", outcomes);
  REQUIRE(statuses.ok());
  REQUIRE(statuses->size() == 3);
  CHECK((*statuses)[0].ok());
  CHECK((*statuses)[1].ok());
  CHECK((*statuses)[2].code() == StatusCode::kAborted);
  CHECK(f.store.faults().CallCount("CompleteJob") == 2);
  CHECK(f.store.faults().CallCount("FailJob") == 1);
  CHECK(MustGetJob(f.store, "a").status == JobStatus::kCompleted);
  CHECK(MustGetJob(f.store, "b").status == JobStatus::kFailed);
  CHECK(MustGetJob(f.store, "c").status == JobStatus::kPending);

  // With the store away, nothing is written and the call itself fails.
  Enqueue(f.store, "run-1", "batch-2", {MakeJob("d", "batch-2", "run-1", 10)});
  REQUIRE(f.store.ClaimJobs("worker-1", 1, kLongLease)->size() == 1);
  f.store.faults().FailNext("CompleteJob", UnavailableError("connection refused"));
  outcomes.resize(1);
  outcomes[0].job_id = "d";
  Result<std::vector<Status>> away = f.store.JobQueue::FinishJobs("worker-1", outcomes);
  CHECK(away.status().code() == StatusCode::kUnavailable);
  CHECK(MustGetJob(f.store, "d").status == JobStatus::kRunning);
}

}  // namespace
}  // namespace evolve::testing
