// The walk-forward scheme and the split of a built-in model, as bar
// indices: the scheme from data_options (WalkForwardFrom), the spans one
// fitted model each covers, and where the selection, scored and holdout
// spans fall (ResolveSplit). builtin.h declares the public part; docs/
// engines.md draws the scheme.
//
// Thread-safety: pure functions.
#ifndef EVOLVE_ENGINES_SRC_WALK_FORWARD_H_
#define EVOLVE_ENGINES_SRC_WALK_FORWARD_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "evolve/engines/builtin.h"

namespace evolve::engines {

// The walk-forward spans [start, end) from bar `first` to bar `n`, one
// fitted model each, of scheme.span() bars (the last one shorter). Their
// length depends on the scheme only, so more bars only add spans.
std::vector<std::pair<size_t, size_t>> WalkForwardSpans(size_t first, size_t n, const WalkForward& scheme);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_WALK_FORWARD_H_
