// How a Status travels over HTTP, both ways, written once for every server
// (HttpServer's routes: `evolve serve`, evolve-engines, the worker protocol)
// and for OrchestratorClient, which reads the replies back.
//
// A server sends a non-OK Status as the HTTP status HttpStatusOf(code) with
// the body ErrorJson(ErrorCodeOf(code), message):
//
//   StatusCode           HTTP  error.code
//   kInvalidArgument     400   invalid_argument
//   kNotFound            404   not_found
//   kAlreadyExists       409   already_exists
//   kFailedPrecondition  409   failed_precondition
//   kAborted             409   conflict
//   kUnavailable         503   unavailable
//   kDeadlineExceeded    503   deadline_exceeded
//   kCancelled           503   cancelled
//   kResourceExhausted   429   resource_exhausted
//   kInternal            500   internal
//
// A client reads it back with StatusCodeOfReply(http status, error.code):
// the code whose name error.code is, so every code comes back as it was sent
// (tests/integration/http_worker_protocol_test.cc sends each one through a
// server and a client). A reply whose error.code names no StatusCode did not
// come from a route's Status (the server's own 401, 404, 405 and 413, or a
// proxy's 502) and is read by its HTTP status alone: 400 and 413
// kInvalidArgument, 401 and 403 kFailedPrecondition, 404 kNotFound, 409
// kAborted, 5xx kUnavailable, anything else kFailedPrecondition.
//
// Thread-safety: all functions are pure.
#ifndef EVOLVE_HTTP_ERROR_REPLY_H_
#define EVOLVE_HTTP_ERROR_REPLY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evolve/status.h"
#include "evolve/validation.h"

namespace evolve::http {

// The HTTP status a Status with `code` is sent as (200 for kOk).
int HttpStatusOf(StatusCode code);

// The error.code a Status with `code` is sent as ("invalid_argument", ...;
// "ok" for kOk).
const char* ErrorCodeOf(StatusCode code);

// The StatusCode whose ErrorCodeOf is `error_code`; nullopt for another
// name (and for "ok").
std::optional<StatusCode> StatusCodeNamed(std::string_view error_code);

// What a client makes of an error reply (see above).
StatusCode StatusCodeOfReply(int http_status, std::string_view error_code);

// `text` with each byte that starts no well-formed UTF-8 sequence replaced
// by U+FFFD.
std::string ValidUtf8(std::string_view text);

// {"error": {"code": code, "message": message, "details": [{"field",
// "message"}, ...]}}: the body of every error reply. Always valid JSON and
// valid UTF-8: what is not UTF-8 in the texts becomes U+FFFD (ValidUtf8).
std::string ErrorJson(std::string_view code, std::string_view message,
                      const std::vector<FieldError>& details = {});

// The code and message of an error reply's body. Not ErrorJson's shape (a
// proxy's page): code "" and, as the message, the start of the body on one
// line ("(no body)" when empty).
struct ErrorBody {
  std::string code;
  std::string message;
};
ErrorBody ParseErrorJson(std::string_view body);

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_ERROR_REPLY_H_
