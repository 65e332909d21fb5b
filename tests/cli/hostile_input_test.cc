// `evolve serve` as a real process against what an attacker or a careless
// client sends (issue 18): hostile bodies to every JSON endpoint, with and
// without the token, invalid UTF-8 in paths, chunked bodies over the limit,
// a 100 MB body without the token (the service's memory is measured), and
// slow clients holding connections while /health must still answer.
//
// Every reply must be a 4xx whose body is {"error": {"code": ...}}, valid
// JSON and valid UTF-8; the service must stay up and store nothing.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "net_test_support.h"
#include "serve_test_support.h"

namespace evolve::testing {
namespace {

const std::string kToken = "hostile-test-token";

struct Raw {
  int status = 0;  // 0: no reply
  std::string head;
  std::string body;
};

int Connect(int port) { return ConnectLoopback(port, 60); }

// Reads a reply until the server closes the connection (the requests say
// "Connection: close").
Raw ReadReply(int fd) {
  std::string out;
  char buf[16384];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  Raw r;
  const size_t end = out.find("\r\n\r\n");
  if (out.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos) return r;
  r.status = std::stoi(out.substr(9, 3));
  r.head = out.substr(0, end);
  r.body = out.substr(end + 4);
  return r;
}

// One request, bytes as given (the path may hold anything); the body is
// sent whole even if the server replied and closed first.
Raw Exchange(int port, const std::string& method, const std::string& path, const std::string& body,
             bool with_token) {
  const int fd = Connect(port);
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (with_token) request += "Authorization: Bearer " + kToken + "\r\n";
  request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  Raw r = ReadReply(fd);
  ::close(fd);
  return r;
}

// A chunked POST of `total` bytes of `fill` (in 64 KiB chunks), sent until
// done or the server stops taking it; the reply, and how much was sent.
Raw SendChunked(int port, const std::string& path, bool with_token, size_t total, char fill,
                size_t* sent_out) {
  const int fd = Connect(port);
  std::string head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n";
  if (with_token) head += "Authorization: Bearer " + kToken + "\r\n";
  head += "\r\n";
  REQUIRE(::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size()));
  const size_t chunk = 64 * 1024;
  const std::string piece = "10000\r\n" + std::string(chunk, fill) + "\r\n";
  size_t sent = 0;
  while (sent < total) {
    if (::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(piece.size())) break;
    sent += chunk;
  }
  if (sent >= total) ::send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
  if (sent_out != nullptr) *sent_out = sent;
  Raw r = ReadReply(fd);
  ::close(fd);
  return r;
}

bool ValidUtf8(const std::string& s) {
  // Checked byte by byte (Unicode table 3-7), not by a JSON parser, so the
  // check does not depend on the reply being JSON.
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      n = 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return false;
    }
    i += n;
  }
  return true;
}

// The reply is a 4xx {"error": {"code": ...}}, valid JSON and UTF-8.
void CheckRefused(const Raw& r, const std::string& what) {
  INFO(what.substr(0, 200));
  INFO(r.head);
  INFO(r.body.substr(0, 400));
  CHECK(r.status >= 400);
  CHECK(r.status < 500);
  CHECK(ValidUtf8(r.body));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(r.body.data(), r.body.size());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc.IsObject());
  REQUIRE(doc.HasMember("error"));
  REQUIRE(doc["error"].IsObject());
  REQUIRE(doc["error"].HasMember("code"));
  CHECK(doc["error"]["code"].IsString());
}

// Every JSON endpoint of `evolve serve` (services/orchestrator/api_runs.cc
// and the worker protocol, libevolve/adapters/http/src/worker_protocol.cc),
// with ids of nothing stored.
const std::vector<std::string> kEndpoints = {
    "/evolve",      "/runs/run_nope/stop",      "/runs/run_nope/cancel",     "/runs/run_nope/resume",
    "/jobs/claim",  "/jobs/job_nope/heartbeat", "/jobs/job_nope/complete",   "/jobs/job_nope/release",
    "/jobs/finish", "/workers/register",        "/workers/w_nope/heartbeat", "/workers/w_nope/deregister",
};

// Every field any of them reads.
const std::vector<std::string> kFields = {"worker_id",      "max_jobs",
                                          "lease_seconds",  "success",
                                          "result",         "error",
                                          "retryable",      "outcomes",
                                          "job_id",         "id",
                                          "host",           "pid",
                                          "current_jobs",   "symbol",
                                          "thresholds",     "max_generations",
                                          "data_options",   "hyperparameters",
                                          "timeframe",      "initial_cash",
                                          "regime_configs", "seed_model_id",
                                          "target_col",     "claim_token"};

// The hostile bodies, generated deterministically. None of them is a
// valid request of any endpoint (each is malformed, or names an unknown
// field, or has a value of a wrong type).
std::vector<std::string> HostileBodies() {
  std::vector<std::string> out;
  // Nesting 200,000 deep: arrays, objects, inside a field, inside a string
  // that holds JSON (data_options may be sent as a string).
  out.push_back(std::string(200000, '['));
  std::string objects;
  for (int i = 0; i < 200000; ++i) objects += "{\"a\":";
  out.push_back(objects);
  out.push_back(std::string(100000, '[') + std::string(100000, ']'));
  out.push_back("{\"worker_id\":" + std::string(100000, '[') + std::string(100000, ']') + "}");
  out.push_back("{\"data_options\":\"" + std::string(100000, '{') + "\",\"zz\":1}");
  out.push_back("{\"symbol\":\"AAPL\",\"data_options\":" + std::string(70, '[') + std::string(70, ']') + "}");
  // Truncated JSON: a plausible body cut at every 3rd byte.
  const std::string plausible =
      R"({"worker_id":"w1","max_jobs":2,"lease_seconds":30,"symbol":"AAPL","thresholds":[0.5,0.6]})";
  for (size_t n = 1; n < plausible.size(); n += 3) out.push_back(plausible.substr(0, n));
  // Not an object.
  for (const char* s :
       {"null",    "true",  "false",          "0",      "-1",   "\"x\"", "[]",      "[{}]",
        " ",       "\n\n",  "\xef\xbb\xbf{}", "{}{}",   "{} x", "{,}",   "{\"a\"}", "{\"a\":}",
        "{'a':1}", "{a:1}", "{\"a\":1,}",     "/*c*/{}"}) {
    out.push_back(s);
  }
  // NaN, Infinity, numbers too large for a double or an integer.
  for (const char* v :
       {"NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999", "1e308", "99999999999999999999999",
        "-99999999999999999999999", "0x10", "01", "1.", ".5", "+1"}) {
    out.push_back(std::string("{\"max_jobs\":") + v + "}");
    out.push_back(std::string("{\"initial_cash\":") + v + ",\"zz\":1}");
  }
  // Invalid UTF-8 in strings and keys.
  for (const char* bad :
       {"\xff", "\xfe\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "a\xc3"}) {
    out.push_back(std::string("{\"worker_id\":\"") + bad + "\"}");
    out.push_back(std::string("{\"symbol\":\"") + bad + "\"}");
    out.push_back(std::string("{\"") + bad + "\":1}");
  }
  // Control characters and escapes.
  out.push_back(
      "{\"worker_id\":\"a\x01"
      "b\"}");
  out.push_back("{\"worker_id\":\"\\ud800\",\"zz\":1}");
  out.push_back("{\"worker_id\":\"\\u00\"}");
  // Duplicate keys.
  out.push_back(R"({"worker_id":"a","worker_id":5})");
  out.push_back(R"({"worker_id":5,"worker_id":"a"})");
  out.push_back(R"({"zz":1,"zz":2})");
  // Each field with values of every type, next to a field no endpoint
  // knows (so no body is valid, whatever type the field takes).
  for (const std::string& field : kFields) {
    for (const char* v : {"null", "true", "-7", "1.5", "\"s\"", "[1,\"x\"]", "{\"k\":{}}"}) {
      out.push_back("{\"" + field + "\":" + v + ",\"zz_unknown\":0}");
    }
    out.push_back("{\"" + field + "\":{}}");  // an object where a scalar goes (or an empty one)
  }
  // Giant strings under the 1 MiB limit: a value, a key.
  out.push_back("{\"worker_id\":\"" + std::string(900 * 1024, 'a') + "\",\"zz\":1}");
  out.push_back("{\"" + std::string(900 * 1024, 'k') + "\":1}");
  out.push_back("{\"symbol\":\"" + std::string(900 * 1024, 'S') + "\",\"zz\":1}");
  // Many members, many elements.
  std::string members = "{";
  for (int i = 0; i < 20000; ++i) members += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
  out.push_back(members + "}");
  std::string elements = "{\"outcomes\":[";
  for (int i = 0; i < 50000; ++i) elements += i ? ",{}" : "{}";
  out.push_back(elements + "],\"zz\":1}");
  return out;
}

// What the service stores, as its read endpoints show it.
std::string Snapshot(const Server& server) {
  std::string out;
  for (const char* path : {"/runs", "/workers", "/jobs/pending", "/promoted"}) {
    const Reply r = server.Get(path, kToken);
    REQUIRE(r.status == 200);
    out += std::string(path) + " " + r.body + "\n";
  }
  return out;
}

void CheckHealthy(const Server& server) {
  const Reply r = server.Get("/health");
  INFO(server.Log().substr(0, 2000));
  REQUIRE(r.status == 200);
}

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

std::vector<std::string> ServeArgs(const TempDir& dir, const TempDir& data) {
  return {"--db", dir / "evolve.db", "--data-dir", data.path(), "--workers", "0", "--poll-interval", "0.2"};
}

TEST_CASE("hostile input: 150+ hostile bodies to every JSON endpoint, with and without the token") {
  TempDir dir, data;
  WriteSymbols(data.path(), {"AAPL"}, 300);
  Server server(ServeArgs(dir, data), {{"EVOLVE_API_TOKEN", kToken}, {"LOG_LEVEL", "WARNING"}});
  const std::string before = Snapshot(server);
  const std::vector<std::string> bodies = HostileBodies();
  REQUIRE(bodies.size() >= 150);
  MESSAGE("hostile bodies per endpoint: " << bodies.size());
  for (const std::string& endpoint : kEndpoints) {
    CAPTURE(endpoint);
    for (const bool with_token : {false, true}) {
      CAPTURE(with_token);
      for (const std::string& body : bodies) {
        const Raw r = Exchange(server.port(), "POST", endpoint, body, with_token);
        CheckRefused(r, body);
        if (!with_token) CHECK(r.status == 401);
      }
      CheckHealthy(server);
    }
  }
  CHECK(Snapshot(server) == before);
}

TEST_CASE("hostile input: invalid UTF-8 and oddities in paths get JSON errors in valid UTF-8") {
  TempDir dir, data;
  WriteSymbols(data.path(), {"AAPL"}, 300);
  Server server(ServeArgs(dir, data), {{"EVOLVE_API_TOKEN", kToken}, {"LOG_LEVEL", "WARNING"}});
  const std::string before = Snapshot(server);
  const std::vector<std::string> ids = {"%ff%fe",   "%c0%af", "%ed%a0%80",
                                        "\xff\xfe", "\xc3",   "%00",
                                        "..%2f..",  "%e2%82", std::string(4000, 'x') + "%ff"};
  for (const std::string& id : ids) {
    CAPTURE(id);
    for (const bool with_token : {false, true}) {
      for (const std::string& path : {"/runs/" + id, "/runs/" + id + "/generations", "/promoted/" + id,
                                      "/models/" + id + "/lineage", "/nowhere/" + id}) {
        CheckRefused(Exchange(server.port(), "GET", path, "", with_token), path);
      }
      for (const std::string& path :
           {"/runs/" + id + "/stop", "/runs/" + id + "/resume", "/jobs/" + id + "/heartbeat",
            "/jobs/" + id + "/complete", "/jobs/" + id + "/release", "/workers/" + id + "/heartbeat",
            "/workers/" + id + "/deregister", "/evolve/" + id}) {
        CheckRefused(Exchange(server.port(), "POST", path, "{\"worker_id\":\"w\",\"zz\":1}", with_token),
                     path);
      }
    }
  }
  // Methods no route takes, with bodies.
  for (const char* method : {"PUT", "DELETE", "PATCH", "OPTIONS"}) {
    CheckRefused(Exchange(server.port(), method, "/evolve", "{\"symbol\":\"AAPL\"}", true), method);
  }
  CheckHealthy(server);
  CHECK(Snapshot(server) == before);
}

TEST_CASE("hostile input: bodies over the limit, chunked or not, with and without the token") {
  TempDir dir, data;
  WriteSymbols(data.path(), {"AAPL"}, 300);
  Server server(ServeArgs(dir, data), {{"EVOLVE_API_TOKEN", kToken}, {"LOG_LEVEL", "WARNING"}});
  const std::string before = Snapshot(server);
  for (const std::string& endpoint : kEndpoints) {
    CAPTURE(endpoint);
    for (const bool with_token : {false, true}) {
      CAPTURE(with_token);
      size_t sent = 0;
      const Raw chunked = SendChunked(server.port(), endpoint, with_token, 8u << 20, '[', &sent);
      CheckRefused(chunked, "chunked");
      CHECK(chunked.status == (with_token ? 413 : 401));
      CHECK(Contains(chunked.head, "Connection: close"));
      // A Content-Length over the limit (2 MiB of a valid-looking object).
      const Raw sized = Exchange(server.port(), "POST", endpoint,
                                 "{\"symbol\":\"" + std::string(2u << 20, 'A') + "\"}", with_token);
      CheckRefused(sized, "2 MiB");
      CHECK(sized.status == 413);
    }
  }
  CheckHealthy(server);
  CHECK(Snapshot(server) == before);
}

TEST_CASE("hostile input: a 100 MB chunked body without the token costs the service under 16 MB") {
  TempDir dir, data;
  WriteSymbols(data.path(), {"AAPL"}, 300);
  Server server(ServeArgs(dir, data), {{"EVOLVE_API_TOKEN", kToken}, {"LOG_LEVEL", "WARNING"}});
  CheckHealthy(server);
  const pid_t pid = server.process().pid();
  const long before = RssKb(pid);
  REQUIRE(before > 0);
  std::atomic<bool> done{false};
  std::atomic<long> peak{before};
  std::thread sampler([&] {
    while (!done) {
      const long now = RssKb(pid);
      if (now > peak) peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::vector<Raw> replies;
  for (const std::string endpoint : {"/evolve", "/jobs/claim"}) {
    size_t sent = 0;
    replies.push_back(SendChunked(server.port(), endpoint, false, 100u << 20, '[', &sent));
    MESSAGE(endpoint << ": " << sent << " bytes of 100 MB taken before the reply");
  }
  done = true;
  sampler.join();
  for (const Raw& r : replies) {
    CheckRefused(r, "100 MB");
    CHECK((r.status == 401 || r.status == 413));
  }
  const long growth_kb = peak - before;
  MESSAGE("RSS before " << before << " kB, peak " << peak.load() << " kB, growth " << growth_kb << " kB");
  CHECK(growth_kb < 16 * 1024);
  CheckHealthy(server);
}

TEST_CASE("hostile input: 64 slow-header connections do not keep GET /health from answering") {
  TempDir dir, data;
  WriteSymbols(data.path(), {"AAPL"}, 300);
  Server server(ServeArgs(dir, data), {{"EVOLVE_API_TOKEN", kToken}, {"LOG_LEVEL", "WARNING"}});
  CheckHealthy(server);
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    const int fd = Connect(server.port());
    const std::string start = "GET /health HTTP/1.1\r\nHost: x\r\n";
    REQUIRE(::send(fd, start.data(), start.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(start.size()));
    fds.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread drip([&] {
    while (!stop) {
      for (int fd : fds) ::send(fd, "X", 1, MSG_NOSIGNAL);
      for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // every slow connection has a thread by now
  std::vector<double> seconds;
  for (int i = 0; i < 3; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Reply r = server.Get("/health");
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    CHECK(r.status == 200);
    CHECK(seconds.back() < 5.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  MESSAGE("GET /health with 64 slow-header connections: " << seconds[0] << " s, " << seconds[1] << " s, "
                                                          << seconds[2] << " s");
  stop = true;
  drip.join();
  // The slow heads are cut at the server's deadline: 408, then closed.
  const Raw cut = ReadReply(fds.front());
  CHECK(cut.status == 408);
  for (int fd : fds) ::close(fd);
  CheckHealthy(server);
}

}  // namespace
}  // namespace evolve::testing
