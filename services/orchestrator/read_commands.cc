// evolve runs | show | promoted | lineage | migrate: read (or migrate) the
// store. Reading commands never create a database.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "evolve/json.h"
#include "evolve/service/args.h"
#include "evolve/service/exit.h"
#include "evolve/service/settings.h"
#include "output.h"

namespace evolve::cli {
namespace {

using service::Args;
using service::Fail;
using service::kExitOk;
using service::OpenStore;
using service::OptionSpec;
using service::OptionsHelp;
using service::ParseInt;
using service::ResolveStore;
using service::StoreOptions;
using service::StoreSettings;

std::vector<OptionSpec> With(std::vector<OptionSpec> specs) {
  for (const OptionSpec& s : StoreOptions()) specs.push_back(s);
  specs.push_back({"json", "", "print JSON instead of a table"});
  specs.push_back({"help", "", "show this help"});
  return specs;
}

// A reading command's arguments and its store (null after --help).
struct Opened {
  Args args;
  std::unique_ptr<Store> store;
};

// Parses the arguments of a reading command and opens its store, or prints
// the usage for --help (and sets `help`).
Result<Opened> Open(const std::string& command, const Argv& argv, const std::vector<OptionSpec>& specs,
                    size_t positional, const char* usage, bool* help) {
  EVOLVE_ASSIGN_OR_RETURN(Args args, Args::Parse(command, argv, specs, positional));
  *help = args.Has("help");
  if (*help) {
    std::printf("usage: %s\n\noptions:\n%s", usage, OptionsHelp(specs).c_str());
    return Opened{std::move(args), nullptr};
  }
  if (args.positional().size() != positional) {
    return InvalidArgumentError(std::string("missing argument; usage: ") + usage);
  }
  EVOLVE_ASSIGN_OR_RETURN(StoreSettings settings, ResolveStore(args));
  EVOLVE_ASSIGN_OR_RETURN(std::unique_ptr<Store> store, OpenStore(settings, /*must_exist=*/true));
  return Opened{std::move(args), std::move(store)};
}

Result<int> PageOption(const Args& args, const char* name, int fallback, int min) {
  std::optional<std::string> text = args.Get(name);
  if (!text.has_value()) return fallback;
  EVOLVE_ASSIGN_OR_RETURN(int64_t v, ParseInt(std::string("--") + name, *text));
  if (v < min || v > 1000000) {
    return InvalidArgumentError(std::string("--") + name + ": must be in [" + std::to_string(min) +
                                ", 1000000], got " + *text);
  }
  return static_cast<int>(v);
}

std::string Features(const std::vector<std::string>& features) {
  std::string out;
  for (const std::string& f : features) out += (out.empty() ? "" : ",") + f;
  return out;
}

}  // namespace

int RunsCommand(const Argv& argv) {
  const auto specs = With({{"status", "S", "only runs with this status (PENDING, RUNNING, PROMOTED, ...)"},
                           {"limit", "N", "at most N runs (default 50)"},
                           {"offset", "N", "skip the N newest runs"}});
  bool help = false;
  auto opened = Open("runs", argv, specs, 0, "evolve runs [--status S] [--limit N] [--offset N] [--json]", &help);
  if (!opened.ok()) return Fail(opened.status());
  if (help) return kExitOk;
  RunFilter filter;
  if (std::optional<std::string> status = opened->args.Get("status")) {
    RunStatus s;
    if (!ParseRunStatus(*status, &s)) {
      return Fail(InvalidArgumentError("--status: unknown run status '" + *status +
                                       "' (PENDING, RUNNING, PROMOTED, COMPLETED, STOPPED, CANCELLED, FAILED)"));
    }
    filter.status = s;
  }
  auto limit = PageOption(opened->args, "limit", 50, 1);
  if (!limit.ok()) return Fail(limit.status());
  auto offset = PageOption(opened->args, "offset", 0, 0);
  if (!offset.ok()) return Fail(offset.status());
  filter.limit = *limit;
  filter.offset = *offset;
  auto runs = opened->store->ListRuns(filter);
  if (!runs.ok()) return Fail(runs.status());
  if (opened->args.Has("json")) {
    std::vector<std::string> items;
    for (const Run& r : *runs) items.push_back(ToJson(r));
    std::printf("{\"runs\":%s,\"count\":%zu}\n", JsonArray(items).c_str(), runs->size());
    return kExitOk;
  }
  Table table({"run", "symbol", "status", "gen", "best SQN", "promoted", "reason", "created"});
  for (const Run& r : *runs) {
    table.AddRow({r.id, r.config.symbol, RunStatusName(r.status), std::to_string(r.current_generation),
                  Num(r.best_sqn), r.promoted ? "yes" : "no", r.stop_reason, FormatTime(r.created_at)});
  }
  std::printf("%s", table.Render().c_str());
  if (runs->empty()) std::printf("(no runs)\n");
  return kExitOk;
}

// What each threshold of a generation's grid came to, in return units (a
// quantile's value is the model's), and how many trades its cells made
// across the regime filters, e.g. "q90 = 0.00123: 41-97 trades".
Result<std::string> ThresholdsLine(Store& store, const Generation& g) {
  JobFilter filter;
  filter.batch_id = g.batch_id;
  EVOLVE_ASSIGN_OR_RETURN(std::vector<Job> jobs, store.ListJobs(filter));
  struct Cell {
    std::string name;
    std::optional<double> value;
    int64_t fewest = -1, most = -1;
  };
  std::vector<Cell> cells;
  for (const Job& job : jobs) {
    char name[64];
    if (job.params.threshold_quantile) {
      std::snprintf(name, sizeof name, "q%g", 100 * *job.params.threshold_quantile);
    } else {
      std::snprintf(name, sizeof name, "%g", job.params.threshold);
    }
    auto it = std::find_if(cells.begin(), cells.end(), [&](const Cell& c) { return c.name == name; });
    if (it == cells.end()) it = cells.insert(cells.end(), Cell{name, std::nullopt, -1, -1});
    if (job.status != JobStatus::kCompleted || !job.result) continue;
    if (job.result->threshold) it->value = job.result->threshold;
    const int64_t n = job.result->trade_count;
    it->fewest = it->fewest < 0 ? n : std::min(it->fewest, n);
    it->most = std::max(it->most, n);
  }
  std::string out;
  for (const Cell& c : cells) {
    char buf[160];
    std::string value = c.name;
    if (c.name[0] == 'q') value += " = " + (c.value ? Num(c.value, 6) : std::string("?"));
    if (c.fewest < 0) {
      std::snprintf(buf, sizeof buf, "%s: no result", value.c_str());
    } else if (c.fewest == c.most) {
      std::snprintf(buf, sizeof buf, "%s: %lld trades", value.c_str(), static_cast<long long>(c.most));
    } else {
      std::snprintf(buf, sizeof buf, "%s: %lld-%lld trades", value.c_str(), static_cast<long long>(c.fewest),
                    static_cast<long long>(c.most));
    }
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out;
}

int ShowCommand(const Argv& argv) {
  bool help = false;
  auto opened = Open("show", argv, With({}), 1, "evolve show RUN_ID [--json]", &help);
  if (!opened.ok()) return Fail(opened.status());
  if (help) return kExitOk;
  Store& store = *opened->store;
  const std::string& run_id = opened->args.positional()[0];
  if (opened->args.Has("json")) {
    auto doc = RunDocumentJson(store, run_id);
    if (!doc.ok()) return Fail(doc.status());
    std::printf("%s\n", doc->c_str());
    return kExitOk;
  }
  auto run = store.GetRun(run_id);
  if (!run.ok()) return Fail(run.status());
  auto generations = store.ListGenerations(run_id);
  if (!generations.ok()) return Fail(generations.status());
  const EvolutionConfig& c = run->config;
  std::printf("run %s: %s %s, %s, up to %d generations, %zu thresholds x %zu regime filters\n", run->id.c_str(),
              c.symbol.c_str(), c.timeframe.c_str(), c.algorithm.c_str(), c.max_generations,
              c.thresholds.size() + c.threshold_quantiles.size(), c.regime_configs.size());
  std::printf("created %s, updated %s\n\n", FormatTime(run->created_at).c_str(),
              FormatTime(run->updated_at).c_str());
  std::printf("%s", GenerationsTable(*generations).c_str());
  for (const Generation& g : *generations) {
    if (!g.pruned_features.empty()) {
      std::printf("gen %d pruned (%s): %s\n", g.generation, g.pruning_reason.c_str(),
                  Features(g.pruned_features).c_str());
    }
    if (!g.batch_id.empty()) {
      auto thresholds = ThresholdsLine(store, g);
      if (!thresholds.ok()) return Fail(thresholds.status());
      std::printf("gen %d thresholds: %s\n", g.generation, thresholds->c_str());
    }
  }
  auto outcome = RunOutcomeText(store, *run);
  if (!outcome.ok()) return Fail(outcome.status());
  std::printf("\n%s", outcome->c_str());
  return kExitOk;
}

int PromotedCommand(const Argv& argv) {
  const auto specs = With({{"limit", "N", "at most N models (default 50)"}, {"offset", "N", "skip the first N"}});
  bool help = false;
  auto opened = Open("promoted", argv, specs, 0, "evolve promoted [--limit N] [--offset N] [--json]", &help);
  if (!opened.ok()) return Fail(opened.status());
  if (help) return kExitOk;
  auto limit = PageOption(opened->args, "limit", 50, 1);
  if (!limit.ok()) return Fail(limit.status());
  auto offset = PageOption(opened->args, "offset", 0, 0);
  if (!offset.ok()) return Fail(offset.status());
  auto promotions = opened->store->ListPromotions(*limit, *offset);
  if (!promotions.ok()) return Fail(promotions.status());
  if (opened->args.Has("json")) {
    std::vector<std::string> items;
    for (const Promotion& p : *promotions) items.push_back(ToJson(p));
    std::printf("{\"promoted\":%s,\"count\":%zu}\n", JsonArray(items).c_str(), promotions->size());
    return kExitOk;
  }
  // "holdout SQN": the confirmation's SQN on the holdout ("none" without a
  // holdout); DSR: the deflated Sharpe ratio at selection.
  Table table({"model", "run", "gen", "symbol", "SQN", "PF", "trades", "weekly cons.", "threshold", "regime",
               "features", "holdout SQN", "DSR"});
  for (const Promotion& p : *promotions) {
    char threshold[32];
    std::snprintf(threshold, sizeof threshold, "%g", p.threshold);
    const std::string holdout_sqn =
        !p.holdout ? "none" : p.holdout->result ? Num(p.holdout->result->sqn, 3) : "-";
    table.AddRow({p.model_id, p.run_id, std::to_string(p.generation), p.ticker, Num(p.sqn, 3),
                  Num(p.profit_factor, 3), std::to_string(p.trade_count), Num(p.weekly_consistency, 3), threshold,
                  p.regime.empty() ? "-" : ToJson(p.regime), std::to_string(p.spec.features.size()), holdout_sqn,
                  p.selection ? Num(p.selection->dsr, 3) : "-"});
  }
  std::printf("%s", table.Render().c_str());
  if (promotions->empty()) std::printf("(no promoted models)\n");
  return kExitOk;
}

int LineageCommand(const Argv& argv) {
  bool help = false;
  auto opened = Open("lineage", argv, With({}), 1, "evolve lineage MODEL_ID [--json]", &help);
  if (!opened.ok()) return Fail(opened.status());
  if (help) return kExitOk;
  const std::string& model_id = opened->args.positional()[0];
  auto ancestry = opened->store->Ancestry(model_id);
  if (!ancestry.ok()) return Fail(ancestry.status());
  if (ancestry->empty()) return Fail(NotFoundError("model " + model_id + " has no lineage in this store"));
  if (opened->args.Has("json")) {
    std::vector<std::string> items;
    for (const LineageEdge& e : *ancestry) items.push_back(ToJson(e));
    std::printf("{\"model_id\":%s,\"ancestry\":%s}\n", JsonQuote(model_id).c_str(), JsonArray(items).c_str());
    return kExitOk;
  }
  // Oldest first: from the seed down to the model.
  Table table({"gen", "model", "parent", "parent SQN", "features", "pruned", "reason", "run"});
  for (auto it = ancestry->rbegin(); it != ancestry->rend(); ++it) {
    table.AddRow({std::to_string(it->generation), it->child_model_id,
                  it->parent_model_id.empty() ? "(seed)" : it->parent_model_id, Num(it->parent_sqn),
                  std::to_string(it->remaining_features.size()), std::to_string(it->pruned_features.size()),
                  Clip(it->pruning_reason, 40), it->run_id});
  }
  std::printf("%s", table.Render().c_str());
  return kExitOk;
}

int MigrateCommand(const Argv& argv) {
  std::vector<OptionSpec> specs = StoreOptions();
  specs.push_back({"help", "", "show this help"});
  auto args = Args::Parse("migrate", argv, specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf("usage: evolve migrate [--db PATH | --store URL]\n\nCreates the database if needed and applies "
                "pending schema migrations.\n\noptions:\n%s",
                OptionsHelp(specs).c_str());
    return kExitOk;
  }
  auto settings = ResolveStore(*args);
  if (!settings.ok()) return Fail(settings.status());
  int version = 0;
  auto store = OpenStore(*settings, /*must_exist=*/false, &version);  // opening migrates
  if (!store.ok()) return Fail(store.status());
  std::printf("%s: schema version %d, up to date\n", settings->flag_text.c_str(), version);
  return kExitOk;
}

}  // namespace evolve::cli
