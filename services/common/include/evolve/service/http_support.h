// What the services add to evolve::http's HttpServer: query parameters
// read the services' way, the address they listen on, and their request
// metrics.
#ifndef EVOLVE_SERVICE_HTTP_SUPPORT_H_
#define EVOLVE_SERVICE_HTTP_SUPPORT_H_

#include <cstddef>
#include <string>

#include "evolve/http/http_server.h"
#include "evolve/service/metrics.h"
#include "evolve/status.h"

namespace evolve::service {

// Query parameter `name`: an integer in [min, max], `fallback` when absent.
// Errors: kInvalidArgument naming the parameter.
Result<int> QueryInt(const http::Request& req, const char* name, int fallback, int min, int max);

// The request's limit (default 50, 1..1000) and offset (>= 0).
struct Page {
  int limit = 50;
  int offset = 0;
};
Result<Page> QueryPage(const http::Request& req);

// 127.0.0.0/8, ::1 and localhost.
bool IsLoopback(const std::string& host);

// "http://host:port", an IPv6 host in brackets.
std::string ListenUrl(const std::string& host, int port);

// Server options that count every request in `metrics` (by route pattern
// and status); `metrics` must outlive the server.
http::ServerOptions CountedServerOptions(size_t max_body, int threads, std::string token, Metrics& metrics);

}  // namespace evolve::service

#endif  // EVOLVE_SERVICE_HTTP_SUPPORT_H_
