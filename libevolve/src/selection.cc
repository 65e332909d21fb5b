#include "selection.h"

#include <cmath>
#include <optional>

#include "evolve/selection_stats.h"

namespace evolve::internal {
namespace {

ReturnMoments Total(const std::vector<ReturnSums>& blocks) {
  ReturnMoments total;
  for (const ReturnSums& b : blocks) total.Merge(b);
  return total;
}

// The per-trade Sharpe ratio of a result: from its blocks when it has them,
// else from its SQN (sqrt(N) * mean / sd).
std::optional<double> PerTradeSharpe(const SimulationResult& r) {
  if (!r.trade_blocks.empty()) return Total(r.trade_blocks).Sharpe();
  if (r.sqn && r.trade_count >= 2) return *r.sqn / std::sqrt(static_cast<double>(r.trade_count));
  return std::nullopt;
}

}  // namespace

Result<PriorSearch> FindPriorSearch(Store& store, const Run& run, const std::string& research_end) {
  PriorSearch prior;
  if (research_end.empty()) return prior;
  RunFilter filter;
  filter.limit = 500;
  for (filter.offset = 0;; filter.offset += filter.limit) {
    EVOLVE_ASSIGN_OR_RETURN(std::vector<Run> page, store.ListRuns(filter));
    for (const Run& other : page) {
      if (other.id == run.id || other.created_at > run.created_at) continue;
      if (other.config.symbol != run.config.symbol) continue;
      EVOLVE_ASSIGN_OR_RETURN(std::vector<Generation> generations, store.ListGenerations(other.id));
      int64_t trials = 0;
      for (const Generation& g : generations) {
        if (!g.selection || g.selection->research_end != research_end) continue;
        trials = std::max(trials, g.selection->trials);
        if (g.holdout && g.holdout->decided) ++prior.looks;
      }
      prior.trials += trials;
    }
    if (static_cast<int>(page.size()) < filter.limit) break;
  }
  return prior;
}

SelectionStats ComputeSelectionStats(const std::vector<const SimulationResult*>& trials,
                                     const SimulationResult* candidate, const PriorSearch& prior,
                                     const std::string& research_end) {
  SelectionStats s;
  s.trials = static_cast<int64_t>(trials.size());
  s.prior_trials = prior.trials;
  s.prior_looks = prior.looks;
  s.research_end = research_end;

  std::vector<double> sharpes;
  std::vector<std::vector<ReturnBlock>> blocks;
  for (const SimulationResult* r : trials) {
    if (auto sr = PerTradeSharpe(*r)) sharpes.push_back(*sr);
    if (static_cast<int>(r->trade_blocks.size()) != kCscvBlocks) continue;
    std::vector<ReturnBlock> row;
    for (const ReturnSums& b : r->trade_blocks) row.push_back(ReturnBlock{b.n, b.sum, b.sum2});
    blocks.push_back(std::move(row));
  }
  const double variance = SharpeVariance(sharpes);
  s.sharpe_variance = variance;
  if (candidate != nullptr) {
    s.sharpe = PerTradeSharpe(*candidate);
    if (!candidate->trade_blocks.empty()) {
      auto dsr = ComputeDeflatedSharpe(Total(candidate->trade_blocks), s.trials + s.prior_trials, variance);
      if (dsr.ok()) {
        s.expected_max_sharpe = dsr->expected_max_sharpe;
        s.dsr = dsr->probability;
      }
    }
  }
  if (blocks.size() >= 2) {
    auto pbo = ComputePbo(blocks);
    if (pbo.ok()) {
      s.pbo = pbo->pbo;
      s.pbo_candidates = pbo->candidates;
    }
  }
  return s;
}

}  // namespace evolve::internal
