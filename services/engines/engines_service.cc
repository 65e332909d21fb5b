#include "engines_service.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <optional>
#include <thread>

#include "evolve/log.h"
#include "evolve/service/http_support.h"

namespace evolve::engines_service {

using service::IntOption;

std::vector<service::OptionSpec> EnginesOptionSpecs() {
  return {
      {"host", "ADDR", "address the three services listen on (default 127.0.0.1)"},
      {"feature-port", "N", "port of the feature service (default 8100; 0 picks a free one)"},
      {"training-port", "N", "port of the training service (default 8200; 0 picks a free one)"},
      {"simulation-port", "N", "port of the simulation service (default 8300; 0 picks a free one)"},
      service::DataDirOption(),
      {"db", "PATH", "SQLite file holding the trained models (default ./evolve-engines.db)"},
      {"store", "URL",
       "postgresql://... : keep the models in that database instead, so that several "
       "evolve-engines (a simulation cluster) share them"},
      {"training-threads", "N", "trainings run at once (default 1); more wait in a queue"},
      {"max-body", "BYTES", "largest request body accepted (default 1048576); larger gets 413"},
      {"help", "", "show this help"},
  };
}

engines::BuiltinOptions BuiltinOptionsOf(const EnginesSettings& settings) {
  engines::BuiltinOptions options;
  options.data_dir = settings.data_dir;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.threads = settings.training_threads == 1 ? 0 : std::max(1, cores / settings.training_threads);
  return options;
}

std::string EnginesHelp(const std::vector<service::OptionSpec>& specs) {
  return "usage: evolve-engines [options]\n\n"
         "Serves the built-in engines over the original services' wire contract: a feature service\n"
         "(GET /symbols, /options, /features_sample), a training service (POST /train, GET /models,\n"
         "/api/model/{id}/importance|config) and a simulation service (POST /api/simulate), each with\n"
         "GET /health. docs/engines-service.md has the details. SIGTERM or Ctrl-C stops it.\n\n"
         "options:\n" +
         service::OptionsHelp(specs);
}

Result<EnginesSettings> ParseEnginesSettings(const service::Args& args) {
  EnginesSettings s;
  s.host = args.Get("host").value_or(s.host);
  if (s.host.empty()) return InvalidArgumentError("--host: must not be empty");
  EVOLVE_ASSIGN_OR_RETURN(s.feature_port, IntOption(args, "feature-port", s.feature_port, 0, 65535));
  EVOLVE_ASSIGN_OR_RETURN(s.training_port, IntOption(args, "training-port", s.training_port, 0, 65535));
  EVOLVE_ASSIGN_OR_RETURN(s.simulation_port, IntOption(args, "simulation-port", s.simulation_port, 0, 65535));
  EVOLVE_ASSIGN_OR_RETURN(s.training_threads, IntOption(args, "training-threads", 1, 1, 64));
  EVOLVE_ASSIGN_OR_RETURN(int max_body,
                          IntOption(args, "max-body", static_cast<int>(s.max_body), 1024, 1 << 30));
  s.max_body = static_cast<size_t>(max_body);
  const std::string db = args.Get("db").value_or("./evolve-engines.db");
  if (db.empty()) return InvalidArgumentError("--db: must not be empty");
  s.store.sqlite_path = db;
  s.store_text = db;
  if (std::optional<std::string> url = args.Get("store")) {
    if (args.Has("db")) return InvalidArgumentError("--db and --store: give one of them");
    if (url->rfind("postgresql://", 0) != 0 && url->rfind("postgres://", 0) != 0) {
      return InvalidArgumentError("--store: must be a postgresql:// URL, got '" + *url + "'");
    }
    s.store.sqlite_path.clear();
    s.store.url = *url;
    s.store_text = "--store";
  }
  EVOLVE_ASSIGN_OR_RETURN(s.data_dir, service::ResolveDataDir(args));
  return s;
}

struct EngineServers::Service {
  Service(const char* n, const char* f, size_t max_body)
      : name(n), flag(f), server([max_body] {
          http::ServerOptions options;
          options.max_body = max_body;
          return options;
        }()) {}

  const char* name;
  const char* flag;
  std::string host;
  int port = 0;
  http::HttpServer server;
};

EngineServers::EngineServers(size_t max_body) {
  services_.push_back(std::make_unique<Service>("features", "--feature-port", max_body));
  services_.push_back(std::make_unique<Service>("training", "--training-port", max_body));
  services_.push_back(std::make_unique<Service>("simulation", "--simulation-port", max_body));
}

EngineServers::~EngineServers() = default;

http::HttpServer& EngineServers::features() { return services_[0]->server; }
http::HttpServer& EngineServers::training() { return services_[1]->server; }
http::HttpServer& EngineServers::simulation() { return services_[2]->server; }

Status EngineServers::Bind(const EnginesSettings& settings) {
  const int wanted[] = {settings.feature_port, settings.training_port, settings.simulation_port};
  for (size_t i = 0; i < services_.size(); ++i) {
    Service& s = *services_[i];
    auto bound = s.server.Bind(settings.host, wanted[i]);
    if (!bound.ok()) {
      return UnavailableError("cannot listen on " + settings.host + ":" + std::to_string(wanted[i]) +
                              " for the " + s.name + " service (" + s.flag +
                              "; address in use, or not an address of this host)");
    }
    s.host = settings.host;
    s.port = *bound;
  }
  if (!service::IsLoopback(settings.host)) {
    Log(LogLevel::kWarning,
        "listening on a non-loopback address: the original services' contract has no authentication",
        {{"host", settings.host}});
  }
  return Status::Ok();
}

void EngineServers::Announce(const EnginesSettings& settings, int64_t models) const {
  std::string urls[3], line;
  for (size_t i = 0; i < services_.size() && i < 3; ++i) {
    urls[i] = service::ListenUrl(services_[i]->host, services_[i]->port);
    line += (line.empty() ? "" : " ") + std::string(services_[i]->name) + " " + urls[i];
  }
  std::printf("evolve-engines: %s\n", line.c_str());
  std::fflush(stdout);
  Log(LogLevel::kInfo, "listening",
      {{"features", urls[0]},
       {"training", urls[1]},
       {"simulation", urls[2]},
       {"data_dir", settings.data_dir},
       {"store", settings.store.url.empty() ? settings.store.sqlite_path : "postgresql"},
       {"models", std::to_string(models)}});
}

bool EngineServers::Serve() {
  std::atomic<bool> unexpected{false};
  std::vector<std::thread> listeners;
  for (auto& s : services_) {
    listeners.emplace_back([this, &s, &unexpected] {
      if (s->server.Serve()) return;
      unexpected = true;
      Log(LogLevel::kError, "an HTTP server stopped unexpectedly", {{"service", s->name}});
      Stop();
    });
  }
  for (std::thread& t : listeners) t.join();
  return !unexpected.load();
}

void EngineServers::Stop() {
  for (auto& s : services_) s->server.Stop();
}

}  // namespace evolve::engines_service
