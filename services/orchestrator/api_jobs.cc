// The worker protocol of `evolve serve` (docs/api-worker-protocol.md): the
// job queue, the worker registry and the artifacts of the store, over HTTP,
// for workers that cannot reach the database. Every call runs the store's
// own operation, so claims, leases and fencing are exactly those of a worker
// on the database.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api.h"
#include "evolve/log.h"

namespace evolve::cli {
namespace {

constexpr int kMaxPerRequest = 1000;     // jobs per claim, outcomes per finish
constexpr double kDefaultLease = 60;     // seconds
constexpr double kMaxLease = 3600;       // seconds

Duration LeaseOf(std::optional<double> seconds) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds.value_or(kDefaultLease)));
}

// The errors of a nested parse, under `prefix` ("result", "outcomes[2]").
void AddNested(JsonBody& body, const std::string& prefix, const std::vector<FieldError>& errors) {
  for (const FieldError& e : errors) {
    std::string field = prefix;
    if (!e.field.empty()) field += (e.field[0] == '[' ? "" : ".") + e.field;
    body.AddError(field, e.message);
  }
}

// worker_id: required, not empty.
std::string WorkerId(JsonBody& body) {
  std::optional<std::string> id = body.String("worker_id", /*required=*/true);
  if (id.has_value() && id->empty()) body.AddError("worker_id", "must not be empty");
  return id.value_or("");
}

// One job's outcome as the body of /jobs/{id}/complete or an element of
// /jobs/finish's outcomes: success, result when it succeeded, error (and
// retryable) when it did not. Problems are added to `body`.
JobOutcome ReadOutcome(JsonBody& body) {
  JobOutcome outcome;
  std::optional<bool> success = body.Bool("success", /*required=*/true);
  std::optional<std::string> result = body.Raw("result");
  std::optional<std::string> error = body.String("error");
  std::optional<bool> retryable = body.Bool("retryable");
  if (!success.has_value()) return outcome;
  if (*success) {
    if (!result.has_value()) {
      body.AddError("result", "is required when success is true");
    } else {
      std::vector<FieldError> errors;
      auto parsed = SimulationResultFromJson(*result, &errors);
      if (parsed.ok()) {
        outcome.result = std::move(*parsed);
      } else {
        if (errors.empty()) errors.push_back({"", parsed.status().message()});
        AddNested(body, "result", errors);
      }
    }
    if (error.has_value()) body.AddError("error", "must not be given when success is true");
    if (retryable.has_value()) body.AddError("retryable", "must not be given when success is true");
  } else {
    if (!error.has_value()) body.AddError("error", "is required when success is false");
    if (result.has_value()) body.AddError("result", "must not be given when success is false");
    outcome.error = error.value_or("");
    outcome.retryable = retryable.value_or(false);
  }
  return outcome;
}

std::string JobsArray(const std::vector<Job>& jobs) {
  std::string out = "[";
  for (size_t i = 0; i < jobs.size(); ++i) out += (i > 0 ? "," : "") + ToJson(jobs[i]);
  return out + "]";
}

// Counts what a completion's Status says about it.
void CountOutcome(Metrics& metrics, const JobOutcome& outcome, const Status& status) {
  if (status.ok()) {
    metrics.Add(outcome.result.has_value() ? kJobsCompletedOverHttp : kJobsFailedOverHttp);
  } else if (status.code() == StatusCode::kAborted) {
    metrics.Add(kJobsLostOverHttp);
  }
}

// A body that must be empty or an object with none of the unknown fields.
bool EmptyBodyOk(const httplib::Request& req, httplib::Response& res) {
  if (req.body.empty()) return true;
  JsonBody body(req.body, {});
  return !body.SendErrors(res);
}

// The worker was seen: its registry entry gets a heartbeat with the jobs it
// now holds, registering it first if it never did. Bookkeeping only: a
// failure is logged, and the claim stands.
void MarkSeen(Store& store, const std::string& worker_id, const std::vector<Job>& jobs) {
  std::vector<std::string> ids;
  for (const Job& job : jobs) ids.push_back(job.id);
  Status s = store.WorkerHeartbeat(worker_id, ids);
  if (s.code() == StatusCode::kNotFound) {
    WorkerInfo info;
    info.id = worker_id;
    s = store.RegisterWorker(info);
    if (s.ok()) s = store.WorkerHeartbeat(worker_id, ids);
  }
  if (!s.ok()) {
    Log(LogLevel::kWarning, "could not record the worker of a claim", {{"worker_id", worker_id}, {"error", s.ToString()}});
  }
}

}  // namespace

void RegisterJobRoutes(Router& router, ApiContext& ctx) {
  using Access = Router::Access;

  router.Post("/jobs/claim", Access::kProtected, [&ctx](const httplib::Request& req, httplib::Response& res) {
    JsonBody body(req.body, {"worker_id", "max_jobs", "lease_seconds"});
    const std::string worker_id = WorkerId(body);
    const int64_t max_jobs = body.Int("max_jobs", 1, kMaxPerRequest).value_or(1);
    const Duration lease = LeaseOf(body.Number("lease_seconds", 1, kMaxLease));
    if (body.SendErrors(res)) return;
    auto jobs = ctx.store.ClaimJobs(worker_id, static_cast<int>(max_jobs), lease);
    if (!jobs.ok()) return SendStatus(res, jobs.status());
    MarkSeen(ctx.store, worker_id, *jobs);
    if (jobs->empty()) return SendJson(res, 200, R"({"status":"no_jobs","jobs":[]})");
    ctx.metrics.Add(kJobsClaimedOverHttp, static_cast<int64_t>(jobs->size()));
    SendJson(res, 200, "{\"status\":\"claimed\",\"jobs\":" + JobsArray(*jobs) + "}");
  });

  router.Post(R"(/jobs/([^/]+)/heartbeat)", Access::kProtected,
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                const std::string job_id = req.matches[1];
                JsonBody body(req.body, {"worker_id", "lease_seconds"});
                const std::string worker_id = WorkerId(body);
                const Duration lease = LeaseOf(body.Number("lease_seconds", 1, kMaxLease));
                if (body.SendErrors(res)) return;
                Status s = ctx.store.HeartbeatJob(job_id, worker_id, lease);
                if (!s.ok()) return SendStatus(res, s);
                SendJson(res, 200, "{\"status\":\"ok\",\"job_id\":" + JsonQuote(job_id) + "}");
              });

  router.Post(R"(/jobs/([^/]+)/complete)", Access::kProtected,
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                const std::string job_id = req.matches[1];
                JsonBody body(req.body, {"worker_id", "success", "result", "error", "retryable"});
                const std::string worker_id = WorkerId(body);
                JobOutcome outcome = ReadOutcome(body);
                if (body.SendErrors(res)) return;
                outcome.job_id = job_id;
                Status s = outcome.result.has_value()
                               ? ctx.store.CompleteJob(job_id, worker_id, *outcome.result)
                               : ctx.store.FailJob(job_id, worker_id, outcome.error, outcome.retryable);
                CountOutcome(ctx.metrics, outcome, s);
                if (!s.ok()) return SendStatus(res, s);
                SendJson(res, 200,
                         std::string("{\"status\":\"") + (outcome.result.has_value() ? "completed" : "failed") +
                             "\",\"job_id\":" + JsonQuote(job_id) + "}");
              });

  router.Post(R"(/jobs/([^/]+)/release)", Access::kProtected,
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                const std::string job_id = req.matches[1];
                JsonBody body(req.body, {"worker_id"});
                const std::string worker_id = WorkerId(body);
                if (body.SendErrors(res)) return;
                Status s = ctx.store.ReleaseJob(job_id, worker_id);
                if (!s.ok()) return SendStatus(res, s);
                SendJson(res, 200, "{\"status\":\"released\",\"job_id\":" + JsonQuote(job_id) + "}");
              });

  router.Post("/jobs/finish", Access::kProtected, [&ctx](const httplib::Request& req, httplib::Response& res) {
    JsonBody body(req.body, {"worker_id", "outcomes"});
    const std::string worker_id = WorkerId(body);
    std::optional<std::vector<std::string>> items = body.Array("outcomes", /*required=*/true);
    std::vector<JobOutcome> outcomes;
    if (items.has_value()) {
      if (items->empty() || items->size() > static_cast<size_t>(kMaxPerRequest)) {
        body.AddError("outcomes", "must hold 1 to " + std::to_string(kMaxPerRequest) + " outcomes, not " +
                                      std::to_string(items->size()));
      } else {
        for (size_t i = 0; i < items->size(); ++i) {
          const std::string prefix = "outcomes[" + std::to_string(i) + "]";
          JsonBody item((*items)[i], {"job_id", "success", "result", "error", "retryable"});
          std::optional<std::string> job_id = item.String("job_id", /*required=*/true);
          if (job_id.has_value() && job_id->empty()) item.AddError("job_id", "must not be empty");
          JobOutcome outcome = ReadOutcome(item);
          outcome.job_id = job_id.value_or("");
          AddNested(body, prefix, item.errors());
          outcomes.push_back(std::move(outcome));
        }
      }
    }
    if (body.SendErrors(res)) return;
    auto written = ctx.store.FinishJobs(worker_id, outcomes);
    if (!written.ok()) return SendStatus(res, written.status());
    std::string out = "{\"results\":[";
    for (size_t i = 0; i < outcomes.size(); ++i) {
      const Status& s = i < written->size() ? (*written)[i] : Status(StatusCode::kInternal, "no status returned");
      CountOutcome(ctx.metrics, outcomes[i], s);
      if (i > 0) out += ',';
      out += "{\"job_id\":" + JsonQuote(outcomes[i].job_id);
      if (s.ok()) {
        out += ",\"status\":\"ok\"}";
      } else {
        out += ",\"error\":{\"code\":" + JsonQuote(ErrorCodeFor(s)) + ",\"message\":" + JsonQuote(s.message()) + "}}";
      }
    }
    SendJson(res, 200, out + "]}");
  });

  router.Get("/jobs/pending", Access::kProtected, [&ctx](const httplib::Request& req, httplib::Response& res) {
    auto page = QueryPage(req);
    if (!page.ok()) return SendError(res, 400, "invalid_argument", page.status().message());
    JobFilter filter;
    filter.run_id = req.get_param_value("run_id");
    filter.status = JobStatus::kPending;
    filter.limit = page->limit;
    filter.offset = page->offset;
    auto jobs = ctx.store.ListJobs(filter);
    if (!jobs.ok()) return SendStatus(res, jobs.status());
    auto counts = ctx.store.CountJobs(filter);
    if (!counts.ok()) return SendStatus(res, counts.status());
    SendJson(res, 200,
             "{\"jobs\":" + JobsArray(*jobs) + ",\"count\":" + std::to_string(jobs->size()) +
                 ",\"total\":" + std::to_string(counts->pending) + "}");
  });

  router.Get("/workers", Access::kPublic, [&ctx](const httplib::Request&, httplib::Response& res) {
    auto workers = ctx.store.ListWorkers();
    if (!workers.ok()) return SendStatus(res, workers.status());
    const TimePoint now = ctx.store.clock().Now();
    std::string out = "{\"workers\":[";
    for (size_t i = 0; i < workers->size(); ++i) {
      const WorkerInfo& w = (*workers)[i];
      const bool live = IsLive(w, now);
      std::string json = ToJson(w);
      json.pop_back();  // the closing '}': "live" joins the object
      out += (i > 0 ? "," : "") + json + ",\"live\":" + (live ? "true" : "false") + "}";
    }
    SendJson(res, 200, out + "],\"count\":" + std::to_string(workers->size()) + "}");
  });

  router.Post("/workers/register", Access::kProtected, [&ctx](const httplib::Request& req, httplib::Response& res) {
    JsonBody body(req.body, {"id", "host", "pid"});
    WorkerInfo info;
    std::optional<std::string> id = body.String("id", /*required=*/true);
    if (id.has_value() && id->empty()) body.AddError("id", "must not be empty");
    info.id = id.value_or("");
    info.host = body.String("host").value_or("");
    info.pid = body.Int("pid", 0, INT64_MAX).value_or(0);
    if (body.SendErrors(res)) return;
    Status s = ctx.store.RegisterWorker(info);
    if (!s.ok()) return SendStatus(res, s);
    SendJson(res, 200, "{\"status\":\"registered\",\"id\":" + JsonQuote(info.id) + "}");
  });

  router.Post(R"(/workers/([^/]+)/heartbeat)", Access::kProtected,
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                const std::string worker_id = req.matches[1];
                JsonBody body(req.body, {"current_jobs"});
                std::vector<std::string> jobs;
                if (std::optional<std::string> raw = body.Raw("current_jobs")) {
                  std::vector<FieldError> errors;
                  auto parsed = StringListFromJson(*raw, &errors);
                  if (parsed.ok()) {
                    jobs = std::move(*parsed);
                  } else {
                    if (errors.empty()) errors.push_back({"", parsed.status().message()});
                    AddNested(body, "current_jobs", errors);
                  }
                }
                if (body.SendErrors(res)) return;
                Status s = ctx.store.WorkerHeartbeat(worker_id, jobs);
                if (!s.ok()) return SendStatus(res, s);
                SendJson(res, 200, "{\"status\":\"ok\",\"id\":" + JsonQuote(worker_id) + "}");
              });

  router.Post(R"(/workers/([^/]+)/deregister)", Access::kProtected,
              [&ctx](const httplib::Request& req, httplib::Response& res) {
                const std::string worker_id = req.matches[1];
                if (!EmptyBodyOk(req, res)) return;
                Status s = ctx.store.DeregisterWorker(worker_id);
                if (!s.ok()) return SendStatus(res, s);
                SendJson(res, 200, "{\"status\":\"deregistered\",\"id\":" + JsonQuote(worker_id) + "}");
              });

  router.Get(R"(/artifacts/(.+))", Access::kProtected, [&ctx](const httplib::Request& req, httplib::Response& res) {
    const std::string key = req.matches[1];
    auto bytes = ctx.store.GetArtifact(key);
    if (!bytes.ok()) return SendStatus(res, bytes.status());
    res.status = 200;
    res.set_content(*bytes, "application/octet-stream");
  });
}

}  // namespace evolve::cli
