// Reading a model's "hyperparameters" JSON object (ModelSpec::
// hyperparameters, docs/models.md): the parsing, the walk over its keys and
// the readers and messages the built-in algorithms share
// (ForestParamsFromJson, ElasticNetParamsFromJson). Every error is
// kInvalidArgument and starts "hyperparameters", naming the key:
//   "hyperparameters: invalid JSON: <parser's message>"
//   "hyperparameters: must be a JSON object"
//   "hyperparameters: unknown key \"<key>\" for <algorithm>"
//   "hyperparameters.<key>: <problem>"
//
// Internal to the engines; it includes RapidJSON, which only the engines'
// own sources see. Thread-safety: pure functions.
#ifndef EVOLVE_ENGINES_SRC_HYPERPARAMETERS_H_
#define EVOLVE_ENGINES_SRC_HYPERPARAMETERS_H_

#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "evolve/status.h"

namespace evolve::engines {

// Parses `json_object` and calls read(key, value) for each of its keys, in
// order, until one returns an error, which it returns.
Status ForEachHyperparameter(
    std::string_view json_object,
    const std::function<Status(const std::string& key, const rapidjson::Value& value)>& read);

// Whether `json_object` is a JSON object with `key` (false for anything
// that does not parse as an object).
bool HasHyperparameter(std::string_view json_object, const char* key);

// "hyperparameters.<key>: <problem>".
Status HyperparameterError(const std::string& key, const std::string& problem);

// "hyperparameters: unknown key \"<key>\" for <algorithm>".
Status UnknownHyperparameter(const std::string& key, const std::string& algorithm);

// An integer in [lo, hi] (a whole number written as 3 or 3.0).
// Errors: "must be an integer", "must be in [lo, hi]".
Status ReadIntHyperparameter(const rapidjson::Value& v, const std::string& key, int64_t lo, int64_t hi,
                             int* out);

// A number in (0, 1]. Errors: "must be a number in (0, 1]".
Status ReadFractionHyperparameter(const rapidjson::Value& v, const std::string& key, double* out);

// Any JSON number. Errors: "must be <what>" (e.g. what = "a number").
Status ReadNumberHyperparameter(const rapidjson::Value& v, const std::string& key, const char* what,
                                double* out);

}  // namespace evolve::engines

#endif  // EVOLVE_ENGINES_SRC_HYPERPARAMETERS_H_
