#include "evolve/service/http_support.h"

#include <algorithm>
#include <utility>

namespace evolve::service {

Result<int> QueryInt(const http::Request& req, const char* name, int fallback, int min, int max) {
  if (!req.HasParam(name)) return fallback;
  const std::string text = req.Param(name);
  const std::string range = "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (text.empty() || text.size() > 10 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidArgumentError(std::string(name) + ": must be an integer in " + range + ", got '" + text +
                                "'");
  }
  const long long v = std::stoll(text);
  if (v < min || v > max) {
    return InvalidArgumentError(std::string(name) + ": must be in " + range + ", got " + text);
  }
  return static_cast<int>(v);
}

Result<Page> QueryPage(const http::Request& req) {
  Page page;
  EVOLVE_ASSIGN_OR_RETURN(page.limit, QueryInt(req, "limit", 50, 1, 1000));
  EVOLVE_ASSIGN_OR_RETURN(page.offset, QueryInt(req, "offset", 0, 0, 1000000000));
  return page;
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.compare(0, 4, "127.") == 0;
}

std::string ListenUrl(const std::string& host, int port) {
  return "http://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

http::ServerOptions CountedServerOptions(size_t max_body, int threads, std::string token, Metrics& metrics) {
  http::ServerOptions options;
  options.max_body = max_body;
  options.threads = threads;
  options.token = std::move(token);
  options.on_request = [&metrics](const http::Request& req, const std::string& pattern, int status,
                                  double seconds) {
    metrics.ObserveRequest(req.method, pattern, status, seconds);
  };
  return options;
}

}  // namespace evolve::service
