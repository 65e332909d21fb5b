// The defaults of a run have one source, EvolutionConfig{} (evolve/types.h):
// every `default` of the POST /evolve request schema in
// services/orchestrator/openapi.json (read from the source tree) equals the
// field of ToJson(EvolutionConfig{}), `evolve run`'s help shows the same
// values, and GET /api/defaults serves them.
#include <doctest/doctest.h>
#include <httplib.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <string>

#include "api.h"
#include "evolve/json.h"
#include "evolve/service/json_text.h"
#include "evolve/sqlite/sqlite_store.h"
#include "evolve/testing/fake_engines.h"
#include "run_config.h"
#include "service_test_support.h"

namespace evolve::testing {
namespace {

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str(), json.size());
  REQUIRE_MESSAGE(!doc.HasParseError(), json);
  return doc;
}

// Equal JSON values, numbers by value (3 == 3.0).
bool SameJson(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() && b.IsNumber()) return a.GetDouble() == b.GetDouble();
  if (a.GetType() != b.GetType()) return false;
  if (a.IsArray()) {
    if (a.Size() != b.Size()) return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i) {
      if (!SameJson(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount()) return false;
    for (const auto& m : a.GetObject()) {
      auto other = b.FindMember(m.name);
      if (other == b.MemberEnd() || !SameJson(m.value, other->value)) return false;
    }
    return true;
  }
  return a == b;
}

TEST_CASE("openapi.json: every default of the POST /evolve body is EvolutionConfig{}'s") {
  std::ifstream in(EVOLVE_OPENAPI_JSON, std::ios::binary);
  REQUIRE_MESSAGE(in, EVOLVE_OPENAPI_JSON);
  std::stringstream text;
  text << in.rdbuf();
  const rapidjson::Document openapi = Parse(text.str());
  const rapidjson::Document defaults = Parse(ToJson(EvolutionConfig{}));
  const rapidjson::Value& properties = openapi["components"]["schemas"]["EvolveRequest"]["properties"];
  int checked = 0;
  for (const auto& p : properties.GetObject()) {
    const std::string field = p.name.GetString();
    auto stated = p.value.FindMember("default");
    if (stated == p.value.MemberEnd()) continue;
    auto actual = defaults.FindMember(field.c_str());
    REQUIRE_MESSAGE(actual != defaults.MemberEnd(), field << ": a default for a field EvolutionConfig has not");
    CHECK_MESSAGE(SameJson(stated->value, actual->value), field << ": openapi.json says "
                                                                << service::JsonOut::Text(stated->value)
                                                                << ", EvolutionConfig{} has "
                                                                << service::JsonOut::Text(actual->value));
    ++checked;
  }
  CHECK(checked >= 20);  // the criteria, costs, grid, holdout settings, ...
}

TEST_CASE("evolve run: the help of every option shows EvolutionConfig{}'s default") {
  const EvolutionConfig d;
  std::string all;
  for (const service::OptionSpec& o : cli::RunConfigOptions()) {
    CHECK_MESSAGE(o.help.find("{default}") == std::string::npos, o.name);
    CHECK_MESSAGE(o.help.find("(default ?") == std::string::npos, o.name);
    all += "--" + o.name + " " + o.help + "\n";
  }
  CHECK(services::Contains(all, "--sqn-min Holy Grail SQN range, low end (default 3)\n"));
  CHECK(services::Contains(all, "(default 0.0001,0.0003,0.0005)\n"));
  CHECK(services::Contains(all, "--holdout-excess-sqn-min holdout: excess SQN at least (default 1.645)\n"));
  CHECK(services::Contains(all, "--dsr-min finalist: deflated Sharpe ratio at least, 0..1 (default none)\n"));
  CHECK(services::Contains(all, "threshold (default " + d.pruning.strategy + ")\n"));
  auto generations = cli::DefaultMaxGenerations();
  REQUIRE(generations.ok());
  CHECK(*generations == d.max_generations);
}

TEST_CASE("GET /api/defaults: ToJson(EvolutionConfig{}) with the service's max_generations") {
  services::ScratchDir dir;
  auto store = sqlite::OpenSqliteStore(dir / "evolve.db");
  REQUIRE_MESSAGE(store.ok(), store.status().ToString());
  FakeFeatureSource features;
  FakeTrainer trainer;
  EvolutionEngine engine(EngineDeps{features, trainer, **store});
  RunScheduler scheduler(engine, **store);
  service::Metrics metrics;
  cli::ApiContext ctx{**store, engine,    scheduler, features, metrics, /*default_max_generations=*/7,
                      "sqlite", "builtin", nullptr,   nullptr};
  http::HttpServer server;
  cli::RegisterInfoRoutes(server, ctx);
  services::ServedOnLoopback serving(server);
  httplib::Client client("127.0.0.1", serving.port());
  auto res = client.Get("/api/defaults");
  REQUIRE(res);
  CHECK(res->status == 200);
  EvolutionConfig expected;
  expected.max_generations = 7;
  CHECK(res->body == ToJson(expected));
}

}  // namespace
}  // namespace evolve::testing
