// The value types that flow between the evolution engine, the stores, the
// workers and the services. Plain structs, no behaviour beyond small helpers;
// their JSON form is in evolve/json.h.
//
// Units are stated per field. Metrics that can be undefined (SQN of fewer than
// two trades, profit factor with no losing trade, weekly consistency with no
// trade) are std::optional: libevolve never stores or prints NaN or Infinity.
#ifndef EVOLVE_TYPES_H_
#define EVOLVE_TYPES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evolve/clock.h"

namespace evolve {

// How a symbol's bars are split in time (docs/validity.md). Every model of a
// run shares one split, so every result of the run scores the same bars:
//
//   [warm-up + train_window | selection span | scored span | holdout      ]
//    no predictions           pruning's        the grid's    read once, to
//                             importance only  backtests     confirm a finalist
//
// The research span is everything before the holdout. Walk-forward models
// are refitted through the holdout exactly as they would be live; nothing of
// the holdout feeds a choice.
//
// A default DataSplit is none(): what a model trained before splits existed
// had. EvolutionConfig's default is a 20% holdout and a 30% selection span.
struct DataSplit {
  // The last fraction of the symbol's bars is the holdout; 0 = no holdout.
  double holdout_fraction = 0.0;
  // "YYYY-MM-DD": the holdout starts at the first bar on or after this UTC
  // date; when set it replaces holdout_fraction.
  std::string holdout_start;
  // The first fraction of the research span's predicted bars: permutation
  // importance for pruning is measured there and nowhere else, and the
  // backtests never score it. 0 = importance on the scored bars (leaks the
  // scored bars into pruning; for comparison only).
  double selection_fraction = 0.0;

  // No holdout and no selection span: the whole out-of-sample span is scored
  // (the only split a simulator that knows no spans can honour).
  bool none() const { return holdout_fraction == 0 && holdout_start.empty() && selection_fraction == 0; }
  bool has_holdout() const { return holdout_fraction > 0 || !holdout_start.empty(); }
};

// Which bars of a split a simulation scores (SimulationParams::span).
inline constexpr const char kSpanResearch[] = "research";  // the scored span
inline constexpr const char kSpanHoldout[] = "holdout";
// The whole out-of-sample span, for a split that is none(); also what a
// simulator that knows no spans reports ("").
inline constexpr const char kSpanAll[] = "all";

// What is trained. Everything that changes the trained model is here, and all
// of it except parent_model_id goes into the fingerprint (evolve/fingerprint.h).
struct ModelSpec {
  std::string symbol;
  std::string algorithm = "RandomForest";
  std::string target_col = "close";
  std::string target_transform = "log_return";  // none | log_return | log | pct_change
  std::string timeframe = "1m";
  std::vector<std::string> features;
  // A JSON object, passed to the trainer as is ("{}" when none).
  std::string hyperparameters = "{}";
  // A JSON object of data options, e.g. {"train_window": 30, "test_window": 5}.
  std::string data_options = "{}";
  // In order: the first is the market of the regime labels.
  std::vector<std::string> reference_symbols;
  DataSplit split;
  // A digest of the bars the model is trained on (the symbol's, then each
  // reference's, in order), from FeatureSource::DataDigest; empty when the
  // source cannot tell. A run on grown or edited data trains a new model.
  std::string data_digest;
  // Lineage only; not part of the fingerprint.
  std::string parent_model_id;
};

// A regime filter: trade only bars whose `column` value is in `allowed`.
// An empty column means no filter.
struct RegimeFilter {
  std::string column;
  std::vector<int> allowed;

  bool empty() const { return column.empty(); }
};

// One simulation (backtest) of a trained model.
struct SimulationParams {
  std::string model_id;
  std::string ticker;
  double threshold = 0.0;  // minimum |prediction| to take a position
  // When set (0..1): the threshold is this quantile of the model's absolute
  // predictions over the research span (never the holdout's), and
  // `threshold` is ignored; the result reports the value used.
  std::optional<double> threshold_quantile;
  RegimeFilter regime;
  double initial_cash = 10000.0;
  double fee_bps = 1.0;       // per side, in basis points of traded notional
  double slippage_bps = 1.0;  // per side, in basis points
  bool use_bot = false;
  bool enable_z_score_check = false;
  bool volatility_normalization = false;
  // kSpanResearch, kSpanHoldout or kSpanAll; empty reads as kSpanAll.
  std::string span;
};

// Power sums of the net returns of a set of trades: enough for their mean,
// variance, skewness and kurtosis, and blocks add up (evolve/selection_stats.h).
struct ReturnSums {
  int64_t n = 0;
  double sum = 0.0;
  double sum2 = 0.0;
  double sum3 = 0.0;
  double sum4 = 0.0;
};

// Metrics of one simulation. No per-bar arrays.
struct SimulationResult {
  std::optional<double> sqn;                 // sqrt(N) * mean / sample stdev of net trade returns
  std::optional<double> sqn_100;             // the same with N capped at 100 (Van Tharp), to compare systems
  std::optional<double> profit_factor;       // gross profit / gross loss; none without losses
  int64_t trade_count = 0;                   // round trips
  int64_t total_trades = 0;                  // fills
  std::optional<double> weekly_consistency;  // stdev / mean of trades per ISO week
  std::optional<double> win_rate;            // fraction of winning trades, 0..1
  std::optional<double> expectancy;          // mean net return per trade (fraction)
  double gross_profit = 0.0;                 // sum of winning net trade returns
  double gross_loss = 0.0;                   // |sum of losing net trade returns|
  double total_return_pct = 0.0;
  std::optional<double> benchmark_return_pct;
  double max_drawdown_pct = 0.0;  // positive number, 0..100
  std::optional<double> sharpe;   // annualised, of per-bar returns
  double exposure = 0.0;          // fraction of bars in the market
  double trades_per_week = 0.0;
  int64_t weeks_traded = 0;
  std::string start_date;
  std::string end_date;
  // The span scored (kSpanResearch, kSpanHoldout, kSpanAll); empty from a
  // simulator that knows no spans.
  std::string span;
  // The threshold used, in the units of the predictions (expected next-bar
  // return): what a threshold_quantile came to.
  std::optional<double> threshold;
  // Exposure-matched excess return, in percent: the strategy's log growth
  // minus the exposure times buy-and-hold's, as a simple return:
  // 100 * (exp(ln(1 + R) - exposure * ln(1 + B)) - 1) with R, B fractions.
  std::optional<double> excess_return_pct;
  // Timing skill beyond drift, as a t-statistic: the SQN of the trades' net
  // log returns less the span's drift over the bars each trade held
  // (ln(last close / first open) per bar). A long-only strategy on a series
  // that only drifts has none, however well it does against zero.
  std::optional<double> excess_sqn;
  // The scored span cut into kCscvBlocks equal runs of bars; each block holds
  // the power sums of the trades that closed in it. For the deflated Sharpe
  // ratio and the CSCV overfitting probability; empty when not reported.
  std::vector<ReturnSums> trade_blocks;
};

enum class RunStatus { kPending, kRunning, kPromoted, kCompleted, kStopped, kCancelled, kFailed };
const char* RunStatusName(RunStatus s);  // "PENDING", ...
bool ParseRunStatus(const std::string& name, RunStatus* out);
// PROMOTED, COMPLETED, CANCELLED and FAILED are final (FAILED may be resumed).
bool IsFinal(RunStatus s);

enum class JobStatus { kPending, kRunning, kCompleted, kFailed, kCancelled };
const char* JobStatusName(JobStatus s);
bool ParseJobStatus(const std::string& name, JobStatus* out);
bool IsFinal(JobStatus s);

// What a job asks a worker to do (docs/architecture.md, "Training on the
// queue"): simulate a model (params -> result), train one part of a model
// (task -> output) or assemble a model from its parts (task -> output).
enum class JobKind { kSimulate, kTrain, kAssemble };
const char* JobKindName(JobKind k);  // "simulate", "train", "assemble"
bool ParseJobKind(const std::string& name, JobKind* out);

// A set of job kinds: what a worker can run, so what it claims.
class JobKinds {
 public:
  constexpr JobKinds() = default;
  static constexpr JobKinds Simulation() { return JobKinds(1U << static_cast<unsigned>(JobKind::kSimulate)); }
  static constexpr JobKinds All() { return JobKinds(0b111U); }
  constexpr JobKinds With(JobKind k) const { return JobKinds(bits_ | (1U << static_cast<unsigned>(k))); }
  constexpr bool Has(JobKind k) const { return (bits_ >> static_cast<unsigned>(k)) & 1U; }
  constexpr bool empty() const { return bits_ == 0; }
  // The kinds in the set, in enum order.
  std::vector<JobKind> List() const;
  constexpr bool operator==(JobKinds o) const { return bits_ == o.bits_; }

 private:
  constexpr explicit JobKinds(unsigned bits) : bits_(bits) {}
  unsigned bits_ = 0;
};

// The work of a training job (JobKind::kTrain, kAssemble), as the engine
// queues it and a worker's Trainer runs it (evolve/trainer.h). Job::task
// holds its JSON (evolve/json.h).
struct TrainingTask {
  ModelSpec spec;
  // Trainer::PlanTraining's plan: how many parts, and what every part
  // needs besides the spec (opaque to everything but the trainer).
  int parts = 1;
  std::string inputs;
  // kTrain: which part, 0 .. parts - 1.
  int part = 0;
  // kAssemble: each part's output (Job::output of the kTrain jobs), in part
  // order.
  std::vector<std::string> part_outputs;
};

// How features are pruned between generations (evolve/pruning.h).
struct PruningConfig {
  // "non_positive": prune importance <= 0 (default, as the seed does).
  // "keep_top_fraction": keep the ceil(fraction * n) most important.
  // "threshold": prune importance <= min_importance.
  std::string strategy = "non_positive";
  double fraction = 0.5;
  double min_importance = 0.0;
};

// Everything of a POST /evolve body, with the seed's defaults.
struct EvolutionConfig {
  std::string symbol;  // required
  std::string algorithm = "RandomForest";
  std::string target_col = "close";
  std::string target_transform = "log_return";
  int max_generations = 4;
  std::string timeframe = "1m";
  std::string data_options = "{}";         // JSON object (given as a string or an object)
  std::vector<std::string> seed_features;  // empty: every feature column of the symbol
  std::string seed_model_id;               // empty: train the seed
  std::vector<std::string> reference_symbols;
  std::vector<double> thresholds = {0.0001, 0.0003, 0.0005};
  // More grid thresholds, as quantiles (0..1) of each model's absolute
  // predictions over the research span: 0.9 trades the 10% strongest
  // predictions, the same on daily and minute bars. Either list may be empty,
  // not both.
  std::vector<double> threshold_quantiles;
  std::vector<RegimeFilter> regime_configs = {RegimeFilter{}};  // {} = no filter
  double sqn_min = 3.0;
  double sqn_max = 5.0;
  double profit_factor_min = 2.0;
  double profit_factor_max = 4.0;
  int64_t trade_count_min = 200;
  int64_t trade_count_max = 10000;
  double weekly_consistency_max = 0.5;  // strict: passes when < this
  std::string hyperparameters = "{}";   // JSON object
  PruningConfig pruning;
  double initial_cash = 10000.0;
  double fee_bps = 1.0;
  double slippage_bps = 1.0;

  // Research validity (docs/validity.md).
  // POST /evolve: holdout_fraction, holdout_start, selection_fraction at the top level.
  DataSplit split{0.2, "", 0.3};
  // The confirmation test declared before the run: the finalist, frozen, on
  // the holdout needs SQN >= holdout_sqn_min (1.645: a one-sided 5% t-test of
  // mean net trade return > 0) and, unless null, an exposure-matched excess
  // return >= holdout_excess_return_min percent...
  double holdout_sqn_min = 1.645;
  std::optional<double> holdout_excess_return_min = 0.0;
  // ... and, unless null, excess_sqn >= holdout_excess_sqn_min: the excess
  // over exposure-matched buy-and-hold is significant, not a coin flip.
  std::optional<double> holdout_excess_sqn_min = 1.645;
  // How many finalists a run may take to the holdout (each look is counted).
  int holdout_looks = 1;
  // Optional criteria on the research span (null: not checked).
  std::optional<double> excess_return_min;  // percent, exposure-matched
  std::optional<double> max_drawdown_max;   // percent
  std::optional<double> dsr_min;            // deflated Sharpe ratio, 0..1
  std::optional<double> pbo_max;            // probability of backtest overfitting, 0..1

  // What the run's bars were, recorded when the run is accepted over the
  // built-in engines (not a request's to set: its values are replaced):
  // the source ("examples/data", "postgresql://host/db, table bars") and
  // the rows of the symbol's and reference symbols' data that
  // --drop-bad-rows dropped.
  std::string bars_source;
  int64_t dropped_rows = 0;
};

// Why a run ended (Run::stop_reason).
inline constexpr const char kStopPromoted[] = "promoted";
inline constexpr const char kStopMaxGenerations[] = "max_generations";
inline constexpr const char kStopNoPruning[] = "no_pruning";
inline constexpr const char kStopAllPruned[] = "all_pruned";
inline constexpr const char kStopCancelled[] = "cancelled";
inline constexpr const char kStopStopped[] = "stopped";
inline constexpr const char kStopFailed[] = "failed";
// The research span's finalist failed its confirmation on the holdout.
inline constexpr const char kStopHoldoutRejected[] = "holdout_rejected";

struct Run {
  std::string id;
  EvolutionConfig config;
  RunStatus status = RunStatus::kPending;
  int current_generation = 0;
  std::string seed_model_id;
  std::optional<double> best_sqn;  // best over all generations so far
  std::string best_model_id;
  bool promoted = false;
  std::string promotion_id;
  std::string stop_reason;  // one of kStop*, empty while running
  std::string error;        // set when FAILED
  TimePoint created_at{};
  TimePoint updated_at{};
};

// Where a generation is in its life. The engine resumes from this.
enum class GenerationState { kModelReady, kSimulating, kEvaluated };
const char* GenerationStateName(GenerationState s);  // "MODEL_READY", ...
bool ParseGenerationState(const std::string& name, GenerationState* out);

// Selection-aware statistics of a generation (docs/validity.md): how many
// candidates the run has tried, and what that does to the best of them.
struct SelectionStats {
  int64_t trials = 0;        // research results of this run so far (cells x generations)
  int64_t prior_trials = 0;  // of earlier runs on the same symbol and research span
  int64_t prior_looks = 0;   // holdout looks of earlier runs on the same symbol and research span
  std::string research_end;  // last date of the research span: with the symbol, the span's identity
  // The deflated Sharpe ratio (Bailey and Lopez de Prado 2014) of the
  // selected candidate, per trade, given trials + prior_trials trials.
  std::optional<double> sharpe;               // the candidate's per-trade Sharpe ratio
  std::optional<double> expected_max_sharpe;  // of as many trials of no skill
  std::optional<double> sharpe_variance;      // across the run's trials
  std::optional<double> dsr;                  // probability, 0..1
  // The probability of backtest overfitting by CSCV (Bailey, Borwein, Lopez
  // de Prado and Zhu 2015) over the run's candidates so far.
  std::optional<double> pbo;
  int64_t pbo_candidates = 0;
};

// The one-look confirmation of a research finalist on the holdout.
struct HoldoutCheck {
  std::string candidate_job_id;  // the research result that was the finalist
  std::string job_id;            // the holdout simulation
  int look = 1;                  // 1-based, within the run
  bool decided = false;          // the holdout simulation has finished
  bool passed = false;
  std::string verdict;  // "PASS" or "FAIL: holdout sqn 0.42 < 1.645; ..."
  std::optional<SimulationResult> result;
};

// One generation of a run: its model, how it came from its parent, its batch
// of simulations and, once evaluated, the summary.
struct Generation {
  std::string run_id;
  int generation = 0;
  GenerationState state = GenerationState::kModelReady;
  std::string model_id;
  std::string parent_model_id;  // empty for generation 0
  std::string fingerprint;
  bool reused_model = false;  // true when the fingerprint was known: no training
  std::vector<std::string> features;
  std::vector<std::string> pruned_features;
  std::string pruning_reason;
  std::optional<double> parent_sqn;
  std::string batch_id;
  int jobs_total = 0;
  int jobs_completed = 0;
  int jobs_failed = 0;
  int jobs_passing = 0;  // completed results that met every criterion
  std::optional<double> best_sqn;
  std::optional<double> best_profit_factor;  // of the best-SQN result
  int64_t best_trade_count = 0;              // of the best-SQN result
  std::string best_job_id;
  std::string verdict;  // the criteria verdict of the best-SQN result
  // "Best" ranks only results with at least trade_count_min trades; the
  // others are counted here and listed (marked) by the readers.
  int jobs_too_few_trades = 0;
  std::optional<SelectionStats> selection;
  std::optional<HoldoutCheck> holdout;  // set once a finalist goes to the holdout
  TimePoint updated_at{};
};

// One parent -> child step of the lineage DAG (the seed's evolution_log).
// Generation 0 has an edge with an empty parent: the seed.
struct LineageEdge {
  std::string id;
  std::string run_id;
  std::string parent_model_id;
  std::string child_model_id;
  int generation = 0;
  std::optional<double> parent_sqn;
  std::vector<std::string> pruned_features;
  std::vector<std::string> remaining_features;
  std::string pruning_reason;
  TimePoint created_at{};
};

// A simulation job in the priority queue.
struct Job {
  std::string id;
  std::string batch_id;
  std::string run_id;
  std::string model_id;
  int generation = 0;
  double priority = 0.0;  // the parent generation's best SQN; higher runs first
  JobStatus status = JobStatus::kPending;
  SimulationParams params;
  std::optional<SimulationResult> result;
  std::string error;
  std::string worker_id;
  int attempts = 0;
  int max_attempts = 3;
  // Times the job's holder died while running it (lease expired, process
  // gone): counted apart from attempts, so a killed service does not fail
  // the jobs it held.
  int deaths = 0;
  // The secret of the current claim (ClaimJobs returns it to the claimer
  // only; never listed or served): heartbeat, complete and release present
  // it. Empty while the job is not RUNNING.
  std::string claim_token;
  std::optional<TimePoint> lease_until;
  TimePoint created_at{};
  TimePoint updated_at{};
  // What the job is. A simulation has params and, once COMPLETED, a result;
  // a training job (kTrain, kAssemble) has a task (TrainingTask as JSON;
  // params.ticker names its symbol, model_id is empty) and, once COMPLETED,
  // an output (a part's output, or the assembled model's id).
  JobKind kind = JobKind::kSimulate;
  std::string task;
  std::string output;
};

// A Holy Grail win.
struct Promotion {
  std::string id;
  std::string model_id;
  std::string run_id;
  int generation = 0;
  std::string job_id;
  double sqn = 0.0;
  std::optional<double> profit_factor;
  int64_t trade_count = 0;
  std::optional<double> weekly_consistency;
  std::string ticker;
  RegimeFilter regime;
  double threshold = 0.0;
  ModelSpec spec;
  SimulationResult result;
  std::optional<SelectionStats> selection;
  std::optional<HoldoutCheck> holdout;  // none when the run had no holdout
  TimePoint created_at{};
};

// The fingerprint table's row: which model a canonical spec was trained as.
struct FingerprintRecord {
  std::string fingerprint;
  std::string model_id;
  ModelSpec spec;
  TimePoint created_at{};
};

struct WorkerInfo {
  std::string id;
  std::string host;
  int64_t pid = 0;
  std::string status = "ACTIVE";  // ACTIVE | STOPPED
  TimePoint started_at{};
  TimePoint last_heartbeat{};
  std::vector<std::string> current_jobs;
  int64_t jobs_completed = 0;
  int64_t jobs_failed = 0;
};

// Field-by-field equality (timestamps compared exactly).
bool operator==(const DataSplit& a, const DataSplit& b);
bool operator==(const ReturnSums& a, const ReturnSums& b);
bool operator==(const SelectionStats& a, const SelectionStats& b);
bool operator==(const HoldoutCheck& a, const HoldoutCheck& b);
bool operator==(const ModelSpec& a, const ModelSpec& b);
bool operator==(const RegimeFilter& a, const RegimeFilter& b);
bool operator==(const SimulationParams& a, const SimulationParams& b);
bool operator==(const SimulationResult& a, const SimulationResult& b);
bool operator==(const PruningConfig& a, const PruningConfig& b);
bool operator==(const EvolutionConfig& a, const EvolutionConfig& b);
bool operator==(const Run& a, const Run& b);
bool operator==(const Generation& a, const Generation& b);
bool operator==(const LineageEdge& a, const LineageEdge& b);
bool operator==(const Job& a, const Job& b);
bool operator==(const Promotion& a, const Promotion& b);
bool operator==(const FingerprintRecord& a, const FingerprintRecord& b);
bool operator==(const WorkerInfo& a, const WorkerInfo& b);
inline bool operator!=(const DataSplit& a, const DataSplit& b) { return !(a == b); }
inline bool operator!=(const ReturnSums& a, const ReturnSums& b) { return !(a == b); }
inline bool operator!=(const SelectionStats& a, const SelectionStats& b) { return !(a == b); }
inline bool operator!=(const HoldoutCheck& a, const HoldoutCheck& b) { return !(a == b); }
inline bool operator!=(const ModelSpec& a, const ModelSpec& b) { return !(a == b); }
inline bool operator!=(const RegimeFilter& a, const RegimeFilter& b) { return !(a == b); }
inline bool operator!=(const SimulationParams& a, const SimulationParams& b) { return !(a == b); }
inline bool operator!=(const SimulationResult& a, const SimulationResult& b) { return !(a == b); }
inline bool operator!=(const PruningConfig& a, const PruningConfig& b) { return !(a == b); }
inline bool operator!=(const EvolutionConfig& a, const EvolutionConfig& b) { return !(a == b); }
inline bool operator!=(const Run& a, const Run& b) { return !(a == b); }
inline bool operator!=(const Generation& a, const Generation& b) { return !(a == b); }
inline bool operator!=(const LineageEdge& a, const LineageEdge& b) { return !(a == b); }
inline bool operator!=(const Job& a, const Job& b) { return !(a == b); }
inline bool operator!=(const Promotion& a, const Promotion& b) { return !(a == b); }
inline bool operator!=(const FingerprintRecord& a, const FingerprintRecord& b) { return !(a == b); }
inline bool operator!=(const WorkerInfo& a, const WorkerInfo& b) { return !(a == b); }

}  // namespace evolve

#endif  // EVOLVE_TYPES_H_
