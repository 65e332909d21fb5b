// evolve symbols | features: what the built-in engines see in their
// bars, so users can inspect and check the models' inputs.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/engines/features.h"
#include "evolve/service/args.h"
#include "evolve/service/bar_settings.h"
#include "evolve/service/exit.h"
#include "evolve/service/settings.h"
#include "output.h"

namespace evolve::cli {
namespace {

using service::Args;
using service::Fail;
using service::kExitOk;
using service::OptionsHelp;
using service::OptionSpec;
using service::ParseList;

// "YYYY-MM-DD" for a daily bar, "YYYY-MM-DDTHH:MM:SSZ" for an intraday one:
// both read back by the bars CSV reader.
std::string BarTime(int64_t unix_seconds, bool intraday) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, intraday ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d", &tm);
  return buf;
}

}  // namespace

int SymbolsCommand(const Argv& argv) {
  std::vector<OptionSpec> specs = service::BarsOptions(/*with_drop=*/false);
  specs.push_back({"help", "", "show this help"});
  auto args = Args::Parse("symbols", argv, specs, 0);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf(
        "usage: evolve symbols [--bars SOURCE | --data-dir D]\n\n"
        "Lists the symbols of the bars, one per line. Files that are there but are not read (another\n"
        "compression, a header that cannot be read) are named on stderr, and make the exit code 1.\n\n"
        "options:\n%s",
        OptionsHelp(specs).c_str());
    return kExitOk;
  }
  auto settings = service::ResolveBars(*args);
  if (!settings.ok()) return Fail(settings.status());
  auto reader = service::OpenBarReader(*settings);
  if (!reader.ok()) return Fail(reader.status());
  std::fprintf(stderr, "bars: %s\n", (*reader)->Describe().c_str());
  auto symbols = (*reader)->Symbols();
  if (!symbols.ok()) return Fail(symbols.status());
  for (const std::string& s : *symbols) std::printf("%s\n", s.c_str());
  const std::vector<std::string> unread = (*reader)->Unread();
  for (const std::string& line : unread) std::fprintf(stderr, "evolve: not read: %s\n", line.c_str());
  if (symbols->empty()) return Fail(NotFoundError("no bars in " + (*reader)->Describe() + " (no symbol)"));
  return unread.empty() ? kExitOk : service::kExitError;
}

int FeaturesCommand(const Argv& argv) {
  std::vector<OptionSpec> specs = service::BarsOptions();
  specs.insert(specs.end(),
               {
                   {"columns", "c1,c2", "only these columns, in this order (default: every column)"},
                   {"reference-symbols", "A,B", "add these symbols' reference columns"},
                   {"help", "", "show this help"},
               });
  auto args = Args::Parse("features", argv, specs, 1);
  if (!args.ok()) return Fail(args.status());
  if (args->Has("help")) {
    std::printf(
        "usage: evolve features SYMBOL [--bars SOURCE | --data-dir D] [--columns c1,c2] [--reference-symbols "
        "A,B]\n\n"
        "Prints the feature table the built-in engines compute for SYMBOL as CSV: a header date,<columns>,\n"
        "one row per bar, numbers that read back exactly, an empty cell where a column is not yet "
        "defined.\n\n"
        "options:\n%s",
        OptionsHelp(specs).c_str());
    return kExitOk;
  }
  if (args->positional().empty())
    return Fail(InvalidArgumentError("missing SYMBOL; usage: evolve features SYMBOL"));
  auto settings = service::ResolveBars(*args);
  if (!settings.ok()) return Fail(settings.status());
  auto source = service::OpenBarSource(*settings);
  if (!source.ok()) return Fail(source.status());
  engines::BarSource& directory = **source;
  auto bars = directory.Load(args->positional()[0]);
  if (!bars.ok()) return Fail(bars.status());

  std::vector<std::shared_ptr<const engines::Bars>> references;
  std::vector<std::string> reference_names;
  if (std::optional<std::string> refs = args->Get("reference-symbols")) {
    auto names = ParseList("--reference-symbols", *refs);
    if (!names.ok()) return Fail(names.status());
    for (const std::string& name : *names) {
      auto ref = directory.Load(name);
      if (!ref.ok()) return Fail(ref.status());
      references.push_back(*ref);
      reference_names.push_back(name);
    }
  }
  auto frame = engines::ComputeFeatures(**bars, references);
  if (!frame.ok()) return Fail(frame.status());

  std::vector<int> columns;
  if (std::optional<std::string> wanted = args->Get("columns")) {
    auto names = ParseList("--columns", *wanted);
    if (!names.ok()) return Fail(names.status());
    for (const std::string& name : *names) {
      const int index = frame->Index(name);
      if (index < 0) {
        return Fail(InvalidArgumentError("--columns: unknown column '" + name + "' (evolve features " +
                                         args->positional()[0] + " prints them all)"));
      }
      columns.push_back(index);
    }
  } else {
    for (size_t j = 0; j < frame->names.size(); ++j) columns.push_back(static_cast<int>(j));
  }

  std::string out = "date";
  for (int j : columns) out += "," + frame->names[static_cast<size_t>(j)];
  out += "\n";
  char buf[40];
  for (size_t i = 0; i < frame->rows(); ++i) {
    out += BarTime(frame->time[i], (*bars)->intraday);
    for (int j : columns) {
      const double v = frame->columns[static_cast<size_t>(j)][i];
      out += ',';
      if (std::isfinite(v)) {
        std::snprintf(buf, sizeof buf, "%.17g", v);  // 17 significant digits round-trip a double
        out += buf;
      }
    }
    out += '\n';
    if (out.size() > (1 << 20)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : Fail(UnavailableError("cannot write the output"));
}

}  // namespace evolve::cli
