#include "output.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>

#include "evolve/json.h"
#include "validity_summary.h"

namespace evolve::cli {
namespace {

bool LooksNumeric(const std::string& s) {
  if (s.empty() || s == "-") return !s.empty();
  size_t digits = 0;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      ++digits;
    } else if (c != '.' && c != '-' && c != '+' && c != 'e' && c != '/' && c != '%') {
      return false;
    }
  }
  return digits > 0;
}

}  // namespace

std::string Table::Render() const {
  std::vector<size_t> width(headers_.size(), 0);
  std::vector<bool> numeric(headers_.size(), true);
  for (size_t c = 0; c < headers_.size(); ++c) width[c] = headers_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
      if (!LooksNumeric(row[c])) numeric[c] = false;
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < headers_.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : "";
      const std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      const bool last = c + 1 == headers_.size();
      if (numeric[c] && !rows_.empty()) {
        out += pad + cell;
      } else {
        out += cell + (last ? "" : pad);
      }
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(headers_);
  for (const auto& row : rows_) out += line(row);
  return out;
}

std::string Num(std::optional<double> v, int precision) {
  if (!v.has_value()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", precision, *v);
  return buf;
}

std::string Clip(const std::string& s, size_t width) {
  if (s.size() <= width || width < 4) return s;
  return s.substr(0, width - 3) + "...";
}

namespace {

// One line on a holdout look: the verdict and the holdout figures.
std::string HoldoutLine(const HoldoutCheck& h) {
  std::string out = "holdout look " + std::to_string(h.look) + " (finalist " + h.candidate_job_id + "): ";
  if (!h.decided) return out + "simulating " + h.job_id;
  out += h.verdict;
  if (h.result) {
    const SimulationResult& r = *h.result;
    char buf[320];
    std::snprintf(
        buf, sizeof buf,
        "; SQN %s, excess SQN %s, return %.1f%% vs buy-and-hold %s%% (excess %s%%), %lld trades, %s..%s",
        Num(r.sqn).c_str(), Num(r.excess_sqn).c_str(), r.total_return_pct,
        Num(r.benchmark_return_pct, 1).c_str(), Num(r.excess_return_pct, 1).c_str(),
        static_cast<long long>(r.trade_count), r.start_date.c_str(), r.end_date.c_str());
    out += buf;
  }
  return out;
}

// How the run split its bars, and how often the holdout was looked at.
std::string SplitText(const Run& run, const ValiditySummary& v) {
  const DataSplit& split = run.config.split;
  if (!v.has_holdout) {
    return "holdout: none (holdout_fraction 0): the promotion rests on the research span alone\n";
  }
  std::string out = "holdout: " + (split.holdout_start.empty()
                                       ? "the last " + Num(100 * split.holdout_fraction, 0) + "% of the bars"
                                       : "bars from " + split.holdout_start);
  if (!v.holdout_first_date.empty()) out += ", from " + v.holdout_first_date;
  if (!v.research_end.empty()) out += ", after the research span's last bar " + v.research_end;
  char buf[200];
  std::snprintf(
      buf, sizeof buf,
      "; selection span %g of the research span; looks at this symbol's holdout: %lld (this run %lld, "
      "earlier runs %lld)\n",
      split.selection_fraction, static_cast<long long>(v.prior_looks + v.looks),
      static_cast<long long>(v.looks), static_cast<long long>(v.prior_looks));
  return out + buf;
}

// The research criteria beyond the Holy Grail bands that the run set.
std::string OptionalCriteriaText(const EvolutionConfig& c) {
  std::string out;
  char buf[64];
  auto add = [&](const char* format, const std::optional<double>& v) {
    if (!v) return;
    std::snprintf(buf, sizeof buf, format, *v);
    out += std::string(", ") + buf;
  };
  add("excess return >= %g%%", c.excess_return_min);
  add("max drawdown <= %g%%", c.max_drawdown_max);
  add("DSR >= %g", c.dsr_min);
  add("PBO <= %g", c.pbo_max);
  return out;
}

}  // namespace

std::string GenerationsTable(const std::vector<Generation>& generations) {
  Table table({"gen", "model", "features", "pruned", "jobs", "best SQN", "best PF", "trades", "trials", "DSR",
               "PBO", "verdict"});
  std::string holdouts;
  for (const Generation& g : generations) {
    std::string jobs = std::to_string(g.jobs_completed) + "/" + std::to_string(g.jobs_total);
    if (g.jobs_failed > 0) jobs += " (" + std::to_string(g.jobs_failed) + " failed)";
    if (g.jobs_too_few_trades > 0) jobs += " (" + std::to_string(g.jobs_too_few_trades) + " too few trades)";
    const bool evaluated = g.state == GenerationState::kEvaluated;
    const std::optional<SelectionStats>& s = g.selection;
    table.AddRow({std::to_string(g.generation), g.model_id + (g.reused_model ? " (reused)" : ""),
                  std::to_string(g.features.size()), std::to_string(g.pruned_features.size()), jobs,
                  Num(g.best_sqn), Num(g.best_profit_factor),
                  evaluated ? std::to_string(g.best_trade_count) : "-",
                  s ? std::to_string(s->trials + s->prior_trials) : "-", s ? Num(s->dsr) : "-",
                  s ? Num(s->pbo) : "-", evaluated ? g.verdict : std::string(GenerationStateName(g.state))});
    if (g.holdout) holdouts += "gen " + std::to_string(g.generation) + " " + HoldoutLine(*g.holdout) + "\n";
  }
  return table.Render() + holdouts;
}

Result<std::string> RunOutcomeText(Store& store, const Run& run) {
  std::string out = "run " + run.id + " " + RunStatusName(run.status);
  if (!run.stop_reason.empty()) out += " (" + run.stop_reason + ")";
  if (!run.error.empty()) out += ": " + run.error;
  out += "\n";
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Generation> generations, store.ListGenerations(run.id));
  out += SplitText(run, SummarizeValidity(run, generations));
  if (run.promoted) {
    EVOLVE_ASSIGN_OR_RETURN(Promotion p, store.GetPromotion(run.promotion_id));
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "promoted model %s (generation %d): SQN %.3f, PF %s, %lld trades, weekly consistency %s, "
                  "threshold %g%s%s\n",
                  p.model_id.c_str(), p.generation, p.sqn, Num(p.profit_factor, 3).c_str(),
                  static_cast<long long>(p.trade_count), Num(p.weekly_consistency, 3).c_str(), p.threshold,
                  p.regime.empty() ? "" : ", regime filter ",
                  p.regime.empty() ? "" : ToJson(p.regime).c_str());
    out += buf;
    out += "  features (" + std::to_string(p.spec.features.size()) + "): ";
    for (size_t i = 0; i < p.spec.features.size(); ++i) out += (i ? "," : "") + p.spec.features[i];
    out += "\n";
    if (p.holdout) out += "  confirmed on the " + HoldoutLine(*p.holdout) + "\n";
    if (p.selection) {
      out += "  selection: " + std::to_string(p.selection->trials) + " trials in this run, " +
             std::to_string(p.selection->prior_trials) + " in earlier runs; deflated Sharpe ratio " +
             Num(p.selection->dsr, 3) + ", probability of backtest overfitting " + Num(p.selection->pbo, 3) +
             "\n";
    }
  } else if (run.stop_reason == kStopHoldoutRejected) {
    for (const Generation& g : generations) {
      if (g.holdout && g.holdout->decided && !g.holdout->passed) {
        out += "no model promoted: the finalist of generation " + std::to_string(g.generation) +
               " failed its confirmation on the holdout: " + g.holdout->verdict + "\n";
      }
    }
  } else if (IsFinal(run.status) || run.status == RunStatus::kStopped) {
    const EvolutionConfig& c = run.config;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "no model promoted: none met SQN %g-%g, PF %g-%g, trades %lld-%lld, weekly consistency < "
                  "%g%s at once; each generation's verdict above names what failed\n",
                  c.sqn_min, c.sqn_max, c.profit_factor_min, c.profit_factor_max,
                  static_cast<long long>(c.trade_count_min), static_cast<long long>(c.trade_count_max),
                  c.weekly_consistency_max, OptionalCriteriaText(c).c_str());
    out += buf;
  }
  return out;
}

std::string JobCountsJson(const JobCounts& c) {
  return "{\"pending\":" + std::to_string(c.pending) + ",\"running\":" + std::to_string(c.running) +
         ",\"completed\":" + std::to_string(c.completed) + ",\"failed\":" + std::to_string(c.failed) +
         ",\"cancelled\":" + std::to_string(c.cancelled) + ",\"total\":" + std::to_string(c.total()) + "}";
}

std::string JsonArray(const std::vector<std::string>& elements) {
  std::string out = "[";
  for (size_t i = 0; i < elements.size(); ++i) out += (i ? "," : "") + elements[i];
  return out + "]";
}

std::string JobCountsByKindJson(const std::vector<Job>& jobs) {
  std::map<JobKind, JobCounts> by_kind;
  for (const Job& job : jobs) by_kind[job.kind].Add(job.status);
  return JobCountsByKindJson(by_kind);
}

std::string JobCountsByKindJson(std::map<JobKind, JobCounts> by_kind) {
  for (JobKind kind : JobKinds::All().List()) by_kind[kind];
  std::string out = "{";
  for (const auto& [kind, counts] : by_kind) {
    out += (out.size() > 1 ? ",\"" : "\"") + std::string(JobKindName(kind)) + "\":" + JobCountsJson(counts);
  }
  return out + "}";
}

Result<std::string> RunDocumentJson(Store& store, const std::string& run_id) {
  EVOLVE_ASSIGN_OR_RETURN(Run run, store.GetRun(run_id));
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Generation> generations, store.ListGenerations(run_id));
  EVOLVE_ASSIGN_OR_RETURN(std::vector<LineageEdge> lineage, store.ListLineage(run_id));
  JobFilter filter;
  filter.run_id = run_id;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Job> jobs, store.ListJobs(filter));
  JobCounts counts;
  for (const Job& job : jobs) counts.Add(job.status);
  std::string promotion = "null";
  if (run.promoted) {
    EVOLVE_ASSIGN_OR_RETURN(Promotion p, store.GetPromotion(run.promotion_id));
    promotion = ToJson(p);
  }
  std::vector<std::string> gens, edges;
  for (const Generation& g : generations) gens.push_back(ToJson(g));
  for (const LineageEdge& e : lineage) edges.push_back(ToJson(e));
  return "{\"run\":" + ToJson(run) + ",\"generations\":" + JsonArray(gens) +
         ",\"lineage\":" + JsonArray(edges) + ",\"jobs\":" + JobCountsJson(counts) +
         ",\"jobs_by_kind\":" + JobCountsByKindJson(jobs) + ",\"promotion\":" + promotion +
         ",\"validity\":" + ValiditySummaryJson(SummarizeValidity(run, generations)) + "}";
}

}  // namespace evolve::cli
