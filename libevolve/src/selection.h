// Selection-aware statistics of a run (docs/validity.md): how many candidates
// it has tried, the deflated Sharpe ratio of the one it selects and the
// probability that its selection is overfit. Internal to the engine.
#ifndef EVOLVE_SRC_SELECTION_H_
#define EVOLVE_SRC_SELECTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/types.h"

namespace evolve::internal {

// What earlier runs spent on the same symbol and research span.
struct PriorSearch {
  int64_t trials = 0;  // their research results
  int64_t looks = 0;   // their looks at the holdout
};

// Sums over the runs created before `run` on the same symbol whose
// generations record the same research_end. Reads every run of the store
// once, a page at a time.
Result<PriorSearch> FindPriorSearch(Store& store, const Run& run, const std::string& research_end);

// The statistics of a generation whose run has tried `trials` (its completed
// research results so far, every generation) and selects `candidate` (null:
// none; then no DSR). DSR and PBO are left unset when the results carry no
// trade_blocks (a simulator that does not report them) or are too few.
SelectionStats ComputeSelectionStats(const std::vector<const SimulationResult*>& trials,
                                     const SimulationResult* candidate, const PriorSearch& prior,
                                     const std::string& research_end);

}  // namespace evolve::internal

#endif  // EVOLVE_SRC_SELECTION_H_
