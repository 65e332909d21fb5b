// HttpServer: the HTTP server of every libevolve service (`evolve serve`,
// evolve-engines) and of an embedding program: routes with their access
// rule, and the policies every such server applies, in one place.
//
// Routes: a method, a pattern (a regular expression over the whole path;
// its groups are Request::matches[1..]), an access rule and a handler. A
// handler sees a Request and fills a Response; it never sees the HTTP
// library, so handlers can be tested without a network and no third-party
// type is in this header.
//
// What the server does for every route, so no handler has to:
//   - protected routes require "Authorization: Bearer <token>" (the scheme
//     in any case, RFC 7235 §2.1) when the server has a token: 401
//     {"error": {"code": "unauthorized"}} otherwise, decided before any of
//     the body is read. The token is compared in time that depends neither
//     on where a guess differs nor on its length (BearerTokenMatches);
//   - a handler that throws gets 500 {"error": {"code": "internal"}};
//   - every request is reported to ServerOptions::on_request (metrics) by
//     its route's pattern, and logged: DEBUG for reads and frequent routes
//     (Route::frequent: the worker protocol), INFO for other writes,
//     WARNING for 5xx.
// and for requests no handler takes, JSON error bodies (error_reply.h):
//   - 404 not_found for a path no route matches;
//   - 405 method_not_allowed, with an Allow header, for a path that a route
//     of another method matches;
//   - 413 payload_too_large for a body over ServerOptions::max_body,
//     chunked or not, refused while it is read (at most max_body bytes of
//     a request are ever held);
//   - 408 request_timeout for a request that did not arrive in time
//     (ServerOptions::header_seconds, request_seconds);
//   - 400 bad_request for a malformed HTTP request.
// A reply to a request whose body was not read (401, 404, 413, ...) or
// that timed out (408) has "Connection: close", and the connection is
// closed after a lingering read (at most 2 s and 4 MiB, discarded) so the
// client gets the reply rather than a reset.
// Besides: a POST without body or Content-Length (`curl -X POST URL`) is
// read as an empty body; read and write timeouts; a pool of
// ServerOptions::threads threads that grows to max_threads; keep-alive;
// TCP_NODELAY; a listen backlog of 128; an exclusive port (SO_REUSEADDR, not SO_REUSEPORT, with which a
// second process could bind the same port and share its traffic).
//
// Request bodies are not checked for their Content-Type: bodies are JSON
// whatever the header says (`curl -d` sends form-urlencoded).
//
// Thread-safety: Add() before Serve(), from one thread; Stop() from any
// thread, also before Serve() (which then returns at once); handlers run
// on the server's threads, concurrently.
#ifndef EVOLVE_HTTP_HTTP_SERVER_H_
#define EVOLVE_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evolve/status.h"
#include "evolve/validation.h"

namespace evolve::http {

enum class Method { kGet, kPost };
const char* MethodName(Method method);  // "GET", "POST"

enum class Access { kPublic, kProtected };

// A request as a route's handler sees it.
struct Request {
  std::string method;  // "GET", "POST"
  std::string path;    // without the query
  // [0] the whole path, [i] the i-th group of the route's pattern.
  std::vector<std::string> matches;
  std::string body;
  std::string remote_addr;
  std::multimap<std::string, std::string> params;            // the query, decoded
  std::vector<std::pair<std::string, std::string>> headers;  // as received

  bool HasParam(const std::string& name) const;
  // The first value of query parameter `name`; "" when absent.
  std::string Param(const std::string& name) const;
  // Header names in any case.
  bool HasHeader(std::string_view name) const;
  // The first value of header `name`; "" when absent.
  std::string Header(std::string_view name) const;

  // True once the client has closed its connection (or it broke) while the
  // handler runs: a handler that waits (a long-poll claim) stops waiting
  // and does nothing the client could no longer hear of. Always false for
  // a Request made without a server (tests of handlers).
  bool ClientGone() const { return client_gone ? client_gone() : false; }
  std::function<bool()> client_gone;  // set by HttpServer
};

struct Response {
  int status = 200;
  std::string body;
  std::string content_type;                                  // empty: no Content-Type (and no body)
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type

  void SetContent(std::string content, std::string type);
  void SetHeader(std::string name, std::string value);
};

// Replies. SendStatus maps the Status as error_reply.h says.
void SendJson(Response& res, int http_status, std::string body);
void SendError(Response& res, int http_status, std::string_view code, std::string_view message,
               const std::vector<FieldError>& details = {});
void SendStatus(Response& res, const Status& status, const std::vector<FieldError>& details = {});

using Handler = std::function<void(const Request& req, Response& res)>;

struct Route {
  Method method;
  std::string pattern;
  Access access;
  Handler handler;
  // Called by machines every second or so (the worker protocol): logged at
  // DEBUG like a read.
  bool frequent = false;
};

// A route whose handler is a plain function of a context, so a table of
// routes needs no lambda per route:
//
//   server.Add(ctx, {{Method::kGet, "/runs", Access::kPublic, &GetRuns},
//                    {Method::kPost, "/evolve", Access::kProtected, &PostEvolve}});
template <typename Context>
struct ContextRoute {
  Method method;
  std::string pattern;
  Access access;
  void (*handler)(Context& ctx, const Request& req, Response& res);
  bool frequent = false;
};

// True when `header` is "Bearer <token>" (the scheme in any case, then one
// or more spaces) with exactly `token` (never for an empty token), compared
// in time that depends on neither.
bool BearerTokenMatches(std::string_view header, std::string_view token);

struct ServerOptions {
  size_t max_body = 1 << 20;  // bytes; a larger body gets 413, chunked or not
  // Threads kept to serve connections; each open connection (keep-alive
  // ones included) holds one. More are started when every one is busy, up
  // to max_threads (then connections wait), and end after 30 s idle.
  int threads = 8;
  int max_threads = 512;
  // A request's head (request line and headers) must arrive within
  // header_seconds of its first byte, and all of it (the body too) within
  // request_seconds; otherwise 408 and the connection is closed.
  int header_seconds = 10;
  int request_seconds = 60;
  std::string token;  // empty: protected routes are open
  // Told of every request a route served, on the request's thread, after
  // the reply was made: the route's pattern (not the path, so ids make no
  // new series), the HTTP status and the time taken.
  std::function<void(const Request& req, const std::string& pattern, int status, double seconds)> on_request;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options = {});
  ~HttpServer();  // Stop(); a Serve() in flight must have returned
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Add(Route route);
  void Add(std::vector<Route> routes);
  // Routes of a context that outlives the server.
  template <typename Context>
  void Add(Context& ctx, std::initializer_list<ContextRoute<Context>> routes) {
    for (const ContextRoute<Context>& r : routes) {
      Add(Route{r.method, r.pattern, r.access, Bound(&ctx, r.handler), r.frequent});
    }
  }
  // Routes of a context the server keeps alive.
  template <typename Context>
  void Add(std::shared_ptr<Context> ctx, std::initializer_list<ContextRoute<Context>> routes) {
    for (const ContextRoute<Context>& r : routes) {
      Add(Route{r.method, r.pattern, r.access, Bound(ctx, r.handler), r.frequent});
    }
  }

  // Binds `host`:`port` (0: a free port). Returns the port.
  // Errors: kUnavailable "cannot listen on HOST:PORT (address in use, or not
  // an address of this host)".
  Result<int> Bind(const std::string& host, int port);

  // Serves on the bound port until Stop(). Returns false when it stopped
  // for another reason (the socket failed) or nothing was bound.
  bool Serve();

  // Stops Serve(): no new requests; the ones in flight finish. Before
  // Serve(), Serve() returns true at once.
  void Stop();

  // True while Serve() accepts requests.
  bool running() const;

 private:
  template <typename ContextPtr, typename Fn>
  static Handler Bound(ContextPtr ctx, Fn fn) {
    return [ctx, fn](const Request& req, Response& res) { fn(*ctx, req, res); };
  }

  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace evolve::http

#endif  // EVOLVE_HTTP_HTTP_SERVER_H_
