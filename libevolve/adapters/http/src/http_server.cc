#include "evolve/http/http_server.h"

#include <httplib.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <mutex>
#include <regex>
#include <thread>

#include "evolve/fingerprint.h"  // Sha256Hex
#include "evolve/http/error_reply.h"
#include "evolve/log.h"

namespace evolve::http {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

Request ToRequest(const httplib::Request& req) {
  Request r;
  r.method = req.method;
  r.path = req.path;
  for (size_t i = 0; i < req.matches.size(); ++i) r.matches.push_back(req.matches[i].str());
  r.body = req.body;
  r.remote_addr = req.remote_addr;
  r.params.insert(req.params.begin(), req.params.end());
  r.headers.assign(req.headers.begin(), req.headers.end());
  return r;
}

void ToHttplib(Response&& r, httplib::Response& res) {
  res.status = r.status;
  for (auto& [name, value] : r.headers) res.set_header(name, value);
  if (!r.content_type.empty() || !r.body.empty()) {
    res.body = std::move(r.body);
    if (!r.content_type.empty()) res.set_header("Content-Type", r.content_type);
  }
}

// httplib::Server with a listen backlog that fits a service: Debian's
// libcpp-httplib is compiled with a backlog of 5, so a burst of new
// connections overflows the queue and clients retry after a second. Linux
// lets listen() be called again on a listening socket to change it.
class ListeningServer final : public httplib::Server {
 public:
  // After binding. False if the socket refused (the server still works,
  // with the small backlog).
  bool WidenListenBacklog(int backlog) {
    const socket_t sock = svr_sock_;
    return sock != INVALID_SOCKET && ::listen(sock, backlog) == 0;
  }
};

}  // namespace

const char* MethodName(Method method) { return method == Method::kGet ? "GET" : "POST"; }

// ---------------------------------------------------------------------------
// Request, Response

bool Request::HasParam(const std::string& name) const { return params.count(name) != 0; }

std::string Request::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

bool Request::HasHeader(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const auto& h) { return SameName(h.first, name); });
}

std::string Request::Header(std::string_view name) const {
  for (const auto& h : headers) {
    if (SameName(h.first, name)) return h.second;
  }
  return "";
}

void Response::SetContent(std::string content, std::string type) {
  body = std::move(content);
  content_type = std::move(type);
}

void Response::SetHeader(std::string name, std::string value) {
  headers.emplace_back(std::move(name), std::move(value));
}

void SendJson(Response& res, int http_status, std::string body) {
  res.status = http_status;
  res.SetContent(std::move(body), "application/json");
}

void SendError(Response& res, int http_status, std::string_view code, std::string_view message,
               const std::vector<FieldError>& details) {
  SendJson(res, http_status, ErrorJson(code, message, details));
}

void SendStatus(Response& res, const Status& status, const std::vector<FieldError>& details) {
  SendError(res, HttpStatusOf(status.code()), ErrorCodeOf(status.code()), status.message(), details);
}

bool BearerTokenMatches(std::string_view header, std::string_view token) {
  static constexpr std::string_view kPrefix = "Bearer ";
  if (token.empty() || header.substr(0, kPrefix.size()) != kPrefix) return false;
  // Digests of equal length, compared without an early exit: the time
  // taken says nothing about the token's length or where a guess goes wrong.
  const std::string given = Sha256Hex(header.substr(kPrefix.size()));
  const std::string expected = Sha256Hex(token);
  unsigned char differ = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    differ |= static_cast<unsigned char>(given[i] ^ expected[i]);
  }
  return differ == 0;
}

// ---------------------------------------------------------------------------
// HttpServer

class HttpServer::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {
    const size_t max_body = options_.max_body;
    const size_t threads = static_cast<size_t>(std::max(1, options_.threads));
    server_.set_payload_max_length(max_body);
    server_.set_read_timeout(30);
    server_.set_write_timeout(60);
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    // A keep-alive connection holds a server thread until it has been idle
    // for 5 s (httplib's default) or served this many requests.
    server_.set_keep_alive_max_count(1000);
    // A reply on a kept-alive connection otherwise waits ~40 ms for the
    // client's delayed ACK.
    server_.set_tcp_nodelay(true);
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    // `curl -X POST .../runs/ID/stop` sends neither a body nor
    // Content-Length, which httplib would answer with 400 before any route
    // is chosen. The pre-routing handler runs before the body is read, on
    // the server's own (non-const) Request: say the body is empty.
    server_.set_pre_routing_handler([](const httplib::Request& req, httplib::Response&) {
      if (req.method == "POST" && !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) {
        const_cast<httplib::Request&>(req).headers.emplace("Content-Length", "0");
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    server_.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a handler's own error reply
      Response out;
      ReplyUnrouted(req, res.status, out);
      ToHttplib(std::move(out), res);
    });
  }

  ~Impl() { server_.stop(); }

  void Add(Route route) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      known_.push_back({route.method, std::regex(route.pattern)});
    }
    const std::string pattern = route.pattern;
    if (route.method == Method::kGet) {
      server_.Get(pattern, Wrap(std::move(route)));
    } else {
      server_.Post(pattern, Wrap(std::move(route)));
    }
  }

  Result<int> Bind(const std::string& host, int port) {
    const int bound =
        port == 0 ? server_.bind_to_any_port(host) : (server_.bind_to_port(host, port) ? port : -1);
    if (bound <= 0) {
      return UnavailableError("cannot listen on " + host + ":" + std::to_string(port) +
                              " (address in use, or not an address of this host)");
    }
    if (!server_.WidenListenBacklog(128)) Log(LogLevel::kWarning, "could not widen the listen backlog");
    bound_ = true;
    return bound;
  }

  bool Serve() {
    serving_ = true;
    if (stop_requested_) {
      serving_ = false;
      return true;
    }
    const bool served = bound_ && server_.listen_after_bind();
    serving_ = false;
    return served || stop_requested_;
  }

  void Stop() {
    stop_requested_ = true;
    // A Serve() that has not begun to listen yet would not see httplib's
    // stop(): wait until it listens (or gave up).
    while (serving_ && !server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_.stop();
  }

  bool running() const { return server_.is_running(); }

 private:
  struct Known {
    Method method;
    std::regex pattern;
  };

  // The reply to a request no route served: httplib's `status` with a JSON
  // body; a 404 for a path that a route of another method takes is a 405.
  void ReplyUnrouted(const httplib::Request& req, int status, Response& out) {
    if (status == 404) {
      const std::string allowed = AllowedMethods(req.path);
      if (!allowed.empty()) {
        out.SetHeader("Allow", allowed);
        return SendError(out, 405, "method_not_allowed",
                         req.method + " " + req.path + ": this endpoint takes " + allowed);
      }
      return SendError(out, 404, "not_found", "no such endpoint: " + req.method + " " + req.path);
    }
    if (status == 413) {
      return SendError(out, 413, "payload_too_large",
                       "the request body is larger than " + std::to_string(options_.max_body) + " bytes");
    }
    if (status == 400) return SendError(out, 400, "bad_request", "malformed HTTP request");
    SendError(out, status, "http_" + std::to_string(status), "the request could not be served");
  }

  // "GET, POST": the methods of the routes whose pattern matches `path`.
  std::string AllowedMethods(const std::string& path) {
    bool get = false, post = false;
    std::lock_guard<std::mutex> lock(mu_);
    for (const Known& k : known_) {
      if (!std::regex_match(path, k.pattern)) continue;
      (k.method == Method::kGet ? get : post) = true;
    }
    if (get && post) return "GET, POST";
    return get ? "GET" : post ? "POST" : "";
  }

  httplib::Server::Handler Wrap(Route route) {
    return [this, route = std::move(route)](const httplib::Request& raw, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      const Request req = ToRequest(raw);
      Response out;
      if (route.access == Access::kProtected && !options_.token.empty() &&
          !BearerTokenMatches(req.Header("Authorization"), options_.token)) {
        out.SetHeader("WWW-Authenticate", "Bearer");
        SendError(out, 401, "unauthorized",
                  req.HasHeader("Authorization") ? "the bearer token is not valid"
                                                 : "this endpoint requires Authorization: Bearer <token>");
      } else {
        try {
          route.handler(req, out);
        } catch (const std::exception& e) {
          out = Response{};
          SendError(out, 500, "internal", std::string("internal error: ") + e.what());
        }
      }
      const int status = out.status;
      ToHttplib(std::move(out), res);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (options_.on_request) options_.on_request(req, route.pattern, status, seconds);
      // Reads and frequent calls (claims and heartbeats every second or so
      // per worker) at DEBUG; what users do at INFO; server errors louder.
      const LogLevel level = status >= 500                                    ? LogLevel::kWarning
                             : route.method == Method::kGet || route.frequent ? LogLevel::kDebug
                                                                              : LogLevel::kInfo;
      if (level >= GetLogLevel()) {
        Log(level, "request",
            {{"method", req.method},
             {"path", req.path},
             {"status", std::to_string(status)},
             {"ms", std::to_string(seconds * 1000.0)},
             {"remote", req.remote_addr}});
      }
    };
  }

  const ServerOptions options_;
  ListeningServer server_;
  std::mutex mu_;
  std::vector<Known> known_;  // guarded by mu_
  bool bound_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> serving_{false};
};

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;

void HttpServer::Add(Route route) { impl_->Add(std::move(route)); }

void HttpServer::Add(std::vector<Route> routes) {
  for (Route& r : routes) impl_->Add(std::move(r));
}

Result<int> HttpServer::Bind(const std::string& host, int port) { return impl_->Bind(host, port); }
bool HttpServer::Serve() { return impl_->Serve(); }
void HttpServer::Stop() { impl_->Stop(); }
bool HttpServer::running() const { return impl_->running(); }

}  // namespace evolve::http
