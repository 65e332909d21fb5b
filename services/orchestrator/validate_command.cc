// evolve validate PATH...: every problem of every bar file, directory or
// bars table in one run, and what each symbol's data is, so that a file
// with five bad rows takes one round, not five.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "commands.h"
#include "evolve/engines/bar_source.h"
#include "evolve/engines/bars.h"
#include "evolve/service/args.h"
#include "evolve/service/bar_settings.h"
#include "evolve/service/exit.h"

namespace evolve::cli {
namespace {

using service::Args;
using service::Fail;
using service::kExitError;
using service::kExitOk;
using service::OptionsHelp;
using service::OptionSpec;

// "1,234,567".
std::string Count(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Plural(size_t n, const char* one, const char* many) {
  return Count(n) + " " + (n == 1 ? one : many);
}

// "2h", "3d 4h", "90s".
std::string Duration(int64_t seconds) {
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds > 86400) return std::to_string(seconds / 86400) + "d " + Duration(seconds % 86400);
  return engines::TimeframeLabel(seconds);
}

void PrintReport(const engines::BarReport& report) {
  std::printf("%s: %s read, %s refused\n", report.source.c_str(), Plural(report.rows, "row", "rows").c_str(),
              Count(report.refused).c_str());
  for (const engines::BarReport::Problem& p : report.problems) {
    std::printf("  %s: %s\n", p.kind.c_str(), Plural(p.count, "row", "rows").c_str());
    for (const std::string& e : p.examples) std::printf("    %s\n", e.c_str());
    if (p.count > p.examples.size())
      std::printf("    ... and %s more\n", Count(p.count - p.examples.size()).c_str());
  }
}

void PrintSummary(const engines::Bars& bars) {
  const engines::BarsSummary s = engines::SummarizeBars(bars);
  std::string line = "  " + bars.symbol + ": " + Plural(s.bars, "bar", "bars");
  if (s.bars > 0) {
    line += ", " + engines::FormatBarTime(s.first, bars.intraday) + " to " +
            engines::FormatBarTime(s.last, bars.intraday) + (bars.intraday ? " UTC" : "");
  }
  if (s.bar_seconds > 0) line += ", timeframe " + engines::TimeframeLabel(s.bar_seconds);
  line += ", " + Plural(s.gaps, "gap", "gaps");
  if (s.gaps > 0) line += " (longest " + Duration(s.longest_gap) + ")";
  line += ", " + Plural(s.zero_volume, "zero-volume bar", "zero-volume bars");
  if (!bars.vwap.empty()) line += ", with vwap";
  if (!bars.trade_count.empty()) line += ", with trade_count";
  std::printf("%s\n", line.c_str());
}

// Every symbol of a reader: each source's report once, then its symbols.
// Returns whether anything would be refused.
bool ValidateReader(engines::BarReader& reader) {
  bool bad = false;
  for (const std::string& line : reader.Unread()) {
    std::printf("%s\n", line.c_str());
    bad = true;
  }
  auto symbols = reader.Symbols();
  if (!symbols.ok()) {
    std::printf("%s: %s\n", reader.Describe().c_str(), symbols.status().message().c_str());
    return true;
  }
  if (symbols->empty()) {
    std::printf("%s: no bars (no symbol)\n", reader.Describe().c_str());
    return true;
  }
  // Sources (files, tables) in order, each with its report and bars.
  std::vector<std::string> order;
  std::map<std::string, std::pair<engines::BarReport, std::vector<engines::Bars>>> by_source;
  for (const std::string& symbol : *symbols) {
    engines::BarReport report;
    auto bars = reader.Read(symbol, &report);
    if (!bars.ok()) {
      std::printf("%s: %s\n", symbol.c_str(), bars.status().message().c_str());
      bad = true;
      continue;
    }
    if (report.source.empty()) report.source = symbol;
    auto [it, inserted] = by_source.try_emplace(report.source);
    if (inserted) {
      order.push_back(report.source);
      it->second.first = report;
    }
    it->second.second.push_back(std::move(*bars));
  }
  for (const std::string& source : order) {
    auto& [report, bars] = by_source[source];
    PrintReport(report);
    bad = bad || report.refused > 0;
    for (const engines::Bars& b : bars) PrintSummary(b);
  }
  return bad;
}

}  // namespace

int ValidateCommand(const Argv& argv) {
  std::vector<OptionSpec> specs;
  for (const OptionSpec& s : service::BarsOptions(/*with_drop=*/false)) {
    if (s.name != "bars" && s.name != "data-dir") specs.push_back(s);
  }
  specs.push_back({"help", "", "show this help"});
  auto args = Args::Parse("validate", argv, specs, 1000);
  if (!args.ok()) return Fail(args.status());
  if (!args->Has("help") && args->positional().empty()) {
    return Fail(
        InvalidArgumentError("missing PATH; usage: evolve validate PATH... (evolve validate --help)"));
  }
  if (args->Has("help")) {
    std::printf(
        "usage: evolve validate PATH... [options]\n\n"
        "Reads every bar file, directory of bar files or postgresql:// bars table given and lists every\n"
        "problem: for each kind, how many rows have it and the first of them. Then says what each\n"
        "symbol's data is: bars, span, timeframe, gaps, zero-volume bars. Exits 1 when anything would be\n"
        "refused (evolve run --drop-bad-rows skips such rows), 0 when all is well.\n\n"
        "options:\n%s",
        OptionsHelp(specs).c_str());
    return kExitOk;
  }
  auto format = service::ResolveBarFormat(*args);
  if (!format.ok()) return Fail(format.status());
  format->drop_bad_rows = true;  // every row is read, and the refused ones listed
  bool bad = false;
  for (const std::string& path : args->positional()) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) {
      engines::BarReport report;
      auto bars = engines::ReadBarsFile(path, *format, &report);
      if (!bars.ok()) {
        std::printf("%s\n", bars.status().message().c_str());
        bad = true;
        continue;
      }
      report.source = path;
      PrintReport(report);
      bad = bad || report.refused > 0;
      for (const engines::Bars& b : *bars) PrintSummary(b);
      continue;
    }
    auto settings = service::ResolveBarsAt(path, *args);
    if (!settings.ok()) return Fail(settings.status());
    settings->format = *format;
    auto reader = service::OpenBarReader(*settings);
    if (!reader.ok()) return Fail(reader.status());
    bad = ValidateReader(**reader) || bad;
  }
  return bad ? kExitError : kExitOk;
}

}  // namespace evolve::cli
