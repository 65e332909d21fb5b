// Text output of the `evolve` commands: aligned tables, numbers and the
// JSON documents of --json (the exit codes: evolve/service/exit.h).
#ifndef EVOLVE_SERVICES_ORCHESTRATOR_OUTPUT_H_
#define EVOLVE_SERVICES_ORCHESTRATOR_OUTPUT_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "evolve/status.h"
#include "evolve/store.h"
#include "evolve/types.h"

namespace evolve::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // Columns separated by two spaces; cells that look numeric are
  // right-aligned. Every line ends with '\n'.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// `v` with `precision` decimals, "-" when unset.
std::string Num(std::optional<double> v, int precision = 2);
// Shortens `s` to `width` characters with a trailing "...".
std::string Clip(const std::string& s, size_t width);

// The table of a run's generations: features kept and pruned, jobs (and
// those with too few trades to rank), best SQN/PF/trades, trials, DSR, PBO
// and the verdict of the best result; then a line per holdout look.
std::string GenerationsTable(const std::vector<Generation>& generations);
// The closing lines of a run: how it ended, the split and the looks at the
// holdout, and the promoted model with its holdout confirmation (or why none
// was promoted).
Result<std::string> RunOutcomeText(Store& store, const Run& run);

// {"run": ..., "generations": [...], "lineage": [...], "jobs": {counts},
//  "jobs_by_kind": {...}, "promotion": {...} | null, "validity": {...}}: what `evolve show --json`
// and `evolve run --json` print (validity: validity_summary.h).
Result<std::string> RunDocumentJson(Store& store, const std::string& run_id);

// {"pending", "running", "completed", "failed", "cancelled", "total"}.
std::string JobCountsJson(const JobCounts& counts);

// {"simulate": JobCounts, "train": ..., "assemble": ...}: the counts of
// `jobs` (one run's) by kind.
std::string JobCountsByKindJson(const std::vector<Job>& jobs);
// The same object from counts by kind (a kind not given: all zero).
std::string JobCountsByKindJson(std::map<JobKind, JobCounts> by_kind);

// A JSON array of already-serialised elements.
std::string JsonArray(const std::vector<std::string>& elements);

}  // namespace evolve::cli

#endif  // EVOLVE_SERVICES_ORCHESTRATOR_OUTPUT_H_
