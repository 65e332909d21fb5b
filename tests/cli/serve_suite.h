// The HTTP test suite of `evolve serve`, run unchanged on SQLite
// (serve_test.cc) and PostgreSQL (serve_postgres_test.cc): every endpoint of
// WIRE-CONTRACT.md part A through real HTTP on loopback against a real
// service process, the seed README's examples, auth on and off, every
// POST /evolve field with a bad value, stop/cancel/resume on the live loop,
// and a service killed with SIGKILL mid-run and started again.
#ifndef EVOLVE_TESTS_CLI_SERVE_SUITE_H_
#define EVOLVE_TESTS_CLI_SERVE_SUITE_H_

#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "evolve/json.h"
#include "seed_examples.h"
#include "serve_test_support.h"

namespace evolve::testing {

// A fresh, empty store for one test, and how to name it to the binaries.
class StoreUnderTest {
 public:
  virtual ~StoreUnderTest() = default;
  // "--db PATH" or "--store URL".
  virtual std::vector<std::string> Args() const = 0;
  virtual std::unique_ptr<Store> Open() const = 0;
};

using StoreFactory = std::unique_ptr<StoreUnderTest> (*)();

// A service over a fresh store and `data`, with `workers` in-process
// workers, re-checking waiting runs every 0.2 s.
inline std::vector<std::string> ServeArgs(const StoreUnderTest& store, const std::string& data, int workers,
                                          std::vector<std::string> extra = {}) {
  std::vector<std::string> args = store.Args();
  for (const std::string& a : {std::string("--data-dir"), data, std::string("--workers"),
                               std::to_string(workers), std::string("--poll-interval"), std::string("0.2")}) {
    args.push_back(a);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

inline std::vector<std::string> RunIds(const Reply& reply) {
  auto doc = Json(reply);
  std::vector<std::string> ids;
  for (const auto& run : (*doc)["runs"].GetArray()) ids.push_back(run["id"].GetString());
  return ids;
}

// Best SQN first (unset last), as results_sample and top_results promise.
inline void CheckSortedBySqn(const rapidjson::Value& jobs) {
  double previous = 1e300;
  for (const auto& job : jobs.GetArray()) {
    CHECK(Str(job, "status") == "COMPLETED");
    const rapidjson::Value& sqn = job["result"]["sqn"];
    const double v = sqn.IsNull() ? -1e300 : sqn.GetDouble();
    CHECK(v <= previous);
    previous = v;
  }
}

// ---------------------------------------------------------------------------

inline void ServeInfoAndReadEndpoints(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), kSeedSymbols, 1600);
  Server server(ServeArgs(*store, data.path(), 2));

  Reply r = server.Get("/health");
  CHECK(r.status == 200);
  auto health = Json(r);
  CHECK(Str(*health, "status") == "healthy");
  CHECK(Str(*health, "service") == "orchestrator");
  CHECK((*health)["store"]["ok"].GetBool());
  CHECK((*health)["engines"]["ok"].GetBool());

  r = server.Get("/openapi.json");
  REQUIRE(r.status == 200);
  auto openapi = Json(r);
  CHECK(Str(*openapi, "openapi").rfind("3.", 0) == 0);
  for (const char* path : {"/evolve",
                           "/runs",
                           "/runs/{run_id}",
                           "/runs/{run_id}/generations",
                           "/runs/{run_id}/stop",
                           "/runs/{run_id}/cancel",
                           "/runs/{run_id}/resume",
                           "/promoted",
                           "/promoted/{promoted_id}",
                           "/models/{model_id}/lineage",
                           "/jobs/claim",
                           "/jobs/{job_id}/heartbeat",
                           "/jobs/{job_id}/complete",
                           "/jobs/pending",
                           "/workers",
                           "/health",
                           "/api/stats",
                           "/api/features/symbols",
                           "/api/features/columns",
                           "/metrics",
                           "/openapi.json"}) {
    CAPTURE(path);
    CHECK((*openapi)["paths"].HasMember(path));
  }
  // Every field of a POST /evolve body (as the service stores it) is in the
  // request schema, the validity fields included.
  rapidjson::Document config;
  const std::string config_json = ToJson(EvolutionConfig{});
  config.Parse(config_json.c_str(), config_json.size());
  REQUIRE(config.IsObject());
  const rapidjson::Value& request = (*openapi)["components"]["schemas"]["EvolveRequest"]["properties"];
  for (const auto& m : config.GetObject()) {
    CAPTURE(m.name.GetString());
    CHECK(request.HasMember(m.name.GetString()));
  }
  CHECK(request.HasMember("holdout_fraction"));
  CHECK(Contains(Serialize((*openapi)["components"]["schemas"]["Run"]), "holdout_rejected"));
  CHECK((*openapi)["components"]["schemas"]["ValiditySummary"]["properties"].HasMember("dsr"));

  r = server.Get("/api/features/symbols");
  REQUIRE(r.status == 200);
  auto symbols = Json(r);
  std::vector<std::string> listed;
  for (const auto& s : (*symbols)["symbols"].GetArray()) listed.push_back(s.GetString());
  std::vector<std::string> expected = kSeedSymbols;
  std::sort(expected.begin(), expected.end());
  CHECK(listed == expected);

  r = server.Get("/api/features/columns?symbol=AAPL");
  REQUIRE(r.status == 200);
  const std::string columns = Serialize((*Json(r))["columns"]);
  for (const char* f : {"\"sma_20\"", "\"rsi_14\"", "\"macd_line\""}) CHECK(Contains(columns, f));
  CHECK_FALSE(Contains(columns, "\"close\""));
  CHECK(server.Get("/api/features/columns?symbol=NOPE").status == 404);
  r = server.Get("/api/features/columns");
  CHECK(r.status == 400);
  CHECK(ErrorFields(r) == std::set<std::string>{"symbol"});

  // Empty store: empty lists, zero counts; unknown ids are 404 everywhere.
  r = server.Get("/runs");
  REQUIRE(r.status == 200);
  CHECK(Int(*Json(r), "count") == 0);
  r = server.Get("/api/stats");
  REQUIRE(r.status == 200);
  auto stats = Json(r);
  CHECK(Int(*stats, "total_runs") == 0);
  CHECK(Int(*stats, "pending_jobs") == 0);
  for (const char* path : {"/runs/run_nope", "/runs/run_nope/generations", "/promoted/prm_nope",
                           "/models/mdl_nope/lineage", "/no/such/endpoint"}) {
    CAPTURE(path);
    r = server.Get(path);
    CHECK(r.status == 404);
    CHECK(Str((*Json(r))["error"], "code") == "not_found");
  }
  for (const char* action : {"stop", "cancel", "resume"}) {
    CHECK(server.Post(std::string("/runs/run_nope/") + action, "").status == 404);
  }
  // Bad query parameters name themselves.
  for (const char* query : {"/runs?limit=0", "/runs?limit=1001", "/runs?limit=ten", "/runs?offset=-1",
                            "/runs?status=DONE", "/promoted?limit=0"}) {
    CAPTURE(query);
    r = server.Get(query);
    CHECK(r.status == 400);
    CHECK(Str((*Json(r))["error"], "code") == "invalid_argument");
  }

  // The in-process workers registered and heartbeat.
  CHECK(WaitFor([&] {
    const Reply w = server.Get("/api/stats");
    return w.status == 200 && Int(*Json(w), "live_workers") == 2;
  }));

  r = server.Get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(Contains(r.headers.find("Content-Type")->second, "text/plain"));
  CHECK(Contains(r.body, "evolve_runs{status=\"PENDING\"} 0\n"));
  CHECK(Contains(r.body, "evolve_live_workers 2\n"));
  CHECK(Contains(r.body, "evolve_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1\n"));
  CHECK(Contains(r.body,
                 "evolve_http_request_duration_seconds_bucket{method=\"GET\",route=\"/runs\",le=\"+Inf\"}"));
  CHECK(Contains(r.body, "# TYPE evolve_jobs_claimed_total counter"));
  CHECK(server.Stop() == 0);  // SIGTERM: graceful
}

// The seed README's POST /evolve body verbatim, followed through every read
// endpoint of the run.
inline void ServeSeedExampleEndToEnd(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  // Minute bars: the body says "timeframe": "1m", which daily bars refuse.
  WriteSymbols(data.path(), kSeedSymbols, 800, 0.0, 5, /*intraday=*/true);
  Server server(ServeArgs(*store, data.path(), 2));

  const Reply posted = server.Post("/evolve", kSeedEvolveBody);
  INFO(posted.body);
  REQUIRE(posted.status == 202);
  auto reply = Json(posted);
  const std::string run_id = Str(*reply, "run_id");
  CHECK(run_id.rfind("run_", 0) == 0);
  CHECK(Str(*reply, "status") == "started");
  CHECK(Str(*reply, "message") == "Evolution run started for AAPL");
  CHECK(Int(*reply, "max_generations") == 4);
  CHECK(posted.headers.find("Location")->second == "/runs/" + run_id);

  auto doc = server.WaitForRunEnd(run_id);
  const rapidjson::Value& run = (*doc)["run"];
  const std::string status = Str(run, "status");
  CHECK_MESSAGE((status == "COMPLETED" || status == "PROMOTED"), Serialize(run));
  // The request's fields, as stored.
  const rapidjson::Value& config = run["config"];
  CHECK(Str(config, "symbol") == "AAPL");
  CHECK(Str(config, "timeframe") == "1m");
  CHECK(Serialize(config["thresholds"]) == "[0.0001,0.0003,0.0005]");
  CHECK(Serialize(config["regime_configs"]) == R"([{"regime_gmm":[1]},{"regime_vix":[2,3]}])");
  CHECK(Serialize(config["reference_symbols"]) == R"(["SPY","QQQ"])");
  CHECK(Int(config["data_options"], "train_window") == 30);
  CHECK(Int(config["data_options"], "test_window") == 5);

  const rapidjson::Value& generations = (*doc)["generations"];
  REQUIRE(generations.Size() >= 1);
  int64_t jobs = 0;
  for (const auto& g : generations.GetArray()) jobs += Int(g, "jobs_total");
  CHECK(Int(generations[0], "jobs_total") == 6);  // 3 thresholds x 2 regime filters
  // Every job of the run, simulations and (training on the service's
  // workers) a model's parts and its assembly, counted apart by kind.
  CHECK(Int((*doc)["jobs_by_kind"]["simulate"], "total") == jobs);
  CHECK(Int((*doc)["jobs"], "total") == jobs + Int((*doc)["jobs_by_kind"]["train"], "total") +
                                            Int((*doc)["jobs_by_kind"]["assemble"], "total"));
  CHECK(Int((*doc)["jobs_by_kind"]["assemble"], "completed") >= 1);
  CHECK(Int((*doc)["jobs"], "pending") == 0);
  CHECK(Int(*doc, "completed_jobs") == Int((*doc)["jobs"], "completed"));
  // The best simulations: training jobs have no result to show.
  CHECK((*doc)["results_sample"].Size() ==
        std::min<int64_t>(10, Int((*doc)["jobs_by_kind"]["simulate"], "completed")));
  CheckSortedBySqn((*doc)["results_sample"]);
  // The store's counts by kind (only this run is in it): /api/stats and
  // /metrics, read again once their one-second snapshot has caught up.
  CHECK(WaitFor([&] {
    const Reply stats = server.Get("/api/stats");
    if (stats.status != 200) return false;
    auto counts = Json(stats);
    return Serialize((*counts)["jobs_by_kind"]) == Serialize((*doc)["jobs_by_kind"]);
  }));
  const Reply metrics = server.Get("/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(Contains(metrics.body, "# TYPE evolve_jobs_by_kind gauge\n"));
  for (const char* kind : {"simulate", "train", "assemble"}) {
    CAPTURE(kind);
    CHECK(Contains(metrics.body, "evolve_jobs_by_kind{kind=\"" + std::string(kind) +
                                     "\",status=\"COMPLETED\"} " +
                                     std::to_string(Int((*doc)["jobs_by_kind"][kind], "completed")) + "\n"));
  }
  const rapidjson::Value& lineage = (*doc)["lineage"];
  REQUIRE(lineage.Size() == generations.Size());
  CHECK(Str(lineage[0], "parent_model_id").empty());  // the seed

  // Per generation: counts, best SQN and PF, features kept and pruned.
  Reply r = server.Get("/runs/" + run_id + "/generations");
  REQUIRE(r.status == 200);
  auto gens = Json(r);
  CHECK(Int(*gens, "count") == static_cast<int64_t>(generations.Size()));
  for (const auto& g : (*gens)["generations"].GetArray()) {
    CHECK(Int(g["jobs"], "total") == 6);
    CHECK(Int(g["jobs"], "completed") + Int(g["jobs"], "failed") == 6);
    CHECK(g["top_results"].Size() <= 5);
    CheckSortedBySqn(g["top_results"]);
    CHECK(g.HasMember("best_sqn"));
    CHECK(g.HasMember("best_profit_factor"));
    CHECK(g["features"].IsArray());
    if (Int(g, "generation") > 0) {
      CHECK(g["pruned_features"].Size() > 0);
      CHECK_FALSE(Str(g, "pruning_reason").empty());
    }
  }

  // The last model's ancestry leads back to the seed.
  const std::string last_model = Str(generations[generations.Size() - 1], "model_id");
  r = server.Get("/models/" + last_model + "/lineage");
  REQUIRE(r.status == 200);
  auto ancestry = Json(r);
  REQUIRE(Int(*ancestry, "depth") >= 1);
  const rapidjson::Value& edges = (*ancestry)["ancestry"];
  CHECK(Str(edges[0], "child_model_id") == last_model);
  CHECK(Str(edges[edges.Size() - 1], "parent_model_id").empty());

  r = server.Get("/api/stats");
  auto stats = Json(r);
  CHECK(Int(*stats, "total_runs") == 1);
  CHECK(Int(*stats, "active_runs") == 0);
  CHECK(Int(*stats, "completed_jobs") == Int((*doc)["jobs"], "completed"));
  r = server.Get("/metrics");
  CHECK(Contains(r.body, "evolve_http_requests_total{method=\"POST\",route=\"/evolve\",status=\"202\"} 1\n"));
}

// The seed's multi-symbol batch (four POSTs at once) and its per-symbol
// criteria; then the list endpoint's filters and pages.
inline void ServeBatchOfSymbolsAndPerSymbolCriteria(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), kSeedSymbols, 1600);
  Server server(ServeArgs(*store, data.path(), 2, {"--run-threads", "2"}));

  const std::vector<std::string> batch = {"AAPL", "MSFT", "GOOGL", "TSLA"};
  std::vector<Reply> replies(batch.size());
  std::vector<std::thread> posts;
  for (size_t i = 0; i < batch.size(); ++i) {
    posts.emplace_back([&, i] {
      replies[i] = server.Post("/evolve", R"({"symbol": ")" + batch[i] +
                                              R"(", "algorithm": "RandomForest", "max_generations": 4})");
    });
  }
  for (auto& t : posts) t.join();
  std::set<std::string> ids;
  for (size_t i = 0; i < batch.size(); ++i) {
    INFO(replies[i].body);
    REQUIRE(replies[i].status == 202);
    CHECK(Str(*Json(replies[i]), "message") == "Evolution run started for " + batch[i]);
    ids.insert(Str(*Json(replies[i]), "run_id"));
  }
  CHECK(ids.size() == 4);

  // Adaptive criteria per symbol, as the seed's example does.
  const std::string relaxed = StartRun(
      server, R"({"symbol": "SPY", "sqn_min": 2.5, "profit_factor_min": 2.0, "trade_count_min": 200})");
  const std::string strict = StartRun(
      server, R"({"symbol": "QQQ", "sqn_min": 3.0, "profit_factor_min": 2.0, "trade_count_min": 200})");
  ids.insert(relaxed);
  ids.insert(strict);

  std::map<std::string, std::string> status_of;
  for (const std::string& id : ids) {
    auto doc = server.WaitForRunEnd(id);
    status_of[id] = Str((*doc)["run"], "status");
    CHECK_MESSAGE((status_of[id] == "COMPLETED" || status_of[id] == "PROMOTED"), Serialize((*doc)["run"]));
    CHECK(Int((*doc)["jobs"], "pending") == 0);
  }
  CHECK((*Json(server.Get("/runs/" + relaxed)))["run"]["config"]["sqn_min"].GetDouble() == 2.5);
  CHECK((*Json(server.Get("/runs/" + strict)))["run"]["config"]["sqn_min"].GetDouble() == 3.0);

  // Pages of two, newest first, cover every run once.
  std::vector<std::string> paged;
  for (int offset = 0; offset < 8; offset += 2) {
    const Reply page = server.Get("/runs?limit=2&offset=" + std::to_string(offset));
    REQUIRE(page.status == 200);
    const std::vector<std::string> got = RunIds(page);
    CHECK(got.size() == (offset < 6 ? 2u : 0u));
    CHECK(Int(*Json(page), "total") == 6);
    paged.insert(paged.end(), got.begin(), got.end());
  }
  CHECK(std::set<std::string>(paged.begin(), paged.end()) == ids);
  CHECK(paged.size() == ids.size());
  const std::vector<std::string> all = RunIds(server.Get("/runs"));
  CHECK(all == paged);

  // The status filter splits the runs exactly.
  size_t filtered = 0;
  for (const char* status : {"COMPLETED", "PROMOTED", "RUNNING", "FAILED"}) {
    const Reply r = server.Get(std::string("/runs?status=") + status);
    const std::vector<std::string> got = RunIds(r);
    CHECK(Int(*Json(r), "total") == static_cast<int64_t>(got.size()));
    for (const std::string& id : got) CHECK(status_of[id] == status);
    filtered += got.size();
  }
  CHECK(filtered == ids.size());
  auto stats = Json(server.Get("/api/stats"));
  CHECK(Int(*stats, "total_runs") == 6);
  CHECK(Int(*stats, "active_runs") == 0);
  CHECK(Int(*stats, "completed_runs") + Int(*stats, "promoted_runs") == 6);
}

// A learnable planted signal is promoted; /promoted and /promoted/{id} give
// the model, the simulation parameters, the lineage and the result.
inline void ServePromotion(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), {"SYN"}, 6000, 0.35, 11);
  Server server(ServeArgs(*store, data.path(), 2));
  const std::string run_id =
      StartRun(server, R"({"symbol": "SYN", "sqn_min": 3, "sqn_max": 100, "profit_factor_min": 1.3,)"
                       R"( "profit_factor_max": 100, "trade_count_min": 100, "weekly_consistency_max": 10})");
  auto doc = server.WaitForRunEnd(run_id);
  REQUIRE(Str((*doc)["run"], "status") == "PROMOTED");
  const rapidjson::Value& promotion = (*doc)["promotion"];
  const std::string promotion_id = Str(promotion, "id");

  Reply r = server.Get("/promoted");
  REQUIRE(r.status == 200);
  auto list = Json(r);
  REQUIRE(Int(*list, "count") == 1);
  CHECK(Str((*list)["promoted"][0], "id") == promotion_id);
  CHECK((*list)["promoted"][0]["sqn"].GetDouble() >= 3);

  r = server.Get("/promoted/" + promotion_id);
  REQUIRE(r.status == 200);
  auto detail = Json(r);
  const std::string model_id = Str(promotion, "model_id");
  CHECK(Str((*detail)["model"], "model_id") == model_id);
  const std::string features = Serialize((*detail)["model"]["features"]);
  CHECK(Contains(features, "\"ibs\""));  // the planted feature survives pruning
  CHECK((*detail)["model"].HasMember("hyperparameters"));
  CHECK((*detail)["simulation"]["threshold"].GetDouble() == promotion["threshold"].GetDouble());
  CHECK(Serialize((*detail)["simulation"]["regime"]) == Serialize(promotion["regime"]));
  CHECK((*detail)["result"]["sqn"].GetDouble() == promotion["sqn"].GetDouble());
  const rapidjson::Value& lineage = (*detail)["lineage"];
  REQUIRE(lineage.Size() == static_cast<size_t>(Int(promotion, "generation")) + 1);
  CHECK(Str(lineage[0], "child_model_id") == model_id);
  CHECK(Str(lineage[lineage.Size() - 1], "parent_model_id").empty());
  CHECK(Int(lineage[lineage.Size() - 1], "generation") == 0);

  CHECK(RunIds(server.Get("/runs?status=PROMOTED")) == std::vector<std::string>{run_id});
  auto stats = Json(server.Get("/api/stats"));
  CHECK(Int(*stats, "promoted_runs") == 1);

  // Research validity. The promotion carries its holdout confirmation and
  // its selection statistics.
  const rapidjson::Value& holdout = (*detail)["promotion"]["holdout"];
  REQUIRE(holdout.IsObject());
  CHECK(holdout["passed"].GetBool());
  CHECK(Str(holdout, "verdict") == "PASS");
  CHECK(Str(holdout["result"], "span") == "holdout");
  CHECK(holdout["result"]["sqn"].IsNumber());
  CHECK(holdout["result"].HasMember("excess_return_pct"));
  CHECK(holdout["result"]["trade_blocks"].IsArray());
  const rapidjson::Value& selection = (*detail)["promotion"]["selection"];
  REQUIRE(selection.IsObject());
  CHECK(Int(selection, "trials") > 0);
  CHECK(selection["dsr"].IsNumber());
  CHECK(selection["pbo"].IsNumber());
  CHECK(Str((*detail)["result"], "span") == "research");

  // Every evaluated generation has its selection statistics; the promoting
  // one its holdout look.
  r = server.Get("/runs/" + run_id + "/generations");
  REQUIRE(r.status == 200);
  auto gens = Json(r);
  const rapidjson::Value& gen_list = (*gens)["generations"];
  const rapidjson::Value* promoting = nullptr;
  for (const auto& g : gen_list.GetArray()) {
    CAPTURE(Int(g, "generation"));
    CHECK(g.HasMember("jobs_too_few_trades"));
    REQUIRE(g["selection"].IsObject());
    for (const char* field : {"trials", "prior_trials", "prior_looks", "research_end", "sharpe",
                              "expected_max_sharpe", "sharpe_variance", "dsr", "pbo", "pbo_candidates"}) {
      CHECK_MESSAGE(g["selection"].HasMember(field), field);
    }
    CHECK(g.HasMember("holdout"));
    if (Int(g, "generation") == Int(promotion, "generation")) promoting = &g;
  }
  REQUIRE(promoting != nullptr);
  REQUIRE((*promoting)["holdout"].IsObject());
  CHECK(Str((*promoting)["holdout"], "job_id") == Str(holdout, "job_id"));

  // GET /runs/{id} sums it up.
  auto run_doc = Json(server.Get("/runs/" + run_id));
  const rapidjson::Value& validity = (*run_doc)["validity"];
  REQUIRE(validity.IsObject());
  CHECK(validity["has_holdout"].GetBool());
  CHECK(Int(validity, "holdout_looks") == 1);
  CHECK(Int(validity, "prior_holdout_looks") == 0);
  CHECK(Int(validity, "generation") == Int(gen_list[gen_list.Size() - 1], "generation"));
  CHECK(validity["dsr"].IsNumber());
  CHECK(validity["pbo"].IsNumber());
  CHECK(Str(validity, "research_end") == Str(selection, "research_end"));
  CHECK(Str(validity, "holdout_first_date") == Str(holdout["result"], "start_date"));
  REQUIRE(validity["holdout"].IsObject());
  CHECK(Int(validity["holdout"], "generation") == Int(promotion, "generation"));
  CHECK(Str(validity["holdout"], "verdict") == "PASS");
  const rapidjson::Value& summarised = validity["holdout"]["result"];
  CHECK(Int(summarised, "trade_count") == Int(holdout["result"], "trade_count"));
  CHECK(Str(summarised, "end_date") == Str(holdout["result"], "end_date"));
  CHECK(summarised["sqn"].GetDouble() ==
        doctest::Approx(holdout["result"]["sqn"].GetDouble()).epsilon(1e-12));
}

// Stop, resume and cancel act on the live loop; wrong states are 409.
inline void ServeStopCancelResume(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), kSeedSymbols, 1600);
  // No workers: the run waits on its first batch until cancelled.
  Server server(ServeArgs(*store, data.path(), 0));
  const std::string run_id = StartRun(server, R"({"symbol": "AAPL"})");
  auto pending_jobs = [&] { return Int((*Json(server.Get("/runs/" + run_id)))["jobs"], "pending"); };
  REQUIRE(WaitFor([&] { return pending_jobs() == 3; }));

  Reply r = server.Post("/runs/" + run_id + "/stop", "");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "STOPPED");
  // The scheduler lets go of it at once (it was woken, not polled).
  CHECK(WaitFor([&] { return !(*Json(server.Get("/runs/" + run_id)))["scheduled"].GetBool(); }));
  CHECK(pending_jobs() == 3);  // queued jobs stay queued
  r = server.Post("/runs/" + run_id + "/stop", "");
  CHECK(r.status == 409);

  r = server.Post("/runs/" + run_id + "/resume", "");
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "RUNNING");
  CHECK(WaitFor([&] { return (*Json(server.Get("/runs/" + run_id)))["scheduled"].GetBool(); }));

  r = server.Post("/runs/" + run_id + "/cancel", "");
  REQUIRE(r.status == 200);
  CHECK(Str(*Json(r), "status") == "CANCELLED");
  auto doc = Json(server.Get("/runs/" + run_id));
  CHECK(Int((*doc)["jobs"], "pending") == 0);
  CHECK(Int((*doc)["jobs"], "cancelled") == 3);
  for (const char* action : {"stop", "resume", "cancel"}) {
    CAPTURE(action);
    r = server.Post("/runs/" + run_id + "/" + action, "");
    CHECK(r.status == 409);
    CHECK(Contains(Str((*Json(r))["error"], "message"), "CANCELLED"));
  }
  CHECK(Str((*Json(server.Get("/runs/" + run_id)))["run"], "status") == "CANCELLED");
}

// With a token every mutating and /jobs endpoint needs it; reads do not.
inline void ServeAuth(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), kSeedSymbols, 1600);
  const std::string token = "s3cret-token";
  {
    Server server(ServeArgs(*store, data.path(), 0), {{"EVOLVE_API_TOKEN", token}});
    for (const std::string& bad : {std::string(""), std::string("wrong"), token + "x", token.substr(1)}) {
      CAPTURE(bad);
      const Reply r = server.Post("/evolve", R"({"symbol": "AAPL"})", bad);
      CHECK(r.status == 401);
      CHECK(r.headers.find("WWW-Authenticate")->second == "Bearer");
      CHECK(Str((*Json(r))["error"], "code") == "unauthorized");
    }
    CHECK(server.Post("/runs/run_x/stop", "").status == 401);  // auth before lookup
    CHECK(server.Post("/runs/run_x/stop", "", token).status == 404);
    CHECK(server.Post("/jobs/claim", R"({"worker_id": "w"})").status == 401);
    CHECK(server.Get("/jobs/pending").status == 401);
    CHECK(server.Get("/jobs/pending", token).status == 200);
    CHECK(server.Get("/runs").status == 200);  // reads are public
    CHECK(server.Get("/api/stats").status == 200);
    CHECK(Int(*Json(server.Get("/api/stats")), "total_runs") == 0);  // nothing got through
    const std::string run_id = StartRun(server, R"({"symbol": "AAPL"})", token);
    CHECK(server.Post("/runs/" + run_id + "/cancel", "", token).status == 200);
  }
  {
    // The same token from a file; without any token, /jobs is open.
    TempDir dir;
    WriteFile(dir / "token", token + "\n");
    Server server(ServeArgs(*store, data.path(), 0, {"--token-file", dir / "token"}));
    CHECK(server.Post("/evolve", R"({"symbol": "AAPL"})").status == 401);
    CHECK(server.Post("/jobs/claim", R"({"worker_id": "w"})", token).status == 200);
  }
  {
    Server server(ServeArgs(*store, data.path(), 0));
    const Reply r = server.Post("/jobs/claim", R"({"worker_id": "w"})");
    CHECK(r.status == 200);
    CHECK(Str(*Json(r), "status") == "no_jobs");
  }
  // A non-loopback address needs a token, or --insecure.
  ProcessResult refused =
      RunProcess(Evolve({"serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", data.path()}));
  CHECK(refused.exit_code == 2);
  CHECK(Contains(refused.err, "--host 0.0.0.0: refusing to serve a non-loopback address without a token"));
  ProcessResult no_cache =
      RunProcess(Evolve({"serve", "--port", "0", "--data-dir", data.path(), "--bars-cache-mb", "0"}));
  CHECK(no_cache.exit_code == 2);
  CHECK(Contains(no_cache.err, "--bars-cache-mb: must be in [1, 1048576], got 0"));
}

// Every field of POST /evolve with a bad value: 400 naming the field, and
// nothing written.
inline void ServeBadEvolveBodies(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), kSeedSymbols, 1600);
  Server server(ServeArgs(*store, data.path(), 0, {"--max-body", "4096"}));
  struct Case {
    std::string body;
    std::string field;  // expected in details[].field (a prefix of it)
  };
  const std::vector<Case> cases = {
      {R"({})", "symbol"},
      {R"({"symbol": 5})", "symbol"},
      {R"({"symbol": ""})", "symbol"},
      {R"({"symbol": "NOPE"})", "symbol"},
      {R"({"symbol": "AAPL", "algorithm": "GradientBoostedUnicorn"})", "algorithm"},
      {R"({"symbol": "AAPL", "algorithm": 3})", "algorithm"},
      {R"({"symbol": "AAPL", "target_col": 7})", "target_col"},
      {R"({"symbol": "AAPL", "target_transform": "cube"})", "target_transform"},
      {R"({"symbol": "AAPL", "max_generations": 0})", "max_generations"},
      {R"({"symbol": "AAPL", "max_generations": "4"})", "max_generations"},
      {R"({"symbol": "AAPL", "max_generations": 1.5})", "max_generations"},
      {R"({"symbol": "AAPL", "timeframe": 60})", "timeframe"},
      {R"({"symbol": "AAPL", "data_options": 5})", "data_options"},
      {R"({"symbol": "AAPL", "data_options": "{not json"})", "data_options"},
      {R"({"symbol": "AAPL", "seed_features": "sma_20"})", "seed_features"},
      {R"({"symbol": "AAPL", "seed_features": ["sma_20", "tea_leaves"]})", "seed_features"},
      {R"({"symbol": "AAPL", "seed_model_id": 12})", "seed_model_id"},
      {R"({"symbol": "AAPL", "reference_symbols": "SPY"})", "reference_symbols"},
      {R"({"symbol": "AAPL", "reference_symbols": ["NOPE"]})", "reference_symbols"},
      {R"({"symbol": "AAPL", "thresholds": []})", "thresholds"},
      {R"({"symbol": "AAPL", "thresholds": ["0.1"]})", "thresholds"},
      {R"({"symbol": "AAPL", "regime_configs": []})", "regime_configs"},
      {R"({"symbol": "AAPL", "regime_configs": [{"regime_gmm": "calm"}]})", "regime_configs"},
      {R"({"symbol": "AAPL", "sqn_min": "3"})", "sqn_min"},
      {R"({"symbol": "AAPL", "sqn_min": 6})", "sqn_min"},
      {R"({"symbol": "AAPL", "sqn_max": 1})", "sqn_"},
      {R"({"symbol": "AAPL", "profit_factor_min": true})", "profit_factor_min"},
      {R"({"symbol": "AAPL", "profit_factor_max": 1})", "profit_factor_"},
      {R"({"symbol": "AAPL", "trade_count_min": 1.5})", "trade_count_min"},
      {R"({"symbol": "AAPL", "trade_count_max": 10})", "trade_count_"},
      {R"({"symbol": "AAPL", "weekly_consistency_max": "low"})", "weekly_consistency_max"},
      {R"({"symbol": "AAPL", "hyperparameters": [1, 2]})", "hyperparameters"},
      {R"({"symbol": "AAPL", "pruning": {"strategy": "coin_flip"}})", "pruning"},
      {R"({"symbol": "AAPL", "colour": "blue"})", "colour"},
      {R"({"symbol": "AAPL", "holdout_fraction": 2})", "holdout_fraction"},
      {R"({"symbol": "AAPL", "holdout_fraction": "0.2"})", "holdout_fraction"},
      {R"({"symbol": "AAPL", "holdout_start": "April"})", "holdout_start"},
      {R"({"symbol": "AAPL", "holdout_start": "2999-01-01"})", "holdout_start"},
      {R"({"symbol": "AAPL", "selection_fraction": -0.1})", "selection_fraction"},
      {R"({"symbol": "AAPL", "holdout_sqn_min": "high"})", "holdout_sqn_min"},
      {R"({"symbol": "AAPL", "holdout_excess_return_min": "none"})", "holdout_excess_return_min"},
      {R"({"symbol": "AAPL", "holdout_excess_sqn_min": true})", "holdout_excess_sqn_min"},
      {R"({"symbol": "AAPL", "holdout_looks": 0})", "holdout_looks"},
      {R"({"symbol": "AAPL", "excess_return_min": "high"})", "excess_return_min"},
      {R"({"symbol": "AAPL", "max_drawdown_max": 0})", "max_drawdown_max"},
      {R"({"symbol": "AAPL", "dsr_min": 1.5})", "dsr_min"},
      {R"({"symbol": "AAPL", "pbo_max": -1})", "pbo_max"},
      // What the run would fail on after a 202 (issue 18): its data and
      // engines, checked before anything is stored.
      {R"({"symbol": "AAPL", "target_col": "nope"})", "target_col"},
      {R"({"symbol": "AAPL", "seed_model_id": "mdl_missing"})", "seed_model_id"},
      {R"({"symbol": "AAPL", "regime_configs": [{"nope": [1]}]})", "regime_configs[0]"},
      {R"({"symbol": "AAPL", "data_options": {"trian_window": 500}})", "data_options.trian_window"},
      {R"({"symbol": "AAPL", "data_options": {"embargo": 2}})", "data_options.embargo"},
      {R"({"symbol": "AAPL", "data_options": {"train_window": 1500}})", "data_options.train_window"},
      {R"({"symbol": "AAPL", "timeframe": "1h"})", "timeframe"},
      {R"({"symbol": "AAPL", "timeframe": "hourly"})", "timeframe"},
      {R"({"symbol": "AAPL", "initial_cash": 1e308})", "initial_cash"},
      {R"({"symbol": "AAPL", "initial_cash": 0})", "initial_cash"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.body);
    const Reply r = server.Post("/evolve", c.body);
    CHECK(r.status == 400);
    auto doc = Json(r);
    CHECK(Str((*doc)["error"], "code") == "invalid_argument");
    bool named = false;
    for (const std::string& f : ErrorFields(r)) named = named || f.rfind(c.field, 0) == 0;
    CHECK_MESSAGE(named, r.body);
  }
  // Not JSON, not an object, too large.
  for (const std::string& body : {std::string("{\"symbol\": "), std::string("[1, 2]"), std::string("")}) {
    CAPTURE(body);
    const Reply r = server.Post("/evolve", body);
    CHECK(r.status == 400);
    CHECK(Str((*Json(r))["error"], "code") == "invalid_argument");
  }
  // How many bars a run needs, and why; and no server path in a reply.
  const Reply few = server.Post("/evolve", R"({"symbol": "AAPL", "data_options": {"train_window": 1500}})");
  CHECK_MESSAGE(Contains(few.body, "AAPL has 1600 bars; a run needs at least"), few.body);
  CHECK_MESSAGE(Contains(few.body, "of feature warm-up"), few.body);
  const Reply unknown = server.Post("/evolve", R"({"symbol": "NOPE"})");
  CHECK_MESSAGE(Contains(unknown.body, "the data directory has AAPL"), unknown.body);
  CHECK_FALSE(Contains(unknown.body, data.path()));
  const Reply columns = server.Get("/api/features/columns?symbol=NOPE");
  CHECK(columns.status == 404);
  CHECK_FALSE(Contains(columns.body, data.path()));
  const Reply big =
      server.Post("/evolve", R"({"symbol": "AAPL", "seed_model_id": ")" + std::string(5000, 'x') + "\"}");
  CHECK(big.status == 413);
  CHECK(Str((*Json(big))["error"], "code") == "payload_too_large");

  // Nothing was written.
  auto stats = Json(server.Get("/api/stats"));
  CHECK(Int(*stats, "total_runs") == 0);
  CHECK(Int(*stats, "pending_jobs") == 0);
  auto opened = store->Open();
  auto runs = opened->ListRuns(RunFilter{});
  REQUIRE(runs.ok());
  CHECK(runs->empty());
}

// The worker protocol over HTTP, call by call (the fencing of the store,
// seen through 200/409/404), then an evolve-worker --orchestrator that
// finishes the run without touching the database.
inline void ServeWorkerProtocol(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), kSeedSymbols, 1600);
  Server server(ServeArgs(*store, data.path(), 0));
  // The results this test completes by hand know no spans: a run without a split.
  const std::string run_id =
      StartRun(server, R"({"symbol": "AAPL", "holdout_fraction": 0, "selection_fraction": 0})");
  Reply r;
  REQUIRE(WaitFor([&] {
    r = server.Get("/jobs/pending?run_id=" + run_id);
    return r.status == 200 && Int(*Json(r), "count") == 3;
  }));
  const std::string model_id = Str((*Json(r))["jobs"][0], "model_id");

  r = server.Post("/jobs/claim", R"({"worker_id": "w1", "max_jobs": 2, "lease_seconds": 30})");
  REQUIRE(r.status == 200);
  auto claim = Json(r);
  CHECK(Str(*claim, "status") == "claimed");
  REQUIRE((*claim)["jobs"].Size() == 2);
  const std::string first = Str((*claim)["jobs"][0], "id");
  const std::string second = Str((*claim)["jobs"][1], "id");
  CHECK(Str((*claim)["jobs"][0], "status") == "RUNNING");
  CHECK(Str((*claim)["jobs"][0], "worker_id") == "w1");
  CHECK(Int(*Json(server.Get("/jobs/pending?run_id=" + run_id)), "count") == 1);

  CHECK(server.Post("/jobs/" + first + "/heartbeat", R"({"worker_id": "w1"})").status == 200);
  CHECK(server.Post("/jobs/" + first + "/heartbeat", R"({"worker_id": "w2"})").status == 409);
  CHECK(server.Post("/jobs/job_nope/heartbeat", R"({"worker_id": "w1"})").status == 404);
  const std::string result =
      R"({"success": true, "result": {"sqn": 1.5, "profit_factor": 1.2, "trade_count": 40}})";
  r = server.Post("/jobs/" + first + "/complete", R"({"worker_id": "w1",)" + result.substr(1));
  INFO(r.body);
  CHECK(r.status == 200);
  CHECK(Str(*Json(r), "status") == "completed");
  // A second completion, or one by a worker that never held the job, writes nothing.
  CHECK(server.Post("/jobs/" + first + "/complete", R"({"worker_id": "w1",)" + result.substr(1)).status ==
        409);
  CHECK(server.Post("/jobs/" + second + "/complete", R"({"worker_id": "w2",)" + result.substr(1)).status ==
        409);
  r = server.Post("/jobs/" + second + "/complete", R"({"worker_id": "w1", "success": true})");
  CHECK(r.status == 400);
  CHECK(ErrorFields(r).count("result") == 1);
  CHECK(server.Post("/jobs/" + second + "/release", R"({"worker_id": "w1"})").status == 200);
  CHECK(Int(*Json(server.Get("/jobs/pending?run_id=" + run_id)), "count") == 2);

  r = server.Get("/workers");
  REQUIRE(r.status == 200);
  CHECK(Contains(Serialize((*Json(r))["workers"]), "\"id\":\"w1\""));
  r = server.Get("/artifacts/model/" + model_id);
  CHECK(r.status == 200);
  CHECK_FALSE(r.body.empty());
  CHECK(server.Get("/artifacts/model/mdl_nope").status == 404);

  // A remote worker drains the rest; the run ends.
  Process worker =
      Process::Spawn({kWorker, "--orchestrator", "http://127.0.0.1:" + std::to_string(server.port()),
                      "--poll-interval", "0.1", "--worker-id", "remote-1"},
                     {{"LOG_LEVEL", "WARNING"}});
  auto doc = server.WaitForRunEnd(run_id);
  worker.Signal(SIGTERM);
  const ProcessResult stopped = worker.Wait();
  INFO(stopped.err);
  CHECK(stopped.exit_code == 0);
  CHECK((Str((*doc)["run"], "status") == "COMPLETED" || Str((*doc)["run"], "status") == "PROMOTED"));
  CHECK(Int((*doc)["jobs"], "pending") == 0);
  CHECK(Int((*doc)["jobs"], "completed") == Int((*doc)["jobs"], "total"));
  // The job completed by hand kept its one result.
  auto opened = store->Open();
  auto job = opened->GetJob(first);
  REQUIRE(job.ok());
  CHECK(job->worker_id == "w1");
  CHECK(job->result->sqn == 1.5);
}

// SIGKILL in the middle of a run, then a new service on the same store: the
// run is adopted and finishes, no model is trained twice, no job has two
// results. An evolve-worker that stops after 300 jobs (generation 0's 200
// and half of generation 1's) puts the kill at the same point every time.
inline void ServeKilledAndRestarted(StoreFactory make_store) {
  auto store = make_store();
  TempDir data;
  WriteSymbols(data.path(), {"SYN"}, 3000, 0.5, 3);
  Server server(ServeArgs(*store, data.path(), 0));
  // Four generations of 20 x 10 jobs that always prune and never promote.
  const std::string run_id =
      StartRun(server, R"({"symbol": "SYN", "max_generations": 4, "sqn_min": 100, "sqn_max": 200,)"
                       R"( "pruning": {"strategy": "keep_top_fraction", "fraction": 0.5}, "thresholds": [)" +
                           Thresholds(20) + "], \"regime_configs\": " + kTenRegimes + "}");
  auto worker = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {kWorker, "--max-jobs-per-claim", "10", "--poll-interval", "0.1"};
    const std::vector<std::string> store_args = store->Args();
    argv.insert(argv.end(), store_args.begin(), store_args.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Process::Spawn(argv, {{"LOG_LEVEL", "WARNING"}});
  };
  const ProcessResult first = worker({"--max-jobs", "300"}).Wait();
  INFO(first.err);
  REQUIRE(first.exit_code == 0);
  // Generation 1 is half done; the service waits for the rest.
  auto gens = Json(server.Get("/runs/" + run_id + "/generations"));
  REQUIRE(Int(*gens, "count") == 2);
  CHECK(Int((*gens)["generations"][1]["jobs"], "completed") == 100);
  CHECK(Int((*gens)["generations"][1]["jobs"], "pending") == 100);
  server.Kill();
  {
    auto opened = store->Open();
    auto run = opened->GetRun(run_id);
    REQUIRE(run.ok());
    REQUIRE(run->status == RunStatus::kRunning);
  }
  server.Start();
  Process second = worker({});
  auto doc = server.WaitForRunEnd(run_id);
  second.Signal(SIGTERM);
  CHECK(second.Wait().exit_code == 0);
  const std::string log = server.Log();
  INFO(log);
  CHECK(Str((*doc)["run"], "status") == "COMPLETED");
  CHECK(Int((*doc)["run"], "current_generation") == 3);
  CHECK(Contains(log, "msg=\"adopted run\" run_id=" + run_id));
  // No model trained twice: each of the four generations' fingerprints was
  // trained once, across both service processes.
  const std::vector<std::string> trained = LoggedFingerprintList(log, "training model");
  CHECK(std::set<std::string>(trained.begin(), trained.end()).size() == trained.size());
  CHECK(trained.size() == 4);
  auto opened = store->Open();
  CheckEveryJobCompletedOnce(*opened, run_id, 4 * 200);
}

#define EVOLVE_SERVE_CASE_(prefix, name, check, make_store) \
  TEST_CASE(prefix ": " name) { ::evolve::testing::check(make_store); }

// The suite, for a store made by `make_store` (a StoreFactory).
#define EVOLVE_SERVE_SUITE(prefix, make_store)                                                              \
  EVOLVE_SERVE_CASE_(prefix, "health, openapi, features, metrics, empty lists and 404s",                    \
                     ServeInfoAndReadEndpoints, make_store)                                                 \
  EVOLVE_SERVE_CASE_(prefix, "the seed README's POST /evolve body through every read endpoint",             \
                     ServeSeedExampleEndToEnd, make_store)                                                  \
  EVOLVE_SERVE_CASE_(prefix, "a batch of four symbols at once, per-symbol criteria, pages and filters",     \
                     ServeBatchOfSymbolsAndPerSymbolCriteria, make_store)                                   \
  EVOLVE_SERVE_CASE_(prefix,                                                                                \
                     "a planted signal is promoted and /promoted shows model, params, lineage, result",     \
                     ServePromotion, make_store)                                                            \
  EVOLVE_SERVE_CASE_(prefix, "stop, resume and cancel act on the live loop", ServeStopCancelResume,         \
                     make_store)                                                                            \
  EVOLVE_SERVE_CASE_(prefix, "auth on and off", ServeAuth, make_store)                                      \
  EVOLVE_SERVE_CASE_(prefix,                                                                                \
                     "every POST /evolve field with a bad value is 400 naming it and writes nothing",       \
                     ServeBadEvolveBodies, make_store)                                                      \
  EVOLVE_SERVE_CASE_(prefix, "the worker protocol call by call, then evolve-worker --orchestrator",         \
                     ServeWorkerProtocol, make_store)                                                       \
  EVOLVE_SERVE_CASE_(prefix, "killed with SIGKILL mid-run and started again, the run resumes and finishes", \
                     ServeKilledAndRestarted, make_store)

}  // namespace evolve::testing

#endif  // EVOLVE_TESTS_CLI_SERVE_SUITE_H_
