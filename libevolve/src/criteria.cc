#include "evolve/criteria.h"
#include "format.h"

#include <cstdio>
#include <limits>

namespace evolve {
namespace {

constexpr double kNoBound = std::numeric_limits<double>::infinity();

// Checks lo <= value <= hi; the failure says which bound and by how much.
CriterionCheck Range(const char* metric, std::optional<double> value, double lo, double hi,
                     const char* undefined_why) {
  CriterionCheck check;
  check.metric = metric;
  check.value = value;
  if (!value) {
    check.failure = std::string(metric) + " undefined (" + undefined_why + ")";
  } else if (*value < lo) {
    check.failure = std::string(metric) + " " + internal::FormatNumber(*value) + " < min " +
                    internal::FormatNumber(lo) + " (short by " + internal::FormatNumber(lo - *value) + ")";
  } else if (*value > hi) {
    check.failure = std::string(metric) + " " + internal::FormatNumber(*value) + " > max " +
                    internal::FormatNumber(hi) + " (over by " + internal::FormatNumber(*value - hi) + ")";
  } else {
    check.passed = true;
  }
  return check;
}

}  // namespace

Criteria CriteriaFrom(const EvolutionConfig& c) {
  return Criteria{c.sqn_min,         c.sqn_max,         c.profit_factor_min,      c.profit_factor_max,
                  c.trade_count_min, c.trade_count_max, c.weekly_consistency_max, c.excess_return_min,
                  c.max_drawdown_max};
}

Verdict Evaluate(const Criteria& c, const SimulationResult& r) {
  Verdict v;
  v.checks.push_back(Range("sqn", r.sqn, c.sqn_min, c.sqn_max, "fewer than two trades or no variance"));
  v.checks.push_back(
      Range("profit_factor", r.profit_factor, c.profit_factor_min, c.profit_factor_max, "no losing trade"));
  v.checks.push_back(Range("trade_count", static_cast<double>(r.trade_count),
                           static_cast<double>(c.trade_count_min), static_cast<double>(c.trade_count_max),
                           ""));

  CriterionCheck weekly;
  weekly.metric = "weekly_consistency";
  weekly.value = r.weekly_consistency;
  if (!r.weekly_consistency) {
    weekly.failure = "weekly_consistency undefined (no trades)";
  } else if (*r.weekly_consistency >= c.weekly_consistency_max) {
    weekly.failure = "weekly_consistency " + internal::FormatNumber(*r.weekly_consistency) + " >= max " +
                     internal::FormatNumber(c.weekly_consistency_max) + " (over by " +
                     internal::FormatNumber(*r.weekly_consistency - c.weekly_consistency_max) + ")";
  } else {
    weekly.passed = true;
  }
  v.checks.push_back(weekly);

  if (c.excess_return_min) {
    v.checks.push_back(Range("excess_return_pct", r.excess_return_pct, *c.excess_return_min, kNoBound,
                             "the simulator reports no benchmark"));
  }
  if (c.max_drawdown_max) {
    v.checks.push_back(Range("max_drawdown_pct", r.max_drawdown_pct, -kNoBound, *c.max_drawdown_max, ""));
  }

  v.passed = true;
  for (const auto& check : v.checks) v.passed = v.passed && check.passed;
  return v;
}

Verdict EvaluateHoldout(const EvolutionConfig& c, const SimulationResult& r) {
  Verdict v;
  CriterionCheck sqn =
      Range("holdout sqn", r.sqn, c.holdout_sqn_min, kNoBound, "fewer than two trades or no variance");
  sqn.metric = "sqn";
  v.checks.push_back(sqn);
  if (c.holdout_excess_return_min) {
    CriterionCheck excess =
        Range("holdout excess_return_pct", r.excess_return_pct, *c.holdout_excess_return_min, kNoBound,
              "the simulator reports no benchmark");
    excess.metric = "excess_return_pct";
    v.checks.push_back(excess);
  }
  if (c.holdout_excess_sqn_min) {
    CriterionCheck skill = Range("holdout excess_sqn", r.excess_sqn, *c.holdout_excess_sqn_min, kNoBound,
                                 "fewer than two trades, or the simulator reports no excess");
    skill.metric = "excess_sqn";
    v.checks.push_back(skill);
  }
  v.passed = true;
  for (const auto& check : v.checks) v.passed = v.passed && check.passed;
  return v;
}

std::string Verdict::Summary() const {
  if (passed) return "PASS";
  std::string out = "FAIL: ";
  bool first = true;
  for (const auto& check : checks) {
    if (check.passed) continue;
    if (!first) out += "; ";
    out += check.failure;
    first = false;
  }
  return out;
}

}  // namespace evolve
