// evolve::http::HttpServer, the router of every service, over real HTTP on
// loopback: routing by method and pattern, 404 and 405 for what no route
// takes, the bearer token of protected routes, the body limit, and what it
// reports of each request.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "evolve/http/http_server.h"
#include "service_test_support.h"

namespace evolve::testing::services {
namespace {

using http::Access;
using http::HttpServer;
using http::Method;
using http::Request;
using http::Response;

struct Counter {
  std::atomic<int> calls{0};
};

void Count(Counter& c, const Request& req, Response& res) {
  ++c.calls;
  http::SendJson(res, 200,
                 "{\"calls\":" + std::to_string(c.calls.load()) + ",\"path\":\"" + req.path + "\"}");
}

void Echo(Counter&, const Request& req, Response& res) {
  std::string out = "{\"method\":\"" + req.method + "\",\"matches\":[";
  for (size_t i = 0; i < req.matches.size(); ++i) out += (i ? ",\"" : "\"") + req.matches[i] + "\"";
  out += "],\"q\":\"" + req.Param("q") + "\",\"has_q\":" + (req.HasParam("q") ? "true" : "false") +
         ",\"x\":\"" + req.Header("x-ECHO") + "\",\"body\":" + std::to_string(req.body.size()) + "}";
  res.SetHeader("X-Seen", "yes");
  http::SendJson(res, 201, out);
}

void Throw(Counter&, const Request&, Response&) { throw std::runtime_error("boom"); }

// The reply is an error with this status, error.code and (part of its)
// message.
void CheckError(const httplib::Result& r, int status, const std::string& code, const std::string& message) {
  REQUIRE(r);
  CHECK(r->status == status);
  CHECK(ErrorCode(r->body) == code);
  CHECK_MESSAGE(Contains(r->body, message), r->body);
}

TEST_CASE("http server: routes by method and pattern, with the pattern's groups, the query and the headers") {
  Counter counter;
  HttpServer server;
  // A table of routes of one context: no lambda per route.
  server.Add(counter, {{Method::kGet, "/count", Access::kPublic, &Count},
                       {Method::kGet, R"(/items/([^/]+)/parts/([0-9]+))", Access::kPublic, &Echo},
                       {Method::kPost, R"(/items/([^/]+))", Access::kPublic, &Echo}});
  ServedOnLoopback served(server);
  httplib::Client client("127.0.0.1", served.port());

  auto r = client.Get("/count");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  CHECK(r->body == R"({"calls":1,"path":"/count"})");

  r = client.Get("/items/a%20b/parts/42?q=x%26y", httplib::Headers{{"X-Echo", "hello"}});
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(r->get_header_value("X-Seen") == "yes");
  CHECK(
      r->body ==
      R"({"method":"GET","matches":["/items/a b/parts/42","a b","42"],"q":"x&y","has_q":true,"x":"hello","body":0})");

  r = client.Post("/items/z", "12345", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(Contains(r->body, R"("method":"POST","matches":["/items/z","z"])"));
  CHECK(Contains(r->body, R"("has_q":false)"));
  CHECK(Contains(r->body, R"("body":5)"));
  CHECK(counter.calls == 1);
}

TEST_CASE("http server: 404 for an unknown path, 405 with Allow for a known path and another method") {
  Counter counter;
  HttpServer server;
  server.Add(counter, {{Method::kGet, "/things", Access::kPublic, &Count},
                       {Method::kGet, R"(/things/([^/]+))", Access::kPublic, &Count},
                       {Method::kPost, R"(/things/([^/]+))", Access::kPublic, &Count},
                       {Method::kPost, "/actions/go", Access::kPublic, &Count}});
  ServedOnLoopback served(server);
  httplib::Client client("127.0.0.1", served.port());

  CheckError(client.Get("/nowhere"), 404, "not_found", "no such endpoint: GET /nowhere");
  CheckError(client.Post("/things/a/b", "", "application/json"), 404, "not_found", "POST /things/a/b");

  auto r = client.Post("/things", "{}", "application/json");
  CheckError(r, 405, "method_not_allowed", "POST /things: this endpoint takes GET");
  CHECK(r->get_header_value("Allow") == "GET");
  r = client.Get("/actions/go");
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->get_header_value("Allow") == "POST");
  r = client.Delete("/things/x");
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->get_header_value("Allow") == "GET, POST");
  CHECK(counter.calls == 0);
}

TEST_CASE("http server: protected routes need the bearer token, public ones do not") {
  Counter counter;
  http::ServerOptions options;
  options.token = "s3cret";
  HttpServer server(options);
  server.Add(counter, {{Method::kGet, "/open", Access::kPublic, &Count},
                       {Method::kPost, "/closed", Access::kProtected, &Count}});
  ServedOnLoopback served(server);
  httplib::Client client("127.0.0.1", served.port());

  auto r = client.Post("/closed", "{}", "application/json");
  CheckError(r, 401, "unauthorized", "requires Authorization: Bearer <token>");
  CHECK(r->get_header_value("WWW-Authenticate") == "Bearer");
  for (const std::string& header :
       {std::string("Bearer s3cre"), std::string("Bearer s3cret2"), std::string("Bearer S3CRET"),
        std::string("bearer s3cret"), std::string("s3cret"), std::string("Basic czNjcmV0")}) {
    CAPTURE(header);
    CheckError(client.Post("/closed", httplib::Headers{{"Authorization", header}}, "{}", "application/json"),
               401, "unauthorized", "the bearer token is not valid");
  }
  CHECK(counter.calls == 0);  // a refused request reaches no handler
  r = client.Post("/closed", httplib::Headers{{"Authorization", "Bearer s3cret"}}, "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  r = client.Get("/open");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(counter.calls == 2);

  // Without a token every route is open.
  Counter open_counter;
  HttpServer open;
  open.Add(open_counter, {{Method::kPost, "/closed", Access::kProtected, &Count}});
  ServedOnLoopback open_served(open);
  httplib::Client open_client("127.0.0.1", open_served.port());
  r = open_client.Post("/closed", "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE(
    "http server: the token is compared whole, in time that depends neither on the guess nor its length") {
  CHECK(http::BearerTokenMatches("Bearer tok", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("Bearer tok", ""));  // no token: nothing matches
  CHECK_FALSE(http::BearerTokenMatches("Bearer ", ""));
  CHECK_FALSE(http::BearerTokenMatches("Bearer to", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("Bearer tokk", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("Bearer tok\n", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("Bearertok", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("tok", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("", "tok"));
  // A token far longer than any guess, and guesses far longer than it.
  const std::string token(4096, 'k');
  CHECK(http::BearerTokenMatches("Bearer " + token, token));
  CHECK_FALSE(http::BearerTokenMatches("Bearer " + token + "k", token));
  CHECK_FALSE(http::BearerTokenMatches("Bearer k", token));

  // What the comparison takes does not grow with how much of a guess is
  // right: the digests of guess and token are compared, never their bytes.
  const std::string secret = std::string(64, 'a');
  auto time_of = [&](const std::string& guess) {
    const auto start = std::chrono::steady_clock::now();
    bool any = false;
    for (int i = 0; i < 2000; ++i) any |= http::BearerTokenMatches("Bearer " + guess, secret);
    CHECK_FALSE(any);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double wrong_first = time_of("b" + std::string(63, 'a'));
  const double wrong_last = time_of(std::string(63, 'a') + "b");
  CHECK(wrong_last < wrong_first * 3 + 0.05);
  CHECK(wrong_first < wrong_last * 3 + 0.05);
}

TEST_CASE("http server: bodies over max_body are 413, a POST without a body is an empty one") {
  Counter counter;
  http::ServerOptions options;
  options.max_body = 1024;
  HttpServer server(options);
  server.Add(counter, {{Method::kPost, R"(/items/([^/]+))", Access::kPublic, &Echo}});
  ServedOnLoopback served(server);
  httplib::Client client("127.0.0.1", served.port());

  auto r = client.Post("/items/a", std::string(1024, 'x'), "application/json");
  REQUIRE(r);
  CHECK(r->status == 201);
  CHECK(Contains(r->body, R"("body":1024)"));
  CheckError(client.Post("/items/a", std::string(1025, 'x'), "application/json"), 413, "payload_too_large",
             "larger than 1024 bytes");

  // `curl -X POST URL`: no body, no Content-Length.
  const std::string raw =
      RawExchange(served.port(), "POST /items/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 201", 0) == 0);
  CHECK(Contains(raw, R"("body":0)"));
  // A request that is not HTTP is a JSON 400.
  const std::string garbage = RawExchange(served.port(), "NOT-HTTP\r\n\r\n");
  CHECK(garbage.rfind("HTTP/1.1 400", 0) == 0);
  CHECK(Contains(garbage, R"("code":"bad_request")"));
}

TEST_CASE(
    "http server: a handler that throws is a 500, and every routed request is reported by its pattern") {
  Counter counter;
  std::mutex mu;
  std::vector<std::string> seen;  // guarded by mu
  http::ServerOptions options;
  options.token = "t";
  options.on_request = [&](const Request& req, const std::string& pattern, int status, double seconds) {
    CHECK(seconds >= 0);
    std::lock_guard<std::mutex> lock(mu);
    seen.push_back(req.method + " " + pattern + " " + std::to_string(status));
  };
  HttpServer server(options);
  server.Add(counter, {{Method::kGet, R"(/items/([^/]+)/parts/([0-9]+))", Access::kPublic, &Echo},
                       {Method::kGet, "/throw", Access::kPublic, &Throw},
                       {Method::kGet, "/closed", Access::kProtected, &Count}});
  ServedOnLoopback served(server);
  httplib::Client client("127.0.0.1", served.port());
  CheckError(client.Get("/throw"), 500, "internal", "internal error: boom");
  REQUIRE(client.Get("/items/a/parts/1"));
  REQUIRE(client.Get("/items/b/parts/2"));
  REQUIRE(client.Get("/closed"));
  REQUIRE(client.Get("/unrouted"));
  std::lock_guard<std::mutex> lock(mu);
  CHECK(seen == std::vector<std::string>{"GET /throw 500", "GET /items/([^/]+)/parts/([0-9]+) 201",
                                         "GET /items/([^/]+)/parts/([0-9]+) 201", "GET /closed 401"});
}

TEST_CASE(
    "http server: Stop before Serve makes Serve return at once, a context is kept alive by the server") {
  HttpServer server;
  auto counter = std::make_shared<Counter>();
  server.Add(counter, {{Method::kGet, "/count", Access::kPublic, &Count}});
  std::weak_ptr<Counter> alive = counter;
  counter.reset();
  CHECK_FALSE(alive.expired());  // the routes hold it
  REQUIRE(server.Bind("127.0.0.1", 0).ok());
  server.Stop();
  CHECK(server.Serve());  // a requested stop: at once, and not a failure
  CHECK_FALSE(server.running());

  // A port that is taken.
  HttpServer first;
  auto port = first.Bind("127.0.0.1", 0);
  REQUIRE(port.ok());
  HttpServer second;
  auto taken = second.Bind("127.0.0.1", *port);
  CHECK(taken.status().code() == StatusCode::kUnavailable);
  CHECK(Contains(taken.status().message(), "cannot listen on 127.0.0.1:" + std::to_string(*port) +
                                               " (address in use, or not an address of this host)"));
  CHECK_FALSE(second.Serve());  // nothing bound
}

}  // namespace
}  // namespace evolve::testing::services
