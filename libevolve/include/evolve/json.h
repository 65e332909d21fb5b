// Strict JSON for every type in evolve/types.h.
//
// ToJson writes compact JSON with a stable key order; optional metrics that
// are unset are written as null, never NaN or Infinity. *FromJson parses
// strictly: every problem is reported with the JSON path of the field
// ("thresholds[2]", "regime_configs[0].regime_gmm"), unknown fields are
// errors, and nothing half-valid is ever returned. Parsing collects every
// problem it finds, so a form can show each next to its field.
//
// Round trip: XFromJson(ToJson(x)) == x for every valid x (timestamps at
// microsecond precision).
//
// The value rules applied while reading are evolve/validation.h's; JSON-valued
// fields are kept as canonical text (evolve/canonical_json.h). Both headers
// are included here.
//
// Thread-safety: all functions are pure.
#ifndef EVOLVE_JSON_H_
#define EVOLVE_JSON_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evolve/canonical_json.h"
#include "evolve/status.h"
#include "evolve/types.h"
#include "evolve/validation.h"

namespace evolve {

std::string ToJson(const ModelSpec& v);
std::string ToJson(const RegimeFilter& v);
std::string ToJson(const SimulationParams& v);
std::string ToJson(const SimulationResult& v);
std::string ToJson(const PruningConfig& v);
std::string ToJson(const EvolutionConfig& v);
std::string ToJson(const Run& v);
std::string ToJson(const Generation& v);
std::string ToJson(const SelectionStats& v);
std::string ToJson(const HoldoutCheck& v);
std::string ToJson(const LineageEdge& v);
std::string ToJson(const Job& v);
std::string ToJson(const TrainingTask& v);
std::string ToJson(const Promotion& v);
std::string ToJson(const FingerprintRecord& v);
std::string ToJson(const WorkerInfo& v);
// A JSON array of strings, e.g. a worker's current_jobs in a store column.
std::string ToJson(const std::vector<std::string>& v);

// Each returns kInvalidArgument naming every bad field, e.g.
// "sqn_min: must be <= sqn_max (6 > 5); thresholds: must not be empty".
// When `errors` is given, the individual problems are appended to it.
Result<ModelSpec> ModelSpecFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<RegimeFilter> RegimeFilterFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<SimulationParams> SimulationParamsFromJson(std::string_view json,
                                                  std::vector<FieldError>* errors = nullptr);
Result<SimulationResult> SimulationResultFromJson(std::string_view json,
                                                  std::vector<FieldError>* errors = nullptr);
Result<PruningConfig> PruningConfigFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
// The POST /evolve body. Missing fields take the defaults of EvolutionConfig
// (max_generations defaults to `default_max_generations`, i.e.
// DEFAULT_MAX_GENERATIONS in the services); `symbol` is required.
Result<EvolutionConfig> EvolutionConfigFromJson(
    std::string_view json, std::vector<FieldError>* errors = nullptr,
    int default_max_generations = EvolutionConfig{}.max_generations);
Result<Run> RunFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<Generation> GenerationFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<LineageEdge> LineageEdgeFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<Job> JobFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<TrainingTask> TrainingTaskFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<Promotion> PromotionFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<FingerprintRecord> FingerprintRecordFromJson(std::string_view json,
                                                    std::vector<FieldError>* errors = nullptr);
Result<WorkerInfo> WorkerInfoFromJson(std::string_view json, std::vector<FieldError>* errors = nullptr);
Result<std::vector<std::string>> StringListFromJson(std::string_view json,
                                                    std::vector<FieldError>* errors = nullptr);

// How deeply arrays and objects may nest in any JSON the library reads,
// request bodies included. Parsing is iterative, but reading a document
// back, canonicalising and serialising it walk it recursively: a document
// nested 100,000 deep would overflow the stack there, so it is refused
// before it is parsed. The library's types nest a few levels.
inline constexpr int kMaxJsonDepth = 64;

// A problem (field "") when `json` opens more than kMaxJsonDepth arrays and
// objects at once: "the JSON nests deeper than 64 levels (at offset N)";
// nullopt otherwise. Exact for valid JSON (brackets in strings do not
// count); text that is not JSON is left to the parser.
std::optional<FieldError> JsonDepthProblem(std::string_view json);

}  // namespace evolve

#endif  // EVOLVE_JSON_H_
