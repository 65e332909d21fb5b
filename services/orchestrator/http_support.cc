#include "http_support.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <exception>

#include "evolve/log.h"
#include "json_text.h"

namespace evolve::cli {

int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAborted:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

const char* ErrorCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kAborted:
      return "conflict";
    case StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case StatusCode::kAlreadyExists:
      return "already_exists";
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return "unavailable";
    default:
      return "internal";
  }
}

void SendJson(httplib::Response& res, int http_status, const std::string& body) {
  res.status = http_status;
  res.set_content(body, "application/json");
}

void SendError(httplib::Response& res, int http_status, const std::string& code, const std::string& message,
               const std::vector<FieldError>& details) {
  std::string body = "{\"error\":{\"code\":" + JsonQuote(code) + ",\"message\":" + JsonQuote(message) +
                     ",\"details\":[";
  for (size_t i = 0; i < details.size(); ++i) {
    if (i > 0) body += ',';
    body += "{\"field\":" + JsonQuote(details[i].field) + ",\"message\":" + JsonQuote(details[i].message) + "}";
  }
  body += "]}}";
  SendJson(res, http_status, body);
}

void SendStatus(httplib::Response& res, const Status& status) {
  SendError(res, HttpStatusFor(status), ErrorCodeFor(status), status.message());
}

// ---------------------------------------------------------------------------
// JsonBody

struct JsonBody::Doc {
  rapidjson::Document doc;
  bool is_object = false;
};

namespace {

std::string TypeName(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "a boolean";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsArray()) return "an array";
  return "an object";
}

}  // namespace

JsonBody::JsonBody(const std::string& body, std::vector<std::string> allowed) : doc_(std::make_unique<Doc>()) {
  if (body.empty()) {
    errors_.push_back({"", "the request body must be a JSON object (it is empty)"});
    return;
  }
  doc_->doc.Parse<rapidjson::kParseFullPrecisionFlag>(body.data(), body.size());
  if (doc_->doc.HasParseError()) {
    errors_.push_back({"", std::string("malformed JSON at offset ") + std::to_string(doc_->doc.GetErrorOffset()) +
                               ": " + rapidjson::GetParseError_En(doc_->doc.GetParseError())});
    return;
  }
  if (!doc_->doc.IsObject()) {
    errors_.push_back({"", "the request body must be a JSON object, not " + TypeName(doc_->doc)});
    return;
  }
  doc_->is_object = true;
  for (auto it = doc_->doc.MemberBegin(); it != doc_->doc.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) errors_.push_back({name, "unknown field"});
  }
}

JsonBody::~JsonBody() = default;

void JsonBody::AddError(const std::string& field, const std::string& message) { errors_.push_back({field, message}); }

bool JsonBody::SendErrors(httplib::Response& res) const {
  if (errors_.empty()) return false;
  std::string message;
  for (const FieldError& e : errors_) {
    if (!message.empty()) message += "; ";
    message += e.field.empty() ? e.message : e.field + ": " + e.message;
  }
  SendError(res, 400, "invalid_argument", message, errors_);
  return true;
}

namespace {

// The member `name` of `doc`, or null (missing or JSON null). Reports a
// missing required field.
const rapidjson::Value* Member(const rapidjson::Document& doc, bool is_object, const char* name, bool required,
                               std::vector<FieldError>& errors) {
  if (!is_object) return nullptr;
  auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || it->value.IsNull()) {
    if (required) errors.push_back({name, "is required"});
    return nullptr;
  }
  return &it->value;
}

}  // namespace

std::optional<std::string> JsonBody::String(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsString()) {
    errors_.push_back({name, "must be a string, not " + TypeName(*v)});
    return std::nullopt;
  }
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<int64_t> JsonBody::Int(const char* name, int64_t min, int64_t max, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsInt64()) {
    errors_.push_back({name, "must be an integer, not " + (v->IsNumber() ? JsonText(*v) : TypeName(*v))});
    return std::nullopt;
  }
  const int64_t n = v->GetInt64();
  if (n < min || n > max) {
    errors_.push_back(
        {name, "must be in [" + std::to_string(min) + ", " + std::to_string(max) + "], got " + std::to_string(n)});
    return std::nullopt;
  }
  return n;
}

std::optional<double> JsonBody::Number(const char* name, double min, double max, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsNumber()) {
    errors_.push_back({name, "must be a number, not " + TypeName(*v)});
    return std::nullopt;
  }
  const double d = v->GetDouble();
  if (!(d >= min && d <= max)) {
    errors_.push_back({name, "must be in [" + JsonText(rapidjson::Value(min)) + ", " +
                                 JsonText(rapidjson::Value(max)) + "], got " + JsonText(*v)});
    return std::nullopt;
  }
  return d;
}

std::optional<bool> JsonBody::Bool(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsBool()) {
    errors_.push_back({name, "must be true or false, not " + TypeName(*v)});
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<std::string> JsonBody::Raw(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  return JsonText(*v);
}

std::optional<std::vector<std::string>> JsonBody::Array(const char* name, bool required) {
  const rapidjson::Value* v = Member(doc_->doc, doc_->is_object, name, required, errors_);
  if (v == nullptr) return std::nullopt;
  if (!v->IsArray()) {
    errors_.push_back({name, "must be an array, not " + TypeName(*v)});
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const rapidjson::Value& e : v->GetArray()) out.push_back(JsonText(e));
  return out;
}

// ---------------------------------------------------------------------------
// Query parameters

Result<int> QueryInt(const httplib::Request& req, const char* name, int fallback, int min, int max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgumentError(std::string(name) + ": must be an integer in " + range + ", got '" + text + "'");
  }
  const long long v = std::stoll(text);
  if (v < min || v > max) {
    return InvalidArgumentError(std::string(name) + ": must be in " + range + ", got " + text);
  }
  return static_cast<int>(v);
}

Result<Page> QueryPage(const httplib::Request& req) {
  Page page;
  EVOLVE_ASSIGN_OR_RETURN(page.limit, QueryInt(req, "limit", 50, 1, 1000));
  EVOLVE_ASSIGN_OR_RETURN(page.offset, QueryInt(req, "offset", 0, 0, 1000000000));
  return page;
}

// ---------------------------------------------------------------------------
// Auth

bool BearerMatches(const std::string& header, const std::string& token) {
  static const std::string kPrefix = "Bearer ";
  if (token.empty() || header.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  // Digests of equal length, compared with CRYPTO_memcmp: the time taken
  // says nothing about the token's length or where a guess goes wrong.
  unsigned char given[SHA256_DIGEST_LENGTH];
  unsigned char expected[SHA256_DIGEST_LENGTH];
  const std::string candidate = header.substr(kPrefix.size());
  SHA256(reinterpret_cast<const unsigned char*>(candidate.data()), candidate.size(), given);
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), expected);
  return CRYPTO_memcmp(given, expected, SHA256_DIGEST_LENGTH) == 0;
}

// ---------------------------------------------------------------------------
// Server policies

bool HttpServer::WidenListenBacklog(int backlog) {
  const socket_t sock = svr_sock_;
  return sock != INVALID_SOCKET && ::listen(sock, backlog) == 0;
}

void ApplyServerPolicies(httplib::Server& server, const ServerPolicies& policies) {
  const size_t max_body = policies.max_body;
  const size_t threads = static_cast<size_t>(std::max(1, policies.threads));
  server.set_payload_max_length(max_body);
  server.set_read_timeout(30);
  server.set_write_timeout(60);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // A keep-alive connection holds a server thread until it has been idle
  // for 5 s (httplib's default) or served this many requests.
  server.set_keep_alive_max_count(1000);
  server.set_tcp_nodelay(true);
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  // `curl -X POST .../runs/ID/stop` sends neither a body nor Content-Length,
  // which httplib would answer with 400 before any route is chosen. The
  // pre-routing handler runs before the body is read, on the server's own
  // (non-const) Request: say the body is empty.
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
    if (req.method == "POST" && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
      const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  server.set_error_handler([max_body](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own error reply
    switch (res.status) {
      case 404:
        SendError(res, 404, "not_found", "no such endpoint: " + req.method + " " + req.path);
        break;
      case 413:
        SendError(res, 413, "payload_too_large",
                  "the request body is larger than " + std::to_string(max_body) + " bytes");
        break;
      case 400:
        SendError(res, 400, "bad_request", "malformed HTTP request");
        break;
      default:
        SendError(res, res.status, "http_" + std::to_string(res.status), "the request could not be served");
    }
  });
}

// ---------------------------------------------------------------------------
// Router

Router::Router(httplib::Server& server, std::string token, Metrics& metrics)
    : server_(server), token_(std::move(token)), metrics_(metrics) {}

void Router::Get(const std::string& pattern, Access access, Handler handler) {
  server_.Get(pattern, Wrap("GET", pattern, access, std::move(handler)));
}

void Router::Post(const std::string& pattern, Access access, Handler handler) {
  server_.Post(pattern, Wrap("POST", pattern, access, std::move(handler)));
}

Router::Handler Router::Wrap(const std::string& method, const std::string& pattern, Access access,
                             Handler handler) {
  return [this, method, pattern, access, handler = std::move(handler)](const httplib::Request& req,
                                                                       httplib::Response& res) {
    const auto start = std::chrono::steady_clock::now();
    if (access == Access::kProtected && !token_.empty() &&
        !BearerMatches(req.get_header_value("Authorization"), token_)) {
      res.set_header("WWW-Authenticate", "Bearer");
      SendError(res, 401, "unauthorized",
                req.has_header("Authorization") ? "the bearer token is not valid"
                                                : "this endpoint requires Authorization: Bearer <token>");
    } else {
      try {
        handler(req, res);
      } catch (const std::exception& e) {
        SendError(res, 500, "internal", std::string("internal error: ") + e.what());
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.ObserveRequest(method, pattern, res.status, seconds);
    // Reads and the worker protocol (claims and heartbeats every second or
    // so per worker) at DEBUG; what users do at INFO; server errors louder.
    const bool worker_protocol = pattern.rfind("/jobs", 0) == 0 || pattern.rfind("/workers", 0) == 0 ||
                                 pattern.rfind("/artifacts", 0) == 0;
    const LogLevel level = res.status >= 500                        ? LogLevel::kWarning
                           : method == "GET" || worker_protocol ? LogLevel::kDebug
                                                                : LogLevel::kInfo;
    if (level >= GetLogLevel()) {
      Log(level, "request",
          {{"method", method},
           {"path", req.path},
           {"status", std::to_string(res.status)},
           {"ms", std::to_string(seconds * 1000.0)},
           {"remote", req.remote_addr}});
    }
  };
}

}  // namespace evolve::cli
