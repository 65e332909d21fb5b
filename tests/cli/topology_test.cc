// The seed's topology end to end (issue 7): evolve-engines serving the
// built-in engines over the original services' contract, `evolve serve`
// talking to it over HTTP, evolve-worker processes simulating through it;
// and the proof that engines behind HTTP give the same evolution as the
// same engines in process.
#include <doctest/doctest.h>
#include <signal.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evolve/postgres/postgres_store.h"
#include "postgres_test_support.h"
#include "engines_test_support.h"
#include "seed_examples.h"
#include "serve_test_support.h"

namespace evolve::testing {
namespace {

TEST_CASE("topology: evolve-engines, evolve serve over HTTP engines and two evolve-workers on PostgreSQL") {
  TestDatabase db;
  TempDir dir;
  Engines engines(kData, std::vector<std::string>{"--store", db.url()});
  std::map<std::string, std::string> env = engines.env();
  env["POSTGRES_URL"] = db.url();
  // No --data-dir: with the services' URLs set, the service needs no data.
  Server server({"--workers", "0", "--poll-interval", "0.2"}, env);
  CHECK(Contains(server.Log(), "engines=http"));

  auto worker = [&](const std::string& id) {
    std::map<std::string, std::string> worker_env = {{"POSTGRES_URL", db.url()},
                                                     {"SIMULATION_URL", engines.env().at("SIMULATION_URL")},
                                                     {"WORKER_ID", id},
                                                     {"POLL_INTERVAL", "0.2"},
                                                     {"LOG_LEVEL", "WARNING"}};
    return Process::Spawn({kWorker, "--max-jobs-per-claim", "1"}, worker_env);
  };
  Process w1 = worker("worker_1");
  Process w2 = worker("worker_2");

  // The seed README's body with the symbol adapted to the bundled data
  // (TTRC, which has no reference symbols).
  std::string body = kSeedEvolveBody;
  body.replace(body.find("\"AAPL\""), 6, "\"TTRC\"");
  const size_t refs = body.find("  \"reference_symbols\"");
  body.erase(refs, body.find('\n', refs) - refs + 1);
  const Reply posted = server.Post("/evolve", body);
  INFO(posted.body);
  REQUIRE(posted.status == 202);
  const std::string run_id = Str(*Json(posted), "run_id");
  auto doc = server.WaitForRunEnd(run_id, std::chrono::seconds(600));
  const std::string status = Str((*doc)["run"], "status");
  INFO(Serialize((*doc)["run"]));
  CHECK((status == "COMPLETED" || status == "PROMOTED"));
  CHECK(Int((*doc)["jobs"], "failed") == 0);
  CHECK(Int((*doc)["jobs"], "completed") == Int((*doc)["jobs"], "total"));
  CHECK((*doc)["lineage"].Size() == (*doc)["generations"].Size());
  // The models are the training service's (its ids), trained over HTTP.
  const std::string model = Str((*doc)["generations"][0], "model_id");
  httplib::Client training(engines.env().at("TRAINING_URL"));
  auto described = training.Get("/models/" + model);
  REQUIRE(described);
  CHECK(described->status == 200);
  CHECK(Contains(described->body, "\"status\":\"completed\""));

  const Reply gens = server.Get("/runs/" + run_id + "/generations");
  REQUIRE(gens.status == 200);
  CHECK(Int(*Json(gens), "count") == static_cast<int64_t>((*doc)["generations"].Size()));
  CHECK(server.Get("/models/" + model + "/lineage").status == 200);
  const Reply promoted = server.Get("/promoted");
  REQUIRE(promoted.status == 200);
  CHECK(Int(*Json(promoted), "count") == (status == "PROMOTED" ? 1 : 0));

  // Both workers did some of the work.
  auto workers = Json(server.Get("/workers"));
  std::map<std::string, int64_t> completed;
  for (const auto& w : (*workers)["workers"].GetArray()) completed[Str(w, "id")] = Int(w, "jobs_completed");
  CHECK(completed["worker_1"] > 0);
  CHECK(completed["worker_2"] > 0);
  CHECK(completed["worker_1"] + completed["worker_2"] == Int((*doc)["jobs"], "completed"));

  // Torn down: workers and service stop cleanly on SIGTERM.
  for (Process* w : {&w1, &w2}) {
    w->Signal(SIGTERM);
    CHECK(w->Wait().exit_code == 0);
  }
  CHECK(server.Stop() == 0);
}

// The fields of a generation that the engines decide.
// Not the fingerprint: in process it holds the bars' digest, which the
// original feature service's contract cannot give (docs/validity.md).
std::string GenerationOutcome(const rapidjson::Value& g) {
  std::string out = Serialize(g["features"]) + Serialize(g["pruned_features"]) + Str(g, "pruning_reason") + " " +
                    Serialize(g["best_sqn"]) + " " + Serialize(g["best_profit_factor"]) + " " +
                    std::to_string(Int(g, "best_trade_count")) + " " + Str(g, "verdict") + " " +
                    Serialize(g["jobs"]);
  for (const auto& job : g["top_results"].GetArray()) out += " " + Serialize(job["result"]);
  return out;
}

TEST_CASE("topology: the same run gives the same generations and promoted model in process and over HTTP") {
  TempDir data;
  WriteSymbols(data.path(), {"SYN"}, 6000, 0.35, 11);
  // The same config both times: the timeframe is given, because without one
  // the built-in engines take the data's (1d) and the services the seed's
  // default (1m), which is part of the fingerprint.
  const std::string body =
      R"({"symbol": "SYN", "timeframe": "1d", "sqn_min": 3, "sqn_max": 100, "profit_factor_min": 1.3, "profit_factor_max": 100,)"
      R"( "trade_count_min": 100, "weekly_consistency_max": 10})";
  std::vector<std::string> outcomes;
  std::vector<std::string> promotions;
  for (const bool over_http : {false, true}) {
    CAPTURE(over_http);
    TempDir dir;
    std::unique_ptr<Engines> engines;
    std::map<std::string, std::string> env;
    if (over_http) {
      engines = std::make_unique<Engines>(data.path(), dir / "engines.db");
      env = engines->env();
    }
    Server server({"--db", dir / "evolve.db", "--data-dir", data.path(), "--workers", "2", "--poll-interval", "0.2"},
                  env);
    const std::string run_id = StartRun(server, body);
    auto doc = server.WaitForRunEnd(run_id, std::chrono::seconds(600));
    REQUIRE(Str((*doc)["run"], "status") == "PROMOTED");
    auto gens = Json(server.Get("/runs/" + run_id + "/generations"));
    std::string outcome;
    for (const auto& g : (*gens)["generations"].GetArray()) outcome += GenerationOutcome(g) + "\n";
    outcomes.push_back(outcome);
    rapidjson::Value& p = (*doc)["promotion"];
    // Model ids are each trainer's own names (mdl_... in process, model_...
    // from the training service); everything else must agree.
    p["spec"].RemoveMember("parent_model_id");
    p["spec"].RemoveMember("data_digest");  // known in process only, as the fingerprint
    promotions.push_back(Serialize(p["spec"]) + " " + Serialize(p["sqn"]) + " " + Serialize(p["threshold"]) + " " +
                         Serialize(p["regime"]) + " " + Serialize(p["result"]) + " " +
                         std::to_string(Int(p, "generation")));
    CHECK(server.Stop() == 0);
  }
  CHECK(outcomes[0] == outcomes[1]);
  CHECK(promotions[0] == promotions[1]);
}

}  // namespace
}  // namespace evolve::testing
