// Canonical JSON of a parsed RapidJSON value, for the codec, which keeps
// JSON-valued fields (hyperparameters, data_options) as canonical text. The
// public side is evolve/canonical_json.h. Not installed.
#ifndef EVOLVE_SRC_CANONICAL_JSON_H_
#define EVOLVE_SRC_CANONICAL_JSON_H_

#include <string>

#include <rapidjson/document.h>

#include "evolve/canonical_json.h"

namespace evolve::internal {

// Appends `v` in canonical form (see CanonicalJsonObject). False, with *error
// set, for what has none (a duplicate key, whose meaning JSON leaves open; a
// non-finite number) and for nesting too deep to recurse into safely.
bool AppendCanonical(const rapidjson::Value& v, std::string* out, std::string* error);

}  // namespace evolve::internal

#endif  // EVOLVE_SRC_CANONICAL_JSON_H_
