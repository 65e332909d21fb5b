// The server side of the worker protocol: each route runs the backend's
// own operation, so claims, leases and fencing are exactly the store's.
#include "evolve/http/worker_protocol.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "evolve/http/error_reply.h"
#include "evolve/http/json_body.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/worker.h"
#include "worker_protocol_wire.h"

namespace evolve::http {
namespace {

using namespace internal;  // NOLINT: the wire's paths and patterns

struct Protocol {
  WorkerProtocolBackend backend;
  WorkerProtocolHooks hooks;

  void Told(const JobOutcome& outcome, const Status& written) const {
    if (hooks.on_outcome) hooks.on_outcome(outcome, written);
  }
};

Duration LeaseOf(std::optional<double> seconds) {
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(seconds.value_or(kDefaultLeaseSeconds)));
}

std::optional<double> ReadLease(JsonBody& body) {
  return body.Number("lease_seconds", kMinLeaseSeconds, kMaxLeaseSeconds);
}

// worker_id: required, not empty.
std::string WorkerId(JsonBody& body) {
  std::optional<std::string> id = body.String("worker_id", /*required=*/true);
  if (id.has_value() && id->empty()) body.AddError("worker_id", "must not be empty");
  return id.value_or("");
}

// One job's outcome as the body of /jobs/{id}/complete or an element of
// /jobs/finish's outcomes (OutcomeFields): success, result when it
// succeeded, error (and retryable) when it did not. Problems are added to
// `body`.
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
        body.AddNested("result", errors);
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

// {"status": status, key: id}.
void SendDone(Response& res, const char* status, const char* key, const std::string& id) {
  SendJson(res, 200, std::string("{\"status\":\"") + status + "\",\"" + key + "\":" + JsonQuote(id) + "}");
}

// The worker was seen: its registry entry gets a heartbeat with the jobs it
// now holds, registering it first if it never did. Bookkeeping only: a
// failure is logged, and the claim stands.
void MarkSeen(WorkerRegistry& registry, const std::string& worker_id, const std::vector<Job>& jobs) {
  std::vector<std::string> ids;
  for (const Job& job : jobs) ids.push_back(job.id);
  Status s = registry.WorkerHeartbeat(worker_id, ids);
  if (s.code() == StatusCode::kNotFound) {
    WorkerInfo info;
    info.id = worker_id;
    s = registry.RegisterWorker(info);
    if (s.ok()) s = registry.WorkerHeartbeat(worker_id, ids);
  }
  if (!s.ok()) {
    Log(LogLevel::kWarning, "could not record the worker of a claim",
        {{"worker_id", worker_id}, {"error", s.ToString()}});
  }
}

void PostClaim(Protocol& p, const Request& req, Response& res) {
  JsonBody body(req.body, {"worker_id", "max_jobs", "lease_seconds"});
  const std::string worker_id = WorkerId(body);
  const int64_t max_jobs = body.Int("max_jobs", 1, kMaxJobsPerRequest).value_or(1);
  const Duration lease = LeaseOf(ReadLease(body));
  if (body.SendErrors(res)) return;
  auto jobs = p.backend.queue.ClaimJobs(worker_id, static_cast<int>(max_jobs), lease);
  if (!jobs.ok()) return SendStatus(res, jobs.status());
  MarkSeen(p.backend.registry, worker_id, *jobs);
  if (p.hooks.on_claim) p.hooks.on_claim(worker_id, jobs->size());
  if (jobs->empty()) return SendJson(res, 200, R"({"status":"no_jobs","jobs":[]})");
  SendJson(res, 200, "{\"status\":\"claimed\",\"jobs\":" + JobsArray(*jobs) + "}");
}

void PostJobHeartbeat(Protocol& p, const Request& req, Response& res) {
  const std::string& job_id = req.matches[1];
  JsonBody body(req.body, {"worker_id", "lease_seconds"});
  const std::string worker_id = WorkerId(body);
  const Duration lease = LeaseOf(ReadLease(body));
  if (body.SendErrors(res)) return;
  Status s = p.backend.queue.HeartbeatJob(job_id, worker_id, lease);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, "ok", "job_id", job_id);
}

void PostComplete(Protocol& p, const Request& req, Response& res) {
  const std::string& job_id = req.matches[1];
  JsonBody body(req.body, {"worker_id", "success", "result", "error", "retryable"});
  const std::string worker_id = WorkerId(body);
  JobOutcome outcome = ReadOutcome(body);
  if (body.SendErrors(res)) return;
  outcome.job_id = job_id;
  auto written = p.backend.queue.FinishJobs(worker_id, {outcome});
  const Status s = !written.ok()      ? written.status()
                   : written->empty() ? InternalError("the queue returned no status for the outcome")
                                      : written->front();
  p.Told(outcome, s);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, outcome.result.has_value() ? "completed" : "failed", "job_id", job_id);
}

void PostRelease(Protocol& p, const Request& req, Response& res) {
  const std::string& job_id = req.matches[1];
  JsonBody body(req.body, {"worker_id"});
  const std::string worker_id = WorkerId(body);
  if (body.SendErrors(res)) return;
  Status s = p.backend.queue.ReleaseJob(job_id, worker_id);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, "released", "job_id", job_id);
}

void PostFinish(Protocol& p, const Request& req, Response& res) {
  JsonBody body(req.body, {"worker_id", "outcomes"});
  const std::string worker_id = WorkerId(body);
  std::optional<std::vector<std::string>> items = body.Array("outcomes", /*required=*/true);
  std::vector<JobOutcome> outcomes;
  if (items.has_value()) {
    if (items->empty() || items->size() > static_cast<size_t>(kMaxJobsPerRequest)) {
      body.AddError("outcomes", "must hold 1 to " + std::to_string(kMaxJobsPerRequest) + " outcomes, not " +
                                    std::to_string(items->size()));
    } else {
      for (size_t i = 0; i < items->size(); ++i) {
        JsonBody item((*items)[i], {"job_id", "success", "result", "error", "retryable"});
        std::optional<std::string> job_id = item.String("job_id", /*required=*/true);
        if (job_id.has_value() && job_id->empty()) item.AddError("job_id", "must not be empty");
        JobOutcome outcome = ReadOutcome(item);
        outcome.job_id = job_id.value_or("");
        body.AddNested("outcomes[" + std::to_string(i) + "]", item.errors());
        outcomes.push_back(std::move(outcome));
      }
    }
  }
  if (body.SendErrors(res)) return;
  auto written = p.backend.queue.FinishJobs(worker_id, outcomes);
  if (!written.ok()) return SendStatus(res, written.status());
  std::string out = "{\"results\":[";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const Status s =
        i < written->size() ? (*written)[i] : InternalError("the queue returned no status for it");
    p.Told(outcomes[i], s);
    if (i > 0) out += ',';
    out += "{\"job_id\":" + JsonQuote(outcomes[i].job_id);
    if (s.ok()) {
      out += ",\"status\":\"ok\"}";
    } else {
      out += ",\"error\":{\"code\":" + JsonQuote(ErrorCodeOf(s.code())) +
             ",\"message\":" + JsonQuote(s.message()) + "}}";
    }
  }
  SendJson(res, 200, out + "]}");
}

void GetWorkers(Protocol& p, const Request&, Response& res) {
  auto workers = p.backend.registry.ListWorkers();
  if (!workers.ok()) return SendStatus(res, workers.status());
  const TimePoint now = p.backend.clock.Now();
  std::string out = "{\"workers\":[";
  for (size_t i = 0; i < workers->size(); ++i) {
    const WorkerInfo& w = (*workers)[i];
    std::string json = ToJson(w);
    json.pop_back();  // the closing '}': "live" joins the object
    out += (i > 0 ? "," : "") + json + ",\"live\":" + (IsWorkerLive(w, now) ? "true" : "false") + "}";
  }
  SendJson(res, 200, out + "],\"count\":" + std::to_string(workers->size()) + "}");
}

void PostRegister(Protocol& p, const Request& req, Response& res) {
  JsonBody body(req.body, {"id", "host", "pid"});
  WorkerInfo info;
  std::optional<std::string> id = body.String("id", /*required=*/true);
  if (id.has_value() && id->empty()) body.AddError("id", "must not be empty");
  info.id = id.value_or("");
  info.host = body.String("host").value_or("");
  info.pid = body.Int("pid", 0, INT64_MAX).value_or(0);
  if (body.SendErrors(res)) return;
  Status s = p.backend.registry.RegisterWorker(info);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, "registered", "id", info.id);
}

void PostWorkerHeartbeat(Protocol& p, const Request& req, Response& res) {
  const std::string& worker_id = req.matches[1];
  JsonBody body(req.body, {"current_jobs"});
  std::vector<std::string> jobs;
  if (std::optional<std::string> raw = body.Raw("current_jobs")) {
    std::vector<FieldError> errors;
    auto parsed = StringListFromJson(*raw, &errors);
    if (parsed.ok()) {
      jobs = std::move(*parsed);
    } else {
      if (errors.empty()) errors.push_back({"", parsed.status().message()});
      body.AddNested("current_jobs", errors);
    }
  }
  if (body.SendErrors(res)) return;
  Status s = p.backend.registry.WorkerHeartbeat(worker_id, jobs);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, "ok", "id", worker_id);
}

void PostDeregister(Protocol& p, const Request& req, Response& res) {
  const std::string& worker_id = req.matches[1];
  if (!JsonBody::EmptyOrObject(req.body, res)) return;
  Status s = p.backend.registry.DeregisterWorker(worker_id);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, "deregistered", "id", worker_id);
}

void GetArtifact(Protocol& p, const Request& req, Response& res) {
  auto bytes = p.backend.artifacts.GetArtifact(req.matches[1]);
  if (!bytes.ok()) return SendStatus(res, bytes.status());
  res.status = 200;
  res.SetContent(std::move(*bytes), "application/octet-stream");
}

}  // namespace

void RegisterWorkerProtocolRoutes(HttpServer& server, WorkerProtocolBackend backend,
                                  WorkerProtocolHooks hooks) {
  auto protocol = std::make_shared<Protocol>(Protocol{backend, std::move(hooks)});
  constexpr Method kGet = Method::kGet;
  constexpr Method kPost = Method::kPost;
  constexpr Access kProtected = Access::kProtected;
  constexpr bool kFrequent = true;  // every worker calls them every second or so
  server.Add(protocol, {{kPost, kClaimPath, kProtected, &PostClaim, kFrequent},
                        {kPost, JobPattern(kHeartbeat), kProtected, &PostJobHeartbeat, kFrequent},
                        {kPost, JobPattern(kComplete), kProtected, &PostComplete, kFrequent},
                        {kPost, JobPattern(kRelease), kProtected, &PostRelease, kFrequent},
                        {kPost, kFinishPath, kProtected, &PostFinish, kFrequent},
                        {kGet, kWorkersPath, Access::kPublic, &GetWorkers},
                        {kPost, kRegisterPath, kProtected, &PostRegister, kFrequent},
                        {kPost, WorkerPattern(kHeartbeat), kProtected, &PostWorkerHeartbeat, kFrequent},
                        {kPost, WorkerPattern(kDeregister), kProtected, &PostDeregister, kFrequent},
                        {kGet, kArtifactPattern, kProtected, &GetArtifact, kFrequent}});
}

}  // namespace evolve::http
