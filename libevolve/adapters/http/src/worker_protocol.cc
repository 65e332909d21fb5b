// The server side of the worker protocol: each route runs the backend's
// own operation, so claims, leases and fencing are exactly the store's.
#include "evolve/http/worker_protocol.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "evolve/http/error_reply.h"
#include "evolve/http/json_body.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "evolve/validation.h"
#include "evolve/worker.h"
#include "service_client.h"  // internal::Serialize
#include "worker_protocol_wire.h"

namespace evolve::http {
namespace {

using namespace internal;  // NOLINT: the wire's paths and patterns

// What wakes waiting claims: the queue's kJobsAvailable events. Shared with
// the queue's listener, which may outlive the routes (`evolve serve` closes
// its store before its server), so the listener never points at a freed
// Protocol; the subscription is never cancelled for the same reason (the
// store may be gone when the routes are), and costs one call per event.
struct Wakeup {
  std::mutex mu;
  std::condition_variable work;
  uint64_t epoch = 0;  // events seen; guarded by mu

  void Notify() {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++epoch;
    }
    work.notify_all();
  }
  uint64_t Epoch() {
    std::lock_guard<std::mutex> lock(mu);
    return epoch;
  }
  // Until an event after `seen`, or `until`.
  void WaitForWork(uint64_t seen, std::chrono::steady_clock::time_point until) {
    std::unique_lock<std::mutex> lock(mu);
    work.wait_until(lock, until, [&] { return epoch != seen; });
  }
};

struct Protocol {
  Protocol(WorkerProtocolBackend b, WorkerProtocolHooks h, WorkerProtocolOptions o)
      : backend(b), hooks(std::move(h)), options(o), wakeup(std::make_shared<Wakeup>()) {
    // Waiting claims are woken by the queue's events (this process's, and
    // other processes' through the store's own channel, e.g. PostgreSQL
    // LISTEN); they also poll every kClaimPoll in case one was missed.
    backend.queue.Subscribe([w = wakeup](const QueueEvent& e) {
      if (e.kind == QueueEvent::Kind::kJobsAvailable) w->Notify();
    });
  }

  void Told(const JobOutcome& outcome, const Status& written) const {
    if (hooks.on_outcome) hooks.on_outcome(outcome, written);
  }

  WorkerProtocolBackend backend;
  WorkerProtocolHooks hooks;
  const WorkerProtocolOptions options;
  const std::shared_ptr<Wakeup> wakeup;
  std::atomic<int> waiting{0};  // claims waiting for work now
};

constexpr std::chrono::milliseconds kClaimPoll{1000};

constexpr char kTokensRequired[] =
    "is required: this server requires claim tokens (worker protocol 2, evolve serve "
    "--require-claim-tokens); upgrade evolve-worker";

// claim_token: the secret of the claim, required when the server requires
// tokens. Empty when not given.
std::string ClaimToken(const Protocol& p, JsonBody& body) {
  std::optional<std::string> token = body.String("claim_token");
  if (p.options.require_claim_tokens && token.value_or("").empty())
    body.AddError("claim_token", kTokensRequired);
  return token.value_or("");
}

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
        // In range too (trade_count >= 0, win_rate in [0, 1], ...): a
        // result out of range is refused whole, and nothing is stored.
        std::vector<FieldError> range = SimulationResultErrors(*parsed);
        if (range.empty()) {
          outcome.result = std::move(*parsed);
        } else {
          body.AddNested("result", range);
        }
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

// A claimed job as the wire has it. Claims over HTTP hand out simulations
// only, and a simulation goes without the fields of training jobs (kind,
// task, output: always "simulate", "", ""), so that workers older than
// them, which refuse unknown fields, keep working.
std::string WireJob(const Job& job) {
  if (job.kind != JobKind::kSimulate) return ToJson(job);
  rapidjson::Document doc;
  const std::string json = ToJson(job);
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return json;
  for (const char* field : {"kind", "task", "output"}) doc.RemoveMember(field);
  return internal::Serialize(doc);
}

std::string JobsArray(const std::vector<Job>& jobs) {
  std::string out = "[";
  for (size_t i = 0; i < jobs.size(); ++i) out += (i > 0 ? "," : "") + WireJob(jobs[i]);
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
  JsonBody body(req.body, {"worker_id", "max_jobs", "lease_seconds", "protocol", "wait_seconds"});
  const std::string worker_id = WorkerId(body);
  const int64_t max_jobs = body.Int("max_jobs", 1, kMaxJobsPerRequest).value_or(1);
  const Duration lease = LeaseOf(ReadLease(body));
  const std::optional<int64_t> version =
      body.Int("protocol", kOldestWorkerProtocolVersion, kWorkerProtocolVersion);
  const double wait_seconds = body.Number("wait_seconds", 0, kMaxClaimWaitSeconds).value_or(0);
  const bool tokens = version.value_or(1) >= 2;
  if (p.options.require_claim_tokens && !tokens) {
    body.AddError("protocol", std::string("must be ") + std::to_string(kWorkerProtocolVersion) +
                                  " (claim tokens) " + kTokensRequired);
  }
  if (body.SendErrors(res)) return;
  // The claim's secret: made here, stored with each job, sent to this
  // claimer alone (never listed, logged or counted).
  const ClaimHolder holder = tokens ? ClaimHolder(worker_id, NewClaimToken()) : ClaimHolder(worker_id);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                             std::chrono::duration<double>(wait_seconds));
  bool counted = false;  // one of p.waiting
  Result<std::vector<Job>> jobs = std::vector<Job>();
  while (true) {
    // A client that left while its claim waited would never hear of the
    // jobs: they would sit RUNNING until their lease expired, and count as
    // a death of their holder. So a waiting claim ends, claiming nothing.
    if (counted && req.ClientGone()) break;
    const uint64_t seen = p.wakeup->Epoch();
    jobs = p.backend.queue.ClaimJobs(holder, static_cast<int>(max_jobs), lease);
    if (!jobs.ok() || !jobs->empty()) break;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    if (!counted) {
      if (p.waiting.fetch_add(1) >= p.options.max_waiting_claims) {
        p.waiting.fetch_sub(1);
        break;  // enough claims wait already: this one is answered at once
      }
      counted = true;
      // A worker claims when it holds nothing: its entry must not go on
      // listing the jobs of its last claim while it waits.
      MarkSeen(p.backend.registry, worker_id, {});
    }
    p.wakeup->WaitForWork(seen, std::min(deadline, now + kClaimPoll));
  }
  if (counted) p.waiting.fetch_sub(1);
  if (!jobs.ok()) return SendStatus(res, jobs.status());
  MarkSeen(p.backend.registry, worker_id, *jobs);
  if (p.hooks.on_claim) p.hooks.on_claim(worker_id, jobs->size());
  const std::string version_field =
      tokens ? ",\"protocol\":" + std::to_string(kWorkerProtocolVersion) : std::string();
  if (jobs->empty()) return SendJson(res, 200, "{\"status\":\"no_jobs\"" + version_field + ",\"jobs\":[]}");
  const std::string token_field =
      tokens ? ",\"claim_token\":" + JsonQuote(holder.claim_token) : std::string();
  SendJson(res, 200,
           "{\"status\":\"claimed\"" + version_field + token_field + ",\"jobs\":" + JobsArray(*jobs) + "}");
}

void PostJobHeartbeat(Protocol& p, const Request& req, Response& res) {
  const std::string& job_id = req.matches[1];
  JsonBody body(req.body, {"worker_id", "lease_seconds", "claim_token"});
  const std::string worker_id = WorkerId(body);
  const Duration lease = LeaseOf(ReadLease(body));
  const std::string token = ClaimToken(p, body);
  if (body.SendErrors(res)) return;
  Status s = p.backend.queue.HeartbeatJob(job_id, {worker_id, token}, lease);
  if (!s.ok()) return SendStatus(res, s);
  SendDone(res, "ok", "job_id", job_id);
}

void PostComplete(Protocol& p, const Request& req, Response& res) {
  const std::string& job_id = req.matches[1];
  JsonBody body(req.body, {"worker_id", "success", "result", "error", "retryable", "claim_token"});
  const std::string worker_id = WorkerId(body);
  JobOutcome outcome = ReadOutcome(body);
  outcome.claim_token = ClaimToken(p, body);
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
  JsonBody body(req.body, {"worker_id", "claim_token"});
  const std::string worker_id = WorkerId(body);
  const std::string token = ClaimToken(p, body);
  if (body.SendErrors(res)) return;
  Status s = p.backend.queue.ReleaseJob(job_id, {worker_id, token});
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
        JsonBody item((*items)[i], {"job_id", "success", "result", "error", "retryable", "claim_token"});
        std::optional<std::string> job_id = item.String("job_id", /*required=*/true);
        if (job_id.has_value() && job_id->empty()) item.AddError("job_id", "must not be empty");
        JobOutcome outcome = ReadOutcome(item);
        outcome.claim_token = ClaimToken(p, item);
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

void GetProtocol(Protocol& p, const Request&, Response& res) {
  std::string versions = "[";
  for (int v = p.options.require_claim_tokens ? 2 : kOldestWorkerProtocolVersion; v <= kWorkerProtocolVersion;
       ++v) {
    versions += (versions.size() > 1 ? "," : "") + std::to_string(v);
  }
  char wait[32];
  std::snprintf(wait, sizeof wait, "%g", kMaxClaimWaitSeconds);
  SendJson(res, 200,
           "{\"current\":" + std::to_string(kWorkerProtocolVersion) + ",\"versions\":" + versions +
               "],\"claim_tokens_required\":" + (p.options.require_claim_tokens ? "true" : "false") +
               ",\"max_wait_seconds\":" + wait +
               ",\"max_jobs_per_request\":" + std::to_string(kMaxJobsPerRequest) + "}");
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
                                  WorkerProtocolHooks hooks, WorkerProtocolOptions options) {
  auto protocol = std::make_shared<Protocol>(backend, std::move(hooks), options);
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
                        {kGet, kProtocolPath, Access::kPublic, &GetProtocol},
                        {kPost, kRegisterPath, kProtected, &PostRegister, kFrequent},
                        {kPost, WorkerPattern(kHeartbeat), kProtected, &PostWorkerHeartbeat, kFrequent},
                        {kPost, WorkerPattern(kDeregister), kProtected, &PostDeregister, kFrequent},
                        {kGet, kArtifactPattern, kProtected, &GetArtifact, kFrequent}});
}

}  // namespace evolve::http
