#include "evolve/http/orchestrator_client.h"

#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <utility>

#include "evolve/http/error_reply.h"
#include "evolve/http/worker_protocol.h"
#include "evolve/json.h"
#include "evolve/log.h"
#include "http_url.h"
#include "service_client.h"  // internal::Serialize
#include "worker_protocol_wire.h"

namespace evolve::http {
namespace {

using namespace internal;  // NOLINT: Serialize, the wire's paths

struct Reply {
  int status = 0;
  std::string body;
};

std::string Seconds(Duration d) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", std::chrono::duration<double>(d).count());
  return buf;
}

// `,"claim_token":"..."` when the holder has one.
std::string TokenField(const ClaimHolder& holder) {
  return holder.claim_token.empty() ? std::string() : ",\"claim_token\":" + JsonQuote(holder.claim_token);
}

}  // namespace

class OrchestratorClient::Impl {
 public:
  Impl(OrchestratorClientOptions options, std::string host, int port, std::string prefix, std::string url)
      : options_(std::move(options)),
        host_(std::move(host)),
        port_(port),
        prefix_(std::move(prefix)),
        url_(std::move(url)) {}

  const std::string& url() const { return url_; }

  // One request on a connection of its own. Errors: kUnavailable when no
  // reply came (connection refused or broken, timeout).
  Result<Reply> Send(const char* method, const std::string& path, const std::string& body,
                     std::chrono::milliseconds extra_wait = std::chrono::milliseconds(0)) {
    const std::string what = std::string(method) + " " + path;
    try {
      httplib::Client client(host_, port_);
      client.set_connection_timeout(options_.connect_timeout);
      client.set_read_timeout(options_.request_timeout + extra_wait);
      client.set_write_timeout(options_.request_timeout);
      client.set_keep_alive(false);
      client.set_url_encode(false);  // EncodePath did it
      if (!options_.token.empty()) client.set_bearer_token_auth(options_.token);
      const std::string target = prefix_ + path;
      httplib::Result res = std::string(method) == "GET"
                                ? client.Get(target.c_str())
                                : client.Post(target.c_str(), body, "application/json");
      if (!res) {
        return UnavailableError("orchestrator " + url_ + ": " + what + ": " +
                                httplib::to_string(res.error()));
      }
      return Reply{res->status, res->body};
    } catch (const std::exception& e) {
      return InternalError("orchestrator " + url_ + ": " + what + ": " + e.what());
    }
  }

  // The Status of a reply: OK for 2xx, else what the server sent
  // (error_reply.h), with the token named for a 401 or 403.
  Status StatusOf(const Reply& reply, const char* method, const std::string& path) const {
    if (reply.status >= 200 && reply.status < 300) return Status::Ok();
    const std::string context =
        "orchestrator " + url_ + ": " + method + " " + path + ": HTTP " + std::to_string(reply.status) + ": ";
    const ErrorBody error = ParseErrorJson(reply.body);
    const StatusCode code = StatusCodeOfReply(reply.status, error.code);
    if (reply.status == 401 || reply.status == 403) {
      return Status(code, context + "the orchestrator refused the API token (" +
                              (options_.token.empty() ? "none was given; set EVOLVE_API_TOKEN"
                                                      : "check EVOLVE_API_TOKEN or --token-file") +
                              "): " + error.message);
    }
    if (error.code.empty() && code == StatusCode::kFailedPrecondition) {
      return Status(code, context + "unexpected reply: " + error.message);
    }
    return Status(code, context + error.message);
  }

  // A request whose 2xx reply is a JSON object, parsed into `doc`.
  Status Call(const char* method, const std::string& path, const std::string& body, rapidjson::Document* doc,
              std::chrono::milliseconds extra_wait = std::chrono::milliseconds(0)) {
    EVOLVE_ASSIGN_OR_RETURN(Reply reply, Send(method, path, body, extra_wait));
    EVOLVE_RETURN_IF_ERROR(StatusOf(reply, method, path));
    if (doc == nullptr) return Status::Ok();
    doc->Parse(reply.body.data(), reply.body.size());
    if (doc->HasParseError() || !doc->IsObject()) {
      return InternalError("orchestrator " + url_ + ": " + method + " " + path +
                           ": the reply is not a JSON object: " + reply.body.substr(0, 200));
    }
    return Status::Ok();
  }

  int64_t NextHandle() { return ++handles_; }

  std::chrono::milliseconds claim_wait() const { return options_.claim_wait; }

 private:
  const OrchestratorClientOptions options_;
  const std::string host_;
  const int port_;
  const std::string prefix_;  // "" or "/path", no trailing '/'
  const std::string url_;
  std::atomic<int64_t> handles_{0};
};

Result<std::unique_ptr<OrchestratorClient>> OrchestratorClient::Create(
    const OrchestratorClientOptions& options) {
  EVOLVE_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(options.url, "orchestrator", 8400));
  if (options.connect_timeout.count() <= 0 || options.request_timeout.count() <= 0) {
    return InvalidArgumentError("orchestrator client: timeouts must be positive");
  }
  if (options.claim_wait.count() < 0 ||
      options.claim_wait > std::chrono::duration<double>(kMaxClaimWaitSeconds)) {
    return InvalidArgumentError("orchestrator client: claim_wait must be in [0, " +
                                std::to_string(static_cast<int>(kMaxClaimWaitSeconds)) + "] seconds");
  }
  return std::unique_ptr<OrchestratorClient>(
      new OrchestratorClient(std::make_unique<Impl>(options, url.host, url.port, url.prefix, url.url)));
}

OrchestratorClient::OrchestratorClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OrchestratorClient::~OrchestratorClient() = default;

const std::string& OrchestratorClient::url() const { return impl_->url(); }

// ------------------------------------------------------------------ queue

Result<std::vector<Job>> OrchestratorClient::ClaimJobs(const ClaimHolder& holder, int max_jobs,
                                                       Duration lease, JobKinds kinds) {
  // The worker protocol hands out simulations only: a worker that reaches
  // the orchestrator over HTTP cannot write the store's artifacts a
  // training job writes. A claim for training alone finds nothing.
  if (!kinds.Has(JobKind::kSimulate)) return std::vector<Job>{};
  const int n = std::min(max_jobs, kMaxJobsPerRequest);
  const std::chrono::milliseconds wait = impl_->claim_wait();
  std::string body = "{\"worker_id\":" + JsonQuote(holder.worker_id) + ",\"max_jobs\":" + std::to_string(n) +
                     ",\"lease_seconds\":" + Seconds(lease) +
                     ",\"protocol\":" + std::to_string(kWorkerProtocolVersion);
  if (wait.count() > 0) body += ",\"wait_seconds\":" + Seconds(wait);
  body += "}";
  rapidjson::Document doc;
  if (Status s = impl_->Call("POST", kClaimPath, body, &doc, wait); !s.ok()) {
    // No such route: not an `evolve serve`, or one without the worker
    // protocol. Retrying would not help.
    if (s.code() == StatusCode::kNotFound) {
      return FailedPreconditionError(s.message() + " (is this an `evolve serve` with the worker protocol?)");
    }
    return s;
  }
  auto jobs = doc.FindMember("jobs");
  if (jobs == doc.MemberEnd() || !jobs->value.IsArray()) {
    return InternalError("orchestrator " + url() + ": POST /jobs/claim: the reply has no \"jobs\" array");
  }
  std::string token;
  if (auto t = doc.FindMember("claim_token"); t != doc.MemberEnd() && t->value.IsString()) {
    token = t->value.GetString();
  } else if (!jobs->value.Empty()) {
    // A server of protocol 1 only: its claims are fenced by the worker id.
    Log(LogLevel::kDebug, "the orchestrator's claim has no claim token (worker protocol 1)");
  }
  std::vector<Job> out;
  for (const rapidjson::Value& v : jobs->value.GetArray()) {
    const std::string text = Serialize(v);
    auto job = JobFromJson(text);
    if (!job.ok()) {
      // Its lease will run out and the orchestrator will hand it out again.
      return InternalError("orchestrator " + url() +
                           ": POST /jobs/claim: a claimed job does not parse: " + job.status().message());
    }
    job->claim_token = token;
    out.push_back(std::move(*job));
  }
  return out;
}

Status OrchestratorClient::HeartbeatJob(const std::string& job_id, const ClaimHolder& holder,
                                        Duration lease) {
  const std::string body = "{\"worker_id\":" + JsonQuote(holder.worker_id) +
                           ",\"lease_seconds\":" + Seconds(lease) + TokenField(holder) + "}";
  return impl_->Call("POST", JobPath(job_id, kHeartbeat), body, nullptr);
}

Status OrchestratorClient::CompleteJob(const std::string& job_id, const ClaimHolder& holder,
                                       const SimulationResult& result) {
  JobOutcome outcome;
  outcome.result = result;
  outcome.claim_token = holder.claim_token;
  return impl_->Call("POST", JobPath(job_id, kComplete),
                     "{\"worker_id\":" + JsonQuote(holder.worker_id) + "," + OutcomeFields(outcome) + "}",
                     nullptr);
}

Status OrchestratorClient::FailJob(const std::string& job_id, const ClaimHolder& holder,
                                   const std::string& error, bool retryable) {
  JobOutcome outcome;
  outcome.error = error;
  outcome.retryable = retryable;
  outcome.claim_token = holder.claim_token;
  return impl_->Call("POST", JobPath(job_id, kComplete),
                     "{\"worker_id\":" + JsonQuote(holder.worker_id) + "," + OutcomeFields(outcome) + "}",
                     nullptr);
}

Result<std::vector<Status>> OrchestratorClient::FinishJobs(const std::string& worker_id,
                                                           const std::vector<JobOutcome>& outcomes) {
  std::vector<Status> statuses;
  for (size_t start = 0; start < outcomes.size(); start += kMaxJobsPerRequest) {
    const size_t end = std::min(outcomes.size(), start + kMaxJobsPerRequest);
    std::string body = "{\"worker_id\":" + JsonQuote(worker_id) + ",\"outcomes\":[";
    for (size_t i = start; i < end; ++i) {
      if (i > start) body += ',';
      body += "{\"job_id\":" + JsonQuote(outcomes[i].job_id) + "," + OutcomeFields(outcomes[i]) + "}";
    }
    body += "]}";
    rapidjson::Document doc;
    Status s = impl_->Call("POST", kFinishPath, body, &doc);
    if (!s.ok()) {
      // The earlier requests were written: report this one's outcomes as
      // failed rather than the whole call.
      if (start == 0) return s;
      for (size_t i = start; i < outcomes.size(); ++i) statuses.push_back(s);
      return statuses;
    }
    auto results = doc.FindMember("results");
    if (results == doc.MemberEnd() || !results->value.IsArray() || results->value.Size() != end - start) {
      return InternalError("orchestrator " + url() +
                           ": POST /jobs/finish: the reply's \"results\" do not match the " +
                           std::to_string(end - start) + " outcomes sent");
    }
    for (const rapidjson::Value& r : results->value.GetArray()) {
      if (!r.IsObject()) {
        statuses.push_back(InternalError("orchestrator: POST /jobs/finish: a result is not an object"));
        continue;
      }
      auto error = r.FindMember("error");
      if (error == r.MemberEnd() || !error->value.IsObject()) {
        statuses.push_back(Status::Ok());
        continue;
      }
      // An outcome's error is the Status the store gave it (error_reply.h).
      auto code = error->value.FindMember("code");
      auto message = error->value.FindMember("message");
      const bool named = code != error->value.MemberEnd() && code->value.IsString();
      statuses.emplace_back(
          StatusCodeNamed(named ? code->value.GetString() : "").value_or(StatusCode::kInternal),
          "orchestrator " + url() + ": " +
              (message != error->value.MemberEnd() && message->value.IsString() ? message->value.GetString()
                                                                                : Serialize(error->value)));
    }
  }
  return statuses;
}

Status OrchestratorClient::ReleaseJob(const std::string& job_id, const ClaimHolder& holder) {
  return impl_->Call("POST", JobPath(job_id, kRelease),
                     "{\"worker_id\":" + JsonQuote(holder.worker_id) + TokenField(holder) + "}", nullptr);
}

int64_t OrchestratorClient::Subscribe(std::function<void(const QueueEvent&)>) { return impl_->NextHandle(); }
void OrchestratorClient::Unsubscribe(int64_t) {}

// --------------------------------------------------------------- registry

Status OrchestratorClient::RegisterWorker(const WorkerInfo& worker) {
  const std::string body = "{\"id\":" + JsonQuote(worker.id) + ",\"host\":" + JsonQuote(worker.host) +
                           ",\"pid\":" + std::to_string(worker.pid) + "}";
  return impl_->Call("POST", kRegisterPath, body, nullptr);
}

Status OrchestratorClient::WorkerHeartbeat(const std::string& worker_id,
                                           const std::vector<std::string>& current_jobs) {
  return impl_->Call("POST", WorkerPath(worker_id, kHeartbeat),
                     "{\"current_jobs\":" + ToJson(current_jobs) + "}", nullptr);
}

Status OrchestratorClient::DeregisterWorker(const std::string& worker_id) {
  return impl_->Call("POST", WorkerPath(worker_id, kDeregister), "{}", nullptr);
}

Result<std::vector<WorkerInfo>> OrchestratorClient::ListWorkers() {
  rapidjson::Document doc;
  EVOLVE_RETURN_IF_ERROR(impl_->Call("GET", kWorkersPath, "", &doc));
  auto workers = doc.FindMember("workers");
  if (workers == doc.MemberEnd() || !workers->value.IsArray()) {
    return InternalError("orchestrator " + url() + ": GET /workers: the reply has no \"workers\" array");
  }
  std::vector<WorkerInfo> out;
  for (rapidjson::Value& v : workers->value.GetArray()) {
    if (v.IsObject()) v.RemoveMember("live");  // derived by the orchestrator; not a WorkerInfo field
    auto info = WorkerInfoFromJson(Serialize(v));
    if (!info.ok()) {
      return InternalError("orchestrator " + url() + ": GET /workers: " + info.status().message());
    }
    out.push_back(std::move(*info));
  }
  return out;
}

// -------------------------------------------------------------- artifacts

Status OrchestratorClient::PutArtifact(const std::string&, const std::string&) {
  return FailedPreconditionError("OrchestratorClient::PutArtifact: the worker protocol of " + url() +
                                 " has no upload; a remote worker only reads artifacts");
}

Result<std::string> OrchestratorClient::GetArtifact(const std::string& key) {
  if (key.empty()) return InvalidArgumentError("GetArtifact: the key must not be empty");
  const std::string path = ArtifactPath(key);
  EVOLVE_ASSIGN_OR_RETURN(Reply reply, impl_->Send("GET", path, ""));
  EVOLVE_RETURN_IF_ERROR(impl_->StatusOf(reply, "GET", path));
  return std::move(reply.body);
}

}  // namespace evolve::http
