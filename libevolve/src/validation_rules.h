// The value rules of the config types (validation.cc), for the JSON reader,
// which runs them on each struct as soon as its fields are read and reports
// their problems among its own. Not installed.
#ifndef EVOLVE_SRC_VALIDATION_RULES_H_
#define EVOLVE_SRC_VALIDATION_RULES_H_

#include <string>

#include "evolve/types.h"
#include "field_errors.h"

namespace evolve::internal {

// Adds the problems of `config`, whose fields are at `path` ("" at the top,
// "config" inside a Run), to `problems`. A field that already has a problem
// is skipped, so that it gets one message and a cross-field rule (min <= max)
// only compares sound values. The EvolutionConfig rules leave out its
// pruning config, which has its own.
void CheckRules(Problems& problems, const std::string& path, const PruningConfig& config);
void CheckRules(Problems& problems, const std::string& path, const EvolutionConfig& config);

}  // namespace evolve::internal

#endif  // EVOLVE_SRC_VALIDATION_RULES_H_
