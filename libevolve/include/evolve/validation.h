// The library's rules for the values of its types, apart from any wire
// format: what makes an EvolutionConfig runnable (min <= max, a grid that is
// neither empty nor too large, finite numbers, known names).
//
// Every problem is a FieldError that names the field by its JSON path
// ("thresholds[2]", "pruning.fraction"), so that a form can show each one next
// to its field. The JSON readers (evolve/json.h) apply the same rules to what
// they read and report in the same terms.
//
// Thread-safety: all functions are pure.
#ifndef EVOLVE_VALIDATION_H_
#define EVOLVE_VALIDATION_H_

#include <string>
#include <vector>

#include "evolve/status.h"
#include "evolve/types.h"

namespace evolve {

// One problem: the JSON path of the field and what is wrong with it. `field`
// is empty for a problem with a whole document (e.g. malformed JSON).
struct FieldError {
  std::string field;
  std::string message;

  friend bool operator==(const FieldError& a, const FieldError& b) {
    return a.field == b.field && a.message == b.message;
  }
};

// Every problem of `config`, its pruning config's last (under "pruning."),
// one per bad field; empty when the config is valid.
std::vector<FieldError> EvolutionConfigErrors(const EvolutionConfig& config);

// Every problem of a simulation's metrics as a worker reports them: each
// value within what its definition allows (types.h: win_rate and exposure
// in [0, 1], counts and gross sums >= 0, max_drawdown_pct in [0, 100],
// returns >= -100%, dates YYYY-MM-DD, a known span, at most kCscvBlocks
// trade blocks holding no more trades than trade_count). The worker
// protocol refuses a result with any.
std::vector<FieldError> SimulationResultErrors(const SimulationResult& result);

// OK when `errors` is empty; otherwise kInvalidArgument whose message names
// each problem, "sqn_min: must be <= sqn_max (6 > 5); thresholds: must not be
// empty" (a problem without a field is its message alone).
Status FieldErrorsToStatus(const std::vector<FieldError>& errors);

// EvolutionConfigErrors as a Status (FieldErrorsToStatus); when `errors` is
// given, the problems are also appended to it. EvolutionConfigFromJson
// applies the same rules.
Status ValidateEvolutionConfig(const EvolutionConfig& config, std::vector<FieldError>* errors = nullptr);

}  // namespace evolve

#endif  // EVOLVE_VALIDATION_H_
