// What every endpoint of `evolve serve` shares: JSON replies and errors,
// strict request bodies and query parameters, bearer-token checks in
// constant time, and a router that applies auth, metrics and logging to
// each route in one place.
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_HTTP_SUPPORT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_HTTP_SUPPORT_H_

#include <httplib.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "evolve/json.h"
#include "evolve/status.h"
#include "metrics.h"

namespace evolve::cli {

// The HTTP status for a Status: 400 kInvalidArgument, 404 kNotFound, 409
// kAborted / kFailedPrecondition / kAlreadyExists, 503 kUnavailable /
// kDeadlineExceeded, 500 otherwise.
int HttpStatusFor(const Status& status);
// The error code string of the JSON error body ("invalid_argument", ...).
const char* ErrorCodeFor(const Status& status);

void SendJson(httplib::Response& res, int http_status, const std::string& body);
// {"error": {"code", "message", "details": [{"field", "message"}]}}.
void SendError(httplib::Response& res, int http_status, const std::string& code, const std::string& message,
               const std::vector<FieldError>& details = {});
void SendStatus(httplib::Response& res, const Status& status);

// A request's JSON body, parsed strictly: it must be one JSON object; each
// field is read with its expected type, and every problem (a malformed
// document, a wrong type, an unknown field, a missing required field) is
// collected with the field's name, so one 400 reply lists them all.
class JsonBody {
 public:
  // `allowed`: every field the endpoint knows; others are errors.
  JsonBody(const std::string& body, std::vector<std::string> allowed);
  ~JsonBody();
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  std::optional<std::string> String(const char* name, bool required = false);
  std::optional<int64_t> Int(const char* name, int64_t min, int64_t max, bool required = false);
  std::optional<double> Number(const char* name, double min, double max, bool required = false);
  std::optional<bool> Bool(const char* name, bool required = false);
  // The field's JSON text as written (any type), e.g. an object to parse
  // with the core's *FromJson.
  std::optional<std::string> Raw(const char* name, bool required = false);
  // An array's elements, each as JSON text.
  std::optional<std::vector<std::string>> Array(const char* name, bool required = false);

  void AddError(const std::string& field, const std::string& message);
  const std::vector<FieldError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }
  // Sends 400 with every error collected. Returns false when there was none.
  bool SendErrors(httplib::Response& res) const;

 private:
  struct Doc;
  std::unique_ptr<Doc> doc_;
  std::vector<FieldError> errors_;
};

// Query parameters: an integer in [min, max], `fallback` when absent.
// Errors: kInvalidArgument naming the parameter.
Result<int> QueryInt(const httplib::Request& req, const char* name, int fallback, int min, int max);
// The request's limit (default 50, 1..1000) and offset (>= 0).
struct Page {
  int limit = 50;
  int offset = 0;
};
Result<Page> QueryPage(const httplib::Request& req);

// True when `header` is "Bearer <token>" with exactly `token`, compared in
// time that does not depend on where they differ.
bool BearerMatches(const std::string& header, const std::string& token);

// What every HTTP server of ours does (evolve serve, evolve-engines): JSON
// bodies for the errors httplib answers itself (no route 404, body over
// `max_body` 413, malformed request 400); a POST without body or
// Content-Length (`curl -X POST URL`) read as an empty body; timeouts; a
// pool of `threads`; long keep-alive; TCP_NODELAY (a reply on a kept-alive
// connection otherwise waits ~40 ms for the client's delayed ACK); and an
// exclusive port: SO_REUSEADDR only, not httplib's SO_REUSEPORT, with which
// a second process would bind the same port and share its traffic.
// httplib::Server with a listen backlog that fits a service: Debian's
// libcpp-httplib is compiled with a backlog of 5, so a burst of new
// connections overflows the queue and clients retry after a second. Linux
// lets listen() be called again on a listening socket to change it.
class HttpServer final : public httplib::Server {
 public:
  // Call after bind_to_port / bind_to_any_port. Returns false if the
  // socket refused (the server still works, with the small backlog).
  bool WidenListenBacklog(int backlog);
};

struct ServerPolicies {
  size_t max_body = 1 << 20;
  int threads = 8;
};
void ApplyServerPolicies(httplib::Server& server, const ServerPolicies& policies);

// Routes with the service's policies. Protected routes require the bearer
// token when one is configured (401 otherwise). Every request is counted in
// the metrics by route pattern and status, and logged (DEBUG for reads and
// the worker protocol, INFO for other writes, WARNING for 5xx).
class Router {
 public:
  enum class Access { kPublic, kProtected };
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  Router(httplib::Server& server, std::string token, Metrics& metrics);

  void Get(const std::string& pattern, Access access, Handler handler);
  void Post(const std::string& pattern, Access access, Handler handler);

 private:
  Handler Wrap(const std::string& method, const std::string& pattern, Access access, Handler handler);

  httplib::Server& server_;
  const std::string token_;
  Metrics& metrics_;
};

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_HTTP_SUPPORT_H_
