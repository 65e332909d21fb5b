// JSON for the value types, with RapidJSON kept private to this file.
//
// Each struct's fields are listed once, in Fields() below, as (need, name,
// member) triples. The same list drives writing (ObjectWriter) and strict
// reading (ObjectReader), so key order, names and round trips cannot drift
// apart. Value rules (ranges, min <= max, the grid size) run on the struct
// after its fields were read, in Check(); ValidateEvolutionConfig runs the
// very same Check() on a struct built in code.
#include "evolve/json.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace evolve {
namespace {

using rapidjson::SizeType;
using rapidjson::Value;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Full precision so that a double written by RapidJSON reads back bit for bit;
// invalid UTF-8 is rejected; iterative, so that a request body of a million
// '[' cannot overflow the stack. NaN and Infinity literals stay rejected (the
// default: kParseNanAndInfFlag is not set).
constexpr unsigned kParseFlags = rapidjson::kParseFullPrecisionFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseIterativeFlag;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kMaxGridAxis = 100;   // thresholds, regime_configs
constexpr size_t kMaxGridJobs = 1000;  // thresholds x regime_configs
constexpr size_t kMaxSymbolLength = 16;
constexpr int kMaxCanonicalDepth = 64;  // AppendCanonical recurses

// ---------------------------------------------------------------------------
// Paths and number text.

std::string Join(const std::string& path, const std::string& name) {
  return path.empty() ? name : path + "." + name;
}
std::string At(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

// Shortest text that reads back as the same double ("6", "0.0003"); for
// messages, so that "(6 > 5)" shows what the caller sent.
std::string NumberText(double d) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, d).ptr);
}
std::string NumberText(int64_t i) { return std::to_string(i); }

// ---------------------------------------------------------------------------
// Canonical objects (fingerprints, stored configs).

// 1, 1.0 and 1.00000000001 must agree: integral doubles are written as
// integers, others with 10 significant digits, and a value that those digits
// make integral is written as an integer too. to_chars/from_chars, not
// printf, so that the process locale cannot change a fingerprint.
void AppendCanonicalDouble(double d, std::string* out) {
  constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
  constexpr double kInt64Limit = 9.2e18;
  if (std::trunc(d) == d && std::fabs(d) < kExactIntegers) {
    *out += std::to_string(static_cast<int64_t>(d));  // also turns -0 into 0
    return;
  }
  char buf[64];
  char* end = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, 10).ptr;
  double rounded = d;
  std::from_chars(buf, end, rounded);
  if (std::trunc(rounded) == rounded && std::fabs(rounded) < kInt64Limit) {
    *out += std::to_string(static_cast<int64_t>(rounded));
  } else {
    out->append(buf, end);  // e.g. "0.1", "1.234567891e-07", "1e+20"
  }
}

// Appends `v` in canonical form. False, with *error set, for what has none
// (a duplicate key, whose meaning JSON leaves open; a non-finite number) and
// for nesting too deep to recurse into safely.
bool AppendCanonical(const Value& v, std::string* out, std::string* error, int depth = 0) {
  if (depth > kMaxCanonicalDepth) {
    *error = "nested deeper than " + std::to_string(kMaxCanonicalDepth) + " levels";
    return false;
  }
  switch (v.GetType()) {
    case rapidjson::kNullType:
      *out += "null";  // only reached inside arrays: null members are dropped
      return true;
    case rapidjson::kFalseType:
      *out += "false";
      return true;
    case rapidjson::kTrueType:
      *out += "true";
      return true;
    case rapidjson::kStringType:
      *out += JsonQuote(std::string_view(v.GetString(), v.GetStringLength()));
      return true;
    case rapidjson::kNumberType:
      // Integer literals are exact as they are; only doubles need rounding.
      if (v.IsInt64()) {
        *out += std::to_string(v.GetInt64());
      } else if (v.IsUint64()) {
        *out += std::to_string(v.GetUint64());
      } else if (std::isfinite(v.GetDouble())) {
        AppendCanonicalDouble(v.GetDouble(), out);
      } else {
        *error = "numbers must be finite";
        return false;
      }
      return true;
    case rapidjson::kArrayType: {
      *out += '[';
      for (SizeType i = 0; i < v.Size(); ++i) {
        if (i > 0) *out += ',';
        if (!AppendCanonical(v[i], out, error, depth + 1)) return false;
      }
      *out += ']';
      return true;
    }
    case rapidjson::kObjectType: {
      std::vector<std::pair<std::string_view, const Value*>> members;
      for (const auto& m : v.GetObject()) {
        if (m.value.IsNull()) continue;
        members.emplace_back(std::string_view(m.name.GetString(), m.name.GetStringLength()),
                             &m.value);
      }
      // Byte order: string_view compares as unsigned char, like memcmp.
      std::sort(members.begin(), members.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      *out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0 && members[i].first == members[i - 1].first) {
          *error = "duplicate key " + JsonQuote(members[i].first);
          return false;
        }
        if (i > 0) *out += ',';
        *out += JsonQuote(members[i].first);
        *out += ':';
        if (!AppendCanonical(*members[i].second, out, error, depth + 1)) return false;
      }
      *out += '}';
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------
// Parsing a document.

// Follows keys and array indexes as SAX events arrive, so that the place where
// the parser gave up can be named as a field path.
class PathTracker : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, PathTracker> {
 public:
  bool Default() {
    NextValue();
    return true;
  }
  bool Key(const char* s, SizeType length, bool /*copy*/) {
    frames_.back().key.assign(s, length);
    return true;
  }
  bool StartObject() { return Push(false); }
  bool EndObject(SizeType /*members*/) { return Pop(); }
  bool StartArray() { return Push(true); }
  bool EndArray(SizeType /*elements*/) { return Pop(); }

  std::string Path() const {
    std::string path;
    for (const Frame& f : frames_) path = f.array ? At(path, f.index) : Join(path, f.key);
    return path;
  }

 private:
  struct Frame {
    bool array = false;
    size_t index = 0;  // of the array element being parsed
    std::string key;   // of the object member being parsed
  };
  bool Push(bool array) {
    frames_.push_back(Frame{array, 0, {}});
    return true;
  }
  bool Pop() {
    frames_.pop_back();
    NextValue();
    return true;
  }
  void NextValue() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
  }
  std::vector<Frame> frames_;
};

// Parses `json` into *doc; on failure returns the one problem the parser met.
// RapidJSON stops the whole document at a number too large for a double
// (1e999); a second SAX pass finds which field held it, so the caller hears
// "thresholds[1]: must be a finite number" rather than a bare offset.
template <typename Document>
std::optional<FieldError> ParseDocument(std::string_view json, Document* doc) {
  doc->template Parse<kParseFlags>(json.data(), json.size());
  if (!doc->HasParseError()) return std::nullopt;
  if (doc->GetParseError() == rapidjson::kParseErrorNumberTooBig) {
    rapidjson::MemoryStream memory(json.data(), json.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
    PathTracker tracker;
    rapidjson::Reader reader;
    reader.Parse<kParseFlags>(stream, tracker);
    return FieldError{tracker.Path(), "must be a finite number"};
  }
  return FieldError{"", "malformed JSON at offset " + std::to_string(doc->GetErrorOffset()) + ": " +
                            rapidjson::GetParseError_En(doc->GetParseError())};
}

// ---------------------------------------------------------------------------
// Problems found while reading and checking one document.

class Problems {
 public:
  // Returns false, so that readers can `return Fail(...)`.
  bool Fail(std::string field, std::string message) {
    list_.push_back(FieldError{std::move(field), std::move(message)});
    return false;
  }
  // True when something at `path` or inside it (path.x, path[i]) was
  // reported: value rules skip such fields, so each gets one message.
  bool Has(const std::string& path) const {
    for (const FieldError& e : list_) {
      if (e.field.compare(0, path.size(), path) != 0) continue;
      if (e.field.size() == path.size() || e.field[path.size()] == '.' ||
          e.field[path.size()] == '[') {
        return true;
      }
    }
    return false;
  }
  size_t size() const { return list_.size(); }

  // "path: message; path: message", or an OK status when nothing was found.
  Status ToStatus(std::vector<FieldError>* errors) const {
    if (list_.empty()) return Status::Ok();
    if (errors != nullptr) errors->insert(errors->end(), list_.begin(), list_.end());
    std::string text;
    for (const FieldError& e : list_) {
      if (!text.empty()) text += "; ";
      text += e.field.empty() ? e.message : e.field + ": " + e.message;
    }
    return InvalidArgumentError(std::move(text));
  }

 private:
  std::vector<FieldError> list_;
};

// ---------------------------------------------------------------------------
// The fields of every struct, for both directions.

enum Need { kOptional, kRequired };

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

// Selects the Fields() overload for M, const or not.
template <typename M, typename T>
using IfIs = std::enable_if_t<std::is_same_v<std::remove_const_t<M>, T>>;

// What is required is what identifies a record or its state (ids, status,
// timestamps); everything else may be omitted and then takes the struct's
// default. ToJson writes every field, so round trips are exact either way.
template <typename V, typename M>
IfIs<M, DataSplit> Fields(V& v, M& m) {
  v(kOptional, "holdout_fraction", m.holdout_fraction);
  v(kOptional, "holdout_start", m.holdout_start);
  v(kOptional, "selection_fraction", m.selection_fraction);
}

template <typename V, typename M>
IfIs<M, ModelSpec> Fields(V& v, M& m) {
  v(kRequired, "symbol", m.symbol);
  v(kOptional, "algorithm", m.algorithm);
  v(kOptional, "target_col", m.target_col);
  v(kOptional, "target_transform", m.target_transform);
  v(kOptional, "timeframe", m.timeframe);
  v(kOptional, "features", m.features);
  v(kOptional, "hyperparameters", AsObject(m.hyperparameters));
  v(kOptional, "data_options", AsObject(m.data_options));
  v(kOptional, "reference_symbols", m.reference_symbols);
  // Specs stored before splits existed read as having none (DataSplit's default).
  v(kOptional, "split", m.split);
  v(kOptional, "data_digest", m.data_digest);
  v(kOptional, "parent_model_id", m.parent_model_id);
}

// {} (both omitted) is "no filter", as in regime_configs.
template <typename V, typename M>
IfIs<M, RegimeFilter> Fields(V& v, M& m) {
  v(kOptional, "column", m.column);
  v(kOptional, "allowed", m.allowed);
}

template <typename V, typename M>
IfIs<M, SimulationParams> Fields(V& v, M& m) {
  v(kRequired, "model_id", m.model_id);
  v(kRequired, "ticker", m.ticker);
  v(kRequired, "threshold", m.threshold);
  v(kOptional, "regime", m.regime);
  v(kOptional, "initial_cash", m.initial_cash);
  v(kOptional, "fee_bps", m.fee_bps);
  v(kOptional, "slippage_bps", m.slippage_bps);
  v(kOptional, "use_bot", m.use_bot);
  v(kOptional, "enable_z_score_check", m.enable_z_score_check);
  v(kOptional, "volatility_normalization", m.volatility_normalization);
  v(kOptional, "span", m.span);
  v(kOptional, "threshold_quantile", m.threshold_quantile);
}

template <typename V, typename M>
IfIs<M, ReturnSums> Fields(V& v, M& m) {
  v(kOptional, "n", m.n);
  v(kOptional, "sum", m.sum);
  v(kOptional, "sum2", m.sum2);
  v(kOptional, "sum3", m.sum3);
  v(kOptional, "sum4", m.sum4);
}

// All optional: results also come from remote workers and external
// simulators, and a metric they do not report is simply absent.
template <typename V, typename M>
IfIs<M, SimulationResult> Fields(V& v, M& m) {
  v(kOptional, "sqn", m.sqn);
  v(kOptional, "sqn_100", m.sqn_100);
  v(kOptional, "profit_factor", m.profit_factor);
  v(kOptional, "trade_count", m.trade_count);
  v(kOptional, "total_trades", m.total_trades);
  v(kOptional, "weekly_consistency", m.weekly_consistency);
  v(kOptional, "win_rate", m.win_rate);
  v(kOptional, "expectancy", m.expectancy);
  v(kOptional, "gross_profit", m.gross_profit);
  v(kOptional, "gross_loss", m.gross_loss);
  v(kOptional, "total_return_pct", m.total_return_pct);
  v(kOptional, "benchmark_return_pct", m.benchmark_return_pct);
  v(kOptional, "max_drawdown_pct", m.max_drawdown_pct);
  v(kOptional, "sharpe", m.sharpe);
  v(kOptional, "exposure", m.exposure);
  v(kOptional, "trades_per_week", m.trades_per_week);
  v(kOptional, "weeks_traded", m.weeks_traded);
  v(kOptional, "start_date", m.start_date);
  v(kOptional, "end_date", m.end_date);
  v(kOptional, "span", m.span);
  v(kOptional, "threshold", m.threshold);
  v(kOptional, "excess_return_pct", m.excess_return_pct);
  v(kOptional, "excess_sqn", m.excess_sqn);
  v(kOptional, "trade_blocks", m.trade_blocks);
}

template <typename V, typename M>
IfIs<M, PruningConfig> Fields(V& v, M& m) {
  v(kOptional, "strategy", m.strategy);
  v(kOptional, "fraction", m.fraction);
  v(kOptional, "min_importance", m.min_importance);
}

// The POST /evolve body; also the form of Run.config.
template <typename V, typename M>
IfIs<M, EvolutionConfig> Fields(V& v, M& m) {
  v(kRequired, "symbol", m.symbol);
  v(kOptional, "algorithm", m.algorithm);
  v(kOptional, "target_col", m.target_col);
  v(kOptional, "target_transform", m.target_transform);
  v(kOptional, "max_generations", m.max_generations);
  v(kOptional, "timeframe", m.timeframe);
  v(kOptional, "data_options", AsObject(m.data_options));
  v(kOptional, "seed_features", AsSeedFeatures(m.seed_features));
  v(kOptional, "seed_model_id", m.seed_model_id);
  v(kOptional, "reference_symbols", m.reference_symbols);
  v(kOptional, "thresholds", m.thresholds);
  v(kOptional, "threshold_quantiles", m.threshold_quantiles);
  v(kOptional, "regime_configs", AsRegimeConfigs(m.regime_configs));
  v(kOptional, "sqn_min", m.sqn_min);
  v(kOptional, "sqn_max", m.sqn_max);
  v(kOptional, "profit_factor_min", m.profit_factor_min);
  v(kOptional, "profit_factor_max", m.profit_factor_max);
  v(kOptional, "trade_count_min", m.trade_count_min);
  v(kOptional, "trade_count_max", m.trade_count_max);
  v(kOptional, "weekly_consistency_max", m.weekly_consistency_max);
  v(kOptional, "hyperparameters", AsObject(m.hyperparameters));
  v(kOptional, "pruning", m.pruning);
  v(kOptional, "initial_cash", m.initial_cash);
  v(kOptional, "fee_bps", m.fee_bps);
  v(kOptional, "slippage_bps", m.slippage_bps);
  v(kOptional, "holdout_fraction", m.split.holdout_fraction);
  v(kOptional, "holdout_start", m.split.holdout_start);
  v(kOptional, "selection_fraction", m.split.selection_fraction);
  v(kOptional, "holdout_sqn_min", m.holdout_sqn_min);
  v(kOptional, "holdout_excess_return_min", m.holdout_excess_return_min);
  v(kOptional, "holdout_excess_sqn_min", m.holdout_excess_sqn_min);
  v(kOptional, "holdout_looks", m.holdout_looks);
  v(kOptional, "excess_return_min", m.excess_return_min);
  v(kOptional, "max_drawdown_max", m.max_drawdown_max);
  v(kOptional, "dsr_min", m.dsr_min);
  v(kOptional, "pbo_max", m.pbo_max);
}

template <typename V, typename M>
IfIs<M, SelectionStats> Fields(V& v, M& m) {
  v(kOptional, "trials", m.trials);
  v(kOptional, "prior_trials", m.prior_trials);
  v(kOptional, "prior_looks", m.prior_looks);
  v(kOptional, "research_end", m.research_end);
  v(kOptional, "sharpe", m.sharpe);
  v(kOptional, "expected_max_sharpe", m.expected_max_sharpe);
  v(kOptional, "sharpe_variance", m.sharpe_variance);
  v(kOptional, "dsr", m.dsr);
  v(kOptional, "pbo", m.pbo);
  v(kOptional, "pbo_candidates", m.pbo_candidates);
}

template <typename V, typename M>
IfIs<M, HoldoutCheck> Fields(V& v, M& m) {
  v(kOptional, "candidate_job_id", m.candidate_job_id);
  v(kOptional, "job_id", m.job_id);
  v(kOptional, "look", m.look);
  v(kOptional, "decided", m.decided);
  v(kOptional, "passed", m.passed);
  v(kOptional, "verdict", m.verdict);
  v(kOptional, "result", m.result);
}

template <typename V, typename M>
IfIs<M, Run> Fields(V& v, M& m) {
  v(kRequired, "id", m.id);
  v(kRequired, "config", m.config);
  v(kRequired, "status", m.status);
  v(kOptional, "current_generation", m.current_generation);
  v(kOptional, "seed_model_id", m.seed_model_id);
  v(kOptional, "best_sqn", m.best_sqn);
  v(kOptional, "best_model_id", m.best_model_id);
  v(kOptional, "promoted", m.promoted);
  v(kOptional, "promotion_id", m.promotion_id);
  v(kOptional, "stop_reason", m.stop_reason);
  v(kOptional, "error", m.error);
  v(kRequired, "created_at", m.created_at);
  v(kRequired, "updated_at", m.updated_at);
}

template <typename V, typename M>
IfIs<M, Generation> Fields(V& v, M& m) {
  v(kRequired, "run_id", m.run_id);
  v(kRequired, "generation", m.generation);
  v(kRequired, "state", m.state);
  v(kOptional, "model_id", m.model_id);
  v(kOptional, "parent_model_id", m.parent_model_id);
  v(kOptional, "fingerprint", m.fingerprint);
  v(kOptional, "reused_model", m.reused_model);
  v(kOptional, "features", m.features);
  v(kOptional, "pruned_features", m.pruned_features);
  v(kOptional, "pruning_reason", m.pruning_reason);
  v(kOptional, "parent_sqn", m.parent_sqn);
  v(kOptional, "batch_id", m.batch_id);
  v(kOptional, "jobs_total", m.jobs_total);
  v(kOptional, "jobs_completed", m.jobs_completed);
  v(kOptional, "jobs_failed", m.jobs_failed);
  v(kOptional, "jobs_passing", m.jobs_passing);
  v(kOptional, "best_sqn", m.best_sqn);
  v(kOptional, "best_profit_factor", m.best_profit_factor);
  v(kOptional, "best_trade_count", m.best_trade_count);
  v(kOptional, "best_job_id", m.best_job_id);
  v(kOptional, "verdict", m.verdict);
  v(kOptional, "jobs_too_few_trades", m.jobs_too_few_trades);
  v(kOptional, "selection", m.selection);
  v(kOptional, "holdout", m.holdout);
  v(kRequired, "updated_at", m.updated_at);
}

template <typename V, typename M>
IfIs<M, LineageEdge> Fields(V& v, M& m) {
  v(kRequired, "id", m.id);
  v(kRequired, "run_id", m.run_id);
  v(kOptional, "parent_model_id", m.parent_model_id);  // empty for the seed
  v(kRequired, "child_model_id", m.child_model_id);
  v(kRequired, "generation", m.generation);
  v(kOptional, "parent_sqn", m.parent_sqn);
  v(kOptional, "pruned_features", m.pruned_features);
  v(kOptional, "remaining_features", m.remaining_features);
  v(kOptional, "pruning_reason", m.pruning_reason);
  v(kRequired, "created_at", m.created_at);
}

template <typename V, typename M>
IfIs<M, Job> Fields(V& v, M& m) {
  v(kRequired, "id", m.id);
  v(kRequired, "batch_id", m.batch_id);
  v(kRequired, "run_id", m.run_id);
  v(kRequired, "model_id", m.model_id);
  v(kRequired, "generation", m.generation);
  v(kOptional, "priority", m.priority);
  v(kRequired, "status", m.status);
  v(kRequired, "params", m.params);
  v(kOptional, "result", m.result);
  v(kOptional, "error", m.error);
  v(kOptional, "worker_id", m.worker_id);
  v(kOptional, "attempts", m.attempts);
  v(kOptional, "max_attempts", m.max_attempts);
  v(kOptional, "lease_until", m.lease_until);
  v(kRequired, "created_at", m.created_at);
  v(kRequired, "updated_at", m.updated_at);
}

template <typename V, typename M>
IfIs<M, Promotion> Fields(V& v, M& m) {
  v(kRequired, "id", m.id);
  v(kRequired, "model_id", m.model_id);
  v(kRequired, "run_id", m.run_id);
  v(kRequired, "generation", m.generation);
  v(kRequired, "job_id", m.job_id);
  v(kRequired, "sqn", m.sqn);
  v(kOptional, "profit_factor", m.profit_factor);
  v(kOptional, "trade_count", m.trade_count);
  v(kOptional, "weekly_consistency", m.weekly_consistency);
  v(kRequired, "ticker", m.ticker);
  v(kOptional, "regime", m.regime);
  v(kRequired, "threshold", m.threshold);
  v(kRequired, "spec", m.spec);
  v(kRequired, "result", m.result);
  v(kOptional, "selection", m.selection);
  v(kOptional, "holdout", m.holdout);
  v(kRequired, "created_at", m.created_at);
}

template <typename V, typename M>
IfIs<M, FingerprintRecord> Fields(V& v, M& m) {
  v(kRequired, "fingerprint", m.fingerprint);
  v(kRequired, "model_id", m.model_id);
  v(kRequired, "spec", m.spec);
  v(kRequired, "created_at", m.created_at);
}

template <typename V, typename M>
IfIs<M, WorkerInfo> Fields(V& v, M& m) {
  v(kRequired, "id", m.id);
  v(kOptional, "host", m.host);
  v(kOptional, "pid", m.pid);
  v(kOptional, "status", m.status);
  v(kRequired, "started_at", m.started_at);
  v(kRequired, "last_heartbeat", m.last_heartbeat);
  v(kOptional, "current_jobs", m.current_jobs);
  v(kOptional, "jobs_completed", m.jobs_completed);
  v(kOptional, "jobs_failed", m.jobs_failed);
}

// ---------------------------------------------------------------------------
// Value rules. The generic Check has none; the config types have theirs.

template <typename T>
void Check(Problems& /*problems*/, const std::string& /*path*/, const T& /*value*/) {}
void Check(Problems& problems, const std::string& path, const PruningConfig& c);
void Check(Problems& problems, const std::string& path, const EvolutionConfig& c);

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
  void operator()(Need need, const char* name, T&& field) {
    known_.push_back(name);
    const auto it = object_.FindMember(name);
    if (it == object_.MemberEnd()) {
      if (need == kRequired) problems_.Fail(Join(path_, name), "required");
      return;
    }
    // null is "not given" (the default), except where null is a value.
    if (it->value.IsNull() && !IsOptional<std::decay_t<T>>::value) {
      if (need == kRequired) problems_.Fail(Join(path_, name), "must not be null");
      return;
    }
    if (ReadPlain(it->value, &field)) return;
    Read(problems_, it->value, Join(path_, name), &field);
  }

  // Reports the members that no field claimed, and names given twice (JSON
  // leaves their meaning open; RapidJSON would silently take the first).
  void Finish() {
    std::vector<std::string_view> seen;  // into the document, which outlives this
    seen.reserve(object_.MemberCount());
    for (const auto& m : object_.GetObject()) {
      const std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
        problems_.Fail(Join(path_, std::string(name)), "duplicate field");
      } else if (std::none_of(known_.begin(), known_.end(), [&](const char* k) { return name == k; })) {
        problems_.Fail(Join(path_, std::string(name)), "unknown field");
      }
      seen.push_back(name);
    }
  }

 private:
  Problems& problems_;
  const Value& object_;
  const std::string& path_;
  std::vector<const char*> known_;  // the Fields() names: string literals
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
    if (auto problem = ParseDocument({v.GetString(), v.GetStringLength()}, &inner)) {
      return p.Fail(problem->field.empty() ? path : Join(path, problem->field), problem->message);
    }
    object = &inner;
  }
  if (!object->IsObject()) return p.Fail(path, kExpected);
  std::string text;
  std::string error;
  if (!AppendCanonical(*object, &text, &error)) return p.Fail(path, error);
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
    const std::string item_path = At(path, i);
    const Value& item = v[i];
    if (!item.IsObject()) {
      ok = p.Fail(item_path, "expected an object");
    } else if (item.MemberCount() > 1) {
      ok = p.Fail(item_path, "one regime column per config");
    } else if (item.MemberCount() == 1) {
      const auto& member = *item.MemberBegin();
      filters[i].column.assign(member.name.GetString(), member.name.GetStringLength());
      ok = Read(p, member.value, Join(item_path, filters[i].column), &filters[i].allowed) && ok;
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
  for (SizeType i = 0; i < v.Size(); ++i) ok = Read(p, v[i], At(path, i), &items[i]) && ok;
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
  Check(p, path, *out);
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
  if (auto problem = ParseDocument(json, &doc)) {
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
  void operator()(Need /*need*/, const char* name, const T& field) {
    w_.Key(name);
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

// ---------------------------------------------------------------------------
// The value rules.

enum Edge { kClosed, kOpen };

bool IsSymbol(const std::string& s) {
  if (s.empty() || s.size() > kMaxSymbolLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '^' || c == '=' || c == '-';
  });
}

// ^[a-z_][a-z0-9_]*$: the name becomes a column lookup in the simulator.
// "YYYY-MM-DD" with a month 01-12 and a day 01-31.
bool IsIsoDate(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const int month = (s[5] - '0') * 10 + (s[6] - '0');
  const int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool IsRegimeColumn(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Rules on the fields of one object at `path`. Each method skips a field that
// already has a problem and returns whether the field is valid, so that
// cross-field rules only compare values that are sound.
class Rules {
 public:
  Rules(Problems& problems, const std::string& path) : problems_(problems), path_(path) {}

  bool Fail(const std::string& field, std::string message) {
    return problems_.Fail(Join(path_, field), std::move(message));
  }
  bool Ready(const std::string& field) const { return !problems_.Has(Join(path_, field)); }

  bool NonEmpty(const std::string& field, const std::string& value) {
    if (!Ready(field)) return false;
    return !value.empty() || Fail(field, "must not be empty");
  }

  bool Symbol(const std::string& field, const std::string& value) {
    if (!NonEmpty(field, value)) return false;
    return IsSymbol(value) || Fail(field, "must be 1 to 16 characters of A-Z a-z 0-9 . _ ^ = -");
  }

  bool OneOf(const std::string& field, const std::string& value,
             std::initializer_list<const char*> choices) {
    if (!Ready(field)) return false;
    std::string list;
    for (const char* choice : choices) {
      if (value == choice) return true;
      list += std::string(list.empty() ? "" : ", ") + choice;
    }
    return Fail(field, "must be one of " + list);
  }

  // Finite and within the bounds; an infinite bound is no bound.
  bool Number(const std::string& field, double value, double lo = -kInf, Edge lo_edge = kOpen,
              double hi = kInf, Edge hi_edge = kOpen) {
    if (!Ready(field)) return false;
    if (!std::isfinite(value)) return Fail(field, "must be a finite number");
    const bool above = lo_edge == kOpen ? value > lo : value >= lo;
    const bool below = hi_edge == kOpen ? value < hi : value <= hi;
    if (above && below) return true;
    const std::string low = (lo_edge == kOpen ? "> " : ">= ") + NumberText(lo);
    const std::string high = (hi_edge == kOpen ? "< " : "<= ") + NumberText(hi);
    if (std::isinf(hi)) return Fail(field, "must be " + low);
    if (std::isinf(lo)) return Fail(field, "must be " + high);
    return Fail(field, "must be " + low + " and " + high);
  }

  bool Integer(const std::string& field, int64_t value, int64_t lo,
               int64_t hi = std::numeric_limits<int64_t>::max()) {
    if (!Ready(field)) return false;
    if (value >= lo && value <= hi) return true;
    if (hi == std::numeric_limits<int64_t>::max()) {
      return Fail(field, "must be >= " + NumberText(lo));
    }
    return Fail(field, "must be between " + NumberText(lo) + " and " + NumberText(hi));
  }

  // min <= max, reported on the min field.
  template <typename N>
  void Ordered(bool valid, const std::string& min_field, N min, const std::string& max_field,
               N max) {
    if (valid && min > max) {
      Fail(min_field,
           "must be <= " + max_field + " (" + NumberText(min) + " > " + NumberText(max) + ")");
    }
  }

  bool JsonObject(const std::string& field, const std::string& text) {
    if (!Ready(field)) return false;
    return CanonicalJsonObject(text).ok() || Fail(field, "must be a JSON object");
  }

  // Non-empty, unique names (symbols when `symbols`).
  bool Names(const std::string& field, const std::vector<std::string>& names, bool symbols) {
    if (!Ready(field)) return false;
    bool ok = true;
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string item = At(field, i);
      const auto first = std::find(names.begin(), names.end(), names[i]) - names.begin();
      if (symbols ? !Symbol(item, names[i]) : !NonEmpty(item, names[i])) {
        ok = false;
      } else if (static_cast<size_t>(first) != i) {
        ok = Fail(item, "duplicate of " + At(field, first));
      }
    }
    return ok;
  }

  // A grid axis: 1..kMaxGridAxis entries.
  bool Axis(const std::string& field, size_t size) {
    if (!Ready(field)) return false;
    if (size == 0) return Fail(field, "must not be empty");
    if (size > kMaxGridAxis) {
      return Fail(field, "at most " + std::to_string(kMaxGridAxis) + " entries (got " +
                             std::to_string(size) + ")");
    }
    return true;
  }

 private:
  Problems& problems_;
  const std::string& path_;
};

void Check(Problems& problems, const std::string& path, const PruningConfig& c) {
  Rules r(problems, path);
  r.OneOf("strategy", c.strategy, {"non_positive", "keep_top_fraction", "threshold"});
  r.Number("fraction", c.fraction, 0.0, kOpen, 1.0, kOpen);
  r.Number("min_importance", c.min_importance);
}

// The rules of a POST /evolve body. pruning has its own Check (run by the
// reader on the nested object, and by ValidateEvolutionConfig).
void Check(Problems& problems, const std::string& path, const EvolutionConfig& c) {
  Rules r(problems, path);
  r.Symbol("symbol", c.symbol);
  r.NonEmpty("algorithm", c.algorithm);
  r.NonEmpty("target_col", c.target_col);
  r.OneOf("target_transform", c.target_transform, {"none", "log_return", "log", "pct_change"});
  r.Integer("max_generations", c.max_generations, 1, 1000);
  r.NonEmpty("timeframe", c.timeframe);
  r.JsonObject("data_options", c.data_options);
  r.Names("seed_features", c.seed_features, false);
  r.Names("reference_symbols", c.reference_symbols, true);

  // Thresholds in return units and as quantiles: one grid axis, which may
  // come from either list but not from neither.
  const size_t num_thresholds = c.thresholds.size() + c.threshold_quantiles.size();
  bool thresholds_ok = r.Axis("thresholds", num_thresholds) && r.Ready("threshold_quantiles");
  auto check_list = [&](const char* field, const std::vector<double>& list, double hi, Edge hi_edge) {
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item = At(field, i);
      const auto first = std::find(list.begin(), list.end(), list[i]) - list.begin();
      if (!r.Number(item, list[i], 0.0, kClosed, hi, hi_edge)) {
        thresholds_ok = false;
      } else if (static_cast<size_t>(first) != i) {
        thresholds_ok = r.Fail(item, "duplicate of " + At(field, first));
      }
    }
  };
  if (thresholds_ok) {
    check_list("thresholds", c.thresholds, kInf, kOpen);
    check_list("threshold_quantiles", c.threshold_quantiles, 1.0, kOpen);
  }

  bool regimes_ok = r.Axis("regime_configs", c.regime_configs.size());
  if (regimes_ok) {
    for (size_t i = 0; i < c.regime_configs.size(); ++i) {
      const RegimeFilter& f = c.regime_configs[i];
      const std::string item = At("regime_configs", i);
      const auto first =
          std::find(c.regime_configs.begin(), c.regime_configs.end(), f) - c.regime_configs.begin();
      bool ok = true;
      if (f.empty()) {
        if (!f.allowed.empty()) ok = r.Fail(item, "allowed values without a regime column");
      } else if (!IsRegimeColumn(f.column)) {
        ok = r.Fail(item, "regime column '" + f.column + "' must match ^[a-z_][a-z0-9_]*$");
      } else if (f.allowed.empty()) {
        ok = r.Fail(Join(item, f.column), "must not be empty");
      }
      if (ok && static_cast<size_t>(first) != i) {
        ok = r.Fail(item, "duplicate of " + At("regime_configs", first));
      }
      regimes_ok = regimes_ok && ok;
    }
  }
  if (thresholds_ok && regimes_ok && num_thresholds * c.regime_configs.size() > kMaxGridJobs) {
    r.Fail("thresholds", "thresholds x regime_configs is " + std::to_string(num_thresholds) +
                             " x " + std::to_string(c.regime_configs.size()) + " = " +
                             std::to_string(num_thresholds * c.regime_configs.size()) +
                             " simulations per generation; at most " +
                             std::to_string(kMaxGridJobs));
  }

  const bool sqn_min_ok = r.Number("sqn_min", c.sqn_min);
  const bool sqn_max_ok = r.Number("sqn_max", c.sqn_max);
  r.Ordered(sqn_min_ok && sqn_max_ok, "sqn_min", c.sqn_min, "sqn_max", c.sqn_max);
  const bool pf_min_ok = r.Number("profit_factor_min", c.profit_factor_min, 0.0, kClosed);
  const bool pf_max_ok = r.Number("profit_factor_max", c.profit_factor_max, 0.0, kClosed);
  r.Ordered(pf_min_ok && pf_max_ok, "profit_factor_min", c.profit_factor_min, "profit_factor_max",
            c.profit_factor_max);
  const bool tc_min_ok = r.Integer("trade_count_min", c.trade_count_min, 0);
  const bool tc_max_ok = r.Integer("trade_count_max", c.trade_count_max, 0);
  r.Ordered(tc_min_ok && tc_max_ok, "trade_count_min", c.trade_count_min, "trade_count_max",
            c.trade_count_max);
  r.Number("weekly_consistency_max", c.weekly_consistency_max, 0.0, kOpen);
  r.JsonObject("hyperparameters", c.hyperparameters);
  r.Number("initial_cash", c.initial_cash, 0.0, kOpen);
  r.Number("fee_bps", c.fee_bps, 0.0, kClosed, 1000.0, kOpen);
  r.Number("slippage_bps", c.slippage_bps, 0.0, kClosed, 1000.0, kOpen);

  r.Number("holdout_fraction", c.split.holdout_fraction, 0.0, kClosed, 0.9, kClosed);
  r.Number("selection_fraction", c.split.selection_fraction, 0.0, kClosed, 0.9, kClosed);
  if (r.Ready("holdout_start") && !c.split.holdout_start.empty() && !IsIsoDate(c.split.holdout_start)) {
    r.Fail("holdout_start", "must be a date YYYY-MM-DD (or empty: holdout_fraction decides)");
  }
  r.Number("holdout_sqn_min", c.holdout_sqn_min);
  if (c.holdout_excess_return_min) r.Number("holdout_excess_return_min", *c.holdout_excess_return_min);
  if (c.holdout_excess_sqn_min) r.Number("holdout_excess_sqn_min", *c.holdout_excess_sqn_min);
  r.Integer("holdout_looks", c.holdout_looks, 1, 100);
  if (c.excess_return_min) r.Number("excess_return_min", *c.excess_return_min);
  if (c.max_drawdown_max) r.Number("max_drawdown_max", *c.max_drawdown_max, 0.0, kOpen, 100.0, kClosed);
  if (c.dsr_min) r.Number("dsr_min", *c.dsr_min, 0.0, kClosed, 1.0, kClosed);
  if (c.pbo_max) r.Number("pbo_max", *c.pbo_max, 0.0, kClosed, 1.0, kClosed);
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

Status ValidateEvolutionConfig(const EvolutionConfig& config, std::vector<FieldError>* errors) {
  Problems problems;
  Check(problems, "", config);
  Check(problems, "pruning", config.pruning);
  return problems.ToStatus(errors);
}

Result<std::string> CanonicalJsonObject(std::string_view json) {
  rapidjson::Document doc;
  if (auto problem = ParseDocument(json, &doc)) {
    return InvalidArgumentError(problem->field.empty() ? problem->message
                                                       : problem->field + ": " + problem->message);
  }
  if (!doc.IsObject()) return InvalidArgumentError("expected a JSON object");
  std::string text;
  std::string error;
  if (!AppendCanonical(doc, &text, &error)) return InvalidArgumentError(error);
  return text;
}

std::string JsonQuote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

}  // namespace evolve
