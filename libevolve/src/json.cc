// The JSON codec of the value types (evolve/json.h), with RapidJSON kept
// private to the library.
//
// Each struct's fields are listed once, in Fields() below, by their members.
// The same list drives writing (ObjectWriter) and strict reading
// (ObjectReader), so key order, names and round trips cannot drift apart. The
// value rules of the config types (validation.cc) run on a struct as soon as
// its fields were read, so a nested config's problems carry its path.
#include "evolve/json.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "canonical_json.h"
#include "field_errors.h"
#include "json_document.h"
#include "validation_rules.h"

namespace evolve {
namespace {

using internal::FieldPath;
using internal::ItemPath;
using internal::Problems;
using rapidjson::SizeType;
using rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// ---------------------------------------------------------------------------
// The fields of every struct, for both directions.

enum Need { kOptional, kRequired };

// A member that must be present when read (and is written like any other).
// What is required is what identifies a record or its state (ids, status,
// timestamps); everything else may be omitted and then takes the struct's
// default. ToJson writes every field, so round trips are exact either way.
template <typename M>
M& Required(M& member) {
  return member;
}

// Members whose JSON form differs from their C++ type: a JSON object held as
// text; seed_features, where [] would be a mistake and null means "all";
// regime_configs in the POST /evolve form [{"regime_gmm": [1]}, {}].
// S is `std::string` when reading and `const std::string` when writing.
template <typename S>
struct ObjectText {
  S& text;
};
template <typename S>
struct SeedFeatures {
  S& list;
};
template <typename S>
struct RegimeConfigs {
  S& list;
};
template <typename S>
ObjectText<S> AsObject(S& text) {
  return {text};
}
template <typename S>
SeedFeatures<S> AsSeedFeatures(S& list) {
  return {list};
}
template <typename S>
RegimeConfigs<S> AsRegimeConfigs(S& list) {
  return {list};
}

// A field list is the text of its member expressions, e.g.
// "Required(m.id), m.split.holdout_fraction, AsObject(m.data_options)". A
// field's JSON name is its expression's last identifier ("id",
// "holdout_fraction", "data_options"); it is required when wrapped in
// Required(). The text is read at compile time.
struct FieldName {
  Need need = kOptional;
  std::string_view name;
};

constexpr bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// The end of the field that starts at `begin`: the next comma outside
// parentheses, or the end of the list.
constexpr size_t FieldEnd(std::string_view list, size_t begin) {
  int depth = 0;
  for (size_t i = begin; i < list.size(); ++i) {
    if (list[i] == '(') ++depth;
    if (list[i] == ')') --depth;
    if (list[i] == ',' && depth == 0) return i;
  }
  return list.size();
}

constexpr size_t CountFields(std::string_view list) {
  size_t count = 1;
  for (size_t end = FieldEnd(list, 0); end < list.size(); end = FieldEnd(list, end + 1)) ++count;
  return count;
}

constexpr FieldName ParseFieldName(std::string_view field) {
  constexpr std::string_view kRequiredCall = "Required(";
  field.remove_prefix(field.find_first_not_of(' '));
  const Need need = field.substr(0, kRequiredCall.size()) == kRequiredCall ? kRequired : kOptional;
  while (!field.empty() && !IsNameChar(field.back())) field.remove_suffix(1);  // ")", " "
  size_t start = field.size();
  while (start > 0 && IsNameChar(field[start - 1])) --start;
  return FieldName{need, field.substr(start)};
}

template <size_t N>
constexpr std::array<FieldName, N> ParseFieldNames(std::string_view list) {
  std::array<FieldName, N> names{};
  size_t begin = 0;
  for (FieldName& name : names) {
    const size_t end = FieldEnd(list, begin);
    name = ParseFieldName(list.substr(begin, end - begin));
    begin = end + 1;
  }
  return names;
}

// Calls v(need, name, member) for each member, in order.
template <typename V, size_t N, typename... Members>
void VisitFields(V& v, const std::array<FieldName, N>& names, Members&&... members) {
  static_assert(N == sizeof...(Members), "a field list's text and its members disagree");
  size_t i = 0;
  ((v(names[i].need, names[i].name, std::forward<Members>(members)), ++i), ...);
}

// Visits the fields given as member expressions (see FieldName), e.g.
//   EVOLVE_JSON_FIELDS(v, Required(m.id), m.host, AsObject(m.options));
// visits "id" (required), then "host" and "options".
#define EVOLVE_JSON_FIELDS(visitor, ...)                                                          \
  do {                                                                                            \
    static constexpr auto kFieldNames = ParseFieldNames<CountFields(#__VA_ARGS__)>(#__VA_ARGS__); \
    VisitFields(visitor, kFieldNames, __VA_ARGS__);                                               \
  } while (false)

// Selects the Fields() overload for M, const or not.
template <typename M, typename T>
using IfIs = std::enable_if_t<std::is_same_v<std::remove_const_t<M>, T>>;

template <typename V, typename M>
IfIs<M, DataSplit> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.holdout_fraction, m.holdout_start, m.selection_fraction);
}

// Specs stored before splits existed read as having none (DataSplit's default).
template <typename V, typename M>
IfIs<M, ModelSpec> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.symbol), m.algorithm, m.target_col, m.target_transform, m.timeframe,
                     m.features, AsObject(m.hyperparameters), AsObject(m.data_options), m.reference_symbols,
                     m.split, m.data_digest, m.parent_model_id);
}

// {} (both omitted) is "no filter", as in regime_configs.
template <typename V, typename M>
IfIs<M, RegimeFilter> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.column, m.allowed);
}

template <typename V, typename M>
IfIs<M, SimulationParams> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.model_id), Required(m.ticker), Required(m.threshold), m.regime,
                     m.initial_cash, m.fee_bps, m.slippage_bps, m.use_bot, m.enable_z_score_check,
                     m.volatility_normalization, m.span, m.threshold_quantile);
}

template <typename V, typename M>
IfIs<M, ReturnSums> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.n, m.sum, m.sum2, m.sum3, m.sum4);
}

// All optional: results also come from remote workers and external
// simulators, and a metric they do not report is simply absent.
template <typename V, typename M>
IfIs<M, SimulationResult> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.sqn, m.sqn_100, m.profit_factor, m.trade_count, m.total_trades,
                     m.weekly_consistency, m.win_rate, m.expectancy, m.gross_profit, m.gross_loss,
                     m.total_return_pct, m.benchmark_return_pct, m.max_drawdown_pct, m.sharpe, m.exposure,
                     m.trades_per_week, m.weeks_traded, m.start_date, m.end_date, m.span, m.threshold,
                     m.excess_return_pct, m.excess_sqn, m.trade_blocks);
}

template <typename V, typename M>
IfIs<M, PruningConfig> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.strategy, m.fraction, m.min_importance);
}

// The POST /evolve body; also the form of Run.config. The split's fields
// are at the top level.
template <typename V, typename M>
IfIs<M, EvolutionConfig> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.symbol), m.algorithm, m.target_col, m.target_transform, m.max_generations,
                     m.timeframe, AsObject(m.data_options), AsSeedFeatures(m.seed_features), m.seed_model_id,
                     m.reference_symbols, m.thresholds, m.threshold_quantiles,
                     AsRegimeConfigs(m.regime_configs), m.sqn_min, m.sqn_max, m.profit_factor_min,
                     m.profit_factor_max, m.trade_count_min, m.trade_count_max, m.weekly_consistency_max,
                     AsObject(m.hyperparameters), m.pruning, m.initial_cash, m.fee_bps, m.slippage_bps,
                     m.split.holdout_fraction, m.split.holdout_start, m.split.selection_fraction,
                     m.holdout_sqn_min, m.holdout_excess_return_min, m.holdout_excess_sqn_min,
                     m.holdout_looks, m.excess_return_min, m.max_drawdown_max, m.dsr_min, m.pbo_max,
                     m.bars_source, m.dropped_rows);
}

template <typename V, typename M>
IfIs<M, SelectionStats> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.trials, m.prior_trials, m.prior_looks, m.research_end, m.sharpe,
                     m.expected_max_sharpe, m.sharpe_variance, m.dsr, m.pbo, m.pbo_candidates);
}

template <typename V, typename M>
IfIs<M, HoldoutCheck> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, m.candidate_job_id, m.job_id, m.look, m.decided, m.passed, m.verdict, m.result);
}

template <typename V, typename M>
IfIs<M, Run> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.id), Required(m.config), Required(m.status), m.current_generation,
                     m.seed_model_id, m.best_sqn, m.best_model_id, m.promoted, m.promotion_id, m.stop_reason,
                     m.error, Required(m.created_at), Required(m.updated_at));
}

template <typename V, typename M>
IfIs<M, Generation> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.run_id), Required(m.generation), Required(m.state), m.model_id,
                     m.parent_model_id, m.fingerprint, m.reused_model, m.features, m.pruned_features,
                     m.pruning_reason, m.parent_sqn, m.batch_id, m.jobs_total, m.jobs_completed,
                     m.jobs_failed, m.jobs_passing, m.best_sqn, m.best_profit_factor, m.best_trade_count,
                     m.best_job_id, m.verdict, m.jobs_too_few_trades, m.selection, m.holdout,
                     Required(m.updated_at));
}

// parent_model_id is empty for the seed.
template <typename V, typename M>
IfIs<M, LineageEdge> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.id), Required(m.run_id), m.parent_model_id, Required(m.child_model_id),
                     Required(m.generation), m.parent_sqn, m.pruned_features, m.remaining_features,
                     m.pruning_reason, Required(m.created_at));
}

template <typename V, typename M>
IfIs<M, Job> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.id), Required(m.batch_id), Required(m.run_id), Required(m.model_id),
                     Required(m.generation), m.priority, Required(m.status), Required(m.params), m.result,
                     m.error, m.worker_id, m.attempts, m.max_attempts, m.lease_until, Required(m.created_at),
                     Required(m.updated_at), m.kind, m.task, m.output);
}

// Job::task's form; part_outputs only for kAssemble.
template <typename V, typename M>
IfIs<M, TrainingTask> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.spec), m.parts, m.inputs, m.part, m.part_outputs);
}

template <typename V, typename M>
IfIs<M, Promotion> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.id), Required(m.model_id), Required(m.run_id), Required(m.generation),
                     Required(m.job_id), Required(m.sqn), m.profit_factor, m.trade_count,
                     m.weekly_consistency, Required(m.ticker), m.regime, Required(m.threshold),
                     Required(m.spec), Required(m.result), m.selection, m.holdout, Required(m.created_at));
}

template <typename V, typename M>
IfIs<M, FingerprintRecord> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.fingerprint), Required(m.model_id), Required(m.spec),
                     Required(m.created_at));
}

template <typename V, typename M>
IfIs<M, WorkerInfo> Fields(V& v, M& m) {
  EVOLVE_JSON_FIELDS(v, Required(m.id), m.host, m.pid, m.status, Required(m.started_at),
                     Required(m.last_heartbeat), m.current_jobs, m.jobs_completed, m.jobs_failed);
}

#undef EVOLVE_JSON_FIELDS

// ---------------------------------------------------------------------------
// Value rules: the config types have theirs (validation_rules.h), the
// others none.

using internal::CheckRules;
template <typename T>
void CheckRules(Problems& /*problems*/, const std::string& /*path*/, const T& /*value*/) {}

// ---------------------------------------------------------------------------
// Reading. Each Read() reports its problems under `path` and returns whether
// *out was set; on failure *out keeps its previous value.

bool Read(Problems& p, const Value& v, const std::string& path, std::string* out);
bool Read(Problems& p, const Value& v, const std::string& path, bool* out);
bool Read(Problems& p, const Value& v, const std::string& path, double* out);
bool Read(Problems& p, const Value& v, const std::string& path, int64_t* out);
bool Read(Problems& p, const Value& v, const std::string& path, int* out);
bool Read(Problems& p, const Value& v, const std::string& path, TimePoint* out);
bool Read(Problems& p, const Value& v, const std::string& path, RunStatus* out);
bool Read(Problems& p, const Value& v, const std::string& path, JobStatus* out);
bool Read(Problems& p, const Value& v, const std::string& path, GenerationState* out);
bool Read(Problems& p, const Value& v, const std::string& path, JobKind* out);
bool Read(Problems& p, const Value& v, const std::string& path, ObjectText<std::string>* out);
bool Read(Problems& p, const Value& v, const std::string& path,
          SeedFeatures<std::vector<std::string>>* out);
bool Read(Problems& p, const Value& v, const std::string& path,
          RegimeConfigs<std::vector<RegimeFilter>>* out);
template <typename T>
bool Read(Problems& p, const Value& v, const std::string& path, std::vector<T>* out);
template <typename T>
bool Read(Problems& p, const Value& v, const std::string& path, std::optional<T>* out);
template <typename T>  // a struct with Fields()
bool Read(Problems& p, const Value& v, const std::string& path, T* out);

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

// The common case of a field, read without building its path: a value of
// the field's type that no rule refuses. Sets *out and returns true, or
// returns false for anything else (a wrong type, a value out of range, a
// type with rules), which then goes through Read() to be named. Read() of
// these types starts with ReadPlain, so both accept the same values.
template <typename T>
bool ReadPlain(const Value& /*v*/, T* /*out*/) {
  return false;
}
bool ReadPlain(const Value& v, std::string* out) {
  if (!v.IsString()) return false;
  out->assign(v.GetString(), v.GetStringLength());
  return true;
}
bool ReadPlain(const Value& v, bool* out) {
  if (!v.IsBool()) return false;
  *out = v.GetBool();
  return true;
}
bool ReadPlain(const Value& v, double* out) {
  if (!v.IsNumber() || !std::isfinite(v.GetDouble())) return false;
  *out = v.GetDouble();
  return true;
}
bool ReadPlain(const Value& v, int64_t* out) {
  if (!v.IsInt64()) return false;
  *out = v.GetInt64();
  return true;
}
bool ReadPlain(const Value& v, int* out) {
  if (!v.IsInt()) return false;
  *out = v.GetInt();
  return true;
}
template <typename T>
bool ReadPlain(const Value& v, std::optional<T>* out) {
  if (v.IsNull()) {
    out->reset();
    return true;
  }
  T value{};
  if (!ReadPlain(v, &value)) return false;
  *out = std::move(value);
  return true;
}

// The Fields() visitor that reads one JSON object into a struct. A field's
// path ("config.pruning.strategy") is built only when it is needed: for a
// problem, or to read an object or a list inside it.
class ObjectReader {
 public:
  ObjectReader(Problems& problems, const Value& object, const std::string& path)
      : problems_(problems), object_(object), path_(path) {}

  template <typename T>
  void operator()(Need need, std::string_view name, T&& field) {
    known_.push_back(name);
    const auto it = object_.FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
    if (it == object_.MemberEnd()) {
      if (need == kRequired) problems_.Fail(FieldPath(path_, name), "required");
      return;
    }
    // null is "not given" (the default), except where null is a value.
    if (it->value.IsNull() && !IsOptional<std::decay_t<T>>::value) {
      if (need == kRequired) problems_.Fail(FieldPath(path_, name), "must not be null");
      return;
    }
    if (ReadPlain(it->value, &field)) return;
    Read(problems_, it->value, FieldPath(path_, name), &field);
  }

  // Reports the members that no field claimed, and names given twice (JSON
  // leaves their meaning open; RapidJSON would silently take the first).
  void Finish() {
    std::vector<std::string_view> seen;  // into the document, which outlives this
    seen.reserve(object_.MemberCount());
    for (const auto& m : object_.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        problems_.Fail(FieldPath(path_, name), "duplicate field");
      } else if (std::none_of(known_.begin(), known_.end(), [&](std::string_view k) { return name == k; })) {
        problems_.Fail(FieldPath(path_, name), "unknown field");
      }
      seen.push_back(name);
    }
  }

 private:
  Problems& problems_;
  const Value& object_;
  const std::string& path_;
  std::vector<std::string_view> known_;  // the Fields() names, in their lists' text
};

bool Read(Problems& p, const Value& v, const std::string& path, std::string* out) {
  return ReadPlain(v, out) || p.Fail(path, "expected a string");
}

bool Read(Problems& p, const Value& v, const std::string& path, bool* out) {
  return ReadPlain(v, out) || p.Fail(path, "expected a boolean");
}

bool Read(Problems& p, const Value& v, const std::string& path, double* out) {
  if (ReadPlain(v, out)) return true;
  // Not finite: only reachable for literals at the edge of the range, e.g. 1.8e308.
  return p.Fail(path, v.IsNumber() ? "must be a finite number" : "expected a number");
}

bool Read(Problems& p, const Value& v, const std::string& path, int64_t* out) {
  if (ReadPlain(v, out)) return true;
  if (!v.IsNumber()) return p.Fail(path, "expected an integer");
  if (v.IsUint64()) return p.Fail(path, "out of range");
  // 2.0 and 1e3 are integers written as doubles; 2.5 is not.
  const double d = v.GetDouble();
  if (std::trunc(d) != d) return p.Fail(path, "must be an integer");
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
    return p.Fail(path, "out of range");
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool Read(Problems& p, const Value& v, const std::string& path, int* out) {
  int64_t wide = 0;
  if (!Read(p, v, path, &wide)) return false;
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    return p.Fail(path, "out of range");
  }
  *out = static_cast<int>(wide);
  return true;
}

bool Read(Problems& p, const Value& v, const std::string& path, TimePoint* out) {
  std::string text;
  if (!Read(p, v, path, &text)) return false;
  if (!ParseTime(text, out)) {
    return p.Fail(path, "expected an RFC 3339 UTC time like 2026-01-01T00:00:00.000000Z");
  }
  return true;
}

template <typename E>
bool ReadName(Problems& p, const Value& v, const std::string& path, E* out,
              bool (*parse)(const std::string&, E*), const char* (*name)(E), int count) {
  std::string text;
  if (!Read(p, v, path, &text)) return false;
  if (parse(text, out)) return true;
  std::string choices;
  for (int i = 0; i < count; ++i) choices += std::string(i > 0 ? ", " : "") + name(E(i));
  return p.Fail(path, "must be one of " + choices);
}

bool Read(Problems& p, const Value& v, const std::string& path, RunStatus* out) {
  return ReadName(p, v, path, out, ParseRunStatus, RunStatusName,
                  static_cast<int>(RunStatus::kFailed) + 1);
}
bool Read(Problems& p, const Value& v, const std::string& path, JobStatus* out) {
  return ReadName(p, v, path, out, ParseJobStatus, JobStatusName,
                  static_cast<int>(JobStatus::kCancelled) + 1);
}
bool Read(Problems& p, const Value& v, const std::string& path, JobKind* out) {
  return ReadName(p, v, path, out, ParseJobKind, JobKindName, static_cast<int>(JobKind::kAssemble) + 1);
}
bool Read(Problems& p, const Value& v, const std::string& path, GenerationState* out) {
  return ReadName(p, v, path, out, ParseGenerationState, GenerationStateName,
                  static_cast<int>(GenerationState::kEvaluated) + 1);
}

// An object, or a string holding one (the seed sends data_options that way);
// kept as canonical text.
bool Read(Problems& p, const Value& v, const std::string& path, ObjectText<std::string>* out) {
  constexpr const char kExpected[] = "expected a JSON object (or a string holding one)";
  rapidjson::Document inner;
  const Value* object = &v;
  if (v.IsString()) {
    if (auto problem = internal::ParseDocument({v.GetString(), v.GetStringLength()}, &inner)) {
      return p.Fail(problem->field.empty() ? path : FieldPath(path, problem->field), problem->message);
    }
    object = &inner;
  }
  if (!object->IsObject()) return p.Fail(path, kExpected);
  std::string text;
  std::string error;
  if (!internal::AppendCanonical(*object, &text, &error)) return p.Fail(path, error);
  out->text = std::move(text);
  return true;
}

bool Read(Problems& p, const Value& v, const std::string& path,
          SeedFeatures<std::vector<std::string>>* out) {
  std::vector<std::string> list;
  if (!Read(p, v, path, &list)) return false;
  // An empty list here is almost surely a bug in the caller, and would
  // silently mean the opposite ("every feature").
  if (list.empty()) return p.Fail(path, "must not be empty (omit it to use every feature)");
  out->list = std::move(list);
  return true;
}

bool Read(Problems& p, const Value& v, const std::string& path,
          RegimeConfigs<std::vector<RegimeFilter>>* out) {
  if (!v.IsArray()) return p.Fail(path, "expected an array");
  std::vector<RegimeFilter> filters(v.Size());
  bool ok = true;
  for (SizeType i = 0; i < v.Size(); ++i) {
    const std::string item_path = ItemPath(path, i);
    const Value& item = v[i];
    if (!item.IsObject()) {
      ok = p.Fail(item_path, "expected an object");
    } else if (item.MemberCount() > 1) {
      ok = p.Fail(item_path, "one regime column per config");
    } else if (item.MemberCount() == 1) {
      const auto& member = *item.MemberBegin();
      filters[i].column.assign(member.name.GetString(), member.name.GetStringLength());
      ok = Read(p, member.value, FieldPath(item_path, filters[i].column), &filters[i].allowed) && ok;
    }
  }
  if (ok) out->list = std::move(filters);
  return ok;
}

template <typename T>
bool Read(Problems& p, const Value& v, const std::string& path, std::vector<T>* out) {
  if (!v.IsArray()) return p.Fail(path, "expected an array");
  std::vector<T> items(v.Size());
  bool ok = true;
  for (SizeType i = 0; i < v.Size(); ++i) ok = Read(p, v[i], ItemPath(path, i), &items[i]) && ok;
  if (ok) *out = std::move(items);
  return ok;
}

template <typename T>
bool Read(Problems& p, const Value& v, const std::string& path, std::optional<T>* out) {
  if (v.IsNull()) {
    out->reset();
    return true;
  }
  T value{};
  if (!Read(p, v, path, &value)) return false;
  *out = std::move(value);
  return true;
}

template <typename T>
bool Read(Problems& p, const Value& v, const std::string& path, T* out) {
  if (!v.IsObject()) return p.Fail(path, "expected an object");
  const size_t before = p.size();
  ObjectReader reader(p, v, path);
  Fields(reader, *out);
  reader.Finish();
  CheckRules(p, path, *out);
  return p.size() == before;
}

template <typename T>
Result<T> FromJson(std::string_view json, std::vector<FieldError>* errors, T value = T()) {
  Problems problems;
  // The document's first 4 KiB and the parser's first 2 KiB live here: a
  // small document (a job's params, a result) takes no block from the heap.
  char values[4096];
  char stack[2048];
  rapidjson::MemoryPoolAllocator<> value_allocator(values, sizeof values);
  rapidjson::MemoryPoolAllocator<> stack_allocator(stack, sizeof stack);
  rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>, rapidjson::MemoryPoolAllocator<>>
      doc(&value_allocator, 1024, &stack_allocator);
  if (auto problem = internal::ParseDocument(json, &doc)) {
    problems.Fail(problem->field, problem->message);
  } else {
    Read(problems, doc, "", &value);
  }
  Status status = problems.ToStatus(errors);
  if (!status.ok()) return status;
  return value;
}

// ---------------------------------------------------------------------------
// Writing.

void Write(JsonWriter& w, const std::string& s);
void Write(JsonWriter& w, bool b);
void Write(JsonWriter& w, double d);
void Write(JsonWriter& w, int64_t i);
void Write(JsonWriter& w, int i);
void Write(JsonWriter& w, TimePoint t);
void Write(JsonWriter& w, RunStatus s);
void Write(JsonWriter& w, JobStatus s);
void Write(JsonWriter& w, GenerationState s);
void Write(JsonWriter& w, JobKind k);
void Write(JsonWriter& w, const std::optional<double>& d);
void Write(JsonWriter& w, const ObjectText<const std::string>& f);
void Write(JsonWriter& w, const SeedFeatures<const std::vector<std::string>>& f);
void Write(JsonWriter& w, const RegimeConfigs<const std::vector<RegimeFilter>>& f);
template <typename T>
void Write(JsonWriter& w, const std::vector<T>& list);
template <typename T>
void Write(JsonWriter& w, const std::optional<T>& value);
template <typename T>  // a struct with Fields()
void Write(JsonWriter& w, const T& value);

// The Fields() visitor that writes a struct as one JSON object.
class ObjectWriter {
 public:
  explicit ObjectWriter(JsonWriter& w) : w_(w) {}
  template <typename T>
  void operator()(Need /*need*/, std::string_view name, const T& field) {
    w_.Key(name.data(), static_cast<SizeType>(name.size()));
    Write(w_, field);
  }

 private:
  JsonWriter& w_;
};

void Write(JsonWriter& w, const std::string& s) {
  w.String(s.data(), static_cast<SizeType>(s.size()));
}
void Write(JsonWriter& w, bool b) { w.Bool(b); }
// Parsers reject non-finite numbers and engines report undefined metrics as
// nullopt, so a non-finite plain double is a bug upstream. JSON cannot hold
// it; write 0 rather than an invalid document.
void Write(JsonWriter& w, double d) {
  assert(std::isfinite(d) && "non-finite double in a JSON field");
  w.Double(std::isfinite(d) ? d : 0.0);
}
void Write(JsonWriter& w, int64_t i) { w.Int64(i); }
void Write(JsonWriter& w, int i) { w.Int(i); }
void Write(JsonWriter& w, TimePoint t) { Write(w, FormatTime(t)); }
void Write(JsonWriter& w, RunStatus s) { w.String(RunStatusName(s)); }
void Write(JsonWriter& w, JobStatus s) { w.String(JobStatusName(s)); }
void Write(JsonWriter& w, GenerationState s) { w.String(GenerationStateName(s)); }
void Write(JsonWriter& w, JobKind k) { w.String(JobKindName(k)); }
// An optional metric that holds NaN or Infinity is as undefined as an unset one.
void Write(JsonWriter& w, const std::optional<double>& d) {
  if (d && std::isfinite(*d)) {
    w.Double(*d);
  } else {
    w.Null();
  }
}

void Write(JsonWriter& w, const ObjectText<const std::string>& f) {
  Result<std::string> canonical = CanonicalJsonObject(f.text);
  if (canonical.ok()) {
    w.RawValue(canonical->data(), canonical->size(), rapidjson::kObjectType);
  } else {
    // Not an object: keep the text as a string, so that reading it back fails
    // on this field instead of silently losing it.
    Write(w, f.text);
  }
}

void Write(JsonWriter& w, const SeedFeatures<const std::vector<std::string>>& f) {
  if (f.list.empty()) {
    w.Null();  // "every feature"; [] would be rejected on the way back
  } else {
    Write(w, f.list);
  }
}

void Write(JsonWriter& w, const RegimeConfigs<const std::vector<RegimeFilter>>& f) {
  w.StartArray();
  for (const RegimeFilter& filter : f.list) {
    w.StartObject();
    if (!filter.empty()) {
      w.Key(filter.column.data(), static_cast<SizeType>(filter.column.size()));
      Write(w, filter.allowed);
    }
    w.EndObject();
  }
  w.EndArray();
}

template <typename T>
void Write(JsonWriter& w, const std::vector<T>& list) {
  w.StartArray();
  for (const T& item : list) Write(w, item);
  w.EndArray();
}

template <typename T>
void Write(JsonWriter& w, const std::optional<T>& value) {
  if (value) {
    Write(w, *value);
  } else {
    w.Null();
  }
}

template <typename T>
void Write(JsonWriter& w, const T& value) {
  w.StartObject();
  ObjectWriter writer(w);
  Fields(writer, value);
  w.EndObject();
}

template <typename T>
std::string WriteJson(const T& value) {
  // Room for a job's params or result at once: no regrowing while writing.
  rapidjson::StringBuffer buffer(nullptr, 1024);
  JsonWriter w(buffer);
  Write(w, value);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

std::string ToJson(const ModelSpec& v) { return WriteJson(v); }
std::string ToJson(const RegimeFilter& v) { return WriteJson(v); }
std::string ToJson(const SimulationParams& v) { return WriteJson(v); }
std::string ToJson(const SimulationResult& v) { return WriteJson(v); }
std::string ToJson(const PruningConfig& v) { return WriteJson(v); }
std::string ToJson(const EvolutionConfig& v) { return WriteJson(v); }
std::string ToJson(const Run& v) { return WriteJson(v); }
std::string ToJson(const Generation& v) { return WriteJson(v); }
std::string ToJson(const SelectionStats& v) { return WriteJson(v); }
std::string ToJson(const HoldoutCheck& v) { return WriteJson(v); }
std::string ToJson(const LineageEdge& v) { return WriteJson(v); }
std::string ToJson(const Job& v) { return WriteJson(v); }
std::string ToJson(const TrainingTask& v) { return WriteJson(v); }
std::string ToJson(const Promotion& v) { return WriteJson(v); }
std::string ToJson(const FingerprintRecord& v) { return WriteJson(v); }
std::string ToJson(const WorkerInfo& v) { return WriteJson(v); }
std::string ToJson(const std::vector<std::string>& v) { return WriteJson(v); }

Result<ModelSpec> ModelSpecFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<ModelSpec>(json, errors);
}
Result<RegimeFilter> RegimeFilterFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<RegimeFilter>(json, errors);
}
Result<SimulationParams> SimulationParamsFromJson(std::string_view json,
                                                  std::vector<FieldError>* errors) {
  return FromJson<SimulationParams>(json, errors);
}
Result<SimulationResult> SimulationResultFromJson(std::string_view json,
                                                  std::vector<FieldError>* errors) {
  return FromJson<SimulationResult>(json, errors);
}
Result<PruningConfig> PruningConfigFromJson(std::string_view json,
                                            std::vector<FieldError>* errors) {
  return FromJson<PruningConfig>(json, errors);
}
Result<EvolutionConfig> EvolutionConfigFromJson(std::string_view json,
                                                std::vector<FieldError>* errors,
                                                int default_max_generations) {
  EvolutionConfig defaults;
  defaults.max_generations = default_max_generations;
  return FromJson(json, errors, std::move(defaults));
}
Result<Run> RunFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<Run>(json, errors);
}
Result<Generation> GenerationFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<Generation>(json, errors);
}
Result<LineageEdge> LineageEdgeFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<LineageEdge>(json, errors);
}
Result<Job> JobFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<Job>(json, errors);
}
Result<TrainingTask> TrainingTaskFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<TrainingTask>(json, errors);
}
Result<Promotion> PromotionFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<Promotion>(json, errors);
}
Result<FingerprintRecord> FingerprintRecordFromJson(std::string_view json,
                                                    std::vector<FieldError>* errors) {
  return FromJson<FingerprintRecord>(json, errors);
}
Result<WorkerInfo> WorkerInfoFromJson(std::string_view json, std::vector<FieldError>* errors) {
  return FromJson<WorkerInfo>(json, errors);
}
Result<std::vector<std::string>> StringListFromJson(std::string_view json,
                                                   std::vector<FieldError>* errors) {
  return FromJson<std::vector<std::string>>(json, errors);
}

}  // namespace evolve
