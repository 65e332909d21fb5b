// What the HTTP tests of `evolve serve` share: the service as a real
// process on a free loopback port, an HTTP client, JSON replies, and data
// with the seed README's symbols.
#ifndef EVOLVE_TESTS_CLI_SERVE_TEST_SUPPORT_H_
#define EVOLVE_TESTS_CLI_SERVE_TEST_SUPPORT_H_

#include <doctest/doctest.h>
#include <httplib.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli_test_support.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/synthetic.h"
#include "process.h"

namespace evolve::testing {

// The seed README's symbols (its POST /evolve example and its batch of four).
inline const std::vector<std::string> kSeedSymbols = {"AAPL", "SPY", "QQQ", "MSFT", "GOOGL", "TSLA"};

// Synthetic bars for `symbols` (the first carries the planted signal of
// `strength`) in `dir`: daily, or one-minute bars when `intraday`.
inline void WriteSymbols(const std::string& dir, const std::vector<std::string>& symbols, size_t bars,
                         double strength = 0.0, uint64_t seed = 5, bool intraday = false) {
  engines::SyntheticOptions o;
  o.intraday = intraday;
  o.symbols = symbols;
  o.bars = bars;
  o.signal_strength = strength;
  o.seed = seed;
  for (const auto& [symbol, b] : engines::GenerateSyntheticBars(o)) {
    REQUIRE(engines::WriteBarsCsv(b, dir + "/" + symbol + ".csv").ok());
  }
}

struct Reply {
  int status = 0;  // 0: no HTTP answer at all
  std::string body;
  httplib::Headers headers;
};

inline std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return buffer.GetString();
}

// The reply's body as JSON; fails the test when it is not.
inline std::unique_ptr<rapidjson::Document> Json(const Reply& reply) {
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse(reply.body.c_str());
  INFO(reply.body);
  REQUIRE_FALSE(doc->HasParseError());
  return doc;
}

// The `field` of every element of details[] of an error reply.
inline std::set<std::string> ErrorFields(const Reply& reply) {
  auto doc = Json(reply);
  std::set<std::string> fields;
  REQUIRE(doc->HasMember("error"));
  for (const auto& d : (*doc)["error"]["details"].GetArray()) fields.insert(d["field"].GetString());
  return fields;
}

inline std::string Str(const rapidjson::Value& v, const char* name) {
  REQUIRE(v.HasMember(name));
  REQUIRE(v[name].IsString());
  return v[name].GetString();
}

inline int64_t Int(const rapidjson::Value& v, const char* name) {
  REQUIRE(v.HasMember(name));
  REQUIRE(v[name].IsInt64());
  return v[name].GetInt64();
}

// One request to 127.0.0.1:`port` (GET, or POST with a JSON `body`), with
// a bearer `token` when given; status 0 when nothing answered.
inline Reply HttpCall(int port, const std::string& method, const std::string& path,
                      const std::string& body = "", const std::string& token = "") {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  httplib::Result r =
      method == "GET" ? client.Get(path, headers) : client.Post(path, headers, body, "application/json");
  Reply reply;
  if (r) {
    reply.status = r->status;
    reply.body = r->body;
    reply.headers = r->headers;
  }
  return reply;
}

// `evolve serve` on a free port of 127.0.0.1, stopped (SIGTERM) when
// destroyed.
class Server {
 public:
  // `args`: the store and data options and anything else after "serve".
  explicit Server(std::vector<std::string> args, std::map<std::string, std::string> env = {})
      : args_(std::move(args)), env_(std::move(env)) {
    Start();
  }
  ~Server() { Stop(); }
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  Process& process() { return *process_; }
  // stderr of every process this server has been, killed ones included.
  std::string Log() const { return past_log_ + (process_ ? process_->ErrSoFar() : ""); }

  // SIGKILL, as a crash would.
  void Kill() {
    process_->Signal(SIGKILL);
    const ProcessResult r = process_->Wait();
    past_log_ += r.err;
    process_.reset();
  }
  // Graceful stop; returns the exit code.
  int Stop() {
    if (!process_) return -1;
    process_->Signal(SIGTERM);
    const ProcessResult r = process_->Wait();
    past_log_ += r.err;
    process_.reset();
    return r.exit_code;
  }
  void Start() {
    std::vector<std::string> argv = {kEvolve, "serve", "--port", "0"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::map<std::string, std::string> env = {{"LOG_LEVEL", "INFO"}};
    for (const auto& e : env_) env[e.first] = e.second;
    process_ = std::make_unique<Process>(Process::Spawn(argv, env));
    const std::string marker = "listening on http://127.0.0.1:";
    REQUIRE_MESSAGE(WaitFor([&] { return Contains(process_->OutSoFar(), marker); }, std::chrono::seconds(60)),
                    process_->ErrSoFar());
    const std::string out = process_->OutSoFar();
    port_ = std::stoi(out.substr(out.find(marker) + marker.size()));
  }

  Reply Get(const std::string& path, const std::string& token = "") const {
    return Send("GET", path, "", token);
  }
  Reply Post(const std::string& path, const std::string& body, const std::string& token = "") const {
    return Send("POST", path, body, token);
  }

  // Polls GET /runs/{id} until the run is in a final state (or STOPPED);
  // returns its last document.
  std::unique_ptr<rapidjson::Document> WaitForRunEnd(
      const std::string& run_id, std::chrono::seconds limit = std::chrono::seconds(300)) const {
    std::unique_ptr<rapidjson::Document> doc;
    const bool ended = WaitFor(
        [&] {
          const Reply r = Get("/runs/" + run_id);
          if (r.status != 200) return false;
          doc = Json(r);
          const std::string status = (*doc)["run"]["status"].GetString();
          return status != "PENDING" && status != "RUNNING";
        },
        limit);
    INFO(Log());
    REQUIRE_MESSAGE(ended, (std::string("run ") + run_id + " did not end"));
    return doc;
  }

 private:
  Reply Send(const std::string& method, const std::string& path, const std::string& body,
             const std::string& token) const {
    return HttpCall(port_, method, path, body, token);
  }

  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Process> process_;
  std::string past_log_;
  int port_ = 0;
};

// POST /evolve with `body`, which must be accepted; the new run's id.
inline std::string StartRun(const Server& server, const std::string& body, const std::string& token = "") {
  const Reply r = server.Post("/evolve", body, token);
  INFO(r.body);
  REQUIRE(r.status == 202);
  return Str(*Json(r), "run_id");
}

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_SERVE_TEST_SUPPORT_H_
