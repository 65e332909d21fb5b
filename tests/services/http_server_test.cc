// evolve::http::HttpServer, the router of every service, over real HTTP on
// loopback: routing by method and pattern, 404 and 405 for what no route
// takes, the bearer token of protected routes, the body limit, and what it
// reports of each request.
#include <doctest/doctest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "evolve/http/error_reply.h"
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
        std::string("Bearers3cret"), std::string("s3cret"), std::string("Basic czNjcmV0")}) {
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
  // RFC 7235 §2.1: the scheme is case-insensitive, followed by 1*SP.
  for (const std::string& header :
       {std::string("bearer s3cret"), std::string("BEARER s3cret"), std::string("BeArEr   s3cret")}) {
    CAPTURE(header);
    r = client.Post("/closed", httplib::Headers{{"Authorization", header}}, "{}", "application/json");
    REQUIRE(r);
    CHECK(r->status == 200);
  }
  CHECK(counter.calls == 5);

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
  CHECK(http::BearerTokenMatches("bearer tok", "tok"));
  CHECK(http::BearerTokenMatches("BEARER tok", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("Bearer\ttok", "tok"));
  CHECK_FALSE(http::BearerTokenMatches("Beare tok", "tok"));
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

// Sends the head of a chunked POST and then chunks of `chunk` bytes until
// `total` bytes are sent or the server stops taking them; returns the
// reply (all that came before the server closed) and how much was sent.
struct ChunkedOutcome {
  std::string reply;
  size_t sent = 0;
};
ChunkedOutcome SendChunked(int port, const std::string& path, const std::string& extra_headers, size_t total,
                           size_t chunk = 64 * 1024) {
  const int fd = ConnectLoopback(port, 10);
  const std::string head =
      "POST " + path + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" + extra_headers + "\r\n";
  ChunkedOutcome out;
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx\r\n", chunk);
  const std::string piece = hex + std::string(chunk, '[') + "\r\n";
  while (out.sent < total) {
    if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(piece.size())) break;
    out.sent += chunk;
  }
  if (out.sent >= total) ::send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST_CASE(
    "http server: a chunked body is limited while it is read, and a protected route reads none without the "
    "token") {
  Counter counter;
  http::ServerOptions options;
  options.max_body = 64 * 1024;
  options.token = "t0k";
  HttpServer server(options);
  server.Add(counter, {{Method::kPost, R"(/items/([^/]+))", Access::kProtected, &Echo}});
  ServedOnLoopback served(server);

  // Over the limit, with the token: 413 after max_body bytes, and the
  // connection closed rather than the rest read (64 MiB offered).
  ChunkedOutcome big = SendChunked(served.port(), "/items/a", "Authorization: Bearer t0k\r\n", 64 << 20);
  CHECK(big.reply.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(Contains(big.reply, R"("code":"payload_too_large")"));
  CHECK(Contains(big.reply, "Connection: close"));
  CHECK(big.sent < (64u << 20));
  // Without the token: 401 and nothing of the body read.
  ChunkedOutcome refused = SendChunked(served.port(), "/items/a", "", 64 << 20);
  CHECK(refused.reply.rfind("HTTP/1.1 401", 0) == 0);
  CHECK(Contains(refused.reply, R"("code":"unauthorized")"));
  CHECK(Contains(refused.reply, "Connection: close"));
  CHECK(refused.sent < (64u << 20));
  // A POST no route takes, and a method none takes: refused unread.
  ChunkedOutcome unrouted = SendChunked(served.port(), "/nowhere", "", 64 << 20);
  CHECK(unrouted.reply.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(Contains(unrouted.reply, "Connection: close"));
  const std::string put =
      RawExchange(served.port(), "PUT /items/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n{}\n");
  CHECK(put.rfind("HTTP/1.1 405", 0) == 0);
  // A Content-Length over the limit is refused before the body is sent.
  const std::string announced = RawExchange(
      served.port(),
      "POST /items/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k\r\nContent-Length: 99999999\r\n\r\n");
  CHECK(announced.rfind("HTTP/1.1 413", 0) == 0);
  CHECK(counter.calls == 0);

  // Under the limit, chunked: served whole.
  ChunkedOutcome small = SendChunked(served.port(), "/items/b",
                                     "Authorization: Bearer t0k\r\nConnection: close\r\n", 4 * 1024, 1024);
  CHECK(small.reply.rfind("HTTP/1.1 201", 0) == 0);
  CHECK(Contains(small.reply, R"("body":4096)"));
}

TEST_CASE("http server: error replies are valid UTF-8 whatever the path holds") {
  CHECK(http::ValidUtf8("plain") == "plain");
  CHECK(http::ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(http::ValidUtf8("\xff\xfe") == "\xef\xbf\xbd\xef\xbf\xbd");
  CHECK(http::ValidUtf8("a\xc0\xafz") == "a\xef\xbf\xbd\xef\xbf\xbdz");              // overlong '/'
  CHECK(http::ValidUtf8("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate
  CHECK(http::ValidUtf8("\xf4\x90\x80\x80").find("\xef\xbf\xbd") == 0);              // above U+10FFFF
  CHECK(http::ValidUtf8("\xe2\x82") == "\xef\xbf\xbd\xef\xbf\xbd");                  // cut short
  const std::string json = http::ErrorJson("not_found", "run \xff\xfe not found", {{"id\x80", "bad \xc3"}});
  CHECK(json.find('\xff') == std::string::npos);
  CHECK(Contains(json, "run \xef\xbf\xbd\xef\xbf\xbd not found"));

  Counter counter;
  HttpServer server;
  server.Add(counter, {{Method::kGet, R"(/items/([^/]+)/parts/([0-9]+))", Access::kPublic, &Echo}});
  ServedOnLoopback served(server);
  const std::string raw =
      RawExchange(served.port(), "GET /runs/%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 404", 0) == 0);
  CHECK(raw.find('\xff') == std::string::npos);
  CHECK(Contains(raw, "\xef\xbf\xbd\xef\xbf\xbd"));
}

// A connection that sends part of a request's head and then a byte every
// `every`, on a thread of its own, until stopped.
class SlowClient {
 public:
  SlowClient(int port, std::chrono::milliseconds every) {
    fd_ = ConnectLoopback(port);
    REQUIRE(::send(fd_, "GET /count HTTP/1.1\r\nHost: x\r\n", 30, MSG_NOSIGNAL) == 30);
    thread_ = std::thread([this, every] {
      while (!stop_) {
        std::this_thread::sleep_for(every);
        if (::send(fd_, "X", 1, MSG_NOSIGNAL) != 1) break;
      }
    });
  }
  ~SlowClient() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  // What the server sent back (all of it, once it closed).
  std::string Reply() {
    std::string out;
    char buf[1024];
    ssize_t n;
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    if (n < 0) out += "[recv error " + std::to_string(errno) + "]";
    return out;
  }

 private:
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST_CASE("http server: slow clients neither hold every thread nor a thread for ever") {
  Counter counter;
  http::ServerOptions options;
  options.threads = 2;         // far fewer than the slow clients
  options.header_seconds = 8;  // a fixed pool would keep the GET waiting this long
  HttpServer server(options);
  server.Add(counter, {{Method::kGet, "/count", Access::kPublic, &Count}});
  ServedOnLoopback served(server);

  std::vector<std::unique_ptr<SlowClient>> slow;
  for (int i = 0; i < 16; ++i)
    slow.push_back(std::make_unique<SlowClient>(served.port(), std::chrono::milliseconds(300)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  httplib::Client client("127.0.0.1", served.port());
  client.set_read_timeout(30, 0);
  const auto start = std::chrono::steady_clock::now();
  auto r = client.Get("/count");
  REQUIRE(r);
  CHECK(r->status == 200);
  // Generous for a loaded machine, and well under what a fixed pool of 2
  // would take: the slow clients' head deadline (8 s).
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  // Each slow head is cut at its deadline: 408, connection closed.
  const std::string reply = slow.front()->Reply();
  INFO(reply);
  CHECK(reply.rfind("HTTP/1.1 408", 0) == 0);
  CHECK(Contains(reply, R"("code":"request_timeout")"));
  CHECK(counter.calls == 1);
}

}  // namespace
}  // namespace evolve::testing::services
