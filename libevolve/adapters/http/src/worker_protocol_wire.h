// What both sides of the worker protocol write the same way: the paths the
// client requests and the patterns the server routes, and an outcome's
// fields. Private to evolve::http.
#ifndef EVOLVE_HTTP_SRC_WORKER_PROTOCOL_WIRE_H_
#define EVOLVE_HTTP_SRC_WORKER_PROTOCOL_WIRE_H_

#include <string>

#include "evolve/json.h"
#include "evolve/store.h"
#include "http_url.h"

namespace evolve::http::internal {

inline constexpr char kClaimPath[] = "/jobs/claim";
inline constexpr char kFinishPath[] = "/jobs/finish";
inline constexpr char kWorkersPath[] = "/workers";
inline constexpr char kRegisterPath[] = "/workers/register";
inline constexpr char kProtocolPath[] = "/workers/protocol";

// What may be done to one job (/jobs/{id}/<action>) or one worker
// (/workers/{id}/<action>).
inline constexpr char kHeartbeat[] = "heartbeat";
inline constexpr char kComplete[] = "complete";
inline constexpr char kRelease[] = "release";
inline constexpr char kDeregister[] = "deregister";

inline std::string JobPath(const std::string& job_id, const char* action) {
  return "/jobs/" + PercentEncode(job_id) + "/" + action;
}
inline std::string JobPattern(const char* action) { return std::string("/jobs/([^/]+)/") + action; }

inline std::string WorkerPath(const std::string& worker_id, const char* action) {
  return "/workers/" + PercentEncode(worker_id) + "/" + action;
}
inline std::string WorkerPattern(const char* action) { return std::string("/workers/([^/]+)/") + action; }

// The key may span several path segments ("model/<id>").
inline std::string ArtifactPath(const std::string& key) { return "/artifacts/" + PercentEncode(key, true); }
inline constexpr char kArtifactPattern[] = "/artifacts/(.+)";

// `"success":true,"result":{...}` or `"success":false,"error":"...",
// "retryable":b`: an outcome's fields in the body of /jobs/{id}/complete
// and in each element of /jobs/finish's outcomes.
// With the outcome's claim_token when it has one (protocol 2).
inline std::string OutcomeFields(const JobOutcome& outcome) {
  const std::string token =
      outcome.claim_token.empty() ? std::string() : ",\"claim_token\":" + JsonQuote(outcome.claim_token);
  if (outcome.result.has_value()) return "\"success\":true,\"result\":" + ToJson(*outcome.result) + token;
  return "\"success\":false,\"error\":" + JsonQuote(outcome.error) +
         ",\"retryable\":" + (outcome.retryable ? "true" : "false") + token;
}

}  // namespace evolve::http::internal

#endif  // EVOLVE_HTTP_SRC_WORKER_PROTOCOL_WIRE_H_
