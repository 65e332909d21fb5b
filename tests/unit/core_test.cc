// Status/Result, Clock/Event, fingerprint, criteria and pruning.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "evolve/clock.h"
#include "evolve/criteria.h"
#include "evolve/fingerprint.h"
#include "evolve/pruning.h"
#include "evolve/status.h"
#include "evolve/testing/fake_engines.h"

namespace evolve {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  EVOLVE_ASSIGN_OR_RETURN(int half, Half(x));
  EVOLVE_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  EVOLVE_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST_CASE("status: codes, context and retryability") {
  Status s = UnavailableError("db down");
  CHECK_FALSE(s.ok());
  CHECK(s.ToString() == "UNAVAILABLE: db down");
  CHECK(s.IsRetryable());
  CHECK(DeadlineExceededError("slow").IsRetryable());
  CHECK_FALSE(AbortedError("lost").IsRetryable());
  CHECK(s.WithContext("claim").message() == "claim: db down");
  CHECK(Status::Ok().WithContext("x").ok());
  CHECK(Status(StatusCode::kOk, "ignored") == Status::Ok());
}

TEST_CASE("status: Result and the macros propagate the first error") {
  CHECK(*Quarter(8) == 2);
  auto r = Quarter(6);  // 6 -> 3 -> odd
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message() == "odd: 3");
  CHECK(CheckEven(4).ok());
  CHECK(CheckEven(5).code() == StatusCode::kInvalidArgument);
  CHECK(Quarter(6).value_or(-1) == -1);
  Result<int> from_ok_status(Status::Ok());
  CHECK(from_ok_status.status().code() == StatusCode::kInternal);
}

TEST_CASE("clock: manual time moves only when told, and wakes waiters") {
  ManualClock clock;
  TimePoint start = clock.Now();
  clock.SleepFor(std::chrono::seconds(5));
  CHECK(clock.Now() - start == std::chrono::seconds(5));

  Event event;
  CHECK_FALSE(event.WaitFor(clock, Duration::zero()));
  std::atomic<bool> finished{false};
  bool timed_out = false;
  std::thread waiter([&] {
    timed_out = !event.WaitFor(clock, std::chrono::seconds(30));
    finished = true;
  });
  // The waiter may take its deadline before or after any one Advance; keep
  // time moving until it gives up.
  while (!finished) {
    clock.Advance(std::chrono::seconds(31));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  waiter.join();
  CHECK(timed_out);

  bool notified = false;
  std::thread waiter2([&] { notified = event.WaitFor(clock, std::chrono::hours(1)); });
  event.Notify();
  waiter2.join();
  CHECK(notified);
  CHECK(event.IsNotified());
  event.Reset();
  CHECK_FALSE(event.IsNotified());
}

TEST_CASE("clock: RFC 3339 times round-trip at microsecond precision") {
  TimePoint t = FromUnixMicros(1767225600123456);  // 2026-01-01T00:00:00.123456Z
  CHECK(FormatTime(t) == "2026-01-01T00:00:00.123456Z");
  TimePoint parsed;
  REQUIRE(ParseTime(FormatTime(t), &parsed));
  CHECK(parsed == t);
  REQUIRE(ParseTime("1999-12-31T23:59:59Z", &parsed));
  CHECK(ToUnixMicros(parsed) == 946684799000000);
  REQUIRE(ParseTime("1999-12-31T23:59:59.5Z", &parsed));
  CHECK(ToUnixMicros(parsed) == 946684799500000);
  CHECK_FALSE(ParseTime("1999-12-31 23:59:59Z", &parsed));
  CHECK_FALSE(ParseTime("1999-13-01T00:00:00Z", &parsed));
  CHECK_FALSE(ParseTime("1999-12-31T23:59:59", &parsed));
  CHECK_FALSE(ParseTime("1999-12-31T23:59:59.Z", &parsed));
  CHECK(FormatTime(FromUnixMicros(-1)) == "1969-12-31T23:59:59.999999Z");
}

ModelSpec BaseSpec() {
  ModelSpec spec;
  spec.symbol = "TTRC";
  spec.algorithm = "RandomForest";
  spec.target_col = "close";
  spec.target_transform = "log_return";
  spec.timeframe = "1d";
  spec.features = {"sma_20", "rsi_14", "macd_line"};
  spec.hyperparameters = R"({"n_estimators": 100, "max_depth": 6, "random_state": 7})";
  spec.data_options = R"({"train_window": 30, "test_window": 5})";
  spec.reference_symbols = {"SPY", "QQQ"};
  spec.split = DataSplit{0.2, "", 0.3};
  spec.data_digest = "0f1e2d3c";
  return spec;
}

TEST_CASE("fingerprint: SHA-256 known answers") {
  CHECK(Sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // In pieces: the digest of their concatenation, empty pieces included.
  Sha256Stream pieces;
  for (const char* piece : {"a", "", "bc"}) pieces.Update(piece);
  CHECK(pieces.HexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Stream nothing;
  CHECK(nothing.HexDigest() == Sha256Hex(""));
  std::string long_input(100000, 'x');
  for (size_t i = 0; i < long_input.size(); ++i) long_input[i] = static_cast<char>(i * 7);
  Sha256Stream chunks;
  for (size_t i = 0; i < long_input.size(); i += 4093)
    chunks.Update(std::string_view(long_input).substr(i, 4093));
  CHECK(chunks.HexDigest() == Sha256Hex(long_input));
}

TEST_CASE("fingerprint: canonical JSON and a pinned fingerprint for a fixed spec") {
  auto canonical = CanonicalModelJson(BaseSpec());
  REQUIRE(canonical.ok());
  CHECK(*canonical ==
        R"({"algorithm":"random_forest_regressor","data_digest":"0f1e2d3c",)"
        R"("data_options":{"test_window":5,"train_window":30},)"
        R"("features":["macd_line","rsi_14","sma_20"],"hyperparameters":{"max_depth":6,"n_estimators":100,)"
        R"("random_state":7},"reference_symbols":["SPY","QQQ"],)"
        R"("split":{"holdout_fraction":0.2,"holdout_start":"","selection_fraction":0.3},"symbol":"TTRC",)"
        R"("target_col":"close","target_transform":"log_return","timeframe":"1d","v":2})");
  auto fp = Fingerprint(BaseSpec());
  REQUIRE(fp.ok());
  CHECK(*fp == Sha256Hex(*canonical));
  // Pinned: a change here means every stored fingerprint changes meaning,
  // which requires bumping kFingerprintVersion.
  CHECK(*fp == "f6097896d3067a4d3ff1131657d4bb20b8b98208f8bce7227b20c2d5d5ed13ec");
}

TEST_CASE("fingerprint: what does not change it") {
  const std::string base = *Fingerprint(BaseSpec());
  ModelSpec s = BaseSpec();
  s.features = {"macd_line", "sma_20", "rsi_14", "sma_20"};  // order and duplicates
  CHECK(*Fingerprint(s) == base);
  s = BaseSpec();
  s.hyperparameters = R"({"random_state": 7.0, "max_depth": 6.00000000001, "n_estimators": 1e2, "x": null})";
  CHECK(*Fingerprint(s) == base);
  s = BaseSpec();
  s.data_options = R"({"test_window": 5.0, "train_window": 30})";
  CHECK(*Fingerprint(s) == base);
  s = BaseSpec();
  s.symbol = "ttrc";                            // symbols are case-insensitive (ARCHITECTURE.md 4)
  s.reference_symbols = {"spy", "QQQ", "SPY"};  // case and repeats, not order
  CHECK(*Fingerprint(s) == base);
  s = BaseSpec();
  s.split.holdout_fraction = 0.2000000000001;  // numbers as in data_options
  CHECK(*Fingerprint(s) == base);
  s = BaseSpec();
  s.algorithm = "random_forest_regressor";  // the seed's alias and the service's name agree
  CHECK(*Fingerprint(s) == base);
  s = BaseSpec();
  s.parent_model_id = "model-42";  // lineage is not configuration
  CHECK(*Fingerprint(s) == base);
}

TEST_CASE("fingerprint: what changes it") {
  const std::string base = *Fingerprint(BaseSpec());
  auto changed = [&](auto mutate) {
    ModelSpec s = BaseSpec();
    mutate(s);
    auto fp = Fingerprint(s);
    REQUIRE(fp.ok());
    return *fp != base;
  };
  CHECK(changed([](ModelSpec& s) { s.algorithm = "ElasticNet"; }));
  CHECK(changed([](ModelSpec& s) { s.target_transform = "pct_change"; }));
  CHECK(changed([](ModelSpec& s) { s.target_col = "open"; }));
  CHECK(changed([](ModelSpec& s) { s.symbol = "TTRD"; }));
  CHECK(changed([](ModelSpec& s) { s.timeframe = "1m"; }));
  CHECK(changed([](ModelSpec& s) { s.features.pop_back(); }));
  CHECK(changed([](ModelSpec& s) { s.data_options = R"({"train_window": 31, "test_window": 5})"; }));
  CHECK(changed([](ModelSpec& s) { s.reference_symbols = {"SPY"}; }));
  CHECK(changed([](ModelSpec& s) { s.reference_symbols = {"SPY", "QQQ", "IWM"}; }));
  // The first reference is the market of the regime labels: order matters.
  CHECK(changed([](ModelSpec& s) { s.reference_symbols = {"QQQ", "SPY"}; }));
  // The bars: grown or edited data is another model.
  CHECK(changed([](ModelSpec& s) { s.data_digest = "0f1e2d3d"; }));
  CHECK(changed([](ModelSpec& s) { s.data_digest.clear(); }));
  // The split decides which bars importance and the backtests see.
  CHECK(changed([](ModelSpec& s) { s.split.holdout_fraction = 0.25; }));
  CHECK(changed([](ModelSpec& s) { s.split.holdout_start = "2004-01-02"; }));
  CHECK(changed([](ModelSpec& s) { s.split.selection_fraction = 0; }));
  CHECK(changed([](ModelSpec& s) {
    s.hyperparameters = R"({"n_estimators": 101, "max_depth": 6, "random_state": 7})";
  }));
  CHECK(changed([](ModelSpec& s) {
    s.hyperparameters = R"({"n_estimators": "100", "max_depth": 6, "random_state": 7})";
  }));
}

TEST_CASE("fingerprint: hyperparameters that are not an object are an error") {
  ModelSpec s = BaseSpec();
  s.hyperparameters = "[1, 2]";
  auto fp = Fingerprint(s);
  REQUIRE_FALSE(fp.ok());
  CHECK(fp.status().code() == StatusCode::kInvalidArgument);
  CHECK(fp.status().message().find("hyperparameters") != std::string::npos);
  CHECK(CanonicalAlgorithm("LinearRegression") == "linear_regression");
  CHECK(CanonicalAlgorithm("XGBoost") == "xgboost");
}

TEST_CASE("criteria: the seed's defaults, inclusive ranges, strict weekly bound") {
  Criteria c;
  SimulationResult r = testing::FakeSimulator::PassingResult(3.0);
  r.profit_factor = 4.0;
  r.trade_count = 10000;
  r.weekly_consistency = 0.499;
  CHECK(Evaluate(c, r).passed);
  CHECK(Evaluate(c, r).Summary() == "PASS");
  r.weekly_consistency = 0.5;
  Verdict v = Evaluate(c, r);
  CHECK_FALSE(v.passed);
  CHECK(v.Summary() == "FAIL: weekly_consistency 0.5 >= max 0.5 (over by 0)");
}

TEST_CASE("criteria: the verdict names every failing metric with value, bound and distance") {
  SimulationResult r;
  r.sqn = 2.41;
  r.profit_factor = 4.5;
  r.trade_count = 150;
  r.weekly_consistency = 0.2;
  Verdict v = Evaluate(Criteria{}, r);
  CHECK_FALSE(v.passed);
  REQUIRE(v.checks.size() == 4);
  CHECK(v.checks[0].failure == "sqn 2.41 < min 3 (short by 0.59)");
  CHECK(v.checks[1].failure == "profit_factor 4.5 > max 4 (over by 0.5)");
  CHECK(v.checks[2].failure == "trade_count 150 < min 200 (short by 50)");
  CHECK(v.checks[3].passed);
  CHECK(v.Summary() ==
        "FAIL: sqn 2.41 < min 3 (short by 0.59); profit_factor 4.5 > max 4 (over by 0.5); "
        "trade_count 150 < min 200 (short by 50)");
}

TEST_CASE("criteria: undefined metrics fail, and config bounds are used") {
  SimulationResult r = testing::FakeSimulator::PassingResult(3.5);
  r.profit_factor.reset();
  Verdict v = Evaluate(Criteria{}, r);
  CHECK_FALSE(v.passed);
  CHECK(v.checks[1].failure == "profit_factor undefined (no losing trade)");
  EvolutionConfig config;
  config.sqn_min = 1.0;
  config.sqn_max = 1.2;
  Criteria c = CriteriaFrom(config);
  CHECK(c.sqn_max == 1.2);
  CHECK_FALSE(Evaluate(c, testing::FakeSimulator::PassingResult(3.5)).passed);
  CHECK(Evaluate(c, testing::FakeSimulator::PassingResult(1.1)).passed);
}

std::vector<FeatureImportance> Imp(std::vector<std::pair<std::string, double>> v) {
  std::vector<FeatureImportance> out;
  for (auto& [f, i] : v) out.push_back({f, i});
  return out;
}

TEST_CASE("pruning: non_positive prunes importance <= 0, keeping input order") {
  auto p = NewNonPositivePruning();
  auto d = p->Prune({"a", "b", "c", "d"}, Imp({{"d", 0.3}, {"c", -0.1}, {"b", 0.0}, {"a", 0.2}}));
  REQUIRE(d.ok());
  CHECK(d->kept == std::vector<std::string>{"a", "d"});
  CHECK(d->pruned == std::vector<std::string>{"b", "c"});
  CHECK(d->reason == "importance<=0");
  CHECK(p->Name() == "non_positive");
  auto missing = p->Prune({"a", "z"}, Imp({{"a", 1.0}}));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message() == "no importance for feature 'z'");
}

TEST_CASE("pruning: keep_top_fraction keeps ceil(fraction * n), ties in input order") {
  auto p = NewKeepTopFractionPruning(0.5);
  auto d =
      p->Prune({"a", "b", "c", "d", "e"}, Imp({{"a", 0.1}, {"b", 0.5}, {"c", 0.5}, {"d", 0.5}, {"e", 0.9}}));
  REQUIRE(d.ok());
  CHECK(d->kept == std::vector<std::string>{"b", "c", "e"});  // ceil(2.5) = 3: e, then b and c before d
  CHECK(d->pruned == std::vector<std::string>{"a", "d"});
}

TEST_CASE("pruning: threshold strategy and the factory") {
  auto d = NewThresholdPruning(0.05)->Prune({"a", "b", "c"}, Imp({{"a", 0.05}, {"b", 0.06}, {"c", -1}}));
  REQUIRE(d.ok());
  CHECK(d->kept == std::vector<std::string>{"b"});
  CHECK(d->reason == "importance<=0.05");
  PruningConfig config;
  config.strategy = "keep_top_fraction";
  config.fraction = 1.0;
  auto bad = NewPruningStrategy(config);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("pruning.fraction") == 0);
  config.strategy = "random";
  CHECK(NewPruningStrategy(config).status().code() == StatusCode::kInvalidArgument);
  config.strategy = "threshold";
  CHECK((*NewPruningStrategy(config))->Name() == "threshold");
}

}  // namespace
}  // namespace evolve
