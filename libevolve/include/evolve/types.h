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
  std::vector<std::string> reference_symbols;
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
  RegimeFilter regime;
  double initial_cash = 10000.0;
  double fee_bps = 1.0;       // per side, in basis points of traded notional
  double slippage_bps = 1.0;  // per side, in basis points
  bool use_bot = false;
  bool enable_z_score_check = false;
  bool volatility_normalization = false;
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
};

// Why a run ended (Run::stop_reason).
inline constexpr const char kStopPromoted[] = "promoted";
inline constexpr const char kStopMaxGenerations[] = "max_generations";
inline constexpr const char kStopNoPruning[] = "no_pruning";
inline constexpr const char kStopAllPruned[] = "all_pruned";
inline constexpr const char kStopCancelled[] = "cancelled";
inline constexpr const char kStopStopped[] = "stopped";
inline constexpr const char kStopFailed[] = "failed";

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
  std::optional<TimePoint> lease_until;
  TimePoint created_at{};
  TimePoint updated_at{};
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
