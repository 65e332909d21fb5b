// evolve-engines end to end: the feature (8100), training (8200) and
// simulation (8300) services of WIRE-CONTRACT.md part B, as a real process
// on free loopback ports, over real HTTP. Trains models on synthetic data,
// checks de-duplication (features included), importance and config, that
// /api/simulate gives exactly what the in-process built-in simulator gives
// on the same SQLite file, failures in stats.error, the feature endpoints,
// and that a restarted service still serves the models it trained.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "evolve/engines/bars.h"
#include "evolve/engines/builtin.h"
#include "evolve/engines/features.h"
#include "evolve/json.h"
#include "evolve/sqlite/sqlite_store.h"
#include "engines_test_support.h"
#include "serve_test_support.h"

namespace evolve::testing {
namespace {

// Small and fast: 300-bar training windows, a small forest.
constexpr char kTrainBody[] =
    R"({"symbol": "SYN", "algorithm": "random_forest_regressor", "target_col": "close",
        "target_transform": "log_return", "timeframe": "1d",
        "hyperparameters": {"n_estimators": 10, "max_depth": 4, "random_state": 7},
        "data_options": "{\"train_window\": 300, \"test_window\": 100}",
        "feature_whitelist": ["rsi_14", "ibs", "close_to_sma_20", "return_z_score_20"],
        "p_value_threshold": 0.05})";

// The body parsed with full precision, so numbers compare exactly.
std::unique_ptr<rapidjson::Document> ExactJson(const std::string& body) {
  auto doc = std::make_unique<rapidjson::Document>();
  doc->Parse<rapidjson::kParseFullPrecisionFlag>(body.c_str());
  INFO(body);
  REQUIRE_FALSE(doc->HasParseError());
  return doc;
}

std::vector<std::string> Strings(const rapidjson::Value& array) {
  std::vector<std::string> out;
  for (const auto& v : array.GetArray()) out.push_back(v.GetString());
  return out;
}

double Num(const rapidjson::Value& v, const char* name) {
  REQUIRE(v.HasMember(name));
  REQUIRE(v[name].IsNumber());
  return v[name].GetDouble();
}

// The seed's fields of stats, from the lossless result: undefined -> 0,
// win_rate and hit_rate_pct in percent.
void CheckSeedFields(const rapidjson::Value& stats, const SimulationResult& r, bool failed = false) {
  CHECK(Num(stats, "sqn") == r.sqn.value_or(0.0));
  CHECK(Num(stats, "profit_factor") == r.profit_factor.value_or(0.0));
  CHECK(Int(stats, "trade_count") == r.trade_count);
  CHECK(Int(stats, "total_trades") == r.total_trades);
  CHECK(Num(stats, "win_rate") == r.win_rate.value_or(0.0) * 100.0);
  CHECK(Num(stats, "hit_rate_pct") == r.win_rate.value_or(0.0) * 100.0);
  CHECK(Num(stats, "expectancy") == r.expectancy.value_or(0.0));
  CHECK(Num(stats, "trades_per_week") == r.trades_per_week);
  CHECK(Int(stats, "weeks_traded") == r.weeks_traded);
  CHECK(Num(stats, "strategy_return_pct") == r.total_return_pct);
  CHECK(Num(stats, "benchmark_return_pct") == r.benchmark_return_pct.value_or(0.0));
  CHECK(Str(stats, "start_date") == r.start_date);
  CHECK(Str(stats, "end_date") == r.end_date);
  CHECK(stats.HasMember("error") == failed);
}

// ---------------------------------------------------------------------------

TEST_CASE("evolve-engines trains asynchronously, de-duplicates by fingerprint with features, and reports importance and config") {
  TempDir dir;
  const std::string data = dir / "data";
  std::filesystem::create_directories(data);
  WriteSymbols(data, {"SYN", "REF"}, 1200, 0.5, 3);
  Engines engines(data, dir / "engines.db");

  Reply r = engines.Get(Engines::kTraining, "/health");
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "healthy");

  auto model = engines.Train(kTrainBody);
  const std::string id = Str(*model, "id");
  CHECK(Strings((*model)["features"]) ==
        std::vector<std::string>{"rsi_14", "ibs", "close_to_sma_20", "return_z_score_20"});
  CHECK(Str(*model, "algorithm") == "random_forest_regressor");
  CHECK((*model)["error_message"].IsNull());
  CHECK((*model)["metrics"].HasMember("oos_mse"));
  CHECK(Str(*model, "engine_model_id").rfind("mdl_", 0) == 0);

  // The same spec, written differently (seed algorithm name, symbol case,
  // features reordered, 10.0 for 10, data_options as an object): duplicate.
  r = engines.Post(Engines::kTraining, "/train",
                   R"({"symbol": "syn", "algorithm": "RandomForest", "timeframe": "1d",
                       "hyperparameters": {"max_depth": 4, "n_estimators": 10.0, "random_state": 7},
                       "data_options": {"test_window": 100, "train_window": 300},
                       "feature_whitelist": ["ibs", "return_z_score_20", "rsi_14", "close_to_sma_20"]})");
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto dup = Json(r);
  CHECK(Str(*dup, "status") == "duplicate");
  CHECK(Str(*dup, "id") == id);
  CHECK_FALSE(Str(*dup, "message").empty());
  REQUIRE((*dup)["existing_model"].IsObject());
  CHECK(Str((*dup)["existing_model"], "id") == id);
  CHECK(Str((*dup)["existing_model"], "status") == "completed");
  CHECK(Strings((*dup)["existing_model"]["features"]) == Strings((*model)["features"]));

  // Fewer features: a new model, not the parent's id (the original's bug).
  const std::string pruned_body =
      R"({"symbol": "SYN", "algorithm": "random_forest_regressor", "timeframe": "1d",
          "hyperparameters": {"n_estimators": 10, "max_depth": 4, "random_state": 7},
          "data_options": "{\"train_window\": 300, \"test_window\": 100}",
          "feature_whitelist": ["rsi_14", "ibs", "close_to_sma_20"], "parent_model_id": ")" +
      id + R"("})";
  auto child = engines.Train(pruned_body);
  const std::string child_id = Str(*child, "id");
  CHECK(child_id != id);
  CHECK(Str(*child, "parent_model_id") == id);
  CHECK(Strings((*child)["features"]) == std::vector<std::string>{"rsi_14", "ibs", "close_to_sma_20"});

  // Bad requests: 400 naming the field; nothing is created.
  struct Bad {
    std::string body;
    std::string field;
  };
  const std::vector<Bad> bad = {
      {R"({"symbol": "SYN", "algorithm": "gradient_boosting_deluxe"})", "algorithm"},
      {R"({"symbol": "SYN", "hyperparameters": {"n_estimators": -3}})", "hyperparameters.n_estimators"},
      {R"({"symbol": "SYN", "hyperparameters": {"no_such_knob": 1}})", "hyperparameters"},
      {R"({"symbol": "SYN", "hyperparameters": [1]})", "hyperparameters"},
      {R"({"symbol": "SYN", "data_options": "{not json"})", "data_options"},
      {R"({"symbol": "SYN", "data_options": {"train_window": 1}})", "data_options.train_window"},
      {R"({"symbol": "NOPE"})", "symbol"},
      {R"({"algorithm": "RandomForest"})", "symbol"},
      {R"({"symbol": "SYN", "feature_whitelist": ["rsi_14", "not_a_feature"]})", "feature_whitelist[1]"},
      {R"({"symbol": "SYN", "feature_whitelist": ["rsi_14", "rsi_14"]})", "feature_whitelist[1]"},
      {R"({"symbol": "SYN", "target_transform": "cube"})", "target_transform"},
      {R"({"symbol": "SYN", "target_col": "volume"})", "target_col"},
      {R"({"symbol": "SYN", "p_value_threshold": 2})", "p_value_threshold"},
      {R"({"symbol": "SYN", "reference_symbols": ["NOPE"]})", "reference_symbols[0]"},
      {R"({"symbol": "SYN", "surprise": 1})", "surprise"},
      {R"({"symbol": "SYN", "timeframe": 5})", "timeframe"},
  };
  for (const Bad& b : bad) {
    CAPTURE(b.body);
    r = engines.Post(Engines::kTraining, "/train", b.body);
    CHECK(r.status == 400);
    CHECK(ErrorFields(r).count(b.field) == 1);
  }
  r = engines.Post(Engines::kTraining, "/train", "{\"symbol\": ");
  CHECK(r.status == 400);
  CHECK(ErrorFields(r).count("") == 1);
  r = engines.Post(Engines::kTraining, "/train", std::string(2 << 20, ' '));
  CHECK(r.status == 413);

  // Reference symbols' columns are trainable by name.
  auto with_ref = engines.Train(
      R"({"symbol": "SYN", "reference_symbols": ["ref"], "timeframe": "1d",
          "hyperparameters": {"n_estimators": 5, "max_depth": 3},
          "data_options": {"train_window": 300, "test_window": 100},
          "feature_whitelist": ["rsi_14", "ref_return_1"]})");
  CHECK(Strings((*with_ref)["reference_symbols"]) == std::vector<std::string>{"REF"});

  // GET /models: every model, oldest first; ?status filters.
  r = engines.Get(Engines::kTraining, "/models");
  REQUIRE(r.status == 200);
  auto list = Json(r);
  REQUIRE(list->IsArray());
  std::vector<std::string> ids;
  for (const auto& m : list->GetArray()) ids.push_back(Str(m, "id"));
  CHECK(ids == std::vector<std::string>{id, child_id, Str(*with_ref, "id")});
  CHECK(engines.Get(Engines::kTraining, "/models?status=completed").status == 200);
  CHECK(Json(engines.Get(Engines::kTraining, "/models?status=failed"))->GetArray().Size() == 0);
  CHECK(engines.Get(Engines::kTraining, "/models?status=bogus").status == 400);
  CHECK(engines.Get(Engines::kTraining, "/models/model_nope").status == 404);

  // Importance: one signed value per feature.
  r = engines.Get(Engines::kTraining, "/api/model/" + id + "/importance");
  REQUIRE(r.status == 200);
  auto importance = Json(r);
  CHECK(Str(*importance, "model_id") == id);
  CHECK(Str(*importance, "importance_type") == "permutation");
  CHECK(Int(*importance, "feature_count") == 4);
  std::vector<std::string> keys;
  for (auto it = (*importance)["importance"].MemberBegin(); it != (*importance)["importance"].MemberEnd(); ++it) {
    CHECK(it->value.IsNumber());
    keys.push_back(it->name.GetString());
  }
  CHECK(keys == Strings((*model)["features"]));
  CHECK(engines.Get(Engines::kTraining, "/api/model/model_nope/importance").status == 404);

  // Config: what the model was trained on.
  r = engines.Get(Engines::kTraining, "/api/model/" + child_id + "/config");
  REQUIRE(r.status == 200);
  auto config = Json(r);
  CHECK(Str(*config, "model_id") == child_id);
  CHECK(Strings((*config)["features"]) == std::vector<std::string>{"rsi_14", "ibs", "close_to_sma_20"});
  CHECK(Serialize((*config)["hyperparameters"]) == R"({"n_estimators":10,"max_depth":4,"random_state":7})");
  CHECK(Str(*config, "target_transform") == "log_return");
  CHECK(Str(*config, "symbol") == "SYN");
  CHECK(Str(*config, "target_col") == "close");
  CHECK(Str(*config, "algorithm") == "random_forest_regressor");
  CHECK(Str(*config, "timeframe") == "1d");
  rapidjson::Document options;
  options.Parse(Str(*config, "data_options").c_str());
  REQUIRE(options.IsObject());
  CHECK(options["train_window"].GetInt() == 300);
  CHECK(options["test_window"].GetInt() == 100);
  CHECK(engines.Get(Engines::kTraining, "/api/model/model_nope/config").status == 404);

  // No whitelist: every feature column of the symbol.
  r = engines.Post(Engines::kTraining, "/train",
                   R"({"symbol": "REF", "algorithm": "elasticnet_regression",
                       "data_options": {"train_window": 300, "test_window": 100}})");
  REQUIRE(r.status == 200);
  auto all = engines.WaitForModel(Str(*Json(r), "id"));
  CHECK(Strings((*all)["features"]) == engines::OwnFeatureNames());

  CHECK(engines.Stop() == 0);
}

TEST_CASE("evolve-engines simulates exactly as the in-process built-in simulator, and still serves its models after a restart") {
  TempDir dir;
  const std::string data = dir / "data";
  std::filesystem::create_directories(data);
  WriteSymbols(data, {"SYN"}, 1500, 0.5, 11);
  const std::string db = dir / "engines.db";
  auto engines = std::make_unique<Engines>(data, db);

  auto model = engines->Train(kTrainBody);
  const std::string id = Str(*model, "id");
  const std::string engine_model_id = Str(*model, "engine_model_id");

  struct Case {
    std::string body;
    SimulationParams params;
  };
  std::vector<Case> cases;
  {
    SimulationParams p;
    p.model_id = engine_model_id;
    p.ticker = "SYN";
    p.threshold = 0.0001;
    cases.push_back({R"({"model_id": ")" + id +
                         R"(", "ticker": "SYN", "initial_cash": 10000, "use_bot": false,
                          "min_prediction_threshold": 0.0001, "enable_z_score_check": false,
                          "volatility_normalization": false})",
                     p});
    p.threshold = 0.0;
    p.regime = RegimeFilter{"regime_gmm", {0}};
    p.initial_cash = 25000;
    cases.push_back({R"({"model_id": ")" + id +
                         R"(", "ticker": "SYN", "initial_cash": 25000, "regime_col": "regime_gmm",
                          "allowed_regimes": [0]})",
                     p});
    p.regime = RegimeFilter{"regime_vix", {2, 3}};
    p.initial_cash = 10000;
    p.threshold = 0.0003;
    p.fee_bps = 2;
    p.slippage_bps = 0.5;
    // By the built-in model id, without ticker (the model's symbol).
    cases.push_back({R"({"model_id": ")" + engine_model_id +
                         R"(", "min_prediction_threshold": 0.0003, "regime_col": "regime_vix",
                          "allowed_regimes": [2, 3], "fee_bps": 2, "slippage_bps": 0.5})",
                     p});
  }
  std::vector<std::string> replies;
  for (const Case& c : cases) {
    CAPTURE(c.body);
    const Reply r = engines->Post(Engines::kSimulation, "/api/simulate", c.body);
    REQUIRE(r.status == 200);
    replies.push_back(r.body);
    auto doc = ExactJson(r.body);
    REQUIRE((*doc)["stats"].IsObject());
    CHECK((*doc)["trades"].IsArray());
    CHECK((*doc)["chart_data"].IsArray());
    CHECK_FALSE(Contains(r.body, "NaN"));
    CHECK_FALSE(Contains(r.body, "Infinity"));
    REQUIRE((*doc)["stats"]["libevolve_result"].IsObject());
    auto result = SimulationResultFromJson(Serialize((*doc)["stats"]["libevolve_result"]));
    REQUIRE(result.ok());
    CHECK(result->trade_count > 0);
    CheckSeedFields((*doc)["stats"], *result);
  }

  // An internal failure: 200, every stat 0, stats.error.
  Reply r = engines->Post(Engines::kSimulation, "/api/simulate",
                          R"({"model_id": ")" + id + R"(", "regime_col": "regime_nope", "allowed_regimes": [1]})");
  REQUIRE(r.status == 200);
  {
    auto doc = Json(r);
    const rapidjson::Value& stats = (*doc)["stats"];
    CHECK(Contains(Str(stats, "error"), "regime_nope"));
    CheckSeedFields(stats, SimulationResult{}, /*failed=*/true);
    CHECK(stats["libevolve_result"].IsNull());
  }
  r = engines->Post(Engines::kSimulation, "/api/simulate", R"({"model_id": ")" + id + R"(", "ticker": "OTHER"})");
  REQUIRE(r.status == 200);
  CHECK(Contains(Str((*Json(r))["stats"], "error"), "OTHER"));
  // Unknown model: 404. Bad requests: 400 naming the field.
  CHECK(engines->Post(Engines::kSimulation, "/api/simulate", R"({"model_id": "model_nope"})").status == 404);
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"ticker": "SYN"})", "model_id"},
           {R"({"model_id": "x", "use_bot": true})", "use_bot"},
           {R"({"model_id": "x", "min_prediction_threshold": -1})", "min_prediction_threshold"},
           {R"({"model_id": "x", "initial_cash": 0})", "initial_cash"},
           {R"({"model_id": "x", "regime_col": "regime_gmm"})", "allowed_regimes"},
           {R"({"model_id": "x", "allowed_regimes": [1]})", "regime_col"},
           {R"({"model_id": "x", "regime_col": "regime_gmm", "allowed_regimes": ["a"]})", "allowed_regimes[0]"},
           {R"({"model_id": "x", "threshold": 0.1})", "threshold"},
       }) {
    CAPTURE(body);
    const Reply bad = engines->Post(Engines::kSimulation, "/api/simulate", body);
    CHECK(bad.status == 400);
    CHECK(ErrorFields(bad).count(field) == 1);
  }
  r = engines->Get(Engines::kSimulation, "/health");
  CHECK(r.status == 200);
  CHECK(Str(*Json(r), "status") == "healthy");

  r = engines->Get(Engines::kTraining, "/api/model/" + id + "/importance");
  REQUIRE(r.status == 200);
  const std::string importance_before = r.body;
  CHECK(engines->Stop() == 0);

  // The same simulations in process, on the service's SQLite file.
  {
    auto store = sqlite::OpenSqliteStore(db);
    REQUIRE(store.ok());
    engines::BuiltinOptions options;
    options.data_dir = data;
    auto in_process = engines::NewBuiltinEngines(**store, options);
    REQUIRE(in_process.ok());
    for (size_t i = 0; i < cases.size(); ++i) {
      CAPTURE(i);
      auto expected = in_process->simulator->Simulate(cases[i].params);
      REQUIRE(expected.ok());
      auto doc = ExactJson(replies[i]);
      auto parsed = SimulationResultFromJson(Serialize((*doc)["stats"]["libevolve_result"]));
      REQUIRE(parsed.ok());
      CHECK(*parsed == *expected);
      // Embedded as ToJson writes it, byte for byte.
      CHECK(Contains(replies[i], "\"libevolve_result\":" + ToJson(*expected)));
      CheckSeedFields((*doc)["stats"], *expected);
    }
  }

  // Restarted: the models are still there, their importance, config and
  // simulations unchanged, and de-duplication remembers them.
  engines = std::make_unique<Engines>(data, db);
  r = engines->Get(Engines::kTraining, "/models/" + id);
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "completed");
  CHECK(Str(*Json(r), "engine_model_id") == engine_model_id);
  r = engines->Get(Engines::kTraining, "/api/model/" + id + "/importance");
  CHECK(r.status == 200);
  CHECK(r.body == importance_before);
  CHECK(engines->Get(Engines::kTraining, "/api/model/" + id + "/config").status == 200);
  for (size_t i = 0; i < cases.size(); ++i) {
    r = engines->Post(Engines::kSimulation, "/api/simulate", cases[i].body);
    CHECK(r.status == 200);
    CHECK(r.body == replies[i]);
  }
  r = engines->Post(Engines::kTraining, "/train", kTrainBody);
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "duplicate");
  CHECK(Str(*Json(r), "id") == id);
  CHECK(engines->Stop() == 0);
}

TEST_CASE("evolve-engines serves the feature endpoints of the data directory") {
  TempDir dir;
  const std::string data = dir / "data";
  std::filesystem::create_directories(data);
  WriteSymbols(data, {"SYN", "AAA"}, 400, 0.0, 2);
  Engines engines(data, dir / "engines.db");

  Reply r = engines.Get(Engines::kFeatures, "/health");
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "healthy");
  r = engines.Get(Engines::kFeatures, "/symbols");
  REQUIRE(r.status == 200);
  CHECK(Strings(*Json(r)) == std::vector<std::string>{"AAA", "SYN"});
  CHECK(Strings(*Json(engines.Get(Engines::kFeatures, "/symbols?options=default"))) ==
        std::vector<std::string>{"AAA", "SYN"});
  CHECK(Json(engines.Get(Engines::kFeatures, "/symbols?options=other"))->GetArray().Size() == 0);
  r = engines.Get(Engines::kFeatures, "/options");
  REQUIRE(r.status == 200);
  CHECK(Strings(*Json(r)) == std::vector<std::string>{"default"});

  auto bars = engines::LoadBarsCsv(data + "/SYN.csv", "SYN");
  REQUIRE(bars.ok());
  auto frame = engines::ComputeFeatures(*bars);
  REQUIRE(frame.ok());
  r = engines.Get(Engines::kFeatures, "/features_sample?symbol=syn&limit=5");
  REQUIRE(r.status == 200);
  auto rows = ExactJson(r.body);
  REQUIRE(rows->IsArray());
  REQUIRE(rows->GetArray().Size() == 5);
  const rapidjson::Value& last = (*rows)[4];
  for (const char* key : {"ts", "symbol", "open", "high", "low", "close", "volume"}) CHECK(last.HasMember(key));
  CHECK(Str(last, "symbol") == "SYN");
  CHECK(Num(last, "close") == bars->close.back());
  CHECK(Num(last, "volume") == bars->volume.back());
  CHECK(Str(last, "ts") == engines::FormatBarTime(bars->time.back(), false) + "T00:00:00Z");
  for (size_t j = 0; j < frame->names.size(); ++j) {
    CAPTURE(frame->names[j]);
    REQUIRE(last.HasMember(frame->names[j].c_str()));
    CHECK(Num(last, frame->names[j].c_str()) == frame->columns[j].back());
  }
  CHECK(last.MemberCount() == 7 + frame->names.size());
  // The whole series: undefined values (warm-up) are null, never NaN.
  r = engines.Get(Engines::kFeatures, "/features_sample?symbol=SYN&limit=100000");
  REQUIRE(r.status == 200);
  CHECK_FALSE(Contains(r.body, "NaN"));
  rows = Json(r);
  REQUIRE(rows->GetArray().Size() == bars->size());
  CHECK((*rows)[0]["sma_200"].IsNull());
  CHECK((*rows)[static_cast<rapidjson::SizeType>(bars->size() - 1)]["sma_200"].IsNumber());
  CHECK(Json(engines.Get(Engines::kFeatures, "/features_sample?symbol=SYN"))->GetArray().Size() == 100);

  CHECK(engines.Get(Engines::kFeatures, "/features_sample?symbol=NOPE").status == 404);
  CHECK(ErrorFields(engines.Get(Engines::kFeatures, "/features_sample")).count("symbol") == 1);
  CHECK(ErrorFields(engines.Get(Engines::kFeatures, "/features_sample?symbol=SYN&limit=0")).count("limit") == 1);
  CHECK(ErrorFields(engines.Get(Engines::kFeatures, "/features_sample?symbol=SYN&limit=x")).count("limit") == 1);
  CHECK(engines.Get(Engines::kFeatures, "/no/such/endpoint").status == 404);
  CHECK(engines.Stop() == 0);
}

TEST_CASE("evolve-engines refuses bad options and busy ports") {
  TempDir dir;
  WriteSymbols(dir.path(), {"SYN"}, 300);
  ProcessResult r = RunProcess({kEngines, "--training-threads", "0"});
  CHECK(r.exit_code == 2);
  CHECK(Contains(r.err, "--training-threads"));
  r = RunProcess({kEngines, "--bogus"});
  CHECK(r.exit_code == 2);
  r = RunProcess({kEngines, "--data-dir", dir / "missing"});
  CHECK(r.exit_code == 2);
  r = RunProcess({kEngines, "--help"});
  CHECK(r.exit_code == 0);
  CHECK(Contains(r.out, "--simulation-port"));

  // A port another service listens on: a clear error naming the service,
  // exit 1.
  Engines first(dir.path(), dir / "a.db");
  const Reply health = first.Get(Engines::kSimulation, "/health");
  REQUIRE(health.status == 200);
  r = RunProcess({kEngines, "--data-dir", dir.path(), "--db", dir / "b.db", "--feature-port", "0", "--training-port",
                  "0", "--simulation-port", std::to_string(first.port(Engines::kSimulation))});
  CHECK(r.exit_code == 1);
  CHECK(Contains(r.err, "simulation"));
}

}  // namespace
}  // namespace evolve::testing
