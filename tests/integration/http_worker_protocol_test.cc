// The worker protocol end to end on loopback: both sides of evolve::http's
// module (evolve/http/worker_protocol.h): OrchestratorClient against
// RegisterWorkerProtocolRoutes on a real HttpServer over a real SQLite store
// file. What a worker sees through the client must be what it would see on
// the database: claim order, leases, fencing, and the Status codes of the
// interfaces (every code round-trips: error_reply.h); what it sends must
// change the store exactly as the store's own calls would, and bad requests
// must change nothing.
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "evolve/clock.h"
#include "evolve/http/error_reply.h"
#include "evolve/http/http_server.h"
#include "evolve/http/orchestrator_client.h"
#include "evolve/http/worker_protocol.h"
#include "evolve/json.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/store_backend.h"
#include "evolve/testing/fake_engines.h"
#include "evolve/testing/fake_store.h"
#include "evolve/worker.h"
#include "net_test_support.h"
#include "services/service_test_support.h"
#include "store_contract.h"

namespace evolve::testing {
namespace {

using namespace store_contract;  // NOLINT: MakeJob, Enqueue, MustGetJob, ...
using http::OrchestratorClient;
using http::OrchestratorClientOptions;
using services::ScratchDir;
using services::ServedOnLoopback;

// What the server's hooks were told (WorkerProtocolHooks), as `evolve
// serve` counts it in its metrics.
struct Told {
  std::atomic<int64_t> claimed{0};    // jobs handed out
  std::atomic<int64_t> completed{0};  // outcomes with a result, written
  std::atomic<int64_t> failed{0};     // outcomes with an error, written
  std::atomic<int64_t> lost{0};       // outcomes refused with kAborted

  http::WorkerProtocolHooks Hooks() {
    http::WorkerProtocolHooks hooks;
    hooks.on_claim = [this](const std::string&, size_t jobs) { claimed += static_cast<int64_t>(jobs); };
    hooks.on_outcome = [this](const JobOutcome& outcome, const Status& written) {
      if (written.ok()) {
        ++(outcome.result.has_value() ? completed : failed);
      } else if (written.code() == StatusCode::kAborted) {
        ++lost;
      }
    };
    return hooks;
  }
};

std::unique_ptr<OrchestratorClient> ClientOf(const std::string& url, const std::string& token = "") {
  OrchestratorClientOptions options;
  options.url = url;
  options.token = token;
  auto client = OrchestratorClient::Create(options);
  REQUIRE_MESSAGE(client.ok(), client.status().ToString());
  return std::move(*client);
}

// The worker protocol over a SQLite file whose time is a ManualClock.
class Served {
 public:
  explicit Served(const std::string& token = "", http::WorkerProtocolOptions protocol = {})
      : server_(Options(token)) {
    sqlite::SqliteOptions options;
    options.clock = &clock_;
    auto opened = sqlite::OpenSqliteStore(dir_.path() + "/evolve.db", options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().ToString());
    store_ = std::move(*opened);
    http::RegisterWorkerProtocolRoutes(server_, {*store_, *store_, *store_, clock_}, told_.Hooks(), protocol);
    serving_ = std::make_unique<ServedOnLoopback>(server_);
  }

  Store& store() { return *store_; }
  ManualClock& clock() { return clock_; }
  const Told& told() const { return told_; }
  int port() const { return serving_->port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  std::unique_ptr<OrchestratorClient> Client(const std::string& token = "") const {
    return ClientOf(url(), token);
  }

  // A raw request, for what the client never sends.
  httplib::Result Post(const std::string& path, const std::string& body,
                       const std::string& token = "") const {
    httplib::Client raw("127.0.0.1", port());
    if (!token.empty()) raw.set_bearer_token_auth(token);
    return raw.Post(path.c_str(), body, "application/json");
  }
  httplib::Result Get(const std::string& path, const std::string& token = "") const {
    httplib::Client raw("127.0.0.1", port());
    if (!token.empty()) raw.set_bearer_token_auth(token);
    return raw.Get(path.c_str());
  }

 private:
  static http::ServerOptions Options(const std::string& token) {
    http::ServerOptions options;
    options.token = token;
    return options;
  }

  ScratchDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  Told told_;
  http::HttpServer server_;
  std::unique_ptr<ServedOnLoopback> serving_;  // last: stops before the rest goes
};

// `n` jobs of run `run_id`, batch `batch`, with priorities n, n-1, ..., 1
// (so claim order is id order).
std::vector<Job> Jobs(const std::string& prefix, const std::string& run_id, int n, int max_attempts = 3) {
  std::vector<Job> jobs;
  for (int i = 0; i < n; ++i) {
    jobs.push_back(MakeJob(prefix + std::to_string(i), prefix + "batch", run_id, n - i, max_attempts));
  }
  return jobs;
}

// Whether a 400 reply names `field` among its details.
bool NamesField(const httplib::Result& res, const std::string& field) {
  return res && res->status == 400 && Contains(res->body, "\"field\":" + JsonQuote(field));
}

TEST_CASE("http worker protocol: claim, heartbeat, complete, and a second or foreign completion is refused") {
  Served s;
  Enqueue(s.store(), "run-a", "j-batch", Jobs("j-", "run-a", 3));
  auto client = s.Client();

  auto claimed = client->ClaimJobs("w1", 2, std::chrono::seconds(30));
  REQUIRE_MESSAGE(claimed.ok(), claimed.status().ToString());
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"j-0", "j-1"});  // priority order
  // One secret per claim, on each of its jobs (protocol 2).
  const std::string token = claimed->front().claim_token;
  CHECK(token.size() == 32);
  CHECK(claimed->back().claim_token == token);
  const ClaimHolder w1("w1", token);
  for (const Job& job : *claimed) {
    CHECK(job == MustGetJob(s.store(), job.id));  // the whole job, as the store holds it
    CHECK(job.status == JobStatus::kRunning);
    CHECK(job.worker_id == "w1");
    CHECK(job.attempts == 1);
    CHECK(job.lease_until == s.clock().Now() + std::chrono::seconds(30));
  }
  CHECK(s.told().claimed == 2);
  // The claim registered the worker, holding what it claimed.
  auto workers = client->ListWorkers();
  REQUIRE(workers.ok());
  REQUIRE(workers->size() == 1);
  CHECK(workers->front().id == "w1");
  CHECK(workers->front().current_jobs == std::vector<std::string>{"j-0", "j-1"});

  s.clock().Advance(std::chrono::seconds(10));
  CHECK(client->HeartbeatJob("j-0", w1, std::chrono::seconds(45)).ok());
  CHECK(MustGetJob(s.store(), "j-0").lease_until == s.clock().Now() + std::chrono::seconds(45));
  CHECK(client->HeartbeatJob("j-0", {"w2", token}, std::chrono::seconds(45)).code() == StatusCode::kAborted);
  CHECK(client->HeartbeatJob("j-0", "w1", std::chrono::seconds(45)).code() == StatusCode::kAborted);
  CHECK(client->HeartbeatJob("j-nope", w1, std::chrono::seconds(45)).code() == StatusCode::kNotFound);

  const SimulationResult result = MakeResult(3.5);
  REQUIRE(client->CompleteJob("j-0", w1, result).ok());
  Job done = MustGetJob(s.store(), "j-0");
  CHECK(done.status == JobStatus::kCompleted);
  CHECK(done.result == result);

  Status second = client->CompleteJob("j-0", w1, MakeResult(9.0));
  CHECK(second.code() == StatusCode::kAborted);
  CHECK(Contains(second.message(), "HTTP 409"));
  CHECK(MustGetJob(s.store(), "j-0").result == result);  // nothing written
  CHECK(client->CompleteJob("j-1", {"w2", token}, MakeResult(9.0)).code() == StatusCode::kAborted);
  CHECK(MustGetJob(s.store(), "j-1").status == JobStatus::kRunning);
  CHECK(client->CompleteJob("j-nope", w1, result).code() == StatusCode::kNotFound);

  // A retryable failure puts the job back, with its error kept.
  REQUIRE(client->FailJob("j-1", w1, "simulator away", /*retryable=*/true).ok());
  Job retried = MustGetJob(s.store(), "j-1");
  CHECK(retried.status == JobStatus::kPending);
  CHECK(retried.error == "simulator away");
  // And a failure for good is FAILED.
  auto again = client->ClaimJobs("w1", 1, std::chrono::seconds(30));
  REQUIRE(again.ok());
  REQUIRE(JobIds(*again) == std::vector<std::string>{"j-1"});
  CHECK(again->front().claim_token != token);  // a new claim, a new secret
  REQUIRE(client->FailJob("j-1", {"w1", again->front().claim_token}, "bad model", /*retryable=*/false).ok());
  CHECK(MustGetJob(s.store(), "j-1").status == JobStatus::kFailed);

  CHECK(s.told().completed == 1);
  CHECK(s.told().failed == 2);
  CHECK(s.told().lost == 2);

  // The queue's own answer when there is nothing left for this worker.
  auto last = client->ClaimJobs("w1", 5, std::chrono::seconds(30));
  REQUIRE(last.ok());
  CHECK(JobIds(*last) == std::vector<std::string>{"j-2"});
  auto none = client->ClaimJobs("w1", 5, std::chrono::seconds(30));
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto raw = s.Post("/jobs/claim", R"({"worker_id": "w1"})");
  REQUIRE(raw);
  CHECK(raw->status == 200);
  CHECK(raw->body == R"({"status":"no_jobs","jobs":[]})");
}

TEST_CASE("http worker protocol: a lease lost to the reaper is a 409 and the late result is not written") {
  Served s;
  Enqueue(s.store(), "run-l", "l-batch", Jobs("l-", "run-l", 1));
  auto client = s.Client();
  auto claimed = client->ClaimJobs("slow", 1, std::chrono::seconds(5));
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  s.clock().Advance(std::chrono::seconds(6));
  auto reaped = s.store().ReapExpiredJobs();
  REQUIRE(reaped.ok());
  CHECK(*reaped == 1);

  const ClaimHolder slow("slow", claimed->front().claim_token);
  CHECK(client->HeartbeatJob("l-0", slow, std::chrono::seconds(5)).code() == StatusCode::kAborted);
  CHECK(client->CompleteJob("l-0", slow, MakeResult(4.0)).code() == StatusCode::kAborted);
  auto raw = s.Post("/jobs/l-0/complete", R"({"worker_id": "slow", "success": false, "error": "late"})");
  REQUIRE(raw);
  CHECK(raw->status == 409);
  CHECK(Contains(raw->body, R"("code":"conflict")"));
  Job job = MustGetJob(s.store(), "l-0");
  CHECK(job.status == JobStatus::kPending);
  CHECK_FALSE(job.result.has_value());
  CHECK(job.error != "late");  // the late failure wrote nothing

  // Someone else claims it now; the slow worker's result still goes nowhere.
  auto other = client->ClaimJobs("fast", 1, std::chrono::seconds(5));
  REQUIRE(other.ok());
  REQUIRE(JobIds(*other) == std::vector<std::string>{"l-0"});
  // (How the reaped claim is counted, as an attempt or as a holder death, is
  // the queue's rule: store_contract.h.)
  CHECK(other->front().attempts >= 1);
  CHECK(client->CompleteJob("l-0", slow, MakeResult(4.0)).code() == StatusCode::kAborted);
  CHECK(client->CompleteJob("l-0", {"fast", other->front().claim_token}, MakeResult(2.0)).ok());
  CHECK(MustGetJob(s.store(), "l-0").result == MakeResult(2.0));
}

TEST_CASE("http worker protocol: finish reports a batch in one request, and release gives jobs back") {
  Served s;
  Enqueue(s.store(), "run-f", "f-batch", Jobs("f-", "run-f", 5));
  auto client = s.Client();
  auto claimed = client->ClaimJobs("w", 4, std::chrono::seconds(30));
  REQUIRE(claimed.ok());
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"f-0", "f-1", "f-2", "f-3"});

  const std::string token = claimed->front().claim_token;
  std::vector<JobOutcome> outcomes(4);
  for (JobOutcome& o : outcomes) o.claim_token = token;
  outcomes[0].job_id = "f-0";
  outcomes[0].result = MakeResult(1.25);
  outcomes[1].job_id = "f-1";
  outcomes[1].error = "no trades";
  outcomes[2].job_id = "f-4";  // never claimed by w
  outcomes[2].result = MakeResult(2.0);
  outcomes[3].job_id = "f-missing";
  outcomes[3].result = MakeResult(2.0);
  auto written = client->FinishJobs("w", outcomes);
  REQUIRE_MESSAGE(written.ok(), written.status().ToString());
  REQUIRE(written->size() == 4);
  CHECK((*written)[0].ok());
  CHECK((*written)[1].ok());
  CHECK((*written)[2].code() == StatusCode::kAborted);
  CHECK((*written)[3].code() == StatusCode::kNotFound);
  CHECK(MustGetJob(s.store(), "f-0").result == MakeResult(1.25));
  CHECK(MustGetJob(s.store(), "f-1").status == JobStatus::kFailed);
  CHECK(MustGetJob(s.store(), "f-1").error == "no trades");
  CHECK(MustGetJob(s.store(), "f-4").status == JobStatus::kPending);
  // Finishing f-0 again is refused for that outcome alone.
  auto twice = client->FinishJobs("w", {outcomes[0]});
  REQUIRE(twice.ok());
  CHECK(twice->front().code() == StatusCode::kAborted);

  // Release: PENDING again, the attempt not counted; a second release or a
  // foreign one is refused.
  REQUIRE(client->ReleaseJob("f-2", {"w", token}).ok());
  Job released = MustGetJob(s.store(), "f-2");
  CHECK(released.status == JobStatus::kPending);
  CHECK(released.attempts == 0);
  CHECK(released.claim_token.empty());
  CHECK(client->ReleaseJob("f-2", {"w", token}).code() == StatusCode::kAborted);
  CHECK(client->ReleaseJob("f-3", {"intruder", token}).code() == StatusCode::kAborted);
  CHECK(client->ReleaseJob("f-3", "w").code() == StatusCode::kAborted);
  CHECK(client->ReleaseJob("f-missing", {"w", token}).code() == StatusCode::kNotFound);
  // GET /jobs/pending is `evolve serve`'s own read of the queue
  // (tests/services/orchestrator_jobs_test.cc).
}

TEST_CASE("http worker protocol: the worker registry and artifacts, byte for byte") {
  Served s;
  auto client = s.Client();
  WorkerInfo info;
  info.id = "reg-1";
  info.host = "hostA";
  info.pid = 4242;
  REQUIRE(client->RegisterWorker(info).ok());
  REQUIRE(client->WorkerHeartbeat("reg-1", {"x-1", "x-2"}).ok());
  CHECK(client->WorkerHeartbeat("reg-unknown", {}).code() == StatusCode::kNotFound);
  auto workers = s.Get("/workers");  // public
  REQUIRE(workers);
  CHECK(workers->status == 200);
  CHECK(Contains(workers->body, R"("host":"hostA","pid":4242,"status":"ACTIVE")"));
  CHECK(Contains(workers->body, R"("current_jobs":["x-1","x-2"])"));
  CHECK(Contains(workers->body, R"("live":true)"));
  CHECK(Contains(workers->body, R"("count":1)"));
  // Live means a heartbeat within the last minute of the store's clock.
  s.clock().Advance(std::chrono::seconds(61));
  CHECK(Contains(s.Get("/workers")->body, R"("live":false)"));
  REQUIRE(client->DeregisterWorker("reg-1").ok());
  auto listed = client->ListWorkers();
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().status == "STOPPED");
  CHECK(listed->front().host == "hostA");
  CHECK(client->DeregisterWorker("reg-unknown").code() == StatusCode::kNotFound);

  static const char kBytes[] =
      "\x00\x01"
      "binary\xff"
      " model\n";
  const std::string model(kBytes, sizeof kBytes - 1);  // with its NUL
  REQUIRE(model.size() == 16);
  REQUIRE(s.store().PutArtifact("model/abc", model).ok());
  REQUIRE(s.store().PutArtifact("simdata/a b%2F?c", "odd key").ok());
  auto got = client->GetArtifact("model/abc");
  REQUIRE_MESSAGE(got.ok(), got.status().ToString());
  CHECK(*got == model);
  auto odd = client->GetArtifact("simdata/a b%2F?c");
  REQUIRE_MESSAGE(odd.ok(), odd.status().ToString());
  CHECK(*odd == "odd key");
  CHECK(client->GetArtifact("model/missing").status().code() == StatusCode::kNotFound);
  CHECK(client->GetArtifact("").status().code() == StatusCode::kInvalidArgument);
  CHECK(client->PutArtifact("model/x", "y").code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("http worker protocol: with a token, requests without it or with a wrong one get 401") {
  const std::string token = "s3cret-token";
  Served s(token);
  Enqueue(s.store(), "run-t", "t-batch", Jobs("t-", "run-t", 2));

  for (const std::string& given : {std::string(), std::string("wrong-token")}) {
    CAPTURE(given);
    auto client = s.Client(given);
    auto claimed = client->ClaimJobs("w", 1, std::chrono::seconds(30));
    REQUIRE_FALSE(claimed.ok());
    CHECK(claimed.status().code() == StatusCode::kFailedPrecondition);
    CHECK(Contains(claimed.status().message(), "the orchestrator refused the API token"));
    CHECK(client->RegisterWorker(WorkerInfo{}).code() == StatusCode::kFailedPrecondition);
    CHECK(client->GetArtifact("model/x").status().code() == StatusCode::kFailedPrecondition);
    auto raw = s.Post("/jobs/claim", R"({"worker_id": "w"})", given);
    REQUIRE(raw);
    CHECK(raw->status == 401);
  }
  CHECK(MustGetJob(s.store(), "t-0").status == JobStatus::kPending);  // nothing claimed
  CHECK(s.Get("/workers")->status == 200);                            // the dashboard's read is public

  auto client = s.Client(token);
  auto claimed = client->ClaimJobs("w", 1, std::chrono::seconds(30));
  REQUIRE_MESSAGE(claimed.ok(), claimed.status().ToString());
  CHECK(JobIds(*claimed) == std::vector<std::string>{"t-0"});
  CHECK(client->CompleteJob("t-0", {"w", claimed->front().claim_token}, MakeResult(1.0)).ok());
}

TEST_CASE("http worker protocol: bad bodies are 400 naming the field, and change nothing") {
  Served s;
  Enqueue(s.store(), "run-b", "b-batch", Jobs("b-", "run-b", 2));
  auto client = s.Client();
  auto claimed = client->ClaimJobs("w", 1, std::chrono::seconds(30));
  REQUIRE(claimed.ok());
  REQUIRE(JobIds(*claimed) == std::vector<std::string>{"b-0"});
  const Job before_0 = MustGetJob(s.store(), "b-0");
  const Job before_1 = MustGetJob(s.store(), "b-1");

  struct Case {
    std::string path;
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/jobs/claim", R"({"worker_id": "w", "colour": "blue"})", "colour"},
      {"/jobs/claim", R"({"worker_id": 5})", "worker_id"},
      {"/jobs/claim", R"({"worker_id": ""})", "worker_id"},
      {"/jobs/claim", R"({})", "worker_id"},
      {"/jobs/claim", R"({"worker_id": "w", "max_jobs": 0})", "max_jobs"},
      {"/jobs/claim", R"({"worker_id": "w", "max_jobs": 1001})", "max_jobs"},
      {"/jobs/claim", R"({"worker_id": "w", "max_jobs": 1.5})", "max_jobs"},
      {"/jobs/claim", R"({"worker_id": "w", "lease_seconds": 0.5})", "lease_seconds"},
      {"/jobs/claim", R"({"worker_id": "w", "lease_seconds": "60"})", "lease_seconds"},
      {"/jobs/claim", R"({"worker_id": )", ""},
      {"/jobs/claim", R"([1, 2])", ""},
      {"/jobs/b-0/heartbeat", R"({"worker_id": "w", "lease_seconds": 3601})", "lease_seconds"},
      {"/jobs/b-0/complete", R"({"worker_id": "w"})", "success"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": "yes"})", "success"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true})", "result"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true, "result": {"sqn": "high"}})",
       "result.sqn"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true, "result": {"pnl": 1}})", "result.pnl"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true, "result": 7})", "result"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": false})", "error"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": false, "error": "x", "retryable": 1})",
       "retryable"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": false, "error": "x", "result": {}})", "result"},
      {"/jobs/b-0/release", R"({"worker_id": "w", "force": true})", "force"},
      {"/jobs/claim", R"({"worker_id": "w", "protocol": 3})", "protocol"},
      {"/jobs/claim", R"({"worker_id": "w", "protocol": 0})", "protocol"},
      {"/jobs/claim", R"({"worker_id": "w", "wait_seconds": 31})", "wait_seconds"},
      {"/jobs/claim", R"({"worker_id": "w", "wait_seconds": -1})", "wait_seconds"},
      {"/jobs/b-0/heartbeat", R"({"worker_id": "w", "claim_token": 5})", "claim_token"},
      {"/jobs/b-0/release", R"({"worker_id": "w", "claim_token": ["x"]})", "claim_token"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true, "result": {"win_rate": 7}})",
       "result.win_rate"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true, "result": {"trade_count": -5}})",
       "result.trade_count"},
      {"/jobs/b-0/complete", R"({"worker_id": "w", "success": true, "result": {"profit_factor": -3}})",
       "result.profit_factor"},
      {"/jobs/finish",
       R"({"worker_id": "w", "outcomes": [{"job_id": "b-0", "success": true, "result": {"win_rate": 1.5}}]})",
       "outcomes[0].result.win_rate"},
      {"/jobs/finish", R"({"worker_id": "w", "outcomes": []})", "outcomes"},
      {"/jobs/finish", R"({"worker_id": "w", "outcomes": {}})", "outcomes"},
      {"/jobs/finish",
       R"({"worker_id": "w", "outcomes": [{"job_id": "b-0", "success": true, "result": {}}, {"job_id": "b-1"}]})",
       "outcomes[1].success"},
      {"/jobs/finish",
       R"({"worker_id": "w", "outcomes": [{"job_id": "b-0", "success": true, "result": {"trade_count": -0.5}}]})",
       "outcomes[0].result.trade_count"},
      {"/jobs/finish", R"({"worker_id": "w", "outcomes": [3]})", "outcomes[0]"},
      {"/workers/register", R"({"id": "", "host": "h"})", "id"},
      {"/workers/register", R"({"id": "x", "pid": -1})", "pid"},
      {"/workers/w/heartbeat", R"({"current_jobs": ["a", 2]})", "current_jobs[1]"},
      {"/workers/w/deregister", R"({"now": true})", "now"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.path);
    CAPTURE(c.body);
    auto res = s.Post(c.path, c.body);
    REQUIRE(res);
    CAPTURE(res->body);
    CHECK(res->status == 400);
    CHECK(Contains(res->body, R"("code":"invalid_argument")"));
    if (!c.field.empty()) CHECK(NamesField(res, c.field));
  }
  // Every problem of a body at once.
  auto many = s.Post("/jobs/claim", R"({"worker_id": 1, "max_jobs": 0, "extra": null})");
  REQUIRE(many);
  CHECK(NamesField(many, "worker_id"));
  CHECK(NamesField(many, "max_jobs"));
  CHECK(NamesField(many, "extra"));
  // The client maps a 400 to kInvalidArgument.
  CHECK(client->ClaimJobs("w", 0, std::chrono::seconds(30)).status().code() == StatusCode::kInvalidArgument);
  CHECK(client->HeartbeatJob("b-0", "w", std::chrono::milliseconds(100)).code() ==
        StatusCode::kInvalidArgument);

  CHECK(MustGetJob(s.store(), "b-0") == before_0);
  CHECK(MustGetJob(s.store(), "b-1") == before_1);
  CHECK(s.store().ListWorkers()->size() == 1);  // only w, from its claim
}

TEST_CASE("http worker protocol: evolve::Worker drains a queue through the client, each job once") {
  Served s;
  const int n = 40;
  Enqueue(s.store(), "run-w", "w-batch", Jobs("w-", "run-w", n));
  FakeSimulator simulator;
  simulator.SetScript([](const SimulationParams& p) { return MakeResult(p.threshold * 1000); });
  std::vector<std::unique_ptr<OrchestratorClient>> clients;
  std::vector<std::unique_ptr<Worker>> workers;
  for (const char* id : {"drain-1", "drain-2", "drain-3"}) {
    clients.push_back(s.Client());
    WorkerOptions o;
    o.worker_id = id;
    o.host = "test";
    o.max_jobs_per_claim = 4;
    o.exit_when_idle = true;
    o.poll_interval = std::chrono::milliseconds(20);
    workers.push_back(
        std::make_unique<Worker>(*clients.back(), clients.back().get(), simulator, *RealClock(), o));
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(workers.size());
  for (size_t i = 0; i < workers.size(); ++i)
    threads.emplace_back([&, i] { results[i] = workers[i]->Run(); });
  for (std::thread& t : threads) t.join();
  int64_t completed = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    CHECK(results[i].ok());
    CHECK(workers[i]->stats().lost == 0);
    completed += workers[i]->stats().completed;
  }
  CHECK(completed == n);
  JobFilter filter;
  filter.run_id = "run-w";
  auto jobs = s.store().ListJobs(filter);
  REQUIRE(jobs.ok());
  REQUIRE(jobs->size() == static_cast<size_t>(n));
  for (const Job& job : *jobs) {
    CAPTURE(job.id);
    CHECK(job.status == JobStatus::kCompleted);
    CHECK(job.attempts == 1);
    SimulationResult expected = MakeResult(job.params.threshold * 1000);
    expected.span = kSpanAll;  // the fake simulator says which span it scored
    CHECK(job.result == expected);
  }
  int64_t counted = 0;
  for (const WorkerInfo& w : *s.store().ListWorkers()) {
    CHECK(w.status == "STOPPED");  // deregistered at the end of Run
    counted += w.jobs_completed;
  }
  CHECK(counted == n);
  CHECK(s.told().completed == n);
}

TEST_CASE(
    "http worker protocol: the client checks its URL, and an orchestrator that is away is kUnavailable") {
  for (const char* bad :
       {"https://h:8400", "ftp://h", "http://", "http://h:0", "http://h:99999", "http://h:x",
        "http://u:p@h:80", "http://::1:8400", "http://h:80/p?q=1", "h:8400"}) {
    CAPTURE(bad);
    OrchestratorClientOptions options;
    options.url = bad;
    CHECK(OrchestratorClient::Create(options).status().code() == StatusCode::kInvalidArgument);
  }
  OrchestratorClientOptions ok;
  ok.url = "http://[::1]:8400/prefix/";
  auto client = OrchestratorClient::Create(ok);
  REQUIRE(client.ok());
  CHECK((*client)->url() == "http://[::1]:8400/prefix");

  const int port = UnusedPort();
  OrchestratorClientOptions away;
  away.url = "http://127.0.0.1:" + std::to_string(port);
  auto gone = OrchestratorClient::Create(away);
  REQUIRE(gone.ok());
  auto claimed = (*gone)->ClaimJobs("w", 1, std::chrono::seconds(30));
  CHECK(claimed.status().code() == StatusCode::kUnavailable);
  CHECK((*gone)->CompleteJob("j", "w", MakeResult(1.0)).code() == StatusCode::kUnavailable);
  CHECK((*gone)->GetArtifact("model/x").status().code() == StatusCode::kUnavailable);
  // What a worker never calls is not there to call: the client is a
  // WorkerQueue, not a JobQueue.
  static_assert(std::is_base_of_v<WorkerQueue, OrchestratorClient>);
  static_assert(!std::is_base_of_v<JobQueue, OrchestratorClient>);
}

// --------------------------------------------------- claim tokens, versions

// The bodies the evolve-worker of protocol 1 sent, byte for byte (git show
// 2abd6c7:libevolve/adapters/http/src/orchestrator_client.cc): no
// "protocol", no claim token.
std::string V1Claim(const std::string& worker, int max_jobs) {
  return "{\"worker_id\":" + JsonQuote(worker) + ",\"max_jobs\":" + std::to_string(max_jobs) +
         ",\"lease_seconds\":30.000000}";
}
std::string V1Heartbeat(const std::string& worker) {
  return "{\"worker_id\":" + JsonQuote(worker) + ",\"lease_seconds\":30.000000}";
}
std::string V1Complete(const std::string& worker, const SimulationResult& result) {
  return "{\"worker_id\":" + JsonQuote(worker) + ",\"success\":true,\"result\":" + ToJson(result) + "}";
}

TEST_CASE("http worker protocol: a worker of protocol 1 (no claim token) claims, heartbeats and completes") {
  Served s;
  Enqueue(s.store(), "run-v", "v-batch", Jobs("v-", "run-v", 4));
  auto versions = s.Get("/workers/protocol");
  REQUIRE(versions);
  CHECK(versions->status == 200);
  CHECK(Contains(versions->body, R"("versions":[1,2])"));
  CHECK(Contains(versions->body, R"("claim_tokens_required":false)"));

  auto claim = s.Post("/jobs/claim", V1Claim("old", 2));
  REQUIRE(claim);
  REQUIRE_MESSAGE(claim->status == 200, claim->body);
  CHECK(Contains(claim->body, R"("status":"claimed")"));
  CHECK_FALSE(Contains(claim->body, "claim_token"));  // what it would not know what to do with
  CHECK(MustGetJob(s.store(), "v-0").claim_token.empty());

  s.clock().Advance(std::chrono::seconds(5));
  auto beat = s.Post("/jobs/v-0/heartbeat", V1Heartbeat("old"));
  REQUIRE(beat);
  CHECK(beat->status == 200);
  CHECK(MustGetJob(s.store(), "v-0").lease_until == s.clock().Now() + std::chrono::seconds(30));

  auto done = s.Post("/jobs/v-0/complete", V1Complete("old", MakeResult(2.5)));
  REQUIRE(done);
  CHECK(done->status == 200);
  CHECK(MustGetJob(s.store(), "v-0").status == JobStatus::kCompleted);
  CHECK(MustGetJob(s.store(), "v-0").result == MakeResult(2.5));

  auto finish = s.Post("/jobs/finish",
                       "{\"worker_id\":\"old\",\"outcomes\":[{\"job_id\":\"v-1\",\"success\":false,"
                       "\"error\":\"boom\",\"retryable\":false}]}");
  REQUIRE(finish);
  CHECK(finish->status == 200);
  CHECK(Contains(finish->body, R"("status":"ok")"));
  CHECK(MustGetJob(s.store(), "v-1").status == JobStatus::kFailed);

  auto again = s.Post("/jobs/claim", V1Claim("old", 1));
  REQUIRE(again);
  REQUIRE(again->status == 200);
  auto release = s.Post("/jobs/v-2/release", "{\"worker_id\":\"old\"}");
  REQUIRE(release);
  CHECK(release->status == 200);
  CHECK(MustGetJob(s.store(), "v-2").status == JobStatus::kPending);
  // Its claims were fenced by its id all the same.
  auto other = s.Post("/jobs/claim", V1Claim("old", 1));
  REQUIRE(other);
  auto foreign = s.Post("/jobs/v-2/complete", V1Complete("someone-else", MakeResult(1.0)));
  REQUIRE(foreign);
  CHECK(foreign->status == 409);
}

TEST_CASE(
    "http worker protocol: --require-claim-tokens refuses protocol 1 with a 400 naming what is missing") {
  http::WorkerProtocolOptions options;
  options.require_claim_tokens = true;
  Served s("", options);
  Enqueue(s.store(), "run-r", "r-batch", Jobs("r-", "run-r", 2));
  auto versions = s.Get("/workers/protocol");
  REQUIRE(versions);
  CHECK(Contains(versions->body, R"("versions":[2])"));
  CHECK(Contains(versions->body, R"("claim_tokens_required":true)"));

  auto claim = s.Post("/jobs/claim", V1Claim("old", 1));
  REQUIRE(claim);
  CHECK(claim->status == 400);
  CHECK(NamesField(claim, "protocol"));
  CHECK(Contains(claim->body, "--require-claim-tokens"));
  CHECK(MustGetJob(s.store(), "r-0").status == JobStatus::kPending);  // nothing claimed

  // The current client is served; a request of its claim without the token
  // is refused before the store is asked.
  auto client = s.Client();
  auto claimed = client->ClaimJobs("new", 1, std::chrono::seconds(30));
  REQUIRE_MESSAGE(claimed.ok(), claimed.status().ToString());
  REQUIRE(claimed->size() == 1);
  const std::string token = claimed->front().claim_token;
  for (const auto& [path, body] : std::vector<std::pair<std::string, std::string>>{
           {"/jobs/r-0/heartbeat", V1Heartbeat("new")},
           {"/jobs/r-0/complete", V1Complete("new", MakeResult(1.0))},
           {"/jobs/r-0/release", "{\"worker_id\":\"new\"}"},
           {"/jobs/finish",
            "{\"worker_id\":\"new\",\"outcomes\":[{\"job_id\":\"r-0\",\"success\":true,\"result\":" +
                ToJson(MakeResult(1.0)) + "}]}"}}) {
    CAPTURE(path);
    auto res = s.Post(path, body);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(Contains(res->body, "claim_token"));
    CHECK(Contains(res->body, "--require-claim-tokens"));
  }
  CHECK(MustGetJob(s.store(), "r-0").status == JobStatus::kRunning);
  CHECK(client->HeartbeatJob("r-0", {"new", token}, std::chrono::seconds(30)).ok());
  CHECK(client->CompleteJob("r-0", {"new", token}, MakeResult(1.0)).ok());
}

TEST_CASE(
    "http worker protocol: knowing a worker's id and the bearer token is not enough to touch its jobs") {
  const std::string bearer = "shared-secret";
  Served s(bearer);
  Enqueue(s.store(), "run-x", "x-batch", Jobs("x-", "run-x", 2));
  auto victim = s.Client(bearer);
  auto claimed = victim->ClaimJobs("victim", 2, std::chrono::seconds(30));
  REQUIRE_MESSAGE(claimed.ok(), claimed.status().ToString());
  REQUIRE(claimed->size() == 2);
  const std::string token = claimed->front().claim_token;
  const Job before = MustGetJob(s.store(), "x-0");
  // The secret is the claimer's alone: not in what anyone can list.
  CHECK_FALSE(Contains(s.Get("/workers")->body, token));
  CHECK_FALSE(Contains(ToJson(before), token));
  CHECK_FALSE(Contains(ToJson(before), "claim_token"));

  const std::string guess = NewClaimToken();
  for (const std::string& extra : {std::string(), ",\"claim_token\":\"" + guess + "\""}) {
    CAPTURE(extra);
    s.clock().Advance(std::chrono::seconds(1));
    const std::string who = "{\"worker_id\":\"victim\"" + extra;
    auto beat = s.Post("/jobs/x-0/heartbeat", who + "}", bearer);
    auto done = s.Post("/jobs/x-0/complete",
                       who + ",\"success\":true,\"result\":" + ToJson(MakeResult(9.0)) + "}", bearer);
    auto failed = s.Post("/jobs/x-0/complete", who + ",\"success\":false,\"error\":\"x\"}", bearer);
    auto released = s.Post("/jobs/x-0/release", who + "}", bearer);
    auto finished =
        s.Post("/jobs/finish",
               "{\"worker_id\":\"victim\",\"outcomes\":[{\"job_id\":\"x-0\",\"success\":true,\"result\":" +
                   ToJson(MakeResult(9.0)) + extra + "}]}",
               bearer);
    for (const httplib::Result* res : {&beat, &done, &failed, &released}) {
      REQUIRE(*res);
      CHECK((*res)->status == 409);
      CHECK_FALSE(Contains((*res)->body, token));
    }
    REQUIRE(finished);
    CHECK(finished->status == 200);
    CHECK(Contains(finished->body, R"("code":"conflict")"));
    CHECK(MustGetJob(s.store(), "x-0") == before);  // nothing written
  }
  // The victim's own calls still work.
  CHECK(victim->HeartbeatJob("x-0", {"victim", token}, std::chrono::seconds(30)).ok());
  CHECK(victim->CompleteJob("x-0", {"victim", token}, MakeResult(1.0)).ok());
  CHECK(MustGetJob(s.store(), "x-0").result == MakeResult(1.0));
}

// ------------------------------------------------------------ long-poll

TEST_CASE(
    "http worker protocol: a waiting claim answers as soon as a job is enqueued, else when the wait ends") {
  Served s;
  OrchestratorClientOptions options;
  options.url = s.url();
  options.claim_wait = std::chrono::seconds(10);
  auto created = OrchestratorClient::Create(options);
  REQUIRE(created.ok());
  std::unique_ptr<OrchestratorClient> client = std::move(*created);

  const auto start = std::chrono::steady_clock::now();
  Result<std::vector<Job>> claimed = std::vector<Job>();
  std::thread waiter([&] { claimed = client->ClaimJobs("lp", 5, std::chrono::seconds(30)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // While it waits, the worker's entry lists nothing.
  auto workers = client->ListWorkers();
  REQUIRE(workers.ok());
  REQUIRE(workers->size() == 1);
  CHECK(workers->front().current_jobs.empty());
  Enqueue(s.store(), "run-p", "p-batch", Jobs("p-", "run-p", 2));
  waiter.join();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  REQUIRE_MESSAGE(claimed.ok(), claimed.status().ToString());
  CHECK(JobIds(*claimed) == std::vector<std::string>{"p-0", "p-1"});
  CHECK(took < 5.0);  // woken by the enqueue, not by the end of the 10 s wait

  // Nothing to claim: the reply comes when the wait ends.
  const auto again = std::chrono::steady_clock::now();
  auto res = s.Post("/jobs/claim", R"({"worker_id": "lp2", "protocol": 2, "wait_seconds": 1})");
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - again).count();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Contains(res->body, R"("status":"no_jobs")"));
  CHECK(waited >= 0.9);
  CHECK(waited < 5.0);
}

// A client that left while its claim waited would never hear of the jobs
// the claim took: they would sit RUNNING until their lease expired and
// count as a death. Before the claim takes anything, the server sees the
// client's FIN and ends the wait.
TEST_CASE("http worker protocol: a waiting claim whose client left claims nothing") {
  Served s;
  const int fd = ConnectLoopback(s.port(), 10);
  const std::string body = R"({"worker_id": "gone", "protocol": 2, "wait_seconds": 10})";
  const std::string request =
      "POST /jobs/claim HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // waiting now
  ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Enqueue(s.store(), "run-g", "g-batch", Jobs("g-", "run-g", 2));
  // Past the claim's 1 s re-claim as well as the enqueue's wake-up.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (const char* id : {"g-0", "g-1"}) {
    CAPTURE(id);
    const Job job = MustGetJob(s.store(), id);
    CHECK(job.status == JobStatus::kPending);
    CHECK(job.worker_id.empty());
  }
  // A client that stays gets them.
  auto res = s.Post("/jobs/claim", R"({"worker_id": "here", "protocol": 2, "max_jobs": 2})");
  REQUIRE(res);
  CHECK(Contains(res->body, R"("status":"claimed")"));
}

TEST_CASE("http worker protocol: claims beyond max_waiting_claims are answered at once") {
  http::WorkerProtocolOptions options;
  options.max_waiting_claims = 1;
  Served s("", options);
  std::thread first(
      [&] { (void)s.Post("/jobs/claim", R"({"worker_id": "a", "protocol": 2, "wait_seconds": 2})"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  auto res = s.Post("/jobs/claim", R"({"worker_id": "b", "protocol": 2, "wait_seconds": 2})");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  first.join();
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(Contains(res->body, R"("status":"no_jobs")"));
  CHECK(took < 1.5);
}

TEST_CASE("http worker protocol: GET /workers drops a worker's jobs once they are finished") {
  Served s;
  Enqueue(s.store(), "run-c", "c-batch", Jobs("c-", "run-c", 4));
  FakeSimulator simulator;
  simulator.SetScript([](const SimulationParams&) -> Result<SimulationResult> {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    return FakeSimulator::FailingResult();
  });
  // A worker whose lease heartbeats list its jobs in the registry while
  // they run (the store itself as its registry, as `evolve serve`'s own).
  WorkerOptions options;
  options.worker_id = "cw";
  options.max_jobs_per_claim = 2;
  options.lease = std::chrono::seconds(5);
  options.heartbeat_interval = std::chrono::milliseconds(20);
  Worker worker(s.store(), &s.store(), simulator, *RealClock(), options);
  REQUIRE(s.store().RegisterWorker(WorkerInfo{"cw", "h", 1, "ACTIVE", {}, {}, {}, 0, 0}).ok());
  auto ran = worker.RunOnce();
  REQUIRE_MESSAGE(ran.ok(), ran.status().ToString());
  CHECK(*ran == 2);
  auto workers = s.store().ListWorkers();
  REQUIRE(workers.ok());
  REQUIRE(workers->size() == 1);
  CHECK(workers->front().current_jobs.empty());

  // A remote worker: the claim lists what it handed out; the worker's next
  // (waiting) claim says it holds nothing.
  auto client = s.Client();
  Worker remote(*client, client.get(), simulator, *RealClock(), options);
  REQUIRE(remote.RunOnce().ok());
  CHECK(MustCount(s.store(), "run-c", "").completed == 4);
  OrchestratorClientOptions waiting;
  waiting.url = s.url();
  waiting.claim_wait = std::chrono::seconds(2);
  auto waiter = OrchestratorClient::Create(waiting);
  REQUIRE(waiter.ok());
  std::thread idle([&] { (void)(*waiter)->ClaimJobs("cw", 3, std::chrono::seconds(30)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  workers = client->ListWorkers();
  idle.join();
  REQUIRE(workers.ok());
  REQUIRE(workers->size() == 1);
  CHECK(workers->front().id == "cw");
  CHECK(workers->front().current_jobs.empty());
}

// A WorkerQueue that answers every call with the code it is told to.
class ScriptedQueue final : public WorkerQueue {
 public:
  EVOLVE_WORKER_QUEUE_OVERRIDES

  void Answer(StatusCode code) { code_ = code; }

 private:
  Status Scripted() const {
    return Status(code_.load(), "scripted " + std::string(StatusCodeName(code_.load())));
  }

  std::atomic<StatusCode> code_{StatusCode::kInternal};
};

Result<std::vector<Job>> ScriptedQueue::ClaimJobs(const ClaimHolder&, int, Duration, JobKinds) { return Scripted(); }
Status ScriptedQueue::HeartbeatJob(const std::string&, const ClaimHolder&, Duration) { return Scripted(); }
Result<std::vector<Status>> ScriptedQueue::FinishJobs(const std::string&,
                                                      const std::vector<JobOutcome>& outcomes) {
  return std::vector<Status>(outcomes.size(), Scripted());
}
Status ScriptedQueue::ReleaseJob(const std::string&, const ClaimHolder&) { return Scripted(); }
int64_t ScriptedQueue::Subscribe(std::function<void(const QueueEvent&)>) { return 0; }
void ScriptedQueue::Unsubscribe(int64_t) {}

constexpr StatusCode kErrorCodes[] = {
    StatusCode::kInvalidArgument,    StatusCode::kNotFound,  StatusCode::kAlreadyExists,
    StatusCode::kFailedPrecondition, StatusCode::kAborted,   StatusCode::kUnavailable,
    StatusCode::kDeadlineExceeded,   StatusCode::kCancelled, StatusCode::kInternal,
    StatusCode::kResourceExhausted};

TEST_CASE("http worker protocol: every Status code travels from the server's queue to the client as itself") {
  // The mapping, written once (error_reply.h): what a server sends for a
  // code is read back as that code.
  for (StatusCode code : kErrorCodes) {
    CAPTURE(StatusCodeName(code));
    CHECK(http::StatusCodeOfReply(http::HttpStatusOf(code), http::ErrorCodeOf(code)) == code);
    CHECK(http::StatusCodeNamed(http::ErrorCodeOf(code)) == code);
  }
  CHECK(http::HttpStatusOf(StatusCode::kAborted) == 409);  // what the documentation promises a worker
  CHECK(std::string(http::ErrorCodeOf(StatusCode::kAborted)) == "conflict");
  // Replies that carry no code of a Status (the server's own 401, 405 and
  // 413, a proxy's 502) are read by their HTTP status.
  CHECK(http::StatusCodeOfReply(401, "unauthorized") == StatusCode::kFailedPrecondition);
  CHECK(http::StatusCodeOfReply(403, "") == StatusCode::kFailedPrecondition);
  CHECK(http::StatusCodeOfReply(404, "") == StatusCode::kNotFound);
  CHECK(http::StatusCodeOfReply(405, "method_not_allowed") == StatusCode::kFailedPrecondition);
  CHECK(http::StatusCodeOfReply(409, "") == StatusCode::kAborted);
  CHECK(http::StatusCodeOfReply(413, "payload_too_large") == StatusCode::kInvalidArgument);
  CHECK(http::StatusCodeOfReply(502, "") == StatusCode::kUnavailable);
  CHECK_FALSE(http::StatusCodeNamed("ok").has_value());

  // And through the wire: a queue that answers each code in turn, served,
  // and the client a worker uses.
  ManualClock clock;
  FakeStore registry(clock);
  ScriptedQueue queue;
  http::HttpServer server;
  http::RegisterWorkerProtocolRoutes(server, {queue, registry, registry, clock});
  ServedOnLoopback serving(server);
  auto client = ClientOf("http://127.0.0.1:" + std::to_string(serving.port()));
  JobOutcome outcome;
  outcome.job_id = "j";
  outcome.result = MakeResult(1.0);
  for (StatusCode code : kErrorCodes) {
    CAPTURE(StatusCodeName(code));
    queue.Answer(code);
    // A reply's status (POST /jobs/{id}/heartbeat, /release).
    const Status beat = client->HeartbeatJob("j", "w", std::chrono::seconds(30));
    CHECK(beat.code() == code);
    CHECK(Contains(beat.message(), "scripted " + std::string(StatusCodeName(code))));
    CHECK(client->ReleaseJob("j", "w").code() == code);
    // An outcome's status inside a 200 (POST /jobs/finish).
    auto finished = client->FinishJobs("w", {outcome});
    REQUIRE_MESSAGE(finished.ok(), finished.status().ToString());
    REQUIRE(finished->size() == 1);
    CHECK(finished->front().code() == code);
    // A Status of a claim, except the one the client reads as "no worker
    // protocol here" (a 404 for the claim route itself).
    if (code != StatusCode::kNotFound) {
      CHECK(client->ClaimJobs("w", 1, std::chrono::seconds(30)).status().code() == code);
    }
  }
}

}  // namespace
}  // namespace evolve::testing
