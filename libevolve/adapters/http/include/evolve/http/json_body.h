// JsonBody: a request's JSON body, read strictly, for the handlers of an
// HttpServer.
//
// The body must be one JSON object (whatever the Content-Type header says);
// each field is read with its expected type, and every problem (a malformed
// document, a wrong type, a value out of range, an unknown field, a missing
// required field) is collected with the field's name, so one 400 reply
// lists them all: {"field": "max_jobs", "message": "must be in [1, 1000],
// got 0"}; nested fields as "result.sqn" and "outcomes[2].success".
//
// The document is read by one reader for every endpoint: iteratively (a
// body of 200,000 '[' cannot overflow the stack), nested at most
// kMaxJsonDepth levels (evolve/json.h: a deeper one is refused before it is
// parsed, since reading a value back recurses), valid UTF-8 only, no NaN or
// Infinity, no name twice.
//
// Thread-safety: a JsonBody is used by one thread.
#ifndef EVOLVE_HTTP_JSON_BODY_H_
#define EVOLVE_HTTP_JSON_BODY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "evolve/http/http_server.h"
#include "evolve/status.h"
#include "evolve/validation.h"

namespace evolve::http {

class JsonBody {
 public:
  // `allowed`: every field the endpoint knows; others are errors. An empty
  // `body` is an error (use EmptyOrObject for an optional body).
  JsonBody(const std::string& body, std::vector<std::string> allowed);
  ~JsonBody();
  JsonBody(const JsonBody&) = delete;
  JsonBody& operator=(const JsonBody&) = delete;

  // Each reads field `name`: nullopt when it is absent or null (an error
  // when `required`) or has a problem (recorded).
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
  // The errors of a nested parse (a *FromJson's, another JsonBody's), each
  // under `prefix`: "result" + "sqn" -> "result.sqn", "current_jobs" + "[1]"
  // -> "current_jobs[1]", "result" + "" -> "result".
  void AddNested(const std::string& prefix, const std::vector<FieldError>& errors);

  const std::vector<FieldError>& errors() const { return errors_; }
  bool ok() const { return errors_.empty(); }
  // kInvalidArgument "field: message; field: message" (OK when ok()).
  Status status() const;
  // Replies 400 invalid_argument with every error as a detail. Returns
  // false (and replies nothing) when there was none.
  bool SendErrors(Response& res) const;

  // A body that must be empty or a JSON object with no field at all
  // (POST /workers/{id}/deregister). Returns false after replying 400.
  static bool EmptyOrObject(const std::string& body, Response& res);

 private:
  struct Doc;
  std::unique_ptr<Doc> doc_;
  std::vector<FieldError> errors_;
};

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_JSON_BODY_H_
