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
    {StatusCode::kResourceExhausted, 429, "resource_exhausted"},
    {StatusCode::kInternal, 500, "internal"},  // last: the fallback
};

const Mapping& MappingOf(StatusCode code) {
  for (const Mapping& m : kMappings) {
    if (m.code == code) return m;
  }
  return kMappings[std::size(kMappings) - 1];  // kInternal
}

// The length of the well-formed UTF-8 sequence at s[i] (Unicode 15, table
// 3-7: no overlong forms, no surrogates, nothing above U+10FFFF); 0 when
// none starts there.
size_t SequenceAt(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b = byte(i);
  if (b < 0x80) return 1;
  size_t length;
  unsigned char low = 0x80, high = 0xBF;  // the second byte's range
  if (b >= 0xC2 && b <= 0xDF) {
    length = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    length = 3;
    if (b == 0xE0) low = 0xA0;
    if (b == 0xED) high = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    length = 4;
    if (b == 0xF0) low = 0x90;
    if (b == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return length;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = SequenceAt(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

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
  // Messages and details echo what a client sent (a path, a field name),
  // which need not be UTF-8; the reply must be (RFC 8259 §8.1).
  const auto quote = [](std::string_view text) { return JsonQuote(ValidUtf8(text)); };
  std::string body =
      "{\"error\":{\"code\":" + quote(code) + ",\"message\":" + quote(message) + ",\"details\":[";
  for (size_t i = 0; i < details.size(); ++i) {
    if (i > 0) body += ',';
    body += "{\"field\":" + quote(details[i].field) + ",\"message\":" + quote(details[i].message) + "}";
  }
  return body + "]}}";
}

ErrorBody ParseErrorJson(std::string_view body) {
  ErrorBody out;
  rapidjson::Document doc;
  // Iterative: a reply nested 100,000 deep must not overflow the client's
  // stack (only two levels are ever looked at).
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
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
