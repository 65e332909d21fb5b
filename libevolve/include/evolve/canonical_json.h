// Canonical JSON text: one spelling per meaning, for fingerprints and stored
// configs (JSON-valued fields such as `hyperparameters` are JSON text in a
// std::string).
//
// Thread-safety: all functions are pure.
#ifndef EVOLVE_CANONICAL_JSON_H_
#define EVOLVE_CANONICAL_JSON_H_

#include <string>
#include <string_view>

#include "evolve/status.h"

namespace evolve {

// Parses `json`, which must be a JSON object, and writes it back with keys
// sorted, nulls dropped and numbers normalised to 10 significant digits
// (integral values without a fraction), recursively. This is the form used in
// fingerprints and stored configs. kInvalidArgument if not an object.
Result<std::string> CanonicalJsonObject(std::string_view json);

// `s` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view s);

}  // namespace evolve

#endif  // EVOLVE_CANONICAL_JSON_H_
