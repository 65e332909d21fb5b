// Strict parsing of JSON text into a RapidJSON document, shared by the codec
// (json.cc) and canonical JSON (canonical_json.cc). Not installed.
#ifndef EVOLVE_SRC_JSON_DOCUMENT_H_
#define EVOLVE_SRC_JSON_DOCUMENT_H_

#include <cstddef>
#include <optional>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/error/error.h>

#include "evolve/json.h"  // JsonDepthProblem
#include "evolve/validation.h"

namespace evolve::internal {

// Full precision so that a double written by RapidJSON reads back bit for bit;
// invalid UTF-8 is rejected; iterative, so that a request body of a million
// '[' cannot overflow the stack. NaN and Infinity literals stay rejected (the
// default: kParseNanAndInfFlag is not set).
inline constexpr unsigned kJsonParseFlags = rapidjson::kParseFullPrecisionFlag |
                                            rapidjson::kParseValidateEncodingFlag |
                                            rapidjson::kParseIterativeFlag;

// The problem of `json`, which RapidJSON refused with `code` at `offset`.
// RapidJSON stops the whole document at a number too large for a double
// (1e999); a second pass finds which field held it, so the caller hears
// "thresholds[1]: must be a finite number" rather than a bare offset.
FieldError ParseProblem(std::string_view json, rapidjson::ParseErrorCode code, std::size_t offset);

// Parses `json` into *doc; on failure returns the one problem the parser met.
template <typename Document>
std::optional<FieldError> ParseDocument(std::string_view json, Document* doc) {
  if (auto problem = JsonDepthProblem(json)) return problem;
  doc->template Parse<kJsonParseFlags>(json.data(), json.size());
  if (!doc->HasParseError()) return std::nullopt;
  return ParseProblem(json, doc->GetParseError(), doc->GetErrorOffset());
}

}  // namespace evolve::internal

#endif  // EVOLVE_SRC_JSON_DOCUMENT_H_
