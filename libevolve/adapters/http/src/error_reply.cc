#include "evolve/http/error_reply.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <iterator>

#include "evolve/canonical_json.h"

namespace evolve::http {
namespace {

// One row per StatusCode: the only place the mapping is written.
struct Mapping {
  StatusCode code;
  int http_status;
  const char* name;
};

constexpr Mapping kMappings[] = {
    {StatusCode::kOk, 200, "ok"},
    {StatusCode::kInvalidArgument, 400, "invalid_argument"},
    {StatusCode::kNotFound, 404, "not_found"},
    {StatusCode::kAlreadyExists, 409, "already_exists"},
    {StatusCode::kFailedPrecondition, 409, "failed_precondition"},
    {StatusCode::kAborted, 409, "conflict"},
    {StatusCode::kUnavailable, 503, "unavailable"},
    {StatusCode::kDeadlineExceeded, 503, "deadline_exceeded"},
    {StatusCode::kCancelled, 503, "cancelled"},
    {StatusCode::kInternal, 500, "internal"},
};

const Mapping& MappingOf(StatusCode code) {
  for (const Mapping& m : kMappings) {
    if (m.code == code) return m;
  }
  return kMappings[std::size(kMappings) - 1];  // kInternal
}

}  // namespace

int HttpStatusOf(StatusCode code) { return MappingOf(code).http_status; }

const char* ErrorCodeOf(StatusCode code) { return MappingOf(code).name; }

std::optional<StatusCode> StatusCodeNamed(std::string_view error_code) {
  for (const Mapping& m : kMappings) {
    if (m.code != StatusCode::kOk && error_code == m.name) return m.code;
  }
  return std::nullopt;
}

StatusCode StatusCodeOfReply(int http_status, std::string_view error_code) {
  if (std::optional<StatusCode> named = StatusCodeNamed(error_code)) return *named;
  switch (http_status) {
    case 400:
    case 413:
      return StatusCode::kInvalidArgument;
    case 401:
    case 403:
      return StatusCode::kFailedPrecondition;
    case 404:
      return StatusCode::kNotFound;
    case 409:
      return StatusCode::kAborted;
    default:
      return http_status >= 500 ? StatusCode::kUnavailable : StatusCode::kFailedPrecondition;
  }
}

std::string ErrorJson(std::string_view code, std::string_view message,
                      const std::vector<FieldError>& details) {
  std::string body =
      "{\"error\":{\"code\":" + JsonQuote(code) + ",\"message\":" + JsonQuote(message) + ",\"details\":[";
  for (size_t i = 0; i < details.size(); ++i) {
    if (i > 0) body += ',';
    body +=
        "{\"field\":" + JsonQuote(details[i].field) + ",\"message\":" + JsonQuote(details[i].message) + "}";
  }
  return body + "]}}";
}

ErrorBody ParseErrorJson(std::string_view body) {
  ErrorBody out;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto error = doc.FindMember("error");
    if (error != doc.MemberEnd() && error->value.IsObject()) {
      auto code = error->value.FindMember("code");
      if (code != error->value.MemberEnd() && code->value.IsString()) out.code = code->value.GetString();
      auto message = error->value.FindMember("message");
      if (message != error->value.MemberEnd() && message->value.IsString()) {
        out.message = message->value.GetString();
        return out;
      }
    }
  }
  out.message = std::string(body.substr(0, 200));
  std::replace(out.message.begin(), out.message.end(), '\n', ' ');
  if (out.message.empty()) out.message = "(no body)";
  return out;
}

}  // namespace evolve::http
