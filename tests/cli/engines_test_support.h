// evolve-engines as a real process for the tests: started on three free
// ports, with requests to each of its services.
#ifndef EVOLVE_TESTS_CLI_ENGINES_TEST_SUPPORT_H_
#define EVOLVE_TESTS_CLI_ENGINES_TEST_SUPPORT_H_

#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "serve_test_support.h"

namespace evolve::testing {

inline const std::string kEngines = EVOLVE_ENGINES_BIN;

// evolve-engines on three free ports of 127.0.0.1, stopped (SIGTERM) when
// destroyed.
class Engines {
 public:
  enum Service { kFeatures = 0, kTraining = 1, kSimulation = 2 };

  // Models in the SQLite file `db`, or with store_args = {"--store", URL}.
  Engines(std::string data_dir, std::string db) : Engines(std::move(data_dir), {"--db", std::move(db)}) {}
  Engines(std::string data_dir, std::vector<std::string> store_args)
      : data_dir_(std::move(data_dir)), store_args_(std::move(store_args)) {
    Start();
  }
  ~Engines() { Stop(); }
  Engines(const Engines&) = delete;
  Engines& operator=(const Engines&) = delete;

  void Start() {
    std::vector<std::string> argv = {kEngines,         "--feature-port", "0",        "--training-port", "0",
                                     "--simulation-port", "0",           "--data-dir", data_dir_,         "--training-threads",
                                     "2"};
    argv.insert(argv.end(), store_args_.begin(), store_args_.end());
    process_ = std::make_unique<Process>(Process::Spawn(argv, {{"LOG_LEVEL", "INFO"}}));
    const std::string marker = "evolve-engines: features http://127.0.0.1:";
    REQUIRE_MESSAGE(WaitFor([&] { return Contains(process_->OutSoFar(), "\n"); }, std::chrono::seconds(60)),
                    process_->ErrSoFar());
    const std::string out = process_->OutSoFar();
    REQUIRE_MESSAGE(out.rfind(marker, 0) == 0, out);
    // "evolve-engines: features http://127.0.0.1:P1 training http://127.0.0.1:P2 simulation http://127.0.0.1:P3"
    size_t at = 0;
    for (int i = 0; i < 3; ++i) {
      at = out.find("http://127.0.0.1:", at);
      REQUIRE(at != std::string::npos);
      at += std::string("http://127.0.0.1:").size();
      ports_[i] = std::stoi(out.substr(at));
    }
    CHECK(out == "evolve-engines: features http://127.0.0.1:" + std::to_string(ports_[0]) +
                     " training http://127.0.0.1:" + std::to_string(ports_[1]) +
                     " simulation http://127.0.0.1:" + std::to_string(ports_[2]) + "\n");
  }

  int Stop() {
    if (!process_) return -1;
    process_->Signal(SIGTERM);
    const ProcessResult r = process_->Wait();
    log_ += r.err;
    process_.reset();
    return r.exit_code;
  }

  std::string Log() const { return log_ + (process_ ? process_->ErrSoFar() : ""); }
  int port(Service s) const { return ports_[s]; }
  // FEATURE_URL, TRAINING_URL and SIMULATION_URL of this process.
  std::map<std::string, std::string> env() const {
    auto url = [this](Service s) { return "http://127.0.0.1:" + std::to_string(ports_[s]); };
    return {{"FEATURE_URL", url(kFeatures)}, {"TRAINING_URL", url(kTraining)}, {"SIMULATION_URL", url(kSimulation)}};
  }

  Reply Get(Service s, const std::string& path) const { return Send(s, "GET", path, ""); }
  Reply Post(Service s, const std::string& path, const std::string& body) const { return Send(s, "POST", path, body); }

  // Polls GET /models/{id} until completed or failed; returns the document.
  std::unique_ptr<rapidjson::Document> WaitForModel(const std::string& id) const {
    std::unique_ptr<rapidjson::Document> doc;
    const bool done = WaitFor([&] {
      const Reply r = Get(kTraining, "/models/" + id);
      REQUIRE(r.status == 200);
      doc = Json(r);
      const std::string status = Str(*doc, "status");
      CHECK((status == "pending" || status == "training" || status == "completed" || status == "failed"));
      return status == "completed" || status == "failed";
    });
    INFO(Log());
    REQUIRE_MESSAGE(done, (std::string("model ") + id + " did not finish"));
    return doc;
  }

  // POST /train with `body`, which must start a training; waits for it to
  // complete and returns the model document.
  std::unique_ptr<rapidjson::Document> Train(const std::string& body) const {
    const Reply r = Post(kTraining, "/train", body);
    INFO(r.body);
    REQUIRE(r.status == 200);
    auto reply = Json(r);
    REQUIRE(Str(*reply, "status") == "started");
    auto model = WaitForModel(Str(*reply, "id"));
    INFO(Serialize(*model));
    REQUIRE(Str(*model, "status") == "completed");
    return model;
  }

 private:
  Reply Send(Service s, const std::string& method, const std::string& path, const std::string& body) const {
    return HttpCall(ports_[s], method, path, body);
  }

  std::string data_dir_;
  std::vector<std::string> store_args_;
  std::unique_ptr<Process> process_;
  int ports_[3] = {0, 0, 0};
  std::string log_;
};

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_ENGINES_TEST_SUPPORT_H_
