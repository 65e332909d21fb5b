// What `evolve serve` adds to the worker protocol (services/orchestrator/
// api_jobs.cc): its counters of the jobs claimed, completed, failed and
// lost over HTTP, and GET /jobs/pending, the dashboard's page of the queue;
// over a real SQLite store file, on loopback.
#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "api.h"
#include "evolve/clock.h"
#include "evolve/evolution.h"
#include "evolve/http/orchestrator_client.h"
#include "evolve/scheduler.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/testing/fake_engines.h"
#include "service_test_support.h"
#include "store_contract.h"

namespace evolve::testing {
namespace {

using namespace store_contract;  // NOLINT: MakeJob, Enqueue, MakeResult, ...
using services::ScratchDir;
using services::ServedOnLoopback;

constexpr std::chrono::seconds kLease{30};

// `evolve serve`'s job routes over a SQLite file whose time is a
// ManualClock, with `n` jobs of run `run_id` queued: "<prefix>0" to
// "<prefix>N-1", priorities n down to 1 (so claim order is id order).
class ServedJobs {
 public:
  ServedJobs(const std::string& prefix, const std::string& run_id, int n) {
    sqlite::SqliteOptions options;
    options.clock = &clock_;
    auto opened = sqlite::OpenSqliteStore(dir_ / "evolve.db", options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    store_ = std::move(*opened);
    engine_ = std::make_unique<EvolutionEngine>(EngineDeps{features_, trainer_, *store_});
    scheduler_ = std::make_unique<RunScheduler>(*engine_, *store_);
    ctx_.reset(new cli::ApiContext{*store_, *engine_, *scheduler_, features_, metrics_,
                                   /*default_max_generations=*/4, "sqlite", "builtin",
                                   /*prepare_config=*/nullptr, /*process_metrics=*/nullptr});
    cli::RegisterJobRoutes(server_, *ctx_);
    serving_ = std::make_unique<ServedOnLoopback>(server_);
    std::vector<Job> jobs;
    for (int i = 0; i < n; ++i)
      jobs.push_back(MakeJob(prefix + std::to_string(i), prefix + "batch", run_id, n - i));
    Enqueue(*store_, run_id, prefix + "batch", jobs);
  }

  service::Metrics& metrics() { return metrics_; }

  std::unique_ptr<http::OrchestratorClient> Client() const {
    http::OrchestratorClientOptions options;
    options.url = "http://127.0.0.1:" + std::to_string(serving_->port());
    auto client = http::OrchestratorClient::Create(options);
    REQUIRE_MESSAGE(client.ok(), client.status().ToString());
    return std::move(*client);
  }

  httplib::Result Get(const std::string& path) const {
    httplib::Client raw("127.0.0.1", serving_->port());
    return raw.Get(path.c_str());
  }

 private:
  ScratchDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  FakeFeatureSource features_;
  FakeTrainer trainer_;
  std::unique_ptr<EvolutionEngine> engine_;
  std::unique_ptr<RunScheduler> scheduler_;
  service::Metrics metrics_;
  std::unique_ptr<cli::ApiContext> ctx_;
  http::HttpServer server_;
  std::unique_ptr<ServedOnLoopback> serving_;  // last: stops before the rest goes
};

JobOutcome Completed(const std::string& job_id, double sqn) {
  JobOutcome o;
  o.job_id = job_id;
  o.result = MakeResult(sqn);
  return o;
}

JobOutcome Failed(const std::string& job_id, const std::string& error) {
  JobOutcome o;
  o.job_id = job_id;
  o.error = error;
  return o;
}

TEST_CASE("orchestrator jobs: the jobs claimed, completed, failed and lost over HTTP are counted") {
  ServedJobs s("c-", "run-c", 4);
  auto client = s.Client();
  auto claimed = client->ClaimJobs("w1", 3, kLease);
  REQUIRE(claimed->size() == 3);
  // The server made the claim's token and gave it to this claimer only.
  const ClaimHolder w1{"w1", claimed->front().claim_token};
  REQUIRE_FALSE(w1.claim_token.empty());
  CHECK(client->ClaimJobs("w2", 1, kLease)->size() == 1);
  CHECK(client->ClaimJobs("w3", 1, kLease)->empty());  // nothing left: nothing counted
  CHECK(s.metrics().Get(cli::kJobsClaimedOverHttp) == 4);

  REQUIRE(client->CompleteJob("c-0", w1, MakeResult(2.0)).ok());
  REQUIRE(client->FailJob("c-1", w1, "away", /*retryable=*/true).ok());
  CHECK(client->CompleteJob("c-0", w1, MakeResult(3.0)).code() == StatusCode::kAborted);  // lost
  // c-3 is w2's (lost); c-nope is unknown (neither written nor lost).
  auto with_token = [&w1](JobOutcome o) {
    o.claim_token = w1.claim_token;
    return o;
  };
  auto finished =
      client->FinishJobs("w1", {with_token(Completed("c-2", 1.0)), with_token(Completed("c-3", 1.0)),
                                with_token(Failed("c-nope", "x"))});
  REQUIRE(finished.ok());
  CHECK((*finished)[0].ok());
  CHECK((*finished)[1].code() == StatusCode::kAborted);
  CHECK((*finished)[2].code() == StatusCode::kNotFound);
  CHECK(s.metrics().Get(cli::kJobsCompletedOverHttp) == 2);
  CHECK(s.metrics().Get(cli::kJobsFailedOverHttp) == 1);
  CHECK(s.metrics().Get(cli::kJobsLostOverHttp) == 2);
}

TEST_CASE("orchestrator jobs: GET /jobs/pending, in claim order, paged, with the total") {
  ServedJobs s("f-", "run-f", 5);
  auto client = s.Client();
  auto claimed = client->ClaimJobs("w", 3, kLease);
  REQUIRE(claimed->size() == 3);
  REQUIRE(client->ReleaseJob("f-2", ClaimHolder{"w", claimed->front().claim_token}).ok());

  auto pending = s.Get("/jobs/pending?run_id=run-f&limit=1");
  REQUIRE(pending);
  CHECK(pending->status == 200);
  CHECK(services::Contains(pending->body, R"("id":"f-2")"));
  CHECK_FALSE(services::Contains(pending->body, R"("id":"f-4")"));
  CHECK(services::Contains(pending->body, R"("count":1,"total":3)"));
  auto page2 = s.Get("/jobs/pending?run_id=run-f&limit=1&offset=1");
  REQUIRE(page2);
  CHECK(services::Contains(page2->body, R"("id":"f-3")"));
  auto other_run = s.Get("/jobs/pending?run_id=run-other");
  REQUIRE(other_run);
  CHECK(other_run->body == R"({"jobs":[],"count":0,"total":0})");
  auto bad = s.Get("/jobs/pending?limit=0");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(services::ErrorCode(bad->body) == "invalid_argument");
  CHECK(s.Get("/jobs/pending?offset=-1")->status == 400);
}

}  // namespace
}  // namespace evolve::testing
