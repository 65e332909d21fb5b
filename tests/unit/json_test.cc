// JSON of the value types (evolve/json.h) and their equality/enum helpers
// (evolve/types.h): round trips, the POST /evolve body with its defaults and
// every rejection, canonical objects and string quoting.
#include "evolve/json.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "evolve/clock.h"
#include "evolve/testing/samples.h"
#include "evolve/types.h"
#include "seed_examples.h"

namespace evolve {
namespace {

// 2026-01-01T00:00:00Z plus `micros`.
TimePoint T(int64_t micros) { return FromUnixMicros(1767225600000000LL + micros); }

// The problems EvolutionConfigFromJson reports for `body`; checks that it
// failed and that the status message lists the same problems.
std::vector<FieldError> ConfigErrors(const std::string& body) {
  std::vector<FieldError> errors;
  Result<EvolutionConfig> r = EvolutionConfigFromJson(body, &errors);
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK_FALSE(errors.empty());
  return errors;
}

// {"symbol":"AAPL", <members>}.
std::string Body(const std::string& members) { return "{\"symbol\":\"AAPL\"," + members + "}"; }

// `body` is rejected with exactly one problem: `field` / `message`.
void ExpectOnly(const std::string& body, const std::string& field, const std::string& message) {
  CAPTURE(body);
  const std::vector<FieldError> errors = ConfigErrors(body);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == field);
  CHECK(errors[0].message == message);
}

// `body` is rejected with one problem on `field` whose message starts with
// `prefix` (for messages that quote the parser).
void ExpectOnlyPrefix(const std::string& body, const std::string& field, const std::string& prefix) {
  CAPTURE(body);
  const std::vector<FieldError> errors = ConfigErrors(body);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == field);
  CHECK_MESSAGE(errors[0].message.rfind(prefix, 0) == 0, errors[0].message);
}

// XFromJson(ToJson(x)) == x, and writing again gives the same text.
template <typename T, typename Parse>
void CheckRoundTrip(const T& value, Parse parse) {
  const std::string json = ToJson(value);
  CAPTURE(json);
  Result<T> parsed = parse(json);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  CHECK(*parsed == value);
  CHECK(ToJson(*parsed) == json);
  CHECK(json.find("NaN") == std::string::npos);
  CHECK(json.find("Infinity") == std::string::npos);
}

ModelSpec FullSpec() {
  ModelSpec s;
  s.symbol = "MSFT";
  s.algorithm = "ElasticNet";
  s.target_col = "vwap";
  s.target_transform = "pct_change";
  s.timeframe = "5m";
  s.features = {"sma_20", "rsi_14", "weird \"name\"\n"};
  s.hyperparameters = R"({"alpha":0.5,"l1_ratio":0.1,"nested":{"a":[1,2.5,null]}})";
  s.data_options = R"({"test_window":5,"train_window":30})";
  s.reference_symbols = {"SPY", "QQQ"};
  s.parent_model_id = "model-parent";
  return s;
}

SimulationParams FullParams() {
  SimulationParams p;
  p.model_id = "model-7";
  p.ticker = "NVDA";
  p.threshold = 0.00037;
  p.regime = RegimeFilter{"regime_vix", {2, 3}};
  p.initial_cash = 25000.5;
  p.fee_bps = 0.25;
  p.slippage_bps = 2.75;
  p.use_bot = true;
  p.enable_z_score_check = true;
  p.volatility_normalization = true;
  return p;
}

// The sample result with the metrics it leaves unset, and values that test
// the writer: every digit of 2/3, negative numbers.
SimulationResult FullResult() {
  SimulationResult r = testing::SampleResult(3.7);
  r.sqn_100 = 3.1;
  r.gross_loss = 0.6666666666666666;
  r.total_return_pct = -3.25;
  r.benchmark_return_pct = 12.5;
  r.max_drawdown_pct = 7.125;
  r.sharpe = -0.4;
  r.exposure = 0.42;
  r.start_date = "2025-01-02";
  r.end_date = "2025-06-30";
  return r;
}

EvolutionConfig FullConfig() {
  EvolutionConfig c;
  c.symbol = "BRK.B";
  c.algorithm = "LinearRegression";
  c.target_col = "open";
  c.target_transform = "log";
  c.max_generations = 9;
  c.timeframe = "15m";
  c.data_options = R"({"test_window":5,"train_window":30})";
  c.seed_features = {"sma_20", "rsi_14"};
  c.seed_model_id = "model-seed";
  c.reference_symbols = {"SPY", "^VIX"};
  c.thresholds = {0.0, 0.0002, 1.5};
  c.regime_configs = {RegimeFilter{"regime_gmm", {1}}, RegimeFilter{}, RegimeFilter{"regime_vix", {2, 3}}};
  c.sqn_min = 2.5;
  c.sqn_max = 6.0;
  c.profit_factor_min = 1.5;
  c.profit_factor_max = 3.5;
  c.trade_count_min = 50;
  c.trade_count_max = 5000;
  c.weekly_consistency_max = 0.75;
  c.hyperparameters = R"({"max_depth":8,"n_estimators":300})";
  c.pruning = PruningConfig{"keep_top_fraction", 0.25, -0.01};
  c.initial_cash = 50000.0;
  c.fee_bps = 0.5;
  c.slippage_bps = 3.0;
  return c;
}

Run FullRun() {
  Run r;
  r.id = "run-1";
  r.config = FullConfig();
  r.status = RunStatus::kPromoted;
  r.current_generation = 3;
  r.seed_model_id = "model-seed";
  r.best_sqn = 3.9;
  r.best_model_id = "model-3";
  r.promoted = true;
  r.promotion_id = "promo-1";
  r.stop_reason = kStopPromoted;
  r.error = "none";
  r.created_at = T(123456);
  r.updated_at = T(987654321);
  return r;
}

Generation FullGeneration() {
  Generation g;
  g.run_id = "run-1";
  g.generation = 2;
  g.state = GenerationState::kSimulating;
  g.model_id = "model-2";
  g.parent_model_id = "model-1";
  g.fingerprint = std::string(64, 'a');
  g.reused_model = true;
  g.features = {"a", "b"};
  g.pruned_features = {"c"};
  g.pruning_reason = "importance <= 0";
  g.parent_sqn = -0.5;
  g.batch_id = "batch-2";
  g.jobs_total = 6;
  g.jobs_completed = 4;
  g.jobs_failed = 1;
  g.jobs_passing = 2;
  g.best_sqn = 2.1;
  g.best_profit_factor = 1.9;
  g.best_trade_count = 301;
  g.best_job_id = "job-9";
  g.verdict = "sqn 2.1 < 3";
  g.updated_at = T(1);
  return g;
}

// The edge that FullGeneration() adds to the lineage.
LineageEdge FullEdge() {
  const Generation g = FullGeneration();
  return LineageEdge{"edge-1",     g.run_id,          g.parent_model_id, g.model_id,       g.generation,
                     g.parent_sqn, g.pruned_features, g.features,        g.pruning_reason, T(999999)};
}

Job FullJob() {
  Job j;
  j.id = "job-1";
  j.batch_id = "batch-1";
  j.run_id = "run-1";
  j.model_id = "model-1";
  j.generation = 1;
  j.priority = 2.75;
  j.status = JobStatus::kCompleted;
  j.params = FullParams();
  j.result = FullResult();
  j.error = "retried once";
  j.worker_id = "worker-a";
  j.attempts = 2;
  j.max_attempts = 5;
  j.lease_until = T(30000000);
  j.created_at = T(10);
  j.updated_at = T(20);
  return j;
}

Promotion FullPromotion() {
  Promotion p;
  p.id = "promo-1";
  p.model_id = "model-3";
  p.run_id = "run-1";
  p.generation = 3;
  p.job_id = "job-1";
  p.sqn = 3.9;
  p.profit_factor = 2.5;
  p.trade_count = 640;
  p.weekly_consistency = 0.2;
  p.ticker = "AAPL";
  p.regime = RegimeFilter{"regime_gmm", {0}};
  p.threshold = 0.0005;
  p.spec = FullSpec();
  p.result = FullResult();
  p.created_at = T(5);
  return p;
}

FingerprintRecord FullFingerprint() {
  FingerprintRecord f;
  f.fingerprint = std::string(64, 'f');
  f.model_id = "model-1";
  f.spec = FullSpec();
  f.created_at = T(42);
  return f;
}

WorkerInfo FullWorker() {
  WorkerInfo w;
  w.id = "worker-a";
  w.host = "host-1";
  w.pid = 4242;
  w.status = "STOPPED";
  w.started_at = T(100);
  w.last_heartbeat = T(200);
  w.current_jobs = {"job-1", "job-2"};
  w.jobs_completed = 17;
  w.jobs_failed = 3;
  return w;
}

auto ParseConfig = [](std::string_view j) { return EvolutionConfigFromJson(j); };

TEST_SUITE("json") {
  TEST_CASE("json: enum names round trip and finality") {
    for (RunStatus s : {RunStatus::kPending, RunStatus::kRunning, RunStatus::kPromoted, RunStatus::kCompleted,
                        RunStatus::kStopped, RunStatus::kCancelled, RunStatus::kFailed}) {
      RunStatus parsed = RunStatus::kPending;
      REQUIRE(ParseRunStatus(RunStatusName(s), &parsed));
      CHECK(parsed == s);
    }
    CHECK(std::string(RunStatusName(RunStatus::kPromoted)) == "PROMOTED");
    CHECK(std::string(RunStatusName(RunStatus::kStopped)) == "STOPPED");
    CHECK(IsFinal(RunStatus::kPromoted));
    CHECK(IsFinal(RunStatus::kCompleted));
    CHECK(IsFinal(RunStatus::kCancelled));
    CHECK(IsFinal(RunStatus::kFailed));
    CHECK_FALSE(IsFinal(RunStatus::kPending));
    CHECK_FALSE(IsFinal(RunStatus::kRunning));
    CHECK_FALSE(IsFinal(RunStatus::kStopped));

    for (JobStatus s : {JobStatus::kPending, JobStatus::kRunning, JobStatus::kCompleted, JobStatus::kFailed,
                        JobStatus::kCancelled}) {
      JobStatus parsed = JobStatus::kPending;
      REQUIRE(ParseJobStatus(JobStatusName(s), &parsed));
      CHECK(parsed == s);
    }
    CHECK(std::string(JobStatusName(JobStatus::kCancelled)) == "CANCELLED");
    CHECK(IsFinal(JobStatus::kCompleted));
    CHECK(IsFinal(JobStatus::kFailed));
    CHECK(IsFinal(JobStatus::kCancelled));
    CHECK_FALSE(IsFinal(JobStatus::kPending));
    CHECK_FALSE(IsFinal(JobStatus::kRunning));

    for (GenerationState s :
         {GenerationState::kModelReady, GenerationState::kSimulating, GenerationState::kEvaluated}) {
      GenerationState parsed = GenerationState::kModelReady;
      REQUIRE(ParseGenerationState(GenerationStateName(s), &parsed));
      CHECK(parsed == s);
    }
    CHECK(std::string(GenerationStateName(GenerationState::kModelReady)) == "MODEL_READY");

    RunStatus run = RunStatus::kRunning;
    CHECK_FALSE(ParseRunStatus("promoted", &run));  // names are case-sensitive
    CHECK_FALSE(ParseRunStatus("", &run));
    CHECK(run == RunStatus::kRunning);  // untouched on failure
    JobStatus job = JobStatus::kRunning;
    CHECK_FALSE(ParseJobStatus("STOPPED", &job));  // a run state, not a job state
    GenerationState state = GenerationState::kEvaluated;
    CHECK_FALSE(ParseGenerationState("READY", &state));
  }

  TEST_CASE("json: equality compares every field") {
    const Run run = FullRun();
    CHECK(run == FullRun());
    Run other = run;
    other.updated_at += std::chrono::microseconds(1);
    CHECK(run != other);
    other = run;
    other.config.pruning.fraction = 0.26;
    CHECK(run != other);
    other = run;
    other.best_sqn.reset();
    CHECK(run != other);

    Job job = FullJob();
    Job changed = job;
    changed.result->sqn = 3.71;
    CHECK(job != changed);
    changed = job;
    changed.lease_until.reset();
    CHECK(job != changed);
    changed = job;
    changed.params.regime.allowed = {2};
    CHECK(job != changed);

    WorkerInfo worker = FullWorker();
    WorkerInfo worker2 = worker;
    worker2.jobs_failed = 4;
    CHECK(worker != worker2);
    Promotion promo = FullPromotion();
    Promotion promo2 = promo;
    promo2.spec.parent_model_id = "x";
    CHECK(promo != promo2);
  }

  TEST_CASE("json: round trip of every type with every field set") {
    CheckRoundTrip(FullSpec(), [](std::string_view j) { return ModelSpecFromJson(j); });
    CheckRoundTrip(RegimeFilter{"regime_vix", {2, 3}},
                   [](std::string_view j) { return RegimeFilterFromJson(j); });
    CheckRoundTrip(FullParams(), [](std::string_view j) { return SimulationParamsFromJson(j); });
    CheckRoundTrip(FullResult(), [](std::string_view j) { return SimulationResultFromJson(j); });
    CheckRoundTrip(PruningConfig{"threshold", 0.125, -0.002},
                   [](std::string_view j) { return PruningConfigFromJson(j); });
    CHECK(ValidateEvolutionConfig(FullConfig()).ok());
    CheckRoundTrip(FullConfig(), ParseConfig);
    CheckRoundTrip(FullRun(), [](std::string_view j) { return RunFromJson(j); });
    CheckRoundTrip(FullGeneration(), [](std::string_view j) { return GenerationFromJson(j); });
    CheckRoundTrip(FullEdge(), [](std::string_view j) { return LineageEdgeFromJson(j); });
    CheckRoundTrip(FullJob(), [](std::string_view j) { return JobFromJson(j); });
    CheckRoundTrip(FullPromotion(), [](std::string_view j) { return PromotionFromJson(j); });
    CheckRoundTrip(FullFingerprint(), [](std::string_view j) { return FingerprintRecordFromJson(j); });
    CheckRoundTrip(FullWorker(), [](std::string_view j) { return WorkerInfoFromJson(j); });
  }

  TEST_CASE("json: round trip with optionals unset and defaults") {
    SimulationResult empty_result;
    CheckRoundTrip(empty_result, [](std::string_view j) { return SimulationResultFromJson(j); });
    CHECK(ToJson(empty_result).find("\"sqn\":null") != std::string::npos);
    CHECK(ToJson(empty_result).find("\"profit_factor\":null") != std::string::npos);

    Run run = FullRun();
    run.best_sqn.reset();
    run.config.seed_features.clear();  // written as null, not [] (which is rejected)
    run.config.regime_configs = {RegimeFilter{}};
    CheckRoundTrip(run, [](std::string_view j) { return RunFromJson(j); });
    CHECK(ToJson(run).find("\"best_sqn\":null") != std::string::npos);
    CHECK(ToJson(run).find("\"seed_features\":null") != std::string::npos);

    Job job = FullJob();
    job.result.reset();
    job.lease_until.reset();
    job.status = JobStatus::kPending;
    CheckRoundTrip(job, [](std::string_view j) { return JobFromJson(j); });
    CHECK(ToJson(job).find("\"result\":null") != std::string::npos);
    CHECK(ToJson(job).find("\"lease_until\":null") != std::string::npos);

    Generation g = FullGeneration();
    g.parent_sqn.reset();
    g.best_sqn.reset();
    g.best_profit_factor.reset();
    CheckRoundTrip(g, [](std::string_view j) { return GenerationFromJson(j); });

    Promotion p = FullPromotion();
    p.profit_factor.reset();
    p.weekly_consistency.reset();
    p.regime = RegimeFilter{};
    CheckRoundTrip(p, [](std::string_view j) { return PromotionFromJson(j); });

    LineageEdge seed_edge = FullEdge();
    seed_edge.parent_model_id.clear();
    seed_edge.parent_sqn.reset();
    CheckRoundTrip(seed_edge, [](std::string_view j) { return LineageEdgeFromJson(j); });

    CheckRoundTrip(WorkerInfo{"w", "", 0, "ACTIVE", T(0), T(0), {}, 0, 0},
                   [](std::string_view j) { return WorkerInfoFromJson(j); });
    CheckRoundTrip(ModelSpec{}, [](std::string_view j) { return ModelSpecFromJson(j); });
  }

  TEST_CASE("json: ToJson shape: key order, nested objects, timestamps, enums") {
    CHECK(ToJson(RegimeFilter{"regime_vix", {2, 3}}) == R"({"column":"regime_vix","allowed":[2,3]})");
    CHECK(ToJson(PruningConfig{"threshold", 0.25, -0.001}) ==
          R"({"strategy":"threshold","fraction":0.25,"min_importance":-0.001})");

    EvolutionConfig c;
    c.symbol = "AAPL";
    CHECK(
        ToJson(c) ==
        R"({"symbol":"AAPL","algorithm":"RandomForest","target_col":"close",)"
        R"("target_transform":"log_return","max_generations":4,"timeframe":"1m",)"
        R"("data_options":{},"seed_features":null,"seed_model_id":"","reference_symbols":[],)"
        R"("thresholds":[0.0001,0.0003,0.0005],"threshold_quantiles":[],"regime_configs":[{}],"sqn_min":3.0,)"
        R"("sqn_max":5.0,"profit_factor_min":2.0,"profit_factor_max":4.0,)"
        R"("trade_count_min":200,"trade_count_max":10000,"weekly_consistency_max":0.5,)"
        R"("hyperparameters":{},"pruning":{"strategy":"non_positive","fraction":0.5,)"
        R"("min_importance":0.0},"initial_cash":10000.0,"fee_bps":1.0,"slippage_bps":1.0,)"
        R"("holdout_fraction":0.2,"holdout_start":"","selection_fraction":0.3,"holdout_sqn_min":1.645,)"
        R"("holdout_excess_return_min":0.0,"holdout_excess_sqn_min":1.645,"holdout_looks":1,)"
        R"("excess_return_min":null,"max_drawdown_max":null,"dsr_min":null,"pbo_max":null,"bars_source":"",)"
        R"("dropped_rows":0})");

    const std::string config = ToJson(FullConfig());
    CHECK(config.find(R"("regime_configs":[{"regime_gmm":[1]},{},{"regime_vix":[2,3]}])") !=
          std::string::npos);
    CHECK(config.find(R"("data_options":{"test_window":5,"train_window":30})") != std::string::npos);

    const std::string run = ToJson(FullRun());
    CHECK(run.rfind(R"({"id":"run-1","config":{"symbol":"BRK.B",)", 0) == 0);
    CHECK(run.find(R"("status":"PROMOTED")") != std::string::npos);
    CHECK(run.find(R"("created_at":"2026-01-01T00:00:00.123456Z")") != std::string::npos);
    CHECK(run.find(R"("updated_at":"2026-01-01T00:16:27.654321Z")") != std::string::npos);

    const std::string job = ToJson(FullJob());
    CHECK(job.find(R"("params":{"model_id":"model-7","ticker":"NVDA","threshold":0.00037,)"
                   R"("regime":{"column":"regime_vix","allowed":[2,3]},)") != std::string::npos);
    CHECK(job.find(R"("result":{"sqn":3.7,)") != std::string::npos);
    CHECK(job.find(R"("lease_until":"2026-01-01T00:00:30.000000Z")") != std::string::npos);

    // Object text is written as a nested object, never as a string.
    const std::string spec = ToJson(FullSpec());
    CHECK(spec.find(R"("hyperparameters":{"alpha":0.5,"l1_ratio":0.1,"nested":{"a":[1,2.5,null]}})") !=
          std::string::npos);
    CHECK(spec.find(R"("features":["sma_20","rsi_14","weird \"name\"\n"])") != std::string::npos);

    CHECK(ToJson(FullGeneration()).find(R"("state":"SIMULATING")") != std::string::npos);
  }

  TEST_CASE("json: non-finite optional metrics are written as null") {
    SimulationResult r;
    r.sqn = std::numeric_limits<double>::quiet_NaN();
    r.profit_factor = std::numeric_limits<double>::infinity();
    const std::string json = ToJson(r);
    CHECK(json.rfind(R"({"sqn":null,"sqn_100":null,"profit_factor":null,)", 0) == 0);
    Result<SimulationResult> back = SimulationResultFromJson(json);
    REQUIRE(back.ok());
    CHECK_FALSE(back->sqn.has_value());
    CHECK_FALSE(back->profit_factor.has_value());
  }

  TEST_CASE("json: POST /evolve defaults from a body with only a symbol") {
    Result<EvolutionConfig> r = EvolutionConfigFromJson(R"({"symbol":"AAPL"})");
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    EvolutionConfig expected;
    expected.symbol = "AAPL";
    CHECK(*r == expected);
    CHECK(r->max_generations == 4);
    CHECK(r->thresholds == std::vector<double>{0.0001, 0.0003, 0.0005});
    REQUIRE(r->regime_configs.size() == 1);
    CHECK(r->regime_configs[0].empty());
    CHECK(r->data_options == "{}");
    CHECK(r->hyperparameters == "{}");
    CHECK(r->pruning.strategy == "non_positive");

    // DEFAULT_MAX_GENERATIONS applies when the body has none, not when it has one.
    Result<EvolutionConfig> seven = EvolutionConfigFromJson(R"({"symbol":"AAPL"})", nullptr, 7);
    REQUIRE(seven.ok());
    CHECK(seven->max_generations == 7);
    Result<EvolutionConfig> given =
        EvolutionConfigFromJson(R"({"symbol":"AAPL","max_generations":2})", nullptr, 7);
    REQUIRE(given.ok());
    CHECK(given->max_generations == 2);

    // null means "use the default".
    Result<EvolutionConfig> nulls = EvolutionConfigFromJson(
        R"({"symbol":"AAPL","timeframe":null,"seed_features":null,"seed_model_id":null,)"
        R"("thresholds":null,"pruning":null,"data_options":null,"max_generations":null})",
        nullptr, 6);
    REQUIRE_MESSAGE(nulls.ok(), nulls.status().ToString());
    CHECK(nulls->timeframe == "1m");
    CHECK(nulls->seed_features.empty());
    CHECK(nulls->thresholds.size() == 3);
    CHECK(nulls->max_generations == 6);
  }

  TEST_CASE("json: the seed README's POST /evolve example parses") {
    const std::string body = testing::kSeedEvolveBody;
    Result<EvolutionConfig> r = EvolutionConfigFromJson(body);
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->symbol == "AAPL");
    CHECK(r->data_options == R"({"test_window":5,"train_window":30})");
    CHECK(r->seed_features == std::vector<std::string>{"sma_20", "rsi_14", "macd_line"});
    CHECK(r->reference_symbols == std::vector<std::string>{"SPY", "QQQ"});
    REQUIRE(r->regime_configs.size() == 2);
    CHECK(r->regime_configs[0] == RegimeFilter{"regime_gmm", {1}});
    CHECK(r->regime_configs[1] == RegimeFilter{"regime_vix", {2, 3}});
    CHECK(r->trade_count_min == 200);
    CHECK(r->trade_count_max == 10000);
    CHECK(ValidateEvolutionConfig(*r).ok());

    // The object form of data_options gives the same stored text.
    Result<EvolutionConfig> object_form = EvolutionConfigFromJson(
        Body(R"("data_options": {"train_window": 30.0, "test_window": 5, "gap": null})"));
    REQUIRE(object_form.ok());
    CHECK(object_form->data_options == r->data_options);
  }

  TEST_CASE("json: POST /evolve rejects symbol problems") {
    ExpectOnly("{}", "symbol", "required");
    ExpectOnly(R"({"symbol":null})", "symbol", "must not be null");
    ExpectOnly(R"({"symbol":5})", "symbol", "expected a string");
    ExpectOnly(R"({"symbol":""})", "symbol", "must not be empty");
    ExpectOnly(R"({"symbol":"AA PL"})", "symbol", "must be 1 to 16 characters of A-Z a-z 0-9 . _ ^ = -");
    ExpectOnly(R"({"symbol":"ABCDEFGHIJKLMNOPQ"})", "symbol",
               "must be 1 to 16 characters of A-Z a-z 0-9 . _ ^ = -");
    CHECK(EvolutionConfigFromJson(R"({"symbol":"ABCDEFGHIJKLMNOP"})").ok());  // 16 is fine
    CHECK(EvolutionConfigFromJson(R"({"symbol":"^GSPC"})").ok());
    CHECK(EvolutionConfigFromJson(R"({"symbol":"ES=F"})").ok());
  }

  TEST_CASE("json: POST /evolve rejects unknown and duplicate fields") {
    ExpectOnly(Body(R"("sqn_minimum": 3)"), "sqn_minimum", "unknown field");
    ExpectOnly(R"({"symbol":"AAPL","symbol":"MSFT"})", "symbol", "duplicate field");
    ExpectOnly(Body(R"("pruning": {"strategy": "threshold", "bogus": 1})"), "pruning.bogus", "unknown field");
  }

  TEST_CASE("json: POST /evolve rejects bad names and choices") {
    ExpectOnly(Body(R"("algorithm": 5)"), "algorithm", "expected a string");
    ExpectOnly(Body(R"("algorithm": "")"), "algorithm", "must not be empty");
    ExpectOnly(Body(R"("target_col": ["close"])"), "target_col", "expected a string");
    ExpectOnly(Body(R"("target_col": "")"), "target_col", "must not be empty");
    ExpectOnly(Body(R"("target_transform": "sqrt")"), "target_transform",
               "must be one of none, log_return, log, pct_change");
    for (const char* bad : {"", "1 minute", "0m", "01m", "5x", "m", "1M", "123456789m"}) {
      CAPTURE(bad);
      ExpectOnly(
          Body(std::string(R"("timeframe": ")") + bad + "\""), "timeframe",
          std::string("must be a bar spacing such as 1m, 5m, 15m, 30m, 1h, 4h, 1d or 1w (a count and one "
                      "of s, m, h, d, w), got '") +
              bad + "'");
    }
    ExpectOnly(Body(R"("initial_cash": 1e308)"), "initial_cash", "must be > 0 and <= 1e+12");
    ExpectOnly(Body(R"("timeframe": false)"), "timeframe", "expected a string");
    ExpectOnly(Body(R"("seed_model_id": 5)"), "seed_model_id", "expected a string");
  }

  TEST_CASE("json: POST /evolve rejects bad max_generations") {
    ExpectOnly(Body(R"("max_generations": 0)"), "max_generations", "must be between 1 and 1000");
    ExpectOnly(Body(R"("max_generations": 1001)"), "max_generations", "must be between 1 and 1000");
    ExpectOnly(Body(R"("max_generations": 2.5)"), "max_generations", "must be an integer");
    ExpectOnly(Body(R"("max_generations": "4")"), "max_generations", "expected an integer");
    ExpectOnly(Body(R"("max_generations": 1e999)"), "max_generations", "must be a finite number");
    ExpectOnly(Body(R"("max_generations": 9999999999)"), "max_generations", "out of range");
    Result<EvolutionConfig> integral = EvolutionConfigFromJson(Body(R"("max_generations": 3.0)"));
    REQUIRE(integral.ok());
    CHECK(integral->max_generations == 3);
    CHECK(EvolutionConfigFromJson(Body(R"("max_generations": 1000)")).ok());
  }

  TEST_CASE("json: POST /evolve rejects bad data_options and hyperparameters") {
    ExpectOnly(Body(R"("data_options": "[1, 2]")"), "data_options",
               "expected a JSON object (or a string holding one)");
    ExpectOnly(Body(R"("data_options": "train_window=30")"), "data_options",
               "malformed JSON at offset 2: Invalid value.");
    ExpectOnly(Body(R"("data_options": 30)"), "data_options",
               "expected a JSON object (or a string holding one)");
    ExpectOnly(Body(R"("data_options": {"w": 1, "w": 2})"), "data_options", "duplicate key \"w\"");
    ExpectOnly(Body(R"("hyperparameters": [1])"), "hyperparameters",
               "expected a JSON object (or a string holding one)");
    ExpectOnly(Body(R"("hyperparameters": {"alpha": 1e999})"), "hyperparameters.alpha",
               "must be a finite number");
    Result<EvolutionConfig> r =
        EvolutionConfigFromJson(Body(R"("hyperparameters": {"b": 2, "a": {"y": 1.0, "x": null}})"));
    REQUIRE(r.ok());
    CHECK(r->hyperparameters == R"({"a":{"y":1},"b":2})");
  }

  TEST_CASE("json: POST /evolve rejects bad feature and symbol lists") {
    ExpectOnly(Body(R"("seed_features": [])"), "seed_features",
               "must not be empty (omit it to use every feature)");
    ExpectOnly(Body(R"("seed_features": "rsi_14")"), "seed_features", "expected an array");
    ExpectOnly(Body(R"("seed_features": ["rsi_14", 3])"), "seed_features[1]", "expected a string");
    ExpectOnly(Body(R"("seed_features": ["rsi_14", ""])"), "seed_features[1]", "must not be empty");
    ExpectOnly(Body(R"("seed_features": ["a", "b", "a"])"), "seed_features[2]",
               "duplicate of seed_features[0]");
    ExpectOnly(Body(R"("reference_symbols": ["SPY", "SPY"])"), "reference_symbols[1]",
               "duplicate of reference_symbols[0]");
    ExpectOnly(Body(R"("reference_symbols": ["SPY", "S P"])"), "reference_symbols[1]",
               "must be 1 to 16 characters of A-Z a-z 0-9 . _ ^ = -");
    ExpectOnly(Body(R"("reference_symbols": {"a": 1})"), "reference_symbols", "expected an array");
  }

  TEST_CASE("json: POST /evolve rejects bad thresholds") {
    ExpectOnly(Body(R"("thresholds": [])"), "thresholds", "must not be empty");
    ExpectOnly(Body(R"("thresholds": 0.1)"), "thresholds", "expected an array");
    ExpectOnly(Body(R"("thresholds": [0.1, "0.2"])"), "thresholds[1]", "expected a number");
    ExpectOnly(Body(R"("thresholds": [0.1, -0.2])"), "thresholds[1]", "must be >= 0");
    ExpectOnly(Body(R"("thresholds": [0.1, 0.2, 0.1])"), "thresholds[2]", "duplicate of thresholds[0]");
    ExpectOnly(Body(R"("thresholds": [0.1, 1e999])"), "thresholds[1]", "must be a finite number");
    ExpectOnly(Body(R"("thresholds": [0.1, -1e999])"), "thresholds[1]", "must be a finite number");
    // NaN and Infinity are not JSON: the document itself is rejected.
    ExpectOnly(Body(R"("thresholds": [NaN])"), "", "malformed JSON at offset 32: Invalid value.");
    ExpectOnly(Body(R"("thresholds": [Infinity])"), "", "malformed JSON at offset 32: Invalid value.");

    std::string many = "[";
    for (int i = 0; i <= 100; ++i) many += (i ? "," : "") + std::to_string(i);
    ExpectOnly(Body("\"thresholds\": " + many + "]"), "thresholds", "at most 100 entries (got 101)");
  }

  TEST_CASE("json: POST /evolve rejects bad regime_configs") {
    ExpectOnly(Body(R"("regime_configs": [])"), "regime_configs", "must not be empty");
    ExpectOnly(Body(R"("regime_configs": {"regime_gmm": [1]})"), "regime_configs", "expected an array");
    ExpectOnly(Body(R"("regime_configs": [{"regime_gmm": [1], "regime_vix": [2]}])"), "regime_configs[0]",
               "one regime column per config");
    ExpectOnly(Body(R"("regime_configs": [{}, 5])"), "regime_configs[1]", "expected an object");
    ExpectOnly(Body(R"("regime_configs": [{"regime_gmm": []}])"), "regime_configs[0].regime_gmm",
               "must not be empty");
    ExpectOnly(Body(R"("regime_configs": [{"regime_gmm": 1}])"), "regime_configs[0].regime_gmm",
               "expected an array");
    ExpectOnly(Body(R"("regime_configs": [{"regime_gmm": [1, 1.5]}])"), "regime_configs[0].regime_gmm[1]",
               "must be an integer");
    ExpectOnly(Body(R"("regime_configs": [{"Regime-GMM": [1]}])"), "regime_configs[0]",
               "regime column 'Regime-GMM' must match ^[a-z_][a-z0-9_]*$");
    ExpectOnly(Body(R"("regime_configs": [{"regime_gmm": [1]}, {}, {"regime_gmm": [1]}])"),
               "regime_configs[2]", "duplicate of regime_configs[0]");

    // The grid is at most 1000 simulations per generation.
    std::string thresholds = "[";
    for (int i = 0; i < 40; ++i) thresholds += (i ? "," : "") + std::to_string(i);
    std::string regimes = "[";
    for (int i = 0; i < 30; ++i)
      regimes += std::string(i ? "," : "") + "{\"regime_gmm\":[" + std::to_string(i) + "]}";
    ExpectOnly(Body("\"thresholds\": " + thresholds + "], \"regime_configs\": " + regimes + "]"),
               "thresholds",
               "thresholds x regime_configs is 40 x 30 = 1200 simulations per generation; at most 1000");
  }

  TEST_CASE("json: POST /evolve rejects min > max and out-of-range criteria") {
    ExpectOnly(Body(R"("sqn_min": 6, "sqn_max": 5)"), "sqn_min", "must be <= sqn_max (6 > 5)");
    ExpectOnly(Body(R"("sqn_min": 5.5)"), "sqn_min", "must be <= sqn_max (5.5 > 5)");
    ExpectOnly(Body(R"("sqn_max": "5")"), "sqn_max", "expected a number");
    ExpectOnly(Body(R"("profit_factor_min": 5, "profit_factor_max": 4.5)"), "profit_factor_min",
               "must be <= profit_factor_max (5 > 4.5)");
    ExpectOnly(Body(R"("profit_factor_min": -1)"), "profit_factor_min", "must be >= 0");
    ExpectOnly(Body(R"("profit_factor_max": true)"), "profit_factor_max", "expected a number");
    ExpectOnly(Body(R"("trade_count_min": 500, "trade_count_max": 100)"), "trade_count_min",
               "must be <= trade_count_max (500 > 100)");
    ExpectOnly(Body(R"("trade_count_min": -1)"), "trade_count_min", "must be >= 0");
    ExpectOnly(Body(R"("trade_count_max": 10.5)"), "trade_count_max", "must be an integer");
    ExpectOnly(Body(R"("weekly_consistency_max": 0)"), "weekly_consistency_max", "must be > 0");
    ExpectOnly(Body(R"("weekly_consistency_max": "x")"), "weekly_consistency_max", "expected a number");
    // A field that did not parse is not compared with its partner.
    ExpectOnly(Body(R"("sqn_min": "9", "sqn_max": 5)"), "sqn_min", "expected a number");
    CHECK(EvolutionConfigFromJson(Body(R"("sqn_min": 4, "sqn_max": 4)")).ok());
  }

  TEST_CASE("json: POST /evolve rejects bad pruning and costs") {
    ExpectOnly(Body(R"("pruning": {"strategy": "random"})"), "pruning.strategy",
               "must be one of non_positive, keep_top_fraction, threshold");
    ExpectOnly(Body(R"("pruning": {"fraction": 1.0})"), "pruning.fraction", "must be > 0 and < 1");
    ExpectOnly(Body(R"("pruning": {"fraction": 0})"), "pruning.fraction", "must be > 0 and < 1");
    ExpectOnly(Body(R"("pruning": {"min_importance": "low"})"), "pruning.min_importance",
               "expected a number");
    ExpectOnly(Body(R"("pruning": "threshold")"), "pruning", "expected an object");
    Result<EvolutionConfig> pruning =
        EvolutionConfigFromJson(Body(R"("pruning": {"strategy": "keep_top_fraction", "fraction": 0.3})"));
    REQUIRE(pruning.ok());
    CHECK(pruning->pruning == PruningConfig{"keep_top_fraction", 0.3, 0.0});

    ExpectOnly(Body(R"("initial_cash": 0)"), "initial_cash", "must be > 0 and <= 1e+12");
    ExpectOnly(Body(R"("initial_cash": "10000")"), "initial_cash", "expected a number");
    ExpectOnly(Body(R"("fee_bps": -1)"), "fee_bps", "must be >= 0 and < 1000");
    ExpectOnly(Body(R"("fee_bps": true)"), "fee_bps", "expected a number");
    ExpectOnly(Body(R"("slippage_bps": 1000)"), "slippage_bps", "must be >= 0 and < 1000");
    CHECK(EvolutionConfigFromJson(Body(R"("fee_bps": 0, "slippage_bps": 999.5)")).ok());
  }

  TEST_CASE("json: POST /evolve collects every problem at once") {
    std::vector<FieldError> errors = {FieldError{"earlier", "kept"}};
    Result<EvolutionConfig> r =
        EvolutionConfigFromJson(R"({"max_generations": 0, "thresholds": [], "sqn_min": 6, "sqn_max": 5,)"
                                R"( "fee_bps": "x", "colour": "red", "pruning": {"fraction": 2}})",
                                &errors);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    const std::vector<FieldError> expected = {
        {"earlier", "kept"},
        {"symbol", "required"},
        {"pruning.fraction", "must be > 0 and < 1"},  // checked as the nested object is read
        {"fee_bps", "expected a number"},
        {"colour", "unknown field"},
        {"max_generations", "must be between 1 and 1000"},
        {"thresholds", "must not be empty"},
        {"sqn_min", "must be <= sqn_max (6 > 5)"},
    };
    CHECK(errors == expected);
    CHECK(r.status().message() ==
          "symbol: required; pruning.fraction: must be > 0 and < 1; fee_bps: expected a number; "
          "colour: unknown field; max_generations: must be between 1 and 1000; "
          "thresholds: must not be empty; sqn_min: must be <= sqn_max (6 > 5)");
  }

  TEST_CASE("json: malformed documents and non-object roots") {
    ExpectOnly(R"({"symbol":"AAPL",})", "", "malformed JSON at offset 17: Missing a name for object member.");
    ExpectOnlyPrefix(R"({"symbol":"AAPL"} trailing)", "", "malformed JSON at offset 18: ");
    ExpectOnlyPrefix("", "", "malformed JSON at offset 0: ");
    ExpectOnlyPrefix("{\"symbol\":\"\xff\"}", "", "malformed JSON at offset ");  // not UTF-8
    ExpectOnly(R"(["AAPL"])", "", "expected an object");
    ExpectOnly("1e999", "", "must be a finite number");

    std::vector<FieldError> errors;
    Result<Run> run = RunFromJson("{", &errors);
    CHECK_FALSE(run.ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field.empty());
    CHECK(run.status().message() == errors[0].message);  // no "field: " prefix
  }

  TEST_CASE("json: strict reading of the record types") {
    std::vector<FieldError> errors;

    // A bad nested config in a Run is reported with its full path.
    Run bad_run = FullRun();
    bad_run.config.sqn_min = 9;
    CHECK_FALSE(RunFromJson(ToJson(bad_run), &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"config.sqn_min", "must be <= sqn_max (9 > 6)"});

    auto replace = [](std::string text, const std::string& from, const std::string& to) {
      const size_t at = text.find(from);
      REQUIRE(at != std::string::npos);
      return text.replace(at, from.size(), to);
    };
    const std::string job = ToJson(FullJob());

    errors.clear();
    CHECK_FALSE(JobFromJson(replace(job, R"("status":"COMPLETED")", R"("status":"DONE")"), &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"status", "must be one of PENDING, RUNNING, COMPLETED, FAILED, CANCELLED"});

    errors.clear();
    CHECK_FALSE(JobFromJson(replace(job, R"({"id":"job-1",)", "{"), &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"id", "required"});

    errors.clear();
    CHECK_FALSE(JobFromJson(replace(job, R"("threshold":0.00037)", R"("threshold":"0.1")"), &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"params.threshold", "expected a number"});

    errors.clear();
    CHECK_FALSE(JobFromJson(replace(job, R"("created_at":"2026-01-01T00:00:00.000010Z")",
                                    R"("created_at":"yesterday")"),
                            &errors)
                    .ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "created_at");

    errors.clear();
    CHECK_FALSE(JobFromJson(replace(job, R"("sqn":3.7,)", R"("sqn":3.7,"sqm":1,)"), &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"result.sqm", "unknown field"});

    errors.clear();
    CHECK_FALSE(
        GenerationFromJson(
            replace(ToJson(FullGeneration()), R"("generation":2)", R"("generation":3000000000)"), &errors)
            .ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"generation", "out of range"});

    errors.clear();
    CHECK_FALSE(WorkerInfoFromJson(
                    replace(ToJson(FullWorker()), R"("pid":4242)", R"("pid":9223372036854775808)"), &errors)
                    .ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"pid", "out of range"});

    errors.clear();
    CHECK_FALSE(PromotionFromJson(R"({"id":"p"})", &errors).ok());
    CHECK(errors.size() == 10);  // every other required field is named
    CHECK(errors[0] == FieldError{"model_id", "required"});

    errors.clear();
    CHECK_FALSE(SimulationResultFromJson(R"({"sqn":"high","trade_count":1.5})", &errors).ok());
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == FieldError{"sqn", "expected a number"});
    CHECK(errors[1] == FieldError{"trade_count", "must be an integer"});

    errors.clear();
    CHECK_FALSE(PruningConfigFromJson(R"({"strategy":"all"})", &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "strategy");

    errors.clear();
    CHECK_FALSE(
        FingerprintRecordFromJson(R"({"fingerprint":"f","model_id":"m","spec":{"symbol":"A","features":"x"},)"
                                  R"("created_at":"2026-01-01T00:00:00Z"})",
                                  &errors)
            .ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"spec.features", "expected an array"});

    // Optional metrics may be absent; required ids may not be null.
    Result<SimulationResult> sparse = SimulationResultFromJson(R"({"sqn":1.5,"trade_count":3})");
    REQUIRE(sparse.ok());
    CHECK(sparse->sqn == 1.5);
    CHECK_FALSE(sparse->profit_factor.has_value());
    errors.clear();
    CHECK_FALSE(
        LineageEdgeFromJson(replace(ToJson(FullEdge()), R"("id":"edge-1")", R"("id":null)"), &errors).ok());
    REQUIRE(errors.size() == 1);
    CHECK(errors[0] == FieldError{"id", "must not be null"});
  }

  TEST_CASE("json: CanonicalJsonObject sorts, drops nulls and normalises numbers") {
    auto canonical = [](std::string_view json) {
      Result<std::string> r = CanonicalJsonObject(json);
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      return *r;
    };
    CHECK(canonical(R"({"b":1,"a":{"d":[3,1],"c":null},"e":null})") == R"({"a":{"d":[3,1]},"b":1})");
    CHECK(canonical(R"( { "z" : [ {"y":2,"x":1} , null , "s" ] } )") == R"({"z":[{"x":1,"y":2},null,"s"]})");
    CHECK(canonical("{}") == "{}");
    CHECK(canonical(R"({"gone":null})") == "{}");
    // Byte order: upper case before lower case, multi-byte UTF-8 last.
    CHECK(canonical("{\"b\":1,\"B\":2,\"a\":3,\"\xc3\xa9\":4}") ==
          "{\"B\":2,\"a\":3,\"b\":1,\"\xc3\xa9\":4}");

    CHECK(canonical(R"({"x":1})") == R"({"x":1})");
    CHECK(canonical(R"({"x":1.0})") == R"({"x":1})");
    CHECK(canonical(R"({"x":1.00000000001})") == R"({"x":1})");
    CHECK(canonical(R"({"x":-0.0})") == R"({"x":0})");
    CHECK(canonical(R"({"x":1e3})") == R"({"x":1000})");
    CHECK(canonical(R"({"x":0.1})") == R"({"x":0.1})");
    CHECK(canonical(R"({"x":0.123456789012})") == R"({"x":0.123456789})");
    CHECK(canonical(R"({"x":12345678901234.5})") == R"({"x":12345678900000})");
    CHECK(canonical(R"({"x":1e20})") == R"({"x":1e+20})");
    CHECK(canonical(R"({"x":1.5e-7})") == R"({"x":1.5e-07})");
    CHECK(canonical(R"({"x":9007199254740993})") == R"({"x":9007199254740993})");  // exact integer
    CHECK(canonical(R"({"x":-42,"y":true,"z":false})") == R"({"x":-42,"y":true,"z":false})");
    CHECK(canonical(R"({"s":"a\"b\n\u0001\/"})") == R"({"s":"a\"b\u000a\u0001/"})");

    // Equal for the same meaning.
    CHECK(canonical(R"({"a":1,"b":[1.0,2]})") == canonical(R"({"b":[1,2.00000000001],"a":1.0})"));

    // Deep nesting is refused, not a stack overflow.
    const std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    CHECK_FALSE(CanonicalJsonObject(deep).ok());
    ExpectOnly(Body("\"hyperparameters\": " + deep), "",
               "the JSON nests deeper than 64 levels (at offset 103)");
    CHECK_FALSE(EvolutionConfigFromJson(std::string(200000, '[')).ok());

    for (const char* bad :
         {"[1]", "\"x\"", "5", "null", "", "{", R"({"a":1,"a":2})", R"({"a":NaN})", R"({"a":1e999})"}) {
      CAPTURE(bad);
      Result<std::string> r = CanonicalJsonObject(bad);
      CHECK_FALSE(r.ok());
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
    }
  }

  TEST_CASE("json: JsonQuote escapes quotes, backslashes and control characters") {
    CHECK(JsonQuote("") == R"("")");
    CHECK(JsonQuote("plain") == R"("plain")");
    CHECK(JsonQuote("a\"b\\c") == R"("a\"b\\c")");
    CHECK(JsonQuote("line\nnext\ttab\r") == R"("line\u000anext\u0009tab\u000d")");
    CHECK(JsonQuote(std::string_view("a\0b\x1f", 4)) == R"("a\u0000b\u001f")");
    CHECK(JsonQuote("/ \x7f \xc3\xa9") == "\"/ \x7f \xc3\xa9\"");  // UTF-8 and DEL pass through

    // What JsonQuote writes, a strict parser reads back unchanged.
    const std::string tricky = std::string("q\"\\\n\x01\x1f") + "\xe2\x82\xac";
    Result<std::string> parsed = CanonicalJsonObject("{\"k\":" + JsonQuote(tricky) + "}");
    REQUIRE(parsed.ok());
    CHECK(*parsed == "{\"k\":" + JsonQuote(tricky) + "}");
    Result<ModelSpec> spec = ModelSpecFromJson("{\"symbol\":" + JsonQuote(tricky) + "}");
    REQUIRE(spec.ok());
    CHECK(spec->symbol == tricky);
  }

}  // TEST_SUITE("json")

}  // namespace
}  // namespace evolve
