// evolve-engines' options and its three servers: what main() parses and
// checks before it opens anything, and the feature, training and simulation
// services' HTTP servers, bound and served together.
#ifndef EVOLVE_SERVICES_ENGINES_ENGINES_SERVICE_H_
#define EVOLVE_SERVICES_ENGINES_ENGINES_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/builtin.h"
#include "evolve/http/http_server.h"
#include "evolve/service/args.h"
#include "evolve/service/settings.h"
#include "evolve/status.h"

namespace evolve::engines_service {

struct EnginesSettings {
  std::string host = "127.0.0.1";
  int feature_port = 8100;  // 0 picks a free port
  int training_port = 8200;
  int simulation_port = 8300;
  int training_threads = 1;
  size_t max_body = 1 << 20;
  std::string data_dir;
  // Where the trained models are kept: the SQLite file --db (default
  // ./evolve-engines.db) or the PostgreSQL database --store.
  service::StoreSettings store;
  std::string store_text;  // how messages name it: the file, or "--store"
};

std::vector<service::OptionSpec> EnginesOptionSpecs();

// The built-in engines' options: the data directory, and the threads of one
// training (concurrent trainings share the cores).
engines::BuiltinOptions BuiltinOptionsOf(const EnginesSettings& settings);

// The text of --help.
std::string EnginesHelp(const std::vector<service::OptionSpec>& specs);

// Reads and checks every option; opens nothing.
// Errors: kInvalidArgument naming the option; kNotFound for a data
// directory that is not there.
Result<EnginesSettings> ParseEnginesSettings(const service::Args& args);

// The three services, each on its own HttpServer (no token: the original
// services' contract has no authentication).
class EngineServers {
 public:
  explicit EngineServers(size_t max_body);
  ~EngineServers();

  http::HttpServer& features();
  http::HttpServer& training();
  http::HttpServer& simulation();

  // Binds each server to its port of `settings` on settings.host (with a
  // warning for a non-loopback address: the original services' contract
  // has no authentication). Errors: kUnavailable naming the service and its
  // flag.
  Status Bind(const EnginesSettings& settings);

  // After Bind(): prints "evolve-engines: features http://H:P training
  // http://H:P simulation http://H:P" to stdout (what a script waits for)
  // and logs where each service listens, the data and the store, and the
  // number of trained models it serves.
  void Announce(const EnginesSettings& settings, int64_t models) const;

  // Serves the three, each on a thread of its own, until Stop(). When one
  // stops for another reason, the others are stopped too and Serve()
  // returns false.
  bool Serve();

  // Thread-safe; also before Serve().
  void Stop();

 private:
  struct Service;
  std::vector<std::unique_ptr<Service>> services_;
};

}  // namespace evolve::engines_service

#endif  // EVOLVE_SERVICES_ENGINES_ENGINES_SERVICE_H_
