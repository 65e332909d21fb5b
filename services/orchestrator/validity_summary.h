// What a run's research validity comes to so far (docs/validity.md): the
// selection statistics of its last evaluated generation, its latest look at
// the holdout, and how often the symbol's holdout has been looked at. One
// reading of the generations for `evolve run`/`evolve show` and for
// GET /runs/{id} (and `evolve show --json`).
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_VALIDITY_SUMMARY_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_VALIDITY_SUMMARY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evolve/types.h"

namespace evolve::cli {

struct ValiditySummary {
  bool has_holdout = false;                 // the run's split holds bars out
  std::optional<int> generation;            // the last evaluated generation with selection statistics
  std::optional<SelectionStats> selection;  // ... and those statistics
  std::optional<int> holdout_generation;    // the generation of the latest holdout look
  std::optional<HoldoutCheck> holdout;      // the latest look (decided or not)
  int64_t looks = 0;                        // decided holdout looks of this run
  int64_t prior_looks = 0;                  // of earlier runs on the symbol and research span
  std::string research_end;                 // the research span's last date, once known
  std::string holdout_first_date;           // the holdout's first bar, once a look has scored it
};

ValiditySummary SummarizeValidity(const Run& run, const std::vector<Generation>& generations);

// The summary as the "validity" object of GET /runs/{id}: {has_holdout,
// research_end, holdout_first_date, generation, trials, prior_trials, dsr,
// pbo, pbo_candidates, holdout_looks, prior_holdout_looks, holdout} where
// holdout is the latest look ({generation, candidate_job_id, job_id, look,
// decided, passed, verdict, result}) or null; unknown figures are null.
std::string ValiditySummaryJson(const ValiditySummary& summary);

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_VALIDITY_SUMMARY_H_
