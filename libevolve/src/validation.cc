// The value rules of the config types (evolve/validation.h), run by
// ValidateEvolutionConfig on a struct built in code and by the JSON reader
// (validation_rules.h) on a struct it has just read.
#include "evolve/validation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "evolve/canonical_json.h"
#include "evolve/selection_stats.h"  // kCscvBlocks
#include "field_errors.h"
#include "validation_rules.h"

namespace evolve {
namespace internal {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr size_t kMaxGridAxis = 100;   // thresholds, regime_configs
constexpr size_t kMaxGridJobs = 1000;  // thresholds x regime_configs
constexpr size_t kMaxSymbolLength = 16;
constexpr double kMaxCash = 1e12;

// Shortest text that reads back as the same double ("6", "0.0003"), so that
// "(6 > 5)" shows what the caller sent.
std::string NumberText(double d) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, d).ptr);
}
std::string NumberText(int64_t i) { return std::to_string(i); }

enum Edge { kClosed, kOpen };

bool IsSymbol(const std::string& s) {
  if (s.empty() || s.size() > kMaxSymbolLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '^' || c == '=' || c == '-';
  });
}

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

// ^[a-z_][a-z0-9_]*$: the name becomes a column lookup in the simulator.
bool IsRegimeColumn(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

// Rules on the fields of one object at `path`. Each method skips a field that
// already has a problem and returns whether the field is valid, so that
// cross-field rules only compare values that are sound.
class Rules {
 public:
  Rules(Problems& problems, const std::string& path) : problems_(problems), path_(path) {}

  bool Fail(const std::string& field, std::string message) {
    return problems_.Fail(FieldPath(path_, field), std::move(message));
  }
  bool Ready(const std::string& field) const { return !problems_.Has(FieldPath(path_, field)); }

  bool NonEmpty(const std::string& field, const std::string& value) {
    if (!Ready(field)) return false;
    return !value.empty() || Fail(field, "must not be empty");
  }

  bool Symbol(const std::string& field, const std::string& value) {
    if (!NonEmpty(field, value)) return false;
    return IsSymbol(value) || Fail(field, "must be 1 to 16 characters of A-Z a-z 0-9 . _ ^ = -");
  }

  bool OneOf(const std::string& field, const std::string& value, std::initializer_list<const char*> choices) {
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
  void Ordered(bool valid, const std::string& min_field, N min, const std::string& max_field, N max) {
    if (valid && min > max) {
      Fail(min_field, "must be <= " + max_field + " (" + NumberText(min) + " > " + NumberText(max) + ")");
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
      const std::string item = ItemPath(field, i);
      const auto first = std::find(names.begin(), names.end(), names[i]) - names.begin();
      if (symbols ? !Symbol(item, names[i]) : !NonEmpty(item, names[i])) {
        ok = false;
      } else if (static_cast<size_t>(first) != i) {
        ok = Fail(item, "duplicate of " + ItemPath(field, first));
      }
    }
    return ok;
  }

  // A grid axis: 1..kMaxGridAxis entries.
  bool Axis(const std::string& field, size_t size) {
    if (!Ready(field)) return false;
    if (size == 0) return Fail(field, "must not be empty");
    if (size > kMaxGridAxis) {
      return Fail(field,
                  "at most " + std::to_string(kMaxGridAxis) + " entries (got " + std::to_string(size) + ")");
    }
    return true;
  }

 private:
  Problems& problems_;
  const std::string& path_;
};

}  // namespace

void CheckRules(Problems& problems, const std::string& path, const PruningConfig& c) {
  Rules r(problems, path);
  r.OneOf("strategy", c.strategy, {"non_positive", "keep_top_fraction", "threshold"});
  r.Number("fraction", c.fraction, 0.0, kOpen, 1.0, kOpen);
  r.Number("min_importance", c.min_importance);
}

// The rules of a POST /evolve body.
void CheckRules(Problems& problems, const std::string& path, const EvolutionConfig& c) {
  Rules r(problems, path);
  r.Symbol("symbol", c.symbol);
  r.NonEmpty("algorithm", c.algorithm);
  r.NonEmpty("target_col", c.target_col);
  r.OneOf("target_transform", c.target_transform, {"none", "log_return", "log", "pct_change"});
  r.Integer("max_generations", c.max_generations, 1, 1000);
  // A bar spacing ("1m", "5m", "1h", "4h", "1d", "1w", or any count of
  // s, m, h, d or w): a free text would be fingerprinted and recorded as
  // if it meant something. The built-in engines check it against the bars.
  if (r.Ready("timeframe")) {
    const std::string& tf = c.timeframe;
    const bool ok = tf.size() >= 2 && tf.size() <= 8 && tf[0] >= '1' && tf[0] <= '9' &&
                    std::all_of(tf.begin(), tf.end() - 1, [](char ch) { return ch >= '0' && ch <= '9'; }) &&
                    std::string("smhdw").find(tf.back()) != std::string::npos;
    if (!ok) {
      r.Fail("timeframe",
             "must be a bar spacing such as 1m, 5m, 15m, 30m, 1h, 4h, 1d or 1w (a count and one of "
             "s, m, h, d, w), got '" +
                 tf + "'");
    }
  }
  r.JsonObject("data_options", c.data_options);
  r.Names("seed_features", c.seed_features, false);
  r.Names("reference_symbols", c.reference_symbols, true);

  // Thresholds in return units and as quantiles: one grid axis, which may
  // come from either list but not from neither.
  const size_t num_thresholds = c.thresholds.size() + c.threshold_quantiles.size();
  bool thresholds_ok = r.Axis("thresholds", num_thresholds) && r.Ready("threshold_quantiles");
  auto check_list = [&](const char* field, const std::vector<double>& list, double hi, Edge hi_edge) {
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item = ItemPath(field, i);
      const auto first = std::find(list.begin(), list.end(), list[i]) - list.begin();
      if (!r.Number(item, list[i], 0.0, kClosed, hi, hi_edge)) {
        thresholds_ok = false;
      } else if (static_cast<size_t>(first) != i) {
        thresholds_ok = r.Fail(item, "duplicate of " + ItemPath(field, first));
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
      const std::string item = ItemPath("regime_configs", i);
      const auto first =
          std::find(c.regime_configs.begin(), c.regime_configs.end(), f) - c.regime_configs.begin();
      bool ok = true;
      if (f.empty()) {
        if (!f.allowed.empty()) ok = r.Fail(item, "allowed values without a regime column");
      } else if (!IsRegimeColumn(f.column)) {
        ok = r.Fail(item, "regime column '" + f.column + "' must match ^[a-z_][a-z0-9_]*$");
      } else if (f.allowed.empty()) {
        ok = r.Fail(FieldPath(item, f.column), "must not be empty");
      }
      if (ok && static_cast<size_t>(first) != i) {
        ok = r.Fail(item, "duplicate of " + ItemPath("regime_configs", first));
      }
      regimes_ok = regimes_ok && ok;
    }
  }
  if (thresholds_ok && regimes_ok && num_thresholds * c.regime_configs.size() > kMaxGridJobs) {
    r.Fail("thresholds", "thresholds x regime_configs is " + std::to_string(num_thresholds) + " x " +
                             std::to_string(c.regime_configs.size()) + " = " +
                             std::to_string(num_thresholds * c.regime_configs.size()) +
                             " simulations per generation; at most " + std::to_string(kMaxGridJobs));
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
  // Money the backtest's doubles keep exact to the cent: 1e308 overflowed
  // into a return of 0 and a drawdown of 0.
  r.Number("initial_cash", c.initial_cash, 0.0, kOpen, kMaxCash, kClosed);
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

namespace {

// The rules of a simulation's metrics, as a worker reports them: what the
// metrics can be by their definitions (types.h), so that a worker of another
// build, a bug or a hostile client cannot store a result the statistics and
// the criteria would read as evidence. Not a CheckRules overload: the JSON
// reader applies those to whatever it reads, and results read back from a
// store are taken as they were written.
void CheckResultRules(Problems& problems, const std::string& path, const SimulationResult& c) {
  Rules r(problems, path);
  auto optional = [&r](const char* field, const std::optional<double>& v, double lo = -kInf,
                       Edge lo_edge = kOpen, double hi = kInf, Edge hi_edge = kOpen) {
    if (v) r.Number(field, *v, lo, lo_edge, hi, hi_edge);
  };
  optional("sqn", c.sqn);
  optional("sqn_100", c.sqn_100);
  optional("profit_factor", c.profit_factor, 0.0, kClosed);
  r.Integer("trade_count", c.trade_count, 0);
  r.Integer("total_trades", c.total_trades, 0);
  optional("weekly_consistency", c.weekly_consistency, 0.0, kClosed);
  optional("win_rate", c.win_rate, 0.0, kClosed, 1.0, kClosed);
  // A long-only book cannot lose more than everything: a trade's net
  // return, and so the mean, is > -1 (-100%).
  optional("expectancy", c.expectancy, -1.0, kClosed);
  r.Number("gross_profit", c.gross_profit, 0.0, kClosed);
  r.Number("gross_loss", c.gross_loss, 0.0, kClosed);
  r.Number("total_return_pct", c.total_return_pct, -100.0, kClosed);
  optional("benchmark_return_pct", c.benchmark_return_pct, -100.0, kClosed);
  r.Number("max_drawdown_pct", c.max_drawdown_pct, 0.0, kClosed, 100.0, kClosed);
  optional("sharpe", c.sharpe);
  r.Number("exposure", c.exposure, 0.0, kClosed, 1.0, kClosed);
  r.Number("trades_per_week", c.trades_per_week, 0.0, kClosed);
  r.Integer("weeks_traded", c.weeks_traded, 0);
  for (const char* field : {"start_date", "end_date"}) {
    const std::string& date = field[0] == 's' ? c.start_date : c.end_date;
    if (!date.empty() && !IsIsoDate(date)) r.Fail(field, "must be a date YYYY-MM-DD (or empty)");
  }
  if (!c.span.empty()) r.OneOf("span", c.span, {kSpanResearch, kSpanHoldout, kSpanAll});
  optional("threshold", c.threshold);
  optional("excess_return_pct", c.excess_return_pct, -100.0, kClosed);
  optional("excess_sqn", c.excess_sqn);
  if (c.trade_blocks.size() > static_cast<size_t>(kCscvBlocks)) {
    r.Fail("trade_blocks", "at most " + std::to_string(kCscvBlocks) + " blocks (got " +
                               std::to_string(c.trade_blocks.size()) + ")");
    return;
  }
  int64_t block_trades = 0;
  for (size_t i = 0; i < c.trade_blocks.size(); ++i) {
    const ReturnSums& b = c.trade_blocks[i];
    const std::string block_path = FieldPath(path, ItemPath("trade_blocks", i));
    Rules block(problems, block_path);
    if (block.Integer("n", b.n, 0, c.trade_count)) block_trades += b.n;
    block.Number("sum", b.sum);
    block.Number("sum2", b.sum2, 0.0, kClosed);
    block.Number("sum3", b.sum3);
    block.Number("sum4", b.sum4, 0.0, kClosed);
  }
  if (r.Ready("trade_count") && block_trades > c.trade_count) {
    r.Fail("trade_blocks", "hold " + std::to_string(block_trades) + " trades, more than trade_count (" +
                               std::to_string(c.trade_count) + ")");
  }
}

}  // namespace

}  // namespace internal

std::vector<FieldError> EvolutionConfigErrors(const EvolutionConfig& config) {
  internal::Problems problems;
  internal::CheckRules(problems, "", config);
  internal::CheckRules(problems, "pruning", config.pruning);
  return problems.list();
}

std::vector<FieldError> SimulationResultErrors(const SimulationResult& result) {
  internal::Problems problems;
  internal::CheckResultRules(problems, "", result);
  return problems.list();
}

Status FieldErrorsToStatus(const std::vector<FieldError>& errors) {
  if (errors.empty()) return Status::Ok();
  std::string text;
  for (const FieldError& e : errors) {
    if (!text.empty()) text += "; ";
    text += e.field.empty() ? e.message : e.field + ": " + e.message;
  }
  return InvalidArgumentError(std::move(text));
}

Status ValidateEvolutionConfig(const EvolutionConfig& config, std::vector<FieldError>* errors) {
  const std::vector<FieldError> problems = EvolutionConfigErrors(config);
  if (errors != nullptr) errors->insert(errors->end(), problems.begin(), problems.end());
  return FieldErrorsToStatus(problems);
}

}  // namespace evolve
