#include "evolve/types.h"

#include <cstddef>
#include <iterator>
#include <tuple>

namespace evolve {
namespace {

// Each struct's fields as a tuple of references, in declaration order, so
// that equality is one line per type and a forgotten field stands out here.
auto Tie(const DataSplit& v) { return std::tie(v.holdout_fraction, v.holdout_start, v.selection_fraction); }
auto Tie(const ReturnSums& v) { return std::tie(v.n, v.sum, v.sum2, v.sum3, v.sum4); }
auto Tie(const SelectionStats& v) {
  return std::tie(v.trials, v.prior_trials, v.prior_looks, v.research_end, v.sharpe, v.expected_max_sharpe,
                  v.sharpe_variance, v.dsr, v.pbo, v.pbo_candidates);
}
auto Tie(const HoldoutCheck& v) {
  return std::tie(v.candidate_job_id, v.job_id, v.look, v.decided, v.passed, v.verdict, v.result);
}
auto Tie(const ModelSpec& v) {
  return std::tie(v.symbol, v.algorithm, v.target_col, v.target_transform, v.timeframe, v.features,
                  v.hyperparameters, v.data_options, v.reference_symbols, v.split, v.data_digest,
                  v.parent_model_id);
}
auto Tie(const RegimeFilter& v) { return std::tie(v.column, v.allowed); }
auto Tie(const SimulationParams& v) {
  return std::tie(v.model_id, v.ticker, v.threshold, v.regime, v.initial_cash, v.fee_bps, v.slippage_bps,
                  v.use_bot, v.enable_z_score_check, v.volatility_normalization, v.span,
                  v.threshold_quantile);
}
auto Tie(const SimulationResult& v) {
  return std::tie(v.sqn, v.sqn_100, v.profit_factor, v.trade_count, v.total_trades, v.weekly_consistency,
                  v.win_rate, v.expectancy, v.gross_profit, v.gross_loss, v.total_return_pct,
                  v.benchmark_return_pct, v.max_drawdown_pct, v.sharpe, v.exposure, v.trades_per_week,
                  v.weeks_traded, v.start_date, v.end_date, v.span, v.threshold, v.excess_return_pct,
                  v.excess_sqn, v.trade_blocks);
}
auto Tie(const PruningConfig& v) { return std::tie(v.strategy, v.fraction, v.min_importance); }
auto Tie(const EvolutionConfig& v) {
  return std::tie(v.symbol, v.algorithm, v.target_col, v.target_transform, v.max_generations, v.timeframe,
                  v.data_options, v.seed_features, v.seed_model_id, v.reference_symbols, v.thresholds,
                  v.threshold_quantiles, v.regime_configs, v.sqn_min, v.sqn_max, v.profit_factor_min,
                  v.profit_factor_max, v.trade_count_min, v.trade_count_max, v.weekly_consistency_max,
                  v.hyperparameters, v.pruning, v.initial_cash, v.fee_bps, v.slippage_bps, v.split,
                  v.holdout_sqn_min, v.holdout_excess_return_min, v.holdout_excess_sqn_min, v.holdout_looks,
                  v.excess_return_min, v.max_drawdown_max, v.dsr_min, v.pbo_max, v.bars_source, v.dropped_rows);
}
auto Tie(const Run& v) {
  return std::tie(v.id, v.config, v.status, v.current_generation, v.seed_model_id, v.best_sqn,
                  v.best_model_id, v.promoted, v.promotion_id, v.stop_reason, v.error, v.created_at,
                  v.updated_at);
}
auto Tie(const Generation& v) {
  return std::tie(v.run_id, v.generation, v.state, v.model_id, v.parent_model_id, v.fingerprint,
                  v.reused_model, v.features, v.pruned_features, v.pruning_reason, v.parent_sqn, v.batch_id,
                  v.jobs_total, v.jobs_completed, v.jobs_failed, v.jobs_passing, v.best_sqn,
                  v.best_profit_factor, v.best_trade_count, v.best_job_id, v.verdict, v.jobs_too_few_trades,
                  v.selection, v.holdout, v.updated_at);
}
auto Tie(const LineageEdge& v) {
  return std::tie(v.id, v.run_id, v.parent_model_id, v.child_model_id, v.generation, v.parent_sqn,
                  v.pruned_features, v.remaining_features, v.pruning_reason, v.created_at);
}
auto Tie(const Job& v) {
  return std::tie(v.id, v.batch_id, v.run_id, v.model_id, v.generation, v.priority, v.status, v.params,
                  v.result, v.error, v.worker_id, v.attempts, v.max_attempts, v.deaths, v.claim_token,
                  v.lease_until, v.created_at, v.updated_at, v.kind, v.task, v.output);
}
auto Tie(const Promotion& v) {
  return std::tie(v.id, v.model_id, v.run_id, v.generation, v.job_id, v.sqn, v.profit_factor, v.trade_count,
                  v.weekly_consistency, v.ticker, v.regime, v.threshold, v.spec, v.result, v.selection,
                  v.holdout, v.created_at);
}
auto Tie(const FingerprintRecord& v) { return std::tie(v.fingerprint, v.model_id, v.spec, v.created_at); }
auto Tie(const WorkerInfo& v) {
  return std::tie(v.id, v.host, v.pid, v.status, v.started_at, v.last_heartbeat, v.current_jobs,
                  v.jobs_completed, v.jobs_failed);
}

// Enum names, indexed by the enumerator's value.
constexpr const char* kRunStatusNames[] = {"PENDING", "RUNNING",   "PROMOTED", "COMPLETED",
                                           "STOPPED", "CANCELLED", "FAILED"};
constexpr const char* kJobStatusNames[] = {"PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"};
constexpr const char* kGenerationStateNames[] = {"MODEL_READY", "SIMULATING", "EVALUATED"};
constexpr const char* kJobKindNames[] = {"simulate", "train", "assemble"};
static_assert(std::size(kJobKindNames) == static_cast<std::size_t>(JobKind::kAssemble) + 1);
static_assert(std::size(kRunStatusNames) == static_cast<std::size_t>(RunStatus::kFailed) + 1);
static_assert(std::size(kJobStatusNames) == static_cast<std::size_t>(JobStatus::kCancelled) + 1);
static_assert(std::size(kGenerationStateNames) == static_cast<std::size_t>(GenerationState::kEvaluated) + 1);

template <typename E, std::size_t N>
const char* NameOf(const char* const (&names)[N], E value) {
  const auto i = static_cast<std::size_t>(value);
  return i < N ? names[i] : "UNKNOWN";
}

// Exact, case-sensitive: the names are a wire format, not user prose.
template <typename E, std::size_t N>
bool ParseName(const char* const (&names)[N], const std::string& name, E* out) {
  for (std::size_t i = 0; i < N; ++i) {
    if (name == names[i]) {
      *out = static_cast<E>(i);
      return true;
    }
  }
  return false;
}

}  // namespace

bool operator==(const DataSplit& a, const DataSplit& b) { return Tie(a) == Tie(b); }
bool operator==(const ReturnSums& a, const ReturnSums& b) { return Tie(a) == Tie(b); }
bool operator==(const SelectionStats& a, const SelectionStats& b) { return Tie(a) == Tie(b); }
bool operator==(const HoldoutCheck& a, const HoldoutCheck& b) { return Tie(a) == Tie(b); }
bool operator==(const ModelSpec& a, const ModelSpec& b) { return Tie(a) == Tie(b); }
bool operator==(const RegimeFilter& a, const RegimeFilter& b) { return Tie(a) == Tie(b); }
bool operator==(const SimulationParams& a, const SimulationParams& b) { return Tie(a) == Tie(b); }
bool operator==(const SimulationResult& a, const SimulationResult& b) { return Tie(a) == Tie(b); }
bool operator==(const PruningConfig& a, const PruningConfig& b) { return Tie(a) == Tie(b); }
bool operator==(const EvolutionConfig& a, const EvolutionConfig& b) { return Tie(a) == Tie(b); }
bool operator==(const Run& a, const Run& b) { return Tie(a) == Tie(b); }
bool operator==(const Generation& a, const Generation& b) { return Tie(a) == Tie(b); }
bool operator==(const LineageEdge& a, const LineageEdge& b) { return Tie(a) == Tie(b); }
bool operator==(const Job& a, const Job& b) { return Tie(a) == Tie(b); }
bool operator==(const Promotion& a, const Promotion& b) { return Tie(a) == Tie(b); }
bool operator==(const FingerprintRecord& a, const FingerprintRecord& b) { return Tie(a) == Tie(b); }
bool operator==(const WorkerInfo& a, const WorkerInfo& b) { return Tie(a) == Tie(b); }

const char* RunStatusName(RunStatus s) { return NameOf(kRunStatusNames, s); }
bool ParseRunStatus(const std::string& name, RunStatus* out) { return ParseName(kRunStatusNames, name, out); }
bool IsFinal(RunStatus s) {
  return s == RunStatus::kPromoted || s == RunStatus::kCompleted || s == RunStatus::kCancelled ||
         s == RunStatus::kFailed;
}

const char* JobStatusName(JobStatus s) { return NameOf(kJobStatusNames, s); }
bool ParseJobStatus(const std::string& name, JobStatus* out) { return ParseName(kJobStatusNames, name, out); }
bool IsFinal(JobStatus s) {
  return s == JobStatus::kCompleted || s == JobStatus::kFailed || s == JobStatus::kCancelled;
}

const char* JobKindName(JobKind k) { return NameOf(kJobKindNames, k); }
bool ParseJobKind(const std::string& name, JobKind* out) { return ParseName(kJobKindNames, name, out); }

std::vector<JobKind> JobKinds::List() const {
  std::vector<JobKind> kinds;
  for (std::size_t i = 0; i < std::size(kJobKindNames); ++i) {
    if (Has(static_cast<JobKind>(i))) kinds.push_back(static_cast<JobKind>(i));
  }
  return kinds;
}

const char* GenerationStateName(GenerationState s) { return NameOf(kGenerationStateNames, s); }
bool ParseGenerationState(const std::string& name, GenerationState* out) {
  return ParseName(kGenerationStateNames, name, out);
}

}  // namespace evolve
