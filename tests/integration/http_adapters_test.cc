// The HTTP adapters of the original services (HttpFeatureSource,
// HttpTrainer, HttpSimulator) against scripted fakes of those services: a
// real httplib::Server on loopback port 0 per scenario, answering what the
// scenario scripts and recording what the adapter sent.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net_test_support.h"
#include "evolve/http/http_feature_source.h"
#include "evolve/http/http_simulator.h"
#include "evolve/http/http_trainer.h"
#include "evolve/http/service_engines.h"
#include "evolve/json.h"
#include "fakes/evolve/testing/samples.h"  // SampleResult

namespace evolve::http {
namespace {

struct Recorded {
  std::string method;
  std::string path;
  std::string body;
  httplib::Params params;
};

// A scripted service: register handlers with Get/Post, then Start().
class FakeService {
 public:
  explicit FakeService(int threads = 8) {
    server_.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server_.set_tcp_nodelay(true);  // as uvicorn does: no Nagle delay on kept-alive connections
  }
  ~FakeService() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;
  void Get(const std::string& pattern, Handler h) { server_.Get(pattern, Wrap(std::move(h))); }
  void Post(const std::string& pattern, Handler h) { server_.Post(pattern, Wrap(std::move(h))); }

  void Start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<Recorded> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int Count(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const Recorded& r : requests_) n += r.path == path ? 1 : 0;
    return n;
  }

 private:
  httplib::Server::Handler Wrap(Handler h) {
    return [this, h](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(Recorded{req.method, req.path, req.body, req.params});
      }
      h(req, res);
    };
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<Recorded> requests_;  // guarded by mu_
};

void Json(httplib::Response& res, const std::string& body, int status = 200) {
  res.status = status;
  res.set_content(body, "application/json");
}

// Fast options for tests: short timeouts, 1-4 ms backoffs.
ServiceClientOptions Fast(const std::string& url) {
  ServiceClientOptions o;
  o.url = url;
  o.connect_timeout = std::chrono::milliseconds(1000);
  o.read_timeout = std::chrono::milliseconds(5000);
  o.max_retries = 3;
  o.initial_backoff = std::chrono::milliseconds(1);
  o.max_backoff = std::chrono::milliseconds(4);
  return o;
}

std::unique_ptr<HttpTrainer> MakeTrainer(const std::string& url, int poll_ms = 10, int timeout_ms = 5000) {
  HttpTrainerOptions o;
  o.http = Fast(url);
  o.poll_interval = std::chrono::milliseconds(poll_ms);
  o.training_timeout = std::chrono::milliseconds(timeout_ms);
  auto t = HttpTrainer::Create(o);
  REQUIRE(t.ok());
  return std::move(*t);
}

std::unique_ptr<HttpSimulator> MakeSimulator(const std::string& url) {
  HttpSimulatorOptions o;
  o.http = Fast(url);
  auto s = HttpSimulator::Create(o);
  REQUIRE(s.ok());
  return std::move(*s);
}

std::unique_ptr<HttpFeatureSource> MakeFeatures(const std::string& url) {
  auto f = HttpFeatureSource::Create({Fast(url)});
  REQUIRE(f.ok());
  return std::move(*f);
}

ModelSpec Spec() {
  ModelSpec spec;
  spec.symbol = "TTRC";
  spec.algorithm = "RandomForest";
  spec.target_col = "close";
  spec.target_transform = "log_return";
  spec.timeframe = "1d";
  spec.features = {"rsi_14", "ibs", "sma_ratio_20"};
  spec.hyperparameters = R"({"n_estimators": 100, "max_depth": 6})";
  spec.data_options = R"({"train_window": 30, "test_window": 5})";
  return spec;
}

SimulationParams Params() {
  SimulationParams p;
  p.model_id = "m-1";
  p.ticker = "TTRC";
  p.threshold = 0.0003;
  return p;
}

rapidjson::Document Parse(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

constexpr char kSeedStats[] =
    R"("sqn": 2.5, "profit_factor": 1.8, "trade_count": 4, "total_trades": 8, "win_rate": 75.0,
       "expectancy": 0.004, "trades_per_week": 1.3333, "weeks_traded": 2, "strategy_return_pct": 12.5,
       "benchmark_return_pct": 3.25, "hit_rate_pct": 75.0, "start_date": "2024-01-01",
       "end_date": "2024-01-21T00:00:00")";

// ---------------------------------------------------------------- features

TEST_CASE("HttpFeatureSource lists symbols sorted and features without price columns, in order") {
  FakeService svc;
  svc.Get("/symbols",
          [](const httplib::Request&, httplib::Response& res) { Json(res, R"(["TTRC", "AAPL", "TTRC"])"); });
  svc.Get("/features_sample", [](const httplib::Request& req, httplib::Response& res) {
    const std::string symbol = req.get_param_value("symbol");
    if (symbol == "GONE") return Json(res, R"({"detail": "symbol not found"})", 404);
    if (symbol == "EMPTY") return Json(res, "[]");
    Json(res, R"([{"ts": "2024-01-02T00:00:00Z", "symbol": "TTRC", "open": 1, "high": 2, "low": 0.5,
                   "close": 1.5, "volume": 100, "zeta": 1, "vwap": 1.2, "rsi_14": 55.0, "data_split": "train",
                   "options": "x", "trade_count": 7, "ibs": 0.3, "regime_gmm": 0, "alpha": 2}])");
  });
  svc.Start();
  auto features = MakeFeatures(svc.url());

  auto symbols = features->ListSymbols();
  REQUIRE(symbols.ok());
  CHECK(*symbols == std::vector<std::string>{"AAPL", "TTRC"});

  auto columns = features->ListFeatures("BRK B");
  REQUIRE(columns.ok());
  CHECK(*columns == std::vector<std::string>{"zeta", "rsi_14", "ibs", "regime_gmm", "alpha"});
  const std::vector<Recorded> reqs = svc.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(reqs[1].path == "/features_sample");
  CHECK(reqs[1].params.find("symbol")->second == "BRK B");
  CHECK(reqs[1].params.find("limit")->second == "1");

  CHECK(features->ListFeatures("GONE").status().code() == StatusCode::kNotFound);
  CHECK(features->ListFeatures("EMPTY").status().code() == StatusCode::kNotFound);
}

// ----------------------------------------------------------------- trainer

TEST_CASE("HttpTrainer sends the training service's body: algorithm translated, data_options a string") {
  FakeService svc;
  svc.Post("/train", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-1", "status": "started"})");
  });
  svc.Get(R"(/models/m-1)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-1", "status": "completed"})");
  });
  svc.Start();
  auto trainer = MakeTrainer(svc.url());

  ModelSpec spec = Spec();
  REQUIRE(trainer->Train(spec).ok());
  spec.reference_symbols = {"SPY", "QQQ"};
  spec.parent_model_id = "m-0";
  spec.algorithm = "ElasticNet";
  REQUIRE(trainer->Train(spec).ok());

  std::vector<std::string> bodies;
  for (const Recorded& r : svc.requests()) {
    if (r.path == "/train") bodies.push_back(r.body);
  }
  REQUIRE(bodies.size() == 2);
  rapidjson::Document first = Parse(bodies[0]);
  CHECK(std::string(first["symbol"].GetString()) == "TTRC");
  CHECK(std::string(first["algorithm"].GetString()) == "random_forest_regressor");
  CHECK(std::string(first["target_col"].GetString()) == "close");
  CHECK(std::string(first["target_transform"].GetString()) == "log_return");
  CHECK(std::string(first["timeframe"].GetString()) == "1d");
  REQUIRE(first["hyperparameters"].IsObject());
  CHECK(first["hyperparameters"]["n_estimators"].GetInt() == 100);
  REQUIRE(first["data_options"].IsString());
  CHECK(std::string(first["data_options"].GetString()) == R"({"train_window":30,"test_window":5})");
  CHECK(std::string(first["parent_model_id"].GetString()).empty());
  REQUIRE(first["feature_whitelist"].IsArray());
  REQUIRE(first["feature_whitelist"].Size() == 3);
  CHECK(std::string(first["feature_whitelist"][0].GetString()) == "rsi_14");
  CHECK(std::string(first["feature_whitelist"][2].GetString()) == "sma_ratio_20");
  CHECK(first["p_value_threshold"].GetDouble() == 0.05);
  CHECK_FALSE(first.HasMember("reference_symbols"));

  rapidjson::Document second = Parse(bodies[1]);
  CHECK(std::string(second["algorithm"].GetString()) == "elasticnet_regression");
  CHECK(std::string(second["parent_model_id"].GetString()) == "m-0");
  REQUIRE(second["reference_symbols"].IsArray());
  CHECK(second["reference_symbols"].Size() == 2);

  ModelSpec bad = Spec();
  bad.hyperparameters = "[1]";
  CHECK(trainer->Train(bad).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("HttpTrainer polls a slow training until it completes and keeps its metrics") {
  FakeService svc;
  std::atomic<int> polls{0};
  svc.Post("/train", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-slow", "status": "started"})");
  });
  svc.Get(R"(/models/m-slow)", [&polls](const httplib::Request&, httplib::Response& res) {
    const int n = ++polls;
    if (n == 1) return Json(res, R"({"id": "m-slow", "status": "pending"})");
    if (n == 2) return Json(res, R"({"id": "m-slow", "status": "preprocessing"})");
    if (n == 3) return Json(res, R"({"id": "m-slow", "status": "training"})");
    Json(res, R"({"id": "m-slow", "status": "completed", "error_message": null,
                  "metrics": {"r2_oos": 0.12, "mse": 0.5, "note": "x"}})");
  });
  svc.Start();
  auto trainer = MakeTrainer(svc.url());
  auto model = trainer->Train(Spec());
  REQUIRE(model.ok());
  CHECK(model->model_id == "m-slow");
  CHECK(polls.load() == 4);
  CHECK(model->metrics.size() == 2);
  CHECK(model->metrics.at("r2_oos") == doctest::Approx(0.12));
}

TEST_CASE("HttpTrainer reports a failed training with its error_message") {
  FakeService svc;
  svc.Post("/train", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-bad", "status": "started"})");
  });
  svc.Get(R"(/models/m-bad)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-bad", "status": "failed", "error_message": "not enough rows after dropna"})");
  });
  svc.Start();
  auto model = MakeTrainer(svc.url())->Train(Spec());
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == StatusCode::kInternal);
  CHECK(model.status().message().find("not enough rows after dropna") != std::string::npos);
}

TEST_CASE("HttpTrainer gives up after the training timeout with kDeadlineExceeded") {
  FakeService svc;
  svc.Post("/train", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-forever", "status": "started"})");
  });
  svc.Get(R"(/models/m-forever)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-forever", "status": "training"})");
  });
  svc.Start();
  auto model = MakeTrainer(svc.url(), /*poll_ms=*/10, /*timeout_ms=*/150)->Train(Spec());
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(svc.Count("/models/m-forever") >= 2);
}

TEST_CASE("HttpTrainer accepts a duplicate only when the existing model has the requested features") {
  FakeService svc;
  std::atomic<int> calls{0};
  svc.Post("/train", [&calls](const httplib::Request&, httplib::Response& res) {
    const int n = ++calls;
    if (n == 1) {  // same features, another order, still training
      return Json(res, R"({"id": "m-old", "status": "duplicate", "message": "exists",
          "existing_model": {"id": "m-old", "status": "training",
                             "features": ["sma_ratio_20", "rsi_14", "ibs"]}})");
    }
    if (n == 2) {  // same features as a JSON string (a database column), completed
      return Json(res, R"({"id": "m-old", "status": "duplicate", "message": "exists",
          "existing_model": {"id": "m-done", "status": "completed",
                             "features": "[\"ibs\", \"rsi_14\", \"sma_ratio_20\"]"}})");
    }
    // The original's bug: the parent's id for a pruned child.
    Json(res, R"({"id": "m-parent", "status": "duplicate", "message": "exists",
        "existing_model": {"id": "m-parent", "status": "completed",
                           "features": ["rsi_14", "ibs", "sma_ratio_20", "macd", "atr_14"]}})");
  });
  svc.Get(R"(/models/m-old)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"id": "m-old", "status": "completed"})");
  });
  svc.Start();
  auto trainer = MakeTrainer(svc.url());

  auto polled = trainer->Train(Spec());
  REQUIRE(polled.ok());
  CHECK(polled->model_id == "m-old");
  CHECK(svc.Count("/models/m-old") == 1);

  auto done = trainer->Train(Spec());
  REQUIRE(done.ok());
  CHECK(done->model_id == "m-done");

  auto wrong = trainer->Train(Spec());
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == StatusCode::kFailedPrecondition);
  CHECK(wrong.status().message().find("m-parent") != std::string::npos);
  CHECK(wrong.status().message().find("has 5 features") != std::string::npos);
  CHECK(wrong.status().message().find("3 different ones") != std::string::npos);
}

TEST_CASE("HttpTrainer maps HTTP 400 (unknown algorithm) to kInvalidArgument with the service's message") {
  FakeService svc;
  svc.Post("/train", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"detail": "Unknown algorithm: gradient_boosting_magic"})", 400);
  });
  svc.Start();
  ModelSpec spec = Spec();
  spec.algorithm = "gradient_boosting_magic";
  auto model = MakeTrainer(svc.url())->Train(spec);
  REQUIRE_FALSE(model.ok());
  CHECK(model.status().code() == StatusCode::kInvalidArgument);
  CHECK(model.status().message().find("Unknown algorithm: gradient_boosting_magic") != std::string::npos);
  CHECK(svc.Count("/train") == 1);  // 4xx: not retried
}

TEST_CASE("HttpTrainer reads importance and model configs") {
  FakeService svc;
  svc.Get(R"(/api/model/m-1/importance)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"model_id": "m-1", "importance": {"rsi_14": 0.02, "ibs": -0.001, "sma_ratio_20": 0},
                  "importance_type": "permutation", "feature_count": 3})");
  });
  svc.Get(R"(/api/model/m-1/config)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"model_id": "m-1", "features": ["rsi_14", "ibs"], "hyperparameters": {"max_depth": 6},
                  "target_transform": "log_return", "symbol": "TTRC", "target_col": "close",
                  "algorithm": "random_forest_regressor", "data_options": "{\"train_window\": 30}",
                  "timeframe": "1d"})");
  });
  svc.Get(R"(/api/model/m-2/config)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"model_id": "m-2", "features": ["ibs"], "hyperparameters": {}, "target_transform": "none",
                  "symbol": "TTRC", "target_col": "close", "algorithm": "linear_regression",
                  "data_options": {"test_window": 5}, "timeframe": "1m", "reference_symbols": ["SPY"]})");
  });
  svc.Get(R"(/api/model/nope/importance)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"detail": "Model not found"})", 404);
  });
  svc.Get(R"(/api/model/broken/importance)", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"model_id": "broken", "importance": {"rsi_14": NaN}})");
  });
  svc.Start();
  auto trainer = MakeTrainer(svc.url());

  auto report = trainer->Importance("m-1");
  REQUIRE(report.ok());
  CHECK(report->importance_type == "permutation");
  REQUIRE(report->importances.size() == 3);
  CHECK(report->importances[0].feature == "rsi_14");
  CHECK(report->importances[1].importance == doctest::Approx(-0.001));
  CHECK(report->importances[2].importance == 0.0);
  CHECK(trainer->Importance("nope").status().code() == StatusCode::kNotFound);
  CHECK(trainer->Importance("broken").status().code() == StatusCode::kInternal);

  auto spec = trainer->DescribeModel("m-1");
  REQUIRE(spec.ok());
  CHECK(spec->features == std::vector<std::string>{"rsi_14", "ibs"});
  CHECK(spec->hyperparameters == R"({"max_depth":6})");
  CHECK(spec->data_options == R"({"train_window":30})");
  CHECK(spec->algorithm == "random_forest_regressor");
  CHECK(spec->timeframe == "1d");
  auto other = trainer->DescribeModel("m-2");
  REQUIRE(other.ok());
  CHECK(other->data_options == R"({"test_window":5})");
  CHECK(other->reference_symbols == std::vector<std::string>{"SPY"});
  CHECK(other->target_transform == "none");
}

// --------------------------------------------------------------- simulator

TEST_CASE("HttpSimulator sends min_prediction_threshold and the regime filter only when set") {
  FakeService svc;
  svc.Post("/api/simulate", [](const httplib::Request&, httplib::Response& res) {
    Json(res, std::string(R"({"stats": {)") + kSeedStats + R"(}, "trades": [], "chart_data": []})");
  });
  svc.Start();
  auto simulator = MakeSimulator(svc.url());
  SimulationParams plain = Params();
  REQUIRE(simulator->Simulate(plain).ok());
  SimulationParams filtered = Params();
  filtered.threshold = 0.0005;
  filtered.regime = RegimeFilter{"regime_vix", {2, 3}};
  filtered.initial_cash = 25000;
  filtered.fee_bps = 2.5;
  REQUIRE(simulator->Simulate(filtered).ok());

  const std::vector<Recorded> reqs = svc.requests();
  REQUIRE(reqs.size() == 2);
  rapidjson::Document a = Parse(reqs[0].body);
  CHECK(std::string(a["model_id"].GetString()) == "m-1");
  CHECK(std::string(a["ticker"].GetString()) == "TTRC");
  CHECK(a["initial_cash"].GetDouble() == 10000.0);
  CHECK(a["use_bot"].GetBool() == false);
  CHECK(a["min_prediction_threshold"].GetDouble() == 0.0003);
  CHECK(a["enable_z_score_check"].GetBool() == false);
  CHECK(a["volatility_normalization"].GetBool() == false);
  CHECK_FALSE(a.HasMember("regime_col"));
  CHECK_FALSE(a.HasMember("allowed_regimes"));
  CHECK_FALSE(a.HasMember("threshold"));
  rapidjson::Document b = Parse(reqs[1].body);
  CHECK(b["min_prediction_threshold"].GetDouble() == 0.0005);
  CHECK(b["initial_cash"].GetDouble() == 25000.0);
  CHECK(std::string(b["regime_col"].GetString()) == "regime_vix");
  REQUIRE(b["allowed_regimes"].IsArray());
  REQUIRE(b["allowed_regimes"].Size() == 2);
  CHECK(b["allowed_regimes"][0].GetInt() == 2);
  CHECK(b["allowed_regimes"][1].GetInt() == 3);
  CHECK(b["fee_bps"].GetDouble() == 2.5);
}

TEST_CASE("HttpSimulator maps the seed's stats, with weekly consistency from the trades") {
  FakeService svc;
  svc.Post("/api/simulate", [](const httplib::Request& req, httplib::Response& res) {
    const std::string model = Parse(req.body)["model_id"].GetString();
    std::string trades;
    if (model == "timed") {  // 3 trades in 2024-W01, none in W02, 1 in W03
      trades = R"([{"entry_time": "2024-01-01T14:30:00Z", "exit_time": "2024-01-09T14:30:00Z", "pnl": 1},
                   {"entry_time": "2024-01-03T23:30:00-05:00"},
                   {"entry_time": "2024-01-05"},
                   {"entry_time": 1705579200}])";
    } else if (model == "untimed") {
      trades = R"([{"pnl": 1}, {"pnl": 2}, {"pnl": -1}, {"pnl": 3}])";
    } else if (model == "fills") {  // 8 fills with one time each: not the 4 round trips
      trades = R"([{"timestamp": "2024-01-01"}, {"timestamp": "2024-01-02"}, {"timestamp": "2024-01-03"},
                   {"timestamp": "2024-01-04"}, {"timestamp": "2024-01-05"}, {"timestamp": "2024-01-08"},
                   {"timestamp": "2024-01-15"}, {"timestamp": "2024-01-16"}])";
    } else {  // NaN and Infinity from a Python service, no trade
      return Json(res, R"({"stats": {"sqn": NaN, "profit_factor": Infinity, "trade_count": 0,
                                     "total_trades": 0, "win_rate": 0, "expectancy": NaN,
                                     "strategy_return_pct": 0, "start_date": "2024-01-01",
                                     "end_date": "2024-01-21", "error": null},
                           "trades": [], "chart_data": []})");
    }
    Json(res,
         std::string(R"({"stats": {)") + kSeedStats + R"(}, "trades": )" + trades + R"(, "chart_data": []})");
  });
  svc.Start();
  auto simulator = MakeSimulator(svc.url());

  SimulationParams p = Params();
  p.model_id = "timed";
  auto r = simulator->Simulate(p);
  REQUIRE(r.ok());
  CHECK(r->sqn == doctest::Approx(2.5));
  CHECK(r->sqn_100 == doctest::Approx(2.5));
  CHECK(r->profit_factor == doctest::Approx(1.8));
  CHECK(r->trade_count == 4);
  CHECK(r->total_trades == 8);
  REQUIRE(r->win_rate.has_value());
  CHECK(*r->win_rate == doctest::Approx(0.75));
  CHECK(r->expectancy == doctest::Approx(0.004));
  CHECK(r->trades_per_week == doctest::Approx(1.3333));
  CHECK(r->weeks_traded == 2);
  CHECK(r->total_return_pct == doctest::Approx(12.5));
  CHECK(r->benchmark_return_pct == doctest::Approx(3.25));
  CHECK(r->start_date == "2024-01-01");
  CHECK(r->end_date == "2024-01-21");
  // Weeks W01..W03: t = [3, 0, 1], mean 4/3, population sd sqrt(14)/3.
  REQUIRE(r->weekly_consistency.has_value());
  CHECK(*r->weekly_consistency == doctest::Approx(std::sqrt(14.0) / 4.0));

  p.model_id = "untimed";
  r = simulator->Simulate(p);
  REQUIRE(r.ok());
  CHECK(r->trade_count == 4);
  CHECK_FALSE(r->weekly_consistency.has_value());

  p.model_id = "fills";
  r = simulator->Simulate(p);
  REQUIRE(r.ok());
  CHECK_FALSE(r->weekly_consistency.has_value());

  p.model_id = "nan";
  r = simulator->Simulate(p);
  REQUIRE(r.ok());
  CHECK_FALSE(r->sqn.has_value());
  CHECK_FALSE(r->profit_factor.has_value());
  CHECK_FALSE(r->expectancy.has_value());
  CHECK_FALSE(r->win_rate.has_value());
  CHECK_FALSE(r->weekly_consistency.has_value());
  CHECK(r->trade_count == 0);
  // Written back as JSON without NaN or Infinity.
  CHECK(ToJson(*r).find("nan") == std::string::npos);
  CHECK(ToJson(*r).find("inf") == std::string::npos);
}

TEST_CASE("HttpSimulator returns stats.libevolve_result exactly (the lossless path)") {
  // Every field unlike the seed's (kSeedStats); where a decimal rounding
  // would lose digits, a value that shows it.
  SimulationResult exact = testing::SampleResult(0.1 + 0.2);
  exact.sqn_100 = 1.0 / 3.0;
  exact.profit_factor = 2.718281828459045;
  exact.weekly_consistency = 0.4142135623730951;
  exact.win_rate = 0.5607476635514018;
  exact.expectancy = 1.2345678901234567e-4;
  exact.total_return_pct = 37.123456789;
  exact.max_drawdown_pct = 8.5;
  exact.sharpe = 1.4142135623730951;
  exact.exposure = 0.37;

  FakeService svc;
  svc.Post("/api/simulate", [&exact](const httplib::Request&, httplib::Response& res) {
    // The seed fields are rounded and lossy; libevolve_result wins.
    Json(res, std::string(R"({"stats": {)") + kSeedStats + R"(, "libevolve_result": )" + ToJson(exact) +
                  R"(}, "trades": [], "chart_data": []})");
  });
  svc.Start();
  auto r = MakeSimulator(svc.url())->Simulate(Params());
  REQUIRE(r.ok());
  CHECK(*r == exact);
  CHECK(ToJson(*r) == ToJson(exact));
}

TEST_CASE("HttpSimulator treats a 200 with stats.error as a failed simulation") {
  FakeService svc;
  svc.Post("/api/simulate", [](const httplib::Request&, httplib::Response& res) {
    Json(res, R"({"stats": {"sqn": 0, "profit_factor": 0, "trade_count": 0, "total_trades": 0, "win_rate": 0,
                            "error": "No predictions available for model m-1"},
                  "trades": [], "chart_data": []})");
  });
  svc.Start();
  auto r = MakeSimulator(svc.url())->Simulate(Params());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInternal);
  CHECK(r.status().message().find("No predictions available for model m-1") != std::string::npos);
}

TEST_CASE("HttpSimulator retries 5xx replies and succeeds") {
  FakeService svc;
  std::atomic<int> calls{0};
  svc.Post("/api/simulate", [&calls](const httplib::Request&, httplib::Response& res) {
    if (++calls <= 2) return Json(res, R"({"detail": "database is locked"})", 503);
    Json(res, std::string(R"({"stats": {)") + kSeedStats + R"(}, "trades": [], "chart_data": []})");
  });
  svc.Start();
  auto r = MakeSimulator(svc.url())->Simulate(Params());
  REQUIRE(r.ok());
  CHECK(r->trade_count == 4);
  CHECK(calls.load() == 3);
}

TEST_CASE("HttpSimulator gives up with kUnavailable after 1 + max_retries 5xx replies") {
  FakeService svc;
  svc.Post("/api/simulate",
           [](const httplib::Request&, httplib::Response& res) { Json(res, R"({"detail": "boom"})", 500); });
  svc.Start();
  auto r = MakeSimulator(svc.url())->Simulate(Params());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().message().find("HTTP 500") != std::string::npos);
  CHECK(r.status().message().find("boom") != std::string::npos);
  CHECK(svc.Count("/api/simulate") == 4);
}

TEST_CASE("Malformed JSON replies are kInternal naming the endpoint") {
  FakeService svc;
  svc.Post("/api/simulate",
           [](const httplib::Request&, httplib::Response& res) { Json(res, R"({"stats": {"sqn": 1.5,)"); });
  svc.Post("/train", [](const httplib::Request&, httplib::Response& res) { Json(res, "<html>oops</html>"); });
  svc.Get("/symbols",
          [](const httplib::Request&, httplib::Response& res) { Json(res, R"({"not": "a list"})"); });
  svc.Start();
  auto r = MakeSimulator(svc.url())->Simulate(Params());
  CHECK(r.status().code() == StatusCode::kInternal);
  CHECK(r.status().message().find("POST /api/simulate") != std::string::npos);
  auto t = MakeTrainer(svc.url())->Train(Spec());
  CHECK(t.status().code() == StatusCode::kInternal);
  CHECK(t.status().message().find("POST /train") != std::string::npos);
  auto s = MakeFeatures(svc.url())->ListSymbols();
  CHECK(s.status().code() == StatusCode::kInternal);
  CHECK(s.status().message().find("GET /symbols") != std::string::npos);
  CHECK(svc.Count("/api/simulate") == 1);  // not retried
}

TEST_CASE("A refused connection is kUnavailable after the retries, without hanging") {
  const std::string url = "http://127.0.0.1:" + std::to_string(evolve::testing::UnusedPort());
  auto r = MakeSimulator(url)->Simulate(Params());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().message().find("4 tries") != std::string::npos);
  CHECK(MakeTrainer(url)->Train(Spec()).status().code() == StatusCode::kUnavailable);
  CHECK(MakeFeatures(url)->ListSymbols().status().code() == StatusCode::kUnavailable);
}

TEST_CASE("Many threads simulating at once all succeed, each with its own result") {
  FakeService svc(/*threads=*/32);
  svc.Post("/api/simulate", [](const httplib::Request& req, httplib::Response& res) {
    // Echo the threshold as the SQN so that crossed replies would show.
    const double threshold = Parse(req.body)["min_prediction_threshold"].GetDouble();
    SimulationResult r;
    r.sqn = threshold;
    r.trade_count = 2;
    Json(res, R"({"stats": {"libevolve_result": )" + ToJson(r) + R"(}, "trades": [], "chart_data": []})");
  });
  svc.Start();
  auto simulator = MakeSimulator(svc.url());
  constexpr int kThreads = 16;
  constexpr int kCalls = 25;
  std::atomic<int> ok{0};
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        SimulationParams p = Params();
        p.threshold = t * 1000 + i;
        auto r = simulator->Simulate(p);
        if (r.ok() && r->sqn == p.threshold) {
          ++ok;
        } else {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0);
  CHECK(ok.load() == kThreads * kCalls);
}

// ----------------------------------------------------------------- factory

TEST_CASE("NewServiceEngines builds the adapters whose URL is set and names a bad one") {
  ServiceEnginesOptions options;
  options.training_url = "http://127.0.0.1:8200/";
  options.simulation_url = "http://127.0.0.1:8300";
  auto engines = NewServiceEngines(options);
  REQUIRE(engines.ok());
  CHECK(engines->features == nullptr);
  CHECK(engines->trainer != nullptr);
  CHECK(engines->simulator != nullptr);

  options.feature_url = "ftp://feature:8100";
  auto bad = NewServiceEngines(options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kInvalidArgument);
  CHECK(bad.status().message().find("FEATURE_URL") != std::string::npos);

  HttpTrainerOptions trainer_options;
  trainer_options.http.url = "http://127.0.0.1:8200";
  trainer_options.poll_interval = std::chrono::milliseconds(0);
  CHECK(HttpTrainer::Create(trainer_options).status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace evolve::http
